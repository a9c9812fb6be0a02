//! OCIRepository: pull Flux OCI artifacts (tag, semver or digest), select a layer, extract
//! or copy it into the store; and [`push_artifact`], the equivalent of `flux push artifact`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::archive::{self, Limits};
use crate::artifact::{self, Artifact, ObjectRef, Store, revision};
use crate::constraint::{Constraint, parse_version};
use crate::ignore::{Defaults, SourceFilter};

/// Layer media type of Flux artifacts.
pub const FLUX_CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
/// Config media type of Flux artifacts.
pub const FLUX_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
/// Annotation: where the content came from (a Git URL).
pub const ANNOTATION_SOURCE: &str = "org.opencontainers.image.source";
/// Annotation: the source revision (`main@sha1:…`).
pub const ANNOTATION_REVISION: &str = "org.opencontainers.image.revision";
/// Annotation: creation time, RFC 3339.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// Which artifact to pull. Precedence: `digest`, `semver`, `tag`; default tag `latest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OciReference {
    /// A tag.
    pub tag: Option<String>,
    /// A Masterminds semver constraint over the tags.
    pub semver: Option<String>,
    /// A manifest digest `sha256:…`.
    pub digest: Option<String>,
}

/// What to do with the selected layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LayerOperation {
    /// Extract the tar+gzip layer and re-archive it (ignore rules apply). Default.
    #[default]
    Extract,
    /// Store the layer blob as-is.
    Copy,
}

/// `spec.layerSelector`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerSelector {
    /// Media type of the layer to select; default: the first layer.
    pub media_type: Option<String>,
    /// Extract or copy.
    pub operation: LayerOperation,
}

/// Registry credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryCredentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Everything needed to produce an OCIRepository artifact.
#[derive(Debug, Clone)]
pub struct OciRepositoryOptions {
    /// `oci://registry/repository`.
    pub url: String,
    /// Tag, semver or digest.
    pub reference: OciReference,
    /// Which layer, and extract or copy.
    pub layer_selector: LayerSelector,
    /// Credentials (see [`credentials_from_docker_config`]).
    pub credentials: Option<RegistryCredentials>,
    /// Plain HTTP. Default false.
    pub insecure: bool,
    /// `spec.ignore` (extract only).
    pub ignore: Option<String>,
    /// Deadline. Default 60 s.
    pub timeout: Duration,
    /// Limits on the layer and its extracted content.
    pub limits: Limits,
}

impl OciRepositoryOptions {
    /// Options with documented defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            reference: OciReference::default(),
            layer_selector: LayerSelector::default(),
            credentials: None,
            insecure: false,
            ignore: None,
            timeout: Duration::from_secs(60),
            limits: Limits::default(),
        }
    }
}

/// Result of [`reconcile`].
#[derive(Debug, Clone)]
pub enum OciOutcome {
    /// The reference still resolves to the last revision.
    Unchanged {
        /// The revision.
        revision: String,
    },
    /// A new artifact.
    Updated(Artifact),
}

/// OCIRepository failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is not `oci://host/repo`, or the reference is malformed.
    #[error("{object}: invalid spec: {reason}")]
    InvalidSpec {
        /// The object.
        object: String,
        /// What is wrong.
        reason: String,
    },
    /// Listing tags or resolving the manifest digest failed.
    #[error("{object}: resolving {reference} failed")]
    ResolveFailed {
        /// The object.
        object: String,
        /// The image reference.
        reference: String,
        /// The registry error.
        #[source]
        source: oci_client::errors::OciDistributionError,
    },
    /// No tag satisfies the semver constraint.
    #[error("{object}: no tag of {repository} matches semver {constraint:?}")]
    NoMatchingTag {
        /// The object.
        object: String,
        /// The repository.
        repository: String,
        /// The constraint.
        constraint: String,
    },
    /// Pulling the manifest or a blob failed.
    #[error("{object}: pulling {reference} failed")]
    PullFailed {
        /// The object.
        object: String,
        /// The image reference.
        reference: String,
        /// The registry error.
        #[source]
        source: oci_client::errors::OciDistributionError,
    },
    /// No layer has the selected media type.
    #[error("{object}: {reference} has no layer with media type {media_type:?}")]
    LayerNotFound {
        /// The object.
        object: String,
        /// The image reference.
        reference: String,
        /// The wanted media type.
        media_type: String,
    },
    /// The downloaded blob does not match its descriptor.
    #[error("{object}: layer digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The object.
        object: String,
        /// Descriptor digest.
        expected: String,
        /// Digest of the downloaded bytes.
        actual: String,
    },
    /// The layer is larger than the configured limit.
    #[error("{object}: layer of {size} bytes exceeds the limit of {limit} bytes")]
    LayerTooLarge {
        /// The object.
        object: String,
        /// Declared size.
        size: i64,
        /// The limit.
        limit: u64,
    },
    /// Extracting the layer failed (hostile or corrupt archive).
    #[error("{object}: extracting layer failed")]
    ExtractFailed {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: archive::Error,
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
    /// Local scratch I/O.
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
    /// Pushing failed.
    #[error("pushing {reference} failed")]
    PushFailed {
        /// The image reference.
        reference: String,
        /// The registry error.
        #[source]
        source: oci_client::errors::OciDistributionError,
    },
    /// Packaging the directory for a push failed.
    #[error("packaging {dir} failed")]
    PackageFailed {
        /// The directory.
        dir: String,
        /// The cause.
        #[source]
        source: archive::Error,
    },
    /// A docker config JSON could not be parsed.
    #[error("invalid docker config JSON")]
    DockerConfig(#[source] serde_json::Error),
    /// The deadline passed.
    #[error("{object}: timed out after {timeout:?}")]
    Timeout {
        /// The object.
        object: String,
        /// The deadline.
        timeout: Duration,
    },
}

/// Parse `oci://host[:port]/path` into (registry, repository).
pub(crate) fn parse_oci_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("oci://")?;
    let (registry, repo) = rest.trim_end_matches('/').split_once('/')?;
    if registry.is_empty() || repo.is_empty() || repo.contains(':') || repo.contains('@') {
        return None;
    }
    Some((registry.to_string(), repo.to_string()))
}

pub(crate) fn client(insecure: bool) -> Client {
    Client::new(ClientConfig {
        protocol: if insecure {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        ..Default::default()
    })
}

pub(crate) fn registry_auth(c: &Option<RegistryCredentials>) -> RegistryAuth {
    match c {
        Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
        None => RegistryAuth::Anonymous,
    }
}

/// Pick the credentials for `registry` out of a `.dockerconfigjson` document (the content of a
/// `kubernetes.io/dockerconfigjson` Secret).
///
/// # Errors
/// Invalid JSON.
pub fn credentials_from_docker_config(
    json: &[u8],
    registry: &str,
) -> Result<Option<RegistryCredentials>, Error> {
    use base64::Engine;
    #[derive(serde::Deserialize)]
    struct Doc {
        #[serde(default)]
        auths: BTreeMap<String, Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        username: Option<String>,
        password: Option<String>,
        auth: Option<String>,
    }
    let doc: Doc = serde_json::from_slice(json).map_err(Error::DockerConfig)?;
    let norm = |s: &str| {
        let s = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(s);
        s.split('/').next().unwrap_or(s).to_string()
    };
    let want = norm(registry);
    for (key, e) in doc.auths {
        if norm(&key) != want {
            continue;
        }
        if let (Some(u), Some(p)) = (&e.username, &e.password) {
            return Ok(Some(RegistryCredentials {
                username: u.clone(),
                password: p.clone(),
            }));
        }
        if let Some(auth) = e.auth
            && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(auth.trim())
            && let Ok(s) = String::from_utf8(raw)
            && let Some((u, p)) = s.split_once(':')
        {
            return Ok(Some(RegistryCredentials {
                username: u.into(),
                password: p.into(),
            }));
        }
    }
    Ok(None)
}

/// Resolve the reference to (tag or None, manifest digest), without pulling the manifest body.
async fn resolve(
    obj: &ObjectRef,
    client: &Client,
    auth: &RegistryAuth,
    registry: &str,
    repo: &str,
    r: &OciReference,
) -> Result<(Option<String>, String), Error> {
    if let Some(d) = &r.digest {
        if !d.starts_with("sha256:") {
            return Err(Error::InvalidSpec {
                object: obj.to_string(),
                reason: format!("digest {d:?} is not sha256:…"),
            });
        }
        return Ok((None, d.clone()));
    }
    let tag = if let Some(range) = &r.semver {
        let constraint = Constraint::parse(range).map_err(|e| Error::InvalidSpec {
            object: obj.to_string(),
            reason: e.to_string(),
        })?;
        let image = Reference::with_tag(registry.into(), repo.into(), "latest".into());
        let tags = list_all_tags(client, &image, auth)
            .await
            .map_err(|source| Error::ResolveFailed {
                object: obj.to_string(),
                reference: format!("{registry}/{repo}"),
                source,
            })?;
        let parsed: Vec<(semver::Version, String)> = tags
            .into_iter()
            .filter_map(|t| parse_version(&t.replace('_', "+")).map(|v| (v, t)))
            .collect();
        constraint
            .best(parsed.iter().map(|(v, t)| (v.clone(), t)))
            .map(|(_, t)| t.clone())
            .ok_or_else(|| Error::NoMatchingTag {
                object: obj.to_string(),
                repository: format!("{registry}/{repo}"),
                constraint: range.clone(),
            })?
    } else {
        r.tag.clone().unwrap_or_else(|| "latest".into())
    };
    let image = Reference::with_tag(registry.into(), repo.into(), tag.clone());
    let digest = client
        .fetch_manifest_digest(&image, auth)
        .await
        .map_err(|source| Error::ResolveFailed {
            object: obj.to_string(),
            reference: image.to_string(),
            source,
        })?;
    Ok((Some(tag), digest))
}

pub(crate) async fn list_all_tags(
    client: &Client,
    image: &Reference,
    auth: &RegistryAuth,
) -> Result<Vec<String>, oci_client::errors::OciDistributionError> {
    let mut out: Vec<String> = Vec::new();
    loop {
        let page = client
            .list_tags(image, auth, Some(1000), out.last().map(String::as_str))
            .await?;
        let n = page.tags.len();
        out.extend(page.tags);
        if n < 1000 {
            return Ok(out);
        }
    }
}

/// Download a blob to `dest`, enforcing `limit` and verifying the descriptor digest.
pub(crate) async fn download_blob(
    obj: &ObjectRef,
    client: &Client,
    image: &Reference,
    layer: &OciDescriptor,
    dest: &Path,
    limit: u64,
) -> Result<(), Error> {
    if layer.size < 0 || layer.size as u64 > limit {
        return Err(Error::LayerTooLarge {
            object: obj.to_string(),
            size: layer.size,
            limit,
        });
    }
    let io = |source| Error::Io {
        object: obj.to_string(),
        source,
    };
    let mut stream = client
        .pull_blob_stream(image, layer)
        .await
        .map_err(|source| Error::PullFailed {
            object: obj.to_string(),
            reference: image.to_string(),
            source,
        })?;
    let mut file = tokio::fs::File::create(dest).await.map_err(io)?;
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    use futures::StreamExt;
    while let Some(chunk) = stream.stream.next().await {
        let chunk = chunk.map_err(|e| Error::Io {
            object: obj.to_string(),
            source: std::io::Error::other(e),
        })?;
        total += chunk.len() as u64;
        if total > limit {
            return Err(Error::LayerTooLarge {
                object: obj.to_string(),
                size: total as i64,
                limit,
            });
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
    if actual != layer.digest {
        return Err(Error::DigestMismatch {
            object: obj.to_string(),
            expected: layer.digest.clone(),
            actual,
        });
    }
    Ok(())
}

/// Reconcile an OCIRepository: no-op if the reference still resolves to `last_revision`.
///
/// # Errors
/// See [`Error`]; the previous artifact is untouched on error.
pub async fn reconcile(
    store: &Store,
    obj: &ObjectRef,
    opts: &OciRepositoryOptions,
    last_revision: Option<&str>,
) -> Result<OciOutcome, Error> {
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
    opts: &OciRepositoryOptions,
    last_revision: Option<&str>,
) -> Result<OciOutcome, Error> {
    let (registry, repo) = parse_oci_url(&opts.url).ok_or_else(|| Error::InvalidSpec {
        object: obj.to_string(),
        reason: format!("url {:?} is not oci://<registry>/<repository>", opts.url),
    })?;
    let client = client(opts.insecure);
    let auth = registry_auth(&opts.credentials);
    let (tag, digest) = resolve(obj, &client, &auth, &registry, &repo, &opts.reference).await?;
    let rev = revision::oci(tag.as_deref(), &digest);
    if last_revision == Some(rev.as_str()) {
        return Ok(OciOutcome::Unchanged { revision: rev });
    }
    let image = Reference::with_digest(registry.clone(), repo.clone(), digest.clone());
    let (manifest, _) = client
        .pull_image_manifest(&image, &auth)
        .await
        .map_err(|source| Error::PullFailed {
            object: obj.to_string(),
            reference: image.to_string(),
            source,
        })?;
    let layer = match &opts.layer_selector.media_type {
        Some(mt) => manifest.layers.iter().find(|l| &l.media_type == mt),
        None => manifest.layers.first(),
    }
    .ok_or_else(|| Error::LayerNotFound {
        object: obj.to_string(),
        reference: image.to_string(),
        media_type: opts
            .layer_selector
            .media_type
            .clone()
            .unwrap_or_else(|| "<any>".into()),
    })?;
    let scratch = tempfile::tempdir().map_err(|source| Error::Io {
        object: obj.to_string(),
        source,
    })?;
    let blob = scratch.path().join("layer");
    download_blob(obj, &client, &image, layer, &blob, opts.limits.max_bytes).await?;

    let mut artifact = match opts.layer_selector.operation {
        LayerOperation::Copy => store.store_file(obj, &blob, &rev, "tar.gz")?,
        LayerOperation::Extract => {
            let (store, obj2, opts2, rev2) =
                (store.clone(), obj.clone(), opts.clone(), rev.clone());
            let dir = scratch.path().join("content");
            tokio::task::spawn_blocking(move || -> Result<Artifact, Error> {
                let f = std::fs::File::open(&blob).map_err(|source| Error::Io {
                    object: obj2.to_string(),
                    source,
                })?;
                archive::extract_tar_gz(std::io::BufReader::new(f), &dir, &opts2.limits).map_err(
                    |source| Error::ExtractFailed {
                        object: obj2.to_string(),
                        source,
                    },
                )?;
                let filter =
                    SourceFilter::for_tree(&dir, Defaults::Source, opts2.ignore.as_deref())
                        .map_err(|source| Error::IgnoreRules {
                            object: obj2.to_string(),
                            source,
                        })?;
                Ok(store
                    .archive_dir(&obj2, &dir, &rev2, &filter, &opts2.limits)?
                    .0)
            })
            .await
            .map_err(|e| Error::Io {
                object: obj.to_string(),
                source: std::io::Error::other(e),
            })??
        }
    };
    if let Some(a) = manifest.annotations {
        artifact.metadata = a;
    }
    Ok(OciOutcome::Updated(artifact))
}

/// Options for [`push_artifact`].
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Registry credentials.
    pub credentials: Option<RegistryCredentials>,
    /// Plain HTTP.
    pub insecure: bool,
    /// Ignore patterns (gitignore syntax) on top of Flux's defaults.
    pub ignore: Option<String>,
    /// Extra manifest annotations.
    pub annotations: BTreeMap<String, String>,
    /// Creation time; default now.
    pub created: Option<chrono::DateTime<chrono::Utc>>,
}

/// Package `dir` as a Flux OCI artifact and push it to `reference`
/// (`oci://host/repo:tag` or `host/repo:tag`), like `flux push artifact`. Returns the
/// manifest digest.
///
/// # Errors
/// Packaging or registry failures.
pub async fn push_artifact(
    dir: &Path,
    reference: &str,
    source: &str,
    revision: &str,
    opts: &PushOptions,
) -> Result<String, Error> {
    let image: Reference = reference
        .strip_prefix("oci://")
        .unwrap_or(reference)
        .parse()
        .map_err(|e: oci_client::ParseError| Error::InvalidSpec {
            object: reference.into(),
            reason: e.to_string(),
        })?;
    let package = |source| Error::PackageFailed {
        dir: dir.display().to_string(),
        source,
    };
    let filter = SourceFilter::for_tree(dir, Defaults::Source, opts.ignore.as_deref()).map_err(
        |source| Error::IgnoreRules {
            object: dir.display().to_string(),
            source,
        },
    )?;
    let (data, _) =
        archive::write_tar_gz(dir, &filter, &Limits::default(), Vec::new()).map_err(package)?;
    let layers = vec![ImageLayer::new(data, FLUX_CONTENT_MEDIA_TYPE.into(), None)];
    let config = Config::new(b"{}".to_vec(), FLUX_CONFIG_MEDIA_TYPE.into(), None);
    let mut annotations = opts.annotations.clone();
    annotations.insert(ANNOTATION_SOURCE.into(), source.into());
    annotations.insert(ANNOTATION_REVISION.into(), revision.into());
    let created = opts.created.unwrap_or_else(chrono::Utc::now);
    annotations.insert(
        ANNOTATION_CREATED.into(),
        created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let manifest = OciImageManifest::build(&layers, &config, Some(annotations));
    let client = client(opts.insecure);
    let auth = registry_auth(&opts.credentials);
    let push_err = |source| Error::PushFailed {
        reference: image.to_string(),
        source,
    };
    client
        .push(&image, &layers, config, &auth, Some(manifest))
        .await
        .map_err(push_err)?;
    // The registry's digest is authoritative (it hashes the bytes oci-client sent).
    let pushed = client
        .fetch_manifest_digest(&image, &auth)
        .await
        .map_err(push_err)?;
    Ok(pushed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_urls_parse() {
        assert_eq!(
            parse_oci_url("oci://127.0.0.1:5000/org/app"),
            Some(("127.0.0.1:5000".into(), "org/app".into()))
        );
        assert_eq!(
            parse_oci_url("oci://ghcr.io/stefanprodan/manifests/podinfo/"),
            Some(("ghcr.io".into(), "stefanprodan/manifests/podinfo".into()))
        );
        assert_eq!(parse_oci_url("https://ghcr.io/x"), None);
        assert_eq!(parse_oci_url("oci://ghcr.io"), None);
        assert_eq!(parse_oci_url("oci://ghcr.io/x:tag"), None);
    }

    #[test]
    fn docker_config_credentials_are_found_by_registry() {
        let json = br#"{"auths":{"https://ghcr.io":{"auth":"Zmx1eDpzM2NyZXQ="},"localhost:5000":{"username":"u","password":"p"}}}"#;
        let c = credentials_from_docker_config(json, "ghcr.io")
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("flux", "s3cret")
        );
        let c = credentials_from_docker_config(json, "localhost:5000")
            .unwrap()
            .unwrap();
        assert_eq!(c.username, "u");
        assert!(
            credentials_from_docker_config(json, "docker.io")
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            credentials_from_docker_config(b"{", "x"),
            Err(Error::DockerConfig(_))
        ));
    }
}
