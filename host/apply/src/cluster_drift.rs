//! Cluster drift of a set that was applied before — which objects are missing and which
//! fields an apply would set differ from the cluster — and its correction, as Flux's
//! `ssa/jsondiff` reports it for Helm releases.
//!
//! Detection is [`Applier::plan`] per object (no request at all when our field manager
//! owns exactly the desired fields and they match; otherwise one server-side dry-run),
//! then a JSON patch from the live object to the dry-run result with the ignored JSON
//! pointers removed from both. Like Flux, labels and annotations count only when added
//! or changed (controllers add their own), the rest of `metadata` and `status` never.
//! Correction creates missing objects with server-side apply and sends the JSON patch to
//! drifted ones, so that ignored fields are left as they are.

use futures::{StreamExt, stream};
use serde_json::{Map, Value, json};

use crate::api::TypeInfo;
use crate::apply::{Item, Planned, Verdict, prepare, request_error};
use crate::changeset::{Action, ChangeSet};
use crate::error::{Error, Failure};
use crate::object::ObjectRef;
use crate::{Applier, Owner, order};

/// How to detect drift. Defaults: no owner, namespace `default`, 16 requests in flight.
#[derive(Debug, Clone)]
pub struct DriftOptions {
    /// The owner whose labels the apply put on every object (pass the same owner as the
    /// apply, or its labels count as drift). With an owner, live objects are fetched with
    /// one LIST per type and namespace.
    pub owner: Option<Owner>,
    /// Namespace of namespaced objects that name none. Default `default`.
    pub default_namespace: String,
    /// Requests in flight at once. Default 16.
    pub concurrency: usize,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            owner: None,
            default_namespace: "default".into(),
            concurrency: 16,
        }
    }
}

/// A desired object and the JSON pointers (RFC 6901) whose values do not count as drift.
/// The empty pointer `""` excludes the whole object.
#[derive(Debug, Clone)]
pub struct DriftTarget {
    /// The object as applied.
    pub object: Value,
    /// Pointers to ignore.
    pub ignore: Vec<String>,
}

/// How an object drifted.
#[derive(Debug, Clone, PartialEq)]
pub enum DriftKind {
    /// It was deleted from the cluster.
    Missing,
    /// Fields differ: the JSON patch (RFC 6902 operations) that restores them.
    Modified(Vec<Value>),
}

/// One drifted object.
#[derive(Debug, Clone)]
pub struct Drift {
    /// The object.
    pub object: ObjectRef,
    /// The version it is served at.
    pub version: String,
    /// How it drifted.
    pub kind: DriftKind,
    desired: Value,
    ti: TypeInfo,
}

impl Drift {
    /// Flux's one-line summary: `Kind/ns/name removed`, or `Kind/ns/name changed (1
    /// additions, 2 changes, 0 removals)`. Never a value, so Secrets are safe to report.
    pub fn summary(&self) -> String {
        match &self.kind {
            DriftKind::Missing => format!("{} removed", self.object),
            DriftKind::Modified(ops) => {
                let count = |op: &str| ops.iter().filter(|o| o["op"] == op).count();
                format!(
                    "{} changed ({} additions, {} changes, {} removals)",
                    self.object,
                    count("add"),
                    count("replace"),
                    count("remove")
                )
            }
        }
    }

    /// The JSON pointers that drifted (no values), for logs.
    pub fn paths(&self) -> Vec<String> {
        match &self.kind {
            DriftKind::Missing => Vec::new(),
            DriftKind::Modified(ops) => ops
                .iter()
                .filter_map(|o| Some(format!("{} {}", o["op"].as_str()?, o["path"].as_str()?)))
                .collect(),
        }
    }
}

/// What a drift detection found.
#[derive(Debug, Default)]
pub struct DriftReport {
    /// The drifted objects, in apply order.
    pub drifted: Vec<Drift>,
    /// Objects left out on purpose (an ignore pointer `""`).
    pub excluded: Vec<ObjectRef>,
    /// Objects that could not be checked (unknown kind, refused dry-run…). The others are
    /// still checked, as Flux's graceful diff does.
    pub errors: Vec<Error>,
}

impl DriftReport {
    /// Whether any object drifted.
    pub fn has_drift(&self) -> bool {
        !self.drifted.is_empty()
    }

    /// One [`Drift::summary`] per line.
    pub fn summary(&self) -> String {
        self.drifted
            .iter()
            .map(Drift::summary)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Applier {
    /// Compares a set that was applied before with the cluster (see the module docs).
    /// Nothing is written.
    pub async fn detect_drift(
        &self,
        targets: Vec<DriftTarget>,
        opts: &DriftOptions,
    ) -> DriftReport {
        let mut report = DriftReport::default();
        let mut items: Vec<(Item, Vec<String>)> = Vec::new();
        for t in targets {
            match prepare(t.object, opts.owner.as_ref(), false) {
                Ok(i) if t.ignore.iter().any(String::is_empty) => report.excluded.push(i.oref),
                Ok(i) => items.push((i, t.ignore)),
                Err(e) => report.errors.push(e),
            }
        }
        let mut resolved: Vec<(Item, Vec<String>)> = Vec::new();
        for (mut i, ignore) in items {
            match self.resolve_item(&mut i, &opts.default_namespace).await {
                Ok(()) => resolved.push((i, ignore)),
                Err(e) => report.errors.push(e),
            }
        }
        resolved.sort_by(|a, b| order::compare(&a.0.oref, &b.0.oref));
        let (items, ignores): (Vec<Item>, Vec<Vec<String>>) = resolved.into_iter().unzip();
        let n = opts.concurrency.max(1);
        let mut live = match self.prefetch(&items, opts.owner.as_ref(), n).await {
            Ok(l) => l,
            Err(e) => {
                report.errors.push(e);
                return report;
            }
        };
        let prefetched = opts.owner.is_some();
        // Futures built eagerly (see `resolve_all`): a controller spawns this future.
        let futures: Vec<_> = items
            .into_iter()
            .map(|i| {
                let l = live.remove(&i.oref);
                self.plan(i, l, prefetched, true)
            })
            .collect();
        let plans: Vec<Result<Planned, Error>> = stream::iter(futures).buffered(n).collect().await;
        for (p, ignore) in plans.into_iter().zip(ignores) {
            let p = match p {
                Ok(p) => p,
                Err(e) => {
                    report.errors.push(e);
                    continue;
                }
            };
            let kind = match (&p.verdict, &p.live, &p.dry) {
                (Verdict::Create, _, _) => DriftKind::Missing,
                (Verdict::Configure, Some(live), Some(dry)) => {
                    let ops = drift_patch(live, dry, &ignore);
                    if ops.is_empty() {
                        continue;
                    }
                    DriftKind::Modified(ops)
                }
                // Skipped (`ssa: Ignore`), unchanged, or a recreate (never planned
                // without force).
                _ => continue,
            };
            let ti = p.item.ti.clone().expect("resolved");
            report.drifted.push(Drift {
                object: p.item.oref,
                version: p.item.version,
                kind,
                desired: p.item.obj,
                ti,
            });
        }
        report
    }

    /// Corrects drift: creates the missing objects (server-side apply), then sends each
    /// modified object its JSON patch, as field manager `gyre`. Ignored fields stay as
    /// they are in the cluster.
    ///
    /// # Errors
    /// A [`Failure`] with every object that could not be corrected and the change set of
    /// those that were.
    pub async fn correct_drift(&self, drifted: &[Drift]) -> Result<ChangeSet, Failure> {
        let mut cs = ChangeSet::default();
        let mut errors = Vec::new();
        let mut sorted: Vec<&Drift> = drifted.iter().collect();
        sorted.sort_by(|a, b| order::compare(&a.object, &b.object));
        let (missing, modified): (Vec<&Drift>, Vec<&Drift>) = sorted
            .into_iter()
            .partition(|d| d.kind == DriftKind::Missing);
        for d in missing {
            match self
                .api
                .apply(&d.ti, &d.desired, &self.manager, false)
                .await
            {
                Ok(_) => cs.add(d.object.clone(), &d.version, Action::Created),
                Err(e) => errors.push(Error::CorrectionFailed {
                    object: d.object.to_string(),
                    source: request_error(e, &d.desired),
                }),
            }
        }
        for d in modified {
            let DriftKind::Modified(ops) = &d.kind else {
                continue;
            };
            let result = self
                .api
                .patch_json(
                    &d.ti,
                    &d.object.namespace,
                    &d.object.name,
                    &Value::Array(ops.clone()),
                    &self.manager,
                )
                .await;
            match result {
                Ok(_) => cs.add(d.object.clone(), &d.version, Action::Configured),
                Err(e) => errors.push(Error::CorrectionFailed {
                    object: d.object.to_string(),
                    source: request_error(e, &d.desired),
                }),
            }
        }
        for e in cs.entries.iter() {
            tracing::info!(object = %e.object, action = %e.action, "drift corrected");
        }
        if errors.is_empty() {
            Ok(cs)
        } else {
            Err(Failure::new("drift correction", cs, errors))
        }
    }
}

/// The JSON patch from `live` to `dry` (a dry-run apply of the desired object), with the
/// `ignore` pointers removed from both first. Labels and annotations count only when
/// added or changed; other `metadata` and `status` never count.
pub fn drift_patch(live: &Value, dry: &Value, ignore: &[String]) -> Vec<Value> {
    let (mut live, mut dry) = (live.clone(), dry.clone());
    for p in ignore {
        remove_pointer(&mut live, p);
        remove_pointer(&mut dry, p);
    }
    let mut ops = Vec::new();
    for field in ["labels", "annotations"] {
        let base = format!("/metadata/{field}");
        let Some(want) = dry["metadata"][field].as_object().filter(|m| !m.is_empty()) else {
            continue;
        };
        match live["metadata"][field].as_object() {
            None => ops.push(json!({"op": "add", "path": base, "value": want})),
            Some(have) => {
                for (k, v) in want {
                    let path = format!("{base}/{}", escape(k));
                    match have.get(k) {
                        None => ops.push(json!({"op": "add", "path": path, "value": v})),
                        Some(h) if !equal(h, v) => {
                            ops.push(json!({"op": "replace", "path": path, "value": v}));
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
    let body = |v: &Value| -> Value {
        let mut m: Map<String, Value> = v.as_object().cloned().unwrap_or_default();
        m.remove("metadata");
        m.remove("status");
        Value::Object(m)
    };
    compare("", &body(&live), &body(&dry), &mut ops);
    ops
}

/// Appends the operations turning `have` into `want` at `path`. Lists that differ are
/// replaced whole (merge keys are the server's business, not the patch's).
fn compare(path: &str, have: &Value, want: &Value, ops: &mut Vec<Value>) {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => {
            for (k, wv) in w {
                let p = format!("{path}/{}", escape(k));
                match h.get(k) {
                    None => ops.push(json!({"op": "add", "path": p, "value": wv})),
                    Some(hv) => compare(&p, hv, wv, ops),
                }
            }
            for k in h.keys().filter(|k| !w.contains_key(*k)) {
                ops.push(json!({"op": "remove", "path": format!("{path}/{}", escape(k))}));
            }
        }
        _ if equal(have, want) => {}
        _ => ops.push(json!({"op": "replace", "path": path, "value": want})),
    }
}

/// Equality with numbers compared by value (`1` and `1.0` are the same).
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// An RFC 6901 reference token.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Removes what a JSON pointer points at; a pointer to nothing is no error (the field
/// may be absent on one side).
pub fn remove_pointer(doc: &mut Value, pointer: &str) {
    let Some(rest) = pointer.strip_prefix('/') else {
        return;
    };
    let tokens: Vec<String> = rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let mut cur = doc;
    for t in parents {
        let next = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match cur {
        Value::Object(m) => {
            m.remove(last);
        }
        Value::Array(a) => {
            if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < a.len()) {
                a.remove(i);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "d", "namespace": "a", "resourceVersion": "9", "generation": 3,
            "labels": {"app": "d", "added-by-controller": "x"},
            "annotations": {"deployment.kubernetes.io/revision": "2"}},
          "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "d"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "evil:1"}]}}},
          "status": {"replicas": 5}})
    }

    fn dry() -> Value {
        let mut d = live();
        d["spec"]["replicas"] = json!(1);
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1");
        d["metadata"]["generation"] = json!(4);
        d["status"] = json!({"replicas": 1});
        d
    }

    #[test]
    fn a_drifted_field_yields_a_patch_that_restores_it_and_nothing_else() {
        let ops = drift_patch(&live(), &dry(), &[]);
        assert_eq!(
            ops,
            [
                json!({"op": "replace", "path": "/spec/replicas", "value": 1}),
                json!({"op": "replace", "path": "/spec/template/spec/containers", "value": [{"name": "c", "image": "nginx:1"}]}),
            ]
        );
    }

    #[test]
    fn ignored_pointers_are_neither_drift_nor_patched() {
        let ignore = vec!["/spec/replicas".to_string()];
        let ops = drift_patch(&live(), &dry(), &ignore);
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0]["path"], "/spec/template/spec/containers");
        let ignore = vec![
            "/spec/replicas".to_string(),
            "/spec/template/spec/containers/0/image".to_string(),
        ];
        assert!(drift_patch(&live(), &dry(), &ignore).is_empty());
    }

    #[test]
    fn labels_count_when_changed_or_added_but_not_when_removed() {
        let mut d = dry();
        d["spec"] = live()["spec"].clone();
        d["metadata"]["labels"] = json!({"app": "d"});
        assert!(
            drift_patch(&live(), &d, &[]).is_empty(),
            "removal is not drift"
        );
        d["metadata"]["labels"] = json!({"app": "e", "team/x~y": "t"});
        let ops = drift_patch(&live(), &d, &[]);
        assert_eq!(
            ops,
            [
                json!({"op": "replace", "path": "/metadata/labels/app", "value": "e"}),
                json!({"op": "add", "path": "/metadata/labels/team~1x~0y", "value": "t"}),
            ]
        );
    }

    #[test]
    fn pointers_are_unescaped_and_missing_targets_are_no_error() {
        let mut v = json!({"metadata": {"annotations": {"a/b": "1", "c": "2"}}, "l": [1, 2, 3]});
        remove_pointer(&mut v, "/metadata/annotations/a~1b");
        remove_pointer(&mut v, "/l/1");
        remove_pointer(&mut v, "/nothing/here");
        remove_pointer(&mut v, "/l/9");
        assert_eq!(
            v,
            json!({"metadata": {"annotations": {"c": "2"}}, "l": [1, 3]})
        );
    }

    #[test]
    fn numbers_equal_by_value_are_no_drift() {
        let have = json!({"spec": {"x": 1}});
        let want = json!({"spec": {"x": 1.0}});
        assert!(drift_patch(&have, &want, &[]).is_empty());
    }
}
