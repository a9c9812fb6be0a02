//! YAML in and out: multi-document parsing into JSON values, and emission.

use crate::error::{Error, Result};
use serde::Deserialize;
use serde_json::Value;

/// Largest number of nodes one document may expand to through aliases.
const MAX_NODES: usize = 2_000_000;

fn count_nodes(v: &Value, budget: &mut usize) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    match v {
        Value::Array(a) => a.iter().all(|x| count_nodes(x, budget)),
        Value::Object(m) => m.values().all(|x| count_nodes(x, budget)),
        _ => true,
    }
}

fn convert(v: serde_yaml::Value) -> Result<Value> {
    Ok(match v {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(n.to_string()))
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(s) => {
            Value::Array(s.into_iter().map(convert).collect::<Result<_>>()?)
        }
        serde_yaml::Value::Mapping(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let key = match k {
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Null => "null".into(),
                    _ => return Err(Error::invalid("mapping keys must be scalars")),
                };
                out.insert(key, convert(v)?);
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(t) => convert(t.value)?,
    })
}

/// Parses a stream of YAML documents. Empty documents are dropped.
///
/// # Errors
/// Fails on malformed YAML and on documents whose aliases expand beyond a cap
/// (billion-laughs protection).
pub fn parse_stream(text: &str) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for de in serde_yaml::Deserializer::from_str(text) {
        let v = serde_yaml::Value::deserialize(de)
            .map_err(|e| Error::invalid(format!("invalid YAML: {e}")))?;
        let v = convert(v)?;
        let mut budget = MAX_NODES;
        if !count_nodes(&v, &mut budget) {
            return Err(Error::invalid(
                "YAML document too large (alias expansion cap)",
            ));
        }
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// Parses one YAML document (an empty text gives `null`).
pub fn parse_one(text: &str) -> Result<Value> {
    let mut docs = parse_stream(text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        _ => Err(Error::invalid("expected a single YAML document")),
    }
}

/// Emits objects as a YAML stream separated by `---`.
pub fn emit_stream(objs: &[Value]) -> String {
    let mut s = String::new();
    for (i, o) in objs.iter().enumerate() {
        if i > 0 {
            s.push_str("---\n");
        }
        s.push_str(&serde_yaml::to_string(o).unwrap_or_default());
    }
    s
}
