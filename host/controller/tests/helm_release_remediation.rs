//! Issue #9's proof: the Flux docs' HelmRepository + HelmRelease (podinfo from a local
//! Helm repository served over HTTP, `replicaCount: 3`, resources,
//! `install.remediation.retries: 3`, `upgrade.remediation.remediateLastFailure: true`)
//! against kube-sim, with the real `helm` reading — and writing — the same release
//! records:
//!
//! - install, upgrade on a values change;
//! - an upgrade whose Deployment fails its health check is remediated by a rollback
//!   (helm history: superseded, failed, `Rollback to 2` deployed; the HelmRelease
//!   `Ready=False RollbackSucceeded`, `Released=False UpgradeFailed`, `Remediated=True`,
//!   `Stalled=True RetriesExceeded`, one upgrade failure counted) and is not retried
//!   until the values change;
//! - a person's `helm rollback` is seen as a release Gyre did not make and corrected by
//!   an upgrade to the desired values;
//! - an install that fails is uninstalled and retried three times, then stalls with
//!   `RetriesExceeded`; fixing the values upgrades the failed release.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::helm::helm;
use common::{Env, ready};
use serde_json::Value;

const HR: (&str, &str) = ("helm.toolkit.fluxcd.io/v2", "HelmRelease");
// Generous: the first render compiles the Helm plugin when the shared cache is cold.
const TIMEOUT: Duration = Duration::from_secs(240);

const CHART_YAML: &str = "apiVersion: v2
name: podinfo
description: Podinfo Helm chart for Kubernetes
type: application
version: 6.5.4
appVersion: 6.5.4
";

const VALUES_YAML: &str = "replicaCount: 1
image:
  repository: ghcr.io/stefanprodan/podinfo
  tag: 6.5.4
resources:
  limits: {}
  requests:
    cpu: 1m
    memory: 16Mi
extraConfig: false
";

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    app.kubernetes.io/name: podinfo
  {{- with .Values.deploymentAnnotations }}
  annotations:
{{ toYaml . | indent 4 }}
  {{- end }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/name: podinfo
  template:
    metadata:
      labels:
        app.kubernetes.io/name: podinfo
    spec:
      containers:
        - name: podinfo
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          resources:
{{ toYaml .Values.resources | indent 12 }}
"#;

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    app.kubernetes.io/name: podinfo
  ports:
    - name: http
      port: 9898
"#;

const CONFIGMAP: &str = r#"{{- if .Values.extraConfig }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-extra
data:
  greeting: hello
{{- end }}
"#;

/// Packages the chart with the real helm into `repo/` and indexes it.
fn package_chart(root: &Path, home: &Path) -> PathBuf {
    let src = root.join("src/podinfo");
    std::fs::create_dir_all(src.join("templates")).unwrap();
    std::fs::write(src.join("Chart.yaml"), CHART_YAML).unwrap();
    std::fs::write(src.join("values.yaml"), VALUES_YAML).unwrap();
    std::fs::write(src.join("templates/deployment.yaml"), DEPLOYMENT).unwrap();
    std::fs::write(src.join("templates/service.yaml"), SERVICE).unwrap();
    std::fs::write(src.join("templates/configmap.yaml"), CONFIGMAP).unwrap();
    let repo = root.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    helm(
        home,
        None,
        &[
            "package",
            src.to_str().unwrap(),
            "-d",
            repo.to_str().unwrap(),
        ],
    );
    helm(home, None, &["repo", "index", repo.to_str().unwrap()]);
    repo
}

/// The HelmRelease of the Flux docs, with the remediation settings of the issue.
fn release_yaml(values: &str) -> String {
    format!(
        r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 10m
  timeout: 1m
  chart:
    spec:
      chart: podinfo
      version: "6.5.*"
      sourceRef:
        kind: HelmRepository
        name: podinfo
      interval: 5m
  install:
    remediation:
      retries: 3
  upgrade:
    remediation:
      remediateLastFailure: true
  values:
{values}"#
    )
}

fn repository_yaml(url: &str) -> String {
    format!(
        r#"apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 5m
  url: {url}
"#
    )
}

fn values(replicas: u32, extra: &str) -> String {
    format!(
        "    replicaCount: {replicas}
    resources:
      limits:
        memory: 256Mi
      requests:
        cpu: 100m
        memory: 64Mi
{extra}"
    )
}

/// Makes the chart's Deployment fail its health check in kube-sim.
const FAILING: &str = "    deploymentAnnotations:\n      kube-sim.gyre.dev/behavior: fail\n";

fn condition<'a>(hr: &'a Value, type_: &str) -> Option<&'a Value> {
    hr["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn reason(hr: Option<&Value>) -> String {
    ready(hr)
        .and_then(|c| c["reason"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn latest_version(hr: Option<&Value>) -> i64 {
    hr.and_then(|o| o["status"]["history"][0]["version"].as_i64())
        .unwrap_or(0)
}

fn stalled(hr: Option<&Value>) -> bool {
    hr.and_then(|o| condition(o, "Stalled"))
        .is_some_and(|c| c["status"] == "True")
}

/// `helm history` as (revision, status, description).
fn helm_history(home: &Path, kubeconfig: &Path) -> Vec<(i64, String, String)> {
    let out = helm(
        home,
        Some(kubeconfig),
        &["history", "podinfo", "-n", "flux-system", "-o", "json"],
    );
    let v: Vec<Value> = serde_json::from_str(&out).unwrap();
    v.iter()
        .map(|h| {
            (
                h["revision"].as_i64().unwrap(),
                h["status"].as_str().unwrap().to_string(),
                h["description"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn statuses(history: &[(i64, String, String)]) -> Vec<(i64, &str)> {
    history.iter().map(|(r, s, _)| (*r, s.as_str())).collect()
}

fn status_history(hr: &Value) -> Vec<(i64, String)> {
    hr["status"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["version"].as_i64().unwrap(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn request_reconcile(env: &Env, token: &str) {
    let api: kube::Api<gyre_api::helm::HelmRelease> =
        kube::Api::namespaced(env.client.clone(), "flux-system");
    api.patch(
        "podinfo",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({
            "metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}
        })),
    )
    .await
    .unwrap();
    env.wait_for(HR, "flux-system", "podinfo", TIMEOUT, "handled", |o| {
        o.is_some_and(|o| o["status"]["lastHandledReconcileAt"] == token)
    })
    .await;
}

/// How many times an event with `reason` was recorded for the HelmRelease (a repeated
/// event is one Event with a series count).
async fn event_count(env: &Env, reason: &str) -> i64 {
    let events: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(env.client.clone(), "flux-system");
    events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|e| {
            e.reason.as_deref() == Some(reason)
                && e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some("HelmRelease")
        })
        .map(|e| e.series.as_ref().map_or(1, |s| i64::from(s.count)))
        .sum()
}

async fn deployment(env: &Env) -> Option<Value> {
    env.get("apps/v1", "Deployment", "flux-system", "podinfo")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_upgrade_is_rolled_back_and_a_persons_helm_rollback_is_corrected() {
    let mut env = Env::new().await;
    let home = env.tmp.path().join("helm-home");
    let repo = package_chart(&env.tmp.path().join("charts"), &home);
    let (server, _) = gyre_test_support::static_server(&repo, None);
    let kubeconfig = env.tmp.path().join("kubeconfig");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    env.start();
    env.apply_yaml(&format!(
        "{}---\n{}",
        repository_yaml(&server.url()),
        release_yaml(&values(3, ""))
    ))
    .await;

    // Install: revision 1.
    env.wait_for(HR, "flux-system", "podinfo", TIMEOUT, "installed", |o| {
        reason(o) == "InstallSucceeded"
    })
    .await;
    assert_eq!(deployment(&env).await.unwrap()["spec"]["replicas"], 3);

    // A values change upgrades: revision 2.
    env.apply_yaml(&release_yaml(&values(4, ""))).await;
    env.wait_for(HR, "flux-system", "podinfo", TIMEOUT, "upgraded", |o| {
        reason(o) == "UpgradeSucceeded" && latest_version(o) == 2
    })
    .await;

    // An upgrade whose Deployment fails (and that adds a ConfigMap) is rolled back.
    let started = std::time::Instant::now();
    env.apply_yaml(&release_yaml(&values(
        6,
        &format!("    extraConfig: true\n{FAILING}"),
    )))
    .await;
    let hr = env
        .wait_for(
            HR,
            "flux-system",
            "podinfo",
            TIMEOUT,
            "rolled back and stalled",
            |o| reason(o) == "RollbackSucceeded" && stalled(o),
        )
        .await
        .unwrap();
    let remediated_in = started.elapsed();
    let ready_c = ready(Some(&hr)).unwrap();
    assert_eq!(ready_c["status"], "False");
    assert_eq!(
        ready_c["message"],
        "Helm rollback to previous release flux-system/podinfo.v2 with chart podinfo@6.5.4 succeeded"
    );
    let released = condition(&hr, "Released").unwrap();
    assert_eq!(released["status"], "False");
    assert_eq!(released["reason"], "UpgradeFailed");
    assert!(
        released["message"].as_str().unwrap().starts_with(
            "Helm upgrade failed for release flux-system/podinfo with chart podinfo@6.5.4:"
        ),
        "{released}"
    );
    let remediated = condition(&hr, "Remediated").unwrap();
    assert_eq!(remediated["status"], "True");
    assert_eq!(remediated["reason"], "RollbackSucceeded");
    let stall = condition(&hr, "Stalled").unwrap();
    assert_eq!(stall["reason"], "RetriesExceeded");
    assert_eq!(stall["message"], "Failed to upgrade after 1 attempt(s)");
    assert_eq!(hr["status"]["upgradeFailures"], 1);
    assert_eq!(hr["status"]["failures"], 1);
    assert!(hr["status"]["installFailures"].is_null());
    assert_eq!(hr["status"]["lastAttemptedReleaseAction"], "upgrade");
    assert_eq!(
        status_history(&hr),
        [
            (4, "deployed".to_string()),
            (3, "failed".to_string()),
            (2, "superseded".to_string())
        ]
    );
    let history = helm_history(&home, &kubeconfig);
    assert_eq!(
        statuses(&history),
        [
            (1, "superseded"),
            (2, "superseded"),
            (3, "failed"),
            (4, "deployed")
        ],
        "{history:?}"
    );
    assert!(
        history[2].2.starts_with("Upgrade \"podinfo\" failed: "),
        "{history:?}"
    );
    assert_eq!(history[3].2, "Rollback to 2");
    let list: Value = serde_json::from_str(&helm(
        &home,
        Some(&kubeconfig),
        &["list", "--all", "-n", "flux-system", "-o", "json"],
    ))
    .unwrap();
    assert_eq!(list[0]["revision"], "4");
    assert_eq!(list[0]["status"], "deployed");
    // The cluster is back at revision 2's objects: replicas, no failing annotation, and
    // the ConfigMap only the failed revision had is pruned.
    let d = deployment(&env).await.unwrap();
    assert_eq!(d["spec"]["replicas"], 4);
    assert!(
        d["metadata"]["annotations"]["kube-sim.gyre.dev/behavior"].is_null(),
        "{d}"
    );
    assert!(
        env.get("v1", "ConfigMap", "flux-system", "podinfo-extra")
            .await
            .is_none()
    );
    assert!(event_count(&env, "UpgradeFailed").await >= 1);
    assert_eq!(event_count(&env, "RollbackSucceeded").await, 1);

    // Retries are exceeded: a reconcile without a change does nothing.
    request_reconcile(&env, "stalled-1").await;
    let hr = env.get(HR.0, HR.1, "flux-system", "podinfo").await.unwrap();
    assert!(stalled(Some(&hr)));
    assert_eq!(helm_history(&home, &kubeconfig).len(), 4, "not retried");

    // Fixing the values resets the counters and upgrades: revision 5.
    env.apply_yaml(&release_yaml(&values(5, ""))).await;
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "revision 5", |o| {
            reason(o) == "UpgradeSucceeded" && latest_version(o) == 5
        })
        .await
        .unwrap();
    assert_eq!(ready(Some(&hr)).unwrap()["status"], "True");
    assert!(condition(&hr, "Remediated").is_none(), "{hr}");
    assert!(condition(&hr, "Stalled").is_none(), "{hr}");
    assert!(hr["status"]["upgradeFailures"].is_null(), "{hr}");
    assert_eq!(deployment(&env).await.unwrap()["spec"]["replicas"], 5);

    // A person rolls back with the real helm: revision 6, `Rollback to 2`.
    helm(
        &home,
        Some(&kubeconfig),
        &["rollback", "podinfo", "2", "-n", "flux-system"],
    );
    let history = helm_history(&home, &kubeconfig);
    let last = history.last().unwrap();
    assert_eq!(
        (last.0, last.1.as_str(), last.2.as_str()),
        (6, "deployed", "Rollback to 2")
    );
    assert_eq!(deployment(&env).await.unwrap()["spec"]["replicas"], 4);
    // Gyre sees a release it did not make and upgrades back to the desired values.
    request_reconcile(&env, "after-manual-rollback").await;
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "corrected", |o| {
            reason(o) == "UpgradeSucceeded" && latest_version(o) == 7
        })
        .await
        .unwrap();
    assert_eq!(
        ready(Some(&hr)).unwrap()["message"],
        "Helm upgrade succeeded for release flux-system/podinfo.v7 with chart podinfo@6.5.4"
    );
    assert_eq!(deployment(&env).await.unwrap()["spec"]["replicas"], 5);
    let history = helm_history(&home, &kubeconfig);
    assert_eq!(
        history
            .iter()
            .map(|(r, s, d)| (*r, s.as_str(), d.as_str()))
            .collect::<Vec<_>>()[history.len() - 2..],
        [
            (6, "superseded", "Rollback to 2"),
            (7, "deployed", "Upgrade complete")
        ],
        "{history:?}"
    );
    // maxHistory (default 5) keeps the newest five.
    assert_eq!(history.first().unwrap().0, 3, "{history:?}");
    eprintln!("failed upgrade remediated (rolled back) {remediated_in:?} after the change");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_install_is_uninstalled_and_retried_until_retries_are_exceeded() {
    let mut env = Env::new().await;
    let home = env.tmp.path().join("helm-home");
    let repo = package_chart(&env.tmp.path().join("charts"), &home);
    let (server, _) = gyre_test_support::static_server(&repo, None);
    let kubeconfig = env.tmp.path().join("kubeconfig");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    env.start();
    let started = std::time::Instant::now();
    env.apply_yaml(&format!(
        "{}---\n{}",
        repository_yaml(&server.url()),
        release_yaml(&values(3, FAILING))
    ))
    .await;

    // 1 attempt + 3 retries, an uninstall remediation after each of the first three.
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "stalled", stalled)
        .await
        .unwrap();
    let stalled_in = started.elapsed();
    let stall = condition(&hr, "Stalled").unwrap();
    assert_eq!(stall["reason"], "RetriesExceeded");
    assert_eq!(stall["message"], "Failed to install after 4 attempt(s)");
    // As in Flux, Ready summarizes Remediated over Released at the same generation.
    let ready_c = ready(Some(&hr)).unwrap();
    assert_eq!(ready_c["status"], "False");
    assert_eq!(ready_c["reason"], "UninstallSucceeded");
    let released = condition(&hr, "Released").unwrap();
    assert_eq!(released["status"], "False");
    assert_eq!(released["reason"], "InstallFailed");
    assert!(
        released["message"].as_str().unwrap().starts_with(
            "Helm install failed for release flux-system/podinfo with chart podinfo@6.5.4:"
        ),
        "{released}"
    );
    assert_eq!(hr["status"]["installFailures"], 4);
    assert_eq!(hr["status"]["failures"], 4);
    assert_eq!(hr["status"]["lastAttemptedReleaseAction"], "install");
    assert_eq!(event_count(&env, "InstallFailed").await, 4);
    assert_eq!(event_count(&env, "UninstallSucceeded").await, 3);
    // Each uninstall deleted the records, so the last attempt is revision 1 again, and
    // it stays (the last failure is not remediated).
    let history = helm_history(&home, &kubeconfig);
    assert_eq!(statuses(&history), [(1, "failed")], "{history:?}");
    assert!(
        history[0].2.starts_with("Release \"podinfo\" failed: "),
        "{history:?}"
    );
    assert!(
        deployment(&env).await.is_some(),
        "the last attempt's objects stay"
    );

    // Not retried without a change.
    request_reconcile(&env, "stalled-1").await;
    assert_eq!(event_count(&env, "InstallFailed").await, 4);

    // Fixing the values resets the counters; the failed release is upgraded.
    env.apply_yaml(&release_yaml(&values(3, ""))).await;
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "upgraded", |o| {
            reason(o) == "UpgradeSucceeded" && latest_version(o) == 2
        })
        .await
        .unwrap();
    assert!(condition(&hr, "Stalled").is_none(), "{hr}");
    assert!(hr["status"]["installFailures"].is_null(), "{hr}");
    let history = helm_history(&home, &kubeconfig);
    assert_eq!(
        statuses(&history),
        [(1, "failed"), (2, "deployed")],
        "{history:?}"
    );
    eprintln!("install retries exhausted {stalled_in:?} after the HelmRelease was applied");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uninstall_strategy_keeps_history_and_an_interrupted_release_is_unlocked() {
    let mut env = Env::new().await;
    let home = env.tmp.path().join("helm-home");
    let repo = package_chart(&env.tmp.path().join("charts"), &home);
    let (server, _) = gyre_test_support::static_server(&repo, None);
    let kubeconfig = env.tmp.path().join("kubeconfig");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    env.start();
    // No install retries here: after the uninstall, one install attempt.
    let release = |values: &str| {
        release_yaml(values)
            .replace("  install:\n    remediation:\n      retries: 3\n", "")
            .replace(
                "  upgrade:\n    remediation:\n      remediateLastFailure: true\n",
                "  upgrade:\n    remediation:\n      retries: 1\n      strategy: uninstall\n  \
             uninstall:\n    keepHistory: true\n    deletionPropagation: foreground\n",
            )
    };
    env.apply_yaml(&format!(
        "{}---\n{}",
        repository_yaml(&server.url()),
        release(&values(2, ""))
    ))
    .await;
    env.wait_for(HR, "flux-system", "podinfo", TIMEOUT, "installed", |o| {
        reason(o) == "InstallSucceeded"
    })
    .await;

    // The failed upgrade (revision 2) is uninstalled, keeping the history; the release
    // is then absent, so the next attempt is an install (revision 3), which fails too
    // and, with no install retries, stalls.
    env.apply_yaml(&release(&values(4, FAILING))).await;
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "stalled", stalled)
        .await
        .unwrap();
    assert_eq!(
        condition(&hr, "Stalled").unwrap()["message"],
        "Failed to install after 1 attempt(s)"
    );
    assert_eq!(hr["status"]["upgradeFailures"], 1);
    assert_eq!(hr["status"]["installFailures"], 1);
    assert_eq!(event_count(&env, "UninstallSucceeded").await, 1);
    let history = helm_history(&home, &kubeconfig);
    assert_eq!(
        history
            .iter()
            .map(|(r, s, d)| (*r, s.as_str(), d.as_str()))
            .collect::<Vec<_>>()[..2],
        // Helm's uninstall marks only the newest revision; the install after it
        // supersedes that one (Helm's `replace`).
        [
            (1, "deployed", "Install complete"),
            (2, "superseded", "superseded by new release")
        ],
        "{history:?}"
    );
    assert_eq!(statuses(&history)[2], (3, "failed"), "{history:?}");

    // A release left pending by an interrupted action (written as a crashed helm would
    // leave it) is unlocked — marked failed — before the next action, which here is an
    // upgrade to the fixed values.
    let storage = gyre_release::SecretStorage::new(env.client.clone(), "flux-system");
    let mut pending = storage.get("podinfo", 3).await.unwrap();
    pending.version = 4;
    pending.info.status = gyre_release::Status::PendingUpgrade;
    pending.info.description = "Preparing upgrade".into();
    storage.create(&pending).await.unwrap();
    env.apply_yaml(&release(&values(3, ""))).await;
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "upgraded", |o| {
            reason(o) == "UpgradeSucceeded" && latest_version(o) == 5
        })
        .await
        .unwrap();
    assert!(condition(&hr, "Stalled").is_none(), "{hr}");
    let history = helm_history(&home, &kubeconfig);
    let tail: Vec<(i64, &str, &str)> = history
        .iter()
        .map(|(r, s, d)| (*r, s.as_str(), d.as_str()))
        .collect();
    assert_eq!(
        tail[tail.len() - 2..],
        [
            (
                4,
                "failed",
                "Release unlocked from stale 'pending-upgrade' state"
            ),
            (5, "deployed", "Upgrade complete")
        ],
        "{history:?}"
    );
    assert_eq!(
        tail[0],
        (1, "superseded", "Install complete"),
        "{history:?}"
    );
    assert_eq!(deployment(&env).await.unwrap()["spec"]["replicas"], 3);
    assert_eq!(event_count(&env, "PendingRelease").await, 1);

    // Deleting the HelmRelease uninstalls with the history kept: the objects go, the
    // newest revision is `uninstalled`.
    let api: kube::Api<gyre_api::helm::HelmRelease> =
        kube::Api::namespaced(env.client.clone(), "flux-system");
    api.delete("podinfo", &Default::default()).await.unwrap();
    env.wait_for(HR, "flux-system", "podinfo", TIMEOUT, "deleted", |o| {
        o.is_none()
    })
    .await;
    assert!(deployment(&env).await.is_none());
    assert!(
        env.get("v1", "Service", "flux-system", "podinfo")
            .await
            .is_none()
    );
    let list: Value = serde_json::from_str(&helm(
        &home,
        Some(&kubeconfig),
        &["list", "--all", "-n", "flux-system", "-o", "json"],
    ))
    .unwrap();
    assert_eq!(list[0]["revision"], "5", "{list}");
    assert_eq!(list[0]["status"], "uninstalled", "{list}");
    let history = helm_history(&home, &kubeconfig);
    assert_eq!(
        history.last().map(|(r, s, d)| (*r, s.as_str(), d.as_str())),
        Some((5, "uninstalled", "Uninstallation complete"))
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upgrade_retries_roll_back_between_attempts_and_a_force_request_tries_again() {
    let mut env = Env::new().await;
    let home = env.tmp.path().join("helm-home");
    let repo = package_chart(&env.tmp.path().join("charts"), &home);
    let (server, _) = gyre_test_support::static_server(&repo, None);
    let kubeconfig = env.tmp.path().join("kubeconfig");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    env.start();
    // Two upgrade retries; remediateLastFailure then defaults to true.
    let release = |values: &str| {
        release_yaml(values).replace(
            "      remediateLastFailure: true\n",
            "      retries: 2\n  maxHistory: 20\n",
        )
    };
    env.apply_yaml(&format!(
        "{}---\n{}",
        repository_yaml(&server.url()),
        release(&values(2, ""))
    ))
    .await;
    env.wait_for(HR, "flux-system", "podinfo", TIMEOUT, "installed", |o| {
        reason(o) == "InstallSucceeded"
    })
    .await;

    env.apply_yaml(&release(&values(3, FAILING))).await;
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "stalled", stalled)
        .await
        .unwrap();
    assert_eq!(
        condition(&hr, "Stalled").unwrap()["message"],
        "Failed to upgrade after 3 attempt(s)"
    );
    assert_eq!(hr["status"]["upgradeFailures"], 3);
    assert_eq!(reason(Some(&hr)), "RollbackSucceeded");
    let expected = [
        (1, "superseded", "Install complete".to_string()),
        (2, "failed", String::new()),
        (3, "superseded", "Rollback to 1".to_string()),
        (4, "failed", String::new()),
        (5, "superseded", "Rollback to 3".to_string()),
        (6, "failed", String::new()),
        (7, "deployed", "Rollback to 5".to_string()),
    ];
    let check = |history: &[(i64, String, String)], expected: &[(i64, &str, String)]| {
        assert_eq!(history.len(), expected.len(), "{history:?}");
        for ((r, s, d), (er, es, ed)) in history.iter().zip(expected) {
            assert_eq!((r, s.as_str()), (er, *es), "{history:?}");
            if ed.is_empty() {
                assert!(d.starts_with("Upgrade \"podinfo\" failed: "), "{history:?}");
            } else {
                assert_eq!(d, ed, "{history:?}");
            }
        }
    };
    check(&helm_history(&home, &kubeconfig), &expected);
    assert_eq!(deployment(&env).await.unwrap()["spec"]["replicas"], 2);
    assert_eq!(event_count(&env, "RollbackSucceeded").await, 3);

    // `flux reconcile hr --force`: one more attempt, remediated again.
    let api: kube::Api<gyre_api::helm::HelmRelease> =
        kube::Api::namespaced(env.client.clone(), "flux-system");
    api.patch(
        "podinfo",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({
            "metadata": {"annotations": {
                "reconcile.fluxcd.io/requestedAt": "force-1",
                "reconcile.fluxcd.io/forceAt": "force-1",
            }}
        })),
    )
    .await
    .unwrap();
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "forced", |o| {
            stalled(o)
                && o.is_some_and(|o| {
                    o["status"]["lastHandledForceAt"] == "force-1"
                        && o["status"]["upgradeFailures"] == 4
                        && latest_version(Some(o)) == 9
                })
        })
        .await
        .unwrap();
    assert_eq!(
        condition(&hr, "Stalled").unwrap()["message"],
        "Failed to upgrade after 4 attempt(s)"
    );
    let mut expected = expected.to_vec();
    expected[6].1 = "superseded";
    expected.push((8, "failed", String::new()));
    expected.push((9, "deployed", "Rollback to 7".to_string()));
    check(&helm_history(&home, &kubeconfig), &expected);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_target_namespace_uninstalls_the_old_release_first() {
    let mut env = Env::new().await;
    let home = env.tmp.path().join("helm-home");
    let repo = package_chart(&env.tmp.path().join("charts"), &home);
    let (server, _) = gyre_test_support::static_server(&repo, None);
    let kubeconfig = env.tmp.path().join("kubeconfig");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    env.start();
    env.apply_yaml(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n---\n{}---\n{}",
        repository_yaml(&server.url()),
        release_yaml(&values(2, ""))
    ))
    .await;
    env.wait_for(HR, "flux-system", "podinfo", TIMEOUT, "installed", |o| {
        reason(o) == "InstallSucceeded"
    })
    .await;
    assert!(deployment(&env).await.is_some());

    let moved = release_yaml(&values(2, "")).replace(
        "  interval: 10m\n",
        "  interval: 10m\n  targetNamespace: apps\n",
    );
    env.apply_yaml(&moved).await;
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "moved", |o| {
            reason(o) == "InstallSucceeded"
                && o.is_some_and(|o| o["status"]["history"][0]["name"] == "apps-podinfo")
        })
        .await
        .unwrap();
    assert_eq!(hr["status"]["history"][0]["namespace"], "apps");
    assert_eq!(hr["status"]["history"][0]["version"], 1);
    assert!(
        deployment(&env).await.is_none(),
        "the old release's objects go"
    );
    assert!(
        env.get("apps/v1", "Deployment", "apps", "apps-podinfo")
            .await
            .is_some()
    );
    let list: Value = serde_json::from_str(&helm(
        &home,
        Some(&kubeconfig),
        &["list", "--all", "-n", "flux-system", "-o", "json"],
    ))
    .unwrap();
    let names: Vec<(&str, &str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["namespace"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("apps-podinfo", "apps", "deployed")], "{list}");
    assert_eq!(event_count(&env, "UninstallSucceeded").await, 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_uninstall_remediation_that_cannot_delete_keeps_the_release_and_is_retried() {
    let mut env = Env::new().await;
    let home = env.tmp.path().join("helm-home");
    let repo = package_chart(&env.tmp.path().join("charts"), &home);
    let (server, _) = gyre_test_support::static_server(&repo, None);
    let kubeconfig = env.tmp.path().join("kubeconfig");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    // The first Deployment deletion fails (every attempt of one request).
    env.sim.add_fault(
        kube_sim::FaultRule::error(500)
            .on_verb("delete")
            .on_resource("deployments")
            .times(3),
    );
    env.start();
    env.apply_yaml(&format!(
        "{}---\n{}",
        repository_yaml(&server.url()),
        release_yaml(&values(2, FAILING)).replace("      retries: 3\n", "      retries: 1\n")
    ))
    .await;

    // Install fails; the uninstall remediation cannot delete the Deployment, so the
    // release record is put back as it was and the remediation is retried.
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "stalled", stalled)
        .await
        .unwrap();
    assert_eq!(
        condition(&hr, "Stalled").unwrap()["message"],
        "Failed to install after 2 attempt(s)"
    );
    assert_eq!(event_count(&env, "UninstallFailed").await, 1);
    assert_eq!(event_count(&env, "UninstallSucceeded").await, 1);
    assert_eq!(hr["status"]["installFailures"], 2);
    // Two install failures and one failed remediation.
    assert_eq!(hr["status"]["failures"], 3);
    let history = helm_history(&home, &kubeconfig);
    assert_eq!(statuses(&history), [(1, "failed")], "{history:?}");
    env.stop().await;
}
