//! Server-side diffs against kube-sim.

mod common;

use common::{Env, config_map, deployment, namespace, secret};
use gyre_apply::{Action, ApplyOptions, DiffOptions, Owner};
use serde_json::json;

fn owner() -> Owner {
    Owner::new("apps", "flux-system")
}

fn diff_opts() -> DiffOptions {
    DiffOptions {
        owner: Some(owner()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_diff_of_an_applied_set_has_no_changes_and_writes_nothing() {
    let env = Env::start().await;
    let set = vec![
        namespace("d"),
        config_map("d", "cm", "1"),
        deployment("d", "web", "nginx:1"),
    ];
    env.applier
        .apply(set.clone(), &ApplyOptions::for_owner(owner()))
        .await
        .expect("apply");
    env.requests.take();
    let d = env.applier.diff(set, &diff_opts()).await.expect("diff");
    assert!(!d.has_changes(), "{}", d.render());
    assert!(d.objects.iter().all(|o| o.action == Action::Unchanged));
    assert_eq!(d.render(), "");
    assert!(common::Requests::writes(&env.requests.take()).is_empty());
}

#[tokio::test]
async fn a_diff_shows_new_and_changed_objects_as_unified_diffs_without_applying_them() {
    let env = Env::start().await;
    let set = vec![namespace("d"), deployment("d", "web", "nginx:1")];
    env.applier
        .apply(set.clone(), &ApplyOptions::for_owner(owner()))
        .await
        .expect("apply");
    let mut next = set.clone();
    next[1]["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    next.push(config_map("d", "fresh", "hello"));
    let d = env.applier.diff(next, &diff_opts()).await.expect("diff");
    assert!(d.has_changes());
    let web = d.objects.iter().find(|o| o.object.name == "web").unwrap();
    assert_eq!(web.action, Action::Configured);
    assert!(
        web.unified.starts_with("--- live\n+++ merged\n"),
        "{}",
        web.unified
    );
    assert!(
        web.unified.contains("-        image: nginx:1\n"),
        "{}",
        web.unified
    );
    assert!(
        web.unified.contains("+        image: nginx:2\n"),
        "{}",
        web.unified
    );
    // Bookkeeping does not show up as change.
    assert!(!web.unified.contains("generation"), "{}", web.unified);
    assert!(!web.unified.contains("managedFields"), "{}", web.unified);
    let fresh = d.objects.iter().find(|o| o.object.name == "fresh").unwrap();
    assert_eq!(fresh.action, Action::Created);
    assert!(
        fresh.unified.contains("+  key: hello\n"),
        "{}",
        fresh.unified
    );
    let text = d.render();
    assert!(text.contains("► Deployment/d/web configured\n"), "{text}");
    assert!(text.contains("► ConfigMap/d/fresh created\n"), "{text}");
    // Nothing was applied.
    let live = env.get("apps/v1", "deployments", "d", "web").await.unwrap();
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1"
    );
    assert!(env.get("v1", "configmaps", "d", "fresh").await.is_none());
}

#[tokio::test]
async fn secret_values_are_masked_in_diffs() {
    let env = Env::start().await;
    // "aHVudGVyMg==" is "hunter2"; "Y29ycmVjdC1ob3JzZQ==" is "correct-horse".
    let mut s = secret("default", "creds", "aHVudGVyMg==");
    s["data"]["user"] = json!("YWRtaW4=");
    env.applier
        .apply(vec![s.clone()], &ApplyOptions::for_owner(owner()))
        .await
        .expect("apply");
    s["data"]["password"] = json!("Y29ycmVjdC1ob3JzZQ==");
    let mut fresh = secret("default", "new-creds", "c2VjcmV0");
    fresh["stringData"] = json!({"token": "plain-text-token"});
    let d = env
        .applier
        .diff(vec![s, fresh], &diff_opts())
        .await
        .expect("diff");
    let all: String = d.objects.iter().map(|o| o.unified.clone()).collect();
    for secret_text in [
        "aHVudGVyMg==",
        "hunter2",
        "Y29ycmVjdC1ob3JzZQ==",
        "YWRtaW4=",
        "c2VjcmV0",
        "plain-text-token",
    ] {
        assert!(!all.contains(secret_text), "{secret_text} leaked:\n{all}");
    }
    let creds = d.objects.iter().find(|o| o.object.name == "creds").unwrap();
    assert_eq!(creds.action, Action::Configured);
    assert!(
        creds.unified.contains("-  password: '*** (before)'"),
        "{}",
        creds.unified
    );
    assert!(
        creds.unified.contains("+  password: '*** (after)'"),
        "{}",
        creds.unified
    );
    assert!(
        creds.unified.contains("\n   user: '***'\n"),
        "an unchanged key is context, masked:\n{}",
        creds.unified
    );
}

#[tokio::test]
async fn a_diff_without_an_owner_reads_each_object_and_reports_drift() {
    let env = Env::start().await;
    env.applier
        .apply(
            vec![config_map("default", "cm", "1")],
            &ApplyOptions::default(),
        )
        .await
        .expect("apply");
    env.edit(
        "v1",
        "configmaps",
        "default",
        "cm",
        json!({"data": {"key": "2"}}),
    )
    .await;
    env.requests.take();
    let d = env
        .applier
        .diff(
            vec![config_map("default", "cm", "1")],
            &DiffOptions::default(),
        )
        .await
        .expect("diff");
    assert_eq!(d.objects[0].action, Action::Configured);
    assert!(
        d.objects[0].unified.contains("-  key: '2'"),
        "{}",
        d.objects[0].unified
    );
    let reqs = env.requests.take();
    assert!(
        reqs.iter()
            .any(|r| r.starts_with("GET /api/v1/namespaces/default/configmaps/cm")),
        "{reqs:?}"
    );
}

#[tokio::test]
async fn a_diff_reports_custom_resources_of_a_new_crd_as_created() {
    let env = Env::start().await;
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
      "metadata": {"name": "gadgets.example.com"},
      "spec": {"group": "example.com", "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [{"name": "v1", "served": true, "storage": true,
          "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let cr = json!({"apiVersion": "example.com/v1", "kind": "Gadget",
                    "metadata": {"name": "g", "namespace": "default"}, "spec": {"x": 1}});
    let d = env
        .applier
        .diff(vec![cr, crd], &diff_opts())
        .await
        .expect("diff");
    assert!(
        d.objects.iter().all(|o| o.action == Action::Created),
        "{:?}",
        d.objects
    );
    assert_eq!(d.objects.len(), 2);
}
