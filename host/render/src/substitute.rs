//! Flux's post-build variable substitution (`spec.postBuild.substitute` /
//! `substituteFrom`): bash-style `${var}` expansion over each rendered object's YAML.
//!
//! This follows kustomize-controller (fluxcd/pkg `kustomize/kustomize_varsub.go` with the
//! `fluxcd/pkg/envsubst` fork of drone/envsubst):
//!
//! - each object is serialized to YAML, the text is expanded, and the result is parsed
//!   again — so `replicas: ${n}` with `n=3` becomes the integer `3`, exactly as in Flux
//!   (and, as in Flux, a value like `"1.0"` substituted into a whole field becomes a
//!   number, because the original quoting is not kept);
//! - only braced forms are expanded; `$var` is left alone; `$$` collapses to `$`, so
//!   `$${var}` yields a literal `${var}`;
//! - `${var:=default}`, `${var:-default}` and `${var=default}` use the default when the
//!   variable is unset *or empty* (drone/envsubst makes no empty-versus-unset
//!   distinction); `${var-default}` (no colon) is a parse error ("missing closing brace"),
//!   as in Flux;
//! - the bash string functions drone/envsubst supports also work: `${#var}`,
//!   `${var^}`, `${var^^}`, `${var,}`, `${var,,}`, `${var:pos}`, `${var:pos:len}`,
//!   `${var#glob}`, `${var##glob}`, `${var%glob}`, `${var%%glob}`, `${var/from/to}`,
//!   `${var//from/to}`, `${var/#from/to}`, `${var/%from/to}`;
//! - an unset variable expands to the empty string, or is an error in strict mode
//!   (kustomize-controller's `StrictPostBuildSubstitutions`), unless a default operator
//!   handles it;
//! - newlines are removed from variable values (Flux does this when it loads them);
//! - objects labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` are
//!   skipped, and when there are no variables at all nothing is touched.

use std::collections::BTreeMap;

use serde_json::Value;

/// The label or annotation that turns substitution off for one object.
pub const SUBSTITUTE_KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// The value of [`SUBSTITUTE_KEY`] that turns substitution off.
pub const DISABLED: &str = "disabled";

/// The pattern every variable name must match (Flux's `varsubRegex`).
pub const VAR_NAME_PATTERN: &str = "^[_[:alpha:]][_[:alpha:][:digit:]]*$";

/// How deeply `${a:=${b:=${c}}}` may nest. Flux (Go) has no limit because goroutine
/// stacks grow; a fixed limit keeps a hostile manifest from overflowing ours.
pub const MAX_NESTING: usize = 64;

/// Substitution options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Fail on a variable that is referenced without a default but not set, instead of
    /// expanding it to the empty string (Flux's `StrictPostBuildSubstitutions`).
    pub strict: bool,
}

/// A substitution failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A variable name does not match [`VAR_NAME_PATTERN`].
    #[error("'{name}' var name is invalid, must match '{VAR_NAME_PATTERN}'")]
    InvalidVarName {
        /// The offending name.
        name: String,
    },
    /// The object could not be written as YAML.
    #[error("{object} could not be serialized to YAML for variable substitution")]
    SerializeFailed {
        /// The object, as `Kind/namespace/name`.
        object: String,
        /// The serializer's error.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// Expanding the object's YAML failed (a malformed expression, or an unset variable
    /// in strict mode).
    #[error("{object} variable substitution failed")]
    SubstituteFailed {
        /// The object, as `Kind/namespace/name`.
        object: String,
        /// What went wrong in the expression.
        #[source]
        source: ExprError,
    },
    /// The substituted text is not valid YAML (a value broke the document's syntax).
    #[error("{object} is not valid YAML after variable substitution")]
    ReparseFailed {
        /// The object, as `Kind/namespace/name`.
        object: String,
        /// The parser's error.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// The substituted text parsed, but not to a mapping.
    #[error("{object} is no longer an object after variable substitution")]
    NotAnObject {
        /// The object, as `Kind/namespace/name`.
        object: String,
    },
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A malformed `${...}` expression or an unset variable; the messages are drone/envsubst's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// A malformed expression.
    #[error("bad substitution")]
    BadSubstitution,
    /// `${var` with no closing brace, or an operator envsubst does not know.
    #[error("missing closing brace")]
    MissingClosingBrace,
    /// `${}` or `${` followed by something that is not a name.
    #[error("unable to parse variable name")]
    ParseVariableName,
    /// A function argument could not be parsed (often: the input ended inside it).
    #[error("unable to parse substitution within function")]
    ParseFuncSubstitution,
    /// A default operator could not be parsed.
    #[error("unable to parse default function")]
    ParseDefaultFunction,
    /// Strict mode: the variable is referenced without a default and is not set.
    #[error("variable not set (strict mode): {0:?}")]
    VarNotSet(String),
    /// Expressions nested deeper than [`MAX_NESTING`].
    #[error("substitutions nested deeper than {MAX_NESTING} levels")]
    TooDeep,
}

/// Substitutes `vars` into every object that does not opt out.
///
/// Objects are changed only when every object succeeds, so a failure leaves the slice as
/// it was.
///
/// # Errors
/// An invalid variable name, a malformed expression, an unset variable in strict mode, or
/// a substituted value that breaks the object's YAML; each names the object.
pub fn substitute(
    objects: &mut [Value],
    vars: &BTreeMap<String, String>,
    options: &Options,
) -> Result<()> {
    // Flux runs envsubst only when there is at least one variable.
    if vars.is_empty() {
        return Ok(());
    }
    let mut checked = false;
    // Flux strips newlines from every value it loads, so a value cannot break a line.
    let clean: BTreeMap<&str, String> = vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.replace('\n', "")))
        .collect();
    let lookup = |name: &str| -> (String, bool) {
        match clean.get(name) {
            Some(v) => (v.clone(), true),
            None => (String::new(), !options.strict),
        }
    };

    let mut results = Vec::with_capacity(objects.len());
    for (index, object) in objects.iter().enumerate() {
        if is_disabled(object) {
            continue;
        }
        if !checked {
            // Like Flux, names are checked only when something is substituted.
            validate_names(vars.keys())?;
            checked = true;
        }
        let id = object_id(object);
        let yaml = serde_yaml_ng::to_string(object).map_err(|source| Error::SerializeFailed {
            object: id.clone(),
            source,
        })?;
        let expanded = eval(&yaml, &lookup).map_err(|source| Error::SubstituteFailed {
            object: id.clone(),
            source,
        })?;
        let value: Value =
            serde_yaml_ng::from_str(&expanded).map_err(|source| Error::ReparseFailed {
                object: id.clone(),
                source,
            })?;
        if !value.is_object() {
            return Err(Error::NotAnObject { object: id });
        }
        results.push((index, value));
    }
    for (index, value) in results {
        objects[index] = value;
    }
    Ok(())
}

/// Merges variable layers: the `substituteFrom` sources in order, then the inline
/// `substitute` map last. A later layer wins for a key it sets, so inline values override
/// every ConfigMap and Secret, and a later `substituteFrom` entry overrides an earlier
/// one — Flux's precedence.
pub fn merge_vars(
    layers: impl IntoIterator<Item = BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut merged = BTreeMap::new();
    for layer in layers {
        merged.extend(layer);
    }
    merged
}

/// Expands one string as envsubst does, without any YAML handling.
///
/// # Errors
/// A malformed expression, or in strict mode a variable that is neither set nor given a
/// default.
pub fn expand(
    text: &str,
    vars: &BTreeMap<String, String>,
    options: &Options,
) -> Result<String, ExprError> {
    eval(text, &|name: &str| match vars.get(name) {
        Some(v) => (v.clone(), true),
        None => (String::new(), !options.strict),
    })
}

/// Whether the object opted out with the substitute label or annotation.
fn is_disabled(object: &Value) -> bool {
    ["labels", "annotations"].iter().any(|field| {
        object
            .pointer(&format!("/metadata/{field}"))
            .and_then(|m| m.get(SUBSTITUTE_KEY))
            .and_then(Value::as_str)
            == Some(DISABLED)
    })
}

/// `Kind/namespace/name` (or `Kind/name` when cluster-scoped), for error messages.
fn object_id(object: &Value) -> String {
    let get = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    let kind = get("/kind");
    let ns = get("/metadata/namespace");
    let name = get("/metadata/name");
    if ns.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}/{ns}/{name}")
    }
}

/// Checks names against `^[_[:alpha:]][_[:alpha:][:digit:]]*$` (ASCII classes, as in Go's
/// regexp).
fn validate_names<'a>(names: impl IntoIterator<Item = &'a String>) -> Result<()> {
    for name in names {
        let mut chars = name.chars();
        let ok = chars
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
            && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !ok {
            return Err(Error::InvalidVarName { name: name.clone() });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The expression language: a port of drone/envsubst's scanner and parser (as forked by
// Flux), kept close to the original so that odd inputs fail or pass the same way.

/// Parses and evaluates `text`; `lookup` returns a variable's value and whether it exists.
fn eval(text: &str, lookup: &dyn Fn(&str) -> (String, bool)) -> Result<String, ExprError> {
    let mut parser = Parser {
        s: Scanner::new(text),
    };
    let nodes = parser.parse_any()?;
    let mut out = String::with_capacity(text.len());
    for node in &nodes {
        eval_node(node, lookup, &mut out)?;
    }
    Ok(out)
}

#[derive(Debug)]
enum Node {
    Text(String),
    Func {
        /// The variable.
        param: String,
        /// The operator (`""`, `":="`, `"^^"`, `"/"`, …).
        name: String,
        args: Vec<Node>,
    },
}

fn eval_node(
    node: &Node,
    lookup: &dyn Fn(&str) -> (String, bool),
    out: &mut String,
) -> Result<(), ExprError> {
    match node {
        Node::Text(t) => out.push_str(t),
        Node::Func { param, name, args } => {
            // Arguments are evaluated before the variable is looked up, so in strict mode
            // `${set:=${unset}}` fails even though the default is not needed (as in Flux).
            let mut values = Vec::with_capacity(args.len());
            for arg in args {
                let mut buf = String::new();
                eval_node(arg, lookup, &mut buf)?;
                values.push(buf);
            }
            let (value, exists) = lookup(param);
            if !exists && !is_default_op(name) {
                return Err(ExprError::VarNotSet(param.clone()));
            }
            out.push_str(&apply_func(name, &value, &values));
        }
    }
    Ok(())
}

/// Operators that supply their own value for an unset variable.
fn is_default_op(name: &str) -> bool {
    matches!(name, "-" | "+" | "=" | "?" | ":-" | ":+" | ":=" | ":?")
}

fn apply_func(name: &str, s: &str, args: &[String]) -> String {
    match name {
        "," => map_first(s, |c| c.to_lowercase().collect()),
        ",," => s.to_lowercase(),
        "^" => map_first(s, |c| c.to_uppercase().collect()),
        "^^" => s.to_uppercase(),
        "#" if args.is_empty() => s.len().to_string(),
        "#" => trim_prefix(s, &args[0], false),
        "##" => args
            .first()
            .map_or(s.to_string(), |a| trim_prefix(s, a, true)),
        "%" => args
            .first()
            .map_or(s.to_string(), |a| trim_suffix(s, a, false)),
        "%%" => args
            .first()
            .map_or(s.to_string(), |a| trim_suffix(s, a, true)),
        ":" => substr(s, args),
        "/#" => match args {
            [from, to] if s.starts_with(from.as_str()) => format!("{to}{}", &s[from.len()..]),
            _ => s.to_string(),
        },
        "/%" => match args {
            [from, to] if s.ends_with(from.as_str()) => {
                format!("{}{to}", &s[..s.len() - from.len()])
            }
            _ => s.to_string(),
        },
        "/" => match args {
            [] => s.to_string(),
            [from] => s.replacen(from.as_str(), "", 1),
            [from, to, ..] => s.replacen(from.as_str(), to, 1),
        },
        "//" => match args {
            [] => s.to_string(),
            [from] => s.replace(from.as_str(), ""),
            [from, to, ..] => s.replace(from.as_str(), to),
        },
        // Every default operator (and anything unknown) is envsubst's toDefault: the value
        // if it is non-empty, else the arguments joined.
        _ => {
            if s.is_empty() && !args.is_empty() {
                args.concat()
            } else {
                s.to_string()
            }
        }
    }
}

fn map_first(s: &str, f: impl Fn(char) -> String) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => f(c) + chars.as_str(),
        None => String::new(),
    }
}

/// `${var:pos}` / `${var:pos:len}` on bytes, as Go slices strings; bash's rules for
/// negative positions and lengths; unparsable numbers return the value unchanged.
fn substr(s: &str, args: &[String]) -> String {
    let bytes = s.as_bytes();
    let n = bytes.len() as i64;
    let Some(pos) = args.first().and_then(|a| a.parse::<i64>().ok()) else {
        return s.to_string();
    };
    let pos = if pos < 0 { (n + pos).max(0) } else { pos };
    let slice =
        |a: i64, b: i64| String::from_utf8_lossy(&bytes[a as usize..b as usize]).into_owned();
    let Some(len_arg) = args.get(1) else {
        return if pos < n {
            slice(pos, n)
        } else {
            String::new()
        };
    };
    let Ok(len) = len_arg.parse::<i64>() else {
        return s.to_string();
    };
    if len < 0 {
        let end = n + len;
        return if end < pos || pos > n {
            String::new()
        } else {
            slice(pos, end)
        };
    }
    if pos.saturating_add(len) >= n {
        return if pos < n {
            slice(pos, n)
        } else {
            String::new()
        };
    }
    slice(pos, pos + len)
}

/// `${var#glob}` / `${var##glob}`: removes the shortest (or longest) prefix matching the
/// glob; a malformed glob leaves the value alone.
fn trim_prefix(s: &str, pattern: &str, longest: bool) -> String {
    // Candidate prefixes from the longest to the shortest non-empty one, as envsubst
    // iterates.
    let mut ends: Vec<usize> = s.char_indices().map(|(i, _)| i).skip(1).collect();
    ends.push(s.len());
    ends.reverse();
    let mut found = None;
    for end in ends {
        match glob_match(pattern, &s[..end]) {
            Err(()) => return s.to_string(),
            Ok(true) => {
                found = Some(end);
                if longest {
                    break;
                }
            }
            Ok(false) => {}
        }
    }
    match found {
        Some(end) => s[end..].to_string(),
        None => s.to_string(),
    }
}

/// `${var%glob}` / `${var%%glob}`: envsubst reverses the value and the pattern and trims
/// a prefix.
fn trim_suffix(s: &str, pattern: &str, longest: bool) -> String {
    let rev = |t: &str| t.chars().rev().collect::<String>();
    rev(&trim_prefix(&rev(s), &rev(pattern), longest))
}

/// envsubst's copy of Go's `path.Match`, in which `*` and `?` also match `/` (so
/// `${f##*/}` is a basename): `*`, `?`, `[...]` classes with ranges and `^`, `\\` escapes.
/// `Err` for a malformed pattern.
///
/// Iterative with one backtrack point, so `a*a*a*…` against a long value costs
/// O(pattern × value) rather than exponential time.
fn glob_match(pattern: &str, name: &str) -> Result<bool, ()> {
    let p = glob_tokens(pattern)?;
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some(Glob::Star) => {
                backtrack = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some(tok) if tok.matches(n[ni]) => {
                pi += 1;
                ni += 1;
                continue;
            }
            _ => {}
        }
        // Mismatch: let the last star swallow one more character.
        match backtrack {
            Some((star, at)) => {
                backtrack = Some((star, at + 1));
                pi = star + 1;
                ni = at + 1;
            }
            None => return Ok(false),
        }
    }
    Ok(p[pi..].iter().all(|t| matches!(t, Glob::Star)))
}

enum Glob {
    Star,
    Any,
    Lit(char),
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Glob {
    fn matches(&self, c: char) -> bool {
        match self {
            Glob::Star | Glob::Any => true,
            Glob::Lit(l) => *l == c,
            Glob::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

fn glob_tokens(pattern: &str) -> Result<Vec<Glob>, ()> {
    let mut out = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => {
                if matches!(out.last(), Some(Glob::Star)) {
                    continue;
                }
                Glob::Star
            }
            '?' => Glob::Any,
            '\\' => Glob::Lit(chars.next().ok_or(())?),
            '[' => {
                let negated = chars.peek() == Some(&'^');
                if negated {
                    chars.next();
                }
                let mut ranges = Vec::new();
                loop {
                    let c = chars.next().ok_or(())?;
                    if c == ']' && !ranges.is_empty() {
                        break;
                    }
                    let lo = if c == '\\' {
                        chars.next().ok_or(())?
                    } else {
                        c
                    };
                    let hi = if chars.peek() == Some(&'-') {
                        chars.next();
                        match chars.next().ok_or(())? {
                            '\\' => chars.next().ok_or(())?,
                            // `[a-]` is malformed in Go.
                            ']' => return Err(()),
                            h => h,
                        }
                    } else {
                        lo
                    };
                    if lo > hi {
                        return Err(());
                    }
                    ranges.push((lo, hi));
                }
                Glob::Class { negated, ranges }
            }
            lit => Glob::Lit(lit),
        });
    }
    Ok(out)
}

// Scanner mode bits (which tokens are recognised).
const SCAN_IDENT: u8 = 1;
const SCAN_LBRACK: u8 = 2;
const SCAN_RBRACK: u8 = 4;
const SCAN_ESCAPE: u8 = 8;
// Escape bits (which escapes are honoured).
const ESC_DOLLAR: u8 = 1;
const ESC_BACKSLASH: u8 = 2;
const ESC_ALL: u8 = ESC_DOLLAR | ESC_BACKSLASH;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Token {
    Illegal,
    Eof,
    Ident,
    Lbrack,
    Rbrack,
}

type Accept = fn(char, usize) -> bool;

/// drone/envsubst's scanner over chars. Instead of cutting escape characters out of the
/// buffer (quadratic on a hostile `$$$$…` input) it builds each token's text as it goes.
struct Scanner {
    buf: Vec<char>,
    pos: usize,
    start: usize,
    /// Width of the last read: 0 at the end of input, so an `unread` there is a no-op,
    /// exactly as in the Go scanner (some error messages depend on it).
    width: usize,
    mode: u8,
    escapes: u8,
    accept: Accept,
    text: String,
}

impl Scanner {
    fn new(text: &str) -> Self {
        Scanner {
            buf: text.chars().collect(),
            pos: 0,
            start: 0,
            width: 0,
            mode: 0,
            escapes: 0,
            accept: |_, _| true,
            text: String::new(),
        }
    }

    fn read(&mut self) -> Option<char> {
        match self.buf.get(self.pos) {
            Some(&c) => {
                self.width = 1;
                self.pos += 1;
                Some(c)
            }
            None => {
                self.width = 0;
                None
            }
        }
    }

    fn unread(&mut self) {
        self.pos -= self.width;
    }

    fn peek(&mut self) -> Option<char> {
        let r = self.read();
        self.unread();
        r
    }

    fn scan(&mut self) -> Token {
        self.start = self.pos;
        self.text.clear();
        let Some(r) = self.read() else {
            return Token::Eof;
        };
        if self.scan_lbrack(r) {
            Token::Lbrack
        } else if self.scan_rbrack(r) {
            Token::Rbrack
        } else if self.scan_ident(r) {
            Token::Ident
        } else {
            Token::Illegal
        }
    }

    fn scan_ident(&mut self, r: char) -> bool {
        if self.mode & SCAN_IDENT == 0 {
            return false;
        }
        if self.scan_escaped(r) {
            self.take_escaped();
        } else if (self.accept)(r, self.pos - self.start) {
            self.text.push(r);
        } else {
            return false;
        }
        while let Some(r) = self.read() {
            if self.scan_lbrack(r) {
                // Stop before the `${`.
                self.pos -= 2;
                break;
            }
            if self.scan_escaped(r) {
                self.take_escaped();
                continue;
            }
            if !(self.accept)(r, self.pos - self.start) {
                self.unread();
                break;
            }
            self.text.push(r);
        }
        true
    }

    /// Drops the escape character just read and takes the next one literally.
    fn take_escaped(&mut self) {
        if let Some(c) = self.read() {
            self.text.push(c);
        }
    }

    fn scan_lbrack(&mut self, r: char) -> bool {
        if self.mode & SCAN_LBRACK == 0 || r != '$' {
            return false;
        }
        if self.read() == Some('{') {
            return true;
        }
        self.unread();
        false
    }

    fn scan_rbrack(&self, r: char) -> bool {
        self.mode & SCAN_RBRACK != 0 && r == '}'
    }

    fn scan_escaped(&mut self, r: char) -> bool {
        if self.mode & SCAN_ESCAPE == 0 {
            return false;
        }
        if r == '$' && self.escapes & ESC_DOLLAR != 0 && self.peek() == Some('$') {
            return true;
        }
        r == '\\' && self.escapes & ESC_BACKSLASH != 0 && matches!(self.peek(), Some('/' | '\\'))
    }
}

fn accept_rune(_: char, _: usize) -> bool {
    true
}
fn accept_ident(r: char, _: usize) -> bool {
    r.is_alphanumeric() || r == '_'
}
fn accept_colon(r: char, _: usize) -> bool {
    r == ':'
}
fn accept_one_hash(r: char, i: usize) -> bool {
    r == '#' && i == 1
}
fn accept_not_closing(r: char, _: usize) -> bool {
    r != '}'
}
fn accept_hash_func(r: char, i: usize) -> bool {
    r == '#' && i < 3
}
fn accept_percent_func(r: char, i: usize) -> bool {
    r == '%' && i < 3
}
fn accept_default_func(r: char, i: usize) -> bool {
    (i == 1 && r == ':') || (i == 2 && matches!(r, '=' | '-' | '?' | '+'))
}
fn accept_replace_func(r: char, i: usize) -> bool {
    (i == 1 && r == '/') || (i == 2 && matches!(r, '/' | '#' | '%'))
}
fn accept_one_equal(r: char, i: usize) -> bool {
    i == 1 && r == '='
}
fn accept_one_colon(r: char, i: usize) -> bool {
    i == 1 && r == ':'
}
fn reject_colon_close(r: char, _: usize) -> bool {
    r != ':' && r != '}'
}
fn accept_slash(r: char, _: usize) -> bool {
    r == '/'
}
fn accept_not_slash(r: char, _: usize) -> bool {
    r != '/'
}
fn accept_casing_func(r: char, i: usize) -> bool {
    (r == ',' || r == '^') && i < 3
}

struct Parser {
    s: Scanner,
}

impl Parser {
    fn text(&mut self) -> String {
        std::mem::take(&mut self.s.text)
    }

    /// The top level: text and `${…}` until the end. A loop rather than envsubst's
    /// recursion, so a long document cannot exhaust the stack.
    fn parse_any(&mut self) -> Result<Vec<Node>, ExprError> {
        let mut nodes = Vec::new();
        loop {
            self.s.accept = accept_rune;
            self.s.mode = SCAN_IDENT | SCAN_LBRACK | SCAN_ESCAPE;
            self.s.escapes = ESC_DOLLAR;
            match self.s.scan() {
                Token::Ident => {
                    let t = self.text();
                    nodes.push(Node::Text(t));
                }
                Token::Eof => return Ok(nodes),
                Token::Lbrack => nodes.push(self.parse_func(1)?),
                _ => return Err(ExprError::BadSubstitution),
            }
        }
    }

    fn parse_func(&mut self, depth: usize) -> Result<Node, ExprError> {
        if depth > MAX_NESTING {
            return Err(ExprError::TooDeep);
        }
        self.s.escapes = ESC_ALL;
        if self.s.peek() == Some('#') {
            return self.parse_len();
        }
        self.s.accept = accept_ident;
        self.s.mode = SCAN_IDENT;
        let name = match self.s.scan() {
            Token::Ident => self.text(),
            _ => return Err(ExprError::ParseVariableName),
        };
        match self.s.peek() {
            Some(':') => return self.parse_default_or_substr(name, depth),
            Some('=') => return self.parse_default(name, depth),
            Some(',' | '^') => return self.parse_casing(name),
            Some('/') => return self.parse_replace(name, depth),
            Some('#') => return self.parse_remove(name, accept_hash_func, depth),
            Some('%') => return self.parse_remove(name, accept_percent_func, depth),
            _ => {}
        }
        self.s.accept = accept_ident;
        self.s.mode = SCAN_RBRACK;
        match self.s.scan() {
            Token::Rbrack => Ok(Node::Func {
                param: name,
                name: String::new(),
                args: Vec::new(),
            }),
            _ => Err(ExprError::MissingClosingBrace),
        }
    }

    fn parse_param(&mut self, accept: Accept, mode: u8, depth: usize) -> Result<Node, ExprError> {
        self.s.accept = accept;
        self.s.mode = mode | SCAN_LBRACK;
        match self.s.scan() {
            Token::Lbrack => self.parse_func(depth + 1),
            Token::Ident | Token::Rbrack => Ok(Node::Text(self.text())),
            _ => Err(ExprError::ParseFuncSubstitution),
        }
    }

    fn parse_default_or_substr(&mut self, name: String, depth: usize) -> Result<Node, ExprError> {
        self.s.read();
        let r = self.s.peek();
        self.s.unread();
        match r {
            Some('=' | '-' | '?' | '+') => self.parse_default(name, depth),
            _ => self.parse_substr(name, depth),
        }
    }

    fn parse_substr(&mut self, param: String, depth: usize) -> Result<Node, ExprError> {
        self.s.accept = accept_one_colon;
        self.s.mode = SCAN_IDENT;
        let name = match self.s.scan() {
            Token::Ident => self.text(),
            _ => return Err(ExprError::BadSubstitution),
        };
        let mut args = vec![self.parse_param(reject_colon_close, SCAN_IDENT, depth)?];
        self.s.accept = accept_colon;
        self.s.mode = SCAN_IDENT | SCAN_RBRACK;
        match self.s.scan() {
            Token::Rbrack => return Ok(Node::Func { param, name, args }),
            Token::Ident => {}
            _ => return Err(ExprError::BadSubstitution),
        }
        args.push(self.parse_param(accept_not_closing, SCAN_IDENT, depth)?);
        self.consume_rbrack()?;
        Ok(Node::Func { param, name, args })
    }

    fn parse_remove(
        &mut self,
        param: String,
        accept: Accept,
        depth: usize,
    ) -> Result<Node, ExprError> {
        self.s.accept = accept;
        self.s.mode = SCAN_IDENT;
        let name = match self.s.scan() {
            Token::Ident => self.text(),
            _ => return Err(ExprError::BadSubstitution),
        };
        let args = vec![self.parse_param(accept_not_closing, SCAN_IDENT, depth)?];
        self.consume_rbrack()?;
        Ok(Node::Func { param, name, args })
    }

    fn parse_replace(&mut self, param: String, depth: usize) -> Result<Node, ExprError> {
        self.s.accept = accept_replace_func;
        self.s.mode = SCAN_IDENT;
        let name = match self.s.scan() {
            Token::Ident => self.text(),
            _ => return Err(ExprError::BadSubstitution),
        };
        let mut args = Vec::new();
        if self.s.peek() == Some('/') {
            // An empty pattern (`${v/#/prefix}`).
            args.push(Node::Text(String::new()));
        } else {
            args.push(self.parse_param(accept_not_slash, SCAN_IDENT | SCAN_ESCAPE, depth)?);
        }
        self.s.accept = accept_slash;
        self.s.mode = SCAN_IDENT;
        if self.s.scan() != Token::Ident {
            return Err(ExprError::BadSubstitution);
        }
        if self.s.peek() == Some('}') {
            self.consume_rbrack()?;
            return Ok(Node::Func { param, name, args });
        }
        args.push(self.parse_param(accept_not_closing, SCAN_IDENT | SCAN_ESCAPE, depth)?);
        self.consume_rbrack()?;
        Ok(Node::Func { param, name, args })
    }

    fn parse_default(&mut self, param: String, depth: usize) -> Result<Node, ExprError> {
        self.s.accept = if self.s.peek() == Some('=') {
            accept_one_equal
        } else {
            accept_default_func
        };
        self.s.mode = SCAN_IDENT;
        let name = match self.s.scan() {
            Token::Ident => self.text(),
            _ => return Err(ExprError::ParseDefaultFunction),
        };
        let mut args = Vec::new();
        loop {
            if self.s.peek() == Some('}') {
                self.consume_rbrack()?;
                return Ok(Node::Func { param, name, args });
            }
            args.push(self.parse_param(accept_not_closing, SCAN_IDENT, depth)?);
        }
    }

    fn parse_casing(&mut self, param: String) -> Result<Node, ExprError> {
        self.s.accept = accept_casing_func;
        self.s.mode = SCAN_IDENT;
        let name = match self.s.scan() {
            Token::Ident => self.text(),
            _ => return Err(ExprError::BadSubstitution),
        };
        self.consume_rbrack()?;
        Ok(Node::Func {
            param,
            name,
            args: Vec::new(),
        })
    }

    fn parse_len(&mut self) -> Result<Node, ExprError> {
        self.s.accept = accept_one_hash;
        self.s.mode = SCAN_IDENT;
        let name = match self.s.scan() {
            Token::Ident => self.text(),
            _ => return Err(ExprError::BadSubstitution),
        };
        self.s.accept = accept_ident;
        self.s.mode = SCAN_IDENT;
        let param = match self.s.scan() {
            Token::Ident => self.text(),
            _ => return Err(ExprError::BadSubstitution),
        };
        self.consume_rbrack()?;
        Ok(Node::Func {
            param,
            name,
            args: Vec::new(),
        })
    }

    fn consume_rbrack(&mut self) -> Result<(), ExprError> {
        self.s.mode = SCAN_RBRACK;
        if self.s.scan() != Token::Rbrack {
            return Err(ExprError::BadSubstitution);
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "substitute_tests.rs"]
mod tests;
