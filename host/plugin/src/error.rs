//! Errors of the plugin host. Every variant names the plugin; a failure of
//! the plugin never becomes a panic of the host.

use crate::inspect::World;
use crate::types::PluginFailure;
use std::path::PathBuf;
use std::time::Duration;

/// A boxed error cause (wasmtime's error type does not implement
/// `std::error::Error`, so its chain is kept behind this box).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong loading, fetching or calling a plugin.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine could not be configured.
    #[error("configuring the wasm engine failed: {0}")]
    EngineSetup(#[source] BoxError),
    /// The bytes are not a valid WebAssembly component.
    #[error("plugin {plugin}: not a valid WebAssembly component")]
    CompileFailed {
        /// Plugin name.
        plugin: String,
        /// Cause.
        #[source]
        source: BoxError,
    },
    /// A core module (or something else) was given where a component is needed.
    #[error("plugin {plugin}: {reason}; build it as a component (e.g. --target wasm32-wasip2)")]
    NotAComponent {
        /// Plugin name.
        plugin: String,
        /// What was found.
        reason: String,
    },
    /// The component exports another world than the one asked for.
    #[error("plugin {plugin}: expected a {expected} plugin (exporting {}), but it {}", expected.export_name(), describe_found(found))]
    WrongWorld {
        /// Plugin name.
        plugin: String,
        /// The world the caller needs.
        expected: World,
        /// The worlds the component does implement.
        found: Vec<World>,
    },
    /// The component imports something the sandbox does not provide.
    #[error(
        "plugin {plugin}: cannot be linked in the sandbox (it imports something Gyre does not provide)"
    )]
    LinkFailed {
        /// Plugin name.
        plugin: String,
        /// Cause, naming the import.
        #[source]
        source: BoxError,
    },
    /// The call ran past its deadline.
    #[error("plugin {plugin}: {call} did not finish within its {limit:?} deadline")]
    Timeout {
        /// Plugin name.
        plugin: String,
        /// The export called.
        call: &'static str,
        /// The deadline.
        limit: Duration,
    },
    /// The guest tried to grow memory beyond its limit.
    #[error("plugin {plugin}: {call} exceeded the memory limit of {limit} bytes")]
    MemoryLimit {
        /// Plugin name.
        plugin: String,
        /// The export called.
        call: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The guest overflowed its stack (usually unbounded recursion).
    #[error("plugin {plugin}: {call} overflowed the wasm stack (unbounded recursion?)")]
    StackOverflow {
        /// Plugin name.
        plugin: String,
        /// The export called.
        call: &'static str,
    },
    /// The guest trapped (panic, unreachable, bad memory access...).
    #[error("plugin {plugin}: {call} trapped: {trap}{}", stderr_suffix(stderr))]
    Trapped {
        /// Plugin name.
        plugin: String,
        /// The export called.
        call: &'static str,
        /// The trap or error message.
        trap: String,
        /// The tail of what the guest wrote to stderr (a Rust panic message lands here).
        stderr: String,
    },
    /// The result is larger than the output cap.
    #[error("plugin {plugin}: {call} returned {size} bytes, over the output cap of {limit} bytes")]
    OutputTooLarge {
        /// Plugin name.
        plugin: String,
        /// The export called.
        call: &'static str,
        /// Size returned.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// The result is not what the contract promises.
    #[error("plugin {plugin}: {call} returned malformed output: {reason}")]
    MalformedOutput {
        /// Plugin name.
        plugin: String,
        /// The export called.
        call: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The plugin reported a typed error.
    #[error("plugin {plugin}: {failure}")]
    PluginFailed {
        /// Plugin name.
        plugin: String,
        /// What the plugin said.
        failure: PluginFailure,
    },
    /// The artifact tree could not be opened for the sandbox.
    #[error("plugin {plugin}: cannot open {} as the artifact tree", path.display())]
    SandboxSetup {
        /// Plugin name.
        plugin: String,
        /// The directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: BoxError,
    },
    /// A render request names a path outside the artifact.
    #[error("render path {0:?} must be relative and must not contain '..'")]
    BadRenderPath(String),
    /// Reading or writing a cache or store file failed.
    #[error("{action} {}", path.display())]
    Storage {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Bytes did not match the digest they were fetched or stored under.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked.
        what: String,
        /// The digest that was promised.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// An OCI reference could not be parsed.
    #[error("invalid OCI reference {reference:?}: {reason}")]
    BadReference {
        /// The reference.
        reference: String,
        /// Why.
        reason: String,
    },
    /// The registry refused or failed an operation.
    #[error("{action} {reference}: registry error")]
    Registry {
        /// What was being done.
        action: &'static str,
        /// The reference.
        reference: String,
        /// Cause.
        #[source]
        source: BoxError,
    },
    /// The artifact is not a Wasm plugin in a layout Gyre accepts.
    #[error("{reference}: not a Gyre plugin artifact: {reason}")]
    BadArtifact {
        /// The reference.
        reference: String,
        /// Why.
        reason: String,
    },
    /// The docker config file could not be used.
    #[error("registry credentials from {}: {reason}", path.display())]
    Credentials {
        /// The config file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A pinned digest is not in the cache and the network may not be used.
    #[error("{0} is not in the local plugin cache (and --offline was given)")]
    NotCached(String),
}

fn describe_found(found: &[World]) -> String {
    if found.is_empty() {
        "exports no Gyre plugin interface".to_string()
    } else {
        let names: Vec<_> = found.iter().map(|w| w.to_string()).collect();
        format!("is a {} plugin", names.join(" + "))
    }
}

fn stderr_suffix(stderr: &str) -> String {
    let s = stderr.trim();
    if s.is_empty() {
        String::new()
    } else {
        format!(" (guest stderr: {s})")
    }
}

impl Error {
    pub(crate) fn storage(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Storage {
            action,
            path,
            source,
        }
    }
}

/// Boxes a wasmtime error, keeping its chain.
pub(crate) fn boxed(e: wasmtime::Error) -> BoxError {
    e.into()
}
