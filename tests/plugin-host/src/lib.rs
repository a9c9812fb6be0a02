//! Support for the plugin-host integration tests: the hostile plugin's
//! bytes and a real OCI registry (Debian's `docker-registry`, the CNCF
//! distribution server) started on a free loopback port.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The hostile renderer component (built by this crate's build script).
pub fn hostile_wasm() -> Vec<u8> {
    std::fs::read(env!("GYRE_HOSTILE_WASM")).expect("the hostile plugin was built by build.rs")
}

/// Where Debian installs the registry.
const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A registry process on 127.0.0.1, stopped when dropped.
pub struct TestRegistry {
    child: Option<Child>,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// The registry's storage root (blobs live under
    /// `docker/registry/v2/blobs/sha256/<2>/<hex>/data`).
    pub storage: PathBuf,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl TestRegistry {
    /// Starts a registry with filesystem storage in a fresh temp dir.
    ///
    /// # Panics
    /// When `docker-registry` is not installed (`apt-get install
    /// docker-registry`; `.ci/run` does it) or does not come up.
    pub fn start() -> Self {
        assert!(
            Path::new(REGISTRY_BIN).is_file(),
            "{REGISTRY_BIN} is missing: install Debian's docker-registry package (apt-get install -y docker-registry)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = dir.path().join("storage");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
                storage.display()
            ),
        )
        .expect("writing the registry config");
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting docker-registry");
        let reg = TestRegistry {
            child: Some(child),
            addr,
            storage,
            _dir: dir,
        };
        reg.wait_ready();
        reg
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(&self.addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "docker-registry did not listen on {} within 10 s",
            self.addr
        );
    }

    /// Stops the registry (the tests then prove the cache works offline).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The on-disk file of a blob in the registry's storage.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}
