//! Building one path of an extracted source artifact with a renderer plugin.
//!
//! For Flux Kustomizations the renderer is the built-in kustomize plugin and its
//! configuration is the Kustomization spec itself (targetNamespace, patches, images,
//! components, commonMetadata, namePrefix/nameSuffix), plus the two settings
//! kustomize-controller always uses: no load restrictions, and a generated
//! kustomization.yaml for directories of plain manifests.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use gyre_api::kustomize::KustomizationSpec;
use gyre_plugin::{Plugin, RenderOutput};
use serde_json::Value;

use crate::error::{Error, Result};

/// The kustomize renderer's configuration for a Kustomization spec.
pub fn kustomize_config(spec: &KustomizationSpec) -> Value {
    let mut config =
        serde_json::to_value(spec).unwrap_or_else(|_| Value::Object(Default::default()));
    config["loadRestrictor"] = "LoadRestrictionsNone".into();
    config["generateKustomization"] = true.into();
    config
}

/// `spec.path` as a plain relative path inside the artifact (`.` for the root).
///
/// Like Flux, a leading `/` or `./` is relative to the artifact root and `..` may move
/// around inside it; unlike Flux (which clamps), a path that climbs out of the root is
/// an error rather than silently becoming the root.
///
/// # Errors
/// [`Error::PathOutsideSource`].
pub fn normalize_path(path: Option<&str>) -> Result<String> {
    let raw = path.unwrap_or("");
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(raw).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str().unwrap_or_default()),
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(Error::PathOutsideSource(raw.to_string()));
                }
            }
            Component::CurDir | Component::RootDir => {}
            Component::Prefix(_) => return Err(Error::PathOutsideSource(raw.to_string())),
        }
    }
    Ok(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

/// Renders `path` (already normalized) of `tree` with `plugin` and `config`, on a
/// blocking worker thread (plugin calls are synchronous and bounded by their limits).
///
/// # Errors
/// [`Error::PathNotFound`], [`Error::Render`].
pub async fn build(
    plugin: Arc<Plugin>,
    tree: PathBuf,
    path: String,
    config: Value,
) -> Result<RenderOutput> {
    // symlink_metadata: the artifact was extracted without escaping links, and the
    // sandbox would refuse them anyway; a clear "not found" is the better error.
    if std::fs::symlink_metadata(tree.join(&path)).is_err() {
        return Err(Error::PathNotFound(path));
    }
    tokio::task::spawn_blocking(move || {
        plugin
            .render(&tree, &path, &config.to_string())
            .map_err(|source| Error::Render {
                plugin: plugin.name().to_string(),
                path: path.clone(),
                source: Box::new(source),
            })
    })
    .await
    .map_err(|e| Error::Worker(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_artifact_root() {
        assert_eq!(normalize_path(None).unwrap(), ".");
        assert_eq!(normalize_path(Some("./")).unwrap(), ".");
        assert_eq!(normalize_path(Some("./kustomize")).unwrap(), "kustomize");
        assert_eq!(normalize_path(Some("/apps/prod/")).unwrap(), "apps/prod");
        assert_eq!(normalize_path(Some("apps/../infra")).unwrap(), "infra");
    }

    #[test]
    fn paths_climbing_out_of_the_artifact_are_refused() {
        for p in ["..", "../etc", "apps/../../x", "/.."] {
            let err = normalize_path(Some(p)).unwrap_err();
            assert!(matches!(err, Error::PathOutsideSource(_)), "{p}: {err}");
        }
    }

    #[test]
    fn kustomize_config_is_the_spec_plus_flux_build_settings() {
        let spec: KustomizationSpec = serde_json::from_value(serde_json::json!({
            "interval": "10m", "prune": true, "targetNamespace": "apps",
            "sourceRef": {"kind": "GitRepository", "name": "podinfo"}
        }))
        .unwrap();
        let c = kustomize_config(&spec);
        assert_eq!(c["targetNamespace"], "apps");
        assert_eq!(c["loadRestrictor"], "LoadRestrictionsNone");
        assert_eq!(c["generateKustomization"], true);
    }
}
