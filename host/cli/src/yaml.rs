//! YAML output that every Kubernetes YAML reader reads back as the same data.
//!
//! General-purpose YAML emitters follow YAML 1.2, where `no`, `on` or `y` are
//! plain strings. kubectl, Flux and Helm read YAML with go-yaml's 1.1 rules,
//! where those are booleans, so a ConfigMap value `"no"` printed plain comes
//! back as `false`. This emitter quotes every string that any of the common
//! readers (YAML 1.1 or 1.2) would resolve to something other than a string,
//! and writes block style the way kubectl does (lists not indented under their
//! key).

use serde_json::Value;
use std::fmt::Write;

/// One document, ending in a newline (no leading `---`).
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(l) if !l.is_empty() => write_list(&mut out, l, 0),
        scalar => {
            write_scalar(&mut out, scalar, 2);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, level: usize) {
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            indent(out, level);
        }
        write_string(out, k, level, true);
        out.push(':');
        write_value_after_key(out, v, level);
    }
}

/// A value after `key:`: nested blocks go on the next lines (lists at the
/// key's own indentation, maps two deeper), scalars on the same line.
fn write_value_after_key(out: &mut String, v: &Value, level: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            indent(out, level + 2);
            write_map(out, m, level + 2);
        }
        Value::Array(l) if !l.is_empty() => {
            out.push('\n');
            indent(out, level);
            write_list(out, l, level);
        }
        scalar => {
            out.push(' ');
            write_scalar(out, scalar, level + 2);
            out.push('\n');
        }
    }
}

fn write_list(out: &mut String, list: &[Value], level: usize) {
    for (i, v) in list.iter().enumerate() {
        if i > 0 {
            indent(out, level);
        }
        out.push_str("- ");
        match v {
            Value::Object(m) if !m.is_empty() => write_map(out, m, level + 2),
            Value::Array(l) if !l.is_empty() => write_list(out, l, level + 2),
            scalar => {
                write_scalar(out, scalar, level + 2);
                out.push('\n');
            }
        }
    }
}

/// A scalar or empty collection; `level` is the indentation of block
/// scalar content.
fn write_scalar(out: &mut String, v: &Value, level: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s, level, false),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    let text = n.to_string();
    if n.is_f64() && !text.contains('.') && !text.contains("inf") && !text.contains("NaN") {
        // serde_json writes 1e100; YAML 1.1 floats need a dot and a signed
        // exponent (1.0e+100), or PyYAML-style readers see a string.
        if let Some((mantissa, exp)) = text.split_once('e') {
            let exp = if exp.starts_with(['-', '+']) {
                exp.to_string()
            } else {
                format!("+{exp}")
            };
            let _ = write!(out, "{mantissa}.0e{exp}");
            return;
        }
        let _ = write!(out, "{text}.0");
        return;
    }
    out.push_str(&text);
}

fn write_string(out: &mut String, s: &str, level: usize, key: bool) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else if !key && literal_block_ok(s) {
        write_literal(out, s, level);
    } else if s.chars().all(|c| !c.is_control()) {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    } else {
        write_double_quoted(out, s);
    }
}

/// Multi-line text without characters a literal block cannot hold.
fn literal_block_ok(s: &str) -> bool {
    s.contains('\n')
        && s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control())
        && s.lines().all(|l| !l.ends_with([' ', '\t']))
        && !s.starts_with('\n')
}

fn write_literal(out: &mut String, s: &str, level: usize) {
    out.push('|');
    // The indentation indicator is needed when the text itself starts with
    // a space, else the reader would take that space as indentation.
    if s.starts_with(' ') {
        out.push('2');
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    let body = s.trim_end_matches('\n');
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(out, level);
            out.push_str(line);
        }
    }
    // Keep chomping (`|+`) needs the extra newlines written out.
    for _ in 1..trailing {
        out.push('\n');
    }
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Whether `s` can be written unquoted and read back as the same string by
/// YAML 1.1 and 1.2 readers alike.
fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.trim() != s || s.chars().any(|c| c.is_control()) {
        return false;
    }
    // Indicators that start other syntax.
    if "?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if first == '-' && (s.len() == 1 || s.starts_with("- ") || s.starts_with("---")) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    !resolves_to_non_string(s)
}

/// Scalars YAML 1.1 (go-yaml v2, PyYAML) or 1.2 would read as null, a
/// boolean, a number or a timestamp.
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        "=", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let Some(first) = body.chars().next() else {
        return false;
    };
    // Numbers in any notation (decimal, octal, hex, binary, underscores,
    // exponents, sexagesimal 1:20, .inf/.nan) and timestamps all start with
    // a digit or a dot and use only these characters; quoting a few strings
    // that only look numeric (versions like 1.2.3) is harmless.
    if first.is_ascii_digit() || first == '.' {
        return body
            .chars()
            .all(|c| c.is_ascii_hexdigit() || "xXoO_.:+-eEinfaINFA".contains(c))
            || looks_like_timestamp(body);
    }
    false
}

fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && s[5..]
            .chars()
            .all(|c| c.is_ascii_digit() || " -:.TtZz+".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_1_1_booleans_and_nulls_are_quoted() {
        for word in ["no", "yes", "on", "Off", "y", "N", "~", "null", "true"] {
            let out = to_string(&json!({ "v": word }));
            assert_eq!(out, format!("v: '{word}'\n"));
        }
    }

    #[test]
    fn numeric_looking_strings_are_quoted_and_numbers_are_not() {
        assert_eq!(
            to_string(&json!({"a": "0777", "b": "1e3", "c": "0x1F", "d": "1:20", "e": ".inf"})),
            "a: '0777'\nb: '1e3'\nc: '0x1F'\nd: '1:20'\ne: '.inf'\n"
        );
        assert_eq!(
            to_string(&json!({"i": 3, "f": 1.5, "g": 1e100, "h": 2.0})),
            "i: 3\nf: 1.5\ng: 1.0e+100\nh: 2.0\n"
        );
        assert_eq!(to_string(&json!({"t": "2001-12-14"})), "t: '2001-12-14'\n");
    }

    #[test]
    fn ordinary_strings_stay_plain() {
        assert_eq!(
            to_string(&json!({"image": "nginx:1.25", "arg": "--port=80", "x": "a b"})),
            "image: nginx:1.25\narg: --port=80\nx: a b\n"
        );
    }

    #[test]
    fn indicators_and_quotes_are_escaped() {
        assert_eq!(
            to_string(&json!({"a": "it's", "b": "- x", "c": "k: v", "d": "", "e": "#x"})),
            "a: it's\nb: '- x'\nc: 'k: v'\nd: ''\ne: '#x'\n"
        );
        assert_eq!(to_string(&json!({"a": "'q"})), "a: '''q'\n");
        assert_eq!(to_string(&json!({"a": "\u{1}"})), "a: \"\\u0001\"\n");
    }

    #[test]
    fn lists_sit_at_their_keys_indentation_like_kubectl() {
        let v = json!({"spec": {"containers": [{"name": "a", "args": ["x", "z"]}], "empty": [], "m": {}}});
        assert_eq!(
            to_string(&v),
            "spec:\n  containers:\n  - name: a\n    args:\n    - x\n    - z\n  empty: []\n  m: {}\n"
        );
        assert_eq!(to_string(&json!([[1, 2], 3])), "- - 1\n  - 2\n- 3\n");
    }

    #[test]
    fn multi_line_strings_use_literal_blocks_with_exact_chomping() {
        assert_eq!(to_string(&json!({"a": "x\ny\n"})), "a: |\n  x\n  y\n");
        assert_eq!(to_string(&json!({"a": "x\ny"})), "a: |-\n  x\n  y\n");
        assert_eq!(to_string(&json!({"a": "x\n\n"})), "a: |+\n  x\n\n");
        assert_eq!(
            to_string(&json!({"a": "  x\n\ny\n"})),
            "a: |2\n    x\n\n  y\n"
        );
        // Trailing spaces cannot survive a literal block.
        assert_eq!(to_string(&json!({"a": "x \ny"})), "a: \"x \\ny\"\n");
    }
}
