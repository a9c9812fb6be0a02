//! YAML decoding with go-yaml v2 scalar resolution, and an encoder styled like go-yaml v2.

use crate::value::{Map, Value, fmt_float_g};
use std::collections::HashMap;
use std::rc::Rc;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML syntax error with its line.
#[derive(Debug, Clone)]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "yaml: line {}: {}", self.line, self.msg)
    }
}

struct Collector {
    events: Vec<(Event, Marker)>,
}

impl MarkedEventReceiver for Collector {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        self.events.push((ev, mark));
    }
}

/// Maximum nesting depth accepted when decoding.
pub const MAX_DEPTH: usize = 1000;

/// Parses every document of a YAML stream. `json_numbers` turns every number into a float64
/// (what sigs.k8s.io/yaml produces); otherwise integers stay integers.
pub fn parse_all(src: &str, json_numbers: bool) -> Result<Vec<Value>, YamlError> {
    let mut c = Collector { events: Vec::new() };
    let mut p = Parser::new_from_str(src);
    p.load(&mut c, true).map_err(|e| {
        let lines = src.trim_end_matches('\n').lines().count().max(1);
        YamlError {
            line: e.marker().line().min(lines),
            msg: libyaml_message(e.info()),
        }
    })?;
    let mut b = Builder {
        ev: &c.events,
        pos: 0,
        anchors: HashMap::new(),
        json_numbers,
        depth: 0,
    };
    let mut docs = Vec::new();
    while b.pos < b.ev.len() {
        match &b.ev[b.pos].0 {
            Event::DocumentStart => {
                b.pos += 1;
                if matches!(b.ev.get(b.pos).map(|e| &e.0), Some(Event::DocumentEnd)) {
                    docs.push(Value::Nil);
                } else {
                    docs.push(b.node()?);
                }
            }
            _ => b.pos += 1,
        }
    }
    Ok(docs)
}

/// Parses a single-document YAML text (empty text is nil).
pub fn parse(src: &str, json_numbers: bool) -> Result<Value, YamlError> {
    let docs = parse_all(src, json_numbers)?;
    Ok(docs.into_iter().next().unwrap_or(Value::Nil))
}

struct Builder<'a> {
    ev: &'a [(Event, Marker)],
    pos: usize,
    anchors: HashMap<usize, Value>,
    json_numbers: bool,
    depth: usize,
}

impl Builder<'_> {
    fn node(&mut self) -> Result<Value, YamlError> {
        let (ev, mark) = &self.ev[self.pos];
        self.pos += 1;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(YamlError {
                line: mark.line(),
                msg: "exceeded max depth".into(),
            });
        }
        let v = match ev {
            Event::Scalar(s, style, anchor, tag) => {
                let v = if let Some(t) = tag {
                    let tg = format!("{}{}", t.handle, t.suffix);
                    tagged(s, &tg, self.json_numbers)
                } else if *style == TScalarStyle::Plain {
                    resolve_plain(s, self.json_numbers)
                } else {
                    Value::str(s)
                };
                if *anchor > 0 {
                    self.anchors.insert(*anchor, v.clone());
                }
                v
            }
            Event::Alias(id) => self.anchors.get(id).cloned().unwrap_or(Value::Nil),
            Event::SequenceStart(anchor, _) => {
                let mut l = Vec::new();
                loop {
                    if matches!(
                        self.ev.get(self.pos).map(|e| &e.0),
                        Some(Event::SequenceEnd)
                    ) {
                        self.pos += 1;
                        break;
                    }
                    if self.pos >= self.ev.len() {
                        break;
                    }
                    l.push(self.node()?);
                }
                let v = Value::List(Rc::new(l));
                if *anchor > 0 {
                    self.anchors.insert(*anchor, v.clone());
                }
                v
            }
            Event::MappingStart(anchor, _) => {
                let mut m = Map::new();
                let mut merges: Vec<Value> = Vec::new();
                loop {
                    if matches!(self.ev.get(self.pos).map(|e| &e.0), Some(Event::MappingEnd)) {
                        self.pos += 1;
                        break;
                    }
                    if self.pos >= self.ev.len() {
                        break;
                    }
                    let is_merge = matches!(&self.ev[self.pos].0, Event::Scalar(s, TScalarStyle::Plain, _, None) if s == "<<");
                    let k = self.node()?;
                    let v = self.node()?;
                    if is_merge {
                        merges.push(v);
                        continue;
                    }
                    m.insert(key_string(&k), v);
                }
                for mv in merges {
                    let list = match mv {
                        Value::List(l) => l.as_ref().clone(),
                        other => vec![other],
                    };
                    for item in list {
                        if let Value::Map(src) = item {
                            for (k, v) in src.borrow().iter() {
                                m.entry(k.clone()).or_insert_with(|| v.clone());
                            }
                        }
                    }
                }
                let v = Value::map(m);
                if *anchor > 0 {
                    self.anchors.insert(*anchor, v.clone());
                }
                v
            }
            _ => Value::Nil,
        };
        self.depth -= 1;
        Ok(v)
    }
}

fn key_string(k: &Value) -> String {
    match k {
        Value::Nil => "null".into(),
        Value::Float(f) => crate::value::fmt_float_json(*f),
        other => other.to_v(),
    }
}

fn tagged(s: &str, tag: &str, json_numbers: bool) -> Value {
    match tag {
        "!!str" | "tag:yaml.org,2002:str" => Value::str(s),
        "!!int"
        | "tag:yaml.org,2002:int"
        | "!!float"
        | "tag:yaml.org,2002:float"
        | "!!bool"
        | "tag:yaml.org,2002:bool"
        | "!!null"
        | "tag:yaml.org,2002:null" => resolve_plain(s, json_numbers),
        _ => Value::str(s),
    }
}

/// Resolves a plain scalar as go-yaml v2 does (YAML 1.1 booleans, octal, ...).
pub fn resolve_plain(s: &str, json_numbers: bool) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Nil,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Value::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Value::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return Value::str(s);
    }
    if let Some(i) = parse_yaml_int(s) {
        return if json_numbers {
            Value::Float(i as f64)
        } else {
            Value::Int(i)
        };
    }
    if is_yaml_float(s) {
        let plain: String = s.chars().filter(|c| *c != '_').collect();
        if let Ok(f) = plain.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::str(s)
}

/// Parses a YAML 1.1 integer (decimal, 0x, 0b, leading-0 octal, underscores).
pub fn parse_yaml_int(s: &str) -> Option<i64> {
    let plain: String = s.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match plain.as_bytes().first()? {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, &plain[..]),
    };
    if body.is_empty() {
        return None;
    }
    let v = if let Some(h) = body.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = body.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        if !body.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        match body.parse::<i64>() {
            Ok(v) => v,
            Err(_) => return None,
        }
    };
    Some(if neg { -v } else { v })
}

fn is_yaml_float(s: &str) -> bool {
    // [-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let start = i;
    let mut digits = 0;
    while i < b.len() && (b[i].is_ascii_digit() || (b[i] == b'_' && i > start)) {
        digits += 1;
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            digits += 1;
            i += 1;
        }
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let s2 = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s2 {
            return false;
        }
    }
    i == b.len()
}

// ---------------------------------------------------------------- encoding

/// Encodes a value as sigs.k8s.io/yaml's `Marshal` does (JSON round trip, then go-yaml v2),
/// with a trailing newline.
pub fn to_yaml(v: &Value) -> String {
    to_yaml_styled(v, false)
}

/// Like [`to_yaml`]; `pretty` indents sequences under their key (go-yaml v3 with indent 2).
pub fn to_yaml_styled(v: &Value, pretty: bool) -> String {
    let mut out = String::new();
    match v {
        Value::Map(m) if !m.borrow().is_empty() => emit_map(&m.borrow(), 0, &mut out, pretty),
        Value::List(l) if !l.is_empty() => emit_list(l, 0, &mut out, pretty),
        _ => {
            emit_scalar_or_flow(v, 0, &mut out);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Map(m) => !m.borrow().is_empty(),
        Value::List(l) => !l.is_empty(),
        Value::Files(f) => !f.is_empty(),
        Value::Struct(_) => true,
        _ => false,
    }
}

fn normalize(v: &Value) -> Value {
    // Values that JSON encodes specially.
    match v {
        Value::Struct(s) => s
            .json
            .clone()
            .unwrap_or_else(|| Value::map(s.fields.clone())),
        Value::Bytes(b) => Value::str(crate::funcs::b64enc(b)),
        Value::Files(f) => {
            let mut m = Map::new();
            for (k, d) in f.iter() {
                m.insert(k.clone(), Value::str(crate::funcs::b64enc(d)));
            }
            Value::map(m)
        }
        Value::ApiVersions(l) => Value::List(Rc::new(l.iter().map(Value::str).collect())),
        other => other.clone(),
    }
}

fn emit_map(m: &Map, ind: usize, out: &mut String, pretty: bool) {
    for (k, v) in m.iter() {
        indent(out, ind);
        emit_string(k, ind, out, true);
        out.push(':');
        let v = normalize(v);
        match &v {
            Value::Map(mm) if !mm.borrow().is_empty() => {
                out.push('\n');
                emit_map(&mm.borrow(), ind + 2, out, pretty);
            }
            Value::List(l) if !l.is_empty() => {
                out.push('\n');
                emit_list(l, if pretty { ind + 2 } else { ind }, out, pretty);
            }
            _ => {
                out.push(' ');
                emit_scalar_or_flow(&v, ind + 2, out);
                out.push('\n');
            }
        }
    }
}

fn emit_list(l: &[Value], ind: usize, out: &mut String, pretty: bool) {
    for v in l.iter() {
        indent(out, ind);
        out.push_str("- ");
        let v = normalize(v);
        match &v {
            Value::Map(mm) if !mm.borrow().is_empty() => {
                let mut first = true;
                for (k, vv) in mm.borrow().iter() {
                    if !first {
                        indent(out, ind + 2);
                    }
                    first = false;
                    let mut single = Map::new();
                    single.insert(k.clone(), vv.clone());
                    let mut tmp = String::new();
                    emit_map(&single, ind + 2, &mut tmp, pretty);
                    out.push_str(&tmp[ind + 2..]);
                }
            }
            Value::List(ll) if !ll.is_empty() => {
                let mut tmp = String::new();
                emit_list(ll, ind + 2, &mut tmp, pretty);
                out.push_str(&tmp[ind + 2..]);
            }
            _ => {
                emit_scalar_or_flow(&v, ind + 2, out);
                out.push('\n');
            }
        }
    }
}

fn emit_scalar_or_flow(v: &Value, ind: usize, out: &mut String) {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&yaml_float(*f)),
        Value::Str(s) => emit_string(s, ind, out, false),
        Value::Map(_) => out.push_str("{}"),
        Value::List(_) => out.push_str("[]"),
        other => {
            let n = normalize(other);
            if is_block(&n) {
                out.push_str("{}");
            } else {
                emit_scalar_or_flow(&n, ind, out)
            }
        }
    }
}

/// go-yaml v2 float formatting after a JSON round trip: integral floats become ints.
pub fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+.inf".into()
        } else {
            "-.inf".into()
        };
    }
    let j = crate::value::fmt_float_json(f);
    if j.contains('.') || j.contains('e') {
        // JSON text re-read by go-yaml as a float.
        let g = fmt_float_g(f, -1);
        if g.contains('.') || g.contains('e') || g.contains("Inf") {
            g
        } else {
            format!("{g}.0")
        }
    } else {
        j
    }
}

fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')
        && c != '\u{feff}'
}

/// Emits a string scalar following go-yaml v2's style choice.
fn emit_string(s: &str, ind: usize, out: &mut String, is_key: bool) {
    let resolves_to_str =
        matches!(resolve_plain_v2(s), Value::Str(_)) && !is_base60(s) && !is_timestamp(s);
    let multiline = s.contains('\n');
    // Analysis as libyaml does.
    let mut flow_indicators = false;
    let mut block_indicators = false;
    let mut special = false;
    let mut space_break = false;
    let mut break_space = false;
    let mut previous_space = false;
    let mut previous_break = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let chars: Vec<char> = s.chars().collect();
    if s.starts_with("---") || s.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_ws = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = chars
            .get(i + 1)
            .is_none_or(|n| matches!(n, ' ' | '\t' | '\n' | '\r'));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    if followed_by_ws {
                        block_indicators = true;
                    }
                }
                '-' if followed_by_ws => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    if followed_by_ws {
                        block_indicators = true;
                    }
                }
                '#' if preceded_by_ws => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == chars.len() - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if c == '\n' || c == '\r' {
            if i == 0 {
                leading_break = true;
            }
            if i == chars.len() - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = matches!(c, ' ' | '\t' | '\n' | '\r');
    }
    let mut block_plain = true;
    let mut single_allowed = true;
    let mut block_allowed = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        block_plain = false;
    }
    if trailing_space {
        block_allowed = false;
    }
    if break_space {
        block_plain = false;
        single_allowed = false;
    }
    if space_break || special {
        block_plain = false;
        single_allowed = false;
        block_allowed = false;
    }
    if multiline {
        block_plain = false;
    }
    if block_indicators {
        block_plain = false;
    }
    let _ = flow_indicators;
    if s.is_empty() {
        block_plain = false;
    }
    // Style selection.
    if multiline && !is_key && block_allowed {
        emit_literal(s, ind, out);
        return;
    }
    let breaks = !is_key;
    if !multiline && resolves_to_str && block_plain {
        write_folded(s, ind, out, breaks, Quote::Plain);
        return;
    }
    if resolves_to_str && single_allowed && !multiline {
        out.push('\'');
        write_folded(&s.replace('\'', "''"), ind, out, breaks, Quote::Single);
        out.push('\'');
        return;
    }
    if breaks {
        let mut tmp = String::new();
        emit_double(s, &mut tmp);
        write_folded(&tmp, ind, out, true, Quote::Double);
    } else {
        emit_double(s, out);
    }
}

#[derive(PartialEq, Clone, Copy)]
enum Quote {
    Plain,
    Single,
    Double,
}

/// Best line width of go-yaml v2's emitter.
const BEST_WIDTH: usize = 80;

/// Writes scalar text, folding at spaces past column 80 as libyaml does.
fn write_folded(s: &str, ind: usize, out: &mut String, allow_breaks: bool, q: Quote) {
    let mut column = out
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0);
    let cs: Vec<char> = s.chars().collect();
    let mut spaces = false;
    // For double-quoted text `s` already holds the quotes and escapes.
    for (i, &c) in cs.iter().enumerate() {
        if c == ' ' {
            let next_space = cs.get(i + 1) == Some(&' ');
            let inner = match q {
                Quote::Plain => true,
                Quote::Single => i != 0 && i != cs.len() - 1,
                Quote::Double => i != 1 && i != cs.len() - 2,
            };
            let ok_next = q == Quote::Double || !next_space;
            if allow_breaks && !spaces && column > BEST_WIDTH && inner && ok_next {
                out.push('\n');
                for _ in 0..ind {
                    out.push(' ');
                }
                column = ind;
                if q == Quote::Double && next_space {
                    out.push('\\');
                    column += 1;
                }
            } else {
                out.push(c);
                column += 1;
            }
            spaces = true;
        } else {
            out.push(c);
            column += 1;
            spaces = false;
        }
    }
}

fn is_base60(s: &str) -> bool {
    // go-yaml v2 treats sexagesimal-looking numbers (e.g. 1:20) as needing quotes.
    let b = s.as_bytes();
    if b.is_empty() || !s.contains(':') {
        return false;
    }
    let body = s.trim_start_matches(['-', '+']);
    let mut parts = body.split(':');
    let first = parts.next().unwrap_or("");
    if first.is_empty()
        || !first.bytes().all(|c| c.is_ascii_digit() || c == b'_')
        || first.starts_with('0') && first.len() > 1
    {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        return false;
    }
    for (i, p) in rest.iter().enumerate() {
        let p = if i == rest.len() - 1 {
            p.split('.').next().unwrap_or("")
        } else {
            p
        };
        if p.is_empty()
            || p.len() > 2
            || !p.bytes().all(|c| c.is_ascii_digit())
            || p.as_bytes()[0] > b'5' && p.len() == 2
        {
            return false;
        }
    }
    true
}

fn resolve_plain_v2(s: &str) -> Value {
    if s.is_empty() {
        return Value::Nil;
    }
    resolve_plain(s, false)
}

fn emit_literal(s: &str, ind: usize, out: &mut String) {
    out.push('|');
    if s.starts_with(' ') || s.starts_with('\n') {
        out.push('2');
    }
    if !s.ends_with('\n') {
        out.push('-');
    } else if s.ends_with("\n\n") || s == "\n" {
        out.push('+');
    }
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(out, ind);
            out.push_str(line);
        }
    }
    if s.ends_with("\n\n") {
        // keep-chomping: the trailing empty lines are already emitted by split
    }
}

fn emit_double(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if !is_printable(c) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02X}"));
                } else if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04X}"));
                } else {
                    out.push_str(&format!("\\U{n:08X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn is_timestamp(s: &str) -> bool {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"^\d{4}-\d{1,2}-\d{1,2}(?:(?:[Tt]|[ \t]+)\d{1,2}:\d{1,2}:\d{1,2}(?:\.\d*)?(?:[ \t]*(?:Z|[-+]\d{1,2}(?::?\d{2})?))?)?$").expect("valid")
    });
    s.as_bytes().first().is_some_and(|c| c.is_ascii_digit()) && re.is_match(s)
}

/// Rewords yaml-rust2 messages the way libyaml (go-yaml) words them.
fn libyaml_message(m: &str) -> String {
    let m = match m.strip_prefix("while parsing ") {
        Some(rest) => rest.split_once(", ").map(|(_, r)| r).unwrap_or(rest),
        None => m,
    };
    match m {
        "expected ',' or ']'" => "did not find expected ',' or ']'".into(),
        "expected ',' or '}'" => "did not find expected ',' or '}'".into(),
        "did not find expected key" | "expected key" => "did not find expected key".into(),
        other => other.to_string(),
    }
}
