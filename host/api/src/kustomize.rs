//! `kustomize.toolkit.fluxcd.io/v1`: Kustomization — build a path of a source and apply it,
//! with prune, health checks and an inventory. Also the kustomize patch/selector/image types
//! that HelmRelease post-renderers share.
//!
//! Gyre additions (`spec.renderer`, `spec.transforms`) are optional fields a Flux object
//! never sets; they select Wasm plugins (see [`crate::plugin`]).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration as StdDuration;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::meta::{
    Condition, KubeConfigReference, LocalObjectReference, NamespacedObjectKindReference,
    NamespacedObjectReference, ReconcileSnapshot,
};
use crate::plugin::PluginReference;

/// The API group of Kustomization.
pub const GROUP: &str = "kustomize.toolkit.fluxcd.io";
/// Older versions served from the same schema as `v1` (none are listed in the design).
pub const SERVED_VERSIONS: &[&str] = &[];

/// `deletionPolicy`: delete if `prune` is true, orphan otherwise (the default).
pub const DELETION_POLICY_MIRROR_PRUNE: &str = "MirrorPrune";
/// `deletionPolicy`: delete the applied objects.
pub const DELETION_POLICY_DELETE: &str = "Delete";
/// `deletionPolicy`: delete the applied objects and wait until they are gone.
pub const DELETION_POLICY_WAIT_FOR_TERMINATION: &str = "WaitForTermination";
/// `deletionPolicy`: leave the applied objects in the cluster.
pub const DELETION_POLICY_ORPHAN: &str = "Orphan";

/// Builds a path of a source artifact with kustomize and applies the result.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "kustomize.toolkit.fluxcd.io",
    version = "v1",
    kind = "Kustomization",
    doc = "Kustomization builds a path of a source and applies it, with prune and health checks.",
    namespaced,
    status = "KustomizationStatus",
    derive = "PartialEq",
    shortname = "ks",
    category = "all",
    category = "fluxcd",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationSpec {
    /// Labels and annotations added to every applied object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// Kustomizations that must be ready before this one is reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<DependencyReference>>,
    /// Decryption of SOPS-encrypted Secrets before apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Decryption>,
    /// How often to reconcile.
    pub interval: Duration,
    /// How soon to retry a failed reconciliation; `interval` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<Duration>,
    /// Kubeconfig of a remote cluster to apply to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfigReference>,
    /// Directory in the source with the kustomization.yaml or plain manifests; the root
    /// when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Actions on the built manifests: variable substitution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_build: Option<PostBuild>,
    /// Garbage-collect objects that left the build (required).
    pub prune: bool,
    /// What happens to applied objects when this Kustomization is deleted:
    /// `MirrorPrune` (default), `Delete`, `WaitForTermination` or `Orphan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["MirrorPrune", "Delete", "WaitForTermination", "Orphan"]))]
    pub deletion_policy: Option<String>,
    /// Objects whose health is checked after apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_checks: Option<Vec<NamespacedObjectKindReference>>,
    /// Prefix added to the names of all applied objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub name_prefix: Option<String>,
    /// Suffix added to the names of all applied objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub name_suffix: Option<String>,
    /// Strategic-merge and JSON6902 patches with target selectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Vec<Patch>>,
    /// Image name, tag and digest overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<Image>>,
    /// ServiceAccount to impersonate when applying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// The source whose artifact is built.
    pub source_ref: CrossNamespaceSourceReference,
    /// Stops reconciliation of this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Namespace set on all namespaced objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub target_namespace: Option<String>,
    /// Timeout of build, apply and health checks; derived from `interval` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Recreates objects whose immutable fields changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub force: Option<bool>,
    /// Waits for all applied objects to be healthy (then `healthChecks` is ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
    /// Paths of kustomize Components to include.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
    /// Drops `components` paths missing from the source instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_missing_components: Option<bool>,
    /// CEL health checks for custom resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_exprs: Option<Vec<CustomHealthCheck>>,
    /// JSON pointers excluded from drift detection and apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_ignore_rules: Option<Vec<DriftIgnoreRule>>,
    /// **Gyre addition.** Renders the path with a renderer plugin instead of kustomize.
    /// Flux objects never set it; when unset the built-in kustomize renderer is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renderer: Option<RendererSpec>,
    /// **Gyre addition.** Transform plugins run in order over the rendered objects,
    /// before apply. Flux objects never set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transforms: Option<Vec<TransformSpec>>,
}

/// Floor of the Kustomization timeout, as in Flux.
const MIN_TIMEOUT: StdDuration = StdDuration::from_secs(30);

impl KustomizationSpec {
    /// How long build, apply and health checks may take.
    ///
    /// Flux's rule: `timeout` if set, otherwise `interval` minus 30s; never below 30s.
    pub fn timeout(&self) -> StdDuration {
        let d = match &self.timeout {
            Some(t) => t.as_std(),
            None => self.interval.as_std().saturating_sub(MIN_TIMEOUT),
        };
        d.max(MIN_TIMEOUT)
    }

    /// How soon to retry after a failure (Flux default: `interval`).
    pub fn retry_interval(&self) -> StdDuration {
        self.retry_interval
            .as_ref()
            .map_or(self.interval.as_std(), Duration::as_std)
    }

    /// The deletion policy (Flux default `MirrorPrune`).
    pub fn deletion_policy(&self) -> &str {
        match self.deletion_policy.as_deref() {
            Some(p) if !p.is_empty() => p,
            _ => DELETION_POLICY_MIRROR_PRUNE,
        }
    }

    /// Whether deleting the Kustomization deletes its objects, per the deletion policy.
    pub fn deletes_on_removal(&self) -> bool {
        match self.deletion_policy() {
            DELETION_POLICY_DELETE | DELETION_POLICY_WAIT_FOR_TERMINATION => true,
            DELETION_POLICY_ORPHAN => false,
            _ => self.prune,
        }
    }

    /// Whether reconciliation is suspended.
    pub fn suspended(&self) -> bool {
        self.suspend.unwrap_or(false)
    }

    /// Whether to wait for all applied objects to be healthy.
    pub fn waits(&self) -> bool {
        self.wait.unwrap_or(false)
    }

    /// Whether objects with immutable-field changes are recreated.
    pub fn forces(&self) -> bool {
        self.force.unwrap_or(false)
    }
}

/// Labels and annotations added to every applied object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommonMetadata {
    /// Annotations to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// A Kustomization this one depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DependencyReference {
    /// Name of the Kustomization.
    pub name: String,
    /// Namespace of the Kustomization; this one's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// CEL expression deciding readiness instead of the `Ready` condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_expr: Option<String>,
}

impl From<&DependencyReference> for NamespacedObjectReference {
    fn from(d: &DependencyReference) -> Self {
        NamespacedObjectReference {
            name: d.name.clone(),
            namespace: d.namespace.clone(),
        }
    }
}

/// How Secrets are decrypted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decryption {
    /// Decryption engine: `sops`.
    #[schemars(extend("enum" = ["sops"]))]
    pub provider: String,
    /// ServiceAccount for cloud KMS authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with the private keys (and static cloud credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
}

/// Post-build actions on the built manifests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostBuild {
    /// Variables substituted for `${var}` in the manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute: Option<BTreeMap<String, String>>,
    /// ConfigMaps and Secrets whose data are substitution variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute_from: Option<Vec<SubstituteReference>>,
}

/// A ConfigMap or Secret holding substitution variables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubstituteReference {
    /// `Secret` or `ConfigMap`.
    #[schemars(extend("enum" = ["Secret", "ConfigMap"]))]
    pub kind: String,
    /// Name, in the Kustomization's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Tolerates a missing object (as if empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub optional: Option<bool>,
}

/// A source reference that may cross namespaces.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceSourceReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `OCIRepository`, `GitRepository`, `Bucket` or `ExternalArtifact`.
    #[schemars(extend("enum" = ["OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"]))]
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; the referrer's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl fmt::Display for CrossNamespaceSourceReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) if !ns.is_empty() => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            _ => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// Selects objects by GVK, name, namespace and label/annotation selectors.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// API group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// API version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name (a regex in kustomize).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Label-selector expression matched against annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
    /// Label-selector expression matched against labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
}

/// A strategic-merge or JSON6902 patch (inline YAML) and the objects it targets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Patch {
    /// The patch document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// The objects to patch; those named in the patch when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// An image override: new name, tag or digest for an image name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// Tag-less image name to match.
    pub name: String,
    /// Replacement name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    /// Replacement tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_tag: Option<String>,
    /// Replacement digest; `newTag` is ignored when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// One JSON6902 operation (used by HelmRelease's deprecated `patchesJson6902`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Json6902 {
    /// `add`, `remove`, `replace`, `move`, `copy` or `test`.
    #[schemars(extend("enum" = ["test", "remove", "add", "replace", "move", "copy"]))]
    pub op: String,
    /// JSON pointer to operate on.
    pub path: String,
    /// JSON pointer to move or copy from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The value to add, replace or test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::any_json")]
    pub value: Option<serde_json::Value>,
}

/// A JSON6902 patch and its target (used by HelmRelease's deprecated `patchesJson6902`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Json6902Patch {
    /// The operations.
    pub patch: Vec<Json6902>,
    /// The objects to patch.
    pub target: Selector,
}

/// CEL expressions deciding the health of a custom resource kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomHealthCheck {
    /// API version of the kind.
    pub api_version: String,
    /// The kind.
    pub kind: String,
    /// Expression true when the object is healthy.
    pub current: String,
    /// Expression true when the object is still progressing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<String>,
    /// Expression true when the object has failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// JSON pointers to ignore in drift detection, for the targeted objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftIgnoreRule {
    /// JSON pointers (RFC 6901).
    pub paths: Vec<String>,
    /// The objects the rule applies to; all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// **Gyre addition.** A renderer plugin and its configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RendererSpec {
    /// The `Plugin` (same namespace) implementing the `renderer` world.
    pub plugin_ref: PluginReference,
    /// Free-form configuration passed to the plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::any_json")]
    pub config: Option<serde_json::Value>,
}

/// **Gyre addition.** A transform plugin and its configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransformSpec {
    /// The `Plugin` (same namespace) implementing the `transform` world.
    pub plugin_ref: PluginReference,
    /// Free-form configuration passed to the plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::any_json")]
    pub config: Option<serde_json::Value>,
}

/// Observed state of a Kustomization.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationStatus {
    /// Last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// Last reconciled generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions of the object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Revision of the last successfully applied artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    /// Origin revision (e.g. OCI `org.opencontainers.image.revision`) of the last applied
    /// artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_origin_revision: Option<String>,
    /// Revision of the last reconciliation attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// The objects applied by the last successful reconciliation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<ResourceInventory>,
    /// Snapshots of the last reconciliations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<ReconcileSnapshot>>,
}

/// The objects a Kustomization applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceInventory {
    /// One entry per object.
    pub entries: Vec<ResourceRef>,
}

/// An applied object: `id` is `<namespace>_<name>_<group>_<kind>`, `v` its version.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct ResourceRef {
    /// `<namespace>_<name>_<group>_<kind>` (empty namespace for cluster-scoped objects,
    /// empty group for the core group).
    pub id: String,
    /// API version of the object's kind, e.g. `v1`.
    pub v: String,
}

/// The parts of an inventory id.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// API group; empty for the core group.
    pub group: String,
    /// Kind.
    pub kind: String,
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{}_{}_{}",
            self.namespace, self.name, self.group, self.kind
        )
    }
}

impl ObjectId {
    /// Parses an inventory id. Names and namespaces cannot contain `_`, and kinds and
    /// groups cannot either, so the split is unambiguous.
    pub fn parse(id: &str) -> Option<ObjectId> {
        let mut parts = id.splitn(4, '_');
        let (namespace, name, group, kind) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if name.is_empty() || kind.is_empty() || kind.contains('_') {
            return None;
        }
        Some(ObjectId {
            namespace: namespace.into(),
            name: name.into(),
            group: group.into(),
            kind: kind.into(),
        })
    }
}

impl ResourceRef {
    /// The entry for an object.
    pub fn new(id: &ObjectId, version: impl Into<String>) -> Self {
        ResourceRef {
            id: id.to_string(),
            v: version.into(),
        }
    }

    /// The parsed id, or `None` if it is not in inventory form.
    pub fn object_id(&self) -> Option<ObjectId> {
        ObjectId::parse(&self.id)
    }
}

crate::meta::impl_flux_status!(KustomizationStatus);

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &str) -> KustomizationSpec {
        serde_yaml_ng::from_str(&format!(
            "interval: 10m\nprune: true\nsourceRef: {{kind: GitRepository, name: repo}}\n{extra}"
        ))
        .unwrap()
    }

    #[test]
    fn kustomization_timeout_follows_flux_interval_rule_with_a_30s_floor() {
        assert_eq!(spec("").timeout(), StdDuration::from_secs(570));
        assert_eq!(spec("timeout: 2m").timeout(), StdDuration::from_secs(120));
        assert_eq!(spec("timeout: 5s").timeout(), StdDuration::from_secs(30));
        let short: KustomizationSpec = serde_yaml_ng::from_str(
            "interval: 40s\nprune: false\nsourceRef: {kind: GitRepository, name: r}\n",
        )
        .unwrap();
        assert_eq!(short.timeout(), StdDuration::from_secs(30));
    }

    #[test]
    fn kustomization_retry_interval_defaults_to_interval() {
        assert_eq!(spec("").retry_interval(), StdDuration::from_secs(600));
        assert_eq!(
            spec("retryInterval: 1m").retry_interval(),
            StdDuration::from_secs(60)
        );
    }

    #[test]
    fn deletion_policy_mirror_prune_follows_the_prune_flag() {
        assert_eq!(spec("").deletion_policy(), "MirrorPrune");
        assert!(spec("").deletes_on_removal());
        assert!(!spec("deletionPolicy: Orphan").deletes_on_removal());
        let keep: KustomizationSpec = serde_yaml_ng::from_str(
            "interval: 1m\nprune: false\nsourceRef: {kind: GitRepository, name: r}\n",
        )
        .unwrap();
        assert!(!keep.deletes_on_removal());
    }

    #[test]
    fn a_kustomization_without_prune_is_rejected_because_flux_requires_it() {
        let r: Result<KustomizationSpec, _> =
            serde_yaml_ng::from_str("interval: 1m\nsourceRef: {kind: GitRepository, name: r}\n");
        assert!(r.is_err());
    }

    #[test]
    fn inventory_ids_round_trip_including_cluster_scoped_and_core_objects() {
        let id = ObjectId {
            namespace: "".into(),
            name: "podinfo".into(),
            group: "".into(),
            kind: "Namespace".into(),
        };
        let entry = ResourceRef::new(&id, "v1");
        assert_eq!(entry.id, "_podinfo__Namespace");
        assert_eq!(entry.object_id(), Some(id));
        let dep = ObjectId::parse("default_podinfo_apps_Deployment").unwrap();
        assert_eq!(dep.group, "apps");
        assert_eq!(dep.namespace, "default");
        assert!(ObjectId::parse("nonsense").is_none());
    }
}
