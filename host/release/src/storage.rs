//! Helm's Secret storage driver: one Secret per release revision, found by labels.
//!
//! Layout (Helm 3, `pkg/storage/driver/secrets.go`): Secret `sh.helm.release.v1.<name>.v<N>`
//! of type `helm.sh/release.v1` with the encoded release in `data.release` and the labels
//! `name`, `owner=helm`, `status`, `version`, plus `createdAt` (set by a create) or
//! `modifiedAt` (set by an update) in Unix seconds. `helm list` selects `owner=helm`,
//! `helm history` selects `name=<name>,owner=helm`, and Helm finds the deployed revision with
//! `name=<name>,owner=helm,status=deployed` — so the labels must be kept exactly in step with
//! the encoded release.

use std::collections::BTreeMap;

use chrono::Utc;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};

use crate::codec::{self, CodecError};
use crate::release::{Release, Status};

/// The Secret type Helm 3 gives release Secrets.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";
/// The data key holding the encoded release.
pub const DATA_KEY: &str = "release";
/// The `owner` label's value.
pub const OWNER: &str = "helm";

/// Labels Helm owns on a release Secret; custom release labels never override them, and
/// they are not reported back as custom labels.
const SYSTEM_LABELS: [&str; 8] = [
    "name",
    "owner",
    "status",
    "version",
    "key",
    "type",
    "createdAt",
    "modifiedAt",
];

/// What went wrong with a release in storage. Every variant names the release and revision.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No Secret for this revision.
    #[error("release {name} v{version} not found in namespace {namespace}")]
    NotFound {
        /// Release name.
        name: String,
        /// Revision.
        version: i32,
        /// Storage namespace.
        namespace: String,
    },
    /// A create found the revision already stored.
    #[error("release {name} v{version} already exists in namespace {namespace}")]
    AlreadyExists {
        /// Release name.
        name: String,
        /// Revision.
        version: i32,
        /// Storage namespace.
        namespace: String,
    },
    /// The release, or a name asked for, is not one Helm could store or select.
    #[error("release {name} v{version} is invalid: {reason}")]
    Invalid {
        /// Release name.
        name: String,
        /// Revision.
        version: i32,
        /// Why.
        reason: String,
    },
    /// The Secret exists but holds no release data.
    #[error("release {name} v{version}: Secret {secret} has no data.{DATA_KEY} text")]
    MissingData {
        /// Release name.
        name: String,
        /// Revision.
        version: i32,
        /// The Secret's name.
        secret: String,
    },
    /// The stored release could not be decoded.
    #[error("release {name} v{version}: Secret {secret} could not be decoded")]
    Decode {
        /// Release name.
        name: String,
        /// Revision.
        version: i32,
        /// The Secret's name.
        secret: String,
        /// Which layer was wrong.
        #[source]
        source: CodecError,
    },
    /// An API call failed.
    #[error("release {name} v{version}: {verb} of Secret {secret} failed")]
    Api {
        /// Release name.
        name: String,
        /// Revision (0 for calls about every revision, e.g. a list).
        version: i32,
        /// The verb: `create`, `update`, `get`, `list`, `delete`.
        verb: &'static str,
        /// The Secret's name, or the label selector of a list.
        secret: String,
        /// The API error (boxed: it is large and errors travel in every `Result`).
        #[source]
        source: Box<kube::Error>,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The Secret name Helm uses for a revision: `sh.helm.release.v1.<name>.v<version>`.
pub fn secret_name(name: &str, version: i32) -> String {
    format!("sh.helm.release.v1.{name}.v{version}")
}

/// Release storage in one namespace, in Helm's Secret format.
#[derive(Clone)]
pub struct SecretStorage {
    api: Api<Secret>,
    namespace: String,
}

impl SecretStorage {
    /// Storage for releases whose Secrets live in `namespace` (Helm's `--namespace`, Flux's
    /// `storageNamespace`).
    pub fn new(client: Client, namespace: &str) -> SecretStorage {
        SecretStorage {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
        }
    }

    /// The storage namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Stores a new revision (Helm's `Create`: label `createdAt`).
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] when the revision is already stored; [`Error::Invalid`] for a
    /// name or version Helm could not store either; [`Error::Api`] otherwise.
    pub async fn create(&self, release: &Release) -> Result<()> {
        let secret = self.to_secret(release, "createdAt")?;
        let name = secret.metadata.name.clone().unwrap_or_default();
        match self.api.create(&PostParams::default(), &secret).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Err(Error::AlreadyExists {
                name: release.name.clone(),
                version: release.version,
                namespace: self.namespace.clone(),
            }),
            Err(e) => Err(self.api_error(release, "create", name, e)),
        }
    }

    /// Rewrites a stored revision, e.g. `deployed` → `superseded` (Helm's `Update`: the whole
    /// Secret is replaced, labels included, with `modifiedAt`).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the revision is not stored; [`Error::Invalid`], [`Error::Api`].
    pub async fn update(&self, release: &Release) -> Result<()> {
        let secret = self.to_secret(release, "modifiedAt")?;
        let name = secret.metadata.name.clone().unwrap_or_default();
        // Helm replaces without a resourceVersion: last writer wins, as with `helm` itself.
        match self
            .api
            .replace(&name, &PostParams::default(), &secret)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Err(Error::NotFound {
                name: release.name.clone(),
                version: release.version,
                namespace: self.namespace.clone(),
            }),
            Err(e) => Err(self.api_error(release, "update", name, e)),
        }
    }

    /// Reads one revision.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::MissingData`] or [`Error::Decode`] for a Secret that does
    /// not hold a readable release; [`Error::Api`].
    pub async fn get(&self, name: &str, version: i32) -> Result<Release> {
        let secret_name = secret_name(name, version);
        match self.api.get_opt(&secret_name).await {
            Ok(Some(secret)) => decode_secret(name, version, &secret),
            Ok(None) => Err(Error::NotFound {
                name: name.to_string(),
                version,
                namespace: self.namespace.clone(),
            }),
            Err(source) => Err(Error::Api {
                name: name.to_string(),
                version,
                verb: "get",
                secret: secret_name,
                source: Box::new(source),
            }),
        }
    }

    /// Every stored revision of a release, oldest first (empty when there is none).
    ///
    /// # Errors
    /// A revision that cannot be decoded fails the whole call ([`Error::Decode`] naming it)
    /// rather than being skipped as `helm` does: a caller choosing the next revision number
    /// or the one to roll back to must not act on a partial history.
    /// [`SecretStorage::delete`] removes such a revision without decoding it. [`Error::Api`]
    /// when the list fails; [`Error::Invalid`] for a name that is not a label value.
    pub async fn history(&self, name: &str) -> Result<Vec<Release>> {
        self.query(name, None).await
    }

    /// The deployed revision, if any. When several are marked deployed (Helm's storage
    /// after concurrent writers), the newest wins, as in Helm.
    ///
    /// # Errors
    /// As [`SecretStorage::history`].
    pub async fn deployed(&self, name: &str) -> Result<Option<Release>> {
        Ok(self
            .query(name, Some(&Status::Deployed))
            .await?
            .into_iter()
            .next_back())
    }

    /// Every revision marked deployed, oldest first. Normally one; after an upgrade or a
    /// rollback succeeds Helm marks all of them `superseded` before marking the new one
    /// `deployed`, which heals a history left with several by concurrent writers.
    ///
    /// # Errors
    /// As [`SecretStorage::history`].
    pub async fn deployed_all(&self, name: &str) -> Result<Vec<Release>> {
        self.query(name, Some(&Status::Deployed)).await
    }

    /// The newest revision whatever its status, if any.
    ///
    /// # Errors
    /// As [`SecretStorage::history`].
    pub async fn last(&self, name: &str) -> Result<Option<Release>> {
        Ok(self.history(name).await?.into_iter().next_back())
    }

    /// Deletes one revision's Secret. It is not decoded first, so a corrupt revision can be
    /// removed too.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Api`].
    pub async fn delete(&self, name: &str, version: i32) -> Result<()> {
        let secret_name = secret_name(name, version);
        match self
            .api
            .delete(&secret_name, &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Err(Error::NotFound {
                name: name.to_string(),
                version,
                namespace: self.namespace.clone(),
            }),
            Err(source) => Err(Error::Api {
                name: name.to_string(),
                version,
                verb: "delete",
                secret: secret_name,
                source: Box::new(source),
            }),
        }
    }

    /// Helm's `maxHistory`: deletes the oldest revisions until at most `max` remain, never
    /// the deployed one. `max == 0` means no limit, as in Helm and Flux. Returns the deleted
    /// revisions, oldest first.
    ///
    /// The deployed revision counts towards `max`, so with `max = 2` and revisions 1..=5
    /// where 2 is deployed, 2 and 5 remain (as Helm's `removeLeastRecent` does).
    ///
    /// # Errors
    /// As [`SecretStorage::history`] and [`SecretStorage::delete`]; revisions deleted before
    /// a failure stay deleted.
    pub async fn prune_history(&self, name: &str, max: usize) -> Result<Vec<i32>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let history = self.history(name).await?;
        let deployed = history
            .iter()
            .rev()
            .find(|r| r.info.status == Status::Deployed)
            .map(|r| r.version);
        let excess = history.len().saturating_sub(max);
        let doomed: Vec<i32> = history
            .iter()
            .map(|r| r.version)
            .filter(|v| Some(*v) != deployed)
            .take(excess)
            .collect();
        for version in &doomed {
            self.delete(name, *version).await?;
        }
        Ok(doomed)
    }

    async fn query(&self, name: &str, status: Option<&Status>) -> Result<Vec<Release>> {
        // The name goes into a label selector: refuse anything that would change its meaning.
        if name.is_empty()
            || name.contains(|c: char| !(c.is_ascii_alphanumeric() || "-._".contains(c)))
        {
            return Err(Error::Invalid {
                name: name.to_string(),
                version: 0,
                reason: "a release name must be a label value".into(),
            });
        }
        let mut selector = format!("name={name},owner={OWNER}");
        if let Some(status) = status {
            selector.push_str(&format!(",status={status}"));
        }
        let list = self
            .api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|source| Error::Api {
                name: name.to_string(),
                version: 0,
                verb: "list",
                secret: selector.clone(),
                source: Box::new(source),
            })?;
        let mut releases = Vec::with_capacity(list.items.len());
        for secret in &list.items {
            let version = secret
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("version"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            releases.push(decode_secret(name, version, secret)?);
        }
        releases.sort_by_key(|r| r.version);
        Ok(releases)
    }

    fn to_secret(&self, release: &Release, stamp: &str) -> Result<Secret> {
        validate(release)?;
        // Custom labels first, so Helm's own labels always win.
        let mut labels: BTreeMap<String, String> = release
            .labels
            .iter()
            .filter(|(k, _)| !SYSTEM_LABELS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.insert(stamp.to_string(), Utc::now().timestamp().to_string());
        labels.insert("name".into(), release.name.clone());
        labels.insert("owner".into(), OWNER.into());
        labels.insert("status".into(), release.info.status.to_string());
        labels.insert("version".into(), release.version.to_string());
        Ok(Secret {
            metadata: ObjectMeta {
                name: Some(secret_name(&release.name, release.version)),
                namespace: Some(self.namespace.clone()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            type_: Some(SECRET_TYPE.into()),
            data: Some(BTreeMap::from([(
                DATA_KEY.to_string(),
                ByteString(codec::encode(release).into_bytes()),
            )])),
            ..Secret::default()
        })
    }

    fn api_error(
        &self,
        release: &Release,
        verb: &'static str,
        secret: String,
        source: kube::Error,
    ) -> Error {
        Error::Api {
            name: release.name.clone(),
            version: release.version,
            verb,
            secret,
            source: Box::new(source),
        }
    }
}

/// Checks what the labels and the Secret name require (Helm enforces the same at install:
/// release names are DNS-1123 labels of at most 53 characters).
fn validate(release: &Release) -> Result<()> {
    let invalid = |reason: String| Error::Invalid {
        name: release.name.clone(),
        version: release.version,
        reason,
    };
    let n = &release.name;
    if n.is_empty() {
        return Err(invalid("the release has no name".into()));
    }
    if n.len() > 53 {
        return Err(invalid(format!(
            "the name is {} characters long; Helm allows at most 53",
            n.len()
        )));
    }
    let ok_chars = n
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ok_ends = n.starts_with(|c: char| c.is_ascii_alphanumeric())
        && n.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !ok_chars || !ok_ends {
        return Err(invalid(
            "the name must be lowercase alphanumerics, '-' or '.', starting and ending with an alphanumeric".into(),
        ));
    }
    if release.version < 1 {
        return Err(invalid(format!(
            "the version is {}; revisions start at 1",
            release.version
        )));
    }
    if release.info.resources.is_some() {
        // helm would silently drop a revision it cannot decode from `helm list` and history.
        return Err(invalid(
            "info.resources is set; helm cannot decode a stored release that has it".into(),
        ));
    }
    let status = release.info.status.as_str();
    if status.len() > 63 || status.contains(|c: char| c.is_whitespace() || c == ',') {
        return Err(invalid(format!(
            "the status {status:?} cannot be a label value"
        )));
    }
    Ok(())
}

/// Decodes the release in a Secret, keeping its custom labels.
fn decode_secret(name: &str, version: i32, secret: &Secret) -> Result<Release> {
    let secret_name = secret.metadata.name.clone().unwrap_or_default();
    let data = secret
        .data
        .as_ref()
        .and_then(|d| d.get(DATA_KEY))
        .and_then(|b| std::str::from_utf8(&b.0).ok())
        .ok_or_else(|| Error::MissingData {
            name: name.to_string(),
            version,
            secret: secret_name.clone(),
        })?;
    let mut release = codec::decode(data).map_err(|source| Error::Decode {
        name: name.to_string(),
        version,
        secret: secret_name,
        source,
    })?;
    release.labels = secret
        .metadata
        .labels
        .iter()
        .flatten()
        .filter(|(k, _)| !SYSTEM_LABELS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(release)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_follow_helm() {
        assert_eq!(secret_name("podinfo", 3), "sh.helm.release.v1.podinfo.v3");
    }

    #[test]
    fn names_helm_could_not_store_are_refused_with_the_reason() {
        let mut r = Release {
            name: "Bad_Name".into(),
            version: 1,
            ..Release::default()
        };
        let err = validate(&r).unwrap_err().to_string();
        assert!(err.contains("release Bad_Name v1 is invalid"), "{err}");
        r.name = "ok".into();
        r.version = 0;
        assert!(
            validate(&r)
                .unwrap_err()
                .to_string()
                .contains("revisions start at 1")
        );
        r.version = 1;
        assert!(validate(&r).is_ok());
        r.info.resources = Some(serde_json::json!({}));
        assert!(
            validate(&r)
                .unwrap_err()
                .to_string()
                .contains("info.resources")
        );
        r.info.resources = None;
        r.name = "a".repeat(54);
        assert!(validate(&r).unwrap_err().to_string().contains("at most 53"));
    }
}
