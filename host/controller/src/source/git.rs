//! GitRepository: spec and Secret → `gyre_source::git` options.

use std::time::Duration;

use gyre_api::meta;
use gyre_api::source::{GitRepository, GitRepositoryStatus};
use gyre_source::git::{
    self, BasicAuth, GitAuth, GitInclude, GitReference, GitRepositoryOptions, LastObserved, SshAuth,
};
use kube::{Api, ResourceExt};

use super::{
    FetchError, Fetched, SourceKind, artifact_status, in_store, object_ref, to_status_artifact,
    to_store_artifact,
};
use crate::context::Context;
use crate::secrets;

/// Flux's reason when a referenced Secret cannot be used.
const AUTH_FAILED: &str = "AuthenticationFailed";

impl SourceKind for GitRepository {
    artifact_status!(GitRepositoryStatus);

    fn interval(&self) -> Duration {
        self.spec.interval.as_std()
    }
    fn suspended(&self) -> bool {
        self.spec.suspended()
    }

    async fn fetch<'a>(
        &'a self,
        ctx: &'a Context,
        last: Option<&'a meta::Artifact>,
        status: &'a mut Self::Status,
    ) -> Result<Fetched, FetchError> {
        let spec = &self.spec;
        let ns = self.namespace().unwrap_or_default();
        let mut opts = GitRepositoryOptions::new(&spec.url);
        let r = spec.reference();
        opts.reference = GitReference {
            branch: r.branch,
            tag: r.tag,
            semver: r.semver,
            name: r.name,
            commit: r.commit,
        };
        opts.auth = auth(ctx, &ns, spec.secret_ref.as_ref().map(|s| s.name.as_str())).await?;
        opts.auth.allow_insecure_http = ctx.options.allow_insecure_http;
        opts.ignore = spec.ignore.clone();
        opts.recurse_submodules = spec.recurse_submodules.unwrap_or(false);
        opts.sparse_checkout = spec.sparse_checkout.clone().unwrap_or_default();
        opts.timeout = spec.timeout();
        let mut included = Vec::new();
        for inc in spec.include.iter().flatten() {
            let api: Api<GitRepository> = Api::namespaced(ctx.client.clone(), &ns);
            let name = &inc.repository.name;
            let unavailable = |why: String| FetchError {
                reason: "IncludeUnavailable".into(),
                message: format!("included GitRepository {ns}/{name}: {why}"),
            };
            let repo = api
                .get_opt(name)
                .await
                .map_err(|e| unavailable(e.to_string()))?
                .ok_or_else(|| unavailable("not found".into()))?;
            let artifact = repo
                .status
                .as_ref()
                .and_then(|s| s.artifact.as_ref())
                .filter(|a| in_store(ctx, a))
                .ok_or_else(|| unavailable("no artifact yet".into()))?;
            included.push(to_status_artifact(&to_store_artifact(artifact)));
            opts.include.push(GitInclude {
                object: object_ref(&repo),
                artifact: to_store_artifact(artifact),
                from_path: inc.from_path.clone(),
                to_path: Some(inc.to_path().to_string()),
            });
        }
        let last = last.map(|a| LastObserved {
            revision: a.revision.clone(),
            included_digests: status
                .included_artifacts
                .iter()
                .flatten()
                .filter_map(|a| a.digest.clone())
                .collect(),
        });
        let outcome = git::reconcile(&ctx.store, &object_ref(self), &opts, last.as_ref())
            .await
            .map_err(FetchError::source)?;
        status.observed_ignore = spec.ignore.clone();
        status.observed_recurse_submodules = spec.recurse_submodules;
        status.observed_include = spec.include.clone();
        status.observed_sparse_checkout = spec.sparse_checkout.clone();
        Ok(match outcome {
            git::GitOutcome::Unchanged { .. } => Fetched::Unchanged,
            git::GitOutcome::Updated { artifact, .. } => {
                status.included_artifacts = (!included.is_empty()).then_some(included);
                Fetched::Updated(artifact)
            }
        })
    }
}

async fn auth(ctx: &Context, ns: &str, secret: Option<&str>) -> Result<GitAuth, FetchError> {
    let Some(name) = secret else {
        return Ok(GitAuth::default());
    };
    let data = secrets::required_secret(&ctx.client, ns, name)
        .await
        .map_err(|e| FetchError::new(AUTH_FAILED, &e))?;
    let text = |k: &str| secrets::text(&data, k);
    let mut auth = GitAuth::default();
    if let (Some(username), Some(password)) = (text("username"), text("password")) {
        auth.basic = Some(BasicAuth { username, password });
    }
    auth.bearer_token = text("bearerToken");
    if let Some(identity) = text("identity") {
        auth.ssh = Some(SshAuth {
            identity,
            known_hosts: text("known_hosts").unwrap_or_default(),
        });
    }
    Ok(auth)
}
