//! Plugin resolution for the render step: a reference becomes a loaded plugin, cached in
//! memory by what it is (built-in name or content digest), world and limits, so a
//! reconcile loop does not re-read, re-verify or re-link the same component.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gyre_plugin::oci::{Registry, RegistryOptions};
use gyre_plugin::store::BlobStore;
use gyre_plugin::{EngineOptions, Limits, Plugin, PluginEngine, World};

use crate::error::{Error, Result};

/// Where a plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Compiled into the binary: `kustomize`, `helm`, `metadata`, ...
    Builtin(String),
    /// An OCI artifact, pulled through the content-addressed cache.
    Oci {
        /// `registry/repo:tag` or `registry/repo@sha256:…` (no `oci://`).
        reference: String,
        /// The manifest digest it must have (`sha256:…`); the pull is by this digest.
        digest: String,
        /// Plain-HTTP registry.
        insecure: bool,
        /// Docker config file with pull credentials.
        docker_config: Option<PathBuf>,
    },
}

impl PluginSource {
    /// `builtin:<name>` or an OCI reference pinned by `digest`.
    pub fn parse(reference: &str, digest: Option<&str>) -> PluginSource {
        if let Some(name) = reference.strip_prefix(gyre_builtins::PREFIX) {
            return PluginSource::Builtin(name.to_string());
        }
        let reference = reference.strip_prefix("oci://").unwrap_or(reference);
        let digest = digest
            .map(str::to_string)
            .or_else(|| reference.rsplit_once('@').map(|(_, d)| d.to_string()))
            .unwrap_or_default();
        PluginSource::Oci {
            reference: reference.to_string(),
            digest,
            insecure: false,
            docker_config: None,
        }
    }

    /// The reference pinned to its digest: `registry/repo@sha256:…`.
    pub fn pinned(&self) -> String {
        match self {
            PluginSource::Builtin(name) => format!("{}{name}", gyre_builtins::PREFIX),
            PluginSource::Oci {
                reference, digest, ..
            } => {
                let repo = reference
                    .split_once('@')
                    .map_or(reference.as_str(), |(r, _)| r);
                // Drop a tag: the digest decides what is pulled.
                let repo = match repo.rsplit_once(':') {
                    Some((r, tag)) if !tag.contains('/') => r,
                    _ => repo,
                };
                if digest.is_empty() {
                    reference.clone()
                } else {
                    format!("{repo}@{digest}")
                }
            }
        }
    }
}

type Key = (String, World, String);

/// Loads and caches plugins for the render step. Cheap to share behind an `Arc`.
pub struct PluginSet {
    engine: PluginEngine,
    blobs: PathBuf,
    loaded: Mutex<HashMap<Key, Arc<Plugin>>>,
}

impl std::fmt::Debug for PluginSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginSet")
            .field("blobs", &self.blobs)
            .finish_non_exhaustive()
    }
}

impl PluginSet {
    /// A plugin set caching compiled code and pulled components under `cache_dir`.
    ///
    /// # Errors
    /// The engine cannot be created.
    pub fn new(cache_dir: &Path) -> Result<PluginSet> {
        let engine = PluginEngine::new(EngineOptions {
            cache_dir: Some(cache_dir.to_path_buf()),
            ..Default::default()
        })
        .map_err(|source| Error::Load {
            reference: "plugin engine".into(),
            source: Box::new(source),
        })?;
        Ok(PluginSet {
            engine,
            blobs: cache_dir.join("plugins"),
            loaded: Mutex::new(HashMap::new()),
        })
    }

    /// A registry client over this set's component cache.
    pub fn registry(&self, options: RegistryOptions) -> Registry {
        Registry::new(BlobStore::new(&self.blobs), options)
    }

    /// Which worlds a component implements, its digest and metadata.
    ///
    /// # Errors
    /// [`Error::Load`] when the bytes are not a loadable component.
    pub async fn inspect(&self, name: &str, bytes: Vec<u8>) -> Result<gyre_plugin::ComponentInfo> {
        let engine = self.engine.clone();
        let owned = name.to_string();
        tokio::task::spawn_blocking(move || engine.inspect(&owned, &bytes))
            .await
            .map_err(|e| Error::Worker(e.to_string()))?
            .map_err(|source| Error::Load {
                reference: name.to_string(),
                source: Box::new(source),
            })
    }

    /// Fetches (or finds in the cache) and loads a plugin that must implement `world`.
    ///
    /// # Errors
    /// [`Error::UnknownBuiltin`], [`Error::Load`] (pull, digest, compile, wrong world).
    pub async fn load(
        &self,
        source: &PluginSource,
        world: World,
        limits: Limits,
    ) -> Result<Arc<Plugin>> {
        let pinned = source.pinned();
        let key = (pinned.clone(), world, format!("{limits:?}"));
        if let Some(p) = self.loaded.lock().expect("plugin cache lock").get(&key) {
            return Ok(p.clone());
        }
        let load_err = |source| Error::Load {
            reference: pinned.clone(),
            source: Box::new(source),
        };
        let bytes: Vec<u8> = match source {
            PluginSource::Builtin(name) => gyre_builtins::get(name)
                .ok_or_else(|| Error::UnknownBuiltin(name.clone()))?
                .bytes
                .to_vec(),
            PluginSource::Oci {
                digest,
                insecure,
                docker_config,
                ..
            } => {
                if digest.is_empty() {
                    return Err(load_err(gyre_plugin::Error::BadReference {
                        reference: pinned.clone(),
                        reason: "not pinned by digest".into(),
                    }));
                }
                let registry = self.registry(RegistryOptions {
                    insecure: *insecure,
                    docker_config: docker_config.clone(),
                    offline: false,
                });
                registry.pull(&pinned).await.map_err(load_err)?.bytes
            }
        };
        let engine = self.engine.clone();
        let name = pinned.clone();
        let plugin =
            tokio::task::spawn_blocking(move || engine.load_as(&name, &bytes, world, limits))
                .await
                .map_err(|e| Error::Worker(e.to_string()))?
                .map_err(load_err)?;
        let plugin = Arc::new(plugin);
        self.loaded
            .lock()
            .expect("plugin cache lock")
            .insert(key, plugin.clone());
        Ok(plugin)
    }
}
