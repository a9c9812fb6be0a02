//! `notification.toolkit.fluxcd.io`: Provider and Alert (`v1beta3`, also served as
//! `v1beta2`) send events out; Receiver (`v1`) takes webhooks in and triggers
//! reconciliations.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::meta::{Condition, LocalObjectReference};

/// The API group of the notification kinds.
pub const GROUP: &str = "notification.toolkit.fluxcd.io";
/// Older versions of Alert and Provider served from the same schema as `v1beta3`.
pub const SERVED_VERSIONS: &[&str] = &["v1beta2"];
/// Older versions of Receiver served from the same schema as `v1` (none in the design).
pub const RECEIVER_SERVED_VERSIONS: &[&str] = &[];

/// Default timeout of sending to a Provider: 15s.
pub const DEFAULT_PROVIDER_TIMEOUT: StdDuration = StdDuration::from_secs(15);
/// Default Receiver reconcile interval: 10m.
pub const DEFAULT_RECEIVER_INTERVAL: StdDuration = StdDuration::from_secs(600);
/// Path prefix of Receiver webhooks.
pub const RECEIVER_WEBHOOK_PATH: &str = "/hook/";

/// Provider types Flux knows.
pub const PROVIDER_TYPES: &[&str] = &[
    "slack",
    "discord",
    "msteams",
    "rocket",
    "generic",
    "generic-hmac",
    "github",
    "gitlab",
    "gitea",
    "bitbucketserver",
    "bitbucket",
    "azuredevops",
    "googlechat",
    "googlepubsub",
    "webex",
    "sentry",
    "azureeventhub",
    "telegram",
    "lark",
    "matrix",
    "opsgenie",
    "alertmanager",
    "grafana",
    "githubdispatch",
    "pagerduty",
    "datadog",
    "nats",
];

/// Receiver types Flux knows.
pub const RECEIVER_TYPES: &[&str] = &[
    "generic",
    "generic-hmac",
    "generic-oidc",
    "github",
    "gitlab",
    "bitbucket",
    "harbor",
    "dockerhub",
    "quay",
    "gcr",
    "nexus",
    "acr",
    "cdevents",
];

fn provider_type_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = <String as JsonSchema>::json_schema(g);
    schema.insert("enum".into(), serde_json::json!(PROVIDER_TYPES));
    schema
}

fn receiver_type_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = <String as JsonSchema>::json_schema(g);
    schema.insert("enum".into(), serde_json::json!(RECEIVER_TYPES));
    schema
}

/// Where and how events are sent (Slack, a Git commit status, a webhook, …).
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1beta3",
    kind = "Provider",
    doc = "Provider says where and how notifications are sent.",
    namespaced,
    derive = "PartialEq",
    category = "fluxcd",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ProviderSpec {
    /// The provider implementation, e.g. `slack`, `github`, `generic`.
    #[serde(rename = "type")]
    #[schemars(schema_with = "provider_type_schema")]
    pub type_: String,
    /// Deprecated and unused since v1beta3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Destination channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub channel: Option<String>,
    /// Name events are posted under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub username: Option<String>,
    /// Endpoint (URL, project ID, …) depending on the type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub address: Option<String>,
    /// Timeout of sending; 15s when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Deprecated: HTTP/S proxy address; use `proxySecretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^(http|https)://.*$"))]
    pub proxy: Option<String>,
    /// Secret with the proxy `address` (and `username`/`password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Secret with credentials (`address`, `token`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount for workload-identity authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with `ca.crt` and/or `tls.crt`/`tls.key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Stops sending events through this provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// CEL expression giving the commit status (Git provider types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_status_expr: Option<String>,
}

impl ProviderSpec {
    /// Timeout of sending (Flux default 15s).
    pub fn timeout(&self) -> StdDuration {
        self.timeout
            .as_ref()
            .map_or(DEFAULT_PROVIDER_TIMEOUT, Duration::as_std)
    }
}

/// Which events go to which Provider.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1beta3",
    kind = "Alert",
    doc = "Alert says which events are sent to which Provider.",
    namespaced,
    derive = "PartialEq",
    category = "fluxcd",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AlertSpec {
    /// The Provider to send to.
    pub provider_ref: LocalObjectReference,
    /// `info` (all events, default) or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["info", "error"], "default" = "info"))]
    pub event_severity: Option<String>,
    /// Objects whose events are sent.
    pub event_sources: Vec<CrossNamespaceObjectReference>,
    /// Regexes; only matching messages are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_list: Option<Vec<String>>,
    /// Metadata added to every event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_metadata: Option<BTreeMap<String, String>>,
    /// Regexes; matching messages are dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusion_list: Option<Vec<String>>,
    /// Short description of the impact and affected cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub summary: Option<String>,
    /// Stops sending events for this alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

impl AlertSpec {
    /// The severity filter (Flux default `info`).
    pub fn event_severity(&self) -> &str {
        self.event_severity.as_deref().unwrap_or("info")
    }
}

/// Objects an Alert or Receiver refers to; `*` names match many.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceObjectReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent, a Flux kind.
    #[schemars(extend("enum" = [
        "Bucket", "GitRepository", "Kustomization", "HelmRelease", "HelmChart",
        "HelmRepository", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation",
        "OCIRepository", "ArtifactGenerator", "ExternalArtifact"
    ]))]
    pub kind: String,
    /// Name of the referent, or `*` for all.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the referent, or `*` for all (with name `*`); the referrer's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub namespace: Option<String>,
    /// Labels the referents must have (with name `*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}

/// A webhook endpoint that triggers reconciliation of the listed objects.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1",
    kind = "Receiver",
    doc = "Receiver is a webhook endpoint that triggers reconciliations.",
    namespaced,
    status = "ReceiverStatus",
    derive = "PartialEq",
    category = "fluxcd",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverSpec {
    /// Webhook sender type, deciding validation and payload format.
    #[serde(rename = "type")]
    #[schemars(schema_with = "receiver_type_schema")]
    pub type_: String,
    /// How often to reconcile with the Secret; 10m when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "10m"))]
    pub interval: Option<Duration>,
    /// Event types handled, e.g. `push` (GitHub) or `Push Hook` (GitLab).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Objects to reconcile when a webhook arrives.
    pub resources: Vec<CrossNamespaceObjectReference>,
    /// CEL expression filtering `resources` per webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_filter: Option<String>,
    /// Secret with the `token` validating payloads (all types but `generic-oidc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// OIDC issuers accepted by `generic-oidc` receivers.
    #[serde(
        default,
        rename = "oidcProviders",
        skip_serializing_if = "Option::is_none"
    )]
    pub oidc_providers: Option<Vec<OIDCProvider>>,
    /// Stops handling webhooks for this receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

impl ReceiverSpec {
    /// The reconcile interval (Flux default 10m).
    pub fn interval(&self) -> StdDuration {
        self.interval
            .as_ref()
            .map_or(DEFAULT_RECEIVER_INTERVAL, Duration::as_std)
    }
}

/// An OIDC issuer accepted by a `generic-oidc` Receiver.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OIDCProvider {
    /// Issuer URL; must match the token's `iss`.
    #[serde(rename = "issuerURL")]
    #[schemars(regex(pattern = r"^https?://"))]
    pub issuer_url: String,
    /// Expected `aud`; `notification-controller` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Named CEL expressions over the claims, usable as `vars.<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<OIDCVariable>>,
    /// CEL checks that must all hold.
    pub validations: Vec<OIDCValidation>,
}

/// A named CEL expression over OIDC claims.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OIDCVariable {
    /// Variable name.
    pub name: String,
    /// CEL expression.
    pub expression: String,
}

/// A CEL check over OIDC claims and variables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OIDCValidation {
    /// CEL boolean expression.
    pub expression: String,
    /// Message returned when it is false.
    pub message: String,
}

/// Observed state of a Receiver.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverStatus {
    /// Last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// Conditions of the object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The webhook path, `/hook/<sha256(token+name+namespace)>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
    /// Last reconciled generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
crate::meta::impl_flux_status!(ReceiverStatus);
