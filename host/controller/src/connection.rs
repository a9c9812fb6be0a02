//! The cluster connection an object's changes go through: the controller's own client,
//! one impersonating `serviceAccountName` (or `--default-service-account`), or one for
//! the remote cluster of `kubeConfig.secretRef` — optionally impersonating there too, as
//! Flux does. Shared by the Kustomization and HelmRelease reconcilers.

use gyre_api::meta::KubeConfigReference;

use crate::context::Context;
use crate::source::chain;

/// Who an object acts as, and where.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// Namespace of the object (the ServiceAccount and the kubeconfig Secret live there).
    pub namespace: &'a str,
    /// `spec.serviceAccountName`.
    pub service_account: Option<&'a str>,
    /// `spec.kubeConfig`.
    pub kube_config: Option<&'a KubeConfigReference>,
}

/// The client for `who`, or `None` when it is the controller's own.
///
/// # Errors
/// A message naming the kubeconfig Secret or key when it cannot be read or used, or why
/// the client cannot be built.
pub async fn client(ctx: &Context, who: Identity<'_>) -> Result<Option<kube::Client>, String> {
    let ns = who.namespace;
    let mut config = None;
    if let Some(kc) = who.kube_config {
        let secret = kc
            .secret_ref
            .as_ref()
            .ok_or("spec.kubeConfig: only secretRef (provider generic) is supported")?;
        let key = kc.secret_key().unwrap_or("value");
        let data = crate::secrets::required_secret(&ctx.client, ns, &secret.name)
            .await
            .map_err(|e| chain(&e))?;
        let text = data
            .get(key)
            .or_else(|| data.get("value.yaml"))
            .ok_or_else(|| format!("Secret {ns}/{} has no key {key:?}", secret.name))?;
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&String::from_utf8_lossy(text))
            .map_err(|e| format!("kubeconfig in Secret {ns}/{}: {e}", secret.name))?;
        let c = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(|e| format!("kubeconfig in Secret {ns}/{}: {e}", secret.name))?;
        config = Some(c);
    }
    let sa = who
        .service_account
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| ctx.options.default_service_account.clone());
    if let Some(sa) = sa {
        let mut c = config.unwrap_or_else(|| ctx.config.clone());
        c.auth_info.impersonate = Some(format!("system:serviceaccount:{ns}:{sa}"));
        config = Some(c);
    }
    match config {
        None => Ok(None),
        Some(c) => kube::Client::try_from(c)
            .map(Some)
            .map_err(|e| format!("building the client: {e}")),
    }
}
