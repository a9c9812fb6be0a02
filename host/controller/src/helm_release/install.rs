//! Helm install: revision 1 (or the next after an uninstalled one kept in the history),
//! `pending-install` → `deployed` ("Install complete") or `failed`
//! (`Release "<name>" failed: …`), as helm-controller's install action runs it.

use gyre_api::helm::HelmReleaseStatus;
use gyre_release::Status;

use super::Failure;
use super::atomic::Request;
use super::deploy::{self, Kind};
use super::reason;

const INSTALL: Kind = Kind {
    action: "install",
    pending: Status::PendingInstall,
    pending_description: "Initial install underway",
    done_description: "Install complete",
    failed_description: |name, err| format!("Release {name:?} failed: {err}"),
    succeeded_reason: reason::INSTALL_SUCCEEDED,
    failed_reason: reason::INSTALL_FAILED,
};

/// Installs the chart. An install replaces nothing: the release is absent (or was
/// uninstalled, its objects deleted).
///
/// # Errors
/// As [`deploy::release`].
pub async fn run(req: &Request<'_>, status: &mut HelmReleaseStatus) -> Result<(), Failure> {
    deploy::release(req, status, &INSTALL, &[]).await
}
