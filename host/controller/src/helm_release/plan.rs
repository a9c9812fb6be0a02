//! The next Helm action for a release state, with remediation: helm-controller's
//! `actionForState`. Pure: the state, the spec and the status in, an action (or a reason
//! to stop) out.
//!
//! The remediation in force is the one of the last release action
//! (`status.lastAttemptedReleaseAction`): an install is remediated by an uninstall, an
//! upgrade by a rollback (default) or an uninstall. `retries` counts the attempts after
//! the first; a failure is remediated while retries remain, and the last one too when
//! `remediateLastFailure` is set (default for upgrades: `retries > 0`; for installs:
//! false).

use gyre_api::helm::{HelmRelease, HelmReleaseStatus};

use super::state::{self, ReleaseState};

/// An action the reconciler runs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Mark the pending newest revision failed.
    Unlock,
    /// Install the chart.
    Install,
    /// Upgrade the release to the chart and values.
    Upgrade,
    /// Remediate a failed release by rolling back to this revision.
    Rollback(i64),
    /// Remediate a failed release by uninstalling it.
    Uninstall,
}

impl Next {
    /// The action's name, as Flux's messages spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Next::Unlock => "unlock",
            Next::Install => "install",
            Next::Upgrade => "upgrade",
            Next::Rollback(_) => "rollback",
            Next::Uninstall => "uninstall",
        }
    }

    /// The kind of action: at most one of each kind runs per reconcile, and a
    /// remediation ends it (Flux's clean release strategy).
    pub fn kind(&self) -> Kind {
        match self {
            Next::Unlock => Kind::Unlock,
            Next::Install | Next::Upgrade => Kind::Release,
            Next::Rollback(_) | Next::Uninstall => Kind::Remediate,
        }
    }
}

/// Flux's reconciler types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Unlocking a pending release.
    Unlock,
    /// Install or upgrade.
    Release,
    /// Rollback or uninstall remediation.
    Remediate,
}

/// Why no action runs although the release is not in sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The retries of the active remediation are used up.
    RetriesExceeded {
        /// `install` or `upgrade`.
        action: String,
        /// Failures counted.
        attempts: i64,
    },
    /// A rollback is due but there is nothing to roll back to.
    MissingRollbackTarget(String),
    /// The state cannot be acted on.
    Unknown(String),
}

/// How a failed release is remediated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Roll back to the previous successful revision.
    Rollback,
    /// Uninstall the release.
    Uninstall,
}

/// The remediation in force, with the failures it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remediation {
    /// `install` or `upgrade`.
    pub action: &'static str,
    /// Retries allowed; negative is unlimited.
    pub retries: i64,
    /// Whether the failure that used up the retries is remediated too.
    pub remediate_last_failure: bool,
    /// What remediating does.
    pub strategy: Strategy,
    /// Failures counted against `retries`.
    pub failures: i64,
}

impl Remediation {
    /// Whether the failures have used up the retries.
    pub fn exhausted(&self) -> bool {
        self.retries >= 0 && self.failures > self.retries
    }
}

/// The remediation of the last release action, if there was one.
pub fn active_remediation(hr: &HelmRelease, status: &HelmReleaseStatus) -> Option<Remediation> {
    match status.last_attempted_release_action.as_deref() {
        Some("install") => {
            let r = hr.spec.install.clone().unwrap_or_default().remediation();
            Some(Remediation {
                action: "install",
                retries: r.retries(),
                remediate_last_failure: r.remediate_last_failure(),
                strategy: Strategy::Uninstall,
                failures: status.install_failures.unwrap_or(0),
            })
        }
        Some("upgrade") => {
            let r = hr.spec.upgrade.clone().unwrap_or_default().remediation();
            Some(Remediation {
                action: "upgrade",
                retries: r.retries(),
                remediate_last_failure: r.remediate_last_failure(),
                strategy: if r.strategy() == "uninstall" {
                    Strategy::Uninstall
                } else {
                    Strategy::Rollback
                },
                failures: status.upgrade_failures.unwrap_or(0),
            })
        }
        _ => None,
    }
}

/// The next action for `state`; `Ok(None)` when the release is in sync. `force`
/// (a `reconcile.fluxcd.io/forceAt` request) upgrades an in-sync or failed release and
/// installs or upgrades when the retries are used up.
///
/// # Errors
/// [`Stop`] when an action is due but must not run.
pub fn next(
    state: &ReleaseState,
    hr: &HelmRelease,
    status: &HelmReleaseStatus,
    force: bool,
) -> Result<Option<Next>, Stop> {
    let exceeded = |action: &str, failures: i64| Stop::RetriesExceeded {
        action: status
            .last_attempted_release_action
            .clone()
            .unwrap_or_else(|| action.to_string()),
        attempts: active_remediation(hr, status).map_or(failures, |r| r.failures),
    };
    match state {
        ReleaseState::InSync if force => Ok(Some(Next::Upgrade)),
        ReleaseState::InSync => Ok(None),
        ReleaseState::Locked(_) => Ok(Some(Next::Unlock)),
        ReleaseState::Absent(_) => {
            let r = hr.spec.install.clone().unwrap_or_default().remediation();
            let failures = status.install_failures.unwrap_or(0);
            if r.retries_exhausted(failures) && !force {
                return Err(exceeded("install", failures));
            }
            Ok(Some(Next::Install))
        }
        ReleaseState::Unmanaged(_) => Ok(Some(Next::Upgrade)),
        ReleaseState::OutOfSync(_) => {
            let r = hr.spec.upgrade.clone().unwrap_or_default().remediation();
            let failures = status.upgrade_failures.unwrap_or(0);
            if r.retries_exhausted(failures) && !force {
                return Err(exceeded("upgrade", failures));
            }
            Ok(Some(Next::Upgrade))
        }
        ReleaseState::Failed => {
            let Some(remediation) = active_remediation(hr, status) else {
                // No release action recorded: an upgrade may fix it.
                return Ok(Some(Next::Upgrade));
            };
            if remediation.failures <= 0 || force {
                // The chart, the values or the spec changed since the failure, or an
                // upgrade is forced.
                return Ok(Some(Next::Upgrade));
            }
            if remediation.exhausted() && !remediation.remediate_last_failure {
                return Err(Stop::RetriesExceeded {
                    action: remediation.action.to_string(),
                    attempts: remediation.failures,
                });
            }
            match remediation.strategy {
                Strategy::Uninstall => Ok(Some(Next::Uninstall)),
                Strategy::Rollback => {
                    let history = status.history.as_deref().unwrap_or_default();
                    match state::previous(history) {
                        Some(prev) => Ok(Some(Next::Rollback(prev.version))),
                        None => Err(Stop::MissingRollbackTarget(
                            "no previous successful release in the history to roll back to".into(),
                        )),
                    }
                }
            }
        }
        ReleaseState::Unknown(why) => Err(Stop::Unknown(why.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gyre_api::helm::Snapshot;

    /// Without a force request.
    fn next(
        state: &ReleaseState,
        hr: &HelmRelease,
        status: &HelmReleaseStatus,
    ) -> Result<Option<Next>, Stop> {
        super::next(state, hr, status, false)
    }

    #[test]
    fn a_force_request_upgrades_in_sync_and_out_of_retries_releases() {
        let h = hr("upgrade: {remediation: {remediateLastFailure: false}}");
        let st = status("upgrade", 0, 1);
        assert_eq!(
            super::next(&ReleaseState::InSync, &h, &st, true),
            Ok(Some(Next::Upgrade))
        );
        assert_eq!(
            super::next(&ReleaseState::Failed, &h, &st, true),
            Ok(Some(Next::Upgrade))
        );
        assert_eq!(
            super::next(&ReleaseState::OutOfSync(String::new()), &h, &st, true),
            Ok(Some(Next::Upgrade))
        );
        assert_eq!(
            super::next(
                &ReleaseState::Absent(String::new()),
                &h,
                &status("install", 1, 0),
                true
            ),
            Ok(Some(Next::Install))
        );
    }

    fn hr(spec: &str) -> HelmRelease {
        serde_yaml_ng::from_str(&format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n\
             metadata: {{name: podinfo, namespace: flux-system}}\n\
             spec: {{interval: 10m, chartRef: {{kind: HelmChart, name: podinfo}}, {spec}}}\n"
        ))
        .unwrap()
    }

    fn snap(v: i64, status: &str) -> Snapshot {
        Snapshot {
            api_version: None,
            digest: String::new(),
            name: "podinfo".into(),
            namespace: "flux-system".into(),
            version: v,
            status: status.into(),
            chart_name: "podinfo".into(),
            chart_version: "6.5.4".into(),
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
        }
    }

    fn status(action: &str, install: i64, upgrade: i64) -> HelmReleaseStatus {
        HelmReleaseStatus {
            last_attempted_release_action: Some(action.into()),
            install_failures: Some(install),
            upgrade_failures: Some(upgrade),
            history: Some(vec![snap(3, "failed"), snap(2, "deployed")]),
            ..Default::default()
        }
    }

    #[test]
    fn a_failed_install_is_uninstalled_while_retries_remain_then_stalls() {
        let h = hr("install: {remediation: {retries: 3}}");
        for failures in 1..=3 {
            assert_eq!(
                next(&ReleaseState::Failed, &h, &status("install", failures, 0)),
                Ok(Some(Next::Uninstall))
            );
            assert_eq!(
                next(
                    &ReleaseState::Absent(String::new()),
                    &h,
                    &status("install", failures, 0)
                ),
                Ok(Some(Next::Install))
            );
        }
        let st = status("install", 4, 0);
        assert_eq!(
            next(&ReleaseState::Failed, &h, &st),
            Err(Stop::RetriesExceeded {
                action: "install".into(),
                attempts: 4
            })
        );
        assert!(next(&ReleaseState::Absent(String::new()), &h, &st).is_err());
    }

    #[test]
    fn remediate_last_failure_rolls_back_a_failed_upgrade_without_retries() {
        let h = hr("upgrade: {remediation: {remediateLastFailure: true}}");
        let st = status("upgrade", 0, 1);
        assert_eq!(
            next(&ReleaseState::Failed, &h, &st),
            Ok(Some(Next::Rollback(2)))
        );
        // After the rollback the release is out of sync, and stays so.
        assert_eq!(
            next(&ReleaseState::OutOfSync(String::new()), &h, &st),
            Err(Stop::RetriesExceeded {
                action: "upgrade".into(),
                attempts: 1
            })
        );
        // Without remediateLastFailure (and no retries) the failure stays.
        let plain = hr("upgrade: {remediation: {retries: 0}}");
        assert!(matches!(
            next(&ReleaseState::Failed, &plain, &st),
            Err(Stop::RetriesExceeded { .. })
        ));
    }

    #[test]
    fn the_uninstall_strategy_and_a_missing_rollback_target() {
        let h = hr("upgrade: {remediation: {retries: 2, strategy: uninstall}}");
        assert_eq!(
            next(&ReleaseState::Failed, &h, &status("upgrade", 0, 1)),
            Ok(Some(Next::Uninstall))
        );
        let h = hr("upgrade: {remediation: {retries: 2}}");
        let mut st = status("upgrade", 0, 1);
        st.history = Some(vec![snap(1, "failed")]);
        assert!(matches!(
            next(&ReleaseState::Failed, &h, &st),
            Err(Stop::MissingRollbackTarget(_))
        ));
    }

    #[test]
    fn a_failure_under_changed_inputs_is_upgraded_and_unmanaged_releases_are_upgraded() {
        let h = hr("upgrade: {remediation: {retries: 2}}");
        assert_eq!(
            next(&ReleaseState::Failed, &h, &status("upgrade", 0, 0)),
            Ok(Some(Next::Upgrade))
        );
        assert_eq!(
            next(
                &ReleaseState::Unmanaged(String::new()),
                &h,
                &status("upgrade", 0, 9)
            ),
            Ok(Some(Next::Upgrade))
        );
        assert_eq!(
            next(
                &ReleaseState::Locked(gyre_release::Status::PendingUpgrade),
                &h,
                &HelmReleaseStatus::default()
            ),
            Ok(Some(Next::Unlock))
        );
        assert_eq!(
            next(&ReleaseState::InSync, &h, &HelmReleaseStatus::default()),
            Ok(None)
        );
    }
}
