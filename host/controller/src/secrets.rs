//! Reading the Secrets and ConfigMaps that objects reference (credentials, kubeconfigs,
//! substitution variables). Missing objects and keys are errors that name them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;

/// Why a referenced Secret or ConfigMap could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RefError {
    /// It does not exist.
    #[error("{kind} {namespace}/{name} not found")]
    NotFound {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// Reading it failed.
    #[error("reading {kind} {namespace}/{name}")]
    Api {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A required key is missing.
    #[error("{kind} {namespace}/{name} has no key {key:?}")]
    MissingKey {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The key.
        key: String,
    },
}

/// The decoded data of a Secret (`data` and `stringData`), or `None` when it does not
/// exist.
///
/// # Errors
/// [`RefError::Api`].
pub async fn secret_data(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, Vec<u8>>>, RefError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api.get_opt(name).await.map_err(|source| RefError::Api {
        kind: "Secret",
        namespace: namespace.into(),
        name: name.into(),
        source,
    })?;
    Ok(secret.map(|s| {
        let mut out: BTreeMap<String, Vec<u8>> = s
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        for (k, v) in s.string_data.unwrap_or_default() {
            out.insert(k, v.into_bytes());
        }
        out
    }))
}

/// The decoded data of a Secret that must exist.
///
/// # Errors
/// [`RefError::NotFound`], [`RefError::Api`].
pub async fn required_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, RefError> {
    secret_data(client, namespace, name)
        .await?
        .ok_or_else(|| RefError::NotFound {
            kind: "Secret",
            namespace: namespace.into(),
            name: name.into(),
        })
}

/// The data (and UTF-8 binaryData) of a ConfigMap, or `None` when it does not exist.
///
/// # Errors
/// [`RefError::Api`].
pub async fn config_map_data(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, RefError> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let cm = api.get_opt(name).await.map_err(|source| RefError::Api {
        kind: "ConfigMap",
        namespace: namespace.into(),
        name: name.into(),
        source,
    })?;
    Ok(cm.map(|c| {
        let mut out = c.data.unwrap_or_default();
        for (k, v) in c.binary_data.unwrap_or_default() {
            if let Ok(s) = String::from_utf8(v.0) {
                out.insert(k, s);
            }
        }
        out
    }))
}

/// A Secret value as text.
pub fn text(data: &BTreeMap<String, Vec<u8>>, key: &str) -> Option<String> {
    data.get(key)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}
