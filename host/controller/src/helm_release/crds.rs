//! CRD policies for the `crds/` directories of a chart (`install.crds`, `upgrade.crds`,
//! the deprecated `install.skipCRDs`), as helm-controller applies them.
//!
//! As in Helm, the objects of `crds/` are not part of the release: they are not in the
//! release manifest, so they are never pruned, uninstalled or drift-checked. Before the
//! release's own objects, per policy:
//! - `Skip`: none is touched;
//! - `Create`: the missing ones are created, existing ones are left as they are;
//! - `CreateReplace`: all are created or updated (server-side apply), none is deleted.
//!
//! What is created or updated carries the HelmRelease's `helm.toolkit.fluxcd.io/name|
//! namespace` labels, and the release waits (up to 60 s) for the CRDs to be Established.
//! CRDs under `templates/` are ordinary release objects, except that an object a `crds/`
//! directory holds is never pruned from an older revision ([`spare`]).
//!
//! Defaults: `Create` on install (`Skip` when only `skipCRDs: true` is set; `crds` takes
//! precedence), and `Create` on upgrade too. helm-controller's API documentation says the
//! upgrade default is `Skip`, but its code (`crdPolicyOrDefault`) defaults both actions to
//! `Create`, and its maintainers kept that behaviour when fixing fluxcd/helm-controller#1588
//! (#1589: existing CRDs are not updated on upgrade, missing ones are created). Gyre does
//! what helm-controller does.
//!
//! # Caveats
//! Helm installs the CRDs before it renders the templates; Gyre renders first, so a
//! template asking `.Capabilities.APIVersions` about a CRD of its own chart does not see
//! it on the first install. Releases recorded by an earlier Gyre kept `crds/` objects in
//! their manifest: upgrades no longer prune them ([`spare`]), but uninstalling such a
//! release deletes them.

use gyre_api::helm::HelmRelease;
use gyre_apply::{Action, ApplyOptions, DiffOptions, Inventory, ObjectRef, Owner};
use kube::ResourceExt;
use serde_json::Value;

use crate::context::Context;

/// A CRD policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Touch no CRD.
    Skip,
    /// Create missing CRDs; leave existing ones.
    Create,
    /// Create missing CRDs and update existing ones.
    CreateReplace,
}

/// The policy of the install (`upgrade == false`) or upgrade action.
///
/// # Errors
/// A policy that is none of `Skip`, `Create`, `CreateReplace`, with helm-controller's
/// message.
pub fn policy(hr: &HelmRelease, upgrade: bool) -> Result<Policy, String> {
    let (set, skip) = if upgrade {
        (hr.spec.upgrade.as_ref().and_then(|u| u.crds.clone()), false)
    } else {
        let i = hr.spec.install.as_ref();
        (
            i.and_then(|i| i.crds.clone()),
            i.and_then(|i| i.skip_crds).unwrap_or(false),
        )
    };
    match set.as_deref().unwrap_or_default() {
        "" if skip => Ok(Policy::Skip),
        "" | "Create" => Ok(Policy::Create),
        "Skip" => Ok(Policy::Skip),
        "CreateReplace" => Ok(Policy::CreateReplace),
        other => Err(format!(
            "invalid CRD {} policy '{other}', valid values are 'Skip', 'Create' or 'CreateReplace'",
            if upgrade { "upgrade" } else { "install" }
        )),
    }
}

/// Whether a render origin (`<chart>[/charts/<sub>…]/<path>`) is a file of a chart's
/// `crds/` directory rather than a template.
pub fn is_crds_origin(origin: &str) -> bool {
    // Skip the chart's name and every `charts/<subchart>` below it; what is left is a
    // path inside one chart, e.g. `templates/crds/x.yaml` (a template) or `crds/x.yaml`.
    let mut parts = origin.split('/').skip(1).peekable();
    while parts.peek() == Some(&"charts") {
        parts.next();
        parts.next();
    }
    parts.next() == Some("crds") && parts.peek().is_some()
}

/// Takes the objects of `crds/` directories out of a render (objects and their origins,
/// index-aligned), returning them.
pub fn take(objects: &mut Vec<Value>, origins: &mut Vec<String>) -> Vec<Value> {
    let mut crds = Vec::new();
    let mut kept = Vec::new();
    let mut kept_origins = Vec::new();
    for (i, o) in std::mem::take(objects).into_iter().enumerate() {
        let origin = origins.get(i).cloned().unwrap_or_default();
        if is_crds_origin(&origin) {
            crds.push(o);
        } else {
            kept.push(o);
            kept_origins.push(origin);
        }
    }
    *objects = kept;
    *origins = kept_origins;
    crds
}

/// The previous release's objects to prune from, without those a `crds/` directory of the
/// chart holds now. Deleting a CRD deletes every custom resource of its kind, and a
/// `crds/` object is not the release's to delete: this covers a CRD that moved from
/// `templates/` to `crds/`, and releases recorded before `crds/` objects were kept out of
/// the manifest.
pub fn spare(previous: Inventory, crds: &[Value]) -> Inventory {
    let held: Vec<ObjectRef> = crds
        .iter()
        .filter_map(|o| ObjectRef::of(o).ok().map(|(r, _)| r))
        .collect();
    let same =
        |a: &ObjectRef, b: &ObjectRef| a.group == b.group && a.kind == b.kind && a.name == b.name;
    let refs = previous.refs();
    Inventory::from_refs(
        refs.iter()
            .filter(|(r, _)| !held.iter().any(|h| same(h, r)))
            .map(|(r, v)| (r, v.as_str())),
    )
}

/// Applies the `crds/` objects per the action's policy and waits for the CRDs to be
/// Established. Returns the change set's lines.
///
/// # Errors
/// An invalid policy, or objects that could not be checked, applied or established
/// (helm-controller's wording: `failed to apply CustomResourceDefinitions: …`).
pub async fn apply(
    ctx: &Context,
    hr: &HelmRelease,
    upgrade: bool,
    crds: &[Value],
) -> Result<Vec<String>, String> {
    let policy = policy(hr, upgrade)?;
    if crds.is_empty() {
        return Ok(Vec::new());
    }
    let what = crate::status::describe(hr);
    if policy == Policy::Skip {
        tracing::info!(object = %what, count = crds.len(), "skipping CustomResourceDefinition apply: policy is Skip");
        return Ok(Vec::new());
    }
    let fail = |m: String| format!("failed to apply CustomResourceDefinitions: {m}");
    let namespace = hr.release_namespace();
    let to_apply = if policy == Policy::Create {
        // A dry-run per object tells which are missing (any kind a `crds/` file holds).
        let diff = ctx
            .applier
            .diff(
                crds.to_vec(),
                &DiffOptions {
                    default_namespace: namespace.clone(),
                    ..DiffOptions::default()
                },
            )
            .await
            .map_err(|f| fail(f.chain()))?;
        let missing: Vec<_> = diff
            .objects
            .iter()
            .filter(|d| d.action == Action::Created)
            .map(|d| d.object.clone())
            .collect();
        crds.iter()
            .filter(|o| {
                gyre_apply::ObjectRef::of(o).is_ok_and(|(r, _)| {
                    missing
                        .iter()
                        .any(|m| m.group == r.group && m.kind == r.kind && m.name == r.name)
                })
            })
            .cloned()
            .collect()
    } else {
        crds.to_vec()
    };
    if to_apply.is_empty() {
        return Ok(Vec::new());
    }
    let mut opts = ApplyOptions::for_owner(Owner::helm_release(
        &hr.name_any(),
        &hr.namespace().unwrap_or_default(),
    ));
    opts.default_namespace = namespace;
    let applied = ctx
        .applier
        .apply(to_apply, &opts)
        .await
        .map_err(|f| fail(f.chain()))?;
    let lines: Vec<String> = applied
        .change_set()
        .summary()
        .lines()
        .map(str::to_string)
        .collect();
    tracing::info!(object = %what, ?policy, changes = ?lines, "applied CustomResourceDefinitions");
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hr(install: Value, upgrade: Value) -> HelmRelease {
        serde_json::from_value(json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "x", "namespace": "y"},
            "spec": {"interval": "1m", "install": install, "upgrade": upgrade,
              "chart": {"spec": {"chart": "c", "sourceRef": {"kind": "HelmRepository", "name": "r"}}}}}))
        .unwrap()
    }

    #[test]
    fn defaults_are_create_and_skip_crds_is_the_legacy_skip() {
        let h = hr(json!({}), json!({}));
        assert_eq!(policy(&h, false), Ok(Policy::Create));
        assert_eq!(policy(&h, true), Ok(Policy::Create));
        let h = hr(json!({"skipCRDs": true}), json!({}));
        assert_eq!(policy(&h, false), Ok(Policy::Skip));
        // `crds` takes precedence over the deprecated flag (helm-controller#261).
        let h = hr(
            json!({"skipCRDs": true, "crds": "CreateReplace"}),
            json!({"crds": "Skip"}),
        );
        assert_eq!(policy(&h, false), Ok(Policy::CreateReplace));
        assert_eq!(policy(&h, true), Ok(Policy::Skip));
    }

    #[test]
    fn an_unknown_policy_is_refused_with_flux_wording() {
        let h = hr(json!({}), json!({"crds": "Replace"}));
        assert_eq!(
            policy(&h, true),
            Err("invalid CRD upgrade policy 'Replace', valid values are 'Skip', 'Create' or 'CreateReplace'".into())
        );
    }

    #[test]
    fn a_crd_held_by_crds_is_never_pruned_from_the_previous_release() {
        let crd = |name: &str| {
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": name}})
        };
        let previous = super::super::manifest_inventory(
            "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: a.example.com\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: b.example.com\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
            "ns",
        );
        let kept = spare(previous, &[crd("a.example.com")]);
        let names: Vec<String> = kept.refs().into_iter().map(|(r, _)| r.name).collect();
        assert_eq!(names.len(), 2);
        assert!(!names.contains(&"a.example.com".to_string()), "{names:?}");
    }

    #[test]
    fn only_files_of_crds_directories_are_taken_out_of_the_release() {
        assert!(is_crds_origin("c/crds/a.yaml"));
        assert!(is_crds_origin("c/charts/sub/crds/b.yaml"));
        assert!(!is_crds_origin("c/templates/crd.yaml"));
        assert!(!is_crds_origin("c/templates/crds/x.yaml"));
        assert!(!is_crds_origin("c/charts/sub/templates/crds/x.yaml"));
        let mut objects = vec![json!({"n": 1}), json!({"n": 2}), json!({"n": 3})];
        let mut origins = vec![
            "c/crds/a.yaml".to_string(),
            "c/templates/crd.yaml".into(),
            "c/templates/d.yaml".into(),
        ];
        let crds = take(&mut objects, &mut origins);
        assert_eq!(crds, [json!({"n": 1})]);
        assert_eq!(objects, [json!({"n": 2}), json!({"n": 3})]);
        assert_eq!(origins, ["c/templates/crd.yaml", "c/templates/d.yaml"]);
    }
}
