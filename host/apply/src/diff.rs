//! Server-side diff: what an apply would change, as a unified diff per object, with
//! Secret values masked. Nothing is written.

use futures::{StreamExt, stream};
use serde_json::Value;

use crate::apply::{Item, Planned, Verdict, prepare};
use crate::changeset::Action;
use crate::drift::comparable;
use crate::error::{Error, Failure};
use crate::mask;
use crate::object::ObjectRef;
use crate::{Applier, Owner};

/// How to diff. Defaults: no owner, namespace `default`, 16 requests in flight, 3 lines
/// of context.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// The owner whose labels an apply would add (pass the Kustomization's, so that a
    /// diff of an applied set is empty). With an owner, live objects are fetched with
    /// one LIST per type and namespace. Default none.
    pub owner: Option<Owner>,
    /// Namespace of namespaced objects that name none. Default `default`.
    pub default_namespace: String,
    /// Requests in flight at once. Default 16.
    pub concurrency: usize,
    /// Lines of context in the unified diffs. Default 3.
    pub context: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            owner: None,
            default_namespace: "default".into(),
            concurrency: 16,
            context: 3,
        }
    }
}

/// One object's diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDiff {
    /// The object.
    pub object: ObjectRef,
    /// What an apply would do: created, configured, unchanged or skipped (`ssa: Ignore`,
    /// or `IfNotPresent` when it exists).
    pub action: Action,
    /// Unified diff of live → merged YAML (`--- live`, `+++ merged`); empty when
    /// unchanged or skipped. Secret values are masked.
    pub unified: String,
}

/// The diff of a set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffResult {
    /// One entry per object, in apply order.
    pub objects: Vec<ObjectDiff>,
}

impl DiffResult {
    /// Whether an apply would create or change anything (`gyre diff` exits 1 then).
    pub fn has_changes(&self) -> bool {
        self.objects
            .iter()
            .any(|o| matches!(o.action, Action::Created | Action::Configured))
    }

    /// All diffs, each introduced by `► Kind/namespace/name action`, as `flux diff`
    /// prints them.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for o in self
            .objects
            .iter()
            .filter(|o| matches!(o.action, Action::Created | Action::Configured))
        {
            out.push_str(&format!("► {} {}\n", o.object, o.action));
            out.push_str(&o.unified);
        }
        out
    }
}

fn yaml(obj: &ObjectRef, v: &Value) -> Result<String, Error> {
    serde_yaml::to_string(v).map_err(|source| Error::DiffFailed {
        object: obj.to_string(),
        source,
    })
}

/// A unified diff of two objects (absent = empty), masking Secret values first.
fn unified(
    obj: &ObjectRef,
    before: Option<&Value>,
    after: Option<&Value>,
    context: usize,
) -> Result<String, Error> {
    let mut b = before.map(comparable);
    let mut a = after.map(comparable);
    // comparable() drops apiVersion/kind; mask needs them to recognise Secrets.
    for v in [b.as_mut(), a.as_mut()].into_iter().flatten() {
        if obj.group.is_empty() && obj.kind == "Secret" {
            v["apiVersion"] = Value::String("v1".into());
            v["kind"] = Value::String("Secret".into());
        }
    }
    mask::mask_secret_pair(b.as_mut(), a.as_mut());
    for v in [b.as_mut(), a.as_mut()].into_iter().flatten() {
        if let Some(m) = v.as_object_mut() {
            m.remove("apiVersion");
            m.remove("kind");
        }
    }
    let bt = match &b {
        Some(v) => yaml(obj, v)?,
        None => String::new(),
    };
    let at = match &a {
        Some(v) => yaml(obj, v)?,
        None => String::new(),
    };
    let d = similar::TextDiff::from_lines(&bt, &at);
    Ok(d.unified_diff()
        .context_radius(context)
        .header("live", "merged")
        .to_string())
}

impl Applier {
    /// Diffs a set of objects against the cluster with server-side dry-runs: per object,
    /// what an apply would do and a unified diff of the change. Objects of kinds a CRD in
    /// the same set would define are reported as created.
    ///
    /// This is the entry point for `gyre diff --path DIR`: render the directory, pass the
    /// objects (JSON values), print [`DiffResult::render`], exit 1 when
    /// [`DiffResult::has_changes`].
    ///
    /// # Errors
    /// A [`Failure`] with every object that could not be diffed (invalid, unknown kind,
    /// refused by the dry-run).
    pub async fn diff(
        &self,
        objects: Vec<Value>,
        opts: &DiffOptions,
    ) -> Result<DiffResult, Failure> {
        let fail = |errors| Failure::new("diff", Default::default(), errors);
        let mut items: Vec<Item> = Vec::new();
        let mut errors = Vec::new();
        for o in objects {
            match prepare(o, opts.owner.as_ref(), false) {
                Ok(i) => items.push(i),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(fail(errors));
        }
        let defined: Vec<(String, String)> = items
            .iter()
            .filter(|i| i.oref.kind == "CustomResourceDefinition")
            .filter_map(|i| {
                Some((
                    i.obj["spec"]["group"].as_str()?.to_string(),
                    i.obj["spec"]["names"]["kind"].as_str()?.to_string(),
                ))
            })
            .collect();
        let n = opts.concurrency.max(1);
        let mut out: Vec<ObjectDiff> = Vec::new();
        let mut resolved = Vec::new();
        for mut i in items {
            match self.resolve_item(&mut i, &opts.default_namespace).await {
                Ok(()) => resolved.push(i),
                Err(Error::UnknownKind { .. })
                    if defined.contains(&(i.oref.group.clone(), i.oref.kind.clone())) =>
                {
                    let unified = unified(&i.oref, None, Some(&i.obj), opts.context)
                        .map_err(|e| fail(vec![e]))?;
                    out.push(ObjectDiff {
                        object: i.oref,
                        action: Action::Created,
                        unified,
                    });
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(fail(errors));
        }
        resolved.sort_by(|a, b| crate::order::compare(&a.oref, &b.oref));
        let mut live = self
            .prefetch(&resolved, opts.owner.as_ref(), n)
            .await
            .map_err(|e| fail(vec![e]))?;
        let prefetched = opts.owner.is_some();
        let plans: Vec<Result<Planned, Error>> = stream::iter(resolved.into_iter().map(|i| {
            let l = live.remove(&i.oref);
            (i, l)
        }))
        .map(|(i, l)| self.plan(i, l, prefetched, true))
        .buffered(n)
        .collect()
        .await;
        for p in plans {
            let p = match p {
                Ok(p) => p,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let (action, before, after) = match &p.verdict {
                Verdict::Skip => (Action::Skipped, None, None),
                Verdict::Unchanged => (Action::Unchanged, None, None),
                Verdict::Create => (Action::Created, None, p.dry.as_ref()),
                Verdict::Configure => (Action::Configured, p.live.as_ref(), p.dry.as_ref()),
                // plan() only recreates forced items, and diff never forces.
                Verdict::Recreate(_) => (Action::Configured, p.live.as_ref(), Some(&p.item.obj)),
            };
            let unified = if action == Action::Created || action == Action::Configured {
                unified(&p.item.oref, before, after, opts.context).map_err(|e| fail(vec![e]))?
            } else {
                String::new()
            };
            out.push(ObjectDiff {
                object: p.item.oref,
                action,
                unified,
            });
        }
        if !errors.is_empty() {
            return Err(fail(errors));
        }
        Ok(DiffResult { objects: out })
    }
}
