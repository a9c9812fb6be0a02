//! Drift detection and correction for an in-sync HelmRelease, as helm-controller v2 does
//! it (`spec.driftDetection`).
//!
//! On every reconcile that finds the deployed release matching the chart and values, the
//! objects of the release manifest are compared with the cluster
//! ([`gyre_apply::Applier::detect_drift`]: a server-side dry-run per object, unless our
//! field manager provably owns the fields unchanged): an object that is missing, or a
//! field the release sets whose value differs, is drift. `ignore` rules remove JSON
//! pointers from the comparison for the objects their `target` selects; an object
//! labelled or annotated `helm.toolkit.fluxcd.io/driftDetection: disabled` is not
//! compared at all.
//!
//! `warn` publishes a `DriftDetected` warning and logs the drifted objects; `enabled` does
//! the same, then creates the missing objects and patches the drifted fields back (a JSON
//! patch, so ignored fields stay as the cluster has them), without a new Helm revision,
//! and publishes `DriftCorrected` (or `DriftCorrectionFailed`). As in Flux, a failed
//! correction leaves `Ready=Unknown` (`Progressing`, "correcting cluster drift") and is
//! retried with backoff; a comparison that cannot be made at all is `Ready=False`
//! (`StateError`).
//!
//! # Caveats
//! Flux also stamps Helm's ownership metadata (`app.kubernetes.io/managed-by: Helm`,
//! `meta.helm.sh/release-*`) on the objects it compares, because Helm's install wrote it;
//! Gyre's install does not write it, so neither does the comparison. Flux's
//! `disallowedFieldManagers` clean-up is not implemented. Which kinds are cluster-scoped
//! (for matching an ignore rule's `namespace`) comes from the fixed list the manifest
//! inventory uses, not from discovery. kube-runtime's event recorder counts a repeated
//! event (same reason and type) in the series of the first one and keeps its note, so a
//! later `DriftDetected` about other objects shows the first event's text with a higher
//! count.

use gyre_api::helm::{DriftDetection, HelmRelease};
use gyre_api::meta::{self, Condition, ConditionStatus, condition_types, set_condition};
use gyre_apply::{DriftOptions, DriftReport, DriftTarget, Owner};
use gyre_release::Release;
use kube::ResourceExt;
use serde_json::Value;

use super::target::{self, Target};
use crate::context::Context;
use crate::events::Severity;

/// The label or annotation that opts an object out of drift detection (value `disabled`).
pub const DISABLED_KEY: &str = "helm.toolkit.fluxcd.io/driftDetection";

/// helm-controller's drift reasons.
pub mod reason {
    /// Drift was found (both modes).
    pub const DRIFT_DETECTED: &str = "DriftDetected";
    /// Drift was corrected (`enabled`).
    pub const DRIFT_CORRECTED: &str = "DriftCorrected";
    /// Drift could not be (fully) corrected (`enabled`).
    pub const DRIFT_CORRECTION_FAILED: &str = "DriftCorrectionFailed";
    /// The cluster state could not be compared.
    pub const STATE_ERROR: &str = "StateError";
}

/// `spec.driftDetection.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No comparison (Flux's default).
    Disabled,
    /// Compare and report.
    Warn,
    /// Compare, report and correct.
    Enabled,
}

impl Mode {
    /// The mode of a HelmRelease; anything but `enabled` and `warn` is `disabled`, as in
    /// Flux.
    pub fn of(hr: &HelmRelease) -> Mode {
        match hr.spec.drift_detection_mode() {
            "enabled" => Mode::Enabled,
            "warn" => Mode::Warn,
            _ => Mode::Disabled,
        }
    }
}

/// The compiled `ignore` rules of a HelmRelease.
#[derive(Debug, Default)]
pub struct Rules(Vec<(Option<Target>, Vec<String>)>);

impl Rules {
    /// Compiles the rules.
    ///
    /// # Errors
    /// A target whose patterns or selectors are invalid.
    pub fn new(dd: Option<&DriftDetection>) -> Result<Rules, target::Error> {
        let mut out = Vec::new();
        for r in dd.and_then(|d| d.ignore.as_ref()).into_iter().flatten() {
            let t = r.target.as_ref().map(Target::new).transpose()?;
            out.push((t, r.paths.clone()));
        }
        Ok(Rules(out))
    }

    /// The JSON pointers ignored for an object: those of every rule whose target matches
    /// (or that has none), and `""` (the whole object) when the object opts out.
    pub fn ignored(&self, obj: &Value) -> Vec<String> {
        let mut out: Vec<String> = self
            .0
            .iter()
            .filter(|(t, _)| t.as_ref().is_none_or(|t| t.matches(obj)))
            .flat_map(|(_, p)| p.iter().cloned())
            .collect();
        let opted_out = ["labels", "annotations"]
            .iter()
            .any(|f| obj["metadata"][f][DISABLED_KEY] == "disabled");
        if opted_out {
            out.push(String::new());
        }
        out
    }
}

/// What a drift check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Mode `disabled`: nothing compared.
    Disabled,
    /// No drift.
    InSync,
    /// Drift reported (`warn`); the summary, one object per line.
    Reported(String),
    /// Drift corrected (`enabled`); the change set, one object per line.
    Corrected(String),
}

/// A drift check that did not end in sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// Whether a correction was attempted (then `Ready=Unknown`), or the comparison
    /// itself failed (`Ready=False`, `StateError`).
    pub correcting: bool,
    /// What went wrong.
    pub message: String,
}

impl Failed {
    /// Sets the conditions as Flux leaves them.
    pub fn mark(&self, conditions: &mut Vec<Condition>, generation: Option<i64>) {
        if self.correcting {
            let message = "correcting cluster drift";
            set_condition(
                conditions,
                Condition::new(
                    condition_types::RECONCILING,
                    true,
                    meta::reasons::PROGRESSING_WITH_RETRY,
                    message,
                )
                .with_observed_generation(generation),
            );
            set_condition(
                conditions,
                Condition::new(
                    condition_types::READY,
                    ConditionStatus::Unknown,
                    meta::reasons::PROGRESSING,
                    message,
                )
                .with_observed_generation(generation),
            );
        } else {
            meta::mark_failed_with_retry(
                conditions,
                generation,
                reason::STATE_ERROR,
                format!("Could not determine release state: {}", self.message),
            );
        }
    }
}

/// The objects of a release manifest, namespaced objects without a namespace in the
/// release's (as Helm installed them), each with its ignored pointers.
pub fn targets(manifest: &str, namespace: &str, rules: &Rules) -> Vec<DriftTarget> {
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(manifest) {
        let Ok(mut v) = <Value as serde::Deserialize>::deserialize(doc) else {
            continue;
        };
        if !v.is_object() {
            continue;
        }
        let kind = v["kind"].as_str().unwrap_or_default();
        if !super::deploy::CLUSTER_SCOPED.contains(&kind)
            && v["metadata"]["namespace"]
                .as_str()
                .is_none_or(str::is_empty)
            && v["metadata"].is_object()
        {
            v["metadata"]["namespace"] = Value::String(namespace.to_string());
        }
        let ignore = rules.ignored(&v);
        out.push(DriftTarget { object: v, ignore });
    }
    out
}

/// Compares the deployed release with the cluster (through `applier`, the release's
/// connection: impersonated or remote) and, per the mode, reports and corrects drift.
/// Publishes the events itself.
///
/// # Errors
/// [`Failed`] when the comparison could not be made, or a correction failed.
pub async fn reconcile(
    ctx: &Context,
    applier: &gyre_apply::Applier,
    hr: &HelmRelease,
    rel: &Release,
) -> Result<Outcome, Failed> {
    let mode = Mode::of(hr);
    if mode == Mode::Disabled {
        return Ok(Outcome::Disabled);
    }
    let release = format!("{}/{}.v{}", rel.namespace, rel.name, rel.version);
    let what = crate::status::describe(hr);
    let rules = Rules::new(hr.spec.drift_detection.as_ref()).map_err(|e| Failed {
        correcting: false,
        message: format!("failed to create ignore rule selector: {e}"),
    })?;
    let opts = DriftOptions {
        owner: Some(Owner::helm_release(
            &hr.name_any(),
            &hr.namespace().unwrap_or_default(),
        )),
        default_namespace: rel.namespace.clone(),
        ..DriftOptions::default()
    };
    let report: DriftReport = applier
        .detect_drift(targets(&rel.manifest, &rel.namespace, &rules), &opts)
        .await;
    let errors = report
        .errors
        .iter()
        .map(gyre_apply::Error::chain)
        .collect::<Vec<_>>()
        .join("\n");
    if !report.has_drift() {
        if !report.errors.is_empty() {
            return Err(Failed {
                correcting: false,
                message: format!("unable to determine cluster state: {errors}"),
            });
        }
        return Ok(Outcome::InSync);
    }
    if !report.errors.is_empty() {
        tracing::warn!(object = %what, %errors, "diff of release against cluster state completed with errors");
    }
    let summary = report.summary();
    for d in &report.drifted {
        tracing::info!(object = %what, drifted = %d.object, changes = ?d.paths(), "drift detected");
    }
    ctx.events
        .publish(
            hr,
            Severity::Warning,
            reason::DRIFT_DETECTED,
            &format!(
                "Cluster state of release {release} has drifted from the desired state:\n{summary}"
            ),
        )
        .await;
    if mode == Mode::Warn {
        return Ok(Outcome::Reported(summary));
    }
    let timeout = hr.spec.timeout();
    // Bounded by spec.timeout, as Flux bounds the correction.
    let corrected =
        match tokio::time::timeout(timeout, applier.correct_drift(&report.drifted)).await {
            Ok(r) => r.map_err(|f| (f.change_set.summary(), f.chain())),
            Err(_) => Err((String::new(), format!("timed out after {timeout:?}"))),
        };
    match corrected {
        Ok(cs) => {
            let lines = cs.summary();
            ctx.events
                .publish(
                    hr,
                    Severity::Normal,
                    reason::DRIFT_CORRECTED,
                    &format!("Cluster state of release {release} has been corrected:\n{lines}"),
                )
                .await;
            Ok(Outcome::Corrected(lines))
        }
        Err((done, error)) => {
            let mut message = format!(
                "Failed to {}correct cluster state of release {release}:\n{}",
                if done.is_empty() { "" } else { "partially " },
                error
            );
            if !done.is_empty() {
                message.push_str(&format!("\n\nSuccessful corrections:\n{done}"));
            }
            tracing::warn!(object = %what, error = %message, "drift correction failed");
            ctx.events
                .publish(
                    hr,
                    Severity::Warning,
                    reason::DRIFT_CORRECTION_FAILED,
                    &message,
                )
                .await;
            Err(Failed {
                correcting: true,
                message,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(v: Value) -> Rules {
        let dd: DriftDetection = serde_json::from_value(v).unwrap();
        Rules::new(Some(&dd)).unwrap()
    }

    const MANIFEST: &str = "---
# Source: podinfo/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  labels:
    app: podinfo
spec:
  replicas: 1
---
# Source: podinfo/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: podinfo
  annotations:
    helm.toolkit.fluxcd.io/driftDetection: disabled
---
# Source: podinfo/templates/role.yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: podinfo
";

    #[test]
    fn ignore_rules_apply_to_the_objects_their_target_selects() {
        let r = rules(json!({"mode": "enabled", "ignore": [
            {"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}},
            {"paths": ["/metadata/annotations/x"]},
            {"paths": ["/rules"], "target": {"kind": "ClusterRole", "namespace": "apps"}},
        ]}));
        let t = targets(MANIFEST, "apps", &r);
        let ignored: Vec<(&str, &Vec<String>)> = t
            .iter()
            .map(|t| (t.object["kind"].as_str().unwrap(), &t.ignore))
            .collect();
        assert_eq!(
            ignored,
            [
                (
                    "Deployment",
                    &vec![
                        "/spec/replicas".to_string(),
                        "/metadata/annotations/x".into()
                    ]
                ),
                (
                    "Service",
                    &vec!["/metadata/annotations/x".to_string(), String::new()]
                ),
                // Cluster-scoped: no namespace, so a namespace target does not select it.
                ("ClusterRole", &vec!["/metadata/annotations/x".to_string()]),
            ]
        );
        assert_eq!(t[0].object["metadata"]["namespace"], "apps");
        assert!(t[2].object["metadata"]["namespace"].is_null());
    }

    #[test]
    fn the_opt_out_is_honoured_as_a_label_too_but_only_with_the_value_disabled() {
        let r = Rules::default();
        let obj = |k: &str, v: &str| json!({"metadata": {k: {DISABLED_KEY: v}}});
        assert_eq!(r.ignored(&obj("labels", "disabled")), [String::new()]);
        assert_eq!(r.ignored(&obj("annotations", "disabled")), [String::new()]);
        assert!(r.ignored(&obj("annotations", "enabled")).is_empty());
    }

    #[test]
    fn modes_follow_flux_with_disabled_as_the_default() {
        let hr = |mode: Option<&str>| {
            let mut v = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                "metadata": {"name": "x", "namespace": "y"},
                "spec": {"interval": "1m", "chart": {"spec": {"chart": "c", "sourceRef": {"kind": "HelmRepository", "name": "r"}}}}});
            if let Some(m) = mode {
                v["spec"]["driftDetection"] = json!({"mode": m});
            }
            serde_json::from_value::<HelmRelease>(v).unwrap()
        };
        assert_eq!(Mode::of(&hr(None)), Mode::Disabled);
        assert_eq!(Mode::of(&hr(Some("disabled"))), Mode::Disabled);
        assert_eq!(Mode::of(&hr(Some("warn"))), Mode::Warn);
        assert_eq!(Mode::of(&hr(Some("enabled"))), Mode::Enabled);
    }

    #[test]
    fn an_invalid_target_is_an_error_not_a_silent_match() {
        let dd: DriftDetection = serde_json::from_value(json!({"mode": "enabled", "ignore": [
            {"paths": ["/spec"], "target": {"name": "("}}]}))
        .unwrap();
        assert!(Rules::new(Some(&dd)).is_err());
    }

    #[test]
    fn a_failed_correction_leaves_ready_unknown_and_a_failed_comparison_ready_false() {
        let mut c = Vec::new();
        Failed {
            correcting: true,
            message: "x".into(),
        }
        .mark(&mut c, Some(2));
        let ready = meta::find_condition(&c, condition_types::READY).unwrap();
        assert_eq!(ready.status, ConditionStatus::Unknown);
        assert_eq!(ready.message, "correcting cluster drift");
        let mut c = Vec::new();
        Failed {
            correcting: false,
            message: "boom".into(),
        }
        .mark(&mut c, Some(2));
        let ready = meta::find_condition(&c, condition_types::READY).unwrap();
        assert_eq!(ready.status, ConditionStatus::False);
        assert_eq!(ready.reason, reason::STATE_ERROR);
        assert_eq!(ready.message, "Could not determine release state: boom");
    }
}
