//! Sets a target namespace and common labels/annotations on every object,
//! with the semantics of a Flux Kustomization's `targetNamespace` and
//! `commonMetadata`: cluster-scoped kinds keep no namespace, and common
//! metadata overrides what the manifests set. Runs as Gyre's built-in
//! `transform` plugin.

// The WIT glue that wit-bindgen generates is `unsafe` by nature (raw exports).
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, missing_docs)]
mod guest;

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Kinds that have no namespace, in the API groups Kubernetes serves.
pub const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// The transform configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Namespace to set on every namespaced object.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Labels to set on every object.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations to set on every object.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Further cluster-scoped kinds (custom resources), besides
    /// [`CLUSTER_SCOPED_KINDS`].
    #[serde(default)]
    pub cluster_scoped_kinds: Vec<String>,
}

/// Why the transform failed.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// The configuration is not valid.
    #[error("invalid metadata transform config: {0}")]
    InvalidConfig(String),
    /// An input object is not a JSON object with metadata.
    #[error("object {index}: {message}")]
    BadObject {
        /// Position in the input list.
        index: usize,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Parses the JSON configuration.
    ///
    /// # Errors
    /// [`TransformError::InvalidConfig`] on malformed JSON or unknown fields.
    pub fn from_json(json: &str) -> Result<Self, TransformError> {
        serde_json::from_str(json).map_err(|e| TransformError::InvalidConfig(e.to_string()))
    }
}

fn set_all(meta: &mut Map<String, Value>, key: &str, entries: &BTreeMap<String, String>) {
    if entries.is_empty() {
        return;
    }
    let slot = meta.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(map) = slot {
        for (k, v) in entries {
            map.insert(k.clone(), Value::String(v.clone()));
        }
    }
}

/// Applies `config` to every object.
///
/// # Errors
/// [`TransformError::BadObject`] for an input that is not an object.
pub fn transform(objects: Vec<Value>, config: &Config) -> Result<Vec<Value>, TransformError> {
    let mut out = Vec::with_capacity(objects.len());
    for (index, mut obj) in objects.into_iter().enumerate() {
        let kind = obj
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let cluster_scoped = CLUSTER_SCOPED_KINDS.contains(&kind.as_str())
            || config.cluster_scoped_kinds.contains(&kind);
        let Some(root) = obj.as_object_mut() else {
            return Err(TransformError::BadObject {
                index,
                message: "not a JSON object".into(),
            });
        };
        let meta = root
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(meta) = meta.as_object_mut() else {
            return Err(TransformError::BadObject {
                index,
                message: "metadata is not an object".into(),
            });
        };
        if let Some(ns) = &config.namespace
            && !cluster_scoped
        {
            meta.insert("namespace".into(), Value::String(ns.clone()));
        }
        set_all(meta, "labels", &config.labels);
        set_all(meta, "annotations", &config.annotations);
        out.push(obj);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sets_namespace_only_on_namespaced_kinds_and_merges_metadata() {
        let cfg = Config::from_json(r#"{"namespace":"apps","labels":{"team":"a"},"annotations":{"owner":"x"},"clusterScopedKinds":["ClusterIssuer"]}"#).unwrap();
        let out = transform(
            vec![
                json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"old","labels":{"team":"b","keep":"y"}}}),
                json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"n"}}),
                json!({"apiVersion":"cert-manager.io/v1","kind":"ClusterIssuer","metadata":{"name":"i"}}),
            ],
            &cfg,
        )
        .unwrap();
        assert_eq!(out[0]["metadata"]["namespace"], "apps");
        assert_eq!(out[0]["metadata"]["labels"], json!({"team":"a","keep":"y"}));
        assert_eq!(out[0]["metadata"]["annotations"]["owner"], "x");
        assert!(out[1]["metadata"].get("namespace").is_none());
        assert!(out[2]["metadata"].get("namespace").is_none());
        assert_eq!(out[2]["metadata"]["labels"]["team"], "a");
    }

    #[test]
    fn rejects_unknown_config_fields_and_non_objects() {
        assert!(Config::from_json(r#"{"namespaces":"x"}"#).is_err());
        let err = transform(vec![json!([1])], &Config::default()).unwrap_err();
        assert!(err.to_string().starts_with("object 0"));
    }
}
