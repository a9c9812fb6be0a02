//! Helm tests: with `spec.test.enable`, the release's `test` hooks run once the release
//! has settled in sync on a revision whose tests have not run (so after each successful
//! install or upgrade, and once for a release deployed before tests were enabled), as
//! helm-controller's Test action runs `helm test`; the result is the `TestSuccess` condition and the hooks'
//! `last_run` in the stored release (so `helm status` shows the test suite).
//!
//! Selection follows Helm's name filters as Flux builds them from `spec.test.filters`:
//! excluded names never run; when any name is included, only included names run. Each
//! hook is bounded by `spec.test.timeout` (else `spec.timeout`). Helm stops at the first
//! failing test.
//!
//! Ready follows Flux's summary: with tests enabled and failures not ignored, `Ready`
//! mirrors `TestSuccess` (reason `TestSucceeded` or `TestFailed`); with
//! `ignoreFailures`, only `TestSuccess` says the tests failed. With tests disabled,
//! `TestSuccess` is removed.
//!
//! # Caveats
//! A failed test is not retried until the next release (no remediation here: see
//! [`TestOutcome::counts_as_failure`]). Whether a release was tested is read from its
//! test hooks' `last_run` (Flux keeps it in `status.history`); a release without test
//! hooks is "tested" again on every reconcile, which runs nothing. Helm moves skipped
//! hooks to the front of the stored list; Gyre keeps the stored order.

use std::collections::BTreeMap;

use gyre_api::helm::{HelmRelease, HelmReleaseStatus, TestHookStatus};
use gyre_api::meta::{
    self, Condition, condition_types, find_condition, reasons, remove_condition, set_condition,
};
use gyre_release::{Hook, Release, SecretStorage};

use super::hooks::{self, Event};
use crate::context::Context;
use crate::events::Severity;

/// What the Helm tests of the current release say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    /// `spec.test.enable` is off: nothing runs and `TestSuccess` is removed.
    Disabled,
    /// Every selected test hook succeeded; the message is the condition's.
    Succeeded {
        /// `Helm test succeeded for release … : <n> test hook(s) completed successfully`.
        message: String,
    },
    /// A test hook failed (or could not run).
    Failed {
        /// `Helm test failed for release … : <the hook's error>`.
        message: String,
        /// `spec.test.ignoreFailures`: the failure shows on `TestSuccess` only.
        ignored: bool,
    },
}

impl TestOutcome {
    /// Whether the failure counts against the release: failed and not ignored by
    /// `spec.test.ignoreFailures`. Remediation should use its own
    /// `remediation.ignoreTestFailures` instead when that is set (Flux's
    /// `MustIgnoreTestFailures`).
    pub fn counts_as_failure(&self) -> bool {
        matches!(self, TestOutcome::Failed { ignored: false, .. })
    }
}

/// The tests' outcome and whether they ran in this reconcile (rather than being read
/// from the release's hooks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRun {
    /// The outcome.
    pub outcome: TestOutcome,
    /// Whether the test hooks ran now (`failures` was counted on a failure).
    pub ran: bool,
    /// The event to publish when they ran: severity, reason, message (after the
    /// release's own event, as Flux records them).
    pub event: Option<(Severity, &'static str, String)>,
}

/// Whether a hook is selected by `spec.test.filters` (Helm's `name` and `!name`
/// filters).
fn selected(hr: &HelmRelease, h: &Hook) -> bool {
    let filters = hr
        .spec
        .test
        .as_ref()
        .and_then(|t| t.filters.as_deref())
        .unwrap_or_default();
    let (mut include, mut exclude) = (Vec::new(), Vec::new());
    for f in filters {
        if f.exclude.unwrap_or(false) {
            exclude.push(f.name.as_str());
        } else {
            include.push(f.name.as_str());
        }
    }
    !exclude.contains(&h.name.as_str())
        && (include.is_empty() || include.contains(&h.name.as_str()))
}

fn enabled(hr: &HelmRelease) -> bool {
    hr.spec
        .test
        .as_ref()
        .and_then(|t| t.enable)
        .unwrap_or(false)
}

fn ignore_failures(hr: &HelmRelease) -> bool {
    hr.spec
        .test
        .as_ref()
        .and_then(|t| t.ignore_failures)
        .unwrap_or(false)
}

fn test_hooks(rel: &Release) -> impl Iterator<Item = &Hook> {
    rel.hooks.iter().filter(|h| hooks::runs_on(h, Event::Test))
}

fn success_message(rel: &Release) -> String {
    let n = test_hooks(rel).count();
    let hooks = match n {
        0 => "no test hooks".to_string(),
        1 => "1 test hook completed successfully".to_string(),
        n => format!("{n} test hooks completed successfully"),
    };
    format!(
        "Helm test succeeded for release {} with chart {}@{}: {hooks}",
        super::state::full_name(rel),
        rel.chart.metadata.name,
        rel.chart.metadata.version
    )
}

fn failure_message(rel: &Release, err: &str) -> String {
    format!(
        "Helm test failed for release {} with chart {}@{}: {}",
        super::state::full_name(rel),
        rel.chart.metadata.name,
        rel.chart.metadata.version,
        err.trim()
    )
}

/// The outcome recorded in the release's selected test hooks; `None` when they have not
/// all run (never tested, or interrupted).
fn observed(hr: &HelmRelease, rel: &Release, status: &HelmReleaseStatus) -> Option<TestOutcome> {
    let mut all_succeeded = true;
    for h in test_hooks(rel).filter(|h| selected(hr, h)) {
        match h.last_run.phase.as_str() {
            "Succeeded" => {}
            "Failed" => {
                // The condition written when the test ran has the hook's error.
                let message = find_condition(&status.conditions, condition_types::TEST_SUCCESS)
                    .filter(|c| !c.is_true())
                    .map(|c| c.message.clone())
                    .unwrap_or_else(|| {
                        failure_message(rel, &format!("test hook {} ({}) failed", h.name, h.path))
                    });
                return Some(TestOutcome::Failed {
                    message,
                    ignored: ignore_failures(hr),
                });
            }
            _ => all_succeeded = false,
        }
    }
    all_succeeded.then(|| TestOutcome::Succeeded {
        message: success_message(rel),
    })
}

/// Runs the release's tests when they are enabled and due: after a release made in this
/// reconcile (`just_released`), or when the release's test hooks have not run yet.
/// Otherwise reads the outcome from the release. Stores the release with the hooks'
/// `last_run` and updates its snapshot in `status.history`; when tests ran, returns the
/// event to publish.
pub async fn run_if_due(
    client: &kube::Client,
    hr: &HelmRelease,
    rel: &mut Release,
    status: &mut HelmReleaseStatus,
    just_released: bool,
) -> TestRun {
    if !enabled(hr) {
        return TestRun {
            outcome: TestOutcome::Disabled,
            ran: false,
            event: None,
        };
    }
    if !just_released && let Some(outcome) = observed(hr, rel, status) {
        return TestRun {
            outcome,
            ran: false,
            event: None,
        };
    }
    let (_, timeout) = hooks::settings(hr, Event::Test);
    let result = hooks::run_selected(client, hr, rel, Event::Test, timeout, &|h| selected(hr, h))
        .await
        .map_err(|e| e.to_string());
    let storage = SecretStorage::new(client.clone(), &hr.storage_namespace());
    let stored = storage
        .update(rel)
        .await
        .map_err(|e| format!("recording the test results: {}", crate::source::chain(&e)));
    let outcome = match result.and(stored) {
        Ok(()) => TestOutcome::Succeeded {
            message: success_message(rel),
        },
        Err(e) => TestOutcome::Failed {
            message: failure_message(rel, &e),
            ignored: ignore_failures(hr),
        },
    };
    if let Some(history) = status.history.as_mut() {
        for s in history
            .iter_mut()
            .filter(|s| s.version == i64::from(rel.version))
        {
            *s = super::state::snapshot(rel, &s.config_digest.clone());
        }
    }
    let event = match &outcome {
        TestOutcome::Succeeded { message } => {
            (Severity::Normal, reasons::TEST_SUCCEEDED, message.clone())
        }
        TestOutcome::Failed { message, .. } => {
            (Severity::Warning, reasons::TEST_FAILED, message.clone())
        }
        TestOutcome::Disabled => unreachable!("tests are enabled"),
    };
    TestRun {
        outcome,
        ran: true,
        event: Some(event),
    }
}

/// Records a test run in the status: a failure of tests that ran now counts in
/// `status.failures` (as Flux counts it, ignored or not), and the conditions follow
/// [`summarize`]. Call after the release's own conditions are set.
pub fn record(
    status: &mut HelmReleaseStatus,
    generation: Option<i64>,
    hr: &HelmRelease,
    run: &TestRun,
) {
    if run.ran && matches!(run.outcome, TestOutcome::Failed { .. }) {
        status.failures = Some(status.failures.unwrap_or(0) + 1);
    }
    summarize(&mut status.conditions, generation, hr, &run.outcome);
}

/// The tests of the newest revision once the release settled in sync: run when enabled
/// and not run yet for it, else read from its hooks. `None` when there is no deployed
/// revision or the storage cannot be read (the next reconcile tries again).
pub async fn for_settled(
    ctx: &Context,
    hr: &HelmRelease,
    status: &mut HelmReleaseStatus,
) -> Option<TestRun> {
    // Tests run where the release is: through the impersonated or remote connection.
    let target = match super::client::resolve(ctx, hr).await {
        Ok(target) => target,
        Err(e) => {
            tracing::warn!(release = %hr.release_name(), error = %e, "connecting for the release's tests");
            return None;
        }
    };
    let storage = SecretStorage::new(target.client.clone(), &hr.storage_namespace());
    let mut latest = match storage.history(&hr.release_name()).await {
        Ok(releases) => releases.into_iter().last()?,
        Err(e) => {
            tracing::warn!(release = %hr.release_name(), error = %e, "reading the release for its tests");
            return None;
        }
    };
    if latest.info.status != gyre_release::Status::Deployed {
        return None;
    }
    Some(run_if_due(&target.client, hr, &mut latest, status, false).await)
}

/// Sets `TestSuccess` from the outcome and, unless failures are ignored, `Ready` from
/// `TestSuccess` (Flux's summary puts TestSuccess before Released).
pub fn summarize(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    hr: &HelmRelease,
    outcome: &TestOutcome,
) {
    match outcome {
        TestOutcome::Disabled => {
            remove_condition(conditions, condition_types::TEST_SUCCESS);
        }
        TestOutcome::Succeeded { message } => {
            set_condition(
                conditions,
                Condition::new(
                    condition_types::TEST_SUCCESS,
                    true,
                    reasons::TEST_SUCCEEDED,
                    message.clone(),
                )
                .with_observed_generation(generation),
            );
            if !ignore_failures(hr) {
                meta::mark_ready(
                    conditions,
                    generation,
                    reasons::TEST_SUCCEEDED,
                    message.clone(),
                );
            }
        }
        TestOutcome::Failed { message, ignored } => {
            set_condition(
                conditions,
                Condition::new(
                    condition_types::TEST_SUCCESS,
                    false,
                    reasons::TEST_FAILED,
                    message.clone(),
                )
                .with_observed_generation(generation),
            );
            if !ignored {
                set_condition(
                    conditions,
                    Condition::new(
                        condition_types::READY,
                        false,
                        reasons::TEST_FAILED,
                        message.clone(),
                    )
                    .with_observed_generation(generation),
                );
            }
        }
    }
}

/// The test hooks of a release as Flux records them in a snapshot, once any has run.
pub fn snapshot_hooks(rel: &Release) -> Option<BTreeMap<String, TestHookStatus>> {
    if test_hooks(rel).all(|h| h.last_run.phase.is_empty()) {
        return None;
    }
    let time = |t: &gyre_release::Time| {
        t.0.and_then(|d| k8s_openapi::jiff::Timestamp::from_second(d.timestamp()).ok())
            .map(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time)
    };
    Some(
        test_hooks(rel)
            .map(|h| {
                (
                    h.name.clone(),
                    TestHookStatus {
                        last_started: time(&h.last_run.started_at),
                        last_completed: time(&h.last_run.completed_at),
                        phase: Some(h.last_run.phase.clone()).filter(|p| !p.is_empty()),
                    },
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use gyre_api::helm::{Filter, Test};
    use gyre_release::HookExecution;

    fn hr(test: Test) -> HelmRelease {
        let mut hr: HelmRelease = serde_yaml_ng::from_str(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: a, namespace: ns}\nspec: {interval: 1m, chartRef: {kind: HelmChart, name: c}}\n",
        )
        .unwrap();
        hr.spec.test = Some(test);
        hr
    }

    fn hook(name: &str, phase: &str) -> Hook {
        Hook {
            name: name.into(),
            events: vec!["test".into()],
            last_run: HookExecution {
                phase: phase.into(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn filter(name: &str, exclude: bool) -> Filter {
        Filter {
            name: name.into(),
            exclude: Some(exclude),
        }
    }

    #[test]
    fn filters_exclude_names_and_restrict_to_included_ones() {
        let none = hr(Test::default());
        assert!(selected(&none, &hook("a", "")));
        let excl = hr(Test {
            filters: Some(vec![filter("a", true)]),
            ..Default::default()
        });
        assert!(!selected(&excl, &hook("a", "")));
        assert!(selected(&excl, &hook("b", "")));
        let incl = hr(Test {
            filters: Some(vec![filter("a", false), filter("b", true)]),
            ..Default::default()
        });
        assert!(selected(&incl, &hook("a", "")));
        assert!(!selected(&incl, &hook("b", "")));
        assert!(!selected(&incl, &hook("c", "")));
    }

    #[test]
    fn the_recorded_outcome_needs_every_selected_test_to_have_run() {
        let h = hr(Test {
            enable: Some(true),
            filters: Some(vec![filter("skipped", true)]),
            ..Default::default()
        });
        let status = HelmReleaseStatus::default();
        let rel = |hooks: Vec<Hook>| Release {
            name: "a".into(),
            namespace: "ns".into(),
            version: 2,
            hooks,
            ..Default::default()
        };
        assert_eq!(
            observed(
                &h,
                &rel(vec![hook("t1", "Succeeded"), hook("t2", "")]),
                &status
            ),
            None
        );
        assert!(matches!(
            observed(
                &h,
                &rel(vec![hook("t1", "Succeeded"), hook("skipped", "")]),
                &status
            ),
            Some(TestOutcome::Succeeded { .. })
        ));
        let failed = observed(&h, &rel(vec![hook("t1", "Failed")]), &status).unwrap();
        assert!(failed.counts_as_failure());
        assert_eq!(
            snapshot_hooks(&rel(vec![hook("t1", "")])),
            None,
            "never tested"
        );
        let snap = snapshot_hooks(&rel(vec![hook("t1", "Failed"), hook("skipped", "")])).unwrap();
        assert_eq!(snap["t1"].phase.as_deref(), Some("Failed"));
        assert_eq!(snap["skipped"].phase, None);
    }

    #[test]
    fn ready_follows_test_success_unless_failures_are_ignored() {
        let mut conditions = Vec::new();
        let plain = hr(Test::default());
        let ignoring = hr(Test {
            ignore_failures: Some(true),
            ..Default::default()
        });
        meta::mark_ready(&mut conditions, Some(1), "UpgradeSucceeded", "upgraded");
        let ok = TestOutcome::Succeeded {
            message: "ok".into(),
        };
        summarize(&mut conditions, Some(1), &ignoring, &ok);
        let ready = find_condition(&conditions, condition_types::READY).unwrap();
        assert_eq!(ready.reason, "UpgradeSucceeded");
        summarize(&mut conditions, Some(1), &plain, &ok);
        let ready = find_condition(&conditions, condition_types::READY).unwrap();
        assert_eq!(ready.reason, "TestSucceeded");
        meta::mark_ready(&mut conditions, Some(1), "UpgradeSucceeded", "upgraded");
        summarize(
            &mut conditions,
            Some(1),
            &ignoring,
            &TestOutcome::Failed {
                message: "boom".into(),
                ignored: true,
            },
        );
        let ready = find_condition(&conditions, condition_types::READY).unwrap();
        assert!(ready.is_true());
        assert_eq!(ready.reason, "UpgradeSucceeded");
        summarize(
            &mut conditions,
            Some(1),
            &plain,
            &TestOutcome::Failed {
                message: "boom".into(),
                ignored: false,
            },
        );
        let ready = find_condition(&conditions, condition_types::READY).unwrap();
        assert_eq!(
            (ready.is_true(), ready.reason.as_str()),
            (false, "TestFailed")
        );
        summarize(&mut conditions, Some(1), &plain, &TestOutcome::Disabled);
        assert!(find_condition(&conditions, condition_types::TEST_SUCCESS).is_none());
    }
}
