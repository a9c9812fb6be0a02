//! Helm's `--set` family parsing and values-file merging.

use crate::value::{Map, Value};
use std::rc::Rc;

/// How a `--set` value is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetKind {
    /// `--set`: type inference.
    Typed,
    /// `--set-string`.
    String,
    /// `--set-literal`: one key path, value verbatim.
    Literal,
    /// `--set-json`: value is JSON.
    Json,
}

/// Deep-merges `src` over `dst` (Helm's mergeMaps for values files).
pub fn merge_maps(dst: &mut Map, src: &Map) {
    for (k, v) in src {
        if let Value::Map(sm) = v
            && let Some(Value::Map(dm)) = dst.get(k)
        {
            let mut d = dm.borrow().clone();
            merge_maps(&mut d, &sm.borrow());
            dst.insert(k.clone(), Value::map(d));
            continue;
        }
        dst.insert(k.clone(), v.clone());
    }
}

fn typed(s: &str) -> Value {
    if s.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if s.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if s.eq_ignore_ascii_case("null") {
        return Value::Nil;
    }
    if s == "0" {
        return Value::Int(0);
    }
    if !s.is_empty()
        && !s.starts_with('0')
        && let Ok(i) = s.parse::<i64>()
    {
        return Value::Int(i);
    }
    Value::str(s)
}

/// Splits on an unescaped separator.
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            cur.push(c);
            if let Some(n) = chars.next() {
                cur.push(n);
            }
            continue;
        }
        if c == '{' {
            depth += 1;
        }
        if c == '}' && depth > 0 {
            depth -= 1;
        }
        if c == sep && depth == 0 {
            out.push(std::mem::take(&mut cur));
            continue;
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug)]
enum Seg {
    Key(String),
    Idx(usize),
}

fn parse_key(k: &str, literal: bool) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    if literal {
        for p in k.split('.') {
            segs.push(Seg::Key(p.to_string()));
        }
        return Ok(segs);
    }
    let mut cur = String::new();
    let cs: Vec<char> = k.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        match c {
            '\\' => {
                if let Some(n) = cs.get(i + 1) {
                    cur.push(*n);
                }
                i += 1;
            }
            '.' => {
                if !cur.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut cur)));
                }
            }
            '[' => {
                if !cur.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut cur)));
                }
                let end = cs[i..]
                    .iter()
                    .position(|x| *x == ']')
                    .ok_or_else(|| format!("key {k:?} has no closing bracket"))?
                    + i;
                let n: String = cs[i + 1..end].iter().collect();
                let idx: usize = n
                    .parse()
                    .map_err(|_| format!("failed to parse index {n:?}"))?;
                if idx > 65536 {
                    return Err(format!(
                        "index of {idx} is greater than maximum supported index 65536"
                    ));
                }
                segs.push(Seg::Idx(idx));
                i = end;
            }
            c => cur.push(c),
        }
        i += 1;
    }
    if !cur.is_empty() {
        segs.push(Seg::Key(cur));
    }
    Ok(segs)
}

fn set_in(cur: Value, segs: &[Seg], val: Value) -> Value {
    let Some(first) = segs.first() else {
        return val;
    };
    match first {
        Seg::Key(k) => {
            let mut m = match &cur {
                Value::Map(m) => m.borrow().clone(),
                _ => Map::new(),
            };
            let existing = m.get(k).cloned().unwrap_or(Value::Nil);
            let nv = set_in(existing, &segs[1..], val);
            m.insert(k.clone(), nv);
            Value::map(m)
        }
        Seg::Idx(i) => {
            let mut l = match &cur {
                Value::List(l) => l.as_ref().clone(),
                _ => vec![],
            };
            while l.len() <= *i {
                l.push(Value::Nil);
            }
            let existing = l[*i].clone();
            l[*i] = set_in(existing, &segs[1..], val);
            Value::List(Rc::new(l))
        }
    }
}

/// Applies one `--set`-style argument to `vals`.
pub fn parse_into(
    arg: &str,
    kind: SetKind,
    vals: &mut Map,
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<(), String> {
    let pairs = if kind == SetKind::Literal {
        vec![arg.to_string()]
    } else {
        split_unescaped(arg, ',')
    };
    let mut root = Value::map(vals.clone());
    for pair in pairs {
        if pair.is_empty() {
            continue;
        }
        let Some((k, v)) = pair.split_once('=') else {
            return Err(format!("key {pair:?} has no value"));
        };
        let segs = parse_key(k, kind == SetKind::Literal)?;
        let val = match kind {
            SetKind::Literal => Value::str(v),
            SetKind::String => list_or(v, |s| Value::str(unescape(s))),
            SetKind::Typed => list_or(v, |s| typed(&unescape(s))),
            SetKind::Json => crate::json::parse(v)
                .map_err(|e| format!("failed parsing --set-json data {v}: {e}"))?,
        };
        root = set_in(root, &segs, val);
    }
    let _ = read_file;
    if let Value::Map(m) = root {
        *vals = m.borrow().clone();
    }
    Ok(())
}

fn list_or(v: &str, f: impl Fn(&str) -> Value) -> Value {
    if v.starts_with('{') && v.ends_with('}') {
        let inner = &v[1..v.len() - 1];
        return Value::List(Rc::new(
            split_unescaped(inner, ',').iter().map(|s| f(s)).collect(),
        ));
    }
    f(v)
}
