//! Kustomize-style object selectors (a drift ignore rule's `target`), matched as Flux's
//! `ssa/jsondiff` matches them: group, version, kind, name and namespace are regular
//! expressions anchored at both ends (empty = any); label and annotation selectors are
//! Kubernetes label-selector expressions.

use std::collections::BTreeMap;

use gyre_api::kustomize::Selector;
use regex::Regex;
use serde_json::Value;

/// Why a selector is unusable.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field is not a valid regular expression.
    #[error("invalid {field} regular expression {pattern:?}: {source}")]
    Regex {
        /// Which field.
        field: &'static str,
        /// The pattern.
        pattern: String,
        /// Cause.
        #[source]
        source: Box<regex::Error>,
    },
    /// A label or annotation selector does not parse.
    #[error("invalid {field} {selector:?}: {reason}")]
    Selector {
        /// `labelSelector` or `annotationSelector`.
        field: &'static str,
        /// The expression.
        selector: String,
        /// What is wrong.
        reason: String,
    },
}

/// A compiled selector.
#[derive(Debug)]
pub struct Target {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<Vec<Requirement>>,
    annotations: Option<Vec<Requirement>>,
}

impl Target {
    /// Compiles a selector.
    ///
    /// # Errors
    /// A field that is not a regular expression, or a selector expression that does not
    /// parse.
    pub fn new(s: &Selector) -> Result<Target, Error> {
        let re = |field: &'static str, p: &Option<String>| -> Result<Option<Regex>, Error> {
            match p.as_deref().filter(|p| !p.is_empty()) {
                None => Ok(None),
                Some(p) => Regex::new(&format!("^(?:{p})$"))
                    .map(Some)
                    .map_err(|e| Error::Regex {
                        field,
                        pattern: p.to_string(),
                        source: Box::new(e),
                    }),
            }
        };
        let sel = |field: &'static str, p: &Option<String>| match p
            .as_deref()
            .filter(|p| !p.is_empty())
        {
            None => Ok(None),
            Some(p) => parse_selector(p)
                .map(Some)
                .map_err(|reason| Error::Selector {
                    field,
                    selector: p.to_string(),
                    reason,
                }),
        };
        Ok(Target {
            group: re("group", &s.group)?,
            version: re("version", &s.version)?,
            kind: re("kind", &s.kind)?,
            name: re("name", &s.name)?,
            namespace: re("namespace", &s.namespace)?,
            labels: sel("labelSelector", &s.label_selector)?,
            annotations: sel("annotationSelector", &s.annotation_selector)?,
        })
    }

    /// Whether an object (as rendered, with its namespace set) matches.
    pub fn matches(&self, obj: &Value) -> bool {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let m = |r: &Option<Regex>, s: &str| r.as_ref().is_none_or(|r| r.is_match(s));
        let map = |v: &Value| -> BTreeMap<String, String> {
            v.as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default()
        };
        let sel = |reqs: &Option<Vec<Requirement>>, v: &Value| {
            reqs.as_ref().is_none_or(|r| {
                let set = map(v);
                r.iter().all(|req| req.matches(&set))
            })
        };
        m(&self.group, group)
            && m(&self.version, version)
            && m(&self.kind, obj["kind"].as_str().unwrap_or_default())
            && m(
                &self.name,
                obj["metadata"]["name"].as_str().unwrap_or_default(),
            )
            && m(
                &self.namespace,
                obj["metadata"]["namespace"].as_str().unwrap_or_default(),
            )
            && sel(&self.labels, &obj["metadata"]["labels"])
            && sel(&self.annotations, &obj["metadata"]["annotations"])
    }
}

/// One requirement of a label-selector expression.
#[derive(Debug, PartialEq, Eq)]
enum Requirement {
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl Requirement {
    fn matches(&self, set: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Exists(k) => set.contains_key(k),
            Requirement::NotExists(k) => !set.contains_key(k),
            Requirement::In(k, vs) => set.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => set.get(k).is_none_or(|v| !vs.contains(v)),
        }
    }
}

/// Parses `a=b,c!=d,e in (f,g),h notin (i),j,!k` (the Kubernetes label-selector syntax).
fn parse_selector(s: &str) -> Result<Vec<Requirement>, String> {
    // Split on commas outside parentheses.
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return Err("unbalanced parentheses".into());
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses".into());
    }
    parts.push(&s[start..]);
    let key = |k: &str| -> Result<String, String> {
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(format!("invalid key {k:?}"));
        }
        Ok(k.to_string())
    };
    let set = |v: &str| -> Result<Vec<String>, String> {
        let inner = v
            .trim()
            .strip_prefix('(')
            .and_then(|v| v.strip_suffix(')'))
            .ok_or_else(|| format!("expected a parenthesized set of values, got {v:?}"))?;
        Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
    };
    let mut out = Vec::new();
    for p in parts.iter().map(|p| p.trim()) {
        if p.is_empty() {
            return Err("empty requirement".into());
        }
        let r = if let Some((k, v)) = p.split_once("!=") {
            Requirement::NotIn(key(k)?, vec![v.trim().to_string()])
        } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
            Requirement::In(key(k)?, vec![v.trim().to_string()])
        } else if let Some((k, v)) = p.split_once(" notin ") {
            Requirement::NotIn(key(k)?, set(v)?)
        } else if let Some((k, v)) = p.split_once(" in ") {
            Requirement::In(key(k)?, set(v)?)
        } else if let Some(k) = p.strip_prefix('!') {
            Requirement::NotExists(key(k)?)
        } else {
            Requirement::Exists(key(p)?)
        };
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "podinfo-web", "namespace": "apps",
            "labels": {"app": "podinfo", "tier": "web"},
            "annotations": {"drift": "ignore"}}})
    }

    fn sel(v: Value) -> Selector {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn an_empty_target_matches_everything() {
        assert!(
            Target::new(&Selector::default())
                .unwrap()
                .matches(&deploy())
        );
    }

    #[test]
    fn fields_are_regular_expressions_anchored_at_both_ends() {
        let t = |v| Target::new(&sel(v)).unwrap().matches(&deploy());
        assert!(t(json!({"kind": "Deployment"})));
        assert!(t(json!({"kind": "Deploy.*"})));
        assert!(!t(json!({"kind": "Deploy"})), "anchored: no prefix match");
        assert!(!t(json!({"kind": "StatefulSet"})));
        assert!(t(json!({"name": "podinfo-.*", "namespace": "apps"})));
        assert!(!t(json!({"name": "web"})));
        assert!(t(json!({"group": "apps", "version": "v1"})));
        assert!(!t(json!({"group": "batch"})));
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}});
        assert!(
            Target::new(&sel(json!({"group": "", "version": "v1"})))
                .unwrap()
                .matches(&svc)
        );
        assert!(
            !Target::new(&sel(json!({"group": "apps"})))
                .unwrap()
                .matches(&svc)
        );
    }

    #[test]
    fn label_and_annotation_selectors_use_the_label_selector_syntax() {
        let t = |v| Target::new(&sel(v)).unwrap().matches(&deploy());
        assert!(t(json!({"labelSelector": "app=podinfo"})));
        assert!(t(
            json!({"labelSelector": "app==podinfo,tier in (web, api)"})
        ));
        assert!(!t(json!({"labelSelector": "app=podinfo,tier notin (web)"})));
        assert!(t(json!({"labelSelector": "tier,!missing"})));
        assert!(!t(json!({"labelSelector": "app!=podinfo"})));
        assert!(t(json!({"annotationSelector": "drift=ignore"})));
        assert!(!t(json!({"annotationSelector": "drift=keep"})));
        assert!(
            !t(json!({"annotationSelector": "app"})),
            "labels are not annotations"
        );
    }

    #[test]
    fn bad_patterns_and_selectors_are_clear_errors() {
        let e = Target::new(&sel(json!({"kind": "Deploy("}))).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid kind regular expression \"Deploy(\""),
            "{e}"
        );
        let e = Target::new(&sel(json!({"labelSelector": "a in (b"}))).unwrap_err();
        assert!(e.to_string().contains("unbalanced parentheses"), "{e}");
        let e = Target::new(&sel(json!({"labelSelector": "a=b,,c"}))).unwrap_err();
        assert!(e.to_string().contains("empty requirement"), "{e}");
    }
}
