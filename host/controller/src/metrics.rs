//! Prometheus metrics under Flux's names, so existing Flux dashboards and alerts work:
//! `gotk_reconcile_duration_seconds`, `gotk_reconcile_condition`, `gotk_suspend_status`,
//! and controller-runtime's `controller_runtime_reconcile_total` and
//! `controller_runtime_reconcile_errors_total`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gyre_api::meta::Condition;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The condition statuses a `gotk_reconcile_condition` series exists for; the current one
/// is 1, the others 0 (as Flux's `RecordCondition` did). Flux set `Deleted` to 1 for a
/// deleted object; here [`Metrics::forget`] drops the series instead, so `Deleted` is
/// always 0 and exists only so that queries written for Flux find the same series.
const STATUSES: [&str; 4] = ["True", "False", "Unknown", "Deleted"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct ObjectLabels {
    kind: String,
    name: String,
    namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionLabels {
    kind: String,
    name: String,
    namespace: String,
    r#type: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    controller: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: String,
}

type HistogramFamily = Family<ObjectLabels, Histogram, fn() -> Histogram>;

struct Inner {
    registry: Registry,
    duration: HistogramFamily,
    condition: Family<ConditionLabels, Gauge>,
    suspend: Family<ObjectLabels, Gauge>,
    reconcile_total: Family<ResultLabels, Counter>,
    reconcile_errors: Family<ControllerLabels, Counter>,
    /// Condition types recorded per object, so [`Metrics::forget`] can drop every series
    /// (a metric family cannot be enumerated).
    condition_types: Mutex<BTreeMap<ObjectLabels, BTreeSet<String>>>,
}

/// The controller's metrics. Cheap to clone; clones share the same series.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Flux's buckets (fluxcd/pkg `runtime/metrics`): `prometheus.ExponentialBuckets(10e-9,
/// 10, 10)` = 10 ns … 10 s.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(10e-9, 10.0, 10))
}

/// controller-runtime names a controller after its kind, lowercased.
fn controller(kind: &str) -> String {
    kind.to_ascii_lowercase()
}

fn object(kind: &str, namespace: &str, name: &str) -> ObjectLabels {
    ObjectLabels {
        kind: kind.to_string(),
        name: name.to_string(),
        namespace: namespace.to_string(),
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let duration =
            HistogramFamily::new_with_constructor(duration_histogram as fn() -> Histogram);
        registry.register(
            "gotk_reconcile_duration_seconds",
            "The duration in seconds of a GitOps Toolkit resource reconciliation.",
            duration.clone(),
        );
        let condition = Family::<ConditionLabels, Gauge>::default();
        registry.register(
            "gotk_reconcile_condition",
            "The current condition status of a GitOps Toolkit resource reconciliation.",
            condition.clone(),
        );
        let suspend = Family::<ObjectLabels, Gauge>::default();
        registry.register(
            "gotk_suspend_status",
            "The current suspend status of a GitOps Toolkit resource.",
            suspend.clone(),
        );
        // prometheus-client appends `_total` to counters.
        let reconcile_total = Family::<ResultLabels, Counter>::default();
        registry.register(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            reconcile_total.clone(),
        );
        let reconcile_errors = Family::<ControllerLabels, Counter>::default();
        registry.register(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            reconcile_errors.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                duration,
                condition,
                suspend,
                reconcile_total,
                reconcile_errors,
                condition_types: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// Records one finished reconciliation: its duration, and a success or an error for
    /// the kind's controller.
    pub fn record_reconcile(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        duration: Duration,
        ok: bool,
    ) {
        let i = &self.inner;
        i.duration
            .get_or_create(&object(kind, namespace, name))
            .observe(duration.as_secs_f64());
        self.count(kind, if ok { "success" } else { "error" });
        let errors = i.reconcile_errors.get_or_create(&ControllerLabels {
            controller: controller(kind),
        });
        if !ok {
            errors.inc();
        }
    }

    /// Counts a reconciliation that asked to be requeued (controller-runtime's
    /// `result="requeue"`).
    pub fn record_requeue(&self, kind: &str) {
        self.count(kind, "requeue");
    }

    fn count(&self, kind: &str, result: &str) {
        // Create every result series, so a controller's counters exist (at 0) from its
        // first reconciliation, as controller-runtime initialises them.
        for r in ["success", "error", "requeue"] {
            let counter = self.inner.reconcile_total.get_or_create(&ResultLabels {
                controller: controller(kind),
                result: r.to_string(),
            });
            if r == result {
                counter.inc();
            }
        }
    }

    /// Records an object's condition: the series for its current status is 1, the other
    /// statuses 0.
    pub fn record_condition(&self, kind: &str, namespace: &str, name: &str, condition: &Condition) {
        let current = condition.status.to_string();
        for status in STATUSES {
            let labels = ConditionLabels {
                kind: kind.to_string(),
                name: name.to_string(),
                namespace: namespace.to_string(),
                r#type: condition.type_.clone(),
                status: status.to_string(),
            };
            self.inner
                .condition
                .get_or_create(&labels)
                .set(i64::from(status == current));
        }
        let mut types = self
            .inner
            .condition_types
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        types
            .entry(object(kind, namespace, name))
            .or_default()
            .insert(condition.type_.clone());
    }

    /// Records whether an object is suspended (1) or not (0).
    pub fn record_suspend(&self, kind: &str, namespace: &str, name: &str, suspended: bool) {
        self.inner
            .suspend
            .get_or_create(&object(kind, namespace, name))
            .set(i64::from(suspended));
    }

    /// Drops every series of a deleted object, so dashboards do not show it forever.
    /// The per-controller counters are kept.
    pub fn forget(&self, kind: &str, namespace: &str, name: &str) {
        let key = object(kind, namespace, name);
        let i = &self.inner;
        i.duration.remove(&key);
        i.suspend.remove(&key);
        let types = i
            .condition_types
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key)
            .unwrap_or_default();
        for t in types {
            for status in STATUSES {
                i.condition.remove(&ConditionLabels {
                    kind: kind.to_string(),
                    name: name.to_string(),
                    namespace: namespace.to_string(),
                    r#type: t.clone(),
                    status: status.to_string(),
                });
            }
        }
    }

    /// Every metric in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gyre_api::meta::ConditionStatus;

    /// Parses OpenMetrics text into `name{sorted labels}` → value.
    fn parse(text: &str) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("series and value");
            let key = match series.split_once('{') {
                Some((name, labels)) => {
                    let mut parts: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                    parts.sort();
                    format!("{name}{{{}}}", parts.join(","))
                }
                None => series.to_string(),
            };
            out.insert(key, value.parse().expect("numeric value"));
        }
        out
    }

    fn cond(status: ConditionStatus) -> Condition {
        Condition::new("Ready", status, "Succeeded", "ok")
    }

    const OBJ: &str = r#"kind="Kustomization",name="podinfo",namespace="flux-system""#;

    fn key(name: &str, extra: &[&str]) -> String {
        let mut parts: Vec<&str> = OBJ.split(',').collect();
        parts.extend_from_slice(extra);
        parts.sort();
        format!("{name}{{{}}}", parts.join(","))
    }

    #[test]
    fn condition_gauge_is_one_for_the_current_status_and_zero_for_the_others() {
        let m = Metrics::new();
        m.record_condition(
            "Kustomization",
            "flux-system",
            "podinfo",
            &cond(ConditionStatus::False),
        );
        m.record_condition(
            "Kustomization",
            "flux-system",
            "podinfo",
            &cond(ConditionStatus::True),
        );
        let s = parse(&m.encode());
        let k = |status: &str| {
            key(
                "gotk_reconcile_condition",
                &[&format!("status=\"{status}\""), "type=\"Ready\""],
            )
        };
        assert_eq!(s[&k("True")], 1.0);
        assert_eq!(s[&k("False")], 0.0);
        assert_eq!(s[&k("Unknown")], 0.0);
        assert_eq!(s[&k("Deleted")], 0.0);
    }

    #[test]
    fn reconcile_duration_is_a_histogram_with_flux_buckets() {
        let m = Metrics::new();
        m.record_reconcile(
            "Kustomization",
            "flux-system",
            "podinfo",
            Duration::from_millis(50),
            true,
        );
        m.record_reconcile(
            "Kustomization",
            "flux-system",
            "podinfo",
            Duration::from_secs(2),
            true,
        );
        let s = parse(&m.encode());
        assert_eq!(s[&key("gotk_reconcile_duration_seconds_count", &[])], 2.0);
        let sum = s[&key("gotk_reconcile_duration_seconds_sum", &[])];
        assert!((sum - 2.05).abs() < 1e-9, "{sum}");
        let bucket = |le: &str| {
            key(
                "gotk_reconcile_duration_seconds_bucket",
                &[&format!("le=\"{le}\"")],
            )
        };
        let buckets: Vec<&String> = s
            .keys()
            .filter(|k| k.starts_with("gotk_reconcile_duration_seconds_bucket"))
            .collect();
        assert_eq!(buckets.len(), 11, "ten Flux buckets and +Inf: {buckets:?}");
        assert_eq!(s[&bucket("0.01")], 0.0);
        assert_eq!(s[&bucket("0.1")], 1.0);
        assert_eq!(s[&bucket("1.0")], 1.0);
        assert_eq!(s[&bucket("10.0")], 2.0);
        assert_eq!(s[&bucket("+Inf")], 2.0);
    }

    #[test]
    fn reconcile_results_and_errors_are_counted_per_controller() {
        let m = Metrics::new();
        m.record_reconcile("GitRepository", "ns", "a", Duration::ZERO, true);
        m.record_reconcile("GitRepository", "ns", "a", Duration::ZERO, false);
        m.record_reconcile("GitRepository", "ns", "b", Duration::ZERO, false);
        m.record_requeue("GitRepository");
        let s = parse(&m.encode());
        let total = |r: &str| {
            format!(
                "controller_runtime_reconcile_total{{controller=\"gitrepository\",result=\"{r}\"}}"
            )
        };
        assert_eq!(s[&total("success")], 1.0);
        assert_eq!(s[&total("error")], 2.0);
        assert_eq!(s[&total("requeue")], 1.0);
        assert_eq!(
            s["controller_runtime_reconcile_errors_total{controller=\"gitrepository\"}"],
            2.0
        );
    }

    #[test]
    fn suspend_status_is_one_when_suspended() {
        let m = Metrics::new();
        m.record_suspend("Kustomization", "flux-system", "podinfo", true);
        assert_eq!(parse(&m.encode())[&key("gotk_suspend_status", &[])], 1.0);
        m.record_suspend("Kustomization", "flux-system", "podinfo", false);
        assert_eq!(parse(&m.encode())[&key("gotk_suspend_status", &[])], 0.0);
    }

    #[test]
    fn forget_drops_every_series_of_the_object_only() {
        let m = Metrics::new();
        for name in ["podinfo", "other"] {
            m.record_reconcile(
                "Kustomization",
                "flux-system",
                name,
                Duration::from_secs(1),
                true,
            );
            m.record_condition(
                "Kustomization",
                "flux-system",
                name,
                &cond(ConditionStatus::True),
            );
            m.record_condition(
                "Kustomization",
                "flux-system",
                name,
                &Condition::new("Healthy", ConditionStatus::Unknown, "Progressing", ""),
            );
            m.record_suspend("Kustomization", "flux-system", name, false);
        }
        m.forget("Kustomization", "flux-system", "podinfo");
        let text = m.encode();
        assert!(!text.contains("name=\"podinfo\""), "{text}");
        assert!(text.contains("name=\"other\""), "{text}");
        // Counters are per controller and survive.
        assert!(text.contains("controller_runtime_reconcile_total{controller=\"kustomization\",result=\"success\"} 2"), "{text}");
    }

    #[test]
    fn encoding_is_openmetrics_text() {
        let m = Metrics::new();
        assert!(m.encode().ends_with("# EOF\n"), "{}", m.encode());
        m.record_reconcile("Bucket", "ns", "b", Duration::from_secs(1), true);
        m.record_condition("Bucket", "ns", "b", &cond(ConditionStatus::True));
        let text = m.encode();
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("# TYPE gotk_reconcile_duration_seconds histogram"));
        assert!(text.contains("# TYPE gotk_reconcile_condition gauge"));
        assert!(text.contains("# TYPE controller_runtime_reconcile counter"));
    }

    #[test]
    fn clones_share_series() {
        let m = Metrics::new();
        m.clone().record_suspend("Bucket", "ns", "b", true);
        assert_eq!(
            parse(&m.encode())["gotk_suspend_status{kind=\"Bucket\",name=\"b\",namespace=\"ns\"}"],
            1.0
        );
    }
}
