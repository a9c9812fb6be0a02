//! A subset of Go's fmt.Sprintf.

use crate::value::{Value, fmt_float_g};

/// Go's strconv.Quote.
pub fn go_quote(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\u{7}' => o.push_str("\\a"),
            '\u{8}' => o.push_str("\\b"),
            '\u{c}' => o.push_str("\\f"),
            '\u{b}' => o.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                o.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn pad(s: String, width: Option<usize>, left: bool, zero: bool) -> String {
    let Some(w) = width else { return s };
    let n = s.chars().count();
    if n >= w {
        return s;
    }
    let fill = w - n;
    if left {
        format!("{s}{}", " ".repeat(fill))
    } else if zero {
        if let Some(rest) = s.strip_prefix('-') {
            format!("-{}{rest}", "0".repeat(fill))
        } else {
            format!("{}{s}", "0".repeat(fill))
        }
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

/// Formats `args` according to `f`.
pub fn sprintf(f: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let cs: Vec<char> = f.chars().collect();
    let mut i = 0;
    let mut ai = 0;
    while i < cs.len() {
        let c = cs[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let (mut left, mut zero, mut plus, mut space, mut sharp) =
            (false, false, false, false, false);
        while i < cs.len() {
            match cs[i] {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' => space = true,
                '#' => sharp = true,
                _ => break,
            }
            i += 1;
        }
        let mut width = None;
        let mut w = String::new();
        while i < cs.len() && cs[i].is_ascii_digit() {
            w.push(cs[i]);
            i += 1;
        }
        if i < cs.len() && cs[i] == '*' {
            width = args.get(ai).map(|v| crate::funcs::to_i64(v) as usize);
            ai += 1;
            i += 1;
        } else if !w.is_empty() {
            width = w.parse().ok();
        }
        let mut prec: Option<usize> = None;
        if i < cs.len() && cs[i] == '.' {
            i += 1;
            let mut p = String::new();
            while i < cs.len() && cs[i].is_ascii_digit() {
                p.push(cs[i]);
                i += 1;
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let Some(&verb) = cs.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(ai) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        ai += 1;
        let s = match (verb, arg) {
            ('v', Value::Nil) | ('s', Value::Nil) => "<nil>".to_string(),
            ('v', _) => arg.to_v(),
            ('s', Value::Str(_) | Value::Bytes(_)) => {
                let s = arg.strval();
                match prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            ('s', Value::Int(_) | Value::Float(_) | Value::Bool(_)) => {
                format!("%!s({}={})", arg.type_name(), arg.to_v())
            }
            ('s', _) => arg.to_v(),
            ('d', Value::Int(n)) => {
                let mut s = n.to_string();
                if plus && *n >= 0 {
                    s = format!("+{s}");
                } else if space && *n >= 0 {
                    s = format!(" {s}");
                }
                s
            }
            ('d', _) => format!("%!d({}={})", arg.type_name(), arg.to_v()),
            ('q', Value::Str(s)) => go_quote(s),
            ('q', Value::Int(n)) => format!("'{}'", char::from_u32(*n as u32).unwrap_or('?')),
            ('q', _) => go_quote(&arg.to_v()),
            ('t', Value::Bool(b)) => b.to_string(),
            ('f' | 'F', Value::Float(x)) => float_f(*x, prec.unwrap_or(6), plus),
            ('f' | 'F', Value::Int(_)) => format!("%!f(int={})", arg.to_v()),
            ('e', Value::Float(x)) => float_e(*x, prec.unwrap_or(6)),
            ('g', Value::Float(x)) => fmt_float_g(*x, prec.map(|p| p as i32).unwrap_or(-1)),
            ('x' | 'X', Value::Int(n)) => {
                let s = if sharp {
                    format!("0x{n:x}")
                } else {
                    format!("{n:x}")
                };
                if verb == 'X' { s.to_uppercase() } else { s }
            }
            ('x' | 'X', Value::Str(s)) => {
                let h = crate::funcs::hex(s.as_bytes());
                if verb == 'X' { h.to_uppercase() } else { h }
            }
            ('o', Value::Int(n)) => format!("{n:o}"),
            ('b', Value::Int(n)) => format!("{n:b}"),
            ('c', Value::Int(n)) => char::from_u32(*n as u32)
                .map(|c| c.to_string())
                .unwrap_or_default(),
            ('T', _) => arg.type_name().to_string(),
            _ => format!("%!{verb}({}={})", arg.type_name(), arg.to_v()),
        };
        out.push_str(&pad(s, width, left, zero && !left));
    }
    if ai < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[ai..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), a.to_v()))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn float_f(x: f64, prec: usize, plus: bool) -> String {
    let s = format!("{x:.prec$}");
    if plus && x >= 0.0 { format!("+{s}") } else { s }
}

fn float_e(x: f64, prec: usize) -> String {
    let s = format!("{x:.prec$e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let n: i32 = e.parse().unwrap_or(0);
            format!("{m}e{}{:02}", if n < 0 { '-' } else { '+' }, n.abs())
        }
        None => s,
    }
}
