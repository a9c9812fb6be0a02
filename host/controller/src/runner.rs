//! Wiring: one kube-runtime controller per kind, sharing one [`Context`].
//!
//! Each controller's trigger stream is filtered to what should start a reconcile — a new
//! generation, a new `reconcile.fluxcd.io/requestedAt`, deletion, the finalizer — so the
//! controller's own status writes do not loop back into reconciles; the interval requeue
//! does the rest. HelmReleases are also triggered when their HelmChart publishes a new
//! chart. Kustomizations are also triggered when their source publishes a new
//! artifact revision and when a Kustomization they depend on becomes ready; HelmReleases
//! likewise when a HelmRelease they depend on becomes ready, when the OCIRepository of
//! their `chartRef` moves, and when a ConfigMap or Secret of their `valuesFrom` labelled
//! `reconcile.fluxcd.io/watch: Enabled` changes.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use gyre_api::helm::HelmRelease;
use gyre_api::kustomize::Kustomization;
use gyre_api::meta;
use gyre_api::plugin::Plugin;
use gyre_api::source::{Bucket, GitRepository, HelmChart, HelmRepository, OCIRepository};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::error::Error;
use crate::source::FINALIZER;

fn hash_of(parts: impl Hash) -> Option<u64> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    Some(h.finish())
}

/// What starts a reconcile of the object itself.
fn spec_or_request<K: Resource>(obj: &K) -> Option<u64> {
    let m = obj.meta();
    hash_of((
        m.generation,
        meta::requested_at(m),
        m.deletion_timestamp.is_some(),
        m.finalizers.iter().flatten().any(|f| f == FINALIZER),
    ))
}

/// The artifact revision of a source, as a trigger for its consumers.
fn artifact_revision(status: Option<&gyre_api::meta::Artifact>) -> Option<u64> {
    hash_of(status.map(|a| (&a.revision, &a.digest)))
}

/// Runs `reconcile` and records its duration and outcome
/// (`gotk_reconcile_duration_seconds`, `controller_runtime_reconcile_total`).
async fn measured<K, Fut>(
    obj: Arc<K>,
    ctx: Arc<Context>,
    reconcile: fn(Arc<K>, Arc<Context>) -> Fut,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()>,
    Fut: std::future::Future<Output = Result<Action, Error>>,
{
    let started = std::time::Instant::now();
    let kind = K::kind(&()).to_string();
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let result = reconcile(obj, ctx.clone()).await;
    ctx.metrics
        .record_reconcile(&kind, &ns, &name, started.elapsed(), result.is_ok());
    result
}

fn error_policy<K>(obj: Arc<K>, err: &Error, _ctx: Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    tracing::warn!(object = %crate::status::describe(obj.as_ref()), error = %crate::source::chain(err), "reconcile error");
    Action::requeue(Duration::from_secs(10))
}

/// A controller for `K` whose primary trigger is filtered by [`spec_or_request`].
fn controller<K>(ctx: &Context) -> (Controller<K>, Store<K>)
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(ctx.watch_api::<K>(), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(spec_or_request::<K>, Default::default());
    let c = Controller::for_stream(stream, reader.clone())
        .with_config(ControllerConfig::default().concurrency(ctx.options.concurrency));
    (c, reader)
}

fn log_result<K: Resource>(
    r: Result<(ObjectRef<K>, Action), kube::runtime::controller::Error<Error, watcher::Error>>,
) -> std::future::Ready<()> {
    if let Err(e) = r {
        tracing::warn!(error = %crate::source::chain(&e), "controller");
    }
    std::future::ready(())
}

/// Kustomizations whose `sourceRef` is `(kind, namespace, name)`.
fn consumers(
    store: &Store<Kustomization>,
    kind: &str,
    ns: &str,
    name: &str,
) -> Vec<ObjectRef<Kustomization>> {
    store
        .state()
        .iter()
        .filter(|k| {
            let r = &k.spec.source_ref;
            let own = k.namespace().unwrap_or_default();
            r.kind == kind && r.name == name && r.namespace.as_deref().unwrap_or(&own) == ns
        })
        .map(|k| ObjectRef::from_obj(k.as_ref()))
        .collect()
}

/// Wakes the objects whose `dependsOn` names an object of the same kind when `key` of
/// that object changes (its readiness, and what else the kind's rule looks at).
fn dependents<K>(
    ctx: &Context,
    store: Store<K>,
    key: fn(&K) -> Option<u64>,
) -> (
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
    impl Fn(K) -> Vec<ObjectRef<K>> + Send + Sync + 'static,
)
where
    K: crate::dependencies::Dependent + Send + Sync + 'static,
{
    let stream = watcher(ctx.watch_api::<K>(), watcher::Config::default())
        .default_backoff()
        .touched_objects()
        .predicate_filter(key, Default::default());
    let map = move |dep: K| {
        let (ns, name) = (dep.namespace().unwrap_or_default(), dep.name_any());
        store
            .state()
            .iter()
            .filter(|k| crate::dependencies::names(k.as_ref(), &ns, &name))
            .map(|k| ObjectRef::from_obj(k.as_ref()))
            .collect::<Vec<_>>()
    };
    (stream, map)
}

/// Wakes the HelmReleases whose `valuesFrom` names a ConfigMap or Secret labelled
/// `reconcile.fluxcd.io/watch: Enabled` when its data changes (Flux 2.4+).
fn watched_values<K>(
    ctx: &Context,
    releases: Store<HelmRelease>,
    data: fn(&K) -> Option<u64>,
) -> (
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
    impl Fn(K) -> Vec<ObjectRef<HelmRelease>> + Send + Sync + 'static,
)
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (label, value) = crate::helm_release::values::WATCH_LABEL;
    let config = watcher::Config::default().labels(&format!("{label}={value}"));
    let stream = watcher(ctx.watch_api::<K>(), config)
        .default_backoff()
        .touched_objects()
        .predicate_filter(data, Default::default());
    let map = move |obj: K| {
        let kind = K::kind(&()).to_string();
        let (ns, name) = (obj.namespace().unwrap_or_default(), obj.name_any());
        releases
            .state()
            .iter()
            .filter(|hr| crate::helm_release::values::references(hr, &kind, &ns, &name))
            .map(|hr| ObjectRef::from_obj(hr.as_ref()))
            .collect::<Vec<_>>()
    };
    (stream, map)
}

/// Runs every controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });

    let git = {
        let (c, _) = controller::<GitRepository>(&ctx);
        c.graceful_shutdown_on(stop())
            .run(
                |o, c| measured(o, c, crate::source::reconcile::<GitRepository>),
                error_policy,
                ctx.clone(),
            )
            .for_each(log_result)
    };
    let oci = {
        let (c, _) = controller::<OCIRepository>(&ctx);
        c.graceful_shutdown_on(stop())
            .run(
                |o, c| measured(o, c, crate::source::reconcile::<OCIRepository>),
                error_policy,
                ctx.clone(),
            )
            .for_each(log_result)
    };
    let helm_repo = {
        let (c, _) = controller::<HelmRepository>(&ctx);
        c.graceful_shutdown_on(stop())
            .run(
                |o, c| measured(o, c, crate::source::reconcile::<HelmRepository>),
                error_policy,
                ctx.clone(),
            )
            .for_each(log_result)
    };
    let helm_chart = {
        let (c, charts) = controller::<HelmChart>(&ctx);
        // A chart is re-packaged when its HelmRepository index or Git/Bucket artifact moves.
        let by_source = move |kind: &'static str, charts: Store<HelmChart>| {
            move |ns: String, name: String| -> Vec<ObjectRef<HelmChart>> {
                charts
                    .state()
                    .iter()
                    .filter(|c| {
                        c.spec.source_ref.kind == kind
                            && c.spec.source_ref.name == name
                            && c.namespace().as_deref() == Some(ns.as_str())
                    })
                    .map(|c| ObjectRef::from_obj(c.as_ref()))
                    .collect()
            }
        };
        let repo_map = by_source("HelmRepository", charts.clone());
        let git_map = by_source("GitRepository", charts.clone());
        let repos = watcher(
            ctx.watch_api::<HelmRepository>(),
            watcher::Config::default(),
        )
        .default_backoff()
        .touched_objects()
        .predicate_filter(
            |r: &HelmRepository| {
                artifact_revision(r.status.as_ref().and_then(|s| s.artifact.as_ref()))
            },
            Default::default(),
        );
        let gits = watcher(ctx.watch_api::<GitRepository>(), watcher::Config::default())
            .default_backoff()
            .touched_objects()
            .predicate_filter(
                |r: &GitRepository| {
                    artifact_revision(r.status.as_ref().and_then(|s| s.artifact.as_ref()))
                },
                Default::default(),
            );
        c.watches_stream(repos, move |r: HelmRepository| {
            repo_map(r.namespace().unwrap_or_default(), r.name_any())
        })
        .watches_stream(gits, move |r: GitRepository| {
            git_map(r.namespace().unwrap_or_default(), r.name_any())
        })
        .graceful_shutdown_on(stop())
        .run(
            |o, c| measured(o, c, crate::source::reconcile::<HelmChart>),
            error_policy,
            ctx.clone(),
        )
        .for_each(log_result)
    };
    let bucket = {
        let (c, _) = controller::<Bucket>(&ctx);
        c.graceful_shutdown_on(stop())
            .run(
                |o, c| measured(o, c, crate::source::reconcile::<Bucket>),
                error_policy,
                ctx.clone(),
            )
            .for_each(log_result)
    };
    let plugin = {
        let (c, _) = controller::<Plugin>(&ctx);
        c.graceful_shutdown_on(stop())
            .run(
                |o, c| measured(o, c, crate::plugin::reconcile),
                error_policy,
                ctx.clone(),
            )
            .for_each(log_result)
    };
    let kustomization = {
        let (c, ks) = controller::<Kustomization>(&ctx);
        macro_rules! source_trigger {
            ($t:ty, $kind:literal) => {{
                let ks = ks.clone();
                let stream = watcher(ctx.watch_api::<$t>(), watcher::Config::default())
                    .default_backoff()
                    .touched_objects()
                    .predicate_filter(
                        |r: &$t| {
                            artifact_revision(r.status.as_ref().and_then(|s| s.artifact.as_ref()))
                        },
                        Default::default(),
                    );
                (stream, move |r: $t| {
                    consumers(
                        &ks,
                        $kind,
                        &r.namespace().unwrap_or_default(),
                        &r.name_any(),
                    )
                })
            }};
        }
        let (git_s, git_m) = source_trigger!(GitRepository, "GitRepository");
        let (oci_s, oci_m) = source_trigger!(OCIRepository, "OCIRepository");
        let (bucket_s, bucket_m) = source_trigger!(Bucket, "Bucket");
        // Dependents wake up when a dependency's readiness or applied revision changes.
        let (deps, deps_map) = dependents(&ctx, ks.clone(), |k: &Kustomization| {
            let st = k.status.as_ref();
            hash_of((
                crate::dependencies::ready(k),
                st.and_then(|s| s.last_applied_revision.clone()),
            ))
        });
        c.watches_stream(git_s, git_m)
            .watches_stream(oci_s, oci_m)
            .watches_stream(bucket_s, bucket_m)
            .watches_stream(deps, deps_map)
            .graceful_shutdown_on(stop())
            .run(
                |o, c| measured(o, c, crate::kustomization::reconcile),
                error_policy,
                ctx.clone(),
            )
            .for_each(log_result)
    };
    let helm_release = {
        let (c, releases) = controller::<HelmRelease>(&ctx);
        // Dependents wake up when a dependency becomes ready (or stops being ready).
        let (deps, deps_map) = dependents(&ctx, releases.clone(), |hr: &HelmRelease| {
            hash_of(crate::dependencies::ready(hr))
        });
        // …and when a watched ConfigMap or Secret of its valuesFrom changes.
        let (cms, cm_map) = watched_values(&ctx, releases.clone(), |c: &ConfigMap| {
            hash_of((
                &c.data,
                c.binary_data
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k, &v.0))
                    .collect::<Vec<_>>(),
            ))
        });
        let (secrets, secret_map) = watched_values(&ctx, releases.clone(), |s: &Secret| {
            hash_of((
                s.data
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k, &v.0))
                    .collect::<Vec<_>>(),
                &s.string_data,
            ))
        });
        // …and when the OCIRepository its chartRef names publishes a new artifact.
        let oci_releases = releases.clone();
        let ocis = watcher(ctx.watch_api::<OCIRepository>(), watcher::Config::default())
            .default_backoff()
            .touched_objects()
            .predicate_filter(
                |r: &OCIRepository| {
                    artifact_revision(r.status.as_ref().and_then(|s| s.artifact.as_ref()))
                },
                Default::default(),
            );
        let oci_map = move |repo: OCIRepository| {
            let key = (repo.namespace().unwrap_or_default(), repo.name_any());
            oci_releases
                .state()
                .iter()
                .filter(|hr| crate::helm_release::oci_chart::source_of(hr).as_ref() == Some(&key))
                .map(|hr| ObjectRef::from_obj(hr.as_ref()))
                .collect::<Vec<_>>()
        };
        // A release is reconsidered when its HelmChart publishes a new chart artifact.
        let charts = watcher(ctx.watch_api::<HelmChart>(), watcher::Config::default())
            .default_backoff()
            .touched_objects()
            .predicate_filter(
                |c: &HelmChart| {
                    artifact_revision(c.status.as_ref().and_then(|s| s.artifact.as_ref()))
                },
                Default::default(),
            );
        c.watches_stream(charts, move |chart: HelmChart| {
            let key = (chart.namespace().unwrap_or_default(), chart.name_any());
            releases
                .state()
                .iter()
                .filter(|hr| crate::helm_release::chart_object(hr).as_ref() == Some(&key))
                .map(|hr| ObjectRef::from_obj(hr.as_ref()))
                .collect::<Vec<_>>()
        })
        .watches_stream(deps, deps_map)
        .watches_stream(ocis, oci_map)
        .watches_stream(cms, cm_map)
        .watches_stream(secrets, secret_map)
        .graceful_shutdown_on(stop())
        .run(
            |o, c| measured(o, c, crate::helm_release::reconcile),
            error_policy,
            ctx.clone(),
        )
        .for_each(log_result)
    };
    tokio::join!(
        git,
        oci,
        helm_repo,
        helm_chart,
        bucket,
        plugin,
        kustomization,
        helm_release
    );
}
