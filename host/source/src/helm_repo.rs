//! HelmRepository: fetch and cache a chart repository's `index.yaml` (revision = its
//! digest), or accept an OCI repository (`type: oci`), which has no index.

use std::collections::BTreeMap;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::artifact::{self, Artifact, ObjectRef, Store};

/// HTTP basic credentials for a chart repository.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HttpCredentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for HttpCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// `spec.type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RepositoryType {
    /// An HTTP(S) repository with an `index.yaml`. Default.
    #[default]
    Default,
    /// An OCI registry (`oci://…`); charts are resolved per HelmChart.
    Oci,
}

/// Everything needed to reconcile a HelmRepository.
#[derive(Debug, Clone)]
pub struct HelmRepositoryOptions {
    /// Repository URL (`https://stefanprodan.github.io/podinfo` or `oci://ghcr.io/org/charts`).
    pub url: String,
    /// `spec.type`.
    pub repo_type: RepositoryType,
    /// Basic auth.
    pub credentials: Option<HttpCredentials>,
    /// Send credentials to chart URLs on other hosts too (`spec.passCredentials`). Default false.
    pub pass_credentials: bool,
    /// Plain HTTP for `type: oci`. Default false.
    pub insecure: bool,
    /// Deadline. Default 60 s.
    pub timeout: Duration,
    /// Maximum index size. Default 50 MiB (Flux's default).
    pub max_index_bytes: u64,
}

impl HelmRepositoryOptions {
    /// Options with documented defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            repo_type: RepositoryType::Default,
            credentials: None,
            pass_credentials: false,
            insecure: false,
            timeout: Duration::from_secs(60),
            max_index_bytes: 50 * 1024 * 1024,
        }
    }
}

/// One chart version in an index.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct ChartVersion {
    /// Chart name.
    pub name: String,
    /// Chart version.
    pub version: String,
    /// Download URLs, absolute or relative to the repository URL.
    #[serde(default)]
    pub urls: Vec<String>,
    /// SHA-256 (hex) of the `.tgz`, if the index records it.
    #[serde(default)]
    pub digest: Option<String>,
    /// Everything else (appVersion, created, …).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_yaml_ng::Value>,
}

/// A parsed `index.yaml`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct Index {
    /// `v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Chart name → versions.
    #[serde(default)]
    pub entries: BTreeMap<String, Vec<ChartVersion>>,
}

/// Result of [`reconcile`].
#[derive(Debug, Clone)]
pub enum HelmRepositoryOutcome {
    /// The index has the same digest as the last artifact (or the server said 304).
    Unchanged {
        /// The revision.
        revision: String,
    },
    /// A new index artifact.
    Updated(Artifact),
    /// `type: oci`: nothing to fetch; charts resolve against the registry.
    Oci,
}

/// HelmRepository failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is unusable.
    #[error("{object}: invalid url {url:?}")]
    InvalidUrl {
        /// The object.
        object: String,
        /// The URL.
        url: String,
    },
    /// The HTTP request failed (connect, TLS, status).
    #[error("{object}: fetching {url} failed")]
    FetchFailed {
        /// The object.
        object: String,
        /// The URL.
        url: String,
        /// The HTTP error.
        #[source]
        source: reqwest::Error,
    },
    /// The index is larger than allowed.
    #[error("{object}: {url} is larger than {limit} bytes")]
    TooLarge {
        /// The object.
        object: String,
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The index is not a valid Helm repository index.
    #[error("{object}: invalid index from {url}")]
    InvalidIndex {
        /// The object.
        object: String,
        /// The URL.
        url: String,
        /// The parse error.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// Storing failed.
    #[error(transparent)]
    Artifact(#[from] artifact::Error),
    /// Reading a stored index failed.
    #[error("{object}: reading stored index")]
    ReadIndex {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(30)))
        .user_agent(concat!("gyre-source/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("reqwest client with rustls builds")
}

/// The index URL for a repository URL.
pub fn index_url(repo_url: &str) -> String {
    format!("{}/index.yaml", repo_url.trim_end_matches('/'))
}

/// Parse an index and sort each chart's versions newest first.
///
/// # Errors
/// Not YAML, or no `apiVersion`.
pub fn parse_index(bytes: &[u8]) -> Result<Index, serde_yaml_ng::Error> {
    let mut index: Index = serde_yaml_ng::from_slice(bytes)?;
    for versions in index.entries.values_mut() {
        versions.sort_by(|a, b| {
            let va = crate::constraint::parse_version(&a.version);
            let vb = crate::constraint::parse_version(&b.version);
            vb.cmp(&va)
        });
    }
    Ok(index)
}

/// Fetch and store a repository index; no-op when it has not changed since `last`.
///
/// The artifact is the index as served; its revision is `sha256:<hex>` of those bytes and
/// its metadata keeps the server's `ETag` for a conditional request next time.
///
/// # Errors
/// See [`Error`].
pub async fn reconcile(
    store: &Store,
    obj: &ObjectRef,
    opts: &HelmRepositoryOptions,
    last: Option<&Artifact>,
) -> Result<HelmRepositoryOutcome, Error> {
    if opts.repo_type == RepositoryType::Oci || opts.url.starts_with("oci://") {
        if crate::oci::parse_oci_url(&opts.url).is_none() {
            return Err(Error::InvalidUrl {
                object: obj.to_string(),
                url: opts.url.clone(),
            });
        }
        return Ok(HelmRepositoryOutcome::Oci);
    }
    if !(opts.url.starts_with("http://") || opts.url.starts_with("https://")) {
        return Err(Error::InvalidUrl {
            object: obj.to_string(),
            url: opts.url.clone(),
        });
    }
    let url = index_url(&opts.url);
    let fetch_err = |source| Error::FetchFailed {
        object: obj.to_string(),
        url: url.clone(),
        source,
    };
    let mut req = http_client(opts.timeout).get(&url);
    if let Some(c) = &opts.credentials {
        req = req.basic_auth(&c.username, Some(&c.password));
    }
    if let Some(etag) = last.and_then(|a| a.metadata.get("etag")) {
        req = req.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    let resp = req.send().await.map_err(fetch_err)?;
    if resp.status() == reqwest::StatusCode::NOT_MODIFIED
        && let Some(last) = last
    {
        return Ok(HelmRepositoryOutcome::Unchanged {
            revision: last.revision.clone(),
        });
    }
    let resp = resp.error_for_status().map_err(fetch_err)?;
    let etag = resp
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = read_body_limited(resp, opts.max_index_bytes)
        .await
        .map_err(|e| match e {
            BodyError::Http(source) => Error::FetchFailed {
                object: obj.to_string(),
                url: url.clone(),
                source,
            },
            BodyError::TooLarge => Error::TooLarge {
                object: obj.to_string(),
                url: url.clone(),
                limit: opts.max_index_bytes,
            },
        })?;
    let index = parse_index(&bytes).map_err(|source| Error::InvalidIndex {
        object: obj.to_string(),
        url: url.clone(),
        source,
    })?;
    if index.api_version.is_empty() {
        return Err(Error::InvalidIndex {
            object: obj.to_string(),
            url,
            source: <serde_yaml_ng::Error as serde::de::Error>::custom("apiVersion is empty"),
        });
    }
    let revision = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    if let Some(last) = last
        && last.revision == revision
    {
        return Ok(HelmRepositoryOutcome::Unchanged { revision });
    }
    let mut artifact = store.store_bytes(obj, &bytes, &revision, "yaml")?;
    if let Some(etag) = etag {
        artifact.metadata.insert("etag".into(), etag);
    }
    Ok(HelmRepositoryOutcome::Updated(artifact))
}

/// Load a stored index artifact.
///
/// # Errors
/// I/O, digest mismatch, or an invalid index.
pub fn load_index(store: &Store, obj: &ObjectRef, artifact: &Artifact) -> Result<Index, Error> {
    store.verify(obj, artifact)?;
    let f = store.open(obj, artifact)?;
    let bytes =
        artifact::read_limited(f, 512 * 1024 * 1024).map_err(|source| Error::ReadIndex {
            object: obj.to_string(),
            source,
        })?;
    parse_index(&bytes).map_err(|source| Error::InvalidIndex {
        object: obj.to_string(),
        url: artifact.url.clone(),
        source,
    })
}

pub(crate) enum BodyError {
    Http(reqwest::Error),
    TooLarge,
}

pub(crate) async fn read_body_limited(
    mut resp: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Http)? {
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(BodyError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_versions_are_sorted_newest_first() {
        let idx = parse_index(
            b"apiVersion: v1\nentries:\n  podinfo:\n  - name: podinfo\n    version: 6.0.0\n    urls: [a.tgz]\n  - name: podinfo\n    version: 6.10.0\n    urls: [b.tgz]\n    appVersion: 6.10.0\n",
        )
        .unwrap();
        let v: Vec<_> = idx.entries["podinfo"]
            .iter()
            .map(|c| c.version.as_str())
            .collect();
        assert_eq!(v, ["6.10.0", "6.0.0"]);
        assert!(idx.entries["podinfo"][0].extra.contains_key("appVersion"));
    }

    #[test]
    fn garbage_index_is_rejected() {
        assert!(parse_index(b"<html>not yaml: [").is_err());
        assert!(
            parse_index(b"entries: {}\n").is_err(),
            "apiVersion is required"
        );
    }
}
