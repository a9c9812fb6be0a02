//! HelmRelease values: `valuesFrom` (ConfigMaps and Secrets) then `values`, merged in
//! helm-controller's order, and the config digest that says whether they changed.
//!
//! Pure functions apart from [`collect`], which reads the referenced objects.

use std::collections::BTreeMap;

use gyre_api::helm::HelmRelease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, ResourceExt};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Merges `over` into `base` as Helm's `MergeMaps` does: maps merge key by key,
/// recursively; anything else in `over` replaces what `base` has.
pub fn merge(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A `--set`-style scalar: `true`/`false`, `null`, an integer, else a string. A value in
/// single or double quotes is the string inside them (helm-controller's
/// `ReplacePathValue` parses quoted values as strings).
fn typed_scalar(raw: &str) -> Value {
    let t = raw.trim_end_matches('\n');
    for q in ['"', '\''] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return Value::String(t[1..t.len() - 1].to_string());
        }
    }
    match t {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ => t
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(t.to_string())),
    }
}

/// Sets `value` at the dot-notation `path` (`\.` escapes a dot in a key), creating maps
/// on the way and replacing whatever is in the way.
///
/// # Errors
/// An empty path or path segment.
pub fn set_path(values: &mut Map<String, Value>, path: &str, raw: &str) -> Result<(), String> {
    let mut keys = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                cur.push('.');
                chars.next();
            }
            '.' => keys.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    keys.push(cur);
    if keys.iter().any(String::is_empty) {
        return Err(format!("invalid targetPath {path:?}: empty key"));
    }
    let (last, parents) = keys.split_last().expect("at least one key");
    let mut map = values;
    for k in parents {
        let entry = map
            .entry(k.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        map = entry.as_object_mut().expect("just made an object");
    }
    map.insert(last.clone(), typed_scalar(raw));
    Ok(())
}

/// The values of a HelmRelease: each `valuesFrom` entry in order (a whole YAML map merged
/// at the root, or one value at `targetPath`), then `spec.values` over them.
///
/// # Errors
/// A message naming the ConfigMap or Secret and what is wrong with it: not found (unless
/// `optional`), no such key (unless `optional`), not a YAML map.
pub async fn collect(
    client: &kube::Client,
    hr: &HelmRelease,
) -> Result<Map<String, Value>, String> {
    let ns = hr.namespace().unwrap_or_default();
    let mut values = Map::new();
    for r in hr.spec.values_from.iter().flatten() {
        let optional = r.optional.unwrap_or(false);
        let key = r.values_key();
        let data: Option<BTreeMap<String, String>> = match r.kind.as_str() {
            "ConfigMap" => {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
                api.get_opt(&r.name)
                    .await
                    .map_err(|e| format!("could not get ConfigMap '{ns}/{}': {e}", r.name))?
                    .map(|cm| cm.data.unwrap_or_default())
            }
            "Secret" => {
                let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
                api.get_opt(&r.name)
                    .await
                    .map_err(|e| format!("could not get Secret '{ns}/{}': {e}", r.name))?
                    .map(|s| {
                        let mut out: BTreeMap<String, String> = s
                            .data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                            .collect();
                        out.extend(s.string_data.unwrap_or_default());
                        out
                    })
            }
            other => {
                return Err(format!(
                    "unsupported ValuesReference kind {other:?} (ConfigMap or Secret)"
                ));
            }
        };
        let Some(data) = data else {
            if optional {
                continue;
            }
            return Err(format!("could not find {} '{ns}/{}'", r.kind, r.name));
        };
        let Some(text) = data.get(key) else {
            if optional {
                continue;
            }
            return Err(format!(
                "could not find key '{key}' in {} '{ns}/{}'",
                r.kind, r.name
            ));
        };
        match r.target_path.as_deref().filter(|p| !p.is_empty()) {
            Some(path) => set_path(&mut values, path, text).map_err(|m| {
                format!(
                    "unable to merge value from key '{key}' in {} '{ns}/{}' into target path '{path}': {m}",
                    r.kind, r.name
                )
            })?,
            None => {
                let parsed: Value = serde_yaml_ng::from_str(text).map_err(|e| {
                    format!(
                        "unable to read values from key '{key}' in {} '{ns}/{}': {e}",
                        r.kind, r.name
                    )
                })?;
                match parsed {
                    Value::Object(m) => merge(&mut values, &m),
                    Value::Null => {}
                    _ => {
                        return Err(format!(
                            "unable to read values from key '{key}' in {} '{ns}/{}': not a YAML map",
                            r.kind, r.name
                        ));
                    }
                }
            }
        }
    }
    merge(&mut values, &hr.spec.values_map());
    Ok(values)
}

/// The values with every map's keys sorted (Go's encoders sort map keys).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let b: BTreeMap<&String, Value> = m.iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(b.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// `sha256:<hex>` of the values encoded as YAML with sorted keys, as helm-controller's
/// `DigestValues` computes `status.lastAttemptedConfigDigest` (empty values digest the
/// empty input).
///
/// # Caveats
/// The YAML encoder is serde's, not go-yaml; the digest is stable for Gyre but not
/// verified byte for byte against helm-controller's.
pub fn digest(values: &Map<String, Value>) -> String {
    let mut h = Sha256::new();
    if !values.is_empty() {
        let text =
            serde_yaml_ng::to_string(&sorted(&Value::Object(values.clone()))).unwrap_or_default();
        h.update(text.as_bytes());
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// The label that makes a ConfigMap or Secret trigger the HelmReleases whose
/// `valuesFrom` names it (Flux 2.4+), and its value.
pub const WATCH_LABEL: (&str, &str) = ("reconcile.fluxcd.io/watch", "Enabled");

/// Whether `hr`'s `valuesFrom` names the `kind` (`ConfigMap` or `Secret`) `ns/name`.
pub fn references(hr: &HelmRelease, kind: &str, ns: &str, name: &str) -> bool {
    hr.namespace().as_deref() == Some(ns)
        && hr
            .spec
            .values_from
            .iter()
            .flatten()
            .any(|r| r.kind == kind && r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn maps_merge_recursively_and_scalars_and_lists_are_replaced() {
        let mut base = map(json!({"a": {"b": 1, "c": [1, 2]}, "d": "x"}));
        merge(
            &mut base,
            &map(json!({"a": {"c": [3], "e": true}, "d": {"k": 1}})),
        );
        assert_eq!(
            Value::Object(base),
            json!({"a": {"b": 1, "c": [3], "e": true}, "d": {"k": 1}})
        );
    }

    #[test]
    fn target_paths_set_typed_scalars_and_quoted_strings() {
        let mut v = map(json!({"image": "x"}));
        set_path(&mut v, "image.tag", "6.5.4").unwrap();
        set_path(&mut v, "replicaCount", "3").unwrap();
        set_path(&mut v, "flag", "true").unwrap();
        set_path(&mut v, "quoted", "\"3\"").unwrap();
        set_path(&mut v, "a\\.b.c", "text\n").unwrap();
        assert_eq!(
            Value::Object(v),
            json!({"image": {"tag": "6.5.4"}, "replicaCount": 3, "flag": true,
                   "quoted": "3", "a.b": {"c": "text"}})
        );
        assert!(set_path(&mut Map::new(), "a..b", "1").is_err());
    }

    #[test]
    fn digest_ignores_key_order_and_changes_with_values() {
        let a = digest(&map(json!({"a": 1, "b": {"c": 2, "d": 3}})));
        let b = digest(&map(json!({"b": {"d": 3, "c": 2}, "a": 1})));
        assert_eq!(a, b);
        assert_ne!(a, digest(&map(json!({"a": 2, "b": {"c": 2, "d": 3}}))));
        assert_eq!(
            digest(&Map::new()),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn references_match_kind_name_and_the_releases_own_namespace() {
        let hr: HelmRelease = serde_yaml_ng::from_str(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: a, namespace: apps}\nspec:\n  interval: 1m\n  valuesFrom: [{kind: ConfigMap, name: v}, {kind: Secret, name: s}]\n",
        )
        .unwrap();
        assert!(references(&hr, "ConfigMap", "apps", "v"));
        assert!(references(&hr, "Secret", "apps", "s"));
        assert!(!references(&hr, "Secret", "apps", "v"));
        assert!(!references(&hr, "ConfigMap", "other", "v"));
    }
}
