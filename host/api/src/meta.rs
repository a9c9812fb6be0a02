//! Types shared by every Flux API group: conditions, references, artifacts, and the
//! annotations and labels Flux honours.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;

/// Condition types used across the Flux APIs (`status.conditions[].type`).
pub mod condition_types {
    /// The object is reconciled and its desired state is in effect.
    pub const READY: &str = "Ready";
    /// A reconciliation is in progress (abnormal-true).
    pub const RECONCILING: &str = "Reconciling";
    /// The reconciliation cannot make progress without a change to the object (abnormal-true).
    pub const STALLED: &str = "Stalled";
    /// The last health assessment of a Kustomization's objects.
    pub const HEALTHY: &str = "Healthy";
    /// The last Helm release attempt (install/upgrade) against the desired state.
    pub const RELEASED: &str = "Released";
    /// The last Helm test run against the desired state.
    pub const TEST_SUCCESS: &str = "TestSuccess";
    /// The last Helm remediation attempt (rollback/uninstall).
    pub const REMEDIATED: &str = "Remediated";
    /// The source's artifact is stored and can be served.
    pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
    /// The source's artifact is outdated (abnormal-true).
    pub const ARTIFACT_OUTDATED: &str = "ArtifactOutdated";
    /// The source's signature verification result.
    pub const SOURCE_VERIFIED: &str = "SourceVerified";
    /// Fetching the upstream source failed (abnormal-true).
    pub const FETCH_FAILED: &str = "FetchFailed";
    /// Building the source's artifact failed (abnormal-true).
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// A storage operation failed (abnormal-true).
    pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
    /// A GitRepository include is not available (abnormal-true).
    pub const INCLUDE_UNAVAILABLE: &str = "IncludeUnavailable";
}

/// Flux's condition reasons (`status.conditions[].reason`).
pub mod reasons {
    /// The reconciliation succeeded.
    pub const RECONCILIATION_SUCCEEDED: &str = "ReconciliationSucceeded";
    /// The reconciliation failed.
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
    /// A reconciliation is under way.
    pub const PROGRESSING: &str = "Progressing";
    /// The reconciliation failed and will be retried.
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    /// A dependency (`dependsOn`) is not ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// The object is suspended.
    pub const SUSPENDED: &str = "Suspended";
    /// The object's spec is invalid.
    pub const INVALID: &str = "Invalid";
    /// Downloading the source artifact failed.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// Building (kustomize build, rendering) failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// A health check failed or timed out.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// Garbage collection of removed objects failed.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// A Git operation (clone, checkout, push) failed.
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// A Git operation succeeded.
    pub const GIT_OPERATION_SUCCEEDED: &str = "GitOperationSucceeded";
    /// Credentials were missing or rejected.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// A storage operation failed.
    pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
    /// The source URL is invalid.
    pub const URL_INVALID: &str = "URLInvalid";
    /// Signature verification failed.
    pub const VERIFICATION_ERROR: &str = "VerificationError";
    /// The stored artifact is up to date with the source.
    pub const ARTIFACT_UP_TO_DATE: &str = "ArtifactUpToDate";
    /// Listing or fetching a Bucket failed.
    pub const BUCKET_OPERATION_FAILED: &str = "BucketOperationFailed";
    /// Listing and fetching a Bucket succeeded.
    pub const BUCKET_OPERATION_SUCCEEDED: &str = "BucketOperationSucceeded";
    /// Pulling an OCI artifact failed.
    pub const OCI_PULL_FAILED: &str = "OCIArtifactPullFailed";
    /// Processing an OCI artifact layer failed.
    pub const OCI_LAYER_OPERATION_FAILED: &str = "OCIArtifactLayerOperationFailed";
    /// Fetching a Helm repository index failed.
    pub const INDEXATION_FAILED: &str = "IndexationFailed";
    /// A Helm chart was pulled.
    pub const CHART_PULL_SUCCEEDED: &str = "ChartPullSucceeded";
    /// A Helm chart was packaged.
    pub const CHART_PACKAGE_SUCCEEDED: &str = "ChartPackageSucceeded";
    /// Helm install succeeded.
    pub const INSTALL_SUCCEEDED: &str = "InstallSucceeded";
    /// Helm install failed.
    pub const INSTALL_FAILED: &str = "InstallFailed";
    /// Helm upgrade succeeded.
    pub const UPGRADE_SUCCEEDED: &str = "UpgradeSucceeded";
    /// Helm upgrade failed.
    pub const UPGRADE_FAILED: &str = "UpgradeFailed";
    /// Helm tests succeeded.
    pub const TEST_SUCCEEDED: &str = "TestSucceeded";
    /// Helm tests failed.
    pub const TEST_FAILED: &str = "TestFailed";
    /// Helm rollback succeeded.
    pub const ROLLBACK_SUCCEEDED: &str = "RollbackSucceeded";
    /// Helm rollback failed.
    pub const ROLLBACK_FAILED: &str = "RollbackFailed";
    /// Helm uninstall succeeded.
    pub const UNINSTALL_SUCCEEDED: &str = "UninstallSucceeded";
    /// Helm uninstall failed.
    pub const UNINSTALL_FAILED: &str = "UninstallFailed";
    /// Initialising the Helm configuration failed.
    pub const INIT_FAILED: &str = "InitFailed";
    /// Observing the last Helm release failed.
    pub const GET_LAST_RELEASE_FAILED: &str = "GetLastReleaseFailed";
}

/// Annotations Flux (and so Gyre) honours on objects.
pub mod annotations {
    /// Any change of its value requests an immediate reconciliation.
    pub const RECONCILE_REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
    /// Requests a forced Helm release when equal to `requestedAt`.
    pub const RECONCILE_FORCE_AT: &str = "reconcile.fluxcd.io/forceAt";
    /// Requests a reset of the Helm failure counters when equal to `requestedAt`.
    pub const RECONCILE_RESET_AT: &str = "reconcile.fluxcd.io/resetAt";
    /// `disabled` on a Flux object pauses its reconciliation like `spec.suspend`;
    /// on an applied object, stops Flux from changing it.
    pub const KUSTOMIZE_RECONCILE: &str = "kustomize.toolkit.fluxcd.io/reconcile";
    /// `disabled` keeps an applied object out of garbage collection.
    pub const KUSTOMIZE_PRUNE: &str = "kustomize.toolkit.fluxcd.io/prune";
    /// Server-side apply policy for an object: `Ignore`, `IfNotPresent` or `Merge`.
    pub const KUSTOMIZE_SSA: &str = "kustomize.toolkit.fluxcd.io/ssa";
    /// `enabled` recreates the object when an immutable field changed.
    pub const KUSTOMIZE_FORCE: &str = "kustomize.toolkit.fluxcd.io/force";
    /// `disabled` turns off `postBuild` variable substitution for an object.
    pub const KUSTOMIZE_SUBSTITUTE: &str = "kustomize.toolkit.fluxcd.io/substitute";
    /// Value that turns a feature annotation on.
    pub const ENABLED: &str = "enabled";
    /// Value that turns a feature annotation off.
    pub const DISABLED: &str = "disabled";
    /// `ssa` value: never apply the object.
    pub const SSA_IGNORE: &str = "Ignore";
    /// `ssa` value: create the object only if it does not exist.
    pub const SSA_IF_NOT_PRESENT: &str = "IfNotPresent";
    /// `ssa` value: merge with fields owned by other managers.
    pub const SSA_MERGE: &str = "Merge";
}

/// Labels Flux (and so Gyre) puts on applied objects to record ownership.
pub mod labels {
    /// Name of the Kustomization that applied the object.
    pub const KUSTOMIZE_NAME: &str = "kustomize.toolkit.fluxcd.io/name";
    /// Namespace of the Kustomization that applied the object.
    pub const KUSTOMIZE_NAMESPACE: &str = "kustomize.toolkit.fluxcd.io/namespace";
    /// Name of the HelmRelease that owns the object.
    pub const HELM_NAME: &str = "helm.toolkit.fluxcd.io/name";
    /// Namespace of the HelmRelease that owns the object.
    pub const HELM_NAMESPACE: &str = "helm.toolkit.fluxcd.io/namespace";
}

/// The finalizer Flux sets on the objects it reconciles.
pub const FINALIZER: &str = "finalizers.fluxcd.io";

/// Status of a condition: `True`, `False` or `Unknown`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Whether the condition holds is not known.
    #[default]
    Unknown,
}

impl From<bool> for ConditionStatus {
    fn from(b: bool) -> Self {
        if b {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        }
    }
}

impl fmt::Display for ConditionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        })
    }
}

/// One aspect of an object's state, in the shape of Kubernetes' `metav1.Condition`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of the condition, e.g. `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Status of the condition.
    pub status: ConditionStatus,
    /// The `.metadata.generation` the condition was set from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the status last changed.
    pub last_transition_time: Time,
    /// Machine-readable CamelCase reason for the last transition.
    pub reason: String,
    /// Human-readable details of the last transition.
    #[serde(default)]
    pub message: String,
}

impl Condition {
    /// A condition whose transition time is now.
    pub fn new(
        type_: impl Into<String>,
        status: impl Into<ConditionStatus>,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Condition {
            type_: type_.into(),
            status: status.into(),
            observed_generation: None,
            last_transition_time: now(),
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// Sets the generation the condition was computed from.
    pub fn with_observed_generation(mut self, generation: Option<i64>) -> Self {
        self.observed_generation = generation;
        self
    }

    /// Whether the status is `True`.
    pub fn is_true(&self) -> bool {
        self.status == ConditionStatus::True
    }
}

/// The current time, truncated to whole seconds as the Kubernetes wire format is.
pub fn now() -> Time {
    let ts = k8s_openapi::jiff::Timestamp::now();
    let whole = k8s_openapi::jiff::Timestamp::from_second(ts.as_second()).unwrap_or(ts);
    Time(whole)
}

/// Adds or replaces the condition of `new.type_`.
///
/// Keeps the existing `lastTransitionTime` when the status did not change, so that the
/// time records the last *transition*, as Kubernetes conventions require. Returns whether
/// anything other than the transition time changed.
pub fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            if existing.status == new.status {
                new.last_transition_time = existing.last_transition_time.clone();
            }
            let changed = *existing != new;
            *existing = new;
            changed
        }
        None => {
            conditions.push(new);
            true
        }
    }
}

/// Finds the condition of the given type.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Removes the condition of the given type; returns whether one was removed.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

/// Whether the condition of the given type exists and is `True`.
pub fn is_condition_true(conditions: &[Condition], type_: &str) -> bool {
    find_condition(conditions, type_).is_some_and(Condition::is_true)
}

/// Whether the `Ready` condition is `True`.
pub fn is_ready(conditions: &[Condition]) -> bool {
    is_condition_true(conditions, condition_types::READY)
}

/// Marks a successful reconciliation the way Flux does: `Ready=True`, and the
/// `Reconciling` and `Stalled` conditions removed.
pub fn mark_ready(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    reason: &str,
    message: impl Into<String>,
) {
    remove_condition(conditions, condition_types::RECONCILING);
    remove_condition(conditions, condition_types::STALLED);
    set_condition(
        conditions,
        Condition::new(condition_types::READY, true, reason, message)
            .with_observed_generation(generation),
    );
}

/// Marks a reconciliation in progress: `Reconciling=True` and `Ready=Unknown`, both with
/// reason `Progressing`.
pub fn mark_reconciling(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    message: impl Into<String>,
) {
    let message = message.into();
    remove_condition(conditions, condition_types::STALLED);
    set_condition(
        conditions,
        Condition::new(
            condition_types::RECONCILING,
            true,
            reasons::PROGRESSING,
            message.clone(),
        )
        .with_observed_generation(generation),
    );
    set_condition(
        conditions,
        Condition::new(
            condition_types::READY,
            ConditionStatus::Unknown,
            reasons::PROGRESSING,
            message,
        )
        .with_observed_generation(generation),
    );
}

/// Marks a failure that will be retried: `Ready=False` with `reason`, and
/// `Reconciling=True` with reason `ProgressingWithRetry`.
pub fn mark_failed_with_retry(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    reason: &str,
    message: impl Into<String>,
) {
    let message = message.into();
    remove_condition(conditions, condition_types::STALLED);
    set_condition(
        conditions,
        Condition::new(
            condition_types::RECONCILING,
            true,
            reasons::PROGRESSING_WITH_RETRY,
            message.clone(),
        )
        .with_observed_generation(generation),
    );
    set_condition(
        conditions,
        Condition::new(condition_types::READY, false, reason, message)
            .with_observed_generation(generation),
    );
}

/// Marks a failure that needs a change to the object: `Stalled=True` and `Ready=False`,
/// both with `reason`; `Reconciling` removed.
pub fn mark_stalled(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    reason: &str,
    message: impl Into<String>,
) {
    let message = message.into();
    remove_condition(conditions, condition_types::RECONCILING);
    set_condition(
        conditions,
        Condition::new(condition_types::STALLED, true, reason, message.clone())
            .with_observed_generation(generation),
    );
    set_condition(
        conditions,
        Condition::new(condition_types::READY, false, reason, message)
            .with_observed_generation(generation),
    );
}

/// The value of `reconcile.fluxcd.io/requestedAt`, if the object has one.
pub fn requested_at(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<&str> {
    meta.annotations
        .as_ref()?
        .get(annotations::RECONCILE_REQUESTED_AT)
        .map(String::as_str)
}

/// The status fields every Flux kind with a status has.
pub trait FluxStatus {
    /// The conditions.
    fn conditions(&self) -> &[Condition];
    /// The conditions, for [`set_condition`] and the `mark_*` helpers.
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    /// Last reconciled generation.
    fn observed_generation(&self) -> Option<i64>;
    /// Records the reconciled generation.
    fn set_observed_generation(&mut self, generation: Option<i64>);
    /// Last handled `reconcile.fluxcd.io/requestedAt` value.
    fn last_handled_reconcile_at(&self) -> Option<&str>;
    /// Records the handled `reconcile.fluxcd.io/requestedAt` value.
    fn set_last_handled_reconcile_at(&mut self, value: Option<String>);
}

/// Implements [`FluxStatus`] for status structs with the usual field names.
macro_rules! impl_flux_status {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::meta::FluxStatus for $t {
            fn conditions(&self) -> &[$crate::meta::Condition] {
                &self.conditions
            }
            fn conditions_mut(&mut self) -> &mut Vec<$crate::meta::Condition> {
                &mut self.conditions
            }
            fn observed_generation(&self) -> Option<i64> {
                self.observed_generation
            }
            fn set_observed_generation(&mut self, generation: Option<i64>) {
                self.observed_generation = generation;
            }
            fn last_handled_reconcile_at(&self) -> Option<&str> {
                self.last_handled_reconcile_at.as_deref()
            }
            fn set_last_handled_reconcile_at(&mut self, value: Option<String>) {
                self.last_handled_reconcile_at = value;
            }
        }
    )*};
}
pub(crate) use impl_flux_status;

/// A reference to an object in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct LocalObjectReference {
    /// Name of the referent.
    pub name: String,
}

impl LocalObjectReference {
    /// A reference to `name`.
    pub fn new(name: impl Into<String>) -> Self {
        LocalObjectReference { name: name.into() }
    }
}

/// A reference to an object in any namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedObjectReference {
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; when empty, the referrer's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A typed reference to an object in any namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedObjectKindReference {
    /// API version of the referent; when empty, the preferred version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; when empty, the referrer's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A reference to a Secret in the same namespace, optionally to one of its keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyReference {
    /// Name of the Secret.
    pub name: String,
    /// Key in the Secret; when empty, an implementation-specific default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Where to find the kubeconfig for reconciling on a remote cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeConfigReference {
    /// Cloud provider to authenticate with: `aws`, `azure`, `gcp` or `generic` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["aws", "azure", "gcp", "generic"]))]
    pub provider: Option<String>,
    /// Fully qualified cloud resource name of the cluster (not for `generic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Address of the API server, selecting among the cluster's endpoints (not for `generic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// ServiceAccount to authenticate as (not for `generic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret holding the kubeconfig under `key` (default key `value`); `generic` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyReference>,
}

impl KubeConfigReference {
    /// The Secret key holding the kubeconfig, `value` by default.
    pub fn secret_key(&self) -> Option<&str> {
        self.secret_ref
            .as_ref()
            .map(|s| s.key.as_deref().unwrap_or("value"))
    }
}

/// Which namespaces may refer to an object across namespaces (provisional in Flux).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessFrom {
    /// Namespace label selectors; a namespace matching any of them is allowed.
    pub namespace_selectors: Vec<NamespaceSelector>,
}

/// Selects namespaces by their labels.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// Labels a namespace must all have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}

/// The output of a source reconciliation, served by the artifact store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Path of the artifact relative to the root of the storage.
    pub path: String,
    /// HTTP address the artifact can be downloaded from.
    pub url: String,
    /// Human-readable origin revision, e.g. `main@sha1:<hex>` or a chart version.
    #[serde(default)]
    pub revision: String,
    /// Digest of the artifact file, `<algorithm>:<checksum>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// When the artifact was last updated.
    pub last_update_time: Time,
    /// Size of the artifact file in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Upstream metadata such as OCI annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl Artifact {
    /// Whether the artifact's revision is `revision`.
    pub fn has_revision(&self, revision: &str) -> bool {
        self.revision == revision
    }

    /// Whether the artifact's digest is `digest`.
    pub fn has_digest(&self, digest: &str) -> bool {
        self.digest.as_deref() == Some(digest)
    }
}

/// A Git revision in Flux's format: `<ref>@sha1:<hex>`, or `sha1:<hex>` with no ref name.
pub fn git_revision(ref_name: Option<&str>, commit_sha1: &str) -> String {
    match ref_name {
        Some(r) if !r.is_empty() => format!("{r}@sha1:{commit_sha1}"),
        _ => format!("sha1:{commit_sha1}"),
    }
}

/// A point-in-time record of one revision's reconciliations (Flux `meta.History` entry).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileSnapshot {
    /// Checksum `<algo>:<hex>` of the reconciled objects; identifies the snapshot.
    pub digest: String,
    /// When this revision was first reconciled.
    pub first_reconciled: Time,
    /// When this revision was last reconciled.
    pub last_reconciled: Time,
    /// How long the last reconciliation took.
    pub last_reconciled_duration: Duration,
    /// Status of the last reconciliation.
    pub last_reconciled_status: String,
    /// Number of reconciliations of this revision.
    pub total_reconciliations: i64,
    /// Reconciler-specific details, e.g. the revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    fn cond(status: ConditionStatus, reason: &str, t: i64) -> Condition {
        Condition {
            type_: condition_types::READY.into(),
            status,
            observed_generation: Some(1),
            last_transition_time: at(t),
            reason: reason.into(),
            message: String::new(),
        }
    }

    #[test]
    fn set_condition_keeps_the_transition_time_when_the_status_did_not_change() {
        let mut conds = vec![cond(ConditionStatus::True, "A", 100)];
        let changed = set_condition(&mut conds, cond(ConditionStatus::True, "B", 200));
        assert!(changed, "the reason changed");
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0].reason, "B");
        assert_eq!(conds[0].last_transition_time, at(100));

        let changed = set_condition(&mut conds, cond(ConditionStatus::True, "B", 300));
        assert!(!changed, "only the time would have changed");
        assert_eq!(conds[0].last_transition_time, at(100));
    }

    #[test]
    fn set_condition_moves_the_transition_time_when_the_status_changes() {
        let mut conds = vec![cond(ConditionStatus::True, "A", 100)];
        assert!(set_condition(
            &mut conds,
            cond(ConditionStatus::False, "A", 200)
        ));
        assert_eq!(conds[0].last_transition_time, at(200));
        assert!(!is_ready(&conds));
    }

    #[test]
    fn set_condition_appends_new_types_and_remove_condition_drops_them() {
        let mut conds = vec![cond(ConditionStatus::True, "A", 100)];
        let mut other = cond(ConditionStatus::True, "Progressing", 100);
        other.type_ = condition_types::RECONCILING.into();
        assert!(set_condition(&mut conds, other));
        assert_eq!(conds.len(), 2);
        assert!(is_condition_true(&conds, condition_types::RECONCILING));
        assert!(remove_condition(&mut conds, condition_types::RECONCILING));
        assert!(!remove_condition(&mut conds, condition_types::RECONCILING));
        assert!(is_ready(&conds));
    }

    #[test]
    fn conditions_serialize_in_the_metav1_shape() {
        let c = cond(
            ConditionStatus::True,
            "ReconciliationSucceeded",
            1_700_000_000,
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "type": "Ready",
                "status": "True",
                "observedGeneration": 1,
                "lastTransitionTime": "2023-11-14T22:13:20Z",
                "reason": "ReconciliationSucceeded",
                "message": "",
            })
        );
    }

    #[test]
    fn the_mark_helpers_follow_flux_ready_reconciling_stalled_conventions() {
        let mut conds = Vec::new();
        mark_reconciling(&mut conds, Some(2), "Reconciliation in progress");
        assert_eq!(
            find_condition(&conds, condition_types::READY)
                .unwrap()
                .status,
            ConditionStatus::Unknown
        );
        assert!(is_condition_true(&conds, condition_types::RECONCILING));

        mark_failed_with_retry(
            &mut conds,
            Some(2),
            reasons::BUILD_FAILED,
            "kustomize build failed",
        );
        let ready = find_condition(&conds, condition_types::READY).unwrap();
        assert_eq!(ready.status, ConditionStatus::False);
        assert_eq!(ready.reason, reasons::BUILD_FAILED);
        assert_eq!(
            find_condition(&conds, condition_types::RECONCILING)
                .unwrap()
                .reason,
            reasons::PROGRESSING_WITH_RETRY
        );

        mark_stalled(
            &mut conds,
            Some(2),
            reasons::INVALID,
            "spec.path is absolute",
        );
        assert!(is_condition_true(&conds, condition_types::STALLED));
        assert!(find_condition(&conds, condition_types::RECONCILING).is_none());

        mark_ready(
            &mut conds,
            Some(3),
            reasons::RECONCILIATION_SUCCEEDED,
            "Applied revision: main@sha1:abc",
        );
        assert_eq!(conds.len(), 1);
        assert!(is_ready(&conds));
        assert_eq!(conds[0].observed_generation, Some(3));
    }

    #[test]
    fn git_revisions_use_the_flux_format() {
        assert_eq!(git_revision(Some("main"), "abc"), "main@sha1:abc");
        assert_eq!(git_revision(None, "abc"), "sha1:abc");
    }
}
