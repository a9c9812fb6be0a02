//! The HelmRelease reconciler: chart artifact → values → the atomic release (install,
//! upgrade, and remediation by rollback or uninstall) → status, as helm-controller v2
//! does it.
//!
//! The chart comes from a HelmChart: one generated from `spec.chart` (named
//! `<namespace>-<name>` in the source's namespace, labelled with the HelmRelease and
//! deleted with it) or the one `spec.chartRef` names; or from the OCIRepository
//! `spec.chartRef` names ([`oci_chart`]). Release records are Helm's
//! (`gyre-release`), so `helm list` and `helm history` see every revision — and Gyre sees
//! what `helm` writes; objects are applied with server-side apply and labelled
//! `helm.toolkit.fluxcd.io/name|namespace` like helm-controller's.
//!
//! The flow, one module per step: [`state`] says where the release stands (absent,
//! locked, unmanaged — the newest revision is not the one `status.history` recorded, e.g.
//! after a person's `helm rollback` —, out of sync, failed, in sync); [`plan`] picks the
//! next action with the remediation in force (`install.remediation` /
//! `upgrade.remediation`: retries, `remediateLastFailure`, strategy); `atomic` runs
//! actions until the release settles (at most one of each kind, stopping after a
//! remediation); `install`, `upgrade`, `rollback`, `uninstall` and `unlock` are the
//! actions, with Helm's statuses and descriptions, and `deploy` what they share (render,
//! manifest, apply/prune/wait). Chart hooks ([`hooks`]) are stored with each revision
//! and run around the actions as Helm runs them (pre/post install, upgrade, rollback and
//! delete, unless the action's `disableHooks`); a failing hook fails the action with
//! Helm's description. `disableWaitForJobs` leaves Jobs out of the wait. Failure counters (`failures`, `installFailures`,
//! `upgradeFailures`) count failures that stored a revision and reset when the
//! generation, the chart version or the values change, or on `reconcile.fluxcd.io/resetAt`;
//! retries used up → `Stalled=True` `RetriesExceeded`; `reconcile.fluxcd.io/forceAt`
//! releases once more. A new release name, target namespace, storage namespace or chart
//! name uninstalls the old release first. Nothing is written when the deployed revision
//! is the recorded one and matches the chart and values; then, with `driftDetection`
//! `warn` or `enabled`, the cluster is compared with the release and drift is reported
//! or corrected ([`drift`]). The objects of a chart's `crds/` directories are not release
//! objects: they are applied before the release per the install or upgrade CRD policy
//! ([`crds`]).
//!
//! `spec.postRenderers` run over the rendered chart before a revision is recorded
//! ([`post_render`]); changing them upgrades. `dependsOn` holds the release back until
//! the named HelmReleases are ready ([`crate::dependencies`]). Objects and release
//! records go through the release's connection ([`client`]): impersonating
//! `serviceAccountName` (or `--default-service-account`), or to the remote cluster of
//! `kubeConfig.secretRef`; that cluster's `/version` and discovery are the chart's
//! `.Capabilities`. Hooks and Helm tests run through the same connection, so a tenant's
//! hook Job is created with the tenant's rights, on the tenant's cluster.
//!
//! # Caveats
//! Not in this slice: `rollback.recreate`, the actions' `force` and
//! `cleanupOnFail` are not honoured (objects a failed upgrade added are pruned by the
//! next upgrade or rollback instead). Helm tests run once the release settled in sync
//! ([`mod@test`]); a failed test sets `Ready=False` (`TestFailed`) but does not yet
//! trigger remediation (`remediation.ignoreTestFailures` plays no part).
//! `status.history` is rebuilt from the storage after each action (the newest revision
//! down to the previous successful one), not accumulated from observations as Flux does.
//! ConfigMaps and Secrets of `valuesFrom` are re-read on every reconcile; they trigger
//! one only when labelled `reconcile.fluxcd.io/watch: Enabled`, as in Flux 2.4+. A HelmChart
//! generated for an older `spec.chart` (another source namespace) is not
//! garbage-collected until deletion. The config digest is computed over Gyre's YAML
//! encoding of the values (see [`values::digest`]); the release digest over Gyre's JSON
//! encoding of the stored release (see [`state::release_digest`]).

mod atomic;
pub mod client;
pub mod crds;
mod deploy;
pub mod drift;
pub mod hooks;
mod install;
pub mod oci_chart;
pub mod plan;
pub mod post_render;
mod rollback;
pub mod state;
pub mod target;
pub mod test;
mod uninstall;
mod unlock;
mod upgrade;
pub mod values;

pub use deploy::manifest_inventory;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gyre_api::helm::{HelmRelease, HelmReleaseStatus};
use gyre_api::meta::{self, Condition, condition_types, find_condition, set_condition};
use gyre_api::source::HelmChart;
use gyre_release::SecretStorage;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::events::Severity;
use crate::source::{FINALIZER, chain, in_store, to_store_artifact};
use crate::status;

/// helm-controller's condition reasons.
pub mod reason {
    /// The chart artifact is missing or could not be read.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// The release could not be prepared (values, chart loading, storage).
    pub const INIT_FAILED: &str = "InitFailed";
    /// The last release could not be read from the storage.
    pub const GET_LAST_RELEASE_FAILED: &str = "GetLastReleaseFailed";
    /// Install succeeded.
    pub const INSTALL_SUCCEEDED: &str = "InstallSucceeded";
    /// Install failed.
    pub const INSTALL_FAILED: &str = "InstallFailed";
    /// Upgrade succeeded.
    pub const UPGRADE_SUCCEEDED: &str = "UpgradeSucceeded";
    /// Upgrade failed.
    pub const UPGRADE_FAILED: &str = "UpgradeFailed";
    /// Uninstall succeeded.
    pub const UNINSTALL_SUCCEEDED: &str = "UninstallSucceeded";
    /// The client for the target cluster (impersonation, kubeconfig) cannot be built.
    pub const REST_CLIENT_ERROR: &str = "RESTClientError";
    /// A reference into another namespace is not allowed.
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// Uninstall (remediation) failed.
    pub const UNINSTALL_FAILED: &str = "UninstallFailed";
    /// Rollback (remediation) succeeded.
    pub const ROLLBACK_SUCCEEDED: &str = "RollbackSucceeded";
    /// Rollback (remediation) failed.
    pub const ROLLBACK_FAILED: &str = "RollbackFailed";
    /// A pending release was unlocked.
    pub const PENDING_RELEASE: &str = "PendingRelease";
    /// The remediation retries are used up.
    pub const RETRIES_EXCEEDED: &str = "RetriesExceeded";
    /// A rollback is due but no previous successful release exists.
    pub const MISSING_ROLLBACK_TARGET: &str = "MissingRollbackTarget";
    /// The release's state could not be determined.
    pub const STATE_ERROR: &str = "StateError";
}

/// Labels helm-controller puts on the HelmChart it generates.
const NAME_LABEL: &str = gyre_apply::HELM_NAME_LABEL;
const NAMESPACE_LABEL: &str = gyre_apply::HELM_NAMESPACE_LABEL;

/// A failed step: the reason, the message, and whether retrying without a change is
/// pointless (the release failed for this chart and these values).
struct Failure {
    reason: &'static str,
    message: String,
    stalled: bool,
}

impl Failure {
    fn new(reason: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            reason,
            message: message.into(),
            stalled: false,
        }
    }
}

/// The chart to release: its artifact, where it came from, and its identity.
struct ChartArtifact {
    /// `source.toolkit.fluxcd.io` HelmChart the artifact belongs to.
    object: gyre_source::ObjectRef,
    artifact: gyre_source::Artifact,
}

/// Reconciles one HelmRelease.
///
/// # Errors
/// Only when the finalizer or the status cannot be written.
pub async fn reconcile(hr: Arc<HelmRelease>, ctx: Arc<Context>) -> Result<Action> {
    let ns = hr.namespace().unwrap_or_default();
    let api: Api<HelmRelease> = Api::namespaced(ctx.client.clone(), &ns);
    let what = status::describe(hr.as_ref());
    finalizer(&api, FINALIZER, hr, |event| async {
        match event {
            FinalizerEvent::Apply(hr) => apply(&api, hr, &ctx).await,
            FinalizerEvent::Cleanup(hr) => cleanup(hr, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer {
            object: what,
            message: other.to_string(),
        },
    })
}

/// Namespace and name of the HelmChart a HelmRelease uses: the generated one for
/// `spec.chart`, the referenced one for `spec.chartRef`.
pub fn chart_object(hr: &HelmRelease) -> Option<(String, String)> {
    let own = hr.namespace().unwrap_or_default();
    if let Some(c) = &hr.spec.chart {
        let ns = c.spec.source_ref.namespace.clone().unwrap_or(own);
        return Some((ns, hr.helm_chart_name()));
    }
    let r = hr.spec.chart_ref.as_ref()?;
    (r.kind == "HelmChart").then(|| (r.namespace.clone().unwrap_or(own), r.name.clone()))
}

/// Creates or updates the HelmChart generated from `spec.chart` (server-side apply, so
/// a changed template moves the chart's generation and the source controller rebuilds).
async fn ensure_chart(ctx: &Context, hr: &HelmRelease) -> Result<(), Failure> {
    let Some(template) = &hr.spec.chart else {
        return Ok(());
    };
    let (ns, name) = chart_object(hr).expect("spec.chart is set");
    let t = &template.spec;
    let mut labels: BTreeMap<String, String> = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(NAME_LABEL.into(), hr.name_any());
    labels.insert(NAMESPACE_LABEL.into(), hr.namespace().unwrap_or_default());
    let mut spec = json!({
        "chart": t.chart,
        "version": t.version(),
        "sourceRef": {"kind": t.source_ref.kind, "name": t.source_ref.name},
        "interval": t.interval.as_ref().unwrap_or(&hr.spec.interval),
        "reconcileStrategy": t.reconcile_strategy.as_deref().unwrap_or("ChartVersion"),
    });
    if let Some(files) = &t.values_files {
        spec["valuesFiles"] = json!(files);
    }
    if let Some(file) = &t.values_file {
        spec["valuesFile"] = json!(file);
    }
    if let Some(i) = t.ignore_missing_values_files {
        spec["ignoreMissingValuesFiles"] = json!(i);
    }
    let mut metadata = json!({"name": name, "namespace": ns, "labels": labels});
    if let Some(a) = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
    {
        metadata["annotations"] = json!(a);
    }
    let body = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmChart",
        "metadata": metadata,
        "spec": spec,
    });
    let api: Api<HelmChart> = Api::namespaced(ctx.client.clone(), &ns);
    api.patch(
        &name,
        &PatchParams::apply(status::FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(|e| {
        Failure::new(
            reason::ARTIFACT_FAILED,
            format!("failed to create or update HelmChart '{ns}/{name}': {e}"),
        )
    })?;
    Ok(())
}

/// The chart artifact of the HelmRelease's HelmChart, once it is ready.
async fn chart_artifact(ctx: &Context, hr: &HelmRelease) -> Result<ChartArtifact, Failure> {
    if hr.spec.chart.is_some() == hr.spec.chart_ref.is_some() {
        return Err(Failure {
            reason: meta::reasons::INVALID,
            message: "exactly one of spec.chart and spec.chartRef must be set".into(),
            stalled: true,
        });
    }
    if let Some(r) = hr
        .spec
        .chart_ref
        .as_ref()
        .filter(|r| r.kind == "OCIRepository")
    {
        return oci_chart::artifact(ctx, hr, r).await;
    }
    let Some((ns, name)) = chart_object(hr) else {
        let kind = hr
            .spec
            .chart_ref
            .as_ref()
            .map(|r| r.kind.clone())
            .unwrap_or_default();
        return Err(Failure {
            reason: meta::reasons::INVALID,
            message: format!(
                "spec.chartRef kind {kind:?} is not supported (HelmChart, OCIRepository)"
            ),
            stalled: true,
        });
    };
    if ctx.options.no_cross_namespace_refs && ns != hr.namespace().unwrap_or_default() {
        return Err(Failure {
            reason: reason::ACCESS_DENIED,
            message: format!(
                "cannot access the chart source in namespace {ns}: cross-namespace references are not allowed"
            ),
            stalled: true,
        });
    }
    ensure_chart(ctx, hr).await?;
    let api: Api<HelmChart> = Api::namespaced(ctx.client.clone(), &ns);
    let chart = api
        .get_opt(&name)
        .await
        .map_err(|e| {
            Failure::new(
                reason::ARTIFACT_FAILED,
                format!("could not get HelmChart '{ns}/{name}': {e}"),
            )
        })?
        .ok_or_else(|| {
            Failure::new(
                reason::ARTIFACT_FAILED,
                format!("HelmChart '{ns}/{name}' not found"),
            )
        })?;
    let st = chart.status.clone().unwrap_or_default();
    let current = st.observed_generation == chart.metadata.generation;
    let ready = find_condition(&st.conditions, condition_types::READY);
    let not_ready = |why: String| {
        Failure::new(
            reason::ARTIFACT_FAILED,
            format!("HelmChart '{ns}/{name}' is not ready: {why}"),
        )
    };
    if !current || !ready.is_some_and(Condition::is_true) {
        let why = ready
            .map(|c| c.message.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "latest generation of object has not been reconciled".into());
        return Err(not_ready(why));
    }
    let artifact = st
        .artifact
        .filter(|a| in_store(ctx, a))
        .ok_or_else(|| not_ready("no artifact in storage".into()))?;
    Ok(ChartArtifact {
        object: gyre_source::ObjectRef::new("HelmChart", &ns, &name),
        artifact: to_store_artifact(&artifact),
    })
}

/// Extracts the chart and returns the chart directory inside `dir` and its metadata.
async fn extract_chart(
    ctx: &Context,
    chart: &ChartArtifact,
    dir: &Path,
) -> Result<(PathBuf, gyre_release::Metadata), Failure> {
    let fail = |m: String| Failure::new(reason::ARTIFACT_FAILED, m);
    let store = ctx.store.clone();
    let (obj, a, d) = (
        chart.object.clone(),
        chart.artifact.clone(),
        dir.to_path_buf(),
    );
    tokio::task::spawn_blocking(move || {
        store.extract(&obj, &a, &d, &gyre_source::Limits::default())
    })
    .await
    .map_err(|e| fail(e.to_string()))?
    .map_err(|e| fail(chain(&e)))?;
    let chart_dir = std::fs::read_dir(dir)
        .map_err(|e| fail(format!("reading the extracted chart: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("Chart.yaml").is_file())
        .ok_or_else(|| fail(format!("the artifact of {} holds no chart", chart.object)))?;
    let text = std::fs::read_to_string(chart_dir.join("Chart.yaml"))
        .map_err(|e| fail(format!("reading Chart.yaml: {e}")))?;
    let metadata: gyre_release::Metadata = serde_yaml_ng::from_str::<Value>(&text)
        .map_err(|e| e.to_string())
        .and_then(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
        .map_err(|e| fail(format!("loading Chart.yaml of {}: {e}", chart.object)))?;
    Ok((chart_dir, metadata))
}

/// Loads the chart and the values, then runs the atomic release (install, upgrade,
/// remediation) until the release settles.
async fn release(
    ctx: &Context,
    api: &Api<HelmRelease>,
    hr: &HelmRelease,
    chart: &ChartArtifact,
    status: &mut HelmReleaseStatus,
    progressed: &mut bool,
) -> Result<atomic::Settled, Failure> {
    let name = hr.release_name();
    let user_values = values::collect(&ctx.client, hr)
        .await
        .map_err(|m| Failure::new(reason::INIT_FAILED, m))?;
    let config_digest = values::digest(&user_values);

    let tmp = tempfile::Builder::new()
        .prefix("gyre-helm-")
        .tempdir()
        .map_err(|e| Failure::new(reason::ARTIFACT_FAILED, format!("temporary directory: {e}")))?;
    let (chart_dir, mut metadata) = extract_chart(ctx, chart, tmp.path()).await?;
    let oci_digest = oci_chart::mutate(chart, &chart_dir, &mut metadata)?;
    let target = client::resolve(ctx, hr)
        .await
        .map_err(|m| Failure::new(reason::REST_CLIENT_ERROR, m))?;

    // A new release name, namespace, storage namespace or chart name makes a new
    // release: the old one is uninstalled first, or the install would find its objects.
    if let Some(why) = target_changed(hr, status, &metadata.name) {
        uninstall_old_target(ctx, &target, hr, status, why).await?;
        return Ok(atomic::Settled::Retry);
    }
    let storage = SecretStorage::new(target.client.clone(), &hr.storage_namespace());
    status.storage_namespace = Some(storage.namespace().to_string());

    // Flux resets the failure counters when what the last attempt was made from changed:
    // the spec (generation), the chart version or the values.
    if must_reset_failures(hr, status, &metadata.version, &config_digest) {
        status.failures = None;
        status.install_failures = None;
        status.upgrade_failures = None;
    }
    status.last_attempted_generation = hr.metadata.generation;
    // For an OCIRepository chart, the version carrying the digest, as Flux records it.
    status.last_attempted_revision = Some(if oci_digest.is_some() {
        metadata.version.clone()
    } else {
        chart.artifact.revision.clone()
    });
    status.last_attempted_revision_digest = oci_digest;
    status.last_attempted_config_digest = Some(config_digest.clone());

    let force = take_request(
        hr,
        meta::annotations::RECONCILE_FORCE_AT,
        &mut status.last_handled_force_at,
    );
    let req = atomic::Request {
        ctx,
        hr,
        target,
        storage,
        name,
        namespace: hr.release_namespace(),
        chart_root: tmp.path().to_path_buf(),
        chart_dir,
        metadata,
        values: user_values,
        config_digest,
        progressed: std::sync::atomic::AtomicBool::new(false),
    };
    let settled = atomic::run(&req, api, status, force).await;
    *progressed = req.progressed.load(std::sync::atomic::Ordering::Relaxed);
    settled
}

/// Why the release the status records is not the one the spec makes (Flux's
/// `ReleaseTargetChanged`), if it is not.
fn target_changed(
    hr: &HelmRelease,
    status: &HelmReleaseStatus,
    chart: &str,
) -> Option<&'static str> {
    let recorded = status.latest()?;
    let storage_ns = status.storage_namespace.as_deref()?;
    if storage_ns != hr.storage_namespace() {
        Some("storage namespace changed")
    } else if recorded.namespace != hr.release_namespace() {
        Some("release namespace changed")
    } else if recorded.name != hr.release_name() {
        Some("release name changed")
    } else if recorded.chart_name != chart {
        Some("chart name changed")
    } else {
        None
    }
}

/// Uninstalls the release the status records (its storage namespace, name and
/// namespace), then forgets it: history, failure counters, storage namespace.
async fn uninstall_old_target(
    ctx: &Context,
    target: &client::Target,
    hr: &HelmRelease,
    status: &mut HelmReleaseStatus,
    why: &str,
) -> Result<(), Failure> {
    let Some(old) = status.latest().cloned() else {
        return Ok(());
    };
    let storage_ns = status.storage_namespace.clone().unwrap_or_default();
    tracing::info!(release = %old.full_release_name(), why, "release target changed: uninstalling the old release");
    let storage = SecretStorage::new(target.client.clone(), &storage_ns);
    uninstall::uninstall(&target.applier, hr, &storage, &old.name, &old.namespace)
        .await
        .map_err(|f| {
            Failure::new(
                reason::UNINSTALL_FAILED,
                format!(
                    "Helm uninstall failed for release {} with chart {} ({why}): {}",
                    old.full_release_name(),
                    old.versioned_chart_name(),
                    f.message
                ),
            )
        })?;
    ctx.events
        .publish(
            hr,
            Severity::Normal,
            reason::UNINSTALL_SUCCEEDED,
            &format!(
                "Helm uninstall succeeded for release {} with chart {} ({why})",
                old.full_release_name(),
                old.versioned_chart_name()
            ),
        )
        .await;
    status.history = None;
    status.failures = None;
    status.install_failures = None;
    status.upgrade_failures = None;
    status.storage_namespace = None;
    Ok(())
}

/// Whether the failure counters start again (Flux's `MustResetFailures`): the generation,
/// the chart version or the values differ from the last attempt's, or a
/// `reconcile.fluxcd.io/resetAt` request is new.
fn must_reset_failures(
    hr: &HelmRelease,
    status: &mut HelmReleaseStatus,
    chart_version: &str,
    config_digest: &str,
) -> bool {
    let reset = take_request(
        hr,
        meta::annotations::RECONCILE_RESET_AT,
        &mut status.last_handled_reset_at,
    );
    reset
        || status.last_attempted_generation != hr.metadata.generation
        || status.last_attempted_revision.as_deref() != Some(chart_version)
        || status
            .last_attempted_config_digest
            .as_deref()
            .is_some_and(|d| d != config_digest)
}

/// Whether the request annotation `annotation` (`resetAt`, `forceAt`) asks for something
/// not handled yet: `flux reconcile hr --reset|--force` sets it and `requestedAt` to the
/// same token. Records the token in `last_handled`.
fn take_request(hr: &HelmRelease, annotation: &str, last_handled: &mut Option<String>) -> bool {
    let annotations = hr.metadata.annotations.clone().unwrap_or_default();
    let token = annotations
        .get(annotation)
        .filter(|t| annotations.get(meta::annotations::RECONCILE_REQUESTED_AT) == Some(*t))
        .filter(|t| last_handled.as_ref() != Some(*t))
        .cloned();
    match token {
        Some(t) => {
            *last_handled = Some(t);
            true
        }
        None => false,
    }
}

async fn apply(api: &Api<HelmRelease>, hr: Arc<HelmRelease>, ctx: &Context) -> Result<Action> {
    if hr.spec.suspended() {
        let conditions = hr
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default();
        status::record(&ctx.metrics, hr.as_ref(), &conditions, true);
        return Ok(Action::await_change());
    }
    let generation = hr.metadata.generation;
    let original = hr.status.clone().unwrap_or_default();
    let mut status = original.clone();
    let before = find_condition(&status.conditions, condition_types::READY).cloned();
    if let Some(at) = meta::requested_at(&hr.metadata) {
        status.last_handled_reconcile_at = Some(at.to_string());
    }
    status.helm_chart = chart_object(hr.as_ref())
        .filter(|_| hr.spec.chart.is_some())
        .map(|(ns, name)| format!("{ns}/{name}"));

    let mut progressed = false;
    let outcome = async {
        crate::dependencies::check(ctx, hr.as_ref(), |_, _| true)
            .await
            .map_err(|m| Failure::new(meta::reasons::DEPENDENCY_NOT_READY, m))?;
        let chart = chart_artifact(ctx, &hr).await?;
        release(ctx, api, &hr, &chart, &mut status, &mut progressed).await
    }
    .await;

    // Helm tests of the settled release, when enabled and not run yet for it.
    let tests = match &outcome {
        Ok(atomic::Settled::InSync) => test::for_settled(ctx, &hr, &mut status).await,
        _ => None,
    };

    let what = status::describe(hr.as_ref());
    let mut event = None;
    let requeue = match outcome {
        Ok(atomic::Settled::InSync) => {
            let ready = find_condition(&status.conditions, condition_types::READY);
            if ready.is_some_and(Condition::is_true) {
                ctx.backoff.succeeded(&what);
            }
            hr.spec.interval.as_std()
        }
        Ok(atomic::Settled::Retry) => {
            // A remediation ran and retries remain: the next attempt comes soon.
            let message = find_condition(&status.conditions, condition_types::READY)
                .map(|c| c.message.clone())
                .unwrap_or_default();
            set_condition(
                &mut status.conditions,
                Condition::new(
                    condition_types::RECONCILING,
                    true,
                    meta::reasons::PROGRESSING_WITH_RETRY,
                    message,
                )
                .with_observed_generation(generation),
            );
            ctx.backoff.failed(&what, hr.spec.interval.as_std())
        }
        Ok(atomic::Settled::Stalled) => hr.spec.interval.as_std(),
        Ok(atomic::Settled::Drifting) => ctx.backoff.failed(&what, hr.spec.interval.as_std()),
        Err(failure) => {
            let conditions = &mut status.conditions;
            let released_failure = matches!(
                failure.reason,
                reason::INSTALL_FAILED | reason::UPGRADE_FAILED
            );
            if released_failure {
                set_condition(
                    conditions,
                    Condition::new(
                        condition_types::RELEASED,
                        false,
                        failure.reason,
                        failure.message.clone(),
                    )
                    .with_observed_generation(generation),
                );
            }
            let requeue = if failure.stalled {
                meta::mark_stalled(
                    conditions,
                    generation,
                    failure.reason,
                    failure.message.clone(),
                );
                hr.spec.interval.as_std()
            } else {
                meta::mark_failed_with_retry(
                    conditions,
                    generation,
                    failure.reason,
                    failure.message.clone(),
                );
                if failure.reason == reason::ARTIFACT_FAILED {
                    Duration::from_secs(5).min(hr.spec.interval.as_std())
                } else if failure.reason == meta::reasons::DEPENDENCY_NOT_READY {
                    ctx.options.requeue_dependency
                } else {
                    ctx.backoff.failed(&what, hr.spec.interval.as_std())
                }
            };
            let repeated = before
                .as_ref()
                .is_some_and(|c| !c.is_true() && c.message == failure.message);
            if released_failure && !repeated {
                // Nothing was stored: counted as a failure, not against the retries.
                status.failures = Some(status.failures.unwrap_or(0) + 1);
            }
            if !repeated {
                let severity = if [reason::ARTIFACT_FAILED, meta::reasons::DEPENDENCY_NOT_READY]
                    .contains(&failure.reason)
                {
                    Severity::Normal
                } else {
                    Severity::Warning
                };
                event = Some((severity, failure.reason, failure.message.clone()));
            }
            tracing::info!(object = %what, reason = failure.reason, error = %failure.message, "reconcile failed");
            requeue
        }
    };
    if let Some(t) = &tests {
        test::record(&mut status, generation, &hr, t);
    }
    status.observed_generation = generation;
    // Flux records the post-renderers of a successful reconciliation (none: no digest).
    if find_condition(&status.conditions, condition_types::READY).is_some_and(Condition::is_true) {
        status.observed_post_renderers_digest = post_render::digest(&hr.spec);
    }
    // A status in progress was written: the final one replaces it whatever it is.
    let baseline = if progressed {
        HelmReleaseStatus::default()
    } else {
        original
    };
    status::finish(
        ctx,
        api,
        hr.as_ref(),
        &baseline,
        &status,
        &status.conditions,
        event,
    )
    .await?;
    if let Some((severity, reason, message)) = tests.and_then(|t| t.event) {
        ctx.events
            .publish(hr.as_ref(), severity, reason, &message)
            .await;
    }
    Ok(Action::requeue(requeue))
}

/// Deletion: Helm's uninstall ([`uninstall::uninstall`]: the release's objects are
/// deleted, then the release records, or with `uninstall.keepHistory` the newest is
/// marked `uninstalled`) — and the generated HelmChart goes. A suspended HelmRelease is
/// let go without uninstalling, as Flux does.
async fn cleanup(hr: Arc<HelmRelease>, ctx: &Context) -> Result<Action> {
    let own_ns = hr.namespace().unwrap_or_default();
    ctx.metrics.forget("HelmRelease", &own_ns, &hr.name_any());
    if hr.spec.suspended() {
        return Ok(Action::await_change());
    }
    let what = status::describe(hr.as_ref());
    let fail = |m: String| Error::Finalizer {
        object: what.clone(),
        message: m,
    };
    let name = hr.release_name();
    let target = client::resolve(ctx, &hr).await.map_err(&fail)?;
    let storage = SecretStorage::new(target.client.clone(), &hr.storage_namespace());
    uninstall::uninstall(
        &target.applier,
        &hr,
        &storage,
        &name,
        &hr.release_namespace(),
    )
    .await
    .map_err(|f| fail(format!("uninstalling release {name}: {}", f.message)))?;
    if hr.spec.chart.is_some()
        && let Some((ns, chart)) = chart_object(hr.as_ref())
    {
        let api: Api<HelmChart> = Api::namespaced(ctx.client.clone(), &ns);
        match api.delete(&chart, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(fail(format!("deleting HelmChart '{ns}/{chart}': {e}"))),
        }
    }
    ctx.events
        .publish(
            hr.as_ref(),
            Severity::Normal,
            reason::UNINSTALL_SUCCEEDED,
            &format!(
                "Helm uninstall succeeded for release {}/{name}",
                hr.release_namespace()
            ),
        )
        .await;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hr(annotations: &str) -> HelmRelease {
        serde_yaml_ng::from_str(&format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n\
             metadata: {{name: podinfo, namespace: flux-system, generation: 2, annotations: {{{annotations}}}}}\n\
             spec: {{interval: 10m, chartRef: {{kind: HelmChart, name: podinfo}}}}\n"
        ))
        .unwrap()
    }

    #[test]
    fn failure_counters_reset_when_generation_chart_or_values_change_or_a_reset_is_requested() {
        let mut st = HelmReleaseStatus {
            last_attempted_generation: Some(2),
            last_attempted_revision: Some("6.5.4".into()),
            last_attempted_config_digest: Some("sha256:a".into()),
            ..Default::default()
        };
        let plain = hr("");
        assert!(!must_reset_failures(&plain, &mut st, "6.5.4", "sha256:a"));
        assert!(must_reset_failures(&plain, &mut st, "6.5.3", "sha256:a"));
        assert!(must_reset_failures(&plain, &mut st, "6.5.4", "sha256:b"));
        st.last_attempted_generation = Some(1);
        assert!(must_reset_failures(&plain, &mut st, "6.5.4", "sha256:a"));
        st.last_attempted_generation = Some(2);
        // `flux reconcile hr --reset` sets both annotations to one token; handled once.
        let reset = hr("reconcile.fluxcd.io/requestedAt: t1, reconcile.fluxcd.io/resetAt: t1");
        assert!(must_reset_failures(&reset, &mut st, "6.5.4", "sha256:a"));
        assert_eq!(st.last_handled_reset_at.as_deref(), Some("t1"));
        assert!(!must_reset_failures(&reset, &mut st, "6.5.4", "sha256:a"));
        let stale = hr("reconcile.fluxcd.io/requestedAt: t2, reconcile.fluxcd.io/resetAt: t1");
        assert!(!must_reset_failures(&stale, &mut st, "6.5.4", "sha256:a"));
    }

    #[test]
    fn a_new_release_name_namespace_storage_or_chart_is_a_target_change() {
        let h = hr("");
        let snap = |name: &str, ns: &str, chart: &str| gyre_api::helm::Snapshot {
            api_version: None,
            digest: String::new(),
            name: name.into(),
            namespace: ns.into(),
            version: 1,
            status: "deployed".into(),
            chart_name: chart.into(),
            chart_version: "1.0.0".into(),
            config_digest: String::new(),
            first_deployed: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
            last_deployed: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
            deleted: None,
            test_hooks: None,
            oci_digest: None,
        };
        let st = |s: gyre_api::helm::Snapshot, storage: &str| HelmReleaseStatus {
            history: Some(vec![s]),
            storage_namespace: Some(storage.into()),
            ..Default::default()
        };
        let same = st(snap("podinfo", "flux-system", "podinfo"), "flux-system");
        assert_eq!(target_changed(&h, &same, "podinfo"), None);
        assert_eq!(
            target_changed(&h, &same, "other"),
            Some("chart name changed")
        );
        let moved = st(snap("podinfo", "apps", "podinfo"), "flux-system");
        assert_eq!(
            target_changed(&h, &moved, "podinfo"),
            Some("release namespace changed")
        );
        let renamed = st(snap("old", "flux-system", "podinfo"), "flux-system");
        assert_eq!(
            target_changed(&h, &renamed, "podinfo"),
            Some("release name changed")
        );
        let stored = st(snap("podinfo", "flux-system", "podinfo"), "elsewhere");
        assert_eq!(
            target_changed(&h, &stored, "podinfo"),
            Some("storage namespace changed")
        );
        assert_eq!(
            target_changed(&h, &HelmReleaseStatus::default(), "podinfo"),
            None
        );
    }

    #[test]
    fn a_force_request_is_taken_once() {
        let force = hr("reconcile.fluxcd.io/requestedAt: f1, reconcile.fluxcd.io/forceAt: f1");
        let mut handled = None;
        assert!(take_request(
            &force,
            meta::annotations::RECONCILE_FORCE_AT,
            &mut handled
        ));
        assert_eq!(handled.as_deref(), Some("f1"));
        assert!(!take_request(
            &force,
            meta::annotations::RECONCILE_FORCE_AT,
            &mut handled
        ));
    }
}
