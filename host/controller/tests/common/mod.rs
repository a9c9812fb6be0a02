//! End-to-end harness: kube-sim with Gyre's CRDs, a real Git smart-HTTP server, and the
//! controllers running in-process on the same library `gyre controller` uses.

#![allow(dead_code)]

pub mod helm;
pub mod oci;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gyre_controller::{Context, Options};
use gyre_test_support::{Server, TestRepo, git_http_server};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{ApiResource, Discovery};
use kube_sim::{KubeSim, WorkloadMode};
use serde_json::Value;

/// A cluster, a Git server and a running controller.
pub struct Env {
    pub sim: KubeSim,
    pub client: kube::Client,
    pub config: kube::Config,
    pub git: Server,
    pub repos: PathBuf,
    pub tmp: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub controller: Option<tokio::task::JoinHandle<()>>,
}

/// A plugin cache shared by all tests of this binary, so the kustomize component is
/// compiled once per machine rather than once per test.
pub fn plugin_cache() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gyre-controller-plugin-cache");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Env {
    /// kube-sim (workloads become ready), CRDs installed, `flux-system` created, a Git
    /// server, and no controller yet.
    pub async fn new() -> Env {
        // RUST_LOG=gyre_controller=debug shows what the controllers do.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let sim = KubeSim::start(kube_sim::Options::default()).await.unwrap();
        sim.set_workload_mode(WorkloadMode::Ready);
        let config = sim.client_config().await.unwrap();
        let client = kube::Client::try_from(config.clone()).unwrap();
        gyre_controller::bootstrap::install_crds(&client, "test")
            .await
            .unwrap();
        gyre_controller::bootstrap::ensure_namespace(&client, "flux-system", "test")
            .await
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let repos = tmp.path().join("served");
        std::fs::create_dir_all(&repos).unwrap();
        let git = git_http_server(&repos, None);
        Env {
            sim,
            client,
            config,
            git,
            repos,
            tmp,
            stop: None,
            controller: None,
        }
    }

    /// Controller options for this environment.
    pub fn options(&self, name: &str) -> Options {
        let mut o = Options::new(self.tmp.path().join(format!("store-{name}")));
        o.plugin_cache = plugin_cache();
        o.requeue_dependency = Duration::from_secs(1);
        o.instance = name.into();
        o
    }

    /// Starts the controllers in this process.
    pub fn start(&mut self) {
        let options = self.options("gyre");
        self.start_with(options);
    }

    /// Starts the controllers with `options`.
    pub fn start_with(&mut self, options: Options) {
        let ctx =
            Arc::new(Context::new(self.client.clone(), self.config.clone(), options).unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        self.stop = Some(tx);
        self.controller = Some(tokio::spawn(gyre_controller::runner::run(
            ctx,
            async move {
                let _ = rx.await;
            },
        )));
    }

    /// A Git repository served at `<git url>/<name>.git` with `files` on `master`.
    pub fn repo(&self, name: &str, files: &[(&str, &str)]) -> TestRepo {
        TestRepo::new(&self.tmp.path().join("work"), &self.repos, name, files)
    }

    /// Applies multi-document YAML with server-side apply, as `kubectl apply --server-side`.
    pub async fn apply_yaml(&self, yaml: &str) {
        let discovery = Discovery::new(self.client.clone()).run().await.unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(yaml) {
            let v: Value = serde::Deserialize::deserialize(doc).unwrap();
            if v.is_null() {
                continue;
            }
            let api = self.api_for(&discovery, &v);
            let name = v["metadata"]["name"].as_str().unwrap().to_string();
            api.patch(
                &name,
                &PatchParams::apply("kubectl").force(),
                &Patch::Apply(&v),
            )
            .await
            .unwrap_or_else(|e| panic!("applying {name}: {e}"));
        }
    }

    fn api_for(&self, discovery: &Discovery, v: &Value) -> Api<DynamicObject> {
        let (group, version) = match v["apiVersion"].as_str().unwrap().split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), v["apiVersion"].as_str().unwrap().to_string()),
        };
        let kind = v["kind"].as_str().unwrap();
        let (ar, _) = discovery
            .groups()
            .flat_map(|g| g.versioned_resources(&version))
            .find(|(r, _)| r.group == group && r.kind == kind)
            .unwrap_or_else(|| panic!("no API for {group}/{version} {kind}"));
        let ar: ApiResource = ar;
        match v["metadata"]["namespace"].as_str() {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        }
    }

    /// The object as JSON, or `None`.
    pub async fn get(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let discovery = Discovery::new(self.client.clone()).run().await.unwrap();
        let probe = serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": {"namespace": ns}});
        let api = self.api_for(&discovery, &probe);
        api.get_opt(name)
            .await
            .unwrap()
            .map(|o| serde_json::to_value(o).unwrap())
    }

    /// Polls `check` on the object until it returns true, or panics after `timeout` with
    /// the last state seen.
    pub async fn wait_for(
        &self,
        (api_version, kind): (&str, &str),
        ns: &str,
        name: &str,
        timeout: Duration,
        what: &str,
        check: impl Fn(Option<&Value>) -> bool,
    ) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let obj = self.get(api_version, kind, ns, name).await;
            if check(obj.as_ref()) {
                return obj;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {kind} {ns}/{name}: {what}\nlast seen: {}",
                    serde_json::to_string_pretty(&obj).unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops the controllers (gracefully) and waits for them.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.controller.take() {
            let _ = tokio::time::timeout(Duration::from_secs(20), h).await;
        }
    }
}

/// The `Ready` condition of an object.
pub fn ready(obj: Option<&Value>) -> Option<&Value> {
    obj?["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
}

/// Whether `Ready` is `True`.
pub fn is_ready(obj: Option<&Value>) -> bool {
    ready(obj).is_some_and(|c| c["status"] == "True")
}
