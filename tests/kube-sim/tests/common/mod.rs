//! Shared helpers for the kube-sim integration tests: a running server plus a kubectl
//! wrapper with its own kubeconfig, HOME and discovery cache.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;

use kube_sim::{KubeSim, Options};
use tokio::io::AsyncWriteExt;

/// The output of one kubectl run.
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A server with a kubectl pointed at it.
pub struct Env {
    pub sim: KubeSim,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

pub fn kubectl_path() -> String {
    let p = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let found = std::process::Command::new(&p)
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "kubectl not found (looked for `{p}`; set KUBECTL or install kubectl >= 1.27) — the kube-sim tests use it as the client"
    );
    p
}

impl Env {
    pub async fn start() -> Env {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(opts: Options) -> Env {
        let sim = KubeSim::start(opts).await.expect("kube-sim starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        Env {
            sim,
            dir,
            kubeconfig,
        }
    }

    /// Runs kubectl with optional stdin.
    pub async fn kubectl_in(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let mut cmd = tokio::process::Command::new(kubectl_path());
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .env("HOME", self.dir.path())
            .env_remove("KUBECONFIG")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl spawns");
        if let Some(input) = stdin {
            let mut si = child.stdin.take().expect("stdin");
            si.write_all(input.as_bytes()).await.expect("write stdin");
            drop(si);
        }
        let out =
            tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
                .await
                .expect("kubectl finishes within 60s")
                .expect("kubectl runs");
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub async fn kubectl(&self, args: &[&str]) -> Out {
        self.kubectl_in(args, None).await
    }

    /// Runs kubectl and panics with its output unless it succeeds.
    pub async fn ok(&self, args: &[&str]) -> String {
        let o = self.kubectl(args).await;
        assert!(
            o.ok,
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
            o.stdout, o.stderr
        );
        o.stdout
    }

    /// `kubectl <args> -f -` with YAML on stdin; panics unless it succeeds.
    pub async fn ok_stdin(&self, args: &[&str], yaml: &str) -> String {
        let o = self.kubectl_in(args, Some(yaml)).await;
        assert!(
            o.ok,
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
            o.stdout, o.stderr
        );
        o.stdout
    }

    /// `kubectl get ... -o json` parsed.
    pub async fn get_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        let s = self.ok(&a).await;
        serde_json::from_str(&s).expect("kubectl -o json prints JSON")
    }
}
