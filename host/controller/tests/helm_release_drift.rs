//! HelmRelease drift detection and CRD policies against kube-sim, a chart packaged and
//! served with the real `helm`, and the real `helm` reading Gyre's release records (issue
//! #9).
//!
//! Drift: a person scales and re-images the release's Deployment and deletes its Service;
//! `enabled` restores both without a new Helm revision, `warn` only reports, an ignore rule
//! on `/spec/replicas` keeps the person's replicas while the image is restored, and an
//! object annotated `helm.toolkit.fluxcd.io/driftDetection: disabled` is left alone — all
//! on the reconcile interval, with nothing else triggering a reconcile.
//!
//! CRDs: `install.crds: Skip` creates no CRD (and the chart's custom resource then fails
//! clearly); the default creates it outside the release manifest; an upgrade with the
//! default leaves a changed CRD alone; `upgrade.crds: CreateReplace` updates it; uninstall
//! keeps it.

mod common;

use std::path::Path;
use std::time::Duration;

use common::helm::helm;
use common::{Env, is_ready, ready};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

const HR: (&str, &str) = ("helm.toolkit.fluxcd.io/v2", "HelmRelease");
// Generous: the first render compiles the Helm plugin when the shared cache is cold.
const TIMEOUT: Duration = Duration::from_secs(240);
const NS: &str = "flux-system";
const IMAGE: &str = "ghcr.io/stefanprodan/podinfo:6.5.4";
const EDITED_IMAGE: &str = "ghcr.io/someone/podinfo:hotfix";

/// Writes `files` as a chart under `root/src/<dir>` and packages it into `repo`.
fn package(root: &Path, home: &Path, repo: &Path, dir: &str, files: &[(&str, &str)]) {
    let src = root.join("src").join(dir);
    for (path, text) in files {
        let p = src.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    std::fs::create_dir_all(repo).unwrap();
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
}

fn helm_history(home: &Path, kubeconfig: &Path, release: &str) -> Vec<(i64, String)> {
    let out = helm(
        home,
        Some(kubeconfig),
        &["history", release, "-n", NS, "-o", "json"],
    );
    let v: Vec<Value> = serde_json::from_str(&out).unwrap();
    v.iter()
        .map(|h| {
            (
                h["revision"].as_i64().unwrap(),
                h["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn reason(hr: Option<&Value>) -> String {
    ready(hr)
        .and_then(|c| c["reason"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The notes of the events about HelmRelease `name` with `reason` and `type_`.
async fn events(env: &Env, name: &str, reason: &str, type_: &str) -> Vec<String> {
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(env.client.clone(), NS);
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some(reason)
                && e.type_.as_deref() == Some(type_)
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
        })
        .filter_map(|e| e.note)
        .collect()
}

/// How often `reason` was published about HelmRelease `name` (a repeated event is counted
/// in its series, and keeps the note it was first published with).
async fn event_count(env: &Env, name: &str, reason: &str) -> i32 {
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(env.client.clone(), NS);
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some(reason)
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
        })
        .map(|e| e.series.map_or(1, |s| s.count))
        .sum()
}

/// Waits until `reason` was published about `name` more than `before` times.
async fn wait_count_above(env: &Env, name: &str, reason: &str, before: i32) -> i32 {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let n = event_count(env, name, reason).await;
        if n > before {
            return n;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{reason} was not published again for {name} (still {n})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for an event whose note satisfies `check`; returns the note.
async fn wait_event(
    env: &Env,
    name: &str,
    reason: &str,
    type_: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let notes = events(env, name, reason, type_).await;
        if let Some(n) = notes.iter().find(|n| check(n)) {
            return n.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no matching {type_} {reason} event for {name}; seen: {notes:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// --- drift -----------------------------------------------------------------------------

const PODINFO_CHART: &str = "apiVersion: v2
name: podinfo
version: 6.5.4
appVersion: 6.5.4
";

const PODINFO_VALUES: &str = "replicaCount: 1
image: ghcr.io/stefanprodan/podinfo:6.5.4
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
          image: {{ .Values.image }}
          ports:
            - name: http
              containerPort: 9898
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

/// The HelmRelease: interval 2s, so drift is handled on the interval alone.
fn podinfo_release(drift: &str, values: &str) -> String {
    format!(
        r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 2s
  timeout: 1m
  chart:
    spec:
      chart: podinfo
      version: "6.5.4"
      sourceRef:
        kind: HelmRepository
        name: podinfo
      interval: 5m
  driftDetection:
{drift}
  values:
    replicaCount: 1
{values}"#
    )
}

async fn deployment(env: &Env) -> Value {
    env.get("apps/v1", "Deployment", NS, "podinfo")
        .await
        .expect("the Deployment")
}

fn image(d: &Value) -> &str {
    d["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
}

/// What a person does with `kubectl edit`: an update under their own field manager.
async fn edit_deployment(env: &Env, patch: Value) {
    let ar = ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk("apps", "v1", "Deployment"),
        "deployments",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), NS, &ar);
    let pp = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..Default::default()
    };
    api.patch("podinfo", &pp, &Patch::Merge(&patch))
        .await
        .unwrap();
}

async fn delete_service(env: &Env) {
    let api: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(env.client.clone(), NS);
    api.delete("podinfo", &DeleteParams::default())
        .await
        .unwrap();
    assert!(env.get("v1", "Service", NS, "podinfo").await.is_none());
}

/// Waits until the HelmRelease has handled its current generation and is ready.
async fn wait_handled(env: &Env) -> Value {
    env.wait_for(HR, NS, "podinfo", TIMEOUT, "generation handled", |o| {
        o.is_some_and(|o| {
            o["status"]["observedGeneration"] == o["metadata"]["generation"] && is_ready(Some(o))
        })
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drift_is_corrected_reported_ignored_and_opted_out_on_the_interval_as_flux_does() {
    let mut env = Env::new().await;
    let home = env.tmp.path().join("helm-home");
    let root = env.tmp.path().join("charts");
    let repo = root.join("repo");
    package(
        &root,
        &home,
        &repo,
        "podinfo",
        &[
            ("Chart.yaml", PODINFO_CHART),
            ("values.yaml", PODINFO_VALUES),
            ("templates/deployment.yaml", DEPLOYMENT),
            ("templates/service.yaml", SERVICE),
        ],
    );
    helm(&home, None, &["repo", "index", repo.to_str().unwrap()]);
    let (server, _) = gyre_test_support::static_server(&repo, None);
    let kubeconfig = env.tmp.path().join("kubeconfig");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    env.start();

    env.apply_yaml(&format!(
        r#"apiVersion: source.toolkit.fluxcd.io/v1
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
        podinfo_release("    mode: enabled", "")
    ))
    .await;
    env.wait_for(HR, NS, "podinfo", TIMEOUT, "installed", |o| {
        reason(o) == "InstallSucceeded"
    })
    .await;
    let d = deployment(&env).await;
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(image(&d), IMAGE);

    // `enabled`: a person scales, re-images and deletes; the next interval restores all.
    edit_deployment(
        &env,
        json!({"spec": {"replicas": 5, "template": {"spec": {"containers": [
            {"name": "podinfo", "image": EDITED_IMAGE}]}}}}),
    )
    .await;
    delete_service(&env).await;
    let started = std::time::Instant::now();
    env.wait_for(
        ("apps/v1", "Deployment"),
        NS,
        "podinfo",
        TIMEOUT,
        "drift corrected",
        |o| o.is_some_and(|d| d["spec"]["replicas"] == 1 && image(d) == IMAGE),
    )
    .await;
    let svc = env
        .wait_for(
            ("v1", "Service"),
            NS,
            "podinfo",
            TIMEOUT,
            "recreated",
            |o| o.is_some(),
        )
        .await
        .unwrap();
    println!("drift corrected {:?} after the edit", started.elapsed());
    assert_eq!(
        svc["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"],
        "podinfo"
    );
    let detected = wait_event(&env, "podinfo", "DriftDetected", "Warning", |n| {
        n.contains("Service/flux-system/podinfo removed")
    })
    .await;
    assert!(
        detected.starts_with(
            "Cluster state of release flux-system/podinfo.v1 has drifted from the desired state:\n"
        ),
        "{detected}"
    );
    assert!(
        detected.contains(
            "Deployment/flux-system/podinfo changed (0 additions, 2 changes, 0 removals)"
        ),
        "{detected}"
    );
    let corrected = wait_event(&env, "podinfo", "DriftCorrected", "Normal", |n| {
        n.contains("Service/flux-system/podinfo created")
    })
    .await;
    assert!(
        corrected
            .starts_with("Cluster state of release flux-system/podinfo.v1 has been corrected:\n")
            && corrected.contains("Deployment/flux-system/podinfo configured"),
        "{corrected}"
    );
    // No new Helm revision, and the release stays ready.
    assert_eq!(
        helm_history(&home, &kubeconfig, "podinfo"),
        [(1, "deployed".to_string())]
    );
    let hr = env.get(HR.0, HR.1, NS, "podinfo").await.unwrap();
    assert!(is_ready(Some(&hr)), "{hr:#}");
    assert_eq!(reason(Some(&hr)), "InstallSucceeded");
    assert_eq!(hr["status"]["history"].as_array().unwrap().len(), 1);

    // `warn`: reported, left as the person made it.
    env.apply_yaml(&podinfo_release("    mode: warn", "")).await;
    wait_handled(&env).await;
    // In sync now: no drift reported until the person acts.
    let before = event_count(&env, "podinfo", "DriftDetected").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(event_count(&env, "podinfo", "DriftDetected").await, before);
    edit_deployment(&env, json!({"spec": {"replicas": 4}})).await;
    // A repeated event keeps its first note (the recorder counts it in the series), so the
    // new report shows as a higher count.
    wait_count_above(&env, "podinfo", "DriftDetected", before).await;
    // Several intervals later, still the person's.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(deployment(&env).await["spec"]["replicas"], 4);
    let hr = env.get(HR.0, HR.1, NS, "podinfo").await.unwrap();
    assert!(
        is_ready(Some(&hr)),
        "warn does not fail the release: {hr:#}"
    );

    // An ignore rule on /spec/replicas: the person's replicas stay, the image is restored.
    env.apply_yaml(&podinfo_release(
        "    mode: enabled
    ignore:
      - paths: [\"/spec/replicas\"]
        target:
          kind: Deploy.*
          labelSelector: app.kubernetes.io/name=podinfo",
        "",
    ))
    .await;
    wait_handled(&env).await;
    edit_deployment(
        &env,
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "podinfo", "image": EDITED_IMAGE}]}}}}),
    )
    .await;
    env.wait_for(
        ("apps/v1", "Deployment"),
        NS,
        "podinfo",
        TIMEOUT,
        "image restored",
        |o| o.is_some_and(|d| image(d) == IMAGE),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        deployment(&env).await["spec"]["replicas"],
        4,
        "the ignored field keeps the person's value"
    );

    // The opt-out annotation: the Deployment is not compared; the Service still is.
    env.apply_yaml(&podinfo_release(
        "    mode: enabled",
        "    deploymentAnnotations:\n      helm.toolkit.fluxcd.io/driftDetection: disabled\n",
    ))
    .await;
    env.wait_for(HR, NS, "podinfo", TIMEOUT, "upgraded", |o| {
        reason(o) == "UpgradeSucceeded"
            && o.is_some_and(|o| o["status"]["history"][0]["version"] == 2)
    })
    .await;
    assert_eq!(
        deployment(&env).await["spec"]["replicas"],
        1,
        "the upgrade applies"
    );
    edit_deployment(
        &env,
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "podinfo", "image": EDITED_IMAGE}]}}}}),
    )
    .await;
    delete_service(&env).await;
    env.wait_for(
        ("v1", "Service"),
        NS,
        "podinfo",
        TIMEOUT,
        "recreated",
        |o| o.is_some(),
    )
    .await;
    // The check that restored the Service saw the Deployment and left it.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(image(&deployment(&env).await), EDITED_IMAGE);

    // A comparison that cannot be made is `Ready=False` (`StateError`), retried; once the
    // API answers again, the drift is corrected and the release is ready.
    env.sim.add_fault(
        kube_sim::FaultRule::error(500)
            .on_verb("patch")
            .on_resource("services"),
    );
    delete_service(&env).await;
    let hr = env
        .wait_for(HR, NS, "podinfo", TIMEOUT, "state error", |o| {
            reason(o) == "StateError"
        })
        .await
        .unwrap();
    let message = ready(Some(&hr)).unwrap()["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Could not determine release state: unable to determine cluster state: Service/flux-system/podinfo dry-run failed"
        ),
        "{message}"
    );
    env.sim.clear_faults();
    env.wait_for(HR, NS, "podinfo", TIMEOUT, "ready again", is_ready)
        .await;
    assert!(env.get("v1", "Service", NS, "podinfo").await.is_some());

    assert_eq!(
        helm_history(&home, &kubeconfig, "podinfo"),
        [(1, "superseded".to_string()), (2, "deployed".to_string())],
        "drift correction writes no revision"
    );
    env.stop().await;
}

// --- CRD policies ----------------------------------------------------------------------

fn widgets_chart(version: &str) -> String {
    format!("apiVersion: v2\nname: widgets\nversion: {version}\n")
}

fn widget_crd(generation: &str) -> String {
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
  annotations:
    example.com/crd-generation: "{generation}"
spec:
  group: example.com
  names:
    kind: Widget
    listKind: WidgetList
    plural: widgets
    singular: widget
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"#
    )
}

const WIDGET: &str = r#"apiVersion: example.com/v1
kind: Widget
metadata:
  name: {{ .Release.Name }}
spec:
  size: {{ .Values.size }}
"#;

fn widgets_release(name: &str, version: &str, size: u32, crds: &str) -> String {
    format!(
        r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
  namespace: flux-system
spec:
  interval: 10m
  timeout: 1m
  chart:
    spec:
      chart: widgets
      version: "{version}"
      sourceRef:
        kind: HelmRepository
        name: widgets
      interval: 5m
{crds}
  values:
    size: {size}
"#
    )
}

async fn crd(env: &Env) -> Option<Value> {
    crd_named(env, "widgets.example.com").await
}

async fn crd_named(env: &Env, name: &str) -> Option<Value> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    api.get_opt(name)
        .await
        .unwrap()
        .map(|c| serde_json::to_value(c).unwrap())
}

fn crd_generation(crd: &Value) -> &str {
    crd["metadata"]["annotations"]["example.com/crd-generation"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crds_follow_the_install_and_upgrade_policies_and_stay_out_of_the_release() {
    let mut env = Env::new().await;
    let home = env.tmp.path().join("helm-home");
    let root = env.tmp.path().join("charts");
    let repo = root.join("repo");
    // 0.2.0 changes the Widget CRD and adds a Gadget CRD.
    for (version, generation) in [("0.1.0", "1"), ("0.2.0", "2")] {
        let gadget = widget_crd(generation)
            .replace("widget", "gadget")
            .replace("Widget", "Gadget");
        let mut files = vec![
            ("Chart.yaml", widgets_chart(version)),
            ("values.yaml", "size: 1\n".to_string()),
            ("crds/widget.yaml", widget_crd(generation)),
            ("templates/widget.yaml", WIDGET.to_string()),
        ];
        if version == "0.2.0" {
            files.push(("crds/gadget.yaml", gadget));
        }
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        package(&root, &home, &repo, &format!("widgets-{version}"), &files);
    }
    helm(&home, None, &["repo", "index", repo.to_str().unwrap()]);
    let (server, _) = gyre_test_support::static_server(&repo, None);
    let kubeconfig = env.tmp.path().join("kubeconfig");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    env.start();

    // `install.crds: Skip`: no CRD, so the chart's Widget fails, naming what is missing.
    env.apply_yaml(&format!(
        r#"apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: widgets
  namespace: flux-system
spec:
  interval: 5m
  url: {}
---
{}"#,
        server.url(),
        widgets_release("skipped", "0.1.0", 1, "  install:\n    crds: Skip")
    ))
    .await;
    let hr = env
        .wait_for(HR, NS, "skipped", TIMEOUT, "install failed", |o| {
            reason(o) == "InstallFailed"
        })
        .await
        .unwrap();
    let message = ready(Some(&hr)).unwrap()["message"].as_str().unwrap();
    assert!(
        message.contains("Widget/skipped has an unknown kind: no Widget in example.com/v1"),
        "{message}"
    );
    assert!(crd(&env).await.is_none(), "Skip creates no CRD");

    // The default (`Create`) on install: the CRD is created, labelled, and not part of the
    // release manifest.
    env.apply_yaml(&widgets_release("widgets", "0.1.0", 1, ""))
        .await;
    env.wait_for(HR, NS, "widgets", TIMEOUT, "installed", |o| {
        reason(o) == "InstallSucceeded"
    })
    .await;
    let c = crd(&env).await.expect("the CRD");
    assert_eq!(crd_generation(&c), "1");
    assert_eq!(
        c["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"],
        "widgets"
    );
    assert_eq!(
        c["metadata"]["labels"]["helm.toolkit.fluxcd.io/namespace"],
        NS
    );
    let w = env
        .get("example.com/v1", "Widget", NS, "widgets")
        .await
        .expect("the Widget");
    assert_eq!(w["spec"]["size"], 1);
    let manifest = helm(
        &home,
        Some(&kubeconfig),
        &["get", "manifest", "widgets", "-n", NS],
    );
    assert!(manifest.contains("kind: Widget"), "{manifest}");
    assert!(
        !manifest.contains("CustomResourceDefinition"),
        "crds/ is not part of the release, as in Helm: {manifest}"
    );

    // Upgrade with the default policy (`Create`, as helm-controller applies it): the
    // chart's changed CRD is left alone, its new CRD is created.
    env.apply_yaml(&widgets_release("widgets", "0.2.0", 1, ""))
        .await;
    env.wait_for(HR, NS, "widgets", TIMEOUT, "upgraded to 0.2.0", |o| {
        reason(o) == "UpgradeSucceeded"
            && o.is_some_and(|o| o["status"]["history"][0]["chartVersion"] == "0.2.0")
    })
    .await;
    assert_eq!(crd_generation(&crd(&env).await.unwrap()), "1");
    let gadget = crd_named(&env, "gadgets.example.com")
        .await
        .expect("the new CRD");
    assert_eq!(crd_generation(&gadget), "2");

    // `upgrade.crds: CreateReplace`: the next upgrade updates it.
    env.apply_yaml(&widgets_release(
        "widgets",
        "0.2.0",
        2,
        "  upgrade:\n    crds: CreateReplace",
    ))
    .await;
    env.wait_for(HR, NS, "widgets", TIMEOUT, "upgraded, size 2", |o| {
        reason(o) == "UpgradeSucceeded"
            && o.is_some_and(|o| o["status"]["history"][0]["version"] == 3)
    })
    .await;
    assert_eq!(crd_generation(&crd(&env).await.unwrap()), "2");
    assert_eq!(
        env.get("example.com/v1", "Widget", NS, "widgets")
            .await
            .unwrap()["spec"]["size"],
        2
    );
    assert_eq!(
        helm_history(&home, &kubeconfig, "widgets"),
        [
            (1, "superseded".to_string()),
            (2, "superseded".to_string()),
            (3, "deployed".to_string())
        ]
    );

    // Uninstall deletes the release's objects, never the CRD of crds/ (as Helm).
    let api: Api<gyre_api::helm::HelmRelease> = Api::namespaced(env.client.clone(), NS);
    api.delete("widgets", &Default::default()).await.unwrap();
    env.wait_for(HR, NS, "widgets", TIMEOUT, "deleted", |o| o.is_none())
        .await;
    assert!(
        env.get("example.com/v1", "Widget", NS, "widgets")
            .await
            .is_none()
    );
    assert!(crd(&env).await.is_some(), "the CRD stays");
    env.stop().await;
}
