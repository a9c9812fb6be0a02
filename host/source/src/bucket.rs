//! Bucket: an S3-compatible bucket (via object_store) → artifact. The revision is a digest
//! over the sorted object list (key and ETag), so an unchanged bucket is detected with a
//! single listing and no downloads.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};

use crate::archive::Limits;
use crate::artifact::{self, Artifact, ObjectRef, Store};
use crate::ignore::{SOURCEIGNORE_FILE, SourceFilter};

/// Everything needed to reconcile a Bucket (`provider: generic` / `aws`).
#[derive(Clone)]
pub struct BucketOptions {
    /// Bucket name.
    pub bucket_name: String,
    /// Endpoint host[:port] or URL (`minio.example.com`, `127.0.0.1:9000`).
    pub endpoint: String,
    /// Region. Default `us-east-1`.
    pub region: String,
    /// Plain HTTP. Default false.
    pub insecure: bool,
    /// Only objects under this key prefix.
    pub prefix: Option<String>,
    /// Access key id (`accesskey` in the Secret).
    pub access_key: Option<String>,
    /// Secret access key (`secretkey` in the Secret).
    pub secret_key: Option<String>,
    /// `spec.ignore`.
    pub ignore: Option<String>,
    /// Deadline. Default 60 s.
    pub timeout: Duration,
    /// Content limits.
    pub limits: Limits,
    /// Parallel downloads. Default 8.
    pub concurrency: usize,
}

impl std::fmt::Debug for BucketOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketOptions")
            .field("bucket_name", &self.bucket_name)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("insecure", &self.insecure)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl BucketOptions {
    /// Options with documented defaults.
    pub fn new(bucket_name: impl Into<String>, endpoint: impl Into<String>) -> Self {
        Self {
            bucket_name: bucket_name.into(),
            endpoint: endpoint.into(),
            region: "us-east-1".into(),
            insecure: false,
            prefix: None,
            access_key: None,
            secret_key: None,
            ignore: None,
            timeout: Duration::from_secs(60),
            limits: Limits::default(),
            concurrency: 8,
        }
    }
}

/// Result of [`reconcile`].
#[derive(Debug, Clone)]
pub enum BucketOutcome {
    /// The object list (keys and ETags) has not changed.
    Unchanged {
        /// The revision.
        revision: String,
    },
    /// A new artifact.
    Updated(Artifact),
}

/// Bucket failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Building the client failed (bad endpoint, …).
    #[error("{object}: invalid bucket configuration")]
    InvalidConfig {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: object_store::Error,
    },
    /// Listing the bucket failed (unreachable, credentials, missing bucket).
    #[error("{object}: listing bucket {bucket} failed")]
    ListFailed {
        /// The object.
        object: String,
        /// The bucket.
        bucket: String,
        /// The cause.
        #[source]
        source: object_store::Error,
    },
    /// Downloading an object failed.
    #[error("{object}: downloading {key} failed")]
    DownloadFailed {
        /// The object.
        object: String,
        /// The key.
        key: String,
        /// The cause.
        #[source]
        source: object_store::Error,
    },
    /// A key would be written outside the artifact root.
    #[error("{object}: unsafe object key {key:?}")]
    UnsafeKey {
        /// The object.
        object: String,
        /// The key.
        key: String,
    },
    /// The bucket content exceeds the limits.
    #[error("{object}: bucket content exceeds limits ({what})")]
    TooLarge {
        /// The object.
        object: String,
        /// Which limit.
        what: String,
    },
    /// Ignore rules are invalid.
    #[error("{object}: ignore rules")]
    IgnoreRules {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: crate::ignore::Error,
    },
    /// Local I/O.
    #[error("{object}: local I/O")]
    Io {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Storing failed.
    #[error(transparent)]
    Artifact(#[from] artifact::Error),
    /// The deadline passed.
    #[error("{object}: timed out after {timeout:?}")]
    Timeout {
        /// The object.
        object: String,
        /// The deadline.
        timeout: Duration,
    },
}

/// Flux's bucket revision: sha256 over `"<key> <etag>\n"` for each object, sorted by key.
pub fn index_revision(objects: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = objects.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    for (key, etag) in sorted {
        h.update(format!("{key} {etag}\n").as_bytes());
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

fn safe_rel(key: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(key).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Reconcile a Bucket: list, filter, compare the index digest with `last_revision`, download.
///
/// # Errors
/// See [`Error`]; the previous artifact is untouched on error.
pub async fn reconcile(
    store: &Store,
    obj: &ObjectRef,
    opts: &BucketOptions,
    last_revision: Option<&str>,
) -> Result<BucketOutcome, Error> {
    crate::error::within_timeout(
        opts.timeout,
        reconcile_inner(store, obj, opts, last_revision),
        || Error::Timeout {
            object: obj.to_string(),
            timeout: opts.timeout,
        },
    )
    .await
}

async fn reconcile_inner(
    store: &Store,
    obj: &ObjectRef,
    opts: &BucketOptions,
    last_revision: Option<&str>,
) -> Result<BucketOutcome, Error> {
    let endpoint = if opts.endpoint.contains("://") {
        opts.endpoint.clone()
    } else {
        format!(
            "{}://{}",
            if opts.insecure { "http" } else { "https" },
            opts.endpoint
        )
    };
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&opts.bucket_name)
        .with_endpoint(endpoint)
        .with_region(&opts.region)
        .with_allow_http(opts.insecure)
        .with_virtual_hosted_style_request(false)
        .with_retry(object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: opts.timeout,
            ..Default::default()
        });
    match (&opts.access_key, &opts.secret_key) {
        (Some(a), Some(s)) => builder = builder.with_access_key_id(a).with_secret_access_key(s),
        _ => builder = builder.with_skip_signature(true),
    }
    let s3 = builder.build().map_err(|source| Error::InvalidConfig {
        object: obj.to_string(),
        source,
    })?;
    let prefix = opts.prefix.as_deref().map(object_store::path::Path::from);
    let listing: Vec<object_store::ObjectMeta> = s3
        .list(prefix.as_ref())
        .try_collect()
        .await
        .map_err(|source| Error::ListFailed {
            object: obj.to_string(),
            bucket: opts.bucket_name.clone(),
            source,
        })?;

    // .sourceignore at the bucket root, then spec.ignore.
    let mut filter = SourceFilter::none();
    let ignore_err = |source| Error::IgnoreRules {
        object: obj.to_string(),
        source,
    };
    if listing
        .iter()
        .any(|m| m.location.as_ref() == SOURCEIGNORE_FILE)
    {
        let path = object_store::path::Path::from(SOURCEIGNORE_FILE);
        let bytes = s3
            .get(&path)
            .await
            .map_err(|source| Error::DownloadFailed {
                object: obj.to_string(),
                key: SOURCEIGNORE_FILE.into(),
                source,
            })?
            .bytes()
            .await
            .map_err(|source| Error::DownloadFailed {
                object: obj.to_string(),
                key: SOURCEIGNORE_FILE.into(),
                source,
            })?;
        filter
            .push_lines(
                Path::new(""),
                String::from_utf8_lossy(&bytes).lines(),
                SOURCEIGNORE_FILE,
            )
            .map_err(ignore_err)?;
    }
    if let Some(spec) = &opts.ignore {
        filter
            .push_lines(Path::new(""), spec.lines(), "spec.ignore")
            .map_err(ignore_err)?;
    }

    let mut selected = Vec::new();
    let mut total = 0u64;
    for meta in &listing {
        let key = meta.location.as_ref().to_string();
        if key.ends_with('/') {
            continue;
        }
        let rel = safe_rel(&key).ok_or_else(|| Error::UnsafeKey {
            object: obj.to_string(),
            key: key.clone(),
        })?;
        if excluded_with_parents(&filter, &rel) {
            continue;
        }
        total += meta.size;
        selected.push((key, rel, meta.e_tag.clone().unwrap_or_default()));
    }
    if selected.len() as u64 > opts.limits.max_files {
        return Err(Error::TooLarge {
            object: obj.to_string(),
            what: format!("more than {} objects", opts.limits.max_files),
        });
    }
    if total > opts.limits.max_bytes {
        return Err(Error::TooLarge {
            object: obj.to_string(),
            what: format!("more than {} bytes", opts.limits.max_bytes),
        });
    }
    let index: Vec<(String, String)> = selected
        .iter()
        .map(|(k, _, e)| (k.clone(), e.clone()))
        .collect();
    let revision = index_revision(&index);
    if last_revision == Some(revision.as_str()) {
        return Ok(BucketOutcome::Unchanged { revision });
    }

    let scratch = tempfile::tempdir().map_err(|source| Error::Io {
        object: obj.to_string(),
        source,
    })?;
    let root = scratch.path().to_path_buf();
    let s3 = &s3;
    // Owned jobs: a stream over borrowed tuples makes the future's Send-ness depend on
    // a higher-ranked closure, which callers spawning it on a runtime cannot prove.
    let jobs: Vec<(String, PathBuf)> = selected
        .iter()
        .map(|(key, rel, _)| (key.clone(), root.join(rel)))
        .collect();
    futures::stream::iter(jobs)
        .map(|(key, dest)| async move {
            let path = object_store::path::Path::from(key.as_str());
            let dl = |source| Error::DownloadFailed {
                object: obj.to_string(),
                key: key.clone(),
                source,
            };
            let bytes = s3.get(&path).await.map_err(dl)?.bytes().await.map_err(dl)?;
            let io = |source| Error::Io {
                object: obj.to_string(),
                source,
            };
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent).await.map_err(io)?;
            }
            tokio::fs::write(&dest, &bytes).await.map_err(io)?;
            Ok::<_, Error>(())
        })
        .buffer_unordered(opts.concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await?;

    let (store2, obj2, limits) = (store.clone(), obj.clone(), opts.limits);
    let rev2 = revision.clone();
    let artifact = tokio::task::spawn_blocking(move || {
        store2.archive_dir(&obj2, &root, &rev2, &SourceFilter::none(), &limits)
    })
    .await
    .map_err(|e| Error::Io {
        object: obj.to_string(),
        source: std::io::Error::other(e),
    })??
    .0;
    drop(scratch);
    Ok(BucketOutcome::Updated(artifact))
}

fn excluded_with_parents(filter: &SourceFilter, rel: &Path) -> bool {
    let mut cur = PathBuf::new();
    let comps: Vec<_> = rel.components().collect();
    for (i, c) in comps.iter().enumerate() {
        cur.push(c);
        if filter.is_excluded(&cur, i + 1 < comps.len()) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_is_order_independent_and_etag_sensitive() {
        let a = vec![
            ("b.yaml".to_string(), "\"2\"".to_string()),
            ("a.yaml".to_string(), "\"1\"".to_string()),
        ];
        let mut b = a.clone();
        b.reverse();
        assert_eq!(index_revision(&a), index_revision(&b));
        b[0].1 = "\"3\"".into();
        assert_ne!(index_revision(&a), index_revision(&b));
        assert!(index_revision(&a).starts_with("sha256:"));
    }

    #[test]
    fn keys_cannot_escape() {
        assert!(safe_rel("../x").is_none());
        assert!(safe_rel("/etc/passwd").is_none());
        assert_eq!(safe_rel("a/./b").unwrap(), Path::new("a/b"));
    }
}
