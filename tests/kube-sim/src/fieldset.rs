//! Field sets in the `FieldsV1` format of managedFields, and the server-side apply merge.
//!
//! A path is a list of path elements as they are spelled in `fieldsV1`: `f:name` (a field),
//! `k:{"name":"x"}` (an associative-list item by key), `v:"x"` (a set item), `i:0` (index).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use serde_json::{Map, Value};

use crate::schema::{Ctx, ListType};

/// One path in an object.
pub type Path = Vec<String>;
/// A set of paths.
pub type Paths = BTreeSet<Path>;

/// Fields managed by the server itself, never owned by a manager.
const STRIPPED_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "generateName",
];

/// All member paths of an object (the field set a manager would own by setting it).
pub fn object_paths(obj: &Value, ctx: &Ctx) -> Paths {
    let mut out = Paths::new();
    if let Some(m) = obj.as_object() {
        for (k, v) in m {
            if k == "apiVersion" || k == "kind" {
                continue;
            }
            let path = vec![format!("f:{k}")];
            if k == "metadata" {
                if let Some(mm) = v.as_object() {
                    let mctx = ctx.field("metadata");
                    for (mk, mv) in mm {
                        if STRIPPED_META.contains(&mk.as_str()) {
                            continue;
                        }
                        let mut p = path.clone();
                        p.push(format!("f:{mk}"));
                        walk(mv, &mctx.field(mk), p, &mut out);
                    }
                }
                continue;
            }
            walk(v, &ctx.field(k), path, &mut out);
        }
    }
    out
}

fn walk(v: &Value, ctx: &Ctx, path: Path, out: &mut Paths) {
    match v {
        Value::Object(m) => {
            if m.is_empty() || ctx.is_atomic_map() {
                out.insert(path);
                return;
            }
            if ctx.is_granular_map(v) {
                out.insert(path.clone());
            }
            for (k, c) in m {
                let mut p = path.clone();
                p.push(format!("f:{k}"));
                walk(c, &ctx.field(k), p, out);
            }
        }
        Value::Array(a) => {
            if a.is_empty() {
                out.insert(path);
                return;
            }
            match ctx.list_type() {
                ListType::Atomic => {
                    out.insert(path);
                }
                ListType::Set => {
                    for item in a {
                        let mut p = path.clone();
                        p.push(format!("v:{item}"));
                        out.insert(p);
                    }
                }
                ListType::Map(keys) => {
                    let ictx = ctx.items();
                    for (i, item) in a.iter().enumerate() {
                        let mut p = path.clone();
                        p.push(item_key(item, &keys, i, ctx.defaults_protocol()));
                        out.insert(p.clone());
                        if let Some(im) = item.as_object() {
                            for (k, c) in im {
                                let mut cp = p.clone();
                                cp.push(format!("f:{k}"));
                                walk(c, &ictx.field(k), cp, out);
                            }
                        }
                    }
                }
            }
        }
        _ => {
            out.insert(path);
        }
    }
}

/// The `k:{...}` element of an associative-list item.
pub fn item_key(item: &Value, keys: &[String], index: usize, default_protocol: bool) -> String {
    let mut m = Map::new();
    for k in keys {
        match item.get(k) {
            Some(v) if !v.is_null() => {
                m.insert(k.clone(), v.clone());
            }
            _ if k == "protocol" && default_protocol => {
                m.insert(k.clone(), Value::String("TCP".into()));
            }
            _ => {}
        }
    }
    if m.is_empty() {
        format!("i:{index}")
    } else {
        format!("k:{}", Value::Object(m))
    }
}

fn item_matches(item: &Value, key: &Map<String, Value>) -> bool {
    key.iter().all(|(k, v)| match item.get(k) {
        Some(iv) => iv == v,
        None => k == "protocol" && v == "TCP",
    })
}

fn find_index(arr: &[Value], el: &str) -> Option<usize> {
    if let Some(k) = el.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(k).ok()?;
        arr.iter().position(|i| item_matches(i, &key))
    } else if let Some(v) = el.strip_prefix("v:") {
        let val: Value = serde_json::from_str(v).ok()?;
        arr.iter().position(|i| *i == val)
    } else if let Some(i) = el.strip_prefix("i:") {
        let i: usize = i.parse().ok()?;
        (i < arr.len()).then_some(i)
    } else {
        None
    }
}

/// The value at a path.
pub fn get_path<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut cur = v;
    for el in path {
        cur = if let Some(f) = el.strip_prefix("f:") {
            cur.as_object()?.get(f)?
        } else {
            let arr = cur.as_array()?;
            &arr[find_index(arr, el)?]
        };
    }
    Some(cur)
}

/// Removes the value at a path; returns whether something was removed.
pub fn remove_path(v: &mut Value, path: &[String]) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    let mut cur = v;
    for el in parent {
        cur = if let Some(f) = el.strip_prefix("f:") {
            match cur.as_object_mut().and_then(|m| m.get_mut(f)) {
                Some(c) => c,
                None => return false,
            }
        } else {
            let Some(arr) = cur.as_array_mut() else {
                return false;
            };
            match find_index(arr, el) {
                Some(i) => &mut arr[i],
                None => return false,
            }
        };
    }
    if let Some(f) = last.strip_prefix("f:") {
        cur.as_object_mut().and_then(|m| m.remove(f)).is_some()
    } else if let Some(arr) = cur.as_array_mut() {
        match find_index(arr, last) {
            Some(i) => {
                arr.remove(i);
                true
            }
            None => false,
        }
    } else {
        false
    }
}

/// Whether `p` has no descendants in `set`.
pub fn is_leaf(set: &Paths, p: &Path) -> bool {
    set.range::<Path, _>((Bound::Excluded(p), Bound::Unbounded))
        .next()
        .is_none_or(|q| !q.starts_with(p))
}

#[derive(Default)]
struct Node {
    member: bool,
    children: BTreeMap<String, Node>,
}

/// Serializes a set of paths as a `fieldsV1` object.
pub fn to_fields_v1(paths: &Paths) -> Value {
    let mut root = Node::default();
    for p in paths {
        let mut n = &mut root;
        for el in p {
            n = n.children.entry(el.clone()).or_default();
        }
        n.member = true;
    }
    fn ser(n: &Node) -> Value {
        let mut m = Map::new();
        if n.member && !n.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, c) in &n.children {
            m.insert(k.clone(), ser(c));
        }
        Value::Object(m)
    }
    ser(&root)
}

/// Parses a `fieldsV1` object into a set of paths.
pub fn from_fields_v1(v: &Value) -> Paths {
    let mut out = Paths::new();
    fn go(v: &Value, path: &mut Path, out: &mut Paths) {
        let Some(m) = v.as_object() else { return };
        if m.is_empty() && !path.is_empty() {
            out.insert(path.clone());
            return;
        }
        for (k, c) in m {
            if k == "." {
                out.insert(path.clone());
                continue;
            }
            path.push(k.clone());
            go(c, path, out);
            path.pop();
        }
    }
    go(v, &mut vec![], &mut out);
    out
}

/// Renders a path as the API server prints it in conflicts: `.spec.containers[name="x"].image`.
pub fn display_path(p: &Path) -> String {
    let mut s = String::new();
    for el in p {
        if let Some(f) = el.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = el.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = el.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        } else if let Some(i) = el.strip_prefix("i:") {
            s.push_str(&format!("[{i}]"));
        }
    }
    s
}

/// Merges an applied configuration into the live object (server-side apply semantics):
/// maps merge, associative lists merge by key, atomic lists and scalars are replaced.
pub fn merge_apply(live: &Value, cfg: &Value, ctx: &Ctx) -> Value {
    match (live, cfg) {
        (Value::Object(l), Value::Object(c)) if !ctx.is_atomic_map() => {
            let mut out = l.clone();
            for (k, cv) in c {
                if cv.is_null() {
                    out.remove(k);
                    continue;
                }
                let nv = match l.get(k) {
                    Some(lv) => merge_apply(lv, cv, &ctx.field(k)),
                    None => cv.clone(),
                };
                out.insert(k.clone(), nv);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(c)) => match ctx.list_type() {
            ListType::Atomic => cfg.clone(),
            ListType::Set => {
                let mut out = l.clone();
                for ci in c {
                    if !out.contains(ci) {
                        out.push(ci.clone());
                    }
                }
                Value::Array(out)
            }
            ListType::Map(keys) => {
                let ictx = ctx.items();
                let mut out = l.clone();
                for (i, ci) in c.iter().enumerate() {
                    let key = item_key(ci, &keys, i, ctx.defaults_protocol());
                    match find_index(&out, &key) {
                        Some(idx) if key.starts_with("k:") => {
                            out[idx] = merge_apply(&out[idx], ci, &ictx);
                        }
                        _ => out.push(ci.clone()),
                    }
                }
                Value::Array(out)
            }
        },
        _ => cfg.clone(),
    }
}

/// Drops empty objects left behind on removal paths (so removing the last field a manager
/// owned under a struct does not leave `{}` behind).
pub fn prune_empty_parents(v: &mut Value, path: &[String]) {
    for len in (1..path.len()).rev() {
        let parent = &path[..len];
        let empty = matches!(get_path(v, parent), Some(Value::Object(m)) if m.is_empty());
        if empty && parent.last().is_some_and(|e| e.starts_with("f:")) {
            remove_path(v, parent);
        } else {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trips_and_marks_list_items_and_maps_with_a_dot() {
        let obj = json!({"metadata": {"name": "x", "labels": {"a": "b"}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}}}});
        let paths = object_paths(&obj, &Ctx::Builtin(vec![]));
        let f = to_fields_v1(&paths);
        assert_eq!(
            f,
            json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}},
                   "f:spec": {"f:template": {"f:spec": {"f:containers": {r#"k:{"name":"c"}"#: {
                       ".": {}, "f:image": {}, "f:name": {},
                       "f:ports": {r#"k:{"containerPort":80,"protocol":"TCP"}"#: {".": {}, "f:containerPort": {}}}}}}}}})
        );
        assert_eq!(from_fields_v1(&f), paths);
    }

    #[test]
    fn apply_merge_keeps_items_other_managers_added() {
        let live = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}});
        let cfg = json!({"spec": {"containers": [{"name": "a", "image": "3"}]}});
        let out = merge_apply(&live, &cfg, &Ctx::Builtin(vec![]));
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "a", "image": "3"}, {"name": "b", "image": "2"}])
        );
        let p = vec![
            "f:spec".to_string(),
            "f:containers".into(),
            r#"k:{"name":"b"}"#.into(),
            "f:image".into(),
        ];
        assert_eq!(display_path(&p), r#".spec.containers[name="b"].image"#);
    }
}
