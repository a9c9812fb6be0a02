//! Flux's `generic` and `generic-hmac` notification providers as a Gyre
//! `notifier` plugin: the event is POSTed as JSON (Flux's `eventv1.Event`
//! encoding) to the provider address; `generic-hmac` signs the body with the
//! provider token in an `X-Signature: sha256=<hex>` header.

// The WIT glue that wit-bindgen generates is `unsafe` by nature (raw exports).
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, missing_docs)]
mod guest;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::collections::BTreeMap;

/// The object an event is about (Kubernetes `ObjectReference` encoding).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// Kind of the object.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Namespace of the object.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name of the object.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// UID of the object.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// API version of the object.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Resource version the event refers to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
}

/// A Flux event, serialized exactly as notification-controller forwards it.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The object the event is about.
    pub involved_object: ObjectReference,
    /// `info` or `error`.
    pub severity: String,
    /// RFC 3339 time.
    pub timestamp: String,
    /// Human-readable message.
    pub message: String,
    /// Machine-readable reason (`ReconciliationSucceeded`, ...).
    pub reason: String,
    /// Extra metadata such as `revision`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The controller that emitted the event.
    pub reporting_controller: String,
    /// The controller instance.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reporting_instance: String,
}

/// Provider settings the webhook needs.
#[derive(Debug, Clone, Default)]
pub struct Provider {
    /// `generic` or `generic-hmac`.
    pub kind: String,
    /// The URL to POST to.
    pub address: String,
    /// HMAC key for `generic-hmac`.
    pub token: Option<String>,
    /// Extra headers (from the provider secret's `headers`).
    pub headers: Vec<(String, String)>,
}

/// An HTTP request for the host to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Target URL.
    pub url: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Why the request could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotifyError {
    /// The provider type is not one this plugin serves.
    #[error(
        "provider type {0:?} is not supported by the webhook notifier (supported: generic, generic-hmac)"
    )]
    UnsupportedKind(String),
    /// No address.
    #[error("provider address is empty; set spec.address or the secret's address key")]
    MissingAddress,
    /// The address is not an http(s) URL.
    #[error("provider address {0:?} is not an http:// or https:// URL")]
    BadAddress(String),
    /// `generic-hmac` without a key.
    #[error("generic-hmac needs a token in the provider secret to sign the payload")]
    MissingToken,
}

/// Builds the webhook request for `event`.
///
/// # Errors
/// An unsupported provider type, a missing or non-HTTP address, or a
/// `generic-hmac` provider without a token.
pub fn build_request(event: &Event, provider: &Provider) -> Result<Request, NotifyError> {
    let hmac = match provider.kind.as_str() {
        "generic" => false,
        "generic-hmac" => true,
        other => return Err(NotifyError::UnsupportedKind(other.to_string())),
    };
    let address = provider.address.trim();
    if address.is_empty() {
        return Err(NotifyError::MissingAddress);
    }
    if !(address.starts_with("http://") || address.starts_with("https://")) {
        return Err(NotifyError::BadAddress(address.to_string()));
    }
    // Serializing a struct of strings and a string map cannot fail.
    let body = serde_json::to_vec(event).unwrap_or_default();
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    if !event.reporting_controller.is_empty() {
        headers.push((
            "gotk-component".to_string(),
            event.reporting_controller.clone(),
        ));
    }
    if hmac {
        let key = provider
            .token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or(NotifyError::MissingToken)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(&body);
        headers.push((
            "X-Signature".to_string(),
            format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
        ));
    }
    for (k, v) in &provider.headers {
        headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(k));
        headers.push((k.clone(), v.clone()));
    }
    Ok(Request {
        method: "POST".into(),
        url: address.to_string(),
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            involved_object: ObjectReference {
                kind: "Kustomization".into(),
                namespace: "flux-system".into(),
                name: "podinfo".into(),
                api_version: "kustomize.toolkit.fluxcd.io/v1".into(),
                ..Default::default()
            },
            severity: "info".into(),
            timestamp: "2026-11-20T10:00:00Z".into(),
            message: "Reconciliation finished".into(),
            reason: "ReconciliationSucceeded".into(),
            metadata: [("revision".to_string(), "main@sha1:abc".to_string())].into(),
            reporting_controller: "kustomize-controller".into(),
            reporting_instance: String::new(),
        }
    }

    #[test]
    fn generic_posts_flux_event_json() {
        let p = Provider {
            kind: "generic".into(),
            address: "http://hooks.local/x".into(),
            ..Default::default()
        };
        let req = build_request(&event(), &p).unwrap();
        assert_eq!(req.method, "POST");
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(body["involvedObject"]["kind"], "Kustomization");
        assert_eq!(
            body["involvedObject"]["apiVersion"],
            "kustomize.toolkit.fluxcd.io/v1"
        );
        assert!(
            body["involvedObject"].get("uid").is_none(),
            "empty fields are omitted as in Go"
        );
        assert_eq!(body["metadata"]["revision"], "main@sha1:abc");
        assert_eq!(body["reportingController"], "kustomize-controller");
        assert!(
            req.headers
                .contains(&("gotk-component".into(), "kustomize-controller".into()))
        );
    }

    #[test]
    fn generic_hmac_signs_the_exact_body() {
        let p = Provider {
            kind: "generic-hmac".into(),
            address: "https://h/x".into(),
            token: Some("s3cret".into()),
            ..Default::default()
        };
        let req = build_request(&event(), &p).unwrap();
        let sig = req
            .headers
            .iter()
            .find(|(k, _)| k == "X-Signature")
            .unwrap()
            .1
            .clone();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(&req.body);
        assert_eq!(
            sig,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
    }

    #[test]
    fn secret_headers_override_defaults() {
        let p = Provider {
            kind: "generic".into(),
            address: "http://h".into(),
            headers: vec![
                ("content-type".into(), "text/plain".into()),
                ("Authorization".into(), "Bearer t".into()),
            ],
            ..Default::default()
        };
        let req = build_request(&event(), &p).unwrap();
        assert!(!req.headers.iter().any(|(k, _)| k == "Content-Type"));
        assert!(
            req.headers
                .contains(&("Authorization".into(), "Bearer t".into()))
        );
    }

    #[test]
    fn bad_providers_are_refused_with_the_reason() {
        let e = event();
        let mk = |kind: &str, address: &str| Provider {
            kind: kind.into(),
            address: address.into(),
            ..Default::default()
        };
        assert_eq!(
            build_request(&e, &mk("slack", "http://h")),
            Err(NotifyError::UnsupportedKind("slack".into()))
        );
        assert_eq!(
            build_request(&e, &mk("generic", " ")),
            Err(NotifyError::MissingAddress)
        );
        assert_eq!(
            build_request(&e, &mk("generic", "ftp://h")),
            Err(NotifyError::BadAddress("ftp://h".into()))
        );
        assert_eq!(
            build_request(&e, &mk("generic-hmac", "http://h")),
            Err(NotifyError::MissingToken)
        );
    }
}
