//! On-disk cache of compiled (serialized) components, keyed by the digest of
//! the component bytes and by the engine's compatibility hash, so a restart
//! (or another process with the same engine settings) does not recompile.
//!
//! # Trust
//! Deserializing compiled code is only sound for files this cache wrote.
//! The cache directory is created owner-only and entries are written
//! atomically (temp file + rename), so a reader never sees a partial file.
//! Anyone who can write into the cache directory can already replace the
//! `gyre` binary's inputs, so no further signature is kept.

use crate::error::{Error, Result, boxed};
use crate::store::write_atomic;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Whether a component came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Deserialized from the cache.
    Hit,
    /// Compiled now (and written to the cache).
    Compiled,
}

/// The compiled-code cache of one engine configuration.
#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: PathBuf,
}

impl CompiledCache {
    /// A cache below `root`, in a directory specific to `engine`'s settings.
    pub fn new(root: &Path, engine: &Engine) -> Self {
        // SipHash with fixed keys: stable across runs of the same binary,
        // which is all the compatibility hash promises anyway.
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        CompiledCache {
            dir: root.join("compiled").join(format!("{:016x}", h.finish())),
        }
    }

    /// Where the entry for `digest_hex` lives.
    pub fn path_for(&self, digest_hex: &str) -> PathBuf {
        self.dir.join(format!("{digest_hex}.cwasm"))
    }

    /// Loads the component from the cache or compiles `bytes` and stores it.
    ///
    /// # Errors
    /// Compilation errors; cache I/O errors are logged and the component is
    /// compiled instead, so a broken cache never blocks a plugin.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        plugin: &str,
        digest_hex: &str,
        bytes: &[u8],
    ) -> Result<(Component, Outcome)> {
        let path = self.path_for(digest_hex);
        if path.is_file() {
            // SAFETY: the file was written by `store` below (atomically, in an
            // owner-only directory) from a component wasmtime compiled with an
            // engine of the same compatibility hash (part of the path). See
            // the module docs for the trust model.
            #[allow(unsafe_code)]
            let loaded = unsafe { Component::deserialize_file(engine, &path) };
            match loaded {
                Ok(c) => return Ok((c, Outcome::Hit)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "compiled cache entry unusable; recompiling")
                }
            }
        }
        let component = Component::new(engine, bytes).map_err(|e| Error::CompileFailed {
            plugin: plugin.to_string(),
            source: boxed(e),
        })?;
        if let Err(e) = self.store(&component, &path) {
            tracing::warn!(path = %path.display(), error = %e, "could not write the compiled cache");
        }
        Ok((component, Outcome::Compiled))
    }

    fn store(&self, component: &Component, path: &Path) -> Result<()> {
        let bytes = component.serialize().map_err(|e| Error::CompileFailed {
            plugin: path.display().to_string(),
            source: boxed(e),
        })?;
        write_atomic(path, &bytes)
    }
}
