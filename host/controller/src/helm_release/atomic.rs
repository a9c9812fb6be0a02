//! The atomic release, as helm-controller runs it: determine the release's state, pick
//! the next action, run it, and again — until the release is in sync, an action kind
//! would run a second time, or a remediation ran (then the reconcile ends, and is
//! requeued soon while retries remain). The Ready condition is summarized from
//! `Released` and `Remediated` after each action.

use std::path::PathBuf;

use gyre_api::helm::{HelmRelease, HelmReleaseStatus, Snapshot};
use gyre_api::meta::{
    self, Condition, condition_types, find_condition, remove_condition, set_condition,
};
use gyre_release::{Release, SecretStorage, Status, Values};
use kube::Api;

use super::plan::{self, Kind, Next, Stop};
use super::state::{self, Desired, ReleaseState};
use super::{Failure, install, reason, rollback, uninstall, unlock, upgrade};
use crate::context::Context;
use crate::events::Severity;
use crate::source::chain;

/// Everything an action needs: the HelmRelease, its storage, the loaded chart and the
/// merged values.
pub struct Request<'a> {
    pub ctx: &'a Context,
    pub hr: &'a HelmRelease,
    /// The release's connection (objects and records), see [`super::client`].
    pub target: super::client::Target,
    pub storage: SecretStorage,
    /// The release name.
    pub name: String,
    /// The release namespace (where its objects go).
    pub namespace: String,
    /// The directory the chart was extracted into, and the chart's own directory in it.
    pub chart_root: PathBuf,
    pub chart_dir: PathBuf,
    /// `Chart.yaml`.
    pub metadata: gyre_release::Metadata,
    /// The merged values and their digest.
    pub values: Values,
    pub config_digest: String,
    /// Whether a status in progress was written (the final status must then be written
    /// even if it equals the one the reconcile started from).
    pub progressed: std::sync::atomic::AtomicBool,
}

impl Request<'_> {
    /// A storage error as a failure that changed nothing.
    pub fn storage_failure(&self, e: &gyre_release::Error) -> Failure {
        Failure::new(
            reason::GET_LAST_RELEASE_FAILED,
            format!(
                "release {} in namespace {}: {}",
                self.name,
                self.storage.namespace(),
                chain(e)
            ),
        )
    }

    /// Rewrites a stored revision.
    pub async fn record(&self, rel: &Release) -> Result<(), Failure> {
        self.storage
            .update(rel)
            .await
            .map_err(|e| self.storage_failure(&e))
    }

    /// Marks every deployed revision but `version` superseded (Helm does so after an
    /// upgrade or a rollback succeeded).
    pub async fn supersede_others(&self, version: i32) -> Result<(), Failure> {
        let deployed = self
            .storage
            .deployed_all(&self.name)
            .await
            .map_err(|e| self.storage_failure(&e))?;
        for mut old in deployed.into_iter().filter(|r| r.version != version) {
            old.info.status = Status::Superseded;
            self.record(&old).await?;
        }
        Ok(())
    }

    /// Helm's `maxHistory`.
    pub async fn prune_history(&self) -> Result<(), Failure> {
        let max = usize::try_from(self.hr.spec.max_history().max(0)).unwrap_or(0);
        self.storage
            .prune_history(&self.name, max)
            .await
            .map(|_| ())
            .map_err(|e| self.storage_failure(&e))
    }

    /// The status history, from the storage as it is now.
    pub async fn history(&self) -> Result<Vec<Snapshot>, Failure> {
        let releases = self
            .storage
            .history(&self.name)
            .await
            .map_err(|e| self.storage_failure(&e))?;
        Ok(state::history(&releases))
    }

    /// Publishes an event on the HelmRelease.
    pub async fn event(&self, severity: Severity, reason: &str, message: &str) {
        self.ctx
            .events
            .publish(self.hr, severity, reason, message)
            .await;
    }
}

/// How a reconcile's release actions ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Nothing (more) to do: the release is in sync.
    InSync,
    /// A remediation ran and retries remain: reconcile again soon.
    Retry,
    /// Retries are used up (or nothing can be rolled back to): `Stalled=True`.
    Stalled,
    /// In sync with its storage, but drift could not be checked or corrected; the
    /// conditions say so and the reconcile is retried with backoff.
    Drifting,
}

/// Runs actions until the release settles; `status` records each action. `force`
/// (`reconcile.fluxcd.io/forceAt`) releases even when in sync or out of retries.
///
/// # Errors
/// A [`Failure`] when an action failed without changing the storage (reading it, a
/// render): the caller retries with backoff.
pub async fn run(
    req: &Request<'_>,
    api: &Api<HelmRelease>,
    status: &mut HelmReleaseStatus,
    mut force: bool,
) -> Result<Settled, Failure> {
    let generation = req.hr.metadata.generation;
    let desired = Desired {
        chart_name: &req.metadata.name,
        chart_version: &req.metadata.version,
        config_digest: &req.config_digest,
        post_renderers_changed: super::post_render::changed(req.hr, status),
    };
    let mut done: Vec<Kind> = Vec::new();
    loop {
        let releases = req
            .storage
            .history(&req.name)
            .await
            .map_err(|e| req.storage_failure(&e))?;
        let history = status.history.clone().unwrap_or_default();
        let current = state::determine(&releases, &history, &desired);
        tracing::debug!(release = %req.name, state = ?current, "release state");
        // A force request is taken by the first decision, as Flux's is.
        let decided = plan::next(&current, req.hr, status, force);
        force = false;
        let next = match decided {
            Ok(next) => next,
            Err(Stop::RetriesExceeded { action, attempts }) => {
                stall(
                    status,
                    generation,
                    reason::RETRIES_EXCEEDED,
                    format!("Failed to {action} after {attempts} attempt(s)"),
                );
                return Ok(Settled::Stalled);
            }
            Err(Stop::MissingRollbackTarget(why)) => {
                stall(
                    status,
                    generation,
                    reason::MISSING_ROLLBACK_TARGET,
                    format!("Failed to perform remediation: {why}"),
                );
                return Ok(Settled::Stalled);
            }
            Err(Stop::Unknown(why)) => {
                return Err(Failure::new(
                    reason::STATE_ERROR,
                    format!("Could not determine release state: {why}"),
                ));
            }
        };
        let Some(next) = next else {
            // In sync: compare the cluster with the release (drift.rs). A failed
            // comparison or correction has marked the conditions; it is retried.
            if let Some(latest) = releases.last()
                && let Err(failed) =
                    super::drift::reconcile(req.ctx, &req.target.applier, req.hr, latest).await
            {
                status.history = Some(state::history(&releases));
                failed.mark(&mut status.conditions, generation);
                return Ok(Settled::Drifting);
            }
            in_sync(status, generation, &releases);
            return Ok(Settled::InSync);
        };
        if done.contains(&next.kind()) {
            // One action of a kind per reconcile: come back for the rest.
            return Ok(Settled::Retry);
        }
        if matches!(current, ReleaseState::Unmanaged(_)) {
            tracing::info!(release = %req.name, state = ?current, "release not managed by the object; upgrading");
        }

        // Show the action in progress: Helm actions can take their whole timeout. An
        // action runs, so the object is not stalled (a forced release, say).
        remove_condition(&mut status.conditions, condition_types::STALLED);
        let timeout = super::deploy::Settings::of(req.hr, next.name()).timeout;
        let progress = format!(
            "Running '{}' action with timeout of {}",
            next.name(),
            humantime_secs(timeout)
        );
        set_condition(
            &mut status.conditions,
            Condition::new(
                condition_types::RECONCILING,
                true,
                meta::reasons::PROGRESSING,
                progress.clone(),
            )
            .with_observed_generation(generation),
        );
        if next.kind() == Kind::Release {
            set_condition(
                &mut status.conditions,
                Condition::new(
                    condition_types::READY,
                    meta::ConditionStatus::Unknown,
                    meta::reasons::PROGRESSING,
                    progress,
                )
                .with_observed_generation(generation),
            );
        }
        patch_progress(req, api, status).await;

        match &next {
            Next::Unlock => unlock::run(req, status).await?,
            Next::Install => install::run(req, status).await?,
            Next::Upgrade => upgrade::run(req, status).await?,
            Next::Rollback(to) => rollback::run(req, status, *to).await?,
            Next::Uninstall => uninstall::remediate(req, status).await?,
        }
        summarize(&mut status.conditions, generation);

        if next.kind() == Kind::Remediate {
            let remediation = plan::active_remediation(req.hr, status);
            match remediation {
                Some(r) if r.exhausted() => {
                    stall(
                        status,
                        generation,
                        reason::RETRIES_EXCEEDED,
                        format!("Failed to {} after {} attempt(s)", r.action, r.failures),
                    );
                    return Ok(Settled::Stalled);
                }
                _ => return Ok(Settled::Retry),
            }
        }
        done.push(next.kind());
        patch_progress(req, api, status).await;
    }
}

/// `1m0s`-style durations as Go prints them, for Flux's messages.
fn humantime_secs(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

/// Writes the status in progress; a failure only delays what the user sees.
async fn patch_progress(req: &Request<'_>, api: &Api<HelmRelease>, status: &HelmReleaseStatus) {
    req.progressed
        .store(true, std::sync::atomic::Ordering::Relaxed);
    if let Err(e) = crate::status::patch(api, req.hr, status).await {
        tracing::debug!(error = %e, "writing the progress status failed");
    }
}

/// The release is in sync: a leftover `Remediated` (the rollback target matched the new
/// desired state) becomes `Released`, and Ready is summarized.
fn in_sync(status: &mut HelmReleaseStatus, generation: Option<i64>, releases: &[Release]) {
    status.history = Some(state::history(releases));
    let conditions = &mut status.conditions;
    if find_condition(conditions, condition_types::REMEDIATED).is_some_and(Condition::is_true)
        && let Some(latest) = releases.last()
    {
        remove_condition(conditions, condition_types::REMEDIATED);
        set_condition(
            conditions,
            Condition::new(
                condition_types::RELEASED,
                true,
                reason::UPGRADE_SUCCEEDED,
                format!(
                    "Helm upgrade succeeded for release {} with chart {}@{}",
                    state::full_name(latest),
                    latest.chart.metadata.name,
                    latest.chart.metadata.version
                ),
            )
            .with_observed_generation(generation),
        );
    }
    remove_condition(conditions, condition_types::RECONCILING);
    if find_condition(conditions, condition_types::RELEASED).is_none()
        && let Some(latest) = releases.last()
    {
        // A release Gyre did not make but that matches (adopted as is).
        set_condition(
            conditions,
            Condition::new(
                condition_types::RELEASED,
                true,
                reason::UPGRADE_SUCCEEDED,
                format!(
                    "Helm release {} with chart {}@{} is up to date",
                    state::full_name(latest),
                    latest.chart.metadata.name,
                    latest.chart.metadata.version
                ),
            )
            .with_observed_generation(generation),
        );
    }
    summarize(conditions, generation);
}

/// Marks `Stalled=True`; Ready keeps the action's outcome unless it still says True or
/// in progress.
fn stall(status: &mut HelmReleaseStatus, generation: Option<i64>, why: &str, message: String) {
    let conditions = &mut status.conditions;
    remove_condition(conditions, condition_types::RECONCILING);
    set_condition(
        conditions,
        Condition::new(condition_types::STALLED, true, why, message.clone())
            .with_observed_generation(generation),
    );
    let ready = find_condition(conditions, condition_types::READY);
    if ready.is_none_or(|c| c.status != meta::ConditionStatus::False) {
        set_condition(
            conditions,
            Condition::new(condition_types::READY, false, why, message)
                .with_observed_generation(generation),
        );
    }
}

/// Flux's summary: `Remediated` goes once a later release succeeded; Ready then takes
/// the newest of `Remediated` and `Released` (Remediated first on a tie) — True only for
/// a successful release, since any remediation means the desired state failed.
pub fn summarize(conditions: &mut Vec<Condition>, generation: Option<i64>) {
    let released = find_condition(conditions, condition_types::RELEASED).cloned();
    let remediated = find_condition(conditions, condition_types::REMEDIATED).cloned();
    if let (Some(rel), Some(rem)) = (&released, &remediated)
        && rel.is_true()
        && rel.observed_generation >= rem.observed_generation
    {
        remove_condition(conditions, condition_types::REMEDIATED);
    }
    let remediated = find_condition(conditions, condition_types::REMEDIATED).cloned();
    let top = match (released, remediated) {
        (Some(rel), Some(rem)) => {
            if rel.observed_generation > rem.observed_generation {
                rel
            } else {
                rem
            }
        }
        (Some(c), None) | (None, Some(c)) => c,
        (None, None) => return,
    };
    let ok = top.type_ == condition_types::RELEASED && top.is_true();
    if ok {
        remove_condition(conditions, condition_types::STALLED);
    }
    set_condition(
        conditions,
        Condition::new(condition_types::READY, ok, top.reason, top.message)
            .with_observed_generation(generation),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(t: &str, ok: bool, reason: &str, generation: i64) -> Condition {
        Condition::new(t, ok, reason, format!("{reason} message"))
            .with_observed_generation(Some(generation))
    }

    fn ready(conditions: &[Condition]) -> (bool, String) {
        let r = find_condition(conditions, condition_types::READY).unwrap();
        (r.is_true(), r.reason.clone())
    }

    #[test]
    fn a_rollback_makes_ready_false_with_the_remediation_reason() {
        let mut c = vec![
            cond(condition_types::RELEASED, false, "UpgradeFailed", 2),
            cond(condition_types::REMEDIATED, true, "RollbackSucceeded", 2),
        ];
        summarize(&mut c, Some(2));
        assert_eq!(ready(&c), (false, "RollbackSucceeded".into()));
    }

    #[test]
    fn a_later_successful_release_clears_the_remediation() {
        let mut c = vec![
            cond(condition_types::REMEDIATED, true, "RollbackSucceeded", 2),
            cond(condition_types::STALLED, true, "RetriesExceeded", 2),
        ];
        set_condition(
            &mut c,
            cond(condition_types::RELEASED, true, "UpgradeSucceeded", 3),
        );
        summarize(&mut c, Some(3));
        assert_eq!(ready(&c), (true, "UpgradeSucceeded".into()));
        assert!(find_condition(&c, condition_types::REMEDIATED).is_none());
        assert!(find_condition(&c, condition_types::STALLED).is_none());
    }

    #[test]
    fn a_failed_install_makes_ready_false_with_install_failed() {
        let mut c = vec![cond(condition_types::RELEASED, false, "InstallFailed", 1)];
        summarize(&mut c, Some(1));
        assert_eq!(ready(&c), (false, "InstallFailed".into()));
    }

    #[test]
    fn stalling_keeps_a_failed_ready_and_replaces_a_true_one() {
        let mut st = HelmReleaseStatus {
            conditions: vec![cond(condition_types::READY, false, "RollbackSucceeded", 1)],
            ..Default::default()
        };
        stall(
            &mut st,
            Some(1),
            "RetriesExceeded",
            "Failed to upgrade after 1 attempt(s)".into(),
        );
        assert_eq!(ready(&st.conditions), (false, "RollbackSucceeded".into()));
        let stalled = find_condition(&st.conditions, condition_types::STALLED).unwrap();
        assert_eq!(stalled.message, "Failed to upgrade after 1 attempt(s)");
        let mut st = HelmReleaseStatus {
            conditions: vec![cond(condition_types::READY, true, "UpgradeSucceeded", 1)],
            ..Default::default()
        };
        stall(&mut st, Some(1), "RetriesExceeded", "x".into());
        assert_eq!(ready(&st.conditions), (false, "RetriesExceeded".into()));
    }

    #[test]
    fn go_style_durations() {
        assert_eq!(humantime_secs(std::time::Duration::from_secs(60)), "1m0s");
        assert_eq!(humantime_secs(std::time::Duration::from_secs(300)), "5m0s");
        assert_eq!(humantime_secs(std::time::Duration::from_secs(30)), "30s");
    }
}
