//! Semantic versions and constraints as Masterminds/semver v3 evaluates them.

use std::cmp::Ordering;

/// A parsed version.
#[derive(Debug, Clone)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    /// Prerelease.
    pub pre: String,
    /// Build metadata.
    pub meta: String,
    /// Original text.
    pub original: String,
}

impl Version {
    /// Parses leniently (`v` prefix, missing minor/patch).
    pub fn parse(s: &str) -> Result<Version, String> {
        let orig = s.to_string();
        let t = s.trim().strip_prefix('v').unwrap_or(s.trim());
        let (t, meta) = match t.split_once('+') {
            Some((a, b)) => (a, b.to_string()),
            None => (t, String::new()),
        };
        let (core, pre) = match t.split_once('-') {
            Some((a, b)) => (a, b.to_string()),
            None => (t, String::new()),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty()
            || parts.len() > 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()))
        {
            return Err("Invalid Semantic Version".into());
        }
        let n = |i: usize| {
            parts
                .get(i)
                .map(|p| p.parse::<u64>().unwrap_or(0))
                .unwrap_or(0)
        };
        Ok(Version {
            major: n(0),
            minor: n(1),
            patch: n(2),
            pre,
            meta,
            original: orig,
        })
    }

    fn cmp(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| cmp_pre(&self.pre, &o.pre))
    }
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let pa: Vec<&str> = a.split('.').collect();
    let pb: Vec<&str> = b.split('.').collect();
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

struct Partial {
    v: Version,
    /// Number of given components (wildcards count as missing).
    given: usize,
}

fn parse_partial(s: &str) -> Result<Partial, String> {
    let t = s.trim().strip_prefix('v').unwrap_or(s.trim());
    let (core, rest) = match t.find(['-', '+']) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let mut given = 0;
    let mut nums = [0u64; 3];
    for (i, p) in core.split('.').enumerate() {
        if i > 2 {
            return Err(format!("improper constraint: {s}"));
        }
        if p == "x" || p == "X" || p == "*" {
            break;
        }
        nums[i] = p.parse().map_err(|_| format!("improper constraint: {s}"))?;
        given = i + 1;
    }
    let pre = rest
        .strip_prefix('-')
        .map(|r| r.split('+').next().unwrap_or("").to_string())
        .unwrap_or_default();
    Ok(Partial {
        v: Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre,
            meta: String::new(),
            original: s.into(),
        },
        given,
    })
}

fn bump(p: &Partial, level: usize) -> Version {
    let mut v = p.v.clone();
    v.pre.clear();
    match level {
        0 => {
            v.major += 1;
            v.minor = 0;
            v.patch = 0;
        }
        1 => {
            v.minor += 1;
            v.patch = 0;
        }
        _ => v.patch += 1,
    }
    v
}

fn check_one(op: &str, c: &str, v: &Version) -> Result<bool, String> {
    let p = parse_partial(c)?;
    // Prereleases only match constraints that carry a prerelease.
    if !v.pre.is_empty() && p.v.pre.is_empty() {
        return Ok(false);
    }
    let lo = || p.v.clone();
    let ge = |x: &Version| v.cmp(x) != Ordering::Less;
    let lt = |x: &Version| v.cmp(x) == Ordering::Less;
    Ok(match op {
        "" | "=" => {
            if p.given == 3 {
                v.cmp(&p.v) == Ordering::Equal
            } else if p.given == 0 {
                true
            } else {
                ge(&lo()) && lt(&bump(&p, p.given - 1))
            }
        }
        "!=" => {
            if p.given == 3 {
                v.cmp(&p.v) != Ordering::Equal
            } else if p.given == 0 {
                false
            } else {
                !(ge(&lo()) && lt(&bump(&p, p.given - 1)))
            }
        }
        ">" => {
            if p.given == 3 || p.given == 0 {
                v.cmp(&p.v) == Ordering::Greater
            } else {
                ge(&bump(&p, p.given - 1))
            }
        }
        ">=" | "=>" => ge(&lo()),
        "<" => lt(&lo()),
        "<=" | "=<" => {
            if p.given == 3 {
                v.cmp(&p.v) != Ordering::Greater
            } else if p.given == 0 {
                true
            } else {
                lt(&bump(&p, p.given - 1))
            }
        }
        "~" | "~>" => {
            let upper = if p.given <= 1 {
                bump(&p, 0)
            } else {
                bump(&p, 1)
            };
            ge(&lo()) && lt(&upper)
        }
        "^" => {
            let upper = if p.v.major > 0 || p.given <= 1 {
                bump(&p, 0)
            } else if p.v.minor > 0 || p.given == 2 {
                bump(&p, 1)
            } else {
                bump(&p, 2)
            };
            ge(&lo()) && lt(&upper)
        }
        _ => return Err(format!("improper constraint: {op}{c}")),
    })
}

/// Checks `version` against a constraint string.
pub fn check(constraint: &str, version: &str) -> Result<bool, String> {
    let v = Version::parse(version)?;
    for alt in constraint.split("||") {
        let alt = alt.trim();
        // Hyphen ranges.
        let mut ok = true;
        let mut terms: Vec<(String, String)> = Vec::new();
        let toks: Vec<&str> = alt.split([',', ' ']).filter(|t| !t.is_empty()).collect();
        let mut i = 0;
        while i < toks.len() {
            let t = toks[i];
            if i + 2 < toks.len() && toks[i + 1] == "-" {
                terms.push((">=".into(), t.into()));
                terms.push(("<=".into(), toks[i + 2].into()));
                i += 3;
                continue;
            }
            let opend = t
                .find(|c: char| c.is_ascii_alphanumeric() || c == '*')
                .unwrap_or(t.len());
            let (op, rest) = t.split_at(opend);
            if rest.is_empty() && i + 1 < toks.len() {
                terms.push((op.into(), toks[i + 1].into()));
                i += 2;
                continue;
            }
            terms.push((op.into(), rest.into()));
            i += 1;
        }
        for (op, c) in &terms {
            if !check_one(op, c, &v)? {
                ok = false;
                break;
            }
        }
        if ok {
            return Ok(true);
        }
    }
    Ok(false)
}
