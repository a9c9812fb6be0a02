//! `gyre suspend` and `gyre resume`: set or clear `spec.suspend`, like flux;
//! resume also requests a reconcile and waits for it.

use super::cluster::{self, ClusterArgs, Kind, Request, parse_duration, targets, to_json};
use super::reconcile::reconcile;
use anyhow::Context;
use clap::Args;
use kube::api::ListParams;
use serde_json::json;
use std::time::Duration;

targets!(SuspendTarget, SuspendSource, SuspendArgs);
targets!(ResumeTarget, ResumeSource, ResumeArgs);

/// Flags of `gyre suspend`.
#[derive(Debug, Args)]
pub(crate) struct SuspendArgs {
    /// The object's name.
    #[arg(required_unless_present = "all")]
    name: Option<String>,
    /// Every object of the kind in the namespace.
    #[arg(long, conflicts_with = "name")]
    all: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// Flags of `gyre resume`.
#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    /// The object's name.
    #[arg(required_unless_present = "all")]
    name: Option<String>,
    /// Every object of the kind in the namespace.
    #[arg(long, conflicts_with = "name")]
    all: bool,
    /// Wait for the reconciliation after resuming (`--wait=false` to not).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = true, action = clap::ArgAction::Set)]
    wait: bool,
    /// How long to wait for each reconciliation.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// The names to act on: the one named, or with `--all` every object of the
/// kind in the namespace.
async fn names(
    client: &kube::Client,
    kind: Kind,
    ns: &str,
    name: Option<String>,
) -> anyhow::Result<Vec<String>> {
    if let Some(name) = name {
        cluster::get(client, kind, ns, &name).await?;
        return Ok(vec![name]);
    }
    let list = kind
        .api(client, ns)
        .list(&ListParams::default())
        .await
        .with_context(|| format!("listing {} objects in {ns}", kind.name()))?;
    let names: Vec<String> = list
        .items
        .iter()
        .map(to_json)
        .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
        .collect();
    anyhow::ensure!(
        !names.is_empty(),
        "no {} objects found in {ns} namespace (hint: gyre get {} -A)",
        kind.name(),
        kind.get_cli()
    );
    Ok(names)
}

/// Runs `gyre suspend`.
pub(super) async fn suspend(target: SuspendTarget) -> anyhow::Result<()> {
    let (kind, args) = target.into_parts();
    let client = args.cluster.client().await?;
    let ns = &args.cluster.namespace;
    for name in names(&client, kind, ns, args.name).await? {
        eprintln!("► suspending {} {name} in {ns} namespace", kind.name());
        cluster::merge_patch(
            &client,
            kind,
            ns,
            &name,
            &json!({"spec": {"suspend": true}}),
        )
        .await?;
        eprintln!("✔ {} {name} suspended", kind.name());
    }
    Ok(())
}

/// Runs `gyre resume`.
pub(super) async fn resume(target: ResumeTarget) -> anyhow::Result<()> {
    let (kind, args) = target.into_parts();
    let client = args.cluster.client().await?;
    let ns = &args.cluster.namespace;
    let mut failed = Vec::new();
    let names = names(&client, kind, ns, args.name).await?;
    let single = names.len() == 1;
    for name in names {
        eprintln!("► resuming {} {name} in {ns} namespace", kind.name());
        if !args.wait {
            let request = Request {
                spec: Some(json!({"suspend": false})),
                ..Request::default()
            };
            cluster::request_reconcile(&client, kind, ns, &name, request).await?;
            eprintln!("✔ {} {name} resumed", kind.name());
            continue;
        }
        let result = reconcile(
            &client,
            kind,
            ns,
            &name,
            Request {
                spec: Some(json!({"suspend": false})),
                ..Request::default()
            },
            args.timeout,
        )
        .await;
        if single {
            return result;
        }
        if let Err(e) = result {
            // Keep resuming the others with --all; report every failure.
            crate::output::print_error(&e);
            failed.push(name);
        }
    }
    anyhow::ensure!(
        failed.is_empty(),
        "{} {} resumed but not reconciled successfully: {}",
        failed.len(),
        kind.name(),
        failed.join(", ")
    );
    Ok(())
}
