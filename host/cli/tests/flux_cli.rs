//! The flux-shaped commands (`get`, `reconcile`, `suspend`/`resume`, `tree`,
//! `events`, `create`) of the real `gyre` binary against kube-sim with the
//! CRDs installed. The controller is not part of these tests: where a
//! command waits for it, a task in the test plays the controller's part by
//! writing the status the controller writes.

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

struct Env {
    _sim: kube_sim::KubeSim,
    client: kube::Client,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

/// kube-sim with the Gyre CRDs and the flux-system namespace.
async fn start() -> Env {
    let sim = kube_sim::KubeSim::start(kube_sim::Options::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).unwrap();
    let client = kube::Client::try_from(sim.client_config().await.unwrap()).unwrap();
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    for crd in gyre_api::crds::all() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    for ns in ["flux-system", "apps"] {
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
            )
            .await
            .unwrap();
    }
    Env {
        _sim: sim,
        client,
        dir,
        kubeconfig,
    }
}

impl Env {
    /// Runs `gyre ARGS --kubeconfig K` off the async runtime.
    async fn gyre(&self, args: &[&str]) -> Output {
        let mut argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        argv.push("--kubeconfig".into());
        argv.push(self.kubeconfig.display().to_string());
        let cache = self.dir.path().join("cache");
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_gyre"))
                .env("GYRE_CACHE_DIR", cache)
                // No NO_COLOR: output to a pipe must be plain without it.
                .args(&argv)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }

    fn api(&self, kind: &str, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ns, &resource(kind))
    }

    /// Creates an object from JSON; `status`, if any, is written to the
    /// status subresource.
    async fn create(&self, mut obj: Value) {
        let kind = obj["kind"].as_str().unwrap().to_string();
        let ns = obj["metadata"]["namespace"].as_str().unwrap().to_string();
        let name = obj["metadata"]["name"].as_str().unwrap().to_string();
        let status = obj.as_object_mut().unwrap().remove("status");
        let api = self.api(&kind, &ns);
        api.create(
            &PostParams::default(),
            &serde_json::from_value(obj).unwrap(),
        )
        .await
        .unwrap();
        if let Some(status) = status {
            api.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await
            .unwrap();
        }
    }

    async fn get(&self, kind: &str, ns: &str, name: &str) -> Value {
        serde_json::to_value(self.api(kind, ns).get(name).await.unwrap()).unwrap()
    }
}

fn resource(kind: &str) -> ApiResource {
    use gyre_api::{helm, kustomize, plugin, source};
    match kind {
        "GitRepository" => ApiResource::erase::<source::GitRepository>(&()),
        "OCIRepository" => ApiResource::erase::<source::OCIRepository>(&()),
        "HelmRepository" => ApiResource::erase::<source::HelmRepository>(&()),
        "Bucket" => ApiResource::erase::<source::Bucket>(&()),
        "Kustomization" => ApiResource::erase::<kustomize::Kustomization>(&()),
        "HelmRelease" => ApiResource::erase::<helm::HelmRelease>(&()),
        "Plugin" => ApiResource::erase::<plugin::Plugin>(&()),
        other => panic!("no resource for {other}"),
    }
}

fn ready(status: &str, message: &str) -> Value {
    json!({"type": "Ready", "status": status, "reason": "Test", "message": message,
           "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

fn git_repo(name: &str, ns: &str) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"interval": "1m", "url": "https://github.com/stefanprodan/podinfo", "ref": {"branch": "master"}},
    })
}

fn kustomization(name: &str, ns: &str) -> Value {
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"interval": "10m", "prune": true, "path": "./kustomize",
                 "sourceRef": {"kind": "GitRepository", "name": "podinfo"}},
    })
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Plays the controller for `kinds` in `ns`: every object whose
/// `requestedAt` annotation or generation has not been handled gets
/// `lastHandledReconcileAt`, `observedGeneration` and a Ready condition —
/// False with "boom" when annotated `test.gyre.dev/outcome: fail`; objects
/// annotated `ignore` are never handled. Returns the task (abort it to stop).
fn fake_controller(client: kube::Client, ns: &str, kinds: &[&str]) -> tokio::task::JoinHandle<()> {
    let apis: Vec<(String, Api<DynamicObject>)> = kinds
        .iter()
        .map(|k| {
            (
                k.to_string(),
                Api::namespaced_with(client.clone(), ns, &resource(k)),
            )
        })
        .collect();
    tokio::spawn(async move {
        loop {
            for (kind, api) in &apis {
                let Ok(list) = api.list(&Default::default()).await else {
                    continue;
                };
                for o in list.items {
                    let o = serde_json::to_value(&o).unwrap();
                    let annotations = &o["metadata"]["annotations"];
                    let outcome = annotations["test.gyre.dev/outcome"].as_str().unwrap_or("");
                    if outcome == "ignore" || o["spec"]["suspend"] == true {
                        continue;
                    }
                    let requested = annotations["reconcile.fluxcd.io/requestedAt"].clone();
                    let status = &o["status"];
                    if status["lastHandledReconcileAt"] == requested
                        && status["observedGeneration"] == o["metadata"]["generation"]
                    {
                        continue;
                    }
                    let condition = if outcome == "fail" {
                        ready("False", "kustomize build failed: boom")
                    } else if kind == "Kustomization" {
                        ready("True", "Applied revision: master@sha1:0123")
                    } else {
                        ready("True", "stored artifact for revision 'master@sha1:0123'")
                    };
                    let mut new = json!({
                        "observedGeneration": o["metadata"]["generation"],
                        "conditions": [condition],
                        "lastHandledReconcileAt": requested,
                    });
                    if kind == "Kustomization" {
                        new["lastAppliedRevision"] = "master@sha1:0123".into();
                    } else {
                        new["artifact"] = json!({"path": "x", "url": "http://x", "revision": "master@sha1:0123",
                            "lastUpdateTime": "2026-01-01T00:00:00Z"});
                    }
                    let name = o["metadata"]["name"].as_str().unwrap();
                    let _ = api
                        .patch_status(
                            name,
                            &PatchParams::default(),
                            &Patch::Merge(json!({ "status": new })),
                        )
                        .await;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_lists_objects_with_flux_columns_and_filters_by_namespace_and_status() {
    let env = start().await;
    let mut ok = kustomization("podinfo", "flux-system");
    ok["status"] = json!({"lastAppliedRevision": "main@sha1:abc", "conditions": [ready("True", "Applied revision: main@sha1:abc")]});
    env.create(ok).await;
    let mut bad = kustomization("broken", "apps");
    bad["spec"]["suspend"] = true.into();
    bad["status"] = json!({"conditions": [ready("False", "kustomize build failed: no such file")]});
    env.create(bad).await;
    let mut repo = git_repo("podinfo", "flux-system");
    repo["status"] = json!({"artifact": {"path": "p", "url": "http://x", "revision": "master@sha1:def",
        "lastUpdateTime": "2026-01-01T00:00:00Z"}, "conditions": [ready("True", "stored artifact")]});
    env.create(repo).await;

    let out = env.gyre(&["get", "kustomizations"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "NAME     REVISION       SUSPENDED  READY  MESSAGE\n\
         podinfo  main@sha1:abc  False      True   Applied revision: main@sha1:abc\n"
    );

    let (stdout, _) = text(&env.gyre(&["get", "ks", "-A"]).await);
    assert_eq!(
        stdout,
        "NAMESPACE    NAME     REVISION       SUSPENDED  READY  MESSAGE\n\
         apps         broken                  True       False  kustomize build failed: no such file\n\
         flux-system  podinfo  main@sha1:abc  False      True   Applied revision: main@sha1:abc\n"
    );

    let (stdout, _) = text(
        &env.gyre(&["get", "ks", "-A", "--status-selector", "ready=false"])
            .await,
    );
    assert!(
        stdout.contains("broken") && !stdout.contains("podinfo"),
        "{stdout}"
    );

    let (stdout, _) = text(&env.gyre(&["get", "ks", "--no-header"]).await);
    assert!(
        stdout.starts_with("podinfo  ") && stdout.lines().count() == 1,
        "{stdout}"
    );

    let (stdout, _) = text(&env.gyre(&["get", "sources", "git"]).await);
    assert!(
        stdout.contains("podinfo  master@sha1:def  False      True   stored artifact"),
        "{stdout}"
    );

    let (stdout, _) = text(&env.gyre(&["get", "all"]).await);
    assert!(
        stdout.contains("gitrepository/podinfo") && stdout.contains("kustomization/podinfo"),
        "{stdout}"
    );

    // On a terminal (script(1) gives it one) READY is coloured: True green.
    if std::path::Path::new("/usr/bin/script").exists() {
        let command = format!(
            "{} get ks --kubeconfig {}",
            env!("CARGO_BIN_EXE_gyre"),
            env.kubeconfig.display()
        );
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("/usr/bin/script")
                .args(["-qec", &command, "/dev/null"])
                .env_remove("NO_COLOR")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let tty = String::from_utf8_lossy(&out.stdout);
        assert!(tty.contains("\x1b[32mTrue"), "{tty:?}");
    }

    let out = env.gyre(&["get", "helmreleases"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success() && stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("no HelmRelease objects found in flux-system namespace"),
        "{stderr}"
    );
}

/// A `gyre ... --watch` process and its stdout, line by line.
struct Watcher {
    child: std::process::Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Watcher {
    fn start(env: &Env, args: &[&str]) -> Watcher {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gyre"))
            .args(args)
            .arg("--kubeconfig")
            .arg(&env.kubeconfig)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        Watcher { child, lines }
    }

    async fn next(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(20), self.lines.recv())
            .await
            .expect("a line within 20s")
            .expect("gyre still running")
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_the_rows_of_objects_that_change() {
    let env = start().await;
    let mut ks = kustomization("podinfo", "flux-system");
    ks["status"] = json!({"conditions": [ready("True", "all good")]});
    env.create(ks).await;
    let mut watch = Watcher::start(&env, &["get", "ks", "--watch"]);
    assert!(watch.next().await.starts_with("NAME"));
    assert!(watch.next().await.contains("all good"));
    env.api("Kustomization", "flux-system")
        .patch_status(
            "podinfo",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [ready("False", "now broken")]}})),
        )
        .await
        .unwrap();
    let line = watch.next().await;
    assert!(line.contains("False  now broken"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_watch_prints_new_events_as_they_come() {
    let env = start().await;
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(env.client.clone(), "flux-system");
    let event = |name: &str, message: &str| {
        serde_json::from_value::<k8s_openapi::api::core::v1::Event>(json!({
            "metadata": {"name": name, "namespace": "flux-system"},
            "involvedObject": {"kind": "Kustomization", "name": "podinfo", "namespace": "flux-system"},
            "reason": "Progressing", "message": message, "type": "Normal",
            "lastTimestamp": "2026-01-01T00:00:00Z",
        }))
        .unwrap()
    };
    events
        .create(&PostParams::default(), &event("first", "first event"))
        .await
        .unwrap();
    let mut watch = Watcher::start(&env, &["events", "--watch"]);
    assert!(watch.next().await.starts_with("LAST SEEN"));
    assert!(watch.next().await.contains("first event"));
    events
        .create(&PostParams::default(), &event("second", "second event"))
        .await
        .unwrap();
    let line = watch.next().await;
    assert!(
        line.contains("Kustomization/podinfo  second event"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_requests_a_reconcile_and_reports_the_controllers_verdict() {
    let env = start().await;
    env.create(git_repo("podinfo", "flux-system")).await;
    env.create(kustomization("podinfo", "flux-system")).await;
    let mut failing = kustomization("failing", "flux-system");
    failing["metadata"]["annotations"] = json!({"test.gyre.dev/outcome": "fail"});
    env.create(failing).await;
    let mut ignored = kustomization("ignored", "flux-system");
    ignored["metadata"]["annotations"] = json!({"test.gyre.dev/outcome": "ignore"});
    env.create(ignored).await;
    let mut suspended = kustomization("suspended", "flux-system");
    suspended["spec"]["suspend"] = true.into();
    env.create(suspended).await;
    env.create(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "flux-system"},
        "spec": {"interval": "5m", "chart": {"spec": {"chart": "podinfo",
                 "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}},
    }))
    .await;
    let controller = fake_controller(
        env.client.clone(),
        "flux-system",
        &["GitRepository", "Kustomization", "HelmRelease"],
    );

    let out = env.gyre(&["reconcile", "hr", "web", "--force"]).await;
    assert!(out.status.success(), "{}", text(&out).1);
    let hr = env.get("HelmRelease", "flux-system", "web").await;
    let annotations = &hr["metadata"]["annotations"];
    assert_eq!(
        annotations["reconcile.fluxcd.io/forceAt"],
        annotations["reconcile.fluxcd.io/requestedAt"]
    );
    let out = env.gyre(&["reconcile", "ks", "podinfo", "--force"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out)
            .1
            .contains("--force and --reset apply to helmreleases")
    );

    let out = env.gyre(&["reconcile", "source", "git", "podinfo"]).await;
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("► annotating GitRepository podinfo in flux-system namespace"),
        "{stderr}"
    );
    assert!(
        stderr.contains("✔ fetched revision master@sha1:0123"),
        "{stderr}"
    );
    let repo = env.get("GitRepository", "flux-system", "podinfo").await;
    let requested = repo["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"].clone();
    assert!(requested.as_str().unwrap().ends_with('Z'), "{requested}");
    assert_eq!(repo["status"]["lastHandledReconcileAt"], requested);

    let out = env
        .gyre(&["reconcile", "ks", "podinfo", "--with-source"])
        .await;
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("✔ applied revision master@sha1:0123"),
        "{stderr}"
    );
    let again = env.get("GitRepository", "flux-system", "podinfo").await;
    assert_ne!(
        again["status"]["lastHandledReconcileAt"], requested,
        "--with-source reconciles the source again"
    );

    let out = env.gyre(&["reconcile", "kustomization", "failing"]).await;
    let (_, stderr) = text(&out);
    assert!(!out.status.success(), "Ready=False must fail: {stderr}");
    assert!(
        stderr.contains(
            "Kustomization flux-system/failing reconciliation failed: kustomize build failed: boom"
        ),
        "{stderr}"
    );

    let out = env.gyre(&["reconcile", "ks", "suspended"]).await;
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("Kustomization flux-system/suspended is suspended")
            && stderr.contains("gyre resume kustomization suspended -n flux-system"),
        "{stderr}"
    );

    let out = env.gyre(&["reconcile", "ks", "nope"]).await;
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "Kustomization flux-system/nope not found (hint: gyre get kustomizations -A)"
        ),
        "{stderr}"
    );

    let out = env
        .gyre(&["reconcile", "ks", "ignored", "--timeout", "1s"])
        .await;
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("timed out after 1s waiting for Kustomization flux-system/ignored"),
        "{stderr}"
    );
    controller.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_and_resume_toggle_spec_suspend_and_resume_waits_for_a_reconcile() {
    let env = start().await;
    env.create(kustomization("a", "flux-system")).await;
    env.create(kustomization("b", "flux-system")).await;
    let controller = fake_controller(env.client.clone(), "flux-system", &["Kustomization"]);

    let out = env.gyre(&["suspend", "ks", "a"]).await;
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(
        env.get("Kustomization", "flux-system", "a").await["spec"]["suspend"],
        true
    );
    assert_eq!(
        env.get("Kustomization", "flux-system", "b").await["spec"]["suspend"],
        Value::Null
    );
    let (stdout, _) = text(&env.gyre(&["get", "ks", "a"]).await);
    assert!(
        stdout.contains("a     ") && stdout.contains("True "),
        "{stdout}"
    );

    let out = env.gyre(&["suspend", "ks", "--all"]).await;
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(
        env.get("Kustomization", "flux-system", "b").await["spec"]["suspend"],
        true
    );

    let out = env.gyre(&["resume", "ks", "a"]).await;
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("✔ applied revision master@sha1:0123"),
        "{stderr}"
    );
    let a = env.get("Kustomization", "flux-system", "a").await;
    assert_eq!(a["spec"]["suspend"], false);
    assert_eq!(
        a["status"]["lastHandledReconcileAt"],
        a["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"]
    );

    let out = env.gyre(&["resume", "ks", "--all"]).await;
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(
        env.get("Kustomization", "flux-system", "b").await["spec"]["suspend"],
        false
    );

    let out = env.gyre(&["suspend", "source", "git", "missing"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out)
            .1
            .contains("GitRepository flux-system/missing not found")
    );
    controller.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_draws_the_inventory_and_descends_into_kustomizations_and_helm_releases() {
    let env = start().await;
    let mut root = kustomization("infra", "flux-system");
    root["status"] = json!({"inventory": {"entries": [
        {"id": "_apps__Namespace", "v": "v1"},
        {"id": "flux-system_apps_kustomize.toolkit.fluxcd.io_Kustomization", "v": "v1"},
        {"id": "apps_settings__ConfigMap", "v": "v1"},
    ]}});
    env.create(root).await;
    let mut child = kustomization("apps", "flux-system");
    child["status"] = json!({"inventory": {"entries": [
        {"id": "apps_podinfo_apps_Deployment", "v": "v1"},
        {"id": "apps_web_helm.toolkit.fluxcd.io_HelmRelease", "v": "v2"},
        {"id": "apps_podinfo__Service", "v": "v1"},
    ]}});
    env.create(child).await;
    env.create(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"interval": "5m", "chart": {"spec": {"chart": "podinfo",
                 "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}},
    }))
    .await;
    // The release as Helm's Secret driver stores it: base64(gzip(JSON)).
    let release = json!({"name": "web", "version": 2, "manifest":
        "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"});
    let stored = {
        use base64::Engine;
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(release.to_string().as_bytes()).unwrap();
        base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())
    };
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(env.client.clone(), "apps");
    for (version, data) in [("1", "old"), ("2", stored.as_str())] {
        let secret = serde_json::from_value(json!({
            "metadata": {"name": format!("sh.helm.release.v1.web.v{version}"), "namespace": "apps",
                         "labels": {"owner": "helm", "name": "web", "version": version}},
            "type": "helm.sh/release.v1",
            "stringData": {"release": data},
        }))
        .unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }

    let out = env.gyre(&["tree", "kustomization", "infra"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "Kustomization/flux-system/infra\n\
         ├── Namespace/apps\n\
         ├── Kustomization/flux-system/apps\n\
         │   ├── Deployment/apps/podinfo\n\
         │   ├── HelmRelease/apps/web\n\
         │   │   ├── ServiceAccount/apps/web\n\
         │   │   └── Deployment/apps/web\n\
         │   └── Service/apps/podinfo\n\
         └── ConfigMap/apps/settings\n"
    );
    let out = env.gyre(&["tree", "ks", "nope"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out)
            .1
            .contains("Kustomization flux-system/nope not found")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_lists_flux_object_events_oldest_first_and_filters_by_object() {
    let env = start().await;
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(env.client.clone(), "flux-system");
    let event =
        |name: &str, kind: &str, obj: &str, reason: &str, message: &str, at: &str, type_: &str| {
            serde_json::from_value::<k8s_openapi::api::core::v1::Event>(json!({
                "metadata": {"name": name, "namespace": "flux-system"},
                "involvedObject": {"kind": kind, "name": obj, "namespace": "flux-system"},
                "reason": reason, "message": message, "type": type_,
                "firstTimestamp": at, "lastTimestamp": at, "count": 1,
            }))
            .unwrap()
        };
    for e in [
        event(
            "e2",
            "Kustomization",
            "podinfo",
            "ReconciliationSucceeded",
            "Reconciliation finished",
            "2026-01-01T00:00:10Z",
            "Normal",
        ),
        event(
            "e1",
            "GitRepository",
            "podinfo",
            "GitOperationFailed",
            "auth failed",
            "2026-01-01T00:00:05Z",
            "Warning",
        ),
        event(
            "e3",
            "Pod",
            "web",
            "Pulled",
            "image pulled",
            "2026-01-01T00:00:07Z",
            "Normal",
        ),
    ] {
        events.create(&PostParams::default(), &e).await.unwrap();
    }

    let out = env.gyre(&["events"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "header and two Flux events, not the Pod's: {stdout}"
    );
    assert!(
        lines[0].starts_with("LAST SEEN  TYPE     REASON"),
        "{stdout}"
    );
    assert!(
        lines[1].contains("Warning  GitOperationFailed")
            && lines[1].contains("GitRepository/podinfo  auth failed"),
        "{stdout}"
    );
    assert!(
        lines[2].contains("Kustomization/podinfo"),
        "oldest first: {stdout}"
    );

    let (stdout, _) = text(
        &env.gyre(&["events", "--for", "Kustomization/podinfo"])
            .await,
    );
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.contains("Reconciliation finished"), "{stdout}");

    let (stdout, _) = text(&env.gyre(&["events", "--for", "GitRepository"]).await);
    assert!(
        stdout.contains("auth failed") && !stdout.contains("Reconciliation finished"),
        "{stdout}"
    );
    let (stdout, _) = text(&env.gyre(&["events", "--types", "warning"]).await);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.contains("GitOperationFailed"), "{stdout}");

    let (stdout, _) = text(&env.gyre(&["events", "-A"]).await);
    assert!(stdout.starts_with("NAMESPACE    LAST SEEN"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_applies_with_field_manager_gyre_and_waits_for_ready() {
    let env = start().await;
    let controller = fake_controller(
        env.client.clone(),
        "flux-system",
        &["GitRepository", "Kustomization"],
    );
    let out = env
        .gyre(&[
            "create",
            "source",
            "git",
            "podinfo",
            "--url",
            "https://github.com/stefanprodan/podinfo",
            "--branch",
            "master",
            "--interval",
            "30s",
        ])
        .await;
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("✔ GitRepository source created"),
        "{stderr}"
    );
    assert!(
        stderr.contains("✔ fetched revision master@sha1:0123"),
        "{stderr}"
    );
    let repo = env.get("GitRepository", "flux-system", "podinfo").await;
    assert_eq!(repo["spec"]["ref"]["branch"], "master");
    assert_eq!(repo["spec"]["interval"], "30s");
    assert_eq!(repo["metadata"]["managedFields"][0]["manager"], "gyre");

    // Applying again with a change updates the object.
    let out = env
        .gyre(&[
            "create",
            "source",
            "git",
            "podinfo",
            "--url",
            "https://github.com/stefanprodan/podinfo",
            "--branch",
            "main",
        ])
        .await;
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(text(&out).1.contains("GitRepository source configured"));
    let repo = env.get("GitRepository", "flux-system", "podinfo").await;
    assert_eq!(repo["spec"]["ref"]["branch"], "main");

    let out = env
        .gyre(&[
            "create",
            "kustomization",
            "podinfo",
            "--source",
            "GitRepository/podinfo",
            "--path",
            "./kustomize",
            "--prune",
            "--target-namespace",
            "default",
        ])
        .await;
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("✔ applied revision master@sha1:0123"),
        "{stderr}"
    );
    let ks = env.get("Kustomization", "flux-system", "podinfo").await;
    assert_eq!(ks["spec"]["targetNamespace"], "default");
    assert_eq!(ks["spec"]["prune"], true);
    controller.abort();

    // Nothing reconciles it now: the wait times out with a hint.
    let out = env
        .gyre(&[
            "create",
            "ks",
            "other",
            "--source",
            "podinfo",
            "--timeout",
            "1s",
        ])
        .await;
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("timed out") && stderr.contains("gyre check"),
        "{stderr}"
    );
}

#[test]
fn create_export_prints_the_object_flux_would_print() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gyre"))
        .args([
            "create",
            "source",
            "git",
            "podinfo",
            "--url",
            "https://github.com/stefanprodan/podinfo",
            "--branch",
            "master",
            "--export",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: podinfo\n  namespace: flux-system\nspec:\n  interval: 1m0s\n  ref:\n    branch: master\n  url: https://github.com/stefanprodan/podinfo\n"
    );
}
