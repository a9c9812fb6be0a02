//! Transform plugins over rendered objects, and the boundary check on what they return.
//!
//! A transform may be a tenant's own code. It runs sandboxed, but its *output* is still
//! applied with the owner's permissions, so the host checks it: when the owner confines
//! objects to a namespace (a Kustomization with `targetNamespace`), a transform may not
//! move namespaced objects elsewhere, nor add cluster-scoped objects that the render did
//! not produce.

use std::collections::HashSet;
use std::sync::Arc;

use gyre_plugin::Plugin;
use serde_json::Value;

use crate::error::{Error, Result};

/// The limits a transform's output must respect.
#[derive(Debug, Clone, Default)]
pub struct Boundary {
    /// Namespaced objects must stay in this namespace.
    pub namespace: Option<String>,
}

fn ident(obj: &Value) -> (String, String, String, String) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        s(&obj["apiVersion"]),
        s(&obj["kind"]),
        s(&obj["metadata"]["namespace"]),
        s(&obj["metadata"]["name"]),
    )
}

fn describe(obj: &Value) -> String {
    let (_, kind, ns, name) = ident(obj);
    if ns.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {ns}/{name}")
    }
}

/// Runs `transforms` in order over `objects` (each with its JSON config), checking every
/// output against `boundary`.
///
/// # Errors
/// [`Error::Transform`] when a plugin fails, [`Error::Boundary`] when its output leaves
/// the boundary.
pub async fn run(
    transforms: Vec<(Arc<Plugin>, String)>,
    objects: Vec<Value>,
    boundary: Boundary,
) -> Result<Vec<Value>> {
    tokio::task::spawn_blocking(move || {
        let mut objects = objects;
        for (plugin, config) in transforms {
            // Cluster-scoped objects are recognised by having no namespace in the input;
            // the same identity may pass through, nothing new may appear.
            let cluster_scoped: HashSet<_> = objects
                .iter()
                .filter(|o| o["metadata"]["namespace"].as_str().unwrap_or("").is_empty())
                .map(ident)
                .collect();
            let out = plugin
                .transform(&objects, &config)
                .map_err(|source| Error::Transform {
                    plugin: plugin.name().to_string(),
                    source: Box::new(source),
                })?;
            if let Some(ns) = &boundary.namespace {
                for obj in &out {
                    let id = ident(obj);
                    let obj_ns = &id.2;
                    let reason = if obj_ns.is_empty() {
                        (!cluster_scoped.contains(&id)).then(|| {
                            "a cluster-scoped object the render did not produce".to_string()
                        })
                    } else {
                        (obj_ns != ns).then(|| format!("outside the target namespace {ns:?}"))
                    };
                    if let Some(reason) = reason {
                        return Err(Error::Boundary {
                            plugin: plugin.name().to_string(),
                            object: describe(obj),
                            reason,
                        });
                    }
                }
            }
            objects = out;
        }
        Ok(objects)
    })
    .await
    .map_err(|e| Error::Worker(e.to_string()))?
}
