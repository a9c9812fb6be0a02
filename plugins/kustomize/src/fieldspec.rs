//! Field specs (which fields of which kinds a transformer touches) and the
//! built-in transformer configuration kustomize ships with.

use crate::error::{Error, Result};
use crate::resource::Id;
use serde_json::Value;

/// One field spec: a path in objects of a (possibly wildcard) gvk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// Group (`""` matches any).
    pub group: String,
    /// Version (`""` matches any).
    pub version: String,
    /// Kind (`""` matches any).
    pub kind: String,
    /// Path segments (`[]` markers removed, `\/` unescaped).
    pub path: Vec<String>,
    /// Create the field when missing.
    pub create: bool,
}

/// A name-reference rule: fields that refer to objects of one gvk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRef {
    /// Referred group.
    pub group: String,
    /// Referred version.
    pub version: String,
    /// Referred kind.
    pub kind: String,
    /// Fields holding the reference.
    pub specs: Vec<FieldSpec>,
}

/// Transformer configuration: built-ins merged with `configurations` and `crds`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// metadata/name style fields for prefixes and suffixes.
    pub name_prefix: Vec<FieldSpec>,
    /// Fields set by the namespace transformer besides metadata/namespace.
    pub namespace: Vec<FieldSpec>,
    /// commonLabels fields (including selectors).
    pub common_labels: Vec<FieldSpec>,
    /// labels with includeTemplates.
    pub template_labels: Vec<FieldSpec>,
    /// commonAnnotations fields.
    pub common_annotations: Vec<FieldSpec>,
    /// Extra fields for `labels:` entries (`labels` in configurations).
    pub labels: Vec<FieldSpec>,
    /// Name references.
    pub name_reference: Vec<NameRef>,
    /// Fields where `$(VAR)` is expanded.
    pub var_reference: Vec<FieldSpec>,
    /// Image fields (besides the containers found anywhere).
    pub images: Vec<FieldSpec>,
    /// Replica count fields.
    pub replicas: Vec<FieldSpec>,
}

/// Splits a field-spec path on unescaped `/`.
pub fn split_path(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'/') {
            cur.push('/');
            chars.next();
        } else if c == '/' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

impl FieldSpec {
    fn parse(v: &Value) -> Result<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let path = s("path");
        if path.is_empty() {
            return Err(Error::invalid("field spec without a path"));
        }
        Ok(Self {
            group: s("group"),
            version: s("version"),
            kind: s("kind"),
            path: split_path(&path),
            create: v.get("create").and_then(Value::as_bool).unwrap_or(false),
        })
    }
    /// Whether this spec applies to an object of `id`'s gvk.
    pub fn matches(&self, id: &Id) -> bool {
        (self.kind.is_empty() || self.kind == id.kind)
            && (self.group.is_empty() || self.group == id.group)
            && (self.version.is_empty() || self.version == id.version)
    }
}

fn push_unique(list: &mut Vec<FieldSpec>, fs: FieldSpec) {
    if !list.contains(&fs) {
        list.push(fs);
    }
}

fn parse_specs(v: Option<&Value>) -> Result<Vec<FieldSpec>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(FieldSpec::parse).collect(),
        Some(_) => Err(Error::invalid("expected a list of field specs")),
    }
}

impl Config {
    /// Merges a configuration document (`configurations:` file format).
    ///
    /// # Errors
    /// Fails on malformed field specs.
    pub fn merge_doc(&mut self, doc: &Value) -> Result<()> {
        let get = |k: &str| doc.get(k);
        // Custom name-prefix fields replace the catch-all default (as
        // kustomize behaves: only the listed kinds get the prefix).
        if get("namePrefix").is_some_and(Value::is_array) {
            self.name_prefix.retain(|fs| !fs.kind.is_empty());
        }
        for (k, list) in [
            ("namePrefix", &mut self.name_prefix),
            ("nameSuffix", &mut Vec::new()),
            ("namespace", &mut self.namespace),
            ("commonLabels", &mut self.common_labels),
            ("templateLabels", &mut self.template_labels),
            ("commonAnnotations", &mut self.common_annotations),
            ("labels", &mut self.labels),
            ("varReference", &mut self.var_reference),
            ("images", &mut self.images),
            ("replicas", &mut self.replicas),
        ] {
            for fs in parse_specs(get(k)).map_err(|e| e.at(k))? {
                push_unique(list, fs);
            }
        }
        if let Some(Value::Array(refs)) = get("nameReference") {
            for r in refs {
                let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let (mut group, mut version) = (s("group"), s("version"));
                if let Some(av) = r.get("apiVersion").and_then(Value::as_str) {
                    let (g, v) = crate::resource::split_api_version(av);
                    group = g;
                    version = v;
                }
                let nr = NameRef {
                    group,
                    version,
                    kind: s("kind"),
                    specs: parse_specs(r.get("fieldSpecs")).map_err(|e| e.at("nameReference"))?,
                };
                self.add_name_ref(nr);
            }
        }
        Ok(())
    }

    /// Adds a name-reference rule, merging field specs into an existing rule.
    pub fn add_name_ref(&mut self, nr: NameRef) {
        if let Some(e) = self
            .name_reference
            .iter_mut()
            .find(|e| e.kind == nr.kind && e.group == nr.group && e.version == nr.version)
        {
            for fs in nr.specs {
                push_unique(&mut e.specs, fs);
            }
        } else {
            self.name_reference.push(nr);
        }
    }

    /// Merges another configuration.
    pub fn merge(&mut self, o: &Config) {
        for (a, b) in [
            (&mut self.name_prefix, &o.name_prefix),
            (&mut self.namespace, &o.namespace),
            (&mut self.common_labels, &o.common_labels),
            (&mut self.template_labels, &o.template_labels),
            (&mut self.common_annotations, &o.common_annotations),
            (&mut self.labels, &o.labels),
            (&mut self.var_reference, &o.var_reference),
            (&mut self.images, &o.images),
            (&mut self.replicas, &o.replicas),
        ] {
            for fs in b {
                push_unique(a, fs.clone());
            }
        }
        for nr in &o.name_reference {
            self.add_name_ref(nr.clone());
        }
    }

    /// The built-in configuration.
    pub fn builtin() -> Self {
        let mut c = Config::default();
        let specs = |text: &str| -> Vec<FieldSpec> {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    let (kind, group, version, path) = (f[0], f[1], f[2], f[3]);
                    let dash = |s: &str| {
                        if s == "-" {
                            String::new()
                        } else {
                            s.to_string()
                        }
                    };
                    FieldSpec {
                        kind: dash(kind),
                        group: dash(group),
                        version: dash(version),
                        path: split_path(path),
                        create: f.get(4) == Some(&"create"),
                    }
                })
                .collect()
        };
        c.name_prefix = specs("- - - metadata/name");
        c.namespace = specs(
            "Namespace - - metadata/name create
             APIService apiregistration.k8s.io - spec/service/namespace create
             CustomResourceDefinition apiextensions.k8s.io - spec/conversion/webhook/clientConfig/service/namespace",
        );
        let mut template = String::from("- - - metadata/labels create\n");
        for (k, g) in [
            ("ReplicationController", "-"),
            ("Deployment", "-"),
            ("ReplicaSet", "-"),
            ("DaemonSet", "-"),
            ("StatefulSet", "apps"),
            ("Job", "batch"),
        ] {
            let v = if k == "ReplicationController" {
                "v1"
            } else {
                "-"
            };
            template.push_str(&format!(
                "{k} {g} {v} spec/template/metadata/labels create\n"
            ));
        }
        template
            .push_str("StatefulSet apps - spec/volumeClaimTemplates[]/metadata/labels create\n");
        template.push_str("CronJob batch - spec/jobTemplate/metadata/labels create\n");
        template
            .push_str("CronJob batch - spec/jobTemplate/spec/template/metadata/labels create\n");
        c.template_labels = specs(&template);
        let mut common = String::from(
            "Service - v1 spec/selector create
             ReplicationController - v1 spec/selector create
             Deployment - - spec/selector/matchLabels create\n",
        );
        let affinity = [
            "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
        ];
        for a in affinity {
            common.push_str(&format!("Deployment apps - {a}\n"));
        }
        common.push_str(
            "ReplicaSet - - spec/selector/matchLabels create
             DaemonSet - - spec/selector/matchLabels create
             StatefulSet apps - spec/selector/matchLabels create
             StatefulSet apps - spec/volumeClaimTemplates[]/metadata/labels create\n",
        );
        for a in affinity {
            common.push_str(&format!("StatefulSet apps - {a}\n"));
        }
        common.push_str(
            "Job batch - spec/selector/matchLabels
             CronJob batch - spec/jobTemplate/spec/selector/matchLabels
             PodDisruptionBudget policy - spec/selector/matchLabels
             NetworkPolicy networking.k8s.io - spec/podSelector/matchLabels
             NetworkPolicy networking.k8s.io - spec/ingress/from/podSelector/matchLabels
             NetworkPolicy networking.k8s.io - spec/egress/to/podSelector/matchLabels\n",
        );
        common.push_str(&template);
        c.common_labels = specs(&common);
        let mut ann = String::from("- - - metadata/annotations create\n");
        for (k, g, v) in [
            ("ReplicationController", "-", "v1"),
            ("Deployment", "-", "-"),
            ("ReplicaSet", "-", "-"),
            ("DaemonSet", "-", "-"),
            ("StatefulSet", "-", "-"),
            ("Job", "batch", "-"),
        ] {
            ann.push_str(&format!(
                "{k} {g} {v} spec/template/metadata/annotations create\n"
            ));
        }
        ann.push_str("CronJob batch - spec/jobTemplate/metadata/annotations create\n");
        ann.push_str(
            "CronJob batch - spec/jobTemplate/spec/template/metadata/annotations create\n",
        );
        c.common_annotations = specs(&ann);
        c.images = specs(
            "- - - spec/containers/image create
             - - - spec/initContainers/image create
             - - - spec/template/spec/containers/image create
             - - - spec/template/spec/initContainers/image create",
        );
        c.replicas = specs(
            "Deployment - - spec/replicas create
             ReplicationController - - spec/replicas create
             ReplicaSet - - spec/replicas create
             StatefulSet - - spec/replicas create",
        );
        // Variable references: container fields of workload kinds, and a few others.
        let mut vr = String::new();
        let pod_fields = |prefix: &str, kind: &str, out: &mut String, nfs: &str| {
            for c in ["containers", "initContainers"] {
                for f in ["args", "command", "env/value", "volumeMounts/mountPath"] {
                    out.push_str(&format!("{kind} - - {prefix}{c}/{f}\n"));
                }
            }
            out.push_str(&format!("{kind} - - {nfs}\n"));
        };
        pod_fields(
            "spec/jobTemplate/spec/template/spec/",
            "CronJob",
            &mut vr,
            "spec/jobTemplate/spec/template/volumes/nfs/server",
        );
        for k in [
            "DaemonSet",
            "Deployment",
            "Job",
            "ReplicaSet",
            "StatefulSet",
        ] {
            let nfs = if k == "StatefulSet" {
                "spec/volumeClaimTemplates/spec/nfs/server"
            } else {
                "spec/template/spec/volumes/nfs/server"
            };
            pod_fields("spec/template/spec/", k, &mut vr, nfs);
        }
        pod_fields("spec/", "Pod", &mut vr, "spec/volumes/nfs/server");
        vr.push_str(
            "Deployment - - spec/template/metadata/annotations
             Ingress - - spec/rules/host
             Ingress - - spec/tls/hosts
             Ingress - - spec/tls/secretName
             Service - - spec/ports/port
             Service - - spec/ports/targetPort
             PersistentVolume - - spec/nfs/server
             - - - metadata/labels
             - - - metadata/annotations\n",
        );
        c.var_reference = specs(&vr);
        c.name_reference = builtin_name_refs(&specs);
        c
    }
}

fn builtin_name_refs(specs: &dyn Fn(&str) -> Vec<FieldSpec>) -> Vec<NameRef> {
    let mut out = Vec::new();
    let nr = |kind: &str, group: &str, version: &str, text: String| NameRef {
        kind: kind.into(),
        group: group.into(),
        version: version.into(),
        specs: specs(&text),
    };
    for k in [
        "Deployment",
        "ReplicationController",
        "ReplicaSet",
        "StatefulSet",
    ] {
        out.push(nr(
            k,
            "",
            "",
            "HorizontalPodAutoscaler - - spec/scaleTargetRef/name".into(),
        ));
    }
    // Pod-spec references, for every workload kind.
    let workloads: [(&str, &str, &str); 8] = [
        ("Pod", "spec/", "v1"),
        ("PodTemplate", "template/spec/", "-"),
        ("Deployment", "spec/template/spec/", "-"),
        ("ReplicaSet", "spec/template/spec/", "-"),
        ("DaemonSet", "spec/template/spec/", "-"),
        ("StatefulSet", "spec/template/spec/", "-"),
        ("Job", "spec/template/spec/", "-"),
        ("CronJob", "spec/jobTemplate/spec/template/spec/", "-"),
    ];
    let mut cm = String::new();
    let mut sec = String::new();
    for (k, p, v) in workloads {
        for f in [
            "volumes/configMap/name",
            "containers/env/valueFrom/configMapKeyRef/name",
            "initContainers/env/valueFrom/configMapKeyRef/name",
            "containers/envFrom/configMapRef/name",
            "initContainers/envFrom/configMapRef/name",
            "volumes/projected/sources/configMap/name",
        ] {
            cm.push_str(&format!("{k} - {v} {p}{f}\n"));
        }
        for f in [
            "volumes/secret/secretName",
            "containers/env/valueFrom/secretKeyRef/name",
            "initContainers/env/valueFrom/secretKeyRef/name",
            "containers/envFrom/secretRef/name",
            "initContainers/envFrom/secretRef/name",
            "imagePullSecrets/name",
            "volumes/projected/sources/secret/name",
        ] {
            sec.push_str(&format!("{k} - {v} {p}{f}\n"));
        }
    }
    cm.push_str(
        "Node - - spec/configSource/configMap
         Role - - rules/resourceNames
         ClusterRole - - rules/resourceNames
         Ingress - - metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap\n",
    );
    sec.push_str(
        "Ingress - - spec/tls/secretName
         Ingress - - metadata/annotations/ingress.kubernetes.io\\/auth-secret
         Ingress - - metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret
         Ingress - - metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret
         ServiceAccount - - imagePullSecrets/name
         StorageClass - - parameters/secretName
         StorageClass - - parameters/adminSecretName
         StorageClass - - parameters/userSecretName
         StorageClass - - parameters/secretRef
         Role - - rules/resourceNames
         ClusterRole - - rules/resourceNames
         Service serving.knative.dev v1 spec/template/spec/containers/env/valueFrom/secretKeyRef/name
         PersistentVolume - - spec/azureFile/secretName\n",
    );
    out.push(nr("ConfigMap", "", "v1", cm));
    out.push(nr("Secret", "", "v1", sec));
    out.push(nr(
        "Service",
        "",
        "v1",
        "StatefulSet apps - spec/serviceName
         Ingress - - spec/rules/http/paths/backend/serviceName
         Ingress - - spec/backend/serviceName
         Ingress - - spec/rules/http/paths/backend/service/name
         Ingress - - spec/defaultBackend/service/name
         APIService apiregistration.k8s.io - spec/service/name
         ValidatingWebhookConfiguration admissionregistration.k8s.io - webhooks/clientConfig/service
         MutatingWebhookConfiguration admissionregistration.k8s.io - webhooks/clientConfig/service
         HTTPRoute - - spec/rules/backendRefs/name"
            .into(),
    ));
    out.push(nr(
        "Role",
        "rbac.authorization.k8s.io",
        "",
        "RoleBinding rbac.authorization.k8s.io - roleRef/name".into(),
    ));
    out.push(nr(
        "ClusterRole",
        "rbac.authorization.k8s.io",
        "",
        "RoleBinding rbac.authorization.k8s.io - roleRef/name
         ClusterRoleBinding rbac.authorization.k8s.io - roleRef/name"
            .into(),
    ));
    let mut sa = String::from(
        "RoleBinding rbac.authorization.k8s.io - subjects
         ClusterRoleBinding rbac.authorization.k8s.io - subjects
         Pod - - spec/serviceAccountName\n",
    );
    for k in [
        "StatefulSet",
        "Deployment",
        "ReplicationController",
        "Job",
        "DaemonSet",
    ] {
        sa.push_str(&format!("{k} - - spec/template/spec/serviceAccountName\n"));
    }
    sa.push_str("CronJob - - spec/jobTemplate/spec/template/spec/serviceAccountName\n");
    out.push(nr("ServiceAccount", "", "v1", sa));
    let mut pvc = String::from("Pod - - spec/volumes/persistentVolumeClaim/claimName\n");
    for k in [
        "StatefulSet",
        "Deployment",
        "ReplicationController",
        "Job",
        "DaemonSet",
    ] {
        pvc.push_str(&format!(
            "{k} - - spec/template/spec/volumes/persistentVolumeClaim/claimName\n"
        ));
    }
    pvc.push_str(
        "CronJob - - spec/jobTemplate/spec/template/spec/volumes/persistentVolumeClaim/claimName\n",
    );
    out.push(nr("PersistentVolumeClaim", "", "v1", pvc));
    out.push(nr(
        "PersistentVolume",
        "",
        "v1",
        "PersistentVolumeClaim - - spec/volumeName
         ClusterRole - - rules/resourceNames"
            .into(),
    ));
    out.push(nr(
        "StorageClass",
        "storage.k8s.io",
        "v1",
        "PersistentVolume - - spec/storageClassName
         PersistentVolumeClaim - - spec/storageClassName
         StatefulSet - - spec/volumeClaimTemplates/spec/storageClassName"
            .into(),
    ));
    let mut pc = String::from("Pod - - spec/priorityClassName\n");
    for k in [
        "StatefulSet",
        "Deployment",
        "ReplicationController",
        "Job",
        "DaemonSet",
    ] {
        pc.push_str(&format!("{k} - - spec/template/spec/priorityClassName\n"));
    }
    pc.push_str("CronJob - - spec/jobTemplate/spec/template/spec/priorityClassName\n");
    out.push(nr("PriorityClass", "scheduling.k8s.io", "v1", pc));
    out.push(nr(
        "ValidatingAdmissionPolicy",
        "admissionregistration.k8s.io",
        "",
        "ValidatingAdmissionPolicyBinding admissionregistration.k8s.io - spec/policyName".into(),
    ));
    out.push(nr(
        "IngressClass",
        "networking.k8s.io",
        "v1",
        "Ingress - - spec/ingressClassName".into(),
    ));
    out
}

/// Visits the values at `path` inside `node`, descending into every element
/// of the lists met on the way. With `create`, missing maps and the final
/// field are created (the final one as `null` for the visitor to fill).
pub fn walk(
    node: &mut Value,
    path: &[String],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<()> {
    if path.is_empty() {
        return f(node);
    }
    match node {
        Value::Array(items) => {
            for it in items {
                walk(it, path, create, f)?;
            }
            Ok(())
        }
        Value::Object(m) => {
            // `name[]` marks a list: walked when present, never created.
            let (key, is_list) = match path[0].strip_suffix("[]") {
                Some(k) => (k, true),
                None => (path[0].as_str(), false),
            };
            if !m.contains_key(key) {
                if !create || is_list {
                    return Ok(());
                }
                m.insert(key.to_string(), Value::Null);
            }
            let child = m.get_mut(key).expect("present");
            if child.is_null() && path.len() > 1 {
                if !create {
                    return Ok(());
                }
                *child = Value::Object(serde_json::Map::new());
            }
            walk(child, &path[1..], create, f)
        }
        _ => Ok(()),
    }
}
