//! `vars`: values read from objects and expanded as `$(NAME)`.

use crate::error::{Error, Result};
use crate::fieldpath;
use crate::fieldspec::{FieldSpec, walk};
use crate::resource::{Res, split_api_version};
use serde_json::Value;
use std::collections::HashMap;

/// One declared var.
#[derive(Debug, Clone)]
pub struct Var {
    /// Name used in `$(NAME)`.
    pub name: String,
    /// The object's apiVersion (optional).
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Object name.
    pub obj_name: String,
    /// Namespace (optional).
    pub namespace: String,
    /// Field path, `metadata.name` by default.
    pub field_path: String,
}

impl Var {
    /// Parses a `vars` entry.
    pub fn parse(v: &Value) -> Result<Self> {
        let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
        let o = v.get("objref");
        let mut api_version = s(o.and_then(|o| o.get("apiVersion")));
        if api_version.is_empty() {
            let g = s(o.and_then(|o| o.get("group")));
            let ver = s(o.and_then(|o| o.get("version")));
            api_version = if g.is_empty() {
                ver
            } else {
                format!("{g}/{ver}")
            };
        }
        let fp = s(v.get("fieldref").and_then(|f| f.get("fieldpath")));
        Ok(Self {
            name: s(v.get("name")),
            api_version,
            kind: s(o.and_then(|o| o.get("kind"))),
            obj_name: s(o.and_then(|o| o.get("name"))),
            namespace: s(o.and_then(|o| o.get("namespace"))),
            field_path: if fp.is_empty() {
                "metadata.name".into()
            } else {
                fp
            },
        })
    }
}

impl Var {
    /// Whether object `r` is the one this var refers to (any of its ids).
    pub fn matches(&self, r: &Res) -> bool {
        let (g, v) = split_api_version(&self.api_version);
        r.all_ids().iter().any(|id| {
            id.name == self.obj_name
                && id.kind == self.kind
                && (self.api_version.is_empty()
                    || (id.group == g && (v.is_empty() || id.version == v)))
                && (self.namespace.is_empty() || id.namespace == self.namespace)
        })
    }
}

fn resolve_one(var: &Var, res: &[Res]) -> Result<Value> {
    let Some(r) = res.iter().find(|r| r.refvars.contains(&var.name)) else {
        return Err(Error::not_found(format!(
            "var '{}' cannot be mapped to a field in the set of known resources",
            var.name
        ))
        .at("vars"));
    };
    let steps = fieldpath::parse(&var.field_path)?;
    let found = fieldpath::get(&r.obj, &steps);
    match found.first() {
        Some(v) if !v.is_object() && !v.is_array() => Ok((*v).clone()),
        _ => Err(Error::invalid(format!(
            "field specified in var '{}' ({}) not found or not a scalar",
            var.name, var.field_path
        ))
        .at("vars")),
    }
}

/// Expands `$(NAME)` in a string. Returns the typed value when the whole
/// string is one reference.
pub fn expand(s: &str, vals: &HashMap<String, Value>, used: &mut Vec<String>) -> Option<Value> {
    if !s.contains('$') {
        return None;
    }
    if let Some(inner) = s.strip_prefix("$(").and_then(|r| r.strip_suffix(')'))
        && !inner.contains(')')
        && let Some(v) = vals.get(inner)
    {
        used.push(inner.to_string());
        return Some(v.clone());
    }
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            if b[i + 1] == b'$' {
                out.push_str(&s[last..i]);
                out.push('$');
                i += 2;
                last = i;
                continue;
            }
            if b[i + 1] == b'('
                && let Some(end) = s[i + 2..].find(')')
            {
                let name = &s[i + 2..i + 2 + end];
                out.push_str(&s[last..i]);
                match vals.get(name) {
                    Some(v) => {
                        used.push(name.to_string());
                        out.push_str(&fieldpath::scalar_text(v));
                    }
                    None => out.push_str(&s[i..i + 3 + end]),
                }
                i += 3 + end;
                last = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&s[last..]);
    Some(Value::String(out))
}

fn expand_value(
    v: &mut Value,
    vals: &HashMap<String, Value>,
    used: &mut Vec<String>,
    depth: usize,
) {
    match v {
        Value::String(s) => {
            if let Some(n) = expand(s, vals, used) {
                *v = n;
            }
        }
        Value::Array(a) if depth == 0 => {
            for x in a {
                expand_value(x, vals, used, 1);
            }
        }
        Value::Object(m) if depth == 0 => {
            for x in m.values_mut() {
                expand_value(x, vals, used, 1);
            }
        }
        _ => {}
    }
}

/// Resolves all vars and expands them in the var-reference fields.
pub fn resolve(res: &mut [Res], vars: &[Var], specs: &[FieldSpec]) -> Result<()> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut vals = HashMap::new();
    for v in vars {
        vals.insert(v.name.clone(), resolve_one(v, res)?);
    }
    let mut used = Vec::new();
    for r in res.iter_mut() {
        let id = r.id();
        for fs in specs {
            if !fs.matches(&id) {
                continue;
            }
            walk(&mut r.obj, &fs.path, false, &mut |v| {
                expand_value(v, &vals, &mut used, 0);
                Ok(())
            })?;
        }
    }
    Ok(())
}
