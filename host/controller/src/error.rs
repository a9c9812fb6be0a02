//! Reconcile errors that escape a reconciler. Most failures are reported on the object's
//! status and retried on its own schedule; what reaches kube-runtime's error policy is
//! only what prevented even that (the status could not be written, the finalizer could
//! not be updated).

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure the reconciler could not record on the object.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API request failed.
    #[error("{action} {object}")]
    Api {
        /// What was being done.
        action: &'static str,
        /// `Kind namespace/name`.
        object: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Adding or removing the finalizer failed.
    #[error("finalizer of {object}: {message}")]
    Finalizer {
        /// `Kind namespace/name`.
        object: String,
        /// kube-runtime's description.
        message: String,
    },
}
