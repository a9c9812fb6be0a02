//! What every reconciler shares: the API client, the artifact store, the plugin set, the
//! apply engine, the event recorder and the controller's options.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gyre_apply::Applier;
use gyre_render::PluginSet;
use gyre_source::Store;

use crate::events::Events;
use crate::metrics::Metrics;

/// Flags of `gyre controller` that change how objects are reconciled.
#[derive(Debug, Clone)]
pub struct Options {
    /// Artifact store directory.
    pub storage_path: PathBuf,
    /// Host (and optional scheme) artifact URLs are advertised under, e.g.
    /// `gyre.flux-system.svc.cluster.local.`.
    pub storage_adv_addr: String,
    /// Plugin and compiled-code cache directory.
    pub plugin_cache: PathBuf,
    /// Reconciles in flight per kind.
    pub concurrency: u16,
    /// How soon to look again at a Kustomization whose dependencies are not ready.
    pub requeue_dependency: Duration,
    /// Refuse `sourceRef`s and other references into another namespace.
    pub no_cross_namespace_refs: bool,
    /// Impersonated when a Kustomization names no `serviceAccountName`.
    pub default_service_account: Option<String>,
    /// Only watch this namespace (all when unset).
    pub watch_namespace: Option<String>,
    /// Allow credentials over plain `http://` for Git (tests and local setups).
    pub allow_insecure_http: bool,
    /// Name shown as the reporting controller of events.
    pub instance: String,
}

impl Options {
    /// Defaults with the store and caches under `storage_path`.
    pub fn new(storage_path: impl Into<PathBuf>) -> Options {
        let storage_path = storage_path.into();
        Options {
            plugin_cache: storage_path.join(".plugins"),
            storage_path,
            storage_adv_addr: "gyre.flux-system.svc.cluster.local.".into(),
            concurrency: 4,
            requeue_dependency: Duration::from_secs(30),
            no_cross_namespace_refs: false,
            default_service_account: None,
            watch_namespace: None,
            allow_insecure_http: false,
            instance: "gyre".into(),
        }
    }
}

/// Shared state of all reconcilers.
pub struct Context {
    /// The controller's own client (its service account).
    pub client: kube::Client,
    /// The configuration the client was built from, for impersonating clients.
    pub config: kube::Config,
    /// Artifacts of all sources.
    pub store: Store,
    /// Renderer and transform plugins.
    pub plugins: Arc<PluginSet>,
    /// The apply engine on the controller's own client.
    pub applier: Applier,
    /// Kubernetes Events.
    pub events: Events,
    /// The options.
    pub options: Options,
    /// Prometheus metrics of the reconcilers.
    pub metrics: Metrics,
    /// Per-object retry backoff after failures.
    pub backoff: crate::backoff::Backoff,
}

impl Context {
    /// The namespace-scoped or cluster-wide API for `K`, per `--watch-namespace`.
    pub fn watch_api<K>(&self) -> kube::Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match &self.options.watch_namespace {
            Some(ns) => kube::Api::namespaced(self.client.clone(), ns),
            None => kube::Api::all(self.client.clone()),
        }
    }
}

/// Why the controller could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The artifact store directory cannot be used.
    #[error("artifact store at {path}")]
    Store {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<gyre_source::artifact::Error>,
    },
    /// The plugin engine could not be created.
    #[error("plugin engine")]
    Plugins(#[source] gyre_render::Error),
}

impl Context {
    /// The shared state for `client` (built from `config`) and `options`.
    ///
    /// # Errors
    /// [`StartError`] when the store or the plugin cache cannot be set up.
    pub fn new(
        client: kube::Client,
        config: kube::Config,
        options: Options,
    ) -> Result<Context, StartError> {
        let mut store_opts = gyre_source::StoreOptions::new(&options.storage_path);
        let adv = &options.storage_adv_addr;
        store_opts.base_url = if adv.contains("://") {
            adv.clone()
        } else {
            format!("http://{adv}")
        };
        let store = Store::new(store_opts).map_err(|source| StartError::Store {
            path: options.storage_path.clone(),
            source: Box::new(source),
        })?;
        let plugins = PluginSet::new(&options.plugin_cache).map_err(StartError::Plugins)?;
        let events = Events::new(client.clone(), "gyre", Some(options.instance.clone()));
        Ok(Context {
            applier: Applier::new(client.clone()),
            client,
            config,
            store,
            plugins: Arc::new(plugins),
            events,
            options,
            metrics: Metrics::new(),
            backoff: crate::backoff::Backoff::default(),
        })
    }

    /// The same context, recording into `metrics` (shared with the `/metrics` endpoint).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Context {
        self.metrics = metrics;
        self
    }
}
