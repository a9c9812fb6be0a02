//! What the server knows about the shape of objects: list types (atomic, set, map with keys)
//! and granular maps, from Kubernetes' built-in conventions or from a CRD's openAPIV3Schema.

use serde_json::Value;

/// How a list merges and how its items are identified.
#[derive(Debug, Clone, PartialEq)]
pub enum ListType {
    /// Replaced as a whole.
    Atomic,
    /// A set of scalars.
    Set,
    /// An associative list keyed by these fields.
    Map(Vec<String>),
}

/// A position in an object's schema.
#[derive(Debug, Clone)]
pub enum Ctx<'a> {
    /// A built-in kind, identified by the field-name path from the root (list items add nothing).
    Builtin(Vec<String>),
    /// The root of a custom resource with this schema.
    CrdRoot(Option<&'a Value>),
    /// Inside a custom resource; `None` means unknown (preserved) fields.
    Crd(Option<&'a Value>),
}

impl<'a> Ctx<'a> {
    /// The context for a root object of a type.
    pub fn root(schema: Option<&'a Value>, builtin: bool) -> Ctx<'a> {
        if builtin {
            Ctx::Builtin(vec![])
        } else {
            Ctx::CrdRoot(schema)
        }
    }

    /// The context of a field of an object.
    pub fn field(&self, name: &str) -> Ctx<'a> {
        match self {
            Ctx::Builtin(p) => {
                let mut p = p.clone();
                p.push(name.to_string());
                Ctx::Builtin(p)
            }
            Ctx::CrdRoot(s) => {
                if name == "metadata" {
                    Ctx::Builtin(vec!["metadata".into()])
                } else {
                    Ctx::Crd(s.and_then(|s| child_schema(s, name)))
                }
            }
            Ctx::Crd(s) => Ctx::Crd(s.and_then(|s| child_schema(s, name))),
        }
    }

    /// The context of the items of a list.
    pub fn items(&self) -> Ctx<'a> {
        match self {
            Ctx::Builtin(p) => Ctx::Builtin(p.clone()),
            Ctx::CrdRoot(_) => Ctx::Crd(None),
            Ctx::Crd(s) => Ctx::Crd(s.and_then(|s| s.get("items"))),
        }
    }

    fn last(&self) -> (&str, Option<&str>) {
        match self {
            Ctx::Builtin(p) => {
                let n = p.len();
                (
                    p.last().map(String::as_str).unwrap_or(""),
                    if n >= 2 {
                        Some(p[n - 2].as_str())
                    } else {
                        None
                    },
                )
            }
            _ => ("", None),
        }
    }

    /// The list type at this position (server-side apply semantics).
    pub fn list_type(&self) -> ListType {
        match self {
            Ctx::Builtin(p) => builtin_list_type(p),
            Ctx::CrdRoot(_) => ListType::Atomic,
            Ctx::Crd(Some(s)) => match s["x-kubernetes-list-type"].as_str() {
                Some("map") => ListType::Map(
                    s["x-kubernetes-list-map-keys"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|k| k.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                Some("set") => ListType::Set,
                _ => ListType::Atomic,
            },
            Ctx::Crd(None) => ListType::Atomic,
        }
    }

    /// The strategic-merge-patch merge key (built-in kinds), or `Some("")` for merged
    /// primitive lists.
    pub fn patch_merge_key(&self) -> Option<String> {
        let (last, parent) = self.last();
        match (last, parent) {
            ("ports", _) if self.is_container_ports() => Some("containerPort".into()),
            ("ports", Some("spec")) => Some("port".into()),
            ("finalizers", Some("metadata")) => Some(String::new()),
            _ => match builtin_list_type_only_name(last) {
                Some(keys) => keys.first().cloned(),
                None => None,
            },
        }
    }

    fn is_container_ports(&self) -> bool {
        match self {
            Ctx::Builtin(p) => {
                p.len() >= 2
                    && matches!(
                        p[p.len() - 2].as_str(),
                        "containers" | "initContainers" | "ephemeralContainers"
                    )
            }
            _ => false,
        }
    }

    /// Whether the object at this position is a granular map (`map[string]T`) whose node
    /// is itself a member of a field set (`.`), as opposed to a struct.
    pub fn is_granular_map(&self, v: &Value) -> bool {
        match self {
            Ctx::Builtin(_) => {
                let (last, _) = self.last();
                match last {
                    "labels" | "annotations" | "data" | "binaryData" | "stringData"
                    | "matchLabels" | "nodeSelector" | "limits" | "requests" | "capacity"
                    | "allocatable" | "parameters" => true,
                    "selector" => {
                        v.get("matchLabels").is_none() && v.get("matchExpressions").is_none()
                    }
                    _ => false,
                }
            }
            Ctx::CrdRoot(_) => false,
            Ctx::Crd(Some(s)) => {
                s.get("properties").is_none() && s.get("additionalProperties").is_some()
            }
            Ctx::Crd(None) => true,
        }
    }

    /// Whether the map at this position is atomic (`x-kubernetes-map-type: atomic`).
    pub fn is_atomic_map(&self) -> bool {
        match self {
            Ctx::Crd(Some(s)) => s["x-kubernetes-map-type"] == "atomic",
            _ => false,
        }
    }

    /// Whether a missing `protocol` key field means `TCP` (built-in ports).
    pub fn defaults_protocol(&self) -> bool {
        matches!(self, Ctx::Builtin(_))
    }
}

fn child_schema<'s>(s: &'s Value, name: &str) -> Option<&'s Value> {
    if let Some(p) = s.get("properties").and_then(|p| p.get(name)) {
        return Some(p);
    }
    match s.get("additionalProperties") {
        Some(a) if a.is_object() => Some(a),
        _ => None,
    }
}

fn builtin_list_type_only_name(last: &str) -> Option<Vec<String>> {
    let keys: &[&str] = match last {
        "containers" | "initContainers" | "ephemeralContainers" => &["name"],
        "env" | "volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates" => &["name"],
        "volumeMounts" => &["mountPath"],
        "volumeDevices" => &["devicePath"],
        "hostAliases" => &["ip"],
        "conditions" => &["type"],
        "ownerReferences" => &["uid"],
        "topologySpreadConstraints" => &["topologyKey", "whenUnsatisfiable"],
        _ => return None,
    };
    Some(keys.iter().map(|s| s.to_string()).collect())
}

fn builtin_list_type(p: &[String]) -> ListType {
    let n = p.len();
    let last = p.last().map(String::as_str).unwrap_or("");
    if last == "ports" && n >= 2 {
        match p[n - 2].as_str() {
            "containers" | "initContainers" | "ephemeralContainers" => {
                return ListType::Map(vec!["containerPort".into(), "protocol".into()]);
            }
            "spec" if n == 2 => return ListType::Map(vec!["port".into(), "protocol".into()]),
            _ => return ListType::Atomic,
        }
    }
    if last == "finalizers" && n == 2 && p[0] == "metadata" {
        return ListType::Set;
    }
    match builtin_list_type_only_name(last) {
        Some(k) => ListType::Map(k),
        None => ListType::Atomic,
    }
}
