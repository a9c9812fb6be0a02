//! Dotted field paths (`spec.containers[name=app].image`) used by vars and
//! replacements.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A map key.
    Key(String),
    /// A list index.
    Index(usize),
    /// The list element whose `key` equals `value`.
    Match(String, String),
    /// Every element of a list (`*`).
    All,
}

/// Parses a dotted path; `[...]` may follow a key or stand alone.
pub fn parse(path: &str) -> Result<Vec<Step>> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                cur.push('.');
                chars.next();
            }
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            '.' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    let mut steps = Vec::new();
    for p in parts {
        let mut rest = p.as_str();
        if let Some(i) = rest.find('[') {
            let key = &rest[..i];
            if !key.is_empty() {
                steps.push(Step::Key(key.to_string()));
            }
            rest = &rest[i..];
            while let Some(r) = rest.strip_prefix('[') {
                let end = r
                    .find(']')
                    .ok_or_else(|| Error::invalid(format!("bad field path {path}")))?;
                let inner = &r[..end];
                if let Some((k, v)) = inner.split_once('=') {
                    steps.push(Step::Match(k.to_string(), v.to_string()));
                } else if inner == "*" || inner.is_empty() {
                    steps.push(Step::All);
                } else {
                    let n = inner
                        .parse()
                        .map_err(|_| Error::invalid(format!("bad index in field path {path}")))?;
                    steps.push(Step::Index(n));
                }
                rest = &r[end + 1..];
            }
        } else if rest == "*" {
            steps.push(Step::All);
        } else if !rest.is_empty() {
            steps.push(Step::Key(rest.to_string()));
        }
    }
    Ok(steps)
}

/// Values at a path (several with `*`).
pub fn get<'a>(v: &'a Value, steps: &[Step]) -> Vec<&'a Value> {
    let Some((s, rest)) = steps.split_first() else {
        return vec![v];
    };
    match (s, v) {
        (Step::Key(k), Value::Object(m)) => m.get(k).map(|x| get(x, rest)).unwrap_or_default(),
        (Step::Key(k), Value::Array(a)) if k.parse::<usize>().is_ok() => a
            .get(k.parse::<usize>().unwrap_or(0))
            .map(|x| get(x, rest))
            .unwrap_or_default(),
        (Step::Index(i), Value::Array(a)) => a.get(*i).map(|x| get(x, rest)).unwrap_or_default(),
        (Step::Match(k, val), Value::Array(a)) => a
            .iter()
            .filter(|x| x.get(k).is_some_and(|y| scalar_text(y) == *val))
            .flat_map(|x| get(x, rest))
            .collect(),
        (Step::All, Value::Array(a)) => a.iter().flat_map(|x| get(x, rest)).collect(),
        (Step::All, Value::Object(m)) => m.values().flat_map(|x| get(x, rest)).collect(),
        _ => Vec::new(),
    }
}

/// Text of a scalar as YAML would print it.
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Visits (and with `create`, creates) the values at a path.
pub fn visit_mut(
    v: &mut Value,
    steps: &[Step],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<bool> {
    let Some((s, rest)) = steps.split_first() else {
        f(v)?;
        return Ok(true);
    };
    let mut found = false;
    match s {
        Step::Key(k) => {
            if v.is_null() && create {
                *v = Value::Object(Map::new());
            }
            match v {
                Value::Object(m) => {
                    if !m.contains_key(k) {
                        if !create {
                            return Ok(false);
                        }
                        let init = match rest.first() {
                            Some(Step::Index(_)) | Some(Step::Match(..)) => {
                                Value::Array(Vec::new())
                            }
                            Some(_) => Value::Object(Map::new()),
                            None => Value::Null,
                        };
                        m.insert(k.clone(), init);
                    }
                    found = visit_mut(m.get_mut(k).expect("present"), rest, create, f)?;
                }
                Value::Array(a) => {
                    if let Ok(i) = k.parse::<usize>()
                        && let Some(x) = a.get_mut(i)
                    {
                        found = visit_mut(x, rest, create, f)?;
                    }
                }
                _ => {}
            }
        }
        Step::Index(i) => {
            if let Value::Array(a) = v
                && let Some(x) = a.get_mut(*i)
            {
                found = visit_mut(x, rest, create, f)?;
            }
        }
        Step::Match(k, val) => {
            if let Value::Array(a) = v {
                for x in a.iter_mut() {
                    if x.get(k).is_some_and(|y| scalar_text(y) == *val) {
                        found |= visit_mut(x, rest, create, f)?;
                    }
                }
                if !found && create {
                    let mut m = Map::new();
                    m.insert(k.clone(), Value::String(val.clone()));
                    a.push(Value::Object(m));
                    let last = a.last_mut().expect("pushed");
                    found = visit_mut(last, rest, create, f)?;
                }
            }
        }
        Step::All => match v {
            Value::Array(a) => {
                for x in a {
                    found |= visit_mut(x, rest, create, f)?;
                }
            }
            Value::Object(m) => {
                for x in m.values_mut() {
                    found |= visit_mut(x, rest, create, f)?;
                }
            }
            _ => {}
        },
    }
    Ok(found)
}
