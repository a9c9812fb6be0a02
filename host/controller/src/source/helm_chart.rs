//! HelmChart: its source (HelmRepository, GitRepository or Bucket) → a packaged chart.

use std::time::Duration;

use gyre_api::meta;
use gyre_api::source::{Bucket, GitRepository, HelmChart, HelmChartStatus, HelmRepository};
use gyre_source::helm_chart::{self, ChartSource, HelmChartOptions, HelmChartOutcome};
use kube::{Api, ResourceExt};

use super::{
    FetchError, Fetched, SourceKind, artifact_status, helm_repo, in_store, object_ref,
    to_store_artifact,
};
use crate::context::Context;

/// Flux's reason when the chart's source is missing or has no artifact yet.
const SOURCE_UNAVAILABLE: &str = "SourceUnavailable";

fn unavailable(kind: &str, ns: &str, name: &str, why: &str) -> FetchError {
    FetchError {
        reason: SOURCE_UNAVAILABLE.into(),
        message: format!("{kind} {ns}/{name}: {why}"),
    }
}

async fn get<K>(ctx: &Context, ns: &str, name: &str) -> Result<K, FetchError>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let kind = K::kind(&()).to_string();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ns);
    api.get_opt(name)
        .await
        .map_err(|e| unavailable(&kind, ns, name, &e.to_string()))?
        .ok_or_else(|| unavailable(&kind, ns, name, "not found"))
}

fn stored(
    ctx: &Context,
    kind: &str,
    ns: &str,
    name: &str,
    artifact: Option<&meta::Artifact>,
) -> Result<gyre_source::Artifact, FetchError> {
    artifact
        .filter(|a| in_store(ctx, a))
        .map(to_store_artifact)
        .ok_or_else(|| unavailable(kind, ns, name, "no artifact yet"))
}

impl SourceKind for HelmChart {
    artifact_status!(HelmChartStatus);

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
        let r = &spec.source_ref;
        let (source, source_revision) = match r.kind.as_str() {
            "HelmRepository" => {
                let repo: HelmRepository = get(ctx, &ns, &r.name).await?;
                let options = helm_repo::options(ctx, &repo).await?;
                if repo.spec.is_oci() {
                    (ChartSource::Oci { options }, None)
                } else {
                    let index = repo.status.as_ref().and_then(|s| s.artifact.as_ref());
                    let index = stored(ctx, "HelmRepository", &ns, &r.name, index)?;
                    let rev = index.revision.clone();
                    (
                        ChartSource::Repository {
                            object: object_ref(&repo),
                            options,
                            index: Some(index),
                        },
                        Some(rev),
                    )
                }
            }
            "GitRepository" => {
                let repo: GitRepository = get(ctx, &ns, &r.name).await?;
                let a = repo.status.as_ref().and_then(|s| s.artifact.as_ref());
                let artifact = stored(ctx, "GitRepository", &ns, &r.name, a)?;
                let rev = artifact.revision.clone();
                (
                    ChartSource::Artifact {
                        object: object_ref(&repo),
                        artifact,
                    },
                    Some(rev),
                )
            }
            "Bucket" => {
                let bucket: Bucket = get(ctx, &ns, &r.name).await?;
                let a = bucket.status.as_ref().and_then(|s| s.artifact.as_ref());
                let artifact = stored(ctx, "Bucket", &ns, &r.name, a)?;
                let rev = artifact.revision.clone();
                (
                    ChartSource::Artifact {
                        object: object_ref(&bucket),
                        artifact,
                    },
                    Some(rev),
                )
            }
            other => {
                return Err(FetchError {
                    reason: "InvalidSpec".into(),
                    message: format!(
                        "unsupported sourceRef kind {other:?} (HelmRepository, GitRepository or Bucket)"
                    ),
                });
            }
        };
        let mut opts = HelmChartOptions::new(&spec.chart, source);
        opts.version = spec.version.clone();
        // A chart from Git or a Bucket is re-packaged when its source moves, even if the
        // chart's version did not change.
        let source_moved = source_revision.is_some()
            && status.observed_source_artifact_revision != source_revision
            && r.kind != "HelmRepository";
        let last = last.filter(|_| !source_moved).map(|a| a.revision.as_str());
        let outcome = helm_chart::reconcile(&ctx.store, &object_ref(self), &opts, last)
            .await
            .map_err(FetchError::source)?;
        status.observed_source_artifact_revision = source_revision;
        status.observed_chart_name = Some(spec.chart.clone());
        Ok(match outcome {
            HelmChartOutcome::Unchanged { .. } => Fetched::Unchanged,
            HelmChartOutcome::Updated(a) => Fetched::Updated(a),
        })
    }
}
