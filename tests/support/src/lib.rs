//! Test servers on 127.0.0.1: Git smart HTTP (`git http-backend` as CGI), a static file
//! server with optional basic auth, and helpers for real tools (git, docker-registry,
//! moto_server, helm). A missing tool fails the test with a message saying what to install.
#![allow(missing_docs)]

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};

type Handler = Arc<dyn Fn(Request<Bytes>) -> Response<Full<Bytes>> + Send + Sync>;

/// A running HTTP server; stops when dropped (its thread exits with the runtime).
pub struct Server {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn start(handler: Handler) -> Server {
        let (tx_addr, rx_addr) = std::sync::mpsc::channel();
        let (tx_stop, mut rx_stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx_addr.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut rx_stop => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let handler = handler.clone();
                            tokio::spawn(async move {
                                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                                    let handler = handler.clone();
                                    async move {
                                        let (parts, body) = req.into_parts();
                                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                                        let req = Request::from_parts(parts, body);
                                        let resp = tokio::task::spawn_blocking(move || handler(req)).await.unwrap();
                                        Ok::<_, std::convert::Infallible>(resp)
                                    }
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        let addr = rx_addr.recv().unwrap();
        Server {
            addr,
            shutdown: Some(tx_stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn unauthorized() -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header("WWW-Authenticate", "Basic realm=\"test\"")
        .body(Full::new(Bytes::from_static(b"unauthorized")))
        .unwrap()
}

fn check_basic(req: &Request<Bytes>, auth: &Option<(String, String)>) -> bool {
    use base64::Engine;
    let Some((u, p)) = auth else { return true };
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
    );
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(expected.as_str())
}

/// Serve every repository under `root` over smart HTTP via `git http-backend`.
pub fn git_http_server(root: &Path, auth: Option<(&str, &str)>) -> Server {
    let root = root.to_path_buf();
    let auth = auth.map(|(u, p)| (u.to_string(), p.to_string()));
    Server::start(Arc::new(move |req| {
        if !check_basic(&req, &auth) {
            return unauthorized();
        }
        git_cgi(&root, req)
    }))
}

fn git_cgi(root: &Path, req: Request<Bytes>) -> Response<Full<Bytes>> {
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", req.method().as_str())
        .env("PATH_INFO", req.uri().path())
        .env("QUERY_STRING", req.uri().query().unwrap_or(""))
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REMOTE_USER", "test")
        .env("CONTENT_LENGTH", req.body().len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (h, var) in [
        ("content-type", "CONTENT_TYPE"),
        ("git-protocol", "GIT_PROTOCOL"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
    ] {
        if let Some(v) = req.headers().get(h).and_then(|v| v.to_str().ok()) {
            cmd.env(var, v);
        }
    }
    let mut child = cmd
        .spawn()
        .expect("`git` must be on PATH for the smart HTTP test server");
    let body = req.body().clone();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| {
            out.stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, 2))
        });
    let Some((end, sep)) = split else {
        return Response::builder()
            .status(500)
            .body(Full::new(Bytes::from(out.stderr)))
            .unwrap();
    };
    let head = String::from_utf8_lossy(&out.stdout[..end]).to_string();
    let mut resp = Response::builder();
    let mut status = 200u16;
    for line in head.lines() {
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim();
            if k.eq_ignore_ascii_case("status") {
                status = v
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(500);
            } else {
                resp = resp.header(k.trim(), v);
            }
        }
    }
    resp.status(status)
        .body(Full::new(Bytes::copy_from_slice(&out.stdout[end + sep..])))
        .unwrap()
}

/// Serve files under `root` (GET only), optionally behind basic auth. Counts requests per path.
pub fn static_server(
    root: &Path,
    auth: Option<(&str, &str)>,
) -> (Server, Arc<std::sync::Mutex<HashMap<String, usize>>>) {
    let root = root.to_path_buf();
    let auth = auth.map(|(u, p)| (u.to_string(), p.to_string()));
    let hits = Arc::new(std::sync::Mutex::new(HashMap::new()));
    let hits2 = hits.clone();
    let server = Server::start(Arc::new(move |req| {
        *hits2
            .lock()
            .unwrap()
            .entry(req.uri().path().to_string())
            .or_insert(0) += 1;
        if !check_basic(&req, &auth) {
            return unauthorized();
        }
        let rel = req.uri().path().trim_start_matches('/');
        if rel.split('/').any(|c| c == "..") {
            return Response::builder()
                .status(400)
                .body(Full::new(Bytes::new()))
                .unwrap();
        }
        match std::fs::read(root.join(rel)) {
            Ok(b) => Response::new(Full::new(Bytes::from(b))),
            Err(_) => Response::builder()
                .status(404)
                .body(Full::new(Bytes::from_static(b"not found")))
                .unwrap(),
        }
    }));
    (server, hits)
}

/// Run git with a fixed identity; panics with stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Gyre Test",
            "-c",
            "user.email=test@gyre.dev",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "protocol.file.allow=always",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .output()
        .expect("`git` must be installed for these tests");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A work repo plus a bare copy under `served_root/<name>.git`.
pub struct TestRepo {
    pub work: PathBuf,
    pub bare: PathBuf,
}

impl TestRepo {
    pub fn new(base: &Path, served_root: &Path, name: &str, files: &[(&str, &str)]) -> TestRepo {
        let work = base.join(format!("{name}-work"));
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        let repo = TestRepo {
            work,
            bare: served_root.join(format!("{name}.git")),
        };
        repo.write(files);
        repo.commit("initial");
        std::fs::create_dir_all(served_root).unwrap();
        git(
            base,
            &[
                "clone",
                "-q",
                "--bare",
                repo.work.to_str().unwrap(),
                repo.bare.to_str().unwrap(),
            ],
        );
        repo
    }

    pub fn write(&self, files: &[(&str, &str)]) {
        for (p, body) in files {
            let path = self.work.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
    }

    /// Commit everything and return the commit id.
    pub fn commit(&self, msg: &str) -> String {
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "--allow-empty", "-m", msg]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Push all branches and tags to the served bare repo.
    pub fn push(&self) {
        git(
            &self.work,
            &[
                "push",
                "-q",
                "--force",
                self.bare.to_str().unwrap(),
                "--all",
            ],
        );
        git(
            &self.work,
            &[
                "push",
                "-q",
                "--force",
                self.bare.to_str().unwrap(),
                "--tags",
            ],
        );
    }

    pub fn head(&self) -> String {
        git(&self.work, &["rev-parse", "HEAD"])
    }
}

/// Find a tool: env var first, then PATH. Panics with install instructions if missing.
pub fn require_tool(env: &str, name: &str, install: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "{env}={} does not exist ({install})",
            p.display()
        );
        return p;
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` not found: set {env} or put it on PATH. Install: {install}");
}

/// A child process killed on drop.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_port(port: u16, what: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not start listening on 127.0.0.1:{port}");
}

/// Start Debian's docker-registry (distribution) on a free port.
pub fn start_registry(dir: &Path) -> (ChildGuard, u16) {
    let bin = require_tool(
        "GYRE_TEST_REGISTRY",
        "docker-registry",
        "apt-get install docker-registry",
    );
    let port = free_port();
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start docker-registry");
    let guard = ChildGuard(child);
    wait_for_port(port, "docker-registry");
    (guard, port)
}

/// Start moto's S3 server on a free port.
pub fn start_moto() -> (ChildGuard, u16) {
    let bin = require_tool(
        "GYRE_TEST_MOTO_SERVER",
        "moto_server",
        "python3 -m venv /opt/moto && /opt/moto/bin/pip install 'moto[server]' (then set GYRE_TEST_MOTO_SERVER=/opt/moto/bin/moto_server)",
    );
    let port = free_port();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let guard = ChildGuard(child);
    wait_for_port(port, "moto_server");
    (guard, port)
}
