//! `gyre controller`, the real binary, against kube-sim: it takes the leader Lease, turns
//! ready, reconciles a GitRepository + Kustomization, serves Prometheus metrics and the
//! artifact over HTTP, and on SIGTERM releases the Lease and exits 0.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams};
use sha2::Digest;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.1 GET: (status, body).
fn http_get(port: u16, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Some((status, body))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + size]);
        b = &b[i + 2 + size + 2..];
    }
    out
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git must be installed")
        .success();
    assert!(ok, "git {args:?}");
}

async fn until<T>(what: &str, timeout: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_binary_leads_reconciles_serves_metrics_and_artifacts_and_stops_cleanly() {
    let sim = kube_sim::KubeSim::start(kube_sim::Options::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(sim.client_config().await.unwrap()).unwrap();
    gyre_controller::bootstrap::install_crds(&client, "test")
        .await
        .unwrap();
    gyre_controller::bootstrap::ensure_namespace(&client, "flux-system", "test")
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).unwrap();
    let kubeconfig2 = kubeconfig.clone();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("app")).unwrap();
    std::fs::write(
        repo.join("app/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n  namespace: default\ndata:\n  greeting: hi\n",
    )
    .unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "one"]);

    let (metrics, health, storage) = (free_port(), free_port(), free_port());
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gyre-cli-controller-plugins");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gyre"))
        .args(["controller", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--storage-path")
        .arg(dir.path().join("data"))
        .arg("--plugin-cache")
        .arg(&cache)
        .args([
            "--metrics-addr",
            &format!("127.0.0.1:{metrics}"),
            "--health-addr",
            &format!("127.0.0.1:{health}"),
            "--storage-addr",
            &format!("127.0.0.1:{storage}"),
            "--storage-adv-addr",
            &format!("127.0.0.1:{storage}"),
            "--enable-leader-election",
            "--leader-election-namespace",
            "flux-system",
            "--identity",
            "gyre-0",
            "--log-encoding",
            "json",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    until("/readyz", Duration::from_secs(60), async || {
        http_get(health, "/readyz").filter(|(s, _)| *s == 200)
    })
    .await;
    assert_eq!(http_get(health, "/healthz").unwrap().0, 200);
    let leases: Api<Lease> = Api::namespaced(client.clone(), "flux-system");
    let lease = leases.get("gyre-leader-election").await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("gyre-0")
    );

    let url = format!("file://{}", repo.display());
    for doc in [
        serde_json::json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "hello", "namespace": "flux-system"},
            "spec": {"interval": "1m", "ref": {"branch": "main"}, "url": url}}),
        serde_json::json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "hello", "namespace": "flux-system"},
            "spec": {"interval": "10m", "path": "./app", "prune": true,
                     "sourceRef": {"kind": "GitRepository", "name": "hello"}}}),
    ] {
        let kind = doc["kind"].as_str().unwrap();
        let pp = PatchParams::apply("test");
        if kind == "GitRepository" {
            let api: Api<gyre_api::source::GitRepository> =
                Api::namespaced(client.clone(), "flux-system");
            api.patch("hello", &pp, &Patch::Apply(&doc)).await.unwrap();
        } else {
            let api: Api<gyre_api::kustomize::Kustomization> =
                Api::namespaced(client.clone(), "flux-system");
            api.patch("hello", &pp, &Patch::Apply(&doc)).await.unwrap();
        }
    }
    let ks_api: Api<gyre_api::kustomize::Kustomization> =
        Api::namespaced(client.clone(), "flux-system");
    until(
        "the Kustomization to be Ready",
        Duration::from_secs(90),
        async || {
            let ks = ks_api.get("hello").await.ok()?;
            gyre_api::meta::is_ready(&ks.status?.conditions).then_some(())
        },
    )
    .await;
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), "default");
    assert_eq!(
        cms.get("hello").await.unwrap().data.unwrap()["greeting"],
        "hi"
    );

    // The flux-shaped CLI against the real controller: a requested reconcile (with its
    // source) is handled and reported, and the inventory shows as a tree.
    let cli = move |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_gyre"))
            .args(args)
            .arg("--kubeconfig")
            .arg(&kubeconfig2)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "gyre {args:?}: {text}");
        text
    };
    let out = tokio::task::spawn_blocking(move || {
        let reconciled = cli(&["reconcile", "kustomization", "hello", "--with-source"]);
        let tree = cli(&["tree", "kustomization", "hello"]);
        let get = cli(&["get", "kustomizations"]);
        (reconciled, tree, get)
    })
    .await
    .unwrap();
    assert!(out.0.contains("applied revision main@sha1:"), "{}", out.0);
    assert!(out.1.contains("ConfigMap/default/hello"), "{}", out.1);
    assert!(
        out.2.contains("hello") && out.2.contains("True"),
        "{}",
        out.2
    );
    let handled = ks_api
        .get("hello")
        .await
        .unwrap()
        .status
        .unwrap()
        .last_handled_reconcile_at;
    assert!(
        handled.is_some(),
        "the controller recorded the handled request"
    );

    // Prometheus metrics with Flux's names.
    let (status, body) = http_get(metrics, "/metrics").unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let ready_line = text
        .lines()
        .find(|l| {
            l.starts_with("gotk_reconcile_condition{")
                && l.contains("kind=\"Kustomization\"")
                && l.contains("name=\"hello\"")
                && l.contains("type=\"Ready\"")
                && l.contains("status=\"True\"")
        })
        .unwrap_or_else(|| panic!("no Ready condition series in:\n{text}"));
    assert!(ready_line.ends_with(" 1"), "{ready_line}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("gotk_reconcile_condition{")
                && l.contains("kind=\"GitRepository\"")
                && l.contains("status=\"True\"")
                && l.ends_with(" 1")),
        "sources record their Ready condition too:\n{text}"
    );
    assert!(
        text.contains("gotk_reconcile_duration_seconds_bucket{"),
        "{text}"
    );

    // The artifact is served where status.artifact.url says, with the recorded digest.
    let git_api: Api<gyre_api::source::GitRepository> =
        Api::namespaced(client.clone(), "flux-system");
    let artifact = git_api
        .get("hello")
        .await
        .unwrap()
        .status
        .unwrap()
        .artifact
        .unwrap();
    let prefix = format!("http://127.0.0.1:{storage}");
    let path = artifact
        .url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{}", artifact.url));
    let (status, bytes) = http_get(storage, path).unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes))),
        artifact.digest.unwrap()
    );
    assert_eq!(
        http_get(
            storage,
            "/gitrepository/flux-system/hello/..%2f..%2f..%2fetc%2fpasswd"
        )
        .unwrap()
        .0,
        404
    );

    // SIGTERM: graceful stop, Lease released for the next replica.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "gyre controller did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "exit {status:?}\n{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with('{') && l.contains("\"level\":\"INFO\"")),
        "JSON logs: {stderr}"
    );
    let lease = leases.get("gyre-leader-election").await.unwrap();
    assert!(
        lease
            .spec
            .unwrap()
            .holder_identity
            .unwrap_or_default()
            .is_empty(),
        "Lease released"
    );
}
