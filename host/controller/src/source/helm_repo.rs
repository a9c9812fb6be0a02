//! HelmRepository: spec and Secret → `gyre_source::helm_repo` options.

use std::time::Duration;

use gyre_api::meta;
use gyre_api::source::{HelmRepository, HelmRepositoryStatus};
use gyre_source::helm_repo::{
    self, HelmRepositoryOptions, HelmRepositoryOutcome, HttpCredentials, RepositoryType,
};
use kube::ResourceExt;

use super::{FetchError, Fetched, SourceKind, artifact_status, object_ref, to_store_artifact};
use crate::context::Context;
use crate::secrets;

/// The options `gyre_source` needs for a HelmRepository (also used by HelmChart).
pub(crate) async fn options(
    ctx: &Context,
    repo: &HelmRepository,
) -> Result<HelmRepositoryOptions, FetchError> {
    let spec = &repo.spec;
    let ns = repo.namespace().unwrap_or_default();
    let mut opts = HelmRepositoryOptions::new(&spec.url);
    opts.repo_type = if spec.is_oci() {
        RepositoryType::Oci
    } else {
        RepositoryType::Default
    };
    if let Some(secret) = &spec.secret_ref {
        let data = secrets::required_secret(&ctx.client, &ns, &secret.name)
            .await
            .map_err(|e| FetchError::new("AuthenticationFailed", &e))?;
        if let (Some(username), Some(password)) = (
            secrets::text(&data, "username"),
            secrets::text(&data, "password"),
        ) {
            opts.credentials = Some(HttpCredentials { username, password });
        }
    }
    opts.pass_credentials = spec.pass_credentials.unwrap_or(false);
    opts.insecure = spec.insecure.unwrap_or(false);
    opts.timeout = spec.timeout();
    Ok(opts)
}

impl SourceKind for HelmRepository {
    artifact_status!(HelmRepositoryStatus);

    fn interval(&self) -> Duration {
        self.spec.interval()
    }
    fn suspended(&self) -> bool {
        self.spec.suspend.unwrap_or(false)
    }

    async fn fetch<'a>(
        &'a self,
        ctx: &'a Context,
        last: Option<&'a meta::Artifact>,
        status: &'a mut Self::Status,
    ) -> Result<Fetched, FetchError> {
        let opts = options(ctx, self).await?;
        let last = last.map(to_store_artifact);
        let outcome = helm_repo::reconcile(&ctx.store, &object_ref(self), &opts, last.as_ref())
            .await
            .map_err(FetchError::source)?;
        status.url = Some(helm_repo::index_url(&self.spec.url));
        Ok(match outcome {
            HelmRepositoryOutcome::Unchanged { .. } => Fetched::Unchanged,
            HelmRepositoryOutcome::Updated(a) => Fetched::Updated(a),
            HelmRepositoryOutcome::Oci => {
                status.url = None;
                status.artifact = None;
                Fetched::NoArtifact("Helm repository is ready".into())
            }
        })
    }
}
