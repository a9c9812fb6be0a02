//! Kubernetes Events for the reconciled objects, one per transition (a new revision, a
//! success after a failure, a new failure), never one per retry of the same failure.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Resource, ResourceExt};

/// The event publisher.
#[derive(Clone)]
pub struct Events {
    recorder: std::sync::Arc<Recorder>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

/// Severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Progress and success.
    Normal,
    /// Failure.
    Warning,
}

impl Events {
    /// A publisher reporting as `controller` (e.g. `gyre`).
    pub fn new(client: kube::Client, controller: &str, instance: Option<String>) -> Events {
        let reporter = Reporter {
            controller: controller.into(),
            instance,
        };
        Events {
            recorder: std::sync::Arc::new(Recorder::new(client, reporter)),
        }
    }

    /// Publishes an event about `obj`. Failing to publish is logged, never fatal: an
    /// event is a notification, not state.
    pub async fn publish<K>(&self, obj: &K, severity: Severity, reason: &str, message: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        let reference: ObjectReference = obj.object_ref(&());
        // Events carry at most 1 kB of note.
        let note: String = message.chars().take(1000).collect();
        let event = Event {
            type_: match severity {
                Severity::Normal => EventType::Normal,
                Severity::Warning => EventType::Warning,
            },
            reason: reason.into(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &reference).await {
            tracing::warn!(object = %obj.name_any(), error = %e, "publishing an event failed");
        }
    }
}
