//! `spec.chartRef` to an OCIRepository holding a Helm chart (pulled with a `layerSelector`
//! for the chart's media type and `operation: copy`, so the artifact is the chart's
//! package as `helm push` uploaded it), as helm-controller releases it.
//!
//! The chart version gets the first 12 hex digits of the artifact digest as SemVer build
//! metadata (`6.5.4+0123456789ab`), as helm-controller's `mutateChartWithSourceRevision`
//! does, so a tag moved to another digest upgrades the release; `status.
//! lastAttemptedRevisionDigest` records the digest.
//!
//! # Caveats
//! The history snapshots do not carry `ociDigest` (the history is rebuilt from Helm's
//! records, which keep only the mutated version).

use std::path::Path;

use gyre_api::helm::{CrossNamespaceSourceReference, HelmRelease};
use gyre_api::meta::{Condition, condition_types, find_condition};
use gyre_api::source::OCIRepository;
use kube::{Api, ResourceExt};
use serde_json::Value;

use super::{ChartArtifact, Failure, reason};
use crate::context::Context;
use crate::source::{in_store, to_store_artifact};

/// The chart artifact of the OCIRepository `r` names, once it is ready.
pub(super) async fn artifact(
    ctx: &Context,
    hr: &HelmRelease,
    r: &CrossNamespaceSourceReference,
) -> Result<ChartArtifact, Failure> {
    let own = hr.namespace().unwrap_or_default();
    let ns = r.namespace.clone().unwrap_or_else(|| own.clone());
    let name = &r.name;
    if ctx.options.no_cross_namespace_refs && ns != own {
        return Err(Failure {
            reason: reason::ACCESS_DENIED,
            message: format!(
                "cannot access the chart source in namespace {ns}: cross-namespace references are not allowed"
            ),
            stalled: true,
        });
    }
    let fail = |m: String| Failure::new(reason::ARTIFACT_FAILED, m);
    let api: Api<OCIRepository> = Api::namespaced(ctx.client.clone(), &ns);
    let repo = api
        .get_opt(name)
        .await
        .map_err(|e| fail(format!("could not get OCIRepository '{ns}/{name}': {e}")))?
        .ok_or_else(|| fail(format!("OCIRepository '{ns}/{name}' not found")))?;
    let st = repo.status.clone().unwrap_or_default();
    let ready = find_condition(&st.conditions, condition_types::READY);
    if st.observed_generation != repo.metadata.generation || !ready.is_some_and(Condition::is_true)
    {
        let why = ready
            .map(|c| c.message.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "latest generation of object has not been reconciled".into());
        return Err(fail(format!(
            "OCIRepository '{ns}/{name}' is not ready: {why}"
        )));
    }
    let artifact = st.artifact.filter(|a| in_store(ctx, a)).ok_or_else(|| {
        fail(format!(
            "OCIRepository '{ns}/{name}' is not ready: no artifact in storage"
        ))
    })?;
    Ok(ChartArtifact {
        object: gyre_source::ObjectRef::new("OCIRepository", &ns, name),
        artifact: to_store_artifact(&artifact),
    })
}

/// Namespace and name of the OCIRepository a HelmRelease's `chartRef` names, if any.
pub fn source_of(hr: &HelmRelease) -> Option<(String, String)> {
    let r = hr
        .spec
        .chart_ref
        .as_ref()
        .filter(|r| r.kind == "OCIRepository")?;
    let ns = r
        .namespace
        .clone()
        .unwrap_or_else(|| hr.namespace().unwrap_or_default());
    Some((ns, r.name.clone()))
}

/// The first 12 hex digits of `<algo>:<hex>`.
fn short_digest(digest: &str) -> Result<&str, String> {
    let hex = digest
        .split_once(':')
        .map(|(_, h)| h)
        .filter(|h| h.len() >= 12 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| format!("artifact revision {digest:?} has no digest"))?;
    Ok(&hex[..12])
}

/// The chart version with the artifact digest as build metadata, and the digest.
///
/// `revision` is the OCIRepository's: `<tag>@<algo>:<hex>` (the tag must be the chart's
/// version) or `<algo>:<hex>`.
///
/// # Errors
/// When the tag is not the chart's version or the revision has no digest.
pub fn versioned(version: &str, revision: &str) -> Result<(String, String), String> {
    let digest = match revision.split_once('@') {
        Some((tag, digest)) => {
            if tag != version {
                return Err(format!(
                    "artifact revision {tag} does not match chart version {version}"
                ));
            }
            digest
        }
        None => revision,
    };
    let base = version.split_once('+').map_or(version, |(v, _)| v);
    Ok((
        format!("{base}+{}", short_digest(digest)?),
        digest.to_string(),
    ))
}

/// For a chart from an OCIRepository: sets the versioned chart version in `metadata`
/// and in the extracted `Chart.yaml` (so templates see it as `.Chart.Version`, as with
/// helm-controller's mutated chart), and returns the artifact digest. `None` for other
/// sources.
///
/// # Errors
/// [`versioned`]'s, or when `Chart.yaml` cannot be rewritten.
pub(super) fn mutate(
    chart: &ChartArtifact,
    chart_dir: &Path,
    metadata: &mut gyre_release::Metadata,
) -> Result<Option<String>, Failure> {
    if chart.object.kind != "OCIRepository" {
        return Ok(None);
    }
    let fail = |m: String| Failure::new(reason::ARTIFACT_FAILED, m);
    let (version, digest) = versioned(&metadata.version, &chart.artifact.revision).map_err(fail)?;
    let path = chart_dir.join("Chart.yaml");
    let text =
        std::fs::read_to_string(&path).map_err(|e| fail(format!("reading Chart.yaml: {e}")))?;
    let mut doc: Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| fail(format!("loading Chart.yaml of {}: {e}", chart.object)))?;
    doc["version"] = Value::String(version.clone());
    let text = serde_yaml_ng::to_string(&doc).map_err(|e| fail(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| fail(format!("writing Chart.yaml: {e}")))?;
    metadata.version = version;
    Ok(Some(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn the_digest_becomes_build_metadata_of_the_chart_version() {
        let (v, d) = versioned("6.5.4", &format!("6.5.4@{D}")).unwrap();
        assert_eq!(v, "6.5.4+0123456789ab");
        assert_eq!(d, D);
        let (v, _) = versioned("1.0.0+old", D).unwrap();
        assert_eq!(
            v, "1.0.0+0123456789ab",
            "existing build metadata is replaced"
        );
    }

    #[test]
    fn a_tag_that_is_not_the_chart_version_is_refused() {
        let e = versioned("6.5.4", &format!("latest@{D}")).unwrap_err();
        assert_eq!(
            e,
            "artifact revision latest does not match chart version 6.5.4"
        );
        assert!(versioned("6.5.4", "6.5.4@nodigest").is_err());
    }
}
