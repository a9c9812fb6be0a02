//! The cluster a HelmRelease releases to: objects are applied *and* Helm's release
//! records are kept through one connection — the controller's own, one impersonating
//! `serviceAccountName` (or `--default-service-account`), or the remote cluster of
//! `kubeConfig.secretRef` — as helm-controller builds one REST client getter for both.
//! Sources, values and the generated HelmChart stay on the controller's cluster.

use gyre_api::helm::HelmRelease;
use gyre_apply::Applier;
use kube::ResourceExt;

use crate::connection::{self, Identity};
use crate::context::Context;

/// The connection of one reconcile.
pub struct Target {
    /// For the release storage (and the cluster version).
    pub client: kube::Client,
    /// For apply, prune and health.
    pub applier: Applier,
}

/// The HelmRelease's connection.
///
/// # Errors
/// Why the client cannot be built (helm-controller's `RESTClientError`).
pub async fn resolve(ctx: &Context, hr: &HelmRelease) -> Result<Target, String> {
    let ns = hr.namespace().unwrap_or_default();
    let who = Identity {
        namespace: &ns,
        service_account: hr.spec.service_account_name.as_deref(),
        kube_config: hr.spec.kube_config.as_ref(),
    };
    Ok(match connection::client(ctx, who).await? {
        Some(client) => Target {
            applier: Applier::new(client.clone()),
            client,
        },
        None => Target {
            client: ctx.client.clone(),
            applier: ctx.applier.clone(),
        },
    })
}

/// What Helm renders as `.Capabilities` for a live cluster.
pub struct Capabilities {
    /// `/version`'s `gitVersion` (`.Capabilities.KubeVersion`).
    pub kube_version: String,
    /// Every served `group/version` and `group/version/Kind` (`.Capabilities.APIVersions`).
    pub api_versions: Vec<String>,
}

impl Target {
    /// The cluster's version and API versions, from `/version` and discovery, as Helm
    /// reads them before rendering for a cluster.
    ///
    /// # Errors
    /// When `/version` or discovery cannot be read.
    pub async fn capabilities(&self) -> Result<Capabilities, String> {
        let info = self
            .client
            .apiserver_version()
            .await
            .map_err(|e| format!("could not get server version from Kubernetes: {e}"))?;
        let discovery = kube::Discovery::new(self.client.clone())
            .run()
            .await
            .map_err(|e| format!("could not get apiVersions from Kubernetes: {e}"))?;
        let mut api_versions = Vec::new();
        for group in discovery.groups() {
            for version in group.versions() {
                for (resource, _) in group.versioned_resources(version) {
                    if api_versions.last() != Some(&resource.api_version) {
                        api_versions.push(resource.api_version.clone());
                    }
                    api_versions.push(format!("{}/{}", resource.api_version, resource.kind));
                }
            }
        }
        Ok(Capabilities {
            kube_version: info.git_version,
            api_versions,
        })
    }
}
