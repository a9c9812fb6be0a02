//! HelmChart: resolve a chart version (Masterminds semver) and fetch the packaged chart from
//! a Helm repository index, an OCI registry, or a directory inside another source's artifact.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_client::Reference;
use sha2::{Digest, Sha256};

use crate::archive::{self, Limits};
use crate::artifact::{self, Artifact, ObjectRef, Store};
use crate::constraint::{Constraint, parse_version};
use crate::helm_repo::{self, HelmRepositoryOptions, Index};
use crate::ignore::SourceFilter;
use crate::oci;

/// Layer media type of a Helm chart in an OCI registry.
pub const HELM_CHART_CONTENT_MEDIA_TYPE: &str =
    "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// Where the chart comes from (`spec.sourceRef`).
#[derive(Debug, Clone)]
pub enum ChartSource {
    /// A HelmRepository with an index; `index` is its stored index artifact (fetched directly
    /// if `None`).
    Repository {
        /// The repository object (for messages and the stored index).
        object: ObjectRef,
        /// Its options (URL, credentials).
        options: HelmRepositoryOptions,
        /// Its current index artifact.
        index: Option<Artifact>,
    },
    /// A HelmRepository of `type: oci`.
    Oci {
        /// Its options (`oci://host/path`, credentials in `credentials`, `insecure`).
        options: HelmRepositoryOptions,
    },
    /// A GitRepository or Bucket artifact; `chart` is a path inside it.
    Artifact {
        /// The source object.
        object: ObjectRef,
        /// Its artifact.
        artifact: Artifact,
    },
}

/// Everything needed to reconcile a HelmChart.
#[derive(Debug, Clone)]
pub struct HelmChartOptions {
    /// Chart name (repositories) or path (artifacts).
    pub chart: String,
    /// Semver constraint; default `*` (latest non-prerelease).
    pub version: Option<String>,
    /// Where from.
    pub source: ChartSource,
    /// Deadline. Default 60 s.
    pub timeout: Duration,
    /// Limits for the packaged chart and its content. Default 10 MiB packaged (Flux's
    /// `--helm-chart-max-size`), default file limits.
    pub limits: Limits,
}

impl HelmChartOptions {
    /// Options with documented defaults.
    pub fn new(chart: impl Into<String>, source: ChartSource) -> Self {
        Self {
            chart: chart.into(),
            version: None,
            source,
            timeout: Duration::from_secs(60),
            limits: Limits {
                max_bytes: 10 * 1024 * 1024,
                ..Limits::default()
            },
        }
    }
}

/// Result of [`reconcile`].
#[derive(Debug, Clone)]
pub enum HelmChartOutcome {
    /// The resolved version equals the last revision.
    Unchanged {
        /// The revision (chart version).
        revision: String,
    },
    /// A new chart artifact (a `.tgz`, revision = chart version).
    Updated(Artifact),
}

/// HelmChart failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The version constraint is invalid.
    #[error("{object}: invalid version constraint")]
    InvalidConstraint {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: crate::constraint::ParseError,
    },
    /// The chart is not in the index, or no version matches.
    #[error("{object}: no chart {chart:?} version matching {constraint:?} in {source_name}")]
    ChartNotFound {
        /// The object.
        object: String,
        /// The chart.
        chart: String,
        /// The constraint.
        constraint: String,
        /// The repository.
        source_name: String,
    },
    /// Loading the repository index failed.
    #[error("{object}: repository index")]
    Index {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: Box<helm_repo::Error>,
    },
    /// Downloading the chart failed.
    #[error("{object}: downloading {url} failed")]
    DownloadFailed {
        /// The object.
        object: String,
        /// The chart URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The chart URL in the index is unusable.
    #[error("{object}: invalid chart url {url:?}")]
    InvalidUrl {
        /// The object.
        object: String,
        /// The URL.
        url: String,
    },
    /// The chart exceeds the size limit.
    #[error("{object}: chart {url} is larger than {limit} bytes")]
    TooLarge {
        /// The object.
        object: String,
        /// Where from.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The download does not match the digest in the index.
    #[error(
        "{object}: chart {url} digest mismatch: index says sha256:{expected}, got sha256:{actual}"
    )]
    DigestMismatch {
        /// The object.
        object: String,
        /// The chart URL.
        url: String,
        /// From the index.
        expected: String,
        /// Of the download.
        actual: String,
    },
    /// The package is not a valid chart archive (corrupt, hostile, no Chart.yaml).
    #[error("{object}: invalid chart package {what}")]
    InvalidChart {
        /// The object.
        object: String,
        /// Which package or path.
        what: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Pulling from the OCI registry failed.
    #[error("{object}: OCI chart")]
    Oci {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: Box<oci::Error>,
    },
    /// Storing failed.
    #[error(transparent)]
    Artifact(#[from] artifact::Error),
    /// Local I/O.
    #[error("{object}: local I/O")]
    Io {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The deadline passed.
    #[error("{object}: timed out after {timeout:?}")]
    Timeout {
        /// The object.
        object: String,
        /// The deadline.
        timeout: Duration,
    },
}

/// The parts of Chart.yaml we need.
#[derive(Debug, serde::Deserialize)]
struct ChartMeta {
    name: String,
    version: String,
}

/// Resolve a chart URL from an index entry against the repository URL.
pub fn resolve_chart_url(repo_url: &str, chart_url: &str) -> Option<String> {
    if chart_url.contains("://") {
        return Some(chart_url.to_string());
    }
    let base = reqwest::Url::parse(&format!("{}/", repo_url.trim_end_matches('/'))).ok()?;
    base.join(chart_url).ok().map(|u| u.to_string())
}

/// Reconcile a HelmChart.
///
/// # Errors
/// See [`Error`]; the previous artifact is untouched on error.
pub async fn reconcile(
    store: &Store,
    obj: &ObjectRef,
    opts: &HelmChartOptions,
    last_revision: Option<&str>,
) -> Result<HelmChartOutcome, Error> {
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
    opts: &HelmChartOptions,
    last_revision: Option<&str>,
) -> Result<HelmChartOutcome, Error> {
    let constraint_text = opts.version.clone().unwrap_or_else(|| "*".into());
    let constraint =
        Constraint::parse(&constraint_text).map_err(|source| Error::InvalidConstraint {
            object: obj.to_string(),
            source,
        })?;
    match &opts.source {
        ChartSource::Repository {
            object,
            options,
            index,
        } => {
            let index: Index = match index {
                Some(a) => helm_repo::load_index(store, object, a),
                None => fetch_index(object, options).await,
            }
            .map_err(|source| Error::Index {
                object: obj.to_string(),
                source: Box::new(source),
            })?;
            let not_found = || Error::ChartNotFound {
                object: obj.to_string(),
                chart: opts.chart.clone(),
                constraint: constraint_text.clone(),
                source_name: options.url.clone(),
            };
            let versions = index.entries.get(&opts.chart).ok_or_else(not_found)?;
            let (_, entry) = constraint
                .best(
                    versions
                        .iter()
                        .filter_map(|c| parse_version(&c.version).map(|v| (v, c))),
                )
                .ok_or_else(not_found)?;
            if last_revision == Some(entry.version.as_str()) {
                return Ok(HelmChartOutcome::Unchanged {
                    revision: entry.version.clone(),
                });
            }
            let first = entry.urls.first().ok_or_else(|| Error::InvalidUrl {
                object: obj.to_string(),
                url: String::new(),
            })?;
            let url = resolve_chart_url(&options.url, first).ok_or_else(|| Error::InvalidUrl {
                object: obj.to_string(),
                url: first.clone(),
            })?;
            let bytes = download(obj, options, &url, opts.limits.max_bytes).await?;
            if let Some(expected) = entry.digest.as_deref().filter(|d| !d.is_empty()) {
                let actual = hex::encode(Sha256::digest(&bytes));
                let expected = expected.trim_start_matches("sha256:");
                if !actual.eq_ignore_ascii_case(expected) {
                    return Err(Error::DigestMismatch {
                        object: obj.to_string(),
                        url,
                        expected: expected.into(),
                        actual,
                    });
                }
            }
            validate_package(obj, &url, &bytes, &opts.chart, &entry.version, &opts.limits)?;
            Ok(HelmChartOutcome::Updated(store.store_bytes(
                obj,
                &bytes,
                &entry.version,
                "tgz",
            )?))
        }
        ChartSource::Oci { options } => {
            let oci_err = |source: oci::Error| Error::Oci {
                object: obj.to_string(),
                source: Box::new(source),
            };
            let (registry, base) =
                oci::parse_oci_url(&options.url).ok_or_else(|| Error::InvalidUrl {
                    object: obj.to_string(),
                    url: options.url.clone(),
                })?;
            let repo = format!("{base}/{}", opts.chart);
            let client = oci::client(options.insecure);
            let creds = options
                .credentials
                .as_ref()
                .map(|c| oci::RegistryCredentials {
                    username: c.username.clone(),
                    password: c.password.clone(),
                });
            let auth = oci::registry_auth(&creds);
            let image = Reference::with_tag(registry.clone(), repo.clone(), "latest".into());
            let tags = oci::list_all_tags(&client, &image, &auth)
                .await
                .map_err(|source| {
                    oci_err(oci::Error::ResolveFailed {
                        object: obj.to_string(),
                        reference: format!("{registry}/{repo}"),
                        source,
                    })
                })?;
            // Helm stores `+` as `_` in OCI tags.
            let parsed: Vec<(semver::Version, String)> = tags
                .into_iter()
                .filter_map(|t| parse_version(&t.replace('_', "+")).map(|v| (v, t)))
                .collect();
            let (version, tag) = constraint
                .best(parsed.iter().map(|(v, t)| (v.clone(), t)))
                .map(|(v, t)| (v, t.clone()))
                .ok_or_else(|| Error::ChartNotFound {
                    object: obj.to_string(),
                    chart: opts.chart.clone(),
                    constraint: constraint_text.clone(),
                    source_name: options.url.clone(),
                })?;
            let version = version.to_string();
            if last_revision == Some(version.as_str()) {
                return Ok(HelmChartOutcome::Unchanged { revision: version });
            }
            let image = Reference::with_tag(registry, repo, tag);
            let (manifest, _) =
                client
                    .pull_image_manifest(&image, &auth)
                    .await
                    .map_err(|source| {
                        oci_err(oci::Error::PullFailed {
                            object: obj.to_string(),
                            reference: image.to_string(),
                            source,
                        })
                    })?;
            let layer = manifest
                .layers
                .iter()
                .find(|l| l.media_type == HELM_CHART_CONTENT_MEDIA_TYPE)
                .ok_or_else(|| {
                    oci_err(oci::Error::LayerNotFound {
                        object: obj.to_string(),
                        reference: image.to_string(),
                        media_type: HELM_CHART_CONTENT_MEDIA_TYPE.into(),
                    })
                })?;
            let scratch = tempfile::tempdir().map_err(|source| Error::Io {
                object: obj.to_string(),
                source,
            })?;
            let path = scratch.path().join("chart.tgz");
            oci::download_blob(obj, &client, &image, layer, &path, opts.limits.max_bytes)
                .await
                .map_err(oci_err)?;
            let bytes = std::fs::read(&path).map_err(|source| Error::Io {
                object: obj.to_string(),
                source,
            })?;
            validate_package(
                obj,
                &image.to_string(),
                &bytes,
                &opts.chart,
                &version,
                &opts.limits,
            )?;
            Ok(HelmChartOutcome::Updated(
                store.store_bytes(obj, &bytes, &version, "tgz")?,
            ))
        }
        ChartSource::Artifact { object, artifact } => {
            let (store2, obj2, src_obj, src_art, opts2) = (
                store.clone(),
                obj.clone(),
                object.clone(),
                artifact.clone(),
                opts.clone(),
            );
            let last = last_revision.map(str::to_string);
            tokio::task::spawn_blocking(move || {
                package_from_artifact(
                    &store2,
                    &obj2,
                    &src_obj,
                    &src_art,
                    &opts2,
                    &constraint,
                    last.as_deref(),
                )
            })
            .await
            .map_err(|e| Error::Io {
                object: obj.to_string(),
                source: std::io::Error::other(e),
            })?
        }
    }
}

async fn fetch_index(
    object: &ObjectRef,
    options: &HelmRepositoryOptions,
) -> Result<Index, helm_repo::Error> {
    let url = helm_repo::index_url(&options.url);
    let mut req = helm_repo::http_client(options.timeout).get(&url);
    if let Some(c) = &options.credentials {
        req = req.basic_auth(&c.username, Some(&c.password));
    }
    let fetch_err = |source| helm_repo::Error::FetchFailed {
        object: object.to_string(),
        url: url.clone(),
        source,
    };
    let resp = req
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(fetch_err)?;
    let bytes = helm_repo::read_body_limited(resp, options.max_index_bytes)
        .await
        .map_err(|e| match e {
            helm_repo::BodyError::Http(source) => helm_repo::Error::FetchFailed {
                object: object.to_string(),
                url: url.clone(),
                source,
            },
            helm_repo::BodyError::TooLarge => helm_repo::Error::TooLarge {
                object: object.to_string(),
                url: url.clone(),
                limit: options.max_index_bytes,
            },
        })?;
    helm_repo::parse_index(&bytes).map_err(|source| helm_repo::Error::InvalidIndex {
        object: object.to_string(),
        url,
        source,
    })
}

fn same_host(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

async fn download(
    obj: &ObjectRef,
    repo: &HelmRepositoryOptions,
    url: &str,
    limit: u64,
) -> Result<Vec<u8>, Error> {
    let mut req = helm_repo::http_client(repo.timeout).get(url);
    if let Some(c) = &repo.credentials
        && (repo.pass_credentials || same_host(&repo.url, url))
    {
        req = req.basic_auth(&c.username, Some(&c.password));
    }
    let err = |source| Error::DownloadFailed {
        object: obj.to_string(),
        url: url.to_string(),
        source,
    };
    let resp = req
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(err)?;
    helm_repo::read_body_limited(resp, limit)
        .await
        .map_err(|e| match e {
            helm_repo::BodyError::Http(source) => err(source),
            helm_repo::BodyError::TooLarge => Error::TooLarge {
                object: obj.to_string(),
                url: url.to_string(),
                limit,
            },
        })
}

/// Check a packaged chart: a safe tar+gzip with `<name>/Chart.yaml` of the expected version.
fn validate_package(
    obj: &ObjectRef,
    what: &str,
    bytes: &[u8],
    name: &str,
    version: &str,
    limits: &Limits,
) -> Result<(), Error> {
    let invalid = |e: Box<dyn std::error::Error + Send + Sync>| Error::InvalidChart {
        object: obj.to_string(),
        what: what.to_string(),
        source: e,
    };
    let dir = tempfile::tempdir().map_err(|source| Error::Io {
        object: obj.to_string(),
        source,
    })?;
    archive::extract_tar_gz(bytes, dir.path(), limits).map_err(|e| invalid(Box::new(e)))?;
    let meta = read_chart_meta(&dir.path().join(name)).map_err(invalid)?;
    if meta.name != name || parse_version(&meta.version) != parse_version(version) {
        return Err(invalid(
            format!(
                "Chart.yaml says {} {}, expected {name} {version}",
                meta.name, meta.version
            )
            .into(),
        ));
    }
    Ok(())
}

fn read_chart_meta(dir: &Path) -> Result<ChartMeta, Box<dyn std::error::Error + Send + Sync>> {
    let path = dir.join("Chart.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_yaml_ng::from_str(&text)?)
}

fn package_from_artifact(
    store: &Store,
    obj: &ObjectRef,
    src_obj: &ObjectRef,
    src_art: &Artifact,
    opts: &HelmChartOptions,
    constraint: &Constraint,
    last_revision: Option<&str>,
) -> Result<HelmChartOutcome, Error> {
    let invalid = |e: Box<dyn std::error::Error + Send + Sync>| Error::InvalidChart {
        object: obj.to_string(),
        what: opts.chart.clone(),
        source: e,
    };
    let scratch = tempfile::tempdir().map_err(|source| Error::Io {
        object: obj.to_string(),
        source,
    })?;
    // The source artifact can be much larger than one chart: use default limits for it.
    store.extract(src_obj, src_art, scratch.path(), &Limits::default())?;
    let mut dir = PathBuf::from(scratch.path());
    for c in Path::new(&opts.chart).components() {
        match c {
            std::path::Component::Normal(n) => dir.push(n),
            std::path::Component::CurDir => {}
            _ => return Err(invalid("chart path leaves the source artifact".into())),
        }
    }
    let meta = read_chart_meta(&dir).map_err(invalid)?;
    let version = parse_version(&meta.version)
        .ok_or_else(|| invalid(format!("version {:?} is not semver", meta.version).into()))?;
    if !constraint.matches(&version) {
        return Err(Error::ChartNotFound {
            object: obj.to_string(),
            chart: opts.chart.clone(),
            constraint: constraint.to_string(),
            source_name: src_obj.to_string(),
        });
    }
    if last_revision == Some(meta.version.as_str()) {
        return Ok(HelmChartOutcome::Unchanged {
            revision: meta.version,
        });
    }
    let mut filter = SourceFilter::none();
    if let Ok(text) = std::fs::read_to_string(dir.join(".helmignore")) {
        filter
            .push_lines(Path::new(""), text.lines(), ".helmignore")
            .map_err(|e| invalid(Box::new(e)))?;
    }
    let (bytes, _) =
        archive::write_tar_gz_with_prefix(&dir, &meta.name, &filter, &opts.limits, Vec::new())
            .map_err(|e| invalid(Box::new(e)))?;
    Ok(HelmChartOutcome::Updated(store.store_bytes(
        obj,
        &bytes,
        &meta.version,
        "tgz",
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_urls_resolve_relative_and_absolute() {
        assert_eq!(
            resolve_chart_url("http://h:1/charts", "podinfo-1.0.0.tgz").unwrap(),
            "http://h:1/charts/podinfo-1.0.0.tgz"
        );
        assert_eq!(
            resolve_chart_url("http://h:1/charts/", "sub/p.tgz").unwrap(),
            "http://h:1/charts/sub/p.tgz"
        );
        assert_eq!(
            resolve_chart_url("http://h:1/charts", "https://cdn/x.tgz").unwrap(),
            "https://cdn/x.tgz"
        );
    }

    #[test]
    fn credentials_only_go_to_the_same_host() {
        assert!(same_host("http://h:1/charts", "http://h:1/other/x.tgz"));
        assert!(!same_host("http://h:1/charts", "http://h:2/x.tgz"));
        assert!(!same_host(
            "https://repo.example.com",
            "https://cdn.example.com/x.tgz"
        ));
    }
}
