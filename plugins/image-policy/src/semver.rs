//! Semantic versions and range constraints with the semantics of
//! Masterminds/semver v3, the library behind Flux's `semver` image policy:
//! a lenient version parser (`v` prefix, missing minor/patch), `x`/`*`
//! wildcards, `~`, `^`, hyphen ranges, `,`/space for AND and `||` for OR, and
//! pre-releases only matching an AND group that itself names a pre-release.

use std::cmp::Ordering;
use std::fmt;

/// Longest constraint string accepted (as Masterminds does).
const MAX_CONSTRAINT_LEN: usize = 512;
/// Most `||` groups accepted in one constraint.
const MAX_GROUPS: usize = 32;

/// A parsed semantic version.
#[derive(Debug, Clone)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
}

/// Why a version or constraint did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not a semantic version.
    #[error("invalid semantic version {0:?}")]
    Version(String),
    /// Not a valid constraint.
    #[error("improper constraint: {0:?}")]
    Constraint(String),
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// Length of the dot-separated identifier run starting at `s[i..]`.
fn scan_identifiers(s: &[u8], i: usize) -> usize {
    let mut end = i;
    loop {
        let start = end;
        while end < s.len() && is_ident_char(s[end]) {
            end += 1;
        }
        if end == start {
            return start;
        }
        if end + 1 < s.len() && s[end] == b'.' && is_ident_char(s[end + 1]) {
            end += 1;
            continue;
        }
        return end;
    }
}

fn valid_prerelease(pre: &str) -> bool {
    pre.split('.').all(|id| {
        let leading_zero =
            id.len() > 1 && id.bytes().all(|b| b.is_ascii_digit()) && id.starts_with('0');
        !id.is_empty() && !leading_zero
    })
}

impl Version {
    /// Parses a version leniently, as Masterminds' `NewVersion`: an optional
    /// `v`, one to three numeric parts, then optional `-prerelease` and
    /// `+metadata`.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let err = || ParseError::Version(input.to_string());
        let s = input.strip_prefix('v').unwrap_or(input);
        let (core, meta) = match s.split_once('+') {
            Some((c, m)) => (c, Some(m)),
            None => (s, None),
        };
        let (nums, pre) = match core.split_once('-') {
            Some((n, p)) => (n, p),
            None => (core, ""),
        };
        if let Some(m) = meta
            && (m.is_empty() || scan_identifiers(m.as_bytes(), 0) != m.len())
        {
            return Err(err());
        }
        if core.contains('-')
            && (pre.is_empty()
                || scan_identifiers(pre.as_bytes(), 0) != pre.len()
                || !valid_prerelease(pre))
        {
            return Err(err());
        }
        let mut parts = [0u64; 3];
        for (count, part) in nums.split('.').enumerate() {
            if count == 3 || part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            parts[count] = part.parse().map_err(|_| err())?;
        }
        Ok(Version {
            major: parts[0],
            minor: parts[1],
            patch: parts[2],
            pre: pre.to_string(),
        })
    }

    fn cmp_precedence(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_prerelease(&self.pre, &other.pre))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        Ok(())
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp_precedence(other) == Ordering::Equal
    }
}
impl Eq for Version {}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_precedence(other)
    }
}

/// SemVer 2.0 pre-release precedence; no pre-release ranks above any.
fn compare_prerelease(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(n), Ok(m)) => n.cmp(&m),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

#[derive(Debug, Clone)]
struct Constraint {
    op: Op,
    con: Version,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

/// A parsed range such as `>=1.2.0 <2.0.0 || ^3.1`.
#[derive(Debug, Clone)]
pub struct Constraints {
    groups: Vec<(Vec<Constraint>, bool)>,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r')
}

fn skip_space(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8))
}

fn is_wild(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

fn is_seg_char(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'x' | b'X' | b'*' | b'|')
}

impl Constraints {
    /// Parses a constraint string with Masterminds v3 syntax.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let err = || ParseError::Constraint(input.to_string());
        if input.len() > MAX_CONSTRAINT_LEN {
            return Err(err());
        }
        let rewritten = rewrite_hyphen_ranges(input);
        let ors: Vec<&str> = rewritten.split("||").collect();
        if ors.len() > MAX_GROUPS {
            return Err(err());
        }
        let mut groups = Vec::with_capacity(ors.len());
        for group in ors {
            let constraints = parse_group(group).ok_or_else(err)?;
            let has_pre = constraints.iter().any(|c| !c.con.pre.is_empty());
            groups.push((constraints, has_pre));
        }
        Ok(Constraints { groups })
    }

    /// True when `v` satisfies any OR group (every constraint in it).
    pub fn matches(&self, v: &Version) -> bool {
        self.groups
            .iter()
            .any(|(group, has_pre)| group.iter().all(|c| c.check(v, *has_pre)))
    }
}

/// Rewrites `A - B` into `>= A, <= B`, as Masterminds does before parsing.
fn rewrite_hyphen_ranges(input: &str) -> String {
    if !input.contains(" -") {
        return input.to_string();
    }
    let tokens: Vec<&str> = input.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if i + 2 < tokens.len()
            && tokens[i + 1] == "-"
            && looks_like_version(tokens[i])
            && looks_like_version(tokens[i + 2])
        {
            out.push(format!(">= {}, <= {}", tokens[i], tokens[i + 2]));
            i += 3;
        } else {
            out.push(tokens[i].to_string());
            i += 1;
        }
    }
    out.join(" ")
}

fn looks_like_version(s: &str) -> bool {
    let s = s.strip_prefix('v').unwrap_or(s);
    s.bytes().next().is_some_and(is_seg_char)
}

fn parse_group(g: &str) -> Option<Vec<Constraint>> {
    let mut s = skip_space(g);
    if s.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    loop {
        let (c, rest) = scan_constraint(s)?;
        out.push(c);
        let trimmed = skip_space(rest);
        if trimmed.is_empty() {
            return Some(out);
        }
        let next = if let Some(after_comma) = trimmed.strip_prefix(',') {
            skip_space(after_comma)
        } else if trimmed.len() == rest.len() {
            return None;
        } else {
            trimmed
        };
        if next.is_empty() {
            return None;
        }
        s = next;
    }
}

fn scan_constraint(s: &str) -> Option<(Constraint, &str)> {
    let (op, rest) = [
        ("!=", Op::NotEqual),
        (">=", Op::GreaterEqual),
        ("=>", Op::GreaterEqual),
        ("<=", Op::LessEqual),
        ("=<", Op::LessEqual),
        ("~>", Op::Tilde),
        ("=", Op::TildeOrEqual),
        (">", Op::Greater),
        ("<", Op::Less),
        ("~", Op::Tilde),
        ("^", Op::Caret),
    ]
    .iter()
    .find_map(|(p, op)| s.strip_prefix(p).map(|r| (*op, r)))
    .unwrap_or((Op::TildeOrEqual, s));
    let rest = skip_space(rest);
    let b = rest.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'v'));
    let mut segs: Vec<&str> = Vec::with_capacity(3);
    loop {
        let start = i;
        while i < b.len() && is_seg_char(b[i]) {
            i += 1;
        }
        if i == start {
            return None;
        }
        segs.push(&rest[start..i]);
        if segs.len() == 3 || i + 1 >= b.len() || b[i] != b'.' || !is_seg_char(b[i + 1]) {
            break;
        }
        i += 1;
    }
    let mut pre = "";
    if i < b.len() && b[i] == b'-' {
        let end = scan_identifiers(b, i + 1);
        if end > i + 1 {
            pre = &rest[i + 1..end];
            i = end;
        }
    }
    if i < b.len() && b[i] == b'+' {
        let end = scan_identifiers(b, i + 1);
        if end > i + 1 {
            i = end;
        }
    }
    if !pre.is_empty() && !valid_prerelease(pre) {
        return None;
    }
    let num = |s: &str| -> Option<u64> {
        if !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
            return None;
        }
        s.parse().ok()
    };
    let mut c = Constraint {
        op,
        con: Version {
            major: 0,
            minor: 0,
            patch: 0,
            pre: pre.to_string(),
        },
        dirty: false,
        minor_dirty: false,
        patch_dirty: false,
    };
    if is_wild(segs[0]) {
        c.dirty = true;
    } else if segs.len() < 2 || is_wild(segs[1]) {
        c.dirty = true;
        c.minor_dirty = true;
        c.con.major = num(segs[0])?;
    } else if segs.len() < 3 || is_wild(segs[2]) {
        c.dirty = true;
        c.patch_dirty = true;
        c.con.major = num(segs[0])?;
        c.con.minor = num(segs[1])?;
    } else {
        c.con.major = num(segs[0])?;
        c.con.minor = num(segs[1])?;
        c.con.patch = num(segs[2])?;
    }
    Some((c, &rest[i..]))
}

impl Constraint {
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let con = &self.con;
        match self.op {
            Op::NotEqual => {
                if self.dirty {
                    if con.major != v.major {
                        return true;
                    }
                    if con.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if con.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        return compare_prerelease(&v.pre, &con.pre) != Ordering::Equal;
                    }
                }
                v != con
            }
            Op::Greater => {
                if !self.dirty {
                    return v > con;
                }
                if v.major != con.major {
                    return v.major > con.major;
                }
                if self.minor_dirty {
                    return false;
                }
                if self.patch_dirty {
                    return v.minor > con.minor;
                }
                v > con
            }
            Op::Less => v < con,
            Op::GreaterEqual => v >= con,
            Op::LessEqual => {
                if !self.dirty {
                    return v <= con;
                }
                !(v.major > con.major
                    || (v.major == con.major && v.minor > con.minor && !self.minor_dirty))
            }
            Op::Tilde => self.tilde(v),
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v == con
                }
            }
            Op::Caret => {
                if v < con {
                    return false;
                }
                if con.major > 0 || self.minor_dirty {
                    return v.major == con.major;
                }
                if v.major > 0 {
                    return false;
                }
                if con.minor > 0 || self.patch_dirty {
                    return v.minor == con.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                v.patch == con.patch
            }
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let con = &self.con;
        if v < con {
            return false;
        }
        if con.major == 0
            && con.minor == 0
            && con.patch == 0
            && !self.minor_dirty
            && !self.patch_dirty
        {
            return true;
        }
        if v.major != con.major {
            return false;
        }
        v.minor == con.minor || self.minor_dirty
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("1.2.3", "1.2.3")]
    #[case("v1.2.3", "1.2.3")]
    #[case("1.2", "1.2.0")]
    #[case("1", "1.0.0")]
    #[case("1.2.3-beta.1+build.5", "1.2.3-beta.1")]
    fn versions_parse_leniently(#[case] input: &str, #[case] shown: &str) {
        assert_eq!(Version::parse(input).unwrap().to_string(), shown);
    }

    #[rstest]
    #[case("latest")]
    #[case("1.2.3.4")]
    #[case("1.2.3-01")]
    #[case("1..2")]
    #[case("")]
    #[case("1.2.3-")]
    fn non_versions_are_rejected(#[case] input: &str) {
        assert!(Version::parse(input).is_err(), "{input} parsed");
    }

    #[test]
    fn prerelease_precedence_follows_semver_2() {
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ];
        for pair in order.windows(2) {
            assert!(
                Version::parse(pair[0]).unwrap() < Version::parse(pair[1]).unwrap(),
                "{pair:?}"
            );
        }
    }

    #[rstest]
    #[case(">=1.0.0", "1.0.0", true)]
    #[case(">=1.0.0", "0.9.9", false)]
    #[case(">=1.0.0 <2.0.0", "1.9.9", true)]
    #[case(">=1.0.0, <2.0.0", "2.0.0", false)]
    #[case("^1.2.3", "1.9.0", true)]
    #[case("^1.2.3", "2.0.0", false)]
    #[case("^0.2.3", "0.2.9", true)]
    #[case("^0.2.3", "0.3.0", false)]
    #[case("^0.0.3", "0.0.4", false)]
    #[case("~1.2.3", "1.2.9", true)]
    #[case("~1.2.3", "1.3.0", false)]
    #[case("~1", "1.9.0", true)]
    #[case("1.2.x", "1.2.7", true)]
    #[case("1.2.x", "1.3.0", false)]
    #[case("1.2", "1.2.5", true)]
    #[case("*", "5.0.0", true)]
    #[case(">1.2", "1.2.9", false)]
    #[case(">1.2", "1.3.0", true)]
    #[case("<=1.2", "1.2.9", true)]
    #[case("<=1.2", "1.3.0", false)]
    #[case("!=1.2.3", "1.2.3", false)]
    #[case("1.0.0 - 2.0.0", "2.0.0", true)]
    #[case("1.0.0 - 2.0.0", "2.0.1", false)]
    #[case("<1.0.0 || >=3.0.0", "3.1.0", true)]
    #[case("<1.0.0 || >=3.0.0", "2.0.0", false)]
    #[case(">=1.0.0", "1.5.0-rc.1", false)]
    #[case(">=1.0.0-0", "1.5.0-rc.1", true)]
    #[case(">=1.0.0-0 <2.0.0", "1.5.0-rc.1", true)]
    fn constraints_match_like_masterminds(
        #[case] range: &str,
        #[case] version: &str,
        #[case] expected: bool,
    ) {
        let c = Constraints::parse(range).unwrap();
        assert_eq!(
            c.matches(&Version::parse(version).unwrap()),
            expected,
            "{range} vs {version}"
        );
    }

    #[rstest]
    #[case("")]
    #[case(">=")]
    #[case("foo")]
    #[case(">=1.0.0 ,")]
    #[case(">=1.0.0 bar")]
    fn bad_constraints_are_rejected(#[case] range: &str) {
        assert!(Constraints::parse(range).is_err(), "{range} parsed");
    }
}
