//! The source reconcilers (GitRepository, OCIRepository, HelmRepository, HelmChart,
//! Bucket): one shared loop over a per-kind `fetch`.
//!
//! The loop is Flux's source-controller in miniature: honour the finalizer and
//! `suspend`, skip the fetch when the remote has not moved (each fetch has its own no-op
//! check), write a new content-addressed artifact otherwise, garbage-collect old ones,
//! and record `status.artifact` with `Ready` / `ArtifactInStorage` / `FetchFailed`. A
//! failed fetch keeps the previous artifact, so consumers keep working.

mod bucket;
mod git;
mod helm_chart;
mod helm_repo;
mod oci;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use gyre_api::meta::{
    self, Condition, FluxStatus, condition_types, find_condition, remove_condition, set_condition,
};
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::events::Severity;
use crate::status;

/// The finalizer Flux's controllers put on their objects.
pub const FINALIZER: &str = "finalizers.fluxcd.io";

/// Flux's reason for a successful source reconcile.
const SUCCEEDED: &str = "Succeeded";

/// What a fetch produced.
#[derive(Debug)]
pub enum Fetched {
    /// The remote has not moved; the current artifact stays.
    Unchanged,
    /// A new artifact was stored.
    Updated(gyre_source::Artifact),
    /// This kind of source has no artifact (a HelmRepository of type `oci`).
    NoArtifact(String),
}

/// A failed fetch: the Flux reason and the full message.
#[derive(Debug, Clone)]
pub struct FetchError {
    /// Condition reason, e.g. `GitOperationFailed`.
    pub reason: String,
    /// Message, naming the object and the cause chain.
    pub message: String,
}

impl FetchError {
    /// A failure with `reason` described by `err` and its causes.
    pub fn new(reason: &str, err: &(dyn std::error::Error + 'static)) -> FetchError {
        FetchError {
            reason: reason.into(),
            message: chain(err),
        }
    }

    /// A failure from a source-crate error, with its own reason.
    pub fn source(err: impl Into<gyre_source::Error>) -> FetchError {
        let err = err.into();
        FetchError::new(err.reason(), &err)
    }
}

/// An error and its causes, `: `-separated, without repeating a cause the message
/// already contains.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

/// A Flux source kind.
pub trait SourceKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The status type.
    type Status: FluxStatus + Default + Clone + PartialEq + Serialize + Send + Sync;
    /// The status, if any.
    fn status(&self) -> Option<&Self::Status>;
    /// `spec.interval`.
    fn interval(&self) -> Duration;
    /// `spec.suspend`.
    fn suspended(&self) -> bool;
    /// `status.artifact`.
    fn artifact(status: &Self::Status) -> Option<&meta::Artifact>;
    /// Sets `status.artifact`.
    fn set_artifact(status: &mut Self::Status, artifact: Option<meta::Artifact>);
    /// Fetches the source. `last` is the current artifact when it is still in the local
    /// store (for the no-op check); kind-specific status fields are set on `status`.
    fn fetch<'a>(
        &'a self,
        ctx: &'a Context,
        last: Option<&'a meta::Artifact>,
        status: &'a mut Self::Status,
    ) -> impl Future<Output = Result<Fetched, FetchError>> + Send + 'a;
}

/// The `SourceKind` members that only read and write `status.artifact`, identical for
/// every kind whose status has the usual `artifact` field.
macro_rules! artifact_status {
    ($status:ty) => {
        type Status = $status;

        fn status(&self) -> Option<&Self::Status> {
            self.status.as_ref()
        }
        fn artifact(status: &Self::Status) -> Option<&gyre_api::meta::Artifact> {
            status.artifact.as_ref()
        }
        fn set_artifact(status: &mut Self::Status, artifact: Option<gyre_api::meta::Artifact>) {
            status.artifact = artifact;
        }
    };
}
use artifact_status;

/// The store's reference for a source object.
pub fn object_ref<K: Resource<DynamicType = ()>>(obj: &K) -> gyre_source::ObjectRef {
    gyre_source::ObjectRef::new(
        &K::kind(&()),
        &obj.namespace().unwrap_or_default(),
        &obj.name_any(),
    )
}

/// `status.artifact` from a stored artifact.
pub fn to_status_artifact(a: &gyre_source::Artifact) -> meta::Artifact {
    meta::Artifact {
        path: a.path.clone(),
        url: a.url.clone(),
        revision: a.revision.clone(),
        digest: Some(a.digest.clone()),
        last_update_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_millisecond(a.last_update_time.timestamp_millis())
                .unwrap_or_else(|_| k8s_openapi::jiff::Timestamp::now()),
        ),
        size: i64::try_from(a.size).ok(),
        metadata: (!a.metadata.is_empty()).then(|| a.metadata.clone()),
    }
}

/// A stored artifact from `status.artifact`.
pub fn to_store_artifact(a: &meta::Artifact) -> gyre_source::Artifact {
    let ms = a.last_update_time.0.as_millisecond();
    gyre_source::Artifact {
        path: a.path.clone(),
        url: a.url.clone(),
        revision: a.revision.clone(),
        digest: a.digest.clone().unwrap_or_default(),
        last_update_time: chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default(),
        size: a.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
        metadata: a.metadata.clone().unwrap_or_default(),
    }
}

/// Whether the artifact's file is in this replica's store (after a failover the new
/// leader starts with an empty store and must fetch again).
pub fn in_store(ctx: &Context, a: &meta::Artifact) -> bool {
    ctx.store
        .local_path(&to_store_artifact(a))
        .is_ok_and(|p| p.is_file())
}

/// Reconciles one source object.
///
/// # Errors
/// Only when the finalizer or the status cannot be written.
pub async fn reconcile<K: SourceKind>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let what = status::describe(obj.as_ref());
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            FinalizerEvent::Apply(obj) => apply(&api, obj, &ctx).await,
            FinalizerEvent::Cleanup(obj) => {
                ctx.metrics.forget(&K::kind(&()), &obj.namespace().unwrap_or_default(), &obj.name_any());
                // The artifacts go with the object; consumers see the source gone.
                if let Err(e) = ctx.store.remove_all(&object_ref(obj.as_ref())) {
                    tracing::warn!(object = %status::describe(obj.as_ref()), error = %e, "removing artifacts");
                }
                Ok(Action::await_change())
            }
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

async fn apply<K: SourceKind>(api: &Api<K>, obj: Arc<K>, ctx: &Context) -> Result<Action> {
    if obj.suspended() {
        let conditions = obj
            .status()
            .map(|s| s.conditions().to_vec())
            .unwrap_or_default();
        status::record(&ctx.metrics, obj.as_ref(), &conditions, true);
        return Ok(Action::await_change());
    }
    let original = obj.status().cloned().unwrap_or_default();
    let mut status = original.clone();
    let last = K::artifact(&status).filter(|a| in_store(ctx, a)).cloned();
    let before = find_condition(status.conditions(), condition_types::READY).cloned();
    let result = obj.fetch(ctx, last.as_ref(), &mut status).await;
    let generation = obj.meta().generation;
    let conditions = status.conditions_mut();
    let mut event = None;
    let requeue = match result {
        Ok(fetched) => {
            let message = match fetched {
                Fetched::Updated(artifact) => {
                    let message = format!("stored artifact for revision '{}'", artifact.revision);
                    if let Err(e) = ctx.store.gc(&object_ref(obj.as_ref()), Some(&artifact)) {
                        tracing::warn!(object = %status::describe(obj.as_ref()), error = %e, "artifact garbage collection");
                    }
                    event = Some((Severity::Normal, "NewArtifact".to_string(), message.clone()));
                    K::set_artifact(&mut status, Some(to_status_artifact(&artifact)));
                    message
                }
                Fetched::Unchanged => match last.as_ref() {
                    Some(a) => format!("stored artifact for revision '{}'", a.revision),
                    None => "artifact is up to date".into(),
                },
                Fetched::NoArtifact(message) => message,
            };
            let conditions = status.conditions_mut();
            remove_condition(conditions, condition_types::FETCH_FAILED);
            remove_condition(conditions, condition_types::RECONCILING);
            remove_condition(conditions, condition_types::STALLED);
            if K::artifact(&status).is_some() {
                set_condition(
                    status.conditions_mut(),
                    Condition::new(
                        condition_types::ARTIFACT_IN_STORAGE,
                        true,
                        SUCCEEDED,
                        message.clone(),
                    )
                    .with_observed_generation(generation),
                );
            }
            set_condition(
                status.conditions_mut(),
                Condition::new(condition_types::READY, true, SUCCEEDED, message.clone())
                    .with_observed_generation(generation),
            );
            ctx.backoff.succeeded(&status::describe(obj.as_ref()));
            if event.is_none() && before.as_ref().is_none_or(|c| !c.is_true()) {
                event = Some((Severity::Normal, SUCCEEDED.to_string(), message));
            }
            obj.interval()
        }
        Err(failure) => {
            set_condition(
                conditions,
                Condition::new(
                    condition_types::FETCH_FAILED,
                    true,
                    &failure.reason,
                    failure.message.clone(),
                )
                .with_observed_generation(generation),
            );
            set_condition(
                conditions,
                Condition::new(
                    condition_types::READY,
                    false,
                    &failure.reason,
                    failure.message.clone(),
                )
                .with_observed_generation(generation),
            );
            let repeated = before
                .as_ref()
                .is_some_and(|c| !c.is_true() && c.message == failure.message);
            if !repeated {
                event = Some((
                    Severity::Warning,
                    failure.reason.clone(),
                    failure.message.clone(),
                ));
            }
            tracing::info!(object = %status::describe(obj.as_ref()), reason = %failure.reason, error = %failure.message, "fetch failed");
            ctx.backoff
                .failed(&status::describe(obj.as_ref()), obj.interval())
        }
    };
    status.set_observed_generation(generation);
    if let Some(at) = meta::requested_at(obj.meta()) {
        status.set_last_handled_reconcile_at(Some(at.to_string()));
    }
    let conditions = status.conditions().to_vec();
    status::finish(
        ctx,
        api,
        obj.as_ref(),
        &original,
        &status,
        &conditions,
        event,
    )
    .await?;
    Ok(Action::requeue(requeue))
}
