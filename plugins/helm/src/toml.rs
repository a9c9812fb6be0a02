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
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
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
            if f.fract() == 0.0 { format!("{f:.1}") } else { crate::value::fmt_float_g(*f, -1) }
        }
        Value::Str(s) => crate::printf::go_quote(s),
        Value::List(l) => {
            if l.iter().any(|x| matches!(x, Value::Map(_))) {
                return None;
            }
            let items: Vec<String> = l.iter().filter_map(scalar).collect();
            format!("[{}]", items.join(", "))
        }
        _ => return None,
    })
}

fn table(m: &Map, path: &mut Vec<String>, out: &mut String) {
    let ind = "  ".repeat(path.len().saturating_sub(1));
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
            Value::List(l) if l.iter().any(|x| matches!(x, Value::Map(_))) => {
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
