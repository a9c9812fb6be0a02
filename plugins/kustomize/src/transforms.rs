//! The built-in transformers: namespace, name prefix/suffix, labels,
//! annotations, images, replicas, and the name-reference fix-up.

use crate::error::{Error, Result};
use crate::fieldspec::{Config, FieldSpec, walk};
use crate::resource::{Id, Res, is_cluster_scoped};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Sets the namespace of every namespaced object.
pub fn namespace(res: &mut [Res], ns: &str, cfg: &Config) -> Result<()> {
    for r in res.iter_mut() {
        let id = r.id();
        for fs in &cfg.namespace {
            if !fs.matches(&id) || fs.path == ["metadata", "namespace"] {
                continue;
            }
            if fs.path == ["metadata", "name"] {
                // A core Namespace object takes the new namespace's name.
                if id.kind == "Namespace" && id.group.is_empty() && id.name != ns {
                    r.store_prev();
                    r.set_name(ns);
                }
                continue;
            }
            walk(&mut r.obj, &fs.path, fs.create, &mut |v| {
                *v = Value::String(ns.into());
                Ok(())
            })?;
        }
        // kustomize records the previous id of every object here, even
        // cluster-scoped ones; name references rely on it.
        r.store_prev();
        if !is_cluster_scoped(&id.group, &id.kind) && id.namespace != ns {
            r.set_namespace(ns);
        }
        if matches!(id.kind.as_str(), "RoleBinding" | "ClusterRoleBinding")
            && let Some(Value::Array(subjects)) = r.obj.get_mut("subjects")
        {
            for s in subjects {
                if s.get("name").and_then(Value::as_str) == Some("default")
                    && let Some(m) = s.as_object_mut()
                {
                    m.insert("namespace".into(), Value::String(ns.into()));
                }
            }
        }
    }
    Ok(())
}

fn skip_prefix(id: &Id) -> bool {
    matches!(id.kind.as_str(), "CustomResourceDefinition" | "Namespace")
        || (id.kind == "APIService" && id.group == "apiregistration.k8s.io")
}

/// Adds a name prefix and/or suffix.
pub fn prefix_suffix(
    res: &mut [Res],
    prefix: &str,
    suffix: &str,
    specs: &[FieldSpec],
) -> Result<()> {
    if prefix.is_empty() && suffix.is_empty() {
        return Ok(());
    }
    for r in res.iter_mut() {
        let id = r.id();
        if skip_prefix(&id) {
            continue;
        }
        let mut applied = false;
        for fs in specs {
            if !fs.matches(&id) {
                continue;
            }
            if fs.path == ["metadata", "name"] {
                if !applied {
                    r.store_prev();
                    let n = format!("{prefix}{}{suffix}", r.name());
                    r.set_name(&n);
                    applied = true;
                }
            } else {
                walk(&mut r.obj, &fs.path, fs.create, &mut |v| {
                    if let Value::String(s) = v {
                        *s = format!("{prefix}{s}{suffix}");
                    }
                    Ok(())
                })?;
            }
        }
        if applied {
            if !prefix.is_empty() {
                r.prefixes.push(prefix.into());
            }
            if !suffix.is_empty() {
                r.suffixes.push(suffix.into());
            }
        }
    }
    Ok(())
}

/// Adds map entries (labels or annotations) at the given field specs.
pub fn add_map(res: &mut [Res], pairs: &Map<String, Value>, specs: &[FieldSpec]) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let pairs: Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => Value::String(s.clone()),
                Value::Null => Value::String(String::new()),
                other => Value::String(other.to_string()),
            };
            (k.clone(), s)
        })
        .collect();
    for r in res.iter_mut() {
        let id = r.id();
        for fs in specs {
            if !fs.matches(&id) {
                continue;
            }
            walk(&mut r.obj, &fs.path, fs.create, &mut |v| {
                if v.is_null() {
                    *v = Value::Object(Map::new());
                }
                if let Value::Object(m) = v {
                    for (k, x) in &pairs {
                        m.insert(k.clone(), x.clone());
                    }
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// One `images:` entry.
#[derive(Debug, Clone, Default)]
pub struct Image {
    /// Image name to match.
    pub name: String,
    /// Replacement name.
    pub new_name: Option<String>,
    /// Replacement tag.
    pub new_tag: Option<String>,
    /// Replacement digest.
    pub digest: Option<String>,
}

fn split_image(image: &str) -> (&str, &str) {
    // Returns (name, rest-including-separator).
    if let Some(i) = image.find('@') {
        let (n, rest) = image.split_at(i);
        // A tag may precede the digest.
        if let Some(j) = n.rfind(':').filter(|j| !n[*j..].contains('/')) {
            return (&image[..j], &image[j..]);
        }
        return (n, rest);
    }
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (&image[..i], &image[i..]),
        _ => (image, ""),
    }
}

fn update_image(img: &str, images: &[Image]) -> Option<String> {
    let (name, rest) = split_image(img);
    let e = images.iter().find(|e| e.name == name)?;
    let new_name = e.new_name.as_deref().unwrap_or(name);
    let suffix = if let Some(d) = &e.digest {
        format!("@{d}")
    } else if let Some(t) = &e.new_tag {
        format!(":{t}")
    } else {
        rest.to_string()
    };
    Some(format!("{new_name}{suffix}"))
}

fn images_in(v: &mut Value, images: &[Image]) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if (k == "containers" || k == "initContainers") && x.is_array() {
                    for c in x.as_array_mut().into_iter().flatten() {
                        if let Some(Value::String(s)) = c.get_mut("image")
                            && let Some(n) = update_image(s, images)
                        {
                            *s = n;
                        }
                    }
                }
                images_in(x, images);
            }
        }
        Value::Array(a) => {
            for x in a {
                images_in(x, images);
            }
        }
        _ => {}
    }
}

/// Rewrites container images.
pub fn images(res: &mut [Res], images: &[Image], specs: &[FieldSpec]) -> Result<()> {
    for r in res.iter_mut() {
        images_in(&mut r.obj, images);
        let id = r.id();
        for fs in specs {
            if !fs.matches(&id) {
                continue;
            }
            walk(&mut r.obj, &fs.path, false, &mut |v| {
                if let Value::String(s) = v
                    && let Some(n) = update_image(s, images)
                {
                    *s = n;
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Sets replica counts of objects named `name`.
pub fn replicas(res: &mut [Res], name: &str, count: &Value, specs: &[FieldSpec]) -> Result<()> {
    for r in res.iter_mut() {
        if r.name() != name && !r.prev.iter().any(|i| i.name == name) {
            continue;
        }
        let id = r.id();
        for fs in specs {
            if !fs.matches(&id) {
                continue;
            }
            walk(&mut r.obj, &fs.path, fs.create, &mut |v| {
                *v = count.clone();
                Ok(())
            })?;
        }
    }
    Ok(())
}

fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() > b.len() { (b, a) } else { (a, b) };
    let diff = long.len() - short.len();
    if short.is_empty() {
        return diff == 0;
    }
    (0..short.len()).all(|i| long[i + diff] == short[i])
}

fn gvk_selected(id: &Id, group: &str, version: &str, kind: &str) -> bool {
    (group.is_empty() || id.group == group)
        && (version.is_empty() || id.version == version)
        && (kind.is_empty() || id.kind == kind)
}

struct Target<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
}

/// Lookups shared by the name-reference pass.
struct Index<'a> {
    ids: &'a [Id],
    /// Objects by previous name.
    by_prev: &'a HashMap<String, Vec<usize>>,
}

#[allow(clippy::too_many_arguments)]
fn select_referral(
    all: &[Res],
    ix: &Index<'_>,
    mask: &[bool],
    referrer: usize,
    old: &str,
    t: &Target<'_>,
    role_kind: Option<&str>,
    with_ns: bool,
) -> Result<Option<usize>> {
    let ids = ix.ids;
    let refid = &ids[referrer];
    let mut c: Vec<usize> = ix
        .by_prev
        .get(old)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .copied()
        .filter(|&i| mask[i])
        .filter(|&i| {
            all[i]
                .prev
                .iter()
                .any(|p| gvk_selected(p, t.group, t.version, t.kind))
        })
        .filter(|&i| role_kind.is_none_or(|k| all[i].prev.iter().any(|p| p.kind == k)))
        .filter(|&i| {
            if is_cluster_scoped(&refid.group, &refid.kind) {
                return true;
            }
            let cid = &ids[i];
            is_cluster_scoped(&cid.group, &cid.kind)
                || cid.kind == "ServiceAccount"
                || cid.effective_ns() == refid.effective_ns()
        })
        .collect();
    if c.len() == 1 {
        return Ok(Some(c[0]));
    }
    let me = &all[referrer];
    let strict: Vec<usize> = c
        .iter()
        .copied()
        .filter(|&i| {
            same_ending(&all[i].prefixes, &me.prefixes)
                && same_ending(&all[i].suffixes, &me.suffixes)
        })
        .collect();
    if strict.len() == 1 {
        return Ok(Some(strict[0]));
    }
    // Lenient: an object without prefixes (suffixes) matches any.
    let lenient: Vec<usize> = c
        .iter()
        .copied()
        .filter(|&i| {
            let (p, s) = (&all[i].prefixes, &all[i].suffixes);
            (p.is_empty() || me.prefixes.is_empty() || same_ending(p, &me.prefixes))
                && (s.is_empty() || me.suffixes.is_empty() || same_ending(s, &me.suffixes))
        })
        .collect();
    if lenient.len() == 1 {
        return Ok(Some(lenient[0]));
    }
    c = if strict.is_empty() { lenient } else { strict };
    match c.len() {
        0 => Ok(None),
        1 => Ok(Some(c[0])),
        _ => {
            let n = all[c[0]].name().to_string();
            let ns = all[c[0]].namespace().to_string();
            if c.iter()
                .all(|&i| all[i].name() == n && (!with_ns || all[i].namespace() == ns))
            {
                Ok(Some(c[0]))
            } else {
                let shown: Vec<String> = c.iter().map(|&i| ids[i].display()).collect();
                Err(Error::invalid(format!(
                    "found multiple possible referrals: {} for {} referring to {old:?}",
                    shown.join(", "),
                    refid.display()
                )))
            }
        }
    }
}

/// Rewrites references to renamed objects (after prefixes, suffixes,
/// hashes and namespace changes), kustomize's name-reference transformer.
pub fn fix_name_refs(all: &mut [Res], cfg: &Config) -> Result<()> {
    // Name references never rename objects, so ids are computed once.
    let ids: Vec<Id> = all.iter().map(Res::id).collect();
    let mut by_prev: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in all.iter().enumerate() {
        for p in &r.prev {
            let v = by_prev.entry(p.name.clone()).or_default();
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
    }
    let ix = Index {
        ids: &ids,
        by_prev: &by_prev,
    };
    for ri in 0..all.len() {
        let rid = ids[ri].clone();
        let relevant = cfg
            .name_reference
            .iter()
            .any(|nr| nr.specs.iter().any(|fs| fs.matches(&rid)));
        if !relevant {
            continue;
        }
        // Objects this one may refer to.
        let rb_ns: Vec<String> =
            if matches!(rid.kind.as_str(), "RoleBinding" | "ClusterRoleBinding") {
                all[ri]
                    .obj
                    .get("subjects")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| {
                        s.get("namespace")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .collect()
            } else {
                Vec::new()
            };
        let mask: Vec<bool> = (0..all.len())
            .map(|j| {
                if is_cluster_scoped(&rid.group, &rid.kind) {
                    return true;
                }
                let id = &ids[j];
                is_cluster_scoped(&id.group, &id.kind)
                    || id.effective_ns() == rid.effective_ns()
                    || rb_ns.iter().any(|n| n == id.effective_ns())
            })
            .collect();
        for nr in &cfg.name_reference {
            let t = Target {
                group: &nr.group,
                version: &nr.version,
                kind: &nr.kind,
            };
            for fs in &nr.specs {
                if !fs.matches(&rid) {
                    continue;
                }
                let role_kind: Option<String> =
                    if fs.path.ends_with(&["roleRef".into(), "name".into()]) {
                        all[ri]
                            .obj
                            .get("roleRef")
                            .and_then(|r| r.get("kind"))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    } else {
                        None
                    };
                let mut obj = all[ri].obj.clone();
                let snapshot: &[Res] = all;
                let res = walk(&mut obj, &fs.path, false, &mut |v| {
                    fix_value(v, snapshot, &ix, &mask, ri, &t, role_kind.as_deref())
                });
                all[ri].obj = obj;
                res?;
            }
        }
    }
    Ok(())
}

fn fix_value(
    v: &mut Value,
    all: &[Res],
    ix: &Index<'_>,
    mask: &[bool],
    ri: usize,
    t: &Target<'_>,
    rk: Option<&str>,
) -> Result<()> {
    match v {
        Value::String(s) => {
            if let Some(j) = select_referral(all, ix, mask, ri, s, t, rk, false)? {
                *s = all[j].name().to_string();
            }
        }
        Value::Array(a) => {
            for x in a {
                fix_value(x, all, ix, mask, ri, t, rk)?;
            }
        }
        Value::Object(m) => {
            let Some(old) = m.get("name").and_then(Value::as_str).map(str::to_string) else {
                return Ok(());
            };
            if m.get("namespace")
                .is_some_and(|n| n.is_null() || n.as_str() == Some(""))
            {
                return Err(Error::invalid(format!(
                    "Invalid Input: namespace is blank for resource {}",
                    ix.ids[ri].display()
                )));
            }
            let ns = m
                .get("namespace")
                .and_then(Value::as_str)
                .map(str::to_string);
            let filtered: Vec<bool> = match &ns {
                None => mask.to_vec(),
                Some(ns) => (0..all.len())
                    .map(|i| {
                        if !mask[i] {
                            return false;
                        }
                        let eff = |n: &str| {
                            if n.is_empty() {
                                "default".to_string()
                            } else {
                                n.to_string()
                            }
                        };
                        let want = eff(ns);
                        eff(all[i].namespace()) == want
                            || all[i].prev.iter().any(|p| eff(&p.namespace) == want)
                    })
                    .collect(),
            };
            if let Some(j) = select_referral(all, ix, &filtered, ri, &old, t, rk, true)? {
                let (name, rns) = (all[j].name().to_string(), all[j].namespace().to_string());
                m.insert("name".into(), Value::String(name));
                if !rns.is_empty() {
                    m.insert("namespace".into(), Value::String(rns));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn img(name: &str, new_name: Option<&str>, tag: Option<&str>, digest: Option<&str>) -> Image {
        Image {
            name: name.into(),
            new_name: new_name.map(Into::into),
            new_tag: tag.map(Into::into),
            digest: digest.map(Into::into),
        }
    }

    #[rstest]
    #[case("nginx", img("nginx", None, Some("1.2"), None), Some("nginx:1.2"))]
    #[case(
        "nginx:1.0",
        img("nginx", Some("mirror/nginx"), None, None),
        Some("mirror/nginx:1.0")
    )]
    #[case(
        "nginx:1.0",
        img("nginx", None, None, Some("sha256:ab")),
        Some("nginx@sha256:ab")
    )]
    #[case(
        "reg:5000/a/b:1",
        img("reg:5000/a/b", None, Some("2"), None),
        Some("reg:5000/a/b:2")
    )]
    #[case("reg:5000/a/b", img("reg", None, Some("2"), None), None)]
    #[case("b@sha256:aa", img("b", Some("c"), None, None), Some("c@sha256:aa"))]
    #[case("b:1@sha256:aa", img("b", None, Some("2"), None), Some("b:2"))]
    #[case("nginxx", img("nginx", None, Some("1"), None), None)]
    fn images_are_matched_by_name_and_rewritten(
        #[case] image: &str,
        #[case] rule: Image,
        #[case] want: Option<&str>,
    ) {
        assert_eq!(update_image(image, &[rule]).as_deref(), want);
    }
}
