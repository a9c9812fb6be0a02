//! OCIRepository: spec and Secret → `gyre_source::oci` options.

use std::time::Duration;

use gyre_api::meta;
use gyre_api::source::{OCIRepository, OCIRepositoryStatus};
use gyre_source::oci::{self, LayerOperation, LayerSelector, OciReference, OciRepositoryOptions};
use kube::ResourceExt;

use super::{FetchError, Fetched, SourceKind, artifact_status, object_ref};
use crate::context::Context;
use crate::secrets;

impl SourceKind for OCIRepository {
    artifact_status!(OCIRepositoryStatus);

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
        let mut opts = OciRepositoryOptions::new(&spec.url);
        if let Some(r) = &spec.reference {
            opts.reference = OciReference {
                tag: r.tag.clone(),
                semver: r.semver.clone(),
                digest: r.digest.clone(),
            };
        }
        opts.layer_selector = LayerSelector {
            media_type: spec
                .layer_selector
                .as_ref()
                .and_then(|l| l.media_type.clone()),
            operation: if spec.layer_operation() == "copy" {
                LayerOperation::Copy
            } else {
                LayerOperation::Extract
            },
        };
        if let Some(secret) = &spec.secret_ref {
            let data = secrets::required_secret(&ctx.client, &ns, &secret.name)
                .await
                .map_err(|e| FetchError::new("AuthenticationFailed", &e))?;
            let json = data.get(".dockerconfigjson").cloned().unwrap_or_default();
            let host = spec
                .url
                .strip_prefix("oci://")
                .unwrap_or(&spec.url)
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string();
            opts.credentials = oci::credentials_from_docker_config(&json, &host)
                .map_err(|e| FetchError::new("AuthenticationFailed", &e))?;
        }
        opts.insecure = spec.insecure.unwrap_or(false);
        opts.ignore = spec.ignore.clone();
        opts.timeout = spec.timeout();
        let outcome = oci::reconcile(
            &ctx.store,
            &object_ref(self),
            &opts,
            last.map(|a| a.revision.as_str()),
        )
        .await
        .map_err(FetchError::source)?;
        status.url = Some(spec.url.clone());
        status.observed_ignore = spec.ignore.clone();
        status.observed_layer_selector = spec.layer_selector.clone();
        Ok(match outcome {
            oci::OciOutcome::Unchanged { .. } => Fetched::Unchanged,
            oci::OciOutcome::Updated(a) => Fetched::Updated(a),
        })
    }
}
