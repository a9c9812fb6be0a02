//! The Flux docs' HelmRepository + HelmRelease (podinfo, `replicaCount: 3`, resources)
//! against kube-sim, a local Helm repository (a chart packaged with the real `helm` and
//! served over HTTP) and the real `helm` reading Gyre's release records: install is
//! revision 1; a values change upgrades to revision 2 and supersedes 1; an object that
//! left the chart is pruned; a broken values change fails with the template's message and
//! keeps what was applied; a reconcile with nothing changed writes no revision; deletion
//! uninstalls.

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
fail: false
";

const DEPLOYMENT: &str = r#"{{- if .Values.fail }}{{ fail "podinfo: values.fail is set" }}{{ end -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    app.kubernetes.io/name: podinfo
    app.kubernetes.io/instance: {{ .Release.Name }}
    helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
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
          ports:
            - name: http
              containerPort: 9898
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
      targetPort: http
"#;

const CONFIGMAP: &str = r#"{{- if .Values.extraConfig }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-extra
data:
  greeting: {{ .Values.greeting | default "hello" | quote }}
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
    // An older version too, for a chart version change.
    helm(
        home,
        None,
        &[
            "package",
            src.to_str().unwrap(),
            "--version",
            "6.5.3",
            "--app-version",
            "6.5.3",
            "-d",
            repo.to_str().unwrap(),
        ],
    );
    helm(home, None, &["repo", "index", repo.to_str().unwrap()]);
    repo
}

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
  releaseName: podinfo
  maxHistory: 4
  install:
    remediation:
      retries: 3
  upgrade:
    remediation:
      remediateLastFailure: false
  valuesFrom:
    - kind: ConfigMap
      name: podinfo-values
    - kind: ConfigMap
      name: podinfo-values
      valuesKey: tag
      targetPath: image.tag
    - kind: Secret
      name: not-there
      optional: true
  values:
{values}"#
    )
}

const VALUES_V1: &str = "    replicaCount: 3
    resources:
      limits:
        memory: 256Mi
      requests:
        cpu: 100m
        memory: 64Mi
";

fn latest(hr: &Value) -> &Value {
    &hr["status"]["history"][0]
}

fn reason(hr: Option<&Value>) -> String {
    ready(hr)
        .and_then(|c| c["reason"].as_str())
        .unwrap_or_default()
        .to_string()
}

async fn deployment(env: &Env) -> Option<Value> {
    env.get("apps/v1", "Deployment", "flux-system", "podinfo")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn helm_release_installs_upgrades_prunes_fails_and_uninstalls_as_helm_sees_it() {
    let mut env = Env::new().await;
    let home = env.tmp.path().join("helm-home");
    let repo = package_chart(&env.tmp.path().join("charts"), &home);
    let (server, _) = gyre_test_support::static_server(&repo, None);
    let kubeconfig = env.tmp.path().join("kubeconfig");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    env.start();

    env.apply_yaml(&format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo-values
  namespace: flux-system
data:
  values.yaml: |
    replicaCount: 2
    greeting: from-configmap
  tag: "6.5.3"
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 5m
  url: {}
---
{}"#,
        server.url(),
        release_yaml(VALUES_V1)
    ))
    .await;

    // Install: revision 1.
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "installed", |o| {
            reason(o) == "InstallSucceeded"
        })
        .await
        .unwrap();
    let st = &hr["status"];
    assert_eq!(
        ready(Some(&hr)).unwrap()["message"],
        "Helm install succeeded for release flux-system/podinfo.v1 with chart podinfo@6.5.4"
    );
    assert_eq!(st["helmChart"], "flux-system/flux-system-podinfo");
    assert_eq!(st["lastAttemptedRevision"], "6.5.4");
    assert_eq!(st["storageNamespace"], "flux-system");
    assert_eq!(st["history"].as_array().unwrap().len(), 1);
    assert_eq!(latest(&hr)["version"], 1);
    assert_eq!(latest(&hr)["status"], "deployed");
    assert_eq!(latest(&hr)["chartName"], "podinfo");
    assert_eq!(latest(&hr)["chartVersion"], "6.5.4");
    assert_eq!(latest(&hr)["configDigest"], st["lastAttemptedConfigDigest"]);
    assert!(
        st["lastAttemptedConfigDigest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let released = hr["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Released")
        .unwrap();
    assert_eq!(released["status"], "True");
    let chart = env
        .get(
            "source.toolkit.fluxcd.io/v1",
            "HelmChart",
            "flux-system",
            "flux-system-podinfo",
        )
        .await
        .expect("the generated HelmChart");
    assert_eq!(
        chart["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"],
        "podinfo"
    );
    assert_eq!(chart["spec"]["version"], "6.5.*");

    // Values: inline over valuesFrom, targetPath, the optional Secret skipped.
    let d = deployment(&env).await.expect("the Deployment");
    assert_eq!(d["spec"]["replicas"], 3);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "ghcr.io/stefanprodan/podinfo:6.5.3");
    assert_eq!(c["resources"]["requests"]["cpu"], "100m");
    assert_eq!(c["resources"]["limits"]["memory"], "256Mi");
    assert_eq!(
        d["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"],
        "podinfo"
    );
    assert_eq!(
        d["metadata"]["labels"]["helm.toolkit.fluxcd.io/namespace"],
        "flux-system"
    );
    assert!(
        env.get("v1", "Service", "flux-system", "podinfo")
            .await
            .is_some()
    );

    // An event for the install.
    let events: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(env.client.clone(), "flux-system");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = events.list(&Default::default()).await.unwrap();
        let found = list.items.iter().any(|e| {
            e.reason.as_deref() == Some("InstallSucceeded")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("podinfo")
        });
        if found {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no InstallSucceeded event: {:?}",
            list.items.iter().map(|e| &e.reason).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The real helm sees revision 1.
    let list: Value = serde_json::from_str(&helm(
        &home,
        Some(&kubeconfig),
        &["list", "-n", "flux-system", "-o", "json"],
    ))
    .unwrap();
    assert_eq!(list[0]["name"], "podinfo");
    assert_eq!(list[0]["revision"], "1");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "podinfo-6.5.4");
    let values: Value = serde_json::from_str(&helm(
        &home,
        Some(&kubeconfig),
        &[
            "get",
            "values",
            "podinfo",
            "-n",
            "flux-system",
            "-o",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(values["replicaCount"], 3);
    assert_eq!(values["image"]["tag"], "6.5.3");

    // A reconcile with nothing changed writes no revision.
    let api: kube::Api<gyre_api::helm::HelmRelease> =
        kube::Api::namespaced(env.client.clone(), "flux-system");
    api.patch(
        "podinfo",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({
            "metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "noop-1"}}
        })),
    )
    .await
    .unwrap();
    env.wait_for(HR, "flux-system", "podinfo", TIMEOUT, "handled", |o| {
        o.is_some_and(|o| o["status"]["lastHandledReconcileAt"] == "noop-1")
    })
    .await;
    let history = helm_history(&home, &kubeconfig);
    assert_eq!(history.len(), 1, "{history:?}");

    // A values change upgrades: revision 2, revision 1 superseded.
    let v2 =
        format!("{VALUES_V1}    extraConfig: true\n").replace("replicaCount: 3", "replicaCount: 4");
    env.apply_yaml(&release_yaml(&v2)).await;
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "upgraded", |o| {
            reason(o) == "UpgradeSucceeded" && o.is_some_and(|o| latest(o)["version"] == 2)
        })
        .await
        .unwrap();
    assert_eq!(
        ready(Some(&hr)).unwrap()["message"],
        "Helm upgrade succeeded for release flux-system/podinfo.v2 with chart podinfo@6.5.4"
    );
    let versions: Vec<(i64, String)> = hr["status"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["version"].as_i64().unwrap(),
                s["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    // Flux's history: the latest release down to the previous successful one.
    assert_eq!(
        versions,
        [(2, "deployed".to_string()), (1, "superseded".to_string())]
    );
    assert_eq!(deployment(&env).await.unwrap()["spec"]["replicas"], 4);
    let extra = env
        .get("v1", "ConfigMap", "flux-system", "podinfo-extra")
        .await
        .expect("the ConfigMap the upgrade added");
    assert_eq!(extra["data"]["greeting"], "from-configmap");
    let history = helm_history(&home, &kubeconfig);
    let statuses: Vec<(i64, &str)> = history
        .iter()
        .map(|h| {
            (
                h["revision"].as_i64().unwrap(),
                h["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(statuses, [(1, "superseded"), (2, "deployed")]);
    assert_eq!(history[1]["description"], "Upgrade complete");

    // An object that left the chart is pruned (revision 3).
    env.apply_yaml(&release_yaml(
        &v2.replace("extraConfig: true", "extraConfig: false"),
    ))
    .await;
    env.wait_for(HR, "flux-system", "podinfo", TIMEOUT, "revision 3", |o| {
        reason(o) == "UpgradeSucceeded" && o.is_some_and(|o| latest(o)["version"] == 3)
    })
    .await;
    assert!(
        env.get("v1", "ConfigMap", "flux-system", "podinfo-extra")
            .await
            .is_none(),
        "the ConfigMap that left the release is pruned"
    );

    // An upgrade whose Deployment never becomes healthy fails: revision 4 is recorded
    // `failed` with Helm's description, revision 3 stays deployed, and the failure is not
    // retried without a change (no remediation).
    // The spec changes too (replicas), so the Deployment's generation moves and the
    // health check cannot pass on the status of the previous rollout.
    let unhealthy = format!(
        "{}    deploymentAnnotations:\n      kube-sim.gyre.dev/behavior: fail\n",
        v2.replace("replicaCount: 4", "replicaCount: 6")
    );
    env.apply_yaml(&release_yaml(&unhealthy)).await;
    let hr = env
        .wait_for(
            HR,
            "flux-system",
            "podinfo",
            TIMEOUT,
            "upgrade failed",
            |o| reason(o) == "UpgradeFailed",
        )
        .await
        .unwrap();
    let message = ready(Some(&hr)).unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with(
            "Helm upgrade failed for release flux-system/podinfo with chart podinfo@6.5.4:"
        ) && message.contains("Deployment/flux-system/podinfo"),
        "{message}"
    );
    let history = helm_history(&home, &kubeconfig);
    let statuses: Vec<(i64, &str)> = history
        .iter()
        .map(|h| {
            (
                h["revision"].as_i64().unwrap(),
                h["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (1, "superseded"),
            (2, "superseded"),
            (3, "deployed"),
            (4, "failed")
        ],
        "{history:?}"
    );
    assert!(
        history[3]["description"]
            .as_str()
            .unwrap()
            .starts_with("Upgrade \"podinfo\" failed: "),
        "{history:?}"
    );
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "stalled", |o| {
            o.is_some_and(|o| {
                o["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Stalled" && c["status"] == "True")
                })
            })
        })
        .await
        .unwrap();
    let versions: Vec<(i64, String)> = hr["status"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["version"].as_i64().unwrap(),
                s["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [(4, "failed".to_string()), (3, "deployed".to_string())]
    );
    assert_eq!(hr["status"]["upgradeFailures"], 1);
    assert_eq!(hr["status"]["lastAttemptedReleaseAction"], "upgrade");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(helm_history(&home, &kubeconfig).len(), 4, "not retried");

    // A broken values change fails with the chart's message, writes no revision and
    // keeps what was applied.
    env.apply_yaml(&release_yaml(&format!("{v2}    fail: true\n")))
        .await;
    let hr = env
        .wait_for(
            HR,
            "flux-system",
            "podinfo",
            TIMEOUT,
            "render failed",
            |o| {
                ready(o).is_some_and(|c| {
                    c["reason"] == "UpgradeFailed"
                        && c["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("podinfo: values.fail is set"))
                })
            },
        )
        .await
        .unwrap();
    let message = ready(Some(&hr)).unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with(
            "Helm upgrade failed for release flux-system/podinfo with chart podinfo@6.5.4:"
        ),
        "{message}"
    );
    let d = deployment(&env).await.expect("the Deployment stays");
    // What the last apply left (the failed revision's objects, as Helm leaves them).
    assert_eq!(d["spec"]["replicas"], 6);
    assert!(
        env.get("v1", "Service", "flux-system", "podinfo")
            .await
            .is_some()
    );
    assert_eq!(helm_history(&home, &kubeconfig).len(), 4);

    // Fixing the values recovers: revision 5 deployed, revision 1 pruned (maxHistory 4).
    env.apply_yaml(&release_yaml(
        &v2.replace("replicaCount: 4", "replicaCount: 5"),
    ))
    .await;
    env.wait_for(HR, "flux-system", "podinfo", TIMEOUT, "revision 5", |o| {
        reason(o) == "UpgradeSucceeded" && o.is_some_and(|o| latest(o)["version"] == 5)
    })
    .await;
    assert_eq!(deployment(&env).await.unwrap()["spec"]["replicas"], 5);
    let history = helm_history(&home, &kubeconfig);
    let statuses: Vec<(i64, &str)> = history
        .iter()
        .map(|h| {
            (
                h["revision"].as_i64().unwrap(),
                h["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (2, "superseded"),
            (3, "superseded"),
            (4, "failed"),
            (5, "deployed")
        ]
    );

    // A chart version change updates the generated HelmChart and upgrades to its chart.
    env.apply_yaml(
        &release_yaml(&v2.replace("replicaCount: 4", "replicaCount: 5"))
            .replace("\"6.5.*\"", "\"6.5.3\""),
    )
    .await;
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "chart 6.5.3", |o| {
            reason(o) == "UpgradeSucceeded" && o.is_some_and(|o| latest(o)["version"] == 6)
        })
        .await
        .unwrap();
    assert_eq!(latest(&hr)["chartVersion"], "6.5.3");
    assert_eq!(hr["status"]["lastAttemptedRevision"], "6.5.3");
    let list: Value = serde_json::from_str(&helm(
        &home,
        Some(&kubeconfig),
        &["list", "-n", "flux-system", "-o", "json"],
    ))
    .unwrap();
    assert_eq!(list[0]["chart"], "podinfo-6.5.3");
    assert_eq!(list[0]["revision"], "6");

    // Deletion uninstalls: objects, release records and the generated HelmChart go.
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
    assert!(
        env.get(
            "source.toolkit.fluxcd.io/v1",
            "HelmChart",
            "flux-system",
            "flux-system-podinfo"
        )
        .await
        .is_none()
    );
    let list: Value = serde_json::from_str(&helm(
        &home,
        Some(&kubeconfig),
        &["list", "-a", "-n", "flux-system", "-o", "json"],
    ))
    .unwrap();
    assert_eq!(list, serde_json::json!([]));
    env.stop().await;
}

fn helm_history(home: &Path, kubeconfig: &Path) -> Vec<Value> {
    let out = helm(
        home,
        Some(kubeconfig),
        &["history", "podinfo", "-n", "flux-system", "-o", "json"],
    );
    serde_json::from_str(&out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chart_ref_target_namespace_and_suspend_follow_flux() {
    let mut env = Env::new().await;
    let home = env.tmp.path().join("helm-home");
    let repo = package_chart(&env.tmp.path().join("charts"), &home);
    let (server, _) = gyre_test_support::static_server(&repo, None);
    let kubeconfig = env.tmp.path().join("kubeconfig");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    env.start();

    let release = |replicas: u32, suspend: bool| {
        format!(
            r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 10m
  suspend: {suspend}
  chartRef:
    kind: HelmChart
    name: podinfo
  targetNamespace: apps
  install:
    disableWait: true
  values:
    replicaCount: {replicas}
"#
        )
    };
    env.apply_yaml(&format!(
        r#"apiVersion: v1
kind: Namespace
metadata:
  name: apps
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 5m
  url: {}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 5m
  chart: podinfo
  version: ">=6.0.0"
  sourceRef:
    kind: HelmRepository
    name: podinfo
---
{}"#,
        server.url(),
        release(2, false)
    ))
    .await;

    // Release name `<targetNamespace>-<name>`, objects in the target namespace, records
    // in the HelmRelease's namespace.
    let hr = env
        .wait_for(HR, "flux-system", "podinfo", TIMEOUT, "installed", |o| {
            reason(o) == "InstallSucceeded"
        })
        .await
        .unwrap();
    assert_eq!(latest(&hr)["name"], "apps-podinfo");
    assert_eq!(latest(&hr)["namespace"], "apps");
    assert!(hr["status"]["helmChart"].is_null());
    let d = env
        .get("apps/v1", "Deployment", "apps", "apps-podinfo")
        .await
        .expect("the Deployment in the target namespace");
    assert_eq!(d["spec"]["replicas"], 2);
    let list: Value = serde_json::from_str(&helm(
        &home,
        Some(&kubeconfig),
        &["list", "-n", "flux-system", "-o", "json"],
    ))
    .unwrap();
    assert_eq!(list[0]["name"], "apps-podinfo");
    assert_eq!(list[0]["namespace"], "apps");
    assert_eq!(list[0]["revision"], "1");

    // Suspended: a values change does nothing.
    env.apply_yaml(&release(3, true)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let d = env
        .get("apps/v1", "Deployment", "apps", "apps-podinfo")
        .await
        .unwrap();
    assert_eq!(d["spec"]["replicas"], 2, "suspended");

    // Resumed: the change is released as revision 2.
    env.apply_yaml(&release(3, false)).await;
    env.wait_for(HR, "flux-system", "podinfo", TIMEOUT, "upgraded", |o| {
        reason(o) == "UpgradeSucceeded" && o.is_some_and(|o| latest(o)["version"] == 2)
    })
    .await;
    let d = env
        .get("apps/v1", "Deployment", "apps", "apps-podinfo")
        .await
        .unwrap();
    assert_eq!(d["spec"]["replicas"], 3);

    // The referenced HelmChart is not the HelmRelease's to delete.
    let api: kube::Api<gyre_api::helm::HelmRelease> =
        kube::Api::namespaced(env.client.clone(), "flux-system");
    api.delete("podinfo", &Default::default()).await.unwrap();
    env.wait_for(HR, "flux-system", "podinfo", TIMEOUT, "deleted", |o| {
        o.is_none()
    })
    .await;
    assert!(
        env.get("apps/v1", "Deployment", "apps", "apps-podinfo")
            .await
            .is_none()
    );
    assert!(
        env.get(
            "source.toolkit.fluxcd.io/v1",
            "HelmChart",
            "flux-system",
            "podinfo"
        )
        .await
        .is_some()
    );
    env.stop().await;
}
