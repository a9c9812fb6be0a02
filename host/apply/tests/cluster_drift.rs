//! Cluster drift detection and correction against kube-sim: an applied set in sync costs
//! no dry-run and writes nothing; edits and deletions are found and corrected; ignored
//! pointers are neither reported nor written; an excluded object is not read at all; a
//! correction that fails names the object and keeps what it corrected.

mod common;

use common::{Env, Requests, config_map, deployment, namespace, service};
use gyre_apply::{Action, ApplyOptions, DriftKind, DriftOptions, DriftTarget, ObjectRef, Owner};
use serde_json::{Value, json};

fn owner() -> Owner {
    Owner::helm_release("web", "flux-system")
}

fn set() -> Vec<Value> {
    vec![
        namespace("d"),
        config_map("d", "cm", "desired"),
        service("d", "web"),
        deployment("d", "web", "nginx:1.27"),
    ]
}

fn targets(ignore: &[(&str, &[&str])]) -> Vec<DriftTarget> {
    set()
        .into_iter()
        .map(|object| {
            let kind = object["kind"].as_str().unwrap().to_string();
            let ignore = ignore
                .iter()
                .filter(|(k, _)| *k == kind)
                .flat_map(|(_, p)| p.iter().map(|p| p.to_string()))
                .collect();
            DriftTarget { object, ignore }
        })
        .collect()
}

fn opts() -> DriftOptions {
    DriftOptions {
        owner: Some(owner()),
        ..DriftOptions::default()
    }
}

async fn applied() -> Env {
    let env = Env::start().await;
    env.applier
        .apply(set(), &ApplyOptions::for_owner(owner()))
        .await
        .expect("apply");
    env
}

#[tokio::test]
async fn a_set_in_sync_has_no_drift_and_costs_no_dry_run_or_write() {
    let env = applied().await;
    env.requests.take();
    let report = env.applier.detect_drift(targets(&[]), &opts()).await;
    let reqs = env.requests.take();
    assert!(!report.has_drift(), "{report:?}");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(Requests::writes(&reqs).is_empty(), "{reqs:?}");
    assert!(!reqs.iter().any(|r| r.contains("dryRun")), "{reqs:?}");
}

#[tokio::test]
async fn edits_and_deletions_are_reported_and_corrected_without_a_new_apply() {
    let env = applied().await;
    env.edit(
        "apps/v1",
        "deployments",
        "d",
        "web",
        json!({"spec": {"replicas": 7}, "metadata": {"labels": {"added-by-hand": "x"}}}),
    )
    .await;
    let svc: kube::Api<k8s_openapi::api::core::v1::Service> =
        kube::Api::namespaced(env.client.clone(), "d");
    svc.delete("web", &Default::default()).await.unwrap();

    let report = env.applier.detect_drift(targets(&[]), &opts()).await;
    let lines: Vec<String> = report.drifted.iter().map(|d| d.summary()).collect();
    assert_eq!(
        lines,
        [
            "Service/d/web removed",
            "Deployment/d/web changed (0 additions, 1 changes, 0 removals)",
        ],
        "a label someone added is not drift"
    );
    let cs = env
        .applier
        .correct_drift(&report.drifted)
        .await
        .expect("corrected");
    let actions: Vec<String> = cs.entries.iter().map(ToString::to_string).collect();
    assert_eq!(
        actions,
        ["Service/d/web created", "Deployment/d/web configured"]
    );
    let dep = env.get("apps/v1", "deployments", "d", "web").await.unwrap();
    assert_eq!(dep["spec"]["replicas"], 2);
    assert_eq!(
        dep["metadata"]["labels"]["added-by-hand"], "x",
        "what the release does not set is left"
    );
    let s = env
        .get("v1", "services", "d", "web")
        .await
        .expect("recreated");
    assert_eq!(
        s["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"],
        "web"
    );
    assert!(
        !env.applier
            .detect_drift(targets(&[]), &opts())
            .await
            .has_drift()
    );
    // The change set of a correction is no apply: the engine reports Created/Configured.
    assert!(cs.has_changes());
    assert_eq!(
        cs.get(&ObjectRef::new("apps", "Deployment", "d", "web"))
            .unwrap()
            .action,
        Action::Configured
    );
}

#[tokio::test]
async fn ignored_pointers_are_not_drift_and_are_not_written_back() {
    let env = applied().await;
    env.edit(
        "apps/v1",
        "deployments",
        "d",
        "web",
        json!({"spec": {"replicas": 7, "template": {"spec": {"containers": [
            {"name": "app", "image": "nginx:edited"}]}}}}),
    )
    .await;
    let ignore: &[(&str, &[&str])] = &[("Deployment", &["/spec/replicas"])];
    let report = env.applier.detect_drift(targets(ignore), &opts()).await;
    assert_eq!(report.drifted.len(), 1);
    let DriftKind::Modified(ops) = &report.drifted[0].kind else {
        panic!("{report:?}");
    };
    assert!(ops.iter().all(|o| o["path"] != "/spec/replicas"), "{ops:?}");
    env.applier
        .correct_drift(&report.drifted)
        .await
        .expect("corrected");
    let dep = env.get("apps/v1", "deployments", "d", "web").await.unwrap();
    assert_eq!(
        dep["spec"]["replicas"], 7,
        "the ignored field is left as edited"
    );
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    // Only the ignored field differs now.
    assert!(
        !env.applier
            .detect_drift(targets(ignore), &opts())
            .await
            .has_drift()
    );
    assert!(
        env.applier
            .detect_drift(targets(&[]), &opts())
            .await
            .has_drift()
    );
}

#[tokio::test]
async fn an_excluded_object_is_not_read_and_not_reported() {
    let env = applied().await;
    env.edit(
        "v1",
        "configmaps",
        "d",
        "cm",
        json!({"data": {"key": "edited"}}),
    )
    .await;
    env.requests.take();
    let report = env
        .applier
        .detect_drift(targets(&[("ConfigMap", &[""])]), &opts())
        .await;
    let reqs = env.requests.take();
    assert!(!report.has_drift(), "{report:?}");
    assert_eq!(
        report.excluded,
        [ObjectRef::new("", "ConfigMap", "d", "cm")]
    );
    assert!(!reqs.iter().any(|r| r.contains("configmaps")), "{reqs:?}");
}

#[tokio::test]
async fn a_correction_that_fails_names_the_object_and_keeps_what_was_corrected() {
    let env = applied().await;
    env.edit(
        "v1",
        "configmaps",
        "d",
        "cm",
        json!({"data": {"key": "edited"}}),
    )
    .await;
    env.edit(
        "apps/v1",
        "deployments",
        "d",
        "web",
        json!({"spec": {"replicas": 7}}),
    )
    .await;
    let report = env.applier.detect_drift(targets(&[]), &opts()).await;
    assert_eq!(report.drifted.len(), 2, "{report:?}");
    // Gone between detection and correction: its patch cannot apply.
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(env.client.clone(), "d");
    deployments
        .delete("web", &Default::default())
        .await
        .unwrap();
    let failure = env
        .applier
        .correct_drift(&report.drifted)
        .await
        .expect_err("the Deployment is gone");
    assert_eq!(failure.change_set.summary(), "ConfigMap/d/cm configured");
    assert!(
        failure
            .chain()
            .starts_with("Deployment/d/web drift correction failed: "),
        "{}",
        failure.chain()
    );
    let cm = env.get("v1", "configmaps", "d", "cm").await.unwrap();
    assert_eq!(cm["data"]["key"], "desired");
}
