//! Errors of the apply engine, one variant per step, each naming the object.

use std::time::Duration;

use crate::changeset::ChangeSet;
use crate::inventory::Inventory;

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why one API request failed: the API said no, or it did not answer in time.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The client or the API server returned an error. Shown as the server's own message
    /// (`Deployment.apps "web" is invalid: …`), as Flux shows it.
    #[error("{}", api_message(.0))]
    Api(#[source] kube::Error),
    /// No answer within the request timeout.
    #[error("no response within {0:?}")]
    Timeout(Duration),
}

fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => s.message.clone(),
        e => e.to_string(),
    }
}

impl From<kube::Error> for RequestError {
    fn from(e: kube::Error) -> Self {
        RequestError::Api(e)
    }
}

impl RequestError {
    /// The HTTP status code of an API error, if the server answered with one.
    pub fn code(&self) -> Option<u16> {
        match self {
            RequestError::Api(kube::Error::Api(s)) => Some(s.code),
            _ => None,
        }
    }

    /// Whether the object (or its type) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    /// Whether retrying the same request may succeed: throttling, conflicts, server-side
    /// failures, timeouts and broken connections.
    pub fn is_transient(&self) -> bool {
        match self {
            RequestError::Timeout(_) => true,
            RequestError::Api(kube::Error::Api(s)) => {
                matches!(s.code, 409 | 429 | 500 | 502 | 503 | 504)
            }
            RequestError::Api(kube::Error::HyperError(_) | kube::Error::Service(_)) => true,
            RequestError::Api(_) => false,
        }
    }

    /// Seconds the server asked us to wait before retrying (429 `retryAfterSeconds`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RequestError::Api(kube::Error::Api(s)) => s
                .details
                .as_ref()
                .map(|d| d.retry_after_seconds)
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(u64::from(s))),
            _ => None,
        }
    }

    /// Whether a dry-run was refused because an immutable field would change. Like kubectl
    /// and Flux, any `422 Invalid` counts (immutable-field errors are `Invalid`), and so does
    /// an admission or CEL message saying a field is immutable. Unlike Flux, a `409
    /// Conflict` does not: on server-side apply with force it only means a concurrent
    /// write, and recreating an object for that would be destructive.
    pub fn is_immutable(&self) -> bool {
        match self {
            RequestError::Api(kube::Error::Api(s)) => {
                (s.code == 422 && s.reason == "Invalid")
                    || s.message.contains("is immutable")
                    || s.message.contains("immutable field")
            }
            _ => false,
        }
    }
}

/// Errors of the apply engine. Every message names the object as `Kind/namespace/name`
/// (`Kind/name` when cluster-scoped); the cause is in the source chain, not repeated in
/// the message (use [`Error::chain`] to print both).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object lacks `apiVersion`, `kind` or `metadata.name`, or is not an object.
    #[error("{object} is invalid: {reason}")]
    InvalidObject {
        /// The object, as far as it could be named.
        object: String,
        /// What is missing.
        reason: &'static str,
    },
    /// The same object appears twice in one set.
    #[error("{object} appears more than once in the set")]
    DuplicateObject {
        /// The object.
        object: String,
    },
    /// The API server does not serve the object's kind.
    #[error("{object} has an unknown kind: no {kind} in {api_version}")]
    UnknownKind {
        /// The object.
        object: String,
        /// Its apiVersion.
        api_version: String,
        /// Its kind.
        kind: String,
    },
    /// Discovery of a group/version failed.
    #[error("discovery of {api_version} failed")]
    DiscoveryFailed {
        /// The group/version.
        api_version: String,
        /// Cause.
        #[source]
        source: RequestError,
    },
    /// Listing the live objects of a type failed.
    #[error("listing {kind} in {namespace} failed")]
    ListFailed {
        /// The kind.
        kind: String,
        /// The namespace (`*` for cluster-scoped).
        namespace: String,
        /// Cause.
        #[source]
        source: RequestError,
    },
    /// Reading the live object failed.
    #[error("{object} get failed")]
    GetFailed {
        /// The object.
        object: String,
        /// Cause.
        #[source]
        source: RequestError,
    },
    /// The server-side dry-run apply was refused (validation, admission, immutable fields
    /// without force, missing namespace…).
    #[error("{object} dry-run failed")]
    DryRunFailed {
        /// The object.
        object: String,
        /// Cause.
        #[source]
        source: RequestError,
    },
    /// The server-side apply failed.
    #[error("{object} apply failed")]
    ApplyFailed {
        /// The object.
        object: String,
        /// Cause.
        #[source]
        source: RequestError,
    },
    /// Correcting an object's drift (creating it again or patching it back) failed.
    #[error("{object} drift correction failed")]
    CorrectionFailed {
        /// The object.
        object: String,
        /// Cause.
        #[source]
        source: RequestError,
    },
    /// An immutable field changed and deleting the object to recreate it failed.
    #[error("{object} immutable field changed; deleting it for recreation failed")]
    RecreateFailed {
        /// The object.
        object: String,
        /// Cause.
        #[source]
        source: RequestError,
    },
    /// A deleted object did not go away in time (finalizers).
    #[error("{object} still exists {timeout:?} after deletion")]
    DeletionTimeout {
        /// The object.
        object: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// Deleting a stale object failed.
    #[error("{object} prune failed")]
    PruneFailed {
        /// The object.
        object: String,
        /// Cause.
        #[source]
        source: RequestError,
    },
    /// An object reached a failed state (kstatus `Failed`).
    #[error("{object} health check failed: {message}")]
    HealthCheckFailed {
        /// The object.
        object: String,
        /// What its status says.
        message: String,
    },
    /// Objects were not healthy within the timeout.
    #[error("timeout waiting for: [{}]", pending.iter().map(|(o, m)| format!("{o} status: '{m}'")).collect::<Vec<_>>().join(", "))]
    HealthCheckTimeout {
        /// The objects still not ready, with their last status message.
        pending: Vec<(String, String)>,
    },
    /// Deleted objects were still present when the timeout expired.
    #[error("timeout waiting for the deletion of: [{}]", remaining.join(", "))]
    DeletionsPending {
        /// The objects still present.
        remaining: Vec<String>,
    },
    /// Checking whether a deleted object is gone failed.
    #[error("{object} could not be read while waiting for its deletion")]
    DeletionCheckFailed {
        /// The object.
        object: String,
        /// Cause.
        #[source]
        source: RequestError,
    },
    /// Rendering an object for a diff failed.
    #[error("{object} could not be rendered for diff")]
    DiffFailed {
        /// The object.
        object: String,
        /// Cause.
        #[source]
        source: serde_yaml::Error,
    },
}

impl Error {
    /// The message followed by every cause, joined by `: ` — for status conditions and
    /// events, where a chain cannot be walked.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(self);
        while let Some(e) = cur {
            out.push_str(": ");
            out.push_str(&e.to_string());
            // A request error already shows the server's message; kube's own rendering
            // of the same status below it would repeat it.
            if e.downcast_ref::<RequestError>().is_some() {
                break;
            }
            cur = e.source();
        }
        out
    }
}

/// A run that did not finish: what was done before it stopped, and why it stopped.
///
/// The engine never prunes after a failure (prune takes an [`crate::ApplyResult`], which
/// only a successful apply yields). To keep the inventory consistent, store
/// [`Failure::inventory_with`] of the previous inventory: it keeps every old entry and
/// adds what this run may have created, so nothing created here can be orphaned and
/// nothing is dropped.
#[derive(Debug, thiserror::Error)]
#[error("{} failed ({} error{})", step, errors.len(), if errors.len() == 1 { "" } else { "s" })]
pub struct Failure {
    /// Which verb failed: `apply`, `prune`, `diff`.
    pub step: &'static str,
    /// What was done before the failure.
    pub change_set: ChangeSet,
    /// Every error seen, in object order. Never empty.
    pub errors: Vec<Error>,
    /// Objects this run applied (created or configured) before it stopped.
    pub(crate) touched: Inventory,
}

impl Failure {
    pub(crate) fn new(step: &'static str, change_set: ChangeSet, errors: Vec<Error>) -> Failure {
        let touched = Inventory::from_change_set(&change_set);
        Failure {
            step,
            change_set,
            errors,
            touched,
        }
    }

    /// The inventory to store after this failure: `previous` plus every object this run
    /// created or configured.
    pub fn inventory_with(&self, previous: &Inventory) -> Inventory {
        previous.union(&self.touched)
    }

    /// All errors with their causes, one per line.
    pub fn chain(&self) -> String {
        self.errors
            .iter()
            .map(Error::chain)
            .collect::<Vec<_>>()
            .join("\n")
    }
}
