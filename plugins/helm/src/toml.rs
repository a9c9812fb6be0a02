//! A small TOML encoder matching BurntSushi/toml's output for Helm's `toToml`.

use crate::value::{Map, Value};

/// Encodes a map as TOML.
pub fn encode(v: &Value) -> String {
    let mut out = String::new();
    if let Value::Map(m) = v {
        table(&m.borrow(), &mut Vec::new(), &mut out);
    }
    out
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        crate::printf::go_quote(k)
    }
}

fn scalar(v: &Value) -> Option<String> {
    Some(match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            if f.fract() == 0.0 {
                format!("{f:.1}")
            } else {
                crate::value::fmt_float_g(*f, -1)
            }
        }
        Value::Str(s) => crate::printf::go_quote(s),
        Value::List(l) => {
            if !l.is_empty() && l.iter().all(|x| matches!(x, Value::Map(_))) {
                return None;
            }
            let items: Vec<String> = l.iter().filter_map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        _ => return None,
    })
}

fn inline(v: &Value) -> Option<String> {
    match v {
        Value::Map(m) => {
            let items: Vec<String> = m
                .borrow()
                .iter()
                .filter_map(|(k, x)| inline(x).map(|s| format!("{} = {s}", key(k))))
                .collect();
            Some(format!("{{{}}}", items.join(", ")))
        }
        other => scalar(other),
    }
}

fn table(m: &Map, path: &mut Vec<String>, out: &mut String) {
    let ind = "  ".repeat(path.len());
    for (k, v) in m.iter() {
        if let Some(s) = scalar(v) {
            out.push_str(&format!("{ind}{} = {s}\n", key(k)));
        }
    }
    for (k, v) in m.iter() {
        match v {
            Value::Map(sub) => {
                path.push(key(k));
                let ind2 = "  ".repeat(path.len() - 1);
                out.push_str(&format!("\n{ind2}[{}]\n", path.join(".")));
                table(&sub.borrow(), path, out);
                path.pop();
            }
            Value::List(l) if !l.is_empty() && l.iter().all(|x| matches!(x, Value::Map(_))) => {
                path.push(key(k));
                for item in l.iter() {
                    if let Value::Map(sub) = item {
                        let ind2 = "  ".repeat(path.len() - 1);
                        out.push_str(&format!("\n{ind2}[[{}]]\n", path.join(".")));
                        table(&sub.borrow(), path, out);
                    }
                }
                path.pop();
            }
            _ => {}
        }
    }
}

/// Parses a TOML document (tables, arrays of tables, basic scalars and arrays).
pub fn parse(src: &str) -> Result<Map, String> {
    type H = std::rc::Rc<std::cell::RefCell<Map>>;
    let root: H = std::rc::Rc::new(std::cell::RefCell::new(Map::new()));
    fn descend(from: &H, keys: &[String]) -> H {
        let mut cur = from.clone();
        for k in keys {
            let existing = cur.borrow().get(k).cloned();
            let next = match existing {
                Some(Value::Map(m)) => m,
                Some(Value::List(l)) => match l.last() {
                    Some(Value::Map(m)) => m.clone(),
                    _ => std::rc::Rc::new(std::cell::RefCell::new(Map::new())),
                },
                _ => {
                    let m: H = std::rc::Rc::new(std::cell::RefCell::new(Map::new()));
                    cur.borrow_mut().insert(k.clone(), Value::Map(m.clone()));
                    m
                }
            };
            cur = next;
        }
        cur
    }
    let mut cur = root.clone();
    for (ln, raw) in src.lines().enumerate() {
        let line = strip_comment(raw).trim().to_string();
        if line.is_empty() {
            continue;
        }
        if let Some(h) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
            let keys: Vec<String> = h.split('.').map(|k| unquote_key(k.trim())).collect();
            let (last, parent) = keys.split_last().ok_or("empty table name")?;
            let t = descend(&root, parent);
            let mut l = match t.borrow().get(last) {
                Some(Value::List(l)) => l.as_ref().clone(),
                _ => vec![],
            };
            let m: H = std::rc::Rc::new(std::cell::RefCell::new(Map::new()));
            l.push(Value::Map(m.clone()));
            t.borrow_mut()
                .insert(last.clone(), Value::List(std::rc::Rc::new(l)));
            cur = m;
            continue;
        }
        if let Some(h) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let keys: Vec<String> = h.split('.').map(|k| unquote_key(k.trim())).collect();
            cur = descend(&root, &keys);
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("toml: line {}: expected key = value", ln + 1))?;
        let val = value(v.trim()).ok_or_else(|| format!("toml: line {}: invalid value", ln + 1))?;
        let keys: Vec<String> = k.trim().split('.').map(|x| unquote_key(x.trim())).collect();
        let (last, parent) = keys.split_last().ok_or("empty key")?;
        descend(&cur, parent).borrow_mut().insert(last.clone(), val);
    }
    let m = root.borrow().clone();
    Ok(m)
}

fn strip_comment(l: &str) -> &str {
    let mut in_str = false;
    for (i, c) in l.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '#' if !in_str => return &l[..i],
            _ => {}
        }
    }
    l
}

fn unquote_key(k: &str) -> String {
    k.trim_matches('"').to_string()
}

fn value(v: &str) -> Option<Value> {
    if let Some(s) = v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        return Some(Value::str(s.replace("\\n", "\n").replace("\\\"", "\"")));
    }
    if let Some(s) = v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
        return Some(Value::str(s));
    }
    match v {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    if let Some(inner) = v.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        let items: Option<Vec<Value>> = inner
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(value)
            .collect();
        return Some(Value::List(std::rc::Rc::new(items?)));
    }
    let clean = v.replace('_', "");
    if let Ok(i) = clean.parse::<i64>() {
        return Some(Value::Int(i));
    }
    clean.parse::<f64>().ok().map(Value::Float)
}
