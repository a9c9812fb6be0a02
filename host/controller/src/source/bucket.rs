//! Bucket: spec and Secret → `gyre_source::bucket` options (S3-compatible providers).

use std::time::Duration;

use gyre_api::meta;
use gyre_api::source::{Bucket, BucketStatus};
use gyre_source::bucket::{self, BucketOptions, BucketOutcome};
use kube::ResourceExt;

use super::{FetchError, Fetched, SourceKind, artifact_status, object_ref};
use crate::context::Context;
use crate::secrets;

impl SourceKind for Bucket {
    artifact_status!(BucketStatus);

    fn interval(&self) -> Duration {
        self.spec.interval.as_std()
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
        let spec = &self.spec;
        let ns = self.namespace().unwrap_or_default();
        let provider = spec.provider.as_deref().unwrap_or("generic");
        if !matches!(provider, "generic" | "aws") {
            return Err(FetchError {
                reason: "InvalidSpec".into(),
                message: format!(
                    "Bucket {ns}/{}: provider {provider:?} is not supported (generic or aws)",
                    self.name_any()
                ),
            });
        }
        let mut opts = BucketOptions::new(&spec.bucket_name, &spec.endpoint);
        if let Some(region) = &spec.region {
            opts.region = region.clone();
        }
        opts.insecure = spec.insecure.unwrap_or(false);
        opts.prefix = spec.prefix.clone();
        opts.ignore = spec.ignore.clone();
        opts.timeout = spec.timeout();
        if let Some(secret) = &spec.secret_ref {
            let data = secrets::required_secret(&ctx.client, &ns, &secret.name)
                .await
                .map_err(|e| FetchError::new("AuthenticationFailed", &e))?;
            opts.access_key = secrets::text(&data, "accesskey");
            opts.secret_key = secrets::text(&data, "secretkey");
        }
        let outcome = bucket::reconcile(
            &ctx.store,
            &object_ref(self),
            &opts,
            last.map(|a| a.revision.as_str()),
        )
        .await
        .map_err(FetchError::source)?;
        status.observed_ignore = spec.ignore.clone();
        Ok(match outcome {
            BucketOutcome::Unchanged { .. } => Fetched::Unchanged,
            BucketOutcome::Updated(a) => Fetched::Updated(a),
        })
    }
}
