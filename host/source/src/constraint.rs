//! Masterminds-compatible semver constraints, as Helm and Flux use them
//! (`>=1.0.0 <2.0.0`, `~1.2`, `^1`, `1.x`, `1.2 - 1.4`, `!=1.3.0`, `a || b`).
//!
//! A constraint is an OR (`||`) of AND groups (comma- or space-separated comparators).
//! Pre-release versions match only if a comparator in the group names a pre-release, as in
//! Masterminds' semver v3.

use std::cmp::Ordering;
use std::fmt;

use semver::Version;

/// A constraint could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid semver constraint {input:?}: {reason}")]
pub struct ParseError {
    /// The whole constraint.
    pub input: String,
    /// Which part was wrong.
    pub reason: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Version,
}

impl Comparator {
    fn matches(&self, v: &Version) -> bool {
        let ord = cmp_versions(v, &self.version);
        match self.op {
            Op::Eq => ord == Ordering::Equal,
            Op::Ne => ord != Ordering::Equal,
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
        }
    }
}

/// Compare ignoring build metadata (semver precedence).
fn cmp_versions(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| a.pre.cmp(&b.pre))
}

/// A parsed constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    input: String,
    groups: Vec<Vec<Comparator>>,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.input)
    }
}

/// A version with possibly-missing minor/patch parts (`1`, `1.2`, `1.x`).
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: semver::Prerelease,
}

fn parse_partial(s: &str) -> Option<Partial> {
    let s = s.strip_prefix('v').unwrap_or(s);
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (
            c,
            semver::Prerelease::new(p.split('+').next().unwrap_or("")).ok()?,
        ),
        None => (s.split('+').next().unwrap_or(""), semver::Prerelease::EMPTY),
    };
    let mut parts = core.split('.');
    let mut next = || -> Option<Option<u64>> {
        match parts.next() {
            None => Some(None),
            Some("x" | "X" | "*") => Some(None),
            Some(n) => n.parse().ok().map(Some),
        }
    };
    let major = next()?;
    let minor = next()?;
    let patch = next()?;
    if parts.next().is_some() {
        return None;
    }
    if (major.is_none() && minor.is_some()) || (minor.is_none() && patch.is_some()) {
        return None;
    }
    Some(Partial {
        major,
        minor,
        patch,
        pre,
    })
}

fn v(major: u64, minor: u64, patch: u64) -> Version {
    Version::new(major, minor, patch)
}

/// Lenient version parsing as Masterminds' `NewVersion`: `v` prefix and missing parts allowed.
pub fn parse_version(s: &str) -> Option<Version> {
    let p = parse_partial(s.trim())?;
    let mut out = v(p.major?, p.minor.unwrap_or(0), p.patch.unwrap_or(0));
    out.pre = p.pre;
    if let Some((_, build)) = s.split_once('+') {
        out.build = semver::BuildMetadata::new(build).ok()?;
    }
    Some(out)
}

impl Constraint {
    /// Parse a constraint.
    ///
    /// # Errors
    /// Unknown operators or malformed versions.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let err = |reason| ParseError {
            input: input.to_string(),
            reason,
        };
        let mut groups = Vec::new();
        for alt in input.split("||") {
            let mut group = Vec::new();
            // Normalise: commas are ANDs; join operators to their versions (">= 1.2" → ">=1.2").
            let mut tokens: Vec<String> = Vec::new();
            let spaced = alt.replace(',', " ");
            let mut pending_op = String::new();
            for tok in spaced.split_whitespace() {
                if tok.chars().all(|c| "<>=!~^".contains(c)) {
                    pending_op.push_str(tok);
                } else {
                    tokens.push(format!("{pending_op}{tok}"));
                    pending_op.clear();
                }
            }
            if !pending_op.is_empty() {
                return Err(err("operator without a version"));
            }
            let mut i = 0;
            while i < tokens.len() {
                // Hyphen range: `a - b`.
                if i + 2 < tokens.len() && tokens[i + 1] == "-" {
                    let lo = parse_partial(&tokens[i]).ok_or(err("bad version in range"))?;
                    let hi = parse_partial(&tokens[i + 2]).ok_or(err("bad version in range"))?;
                    group.push(Comparator {
                        op: Op::Ge,
                        version: floor(&lo),
                    });
                    push_le(&mut group, &hi);
                    i += 3;
                    continue;
                }
                parse_comparator(&tokens[i], &mut group).ok_or(err("bad comparator"))?;
                i += 1;
            }
            groups.push(group);
        }
        Ok(Self {
            input: input.to_string(),
            groups,
        })
    }

    /// Whether `version` satisfies the constraint.
    pub fn matches(&self, version: &Version) -> bool {
        self.groups.iter().any(|g| {
            if !version.pre.is_empty() && !g.iter().any(|c| !c.version.pre.is_empty()) {
                return false;
            }
            g.iter().all(|c| c.matches(version))
        })
    }

    /// The highest of `candidates` that satisfies the constraint.
    pub fn best<'a, T>(
        &self,
        candidates: impl IntoIterator<Item = (Version, &'a T)>,
    ) -> Option<(Version, &'a T)>
    where
        T: ?Sized,
    {
        candidates
            .into_iter()
            .filter(|(v, _)| self.matches(v))
            .max_by(|a, b| cmp_versions(&a.0, &b.0))
    }
}

fn floor(p: &Partial) -> Version {
    let mut out = v(
        p.major.unwrap_or(0),
        p.minor.unwrap_or(0),
        p.patch.unwrap_or(0),
    );
    out.pre = p.pre.clone();
    out
}

/// `<= p` where missing parts are wildcards: `<=1.2` means `<1.3.0`.
fn push_le(group: &mut Vec<Comparator>, p: &Partial) {
    match (p.major, p.minor, p.patch) {
        (None, _, _) => {}
        (Some(ma), None, _) => group.push(Comparator {
            op: Op::Lt,
            version: v(ma + 1, 0, 0),
        }),
        (Some(ma), Some(mi), None) => group.push(Comparator {
            op: Op::Lt,
            version: v(ma, mi + 1, 0),
        }),
        (Some(_), Some(_), Some(_)) => group.push(Comparator {
            op: Op::Le,
            version: floor(p),
        }),
    }
}

/// The exclusive upper bound of a wildcard version (`1.x` → `2.0.0`), if any part is missing.
fn wildcard_upper(p: &Partial) -> Option<Version> {
    match (p.major, p.minor, p.patch) {
        (None, _, _) => None,
        (Some(ma), None, _) => Some(v(ma + 1, 0, 0)),
        (Some(ma), Some(mi), None) => Some(v(ma, mi + 1, 0)),
        _ => None,
    }
}

fn parse_comparator(tok: &str, group: &mut Vec<Comparator>) -> Option<()> {
    let ops = [
        "!=", ">=", "<=", "=>", "=<", "==", ">", "<", "=", "~>", "~", "^",
    ];
    let (op, rest) = ops
        .iter()
        .find_map(|o| tok.strip_prefix(o).map(|r| (*o, r)))
        .unwrap_or(("", tok));
    let p = parse_partial(rest.trim())?;
    let wild = p.major.is_none() || p.minor.is_none() || p.patch.is_none();
    match op {
        "" | "=" | "==" => {
            if p.major.is_none() {
                return Some(()); // `*`: anything
            }
            if wild {
                group.push(Comparator {
                    op: Op::Ge,
                    version: floor(&p),
                });
                group.push(Comparator {
                    op: Op::Lt,
                    version: wildcard_upper(&p)?,
                });
            } else {
                group.push(Comparator {
                    op: Op::Eq,
                    version: floor(&p),
                });
            }
        }
        "!=" => {
            if wild {
                // `!=1.2.x`: outside [1.2.0, 1.3.0) — not expressible as an AND; Masterminds
                // treats it the same way via its wildcard check. Approximate with both bounds
                // via an impossible-to-satisfy pair would be wrong, so reject.
                return None;
            }
            group.push(Comparator {
                op: Op::Ne,
                version: floor(&p),
            });
        }
        ">" => match wildcard_upper(&p) {
            // `>1.2` means greater than any 1.2.x.
            Some(up) => group.push(Comparator {
                op: Op::Ge,
                version: up,
            }),
            None if p.major.is_none() => return None,
            None => group.push(Comparator {
                op: Op::Gt,
                version: floor(&p),
            }),
        },
        ">=" | "=>" => group.push(Comparator {
            op: Op::Ge,
            version: floor(&p),
        }),
        "<" => group.push(Comparator {
            op: Op::Lt,
            version: floor(&p),
        }),
        "<=" | "=<" => push_le(group, &p),
        "~" | "~>" => {
            let ma = p.major?;
            group.push(Comparator {
                op: Op::Ge,
                version: floor(&p),
            });
            let up = match p.minor {
                None => v(ma + 1, 0, 0),
                Some(mi) => v(ma, mi + 1, 0),
            };
            group.push(Comparator {
                op: Op::Lt,
                version: up,
            });
        }
        "^" => {
            let ma = p.major?;
            group.push(Comparator {
                op: Op::Ge,
                version: floor(&p),
            });
            let up = match (ma, p.minor, p.patch) {
                (0, None, _) => v(1, 0, 0),
                (0, Some(0), None) => v(0, 1, 0),
                (0, Some(0), Some(pa)) => v(0, 0, pa + 1),
                (0, Some(mi), _) => v(0, mi + 1, 0),
                (ma, _, _) => v(ma + 1, 0, 0),
            };
            group.push(Comparator {
                op: Op::Lt,
                version: up,
            });
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: &str, yes: &[&str], no: &[&str]) {
        let c = Constraint::parse(c).unwrap();
        for y in yes {
            assert!(
                c.matches(&parse_version(y).unwrap()),
                "{c} should match {y}"
            );
        }
        for n in no {
            assert!(
                !c.matches(&parse_version(n).unwrap()),
                "{c} should not match {n}"
            );
        }
    }

    #[test]
    fn range_with_space_and_comma() {
        ok(">=1.0.0 <2.0.0", &["1.0.0", "1.9.9"], &["0.9.9", "2.0.0"]);
        ok(">= 1.0.0, < 2.0.0", &["1.5.0"], &["2.0.0"]);
    }

    #[test]
    fn tilde_and_caret() {
        ok("~1.2", &["1.2.0", "1.2.9"], &["1.3.0", "1.1.9"]);
        ok("~1.2.3", &["1.2.3", "1.2.8"], &["1.3.0", "1.2.2"]);
        ok("~1", &["1.0.0", "1.9.0"], &["2.0.0"]);
        ok("^1", &["1.0.0", "1.99.0"], &["2.0.0", "0.9.0"]);
        ok("^1.2.3", &["1.2.3", "1.9.0"], &["2.0.0", "1.2.2"]);
        ok("^0.2.3", &["0.2.3", "0.2.9"], &["0.3.0"]);
        ok("^0.0.3", &["0.0.3"], &["0.0.4"]);
    }

    #[test]
    fn wildcards_and_any() {
        ok("1.x", &["1.0.0", "1.5.2"], &["2.0.0", "0.1.0"]);
        ok("1.2.x", &["1.2.0", "1.2.7"], &["1.3.0"]);
        ok("*", &["0.0.1", "9.9.9"], &["1.0.0-rc.1"]);
        ok("1.2.3", &["1.2.3", "v1.2.3"], &["1.2.4"]);
    }

    #[test]
    fn hyphen_ranges_or_and_not_equal() {
        ok("1.2 - 1.4.5", &["1.2.0", "1.4.5"], &["1.4.6", "1.1.9"]);
        ok("2.3.4 - 4.5", &["4.5.9"], &["4.6.0"]);
        ok("<1.0.0 || >=3.0.0", &["0.5.0", "3.1.0"], &["2.0.0"]);
        ok(">=1.0.0, !=1.3.0", &["1.2.0", "1.4.0"], &["1.3.0"]);
        ok(">1.2", &["1.3.0"], &["1.2.9"]);
        ok("<=1.2", &["1.2.9"], &["1.3.0"]);
    }

    #[test]
    fn prereleases_need_a_prerelease_comparator() {
        ok(">=1.0.0", &["1.0.0"], &["1.1.0-rc.1"]);
        ok(">=1.1.0-0", &["1.1.0-rc.1", "1.2.0"], &[]);
    }

    #[test]
    fn best_picks_the_highest_match() {
        let c = Constraint::parse("^1").unwrap();
        let tags = ["v1.0.0", "v1.3.0", "v2.0.0", "junk", "v1.2.9"];
        let best = c.best(
            tags.iter()
                .filter_map(|t| parse_version(t).map(|v| (v, *t))),
        );
        assert_eq!(best.map(|(_, t)| t), Some("v1.3.0"));
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(Constraint::parse(">=").is_err());
        assert!(Constraint::parse("~>x.y.z.w").is_err());
        assert!(Constraint::parse("banana").is_err());
    }
}
