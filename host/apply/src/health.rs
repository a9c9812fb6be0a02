//! Health assessment of one object by kstatus rules: is it `Current` (ready), still
//! `InProgress`, or `Failed`? Pure: no API access; [`crate::wait`] feeds it live objects.

use serde_json::Value;

/// The health of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Reconciled and ready.
    Current,
    /// Still converging; the message says on what.
    InProgress(String),
    /// Failed for good (rollout deadline exceeded, Job failed, `Stalled`…).
    Failed(String),
    /// The object does not exist.
    NotFound,
}

impl Health {
    /// Whether the object is ready.
    pub fn is_current(&self) -> bool {
        matches!(self, Health::Current)
    }

    /// A one-line description for messages.
    pub fn message(&self) -> String {
        match self {
            Health::Current => "Current".into(),
            Health::InProgress(m) => format!("InProgress: {m}"),
            Health::Failed(m) => format!("Failed: {m}"),
            Health::NotFound => "NotFound".into(),
        }
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn condition<'a>(obj: &'a Value, ty: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == ty)
}

fn condition_is(obj: &Value, ty: &str, status: &str) -> bool {
    condition(obj, ty).is_some_and(|c| c["status"] == status)
}

fn condition_message(obj: &Value, ty: &str) -> String {
    condition(obj, ty)
        .map(|c| {
            let reason = c["reason"].as_str().unwrap_or_default();
            let message = c["message"].as_str().unwrap_or_default();
            match (reason.is_empty(), message.is_empty()) {
                (false, false) => format!("{reason}: {message}"),
                (false, true) => reason.to_string(),
                _ => message.to_string(),
            }
        })
        .unwrap_or_default()
}

/// Assesses an object as it is in the cluster.
///
/// Rules (kstatus, plus Flux's additions):
/// - being deleted → in progress; `status.observedGeneration` behind
///   `metadata.generation` → in progress (the controller has not seen the change yet);
/// - Deployment: updated, ready and available replicas reach `spec.replicas` and no old
///   replicas remain; `Progressing=False/ProgressDeadlineExceeded` → failed;
/// - StatefulSet: ready/updated replicas (respecting a partition), current = update
///   revision; DaemonSet: every scheduled pod updated and available; ReplicaSet: ready and
///   available replicas;
/// - Job: `Complete` → current, `Failed` → failed; Pod: `Running` and `Ready`, or
///   `Succeeded`; `Failed` → failed;
/// - PersistentVolumeClaim: `Bound`; Service of type LoadBalancer: has an ingress;
///   CustomResourceDefinition: `Established` (`NamesAccepted=False` → failed); Namespace:
///   `Active`;
/// - Flagger Canary: phase `Initialized` or `Succeeded` (`Failed` → failed);
/// - anything else: `Stalled=True` → failed, `Reconciling=True` → in progress, a `Ready`
///   condition decides; no conditions → current (ConfigMaps, Secrets, RBAC…).
pub fn assess(obj: &Value) -> Health {
    if obj.is_null() {
        return Health::NotFound;
    }
    if !obj["metadata"]["deletionTimestamp"].is_null() {
        return Health::InProgress("being deleted".into());
    }
    let generation = obj["metadata"]["generation"].as_i64();
    let observed = obj["status"]["observedGeneration"].as_i64();
    if let (Some(g), Some(o)) = (generation, observed)
        && o < g
    {
        return Health::InProgress(format!("observed generation {o} is behind generation {g}"));
    }
    let group = obj["apiVersion"]
        .as_str()
        .and_then(|a| a.split_once('/'))
        .map_or("", |(g, _)| g);
    let kind = obj["kind"].as_str().unwrap_or_default();
    let status = &obj["status"];
    let spec = &obj["spec"];
    match (group, kind) {
        ("apps", "Deployment") => {
            if condition(obj, "Progressing").is_some_and(|c| {
                c["status"] == "False" && c["reason"] == "ProgressDeadlineExceeded"
            }) {
                return Health::Failed(condition_message(obj, "Progressing"));
            }
            if observed.is_none() {
                return Health::InProgress("rollout not observed yet".into());
            }
            let want = spec["replicas"].as_i64().unwrap_or(1);
            let updated = int(&status["updatedReplicas"]);
            let total = int(&status["replicas"]);
            let available = int(&status["availableReplicas"]);
            let ready = int(&status["readyReplicas"]);
            if updated < want {
                return Health::InProgress(format!("updated replicas: {updated}/{want}"));
            }
            if total > updated {
                return Health::InProgress(format!("pending termination: {}", total - updated));
            }
            if available < updated || ready < updated {
                return Health::InProgress(format!("available replicas: {available}/{updated}"));
            }
            Health::Current
        }
        ("apps", "StatefulSet") => {
            if observed.is_none() {
                return Health::InProgress("rollout not observed yet".into());
            }
            if spec["updateStrategy"]["type"] == "OnDelete" {
                return Health::Current;
            }
            let want = spec["replicas"].as_i64().unwrap_or(1);
            let ready = int(&status["readyReplicas"]);
            if ready < want {
                return Health::InProgress(format!("ready replicas: {ready}/{want}"));
            }
            let partition = spec["updateStrategy"]["rollingUpdate"]["partition"]
                .as_i64()
                .unwrap_or(0);
            let updated = int(&status["updatedReplicas"]);
            if partition > 0 {
                if updated < want - partition {
                    return Health::InProgress(format!(
                        "partitioned rollout: {updated}/{} updated",
                        want - partition
                    ));
                }
                return Health::Current;
            }
            if status["currentRevision"] != status["updateRevision"] {
                return Health::InProgress(format!(
                    "waiting for revision {} (updated {updated}/{want})",
                    status["updateRevision"].as_str().unwrap_or_default()
                ));
            }
            Health::Current
        }
        ("apps", "DaemonSet") => {
            if observed.is_none() {
                return Health::InProgress("rollout not observed yet".into());
            }
            let desired = int(&status["desiredNumberScheduled"]);
            let updated = int(&status["updatedNumberScheduled"]);
            let available = int(&status["numberAvailable"]);
            let ready = int(&status["numberReady"]);
            if updated < desired {
                return Health::InProgress(format!("updated pods: {updated}/{desired}"));
            }
            if available < desired || ready < desired {
                return Health::InProgress(format!("available pods: {available}/{desired}"));
            }
            Health::Current
        }
        ("apps", "ReplicaSet") => {
            let want = spec["replicas"].as_i64().unwrap_or(1);
            let ready = int(&status["readyReplicas"]);
            let available = int(&status["availableReplicas"]);
            if ready < want || available < want {
                return Health::InProgress(format!("ready replicas: {ready}/{want}"));
            }
            Health::Current
        }
        ("batch", "Job") => {
            if condition_is(obj, "Failed", "True") {
                return Health::Failed(condition_message(obj, "Failed"));
            }
            if condition_is(obj, "Complete", "True") {
                return Health::Current;
            }
            Health::InProgress(format!(
                "job in progress: active {}, succeeded {}, failed {}",
                int(&status["active"]),
                int(&status["succeeded"]),
                int(&status["failed"])
            ))
        }
        ("", "Pod") => match status["phase"].as_str().unwrap_or_default() {
            "Succeeded" => Health::Current,
            "Failed" => Health::Failed(
                status["reason"]
                    .as_str()
                    .unwrap_or("pod failed")
                    .to_string(),
            ),
            "Running" if condition_is(obj, "Ready", "True") => Health::Current,
            p => Health::InProgress(format!(
                "pod phase {}",
                if p.is_empty() { "unknown" } else { p }
            )),
        },
        ("", "PersistentVolumeClaim") => match status["phase"].as_str() {
            Some("Bound") => Health::Current,
            Some("Lost") => Health::Failed("claim lost its volume".into()),
            p => Health::InProgress(format!("claim phase {}", p.unwrap_or("unknown"))),
        },
        ("", "Service") => {
            if spec["type"] == "LoadBalancer"
                && status["loadBalancer"]["ingress"]
                    .as_array()
                    .is_none_or(Vec::is_empty)
            {
                return Health::InProgress("load balancer has no ingress yet".into());
            }
            Health::Current
        }
        ("", "Namespace") => match status["phase"].as_str() {
            Some("Terminating") => Health::InProgress("namespace is terminating".into()),
            _ => Health::Current,
        },
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            if condition_is(obj, "NamesAccepted", "False") {
                return Health::Failed(condition_message(obj, "NamesAccepted"));
            }
            if condition_is(obj, "Established", "True") {
                return Health::Current;
            }
            Health::InProgress("not established yet".into())
        }
        ("flagger.app", "Canary") => match status["phase"].as_str() {
            Some("Initialized" | "Succeeded") => Health::Current,
            Some("Failed") => Health::Failed("canary analysis failed".into()),
            p => Health::InProgress(format!("canary phase {}", p.unwrap_or("unknown"))),
        },
        _ => generic(obj),
    }
}

/// kstatus' rules for kinds it does not know: abnormal-true conditions, then `Ready`.
fn generic(obj: &Value) -> Health {
    if condition_is(obj, "Stalled", "True") {
        return Health::Failed(condition_message(obj, "Stalled"));
    }
    if condition_is(obj, "Reconciling", "True") {
        return Health::InProgress(condition_message(obj, "Reconciling"));
    }
    match condition(obj, "Ready").map(|c| c["status"].as_str().unwrap_or_default()) {
        Some("True") => Health::Current,
        Some(_) => Health::InProgress(condition_message(obj, "Ready")),
        None => Health::Current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(status: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "d", "namespace": "a", "generation": 2},
               "spec": {"replicas": 3}, "status": status})
    }

    #[test]
    fn a_deployment_is_current_once_every_replica_is_updated_and_available() {
        let ok = deploy(
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
                               "readyReplicas": 3, "availableReplicas": 3}),
        );
        assert_eq!(assess(&ok), Health::Current);
    }

    #[test]
    fn a_deployment_whose_controller_lags_or_is_mid_rollout_is_in_progress() {
        let lag = deploy(
            json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3,
                                "readyReplicas": 3, "availableReplicas": 3}),
        );
        assert!(matches!(assess(&lag), Health::InProgress(m) if m.contains("generation")));
        let old = deploy(
            json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3,
                                "readyReplicas": 3, "availableReplicas": 3}),
        );
        assert!(matches!(assess(&old), Health::InProgress(m) if m.contains("termination")));
        let unavailable = deploy(json!({"observedGeneration": 2, "replicas": 3,
                                        "updatedReplicas": 3, "availableReplicas": 1}));
        assert!(matches!(assess(&unavailable), Health::InProgress(_)));
    }

    #[test]
    fn a_deployment_past_its_progress_deadline_has_failed() {
        let d = deploy(json!({"observedGeneration": 2, "conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
             "message": "ReplicaSet \"d-1\" has timed out progressing."}]}));
        assert_eq!(
            assess(&d),
            Health::Failed(
                "ProgressDeadlineExceeded: ReplicaSet \"d-1\" has timed out progressing.".into()
            )
        );
    }

    #[test]
    fn jobs_are_current_when_complete_and_failed_when_failed() {
        let j = |c: Value| {
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                                  "status": {"conditions": [c]}})
        };
        assert_eq!(
            assess(&j(json!({"type": "Complete", "status": "True"}))),
            Health::Current
        );
        assert!(matches!(
            assess(&j(json!({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}))),
            Health::Failed(m) if m == "BackoffLimitExceeded"
        ));
        assert!(matches!(
            assess(
                &json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                           "status": {"active": 1}})
            ),
            Health::InProgress(_)
        ));
    }

    #[test]
    fn statefulsets_daemonsets_and_replicasets_follow_their_counters() {
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"generation": 1},
            "spec": {"replicas": 2}, "status": {"observedGeneration": 1, "readyReplicas": 2,
            "updatedReplicas": 2, "currentRevision": "r1", "updateRevision": "r2"}});
        assert!(matches!(assess(&sts), Health::InProgress(m) if m.contains("r2")));
        let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "desiredNumberScheduled": 1,
            "updatedNumberScheduled": 1, "numberAvailable": 1, "numberReady": 1}});
        assert_eq!(assess(&ds), Health::Current);
        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": {"replicas": 2},
            "status": {"readyReplicas": 1, "availableReplicas": 1}});
        assert!(matches!(assess(&rs), Health::InProgress(_)));
    }

    #[test]
    fn claims_load_balancers_crds_and_pods_have_their_own_ready_signal() {
        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}});
        assert!(matches!(assess(&pvc), Health::InProgress(_)));
        let lb = json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"},
                        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}});
        assert_eq!(assess(&lb), Health::Current);
        let ip = json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "ClusterIP"}});
        assert_eq!(assess(&ip), Health::Current);
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "status": {"conditions": [{"type": "Established", "status": "True"}]}});
        assert_eq!(assess(&crd), Health::Current);
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}]}});
        assert!(matches!(assess(&pod), Health::InProgress(_)));
    }

    #[test]
    fn custom_resources_follow_ready_stalled_and_reconciling_conditions() {
        let hr = |conds: Value| {
            json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"generation": 3}, "status": {"observedGeneration": 3, "conditions": conds}})
        };
        assert_eq!(
            assess(&hr(json!([{"type": "Ready", "status": "True"}]))),
            Health::Current
        );
        assert!(matches!(
            assess(&hr(json!([{"type": "Ready", "status": "False"},
                               {"type": "Stalled", "status": "True", "reason": "InstallFailed"}]))),
            Health::Failed(m) if m == "InstallFailed"
        ));
        assert!(matches!(
            assess(&hr(json!([{"type": "Ready", "status": "Unknown", "reason": "Progressing"}]))),
            Health::InProgress(m) if m == "Progressing"
        ));
        let canary = json!({"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
            "status": {"phase": "Failed"}});
        assert!(matches!(assess(&canary), Health::Failed(_)));
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {}});
        assert_eq!(assess(&cm), Health::Current);
        assert_eq!(assess(&Value::Null), Health::NotFound);
    }
}
