//! Each built-in plugin, run through the real host, does its job.

use gyre_plugin::types::{Event, ObjectReference, Provider};
use gyre_plugin::{EngineOptions, Limits, PluginEngine, World};
use serde_json::json;

fn load(name: &str, world: World) -> gyre_plugin::Plugin {
    let engine = PluginEngine::new(EngineOptions::default()).unwrap();
    let b = gyre_builtins::get(name).unwrap_or_else(|| panic!("builtin {name}"));
    assert_eq!(b.world, world.to_string());
    engine
        .load_as(
            &format!("builtin:{name}"),
            b.bytes,
            world,
            Limits::default(),
        )
        .unwrap()
}

#[test]
fn manifests_renderer_renders_a_tree_in_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("apps/podinfo")).unwrap();
    std::fs::write(dir.path().join("apps/podinfo/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo\ndata:\n  replicas: \"2\"\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: podinfo\n").unwrap();
    let out = load("manifests", World::Renderer)
        .render(dir.path(), "apps/podinfo", "{}")
        .unwrap();
    assert_eq!(out.objects.len(), 2);
    assert_eq!(out.objects[0]["data"]["replicas"], "2");
    assert_eq!(out.objects[1]["kind"], "Service");
}

#[test]
fn manifests_renderer_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: v1\nkind: ConfigMap\n",
    )
    .unwrap();
    let err = load("manifests", World::Renderer)
        .render(dir.path(), ".", "{}")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.yaml") && err.contains("metadata.name"),
        "{err}"
    );
}

#[test]
fn metadata_transform_sets_namespace_and_labels() {
    let out = load("metadata", World::Transform)
        .transform(
            &[
                json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}),
                json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"apps"}}),
            ],
            r#"{"namespace":"apps","labels":{"team":"platform"}}"#,
        )
        .unwrap();
    assert_eq!(out[0]["metadata"]["namespace"], "apps");
    assert!(out[1]["metadata"].get("namespace").is_none());
    assert_eq!(out[1]["metadata"]["labels"]["team"], "platform");
}

#[test]
fn image_policy_selects_like_flux() {
    let p = load("image-policy", World::ImagePolicy);
    let tags: Vec<String> = ["6.0.0", "6.1.0-rc.1", "6.0.3", "5.9.9", "latest"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let sel = p
        .select_tag(&tags, r#"{"policy":{"semver":{"range":">=6.0.0 <7.0.0"}}}"#)
        .unwrap()
        .unwrap();
    assert_eq!(sel.tag, "6.0.3");
    assert!(
        p.select_tag(&tags, r#"{"policy":{"semver":{"range":">=9.0.0"}}}"#)
            .unwrap()
            .is_none()
    );
    let err = p
        .select_tag(&tags, r#"{"policy":{"semver":{"range":"nope"}}}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("invalid configuration") && err.contains("policy.semver.range"),
        "{err}"
    );
}

#[test]
fn webhook_notifier_builds_the_generic_hmac_request() {
    let event = Event {
        involved_object: ObjectReference {
            kind: "GitRepository".into(),
            namespace: "flux-system".into(),
            name: "podinfo".into(),
            uid: String::new(),
            api_version: "source.toolkit.fluxcd.io/v1".into(),
            resource_version: String::new(),
        },
        severity: "info".into(),
        timestamp: "2026-11-20T00:00:00Z".into(),
        message: "stored artifact".into(),
        reason: "NewArtifact".into(),
        metadata: vec![("revision".into(), "main@sha1:0123".into())],
        reporting_controller: "source-controller".into(),
        reporting_instance: String::new(),
    };
    let provider = Provider {
        kind: "generic-hmac".into(),
        address: "https://hooks.example/flux".into(),
        channel: None,
        username: None,
        token: Some("key".into()),
        headers: vec![],
        config: "{}".into(),
    };
    let reqs = load("webhook", World::Notifier)
        .notify(&event, &provider)
        .unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body["involvedObject"]["name"], "podinfo");
    assert!(
        reqs[0]
            .headers
            .iter()
            .any(|(k, v)| k == "X-Signature" && v.starts_with("sha256="))
    );
}
