//! Helm hooks and Helm tests of a HelmRelease, against kube-sim (which runs Jobs and Pods
//! to completion or failure), a chart packaged and served like a Helm repository, and the
//! real `helm` reading Gyre's release records (`helm get hooks`, `helm status -o json`):
//! pre/post-install and pre/post-upgrade hooks run in weight order around the manifest,
//! their delete policies are honoured, a failing pre-upgrade Job fails the upgrade before
//! anything of the new manifest is applied (a failing pre-install Job likewise fails the
//! install, and `hook-failed` deletes it), pre/post-delete hooks run on deletion, the
//! hook records equal the real helm's, `disableHooks`/`disableWaitForJobs` apply per
//! action, and `spec.test` runs the test hooks and sets `TestSuccess` (issue #9).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::helm::helm;
use common::{Env, ready};
use serde_json::Value;

const HR: (&str, &str) = ("helm.toolkit.fluxcd.io/v2", "HelmRelease");
// Generous: the first render compiles the Helm plugin when the shared cache is cold.
const TIMEOUT: Duration = Duration::from_secs(240);
const NS: &str = "flux-system";

const CHART_YAML: &str = "apiVersion: v2
name: hooked
version: 1.0.0
appVersion: 1.0.0
";

const VALUES_YAML: &str = "greeting: hello
slowJob: false
jobBehavior: ready
testBehavior: ready
";

/// The release's own object.
const CONFIGMAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  greeting: {{ .Values.greeting | quote }}
"#;

/// Runs first (weight -5) before install and upgrade; default policy
/// (before-hook-creation): replaced on every run.
const PRE_CONFIG: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-pre-config
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
    "helm.sh/hook-weight": "-5"
data:
  greeting: {{ .Values.greeting | quote }}
"#;

/// Runs second (weight 5); deleted once the hooks succeeded.
const PRE_JOB: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
    "helm.sh/hook-weight": "5"
    "helm.sh/hook-delete-policy": {{ .Values.jobPolicy | default "before-hook-creation,hook-succeeded" }}
    kube-sim.gyre.dev/behavior: {{ .Values.jobBehavior }}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: busybox
          command: ["true"]
"#;

const POST_CONFIG: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-post
  annotations:
    "helm.sh/hook": post-install,post-upgrade
data:
  greeting: {{ .Values.greeting | quote }}
"#;

/// Runs on deletion; no delete policy but the default, so it stays (as with Helm).
const PRE_DELETE: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-goodbye
  annotations:
    "helm.sh/hook": pre-delete
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: goodbye
          image: busybox
"#;

/// Annotations spelled the odd ways Helm accepts (case, spaces, `+3`, an unparsable
/// weight) and a hook naming an unknown event (dropped); they run on deletion.
const ODD_HOOKS: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-b-hook
  annotations:
    "helm.sh/hook": " Post-Delete , PRE-rollback"
    "helm.sh/hook-weight": "+3"
    "helm.sh/hook-delete-policy": " Hook-Succeeded ,before-hook-creation"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-a-hook
  annotations:
    "helm.sh/hook": post-delete
    "helm.sh/hook-weight": " 3"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-unknown
  annotations:
    "helm.sh/hook": post-delete,crd-install
"#;

/// A Job of the release itself (not a hook) that never finishes when `slowJob` is set.
const SLOW_JOB: &str = r#"{{- if .Values.slowJob }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-slow
  annotations:
    kube-sim.gyre.dev/behavior: stuck
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: slow
          image: busybox
{{- end }}
"#;

const TEST_POD: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test-connection
  annotations:
    "helm.sh/hook": test
    kube-sim.gyre.dev/behavior: {{ .Values.testBehavior }}
spec:
  restartPolicy: Never
  containers:
    - name: wget
      image: busybox
      command: ["wget", "{{ .Release.Name }}-config"]
"#;

/// An excluded test (Helm 2's spelling of the event): never runs.
const TEST_EXCLUDED: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test-slow
  annotations:
    "helm.sh/hook": test-success
    kube-sim.gyre.dev/behavior: fail
spec:
  restartPolicy: Never
  containers:
    - name: slow
      image: busybox
"#;

/// Packages the chart with the real helm into `repo/` and indexes it.
fn package_chart(root: &Path, home: &Path) -> PathBuf {
    let src = root.join("src/hooked");
    std::fs::create_dir_all(src.join("templates/tests")).unwrap();
    std::fs::write(src.join("Chart.yaml"), CHART_YAML).unwrap();
    std::fs::write(src.join("values.yaml"), VALUES_YAML).unwrap();
    for (file, text) in [
        ("configmap.yaml", CONFIGMAP),
        ("pre-config.yaml", PRE_CONFIG),
        ("pre-job.yaml", PRE_JOB),
        ("post-config.yaml", POST_CONFIG),
        ("pre-delete.yaml", PRE_DELETE),
        ("odd-hooks.yaml", ODD_HOOKS),
        ("slow-job.yaml", SLOW_JOB),
        ("tests/test-connection.yaml", TEST_POD),
        ("tests/test-slow.yaml", TEST_EXCLUDED),
    ] {
        std::fs::write(src.join("templates").join(file), text).unwrap();
    }
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

/// The HelmRelease with `values` (indented YAML) and `extra` spec fields.
fn release_yaml(values: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hooked
  namespace: flux-system
spec:
  interval: 10m
  timeout: 1m
  chart:
    spec:
      chart: hooked
      version: "1.0.0"
      sourceRef:
        kind: HelmRepository
        name: charts
{extra}  values:
{values}"#
    )
}

fn reason(hr: Option<&Value>) -> String {
    ready(hr)
        .and_then(|c| c["reason"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn condition<'a>(hr: &'a Value, ty: &str) -> Option<&'a Value> {
    hr["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == ty)
}

/// A cluster with the chart served and a controller running, plus helm's home and a
/// kubeconfig for the real helm.
async fn setup() -> (Env, PathBuf, PathBuf, gyre_test_support::Server) {
    let mut env = Env::new().await;
    let home = env.tmp.path().join("helm-home");
    let repo = package_chart(&env.tmp.path().join("charts"), &home);
    let (server, _) = gyre_test_support::static_server(&repo, None);
    let kubeconfig = env.tmp.path().join("kubeconfig");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    env.start();
    env.apply_yaml(&format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: charts\n  namespace: flux-system\nspec:\n  interval: 5m\n  url: {}\n",
        server.url()
    ))
    .await;
    (env, home, kubeconfig, server)
}

/// `helm status -o json`: the release with its hooks and their `last_run`.
fn helm_status(home: &Path, kubeconfig: &Path) -> Value {
    serde_json::from_str(&helm(
        home,
        Some(kubeconfig),
        &["status", "hooked", "-n", NS, "-o", "json"],
    ))
    .unwrap()
}

fn hook<'a>(release: &'a Value, name: &str) -> &'a Value {
    release["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .unwrap_or_else(|| panic!("no hook {name} in {}", release["hooks"]))
}

fn time(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("time {v}: {e}"))
}

async fn get(env: &Env, kind: &str, name: &str) -> Option<Value> {
    let av = if kind == "Job" { "batch/v1" } else { "v1" };
    env.get(av, kind, NS, name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hooks_run_in_weight_order_honour_delete_policies_fail_an_upgrade_and_run_on_delete() {
    let (mut env, home, kubeconfig, _server) = setup().await;
    env.apply_yaml(&release_yaml("    greeting: v1\n", ""))
        .await;

    // Install: pre-install hooks, the manifest, post-install hooks.
    env.wait_for(HR, NS, "hooked", TIMEOUT, "installed", |o| {
        reason(o) == "InstallSucceeded"
    })
    .await;
    let rel = helm_status(&home, &kubeconfig);
    assert_eq!(rel["version"], 1);
    let (pre, job, post) = (
        hook(&rel, "hooked-pre-config"),
        hook(&rel, "hooked-migrate"),
        hook(&rel, "hooked-post"),
    );
    for h in [pre, job, post] {
        assert_eq!(h["last_run"]["phase"], "Succeeded", "{h}");
    }
    // Weight -5 before weight 5, both before the post-install hook.
    assert!(time(&pre["last_run"]["completed_at"]) <= time(&job["last_run"]["started_at"]));
    assert!(time(&job["last_run"]["completed_at"]) <= time(&post["last_run"]["started_at"]));
    assert_eq!(job["weight"], 5);
    assert_eq!(pre["weight"], -5);
    assert_eq!(
        pre["delete_policies"],
        serde_json::json!(["before-hook-creation"]),
        "the default policy is written into the record"
    );
    assert_eq!(
        job["events"],
        serde_json::json!(["pre-install", "pre-upgrade"])
    );
    assert_eq!(job["path"], "hooked/templates/pre-job.yaml");
    // Tests are stored with the release but not run without spec.test.
    assert_eq!(
        hook(&rel, "hooked-test-connection")["last_run"]["phase"],
        ""
    );
    assert!(get(&env, "Pod", "hooked-test-connection").await.is_none());
    // hook-succeeded: the Job is gone; the default policy keeps the others.
    assert!(get(&env, "Job", "hooked-migrate").await.is_none());
    let pre_cm = get(&env, "ConfigMap", "hooked-pre-config").await.unwrap();
    assert_eq!(pre_cm["data"]["greeting"], "v1");
    let post_cm = get(&env, "ConfigMap", "hooked-post").await.unwrap();
    assert_eq!(post_cm["data"]["greeting"], "v1");
    // Hooks are not release objects: no helm-controller labels, not in the manifest.
    assert!(
        pre_cm["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"].is_null(),
        "{pre_cm}"
    );
    let cm = get(&env, "ConfigMap", "hooked-config").await.unwrap();
    assert_eq!(
        cm["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"],
        "hooked"
    );
    let manifest = helm(
        &home,
        Some(&kubeconfig),
        &["get", "manifest", "hooked", "-n", NS],
    );
    assert!(manifest.contains("hooked-config") && !manifest.contains("helm.sh/hook"));

    // `helm get hooks` (the real helm) shows every hook with its template.
    let hooks = helm(
        &home,
        Some(&kubeconfig),
        &["get", "hooks", "hooked", "-n", NS],
    );
    for (path, name) in [
        ("hooked/templates/pre-config.yaml", "hooked-pre-config"),
        ("hooked/templates/pre-job.yaml", "hooked-migrate"),
        ("hooked/templates/post-config.yaml", "hooked-post"),
        ("hooked/templates/pre-delete.yaml", "hooked-goodbye"),
        (
            "hooked/templates/tests/test-connection.yaml",
            "hooked-test-connection",
        ),
    ] {
        assert!(
            hooks.contains(&format!("# Source: {path}")),
            "{path} in {hooks}"
        );
        assert!(
            hooks.contains(&format!("name: {name}")),
            "{name} in {hooks}"
        );
    }

    // The hook records are the ones the real helm makes of this chart (its
    // `install --dry-run` as the oracle), apart from the default delete policy written
    // into the hooks that ran.
    let chart_dir = env.tmp.path().join("charts/src/hooked");
    let oracle: Value = serde_json::from_str(&helm(
        &home,
        Some(&kubeconfig),
        &[
            "install",
            "hooked",
            chart_dir.to_str().unwrap(),
            "-n",
            "oracle",
            "--dry-run=client",
            "--set",
            "greeting=v1",
            "-o",
            "json",
        ],
    ))
    .unwrap();
    let records = |r: &Value, default_policy: bool| -> Vec<Value> {
        let mut hooks: Vec<Value> = r["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let mut policies = h["delete_policies"].clone();
                if default_policy && policies.is_null() {
                    policies = serde_json::json!(["before-hook-creation"]);
                }
                let manifest: Value =
                    serde_yaml_ng::from_str(h["manifest"].as_str().unwrap()).unwrap();
                serde_json::json!({"name": h["name"], "kind": h["kind"], "path": h["path"],
                    "events": h["events"], "weight": h["weight"], "delete_policies": policies,
                    "manifest": manifest})
            })
            .collect();
        hooks.sort_by_key(|h| h["name"].as_str().unwrap().to_string());
        hooks
    };
    let ran = ["hooked-pre-config", "hooked-migrate", "hooked-post"];
    let ours = records(&rel, false);
    let mut theirs = records(&oracle, false);
    for h in &mut theirs {
        if ran.contains(&h["name"].as_str().unwrap()) && h["delete_policies"].is_null() {
            h["delete_policies"] = serde_json::json!(["before-hook-creation"]);
        }
    }
    assert_eq!(ours, theirs);
    assert!(ours.iter().all(|h| h["name"] != "hooked-unknown"));
    let odd = ours.iter().find(|h| h["name"] == "hooked-b-hook").unwrap();
    assert_eq!(
        odd["events"],
        serde_json::json!(["post-delete", "pre-rollback"])
    );
    assert_eq!(odd["weight"], 3);

    // Upgrade: before-hook-creation replaces the pre-upgrade ConfigMap.
    env.apply_yaml(&release_yaml("    greeting: v2\n", ""))
        .await;
    env.wait_for(HR, NS, "hooked", TIMEOUT, "upgraded", |o| {
        reason(o) == "UpgradeSucceeded"
    })
    .await;
    let pre_cm2 = get(&env, "ConfigMap", "hooked-pre-config").await.unwrap();
    assert_eq!(pre_cm2["data"]["greeting"], "v2");
    assert_ne!(
        pre_cm2["metadata"]["uid"], pre_cm["metadata"]["uid"],
        "recreated, not updated"
    );
    assert_eq!(
        get(&env, "ConfigMap", "hooked-post").await.unwrap()["data"]["greeting"],
        "v2"
    );
    assert!(get(&env, "Job", "hooked-migrate").await.is_none());

    // A failing pre-upgrade Job fails the upgrade, naming the hook; nothing of the new
    // manifest is applied and the post-upgrade hook does not run.
    env.apply_yaml(&release_yaml(
        "    greeting: v3\n    jobBehavior: fail\n",
        "",
    ))
    .await;
    let hr = env
        .wait_for(HR, NS, "hooked", TIMEOUT, "upgrade failed", |o| {
            reason(o) == "UpgradeFailed"
        })
        .await
        .unwrap();
    let message = ready(Some(&hr)).unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("pre-upgrade hooks failed")
            && message.contains("Job/flux-system/hooked-migrate")
            && message.contains("hooked/templates/pre-job.yaml")
            && message.contains("BackoffLimitExceeded"),
        "{message}"
    );
    assert_eq!(
        get(&env, "ConfigMap", "hooked-config").await.unwrap()["data"]["greeting"],
        "v2",
        "the new manifest must not be applied"
    );
    assert_eq!(
        get(&env, "ConfigMap", "hooked-post").await.unwrap()["data"]["greeting"],
        "v2"
    );
    // No hook-failed policy: the failed Job stays for inspection, as with Helm.
    let failed_job = get(&env, "Job", "hooked-migrate")
        .await
        .expect("failed Job kept");
    assert!(
        failed_job["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Failed" && c["status"] == "True")
    );
    let history: Vec<Value> = serde_json::from_str(&helm(
        &home,
        Some(&kubeconfig),
        &["history", "hooked", "-n", NS, "-o", "json"],
    ))
    .unwrap();
    let last = history.last().unwrap();
    assert_eq!(last["revision"], 3);
    assert_eq!(last["status"], "failed");
    let description = last["description"].as_str().unwrap();
    assert!(
        description.starts_with("Upgrade \"hooked\" failed: pre-upgrade hooks failed:")
            && description.contains("hooked-migrate"),
        "{description}"
    );
    let failed = helm(
        &home,
        Some(&kubeconfig),
        &[
            "status",
            "hooked",
            "-n",
            NS,
            "--revision",
            "3",
            "-o",
            "json",
        ],
    );
    let failed: Value = serde_json::from_str(&failed).unwrap();
    assert_eq!(
        hook(&failed, "hooked-pre-config")["last_run"]["phase"],
        "Succeeded"
    );
    assert_eq!(
        hook(&failed, "hooked-migrate")["last_run"]["phase"],
        "Failed"
    );
    assert_eq!(hook(&failed, "hooked-post")["last_run"]["phase"], "");

    // A fixed upgrade replaces the failed Job (before-hook-creation) and succeeds.
    env.apply_yaml(&release_yaml("    greeting: v4\n", ""))
        .await;
    env.wait_for(HR, NS, "hooked", TIMEOUT, "upgraded again", |o| {
        reason(o) == "UpgradeSucceeded"
    })
    .await;
    assert_eq!(
        get(&env, "ConfigMap", "hooked-config").await.unwrap()["data"]["greeting"],
        "v4"
    );
    assert!(get(&env, "Job", "hooked-migrate").await.is_none());

    // Deletion runs the pre-delete hook, then uninstalls; the hook Job stays (its
    // default policy only deletes it before the next run).
    assert!(get(&env, "Job", "hooked-goodbye").await.is_none());
    let api: kube::Api<gyre_api::helm::HelmRelease> = kube::Api::namespaced(env.client.clone(), NS);
    api.delete("hooked", &Default::default()).await.unwrap();
    env.wait_for(HR, NS, "hooked", TIMEOUT, "deleted", |o| o.is_none())
        .await;
    let goodbye = get(&env, "Job", "hooked-goodbye")
        .await
        .expect("the pre-delete Job ran");
    assert!(
        goodbye["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Complete" && c["status"] == "True")
    );
    assert!(get(&env, "ConfigMap", "hooked-config").await.is_none());
    // post-delete ran after the objects went: the hook-succeeded ConfigMap came and
    // went, the one with the default policy stays.
    assert!(get(&env, "ConfigMap", "hooked-a-hook").await.is_some());
    assert!(get(&env, "ConfigMap", "hooked-b-hook").await.is_none());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn helm_tests_run_after_a_release_and_set_test_success() {
    let (mut env, home, kubeconfig, _server) = setup().await;
    let test_spec = "  test:\n    enable: true\n    filters:\n      - name: hooked-test-slow\n        exclude: true\n";
    env.apply_yaml(&release_yaml("    greeting: v1\n", test_spec))
        .await;

    // Install, then the tests: TestSuccess=True, and Ready says so.
    let hr = env
        .wait_for(HR, NS, "hooked", TIMEOUT, "tested", |o| {
            reason(o) == "TestSucceeded"
        })
        .await
        .unwrap();
    let ts = condition(&hr, "TestSuccess").expect("TestSuccess");
    assert_eq!(ts["status"], "True");
    assert_eq!(ts["reason"], "TestSucceeded");
    assert_eq!(
        ts["message"],
        "Helm test succeeded for release flux-system/hooked.v1 with chart hooked@1.0.0: 2 test hooks completed successfully"
    );
    assert_eq!(
        condition(&hr, "Released").unwrap()["reason"],
        "InstallSucceeded"
    );
    let snapshot = &hr["status"]["history"][0];
    assert_eq!(
        snapshot["testHooks"]["hooked-test-connection"]["phase"],
        "Succeeded"
    );
    assert!(snapshot["testHooks"]["hooked-test-slow"]["phase"].is_null());
    // The real helm shows the test suite of the stored release.
    let status = helm(&home, Some(&kubeconfig), &["status", "hooked", "-n", NS]);
    assert!(
        status.contains("TEST SUITE:     hooked-test-connection")
            && status.contains("Phase:          Succeeded"),
        "{status}"
    );
    assert!(
        !status.contains("hooked-test-slow"),
        "excluded test ran: {status}"
    );
    assert!(get(&env, "Pod", "hooked-test-slow").await.is_none());

    // An upgrade whose test fails: TestFailed, Ready=False, the release stays deployed.
    env.apply_yaml(&release_yaml(
        "    greeting: v2\n    testBehavior: fail\n",
        test_spec,
    ))
    .await;
    let hr = env
        .wait_for(HR, NS, "hooked", TIMEOUT, "test failed", |o| {
            reason(o) == "TestFailed"
        })
        .await
        .unwrap();
    let ts = condition(&hr, "TestSuccess").unwrap();
    assert_eq!(ts["status"], "False");
    let message = ts["message"].as_str().unwrap();
    assert!(
        message.starts_with("Helm test failed for release flux-system/hooked.v2 with chart hooked@1.0.0: test hook Pod/flux-system/hooked-test-connection")
            && message.contains("pod hooked-test-connection failed"),
        "{message}"
    );
    assert_eq!(ready(Some(&hr)).unwrap()["status"], "False");
    assert_eq!(condition(&hr, "Released").unwrap()["status"], "True");
    assert_eq!(
        hr["status"]["failures"], 1,
        "a failed test counts as a failure"
    );
    // A Warning event says so.
    let events: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(env.client.clone(), NS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = events.list(&Default::default()).await.unwrap();
        if list.items.iter().any(|e| {
            e.reason.as_deref() == Some("TestFailed") && e.type_.as_deref() == Some("Warning")
        }) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no TestFailed event"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rel = helm_status(&home, &kubeconfig);
    assert_eq!(rel["info"]["status"], "deployed");
    assert_eq!(
        hook(&rel, "hooked-test-connection")["last_run"]["phase"],
        "Failed"
    );

    // A reconcile without a change does not run the tests again and keeps TestFailed.
    let api: kube::Api<gyre_api::helm::HelmRelease> = kube::Api::namespaced(env.client.clone(), NS);
    api.patch(
        "hooked",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({
            "metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "again"}}
        })),
    )
    .await
    .unwrap();
    let hr = env
        .wait_for(HR, NS, "hooked", TIMEOUT, "handled", |o| {
            o.is_some_and(|o| o["status"]["lastHandledReconcileAt"] == "again")
        })
        .await
        .unwrap();
    assert_eq!(reason(Some(&hr)), "TestFailed");
    let again = helm_status(&home, &kubeconfig);
    assert_eq!(
        hook(&again, "hooked-test-connection")["last_run"],
        hook(&rel, "hooked-test-connection")["last_run"],
        "the tests ran again"
    );

    // ignoreFailures: Ready follows the release, TestSuccess still says False.
    let ignoring = format!("{test_spec}    ignoreFailures: true\n");
    env.apply_yaml(&release_yaml(
        "    greeting: v2\n    testBehavior: fail\n",
        &ignoring,
    ))
    .await;
    let hr = env
        .wait_for(HR, NS, "hooked", TIMEOUT, "failures ignored", |o| {
            ready(o).is_some_and(|c| c["status"] == "True")
        })
        .await
        .unwrap();
    assert_eq!(condition(&hr, "TestSuccess").unwrap()["status"], "False");

    // spec.test.timeout bounds a test that never finishes.
    env.apply_yaml(&release_yaml(
        "    greeting: v3\n    testBehavior: stuck\n",
        "  test:\n    enable: true\n    timeout: 2s\n",
    ))
    .await;
    let hr = env
        .wait_for(HR, NS, "hooked", TIMEOUT, "test timed out", |o| {
            reason(o) == "TestFailed"
                && o.is_some_and(|o| o["status"]["history"][0]["version"] == 3)
        })
        .await
        .unwrap();
    let message = ready(Some(&hr)).unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("hooked.v3") && message.contains("timed out after 2s"),
        "{message}"
    );
    // No filter now, but Helm stops at the first failing test: hooked-test-slow
    // (`test-success`, after it by name) never started.
    let rel = helm_status(&home, &kubeconfig);
    assert_eq!(hook(&rel, "hooked-test-slow")["last_run"]["phase"], "");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disable_hooks_and_disable_wait_for_jobs_are_honoured_per_action() {
    let (mut env, home, kubeconfig, _server) = setup().await;
    let yaml = |greeting: &str, extra: &str| {
        release_yaml(
            &format!("    greeting: {greeting}\n    slowJob: true\n"),
            extra,
        )
        .replace("timeout: 1m", "timeout: 3s")
    };
    // Install without hooks and without waiting for Jobs: the release's Job never
    // finishes, yet the install succeeds; the hooks are stored but none was created.
    env.apply_yaml(&yaml(
        "v1",
        "  install:\n    disableHooks: true\n    disableWaitForJobs: true\n",
    ))
    .await;
    env.wait_for(HR, NS, "hooked", TIMEOUT, "installed", |o| {
        reason(o) == "InstallSucceeded"
    })
    .await;
    assert!(get(&env, "Job", "hooked-slow").await.is_some());
    assert!(get(&env, "ConfigMap", "hooked-pre-config").await.is_none());
    assert!(get(&env, "ConfigMap", "hooked-post").await.is_none());
    let rel = helm_status(&home, &kubeconfig);
    assert_eq!(hook(&rel, "hooked-pre-config")["last_run"]["phase"], "");

    // The upgrade runs its hooks and, waiting for Jobs by default, fails on the stuck
    // Job after the timeout; the post-upgrade hook does not run.
    env.apply_yaml(&yaml(
        "v2",
        "  install:\n    disableHooks: true\n    disableWaitForJobs: true\n",
    ))
    .await;
    let hr = env
        .wait_for(HR, NS, "hooked", TIMEOUT, "upgrade timed out", |o| {
            reason(o) == "UpgradeFailed"
        })
        .await
        .unwrap();
    let message = ready(Some(&hr)).unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("hooked-slow"), "{message}");
    assert_eq!(
        get(&env, "ConfigMap", "hooked-pre-config").await.unwrap()["data"]["greeting"],
        "v2"
    );
    assert!(get(&env, "ConfigMap", "hooked-post").await.is_none());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_pre_install_hook_fails_the_install_and_hook_failed_deletes_it() {
    let (mut env, home, kubeconfig, _server) = setup().await;
    env.apply_yaml(&release_yaml(
        "    greeting: v1\n    jobBehavior: fail\n    jobPolicy: hook-failed\n",
        "",
    ))
    .await;
    let hr = env
        .wait_for(HR, NS, "hooked", TIMEOUT, "install failed", |o| {
            reason(o) == "InstallFailed"
        })
        .await
        .unwrap();
    let message = ready(Some(&hr)).unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("failed pre-install: pre-install hook Job/flux-system/hooked-migrate"),
        "{message}"
    );
    // Nothing of the manifest was applied; the earlier hook ran; hook-failed deleted
    // the failed Job.
    assert!(get(&env, "ConfigMap", "hooked-config").await.is_none());
    assert!(get(&env, "ConfigMap", "hooked-pre-config").await.is_some());
    assert!(get(&env, "Job", "hooked-migrate").await.is_none());
    let history: Vec<Value> = serde_json::from_str(&helm(
        &home,
        Some(&kubeconfig),
        &["history", "hooked", "-n", NS, "-o", "json"],
    ))
    .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["status"], "failed");
    let description = history[0]["description"].as_str().unwrap();
    assert!(
        description.starts_with("Release \"hooked\" failed: failed pre-install:"),
        "{description}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rollback_remediation_runs_the_pre_rollback_hooks_of_the_target() {
    let (mut env, home, kubeconfig, _server) = setup().await;
    let remediation = "  upgrade:\n    remediation:\n      retries: 1\n";
    env.apply_yaml(&release_yaml("    greeting: v1\n", remediation))
        .await;
    env.wait_for(HR, NS, "hooked", TIMEOUT, "installed", |o| {
        reason(o) == "InstallSucceeded"
    })
    .await;
    // The upgrade's pre-upgrade Job fails; the remediation rolls back to revision 1.
    env.apply_yaml(&release_yaml(
        "    greeting: v2\n    jobBehavior: fail\n",
        remediation,
    ))
    .await;
    env.wait_for(HR, NS, "hooked", TIMEOUT, "rolled back", |o| {
        o.is_some_and(|o| {
            o["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["reason"] == "RollbackSucceeded"))
        })
    })
    .await;
    let history: Vec<Value> = serde_json::from_str(&helm(
        &home,
        Some(&kubeconfig),
        &["history", "hooked", "-n", NS, "-o", "json"],
    ))
    .unwrap();
    let rollback = history
        .iter()
        .find(|r| r["description"] == "Rollback to 1")
        .unwrap_or_else(|| panic!("no rollback in {history:?}"));
    let revision = rollback["revision"].to_string();
    let rel: Value = serde_json::from_str(&helm(
        &home,
        Some(&kubeconfig),
        &[
            "status",
            "hooked",
            "-n",
            NS,
            "--revision",
            &revision,
            "-o",
            "json",
        ],
    ))
    .unwrap();
    // hooked-b-hook runs on pre-rollback (and post-delete); hook-succeeded removed it.
    assert_eq!(
        hook(&rel, "hooked-b-hook")["last_run"]["phase"],
        "Succeeded"
    );
    assert!(get(&env, "ConfigMap", "hooked-b-hook").await.is_none());
    assert_eq!(
        get(&env, "ConfigMap", "hooked-config").await.unwrap()["data"]["greeting"],
        "v1"
    );
    env.stop().await;
}
