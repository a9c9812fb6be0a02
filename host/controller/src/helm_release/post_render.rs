//! HelmRelease `spec.postRenderers`: run in order over the rendered chart before the
//! release is recorded and applied, as `helm --post-renderer` and helm-controller do.
//!
//! A `kustomize` post-renderer is a kustomization generated over the rendered objects
//! (`helm-output.yaml` as its only resource, then the `patches`, the deprecated
//! `patchesStrategicMerge` and `patchesJson6902`, and the `images`), built by the
//! built-in kustomize renderer plugin in its sandbox with no load restrictions and no
//! reordering, as helm-controller's kustomize post-renderer builds it. A `transform`
//! post-renderer (Gyre's addition) is a verified transform `Plugin` of the HelmRelease's
//! namespace, whose output must stay in the release namespace.
//!
//! The manifest Helm stores is the post-rendered one; like Helm's, it loses the
//! `# Source:` comments once a post-renderer ran.
//!
//! # Caveats
//! `status.observedPostRenderersDigest` is a SHA-256 over the JSON of `spec.postRenderers`
//! encoded as Go's `json.Encoder` does; it equals helm-controller's as long as the object
//! sets no empty lists (Go omits them, Gyre keeps them) — otherwise a HelmRelease taken
//! over from Flux upgrades once on its next new generation. Flux's origin-labels
//! post-renderer is not one: Gyre adds those labels at apply time, so they are not in the
//! stored manifest.

use std::path::Path;
use std::sync::Arc;

use gyre_api::helm::{HelmRelease, HelmReleaseSpec, HelmReleaseStatus, KustomizePostRenderer};
use gyre_api::meta::{condition_types, find_condition};
use gyre_plugin::{Limits, World};
use gyre_render::{PluginSource, build, transform};
use kube::ResourceExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::context::Context;
use crate::plugin_ref;

/// The input file of the generated kustomization, named as helm-controller names it.
const INPUT: &str = "helm-output.yaml";

/// Why a post-renderer failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The work directory of a kustomize post-renderer could not be written.
    #[error("post-renderer {index} (kustomize): preparing the kustomization: {source}")]
    Workspace {
        /// Position in `spec.postRenderers`.
        index: usize,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The kustomize build failed (a patch that does not apply, a bad selector, …).
    #[error("post-renderer {index} (kustomize): {message}")]
    Kustomize {
        /// Position in `spec.postRenderers`.
        index: usize,
        /// The renderer's error chain.
        message: String,
    },
    /// The transform plugin is not usable, failed, or left the release namespace.
    #[error("post-renderer {index} (transform {plugin}): {message}")]
    Transform {
        /// Position in `spec.postRenderers`.
        index: usize,
        /// The Plugin's name.
        plugin: String,
        /// What went wrong.
        message: String,
    },
}

/// JSON as Go's `json.Encoder` writes it: HTML-sensitive characters escaped, and a
/// trailing newline. (They can only occur inside strings, so replacing them anywhere is
/// safe.)
fn go_json(value: &impl serde::Serialize) -> String {
    let mut out = String::new();
    for c in serde_json::to_string(value).unwrap_or_default().chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

/// The digest of `spec.postRenderers` (`sha256:<hex>`), or `None` when there are none:
/// SHA-256 over the JSON encoding, as helm-controller computes it.
pub fn digest(spec: &HelmReleaseSpec) -> Option<String> {
    let p = spec.post_renderers.as_ref()?;
    let json = go_json(p);
    Some(format!(
        "sha256:{}",
        hex::encode(Sha256::digest(json.as_bytes()))
    ))
}

/// Whether the post-renderers changed since the last successful release, so that an
/// otherwise up-to-date release must be upgraded.
///
/// As in helm-controller, only a new generation is compared: the digest is written on
/// success, so comparing within the same generation could never settle after a failure.
pub fn changed(hr: &HelmRelease, status: &HelmReleaseStatus) -> bool {
    let ready = find_condition(&status.conditions, condition_types::READY);
    let new_generation = ready.is_some_and(|c| c.observed_generation != hr.metadata.generation);
    new_generation && digest(&hr.spec) != status.observed_post_renderers_digest
}

/// The kustomization helm-controller generates for a kustomize post-renderer.
fn kustomization(k: &KustomizePostRenderer) -> Value {
    let mut doc = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [INPUT],
    });
    if let Some(p) = k.patches.as_ref().filter(|p| !p.is_empty()) {
        doc["patches"] = json!(p);
    }
    if let Some(p) = k.patches_strategic_merge.as_ref().filter(|p| !p.is_empty()) {
        // Inline patches: kustomize reads a multi-line (or `:`-bearing) entry as the
        // patch itself rather than a file name.
        let inline: Vec<String> = p
            .iter()
            .map(|v| serde_yaml_ng::to_string(v).unwrap_or_default())
            .collect();
        doc["patchesStrategicMerge"] = json!(inline);
    }
    if let Some(p) = k.patches_json6902.as_ref().filter(|p| !p.is_empty()) {
        let entries: Vec<Value> = p
            .iter()
            .map(|j| {
                json!({
                    "patch": serde_json::to_string(&j.patch).unwrap_or_default(),
                    "target": j.target,
                })
            })
            .collect();
        doc["patchesJson6902"] = json!(entries);
    }
    if let Some(i) = k.images.as_ref().filter(|i| !i.is_empty()) {
        doc["images"] = json!(i);
    }
    doc
}

/// Multi-document YAML of the objects, as Helm hands its output to a post-renderer.
fn to_yaml(objects: &[Value]) -> String {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(o).unwrap_or_default());
    }
    out
}

/// Writes the generated kustomization and its input into `dir`.
fn prepare(dir: &Path, k: &KustomizePostRenderer, objects: &[Value]) -> std::io::Result<()> {
    std::fs::write(dir.join(INPUT), to_yaml(objects))?;
    let doc = serde_yaml_ng::to_string(&kustomization(k)).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("kustomization.yaml"), doc)
}

async fn kustomize(
    ctx: &Context,
    index: usize,
    k: &KustomizePostRenderer,
    objects: Vec<Value>,
) -> Result<Vec<Value>, Error> {
    let workspace = |source| Error::Workspace { index, source };
    let tmp = tempfile::Builder::new()
        .prefix("gyre-postrender-")
        .tempdir()
        .map_err(workspace)?;
    prepare(tmp.path(), k, &objects).map_err(workspace)?;
    let fail = |e: gyre_render::Error| Error::Kustomize {
        index,
        message: e.chain(),
    };
    let plugin = ctx
        .plugins
        .load(
            &PluginSource::Builtin("kustomize".into()),
            World::Renderer,
            Limits::default(),
        )
        .await
        .map_err(fail)?;
    // No reordering: the output keeps Helm's install order, as krusty with default
    // options does for helm-controller.
    let config = json!({
        "loadRestrictor": "LoadRestrictionsNone",
        "generateKustomization": false,
        "reorder": "none",
    });
    let out = build::build(plugin, tmp.path().to_path_buf(), ".".into(), config)
        .await
        .map_err(fail)?;
    Ok(out.objects)
}

async fn run_transform(
    ctx: &Context,
    hr: &HelmRelease,
    index: usize,
    t: &gyre_api::kustomize::TransformSpec,
    objects: Vec<Value>,
) -> Result<Vec<Value>, Error> {
    let name = t.plugin_ref.name.clone();
    let fail = |message: String| Error::Transform {
        index,
        plugin: name.clone(),
        message,
    };
    let ns = hr.namespace().unwrap_or_default();
    let plugin: Arc<gyre_plugin::Plugin> =
        plugin_ref::load_verified(ctx, &ns, &name, World::Transform)
            .await
            .map_err(fail)?;
    let config = t.config.clone().unwrap_or_else(|| json!({})).to_string();
    // The release is confined to its namespace: a tenant's transform may not move
    // objects elsewhere or add cluster-scoped ones.
    let boundary = transform::Boundary {
        namespace: Some(hr.release_namespace()),
    };
    transform::run(vec![(plugin, config)], objects, boundary)
        .await
        .map_err(|e| fail(e.chain()))
}

/// Runs the HelmRelease's post-renderers in order over the rendered objects (and their
/// `# Source:` origins). Without post-renderers they are returned as they are; after
/// any, the origins are gone, as with `helm --post-renderer`. An entry with both
/// `kustomize` and `transform` runs kustomize first.
///
/// # Errors
/// [`Error`] naming the post-renderer that failed; nothing has been written then.
pub async fn run(
    ctx: &Context,
    hr: &HelmRelease,
    objects: Vec<Value>,
    origins: Vec<String>,
) -> Result<(Vec<Value>, Vec<String>), Error> {
    let renderers = hr.spec.post_renderers.as_deref().unwrap_or_default();
    if renderers.is_empty() {
        return Ok((objects, origins));
    }
    let mut objects = objects;
    for (index, r) in renderers.iter().enumerate() {
        if let Some(k) = &r.kustomize {
            objects = kustomize(ctx, index, k, objects).await?;
        }
        if let Some(t) = &r.transform {
            objects = run_transform(ctx, hr, index, t, objects).await?;
        }
    }
    let origins = vec![String::new(); objects.len()];
    Ok((objects, origins))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post_renderer(yaml: &str) -> KustomizePostRenderer {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn kustomization_lists_the_helm_output_and_every_kind_of_patch_in_flux_fields() {
        let k = post_renderer(
            r#"
patches:
  - target: {kind: Deployment, labelSelector: "app=web"}
    patch: |
      - op: add
        path: /metadata/annotations/x
        value: y
patchesStrategicMerge:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec: {replicas: 2}
patchesJson6902:
  - target: {version: v1, kind: Service, name: web}
    patch:
      - {op: replace, path: /spec/type, value: NodePort}
images:
  - {name: nginx, newTag: "1.27"}
"#,
        );
        let doc = kustomization(&k);
        assert_eq!(doc["resources"], json!(["helm-output.yaml"]));
        assert_eq!(doc["patches"][0]["target"]["labelSelector"], "app=web");
        let smp = doc["patchesStrategicMerge"][0].as_str().unwrap();
        let smp: Value = serde_yaml_ng::from_str(smp).unwrap();
        assert_eq!(smp["spec"]["replicas"], 2);
        let ops: Value =
            serde_json::from_str(doc["patchesJson6902"][0]["patch"].as_str().unwrap()).unwrap();
        assert_eq!(
            ops,
            json!([{"op": "replace", "path": "/spec/type", "value": "NodePort"}])
        );
        assert_eq!(doc["patchesJson6902"][0]["target"]["name"], "web");
        assert_eq!(doc["images"][0]["newTag"], "1.27");
    }

    #[test]
    fn the_digest_is_over_go_style_json_with_a_trailing_newline() {
        let spec: HelmReleaseSpec = serde_yaml_ng::from_str(
            "interval: 1m\npostRenderers:\n  - kustomize:\n      images: [{name: \"a<b>&c\", newTag: \"1\"}]\n",
        )
        .unwrap();
        let want = "[{\"kustomize\":{\"images\":[{\"name\":\"a\\u003cb\\u003e\\u0026c\",\"newTag\":\"1\"}]}}]\n";
        assert_eq!(go_json(spec.post_renderers.as_ref().unwrap()), want);
        assert_eq!(
            digest(&spec).unwrap(),
            format!("sha256:{}", hex::encode(Sha256::digest(want.as_bytes())))
        );
    }

    #[test]
    fn empty_lists_are_left_out_of_the_kustomization() {
        let doc = kustomization(&post_renderer("patches: []\nimages: []\n"));
        assert_eq!(
            doc,
            json!({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["helm-output.yaml"]})
        );
    }

    fn release(post_renderers: &str, generation: i64, ready_at: i64) -> HelmRelease {
        let mut hr: HelmRelease = serde_yaml_ng::from_str(&format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: a, namespace: b, generation: {generation}}}\nspec:\n  interval: 1m\n{post_renderers}"
        ))
        .unwrap();
        let mut st = HelmReleaseStatus::default();
        gyre_api::meta::mark_ready(&mut st.conditions, Some(ready_at), "UpgradeSucceeded", "ok");
        hr.status = Some(st);
        hr
    }

    #[test]
    fn post_renderers_changed_only_for_a_new_generation_with_another_digest() {
        let with = "  postRenderers:\n    - kustomize:\n        images: [{name: a, newTag: b}]\n";
        // New generation, never observed: changed.
        let hr = release(with, 2, 1);
        assert!(changed(&hr, hr.status.as_ref().unwrap()));
        // Observed with the same digest: not changed.
        let mut st = hr.status.clone().unwrap();
        st.observed_post_renderers_digest = digest(&hr.spec);
        assert!(!changed(&hr, &st));
        // Same generation as Ready: never compared (it would not settle after a failure).
        let hr = release(with, 1, 1);
        assert!(!changed(&hr, hr.status.as_ref().unwrap()));
        // Removed post-renderers against an observed digest: changed.
        let hr = release("", 3, 2);
        let mut st = hr.status.clone().unwrap();
        st.observed_post_renderers_digest = Some("sha256:00".into());
        assert!(changed(&hr, &st));
        assert_eq!(digest(&hr.spec), None);
    }
}
