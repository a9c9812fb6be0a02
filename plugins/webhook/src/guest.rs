//! Adapts the webhook logic to the `notifier` world.

use crate::{Event, NotifyError, ObjectReference, Provider, build_request};

wit_bindgen::generate!({ path: "../../wit", world: "notifier" });

use exports::gyre::plugin::notify::{self as wit, Guest, HttpRequest};
use gyre::plugin::types::PluginError;

struct Webhook;

impl Guest for Webhook {
    fn notify(event: wit::Event, provider: wit::Provider) -> Result<Vec<HttpRequest>, PluginError> {
        let o = event.involved_object;
        let event = Event {
            involved_object: ObjectReference {
                kind: o.kind,
                namespace: o.namespace,
                name: o.name,
                uid: o.uid,
                api_version: o.api_version,
                resource_version: o.resource_version,
            },
            severity: event.severity,
            timestamp: event.timestamp,
            message: event.message,
            reason: event.reason,
            metadata: event.metadata.into_iter().collect(),
            reporting_controller: event.reporting_controller,
            reporting_instance: event.reporting_instance,
        };
        let provider = Provider {
            kind: provider.kind,
            address: provider.address,
            token: provider.token,
            headers: provider.headers,
        };
        let req = build_request(&event, &provider).map_err(|e| match e {
            NotifyError::UnsupportedKind(_) => PluginError::Unsupported(e.to_string()),
            _ => PluginError::InvalidConfig(e.to_string()),
        })?;
        Ok(vec![HttpRequest {
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: req.body,
        }])
    }
}

export!(Webhook);
