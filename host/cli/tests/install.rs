//! `gyre install`, `gyre check` and deploy/ against kube-sim: the exported
//! manifests apply with kubectl, the kustomization in deploy/ renders and
//! passes a server-side dry run, and check tells an installed Gyre from a
//! missing one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const KUBECTL: &str = "/usr/bin/kubectl";

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

struct Env {
    sim: kube_sim::KubeSim,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

async fn start() -> Env {
    let sim = kube_sim::KubeSim::start(kube_sim::Options::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).unwrap();
    Env {
        sim,
        _dir: dir,
        kubeconfig,
    }
}

/// Runs a program off the async runtime (kube-sim serves on it), with
/// `stdin` piped in.
async fn run(program: &str, args: Vec<String>, stdin: Option<Vec<u8>>) -> Output {
    let program = program.to_string();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(program)
            .args(&args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            input.write_all(&bytes).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

impl Env {
    async fn gyre(&self, args: &[&str]) -> Output {
        let mut argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        argv.extend(["--kubeconfig".into(), self.kubeconfig.display().to_string()]);
        run(env!("CARGO_BIN_EXE_gyre"), argv, None).await
    }

    async fn kubectl(&self, args: &[&str], stdin: Option<Vec<u8>>) -> Output {
        let mut argv = vec![
            "--kubeconfig".to_string(),
            self.kubeconfig.display().to_string(),
        ];
        argv.extend(args.iter().map(|s| s.to_string()));
        run(KUBECTL, argv, stdin).await
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_export_applies_with_kubectl_and_check_sees_the_installation() {
    let env = start().await;
    env.sim.set_workload_mode(kube_sim::WorkloadMode::Ready);

    let out = env.gyre(&["check", "--pre"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("✔ Kubernetes 1.32.0-kube-sim >=1.30.0-0"),
        "{}",
        stderr(&out)
    );

    let out = env.gyre(&["check"]).await;
    assert!(!out.status.success(), "nothing is installed yet");
    let err = stderr(&out);
    assert!(
        err.contains("✗ gyre: deployment not found in flux-system (hint: gyre install)"),
        "{err}"
    );
    assert!(
        err.contains("✗ kustomizations.kustomize.toolkit.fluxcd.io: not installed"),
        "{err}"
    );

    let export = env.gyre(&["install", "--export"]).await;
    assert!(export.status.success(), "{}", stderr(&export));
    let yaml = String::from_utf8(export.stdout.clone()).unwrap();
    assert_eq!(yaml.matches("kind: CustomResourceDefinition").count(), 14);
    assert!(yaml.contains("image: ghcr.io/gyre-dev/gyre:v"), "{yaml}");

    let out = env
        .kubectl(&["apply", "--server-side", "-f", "-"], Some(export.stdout))
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let applied = String::from_utf8_lossy(&out.stdout);
    assert!(
        applied.contains("deployment.apps/gyre serverside-applied"),
        "{applied}"
    );

    let out = env.gyre(&["check"]).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("✔ gyre: deployment ready"), "{err}");
    assert!(
        err.contains("✔ gitrepositories.source.toolkit.fluxcd.io/v1"),
        "{err}"
    );
    assert!(err.contains("✔ all checks passed"), "{err}");

    // `gyre install` itself: server-side apply of the same manifests, waiting
    // for the Deployment.
    let out = env.gyre(&["install", "--timeout", "30s"]).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Deployment/flux-system/gyre"), "{err}");
    assert!(err.contains("✔ install finished"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_into_another_namespace_waits_for_the_deployment() {
    let env = start().await;
    env.sim.set_workload_mode(kube_sim::WorkloadMode::Ready);
    let out = env
        .gyre(&[
            "install",
            "-n",
            "gyre-system",
            "--timeout",
            "30s",
            "--image",
            "registry.local/gyre:dev",
        ])
        .await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Deployment/gyre-system/gyre created"), "{err}");
    let out = env.gyre(&["check", "-n", "gyre-system"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("► registry.local/gyre:dev"),
        "{}",
        stderr(&out)
    );

    // A Deployment that never becomes available fails the install.
    let env = start().await;
    env.sim.set_workload_mode(kube_sim::WorkloadMode::Stuck);
    let out = env.gyre(&["install", "--timeout", "2s"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("did not become available"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_kustomization_renders_and_passes_a_server_side_dry_run() {
    let env = start().await;
    let dir = deploy_dir();
    let out = run(
        KUBECTL,
        vec!["kustomize".into(), dir.display().to_string()],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let rendered = out.stdout;
    let text = String::from_utf8(rendered.clone()).unwrap();

    // Same objects as `gyre install --export`.
    let export = env.gyre(&["install", "--export"]).await;
    let export = String::from_utf8(export.stdout).unwrap();
    let ids = |y: &str| {
        let mut v: Vec<String> = y
            .lines()
            .filter(|l| l.starts_with("kind: ") || l.starts_with("  name: "))
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&text), ids(&export));

    // The CRDs and the namespace first (a dry run creates neither the types nor
    // the namespace the other objects need), then every object through the
    // server's validation, without writing.
    let crds: Vec<u8> = std::fs::read_dir(dir.join("crds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .chain([dir.join("namespace.yaml")])
        .flat_map(|p| {
            let mut b = std::fs::read(p).unwrap();
            b.extend(b"\n---\n");
            b
        })
        .collect();
    let out = env
        .kubectl(&["apply", "--server-side", "-f", "-"], Some(crds))
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env
        .kubectl(
            &["apply", "--server-side", "--dry-run=server", "-f", "-"],
            Some(rendered),
        )
        .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}{stdout}", stderr(&out));
    assert_eq!(stdout.matches("(server dry run)").count(), 21, "{stdout}");
    let out = env.kubectl(&["get", "deployments", "-A"], None).await;
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("gyre"),
        "a dry run writes nothing"
    );
}

#[test]
fn dockerfile_builds_gyre_and_runs_it_as_non_root() {
    let dockerfile = std::fs::read_to_string(deploy_dir().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("FROM rust:1.95-bookworm AS builder"));
    assert!(dockerfile.contains("rustup target add wasm32-wasip2"));
    assert!(dockerfile.contains("cargo build --release -p gyre"));
    assert!(dockerfile.contains("USER 65532:65532"));
}
