//! Strategic merge patch with Kubernetes merge keys and `$patch` directives.

use serde_json::{Map, Value};
use std::collections::HashMap;

/// Merge keys known from schemas (`crds:` / `openapi:`), by field name.
pub type ExtraKeys = HashMap<String, String>;

fn builtin_kind(kind: &str) -> bool {
    matches!(
        kind,
        "Pod"
            | "Deployment"
            | "StatefulSet"
            | "DaemonSet"
            | "ReplicaSet"
            | "Job"
            | "CronJob"
            | "ReplicationController"
            | "PodTemplate"
            | "Service"
            | "ConfigMap"
            | "Secret"
            | "ServiceAccount"
            | "Role"
            | "ClusterRole"
            | "RoleBinding"
            | "ClusterRoleBinding"
            | "Ingress"
            | "PersistentVolumeClaim"
            | "PersistentVolume"
            | "Namespace"
            | "HorizontalPodAutoscaler"
            | "PodDisruptionBudget"
            | "NetworkPolicy"
            | "Endpoints"
            | "LimitRange"
            | "ResourceQuota"
            | "StorageClass"
            | "CustomResourceDefinition"
            | "ValidatingWebhookConfiguration"
            | "MutatingWebhookConfiguration"
    )
}

/// How a list at `path` (field names from the object root) merges:
/// `Some(key)` by merge key, `None` replaced whole.
fn list_key(
    kind: &str,
    path: &[String],
    dest: &[Value],
    patch: &[Value],
    extra: &ExtraKeys,
) -> Option<String> {
    let field = path.last().map(String::as_str).unwrap_or("");
    if let Some(k) = extra.get(field) {
        return Some(k.clone());
    }
    if builtin_kind(kind) || extra.contains_key(&format!("kind:{kind}")) {
        let parent = if path.len() >= 2 {
            path[path.len() - 2].as_str()
        } else {
            ""
        };
        let key = match field {
            "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "volumes"
            | "env"
            | "imagePullSecrets"
            | "resourceClaims"
            | "schedulingGates" => Some("name"),
            "ports" if kind == "Service" => Some("port"),
            "ports" if parent == "containers" || parent == "initContainers" => {
                Some("containerPort")
            }
            "volumeMounts" => Some("mountPath"),
            "volumeDevices" => Some("devicePath"),
            "hostAliases" => Some("ip"),
            "topologySpreadConstraints" => Some("topologyKey"),
            "ownerReferences" => Some("uid"),
            "conditions" => Some("type"),
            "tolerations"
            | "args"
            | "command"
            | "envFrom"
            | "finalizers"
            | "rules"
            | "subjects"
            | "webhooks"
            | "tls"
            | "accessModes"
            | "volumeClaimTemplates"
            | "items"
            | "matchExpressions"
            | "sources"
            | "paths"
            | "hosts" => None,
            _ => return heuristic(dest, patch),
        };
        return key.map(str::to_string);
    }
    heuristic(dest, patch)
}

fn heuristic(_dest: &[Value], _patch: &[Value]) -> Option<String> {
    // Without a schema kustomize replaces lists whole.
    None
}

fn is_directive_only(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key("$patch"))
}

/// Removes directive keys from a patch value that is inserted as is.
pub fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| {
                !(k == "$patch"
                    || k == "$retainKeys"
                    || k.starts_with("$setElementOrder/")
                    || k.starts_with("$deleteFromPrimitiveList/"))
            });
            for x in m.values_mut() {
                strip_directives(x);
            }
        }
        Value::Array(a) => {
            a.retain(|x| !x.get("$patch").is_some_and(|p| p == "delete"));
            for x in a.iter_mut() {
                strip_directives(x);
            }
        }
        _ => {}
    }
}

/// Applies `patch` to `dest`. Returns `false` when the whole object is
/// deleted (`$patch: delete` at the top).
pub fn apply(dest: &mut Value, patch: &Value, extra: &ExtraKeys) -> bool {
    let kind = dest
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if patch.get("$patch").and_then(Value::as_str) == Some("delete") {
        return false;
    }
    let mut path = Vec::new();
    merge_value(dest, patch, &kind, &mut path, extra);
    true
}

fn merge_value(
    dest: &mut Value,
    patch: &Value,
    kind: &str,
    path: &mut Vec<String>,
    extra: &ExtraKeys,
) {
    match (dest.is_object(), patch) {
        (true, Value::Object(p)) => {
            merge_map(dest.as_object_mut().expect("map"), p, kind, path, extra)
        }
        _ => {
            if let (Value::Array(d), Value::Array(p)) = (&mut *dest, patch) {
                let key = list_key(kind, path, d, p, extra);
                merge_list(d, p, key.as_deref(), kind, path, extra);
                return;
            }
            let mut v = patch.clone();
            strip_directives(&mut v);
            *dest = v;
        }
    }
}

fn merge_map(
    dest: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    kind: &str,
    path: &mut Vec<String>,
    extra: &ExtraKeys,
) {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut v = Value::Object(patch.clone());
            strip_directives(&mut v);
            *dest = v.as_object().cloned().unwrap_or_default();
            return;
        }
        Some("delete") => {
            dest.clear();
            return;
        }
        _ => {}
    }
    for (k, pv) in patch {
        if k == "$patch" || k.starts_with("$setElementOrder/") || k == "$retainKeys" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(d)), Value::Array(del)) = (dest.get_mut(field), pv) {
                d.retain(|x| !del.contains(x));
            }
            continue;
        }
        if pv.is_null() {
            dest.remove(k);
            continue;
        }
        path.push(k.clone());
        match dest.get_mut(k) {
            Some(dv) if !dv.is_null() => {
                if pv.get("$patch").and_then(Value::as_str) == Some("delete") && pv.is_object() {
                    dest.remove(k);
                } else {
                    merge_value(dv, pv, kind, path, extra);
                    // A map emptied by the patch's deletions goes away.
                    let emptied = dv.as_object().is_some_and(|m| m.is_empty())
                        && pv.as_object().is_some_and(|p| !p.is_empty());
                    if emptied {
                        dest.remove(k);
                    }
                }
            }
            _ => {
                if !(pv.is_object() && pv.get("$patch").and_then(Value::as_str) == Some("delete")) {
                    let mut v = pv.clone();
                    strip_directives(&mut v);
                    dest.insert(k.clone(), v);
                }
            }
        }
        path.pop();
    }
    if let Some(Value::Array(keep)) = patch.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        dest.retain(|k, _| keep.contains(&k.as_str()));
    }
}

fn merge_list(
    dest: &mut Vec<Value>,
    patch: &[Value],
    key: Option<&str>,
    kind: &str,
    path: &mut Vec<String>,
    extra: &ExtraKeys,
) {
    let replace = patch.iter().any(|v| {
        v.get("$patch").and_then(Value::as_str) == Some("replace") && is_directive_only(v)
    });
    let Some(key) = key.filter(|_| !replace) else {
        let mut v = Value::Array(
            patch
                .iter()
                .filter(|x| !is_directive_only(x))
                .cloned()
                .collect(),
        );
        strip_directives(&mut v);
        if let Value::Array(a) = v {
            *dest = a;
        }
        return;
    };
    // Elements named by the patch come first, in patch order (merged when
    // they exist), then the remaining elements in their original order.
    let mut taken = vec![false; dest.len()];
    let mut out = Vec::new();
    for pv in patch {
        let Some(kv) = pv.get(key) else {
            if !is_directive_only(pv) {
                let mut v = pv.clone();
                strip_directives(&mut v);
                out.push(v);
            }
            continue;
        };
        let pos = (0..dest.len()).find(|&i| !taken[i] && dest[i].get(key) == Some(kv));
        let delete = pv.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => taken[i] = true,
            (Some(i), false) => {
                taken[i] = true;
                let mut d = std::mem::take(&mut dest[i]);
                merge_value(&mut d, pv, kind, path, extra);
                out.push(d);
            }
            (None, true) => {}
            (None, false) => {
                let mut v = pv.clone();
                strip_directives(&mut v);
                out.push(v);
            }
        }
    }
    for (i, d) in dest.drain(..).enumerate() {
        if !taken[i] {
            out.push(d);
        }
    }
    *dest = out;
}
