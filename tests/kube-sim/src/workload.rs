//! The simulated workload controller: drives Deployments, StatefulSets, DaemonSets,
//! ReplicaSets and Jobs to ready/complete, to failure, or leaves them stuck, by writing
//! status the way the real controllers do.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::Shared;
use crate::managed::{self, Scope, Who};
use crate::schema::Ctx;
use crate::store::{Key, Store, now};

/// What the controller does to workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Controller off: status is never written.
    #[default]
    Off,
    /// Workloads become ready / Jobs complete.
    Ready,
    /// Deployments exceed their progress deadline, Jobs fail.
    Fail,
    /// Status shows progress that never finishes.
    Stuck,
}

/// Per-object override: annotate a workload with `kube-sim.gyre.dev/behavior: ready|fail|stuck`.
pub const BEHAVIOR_ANNOTATION: &str = "kube-sim.gyre.dev/behavior";

const MANAGED: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "persistentvolumeclaims"),
    ("", "services"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
];

/// Runs the controller until the shared state is dropped.
pub async fn run(sh: std::sync::Weak<Shared>) {
    let mut rx = {
        let Some(s) = sh.upgrade() else { return };
        let st = s.store.lock().expect("lock");
        st.tx.subscribe()
    };
    let mut mode_rx = {
        let Some(s) = sh.upgrade() else { return };
        s.workload.subscribe()
    };
    loop {
        tokio::select! {
            r = rx.recv() => {
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = r { return; }
            }
            r = mode_rx.changed() => { if r.is_err() { return; } }
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
        let Some(s) = sh.upgrade() else { return };
        let mode = *s.workload.borrow();
        reconcile_all(&s, mode);
    }
}

/// Reconciles every workload once.
pub fn reconcile_all(s: &Arc<Shared>, mode: Mode) {
    let mut st = s.store.lock().expect("lock");
    let keys: Vec<Key> = st
        .objects
        .keys()
        .filter(|k| {
            MANAGED
                .iter()
                .any(|(g, r)| k.group == *g && k.resource == *r)
        })
        .cloned()
        .collect();
    for k in keys {
        reconcile(&mut st, &k, mode);
    }
}

fn cond(ty: &str, status: &str, reason: &str, message: &str, old: &Value) -> Value {
    let prev = old["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == ty));
    let ltt = match prev {
        Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
        _ => json!(now()),
    };
    let lut = match prev {
        Some(p) if p["status"] == status && p["reason"] == reason => p["lastUpdateTime"].clone(),
        _ => json!(now()),
    };
    json!({"type": ty, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": ltt, "lastUpdateTime": lut})
}

/// Whether a pod's containers run once rather than forever (`restartPolicy` other than
/// `Always`, the default).
fn runs_to_completion(pod: &Value) -> bool {
    pod["spec"]["restartPolicy"]
        .as_str()
        .is_some_and(|p| p != "Always")
}

fn reconcile(st: &mut Store, k: &Key, global: Mode) {
    let Some(obj) = st.objects.get(k).cloned() else {
        return;
    };
    if !obj["metadata"]["deletionTimestamp"].is_null() {
        return;
    }
    let mode = match obj["metadata"]["annotations"][BEHAVIOR_ANNOTATION].as_str() {
        Some("ready") => Mode::Ready,
        Some("fail") => Mode::Fail,
        Some("stuck") => Mode::Stuck,
        _ => global,
    };
    if mode == Mode::Off {
        return;
    }
    let generation = obj["metadata"]["generation"].clone();
    let name = k.name.clone();
    let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = match (k.resource.as_str(), mode) {
        ("deployments", Mode::Ready) => json!({
        "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
        "readyReplicas": replicas, "availableReplicas": replicas,
        "conditions": [
            cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", &obj),
            cond("Progressing", "True", "NewReplicaSetAvailable", &format!("ReplicaSet \"{name}-5d9c7b8f4\" has successfully progressed."), &obj),
        ]}),
        ("deployments", Mode::Fail) => json!({
        "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
        "unavailableReplicas": replicas,
        "conditions": [
            cond("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", &obj),
            cond("Progressing", "False", "ProgressDeadlineExceeded", &format!("ReplicaSet \"{name}-5d9c7b8f4\" has timed out progressing."), &obj),
        ]}),
        ("deployments", _) => json!({
        "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
        "unavailableReplicas": replicas,
        "conditions": [
            cond("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", &obj),
            cond("Progressing", "True", "ReplicaSetUpdated", &format!("ReplicaSet \"{name}-5d9c7b8f4\" is progressing."), &obj),
        ]}),
        ("replicasets", Mode::Ready) => json!({
            "observedGeneration": generation, "replicas": replicas, "fullyLabeledReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas}),
        ("replicasets", _) => json!({
            "observedGeneration": generation, "replicas": replicas, "fullyLabeledReplicas": replicas,
            "readyReplicas": 0, "availableReplicas": 0}),
        ("statefulsets", m) => {
            let ready = if m == Mode::Ready { replicas } else { 0 };
            let rev = format!("{name}-7f8d9c6b5");
            json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": ready,
                   "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": ready,
                   "currentRevision": rev, "updateRevision": rev, "collisionCount": 0})
        }
        ("daemonsets", m) => {
            let ready = if m == Mode::Ready { 1 } else { 0 };
            json!({"observedGeneration": generation, "desiredNumberScheduled": 1, "currentNumberScheduled": 1,
                   "numberReady": ready, "updatedNumberScheduled": 1, "numberAvailable": ready,
                   "numberMisscheduled": 0, "numberUnavailable": 1 - ready})
        }
        ("jobs", Mode::Ready) => {
            let completions = obj["spec"]["completions"].as_i64().unwrap_or(1);
            let start = obj["status"]["startTime"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(now);
            let done = obj["status"]["completionTime"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(now);
            json!({"startTime": start, "completionTime": done, "succeeded": completions, "ready": 0,
            "terminating": 0, "uncountedTerminatedPods": {},
            "conditions": [
                cond("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods", &obj),
                cond("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods", &obj),
            ]})
        }
        ("jobs", Mode::Fail) => {
            let start = obj["status"]["startTime"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(now);
            let backoff = obj["spec"]["backoffLimit"].as_i64().unwrap_or(6);
            json!({"startTime": start, "failed": backoff + 1, "ready": 0, "terminating": 0,
            "uncountedTerminatedPods": {},
            "conditions": [
                cond("FailureTarget", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit", &obj),
                cond("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit", &obj),
            ]})
        }
        // A pod that does not restart its containers (`Never`, `OnFailure`) runs them
        // to completion, as Helm test and hook pods do: the kubelet then reports phase
        // `Succeeded` with every container terminated with exit code 0.
        ("pods", Mode::Ready) if runs_to_completion(&obj) => {
            let cs: Vec<Value> = obj["spec"]["containers"].as_array().cloned().unwrap_or_default().iter().map(|c| json!({
                "name": c["name"], "image": c["image"], "imageID": "", "ready": false, "started": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                    "startedAt": obj["metadata"]["creationTimestamp"], "finishedAt": obj["metadata"]["creationTimestamp"]}}})).collect();
            json!({"phase": "Succeeded", "podIP": "10.244.0.10", "hostIP": "172.18.0.2",
                   "startTime": obj["metadata"]["creationTimestamp"], "containerStatuses": cs,
                   "conditions": [
                       cond("Initialized", "True", "PodCompleted", "", &obj), cond("ContainersReady", "False", "PodCompleted", "", &obj),
                       cond("Ready", "False", "PodCompleted", "", &obj), cond("PodScheduled", "True", "", "", &obj)]})
        }
        ("pods", Mode::Ready) => {
            let cs: Vec<Value> = obj["spec"]["containers"].as_array().cloned().unwrap_or_default().iter().map(|c| json!({
                "name": c["name"], "image": c["image"], "imageID": "", "ready": true, "started": true, "restartCount": 0,
                "state": {"running": {"startedAt": obj["metadata"]["creationTimestamp"]}}})).collect();
            json!({"phase": "Running", "podIP": "10.244.0.10", "hostIP": "172.18.0.2",
                   "startTime": obj["metadata"]["creationTimestamp"], "containerStatuses": cs,
                   "conditions": [
                       cond("Initialized", "True", "", "", &obj), cond("ContainersReady", "True", "", "", &obj),
                       cond("Ready", "True", "", "", &obj), cond("PodScheduled", "True", "", "", &obj)]})
        }
        ("pods", Mode::Fail) => json!({"phase": "Failed", "reason": "Error",
            "conditions": [cond("Ready", "False", "PodFailed", "", &obj)]}),
        ("pods", _) => json!({"phase": "Pending",
            "conditions": [cond("PodScheduled", "False", "Unschedulable", "0/1 nodes are available", &obj)]}),
        ("persistentvolumeclaims", Mode::Ready) => json!({"phase": "Bound",
            "accessModes": obj["spec"]["accessModes"], "capacity": {"storage": obj["spec"]["resources"]["requests"]["storage"]}}),
        ("persistentvolumeclaims", _) => json!({"phase": "Pending"}),
        ("services", m) => {
            if obj["spec"]["type"] != "LoadBalancer" {
                return;
            }
            if m == Mode::Ready {
                json!({"loadBalancer": {"ingress": [{"ip": "172.18.255.200", "ipMode": "VIP"}]}})
            } else {
                json!({"loadBalancer": {}})
            }
        }
        ("jobs", _) => {
            let start = obj["status"]["startTime"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(now);
            json!({"startTime": start, "active": 1, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}})
        }
        _ => return,
    };
    if obj["status"] == status {
        return;
    }
    let mut new = obj.clone();
    new["status"] = status;
    // The real controllers' conditions for pods carry no lastUpdateTime.
    if k.resource == "pods"
        && let Some(cs) = new["status"]["conditions"].as_array_mut()
    {
        for c in cs {
            if let Some(m) = c.as_object_mut() {
                m.remove("lastUpdateTime");
                if m["reason"] == "" {
                    m.remove("reason");
                    m.remove("message");
                }
            }
        }
        if obj["status"] == new["status"] {
            return;
        }
    }
    let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
    let who = Who {
        manager: "kube-controller-manager",
        api_version: &api_version,
        subresource: "status",
        scope: Scope::StatusOnly,
    };
    managed::record_update(Some(&obj), &mut new, &who, &Ctx::Builtin(vec![]));
    st.put(k.clone(), new);
}
