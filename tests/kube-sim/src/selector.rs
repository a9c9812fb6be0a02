//! Label selectors (equality- and set-based, as in `?labelSelector=`) and field selectors.

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq)]
pub enum Req {
    /// `k=v`, `k==v`
    Eq(String, String),
    /// `k!=v`
    Ne(String, String),
    /// `k in (a,b)`
    In(String, Vec<String>),
    /// `k notin (a,b)`
    NotIn(String, Vec<String>),
    /// `k`
    Exists(String),
    /// `!k`
    NotExists(String),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default)]
pub struct LabelSelector(pub Vec<Req>);

fn split_top(s: &str) -> Vec<String> {
    let mut out = vec![];
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c)
            }
            ')' => {
                depth -= 1;
                cur.push(c)
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

fn set_values(s: &str) -> Result<Vec<String>, String> {
    let s = s.trim();
    let inner = s
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("found '{s}', expected: '('"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

impl LabelSelector {
    /// Parses the string form.
    ///
    /// # Errors
    /// A message naming the bad requirement.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut reqs = vec![];
        for part in split_top(s) {
            let p = part.trim();
            if p.is_empty() {
                continue;
            }
            if let Some(k) = p.strip_prefix('!') {
                reqs.push(Req::NotExists(k.trim().to_string()));
            } else if let Some((k, v)) = p.split_once("!=") {
                reqs.push(Req::Ne(k.trim().into(), v.trim().into()));
            } else if let Some((k, v)) = p.split_once("==") {
                reqs.push(Req::Eq(k.trim().into(), v.trim().into()));
            } else if let Some((k, v)) = p.split_once('=') {
                reqs.push(Req::Eq(k.trim().into(), v.trim().into()));
            } else if let Some(i) = p.find(" notin ") {
                reqs.push(Req::NotIn(p[..i].trim().into(), set_values(&p[i + 7..])?));
            } else if let Some(i) = p.find(" in ") {
                reqs.push(Req::In(p[..i].trim().into(), set_values(&p[i + 4..])?));
            } else if p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
            {
                reqs.push(Req::Exists(p.to_string()));
            } else {
                return Err(format!("unable to parse requirement: {p}"));
            }
        }
        Ok(LabelSelector(reqs))
    }

    /// Builds a selector from a `metav1.LabelSelector` object.
    pub fn from_object(sel: &Value) -> LabelSelector {
        let mut reqs = vec![];
        if let Some(m) = sel["matchLabels"].as_object() {
            for (k, v) in m {
                reqs.push(Req::Eq(k.clone(), v.as_str().unwrap_or_default().into()));
            }
        }
        if let Some(exprs) = sel["matchExpressions"].as_array() {
            for e in exprs {
                let k = e["key"].as_str().unwrap_or_default().to_string();
                let vals: Vec<String> = e["values"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                match e["operator"].as_str().unwrap_or_default() {
                    "In" => reqs.push(Req::In(k, vals)),
                    "NotIn" => reqs.push(Req::NotIn(k, vals)),
                    "Exists" => reqs.push(Req::Exists(k)),
                    "DoesNotExist" => reqs.push(Req::NotExists(k)),
                    _ => {}
                }
            }
        }
        LabelSelector(reqs)
    }

    /// Whether the labels (a JSON object or null) match.
    pub fn matches(&self, labels: &Value) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::Ne(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        })
    }

    /// Whether the selector has no requirements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A parsed field selector (`metadata.name`, `metadata.namespace`, and a few others).
#[derive(Debug, Clone, Default)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses the string form.
    ///
    /// # Errors
    /// A message naming an unsupported field.
    pub fn parse(s: &str, kind: &str) -> Result<FieldSelector, String> {
        let mut out = vec![];
        for part in s.split(',') {
            let p = part.trim();
            if p.is_empty() {
                continue;
            }
            let (k, neg, v) = if let Some((k, v)) = p.split_once("!=") {
                (k, true, v)
            } else if let Some((k, v)) = p.split_once("==") {
                (k, false, v)
            } else if let Some((k, v)) = p.split_once('=') {
                (k, false, v)
            } else {
                return Err(format!("invalid selector: '{p}'; can't understand '{p}'"));
            };
            let k = k.trim();
            let ok = matches!(k, "metadata.name" | "metadata.namespace")
                || (kind == "Secret" && k == "type")
                || (kind == "Pod" && matches!(k, "status.phase" | "spec.nodeName"))
                || (kind == "Event" && k.starts_with("involvedObject."));
            if !ok {
                return Err(format!("field label not supported: {k}"));
            }
            out.push((k.to_string(), neg, v.trim().to_string()));
        }
        Ok(FieldSelector(out))
    }

    /// Whether an object matches.
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(k, neg, v)| {
            let mut cur = obj;
            for part in k.split('.') {
                cur = &cur[part];
            }
            let actual = cur.as_str().unwrap_or_default();
            (actual == v) != *neg
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_based_requirements_match_like_the_api_server() {
        let l = json!({"tier": "web", "env": "prod"});
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&l);
        assert!(m("tier in (web, db),env"));
        assert!(!m("tier notin (web)"));
        assert!(m("!missing,tier==web"));
        assert!(!m("env!=prod"));
        assert!(m(""));
        assert!(LabelSelector::parse("tier in web").is_err());
    }

    #[test]
    fn field_selectors_reject_unsupported_fields() {
        assert!(FieldSelector::parse("spec.foo=bar", "ConfigMap").is_err());
        let f = FieldSelector::parse("metadata.name!=a", "ConfigMap").unwrap();
        assert!(f.matches(&json!({"metadata": {"name": "b"}})));
        assert!(!f.matches(&json!({"metadata": {"name": "a"}})));
    }
}
