//! The Kustomization reconciler: source artifact → render → post-build substitution →
//! transforms → apply → prune → health → status, as kustomize-controller does it.
//!
//! Failure rules: any failure before apply (source, dependencies, build, substitution,
//! transforms) changes nothing in the cluster and keeps the last inventory; a failed
//! apply records old and new objects in the inventory and prunes nothing; prune and
//! health failures happen after a good apply and report on its inventory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gyre_api::kustomize::{Kustomization, KustomizationStatus, ResourceInventory};
use gyre_api::meta::{
    self, Condition, condition_types, find_condition, reasons, remove_condition, set_condition,
};
use gyre_api::source::{Bucket, GitRepository, OCIRepository};
use gyre_apply::{Applier, ApplyOptions, Inventory, ObjectRef, Owner, PruneOptions, WaitOptions};
use gyre_plugin::{Limits, World};
use gyre_render::{PluginSource, build, transform};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Api, ResourceExt};
use serde_json::Value;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::events::Severity;
use crate::plugin_ref;
use crate::source::{FINALIZER, chain, in_store, to_store_artifact};
use crate::status;
use crate::vars;

/// Flux's reasons specific to Kustomizations.
pub mod reason {
    /// The source artifact is missing or could not be read.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// Building (render, substitution, transforms) failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// Pruning failed.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// The health checks failed or timed out.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// A reference is not allowed (cross-namespace).
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// SOPS decryption failed (Gyre does not decrypt yet, so any `decryption` spec).
    pub const DECRYPTION_FAILED: &str = "DecryptionFailed";
}

/// A failed step: the reason, the message, and the inventory to record.
struct Failure {
    reason: &'static str,
    message: String,
    inventory: Option<Inventory>,
}

impl Failure {
    fn new(reason: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            reason,
            message: message.into(),
            inventory: None,
        }
    }
}

/// What a successful run did.
struct Success {
    inventory: Inventory,
    changes: Vec<String>,
    health: Option<Duration>,
}

fn previous_inventory(status: &KustomizationStatus) -> Inventory {
    status
        .inventory
        .as_ref()
        .and_then(|i| serde_json::to_value(i).ok())
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

fn to_status_inventory(inv: &Inventory) -> ResourceInventory {
    serde_json::to_value(inv)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Reconciles one Kustomization.
///
/// # Errors
/// Only when the finalizer or the status cannot be written.
pub async fn reconcile(ks: Arc<Kustomization>, ctx: Arc<Context>) -> Result<Action> {
    let ns = ks.namespace().unwrap_or_default();
    let api: Api<Kustomization> = Api::namespaced(ctx.client.clone(), &ns);
    let what = status::describe(ks.as_ref());
    finalizer(&api, FINALIZER, ks, |event| async {
        match event {
            FinalizerEvent::Apply(ks) => apply(&api, ks, &ctx).await,
            FinalizerEvent::Cleanup(ks) => cleanup(ks, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer {
            object: what,
            message: other.to_string(),
        },
    })
}

/// The source artifact a Kustomization builds, or why there is none yet.
async fn source_artifact(
    ctx: &Context,
    ks: &Kustomization,
) -> Result<(gyre_source::ObjectRef, gyre_source::Artifact), Failure> {
    let r = &ks.spec.source_ref;
    let own_ns = ks.namespace().unwrap_or_default();
    let ns = r.namespace.clone().unwrap_or_else(|| own_ns.clone());
    if ctx.options.no_cross_namespace_refs && ns != own_ns {
        return Err(Failure::new(
            reason::ACCESS_DENIED,
            format!(
                "cannot access {} {ns}/{}: cross-namespace references are not allowed",
                r.kind, r.name
            ),
        ));
    }
    let missing = |why: &str| {
        Failure::new(
            reason::ARTIFACT_FAILED,
            format!(
                "Source artifact not found, retrying: {} {ns}/{} {why}",
                r.kind, r.name
            ),
        )
    };
    let artifact = match r.kind.as_str() {
        "GitRepository" => get::<GitRepository>(ctx, &ns, &r.name)
            .await?
            .and_then(|o| o.status.and_then(|s| s.artifact)),
        "OCIRepository" => get::<OCIRepository>(ctx, &ns, &r.name)
            .await?
            .and_then(|o| o.status.and_then(|s| s.artifact)),
        "Bucket" => get::<Bucket>(ctx, &ns, &r.name)
            .await?
            .and_then(|o| o.status.and_then(|s| s.artifact)),
        other => {
            return Err(Failure::new(
                reasons::INVALID,
                format!(
                    "sourceRef kind {other:?} is not supported (GitRepository, OCIRepository or Bucket)"
                ),
            ));
        }
    };
    let artifact = artifact.ok_or_else(|| missing("has no artifact"))?;
    if !in_store(ctx, &artifact) {
        return Err(missing("artifact is not in the local store yet"));
    }
    Ok((
        gyre_source::ObjectRef::new(&r.kind, &ns, &r.name),
        to_store_artifact(&artifact),
    ))
}

async fn get<K>(ctx: &Context, ns: &str, name: &str) -> Result<Option<K>, Failure>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ns);
    api.get_opt(name).await.map_err(|e| {
        Failure::new(
            reason::ARTIFACT_FAILED,
            format!("reading {} {ns}/{name}: {e}", K::kind(&())),
        )
    })
}

/// Flux's dependency rule ([`crate::dependencies::check`]), plus: a dependency that
/// builds the same source must have applied the revision this one is about to build.
async fn check_dependencies(
    ctx: &Context,
    ks: &Kustomization,
    revision: &str,
) -> Result<(), String> {
    let own_ns = ks.namespace().unwrap_or_default();
    let source = |k: &Kustomization, ns: &str| {
        let r = &k.spec.source_ref;
        (
            r.kind.clone(),
            r.name.clone(),
            r.namespace.clone().unwrap_or_else(|| ns.to_string()),
        )
    };
    let mine = source(ks, &own_ns);
    crate::dependencies::check(ctx, ks, |d, ns| {
        source(d, ns) != mine
            || d.status
                .as_ref()
                .and_then(|s| s.last_applied_revision.as_deref())
                == Some(revision)
    })
    .await
}

/// A verified Plugin of the Kustomization's namespace, loaded for `world`.
async fn load_plugin(
    ctx: &Context,
    ns: &str,
    name: &str,
    world: World,
) -> Result<Arc<gyre_plugin::Plugin>, Failure> {
    plugin_ref::load_verified(ctx, ns, name, world)
        .await
        .map_err(|m| Failure::new(reason::BUILD_FAILED, m))
}

/// Renders the Kustomization's path of the extracted artifact and runs post-build
/// substitution and transforms: the objects to apply.
async fn render(
    ctx: &Context,
    ks: &Kustomization,
    tree: &std::path::Path,
) -> Result<Vec<Value>, Failure> {
    let ns = ks.namespace().unwrap_or_default();
    let fail = |e: gyre_render::Error| Failure::new(reason::BUILD_FAILED, e.chain());
    let path = build::normalize_path(ks.spec.path.as_deref()).map_err(fail)?;
    let (renderer, config) = match &ks.spec.renderer {
        Some(r) => (
            load_plugin(ctx, &ns, &r.plugin_ref.name, World::Renderer).await?,
            r.config.clone().unwrap_or_else(|| serde_json::json!({})),
        ),
        None => (
            ctx.plugins
                .load(
                    &PluginSource::Builtin("kustomize".into()),
                    World::Renderer,
                    Limits::default(),
                )
                .await
                .map_err(fail)?,
            build::kustomize_config(&ks.spec),
        ),
    };
    let out = build::build(renderer, tree.to_path_buf(), path, config)
        .await
        .map_err(fail)?;
    let mut objects = out.objects;
    if let Some(post) = &ks.spec.post_build {
        let vars = vars::collect(ctx, &ns, post)
            .await
            .map_err(|m| Failure::new(reason::BUILD_FAILED, m))?;
        vars::substitute(&mut objects, &vars).map_err(|m| Failure::new(reason::BUILD_FAILED, m))?;
    }
    let mut transforms = Vec::new();
    for t in ks.spec.transforms.iter().flatten() {
        let plugin = load_plugin(ctx, &ns, &t.plugin_ref.name, World::Transform).await?;
        let config = t.config.clone().unwrap_or_else(|| serde_json::json!({}));
        transforms.push((plugin, config.to_string()));
    }
    if !transforms.is_empty() {
        let boundary = transform::Boundary {
            namespace: ks.spec.target_namespace.clone(),
        };
        objects = transform::run(transforms, objects, boundary)
            .await
            .map_err(fail)?;
    }
    Ok(objects)
}

/// The client to apply with: the controller's own, one impersonating the
/// Kustomization's ServiceAccount, or one for the remote cluster of `kubeConfig`.
async fn apply_client(ctx: &Context, ks: &Kustomization) -> Result<Option<kube::Client>, Failure> {
    let ns = ks.namespace().unwrap_or_default();
    let who = crate::connection::Identity {
        namespace: &ns,
        service_account: ks.spec.service_account_name.as_deref(),
        kube_config: ks.spec.kube_config.as_ref(),
    };
    crate::connection::client(ctx, who)
        .await
        .map_err(|m| Failure::new(reasons::RECONCILIATION_FAILED, m))
}

/// Render, apply, prune and check health.
async fn run(
    ctx: &Context,
    ks: &Kustomization,
    tree: &std::path::Path,
    previous: &Inventory,
) -> Result<Success, Failure> {
    let objects = render(ctx, ks, tree).await?;
    let own;
    let applier: &Applier = match apply_client(ctx, ks).await? {
        Some(client) => {
            own = Applier::new(client);
            &own
        }
        None => &ctx.applier,
    };
    let owner = Owner::new(&ks.name_any(), &ks.namespace().unwrap_or_default());
    let mut opts = ApplyOptions::for_owner(owner.clone());
    opts.force = ks.spec.forces();
    let applied = applier
        .apply(objects, &opts)
        .await
        .map_err(|failure| Failure {
            reason: reasons::RECONCILIATION_FAILED,
            message: failure.chain(),
            inventory: Some(failure.inventory_with(previous)),
        })?;
    let mut changes: Vec<String> = applied
        .change_set()
        .summary()
        .lines()
        .map(str::to_string)
        .collect();
    if ks.spec.prune {
        let pruned = applier
            .prune(&applied, previous, &PruneOptions::for_owner(owner))
            .await
            .map_err(|failure| Failure {
                reason: reason::PRUNE_FAILED,
                message: failure.chain(),
                inventory: Some(applied.inventory().union(previous)),
            })?;
        changes.extend(pruned.summary().lines().map(str::to_string));
    }
    let targets: Vec<(ObjectRef, String)> = if ks.spec.waits() {
        applied.health_targets()
    } else {
        let own_ns = ks.namespace().unwrap_or_default();
        ks.spec
            .health_checks
            .iter()
            .flatten()
            .map(|h| {
                ObjectRef::from_api_version(
                    h.api_version.as_deref().unwrap_or("v1"),
                    &h.kind,
                    h.namespace.as_deref().unwrap_or(&own_ns),
                    &h.name,
                )
            })
            .collect()
    };
    let mut health = None;
    if !targets.is_empty() {
        let started = Instant::now();
        let wait = WaitOptions {
            timeout: ks.spec.timeout(),
            ..WaitOptions::default()
        };
        applier.wait(&targets, &wait).await.map_err(|e| Failure {
            reason: reason::HEALTH_CHECK_FAILED,
            message: e.chain(),
            inventory: Some(applied.inventory().clone()),
        })?;
        health = Some(started.elapsed());
    }
    Ok(Success {
        inventory: applied.inventory().clone(),
        changes,
        health,
    })
}

async fn apply(api: &Api<Kustomization>, ks: Arc<Kustomization>, ctx: &Context) -> Result<Action> {
    if ks.spec.suspended() {
        let conditions = ks
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default();
        status::record(&ctx.metrics, ks.as_ref(), &conditions, true);
        return Ok(Action::await_change());
    }
    let generation = ks.metadata.generation;
    let original = ks.status.clone().unwrap_or_default();
    let mut status = original.clone();
    let before = find_condition(&status.conditions, condition_types::READY).cloned();
    let previous = previous_inventory(&status);
    if let Some(at) = meta::requested_at(&ks.metadata) {
        status.last_handled_reconcile_at = Some(at.to_string());
    }

    let outcome: Result<(String, Success), (Option<String>, Failure)> = async {
        if let Some(d) = &ks.spec.decryption {
            // Applying SOPS-encrypted Secrets undecrypted would be worse than not applying.
            return Err((
                None,
                Failure::new(
                    reason::DECRYPTION_FAILED,
                    format!(
                        "spec.decryption (provider {}) is not supported by Gyre yet; remove it or decrypt before committing",
                        d.provider
                    ),
                ),
            ));
        }
        let (src, artifact) = source_artifact(ctx, &ks).await.map_err(|f| (None, f))?;
        let revision = artifact.revision.clone();
        let rev = Some(revision.clone());
        if let Err(m) = check_dependencies(ctx, &ks, &revision).await {
            return Err((rev, Failure::new(reasons::DEPENDENCY_NOT_READY, m)));
        }
        if original.observed_generation != generation {
            // A new spec: say so while the (possibly long) build and apply run.
            let mut progress = status.clone();
            meta::mark_reconciling(
                &mut progress.conditions,
                generation,
                format!(
                    "Fetching manifests for revision {revision} with generation {}",
                    generation.unwrap_or(0)
                ),
            );
            if let Err(e) = status::patch(api, ks.as_ref(), &progress).await {
                tracing::warn!(error = %e, "progress status");
            }
        }
        let tmp = tempfile::Builder::new()
            .prefix("gyre-build-")
            .tempdir()
            .map_err(|e| {
                (
                    rev.clone(),
                    Failure::new(reason::ARTIFACT_FAILED, format!("temporary directory: {e}")),
                )
            })?;
        let store = ctx.store.clone();
        let dir = tmp.path().to_path_buf();
        let a = artifact.clone();
        tokio::task::spawn_blocking(move || {
            store.extract(&src, &a, &dir, &gyre_source::Limits::default())
        })
        .await
        .map_err(|e| {
            (
                rev.clone(),
                Failure::new(reason::ARTIFACT_FAILED, e.to_string()),
            )
        })?
        .map_err(|e| {
            (
                rev.clone(),
                Failure::new(reason::ARTIFACT_FAILED, chain(&e)),
            )
        })?;
        let timeout = ks.spec.timeout();
        let success = tokio::time::timeout(timeout, run(ctx, &ks, tmp.path(), &previous))
            .await
            .map_err(|_| {
                (
                    rev.clone(),
                    Failure::new(
                        reasons::RECONCILIATION_FAILED,
                        format!("reconciliation did not finish within the timeout of {timeout:?}"),
                    ),
                )
            })?
            .map_err(|f| (rev.clone(), f))?;
        Ok((revision, success))
    }
    .await;

    let conditions = &mut status.conditions;
    let mut event = None;
    let requeue = match outcome {
        Ok((revision, success)) => {
            let message = format!("Applied revision: {revision}");
            status.last_attempted_revision = Some(revision.clone());
            status.last_applied_revision = Some(revision);
            status.inventory = Some(to_status_inventory(&success.inventory));
            if let Some(took) = success.health {
                set_condition(
                    conditions,
                    Condition::new(
                        condition_types::HEALTHY,
                        true,
                        "Succeeded",
                        format!("Health check passed in {took:.1?}"),
                    )
                    .with_observed_generation(generation),
                );
            } else {
                remove_condition(conditions, condition_types::HEALTHY);
            }
            meta::mark_ready(
                conditions,
                generation,
                reasons::RECONCILIATION_SUCCEEDED,
                message.clone(),
            );
            if !success.changes.is_empty() {
                event = Some((
                    Severity::Normal,
                    reasons::RECONCILIATION_SUCCEEDED,
                    success.changes.join("\n"),
                ));
            } else if before.as_ref().is_none_or(|c| !c.is_true()) {
                event = Some((Severity::Normal, reasons::RECONCILIATION_SUCCEEDED, message));
            }
            ctx.backoff.succeeded(&status::describe(ks.as_ref()));
            ks.spec.interval.as_std()
        }
        Err((revision, failure)) => {
            if revision.is_some() {
                status.last_attempted_revision = revision;
            }
            if let Some(inv) = &failure.inventory {
                status.inventory = Some(to_status_inventory(inv));
            }
            if failure.reason == reason::HEALTH_CHECK_FAILED {
                set_condition(
                    conditions,
                    Condition::new(
                        condition_types::HEALTHY,
                        false,
                        failure.reason,
                        failure.message.clone(),
                    )
                    .with_observed_generation(generation),
                );
            }
            let requeue = if failure.reason == reasons::DEPENDENCY_NOT_READY {
                ctx.options.requeue_dependency
            } else if failure.reason == reason::ARTIFACT_FAILED {
                Duration::from_secs(30).min(ks.spec.retry_interval())
            } else {
                ctx.backoff
                    .failed(&status::describe(ks.as_ref()), ks.spec.retry_interval())
            };
            if [
                reason::ACCESS_DENIED,
                reasons::INVALID,
                reason::DECRYPTION_FAILED,
            ]
            .contains(&failure.reason)
            {
                meta::mark_stalled(
                    conditions,
                    generation,
                    failure.reason,
                    failure.message.clone(),
                );
            } else {
                meta::mark_failed_with_retry(
                    conditions,
                    generation,
                    failure.reason,
                    failure.message.clone(),
                );
            }
            let repeated = before
                .as_ref()
                .is_some_and(|c| !c.is_true() && c.message == failure.message);
            if !repeated {
                let severity = if failure.reason == reasons::DEPENDENCY_NOT_READY {
                    Severity::Normal
                } else {
                    Severity::Warning
                };
                event = Some((severity, failure.reason, failure.message.clone()));
            }
            tracing::info!(object = %status::describe(ks.as_ref()), reason = failure.reason, error = %failure.message, "reconcile failed");
            requeue
        }
    };
    status.observed_generation = generation;
    status::finish(
        ctx,
        api,
        ks.as_ref(),
        &original,
        &status,
        &status.conditions,
        event,
    )
    .await?;
    Ok(Action::requeue(requeue))
}

/// Deletion: delete the applied objects when the deletion policy says so (and the
/// Kustomization is not suspended), then let the finalizer go.
async fn cleanup(ks: Arc<Kustomization>, ctx: &Context) -> Result<Action> {
    ctx.metrics.forget(
        "Kustomization",
        &ks.namespace().unwrap_or_default(),
        &ks.name_any(),
    );
    let status = ks.status.clone().unwrap_or_default();
    let previous = previous_inventory(&status);
    if ks.spec.suspended() || !ks.spec.deletes_on_removal() || previous.is_empty() {
        return Ok(Action::await_change());
    }
    let what = status::describe(ks.as_ref());
    let owner = Owner::new(&ks.name_any(), &ks.namespace().unwrap_or_default());
    let client = apply_client(ctx, &ks).await.ok().flatten();
    let own;
    let applier = match client {
        Some(c) => {
            own = Applier::new(c);
            &own
        }
        None => &ctx.applier,
    };
    // The desired state of a deleted Kustomization is "nothing": an empty apply is the
    // successful result prune needs, and everything in the inventory goes.
    let nothing = applier
        .apply(Vec::new(), &ApplyOptions::for_owner(owner.clone()))
        .await
        .map_err(|f| Error::Finalizer {
            object: what.clone(),
            message: f.chain(),
        })?;
    let pruned = applier
        .prune(&nothing, &previous, &PruneOptions::for_owner(owner))
        .await
        .map_err(|f| Error::Finalizer {
            object: what.clone(),
            message: format!("deleting the applied objects: {}", f.chain()),
        })?;
    tracing::info!(object = %what, deleted = pruned.entries.len(), "garbage collected on deletion");
    Ok(Action::await_change())
}
