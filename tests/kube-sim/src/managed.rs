//! managedFields bookkeeping: server-side apply (ownership, conflicts, removal of fields a
//! manager stopped applying) and ownership changes from ordinary writes.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::fieldset::{
    Paths, display_path, from_fields_v1, get_path, is_leaf, merge_apply, object_paths,
    prune_empty_parents, remove_path, to_fields_v1,
};
use crate::schema::Ctx;
use crate::status::{ApiError, ApiResult};
use crate::store::now;

/// One managedFields entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Manager name.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// API version the manager used.
    pub api_version: String,
    /// Last time.
    pub time: String,
    /// Subresource (`status`) or empty.
    pub subresource: String,
    /// Owned fields.
    pub set: Paths,
}

impl Entry {
    fn same_slot(&self, manager: &str, op: &str, sub: &str) -> bool {
        self.manager == manager && self.operation == op && self.subresource == sub
    }
}

/// Parses `metadata.managedFields`.
pub fn entries(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| Entry {
                    manager: e["manager"].as_str().unwrap_or_default().into(),
                    operation: e["operation"].as_str().unwrap_or_default().into(),
                    api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
                    time: e["time"].as_str().unwrap_or_default().into(),
                    subresource: e["subresource"].as_str().unwrap_or_default().into(),
                    set: from_fields_v1(&e["fieldsV1"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writes entries back into `metadata.managedFields`.
pub fn set_entries(obj: &mut Value, es: &[Entry]) {
    let arr: Vec<Value> = es
        .iter()
        .filter(|e| !e.set.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.set),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    if arr.is_empty() {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
    } else {
        obj["metadata"]["managedFields"] = Value::Array(arr);
    }
}

/// Which part of the object a request may change, for resources with a status subresource.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scope {
    /// Everything (no status subresource).
    All,
    /// Everything but status (main resource of a type with a status subresource).
    NoStatus,
    /// Only status (the status subresource).
    StatusOnly,
}

fn scoped(paths: Paths, scope: Scope) -> Paths {
    match scope {
        Scope::All => paths,
        Scope::NoStatus => paths.into_iter().filter(|p| p[0] != "f:status").collect(),
        Scope::StatusOnly => paths.into_iter().filter(|p| p[0] == "f:status").collect(),
    }
}

/// Parameters of an ownership change.
pub struct Who<'a> {
    /// Field manager.
    pub manager: &'a str,
    /// The apiVersion the request used.
    pub api_version: &'a str,
    /// Subresource (`status`) or empty.
    pub subresource: &'a str,
    /// What the request may change.
    pub scope: Scope,
}

/// Records ownership for a non-apply write (create, update, merge/json/strategic patch).
pub fn record_update(old: Option<&Value>, new: &mut Value, who: &Who, ctx: &Ctx) {
    let mut es = old.map(entries).unwrap_or_default();
    let empty = json!({});
    let old_v = old.unwrap_or(&empty);
    let old_paths = scoped(object_paths(old_v, ctx), who.scope);
    let new_paths_all = object_paths(new, ctx);
    let new_paths = scoped(new_paths_all.clone(), who.scope);
    let changed: Paths = new_paths
        .iter()
        .filter(|p| {
            if is_leaf(&new_paths, p) {
                get_path(old_v, p) != get_path(new, p)
            } else {
                get_path(old_v, p).is_none()
            }
        })
        .cloned()
        .collect();
    let removed: Paths = old_paths.difference(&new_paths).cloned().collect();
    for e in es.iter_mut() {
        if e.same_slot(who.manager, "Update", who.subresource) {
            continue;
        }
        e.set
            .retain(|p| !changed.contains(p) && !removed.contains(p) && new_paths_all.contains(p));
    }
    let pos = es
        .iter()
        .position(|e| e.same_slot(who.manager, "Update", who.subresource));
    match pos {
        Some(i) => {
            let e = &mut es[i];
            if !changed.is_empty() {
                e.time = now();
                e.api_version = who.api_version.into();
            }
            e.set.extend(changed);
            e.set.retain(|p| new_paths.contains(p));
        }
        None if !changed.is_empty() => es.push(Entry {
            manager: who.manager.into(),
            operation: "Update".into(),
            api_version: who.api_version.into(),
            time: now(),
            subresource: who.subresource.into(),
            set: changed,
        }),
        None => {}
    }
    set_entries(new, &es);
}

/// Server-side apply of `cfg` by `who` onto `live` (None when the object does not exist).
///
/// # Errors
/// 409 Conflict listing the fields other managers own with different values, unless `force`.
pub fn apply(
    live: Option<&Value>,
    cfg: &Value,
    who: &Who,
    force: bool,
    ctx: &Ctx,
) -> ApiResult<Value> {
    let mut es = live.map(entries).unwrap_or_default();
    let mut base = live.cloned().unwrap_or_else(|| json!({"metadata": {}}));
    if let Some(m) = base["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    let mut cfg = cfg.clone();
    if let Some(m) = cfg["metadata"].as_object_mut() {
        m.remove("managedFields");
        m.remove("resourceVersion");
        m.remove("uid");
        m.remove("creationTimestamp");
    }
    let cfg_paths = scoped(object_paths(&cfg, ctx), who.scope);
    let mut merged = merge_apply(&base, &cfg, ctx);
    match who.scope {
        Scope::NoStatus => match base.get("status") {
            Some(s) => merged["status"] = s.clone(),
            None => {
                if let Some(m) = merged.as_object_mut() {
                    m.remove("status");
                }
            }
        },
        Scope::StatusOnly => {
            let status = merged.get("status").cloned();
            merged = base.clone();
            match status {
                Some(s) => merged["status"] = s,
                None => {
                    if let Some(m) = merged.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        Scope::All => {}
    }
    // Conflicts: fields this apply changes that another manager owns.
    let mut conflicts: BTreeMap<usize, Vec<crate::fieldset::Path>> = BTreeMap::new();
    for (i, e) in es.iter().enumerate() {
        if e.same_slot(who.manager, "Apply", who.subresource) {
            continue;
        }
        for p in e.set.intersection(&cfg_paths) {
            if is_leaf(&cfg_paths, p) && get_path(&base, p) != get_path(&merged, p) {
                conflicts.entry(i).or_default().push(p.clone());
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            return Err(conflict_error(&es, &conflicts));
        }
        for (i, ps) in &conflicts {
            for p in ps {
                es[*i].set.remove(p);
            }
        }
    }
    // Removal of fields this manager applied before but no longer applies, when nobody
    // else owns them (or anything beneath them).
    let prev: Paths = es
        .iter()
        .find(|e| e.same_slot(who.manager, "Apply", who.subresource))
        .map(|e| e.set.clone())
        .unwrap_or_default();
    let dropped: Vec<_> = prev.difference(&cfg_paths).cloned().collect();
    let removable: Paths = dropped
        .into_iter()
        .filter(|p| {
            let owned_elsewhere = es.iter().any(|e| {
                !e.same_slot(who.manager, "Apply", who.subresource)
                    && e.set.iter().any(|q| q.starts_with(p))
            });
            let still_applied_below = cfg_paths.iter().any(|q| q.starts_with(p));
            !owned_elsewhere && !still_applied_below && !is_item_key_field(p)
        })
        .collect();
    for p in removable.iter().rev() {
        // Removing an ancestor removes this too; doing it first could lose the item key.
        if (1..p.len()).any(|n| removable.contains(&p[..n])) {
            continue;
        }
        if remove_path(&mut merged, p) {
            prune_empty_parents(&mut merged, p);
        }
    }
    let merged_paths = object_paths(&merged, ctx);
    for e in es.iter_mut() {
        e.set.retain(|p| merged_paths.contains(p));
    }
    match es
        .iter_mut()
        .find(|e| e.same_slot(who.manager, "Apply", who.subresource))
    {
        Some(e) => {
            if e.set != cfg_paths {
                e.time = now();
            }
            e.set = cfg_paths;
            e.api_version = who.api_version.into();
        }
        None => es.insert(
            0,
            Entry {
                manager: who.manager.into(),
                operation: "Apply".into(),
                api_version: who.api_version.into(),
                time: now(),
                subresource: who.subresource.into(),
                set: cfg_paths,
            },
        ),
    }
    set_entries(&mut merged, &es);
    Ok(merged)
}

/// Whether the path is a key field of an associative-list item (`k:{"name":"a"}` then
/// `f:name`): it lives and dies with the item.
fn is_item_key_field(p: &[String]) -> bool {
    let n = p.len();
    if n < 2 {
        return false;
    }
    match (p[n - 2].strip_prefix("k:"), p[n - 1].strip_prefix("f:")) {
        (Some(k), Some(f)) => serde_json::from_str::<serde_json::Map<String, Value>>(k)
            .is_ok_and(|m| m.contains_key(f)),
        _ => false,
    }
}

fn conflict_error(
    es: &[Entry],
    conflicts: &BTreeMap<usize, Vec<crate::fieldset::Path>>,
) -> ApiError {
    let total: usize = conflicts.values().map(Vec::len).sum();
    let mut parts = vec![];
    let mut causes = vec![];
    for (i, ps) in conflicts {
        let e = &es[*i];
        let who = format!("\"{}\" using {}", e.manager, e.api_version);
        let fields: Vec<String> = ps.iter().map(display_path).collect();
        for f in &fields {
            causes.push(json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with {who}"),
                "field": f,
            }));
        }
        if fields.len() == 1 {
            parts.push(format!("conflict with {who}: {}", fields[0]));
        } else {
            parts.push(format!("conflicts with {who}:\n- {}", fields.join("\n- ")));
        }
    }
    let noun = if total == 1 { "conflict" } else { "conflicts" };
    ApiError::conflict_msg(
        format!("Apply failed with {total} {noun}: {}", parts.join("\n")),
        json!({"causes": causes}),
    )
}

/// Whether two objects are equal apart from managedFields timestamps.
pub fn same_ignoring_times(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(mf) = v["metadata"]["managedFields"].as_array_mut() {
            for e in mf {
                if let Some(m) = e.as_object_mut() {
                    m.remove("time");
                }
            }
        }
        v
    };
    strip(a) == strip(b)
}
