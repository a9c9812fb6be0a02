//! The resource types the server serves: the built-in kinds and those defined by CRDs.

use serde_json::Value;

/// One served resource (a group/version/plural).
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// API group, empty for core.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name (the URL segment).
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Short names for kubectl.
    pub short_names: Vec<String>,
    /// Categories (e.g. `all`).
    pub categories: Vec<String>,
    /// Whether the type has a `status` subresource.
    pub has_status: bool,
    /// Whether the type tracks `metadata.generation`.
    pub has_generation: bool,
    /// Whether the type has a `scale` subresource (`spec.replicas`).
    pub has_scale: bool,
    /// Only `create` is served (review APIs).
    pub create_only: bool,
    /// For CRD-defined kinds: the schema of this version and printer columns.
    pub crd: Option<CrdVersion>,
}

/// What a CRD says about one served version.
#[derive(Debug, Clone)]
pub struct CrdVersion {
    /// The `openAPIV3Schema`, if any.
    pub schema: Option<Value>,
    /// The storage version of the CRD.
    pub storage_version: String,
    /// `additionalPrinterColumns`.
    pub printer_columns: Vec<Value>,
}

impl ResourceType {
    /// `group/version` or `version` for core.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The verbs advertised in discovery.
    pub fn verbs(&self) -> Vec<&'static str> {
        if self.create_only {
            vec!["create"]
        } else {
            vec![
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ]
        }
    }

    /// Whether strategic merge patch is accepted (built-in kinds only).
    pub fn is_builtin(&self) -> bool {
        self.crd.is_none()
    }
}

#[allow(clippy::too_many_arguments)]
fn b(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    short: &[&str],
    status: bool,
    generation: bool,
) -> ResourceType {
    let all = [
        "pods",
        "services",
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
        "horizontalpodautoscalers",
    ];
    ResourceType {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        namespaced,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: if all.contains(&plural) && (group.is_empty() || group != "events.k8s.io") {
            vec!["all".into()]
        } else {
            vec![]
        },
        has_status: status,
        has_generation: generation,
        has_scale: group == "apps" && plural != "daemonsets",
        create_only: false,
        crd: None,
    }
}

/// The built-in kinds.
pub fn builtins() -> Vec<ResourceType> {
    let mut v = vec![
        b(
            "",
            "v1",
            "Namespace",
            "namespaces",
            false,
            &["ns"],
            true,
            false,
        ),
        b(
            "",
            "v1",
            "ConfigMap",
            "configmaps",
            true,
            &["cm"],
            false,
            false,
        ),
        b("", "v1", "Secret", "secrets", true, &[], false, false),
        b("", "v1", "Service", "services", true, &["svc"], true, false),
        b(
            "",
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            true,
            &["sa"],
            false,
            false,
        ),
        b("", "v1", "Pod", "pods", true, &["po"], true, false),
        b("", "v1", "Event", "events", true, &["ev"], false, false),
        b(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            true,
            &["pvc"],
            true,
            false,
        ),
        b(
            "events.k8s.io",
            "v1",
            "Event",
            "events",
            true,
            &["ev"],
            false,
            false,
        ),
        b(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            true,
            &["deploy"],
            true,
            true,
        ),
        b(
            "apps",
            "v1",
            "ReplicaSet",
            "replicasets",
            true,
            &["rs"],
            true,
            true,
        ),
        b(
            "apps",
            "v1",
            "StatefulSet",
            "statefulsets",
            true,
            &["sts"],
            true,
            true,
        ),
        b(
            "apps",
            "v1",
            "DaemonSet",
            "daemonsets",
            true,
            &["ds"],
            true,
            true,
        ),
        b("batch", "v1", "Job", "jobs", true, &[], true, true),
        b(
            "batch",
            "v1",
            "CronJob",
            "cronjobs",
            true,
            &["cj"],
            true,
            true,
        ),
        b(
            "networking.k8s.io",
            "v1",
            "Ingress",
            "ingresses",
            true,
            &["ing"],
            true,
            true,
        ),
        b(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            true,
            &["netpol"],
            false,
            true,
        ),
        b(
            "rbac.authorization.k8s.io",
            "v1",
            "Role",
            "roles",
            true,
            &[],
            false,
            false,
        ),
        b(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            true,
            &[],
            false,
            false,
        ),
        b(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
            &[],
            false,
            false,
        ),
        b(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
            &[],
            false,
            false,
        ),
        b(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            &["crd", "crds"],
            true,
            true,
        ),
        b(
            "coordination.k8s.io",
            "v1",
            "Lease",
            "leases",
            true,
            &[],
            false,
            false,
        ),
        b(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
            &["hpa"],
            true,
            true,
        ),
        b(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
            &["pdb"],
            true,
            true,
        ),
        b(
            "scheduling.k8s.io",
            "v1",
            "PriorityClass",
            "priorityclasses",
            false,
            &["pc"],
            false,
            false,
        ),
        b(
            "storage.k8s.io",
            "v1",
            "StorageClass",
            "storageclasses",
            false,
            &["sc"],
            false,
            false,
        ),
    ];
    for (kind, plural, ns) in [
        ("SelfSubjectAccessReview", "selfsubjectaccessreviews", false),
        ("SubjectAccessReview", "subjectaccessreviews", false),
        (
            "LocalSubjectAccessReview",
            "localsubjectaccessreviews",
            true,
        ),
        ("SelfSubjectRulesReview", "selfsubjectrulesreviews", false),
    ] {
        let mut r = b(
            "authorization.k8s.io",
            "v1",
            kind,
            plural,
            ns,
            &[],
            false,
            false,
        );
        r.create_only = true;
        v.push(r);
    }
    v
}

/// The served types a CRD object defines, if it is Established.
pub fn from_crd(crd: &Value) -> Vec<ResourceType> {
    let established = crd["status"]["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        })
        .unwrap_or(false);
    if !established {
        return vec![];
    }
    let spec = &crd["spec"];
    let names = &spec["names"];
    let group = spec["group"].as_str().unwrap_or_default().to_string();
    let kind = names["kind"].as_str().unwrap_or_default().to_string();
    let plural = names["plural"].as_str().unwrap_or_default().to_string();
    let singular = names["singular"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let str_list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let namespaced = spec["scope"] != "Cluster";
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let storage = versions
        .iter()
        .find(|v| v["storage"] == true)
        .and_then(|v| v["name"].as_str())
        .unwrap_or_default()
        .to_string();
    versions
        .iter()
        .filter(|v| v["served"] == true)
        .map(|v| ResourceType {
            group: group.clone(),
            version: v["name"].as_str().unwrap_or_default().to_string(),
            kind: kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            namespaced,
            short_names: str_list(&names["shortNames"]),
            categories: str_list(&names["categories"]),
            has_status: v["subresources"]["status"].is_object(),
            has_generation: true,
            has_scale: false,
            create_only: false,
            crd: Some(CrdVersion {
                schema: v["schema"].get("openAPIV3Schema").cloned(),
                storage_version: storage.clone(),
                printer_columns: v["additionalPrinterColumns"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            }),
        })
        .collect()
}
