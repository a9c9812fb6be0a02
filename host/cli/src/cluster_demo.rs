//! `gyre demo`: Gyre's main job on an embedded default, with no cluster and no
//! network. It starts `kube-sim` (an in-process Kubernetes API server), turns
//! the bundled podinfo example into a real Git repository, starts the
//! controllers, applies the Flux getting-started pair (GitRepository +
//! Kustomization) and shows what got reconciled.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use gyre_api::kustomize::Kustomization;
use gyre_api::meta::{condition_types, find_condition};
use gyre_api::source::GitRepository;
use gyre_controller::{Context, Options};
use kube::api::{Api, Patch, PatchParams};

use crate::progress::Step;

const EXAMPLE: &[(&str, &str)] = &[
    (
        "deploy/podinfo/deployment.yaml",
        include_str!("../demo/podinfo/deployment.yaml"),
    ),
    (
        "deploy/podinfo/service.yaml",
        include_str!("../demo/podinfo/service.yaml"),
    ),
    (
        "deploy/podinfo/config.yaml",
        include_str!("../demo/podinfo/config.yaml"),
    ),
];

fn getting_started(url: &str) -> String {
    format!(
        r#"apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 1m
  ref:
    branch: main
  url: {url}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 10m
  path: ./deploy/podinfo
  prune: true
  sourceRef:
    kind: GitRepository
    name: podinfo
  targetNamespace: default
  timeout: 2m
  wait: true
"#
    )
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Gyre Demo",
            "-c",
            "user.email=demo@gyre.dev",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .context(
            "running git (hint: the demo's example repository needs git: apt-get install git)",
        )?;
    anyhow::ensure!(
        out.status.success(),
        "git {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// Writes the example into a Git repository with one commit on `main`.
fn example_repo(dir: &Path) -> anyhow::Result<()> {
    for (path, body) in EXAMPLE {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("example paths have a directory"))?;
        std::fs::write(&p, body)?;
    }
    git(dir, &["init", "-q", "-b", "main"])?;
    git(dir, &["add", "-A"])?;
    git(dir, &["commit", "-q", "-m", "podinfo example"])
}

async fn apply_yaml(client: &kube::Client, yaml: &str) -> anyhow::Result<()> {
    let pp = PatchParams::apply("gyre-demo").force();
    for doc in yaml.split("\n---\n") {
        let v: serde_json::Value = serde_yaml_ng::from_str(doc)?;
        let name = v["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match v["kind"].as_str() {
            Some("GitRepository") => {
                let api: Api<GitRepository> = Api::namespaced(client.clone(), "flux-system");
                api.patch(&name, &pp, &Patch::Apply(&v)).await?;
            }
            Some("Kustomization") => {
                let api: Api<Kustomization> = Api::namespaced(client.clone(), "flux-system");
                api.patch(&name, &pp, &Patch::Apply(&v)).await?;
            }
            other => anyhow::bail!("unexpected kind {other:?} in the demo objects"),
        }
    }
    Ok(())
}

/// Polls until the object's Ready condition is True (or False with a final
/// reason), returning its message.
async fn wait_ready<K>(
    api: &Api<K>,
    name: &str,
    conditions: impl Fn(&K) -> Vec<gyre_api::meta::Condition>,
) -> anyhow::Result<String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(obj) = api.get_opt(name).await? {
            let conds = conditions(&obj);
            if let Some(c) = find_condition(&conds, condition_types::READY) {
                if c.is_true() {
                    return Ok(c.message.clone());
                }
                if c.reason != "Progressing"
                    && c.reason != "DependencyNotReady"
                    && !c.message.is_empty()
                    && c.reason != "ArtifactFailed"
                {
                    anyhow::bail!("{name} failed: {} ({})", c.message, c.reason);
                }
            }
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{name} did not become ready within 3 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs the demo. With `keep_running`, the API server stays up (its
/// kubeconfig written to a file) until Ctrl-C.
pub async fn run(cache_dir: &Path, keep_running: bool) -> anyhow::Result<()> {
    let work = tempfile::Builder::new().prefix("gyre-demo-").tempdir()?;

    let step = Step::start("starting kube-sim, an in-process Kubernetes API server");
    let sim = kube_sim::KubeSim::start(kube_sim::Options::default()).await?;
    // kube-sim plays the workload controllers too, so `wait: true` sees the
    // Deployment become available.
    sim.set_workload_mode(kube_sim::WorkloadMode::Ready);
    let config = sim.client_config().await?;
    let client = kube::Client::try_from(config.clone())?;
    gyre_controller::bootstrap::install_crds(&client, "gyre-demo").await?;
    gyre_controller::bootstrap::ensure_namespace(&client, "flux-system", "gyre-demo").await?;
    step.done(format!("({})", sim.base_url()));

    let step = Step::start("creating the example Git repository");
    let repo = work.path().join("podinfo");
    std::fs::create_dir_all(&repo)?;
    example_repo(&repo)?;
    let url = format!("file://{}", repo.display());
    step.done(format!("({url})"));

    let step = Step::start("starting the controllers");
    let mut options = Options::new(work.path().join("artifacts"));
    options.plugin_cache = cache_dir.to_path_buf();
    options.instance = "gyre-demo".into();
    let ctx = Arc::new(Context::new(client.clone(), config, options)?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controllers = tokio::spawn(gyre_controller::runner::run(ctx, async move {
        let _ = stop_rx.await;
    }));
    apply_yaml(&client, &getting_started(&url)).await?;
    step.done("(GitRepository and Kustomization flux-system/podinfo applied)");

    let step = Step::start("waiting for GitRepository flux-system/podinfo");
    let git_api: Api<GitRepository> = Api::namespaced(client.clone(), "flux-system");
    let msg = wait_ready(&git_api, "podinfo", |g| {
        g.status.clone().unwrap_or_default().conditions
    })
    .await?;
    step.done(format!("({msg})"));
    let step = Step::start("waiting for Kustomization flux-system/podinfo (render, apply, health)");
    let ks_api: Api<Kustomization> = Api::namespaced(client.clone(), "flux-system");
    let msg = wait_ready(&ks_api, "podinfo", |k| {
        k.status.clone().unwrap_or_default().conditions
    })
    .await?;
    step.done(format!("({msg})"));

    let ks = ks_api.get("podinfo").await?;
    println!("\nReconciled by Kustomization flux-system/podinfo:");
    println!("{:<12} {:<10} {:<16} VERSION", "KIND", "NAMESPACE", "NAME");
    for entry in ks
        .status
        .and_then(|s| s.inventory)
        .map(|i| i.entries)
        .unwrap_or_default()
    {
        if let Some(id) = entry.object_id() {
            println!(
                "{:<12} {:<10} {:<16} {}",
                id.kind, id.namespace, id.name, entry.v
            );
        }
    }
    if keep_running {
        let kubeconfig = std::env::current_dir()?.join("gyre-demo.kubeconfig");
        sim.write_kubeconfig(&kubeconfig)?;
        println!(
            "\nThe API server keeps running. Try:\n  kubectl --kubeconfig {} get gitrepositories,kustomizations,deployments -A\nCtrl-C to stop.",
            kubeconfig.display()
        );
        tokio::signal::ctrl_c().await?;
    }
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), controllers).await;
    Ok(())
}
