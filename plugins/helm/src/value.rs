//! The dynamic value model shared by the template engine, values and YAML/JSON codecs.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

/// A map as Go's `map[string]interface{}` (iteration sorted by key).
pub type Map = BTreeMap<String, Value>;

/// A Go-like dynamic value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// A nil interface.
    #[default]
    Nil,
    /// bool
    Bool(bool),
    /// int / int64
    Int(i64),
    /// float64
    Float(f64),
    /// string
    Str(Rc<str>),
    /// []byte
    Bytes(Rc<Vec<u8>>),
    /// []interface{}
    List(Rc<Vec<Value>>),
    /// map[string]interface{}
    Map(Rc<RefCell<Map>>),
    /// A Go struct (Helm's `.Chart`, `.Capabilities`, ...): missing fields are errors.
    Struct(Rc<Struct>),
    /// Helm's `.Files`.
    Files(Rc<crate::files::Files>),
    /// Helm's `.Capabilities.APIVersions` (a VersionSet).
    ApiVersions(Rc<Vec<String>>),
}

/// A struct-like object with named fields and an optional `String()` rendering.
#[derive(Debug)]
pub struct Struct {
    /// Go type name used in error messages.
    pub type_name: &'static str,
    /// Fields by name.
    pub fields: Map,
    /// What `String()` returns, if the type is a Stringer.
    pub display: Option<String>,
    /// The JSON/YAML form (Go's json struct tags), when it differs from the fields.
    pub json: Option<Value>,
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(Rc::from(s))
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(Rc::from(s))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(Rc::new(v))
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Map(Rc::new(RefCell::new(m)))
    }
}

impl Value {
    /// Builds a string value.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::Str(Rc::from(s.as_ref()))
    }

    /// Go's truthiness for `if`, `with`, `and`, `or`, `not`.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.borrow().is_empty(),
            Value::ApiVersions(v) => !v.is_empty(),
            Value::Struct(_) => true,
            Value::Files(f) => !f.is_empty(),
        }
    }

    /// The Go type name, for error messages and `typeOf`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Bytes(_) => "[]uint8",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
            Value::Struct(s) => s.type_name,
            Value::Files(_) => "chart.Files",
            Value::ApiVersions(_) => "chartutil.VersionSet",
        }
    }

    /// Sprig's `kindOf`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Bytes(_) | Value::List(_) | Value::ApiVersions(_) => "slice",
            Value::Map(_) | Value::Files(_) => "map",
            Value::Struct(_) => "ptr",
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A copy of the map inside, if this is a map.
    pub fn as_map(&self) -> Option<Map> {
        match self {
            Value::Map(m) => Some(m.borrow().clone()),
            _ => None,
        }
    }

    /// Builds a map value.
    pub fn map(m: Map) -> Value {
        Value::Map(Rc::new(RefCell::new(m)))
    }

    /// Whether this is nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Formats like Go's `fmt` `%v`.
    pub fn fmt_v(&self, out: &mut String, top: bool) {
        match self {
            Value::Nil => {
                let _ = top;
                out.push_str("<nil>")
            }
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&fmt_float_g(*f, -1)),
            Value::Str(s) => out.push_str(s),
            Value::Bytes(b) => {
                out.push('[');
                for (i, x) in b.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    let _ = write!(out, "{x}");
                }
                out.push(']');
            }
            Value::List(l) => {
                out.push('[');
                for (i, x) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    x.fmt_v(out, false);
                }
                out.push(']');
            }
            Value::ApiVersions(l) => {
                out.push('[');
                out.push_str(&l.join(" "));
                out.push(']');
            }
            Value::Map(m) => {
                out.push_str("map[");
                for (i, (k, x)) in m.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    x.fmt_v(out, false);
                }
                out.push(']');
            }
            Value::Files(f) => {
                out.push_str("map[");
                for (i, (k, x)) in f.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    Value::Bytes(Rc::new(x.to_vec())).fmt_v(out, false);
                }
                out.push(']');
            }
            Value::Struct(s) => {
                if let Some(d) = &s.display {
                    out.push_str(d);
                } else {
                    out.push('{');
                    for (i, x) in s.fields.values().enumerate() {
                        if i > 0 {
                            out.push(' ');
                        }
                        x.fmt_v(out, false);
                    }
                    out.push('}');
                }
            }
        }
    }

    /// `%v` as a new string.
    pub fn to_v(&self) -> String {
        let mut s = String::new();
        self.fmt_v(&mut s, true);
        s
    }

    /// Sprig's `toString` (strval).
    pub fn strval(&self) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            _ => self.to_v(),
        }
    }

    /// Structural equality (Go's `reflect.DeepEqual` on decoded JSON-like data).
    pub fn deep_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.deep_eq(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                let (a, b) = (a.borrow(), b.borrow());
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|((k1, v1), (k2, v2))| k1 == k2 && v1.deep_eq(v2))
            }
            (Value::ApiVersions(a), Value::ApiVersions(b)) => a == b,
            (Value::Struct(a), Value::Struct(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Length for `len`, if the value has one.
    pub fn length(&self) -> Option<usize> {
        match self {
            Value::Str(s) => Some(s.len()),
            Value::Bytes(b) => Some(b.len()),
            Value::List(l) => Some(l.len()),
            Value::Map(m) => Some(m.borrow().len()),
            Value::ApiVersions(v) => Some(v.len()),
            Value::Files(f) => Some(f.len()),
            _ => None,
        }
    }

    /// Converts to a list if this is list-like.
    pub fn as_list(&self) -> Option<Vec<Value>> {
        match self {
            Value::List(l) => Some(l.as_ref().clone()),
            Value::ApiVersions(v) => Some(v.iter().map(Value::str).collect()),
            Value::Bytes(b) => Some(b.iter().map(|x| Value::Int(*x as i64)).collect()),
            _ => None,
        }
    }
}

/// Formats a float like Go's `strconv.FormatFloat(f, 'g', prec, 64)` with Go's `%v` rules.
pub fn fmt_float_g(f: f64, prec: i32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Shortest representation digits and exponent.
    let (digits, exp, neg) = if prec < 0 {
        shortest_digits(f)
    } else {
        let p = if prec == 0 { 1 } else { prec as usize };
        let s = format!("{:.*e}", p - 1, f.abs());
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mut d: String = m.chars().filter(|c| c.is_ascii_digit()).collect();
        while d.len() > 1 && d.ends_with('0') {
            d.pop();
        }
        (d, e.parse::<i32>().unwrap_or(0), f < 0.0)
    };
    let eprec: i32 = if prec < 0 {
        6
    } else {
        let mut e = if prec == 0 { 1 } else { prec };
        if e > digits.len() as i32 && digits.len() as i32 > exp {
            e = digits.len() as i32;
        }
        e
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= eprec {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exp.abs());
    } else {
        out.push_str(&fixed_from_digits(&digits, exp));
    }
    out
}

/// Shortest round-trip decimal digits and decimal exponent of |f|.
pub fn shortest_digits(f: f64) -> (String, i32, bool) {
    let s = format!("{:e}", f.abs());
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let d: String = m.chars().filter(|c| c.is_ascii_digit()).collect();
    (d, e.parse::<i32>().unwrap_or(0), f < 0.0)
}

fn fixed_from_digits(digits: &str, exp: i32) -> String {
    let mut out = String::new();
    if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let int_len = (exp + 1) as usize;
        if digits.len() <= int_len {
            out.push_str(digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

/// Formats a float as Go's encoding/json does.
pub fn fmt_float_json(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let a = f.abs();
    if (1e-6..1e21).contains(&a) {
        let (d, e, neg) = shortest_digits(f);
        let s = fixed_from_digits(&d, e);
        if neg { format!("-{s}") } else { s }
    } else {
        let (d, e, neg) = shortest_digits(f);
        let mut out = String::new();
        if neg {
            out.push('-');
        }
        out.push_str(&d[..1]);
        if d.len() > 1 {
            out.push('.');
            out.push_str(&d[1..]);
        }
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        let _ = write!(out, "{}", e.abs());
        out
    }
}

/// Formats like Go's `%f`-family with a precision.
pub fn fmt_float_f(f: f64, prec: usize) -> String {
    format!("{f:.prec$}")
}
