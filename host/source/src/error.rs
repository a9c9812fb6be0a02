//! One error type over all sources, and the single mapping from errors to Flux condition
//! reasons.

use crate::{artifact, bucket, git, helm_chart, helm_repo, oci};

/// Any source failure. Each variant's message already names the object.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// GitRepository.
    #[error(transparent)]
    Git(#[from] git::Error),
    /// OCIRepository.
    #[error(transparent)]
    Oci(#[from] oci::Error),
    /// HelmRepository.
    #[error(transparent)]
    HelmRepository(#[from] helm_repo::Error),
    /// HelmChart.
    #[error(transparent)]
    HelmChart(#[from] helm_chart::Error),
    /// Bucket.
    #[error(transparent)]
    Bucket(#[from] bucket::Error),
    /// Artifact store.
    #[error(transparent)]
    Artifact(#[from] artifact::Error),
}

/// Runs one reconcile bounded by its `timeout`; `timed_out` builds that
/// source's own Timeout error, so each keeps its variant and message.
pub(crate) async fn within_timeout<T, E>(
    timeout: std::time::Duration,
    work: impl std::future::Future<Output = std::result::Result<T, E>>,
    timed_out: impl FnOnce() -> E,
) -> std::result::Result<T, E> {
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| Err(timed_out()))
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Flux's reason strings (source-controller `api/v1`).
pub mod reason {
    /// Git fetch/checkout failed.
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// The URL is invalid.
    pub const URL_INVALID: &str = "URLInvalid";
    /// Storage (archive, write, GC) failed.
    pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
    /// Archiving failed.
    pub const ARCHIVE_OPERATION_FAILED: &str = "ArchiveError";
    /// OCI pull failed.
    pub const OCI_PULL_FAILED: &str = "OCIArtifactPullFailed";
    /// OCI layer extract/copy failed.
    pub const OCI_LAYER_OPERATION_FAILED: &str = "OCIArtifactLayerOperationFailed";
    /// Helm index fetch failed.
    pub const INDEXATION_FAILED: &str = "IndexationFailed";
    /// Chart pull failed.
    pub const CHART_PULL_FAILED: &str = "ChartPullFailed";
    /// Chart packaging failed.
    pub const CHART_PACKAGE_FAILED: &str = "ChartPackageFailed";
    /// Bucket operation failed.
    pub const BUCKET_OPERATION_FAILED: &str = "BucketOperationFailed";
    /// The spec is invalid.
    pub const INVALID_SPEC: &str = "InvalidSpec";
}

fn artifact_reason(e: &artifact::Error) -> &'static str {
    match e {
        artifact::Error::Archive { .. } => reason::ARCHIVE_OPERATION_FAILED,
        _ => reason::STORAGE_OPERATION_FAILED,
    }
}

impl Error {
    /// The Flux condition reason for this failure (for `Ready=False` / `FetchFailed`).
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Git(e) => match e {
                git::Error::InvalidSpec { .. } => reason::INVALID_SPEC,
                git::Error::Artifact(a) => artifact_reason(a),
                git::Error::IncludeFailed { .. }
                | git::Error::IgnoreRules { .. }
                | git::Error::TempDir { .. } => reason::STORAGE_OPERATION_FAILED,
                _ => reason::GIT_OPERATION_FAILED,
            },
            Error::Oci(e) => match e {
                oci::Error::InvalidSpec { .. } => reason::URL_INVALID,
                oci::Error::ExtractFailed { .. }
                | oci::Error::LayerNotFound { .. }
                | oci::Error::IgnoreRules { .. } => reason::OCI_LAYER_OPERATION_FAILED,
                oci::Error::Artifact(a) => artifact_reason(a),
                _ => reason::OCI_PULL_FAILED,
            },
            Error::HelmRepository(e) => match e {
                helm_repo::Error::InvalidUrl { .. } => reason::URL_INVALID,
                helm_repo::Error::Artifact(a) => artifact_reason(a),
                _ => reason::INDEXATION_FAILED,
            },
            Error::HelmChart(e) => match e {
                helm_chart::Error::InvalidChart { .. } => reason::CHART_PACKAGE_FAILED,
                helm_chart::Error::Artifact(a) => artifact_reason(a),
                helm_chart::Error::InvalidConstraint { .. } => reason::INVALID_SPEC,
                _ => reason::CHART_PULL_FAILED,
            },
            Error::Bucket(e) => match e {
                bucket::Error::Artifact(a) => artifact_reason(a),
                _ => reason::BUCKET_OPERATION_FAILED,
            },
            Error::Artifact(a) => artifact_reason(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_follow_flux() {
        let e: Error = git::Error::RefNotFound {
            object: "o".into(),
            url: "u".into(),
            what: "branch".into(),
        }
        .into();
        assert_eq!(e.reason(), "GitOperationFailed");
        let e: Error = artifact::Error::InvalidPath("..".into()).into();
        assert_eq!(e.reason(), "StorageOperationFailed");
        let e: Error = oci::Error::InvalidSpec {
            object: "o".into(),
            reason: "r".into(),
        }
        .into();
        assert_eq!(e.reason(), "URLInvalid");
    }
}
