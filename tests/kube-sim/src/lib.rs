//! `kube-sim`: a Kubernetes API test server that speaks the wire protocol kubectl and
//! kube-rs use — discovery, CRUD, server-side apply with managedFields and conflicts,
//! dry-run, watch, selectors, finalizers, garbage collection, the status subresource,
//! CRD-defined kinds, impersonation and RBAC — plus a switchable workload controller and
//! fault injection for tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kube_sim::Error> {
//! let sim = kube_sim::KubeSim::start(kube_sim::Options::default()).await?;
//! let config = sim.client_config().await?;  // a kube::Config for kube::Client::try_from
//! sim.write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"))?; // for kubectl
//! # Ok(()) }
//! ```
// `ApiError` carries a whole `Status` object (bigger with serde_json's
// preserve_order, which the workspace enables); it is only on the error path
// of a test server, where boxing it buys nothing.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod discovery;
pub mod faults;
pub mod fieldset;
pub mod managed;
pub mod patch;
pub mod proto;
pub mod rbac;
pub mod registry;
pub mod schema;
pub mod selector;
pub mod server;
pub mod status;
pub mod store;
pub mod typed;
pub mod validate;
pub mod workload;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

pub use faults::FaultRule;
pub use rbac::User;
pub use workload::Mode as WorkloadMode;

/// Errors starting or configuring the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Binding or serving failed.
    #[error("kube-sim I/O failed")]
    Io(#[from] std::io::Error),
    /// Generating the CA or server certificate failed.
    #[error("kube-sim certificate generation failed")]
    Certificate(#[from] rcgen::Error),
    /// Configuring TLS failed.
    #[error("kube-sim TLS setup failed")]
    Tls(#[from] tokio_rustls::rustls::Error),
    /// Building a kube::Config from the kubeconfig failed.
    #[error("kube-sim client config failed")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to start the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Serve HTTPS with a freshly generated CA.
    pub tls: bool,
    /// Bearer token of the administrator (group `system:masters`). `None` disables
    /// authentication: every request is the administrator.
    pub token: Option<String>,
    /// How many changes watches can resume across before answering 410 Gone.
    pub history: usize,
    /// How often watches with `allowWatchBookmarks` get a BOOKMARK.
    pub bookmark_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: 0,
            tls: true,
            token: Some("kube-sim-admin-token".into()),
            history: 10_000,
            bookmark_interval: Duration::from_secs(1),
        }
    }
}

/// State shared by all connections.
pub struct Shared {
    pub(crate) store: Mutex<store::Store>,
    pub(crate) tokens: Mutex<HashMap<String, User>>,
    pub(crate) faults: Mutex<faults::Faults>,
    pub(crate) watch_kill: tokio::sync::watch::Sender<u64>,
    pub(crate) bookmark_interval: Mutex<Duration>,
    pub(crate) addr: String,
    pub(crate) workload: tokio::sync::watch::Sender<workload::Mode>,
}

/// A running server. Dropping it stops the server.
pub struct KubeSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tls: Option<Arc<server::TlsMaterial>>,
    token: Option<String>,
    serving: server::Serving,
}

/// What the controllers of a real cluster put into every new namespace: the `default`
/// ServiceAccount and the `kube-root-ca.crt` ConfigMap.
pub(crate) fn namespace_content(st: &mut store::Store, ns: &str) {
    let sa = store::Key::new("", "serviceaccounts", ns, "default");
    if !st.objects.contains_key(&sa) {
        st.put(
            sa,
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
                "name": "default", "namespace": ns, "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": store::now()}}),
        );
    }
    let ca = store::Key::new("", "configmaps", ns, "kube-root-ca.crt");
    if !st.objects.contains_key(&ca) {
        st.put(
            ca,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                "name": "kube-root-ca.crt", "namespace": ns, "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": store::now(),
                "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
                "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n(kube-sim)\n-----END CERTIFICATE-----\n"}}),
        );
    }
}

fn seed(st: &mut store::Store) {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        st.put(
            store::Key::new("", "namespaces", "", ns),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {
                "name": ns, "uid": uuid::Uuid::new_v4().to_string(), "creationTimestamp": store::now(),
                "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        );
        namespace_content(st, ns);
    }
    st.put(
        store::Key::new("", "services", "default", "kubernetes"),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {
            "name": "kubernetes", "namespace": "default", "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": store::now(),
            "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "type": "ClusterIP",
                     "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                     "internalTrafficPolicy": "Cluster",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]},
            "status": {"loadBalancer": {}}}),
    );
    for mut o in rbac::bootstrap_objects() {
        let kind = o["kind"].as_str().unwrap_or_default().to_string();
        let name = o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        o["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
        o["metadata"]["creationTimestamp"] = json!(store::now());
        let res = if kind == "ClusterRole" {
            "clusterroles"
        } else {
            "clusterrolebindings"
        };
        st.put(
            store::Key::new("rbac.authorization.k8s.io", res, "", &name),
            o,
        );
    }
    st.compact();
}

impl KubeSim {
    /// Starts a server on 127.0.0.1.
    ///
    /// # Errors
    /// When the port cannot be bound or TLS material cannot be generated.
    pub async fn start(opts: Options) -> Result<KubeSim> {
        // kube-rs clients build rustls configs from the process-wide provider; make sure
        // there is one (aws-lc-rs, the workspace's choice) unless the caller set another.
        let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port)).await?;
        let addr = listener.local_addr()?;
        let mut st = store::Store::new(opts.history);
        seed(&mut st);
        let mut tokens = HashMap::new();
        if let Some(t) = &opts.token {
            tokens.insert(t.clone(), User::admin());
        }
        let (watch_kill, _) = tokio::sync::watch::channel(0);
        let (workload, _) = tokio::sync::watch::channel(workload::Mode::Off);
        let shared = Arc::new(Shared {
            store: Mutex::new(st),
            tokens: Mutex::new(tokens),
            faults: Mutex::new(faults::Faults::default()),
            watch_kill,
            bookmark_interval: Mutex::new(opts.bookmark_interval),
            addr: addr.to_string(),
            workload,
        });
        let tls = if opts.tls {
            Some(Arc::new(server::TlsMaterial::generate()?))
        } else {
            None
        };
        let serving = server::serve(listener, shared.clone(), tls.clone())?;
        tokio::spawn(workload::run(Arc::downgrade(&shared)));
        Ok(KubeSim {
            shared,
            addr,
            tls,
            token: opts.token,
            serving,
        })
    }

    /// The base URL, e.g. `https://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA certificate (PEM) clients must trust, when serving TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// The administrator's bearer token, if authentication is on.
    pub fn admin_token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// A kubeconfig (YAML) for the administrator.
    pub fn kubeconfig_yaml(&self) -> String {
        self.kubeconfig_for(self.token.as_deref())
    }

    /// A kubeconfig (YAML) using a given bearer token (see [`KubeSim::add_user`]).
    pub fn kubeconfig_for(&self, token: Option<&str>) -> String {
        use base64::Engine;
        let mut cluster = json!({"server": self.base_url()});
        if let Some(t) = &self.tls {
            cluster["certificate-authority-data"] =
                json!(base64::engine::general_purpose::STANDARD.encode(&t.ca_pem));
        }
        let user = match token {
            Some(t) => json!({"token": t}),
            None => json!({}),
        };
        let cfg = json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "kube-sim", "cluster": cluster}],
            "users": [{"name": "kube-sim", "user": user}],
            "contexts": [{"name": "kube-sim", "context": {"cluster": "kube-sim", "user": "kube-sim", "namespace": "default"}}],
            "current-context": "kube-sim",
        });
        serde_yaml::to_string(&cfg).expect("yaml")
    }

    /// Writes the administrator kubeconfig to a file.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())?;
        Ok(())
    }

    /// A `kube::Config` for the administrator.
    ///
    /// # Errors
    /// When the generated kubeconfig cannot be loaded.
    pub async fn client_config(&self) -> Result<kube::Config> {
        self.client_config_for(self.token.as_deref()).await
    }

    /// A `kube::Config` using a given bearer token.
    ///
    /// # Errors
    /// When the generated kubeconfig cannot be loaded.
    pub async fn client_config_for(&self, token: Option<&str>) -> Result<kube::Config> {
        let kc = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_for(token))?;
        Ok(
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await?,
        )
    }

    /// Registers a bearer token for a user with groups (RBAC applies to them).
    pub fn add_user(&self, token: &str, name: &str, groups: &[&str]) {
        self.shared
            .tokens
            .lock()
            .expect("lock")
            .insert(token.into(), User::new(name, groups));
    }

    /// Switches the simulated workload controller.
    pub fn set_workload_mode(&self, mode: WorkloadMode) {
        self.shared.workload.send_replace(mode);
        workload::reconcile_all(&self.shared, mode);
    }

    /// Adds a fault rule.
    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.faults.lock().expect("lock").add(rule);
    }

    /// Removes all fault rules.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().expect("lock").clear();
    }

    /// Ends every open watch connection (clients see the stream close).
    pub fn drop_watches(&self) {
        self.shared.watch_kill.send_modify(|v| *v += 1);
    }

    /// Forgets the change history, as etcd compaction does: watches and continue tokens
    /// from before now get 410 Gone.
    pub fn compact(&self) {
        self.shared.store.lock().expect("lock").compact();
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.store.lock().expect("lock").rv
    }

    /// Sets the bookmark interval for new watches.
    pub fn set_bookmark_interval(&self, d: Duration) {
        *self.shared.bookmark_interval.lock().expect("lock") = d;
    }

    /// Stops serving (closing every connection), keeps all state, and serves again on the
    /// same port — what clients see when the API server restarts.
    ///
    /// # Errors
    /// When the port cannot be bound again.
    pub async fn restart(&mut self) -> Result<()> {
        self.serving.stop();
        self.drop_watches();
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        self.serving = server::serve(listener, self.shared.clone(), self.tls.clone())?;
        Ok(())
    }

    /// Stops serving (closing all connections) without restarting.
    pub fn stop(&mut self) {
        self.serving.stop();
        self.drop_watches();
    }
}

impl Drop for KubeSim {
    fn drop(&mut self) {
        self.serving.stop();
    }
}
