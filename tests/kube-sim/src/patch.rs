//! The non-apply patch types: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
//! strategic merge patch for built-in kinds.

use serde_json::{Map, Value};

use crate::schema::Ctx;

/// Applies an RFC 7386 merge patch.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(p) => {
            let mut out = match target {
                Value::Object(t) => t.clone(),
                _ => Map::new(),
            };
            for (k, v) in p {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let cur = out.get(k).cloned().unwrap_or(Value::Null);
                    out.insert(k.clone(), merge_patch(&cur, v));
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn unescape(tok: &str) -> String {
    tok.replace("~1", "/").replace("~0", "~")
}

fn pointer_parts(ptr: &str) -> Result<Vec<String>, String> {
    if ptr.is_empty() {
        return Ok(vec![]);
    }
    let Some(rest) = ptr.strip_prefix('/') else {
        return Err(format!("invalid JSON pointer {ptr:?}"));
    };
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_mut<'v>(doc: &'v mut Value, parts: &[String]) -> Result<&'v mut Value, String> {
    let mut cur = doc;
    for p in parts {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(p)
                .ok_or_else(|| format!("doc is missing path: /{}", parts.join("/")))?,
            Value::Array(a) => {
                let i: usize = p
                    .parse()
                    .map_err(|_| format!("invalid array index {p:?}"))?;
                a.get_mut(i)
                    .ok_or_else(|| format!("index {i} out of bounds"))?
            }
            _ => return Err(format!("doc is missing path: /{}", parts.join("/"))),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let parts = pointer_parts(path)?;
    let Some((last, parent)) = parts.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parent)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
                return Ok(());
            }
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid index {last:?}"))?;
            if i > a.len() {
                return Err(format!("index {i} out of bounds"));
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!("cannot add at {path}")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let parts = pointer_parts(path)?;
    let Some((last, parent)) = parts.split_last() else {
        return Err("cannot remove the root".into());
    };
    match parent_mut(doc, parent)? {
        Value::Object(m) => m
            .remove(last)
            .ok_or_else(|| format!("unable to remove nonexistent key: {last}: missing value")),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid index {last:?}"))?;
            if i >= a.len() {
                return Err(format!("index {i} out of bounds"));
            }
            Ok(a.remove(i))
        }
        _ => Err(format!("cannot remove at {path}")),
    }
}

/// Applies an RFC 6902 JSON patch.
///
/// # Errors
/// A message when an operation cannot be applied or a `test` fails.
pub fn json_patch(target: &Value, ops: &Value) -> Result<Value, String> {
    let mut doc = target.clone();
    let ops = ops
        .as_array()
        .ok_or("json patch must be an array of operations")?;
    for op in ops {
        let path = op["path"].as_str().ok_or("missing path")?;
        match op["op"].as_str().unwrap_or_default() {
            "add" => add(&mut doc, path, op["value"].clone())?,
            "remove" => {
                remove(&mut doc, path)?;
            }
            "replace" => {
                remove(&mut doc, path)?;
                add(&mut doc, path, op["value"].clone())?;
            }
            "move" => {
                let from = op["from"].as_str().ok_or("missing from")?;
                let v = remove(&mut doc, from)?;
                add(&mut doc, path, v)?;
            }
            "copy" => {
                let from = op["from"].as_str().ok_or("missing from")?;
                let v = doc
                    .pointer(from)
                    .cloned()
                    .ok_or_else(|| format!("doc is missing from path: {from}"))?;
                add(&mut doc, path, v)?;
            }
            "test" => {
                // The API server's json-patch (evanphx/json-patch) treats a missing
                // member as null here; kube-runtime's finalizer helper relies on it
                // (`test /metadata/finalizers == null` before the first `add`).
                let cur = doc.pointer(path).unwrap_or(&Value::Null);
                if cur != &op["value"] {
                    return Err(format!("testing value {path} failed: test failed"));
                }
            }
            other => return Err(format!("Unexpected kind: {other}")),
        }
    }
    Ok(doc)
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|i| i.get("$patch").is_none())
                .map(strip_directives)
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Applies a strategic merge patch to a built-in object.
///
/// # Errors
/// A message for malformed directives.
pub fn strategic_merge(orig: &Value, patch: &Value, ctx: &Ctx) -> Result<Value, String> {
    match (orig, patch) {
        (Value::Object(o), Value::Object(p)) => {
            match p.get("$patch").and_then(Value::as_str) {
                Some("replace") => return Ok(strip_directives(patch)),
                Some("delete") => return Ok(Value::Null),
                Some(other) => return Err(format!("unknown patch type: {other}")),
                None => {}
            }
            let mut out = o.clone();
            for (k, pv) in p {
                if k.starts_with("$setElementOrder/") || k == "$retainKeys" {
                    continue;
                }
                if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
                    if let (Some(Value::Array(cur)), Some(del)) =
                        (out.get_mut(field), pv.as_array())
                    {
                        cur.retain(|x| !del.contains(x));
                    }
                    continue;
                }
                if pv.is_null() {
                    out.remove(k);
                    continue;
                }
                let fctx = ctx.field(k);
                let nv = match out.get(k) {
                    Some(cv) => merge_value(cv, pv, &fctx)?,
                    None => strip_directives(pv),
                };
                if pv.get("$patch").and_then(Value::as_str) == Some("delete") {
                    out.remove(k);
                } else {
                    out.insert(k.clone(), nv);
                }
            }
            if let Some(Value::Array(keep)) = p.get("$retainKeys") {
                out.retain(|k, _| keep.iter().any(|x| x == k));
            }
            Ok(Value::Object(out))
        }
        _ => Ok(strip_directives(patch)),
    }
}

fn merge_value(cur: &Value, pv: &Value, ctx: &Ctx) -> Result<Value, String> {
    match (cur, pv) {
        (Value::Object(_), Value::Object(_)) => strategic_merge(cur, pv, ctx),
        (Value::Array(c), Value::Array(p)) => match ctx.patch_merge_key() {
            Some(key) if key.is_empty() => {
                let mut out = c.clone();
                for i in p {
                    if !out.contains(i) {
                        out.push(i.clone());
                    }
                }
                Ok(Value::Array(out))
            }
            Some(key) => {
                if p.iter()
                    .any(|i| i.get("$patch") == Some(&Value::from("replace")))
                {
                    return Ok(strip_directives(pv));
                }
                let ictx = ctx.items();
                let mut out = c.clone();
                for pi in p {
                    let kv = pi.get(&key).cloned().unwrap_or(Value::Null);
                    let pos = out.iter().position(|x| x.get(&key) == Some(&kv));
                    if pi.get("$patch") == Some(&Value::from("delete")) {
                        if let Some(pos) = pos {
                            out.remove(pos);
                        }
                        continue;
                    }
                    match pos {
                        Some(pos) => out[pos] = strategic_merge(&out[pos], pi, &ictx)?,
                        None => out.push(strip_directives(pi)),
                    }
                }
                Ok(Value::Array(out))
            }
            None => Ok(strip_directives(pv)),
        },
        _ => Ok(strip_directives(pv)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_merges_containers_by_name_and_honours_delete_directives() {
        let orig = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}], "tolerations": [{"key": "k"}]}});
        let p = json!({"spec": {"containers": [{"name": "a", "image": "x2"}, {"name": "b", "$patch": "delete"}, {"name": "c", "image": "z"}], "tolerations": [{"key": "j"}]}});
        let out = strategic_merge(&orig, &p, &Ctx::Builtin(vec![])).unwrap();
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "a", "image": "x2"}, {"name": "c", "image": "z"}])
        );
        assert_eq!(
            out["spec"]["tolerations"],
            json!([{"key": "j"}]),
            "lists without a merge key are replaced"
        );
    }

    #[test]
    fn json_patch_test_failure_is_an_error_and_leaves_nothing_half_applied() {
        let doc = json!({"a": 1});
        let ops = json!([{"op": "replace", "path": "/a", "value": 2}, {"op": "test", "path": "/a", "value": 3}]);
        assert!(json_patch(&doc, &ops).is_err());
        let ops = json!([{"op": "add", "path": "/b~1c", "value": [1]}, {"op": "add", "path": "/b~1c/-", "value": 2}]);
        assert_eq!(
            json_patch(&doc, &ops).unwrap(),
            json!({"a": 1, "b/c": [1, 2]})
        );
    }

    #[test]
    fn json_patch_test_of_a_missing_member_against_null_passes() {
        let doc = json!({"metadata": {"name": "a"}});
        let ops = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["x"]}
        ]);
        assert_eq!(
            json_patch(&doc, &ops).unwrap()["metadata"]["finalizers"],
            json!(["x"])
        );
        let ops = json!([{"op": "test", "path": "/metadata/finalizers", "value": []}]);
        assert!(json_patch(&doc, &ops).is_err());
    }

    #[test]
    fn merge_patch_null_removes_keys() {
        let out = merge_patch(&json!({"a": {"b": 1, "c": 2}}), &json!({"a": {"b": null}}));
        assert_eq!(out, json!({"a": {"c": 2}}));
    }
}
