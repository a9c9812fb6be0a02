//! `gyre tree kustomization NAME`: the objects a Kustomization applied (its
//! `status.inventory`), as a tree like `flux tree`, descending into the
//! Kustomizations it applied (their inventories) and the HelmReleases (the
//! manifest of the release in Helm's storage Secret, as flux does).

use super::cluster::{self, ClusterArgs, Kind};
use anyhow::Context;
use clap::{Args, Subcommand};
use gyre_api::kustomize::ObjectId;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use serde_json::Value;
use std::collections::HashSet;

/// What to show the tree of.
#[derive(Debug, Subcommand)]
pub(crate) enum TreeCommand {
    /// A Kustomization and everything it applied.
    #[command(visible_alias = "ks")]
    Kustomization(TreeArgs),
}

/// Flags of `gyre tree`.
#[derive(Debug, Args)]
pub(crate) struct TreeArgs {
    /// The Kustomization's name.
    name: String,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// One node: an object and what it applied.
#[derive(Debug, PartialEq)]
struct Node {
    label: String,
    children: Vec<Node>,
}

/// Runs `gyre tree`.
pub(super) async fn run(cmd: TreeCommand) -> anyhow::Result<()> {
    let TreeCommand::Kustomization(args) = cmd;
    let client = args.cluster.client().await?;
    let ns = &args.cluster.namespace;
    let root = cluster::get(&client, Kind::Kustomization, ns, &args.name).await?;
    let mut seen = HashSet::new();
    seen.insert((Kind::Kustomization, ns.clone(), args.name.clone()));
    let node = Node {
        label: format!("Kustomization/{ns}/{}", args.name),
        children: children(&client, &root, &mut seen).await?,
    };
    print!("{}", render(&node));
    Ok(())
}

/// The inventory of `obj` as nodes, expanding the Kustomizations and
/// HelmReleases in it that carry an inventory themselves.
async fn children(
    client: &kube::Client,
    obj: &Value,
    seen: &mut HashSet<(Kind, String, String)>,
) -> anyhow::Result<Vec<Node>> {
    let entries = inventory(obj);
    let mut nodes = Vec::with_capacity(entries.len());
    for id in entries {
        let label = if id.namespace.is_empty() {
            format!("{}/{}", id.kind, id.name)
        } else {
            format!("{}/{}/{}", id.kind, id.namespace, id.name)
        };
        let nested = match id.group.as_str() {
            "kustomize.toolkit.fluxcd.io" if id.kind == "Kustomization" => {
                Some(Kind::Kustomization)
            }
            "helm.toolkit.fluxcd.io" if id.kind == "HelmRelease" => Some(Kind::HelmRelease),
            _ => None,
        };
        let mut node = Node {
            label,
            children: Vec::new(),
        };
        if let Some(kind) = nested {
            let key = (kind, id.namespace.clone(), id.name.clone());
            if seen.insert(key) {
                // A child that is gone or not readable is shown without children.
                if let Ok(Some(child)) = kind.api(client, &id.namespace).get_opt(&id.name).await {
                    let child = cluster::to_json(&child);
                    node.children = if kind == Kind::HelmRelease {
                        release_objects(client, &child).await
                    } else {
                        Box::pin(children(client, &child, seen)).await?
                    };
                }
            }
        }
        nodes.push(node);
    }
    Ok(nodes)
}

/// The objects of a HelmRelease's current Helm release, from the release
/// manifest in Helm's storage Secret (`sh.helm.release.v1.<release>.v<N>`,
/// labels `owner=helm,name=<release>`); none when there is no release yet
/// or it cannot be read.
async fn release_objects(client: &kube::Client, hr: &Value) -> Vec<Node> {
    let Ok(hr) = serde_json::from_value::<gyre_api::helm::HelmRelease>(hr.clone()) else {
        return Vec::new();
    };
    let release = hr.release_name();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &hr.storage_namespace());
    let params = ListParams::default().labels(&format!("owner=helm,name={release}"));
    let Ok(list) = secrets.list(&params).await else {
        return Vec::new();
    };
    let version = |s: &Secret| {
        s.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("version"))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let Some(latest) = list.items.into_iter().max_by_key(version) else {
        return Vec::new();
    };
    let Some(data) = latest.data.as_ref().and_then(|d| d.get("release")) else {
        return Vec::new();
    };
    match release_manifest(&data.0) {
        Ok(manifest) => manifest_objects(&manifest, &hr.release_namespace())
            .into_iter()
            .map(|label| Node {
                label,
                children: Vec::new(),
            })
            .collect(),
        Err(e) => {
            tracing::warn!("reading Helm release {release}: {e:#}");
            Vec::new()
        }
    }
}

/// The `manifest` of a Helm release as Helm's Secret driver stores it:
/// base64 of the gzipped release JSON (older Helm: not gzipped).
fn release_manifest(stored: &[u8]) -> anyhow::Result<String> {
    use base64::Engine;
    use std::io::Read;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(stored)
        .context("the release is not base64")?;
    let json = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .context("the release is not valid gzip")?;
        out
    } else {
        bytes
    };
    let release: Value = serde_json::from_slice(&json).context("the release is not JSON")?;
    Ok(release["manifest"].as_str().unwrap_or_default().to_string())
}

/// Kinds that have no namespace (the common ones in charts).
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "APIService",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
];

/// `Kind/namespace/name` of every object in a release manifest; namespaced
/// objects without a namespace are in the release namespace.
fn manifest_objects(manifest: &str, release_namespace: &str) -> Vec<String> {
    super::install::split_documents(manifest)
        .iter()
        .filter_map(|doc| serde_yaml_ng::from_str::<Value>(doc).ok())
        .filter(|o| o["kind"].is_string())
        .map(|o| {
            let kind = o["kind"].as_str().unwrap_or_default();
            let name = o["metadata"]["name"].as_str().unwrap_or_default();
            match o["metadata"]["namespace"].as_str() {
                _ if CLUSTER_SCOPED.contains(&kind) => format!("{kind}/{name}"),
                Some(ns) => format!("{kind}/{ns}/{name}"),
                None => format!("{kind}/{release_namespace}/{name}"),
            }
        })
        .collect()
}

/// The parsed `status.inventory.entries`, in inventory order; ids that do
/// not parse are left out.
fn inventory(obj: &Value) -> Vec<ObjectId> {
    obj["status"]["inventory"]["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["id"].as_str().and_then(ObjectId::parse))
        .collect()
}

/// The tree as text, with flux's box-drawing branches.
fn render(root: &Node) -> String {
    fn walk(out: &mut String, node: &Node, prefix: &str) {
        for (i, child) in node.children.iter().enumerate() {
            let last = i + 1 == node.children.len();
            out.push_str(prefix);
            out.push_str(if last { "└── " } else { "├── " });
            out.push_str(&child.label);
            out.push('\n');
            let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
            walk(out, child, &deeper);
        }
    }
    let mut out = format!("{}\n", root.label);
    walk(&mut out, root, "");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn leaf(label: &str) -> Node {
        Node {
            label: label.into(),
            children: vec![],
        }
    }

    #[test]
    fn trees_are_drawn_like_flux_tree() {
        let root = Node {
            label: "Kustomization/flux-system/infra".into(),
            children: vec![
                leaf("Namespace/apps"),
                Node {
                    label: "Kustomization/flux-system/apps".into(),
                    children: vec![leaf("ConfigMap/apps/a"), leaf("ConfigMap/apps/b")],
                },
                leaf("ConfigMap/apps/c"),
            ],
        };
        assert_eq!(
            render(&root),
            "Kustomization/flux-system/infra\n\
             ├── Namespace/apps\n\
             ├── Kustomization/flux-system/apps\n\
             │   ├── ConfigMap/apps/a\n\
             │   └── ConfigMap/apps/b\n\
             └── ConfigMap/apps/c\n"
        );
    }

    #[test]
    fn helm_release_manifests_are_read_from_the_storage_format() {
        use base64::Engine;
        use std::io::Write;
        let release = json!({"name": "web", "manifest": "---\n# Source: c/templates/sa.yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: web\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: other\n"});
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(release.to_string().as_bytes()).unwrap();
        let stored = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let manifest = release_manifest(stored.as_bytes()).unwrap();
        assert_eq!(
            manifest_objects(&manifest, "apps"),
            [
                "ServiceAccount/apps/web",
                "ClusterRole/web",
                "Service/other/web"
            ]
        );
        let plain = base64::engine::general_purpose::STANDARD.encode(release.to_string());
        assert_eq!(release_manifest(plain.as_bytes()).unwrap(), manifest);
        assert!(release_manifest(b"not base64!").is_err());
    }

    #[test]
    fn inventory_ids_are_parsed_and_bad_ones_skipped() {
        let obj = json!({"status": {"inventory": {"entries": [
            {"id": "_apps__Namespace", "v": "v1"},
            {"id": "apps_web_apps_Deployment", "v": "v1"},
            {"id": "garbage", "v": "v1"}
        ]}}});
        let ids = inventory(&obj);
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0].kind, "Namespace");
        assert_eq!(ids[1].group, "apps");
    }
}
