//! `gyre install`: the deploy/ manifests (CRDs, namespace, RBAC, controller
//! Deployment, Service), compiled into the binary so it is self-contained;
//! printed with `--export`, else applied server-side (CRDs first, waiting for
//! them to be Established) and waited for until the controller is available.

use super::cluster::{ClusterArgs, humantime, parse_duration};
use crate::progress::Step;
use anyhow::Context;
use clap::Args;
use gyre_apply::{Applier, ApplyOptions, WaitOptions};
use serde_json::Value;
use std::time::Duration;

/// The deploy/ files, in the order they are printed and applied.
pub(super) const MANIFESTS: &[(&str, &str)] = &[
    (
        "namespace.yaml",
        include_str!("../../../../deploy/namespace.yaml"),
    ),
    (
        "crds/source.toolkit.fluxcd.io_gitrepositories.yaml",
        include_str!("../../../../deploy/crds/source.toolkit.fluxcd.io_gitrepositories.yaml"),
    ),
    (
        "crds/source.toolkit.fluxcd.io_ocirepositories.yaml",
        include_str!("../../../../deploy/crds/source.toolkit.fluxcd.io_ocirepositories.yaml"),
    ),
    (
        "crds/source.toolkit.fluxcd.io_helmrepositories.yaml",
        include_str!("../../../../deploy/crds/source.toolkit.fluxcd.io_helmrepositories.yaml"),
    ),
    (
        "crds/source.toolkit.fluxcd.io_helmcharts.yaml",
        include_str!("../../../../deploy/crds/source.toolkit.fluxcd.io_helmcharts.yaml"),
    ),
    (
        "crds/source.toolkit.fluxcd.io_buckets.yaml",
        include_str!("../../../../deploy/crds/source.toolkit.fluxcd.io_buckets.yaml"),
    ),
    (
        "crds/kustomize.toolkit.fluxcd.io_kustomizations.yaml",
        include_str!("../../../../deploy/crds/kustomize.toolkit.fluxcd.io_kustomizations.yaml"),
    ),
    (
        "crds/helm.toolkit.fluxcd.io_helmreleases.yaml",
        include_str!("../../../../deploy/crds/helm.toolkit.fluxcd.io_helmreleases.yaml"),
    ),
    (
        "crds/image.toolkit.fluxcd.io_imagerepositories.yaml",
        include_str!("../../../../deploy/crds/image.toolkit.fluxcd.io_imagerepositories.yaml"),
    ),
    (
        "crds/image.toolkit.fluxcd.io_imagepolicies.yaml",
        include_str!("../../../../deploy/crds/image.toolkit.fluxcd.io_imagepolicies.yaml"),
    ),
    (
        "crds/image.toolkit.fluxcd.io_imageupdateautomations.yaml",
        include_str!("../../../../deploy/crds/image.toolkit.fluxcd.io_imageupdateautomations.yaml"),
    ),
    (
        "crds/notification.toolkit.fluxcd.io_alerts.yaml",
        include_str!("../../../../deploy/crds/notification.toolkit.fluxcd.io_alerts.yaml"),
    ),
    (
        "crds/notification.toolkit.fluxcd.io_providers.yaml",
        include_str!("../../../../deploy/crds/notification.toolkit.fluxcd.io_providers.yaml"),
    ),
    (
        "crds/notification.toolkit.fluxcd.io_receivers.yaml",
        include_str!("../../../../deploy/crds/notification.toolkit.fluxcd.io_receivers.yaml"),
    ),
    (
        "crds/plugins.gyre.dev_plugins.yaml",
        include_str!("../../../../deploy/crds/plugins.gyre.dev_plugins.yaml"),
    ),
    (
        "serviceaccount.yaml",
        include_str!("../../../../deploy/serviceaccount.yaml"),
    ),
    ("rbac.yaml", include_str!("../../../../deploy/rbac.yaml")),
    (
        "service.yaml",
        include_str!("../../../../deploy/service.yaml"),
    ),
    (
        "deployment.yaml",
        include_str!("../../../../deploy/deployment.yaml"),
    ),
];

/// The namespace and name of the controller Deployment.
pub(super) const DEPLOYMENT: &str = "gyre";

/// Flags of `gyre install`.
#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// Print the manifests as one multi-document YAML instead of applying them.
    #[arg(long)]
    export: bool,
    /// The controller image (default: this version's release image).
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,
    /// How long to wait for the CRDs and the controller.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// Every object of the manifests, moved to `namespace`.
///
/// # Errors
/// When an embedded file is not YAML (a build defect, caught by the tests).
pub(super) fn objects(namespace: &str) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for (file, text) in MANIFESTS {
        for doc in split_documents(text) {
            let blank = doc
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
            if blank {
                continue;
            }
            let v: Value =
                serde_yaml_ng::from_str(&doc).with_context(|| format!("embedded deploy/{file}"))?;
            if v.is_null() {
                continue;
            }
            out.push(relocate(v, namespace));
        }
    }
    Ok(out)
}

/// The documents of a YAML stream (split at `---` lines).
pub(super) fn split_documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs
}

/// Moves an object from `flux-system` to `namespace`: the Namespace itself,
/// namespaced objects, and ServiceAccount subjects of bindings.
fn relocate(mut v: Value, namespace: &str) -> Value {
    if v["kind"] == "Namespace" {
        v["metadata"]["name"] = namespace.into();
        v["metadata"]["labels"]["app.kubernetes.io/instance"] = namespace.into();
    } else if v["metadata"]["namespace"].is_string() {
        v["metadata"]["namespace"] = namespace.into();
    }
    if let Some(subjects) = v["subjects"].as_array_mut() {
        for s in subjects {
            if s["kind"] == "ServiceAccount" {
                s["namespace"] = namespace.into();
            }
        }
    }
    v
}

/// Runs `gyre install`.
pub(super) async fn run(args: InstallArgs) -> anyhow::Result<()> {
    let ns = &args.cluster.namespace;
    let mut objects = objects(ns)?;
    if let Some(image) = &args.image {
        for o in objects.iter_mut().filter(|o| o["kind"] == "Deployment") {
            o["spec"]["template"]["spec"]["containers"][0]["image"] = image.as_str().into();
        }
    }
    if args.export {
        let mut out = String::new();
        for o in &objects {
            out.push_str("---\n");
            out.push_str(&crate::yaml::to_string(o));
        }
        print!("{out}");
        return Ok(());
    }
    let client = args.cluster.client().await?;
    eprintln!("► installing components in {ns} namespace");
    let options = ApplyOptions {
        default_namespace: ns.clone(),
        definitions_timeout: args.timeout,
        ..ApplyOptions::default()
    };
    let applier = Applier::new(client);
    let step = Step::start("applying manifests (CRDs first)");
    let result = applier
        .apply(objects, &options)
        .await
        .map_err(|failure| anyhow::anyhow!("{}", failure.chain()))
        .context("installing the deploy manifests (hint: installing needs cluster-admin)")?;
    step.done("");
    for entry in &result.change_set().entries {
        eprintln!("✔ {entry}");
    }
    let targets: Vec<_> = result
        .health_targets()
        .into_iter()
        .filter(|(o, _)| o.kind == "Deployment")
        .collect();
    let step = Step::start("verifying installation");
    applier
        .wait(
            &targets,
            &WaitOptions {
                timeout: args.timeout,
                fail_fast: true,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.chain()))
        .with_context(|| {
            format!(
                "the gyre Deployment in {ns} did not become available within {} (hint: kubectl -n {ns} describe deployment {DEPLOYMENT})",
                humantime(args.timeout)
            )
        })?;
    step.done("");
    eprintln!("✔ {DEPLOYMENT}: deployment ready");
    eprintln!("✔ install finished");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crd_in_deploy_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/crds");
        let on_disk = std::fs::read_dir(dir).unwrap().count();
        let embedded = MANIFESTS
            .iter()
            .filter(|(f, _)| f.starts_with("crds/"))
            .count();
        assert_eq!(on_disk, embedded);
        for (file, text) in MANIFESTS {
            let path = format!("{}/../../deploy/{file}", env!("CARGO_MANIFEST_DIR"));
            assert_eq!(&std::fs::read_to_string(path).unwrap(), text);
        }
    }

    #[test]
    fn the_controller_image_is_this_version() {
        let objs = objects("flux-system").unwrap();
        let d = objs.iter().find(|o| o["kind"] == "Deployment").unwrap();
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            format!("ghcr.io/gyre-dev/gyre:v{}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn another_namespace_moves_every_namespaced_object_and_subject() {
        let objs = objects("gyre-system").unwrap();
        assert!(objs.len() >= 20);
        assert!(
            !serde_json::to_string(&objs)
                .unwrap()
                .contains("flux-system")
        );
        let ns = objs.iter().find(|o| o["kind"] == "Namespace").unwrap();
        assert_eq!(ns["metadata"]["name"], "gyre-system");
    }
}
