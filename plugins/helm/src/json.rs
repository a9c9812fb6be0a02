//! JSON encoding as Go's encoding/json does it, and decoding into [`Value`].

use crate::value::{Map, Value, fmt_float_json};
use std::fmt::Write as _;
use std::rc::Rc;

/// Decodes JSON as Go's `json.Unmarshal` into `interface{}` (numbers are float64).
pub fn parse(s: &str) -> Result<Value, String> {
    let j: serde_json::Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
    Ok(from_serde(&j))
}

/// Converts a serde_json value.
pub fn from_serde(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(a) => Value::List(Rc::new(a.iter().map(from_serde).collect())),
        serde_json::Value::Object(o) => {
            let mut m = Map::new();
            for (k, v) in o {
                m.insert(k.clone(), from_serde(v));
            }
            Value::map(m)
        }
    }
}

/// Converts to a serde_json value (for schema validation and object output).
pub fn to_serde(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                serde_json::Value::from(*f as i64)
            } else {
                serde_json::Number::from_f64(*f)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null)
            }
        }
        Value::Str(s) => serde_json::Value::String(s.to_string()),
        Value::List(l) => serde_json::Value::Array(l.iter().map(to_serde).collect()),
        Value::Map(m) => {
            let mut o = serde_json::Map::new();
            for (k, v) in m.borrow().iter() {
                o.insert(k.clone(), to_serde(v));
            }
            serde_json::Value::Object(o)
        }
        other => serde_json::from_str(&encode(other, None)).unwrap_or(serde_json::Value::Null),
    }
}

/// Encodes as `json.Marshal` (compact) or `json.MarshalIndent(v, "", indent)`.
pub fn encode(v: &Value, indent: Option<&str>) -> String {
    let mut out = String::new();
    enc(v, indent, 0, &mut out);
    out
}

fn nl(out: &mut String, indent: Option<&str>, level: usize) {
    if let Some(ind) = indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(ind);
        }
    }
}

fn enc(v: &Value, indent: Option<&str>, level: usize, out: &mut String) {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&fmt_float_json(*f)),
        Value::Str(s) => enc_str(s, out),
        Value::Bytes(b) => enc_str(&crate::funcs::b64enc(b), out),
        Value::List(l) => enc_list(l.iter().cloned(), l.len(), indent, level, out),
        Value::ApiVersions(l) => enc_list(l.iter().map(Value::str), l.len(), indent, level, out),
        Value::Map(m) => {
            let m = m.borrow();
            enc_map(
                m.iter().map(|(k, v)| (k.clone(), v.clone())),
                m.len(),
                indent,
                level,
                out,
            )
        }
        Value::Struct(s) if s.json.is_some() => {
            let j = s.json.clone().unwrap_or_default();
            match (crate::funcs::json_key_order(s.type_name), &j) {
                (Some(order), Value::Map(m)) => {
                    let m = m.borrow();
                    let mut pairs: Vec<(String, Value)> = Vec::new();
                    for k in order {
                        if let Some(v) = m.get(*k) {
                            pairs.push((k.to_string(), v.clone()));
                        }
                    }
                    let n = pairs.len();
                    enc_map(pairs.into_iter(), n, indent, level, out)
                }
                _ => enc(&j, indent, level, out),
            }
        }
        Value::Struct(s) => enc_map(
            s.fields.iter().map(|(k, v)| (k.clone(), v.clone())),
            s.fields.len(),
            indent,
            level,
            out,
        ),
        Value::Files(f) => enc_map(
            f.iter()
                .map(|(k, d)| (k.clone(), Value::Bytes(Rc::new(d.to_vec())))),
            f.len(),
            indent,
            level,
            out,
        ),
    }
}

fn enc_list(
    it: impl Iterator<Item = Value>,
    n: usize,
    indent: Option<&str>,
    level: usize,
    out: &mut String,
) {
    out.push('[');
    if n == 0 {
        out.push(']');
        return;
    }
    for (i, x) in it.enumerate() {
        if i > 0 {
            out.push(',');
        }
        nl(out, indent, level + 1);
        enc(&x, indent, level + 1, out);
    }
    nl(out, indent, level);
    out.push(']');
}

fn enc_map(
    it: impl Iterator<Item = (String, Value)>,
    n: usize,
    indent: Option<&str>,
    level: usize,
    out: &mut String,
) {
    out.push('{');
    if n == 0 {
        out.push('}');
        return;
    }
    for (i, (k, x)) in it.enumerate() {
        if i > 0 {
            out.push(',');
        }
        nl(out, indent, level + 1);
        enc_str(&k, out);
        out.push(':');
        if indent.is_some() {
            out.push(' ');
        }
        enc(&x, indent, level + 1, out);
    }
    nl(out, indent, level);
    out.push('}');
}

/// Encodes a string with Go's HTML-safe escaping.
pub fn enc_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
