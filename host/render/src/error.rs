//! Render failures. Each names the plugin or path involved; the cause is in the chain.

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the render step failed. Nothing is applied or pruned after any of these.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The plugin could not be fetched, verified, compiled or linked.
    #[error("loading plugin {reference}")]
    Load {
        /// The reference.
        reference: String,
        /// What went wrong.
        #[source]
        source: Box<gyre_plugin::Error>,
    },
    /// `builtin:<name>` names no built-in plugin.
    #[error("no built-in plugin {0:?}")]
    UnknownBuiltin(String),
    /// The path to build leaves the artifact (absolute or `..`).
    #[error("path {0:?} is outside the source artifact")]
    PathOutsideSource(String),
    /// The path does not exist in the artifact.
    #[error("path {0:?} not found in the source artifact")]
    PathNotFound(String),
    /// The renderer failed (its own error, a trap, or an exhausted limit).
    #[error("building {path} with {plugin}")]
    Render {
        /// The renderer.
        plugin: String,
        /// The path being built.
        path: String,
        /// What went wrong.
        #[source]
        source: Box<gyre_plugin::Error>,
    },
    /// A transform failed.
    #[error("transform {plugin}")]
    Transform {
        /// The transform.
        plugin: String,
        /// What went wrong.
        #[source]
        source: Box<gyre_plugin::Error>,
    },
    /// A transform returned an object outside the owner's boundary.
    #[error("transform {plugin} returned {object}, {reason}")]
    Boundary {
        /// The transform.
        plugin: String,
        /// `Kind namespace/name` of the offending object.
        object: String,
        /// Which rule it broke.
        reason: String,
    },
    /// The plugin call could not be run on a worker thread.
    #[error("plugin worker failed: {0}")]
    Worker(String),
}

impl Error {
    /// The error and all its causes, `: `-separated, for status messages.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(self);
        while let Some(e) = cur {
            let s = e.to_string();
            if !out.contains(&s) {
                out.push_str(": ");
                out.push_str(&s);
            }
            cur = e.source();
        }
        out
    }
}
