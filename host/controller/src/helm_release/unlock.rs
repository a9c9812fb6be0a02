//! Unlocking a release left pending by an interrupted action (a crash mid-release): the
//! pending revision is marked `failed` (`Release unlocked from stale '<status>' state`),
//! as helm-controller's unlock action does, so that the failed-release handling and
//! its remediation take over.

use gyre_api::helm::HelmReleaseStatus;
use gyre_api::meta::{Condition, condition_types, set_condition};
use gyre_release::Status;

use super::Failure;
use super::atomic::Request;
use super::reason;
use super::state::full_name;
use crate::events::Severity;

/// Marks the pending newest revision failed.
///
/// # Errors
/// A [`Failure`] when the storage cannot be read or written.
pub async fn run(req: &Request<'_>, status: &mut HelmReleaseStatus) -> Result<(), Failure> {
    let releases = req
        .storage
        .history(&req.name)
        .await
        .map_err(|e| req.storage_failure(&e))?;
    let Some(mut latest) = releases
        .last()
        .cloned()
        .filter(|r| r.info.status.is_pending())
    else {
        return Ok(());
    };
    let was = latest.info.status.clone();
    latest.info.status = Status::Failed;
    latest.info.description = format!("Release unlocked from stale '{was}' state");
    req.record(&latest).await?;
    status.history = Some(req.history().await?);
    let message = format!(
        "Unlocked Helm release {} with chart {}@{} in {was} state",
        full_name(&latest),
        latest.chart.metadata.name,
        latest.chart.metadata.version
    );
    set_condition(
        &mut status.conditions,
        Condition::new(
            condition_types::RELEASED,
            false,
            reason::PENDING_RELEASE,
            message.clone(),
        )
        .with_observed_generation(req.hr.metadata.generation),
    );
    req.event(Severity::Normal, reason::PENDING_RELEASE, &message)
        .await;
    Ok(())
}
