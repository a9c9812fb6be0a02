//! JSON patch (RFC 6902) for `patchesJson6902` and JSON-style `patches`.

use crate::error::{Error, Result};
use serde_json::Value;

fn tokens(path: &str) -> Result<Vec<String>> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(Error::invalid(format!(
            "JSON pointer {path:?} must start with /"
        )));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn parent_mut<'a>(doc: &'a mut Value, toks: &[String], path: &str) -> Result<&'a mut Value> {
    let mut cur = doc;
    for t in &toks[..toks.len().saturating_sub(1)] {
        cur = match cur {
            Value::Object(m) => m.get_mut(t.as_str()),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| Error::invalid(format!("JSON patch path {path} does not exist")))?;
    }
    Ok(cur)
}

/// Creates missing intermediate maps for an `add` (as kustomize does).
fn ensure_parents(doc: &mut Value, toks: &[String]) {
    let mut cur = doc;
    for t in &toks[..toks.len().saturating_sub(1)] {
        cur = match cur {
            Value::Object(m) => m
                .entry(t.clone())
                .or_insert_with(|| Value::Object(serde_json::Map::new())),
            Value::Array(a) => match t.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(x) => x,
                None => return,
            },
            _ => return,
        };
    }
}

fn get<'a>(doc: &'a Value, path: &str) -> Result<&'a Value> {
    let mut cur = doc;
    for t in tokens(path)? {
        cur = match cur {
            Value::Object(m) => m.get(t.as_str()),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or_else(|| Error::invalid(format!("JSON patch path {path} does not exist")))?;
    }
    Ok(cur)
}

fn remove(doc: &mut Value, path: &str) -> Result<Value> {
    let toks = tokens(path)?;
    let last = toks
        .last()
        .ok_or_else(|| Error::invalid("cannot remove the root"))?
        .clone();
    let p = parent_mut(doc, &toks, path)?;
    match p {
        Value::Object(m) => m
            .shift_remove(last.as_str())
            .ok_or_else(|| Error::invalid(format!("JSON patch remove: {path} does not exist"))),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| Error::invalid(format!("bad index in {path}")))?;
            if i >= a.len() {
                return Err(Error::invalid(format!(
                    "JSON patch remove: {path} out of range"
                )));
            }
            Ok(a.remove(i))
        }
        _ => Err(Error::invalid(format!(
            "JSON patch remove: {path} does not exist"
        ))),
    }
}

fn add(doc: &mut Value, path: &str, v: Value, replace: bool) -> Result<()> {
    let toks = tokens(path)?;
    let Some(last) = toks.last().cloned() else {
        *doc = v;
        return Ok(());
    };
    if !replace {
        ensure_parents(doc, &toks);
    }
    let p = parent_mut(doc, &toks, path)?;
    match p {
        Value::Object(m) => {
            if replace && !m.contains_key(last.as_str()) {
                return Err(Error::invalid(format!(
                    "JSON patch replace: {path} does not exist"
                )));
            }
            m.insert(last, v);
        }
        Value::Array(a) => {
            if last == "-" && !replace {
                a.push(v);
            } else {
                let i: usize = last
                    .parse()
                    .map_err(|_| Error::invalid(format!("bad index in {path}")))?;
                if replace {
                    let slot = a.get_mut(i).ok_or_else(|| {
                        Error::invalid(format!("JSON patch replace: {path} out of range"))
                    })?;
                    *slot = v;
                } else {
                    if i > a.len() {
                        return Err(Error::invalid(format!(
                            "JSON patch add: {path} out of range"
                        )));
                    }
                    a.insert(i, v);
                }
            }
        }
        _ => {
            return Err(Error::invalid(format!(
                "JSON patch: parent of {path} is not a container"
            )));
        }
    }
    Ok(())
}

/// Applies a list of operations.
///
/// # Errors
/// Fails on malformed operations, missing paths and failed `test`s.
pub fn apply(doc: &mut Value, ops: &Value) -> Result<()> {
    let ops = ops
        .as_array()
        .ok_or_else(|| Error::invalid("JSON patch must be a list of operations"))?;
    for op in ops {
        let s = |k: &str| op.get(k).and_then(Value::as_str);
        let path = s("path").ok_or_else(|| Error::invalid("JSON patch operation without path"))?;
        match s("op").unwrap_or("") {
            "add" => add(
                doc,
                path,
                op.get("value").cloned().unwrap_or(Value::Null),
                false,
            )?,
            "replace" => add(
                doc,
                path,
                op.get("value").cloned().unwrap_or(Value::Null),
                true,
            )?,
            "remove" => {
                remove(doc, path)?;
            }
            "move" => {
                let from = s("from").ok_or_else(|| Error::invalid("move without from"))?;
                let v = remove(doc, from)?;
                add(doc, path, v, false)?;
            }
            "copy" => {
                let from = s("from").ok_or_else(|| Error::invalid("copy without from"))?;
                let v = get(doc, from)?.clone();
                add(doc, path, v, false)?;
            }
            "test" => {
                let v = get(doc, path)?;
                if Some(v) != op.get("value") {
                    return Err(Error::invalid(format!("JSON patch test failed at {path}")));
                }
            }
            other => {
                return Err(Error::invalid(format!(
                    "unknown JSON patch operation {other:?}"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_apply_in_order() {
        let mut doc = json!({"a": {"b": [1, 2]}, "c": "x"});
        let ops = json!([
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "add", "path": "/a/b/0", "value": 0},
            {"op": "remove", "path": "/a/b/1"},
            {"op": "replace", "path": "/c", "value": "y"},
            {"op": "copy", "from": "/c", "path": "/d"},
            {"op": "move", "from": "/d", "path": "/e~1f"},
            {"op": "test", "path": "/c", "value": "y"},
            {"op": "add", "path": "/new/deep", "value": true}
        ]);
        apply(&mut doc, &ops).unwrap();
        assert_eq!(
            doc,
            json!({"a": {"b": [0, 2, 3]}, "c": "y", "e/f": "y", "new": {"deep": true}})
        );
    }

    #[test]
    fn failed_test_and_missing_paths_are_errors() {
        let mut doc = json!({"a": 1});
        assert!(apply(&mut doc, &json!([{"op": "test", "path": "/a", "value": 2}])).is_err());
        assert!(apply(&mut doc, &json!([{"op": "remove", "path": "/zz"}])).is_err());
        assert!(
            apply(
                &mut doc,
                &json!([{"op": "replace", "path": "/zz", "value": 1}])
            )
            .is_err()
        );
    }
}
