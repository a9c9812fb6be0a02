//! Drift detection: would applying the desired object change the live one?
//!
//! Two answers, both pure. [`unchanged_locally`] decides from the live object alone
//! (fetched in one LIST per type and namespace) by reading our field manager's entry in
//! `managedFields`; it only ever answers "unchanged" when server-side apply is certain to
//! be a no-op, and otherwise says "don't know" — then [`drifted`] compares a server-side
//! dry-run result with the live object, as Flux does. The first is what makes a no-op
//! re-apply cost no request per object.

use serde_json::{Map, Value};

/// Metadata the server owns; a desired object carrying any of these (other than name and
/// namespace) is not judged locally.
const SERVER_META: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "generateName",
];

/// Whether server-side applying `desired` as `manager` to `live` is certain to change
/// nothing. True only when
/// - `manager` has an `Apply` entry for the same apiVersion whose field set is exactly the
///   desired object's fields (so the apply neither adds nor releases any field), and
/// - every desired value is present and equal in the live object (list items matched by
///   the keys recorded in the field set; atomic lists by position and length).
///
/// Values the server normalizes (quantities such as `0.5` vs `500m`) make this answer
/// false, which only costs a dry-run.
pub fn unchanged_locally(desired: &Value, live: &Value, manager: &str) -> bool {
    if !live["metadata"]["deletionTimestamp"].is_null() {
        return false;
    }
    let Some(entry) = live["metadata"]["managedFields"].as_array().and_then(|m| {
        m.iter().find(|e| {
            e["manager"] == manager
                && e["operation"] == "Apply"
                && e["subresource"].as_str().is_none_or(str::is_empty)
        })
    }) else {
        return false;
    };
    if entry["apiVersion"] != desired["apiVersion"] {
        return false;
    }
    let (Some(d), Some(l), Some(f)) = (
        desired.as_object(),
        live.as_object(),
        entry["fieldsV1"].as_object(),
    ) else {
        return false;
    };
    // Top level: every field but apiVersion/kind is owned; metadata is special because
    // name and namespace are identity, never owned.
    for fk in f.keys() {
        let Some(name) = fk.strip_prefix("f:") else {
            return false;
        };
        if !d.contains_key(name) {
            return false;
        }
    }
    for (k, dv) in d {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                let Some(dm) = dv.as_object() else {
                    return false;
                };
                let owned: Map<String, Value> = dm
                    .iter()
                    .filter(|(k, _)| *k != "name" && *k != "namespace")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if owned.keys().any(|k| SERVER_META.contains(&k.as_str())) {
                    return false;
                }
                let empty = Value::Object(Map::new());
                let fm = f.get("f:metadata").unwrap_or(&empty);
                if owned.is_empty() {
                    if fm.as_object().is_some_and(|m| !m.is_empty()) {
                        return false;
                    }
                    continue;
                }
                if !walk(fm, &Value::Object(owned), &live["metadata"]) {
                    return false;
                }
            }
            _ => {
                let (Some(fv), Some(lv)) = (f.get(&format!("f:{k}")), l.get(k)) else {
                    return false;
                };
                if !walk(fv, dv, lv) {
                    return false;
                }
            }
        }
    }
    true
}

/// Walks a field-set node, the desired value and the live value together.
fn walk(f: &Value, d: &Value, l: &Value) -> bool {
    let Some(fm) = f.as_object() else {
        return false;
    };
    match d {
        Value::Object(dm) => {
            let Some(lm) = l.as_object() else {
                return false;
            };
            if !dm.is_empty() && fm.keys().all(|k| k == ".") {
                // An atomic map (a Deployment's selector): apply replaces it whole.
                return subset(d, l);
            }
            for fk in fm.keys() {
                if fk == "." {
                    continue;
                }
                match fk.strip_prefix("f:") {
                    Some(name) if dm.contains_key(name) => {}
                    _ => return false,
                }
            }
            dm.iter()
                .all(|(k, dv)| match (fm.get(&format!("f:{k}")), lm.get(k)) {
                    (Some(fv), Some(lv)) => walk(fv, dv, lv),
                    _ => false,
                })
        }
        Value::Array(da) => {
            let Some(la) = l.as_array() else {
                return false;
            };
            let items: Vec<&String> = fm.keys().filter(|k| *k != ".").collect();
            if items.is_empty() {
                // An atomic list: apply replaces it whole.
                return da.len() == la.len() && da.iter().zip(la).all(|(d, l)| subset(d, l));
            }
            if items.len() != da.len() {
                return false;
            }
            let mut used = vec![false; items.len()];
            for di in da {
                let found = match di {
                    Value::Object(dobj) => {
                        let mut hit = None;
                        for (i, k) in items.iter().enumerate() {
                            let Some(key) = k
                                .strip_prefix("k:")
                                .and_then(|j| serde_json::from_str::<Map<String, Value>>(j).ok())
                            else {
                                continue;
                            };
                            // Key fields the manifest leaves out were defaulted by the
                            // server (a port's protocol); the live item must still match
                            // the full key.
                            if key
                                .iter()
                                .all(|(kk, kv)| dobj.get(kk).is_none_or(|dv| dv == kv))
                            {
                                if hit.is_some() {
                                    return false;
                                }
                                hit = Some((i, key));
                            }
                        }
                        let Some((i, key)) = hit else {
                            return false;
                        };
                        let Some(li) = la
                            .iter()
                            .find(|li| key.iter().all(|(kk, kv)| li.get(kk) == Some(kv)))
                        else {
                            return false;
                        };
                        if !walk(&fm[items[i].as_str()], di, li) {
                            return false;
                        }
                        Some(i)
                    }
                    scalar => {
                        let want =
                            format!("v:{}", serde_json::to_string(scalar).unwrap_or_default());
                        let pos = items.iter().position(|k| **k == want);
                        if pos.is_none() || !la.contains(scalar) {
                            return false;
                        }
                        pos
                    }
                };
                let Some(i) = found else {
                    return false;
                };
                if used[i] {
                    return false;
                }
                used[i] = true;
            }
            true
        }
        // A null asks apply to remove a field: not a no-op we can vouch for.
        Value::Null => false,
        scalar => fm.keys().all(|k| k == ".") && same_scalar(scalar, l),
    }
}

/// Whether every desired value is in the live one (the server may have added defaults).
fn subset(d: &Value, l: &Value) -> bool {
    match (d, l) {
        (Value::Object(dm), Value::Object(lm)) => dm
            .iter()
            .all(|(k, dv)| lm.get(k).is_some_and(|lv| subset(dv, lv))),
        (Value::Array(da), Value::Array(la)) => {
            da.len() == la.len() && da.iter().zip(la).all(|(d, l)| subset(d, l))
        }
        _ => same_scalar(d, l),
    }
}

fn same_scalar(d: &Value, l: &Value) -> bool {
    match (d, l) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => d == l,
    }
}

/// The parts of an object compared by [`drifted`] and shown by diffs: everything but the
/// server's bookkeeping.
pub fn comparable(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["managedFields", "resourceVersion", "generation"] {
            m.remove(k);
        }
    }
    if let Some(m) = o.as_object_mut() {
        // List items carry no apiVersion/kind; compare what both sides have.
        m.remove("apiVersion");
        m.remove("kind");
    }
    o
}

/// Whether a server-side dry-run result differs from the live object, ignoring
/// managedFields, resourceVersion and generation (as Flux does: a change of ownership
/// alone is not drift).
pub fn drifted(dry_run: &Value, live: &Value) -> bool {
    comparable(dry_run) != comparable(live)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live_deploy() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "d", "namespace": "a", "generation": 1, "resourceVersion": "7",
            "labels": {"app": "d", "team": "x"},
            "managedFields": [
              {"manager": "gyre", "operation": "Apply", "apiVersion": "apps/v1",
               "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}},
                 "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
                   "f:metadata": {"f:labels": {"f:app": {}}},
                   "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:name": {}, "f:image": {},
                     "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
                     "f:args": {}}}}}}}},
              {"manager": "kubectl-label", "operation": "Update", "apiVersion": "v1",
               "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}}]},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}},
            "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [
              {"name": "c", "image": "nginx:1", "imagePullPolicy": "IfNotPresent", "args": ["-v"],
               "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}})
    }

    fn desired() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "d", "namespace": "a", "labels": {"app": "d"}},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}},
            "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [
              {"name": "c", "image": "nginx:1", "args": ["-v"], "ports": [{"containerPort": 80}]}]}}}})
    }

    #[test]
    fn an_object_we_applied_and_nobody_changed_is_unchanged_without_asking_the_server() {
        assert!(unchanged_locally(&desired(), &live_deploy(), "gyre"));
    }

    #[test]
    fn a_changed_value_in_the_manifest_is_not_judged_unchanged() {
        let mut d = desired();
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
        assert!(!unchanged_locally(&d, &live_deploy(), "gyre"));
    }

    #[test]
    fn drift_in_the_cluster_is_not_judged_unchanged() {
        let mut l = live_deploy();
        l["spec"]["replicas"] = json!(5);
        assert!(!unchanged_locally(&desired(), &l, "gyre"));
        let mut l = live_deploy();
        l["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["-v", "-x"]);
        assert!(!unchanged_locally(&desired(), &l, "gyre"));
    }

    #[test]
    fn a_field_removed_from_the_manifest_is_not_judged_unchanged() {
        let mut d = desired();
        d["spec"].as_object_mut().unwrap().remove("replicas");
        assert!(!unchanged_locally(&d, &live_deploy(), "gyre"));
        let mut d = desired();
        d["metadata"]["labels"] = json!({"app": "d", "new": "x"});
        assert!(!unchanged_locally(&d, &live_deploy(), "gyre"));
    }

    #[test]
    fn objects_applied_by_another_manager_or_version_are_not_judged_locally() {
        assert!(!unchanged_locally(&desired(), &live_deploy(), "flux"));
        let mut d = desired();
        d["apiVersion"] = json!("apps/v1beta2");
        assert!(!unchanged_locally(&d, &live_deploy(), "gyre"));
    }

    #[test]
    fn dry_run_results_drift_only_when_content_differs() {
        let l = live_deploy();
        let mut dry = l.clone();
        dry["metadata"]["managedFields"] = json!([]);
        dry["metadata"]["generation"] = json!(2);
        assert!(!drifted(&dry, &l));
        dry["spec"]["replicas"] = json!(3);
        assert!(drifted(&dry, &l));
    }
}
