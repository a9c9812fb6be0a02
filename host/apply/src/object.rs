//! Object identity: group, kind, namespace and name, and how objects are named in messages.

use std::fmt;

use serde_json::Value;

use crate::error::{Error, Result};

/// The identity of an object, as Flux's `ObjMetadata`: group, kind, namespace, name.
/// The version is not part of the identity (the same object is served at many versions).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// API group, empty for the core group.
    pub group: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// A reference from parts.
    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// A reference from `apiVersion`, `kind`, `name` and `namespace` (as in a Flux
    /// `healthChecks` entry); returns the reference and the version.
    pub fn from_api_version(
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> (ObjectRef, String) {
        let (group, version) = split_api_version(api_version);
        (ObjectRef::new(group, kind, namespace, name), version.into())
    }

    /// The reference and version of an object, checking it has what the API needs.
    ///
    /// # Errors
    /// [`Error::InvalidObject`] when `apiVersion`, `kind` or `metadata.name` is missing.
    pub fn of(obj: &Value) -> Result<(ObjectRef, String)> {
        let kind = obj["kind"].as_str().unwrap_or_default();
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        let namespace = obj["metadata"]["namespace"].as_str().unwrap_or_default();
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let shown = || {
            format!(
                "{}/{}{}",
                if kind.is_empty() { "<no kind>" } else { kind },
                if namespace.is_empty() {
                    String::new()
                } else {
                    format!("{namespace}/")
                },
                if name.is_empty() { "<no name>" } else { name }
            )
        };
        if !obj.is_object() {
            return Err(Error::InvalidObject {
                object: "<not an object>".into(),
                reason: "not a JSON object",
            });
        }
        if api_version.is_empty() {
            return Err(Error::InvalidObject {
                object: shown(),
                reason: "apiVersion is missing",
            });
        }
        if kind.is_empty() {
            return Err(Error::InvalidObject {
                object: shown(),
                reason: "kind is missing",
            });
        }
        if name.is_empty() {
            return Err(Error::InvalidObject {
                object: shown(),
                reason: "metadata.name is missing (generateName is not supported for apply)",
            });
        }
        Ok(ObjectRef::from_api_version(
            api_version,
            kind,
            namespace,
            name,
        ))
    }

    /// `group/version` (or `version` for the core group).
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }
}

/// Splits `group/version` (`v1` is the core group).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

impl fmt::Display for ObjectRef {
    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects (Flux's format).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_are_named_kind_namespace_name_or_kind_name_when_cluster_scoped() {
        let (r, v) = ObjectRef::of(&json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "podinfo", "namespace": "default"}}))
        .unwrap();
        assert_eq!(r.to_string(), "Deployment/default/podinfo");
        assert_eq!((r.group.as_str(), v.as_str()), ("apps", "v1"));
        let (r, _) = ObjectRef::of(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}),
        )
        .unwrap();
        assert_eq!(r.to_string(), "Namespace/x");
    }

    #[test]
    fn an_object_without_a_name_is_rejected_naming_what_is_missing() {
        let e = ObjectRef::of(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"namespace": "a"}}))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ConfigMap/a/<no name> is invalid: metadata.name is missing (generateName is not supported for apply)"
        );
    }
}
