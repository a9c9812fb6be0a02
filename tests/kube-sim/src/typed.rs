//! Unknown-field detection for built-in kinds: decode into the typed Kubernetes structs
//! (k8s-openapi), encode again, and report every field of the input that did not survive —
//! the same fields the real API server drops (or rejects under `fieldValidation=Strict`).

use serde_json::Value;

fn roundtrip<T: serde::de::DeserializeOwned + serde::Serialize>(
    v: &Value,
) -> Result<Value, String> {
    let t: T = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&t).map_err(|e| e.to_string())
}

fn decode(group: &str, kind: &str, v: &Value) -> Option<Result<Value, String>> {
    use k8s_openapi::api::{
        apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch,
        coordination::v1 as coordination, core::v1 as core, events::v1 as events,
        networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac,
        scheduling::v1 as scheduling, storage::v1 as storage,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    Some(match (group, kind) {
        ("", "Namespace") => roundtrip::<core::Namespace>(v),
        ("", "ConfigMap") => roundtrip::<core::ConfigMap>(v),
        ("", "Secret") => roundtrip::<core::Secret>(v),
        ("", "Service") => roundtrip::<core::Service>(v),
        ("", "ServiceAccount") => roundtrip::<core::ServiceAccount>(v),
        ("", "Pod") => roundtrip::<core::Pod>(v),
        ("", "Event") => roundtrip::<core::Event>(v),
        ("", "PersistentVolumeClaim") => roundtrip::<core::PersistentVolumeClaim>(v),
        ("events.k8s.io", "Event") => roundtrip::<events::Event>(v),
        ("apps", "Deployment") => roundtrip::<apps::Deployment>(v),
        ("apps", "ReplicaSet") => roundtrip::<apps::ReplicaSet>(v),
        ("apps", "StatefulSet") => roundtrip::<apps::StatefulSet>(v),
        ("apps", "DaemonSet") => roundtrip::<apps::DaemonSet>(v),
        ("batch", "Job") => roundtrip::<batch::Job>(v),
        ("batch", "CronJob") => roundtrip::<batch::CronJob>(v),
        ("networking.k8s.io", "Ingress") => roundtrip::<networking::Ingress>(v),
        ("networking.k8s.io", "NetworkPolicy") => roundtrip::<networking::NetworkPolicy>(v),
        ("rbac.authorization.k8s.io", "Role") => roundtrip::<rbac::Role>(v),
        ("rbac.authorization.k8s.io", "RoleBinding") => roundtrip::<rbac::RoleBinding>(v),
        ("rbac.authorization.k8s.io", "ClusterRole") => roundtrip::<rbac::ClusterRole>(v),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            roundtrip::<rbac::ClusterRoleBinding>(v)
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            roundtrip::<apiext::CustomResourceDefinition>(v)
        }
        ("coordination.k8s.io", "Lease") => roundtrip::<coordination::Lease>(v),
        ("autoscaling", "HorizontalPodAutoscaler") => {
            roundtrip::<autoscaling::HorizontalPodAutoscaler>(v)
        }
        ("policy", "PodDisruptionBudget") => roundtrip::<policy::PodDisruptionBudget>(v),
        ("scheduling.k8s.io", "PriorityClass") => roundtrip::<scheduling::PriorityClass>(v),
        ("storage.k8s.io", "StorageClass") => roundtrip::<storage::StorageClass>(v),
        _ => return None,
    })
}

fn diff(input: &Value, output: &Value, path: &str, out: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, v) in i {
                if v.is_null() {
                    continue;
                }
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match o.get(k) {
                    None => out.push(p),
                    Some(ov) => diff(v, ov, &p, out),
                }
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            for (n, (iv, ov)) in i.iter().zip(o).enumerate() {
                diff(iv, ov, &format!("{path}[{n}]"), out);
            }
        }
        _ => {}
    }
}

/// Removes fields the built-in kind does not declare and returns their paths.
///
/// # Errors
/// The decoder's message when a value has the wrong type.
pub fn prune_unknown(group: &str, kind: &str, obj: &mut Value) -> Result<Vec<String>, String> {
    let Some(decoded) = decode(group, kind, obj) else {
        return Ok(vec![]);
    };
    let decoded = decoded?;
    let mut unknown = vec![];
    diff(obj, &decoded, "", &mut unknown);
    for p in &unknown {
        remove_dotted(obj, p);
    }
    Ok(unknown)
}

fn remove_dotted(obj: &mut Value, path: &str) {
    let mut parts: Vec<String> = vec![];
    for seg in path.split('.') {
        // `containers[0]` → `containers`, `0`
        let mut rest = seg;
        while let Some(i) = rest.find('[') {
            if i > 0 {
                parts.push(rest[..i].to_string());
            }
            let end = rest[i..].find(']').map(|e| i + e).unwrap_or(rest.len() - 1);
            parts.push(rest[i + 1..end].to_string());
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(rest.to_string());
        }
    }
    let Some((last, parents)) = parts.split_last() else {
        return;
    };
    let mut cur = obj;
    for p in parents {
        cur = match cur {
            Value::Object(m) => match m.get_mut(p) {
                Some(c) => c,
                None => return,
            },
            Value::Array(a) => match p.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(c) => c,
                None => return,
            },
            _ => return,
        };
    }
    if let Value::Object(m) = cur {
        m.remove(last);
    }
}
