//! `gyre reconcile`: ask the controller to reconcile an object now (the
//! `reconcile.fluxcd.io/requestedAt` annotation, as flux sets it) and wait
//! until it has, reporting the new revision or the failure.

use super::cluster::{
    self, ClusterArgs, Kind, Request, Until, is_suspended, outcome, parse_duration, targets,
};
use crate::progress::Step;
use clap::Args;
use gyre_api::meta::annotations;
use serde_json::Value;
use std::time::Duration;

targets!(ReconcileTarget, ReconcileSource, ReconcileArgs);

/// Flags of `gyre reconcile`.
#[derive(Debug, Args)]
pub(crate) struct ReconcileArgs {
    /// The object's name.
    name: String,
    /// Reconcile the object's source first (Kustomizations and HelmReleases).
    #[arg(long)]
    with_source: bool,
    /// HelmReleases: force a one-off install or upgrade
    /// (`reconcile.fluxcd.io/forceAt`).
    #[arg(long)]
    force: bool,
    /// HelmReleases: reset the failure counters first
    /// (`reconcile.fluxcd.io/resetAt`).
    #[arg(long)]
    reset: bool,
    /// How long to wait for each reconciliation.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// Runs `gyre reconcile`.
pub(super) async fn run(target: ReconcileTarget) -> anyhow::Result<()> {
    let (kind, args) = target.into_parts();
    let client = args.cluster.client().await?;
    let ns = &args.cluster.namespace;
    anyhow::ensure!(
        kind == Kind::HelmRelease || !(args.force || args.reset),
        "--force and --reset apply to helmreleases, not to {} {ns}/{}",
        kind.name(),
        args.name
    );
    let obj = cluster::get(&client, kind, ns, &args.name).await?;
    refuse_suspended(kind, &obj)?;
    let mut request = Request::default();
    if args.force {
        request.also.push(annotations::RECONCILE_FORCE_AT);
    }
    if args.reset {
        request.also.push(annotations::RECONCILE_RESET_AT);
    }
    if args.with_source {
        let (source_kind, source_ns, source_name) = source_of(kind, &obj)?;
        let source = cluster::get(&client, source_kind, &source_ns, &source_name).await?;
        refuse_suspended(source_kind, &source)?;
        reconcile(
            &client,
            source_kind,
            &source_ns,
            &source_name,
            Request::default(),
            args.timeout,
        )
        .await?;
    }
    reconcile(&client, kind, ns, &args.name, request, args.timeout).await
}

/// Requests a reconcile of `kind` `ns/name` (with what `request` adds, in
/// the same patch) and waits for it, printing flux-style progress.
///
/// # Errors
/// When the patch fails, the wait times out, or the object ends Ready=False
/// (the error carries Ready's message).
pub(super) async fn reconcile(
    client: &kube::Client,
    kind: Kind,
    ns: &str,
    name: &str,
    request: Request,
    timeout: Duration,
) -> anyhow::Result<()> {
    eprintln!("► annotating {} {name} in {ns} namespace", kind.name());
    let at = cluster::request_reconcile(client, kind, ns, name, request).await?;
    eprintln!("✔ {} annotated", kind.name());
    let step = Step::start(format!("waiting for {} reconciliation", kind.name()));
    let obj =
        cluster::wait_reconciled(client, kind, ns, name, Until::Handled(&at), timeout).await?;
    step.done("");
    let line = outcome(kind, ns, name, &obj)?;
    eprintln!("✔ {line}");
    Ok(())
}

/// Fails for a suspended object, with the command that resumes it.
pub(super) fn refuse_suspended(kind: Kind, obj: &Value) -> anyhow::Result<()> {
    if is_suspended(obj) {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
        anyhow::bail!(
            "{} {ns}/{name} is suspended, so it would not be reconciled (hint: gyre resume {} {name} -n {ns})",
            kind.name(),
            kind.cli()
        );
    }
    Ok(())
}

/// The source a Kustomization or HelmRelease reads: (kind, namespace, name).
fn source_of(kind: Kind, obj: &Value) -> anyhow::Result<(Kind, String, String)> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let spec = &obj["spec"];
    let reference = match kind {
        Kind::Kustomization => &spec["sourceRef"],
        Kind::HelmRelease if spec["chartRef"].is_object() => &spec["chartRef"],
        Kind::HelmRelease => {
            // A `spec.chart` template: the controller's HelmChart is the source.
            let source_ns = spec["chart"]["spec"]["sourceRef"]["namespace"]
                .as_str()
                .unwrap_or(ns);
            let (chart_ns, chart_name) = match obj["status"]["helmChart"].as_str() {
                Some(s) if s.contains('/') => {
                    let (a, b) = s.split_once('/').unwrap_or_default();
                    (a.to_string(), b.to_string())
                }
                _ => (source_ns.to_string(), format!("{ns}-{name}")),
            };
            return Ok((Kind::HelmChart, chart_ns, chart_name));
        }
        _ => anyhow::bail!(
            "--with-source applies to kustomizations and helmreleases, not to {} {ns}/{name}",
            kind.name()
        ),
    };
    let source_kind = reference["kind"].as_str().unwrap_or_default();
    let source_name = reference["name"].as_str().unwrap_or_default();
    let source_ns = reference["namespace"].as_str().unwrap_or(ns);
    let source_kind = Kind::from_name(source_kind)
        .filter(|k| k.is_source())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} {ns}/{name} has source {source_kind}/{source_name}, which gyre cannot reconcile (hint: reconcile without --with-source)",
                kind.name()
            )
        })?;
    Ok((source_kind, source_ns.to_string(), source_name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_source_of_a_kustomization_defaults_to_its_namespace() {
        let ks = json!({
            "metadata": {"name": "podinfo", "namespace": "apps"},
            "spec": {"sourceRef": {"kind": "GitRepository", "name": "repo"}}
        });
        assert_eq!(
            source_of(Kind::Kustomization, &ks).unwrap(),
            (Kind::GitRepository, "apps".into(), "repo".into())
        );
        let hr = json!({
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"chart": {"spec": {"sourceRef": {"kind": "HelmRepository", "name": "r", "namespace": "flux-system"}}}}
        });
        assert_eq!(
            source_of(Kind::HelmRelease, &hr).unwrap(),
            (Kind::HelmChart, "flux-system".into(), "apps-web".into())
        );
        assert!(source_of(Kind::GitRepository, &ks).is_err());
    }

    #[test]
    fn a_suspended_object_is_refused_with_the_resume_command() {
        let ks = json!({"metadata": {"name": "p", "namespace": "n"}, "spec": {"suspend": true}});
        let err = refuse_suspended(Kind::Kustomization, &ks)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Kustomization n/p is suspended"), "{err}");
        assert!(err.contains("gyre resume kustomization p -n n"), "{err}");
    }
}
