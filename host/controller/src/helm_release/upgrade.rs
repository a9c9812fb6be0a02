//! Helm upgrade: the next revision, `pending-upgrade` → `deployed` ("Upgrade complete",
//! every other deployed revision `superseded`) or `failed` (`Upgrade "<name>" failed:
//! …`, the deployed revision left deployed), as helm-controller's upgrade action runs it.

use gyre_api::helm::HelmReleaseStatus;
use gyre_release::Status;

use super::Failure;
use super::atomic::Request;
use super::deploy::{self, Kind};
use super::reason;

const UPGRADE: Kind = Kind {
    action: "upgrade",
    pending: Status::PendingUpgrade,
    pending_description: "Preparing upgrade",
    done_description: "Upgrade complete",
    failed_description: |name, err| format!("Upgrade {name:?} failed: {err}"),
    succeeded_reason: reason::UPGRADE_SUCCEEDED,
    failed_reason: reason::UPGRADE_FAILED,
};

/// Upgrades the release to the chart and values. The new revision replaces the deployed
/// one and, when the newest revision failed, that one's objects too.
///
/// # Errors
/// As [`deploy::release`].
pub async fn run(req: &Request<'_>, status: &mut HelmReleaseStatus) -> Result<(), Failure> {
    let releases = req
        .storage
        .history(&req.name)
        .await
        .map_err(|e| req.storage_failure(&e))?;
    let mut replaced: Vec<gyre_release::Release> = releases
        .iter()
        .filter(|r| r.info.status == Status::Deployed)
        .cloned()
        .collect();
    if let Some(last) = releases.last().filter(|l| l.info.status == Status::Failed) {
        replaced.push(last.clone());
    }
    deploy::release(req, status, &UPGRADE, &replaced).await
}
