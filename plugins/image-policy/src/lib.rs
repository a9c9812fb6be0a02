//! Flux image policies (`semver`, `alphabetical`, `numerical`, with
//! `filterTags`) as a Gyre `image-policy` plugin. The logic is plain Rust so
//! it is tested natively; `guest` only adapts it to the WIT world.

pub mod semver;

// The WIT glue that wit-bindgen generates is `unsafe` by nature (raw exports).
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, missing_docs)]
mod guest;

use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The plugin configuration: Flux's ImagePolicy `spec.policy` and
/// `spec.filterTags`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyConfig {
    /// Which ordering decides the latest tag.
    pub policy: Policy,
    /// Optional tag filter and extraction.
    #[serde(default)]
    pub filter_tags: Option<FilterTags>,
}

/// Flux's `spec.policy`: exactly one of the three choices.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// Newest version satisfying a semver range.
    pub semver: Option<SemverPolicy>,
    /// Last (asc) or first (desc) tag in lexical order.
    pub alphabetical: Option<OrderPolicy>,
    /// Largest (asc) or smallest (desc) tag read as a number.
    pub numerical: Option<OrderPolicy>,
}

/// `spec.policy.semver`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemverPolicy {
    /// A Masterminds/semver v3 range, e.g. `>=1.0.0 <2.0.0`.
    pub range: String,
}

/// `spec.policy.alphabetical` / `spec.policy.numerical`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPolicy {
    /// `asc` (default: the greatest wins) or `desc` (the least wins).
    #[serde(default)]
    pub order: Order,
}

/// Sort order of an ordered policy.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// The greatest value is the latest.
    #[default]
    Asc,
    /// The least value is the latest.
    Desc,
}

/// `spec.filterTags`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterTags {
    /// A regular expression (RE2 syntax) a tag must match.
    #[serde(default)]
    pub pattern: String,
    /// A replacement template (`$1`, `${name}`) computing the value compared.
    #[serde(default)]
    pub extract: String,
}

/// Why a policy could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The configuration is not valid JSON or not a Flux policy.
    #[error("invalid image policy: {0}")]
    InvalidConfig(String),
    /// A numerical policy met a tag that is not a number.
    #[error(
        "tag {tag:?} is not a number (numerical policy); add filterTags to select numeric tags"
    )]
    NotNumeric {
        /// The offending value.
        tag: String,
    },
}

/// The tag a policy picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// The tag as listed in the registry.
    pub tag: String,
    /// The value that was compared (the extracted one when `extract` is set).
    pub compared: String,
}

enum Ordering {
    Semver(semver::Constraints),
    Alphabetical(Order),
    Numerical(Order),
}

impl PolicyConfig {
    /// Parses the JSON configuration.
    ///
    /// # Errors
    /// [`PolicyError::InvalidConfig`] when it is not valid JSON of this shape.
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        serde_json::from_str(json).map_err(|e| PolicyError::InvalidConfig(e.to_string()))
    }

    fn ordering(&self) -> Result<Ordering, PolicyError> {
        let p = &self.policy;
        match (&p.semver, &p.alphabetical, &p.numerical) {
            (Some(s), None, None) => semver::Constraints::parse(&s.range)
                .map(Ordering::Semver)
                .map_err(|e| PolicyError::InvalidConfig(format!("policy.semver.range: {e}"))),
            (None, Some(a), None) => Ok(Ordering::Alphabetical(a.order)),
            (None, None, Some(n)) => Ok(Ordering::Numerical(n.order)),
            (None, None, None) => Err(PolicyError::InvalidConfig(
                "policy: one of semver, alphabetical or numerical is required".into(),
            )),
            _ => Err(PolicyError::InvalidConfig(
                "policy: only one of semver, alphabetical or numerical may be set".into(),
            )),
        }
    }
}

/// Applies `filterTags`: keeps matching tags and maps the compared value to
/// the original tag. As in Flux, when two tags extract to the same value the
/// later one wins.
fn filter(
    tags: &[String],
    filter: Option<&FilterTags>,
) -> Result<BTreeMap<String, String>, PolicyError> {
    let Some(f) = filter.filter(|f| !f.pattern.is_empty()) else {
        return Ok(tags.iter().map(|t| (t.clone(), t.clone())).collect());
    };
    let re = Regex::new(&f.pattern)
        .map_err(|e| PolicyError::InvalidConfig(format!("filterTags.pattern: {e}")))?;
    let mut out = BTreeMap::new();
    for tag in tags {
        let Some(caps) = re.captures(tag) else {
            continue;
        };
        let value = if f.extract.is_empty() {
            tag.clone()
        } else {
            let mut dst = String::new();
            caps.expand(&f.extract, &mut dst);
            dst
        };
        out.insert(value, tag.clone());
    }
    Ok(out)
}

/// Selects the latest tag among `tags` by `config`; `None` when no tag
/// qualifies.
///
/// # Errors
/// Invalid configuration (bad range or regex), or a non-numeric value under
/// a numerical policy.
pub fn select(tags: &[String], config: &PolicyConfig) -> Result<Option<Selected>, PolicyError> {
    let ordering = config.ordering()?;
    let candidates = filter(tags, config.filter_tags.as_ref())?;
    let best = match ordering {
        Ordering::Semver(range) => candidates
            .keys()
            .filter_map(|k| semver::Version::parse(k).ok().map(|v| (v, k)))
            .filter(|(v, _)| range.matches(v))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, k)| k.clone()),
        Ordering::Alphabetical(order) => match order {
            Order::Asc => candidates.keys().next_back().cloned(),
            Order::Desc => candidates.keys().next().cloned(),
        },
        Ordering::Numerical(order) => {
            let mut best: Option<(f64, &String)> = None;
            for k in candidates.keys() {
                let n: f64 = k
                    .parse()
                    .map_err(|_| PolicyError::NotNumeric { tag: k.clone() })?;
                let better = match best {
                    None => true,
                    Some((b, _)) => match order {
                        Order::Asc => n > b,
                        Order::Desc => n < b,
                    },
                };
                if better {
                    best = Some((n, k));
                }
            }
            best.map(|(_, k)| k.clone())
        }
    };
    Ok(best.map(|compared| Selected {
        tag: candidates[&compared].clone(),
        compared,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn run(config: &str, list: &[&str]) -> Option<String> {
        let cfg = PolicyConfig::from_json(config).unwrap();
        select(&tags(list), &cfg).unwrap().map(|s| s.tag)
    }

    #[rstest]
    #[case(r#"{"policy":{"semver":{"range":">=1.0.0"}}}"#, &["0.9.0", "1.0.0", "1.2.0", "latest", "1.1.9"], Some("1.2.0"))]
    #[case(r#"{"policy":{"semver":{"range":"5.0.x"}}}"#, &["5.0.1", "5.0.3", "5.1.0", "v5.0.2"], Some("5.0.3"))]
    #[case(r#"{"policy":{"semver":{"range":">=1.0.0"}}}"#, &["1.0.0", "2.0.0-rc.1"], Some("1.0.0"))]
    #[case(r#"{"policy":{"semver":{"range":">=1.0.0-0"}}}"#, &["1.0.0", "2.0.0-rc.1"], Some("2.0.0-rc.1"))]
    #[case(r#"{"policy":{"semver":{"range":">=9.0.0"}}}"#, &["1.0.0"], None)]
    #[case(r#"{"policy":{"alphabetical":{}}}"#, &["RELEASE.2024-01-02", "RELEASE.2024-03-01", "RELEASE.2023-12-31"], Some("RELEASE.2024-03-01"))]
    #[case(r#"{"policy":{"alphabetical":{"order":"desc"}}}"#, &["b", "a", "c"], Some("a"))]
    #[case(r#"{"policy":{"numerical":{"order":"asc"}}}"#, &["9", "10", "2"], Some("10"))]
    #[case(r#"{"policy":{"numerical":{"order":"desc"}}}"#, &["9", "10", "2"], Some("2"))]
    fn policies_pick_the_latest_tag_like_flux(
        #[case] cfg: &str,
        #[case] list: &[&str],
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(run(cfg, list).as_deref(), expected);
    }

    #[test]
    fn filter_tags_extracts_the_compared_value_and_returns_the_original_tag() {
        // The example from Flux's docs: main-<sha>-<timestamp> ordered by timestamp.
        let cfg = r#"{"filterTags":{"pattern":"^main-[a-fA-F0-9]+-(?P<ts>.*)","extract":"$ts"},"policy":{"numerical":{"order":"asc"}}}"#;
        let got = select(
            &tags(&[
                "main-a1b2c3-1700000000",
                "main-ffff00-1700000500",
                "dev-abc-1800000000",
                "main-0a0a0a-1600000000",
            ]),
            &PolicyConfig::from_json(cfg).unwrap(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            got,
            Selected {
                tag: "main-ffff00-1700000500".into(),
                compared: "1700000500".into()
            }
        );
    }

    #[test]
    fn semver_with_filter_and_extract_compares_the_extracted_version() {
        let cfg = r#"{"filterTags":{"pattern":"^v(?P<v>[0-9.]+)-alpine$","extract":"$v"},"policy":{"semver":{"range":"^1"}}}"#;
        assert_eq!(
            run(
                cfg,
                &[
                    "v1.2.0-alpine",
                    "v1.10.0-alpine",
                    "v2.0.0-alpine",
                    "v1.11.0"
                ]
            )
            .as_deref(),
            Some("v1.10.0-alpine")
        );
    }

    #[test]
    fn numerical_policy_rejects_non_numbers_with_a_hint() {
        let cfg = PolicyConfig::from_json(r#"{"policy":{"numerical":{}}}"#).unwrap();
        let err = select(&tags(&["1", "latest"]), &cfg).unwrap_err();
        assert!(
            matches!(err, PolicyError::NotNumeric { ref tag } if tag == "latest"),
            "{err}"
        );
    }

    #[rstest]
    #[case(r#"{"policy":{}}"#, "one of semver")]
    #[case(r#"{"policy":{"semver":{"range":"x"},"numerical":{}}}"#, "only one")]
    #[case(
        r#"{"policy":{"semver":{"range":"not a range"}}}"#,
        "policy.semver.range"
    )]
    #[case(
        r#"{"policy":{"alphabetical":{}},"filterTags":{"pattern":"("}}"#,
        "filterTags.pattern"
    )]
    #[case(
        r#"{"policy":{"alphabetical":{"order":"sideways"}}}"#,
        "invalid image policy"
    )]
    fn invalid_configs_name_the_field(#[case] cfg: &str, #[case] needle: &str) {
        let err = PolicyConfig::from_json(cfg)
            .and_then(|c| select(&tags(&["1.0.0"]), &c))
            .unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
}
