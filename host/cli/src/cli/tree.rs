//! `gyre tree kustomization NAME`: the objects a Kustomization applied (its
//! `status.inventory`), as a tree like `flux tree`, descending into the
//! Kustomizations and HelmReleases it applied.

use super::cluster::{self, ClusterArgs, Kind};
use clap::{Args, Subcommand};
use gyre_api::kustomize::ObjectId;
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
                    node.children = Box::pin(children(client, &child, seen)).await?;
                }
            }
        }
        nodes.push(node);
    }
    Ok(nodes)
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
