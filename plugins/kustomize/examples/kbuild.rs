//! `kbuild DIR [--load-restrictor=LoadRestrictionsNone] [--reorder=legacy|none] [--flux] [--flux-spec=JSON]`:
//! builds a kustomization and prints the YAML stream.

use gyre_kustomize::{Options, Reorder, build_with_warnings};
use std::path::Path;

fn main() {
    let mut dir = None;
    let mut opts = Options::default();
    for a in std::env::args().skip(1) {
        if let Some(v) = a.strip_prefix("--load-restrictor=") {
            opts.load_restrictor_none = v == "LoadRestrictionsNone";
        } else if a == "--flux" {
            // kustomize-controller defaults: no load restriction, generated
            // kustomization for plain directories.
            opts.load_restrictor_none = true;
            opts.generate_kustomization = true;
        } else if let Some(v) = a.strip_prefix("--flux-spec=") {
            let spec: serde_json::Value = serde_json::from_str(v).unwrap_or_else(|e| {
                eprintln!("Error: --flux-spec is not JSON: {e}");
                std::process::exit(2);
            });
            opts.flux = gyre_kustomize::flux::FluxSpec::from_json(&spec).unwrap_or_else(|e| {
                eprintln!("Error: {e}");
                std::process::exit(2);
            });
        } else if let Some(v) = a.strip_prefix("--reorder=") {
            opts.reorder = if v == "none" {
                Reorder::None
            } else {
                Reorder::Legacy
            };
        } else {
            dir = Some(a);
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: kbuild DIR [--load-restrictor=...] [--reorder=...]");
        std::process::exit(2);
    };
    // The artifact root is the current directory when DIR is inside it,
    // else DIR's own parent chain root ("/") is not allowed: use DIR's parent
    // as the root so `..` escapes are still caught beyond it.
    let root = std::env::var("KBUILD_ROOT").unwrap_or_else(|_| ".".into());
    let root = Path::new(&root).canonicalize().expect("root");
    let abs = Path::new(&dir).canonicalize().unwrap_or_else(|e| {
        eprintln!("Error: {dir}: {e}");
        std::process::exit(1);
    });
    let rel = abs
        .strip_prefix(&root)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| {
            eprintln!("Error: {dir} is outside the root {}", root.display());
            std::process::exit(1);
        });
    let rel = if rel.is_empty() { ".".to_string() } else { rel };
    match build_with_warnings(&root, &rel, &opts) {
        Ok((objs, warnings)) => {
            for w in warnings {
                eprintln!("# Warning: {w}");
            }
            print!("{}", gyre_kustomize::yaml::emit_stream(&objs));
        }
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::exit(1);
        }
    }
}
