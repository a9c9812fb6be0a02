//! Ordered server-side apply of a set of objects, yielding a change set and the new
//! inventory.
//!
//! Per stage (see [`crate::order`]): one LIST per type and namespace fetches the live
//! objects we own; objects our field manager already owns exactly and that match are
//! unchanged without any request ([`crate::drift::unchanged_locally`]); the others get a
//! server-side dry-run, which decides created / configured / unchanged and catches
//! invalid objects before anything in the stage is written; then the changed objects
//! are applied, concurrently.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use serde_json::Value;

use crate::api::TypeInfo;
use crate::changeset::{Action, ChangeSet};
use crate::drift;
use crate::error::{Error, Failure, RequestError};
use crate::inventory::Inventory;
use crate::mask;
use crate::object::ObjectRef;
use crate::order::{self, Stage};
use crate::{Applier, FORCE_ANNOTATION, Owner, SSA_ANNOTATION};

/// How to apply. Defaults: no owner, no force, namespace `default`, 16 requests in
/// flight, 60 s for CRDs to be established and deleted objects to go.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The owner whose labels go on every object. With an owner, live objects are
    /// fetched with one LIST per type and namespace (selecting on the labels); without,
    /// with one GET per object. Default none.
    pub owner: Option<Owner>,
    /// Recreate any object whose immutable fields changed (as if every object had
    /// `kustomize.toolkit.fluxcd.io/force: enabled`). Default false.
    pub force: bool,
    /// Namespace of namespaced objects that name none. Default `default`.
    pub default_namespace: String,
    /// Requests in flight at once within a stage. Default 16.
    pub concurrency: usize,
    /// How long to wait for CRDs to be Established (before their custom resources are
    /// applied) and for objects deleted for recreation to be gone. Default 60 s.
    pub definitions_timeout: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            owner: None,
            force: false,
            default_namespace: "default".into(),
            concurrency: 16,
            definitions_timeout: Duration::from_secs(60),
        }
    }
}

impl ApplyOptions {
    /// Defaults, with an owner.
    pub fn for_owner(owner: Owner) -> ApplyOptions {
        ApplyOptions {
            owner: Some(owner),
            ..Default::default()
        }
    }
}

/// The outcome of a successful apply. Only [`Applier::apply`] makes one, which is what
/// lets [`Applier::prune`] demand it: pruning after a failed or partial apply cannot be
/// expressed.
#[derive(Debug, Clone)]
pub struct ApplyResult {
    change_set: ChangeSet,
    inventory: Inventory,
    pub(crate) owner: Option<Owner>,
}

impl ApplyResult {
    /// What happened to each object, in apply order.
    pub fn change_set(&self) -> &ChangeSet {
        &self.change_set
    }

    /// The new inventory (every object of the set, skipped ones included, as Flux
    /// records it).
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The objects to wait for when `wait: true`: every object of the set that was not
    /// skipped.
    pub fn health_targets(&self) -> Vec<(ObjectRef, String)> {
        self.change_set
            .entries
            .iter()
            .filter(|e| e.action != Action::Skipped)
            .map(|e| (e.object.clone(), e.version.clone()))
            .collect()
    }
}

/// `kustomize.toolkit.fluxcd.io/ssa`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// Apply (also `Merge`: Gyre does not strip other managers' fields, so a merge is
    /// what every apply does).
    Apply,
    /// Only create; leave an existing object alone.
    IfNotPresent,
    /// Never touch.
    Ignore,
}

/// One desired object, prepared.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub obj: Value,
    pub oref: ObjectRef,
    pub version: String,
    pub ti: Option<TypeInfo>,
    pub policy: Policy,
    pub force: bool,
}

/// What to do with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Skip,
    Unchanged,
    Create,
    Configure,
    /// Immutable fields changed: delete (this uid) and create.
    Recreate(Option<String>),
}

/// A planned object with what the plan saw.
#[derive(Debug)]
pub(crate) struct Planned {
    pub item: Item,
    pub verdict: Verdict,
    pub live: Option<Value>,
    pub dry: Option<Value>,
}

fn annotation<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj["metadata"]["annotations"][key]
        .as_str()
        .unwrap_or_default()
}

/// Checks and labels one object.
pub(crate) fn prepare(mut obj: Value, owner: Option<&Owner>, force: bool) -> Result<Item, Error> {
    let (oref, version) = ObjectRef::of(&obj)?;
    if let Some(o) = owner {
        o.label(&mut obj);
    }
    let policy = match annotation(&obj, SSA_ANNOTATION)
        .to_ascii_lowercase()
        .as_str()
    {
        "ignore" => Policy::Ignore,
        "ifnotpresent" => Policy::IfNotPresent,
        _ => Policy::Apply,
    };
    let force = force || annotation(&obj, FORCE_ANNOTATION).eq_ignore_ascii_case("enabled");
    Ok(Item {
        obj,
        oref,
        version,
        ti: None,
        policy,
        force,
    })
}

/// The (group, kind) pairs defined by CRDs in a set.
fn crd_kinds(items: &[Item]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .filter(|i| order::is_definition(&i.oref) && i.oref.kind == "CustomResourceDefinition")
        .filter_map(|i| {
            Some((
                i.obj["spec"]["group"].as_str()?.to_string(),
                i.obj["spec"]["names"]["kind"].as_str()?.to_string(),
            ))
        })
        .collect()
}

pub(crate) fn request_error(e: RequestError, obj: &Value) -> RequestError {
    match e {
        RequestError::Api(k) => RequestError::Api(mask::scrub_error(k, obj)),
        t => t,
    }
}

impl Applier {
    /// Resolves an item's type and normalizes its namespace (default namespace for
    /// namespaced kinds; none for cluster-scoped ones, as the API server ignores it).
    pub(crate) async fn resolve_item(
        &self,
        item: &mut Item,
        default_ns: &str,
    ) -> Result<(), Error> {
        let api_version = item.oref.api_version(&item.version);
        let ti = self
            .api
            .resolve(&api_version, &item.oref.kind)
            .await
            .map_err(|source| Error::DiscoveryFailed {
                api_version: api_version.clone(),
                source,
            })?
            .ok_or_else(|| Error::UnknownKind {
                object: item.oref.to_string(),
                api_version: api_version.clone(),
                kind: item.oref.kind.clone(),
            })?;
        if ti.namespaced {
            if item.oref.namespace.is_empty() {
                item.oref.namespace = default_ns.to_string();
                item.obj["metadata"]["namespace"] = Value::String(default_ns.to_string());
            }
        } else if !item.oref.namespace.is_empty() {
            item.oref.namespace.clear();
            if let Some(m) = item.obj["metadata"].as_object_mut() {
                m.remove("namespace");
            }
        }
        item.ti = Some(ti);
        Ok(())
    }

    async fn resolve_all(&self, items: &mut [Item], opts: &ApplyOptions) -> Vec<Error> {
        // Futures built eagerly, not in a stream closure over borrowed items: that
        // closure makes the caller's future fail rustc's `Send` proof (rust#110338),
        // and controllers must spawn it.
        let futures: Vec<_> = items
            .iter_mut()
            .map(|i| self.resolve_item(i, &opts.default_namespace))
            .collect();
        let results: Vec<Result<(), Error>> = stream::iter(futures)
            .buffered(opts.concurrency.max(1))
            .collect()
            .await;
        results.into_iter().filter_map(Result::err).collect()
    }

    /// Fetches the live objects of a stage we own: one LIST per type and namespace.
    /// Without an owner, nothing is prefetched (objects are read one by one).
    pub(crate) async fn prefetch(
        &self,
        items: &[Item],
        owner: Option<&Owner>,
        concurrency: usize,
    ) -> Result<HashMap<ObjectRef, Value>, Error> {
        let Some(owner) = owner else {
            return Ok(HashMap::new());
        };
        let mut groups: BTreeMap<(String, String, String), TypeInfo> = BTreeMap::new();
        for i in items {
            let ti = i.ti.as_ref().expect("resolved");
            groups
                .entry((
                    ti.resource.api_version.clone(),
                    ti.resource.kind.clone(),
                    i.oref.namespace.clone(),
                ))
                .or_insert_with(|| ti.clone());
        }
        let selector = owner.selector();
        let lists: Vec<Vec<Value>> = stream::iter(groups)
            .map(|((_, kind, ns), ti)| {
                let selector = selector.clone();
                async move {
                    self.api
                        .list(&ti, &ns, &selector)
                        .await
                        .map_err(|source| Error::ListFailed {
                            kind: kind.clone(),
                            namespace: if ns.is_empty() {
                                "*".into()
                            } else {
                                ns.clone()
                            },
                            source,
                        })
                        .map(|items| {
                            items
                                .into_iter()
                                .map(|mut o| {
                                    // List items carry no apiVersion/kind.
                                    o["apiVersion"] =
                                        Value::String(ti.resource.api_version.clone());
                                    o["kind"] = Value::String(kind.clone());
                                    o
                                })
                                .collect()
                        })
                }
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect()
            .await?;
        let mut out = HashMap::new();
        for o in lists.into_iter().flatten() {
            if let Ok((r, _)) = ObjectRef::of(&o) {
                out.insert(r, o);
            }
        }
        Ok(out)
    }

    /// Decides what to do with one object, with at most one request when the prefetch
    /// found it (a dry-run) and none when it is locally unchanged. `want_live` also reads
    /// objects that exist but were not prefetched (for diffs).
    pub(crate) async fn plan(
        &self,
        item: Item,
        prefetched: Option<Value>,
        prefetch_done: bool,
        want_live: bool,
    ) -> Result<Planned, Error> {
        let ti = item.ti.clone().expect("resolved");
        let object = || item.oref.to_string();
        let planned = |item: Item, verdict, live, dry| Planned {
            item,
            verdict,
            live,
            dry,
        };
        if item.policy == Policy::Ignore {
            return Ok(planned(item, Verdict::Skip, prefetched, None));
        }
        let mut live = prefetched;
        // Without a prefetch (no owner), or for create-only objects that may exist without
        // our labels, read the object.
        if live.is_none() && (!prefetch_done || item.policy == Policy::IfNotPresent) {
            live = self
                .api
                .get(&ti, &item.oref.namespace, &item.oref.name)
                .await
                .map_err(|source| Error::GetFailed {
                    object: object(),
                    source: request_error(source, &item.obj),
                })?;
        }
        if item.policy == Policy::IfNotPresent && live.is_some() {
            return Ok(planned(item, Verdict::Skip, live, None));
        }
        if let Some(l) = &live
            && drift::unchanged_locally(&item.obj, l, &self.manager)
        {
            return Ok(planned(item, Verdict::Unchanged, live, None));
        }
        match self.api.apply(&ti, &item.obj, &self.manager, true).await {
            Ok(dry) => {
                let exists = dry["metadata"]["resourceVersion"]
                    .as_str()
                    .is_some_and(|rv| !rv.is_empty());
                if !exists {
                    return Ok(planned(item, Verdict::Create, live, Some(dry)));
                }
                if live.is_none() && want_live {
                    live = self
                        .api
                        .get(&ti, &item.oref.namespace, &item.oref.name)
                        .await
                        .map_err(|source| Error::GetFailed {
                            object: object(),
                            source: request_error(source, &item.obj),
                        })?;
                }
                let verdict = match &live {
                    Some(l) if !drift::drifted(&dry, l) => Verdict::Unchanged,
                    _ => Verdict::Configure,
                };
                Ok(planned(item, verdict, live, Some(dry)))
            }
            Err(e) if e.is_immutable() && item.force => {
                let uid = live
                    .as_ref()
                    .and_then(|l| l["metadata"]["uid"].as_str())
                    .map(str::to_string);
                Ok(planned(item, Verdict::Recreate(uid), live, None))
            }
            Err(e) => Err(Error::DryRunFailed {
                object: object(),
                source: request_error(e, &item.obj),
            }),
        }
    }

    /// Deletes an object and waits until it is gone, so that it can be created again.
    async fn delete_for_recreate(
        &self,
        item: &Item,
        uid: Option<&str>,
        timeout: Duration,
    ) -> Result<(), Error> {
        let ti = item.ti.as_ref().expect("resolved");
        let (ns, name) = (&item.oref.namespace, &item.oref.name);
        let failed = |source| Error::RecreateFailed {
            object: item.oref.to_string(),
            source,
        };
        self.api
            .delete(ti, ns, name, uid, crate::prune::Propagation::Background)
            .await
            .map_err(failed)?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(20);
        loop {
            match self.api.get(ti, ns, name).await.map_err(failed)? {
                None => return Ok(()),
                Some(o) if uid.is_some_and(|u| o["metadata"]["uid"] != u) => return Ok(()),
                Some(_) => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::DeletionTimeout {
                    object: item.oref.to_string(),
                    timeout,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// Writes one planned object; returns its action and the object as applied.
    async fn execute(
        &self,
        p: &Planned,
        opts: &ApplyOptions,
    ) -> Result<(Action, Option<Value>), Error> {
        let ti = p.item.ti.as_ref().expect("resolved");
        let action = match &p.verdict {
            Verdict::Skip => return Ok((Action::Skipped, None)),
            Verdict::Unchanged => return Ok((Action::Unchanged, p.live.clone())),
            Verdict::Create => Action::Created,
            Verdict::Configure => Action::Configured,
            Verdict::Recreate(uid) => {
                self.delete_for_recreate(&p.item, uid.as_deref(), opts.definitions_timeout)
                    .await?;
                Action::Created
            }
        };
        let applied = self
            .api
            .apply(ti, &p.item.obj, &self.manager, false)
            .await
            .map_err(|source| Error::ApplyFailed {
                object: p.item.oref.to_string(),
                source: request_error(source, &p.item.obj),
            })?;
        tracing::info!(object = %p.item.oref, %action, "applied");
        Ok((action, Some(applied)))
    }

    /// Applies one stage: prefetch, plan every object (nothing is written if any plan
    /// fails), then write the changed ones.
    async fn apply_stage(
        &self,
        mut items: Vec<Item>,
        opts: &ApplyOptions,
        cs: &mut ChangeSet,
    ) -> Result<Vec<(ObjectRef, Action, Option<Value>)>, Vec<Error>> {
        items.sort_by(|a, b| order::compare(&a.oref, &b.oref));
        let mut seen = BTreeSet::new();
        let dups: Vec<Error> = items
            .iter()
            .filter(|i| !seen.insert(i.oref.clone()))
            .map(|i| Error::DuplicateObject {
                object: i.oref.to_string(),
            })
            .collect();
        if !dups.is_empty() {
            return Err(dups);
        }
        let n = opts.concurrency.max(1);
        let mut live = self
            .prefetch(&items, opts.owner.as_ref(), n)
            .await
            .map_err(|e| vec![e])?;
        let prefetched = opts.owner.is_some();
        let plans: Vec<Result<Planned, Error>> = stream::iter(items.into_iter().map(|i| {
            let l = live.remove(&i.oref);
            (i, l)
        }))
        .map(|(i, l)| self.plan(i, l, prefetched, false))
        .buffered(n)
        .collect()
        .await;
        let mut errors = Vec::new();
        let mut planned = Vec::new();
        for p in plans {
            match p {
                Ok(p) => planned.push(p),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let futures: Vec<_> = planned.iter().map(|p| self.execute(p, opts)).collect();
        let results: Vec<Result<(Action, Option<Value>), Error>> =
            stream::iter(futures).buffered(n).collect().await;
        let mut out = Vec::new();
        for (p, r) in planned.into_iter().zip(results) {
            match r {
                Ok((action, obj)) => {
                    cs.add(p.item.oref.clone(), &p.item.version, action);
                    out.push((p.item.oref, action, obj));
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Applies a set of objects in order: CRDs and Namespaces, then (once the CRDs are
    /// Established) cluster-scoped objects, then namespaced ones.
    ///
    /// Objects are labeled for `opts.owner`, applied with field manager `gyre` and force;
    /// `ssa: Ignore` objects are skipped, `ssa: IfNotPresent` ones only created; an object
    /// whose immutable fields changed is recreated when forced (`opts.force` or
    /// `force: enabled`).
    ///
    /// # Errors
    /// A [`Failure`] with every error and the change set of what was done: invalid
    /// objects, unknown kinds and failed dry-runs stop the run before their stage writes
    /// anything; apply failures are collected for the whole stage. Earlier stages stay
    /// applied.
    pub async fn apply(
        &self,
        objects: Vec<Value>,
        opts: &ApplyOptions,
    ) -> Result<ApplyResult, Failure> {
        let mut cs = ChangeSet::default();
        let fail = |cs: ChangeSet, errors: Vec<Error>| Failure::new("apply", cs, errors);
        let mut items = Vec::new();
        let mut errors = Vec::new();
        for o in objects {
            match prepare(o, opts.owner.as_ref(), opts.force) {
                Ok(i) => items.push(i),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(fail(cs, errors));
        }
        // Resolve every kind not defined by a CRD of this set now, so an unknown kind
        // fails the run before anything is written.
        let defined = crd_kinds(&items);
        let (mut later, mut now): (Vec<Item>, Vec<Item>) = items
            .into_iter()
            .partition(|i| defined.contains(&(i.oref.group.clone(), i.oref.kind.clone())));
        let errors = self.resolve_all(&mut now, opts).await;
        if !errors.is_empty() {
            return Err(fail(cs, errors));
        }
        let (defs, mut rest): (Vec<Item>, Vec<Item>) =
            now.into_iter().partition(|i| order::is_definition(&i.oref));
        if !defs.is_empty() {
            let applied = match self.apply_stage(defs, opts, &mut cs).await {
                Ok(a) => a,
                Err(errors) => return Err(fail(cs, errors)),
            };
            let pending: Vec<(ObjectRef, String)> = applied
                .iter()
                .filter(|(r, _, obj)| {
                    r.kind == "CustomResourceDefinition"
                        && obj
                            .as_ref()
                            .is_none_or(|o| !crate::health::assess(o).is_current())
                })
                .map(|(r, _, _)| (r.clone(), "v1".to_string()))
                .collect();
            if !pending.is_empty() {
                let wait = crate::wait::WaitOptions {
                    timeout: opts.definitions_timeout,
                    fail_fast: true,
                };
                if let Err(e) = self.wait(&pending, &wait).await {
                    return Err(fail(cs, vec![e]));
                }
            }
            for (g, _) in &defined {
                self.api.forget_group(g);
            }
        }
        let errors = self.resolve_all(&mut later, opts).await;
        if !errors.is_empty() {
            return Err(fail(cs, errors));
        }
        rest.append(&mut later);
        let mut stages: BTreeMap<Stage, Vec<Item>> = BTreeMap::new();
        for i in rest {
            let s = order::stage_of(&i.oref, i.ti.as_ref().is_some_and(|t| t.namespaced));
            stages.entry(s).or_default().push(i);
        }
        for (_, items) in stages {
            if let Err(errors) = self.apply_stage(items, opts, &mut cs).await {
                return Err(fail(cs, errors));
            }
        }
        let inventory = Inventory::from_change_set(&cs);
        Ok(ApplyResult {
            change_set: cs,
            inventory,
            owner: opts.owner.clone(),
        })
    }
}
