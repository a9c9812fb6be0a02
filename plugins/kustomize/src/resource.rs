//! Resources, their identities and the helpers transformers share.

use serde_json::{Map, Value};

/// Group/version/kind plus name and namespace of an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Id {
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// metadata.name.
    pub name: String,
    /// metadata.namespace (`""` when unset).
    pub namespace: String,
}

/// Whether objects of this group and kind are cluster-scoped (the
/// built-in cluster-scoped kinds; anything else counts as namespaced).
pub fn is_cluster_scoped(group: &str, kind: &str) -> bool {
    let want = match kind {
        "Namespace" | "Node" | "PersistentVolume" | "ComponentStatus" => "",
        "ClusterRole" | "ClusterRoleBinding" => "rbac.authorization.k8s.io",
        "CustomResourceDefinition" => "apiextensions.k8s.io",
        "APIService" => "apiregistration.k8s.io",
        "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration" => {
            "admissionregistration.k8s.io"
        }
        "StorageClass" | "CSIDriver" | "CSINode" | "VolumeAttachment" => "storage.k8s.io",
        "PriorityClass" => "scheduling.k8s.io",
        "IngressClass" => "networking.k8s.io",
        "RuntimeClass" => "node.k8s.io",
        "PodSecurityPolicy" => "policy",
        "CertificateSigningRequest" => "certificates.k8s.io",
        "FlowSchema" | "PriorityLevelConfiguration" => "flowcontrol.apiserver.k8s.io",
        "TokenReview" => "authentication.k8s.io",
        "SelfSubjectAccessReview" | "SelfSubjectRulesReview" | "SubjectAccessReview" => {
            "authorization.k8s.io"
        }
        _ => return false,
    };
    group == want
}

impl Id {
    /// Namespace with `""` read as `default` (cluster-scoped kinds have none).
    pub fn effective_ns(&self) -> &str {
        if is_cluster_scoped(&self.group, &self.kind) {
            "_cluster"
        } else if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }
    /// Same gvk, name and effective namespace.
    pub fn same(&self, o: &Id) -> bool {
        self.gvk_eq(o) && self.name == o.name && self.effective_ns() == o.effective_ns()
    }
    /// Same group, version and kind.
    pub fn gvk_eq(&self, o: &Id) -> bool {
        self.group == o.group && self.version == o.version && self.kind == o.kind
    }
    /// Human-readable id, kustomize style.
    pub fn display(&self) -> String {
        let gv = if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}.{}", self.version, self.group)
        };
        let ns = if self.namespace.is_empty() {
            String::new()
        } else {
            format!(".{}", self.namespace)
        };
        format!("{}.{}/{}{}", self.kind, gv, self.name, ns)
    }
}

/// Splits an apiVersion into group and version.
pub fn split_api_version(av: &str) -> (String, String) {
    match av.rfind('/') {
        Some(i) => (av[..i].to_string(), av[i + 1..].to_string()),
        None => (String::new(), av.to_string()),
    }
}

/// Where a resource came from (for buildMetadata origin annotations).
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// File path relative to the top kustomization (resources).
    pub path: Option<String>,
    /// Kustomization that configured a generator.
    pub configured_in: Option<String>,
    /// Generator kind (`ConfigMapGenerator`, ...).
    pub configured_by: Option<String>,
    /// Name of the plugin configuration that generated the object.
    pub configured_name: Option<String>,
}

/// One object plus the bookkeeping kustomize keeps in build annotations.
#[derive(Debug, Clone)]
pub struct Res {
    /// The object.
    pub obj: Value,
    /// Earlier identities, oldest first (before renames / namespace changes).
    pub prev: Vec<Id>,
    /// Name prefixes applied, in order.
    pub prefixes: Vec<String>,
    /// Name suffixes applied, in order.
    pub suffixes: Vec<String>,
    /// Generated object that gets a content hash suffix at the end.
    pub needs_hash: bool,
    /// Generator behavior (`create`, `merge`, `replace`) for generated objects.
    pub behavior: Option<String>,
    /// Origin for buildMetadata.
    pub origin: Origin,
    /// Names of the vars declared against this object.
    pub refvars: Vec<String>,
    /// Transformers applied: (kustomization path, transformer kind).
    pub transformations: Vec<(String, String)>,
}

/// Reads a string at a `/`-free dotted path of keys.
pub fn get_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

/// Reads a value at a path of keys.
pub fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur.as_object()?.get(*p)?;
    }
    Some(cur)
}

/// Mutable object at a path of keys, created when missing.
pub fn obj_at<'a>(v: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut cur = v;
    for p in path {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        cur = cur
            .as_object_mut()
            .expect("object")
            .entry(p.to_string())
            .or_insert(Value::Null);
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    cur.as_object_mut().expect("object")
}

impl Res {
    /// Wraps an object.
    pub fn new(obj: Value) -> Self {
        Self {
            obj,
            prev: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            needs_hash: false,
            behavior: None,
            origin: Origin::default(),
            refvars: Vec::new(),
            transformations: Vec::new(),
        }
    }
    /// Current identity.
    pub fn id(&self) -> Id {
        let (group, version) = split_api_version(self.api_version());
        Id {
            group,
            version,
            kind: self.kind().to_string(),
            name: self.name().to_string(),
            namespace: self.namespace().to_string(),
        }
    }
    /// Original identity (first previous id, else current).
    pub fn org_id(&self) -> Id {
        self.prev.first().cloned().unwrap_or_else(|| self.id())
    }
    /// Current and previous ids.
    pub fn all_ids(&self) -> Vec<Id> {
        let mut v = vec![self.id()];
        v.extend(self.prev.iter().cloned());
        v
    }
    /// apiVersion.
    pub fn api_version(&self) -> &str {
        get_str(&self.obj, &["apiVersion"]).unwrap_or("")
    }
    /// kind.
    pub fn kind(&self) -> &str {
        get_str(&self.obj, &["kind"]).unwrap_or("")
    }
    /// metadata.name.
    pub fn name(&self) -> &str {
        get_str(&self.obj, &["metadata", "name"]).unwrap_or("")
    }
    /// metadata.namespace.
    pub fn namespace(&self) -> &str {
        get_str(&self.obj, &["metadata", "namespace"]).unwrap_or("")
    }
    /// Records the current id as a previous id (before a rename).
    pub fn store_prev(&mut self) {
        let id = self.id();
        self.prev.push(id);
    }
    /// Sets metadata.name.
    pub fn set_name(&mut self, name: &str) {
        obj_at(&mut self.obj, &["metadata"]).insert("name".into(), Value::String(name.into()));
    }
    /// Sets metadata.namespace.
    pub fn set_namespace(&mut self, ns: &str) {
        let m = obj_at(&mut self.obj, &["metadata"]);
        if ns.is_empty() {
            m.remove("namespace");
        } else {
            m.insert("namespace".into(), Value::String(ns.into()));
        }
    }
    /// metadata.labels as string pairs.
    pub fn labels(&self) -> Map<String, Value> {
        get(&self.obj, &["metadata", "labels"])
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }
    /// metadata.annotations.
    pub fn annotations(&self) -> Map<String, Value> {
        get(&self.obj, &["metadata", "annotations"])
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }
}
