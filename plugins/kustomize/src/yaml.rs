//! YAML in and out. Parsing builds JSON values straight from parser events
//! so that duplicate keys (later wins, as in kustomize), merge keys and a
//! cap on alias expansion (billion laughs) are all under our control;
//! plain scalars resolve with the YAML 1.2 core schema. Emission writes
//! block-style YAML.

use crate::error::{Error, Result};
use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Largest number of nodes one stream may hold after alias expansion.
pub const MAX_NODES: usize = 1_000_000;

/// Deepest nesting of collections accepted (recursion safety downstream).
pub const MAX_DEPTH: usize = 512;

fn node_count(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(node_count).sum::<usize>(),
        Value::Object(m) => 1 + m.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map(Map<String, Value>, Option<String>, usize, Vec<Value>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    docs: Vec<Value>,
    anchors: std::collections::HashMap<usize, (Value, usize)>,
    nodes: usize,
    error: Option<String>,
    strict: bool,
}

/// Resolves a plain scalar with the YAML 1.2 core schema.
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let b = s.as_bytes();
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits(unsigned) {
        if let Ok(i) = s.parse::<i64>() {
            return Value::from(i);
        }
        if let Ok(u) = s.trim_start_matches('+').parse::<u64>() {
            return Value::from(u);
        }
        if let Some(n) = s.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    if let Some(o) = s.strip_prefix("0o")
        && !o.is_empty()
        && o.bytes().all(|c| (b'0'..=b'7').contains(&c))
        && let Ok(i) = i64::from_str_radix(o, 8)
    {
        return Value::from(i);
    }
    if let Some(h) = s.strip_prefix("0x")
        && !h.is_empty()
        && h.bytes().all(|c| c.is_ascii_hexdigit())
        && let Ok(i) = i64::from_str_radix(h, 16)
    {
        return Value::from(i);
    }
    // Float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let (mant, exp) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mant_ok = match mant.split_once('.') {
        Some((a, c)) => (a.is_empty() && digits(c)) || (digits(a) && (c.is_empty() || digits(c))),
        None => digits(mant),
    };
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    if mant_ok
        && exp_ok
        && !b.is_empty()
        && let Some(n) = s.parse::<f64>().ok().and_then(Number::from_f64)
    {
        return Value::Number(n);
    }
    Value::String(s.to_string())
}

fn scalar(v: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(t) = tag
        && (t.handle == "tag:yaml.org,2002:" || t.handle == "!!")
    {
        match t.suffix.as_str() {
            "str" | "binary" => return Value::String(v),
            "int" | "float" | "bool" | "null" => return resolve_plain(&v),
            _ => {}
        }
    }
    if style != TScalarStyle::Plain {
        return Value::String(v);
    }
    resolve_plain(&v)
}

fn key_text(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

impl Builder {
    fn push_value(&mut self, v: Value, anchor: usize, size: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (v.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.docs.push(v),
            Some(Frame::Seq(a, _)) => a.push(v),
            Some(Frame::Map(m, key, _, merges)) => match key.take() {
                None => {
                    *key = Some(key_text(&v));
                }
                Some(k) if k == "<<" => match v {
                    Value::Array(items) => merges.extend(items),
                    other => merges.push(other),
                },
                Some(k) => {
                    if self.strict && m.contains_key(&k) {
                        self.error = Some(format!("mapping key {k:?} already defined"));
                    }
                    m.insert(k, v);
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, _mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(v, style, anchor, tag) => {
                self.nodes += 1;
                let val = scalar(v, style, tag.as_ref());
                self.push_value(val, anchor, 1);
            }
            Event::SequenceStart(anchor, _) => {
                self.nodes += 1;
                if self.stack.len() >= MAX_DEPTH {
                    self.error = Some(format!("YAML nesting deeper than {MAX_DEPTH} levels"));
                    return;
                }
                self.stack.push(Frame::Seq(Vec::new(), anchor));
            }
            Event::MappingStart(anchor, _) => {
                self.nodes += 1;
                if self.stack.len() >= MAX_DEPTH {
                    self.error = Some(format!("YAML nesting deeper than {MAX_DEPTH} levels"));
                    return;
                }
                self.stack
                    .push(Frame::Map(Map::new(), None, anchor, Vec::new()));
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(a, anchor)) = self.stack.pop() {
                    let v = Value::Array(a);
                    let size = if anchor > 0 { node_count(&v) } else { 0 };
                    self.push_value(v, anchor, size);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(mut m, _, anchor, merges)) = self.stack.pop() {
                    for src in merges {
                        if let Value::Object(src) = src {
                            for (k, v) in src {
                                if !m.contains_key(&k) {
                                    m.insert(k, v);
                                }
                            }
                        }
                    }
                    let v = Value::Object(m);
                    let size = if anchor > 0 { node_count(&v) } else { 0 };
                    self.push_value(v, anchor, size);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some((v, size)) => {
                    self.nodes += size;
                    if self.nodes > MAX_NODES {
                        self.error = Some(format!(
                            "YAML alias expansion exceeds {MAX_NODES} nodes (billion-laughs protection)"
                        ));
                        return;
                    }
                    self.push_value(v, 0, size);
                }
                None => self.error = Some("YAML alias to an unknown anchor".into()),
            },
            _ => {}
        }
        if self.nodes > MAX_NODES {
            self.error = Some(format!("YAML document exceeds {MAX_NODES} nodes"));
        }
    }
}

/// Parses a stream of YAML documents. Empty documents are dropped.
///
/// # Errors
/// Fails on malformed YAML and on streams whose aliases expand beyond
/// [`MAX_NODES`] (billion-laughs protection).
pub fn parse_stream(text: &str) -> Result<Vec<Value>> {
    parse_stream_with(text, true)
}

/// Like [`parse_stream`]; with `strict` false a repeated mapping key is
/// allowed and the later value wins (kustomization files).
pub fn parse_stream_with(text: &str, strict: bool) -> Result<Vec<Value>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut b = Builder {
        strict,
        ..Default::default()
    };
    let mut parser = Parser::new_from_str(text);
    // Drive the parser event by event (its own loader recurses per
    // nesting level, which a hostile file could use to exhaust the stack).
    loop {
        let (ev, mark) = parser
            .next_token()
            .map_err(|e| Error::invalid(format!("invalid YAML: {e}")))?;
        if matches!(ev, Event::StreamEnd) {
            break;
        }
        b.on_event(ev, mark);
        if b.error.is_some() {
            break;
        }
    }
    if let Some(e) = b.error {
        return Err(Error::invalid(e));
    }
    Ok(b.docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Parses one YAML document (an empty text gives `null`).
///
/// # Errors
/// Fails on malformed YAML or more than one document.
pub fn parse_one(text: &str) -> Result<Value> {
    let mut docs = parse_stream(text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        _ => Err(Error::invalid("expected a single YAML document")),
    }
}

fn plain_ok(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.chars().any(|c| c.is_control())
    {
        return false;
    }
    if matches!(
        s.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "~" | "<<" | "="
    ) {
        return false;
    }
    if first.is_ascii_digit() || first == '.' || first == '+' {
        return false;
    }
    matches!(resolve_plain(s), Value::String(_))
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn emit_str(s: &str, indent: usize, out: &mut String) {
    let literal_ok = s.contains('\n')
        && !s.starts_with([' ', '\n', '\t'])
        && s.lines().all(|l| l.trim_end() == l)
        && !s.chars().any(|c| c.is_control() && c != '\n');
    if literal_ok {
        let trimmed = s.trim_end_matches('\n');
        let trailing = s.len() - trimmed.len();
        let chomp = match trailing {
            0 => "-",
            1 => "",
            _ => "+",
        };
        out.push('|');
        out.push_str(chomp);
        out.push('\n');
        let pad = " ".repeat(indent);
        let body = if trailing > 1 {
            s.strip_suffix('\n').unwrap_or(s)
        } else {
            trimmed
        };
        for line in body.split('\n') {
            if !line.is_empty() {
                out.push_str(&pad);
                out.push_str(line);
            }
            out.push('\n');
        }
        return;
    }
    if plain_ok(s) {
        out.push_str(s);
    } else {
        out.push_str(&quoted(s));
    }
    out.push('\n');
}

fn emit_scalar(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null\n"),
        Value::Bool(b) => out.push_str(if *b { "true\n" } else { "false\n" }),
        Value::Number(n) => {
            out.push_str(&n.to_string());
            out.push('\n');
        }
        Value::String(s) => emit_str(s, indent, out),
        _ => {}
    }
}

fn emit_key(k: &str, out: &mut String) {
    if plain_ok(k) {
        out.push_str(k);
    } else {
        out.push_str(&quoted(k));
    }
    out.push(':');
}

fn emit_node(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let pad = " ".repeat(indent);
            let mut first = true;
            for (k, x) in m {
                if !first || !out.ends_with("- ") {
                    out.push_str(&pad);
                }
                first = false;
                emit_key(k, out);
                emit_child(x, indent + 2, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let pad = " ".repeat(indent);
            for x in a {
                out.push_str(&pad);
                out.push_str("- ");
                match x {
                    Value::Object(m) if !m.is_empty() => emit_node(x, indent + 2, out),
                    Value::Array(b) if !b.is_empty() => {
                        out.push('\n');
                        emit_node(x, indent + 2, out);
                    }
                    _ => emit_flow_or_scalar(x, indent + 2, out),
                }
            }
        }
        _ => emit_flow_or_scalar(v, indent, out),
    }
}

fn emit_flow_or_scalar(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(_) => out.push_str("{}\n"),
        Value::Array(_) => out.push_str("[]\n"),
        _ => emit_scalar(v, indent, out),
    }
}

fn emit_child(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit_node(v, indent, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            // Sequences inside maps are not indented further (kubectl style).
            emit_node(v, indent - 2, out);
        }
        _ => {
            out.push(' ');
            emit_flow_or_scalar(v, indent, out);
        }
    }
}

/// Emits one value as a YAML document (no `---`).
pub fn emit(v: &Value) -> String {
    let mut out = String::new();
    emit_node(v, 0, &mut out);
    out
}

/// Emits objects as a YAML stream separated by `---`.
pub fn emit_stream(objs: &[Value]) -> String {
    let mut s = String::new();
    for (i, o) in objs.iter().enumerate() {
        if i > 0 {
            s.push_str("---\n");
        }
        s.push_str(&emit(o));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case("yes", json!("yes"))]
    #[case("on", json!("on"))]
    #[case("true", json!(true))]
    #[case("False", json!(false))]
    #[case("~", json!(null))]
    #[case("", json!(null))]
    #[case("010", json!(10))]
    #[case("0o10", json!(8))]
    #[case("0x1F", json!(31))]
    #[case("-12", json!(-12))]
    #[case("1.5", json!(1.5))]
    #[case("1e3", json!(1000.0))]
    #[case("2020-01-01", json!("2020-01-01"))]
    #[case("1.2.3", json!("1.2.3"))]
    #[case(".5", json!(0.5))]
    fn plain_scalars_resolve_with_the_yaml_1_2_core_schema(
        #[case] text: &str,
        #[case] want: Value,
    ) {
        assert_eq!(resolve_plain(text), want);
    }

    #[rstest]
    #[case(json!({"a": "yes", "b": "010", "c": "1.0", "d": "true", "e": ""}))]
    #[case(json!({"multi": "line one\nline two\n", "keep": "a\n\n\n", "strip": "x\ny"}))]
    #[case(json!({"lead": " space", "colon": "a: b", "hash": "a #b", "dash": "- x", "star": "*x"}))]
    #[case(json!({"list": [1, "1", [], {}, {"k": [ {"a": 1}, [2, 3] ]}], "null": null}))]
    #[case(json!({"weird key: x": 1, "": 2, "tab\there": "\u{1}ctl"}))]
    fn emitted_yaml_reads_back_as_the_same_data(#[case] v: Value) {
        let text = emit(&v);
        assert_eq!(parse_one(&text).unwrap(), v, "{text}");
    }

    #[test]
    fn later_duplicate_keys_win_only_when_not_strict() {
        let text = "a: 1\na: 2\n";
        assert_eq!(parse_stream_with(text, false).unwrap()[0], json!({"a": 2}));
        assert!(parse_stream(text).is_err());
    }

    #[test]
    fn merge_keys_are_expanded() {
        let v = parse_one("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n").unwrap();
        assert_eq!(v["d"], json!({"x": 1, "y": 3}));
    }

    #[test]
    fn empty_documents_are_dropped() {
        assert_eq!(parse_stream("---\n---\na: 1\n---\n").unwrap().len(), 1);
    }
}
