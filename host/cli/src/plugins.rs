//! Resolving a plugin reference to bytes: `builtin:<name>`, a local `.wasm`
//! file, or an OCI reference pulled through the cache.

use crate::progress::Step;
use anyhow::Context;
use gyre_plugin::oci::{Registry, RegistryOptions};
use gyre_plugin::store::BlobStore;
use gyre_plugin::{EngineOptions, Limits, Plugin, PluginEngine, World};
use std::path::{Path, PathBuf};

/// Where plugins and compiled code are cached.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("gyre");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache").join("gyre"),
        None => std::env::temp_dir().join("gyre-cache"),
    }
}

/// The pieces a command needs to use plugins.
pub struct Plugins {
    /// The engine (with its compiled-code cache).
    pub engine: PluginEngine,
    /// The registry client (with the plugin cache).
    pub registry: Registry,
}

impl Plugins {
    /// Sets up the engine and registry over `cache_dir`.
    pub fn new(cache_dir: &Path, options: RegistryOptions) -> anyhow::Result<Self> {
        let engine = PluginEngine::new(EngineOptions {
            cache_dir: Some(cache_dir.to_path_buf()),
            ..Default::default()
        })?;
        let registry = Registry::new(BlobStore::new(cache_dir.join("plugins")), options);
        Ok(Plugins { engine, registry })
    }

    /// The bytes of a plugin and the name to show for it.
    pub async fn fetch(&self, reference: &str) -> anyhow::Result<(String, Vec<u8>)> {
        if let Some(b) =
            gyre_builtins::get(reference).filter(|_| reference.starts_with(gyre_builtins::PREFIX))
        {
            return Ok((format!("builtin:{}", b.name), b.bytes.to_vec()));
        }
        if reference.starts_with(gyre_builtins::PREFIX) {
            let names: Vec<_> = gyre_builtins::BUILTINS.iter().map(|b| b.name).collect();
            anyhow::bail!(
                "no built-in plugin {reference:?} (built-ins: {})",
                names.join(", ")
            );
        }
        let path = Path::new(reference);
        if path.is_file() {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            return Ok((reference.to_string(), bytes));
        }
        let step = Step::start(format!("pulling {reference}"));
        let pulled = self
            .registry
            .pull(reference)
            .await
            .with_context(|| format!("pulling plugin {reference}"))?;
        step.done(if pulled.from_cache {
            "(cached)".to_string()
        } else {
            format!("({} bytes)", pulled.bytes.len())
        });
        Ok((pulled.pinned, pulled.bytes))
    }

    /// Fetches and loads a plugin that must implement `world`.
    pub async fn load(
        &self,
        reference: &str,
        world: World,
        limits: Limits,
    ) -> anyhow::Result<Plugin> {
        let (name, bytes) = self.fetch(reference).await?;
        let engine = self.engine.clone();
        // Compiling can take a while for big plugins; keep it off the async threads.
        let plugin =
            tokio::task::spawn_blocking(move || engine.load_as(&name, &bytes, world, limits))
                .await??;
        Ok(plugin)
    }
}
