//! The apply engine against kube-sim: apply, re-apply, drift, ssa policies, force, CRDs,
//! prune, health, faults.

mod common;

use std::time::Duration;

use common::{Env, Requests, config_map, deployment, mixed_set, namespace, secret, service};
use gyre_apply::{
    Action, ApplyOptions, Error, Inventory, ObjectRef, Owner, PruneOptions, RequestOptions,
    WaitOptions,
};
use kube_sim::{FaultRule, WorkloadMode};
use serde_json::{Value, json};

fn owner() -> Owner {
    Owner::new("apps", "flux-system")
}

fn opts() -> ApplyOptions {
    ApplyOptions::for_owner(owner())
}

fn action_of(cs: &gyre_apply::ChangeSet, group: &str, kind: &str, ns: &str, name: &str) -> Action {
    cs.get(&ObjectRef::new(group, kind, ns, name))
        .unwrap_or_else(|| panic!("{kind}/{ns}/{name} not in change set"))
        .action
}

#[tokio::test]
async fn apply_creates_every_object_labels_it_for_its_owner_and_records_flux_inventory() {
    let env = Env::start().await;
    let set = vec![
        deployment("team-a", "web", "nginx:1.27"),
        config_map("team-a", "settings", "v1"),
        namespace("team-a"),
        service("team-a", "web"),
    ];
    let res = env.applier.apply(set, &opts()).await.expect("apply");
    let order: Vec<String> = res
        .change_set()
        .entries
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        order,
        [
            "Namespace/team-a created",
            "ConfigMap/team-a/settings created",
            "Service/team-a/web created",
            "Deployment/team-a/web created",
        ]
    );
    let dep = env
        .get("apps/v1", "deployments", "team-a", "web")
        .await
        .expect("exists");
    assert_eq!(
        dep["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"],
        "apps"
    );
    assert_eq!(
        dep["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/namespace"],
        "flux-system"
    );
    assert!(
        dep["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["manager"] == "gyre" && m["operation"] == "Apply")
    );
    let inv = serde_json::to_value(res.inventory()).unwrap();
    assert_eq!(
        inv,
        json!({"entries": [
            {"id": "_team-a__Namespace", "v": "v1"},
            {"id": "team-a_settings__ConfigMap", "v": "v1"},
            {"id": "team-a_web__Service", "v": "v1"},
            {"id": "team-a_web_apps_Deployment", "v": "v1"},
        ]})
    );
}

#[tokio::test]
async fn reapplying_an_unchanged_set_writes_nothing_and_sends_one_list_per_type_and_namespace() {
    let env = Env::start().await;
    let set = mixed_set(&["a", "b"], 12);
    env.requests.take();
    env.applier
        .apply(set.clone(), &opts())
        .await
        .expect("first apply");
    // First apply: discovery, one LIST per type and namespace, then a dry-run and an
    // apply per object.
    let first = env.requests.take();
    assert_eq!(Requests::writes(&first).len(), set.len(), "{first:?}");
    assert_eq!(
        first.iter().filter(|r| r.contains("dryRun=All")).count(),
        set.len()
    );
    let rv_before = env.sim.resource_version();
    let res = env
        .applier
        .apply(set.clone(), &opts())
        .await
        .expect("re-apply");
    let reqs = env.requests.take();
    assert!(
        res.change_set()
            .entries
            .iter()
            .all(|e| e.action == Action::Unchanged),
        "{:?}",
        res.change_set()
    );
    assert!(!res.change_set().has_changes());
    assert!(Requests::writes(&reqs).is_empty(), "writes: {reqs:?}");
    assert!(
        !reqs.iter().any(|r| r.contains("dryRun")),
        "no dry-run needed: {reqs:?}"
    );
    // Namespaces (1 list) + 4 kinds × 2 namespaces; discovery is cached.
    assert_eq!(reqs.len(), 9, "{reqs:?}");
    assert!(reqs.len() < set.len());
    assert_eq!(env.sim.resource_version(), rv_before, "nothing was written");
}

#[tokio::test]
async fn drift_made_in_the_cluster_is_detected_and_corrected() {
    let env = Env::start().await;
    let set = vec![
        namespace("d"),
        config_map("d", "cm", "desired"),
        deployment("d", "web", "nginx:1.27"),
    ];
    env.applier
        .apply(set.clone(), &opts())
        .await
        .expect("apply");
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
    let res = env.applier.apply(set, &opts()).await.expect("re-apply");
    let cs = res.change_set();
    assert_eq!(
        action_of(cs, "", "ConfigMap", "d", "cm"),
        Action::Configured
    );
    assert_eq!(
        action_of(cs, "apps", "Deployment", "d", "web"),
        Action::Configured
    );
    assert_eq!(action_of(cs, "", "Namespace", "", "d"), Action::Unchanged);
    let cm = env.get("v1", "configmaps", "d", "cm").await.unwrap();
    assert_eq!(cm["data"]["key"], "desired");
    let dep = env.get("apps/v1", "deployments", "d", "web").await.unwrap();
    assert_eq!(dep["spec"]["replicas"], 2);
}

#[tokio::test]
async fn a_changed_manifest_configures_only_the_changed_object() {
    let env = Env::start().await;
    let mut set = vec![
        namespace("c"),
        config_map("c", "one", "1"),
        config_map("c", "two", "2"),
    ];
    env.applier
        .apply(set.clone(), &opts())
        .await
        .expect("apply");
    set[2]["data"]["key"] = json!("22");
    env.requests.take();
    let res = env.applier.apply(set, &opts()).await.expect("re-apply");
    let reqs = env.requests.take();
    let cs = res.change_set();
    assert_eq!(
        action_of(cs, "", "ConfigMap", "c", "one"),
        Action::Unchanged
    );
    assert_eq!(
        action_of(cs, "", "ConfigMap", "c", "two"),
        Action::Configured
    );
    let writes = Requests::writes(&reqs);
    assert_eq!(writes.len(), 1, "{reqs:?}");
    assert!(writes[0].contains("/configmaps/two"));
}

#[tokio::test]
async fn ssa_ignore_objects_are_skipped_and_if_not_present_objects_are_only_created() {
    let env = Env::start().await;
    let mut ignored = config_map("default", "ignored", "x");
    ignored["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/ssa": "Ignore"});
    let mut once = config_map("default", "once", "first");
    once["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"});
    let res = env
        .applier
        .apply(vec![ignored.clone(), once.clone()], &opts())
        .await
        .expect("apply");
    let cs = res.change_set();
    assert_eq!(
        action_of(cs, "", "ConfigMap", "default", "ignored"),
        Action::Skipped
    );
    assert_eq!(
        action_of(cs, "", "ConfigMap", "default", "once"),
        Action::Created
    );
    assert!(
        env.get("v1", "configmaps", "default", "ignored")
            .await
            .is_none()
    );
    once["data"]["key"] = json!("second");
    let res = env.applier.apply(vec![once], &opts()).await.expect("apply");
    assert_eq!(
        action_of(res.change_set(), "", "ConfigMap", "default", "once"),
        Action::Skipped
    );
    let cm = env
        .get("v1", "configmaps", "default", "once")
        .await
        .unwrap();
    assert_eq!(cm["data"]["key"], "first");
}

#[tokio::test]
async fn an_immutable_field_change_fails_the_dry_run_unless_forced_and_then_recreates_the_object() {
    let env = Env::start().await;
    let set = vec![namespace("f"), deployment("f", "web", "nginx:1")];
    env.applier
        .apply(set.clone(), &opts())
        .await
        .expect("apply");
    let uid =
        env.get("apps/v1", "deployments", "f", "web").await.unwrap()["metadata"]["uid"].clone();
    let mut changed = set.clone();
    changed[1]["spec"]["selector"]["matchLabels"]["tier"] = json!("front");
    changed[1]["spec"]["template"]["metadata"]["labels"]["tier"] = json!("front");

    let failure = env
        .applier
        .apply(changed.clone(), &opts())
        .await
        .expect_err("immutable selector");
    assert!(
        matches!(&failure.errors[..], [Error::DryRunFailed { object, source }]
            if object == "Deployment/f/web" && source.is_immutable()),
        "{}",
        failure.chain()
    );
    assert!(
        failure.chain().contains("field is immutable"),
        "{}",
        failure.chain()
    );

    // The annotation forces one object; the option forces all.
    let mut annotated = changed.clone();
    annotated[1]["metadata"]["annotations"] =
        json!({"kustomize.toolkit.fluxcd.io/force": "enabled"});
    let res = env
        .applier
        .apply(annotated, &opts())
        .await
        .expect("forced apply");
    assert_eq!(
        action_of(res.change_set(), "apps", "Deployment", "f", "web"),
        Action::Created
    );
    let dep = env.get("apps/v1", "deployments", "f", "web").await.unwrap();
    assert_ne!(dep["metadata"]["uid"], uid, "recreated");
    assert_eq!(dep["spec"]["selector"]["matchLabels"]["tier"], "front");

    let mut back = set.clone();
    back[1]["spec"]["replicas"] = json!(1);
    let forced = ApplyOptions {
        force: true,
        ..opts()
    };
    let res = env
        .applier
        .apply(back, &forced)
        .await
        .expect("forced by option");
    assert_eq!(
        action_of(res.change_set(), "apps", "Deployment", "f", "web"),
        Action::Created
    );
}

fn widget_crd() -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
      "metadata": {"name": "widgets.example.com"},
      "spec": {"group": "example.com", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [{"name": "v1", "served": true, "storage": true,
          "schema": {"openAPIV3Schema": {"type": "object", "properties": {
            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}})
}

fn widget(ns: &str, name: &str, size: i64) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget",
           "metadata": {"name": name, "namespace": ns}, "spec": {"size": size}})
}

#[tokio::test]
async fn a_crd_and_its_custom_resources_apply_in_one_set() {
    let env = Env::start().await;
    let set = vec![
        widget("w", "small", 1),
        widget("w", "large", 9),
        namespace("w"),
        widget_crd(),
    ];
    let res = env
        .applier
        .apply(set.clone(), &opts())
        .await
        .expect("apply");
    let first: Vec<String> = res
        .change_set()
        .entries
        .iter()
        .map(|e| e.object.kind.clone())
        .collect();
    assert_eq!(
        first,
        ["CustomResourceDefinition", "Namespace", "Widget", "Widget"]
    );
    assert!(
        res.change_set()
            .entries
            .iter()
            .all(|e| e.action == Action::Created)
    );
    let w = env
        .get("example.com/v1", "widgets", "w", "large")
        .await
        .unwrap();
    assert_eq!(w["spec"]["size"], 9);
    assert!(
        res.inventory()
            .entries
            .iter()
            .any(|e| e.id == "w_large_example.com_Widget" && e.v == "v1")
    );
    let again = env.applier.apply(set, &opts()).await.expect("re-apply");
    assert!(
        !again.change_set().has_changes(),
        "{:?}",
        again.change_set()
    );
}

#[tokio::test]
async fn an_unknown_kind_fails_the_run_before_anything_is_written() {
    let env = Env::start().await;
    let set = vec![
        namespace("u"),
        config_map("u", "cm", "x"),
        widget("u", "orphan", 1),
    ];
    let failure = env
        .applier
        .apply(set, &opts())
        .await
        .expect_err("unknown kind");
    assert!(
        matches!(&failure.errors[..], [Error::UnknownKind { object, .. }] if object == "Widget/u/orphan"),
        "{}",
        failure.chain()
    );
    assert!(failure.change_set.entries.is_empty());
    assert!(env.get("v1", "namespaces", "", "u").await.is_none());
}

#[tokio::test]
async fn prune_deletes_what_left_the_inventory_and_nothing_else() {
    let env = Env::start().await;
    let full = vec![
        namespace("p"),
        namespace("gone"),
        config_map("p", "keep", "1"),
        config_map("p", "drop", "2"),
        config_map("gone", "inside", "3"),
    ];
    let first = env.applier.apply(full, &opts()).await.expect("apply");
    let previous = first.inventory().clone();
    let second = env
        .applier
        .apply(vec![namespace("p"), config_map("p", "keep", "1")], &opts())
        .await
        .expect("apply");
    let pruned = env
        .applier
        .prune(&second, &previous, &PruneOptions::for_owner(owner()))
        .await
        .expect("prune");
    let deleted: Vec<String> = pruned.entries.iter().map(ToString::to_string).collect();
    assert_eq!(
        deleted,
        [
            "ConfigMap/p/drop deleted",
            "ConfigMap/gone/inside deleted",
            "Namespace/gone deleted",
        ],
        "namespaces last"
    );
    assert!(env.get("v1", "configmaps", "p", "drop").await.is_none());
    assert!(env.get("v1", "configmaps", "p", "keep").await.is_some());
    // The namespace is terminating or gone (its content is garbage-collected).
    let ns = env.get("v1", "namespaces", "", "gone").await;
    assert!(ns.is_none_or(|n| !n["metadata"]["deletionTimestamp"].is_null()));
    // Pruning again finds nothing left to do.
    let again = env
        .applier
        .prune(&second, &previous, &PruneOptions::for_owner(owner()))
        .await
        .expect("prune");
    assert!(!again.entries.iter().any(|e| e.object.kind == "ConfigMap"));
}

#[tokio::test]
async fn prune_keeps_objects_annotated_prune_disabled() {
    let env = Env::start().await;
    let mut kept = config_map("default", "precious", "1");
    kept["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/prune": "disabled"});
    let first = env
        .applier
        .apply(vec![kept, config_map("default", "plain", "2")], &opts())
        .await
        .expect("apply");
    let second = env
        .applier
        .apply(vec![], &opts())
        .await
        .expect("empty apply");
    assert!(second.inventory().is_empty());
    let cs = env
        .applier
        .prune(
            &second,
            first.inventory(),
            &PruneOptions::for_owner(owner()),
        )
        .await
        .expect("prune");
    assert_eq!(
        action_of(&cs, "", "ConfigMap", "default", "precious"),
        Action::Skipped
    );
    assert_eq!(
        action_of(&cs, "", "ConfigMap", "default", "plain"),
        Action::Deleted
    );
    assert!(
        env.get("v1", "configmaps", "default", "precious")
            .await
            .is_some()
    );
    assert!(
        env.get("v1", "configmaps", "default", "plain")
            .await
            .is_none()
    );
}

#[tokio::test]
async fn prune_must_not_delete_objects_owned_by_another_kustomization() {
    let env = Env::start().await;
    let first = env
        .applier
        .apply(vec![config_map("default", "shared", "mine")], &opts())
        .await
        .expect("apply");
    // Another Kustomization takes the object over (its labels now name it).
    let other = ApplyOptions::for_owner(Owner::new("other", "flux-system"));
    env.applier
        .apply(vec![config_map("default", "shared", "theirs")], &other)
        .await
        .expect("takeover");
    let second = env.applier.apply(vec![], &opts()).await.expect("apply");
    let cs = env
        .applier
        .prune(
            &second,
            first.inventory(),
            &PruneOptions::for_owner(owner()),
        )
        .await
        .expect("prune");
    assert_eq!(
        action_of(&cs, "", "ConfigMap", "default", "shared"),
        Action::Skipped
    );
    let cm = env
        .get("v1", "configmaps", "default", "shared")
        .await
        .unwrap();
    assert_eq!(cm["data"]["key"], "theirs");
}

#[tokio::test]
async fn wait_passes_once_workloads_are_ready() {
    let env = Env::start().await;
    let set = vec![
        namespace("h"),
        deployment("h", "web", "nginx:1"),
        service("h", "web"),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "h"},
               "spec": {"template": {"spec": {"restartPolicy": "Never",
                 "containers": [{"name": "m", "image": "busybox"}]}}}}),
    ];
    let res = env.applier.apply(set, &opts()).await.expect("apply");
    let targets = res.health_targets();
    let quick = WaitOptions {
        timeout: Duration::from_millis(300),
        ..Default::default()
    };
    // With the workload controller off, nothing rolls out.
    let err = env
        .applier
        .wait(&targets, &quick)
        .await
        .expect_err("not ready");
    assert!(
        matches!(&err, Error::HealthCheckTimeout { pending } if pending.len() == 2),
        "{err}"
    );
    let sim_ready = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        env.sim.set_workload_mode(WorkloadMode::Ready);
    };
    let long = WaitOptions {
        timeout: Duration::from_secs(10),
        ..Default::default()
    };
    let (waited, ()) = tokio::join!(env.applier.wait(&targets, &long), sim_ready);
    waited.expect("healthy");
}

#[tokio::test]
async fn wait_fails_fast_when_a_rollout_exceeds_its_progress_deadline() {
    let env = Env::start().await;
    env.sim.set_workload_mode(WorkloadMode::Fail);
    let res = env
        .applier
        .apply(vec![deployment("default", "broken", "nginx:404")], &opts())
        .await
        .expect("apply");
    let started = std::time::Instant::now();
    let err = env
        .applier
        .wait(&res.health_targets(), &WaitOptions::default())
        .await
        .expect_err("failed rollout");
    assert!(
        matches!(&err, Error::HealthCheckFailed { object, message }
            if object == "Deployment/default/broken" && message.contains("ProgressDeadlineExceeded")),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "failed fast");
}

#[tokio::test]
async fn wait_times_out_naming_each_stuck_object_and_its_status() {
    let env = Env::start().await;
    env.sim.set_workload_mode(WorkloadMode::Stuck);
    let res = env
        .applier
        .apply(
            vec![
                deployment("default", "stuck", "nginx:1"),
                config_map("default", "fine", "x"),
            ],
            &opts(),
        )
        .await
        .expect("apply");
    let err = env
        .applier
        .wait(
            &res.health_targets(),
            &WaitOptions {
                timeout: Duration::from_millis(800),
                ..Default::default()
            },
        )
        .await
        .expect_err("timeout");
    let msg = err.to_string();
    assert!(
        msg.starts_with("timeout waiting for: [Deployment/default/stuck status: 'InProgress: "),
        "{msg}"
    );
    assert!(!msg.contains("ConfigMap"), "{msg}");
}

#[tokio::test]
async fn wait_checks_an_explicit_health_check_list_and_survives_dropped_watches() {
    let env = Env::start().await;
    env.applier
        .apply(
            vec![
                deployment("default", "a", "nginx:1"),
                deployment("default", "b", "nginx:1"),
            ],
            &opts(),
        )
        .await
        .expect("apply");
    // Only `b` is checked (a Kustomization's healthChecks); every watch drops after 150 ms.
    env.sim
        .add_fault(FaultRule::drop_watch_after(Duration::from_millis(150)));
    let (b, v) = ObjectRef::from_api_version("apps/v1", "Deployment", "default", "b");
    let ready_later = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        env.sim.set_workload_mode(WorkloadMode::Ready);
    };
    let targets = [(b, v)];
    let long = WaitOptions {
        timeout: Duration::from_secs(15),
        ..Default::default()
    };
    let (waited, ()) = tokio::join!(env.applier.wait(&targets, &long), ready_later);
    waited.expect("healthy across dropped watches");
}

fn fast_retries() -> RequestOptions {
    RequestOptions {
        timeout: Duration::from_millis(500),
        attempts: 3,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    }
}

#[tokio::test]
async fn transient_api_errors_are_retried_and_the_run_succeeds() {
    let env = Env::start().await;
    let applier = env.applier.clone().with_request_options(fast_retries());
    for code in [500, 429, 409, 503] {
        env.sim.add_fault(
            FaultRule::error(code)
                .on_verb("patch")
                .on_resource("configmaps")
                .times(1),
        );
    }
    let res = applier
        .apply(
            vec![
                config_map("default", "a", "1"),
                config_map("default", "b", "2"),
            ],
            &opts(),
        )
        .await
        .expect("retries absorb one-off faults");
    assert_eq!(res.change_set().with_action(Action::Created).count(), 2);
}

#[tokio::test]
async fn persistent_api_faults_fail_the_run_keep_the_inventory_consistent_and_prune_nothing() {
    let env = Env::start().await;
    let applier = env.applier.clone().with_request_options(fast_retries());
    let v1 = vec![
        namespace("x"),
        config_map("x", "old", "1"),
        deployment("x", "web", "nginx:1"),
    ];
    let first = applier.apply(v1, &opts()).await.expect("apply");
    let previous = first.inventory().clone();
    // The next revision drops `old` and adds things; the API then misbehaves.
    let v2 = vec![
        namespace("x"),
        config_map("x", "new", "2"),
        deployment("x", "web", "nginx:2"),
    ];
    for (fault, verb, what) in [
        (FaultRule::error(500), "patch", "deployments"),
        (FaultRule::error(429), "patch", "deployments"),
        (FaultRule::error(409), "patch", "deployments"),
        (
            FaultRule::latency(Duration::from_secs(2)),
            "patch",
            "deployments",
        ),
        (FaultRule::error(503), "list", "configmaps"),
    ] {
        env.sim.clear_faults();
        env.sim.add_fault(fault.on_verb(verb).on_resource(what));
        let failure = applier
            .apply(v2.clone(), &opts())
            .await
            .expect_err("apply fails under a persistent fault");
        assert!(!failure.errors.is_empty());
        let kept = failure.inventory_with(&previous);
        // Nothing old is forgotten…
        for e in &previous.entries {
            assert!(kept.entries.contains(e), "{} lost from {kept:?}", e.id);
        }
        // …and whatever this run created is remembered.
        if failure
            .change_set
            .get(&ObjectRef::new("", "ConfigMap", "x", "new"))
            .is_some_and(|e| e.action == Action::Created)
        {
            assert!(kept.entries.iter().any(|e| e.id == "x_new__ConfigMap"));
        }
        // No prune happened: `old` is still there.
        assert!(env.get("v1", "configmaps", "x", "old").await.is_some());
        env.sim.clear_faults();
    }
    // Once the API recovers, apply and prune complete.
    let ok = applier.apply(v2, &opts()).await.expect("recovered");
    let pruned = applier
        .prune(&ok, &previous, &PruneOptions::for_owner(owner()))
        .await
        .expect("prune");
    assert_eq!(
        action_of(&pruned, "", "ConfigMap", "x", "old"),
        Action::Deleted
    );
}

#[tokio::test]
async fn a_failed_prune_reports_the_object_and_keeps_namespaces() {
    let env = Env::start().await;
    let applier = env.applier.clone().with_request_options(fast_retries());
    let first = applier
        .apply(vec![namespace("z"), config_map("z", "c", "1")], &opts())
        .await
        .expect("apply");
    let second = applier.apply(vec![], &opts()).await.expect("apply");
    env.sim.add_fault(
        FaultRule::error(500)
            .on_verb("delete")
            .on_resource("configmaps"),
    );
    let failure = applier
        .prune(
            &second,
            first.inventory(),
            &PruneOptions::for_owner(owner()),
        )
        .await
        .expect_err("prune fails");
    assert!(
        matches!(&failure.errors[..], [Error::PruneFailed { object, .. }] if object == "ConfigMap/z/c"),
        "{}",
        failure.chain()
    );
    let ns = env.get("v1", "namespaces", "", "z").await.unwrap();
    assert!(
        ns["metadata"]["deletionTimestamp"].is_null(),
        "namespace kept"
    );
}

#[tokio::test]
async fn an_apply_error_about_a_secret_names_it_without_its_value() {
    let env = Env::start().await;
    // Not valid base64: refused by the API server. (Values the server would quote are
    // scrubbed too; see mask::scrub_error's unit test.)
    let bad = secret("default", "creds", "hunter2-not-base64!");
    let failure = env
        .applier
        .apply(vec![bad], &opts())
        .await
        .expect_err("invalid secret");
    let text = format!("{}\n{:?}", failure.chain(), failure.errors);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("Secret/default/creds"), "{text}");
}

#[test]
fn an_empty_failure_inventory_keeps_the_previous_one() {
    let prev = Inventory::from_refs([(&ObjectRef::new("", "ConfigMap", "a", "b"), "v1")]);
    assert_eq!(prev.union(&Inventory::default()), prev);
}

/// A ConfigMap owned by `parent` (an ownerReference with its uid), created directly.
async fn child_of(env: &Env, ns: &str, name: &str, parent: &str) {
    let uid = env.get("v1", "configmaps", ns, parent).await.unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(env.client.clone(), ns);
    let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns, "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": parent, "uid": uid}
        ]},
        "data": {"k": "v"},
    }))
    .unwrap();
    api.create(&Default::default(), &cm).await.unwrap();
}

#[tokio::test]
async fn prune_honours_the_deletion_propagation_and_wait_deleted_waits_until_objects_are_gone() {
    let env = Env::start().await;
    let first = env
        .applier
        .apply(
            vec![
                config_map("default", "orphaning", "1"),
                config_map("default", "foreground", "2"),
            ],
            &opts(),
        )
        .await
        .expect("apply");
    child_of(&env, "default", "orphan-child", "orphaning").await;
    child_of(&env, "default", "fg-child", "foreground").await;
    let nothing = env.applier.apply(vec![], &opts()).await.expect("apply");
    let refs = first.inventory().refs();
    let timeout = Duration::from_secs(10);

    // Orphan: the owner goes, its dependent stays without the reference.
    let mut prune = PruneOptions::for_owner(owner());
    prune.propagation = gyre_apply::Propagation::Orphan;
    let only = |name: &str| {
        Inventory::from_refs(
            refs.iter()
                .filter(|(r, _)| r.name == name)
                .map(|(r, v)| (r, v.as_str())),
        )
    };
    env.applier
        .prune(&nothing, &only("orphaning"), &prune)
        .await
        .expect("prune");
    env.applier
        .wait_deleted(&only("orphaning").refs(), timeout)
        .await
        .expect("gone");
    let child = env
        .get("v1", "configmaps", "default", "orphan-child")
        .await
        .expect("the orphaned dependent stays");
    assert!(child["metadata"]["ownerReferences"].is_null(), "{child}");

    // Foreground: the dependent goes first, then the owner; wait_deleted sees both gone.
    prune.propagation = gyre_apply::Propagation::Foreground;
    env.applier
        .prune(&nothing, &only("foreground"), &prune)
        .await
        .expect("prune");
    env.applier
        .wait_deleted(&only("foreground").refs(), timeout)
        .await
        .expect("gone");
    assert!(
        env.get("v1", "configmaps", "default", "fg-child")
            .await
            .is_none()
    );

    // An object held by a finalizer is still there at the timeout, and named.
    let mut held = config_map("default", "held", "3");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    let applied = env.applier.apply(vec![held], &opts()).await.expect("apply");
    env.applier
        .prune(
            &nothing,
            applied.inventory(),
            &PruneOptions::for_owner(owner()),
        )
        .await
        .expect("prune");
    let err = env
        .applier
        .wait_deleted(&applied.inventory().refs(), Duration::from_millis(300))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "timeout waiting for the deletion of: [ConfigMap/default/held]"
    );
    assert_eq!(
        gyre_apply::Propagation::parse("Foreground"),
        Some(gyre_apply::Propagation::Foreground)
    );
    assert_eq!(gyre_apply::Propagation::parse("sideways"), None);
}
