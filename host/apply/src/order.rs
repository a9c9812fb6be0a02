//! Apply order: CRDs and Namespaces first, then cluster-scoped kinds, then namespaced
//! kinds; within a stage, kustomize's kind order, then namespace and name.

use std::cmp::Ordering;

use crate::object::ObjectRef;

/// The stages of an apply run, in the order they are applied. Each stage is applied
/// completely (and CRDs are Established) before the next starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// CustomResourceDefinitions and Namespaces: everything else may need them.
    Definitions,
    /// Other cluster-scoped objects (ClusterRoles, StorageClasses, cluster-scoped custom
    /// resources…).
    ClusterScoped,
    /// Namespaced objects.
    Namespaced,
}

/// Whether the object defines where other objects go: a CRD or a Namespace.
pub fn is_definition(r: &ObjectRef) -> bool {
    (r.group == "apiextensions.k8s.io" && r.kind == "CustomResourceDefinition")
        || (r.group.is_empty() && r.kind == "Namespace")
}

/// The stage of an object, given whether its kind is namespaced.
pub fn stage_of(r: &ObjectRef, namespaced: bool) -> Stage {
    if is_definition(r) {
        Stage::Definitions
    } else if namespaced {
        Stage::Namespaced
    } else {
        Stage::ClusterScoped
    }
}

/// Kinds applied first, in this order (kustomize's legacy order, as Flux sorts): a
/// ServiceAccount before the RoleBinding naming it, a ConfigMap before the Deployment
/// mounting it, a Service before the workloads behind it.
const FIRST: &[&str] = &[
    "CustomResourceDefinition",
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
    "LimitRange",
    "PriorityClass",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Kinds applied last: webhooks, so that they do not intercept the objects applied
/// alongside them (whose backing Service may not be up yet).
const LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn kind_rank(kind: &str) -> i32 {
    if let Some(i) = FIRST.iter().position(|k| *k == kind) {
        return i as i32 - FIRST.len() as i32;
    }
    if let Some(i) = LAST.iter().position(|k| *k == kind) {
        return i as i32 + 1;
    }
    0
}

/// Kustomize's order: known kinds by rank, others in between by group and kind, ties by
/// namespace then name (so output does not depend on input order).
pub fn compare(a: &ObjectRef, b: &ObjectRef) -> Ordering {
    kind_rank(&a.kind)
        .cmp(&kind_rank(&b.kind))
        .then_with(|| a.group.cmp(&b.group))
        .then_with(|| a.kind.cmp(&b.kind))
        .then_with(|| a.namespace.cmp(&b.namespace))
        .then_with(|| a.name.cmp(&b.name))
}

/// The order objects are deleted in by prune: everything else first, then CRDs (which
/// take their custom resources with them), then Namespaces (which take everything in
/// them).
pub fn prune_rank(r: &ObjectRef) -> u8 {
    if r.group.is_empty() && r.kind == "Namespace" {
        2
    } else if is_definition(r) {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(group: &str, kind: &str, ns: &str, name: &str) -> ObjectRef {
        ObjectRef::new(group, kind, ns, name)
    }

    #[test]
    fn crds_and_namespaces_come_first_then_cluster_scoped_then_namespaced() {
        let crd = r(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "",
            "a.b",
        );
        let ns = r("", "Namespace", "", "apps");
        let cr = r("rbac.authorization.k8s.io", "ClusterRole", "", "x");
        let cm = r("", "ConfigMap", "apps", "c");
        assert_eq!(stage_of(&crd, false), Stage::Definitions);
        assert_eq!(stage_of(&ns, false), Stage::Definitions);
        assert_eq!(stage_of(&cr, false), Stage::ClusterScoped);
        assert_eq!(stage_of(&cm, true), Stage::Namespaced);
        assert!(Stage::Definitions < Stage::ClusterScoped);
        assert!(Stage::ClusterScoped < Stage::Namespaced);
    }

    #[test]
    fn within_a_stage_kinds_follow_kustomize_order_and_ties_sort_by_namespace_and_name() {
        let mut v = vec![
            r(
                "admissionregistration.k8s.io",
                "ValidatingWebhookConfiguration",
                "",
                "w",
            ),
            r("apps", "Deployment", "b", "d"),
            r("example.com", "Widget", "a", "w"),
            r("", "Service", "a", "s"),
            r("", "ConfigMap", "b", "z"),
            r("", "ConfigMap", "a", "z"),
            r("", "ServiceAccount", "a", "sa"),
            r("", "Namespace", "", "a"),
            r(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                "",
                "widgets.example.com",
            ),
        ];
        v.sort_by(compare);
        let kinds: Vec<String> = v.iter().map(|o| o.to_string()).collect();
        assert_eq!(
            kinds,
            [
                "CustomResourceDefinition/widgets.example.com",
                "Namespace/a",
                "ServiceAccount/a/sa",
                "ConfigMap/a/z",
                "ConfigMap/b/z",
                "Service/a/s",
                "Deployment/b/d",
                "Widget/a/w",
                "ValidatingWebhookConfiguration/w",
            ]
        );
    }

    #[test]
    fn prune_deletes_namespaces_last_and_crds_just_before() {
        let mut v = [
            r("", "Namespace", "", "a"),
            r("apiextensions.k8s.io", "CustomResourceDefinition", "", "c"),
            r("", "ConfigMap", "a", "x"),
        ];
        v.sort_by_key(prune_rank);
        assert_eq!(v[0].kind, "ConfigMap");
        assert_eq!(v[2].kind, "Namespace");
    }
}
