//! `gyre diff`: what applying a local directory would change in the live
//! cluster, as a server-side dry-run diff per object (like `flux diff`).
//!
//! The directory is rendered by the kustomize plugin exactly as the
//! controller renders it (a directory without kustomization.yaml gets a
//! generated one; with `gyre diff kustomization NAME` the named
//! Kustomization's spec — targetNamespace, patches, images, components,
//! commonMetadata, prefixes — is applied too), then handed to the apply
//! engine's diff. Secret values are masked by the engine.

use super::{DiffArgs, DiffCommand, DiffKustomization};
use crate::plugins::Plugins;
use crate::progress::Step;
use anyhow::Context;
use gyre_apply::{Applier, DiffOptions, Owner};
use gyre_plugin::{Limits, World};
use std::path::Path;
use std::process::ExitCode;

/// Runs the diff; exit code 1 when applying would change something.
pub(super) async fn run(cache_dir: &Path, cmd: DiffCommand) -> anyhow::Result<ExitCode> {
    let (args, owner) = match cmd.kustomization {
        None => (cmd.args, None),
        Some(DiffKustomization::Kustomization {
            name,
            namespace,
            args,
        }) => (args, Some(Owner::new(&name, &namespace))),
    };
    let client = client(&args).await?;
    let mut config = serde_json::json!({});
    if let Some(owner) = &owner {
        config = kustomization_spec(&client, owner).await?;
    }
    config["loadRestrictor"] = "LoadRestrictionsNone".into();
    config["generateKustomization"] = true.into();

    let (root, rel) = super::locate(&args.path, args.root.as_deref())?;
    let plugins = Plugins::new(cache_dir, args.registry.options())?;
    let renderer = plugins
        .load(&args.renderer, World::Renderer, Limits::default())
        .await?;
    let step = Step::start(format!("building {rel}"));
    let out = renderer
        .render(&root, &rel, &config.to_string())
        .with_context(|| format!("building {}", args.path.display()))?;
    step.done(format!("({} objects)", out.objects.len()));
    for w in &out.warnings {
        eprintln!("# Warning: {w}");
    }

    let step = Step::start("comparing with the cluster (server-side dry run)");
    let options = DiffOptions {
        owner,
        ..DiffOptions::default()
    };
    let result = Applier::new(client)
        .diff(out.objects, &options)
        .await
        .map_err(|failure| anyhow::anyhow!("{}", failure.chain()))
        .context("diffing against the cluster")?;
    step.done("");
    print!("{}", result.render());
    Ok(if result.has_changes() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn client(args: &DiffArgs) -> anyhow::Result<kube::Client> {
    let options = kube::config::KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?
        }
        None if args.context.is_some() => kube::Config::from_kubeconfig(&options).await?,
        None => kube::Config::infer()
            .await
            .context("no cluster configured (set KUBECONFIG or pass --kubeconfig)")?,
    };
    Ok(kube::Client::try_from(config)?)
}

/// The named Kustomization's spec, as the kustomize plugin's configuration.
async fn kustomization_spec(
    client: &kube::Client,
    owner: &Owner,
) -> anyhow::Result<serde_json::Value> {
    let api: kube::Api<gyre_api::kustomize::Kustomization> =
        kube::Api::namespaced(client.clone(), &owner.namespace);
    let ks = api
        .get_opt(&owner.name)
        .await
        .with_context(|| format!("reading Kustomization {}/{}", owner.namespace, owner.name))?
        .with_context(|| {
            format!(
                "Kustomization {}/{} not found (hint: `gyre diff --path DIR` diffs without one)",
                owner.namespace, owner.name
            )
        })?;
    Ok(serde_json::to_value(&ks.spec)?)
}
