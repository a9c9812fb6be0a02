//! `plugins.gyre.dev/v1alpha1`: Plugin — a Wasm component in an OCI registry that renders,
//! transforms, selects image tags or formats notifications. Gyre's own API, not Flux's.

use std::fmt;
use std::time::Duration as StdDuration;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::meta::{Condition, LocalObjectReference};

/// The API group of Plugin.
pub const GROUP: &str = "plugins.gyre.dev";
/// Older versions served from the same schema (none yet).
pub const SERVED_VERSIONS: &[&str] = &[];

/// Default memory limit of one plugin call: 256 MiB.
pub const DEFAULT_MEMORY_BYTES: u64 = 256 << 20;
/// Default deadline of one plugin call: 30s.
pub const DEFAULT_TIMEOUT: StdDuration = StdDuration::from_secs(30);
/// Default cap on the output of one plugin call: 64 MiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 64 << 20;

/// Pattern of the quantity strings accepted for `limits.memory` and `limits.maxOutput`.
const QUANTITY_PATTERN: &str = r"^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$";

/// A Wasm plugin published as an OCI artifact.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "plugins.gyre.dev",
    version = "v1alpha1",
    kind = "Plugin",
    doc = "Plugin is a Wasm component in an OCI registry that Gyre runs sandboxed (a Gyre API).",
    namespaced,
    status = "PluginStatus",
    derive = "PartialEq",
    shortname = "plugin",
    category = "all",
    category = "gyre",
    printcolumn = r#"{"name":"World","type":"string","jsonPath":".status.world"}"#,
    printcolumn = r#"{"name":"Digest","type":"string","jsonPath":".status.digest","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct PluginSpec {
    /// OCI reference of the component, e.g. `oci://ghcr.io/org/plugin:1.0@sha256:…`.
    #[schemars(regex(pattern = r"^oci://.+$"))]
    pub reference: String,
    /// Digest (`sha256:<hex>`) the pulled component must have; pins the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^sha256:[a-f0-9]{64}$"))]
    pub digest: Option<String>,
    /// The world the component must implement; checked after pull when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<PluginWorld>,
    /// Sandbox limits of each call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<PluginLimits>,
    /// Secret of type `kubernetes.io/dockerconfigjson` with pull credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Allows a plain-HTTP registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// How often to check the reference for a new digest (tags only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Stops reconciliation; the last pulled component stays in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

impl PluginSpec {
    /// Digest pinned in `digest`, or in the reference after `@`.
    pub fn pinned_digest(&self) -> Option<&str> {
        self.digest
            .as_deref()
            .or_else(|| self.reference.rsplit_once('@').map(|(_, d)| d))
    }

    /// The reference without its `oci://` scheme, as registries expect it.
    pub fn registry_reference(&self) -> &str {
        self.reference
            .strip_prefix("oci://")
            .unwrap_or(&self.reference)
    }

    /// The limits with Gyre's defaults filled in.
    ///
    /// # Errors
    /// [`QuantityError`] when `memory` or `maxOutput` is not a valid quantity.
    pub fn effective_limits(&self) -> Result<EffectiveLimits, QuantityError> {
        let limits = self.limits.clone().unwrap_or_default();
        Ok(EffectiveLimits {
            memory_bytes: match &limits.memory {
                Some(q) => parse_quantity(q)?,
                None => DEFAULT_MEMORY_BYTES,
            },
            timeout: limits
                .timeout
                .as_ref()
                .map_or(DEFAULT_TIMEOUT, Duration::as_std),
            max_output_bytes: match &limits.max_output {
                Some(q) => parse_quantity(q)?,
                None => DEFAULT_MAX_OUTPUT_BYTES,
            },
        })
    }

    /// Whether reconciliation is suspended.
    pub fn suspended(&self) -> bool {
        self.suspend.unwrap_or(false)
    }
}

/// The plugin contracts (WIT worlds) a component can implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PluginWorld {
    /// Source tree + config → Kubernetes objects.
    Renderer,
    /// Objects + config → objects.
    Transform,
    /// Tags + policy → selected tag.
    ImagePolicy,
    /// Event + provider config → HTTP request(s) the host sends.
    Notifier,
}

impl fmt::Display for PluginWorld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginWorld::Renderer => "renderer",
            PluginWorld::Transform => "transform",
            PluginWorld::ImagePolicy => "image-policy",
            PluginWorld::Notifier => "notifier",
        })
    }
}

/// Sandbox limits of each call of a plugin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginLimits {
    /// Linear memory limit as a quantity, e.g. `256Mi` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub memory: Option<String>,
    /// Deadline of one call, e.g. `30s` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Largest output of one call as a quantity, e.g. `64Mi` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub max_output: Option<String>,
}

/// [`PluginLimits`] resolved to numbers, defaults applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EffectiveLimits {
    /// Memory limit in bytes.
    pub memory_bytes: u64,
    /// Deadline of one call.
    pub timeout: StdDuration,
    /// Output cap in bytes.
    pub max_output_bytes: u64,
}

/// A quantity string that is not a whole number of bytes with a binary or decimal suffix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid quantity {input:?}: expected a whole number with an optional suffix (Ki, Mi, Gi, Ti, k, M, G, T), e.g. 256Mi"
)]
pub struct QuantityError {
    /// The rejected input.
    pub input: String,
}

/// Parses a byte quantity such as `256Mi`, `1G` or `1048576`.
///
/// # Errors
/// [`QuantityError`] for anything outside `[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?` or on overflow.
pub fn parse_quantity(input: &str) -> Result<u64, QuantityError> {
    let err = || QuantityError {
        input: input.to_owned(),
    };
    let digits = input.bytes().take_while(u8::is_ascii_digit).count();
    let (number, suffix) = input.split_at(digits);
    let factor: u64 = match suffix {
        "" => 1,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => return Err(err()),
    };
    let n: u64 = number.parse().map_err(|_| err())?;
    n.checked_mul(factor).ok_or_else(err)
}

/// A reference to a Plugin in the referrer's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct PluginReference {
    /// Name of the Plugin.
    pub name: String,
}

/// Observed state of a Plugin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginStatus {
    /// Conditions of the object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Last reconciled generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Digest of the component in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The world the component in use implements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<PluginWorld>,
    /// Last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::meta::impl_flux_status!(PluginStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_with_binary_and_decimal_suffixes() {
        assert_eq!(parse_quantity("256Mi").unwrap(), 256 << 20);
        assert_eq!(parse_quantity("1G").unwrap(), 1_000_000_000);
        assert_eq!(parse_quantity("1024").unwrap(), 1024);
        assert!(parse_quantity("1.5Gi").is_err());
        assert!(parse_quantity("Mi").is_err());
        assert!(parse_quantity("99999999999999Ti").is_err());
    }

    #[test]
    fn a_plugin_without_limits_gets_the_sandbox_defaults() {
        let spec: PluginSpec = serde_yaml_ng::from_str(
            "reference: oci://ghcr.io/org/jsonnet:1.0@sha256:0123\nworld: renderer\n",
        )
        .unwrap();
        let limits = spec.effective_limits().unwrap();
        assert_eq!(limits.memory_bytes, DEFAULT_MEMORY_BYTES);
        assert_eq!(limits.timeout, DEFAULT_TIMEOUT);
        assert_eq!(limits.max_output_bytes, DEFAULT_MAX_OUTPUT_BYTES);
        assert_eq!(spec.pinned_digest(), Some("sha256:0123"));
        assert_eq!(
            spec.registry_reference(),
            "ghcr.io/org/jsonnet:1.0@sha256:0123"
        );
        assert_eq!(spec.world, Some(PluginWorld::Renderer));
    }

    #[test]
    fn plugin_worlds_use_the_wit_world_names_on_the_wire() {
        let w: PluginWorld = serde_json::from_str("\"image-policy\"").unwrap();
        assert_eq!(w, PluginWorld::ImagePolicy);
        assert_eq!(w.to_string(), "image-policy");
        assert!(serde_json::from_str::<PluginWorld>("\"imagePolicy\"").is_err());
    }
}
