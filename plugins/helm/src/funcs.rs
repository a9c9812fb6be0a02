//! Template functions: Go's builtins, Sprig as Helm ships it, and Helm's own.

use crate::tmpl::exec::{Exec, ExecError};
use crate::value::{Map, Struct, Value, fmt_float_g};
use base64::Engine as _;
use std::rc::Rc;

type R<T> = Result<T, ExecError>;

// Sprig's crypto functions live in their own file; declared here (not in lib.rs) as
// funcs.rs is their only caller.
#[path = "crypto.rs"]
mod crypto;

/// Every function name known to the parser.
pub const FUNCS: &[&str] = &[
    "and",
    "or",
    "not",
    "len",
    "index",
    "slice",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "html",
    "js",
    "urlquery",
    "call",
    "include",
    "tpl",
    "required",
    "fail",
    "toYaml",
    "toYamlPretty",
    "mustToYaml",
    "fromYaml",
    "fromYamlArray",
    "toToml",
    "fromToml",
    "toJson",
    "mustToJson",
    "fromJson",
    "mustFromJson",
    "fromJsonArray",
    "mustFromJsonArray",
    "toPrettyJson",
    "mustToPrettyJson",
    "toRawJson",
    "mustToRawJson",
    "lookup",
    "abbrev",
    "abbrevboth",
    "trunc",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "upper",
    "lower",
    "title",
    "untitle",
    "substr",
    "repeat",
    "nospace",
    "initials",
    "randAlphaNum",
    "randAlpha",
    "randAscii",
    "randNumeric",
    "swapcase",
    "shuffle",
    "snakecase",
    "camelcase",
    "kebabcase",
    "wrap",
    "wrapWith",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "quote",
    "squote",
    "cat",
    "indent",
    "nindent",
    "replace",
    "plural",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "adler32sum",
    "toString",
    "atoi",
    "int",
    "int64",
    "float64",
    "seq",
    "toDecimal",
    "split",
    "splitList",
    "splitn",
    "toStrings",
    "join",
    "sortAlpha",
    "until",
    "untilStep",
    "add",
    "add1",
    "sub",
    "div",
    "mod",
    "mul",
    "max",
    "min",
    "biggest",
    "floor",
    "ceil",
    "round",
    "addf",
    "add1f",
    "subf",
    "divf",
    "mulf",
    "maxf",
    "minf",
    "randInt",
    "default",
    "empty",
    "coalesce",
    "all",
    "any",
    "compact",
    "mustCompact",
    "ternary",
    "deepCopy",
    "mustDeepCopy",
    "typeOf",
    "typeIs",
    "typeIsLike",
    "kindOf",
    "kindIs",
    "deepEqual",
    "b64enc",
    "b64dec",
    "b32enc",
    "b32dec",
    "tuple",
    "list",
    "dict",
    "get",
    "set",
    "unset",
    "hasKey",
    "pluck",
    "keys",
    "pick",
    "omit",
    "merge",
    "mergeOverwrite",
    "mustMerge",
    "mustMergeOverwrite",
    "values",
    "append",
    "push",
    "mustAppend",
    "mustPush",
    "prepend",
    "mustPrepend",
    "first",
    "mustFirst",
    "rest",
    "mustRest",
    "last",
    "mustLast",
    "initial",
    "mustInitial",
    "reverse",
    "mustReverse",
    "uniq",
    "mustUniq",
    "without",
    "mustWithout",
    "has",
    "mustHas",
    "mustSlice",
    "concat",
    "dig",
    "chunk",
    "mustChunk",
    "regexMatch",
    "mustRegexMatch",
    "regexFindAll",
    "mustRegexFindAll",
    "regexFind",
    "mustRegexFind",
    "regexReplaceAll",
    "mustRegexReplaceAll",
    "regexReplaceAllLiteral",
    "mustRegexReplaceAllLiteral",
    "regexSplit",
    "mustRegexSplit",
    "regexQuoteMeta",
    "semver",
    "semverCompare",
    "urlParse",
    "urlJoin",
    "now",
    "date",
    "dateInZone",
    "date_in_zone",
    "dateModify",
    "date_modify",
    "mustDateModify",
    "ago",
    "toDate",
    "mustToDate",
    "unixEpoch",
    "duration",
    "durationRound",
    "htmlDate",
    "htmlDateInZone",
    "genPrivateKey",
    "derivePassword",
    "buildCustomCert",
    "genCA",
    "genCAWithKey",
    "genSelfSignedCert",
    "genSelfSignedCertWithKey",
    "genSignedCert",
    "genSignedCertWithKey",
    "encryptAES",
    "decryptAES",
    "uuidv4",
    "bcrypt",
    "htpasswd",
    "getHostByName",
    "base",
    "dir",
    "ext",
    "clean",
    "isAbs",
    "osBase",
    "osDir",
    "osExt",
    "osClean",
    "osIsAbs",
    "fromYamlArray",
    "sha1",
    "randBytes",
    "hello",
];

/// Whether `name` is a known function.
pub fn is_func(name: &str) -> bool {
    use std::sync::OnceLock;
    static SET: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| FUNCS.iter().copied().collect())
        .contains(name)
}

/// Standard base64.
pub fn b64enc(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn fail(ex: &Exec, name: &str, msg: impl std::fmt::Display) -> ExecError {
    ex.error(format!("error calling {name}: {msg}"))
}

fn want(ex: &Exec, name: &str, args: &[Value], n: usize) -> R<()> {
    if args.len() != n {
        return Err(ex.error(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn want_min(ex: &Exec, name: &str, args: &[Value], n: usize) -> R<()> {
    if args.len() < n {
        return Err(ex.error(format!(
            "wrong number of args for {name}: want at least {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn sarg(ex: &Exec, args: &[Value], i: usize) -> R<String> {
    match args.get(i) {
        Some(Value::Str(s)) => Ok(s.to_string()),
        Some(Value::Nil) | None => Err(ex.error("invalid value; expected string")),
        Some(v) => Err(ex.error(format!(
            "wrong type for value; expected string; got {}",
            v.type_name()
        ))),
    }
}

fn iarg(ex: &Exec, args: &[Value], i: usize) -> R<i64> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(Value::Nil) | None => Err(ex.error("invalid value; expected int")),
        Some(v) => Err(ex.error(format!(
            "wrong type for value; expected int; got {}",
            v.type_name()
        ))),
    }
}

/// Sprig/cast `ToInt64`.
pub fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => {
            let t = s.trim();
            let t = trim_zero_decimal(t);
            parse_go_int(&t).unwrap_or(0)
        }
        _ => 0,
    }
}

fn trim_zero_decimal(s: &str) -> String {
    if let Some((a, b)) = s.split_once('.')
        && !b.is_empty()
        && b.bytes().all(|c| c == b'0')
    {
        return a.to_string();
    }
    s.to_string()
}

fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, b) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = b.strip_prefix("0x").or_else(|| b.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = b.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if let Some(bb) = b.strip_prefix("0b") {
        i64::from_str_radix(bb, 2).ok()?
    } else if b.len() > 1 && b.starts_with('0') {
        i64::from_str_radix(&b[1..], 8).ok()?
    } else {
        b.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Sprig/cast `ToFloat64`.
pub fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Sprig's `empty`.
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Struct(_) => false,
        other => !other.truthy(),
    }
}

/// Sprig's strslice.
fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l
            .iter()
            .filter(|x| !x.is_nil())
            .map(|x| x.strval())
            .collect(),
        Value::ApiVersions(l) => l.as_ref().clone(),
        Value::Nil => vec![],
        other => vec![other.strval()],
    }
}

fn list_arg(ex: &Exec, name: &str, v: &Value) -> R<Vec<Value>> {
    match v {
        Value::Nil => Ok(vec![]),
        other => other.as_list().ok_or_else(|| {
            fail(
                ex,
                name,
                format!(
                    "Cannot {} on type {}",
                    name.trim_start_matches("must").to_lowercase(),
                    other.type_name()
                ),
            )
        }),
    }
}

/// Deep copy (new maps).
pub fn deep_copy(v: &Value) -> Value {
    match v {
        Value::Map(m) => {
            let mut n = Map::new();
            for (k, x) in m.borrow().iter() {
                n.insert(k.clone(), deep_copy(x));
            }
            Value::map(n)
        }
        Value::List(l) => Value::List(Rc::new(l.iter().map(deep_copy).collect())),
        other => other.clone(),
    }
}

/// mergo-style merge of `src` into `dst` (in place).
pub fn merge_into(dst: &Value, src: &Value, overwrite: bool) {
    let (Value::Map(d), Value::Map(s)) = (dst, src) else {
        return;
    };
    if Rc::ptr_eq(d, s) {
        return;
    }
    let s = s.borrow().clone();
    for (k, sv) in s.iter() {
        let dv = d.borrow().get(k).cloned();
        match dv {
            Some(dv @ Value::Map(_)) if matches!(sv, Value::Map(_)) => {
                merge_into(&dv, sv, overwrite)
            }
            Some(dv) => {
                if is_empty(&dv) || overwrite {
                    d.borrow_mut().insert(k.clone(), sv.clone());
                }
            }
            None => {
                d.borrow_mut().insert(k.clone(), sv.clone());
            }
        }
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
    Nil,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        Value::Nil => Kind::Nil,
        _ => Kind::Other,
    }
}

fn go_eq(ex: &Exec, a: &Value, b: &Value) -> R<bool> {
    let (ka, kb) = (kind(a), kind(b));
    if ka != kb {
        if ka == Kind::Nil || kb == Kind::Nil {
            return Ok(false);
        }
        return Err(fail(ex, "eq", "incompatible types for comparison"));
    }
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Nil, Value::Nil) => true,
        _ => {
            if matches!(a, Value::Map(_) | Value::List(_))
                || matches!(b, Value::Map(_) | Value::List(_))
            {
                return Err(fail(
                    ex,
                    "eq",
                    format!("non-comparable type {}: {}", a.to_v(), a.type_name()),
                ));
            }
            a.deep_eq(b)
        }
    })
}

fn go_lt(ex: &Exec, name: &str, a: &Value, b: &Value) -> R<bool> {
    let (ka, kb) = (kind(a), kind(b));
    if matches!(ka, Kind::Other | Kind::Nil | Kind::Bool)
        || matches!(kb, Kind::Other | Kind::Nil | Kind::Bool)
    {
        return Err(fail(ex, name, "invalid type for comparison"));
    }
    if ka != kb {
        return Err(fail(ex, name, "incompatible types for comparison"));
    }
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x < y,
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Str(x), Value::Str(y)) => x < y,
        _ => false,
    })
}

fn regex(ex: &Exec, name: &str, pat: &str) -> R<regex::Regex> {
    cached_regex(pat).map_err(|e| fail(ex, name, format!("error parsing regexp: {e}")))
}

/// Compiles a regex once per thread (charts call the same regex functions in loops).
pub fn cached_regex(pat: &str) -> Result<regex::Regex, regex::Error> {
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<String, regex::Regex>> = Default::default();
    }
    CACHE.with(|c| {
        if let Some(r) = c.borrow().get(pat) {
            return Ok(r.clone());
        }
        let r = regex::Regex::new(pat)?;
        let mut c = c.borrow_mut();
        if c.len() > 4096 {
            c.clear();
        }
        c.insert(pat.to_string(), r.clone());
        Ok(r)
    })
}

fn rand_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    let _ = getrandom::fill(&mut b);
    b
}

fn rand_string(n: i64, charset: &[u8]) -> String {
    let n = n.clamp(0, 1 << 20) as usize;
    rand_bytes(n)
        .iter()
        .map(|b| charset[*b as usize % charset.len()] as char)
        .collect()
}

/// Calls a function by name.
pub fn call(ex: &mut Exec, name: &str, args: Vec<Value>, _dot: &Value) -> R<Value> {
    let a = &args;
    let v: Value = match name {
        // ---------------------------------------------------------------- Go builtins
        "not" => {
            want(ex, name, a, 1)?;
            Value::Bool(!a[0].truthy())
        }
        "len" => {
            want(ex, name, a, 1)?;
            match a[0].length() {
                Some(n) => Value::Int(n as i64),
                None => return Err(fail(ex, name, format!("len of type {}", a[0].type_name()))),
            }
        }
        "index" => {
            want_min(ex, name, a, 1)?;
            let mut cur = a[0].clone();
            for idx in &a[1..] {
                cur = match &cur {
                    Value::List(_) | Value::ApiVersions(_) | Value::Bytes(_) | Value::Str(_) => {
                        let i = match idx {
                            Value::Int(i) => *i,
                            Value::Float(_) => return Err(fail(ex, name, "cannot index slice/array with type float64")),
                            other => return Err(fail(ex, name, format!("cannot index slice/array with type {}", other.type_name()))),
                        };
                        if let Value::Str(s) = &cur {
                            match s.as_bytes().get(i as usize) {
                                Some(b) if i >= 0 => Value::Int(*b as i64),
                                _ => return Err(fail(ex, name, format!("index out of range: {i}"))),
                            }
                        } else {
                            let l = cur.as_list().unwrap_or_default();
                            if i < 0 || i as usize >= l.len() {
                                return Err(fail(ex, name, format!("index out of range: {i}")));
                            }
                            l[i as usize].clone()
                        }
                    }
                    Value::Map(m) => {
                        let k = match idx {
                            Value::Str(s) => s.to_string(),
                            Value::Nil => return Err(fail(ex, name, "value is nil; should be of type string")),
                            other => return Err(fail(ex, name, format!("value has type {}; should be string", other.type_name()))),
                        };
                        m.borrow().get(&k).cloned().unwrap_or(Value::Nil)
                    }
                    Value::Files(f) => {
                        let k = idx.strval();
                        f.entries.get(&k).map(|d| Value::Bytes(d.clone())).unwrap_or(Value::Nil)
                    }
                    Value::Nil => return Err(fail(ex, name, "index of untyped nil")),
                    other => return Err(fail(ex, name, format!("can't index item of type {}", other.type_name()))),
                };
            }
            cur
        }
        "slice" | "mustSlice" => {
            want_min(ex, name, a, 1)?;
            let idx: Vec<i64> = a[1..].iter().map(to_i64).collect();
            match &a[0] {
                // Sprig's slice replaces Go's builtin and only takes lists.
                Value::Str(_) | Value::Nil | Value::Map(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                    return Err(fail(ex, name, format!("list should be type of slice or array but {}", a[0].kind_name())));
                }
                other => {
                    let l = list_arg(ex, name, other)?;
                    let st = idx.first().copied().unwrap_or(0).max(0) as usize;
                    let en = idx.get(1).copied().map(|x| x as usize).unwrap_or(l.len());
                    if st > en || en > l.len() {
                        return Err(fail(ex, name, format!("index out of range: {en}")));
                    }
                    Value::List(Rc::new(l[st..en].to_vec()))
                }
            }
        }
        "print" => Value::str(sprint(a)),
        "println" => {
            let mut s = a.iter().map(|x| x.to_v()).collect::<Vec<_>>().join(" ");
            s.push('\n');
            Value::str(s)
        }
        "printf" => {
            want_min(ex, name, a, 1)?;
            let f = sarg(ex, a, 0)?;
            Value::str(crate::printf::sprintf(&f, &a[1..]))
        }
        "eq" => {
            want_min(ex, name, a, 2)?;
            let mut r = false;
            for b in &a[1..] {
                if go_eq(ex, &a[0], b)? {
                    r = true;
                    break;
                }
            }
            Value::Bool(r)
        }
        "ne" => {
            want(ex, name, a, 2)?;
            Value::Bool(!go_eq(ex, &a[0], &a[1])?)
        }
        "lt" => {
            want(ex, name, a, 2)?;
            Value::Bool(go_lt(ex, name, &a[0], &a[1])?)
        }
        "le" => {
            want(ex, name, a, 2)?;
            Value::Bool(go_lt(ex, name, &a[0], &a[1])? || go_eq(ex, &a[0], &a[1])?)
        }
        "gt" => {
            want(ex, name, a, 2)?;
            Value::Bool(!(go_lt(ex, name, &a[0], &a[1])? || go_eq(ex, &a[0], &a[1])?))
        }
        "ge" => {
            want(ex, name, a, 2)?;
            Value::Bool(!go_lt(ex, name, &a[0], &a[1])?)
        }
        "html" => Value::str(html_escape(&sprint(a))),
        "js" => Value::str(js_escape(&sprint(a))),
        "urlquery" => Value::str(url_query_escape(&sprint(a))),
        "call" => return Err(fail(ex, name, "call is not supported")),
        // ---------------------------------------------------------------- Helm
        "include" => {
            want(ex, name, a, 2)?;
            let n = sarg(ex, a, 0)?;
            return include(ex, &n, a[1].clone());
        }
        "tpl" => {
            want(ex, name, a, 2)?;
            let t = sarg(ex, a, 0)?;
            return crate::render::tpl(ex, &t, a[1].clone());
        }
        "required" => {
            want(ex, name, a, 2)?;
            let msg = sarg(ex, a, 0)?;
            match &a[1] {
                Value::Nil => return Err(user_error(ex, &msg)),
                Value::Str(s) if s.is_empty() => return Err(user_error(ex, &msg)),
                v => v.clone(),
            }
        }
        "fail" => {
            want(ex, name, a, 1)?;
            let msg = sarg(ex, a, 0)?;
            return Err(user_error(ex, &msg));
        }
        "lookup" => Value::map(Map::new()),
        "toYaml" | "mustToYaml" | "toYamlPretty" => {
            want(ex, name, a, 1)?;
            let y = crate::yaml::to_yaml_styled(&a[0], name == "toYamlPretty");
            Value::str(y.strip_suffix('\n').unwrap_or(&y))
        }
        "fromYaml" => {
            want(ex, name, a, 1)?;
            let s = sarg(ex, a, 0)?;
            match crate::yaml::parse(&s, true) {
                Ok(Value::Map(m)) => Value::Map(m),
                Ok(Value::Nil) => Value::map(Map::new()),
                Ok(other) => error_map(&format!(
                    "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    json_kind(&other)
                )),
                Err(e) => error_map(&format!("error converting YAML to JSON: {e}")),
            }
        }
        "fromYamlArray" => {
            want(ex, name, a, 1)?;
            let s = sarg(ex, a, 0)?;
            match crate::yaml::parse(&s, true) {
                Ok(Value::List(l)) => Value::List(l),
                Ok(Value::Nil) => Value::List(Rc::new(vec![])),
                Ok(other) => Value::List(Rc::new(vec![Value::str(format!(
                    "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
                    json_kind(&other)
                ))])),
                Err(e) => Value::List(Rc::new(vec![Value::str(format!("error converting YAML to JSON: {e}"))])),
            }
        }
        "toToml" => {
            want(ex, name, a, 1)?;
            Value::str(crate::toml::encode(&a[0]))
        }
        "fromToml" => {
            want(ex, name, a, 1)?;
            match crate::toml::parse(&sarg(ex, a, 0)?) {
                Ok(m) => Value::map(m),
                Err(e) => error_map(&e),
            }
        }
        "toJson" | "mustToJson" | "toRawJson" | "mustToRawJson" => {
            want(ex, name, a, 1)?;
            let mut s = crate::json::encode(&a[0], None);
            if name.ends_with("RawJson") {
                s = s.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&");
            }
            Value::str(s)
        }
        "toPrettyJson" | "mustToPrettyJson" => {
            want(ex, name, a, 1)?;
            Value::str(crate::json::encode(&a[0], Some("  ")))
        }
        "fromJson" | "mustFromJson" => {
            want(ex, name, a, 1)?;
            let s = sarg(ex, a, 0)?;
            match crate::json::parse(&s) {
                Ok(v @ Value::Map(_)) => v,
                Ok(other) if name == "mustFromJson" => {
                    return Err(fail(ex, name, format!("json: cannot unmarshal {} into Go value of type map[string]interface {{}}", json_kind(&other))));
                }
                Ok(_) => error_map("json: cannot unmarshal into Go value of type map[string]interface {}"),
                Err(e) => {
                    if name == "mustFromJson" {
                        return Err(fail(ex, name, e));
                    }
                    error_map(&e)
                }
            }
        }
        "fromJsonArray" | "mustFromJsonArray" => {
            want(ex, name, a, 1)?;
            let s = sarg(ex, a, 0)?;
            match crate::json::parse(&s) {
                Ok(v @ Value::List(_)) => v,
                Ok(_) | Err(_) if name == "mustFromJsonArray" => return Err(fail(ex, name, "invalid JSON array")),
                Ok(_) => Value::List(Rc::new(vec![])),
                Err(e) => Value::List(Rc::new(vec![Value::str(e)])),
            }
        }
        // ---------------------------------------------------------------- strings
        "abbrev" => {
            want(ex, name, a, 2)?;
            let w = iarg(ex, a, 0)?;
            let s = sarg(ex, a, 1)?;
            if w < 4 || s.chars().count() as i64 <= w {
                Value::str(s)
            } else {
                let t: String = s.chars().take((w - 3) as usize).collect();
                Value::str(format!("{t}..."))
            }
        }
        "abbrevboth" => {
            want(ex, name, a, 3)?;
            let l = iarg(ex, a, 0)?;
            let r = iarg(ex, a, 1)?;
            Value::str(abbrev_both(&sarg(ex, a, 2)?, l, r))
        }
        "trunc" => {
            want(ex, name, a, 2)?;
            let c = iarg(ex, a, 0)?;
            let s = sarg(ex, a, 1)?;
            let l = s.len() as i64;
            let r = if c < 0 && l + c > 0 {
                s.get((l + c) as usize..).unwrap_or(&s).to_string()
            } else if c >= 0 && l > c {
                s.get(..c as usize).unwrap_or(&s).to_string()
            } else {
                s.clone()
            };
            Value::str(r)
        }
        "trim" => Value::str(sarg(ex, a, 0)?.trim_matches(go_space)),
        "trimAll" => {
            want(ex, name, a, 2)?;
            let cut: Vec<char> = sarg(ex, a, 0)?.chars().collect();
            Value::str(sarg(ex, a, 1)?.trim_matches(|c| cut.contains(&c)))
        }
        "trimPrefix" => {
            want(ex, name, a, 2)?;
            let p = sarg(ex, a, 0)?;
            let s = sarg(ex, a, 1)?;
            Value::str(s.strip_prefix(p.as_str()).unwrap_or(&s))
        }
        "trimSuffix" => {
            want(ex, name, a, 2)?;
            let p = sarg(ex, a, 0)?;
            let s = sarg(ex, a, 1)?;
            Value::str(s.strip_suffix(p.as_str()).unwrap_or(&s))
        }
        "upper" => Value::str(sarg(ex, a, 0)?.to_uppercase()),
        "lower" => Value::str(sarg(ex, a, 0)?.to_lowercase()),
        "title" => Value::str(title(&sarg(ex, a, 0)?)),
        "untitle" => {
            let s = sarg(ex, a, 0)?;
            let mut out = String::new();
            let mut prev_space = true;
            for c in s.chars() {
                if prev_space && c.is_alphabetic() {
                    out.extend(c.to_lowercase());
                } else {
                    out.push(c);
                }
                prev_space = c.is_whitespace();
            }
            Value::str(out)
        }
        "substr" => {
            want(ex, name, a, 3)?;
            let st = iarg(ex, a, 0)?;
            let en = iarg(ex, a, 1)?;
            let s = sarg(ex, a, 2)?;
            let l = s.len() as i64;
            let r = if st < 0 {
                s.get(..en.clamp(0, l) as usize).unwrap_or("")
            } else if en < 0 || en > l {
                s.get(st.min(l) as usize..).unwrap_or("")
            } else {
                s.get(st as usize..en.max(st) as usize).unwrap_or("")
            };
            Value::str(r)
        }
        "repeat" => {
            want(ex, name, a, 2)?;
            let n = iarg(ex, a, 0)?;
            let s = sarg(ex, a, 1)?;
            if n < 0 || (n as usize).saturating_mul(s.len()) > crate::tmpl::exec::MAX_OUTPUT {
                return Err(fail(ex, name, "strings: Repeat output length overflow"));
            }
            Value::str(s.repeat(n as usize))
        }
        "nospace" => Value::str(sarg(ex, a, 0)?.chars().filter(|c| !c.is_whitespace()).collect::<String>()),
        "initials" => Value::str(
            sarg(ex, a, 0)?.split_whitespace().filter_map(|w| w.chars().next()).collect::<String>(),
        ),
        "randAlphaNum" => Value::str(rand_string(iarg(ex, a, 0)?, b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")),
        "randAlpha" => Value::str(rand_string(iarg(ex, a, 0)?, b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")),
        "randNumeric" => Value::str(rand_string(iarg(ex, a, 0)?, b"0123456789")),
        "randAscii" => Value::str(rand_string(iarg(ex, a, 0)?, b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~")),
        "randBytes" => Value::str(b64enc(&rand_bytes(iarg(ex, a, 0)?.clamp(0, 1 << 20) as usize))),
        "randInt" => {
            let lo = to_i64(&a[0]);
            let hi = to_i64(a.get(1).unwrap_or(&Value::Nil));
            if hi <= lo {
                Value::Int(lo)
            } else {
                let r = u64::from_le_bytes(rand_bytes(8).try_into().unwrap_or([0; 8]));
                Value::Int(lo + (r % (hi - lo) as u64) as i64)
            }
        }
        "swapcase" => Value::str(
            sarg(ex, a, 0)?
                .chars()
                .map(|c| if c.is_uppercase() { c.to_lowercase().next().unwrap_or(c) } else { c.to_uppercase().next().unwrap_or(c) })
                .collect::<String>(),
        ),
        "shuffle" => Value::str(sarg(ex, a, 0)?),
        "snakecase" => Value::str(snake(&sarg(ex, a, 0)?, '_')),
        "kebabcase" => Value::str(snake(&sarg(ex, a, 0)?, '-')),
        "camelcase" => Value::str(camel(&sarg(ex, a, 0)?)),
        "wrap" => {
            let w = iarg(ex, a, 0)?;
            Value::str(wrap(&sarg(ex, a, 1)?, w as usize, "\n"))
        }
        "wrapWith" => {
            let w = iarg(ex, a, 0)?;
            let sep = sarg(ex, a, 1)?;
            Value::str(wrap(&sarg(ex, a, 2)?, w as usize, &sep))
        }
        "contains" => {
            want(ex, name, a, 2)?;
            Value::Bool(sarg(ex, a, 1)?.contains(sarg(ex, a, 0)?.as_str()))
        }
        "hasPrefix" => {
            want(ex, name, a, 2)?;
            Value::Bool(sarg(ex, a, 1)?.starts_with(sarg(ex, a, 0)?.as_str()))
        }
        "hasSuffix" => {
            want(ex, name, a, 2)?;
            Value::Bool(sarg(ex, a, 1)?.ends_with(sarg(ex, a, 0)?.as_str()))
        }
        "quote" => Value::str(
            a.iter().filter(|x| !x.is_nil()).map(|x| crate::printf::go_quote(&x.strval())).collect::<Vec<_>>().join(" "),
        ),
        "squote" => Value::str(a.iter().filter(|x| !x.is_nil()).map(|x| format!("'{}'", x.strval())).collect::<Vec<_>>().join(" ")),
        "cat" => Value::str(a.iter().filter(|x| !x.is_nil()).map(|x| x.strval()).collect::<Vec<_>>().join(" ")),
        "indent" | "nindent" => {
            want(ex, name, a, 2)?;
            let n = iarg(ex, a, 0)?;
            let s = sarg(ex, a, 1)?;
            let pad = " ".repeat(n.clamp(0, 1 << 16) as usize);
            let r = format!("{pad}{}", s.replace('\n', &format!("\n{pad}")));
            Value::str(if name == "nindent" { format!("\n{r}") } else { r })
        }
        "replace" => {
            want(ex, name, a, 3)?;
            let old = sarg(ex, a, 0)?;
            let new = sarg(ex, a, 1)?;
            let s = sarg(ex, a, 2)?;
            Value::str(go_replace(&s, &old, &new))
        }
        "plural" => {
            want(ex, name, a, 3)?;
            let n = iarg(ex, a, 2)?;
            if n == 1 { Value::str(sarg(ex, a, 0)?) } else { Value::str(sarg(ex, a, 1)?) }
        }
        "sha1sum" | "sha1" => {
            use sha1::Digest;
            Value::str(hex(&sha1::Sha1::digest(sarg(ex, a, 0)?.as_bytes())))
        }
        "sha256sum" => {
            use sha2::Digest;
            Value::str(hex(&sha2::Sha256::digest(sarg(ex, a, 0)?.as_bytes())))
        }
        "sha512sum" => {
            use sha2::Digest;
            Value::str(hex(&sha2::Sha512::digest(sarg(ex, a, 0)?.as_bytes())))
        }
        "adler32sum" => {
            let s = sarg(ex, a, 0)?;
            let (mut x, mut y) = (1u32, 0u32);
            for b in s.bytes() {
                x = (x + b as u32) % 65521;
                y = (y + x) % 65521;
            }
            Value::str(((y << 16) | x).to_string())
        }
        "toString" => {
            want(ex, name, a, 1)?;
            match &a[0] {
                // Go strings carry raw bytes; keep non-UTF-8 data as bytes so b64enc round-trips it.
                Value::Bytes(b) if std::str::from_utf8(b).is_err() => a[0].clone(),
                other => Value::str(other.strval()),
            }
        }
        "atoi" => Value::Int(sarg(ex, a, 0)?.trim().parse::<i64>().unwrap_or(0)),
        "int" | "int64" => {
            want(ex, name, a, 1)?;
            Value::Int(to_i64(&a[0]))
        }
        "float64" => {
            want(ex, name, a, 1)?;
            Value::Float(to_f64(&a[0]))
        }
        "toDecimal" => Value::Int(i64::from_str_radix(&a[0].strval(), 8).unwrap_or(0)),
        "seq" => {
            let n: Vec<i64> = a.iter().map(to_i64).collect();
            let (s, e, st) = match n.len() {
                1 => (1, n[0], 1),
                2 => (n[0], n[1], if n[1] >= n[0] { 1 } else { -1 }),
                3 => (n[0], n[2], n[1]),
                _ => (1, 0, 1),
            };
            let mut out = Vec::new();
            let mut i = s;
            if st != 0 {
                while (st > 0 && i <= e) || (st < 0 && i >= e) {
                    out.push(i.to_string());
                    i += st;
                    if out.len() > 10_000_000 {
                        break;
                    }
                }
            }
            Value::str(out.join(" "))
        }
        "split" | "splitn" => {
            let (sep, s, n) = if name == "split" {
                (sarg(ex, a, 0)?, sarg(ex, a, 1)?, -1)
            } else {
                (sarg(ex, a, 0)?, sarg(ex, a, 2)?, iarg(ex, a, 1)?)
            };
            let parts = go_split(&s, &sep, n);
            let mut m = Map::new();
            for (i, p) in parts.into_iter().enumerate() {
                m.insert(format!("_{i}"), Value::str(p));
            }
            Value::map(m)
        }
        "splitList" => {
            want(ex, name, a, 2)?;
            let sep = sarg(ex, a, 0)?;
            let s = sarg(ex, a, 1)?;
            Value::List(Rc::new(go_split(&s, &sep, -1).into_iter().map(Value::str).collect()))
        }
        "toStrings" => Value::List(Rc::new(strslice(&a[0]).into_iter().map(Value::str).collect())),
        "join" => {
            want(ex, name, a, 2)?;
            let sep = sarg(ex, a, 0)?;
            Value::str(strslice(&a[1]).join(&sep))
        }
        "sortAlpha" => {
            let mut l = strslice(&a[0]);
            l.sort();
            Value::List(Rc::new(l.into_iter().map(Value::str).collect()))
        }
        "until" => {
            let n = iarg(ex, a, 0)?;
            if n.unsigned_abs() > crate::tmpl::exec::MAX_STEPS {
                return Err(fail(ex, name, "too many elements"));
            }
            let v: Vec<Value> = if n >= 0 { (0..n).map(Value::Int).collect() } else { (n + 1..=0).rev().map(Value::Int).collect() };
            Value::List(Rc::new(v))
        }
        "untilStep" => {
            let (s, e, st) = (iarg(ex, a, 0)?, iarg(ex, a, 1)?, iarg(ex, a, 2)?);
            let mut v = Vec::new();
            if st != 0 {
                let mut i = s;
                while (st > 0 && i < e) || (st < 0 && i > e) {
                    v.push(Value::Int(i));
                    i += st;
                    if v.len() as u64 > crate::tmpl::exec::MAX_STEPS {
                        return Err(fail(ex, name, "too many elements"));
                    }
                }
            }
            Value::List(Rc::new(v))
        }
        // ---------------------------------------------------------------- math
        "add" => Value::Int(a.iter().map(to_i64).fold(0i64, |x, y| x.wrapping_add(y))),
        "add1" => Value::Int(to_i64(&a[0]).wrapping_add(1)),
        "sub" => {
            want(ex, name, a, 2)?;
            Value::Int(to_i64(&a[0]).wrapping_sub(to_i64(&a[1])))
        }
        "mul" => Value::Int(a.iter().map(to_i64).fold(1i64, |x, y| x.wrapping_mul(y))),
        "div" | "mod" => {
            want(ex, name, a, 2)?;
            let d = to_i64(&a[1]);
            if d == 0 {
                return Err(fail(ex, name, "runtime error: integer divide by zero"));
            }
            let n = to_i64(&a[0]);
            Value::Int(if name == "div" { n.wrapping_div(d) } else { n.wrapping_rem(d) })
        }
        "max" | "biggest" => Value::Int(a.iter().map(to_i64).max().unwrap_or(0)),
        "min" => Value::Int(a.iter().map(to_i64).min().unwrap_or(0)),
        "floor" => Value::Float(to_f64(&a[0]).floor()),
        "ceil" => Value::Float(to_f64(&a[0]).ceil()),
        "round" => {
            let x = to_f64(&a[0]);
            let p = to_i64(a.get(1).unwrap_or(&Value::Int(0)));
            let m = 10f64.powi(p as i32);
            Value::Float((x * m).round() / m)
        }
        "addf" => Value::Float(dec_fold(a, 0, Dec::add)),
        "add1f" => Value::Float(to_f64(&a[0]) + 1.0),
        "subf" => {
            want_min(ex, name, a, 1)?;
            let first = Dec::from_f64(to_f64(&a[0]));
            Value::Float(a[1..].iter().fold(first, |x, y| x.sub(Dec::from_f64(to_f64(y)))).to_f64())
        }
        "mulf" => Value::Float(dec_fold(a, 1, Dec::mul)),
        "divf" => Value::Float(a[1..].iter().map(to_f64).fold(to_f64(&a[0]), |x, y| x / y)),
        "maxf" => Value::Float(a.iter().map(to_f64).fold(f64::MIN, f64::max)),
        "minf" => Value::Float(a.iter().map(to_f64).fold(f64::MAX, f64::min)),
        // ---------------------------------------------------------------- defaults
        "default" => {
            want_min(ex, name, a, 1)?;
            if a.len() < 2 || is_empty(&a[1]) { a[0].clone() } else { a[1].clone() }
        }
        "empty" => {
            want(ex, name, a, 1)?;
            Value::Bool(is_empty(&a[0]))
        }
        "coalesce" => a.iter().find(|x| !is_empty(x)).cloned().unwrap_or(Value::Nil),
        "all" => Value::Bool(a.iter().all(|x| !is_empty(x))),
        "any" => Value::Bool(a.iter().any(|x| !is_empty(x))),
        "compact" | "mustCompact" => {
            let l = list_arg(ex, name, &a[0])?;
            Value::List(Rc::new(l.into_iter().filter(|x| !is_empty(x)).collect()))
        }
        "ternary" => {
            want(ex, name, a, 3)?;
            let c = match &a[2] {
                Value::Bool(b) => *b,
                other => return Err(ex.error(format!("wrong type for value; expected bool; got {}", other.type_name()))),
            };
            if c { a[0].clone() } else { a[1].clone() }
        }
        "deepCopy" | "mustDeepCopy" => deep_copy(&a[0]),
        "typeOf" => Value::str(a[0].type_name()),
        "typeIs" => Value::Bool(sarg(ex, a, 0)? == a[1].type_name()),
        "typeIsLike" => {
            let t = sarg(ex, a, 0)?;
            let n = a[1].type_name();
            Value::Bool(t == n || t == format!("*{n}"))
        }
        "kindOf" => Value::str(a[0].kind_name()),
        "kindIs" => {
            want(ex, name, a, 2)?;
            Value::Bool(sarg(ex, a, 0)? == a[1].kind_name())
        }
        "deepEqual" => Value::Bool(a[0].deep_eq(&a[1])),
        // ---------------------------------------------------------------- encoding
        "b64enc" => match a.first() {
            Some(Value::Bytes(b)) => Value::str(b64enc(b)),
            _ => Value::str(b64enc(sarg(ex, a, 0)?.as_bytes())),
        },
        "b64dec" => Value::str(match base64::engine::general_purpose::STANDARD.decode(sarg(ex, a, 0)?) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => e.to_string(),
        }),
        "b32enc" => Value::str(b32enc(sarg(ex, a, 0)?.as_bytes())),
        "b32dec" => Value::str(b32dec(&sarg(ex, a, 0)?).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()),
        // ---------------------------------------------------------------- lists and dicts
        "list" | "tuple" => Value::List(Rc::new(a.clone())),
        "dict" => {
            let mut m = Map::new();
            let mut i = 0;
            while i < a.len() {
                let k = a[i].strval();
                let v = a.get(i + 1).cloned().unwrap_or_else(|| Value::str(""));
                m.insert(k, v);
                i += 2;
            }
            Value::map(m)
        }
        "get" => {
            want(ex, name, a, 2)?;
            let k = sarg(ex, a, 1)?;
            match &a[0] {
                Value::Map(m) => m.borrow().get(&k).cloned().unwrap_or_else(|| Value::str("")),
                _ => return Err(ex.error(format!("wrong type for value; expected map[string]interface {{}}; got {}", a[0].type_name()))),
            }
        }
        "set" => {
            want(ex, name, a, 3)?;
            let k = sarg(ex, a, 1)?;
            match &a[0] {
                Value::Map(m) => {
                    m.borrow_mut().insert(k, a[2].clone());
                    a[0].clone()
                }
                _ => return Err(ex.error(format!("wrong type for value; expected map[string]interface {{}}; got {}", a[0].type_name()))),
            }
        }
        "unset" => {
            want(ex, name, a, 2)?;
            let k = sarg(ex, a, 1)?;
            match &a[0] {
                Value::Map(m) => {
                    m.borrow_mut().remove(&k);
                    a[0].clone()
                }
                _ => return Err(ex.error(format!("wrong type for value; expected map[string]interface {{}}; got {}", a[0].type_name()))),
            }
        }
        "hasKey" => {
            want(ex, name, a, 2)?;
            let k = sarg(ex, a, 1)?;
            match &a[0] {
                Value::Map(m) => Value::Bool(m.borrow().contains_key(&k)),
                _ => return Err(ex.error(format!("wrong type for value; expected map[string]interface {{}}; got {}", a[0].type_name()))),
            }
        }
        "pluck" => {
            let k = sarg(ex, a, 0)?;
            let mut out = Vec::new();
            for d in &a[1..] {
                if let Value::Map(m) = d
                    && let Some(v) = m.borrow().get(&k) {
                        out.push(v.clone());
                    }
            }
            Value::List(Rc::new(out))
        }
        "keys" => {
            let mut ks: Vec<String> = Vec::new();
            for d in a {
                if let Value::Map(m) = d {
                    ks.extend(m.borrow().keys().cloned());
                }
            }
            Value::List(Rc::new(ks.into_iter().map(Value::str).collect()))
        }
        "values" => match &a[0] {
            Value::Map(m) => Value::List(Rc::new(m.borrow().values().cloned().collect())),
            _ => Value::List(Rc::new(vec![])),
        },
        "pick" | "omit" => {
            let Value::Map(m) = &a[0] else {
                return Err(ex.error(format!("wrong type for value; expected map[string]interface {{}}; got {}", a[0].type_name())));
            };
            let ks: Vec<String> = a[1..].iter().map(|x| x.strval()).collect();
            let mut out = Map::new();
            for (k, v) in m.borrow().iter() {
                if ks.contains(k) == (name == "pick") {
                    out.insert(k.clone(), v.clone());
                }
            }
            Value::map(out)
        }
        "merge" | "mergeOverwrite" | "mustMerge" | "mustMergeOverwrite" => {
            want_min(ex, name, a, 1)?;
            if !matches!(a[0], Value::Map(_)) {
                return Err(ex.error(format!("wrong type for value; expected map[string]interface {{}}; got {}", a[0].type_name())));
            }
            for s in &a[1..] {
                merge_into(&a[0], s, name.contains("Overwrite"));
            }
            a[0].clone()
        }
        "append" | "push" | "mustAppend" | "mustPush" => {
            want(ex, name, a, 2)?;
            let mut l = list_arg(ex, name, &a[0])?;
            l.push(a[1].clone());
            Value::List(Rc::new(l))
        }
        "prepend" | "mustPrepend" => {
            want(ex, name, a, 2)?;
            let mut l = list_arg(ex, name, &a[0])?;
            l.insert(0, a[1].clone());
            Value::List(Rc::new(l))
        }
        "first" | "mustFirst" => list_arg(ex, name, &a[0])?.first().cloned().unwrap_or(Value::Nil),
        "last" | "mustLast" => list_arg(ex, name, &a[0])?.last().cloned().unwrap_or(Value::Nil),
        "rest" | "mustRest" => {
            let l = list_arg(ex, name, &a[0])?;
            if l.is_empty() { Value::Nil } else { Value::List(Rc::new(l[1..].to_vec())) }
        }
        "initial" | "mustInitial" => {
            let l = list_arg(ex, name, &a[0])?;
            if l.is_empty() { Value::Nil } else { Value::List(Rc::new(l[..l.len() - 1].to_vec())) }
        }
        "reverse" | "mustReverse" => {
            let mut l = list_arg(ex, name, &a[0])?;
            l.reverse();
            Value::List(Rc::new(l))
        }
        "uniq" | "mustUniq" => {
            let l = list_arg(ex, name, &a[0])?;
            let mut out: Vec<Value> = Vec::new();
            for x in l {
                if !out.iter().any(|y| y.deep_eq(&x)) {
                    out.push(x);
                }
            }
            Value::List(Rc::new(out))
        }
        "without" | "mustWithout" => {
            let l = list_arg(ex, name, &a[0])?;
            let out: Vec<Value> = l.into_iter().filter(|x| !a[1..].iter().any(|y| y.deep_eq(x))).collect();
            Value::List(Rc::new(out))
        }
        "has" | "mustHas" => {
            want(ex, name, a, 2)?;
            let l = list_arg(ex, name, &a[1])?;
            Value::Bool(l.iter().any(|x| x.deep_eq(&a[0])))
        }
        "concat" => {
            let mut out = Vec::new();
            for l in a {
                out.extend(list_arg(ex, name, l)?);
            }
            Value::List(Rc::new(out))
        }
        "dig" => {
            want_min(ex, name, a, 3)?;
            let n = a.len();
            let mut cur = a[n - 1].clone();
            let def = a[n - 2].clone();
            for k in &a[..n - 2] {
                let ks = sarg(ex, std::slice::from_ref(k), 0)?;
                let next = match &cur {
                    Value::Map(m) => m.borrow().get(&ks).cloned(),
                    _ => None,
                };
                match next {
                    Some(v) => cur = v,
                    None => return Ok(def),
                }
            }
            cur
        }
        "chunk" | "mustChunk" => {
            let n = iarg(ex, a, 0)?.max(1) as usize;
            let l = list_arg(ex, name, &a[1])?;
            Value::List(Rc::new(l.chunks(n).map(|c| Value::List(Rc::new(c.to_vec()))).collect()))
        }
        // ---------------------------------------------------------------- regex
        "regexMatch" | "mustRegexMatch" => {
            want(ex, name, a, 2)?;
            Value::Bool(regex(ex, name, &sarg(ex, a, 0)?)?.is_match(&sarg(ex, a, 1)?))
        }
        "regexFind" | "mustRegexFind" => {
            let re = regex(ex, name, &sarg(ex, a, 0)?)?;
            Value::str(re.find(&sarg(ex, a, 1)?).map(|m| m.as_str().to_string()).unwrap_or_default())
        }
        "regexFindAll" | "mustRegexFindAll" => {
            let re = regex(ex, name, &sarg(ex, a, 0)?)?;
            let s = sarg(ex, a, 1)?;
            let n = iarg(ex, a, 2)?;
            let it = re.find_iter(&s).map(|m| Value::str(m.as_str()));
            let v: Vec<Value> = if n < 0 { it.collect() } else { it.take(n as usize).collect() };
            Value::List(Rc::new(v))
        }
        "regexReplaceAll" | "mustRegexReplaceAll" => {
            let re = regex(ex, name, &sarg(ex, a, 0)?)?;
            Value::str(re.replace_all(&sarg(ex, a, 1)?, sarg(ex, a, 2)?.as_str()))
        }
        "regexReplaceAllLiteral" | "mustRegexReplaceAllLiteral" => {
            let re = regex(ex, name, &sarg(ex, a, 0)?)?;
            Value::str(re.replace_all(&sarg(ex, a, 1)?, regex::NoExpand(&sarg(ex, a, 2)?)))
        }
        "regexSplit" | "mustRegexSplit" => {
            let re = regex(ex, name, &sarg(ex, a, 0)?)?;
            let s = sarg(ex, a, 1)?;
            let n = iarg(ex, a, 2)?;
            let v: Vec<Value> = if n < 0 {
                re.split(&s).map(Value::str).collect()
            } else if n == 0 {
                vec![]
            } else {
                re.splitn(&s, n as usize).map(Value::str).collect()
            };
            Value::List(Rc::new(v))
        }
        "regexQuoteMeta" => Value::str(regex::escape(&sarg(ex, a, 0)?)),
        // ---------------------------------------------------------------- semver
        "semverCompare" => {
            want(ex, name, a, 2)?;
            let c = sarg(ex, a, 0)?;
            let v = sarg(ex, a, 1)?;
            Value::Bool(crate::semver::check(&c, &v).map_err(|e| fail(ex, name, e))?)
        }
        "semver" => {
            let v = crate::semver::Version::parse(&sarg(ex, a, 0)?).map_err(|e| fail(ex, name, e))?;
            let mut f = Map::new();
            f.insert("Major".into(), Value::Int(v.major as i64));
            f.insert("Minor".into(), Value::Int(v.minor as i64));
            f.insert("Patch".into(), Value::Int(v.patch as i64));
            f.insert("Prerelease".into(), Value::str(&v.pre));
            f.insert("Metadata".into(), Value::str(&v.meta));
            Value::Struct(Rc::new(Struct { type_name: "*semver.Version", fields: f, display: Some(v.original.clone()), json: None }))
        }
        // ---------------------------------------------------------------- paths, urls
        "base" | "osBase" => {
            let s = sarg(ex, a, 0)?;
            let t = s.trim_end_matches('/');
            Value::str(if s.is_empty() { "." } else if t.is_empty() { "/" } else { t.rsplit('/').next().unwrap_or(t) })
        }
        "dir" | "osDir" => {
            let s = sarg(ex, a, 0)?;
            Value::str(match s.rfind('/') {
                Some(0) => "/".to_string(),
                Some(i) => s[..i].to_string(),
                None => ".".to_string(),
            })
        }
        "ext" | "osExt" => {
            let s = sarg(ex, a, 0)?;
            let b = s.rsplit('/').next().unwrap_or(&s);
            Value::str(b.rfind('.').map(|i| &b[i..]).unwrap_or(""))
        }
        "clean" | "osClean" => Value::str(path_clean(&sarg(ex, a, 0)?)),
        "isAbs" | "osIsAbs" => Value::Bool(sarg(ex, a, 0)?.starts_with('/')),
        "urlParse" => Value::map(url_parse(&sarg(ex, a, 0)?)),
        "urlJoin" => {
            let m = a[0].as_map().unwrap_or_default();
            let g = |k: &str| m.get(k).map(|v| v.strval()).unwrap_or_default();
            let mut out = String::new();
            if !g("scheme").is_empty() {
                out.push_str(&g("scheme"));
                out.push(':');
            }
            if !g("opaque").is_empty() {
                out.push_str(&g("opaque"));
            } else {
                if !g("host").is_empty() || !g("userinfo").is_empty() {
                    out.push_str("//");
                    if !g("userinfo").is_empty() {
                        out.push_str(&g("userinfo"));
                        out.push('@');
                    }
                    out.push_str(&g("host"));
                }
                out.push_str(&g("path"));
            }
            if !g("query").is_empty() {
                out.push('?');
                out.push_str(&g("query"));
            }
            if !g("fragment").is_empty() {
                out.push('#');
                out.push_str(&g("fragment"));
            }
            Value::str(out)
        }
        "getHostByName" => Value::str(""),
        // ---------------------------------------------------------------- dates
        "now" => crate::dates::now(),
        "date" | "htmlDate" | "dateInZone" | "date_in_zone" | "htmlDateInZone" => {
            let (layout, t) = match name {
                "htmlDate" | "htmlDateInZone" => ("2006-01-02".to_string(), a.first().cloned().unwrap_or_default()),
                _ => (sarg(ex, a, 0)?, a.get(1).cloned().unwrap_or_default()),
            };
            let t = crate::dates::in_zone(&t, "UTC");
            Value::str(crate::dates::format(&layout, &t))
        }
        "toDate" | "mustToDate" => match crate::dates::parse(&sarg(ex, a, 0)?, &sarg(ex, a, 1)?) {
            Ok(v) => v,
            Err(e) if name == "mustToDate" => return Err(fail(ex, name, e)),
            Err(_) => crate::dates::at(-62135596800, 0, "UTC"),
        },
        "unixEpoch" => Value::str(crate::dates::unix(&a[0]).to_string()),
        "dateModify" | "date_modify" | "mustDateModify" => {
            want(ex, name, a, 2)?;
            match crate::dates::modify(&a[1], &sarg(ex, a, 0)?) {
                Ok(v) => v,
                Err(e) if name == "mustDateModify" => return Err(fail(ex, name, e)),
                Err(_) => a[1].clone(),
            }
        }
        "duration" => Value::str(go_duration(match &a[0] {
            // Sprig only accepts int64 and strings; a template int literal gives 0.
            Value::Str(s) => s.parse().unwrap_or(0),
            _ => 0,
        })),
        "durationRound" => {
            let secs = match &a[0] {
                Value::Str(s) => crate::dates::parse_duration(s).unwrap_or(0),
                other => to_i64(other),
            };
            Value::str(duration_round(secs))
        }
        "ago" => Value::str(go_duration((crate::dates::unix(&crate::dates::now()) - crate::dates::unix(&a[0])).max(0))),
        // ---------------------------------------------------------------- crypto
        "uuidv4" => {
            let mut b = rand_bytes(16);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h = hex(&b);
            Value::str(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
        }
        "genPrivateKey" | "derivePassword" | "buildCustomCert" | "genCA" | "genCAWithKey" | "genSelfSignedCert"
        | "genSelfSignedCertWithKey" | "genSignedCert" | "genSignedCertWithKey" | "encryptAES" | "decryptAES"
        | "bcrypt" | "htpasswd" => return crypto::call(ex, name, a),
        "hello" => Value::str("Hello!"),
        _ => return Err(ex.error(format!("function {name:?} not defined"))),
    };
    Ok(v)
}

fn user_error(ex: &Exec, msg: &str) -> ExecError {
    ExecError {
        msg: format!("execution error at ({}): {msg}", ex.location()),
        user: true,
    }
}

fn error_map(msg: &str) -> Value {
    let mut m = Map::new();
    m.insert("Error".into(), Value::str(msg));
    Value::map(m)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::List(_) => "array",
        Value::Str(_) => "string",
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::Float(_) => "number",
        _ => "object",
    }
}

/// Helm's include.
pub fn include(ex: &mut Exec, name: &str, data: Value) -> R<Value> {
    let count = ex.include_counts.entry(name.to_string()).or_insert(0);
    *count += 1;
    if *count > 1000 || ex.depth >= crate::tmpl::exec::MAX_DEPTH {
        let e = ex.error(format!(
            "rendering template has a nested reference name: {name}: unable to execute template"
        ));
        if let Some(c) = ex.include_counts.get_mut(name) {
            *c -= 1;
        }
        return Err(e);
    }
    let saved = std::mem::take(&mut ex.out);
    let r = ex.exec_template(name, data);
    let out = std::mem::replace(&mut ex.out, saved);
    if let Some(c) = ex.include_counts.get_mut(name) {
        *c -= 1;
    }
    r.map_err(|e| {
        if e.msg.contains(&format!("template {name:?} not defined")) && !e.user {
            ex.error(format!("error calling include: template: no template {name:?} associated with template \"gotpl\""))
        } else {
            e
        }
    })?;
    Ok(Value::str(out))
}

fn go_space(c: char) -> bool {
    c.is_whitespace()
}

fn sprint(a: &[Value]) -> String {
    let mut s = String::new();
    for (i, x) in a.iter().enumerate() {
        if i > 0 && !matches!(x, Value::Str(_)) && !matches!(a[i - 1], Value::Str(_)) {
            s.push(' ');
        }
        s.push_str(&x.to_v());
    }
    s
}

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn title(s: &str) -> String {
    let mut out = String::new();
    let mut prev_letter = false;
    for c in s.chars() {
        let is_sep = !(c.is_alphanumeric() || c == '_' || c == '\'');
        if !prev_letter && !is_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = !is_sep;
    }
    out
}

fn words(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let cs: Vec<char> = s.chars().collect();
    for (i, &c) in cs.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_uppercase() && !cur.is_empty() {
            let prev = cs[i - 1];
            let next_lower = cs.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_numeric() || (prev.is_uppercase() && next_lower) {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn snake(s: &str, sep: char) -> String {
    words(s)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(&sep.to_string())
}

fn camel(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

fn wrap(s: &str, w: usize, nl: &str) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in s.split(' ') {
        if line_len > 0 && line_len + 1 + word.len() > w {
            out.push_str(nl);
            line_len = 0;
        } else if !out.is_empty() {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.len();
    }
    out
}

fn go_replace(s: &str, old: &str, new: &str) -> String {
    if old.is_empty() {
        let mut out = String::from(new);
        for c in s.chars() {
            out.push(c);
            out.push_str(new);
        }
        return out;
    }
    s.replace(old, new)
}

fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return vec![];
    }
    if sep.is_empty() {
        let v: Vec<String> = s.chars().map(|c| c.to_string()).collect();
        return v;
    }
    if n < 0 {
        s.split(sep).map(String::from).collect()
    } else {
        s.splitn(n as usize, sep).map(String::from).collect()
    }
}

fn html_escape(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '\'' => o.push_str("&#39;"),
            '"' => o.push_str("&#34;"),
            '\0' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

fn js_escape(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\'' => o.push_str("\\'"),
            '"' => o.push_str("\\\""),
            '<' => o.push_str("\\u003C"),
            '>' => o.push_str("\\u003E"),
            '&' => o.push_str("\\u0026"),
            '=' => o.push_str("\\u003D"),
            '\n' => o.push_str("\\u000A"),
            '\r' => o.push_str("\\u000D"),
            '\t' => o.push_str("\\u0009"),
            c => o.push(c),
        }
    }
    o
}

fn url_query_escape(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

fn b32enc(b: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    for chunk in b.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(A[((n >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b32dec(s: &str) -> Option<Vec<u8>> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits: u64 = 0;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = A.iter().position(|x| *x == c)? as u64;
        bits = (bits << 5) | v;
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

/// Formats a float for `%v` (used by tests).
pub fn fmt_v_float(f: f64) -> String {
    fmt_float_g(f, -1)
}

/// commons-lang AbbreviateFull as goutils implements it.
fn abbrev_both(s: &str, offset: i64, max: i64) -> String {
    let cs: Vec<char> = s.chars().collect();
    let n = cs.len() as i64;
    if s.is_empty() || max < 4 || n <= max {
        return s.to_string();
    }
    let mut offset = offset.min(n);
    if n - offset < max - 3 {
        offset = n - (max - 3);
    }
    if offset <= 4 {
        let t: String = cs[..(max - 3) as usize].iter().collect();
        return format!("{t}...");
    }
    if max < 7 {
        return s.to_string();
    }
    if offset + max - 3 < n {
        let rest: String = cs[offset as usize..].iter().collect();
        let inner = abbrev_both(&rest, 0, max - 3);
        return format!("...{inner}");
    }
    let t: String = cs[(n - (max - 3)) as usize..].iter().collect();
    format!("...{t}")
}

/// Go's path.Clean.
pub fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let j = out.join("/");
    if rooted {
        format!("/{j}")
    } else if j.is_empty() {
        ".".into()
    } else {
        j
    }
}

fn go_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let neg = secs < 0;
    let s = secs.abs();
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if h > 0 {
        out.push_str(&format!("{h}h{m}m{sec}s"));
    } else if m > 0 {
        out.push_str(&format!("{m}m{sec}s"));
    } else {
        out.push_str(&format!("{sec}s"));
    }
    out
}

fn duration_round(secs: i64) -> String {
    let u = secs.unsigned_abs();
    let (year, month, day, hour, minute) = (31536000u64, 2592000u64, 86400u64, 3600u64, 60u64);

    if u > year {
        format!("{}y", u / year)
    } else if u > month {
        format!("{}mo", u / month)
    } else if u > day {
        format!("{}d", u / day)
    } else if u > hour {
        format!("{}h", u / hour)
    } else if u > minute {
        format!("{}m", u / minute)
    } else {
        format!("{u}s")
    }
}

fn url_parse(u: &str) -> Map {
    let mut m = Map::new();
    let mut rest = u;
    let mut frag = "";
    if let Some((a, f)) = rest.split_once('#') {
        rest = a;
        frag = f;
    }
    let mut query = "";
    if let Some((a, q)) = rest.split_once('?') {
        rest = a;
        query = q;
    }
    let mut scheme = "";
    if let Some(i) = rest.find(':')
        && rest[..i]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && i > 0
    {
        scheme = &rest[..i];
        rest = &rest[i + 1..];
    }
    let (mut userinfo, mut host, mut path) = ("", "", rest);
    let mut opaque = "";
    if let Some(r) = rest.strip_prefix("//") {
        let end = r.find('/').unwrap_or(r.len());
        let auth = &r[..end];
        path = &r[end..];
        match auth.rsplit_once('@') {
            Some((ui, h)) => {
                userinfo = ui;
                host = h;
            }
            None => host = auth,
        }
    } else if !scheme.is_empty() && !rest.starts_with('/') {
        opaque = rest;
        path = "";
    }
    let hostname = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or("")
    };
    for (k, v) in [
        ("scheme", scheme),
        ("host", host),
        ("hostname", hostname),
        ("path", path),
        ("query", query),
        ("opaque", opaque),
        ("fragment", frag),
        ("userinfo", userinfo),
    ] {
        m.insert(k.into(), Value::str(v));
    }
    m
}

/// Go struct field order for JSON encoding of Helm's structs.
pub fn json_key_order(type_name: &str) -> Option<&'static [&'static str]> {
    match type_name {
        "*chart.Maintainer" => Some(&["name", "email", "url"]),
        "*chart.Metadata" => Some(&[
            "name",
            "home",
            "sources",
            "version",
            "description",
            "keywords",
            "maintainers",
            "icon",
            "apiVersion",
            "condition",
            "tags",
            "appVersion",
            "deprecated",
            "annotations",
            "kubeVersion",
            "dependencies",
            "type",
        ]),
        "*chart.Dependency" => Some(&[
            "name",
            "version",
            "repository",
            "condition",
            "tags",
            "enabled",
            "import-values",
            "alias",
        ]),
        _ => None,
    }
}

/// A small exact decimal, standing in for shopspring/decimal in Sprig's float math.
#[derive(Clone, Copy)]
struct Dec {
    m: i128,
    e: i32,
}

impl Dec {
    fn from_f64(f: f64) -> Dec {
        let (d, e, neg) = crate::value::shortest_digits(f);
        let m: i128 = d.parse().unwrap_or(0);
        Dec {
            m: if neg { -m } else { m },
            e: e - (d.len() as i32 - 1),
        }
    }
    fn align(a: Dec, b: Dec) -> (i128, i128, i32) {
        let e = a.e.min(b.e);
        let sa = 10i128.checked_pow((a.e - e) as u32).unwrap_or(0);
        let sb = 10i128.checked_pow((b.e - e) as u32).unwrap_or(0);
        (a.m.saturating_mul(sa), b.m.saturating_mul(sb), e)
    }
    fn add(self, o: Dec) -> Dec {
        let (a, b, e) = Dec::align(self, o);
        Dec {
            m: a.saturating_add(b),
            e,
        }
    }
    fn sub(self, o: Dec) -> Dec {
        let (a, b, e) = Dec::align(self, o);
        Dec {
            m: a.saturating_sub(b),
            e,
        }
    }
    fn mul(self, o: Dec) -> Dec {
        Dec {
            m: self.m.saturating_mul(o.m),
            e: self.e + o.e,
        }
    }
    fn to_f64(self) -> f64 {
        format!("{}e{}", self.m, self.e).parse().unwrap_or(0.0)
    }
}

fn dec_fold(a: &[Value], init: i128, f: fn(Dec, Dec) -> Dec) -> f64 {
    a.iter()
        .fold(Dec { m: init, e: 0 }, |acc, x| {
            f(acc, Dec::from_f64(to_f64(x)))
        })
        .to_f64()
}
