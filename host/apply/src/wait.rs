//! Waiting for objects to become healthy: one watch per type and namespace (kube-runtime
//! watchers, which re-list and re-watch when a watch drops), each event assessed with
//! [`crate::health::assess`], bounded by a timeout.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::StreamExt;
use kube::api::DynamicObject;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;

use crate::Applier;
use crate::api::TypeInfo;
use crate::error::{Error, Result};
use crate::health::{Health, assess};
use crate::object::ObjectRef;

/// How to wait. Defaults: 5 minutes, fail fast.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// Give up after this long. Default 5 minutes (Flux's `spec.timeout` should be passed
    /// here).
    pub timeout: Duration,
    /// Stop as soon as one object has failed, instead of waiting for the timeout.
    /// Default true.
    pub fail_fast: bool,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: Duration::from_secs(300),
            fail_fast: true,
        }
    }
}

enum Event {
    Seen(ObjectRef, Health),
    Gone(ObjectRef),
}

impl Applier {
    /// Waits until every object is `Current` (see [`crate::health::assess`]).
    ///
    /// `objects` are references with the version to read them at: the
    /// [`crate::ApplyResult::health_targets`] for `wait: true`, or a Flux `healthChecks`
    /// list converted with [`ObjectRef::from_api_version`]. An object that does not exist
    /// is waited for.
    ///
    /// # Errors
    /// [`Error::HealthCheckFailed`] when an object failed (immediately with `fail_fast`,
    /// else at the timeout), [`Error::HealthCheckTimeout`] naming every object that was
    /// not ready with its last status, [`Error::UnknownKind`] or
    /// [`Error::DiscoveryFailed`] when a type cannot be resolved.
    pub async fn wait(&self, objects: &[(ObjectRef, String)], opts: &WaitOptions) -> Result<()> {
        if objects.is_empty() {
            return Ok(());
        }
        let mut groups: BTreeMap<(String, String, String), (TypeInfo, Vec<ObjectRef>)> =
            BTreeMap::new();
        let mut state: HashMap<ObjectRef, Health> = HashMap::new();
        for (r, v) in objects {
            let api_version = r.api_version(v);
            let ti = self
                .api
                .resolve(&api_version, &r.kind)
                .await
                .map_err(|source| Error::DiscoveryFailed {
                    api_version: api_version.clone(),
                    source,
                })?
                .ok_or_else(|| Error::UnknownKind {
                    object: r.to_string(),
                    api_version: api_version.clone(),
                    kind: r.kind.clone(),
                })?;
            let ns = if ti.namespaced {
                r.namespace.clone()
            } else {
                String::new()
            };
            let mut r = r.clone();
            r.namespace = ns.clone();
            state.insert(r.clone(), Health::NotFound);
            groups
                .entry((api_version, r.kind.clone(), ns))
                .or_insert_with(|| (ti, Vec::new()))
                .1
                .push(r);
        }
        let streams = groups.into_iter().map(|((_, kind, ns), (ti, refs))| {
            let api: kube::Api<DynamicObject> = if ti.namespaced {
                kube::Api::namespaced_with(self.api.client.clone(), &ns, &ti.resource)
            } else {
                kube::Api::all_with(self.api.client.clone(), &ti.resource)
            };
            // One object: watch just it. Several: watch the type in the namespace and
            // pick ours out of the events.
            let cfg = if refs.len() == 1 {
                watcher::Config::default().fields(&format!("metadata.name={}", refs[0].name))
            } else {
                watcher::Config::default()
            };
            let group = ti.resource.group.clone();
            let api_version = ti.resource.api_version.clone();
            watcher(api, cfg)
                .default_backoff()
                .flat_map(move |ev| {
                    let out: Vec<Event> = match ev {
                        Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                            let mut v = serde_json::to_value(&o).unwrap_or(Value::Null);
                            v["apiVersion"] = Value::String(api_version.clone());
                            v["kind"] = Value::String(kind.clone());
                            let r = ObjectRef::new(
                                &group,
                                &kind,
                                o.metadata.namespace.as_deref().unwrap_or_default(),
                                o.metadata.name.as_deref().unwrap_or_default(),
                            );
                            if refs.contains(&r) {
                                vec![Event::Seen(r, assess(&v))]
                            } else {
                                vec![]
                            }
                        }
                        Ok(watcher::Event::Delete(o)) => {
                            let r = ObjectRef::new(
                                &group,
                                &kind,
                                o.metadata.namespace.as_deref().unwrap_or_default(),
                                o.metadata.name.as_deref().unwrap_or_default(),
                            );
                            vec![Event::Gone(r)]
                        }
                        Ok(watcher::Event::Init | watcher::Event::InitDone) => vec![],
                        // With a backoff the watcher retries failed lists and watches
                        // itself; errors are only reported, never final.
                        Err(e) => {
                            tracing::debug!(error = %e, %kind, namespace = %ns, "watch error, retrying");
                            vec![]
                        }
                    };
                    futures::stream::iter(out)
                })
                .boxed()
        });
        let mut events = futures::stream::select_all(streams);
        let deadline = tokio::time::sleep(opts.timeout);
        tokio::pin!(deadline);
        loop {
            if state.values().all(Health::is_current) {
                return Ok(());
            }
            tokio::select! {
                _ = &mut deadline => break,
                ev = events.next() => match ev {
                    Some(Event::Seen(r, h)) => {
                        if let (Health::Failed(m), true) = (&h, opts.fail_fast) {
                            return Err(Error::HealthCheckFailed { object: r.to_string(), message: m.clone() });
                        }
                        if h.is_current() {
                            tracing::debug!(object = %r, "healthy");
                        }
                        state.insert(r, h);
                    }
                    Some(Event::Gone(r)) => {
                        if let Some(h) = state.get_mut(&r) {
                            *h = Health::NotFound;
                        }
                    }
                    None => break,
                },
            }
        }
        if let Some((r, Health::Failed(m))) =
            state.iter().find(|(_, h)| matches!(h, Health::Failed(_)))
        {
            return Err(Error::HealthCheckFailed {
                object: r.to_string(),
                message: m.clone(),
            });
        }
        let mut pending: Vec<(String, String)> = state
            .iter()
            .filter(|(_, h)| !h.is_current())
            .map(|(r, h)| (r.to_string(), h.message()))
            .collect();
        pending.sort();
        Err(Error::HealthCheckTimeout { pending })
    }

    /// Waits until every object is gone (Helm's `--wait` on uninstall), polling each
    /// still-present object, bounded by `timeout`. Kinds no longer served count as gone.
    ///
    /// # Errors
    /// [`Error::DeletionsPending`] naming the objects still present at the timeout,
    /// [`Error::DeletionCheckFailed`] or [`Error::DiscoveryFailed`] when a read fails.
    pub async fn wait_deleted(
        &self,
        objects: &[(ObjectRef, String)],
        timeout: Duration,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut remaining: Vec<(ObjectRef, String)> = objects.to_vec();
        let mut pause = Duration::from_millis(50);
        loop {
            let mut still = Vec::new();
            for (r, v) in remaining {
                let api_version = r.api_version(&v);
                let Some(ti) = self
                    .api
                    .resolve(&api_version, &r.kind)
                    .await
                    .map_err(|source| Error::DiscoveryFailed {
                        api_version: api_version.clone(),
                        source,
                    })?
                else {
                    continue;
                };
                let ns = if ti.namespaced {
                    r.namespace.as_str()
                } else {
                    ""
                };
                let live = self.api.get(&ti, ns, &r.name).await.map_err(|source| {
                    Error::DeletionCheckFailed {
                        object: r.to_string(),
                        source,
                    }
                })?;
                if live.is_some() {
                    still.push((r, v));
                }
            }
            if still.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let mut names: Vec<String> = still.iter().map(|(r, _)| r.to_string()).collect();
                names.sort();
                return Err(Error::DeletionsPending { remaining: names });
            }
            remaining = still;
            tokio::time::sleep(pause.min(deadline - tokio::time::Instant::now())).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
}
