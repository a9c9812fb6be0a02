//! `gyre check`: whether the cluster can run Gyre (Kubernetes version, like
//! `flux check --pre`) and, without `--pre`, whether Gyre is installed: the
//! controller Deployment available and every CRD Established.

use super::cluster::ClusterArgs;
use super::install::{DEPLOYMENT, objects};
use anyhow::Context;
use clap::Args;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;

/// The oldest Kubernetes minor version Gyre supports (as Flux 2.9).
const MIN_KUBERNETES: (u64, u64) = (1, 30);

/// Flags of `gyre check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Only check the prerequisites (before `gyre install`).
    #[arg(long)]
    pre: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// Runs `gyre check`.
pub(super) async fn run(args: CheckArgs) -> anyhow::Result<()> {
    let client = args.cluster.client().await?;
    let mut ok = true;
    eprintln!("► checking prerequisites");
    let info = client
        .apiserver_version()
        .await
        .context("reading the Kubernetes version (hint: is the cluster reachable? check --kubeconfig/--context)")?;
    let version = (number(&info.major), number(&info.minor));
    let (min_major, min_minor) = MIN_KUBERNETES;
    if version >= MIN_KUBERNETES {
        eprintln!(
            "✔ Kubernetes {} >={min_major}.{min_minor}.0-0",
            info.git_version.trim_start_matches('v')
        );
    } else {
        ok = false;
        eprintln!(
            "✗ Kubernetes {} does not match >={min_major}.{min_minor}.0-0",
            info.git_version.trim_start_matches('v')
        );
    }
    if args.pre {
        anyhow::ensure!(
            ok,
            "prerequisites checks failed (hint: Gyre needs Kubernetes {min_major}.{min_minor} or newer)"
        );
        eprintln!("✔ prerequisites checks passed");
        return Ok(());
    }

    let ns = &args.cluster.namespace;
    eprintln!("► checking controllers");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    match deployments
        .get_opt(DEPLOYMENT)
        .await
        .with_context(|| format!("reading Deployment {ns}/{DEPLOYMENT}"))?
    {
        None => {
            ok = false;
            eprintln!("✗ {DEPLOYMENT}: deployment not found in {ns} (hint: gyre install)");
        }
        Some(d) => {
            let status = d.status.unwrap_or_default();
            let available = status.conditions.unwrap_or_default().iter().any(|c| {
                c.type_.as_deref() == Some("Available") && c.status.as_deref() == Some("True")
            }) || status.available_replicas.unwrap_or(0) > 0;
            if available {
                eprintln!("✔ {DEPLOYMENT}: deployment ready");
            } else {
                ok = false;
                eprintln!(
                    "✗ {DEPLOYMENT}: deployment not ready (hint: kubectl -n {ns} describe deployment {DEPLOYMENT})"
                );
            }
            let images = d
                .spec
                .template
                .spec
                .map(|s| s.containers)
                .unwrap_or_default();
            for c in images {
                eprintln!("► {}", c.image.unwrap_or_default());
            }
        }
    }

    eprintln!("► checking crds");
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    for crd in objects(ns)?
        .into_iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
    {
        let name = crd["metadata"]["name"].as_str().unwrap_or_default();
        match crds
            .get_opt(name)
            .await
            .with_context(|| format!("reading CustomResourceDefinition {name}"))?
        {
            None => {
                ok = false;
                eprintln!("✗ {name}: not installed (hint: gyre install)");
            }
            Some(live) => {
                let established = live
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    });
                let storage = live
                    .spec
                    .versions
                    .iter()
                    .find(|v| v.storage)
                    .map(|v| v.name.as_str())
                    .unwrap_or("?");
                if established {
                    eprintln!("✔ {name}/{storage}");
                } else {
                    ok = false;
                    eprintln!("✗ {name}/{storage}: not Established");
                }
            }
        }
    }
    anyhow::ensure!(
        ok,
        "some checks failed (hint: `gyre install` installs or repairs Gyre)"
    );
    eprintln!("✔ all checks passed");
    Ok(())
}

/// The leading number of a version part (`"32+"` → 32).
fn number(s: &str) -> u64 {
    s.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parts_with_suffixes_parse() {
        assert_eq!(number("32+"), 32);
        assert_eq!(number("1"), 1);
        assert_eq!(number(""), 0);
        assert!((number("1"), number("29+")) < MIN_KUBERNETES);
        assert!((number("1"), number("30")) >= MIN_KUBERNETES);
    }
}
