//! Builds the built-in plugins to wasm components and generates the table
//! that embeds them.

use std::path::Path;

/// (crate, built-in name, world, description)
const BUILTINS: &[(&str, &str, &str, &str)] = &[
    (
        "gyre-manifests",
        "manifests",
        "renderer",
        "plain YAML/JSON manifests in a directory",
    ),
    (
        "gyre-kustomize",
        "kustomize",
        "renderer",
        "kustomize v5 builds (kustomization.yaml), as Flux's kustomize-controller runs them",
    ),
    (
        "gyre-helm",
        "helm",
        "renderer",
        "Helm 3 charts (helm template), as Flux's helm-controller renders them",
    ),
    (
        "gyre-metadata",
        "metadata",
        "transform",
        "target namespace and common labels/annotations",
    ),
    (
        "gyre-image-policy",
        "image-policy",
        "image-policy",
        "Flux semver/alphabetical/numerical policies with filterTags",
    ),
    (
        "gyre-webhook",
        "webhook",
        "notifier",
        "Flux generic and generic-hmac webhooks",
    ),
];

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    let workspace = Path::new(&manifest_dir)
        .join("../..")
        .canonicalize()
        .expect("workspace root");
    let crates: Vec<&str> = BUILTINS.iter().map(|b| b.0).collect();
    let watch: Vec<String> = [
        "plugins/manifests",
        "plugins/kustomize",
        "plugins/helm",
        "plugins/metadata",
        "plugins/image-policy",
        "plugins/webhook",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let watch: Vec<&str> = watch.iter().map(String::as_str).collect();
    let files = gyre_guest_build::build(&workspace, &crates, &watch);
    let mut table =
        String::from("/// Every built-in plugin.\npub static BUILTINS: &[Builtin] = &[\n");
    for ((_, name, world, description), file) in BUILTINS.iter().zip(files) {
        table.push_str(&format!(
            "    Builtin {{ name: {name:?}, world: {world:?}, description: {description:?}, bytes: include_bytes!({:?}) }},\n",
            file.display().to_string()
        ));
    }
    table.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("set by cargo")).join("builtins.rs");
    std::fs::write(out, table).expect("writing the builtins table");
}
