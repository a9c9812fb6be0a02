//! Output order (legacy kind order or FIFO, `sortOptions`) and the final
//! clean-up of each object (buildMetadata annotations).

use crate::build::Reorder;
use crate::error::{Error, Result};
use crate::resource::{Id, Res, obj_at};
use serde_json::Value;
use std::collections::HashMap;

const ORDER_FIRST: [&str; 22] = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: [&str; 2] = [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn gvk_string(id: &Id) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{}_{}_{}",
        or(&id.group, "~G"),
        or(&id.version, "~V"),
        or(&id.kind, "~K")
    )
}

fn legacy_sort(res: &mut [Res], first: &[String], last: &[String]) {
    let mut rank: HashMap<&str, i64> = HashMap::new();
    for (i, k) in first.iter().enumerate() {
        rank.insert(k, i as i64 - first.len() as i64);
    }
    for (i, k) in last.iter().enumerate() {
        rank.insert(k, 1 + i as i64);
    }
    res.sort_by_cached_key(|r| {
        let id = r.id();
        let ns = if id.namespace.is_empty() {
            "~X".to_string()
        } else {
            id.namespace.clone()
        };
        let name = if id.name.is_empty() {
            "~N".to_string()
        } else {
            id.name.clone()
        };
        (
            rank.get(id.kind.as_str()).copied().unwrap_or(0),
            gvk_string(&id),
            ns,
            name,
        )
    });
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

/// Orders the objects per `sortOptions`, else per the reorder flag.
pub fn apply(res: &mut [Res], sort_options: Option<&Value>, reorder: Reorder) -> Result<()> {
    let first: Vec<String> = ORDER_FIRST.iter().map(|s| s.to_string()).collect();
    let last: Vec<String> = ORDER_LAST.iter().map(|s| s.to_string()).collect();
    if let Some(so) = sort_options {
        match so.get("order").and_then(Value::as_str).unwrap_or("") {
            "legacy" => {
                let lo = so.get("legacySortOptions");
                let f = strings(lo.and_then(|l| l.get("orderFirst"))).unwrap_or(first);
                let l = strings(lo.and_then(|l| l.get("orderLast"))).unwrap_or(last);
                legacy_sort(res, &f, &l);
            }
            "fifo" => {
                if so.get("legacySortOptions").is_some() {
                    return Err(Error::invalid(
                        "legacySortOptions cannot be set with order 'fifo'",
                    )
                    .at("sortOptions"));
                }
            }
            other => {
                return Err(
                    Error::invalid(format!("unknown sort order {other:?}")).at("sortOptions.order")
                );
            }
        }
        return Ok(());
    }
    if reorder != Reorder::None {
        legacy_sort(res, &first, &last);
    }
    Ok(())
}

/// Adds the annotations buildMetadata asks for and returns the object.
pub fn finish(mut r: Res, meta: &[String]) -> Value {
    if meta.iter().any(|m| m == "originAnnotations") {
        let o = &r.origin;
        let mut text = String::new();
        if let Some(p) = &o.path {
            text.push_str(&format!("path: {p}\n"));
        }
        if let Some(c) = &o.configured_in {
            text.push_str(&format!(
                "configuredIn: {c}\nconfiguredBy:\n  apiVersion: builtin\n  kind: {}\n",
                o.configured_by.clone().unwrap_or_default()
            ));
            if let Some(n) = &o.configured_name {
                text.push_str(&format!("  name: {n}\n"));
            }
        }
        if !text.is_empty() {
            obj_at(&mut r.obj, &["metadata", "annotations"])
                .insert("config.kubernetes.io/origin".into(), Value::String(text));
        }
    }
    if meta.iter().any(|m| m == "transformerAnnotations") && !r.transformations.is_empty() {
        let mut text = String::new();
        for (c, k) in &r.transformations {
            text.push_str(&format!(
                "- configuredIn: {c}\n  configuredBy:\n    apiVersion: builtin\n    kind: {k}\n"
            ));
        }
        obj_at(&mut r.obj, &["metadata", "annotations"]).insert(
            "alpha.config.kubernetes.io/transformations".into(),
            Value::String(text),
        );
    }
    r.obj
}
