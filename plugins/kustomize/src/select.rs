//! Target selection for patches and replacements (gvk, name and namespace
//! regexes, label and annotation selectors).

use crate::resource::Res;
use regex::Regex;
use serde_json::{Map, Value};

/// A parsed selector.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    group: Option<String>,
    version: Option<String>,
    kind: Option<String>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<String>,
    annotations: Option<String>,
}

fn anchored(s: &str) -> Option<Regex> {
    // An invalid pattern matches itself literally rather than everything.
    Regex::new(&format!("^(?:{s})$"))
        .or_else(|_| Regex::new(&format!("^{}$", regex::escape(s))))
        .ok()
}

impl Selector {
    /// Parses `{group, version, kind, name, namespace, labelSelector, annotationSelector}`.
    pub fn parse(v: &Value) -> Self {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let (mut group, mut version) = (s("group"), s("version"));
        if let Some(av) = s("apiVersion") {
            let (g, ver) = crate::resource::split_api_version(&av);
            group = Some(g);
            version = Some(ver);
        }
        Self {
            group,
            version,
            kind: s("kind"),
            name: s("name").and_then(|n| anchored(&n)),
            namespace: s("namespace").and_then(|n| anchored(&n)),
            labels: s("labelSelector"),
            annotations: s("annotationSelector"),
        }
    }

    /// Whether a resource is selected (current or original name/namespace).
    pub fn matches(&self, r: &Res) -> bool {
        let cur = r.id();
        let org = r.org_id();
        if let Some(ns) = &self.namespace
            && !ns.is_match(org.effective_ns())
            && !ns.is_match(cur.effective_ns())
        {
            return false;
        }
        if let Some(n) = &self.name
            && !n.is_match(&org.name)
            && !n.is_match(&cur.name)
        {
            return false;
        }
        if self.group.as_ref().is_some_and(|g| *g != cur.group)
            || self.version.as_ref().is_some_and(|v| *v != cur.version)
            || self.kind.as_ref().is_some_and(|k| *k != cur.kind)
        {
            return false;
        }
        if let Some(l) = &self.labels
            && !label_match(l, &r.labels())
        {
            return false;
        }
        if let Some(a) = &self.annotations
            && !label_match(a, &r.annotations())
        {
            return false;
        }
        true
    }
}

fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c);
            }
            ')' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Kubernetes label-selector matching.
pub fn label_match(sel: &str, labels: &Map<String, Value>) -> bool {
    let get = |k: &str| labels.get(k.trim()).map(crate::fieldpath::scalar_text);
    split_top(sel).iter().all(|req| {
        let set = |rest: &str| -> Vec<String> {
            rest.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .map(|x| x.trim().to_string())
                .collect()
        };
        if let Some(k) = req.strip_prefix('!') {
            return get(k).is_none();
        }
        if let Some((k, v)) = req.split_once("!=") {
            return get(k).as_deref() != Some(v.trim());
        }
        if let Some((k, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
            return get(k).as_deref() == Some(v.trim());
        }
        if let Some((k, rest)) = req.split_once(" notin ") {
            return get(k).is_none_or(|v| !set(rest).contains(&v));
        }
        if let Some((k, rest)) = req.split_once(" in ") {
            return get(k).is_some_and(|v| set(rest).contains(&v));
        }
        get(req).is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case("app=web", true)]
    #[case("app==web", true)]
    #[case("app!=web", false)]
    #[case("app in (web, api)", true)]
    #[case("app notin (web)", false)]
    #[case("tier", true)]
    #[case("!tier", false)]
    #[case("!missing", true)]
    #[case("app=web,tier=front", true)]
    #[case("app=web,tier=back", false)]
    fn label_selectors_follow_kubernetes_syntax(#[case] sel: &str, #[case] want: bool) {
        let labels = json!({"app": "web", "tier": "front"});
        assert_eq!(label_match(sel, labels.as_object().unwrap()), want);
    }
}
