//! Installing Gyre's API into a cluster that has none yet: the CRDs (server-side apply,
//! then wait until each is Established) and a namespace. Used by `gyre demo` on its
//! in-process API server and by the end-to-end tests.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};

/// Why installing failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API request failed.
    #[error("installing {what}")]
    Api {
        /// The object.
        what: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A CRD was not Established in time.
    #[error("CRD {0} was not established within 30s")]
    NotEstablished(String),
}

/// Applies every CRD of [`gyre_api::crds::all`] as `manager` and waits until each is
/// Established, so custom resources can be created right after.
///
/// # Errors
/// [`Error`] naming the CRD.
pub async fn install_crds(client: &kube::Client, manager: &str) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crds = gyre_api::crds::all();
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(
            &name,
            &PatchParams::apply(manager).force(),
            &Patch::Apply(crd),
        )
        .await
        .map_err(|source| Error::Api {
            what: format!("CRD {name}"),
            source,
        })?;
    }
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let established = await_condition(api.clone(), &name, conditions::is_crd_established());
        match tokio::time::timeout(Duration::from_secs(30), established).await {
            Ok(Ok(_)) => {}
            _ => return Err(Error::NotEstablished(name)),
        }
    }
    Ok(())
}

/// Creates (or keeps) the namespace `name`.
///
/// # Errors
/// [`Error::Api`].
pub async fn ensure_namespace(
    client: &kube::Client,
    name: &str,
    manager: &str,
) -> Result<(), Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    api.patch(name, &PatchParams::apply(manager), &Patch::Apply(&ns))
        .await
        .map_err(|source| Error::Api {
            what: format!("Namespace {name}"),
            source,
        })?;
    Ok(())
}
