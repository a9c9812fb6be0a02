//! The HTTP endpoints over real sockets: reqwest for well-formed requests, raw HTTP/1.1
//! for hostile paths (an HTTP client would normalise `..` away before sending).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use gyre_controller::metrics::Metrics;
use gyre_controller::server::{self, Health};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(router: Router) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, router, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends `GET <raw path>` byte for byte and returns (status, body).
    async fn raw_get(&self, raw_path: &str) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let req = format!("GET {raw_path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (status, body)
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn metrics_endpoint_serves_openmetrics_text() {
    let metrics = Metrics::new();
    metrics.record_suspend("Kustomization", "flux-system", "podinfo", true);
    let s = start(server::metrics_router(metrics)).await;
    let resp = client().get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let body = resp.text().await.unwrap();
    assert!(
        body.contains(
            "gotk_suspend_status{kind=\"Kustomization\",name=\"podinfo\",namespace=\"flux-system\"} 1"
        ),
        "{body}"
    );
}

#[tokio::test]
async fn readyz_is_503_with_a_reason_until_ready_while_healthz_is_200() {
    let health = Health::new();
    let s = start(server::health_router(health.clone())).await;
    let c = client();
    assert_eq!(c.get(s.url("/healthz")).send().await.unwrap().status(), 200);

    let resp = c.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.text().await.unwrap(), "not ready: starting");

    health.set_ready(true);
    assert_eq!(c.get(s.url("/readyz")).send().await.unwrap().status(), 200);

    health.set_not_ready("lost leader election");
    let resp = c.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.text().await.unwrap(),
        "not ready: lost leader election"
    );
    assert_eq!(c.get(s.url("/healthz")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn routers_merge_into_one_server() {
    let router = server::metrics_router(Metrics::new()).merge(server::health_router(Health::new()));
    let s = start(router).await;
    let c = client();
    assert_eq!(c.get(s.url("/metrics")).send().await.unwrap().status(), 200);
    assert_eq!(c.get(s.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(c.get(s.url("/nope")).send().await.unwrap().status(), 404);
}

/// A store with one artifact, and a secret next to (outside) it.
fn store() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let art = root.join("gitrepository/flux-system/podinfo");
    std::fs::create_dir_all(&art).unwrap();
    std::fs::write(art.join("abc123.tar.gz"), b"artifact-bytes").unwrap();
    std::fs::write(dir.path().join("secret.txt"), b"top-secret").unwrap();
    (dir, root)
}

#[tokio::test]
async fn artifacts_are_served_by_kind_namespace_name_and_file() {
    let (_dir, root) = store();
    let s = start(server::artifact_router(root)).await;
    let c = client();
    let resp = c
        .get(s.url("/gitrepository/flux-system/podinfo/abc123.tar.gz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"artifact-bytes");

    // Ranges work (resumable downloads).
    let resp = c
        .get(s.url("/gitrepository/flux-system/podinfo/abc123.tar.gz"))
        .header("range", "bytes=0-7")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"artifact");

    let head = c
        .head(s.url("/gitrepository/flux-system/podinfo/abc123.tar.gz"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "14");

    let missing = c
        .get(s.url("/gitrepository/flux-system/podinfo/nope.tar.gz"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let dir = c
        .get(s.url("/gitrepository/flux-system/podinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(dir.status(), 404, "directories are not listed");
}

#[tokio::test]
async fn artifact_server_is_read_only() {
    let (_dir, root) = store();
    let s = start(server::artifact_router(root.clone())).await;
    let c = client();
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::POST,
        reqwest::Method::DELETE,
    ] {
        let resp = c
            .request(
                method.clone(),
                s.url("/gitrepository/flux-system/podinfo/abc123.tar.gz"),
            )
            .body("overwritten")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method}");
    }
    assert_eq!(
        std::fs::read(root.join("gitrepository/flux-system/podinfo/abc123.tar.gz")).unwrap(),
        b"artifact-bytes"
    );
}

#[tokio::test]
async fn hostile_artifact_paths_are_refused() {
    let (_dir, root) = store();
    let s = start(server::artifact_router(root)).await;
    for path in [
        "/../secret.txt",
        "/gitrepository/../../secret.txt",
        "/gitrepository/%2e%2e/%2e%2e/secret.txt",
        "/gitrepository/%2E%2E/..%2Fsecret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "//etc/passwd",
        "/%2Fetc%2Fpasswd",
        "/gitrepository/flux-system/podinfo/abc123.tar.gz%00.txt",
        "/./gitrepository/flux-system/podinfo/abc123.tar.gz",
    ] {
        let (status, body) = s.raw_get(path).await;
        assert!(
            status == 404 || status == 400,
            "{path}: status {status}, body {body:?}"
        );
        assert!(!body.contains("top-secret"), "{path} leaked the file");
        assert!(!body.contains("root:"), "{path} leaked /etc/passwd");
    }
    // An absolute-form request target is not a way around it either.
    let (status, body) = s.raw_get("http://x/../secret.txt").await;
    assert_ne!(status, 200, "{body}");
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_leaving_the_store_are_refused_but_inside_ones_work() {
    let (dir, root) = store();
    let art = root.join("gitrepository/flux-system/podinfo");
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), art.join("escape.txt")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
    std::os::unix::fs::symlink(art.join("abc123.tar.gz"), art.join("latest.tar.gz")).unwrap();
    let s = start(server::artifact_router(root)).await;
    let c = client();
    for path in [
        "/gitrepository/flux-system/podinfo/escape.txt",
        "/etc/passwd",
    ] {
        let resp = c.get(s.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        let body = resp.text().await.unwrap();
        assert!(
            !body.contains("top-secret") && !body.contains("root:"),
            "{path}"
        );
    }
    let resp = c
        .get(s.url("/gitrepository/flux-system/podinfo/latest.tar.gz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "a symlink within the store is fine");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"artifact-bytes");
}

#[tokio::test]
async fn serve_stops_on_shutdown() {
    let mut s = start(server::health_router(Health::new())).await;
    assert_eq!(
        client()
            .get(s.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    s.stop.take().unwrap().send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), &mut s.task)
        .await
        .expect("serve returns after shutdown")
        .unwrap();
    assert!(result.is_ok());
    assert!(
        tokio::net::TcpStream::connect(s.addr).await.is_err(),
        "the listener is closed"
    );
}
