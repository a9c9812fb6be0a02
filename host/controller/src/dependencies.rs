//! `spec.dependsOn`, shared by Kustomizations and HelmReleases: an object waits until
//! each object it names exists, has reconciled its current generation and is Ready
//! (reason `DependencyNotReady`, looked at again after `--requeue-dependency`), and is
//! woken when one of them changes (see [`crate::runner`]).

use gyre_api::helm::HelmRelease;
use gyre_api::kustomize::Kustomization;
use gyre_api::meta::{FluxStatus, NamespacedObjectReference, is_ready};
use k8s_openapi::NamespaceResourceScope;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::context::Context;

/// A kind that can be depended on and can depend on its own kind.
pub trait Dependent:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
{
    /// The status, when there is one.
    fn flux_status(&self) -> Option<&dyn FluxStatus>;
    /// `spec.dependsOn`.
    fn depends_on(&self) -> Vec<NamespacedObjectReference>;
}

impl Dependent for Kustomization {
    fn flux_status(&self) -> Option<&dyn FluxStatus> {
        self.status.as_ref().map(|s| s as &dyn FluxStatus)
    }
    fn depends_on(&self) -> Vec<NamespacedObjectReference> {
        self.spec
            .depends_on
            .iter()
            .flatten()
            .map(NamespacedObjectReference::from)
            .collect()
    }
}

impl Dependent for HelmRelease {
    fn flux_status(&self) -> Option<&dyn FluxStatus> {
        self.status.as_ref().map(|s| s as &dyn FluxStatus)
    }
    fn depends_on(&self) -> Vec<NamespacedObjectReference> {
        self.spec.depends_on.clone().unwrap_or_default()
    }
}

/// Whether `obj` names `(ns, name)` in its `dependsOn` (a dependency without a namespace
/// is in the dependent's own).
pub fn names<K: Dependent>(obj: &K, ns: &str, name: &str) -> bool {
    let own = obj.namespace().unwrap_or_default();
    obj.depends_on()
        .iter()
        .any(|d| d.name == name && d.namespace.as_deref().unwrap_or(&own) == ns)
}

/// Whether a dependency is ready by Flux's rule: its current generation reconciled and
/// `Ready=True`.
pub fn ready<K: Dependent>(dep: &K) -> bool {
    dep.flux_status().is_some_and(|s| {
        s.observed_generation() == dep.meta().generation && is_ready(s.conditions())
    })
}

/// Checks every dependency of `obj`; `extra` adds a kind's own rule (a Kustomization
/// building the same source must have applied the same revision).
///
/// # Errors
/// A message naming the first dependency that is missing, not ready, or not allowed
/// (cross-namespace under `--no-cross-namespace-refs`).
pub async fn check<K: Dependent>(
    ctx: &Context,
    obj: &K,
    extra: impl Fn(&K, &str) -> bool,
) -> Result<(), String> {
    let own_ns = obj.namespace().unwrap_or_default();
    for dep in obj.depends_on() {
        let ns = dep.namespace.clone().unwrap_or_else(|| own_ns.clone());
        if ctx.options.no_cross_namespace_refs && ns != own_ns {
            return Err(format!(
                "dependency '{ns}/{}': cross-namespace references are not allowed",
                dep.name
            ));
        }
        let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
        let d = api
            .get_opt(&dep.name)
            .await
            .map_err(|e| format!("dependency '{ns}/{}': {e}", dep.name))?
            .ok_or_else(|| format!("dependency '{ns}/{}' not found", dep.name))?;
        if !ready(&d) || !extra(&d, &ns) {
            return Err(format!("dependency '{ns}/{}' is not ready", dep.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hr(yaml_status: &str, generation: i64) -> HelmRelease {
        serde_yaml_ng::from_str(&format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: a, namespace: apps, generation: {generation}}}\nspec:\n  interval: 1m\n  dependsOn: [{{name: db}}, {{name: cache, namespace: infra}}]\n{yaml_status}"
        ))
        .unwrap()
    }

    const READY_AT_1: &str = "status:\n  observedGeneration: 1\n  conditions:\n  - {type: Ready, status: \"True\", reason: UpgradeSucceeded, message: ok, lastTransitionTime: \"2024-01-01T00:00:00Z\"}\n";

    #[test]
    fn a_dependency_is_ready_only_at_its_current_generation() {
        assert!(ready(&hr(READY_AT_1, 1)));
        assert!(!ready(&hr(READY_AT_1, 2)), "a new spec not reconciled yet");
        assert!(!ready(&hr("", 1)), "no status");
        assert!(!ready(&hr(&READY_AT_1.replace("\"True\"", "\"False\""), 1)));
    }

    #[test]
    fn depends_on_defaults_the_namespace_to_the_dependents() {
        let h = hr("", 1);
        assert!(names(&h, "apps", "db"));
        assert!(names(&h, "infra", "cache"));
        assert!(!names(&h, "infra", "db"));
        assert!(!names(&h, "apps", "cache"));
    }
}
