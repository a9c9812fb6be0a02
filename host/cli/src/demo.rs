//! `gyre demo`: Gyre's pipeline on an embedded example, with no cluster and
//! no network: render → transform with the built-in plugins in the sandbox,
//! then pick an image tag and build the notification that would be sent.

use crate::output::write_yaml;
use crate::plugins::Plugins;
use crate::progress::Step;
use gyre_plugin::types::{Event, ObjectReference, Provider};
use gyre_plugin::{Limits, World};

const EXAMPLE: &[(&str, &str)] = &[
    (
        "podinfo/deployment.yaml",
        include_str!("../demo/podinfo/deployment.yaml"),
    ),
    (
        "podinfo/service.yaml",
        include_str!("../demo/podinfo/service.yaml"),
    ),
    (
        "podinfo/config.yaml",
        include_str!("../demo/podinfo/config.yaml"),
    ),
];

/// Tags a registry might list for podinfo.
const TAGS: &[&str] = &[
    "6.4.1",
    "6.5.0",
    "6.5.4",
    "6.6.0-rc.1",
    "6.6.0",
    "7.0.0-beta.1",
    "latest",
];

/// Runs the demo, printing the rendered objects on stdout.
pub async fn run(plugins: &Plugins) -> anyhow::Result<()> {
    let tree = tempfile::tempdir()?;
    for (path, body) in EXAMPLE {
        let p = tree.path().join(path);
        std::fs::create_dir_all(p.parent().expect("example files are in a folder"))?;
        std::fs::write(p, body)?;
    }

    let step = Step::start("rendering the embedded podinfo example with builtin:manifests");
    let renderer = plugins
        .load("builtin:manifests", World::Renderer, Limits::default())
        .await?;
    let rendered = renderer.render(tree.path(), "podinfo", "{}")?;
    step.done(format!("({} objects)", rendered.objects.len()));

    let step = Step::start("applying targetNamespace and commonMetadata with builtin:metadata");
    let transform = plugins
        .load("builtin:metadata", World::Transform, Limits::default())
        .await?;
    let config = r#"{"namespace":"demo","labels":{"app.kubernetes.io/managed-by":"gyre"}}"#;
    let objects = transform.transform(&rendered.objects, config)?;
    step.done(format!("({} objects)", objects.len()));

    let step = Step::start("choosing the podinfo image with builtin:image-policy (semver ^6)");
    let policy = plugins
        .load(
            "builtin:image-policy",
            World::ImagePolicy,
            Limits::default(),
        )
        .await?;
    let tags: Vec<String> = TAGS.iter().map(|t| t.to_string()).collect();
    let selected = policy.select_tag(&tags, r#"{"policy":{"semver":{"range":"^6"}}}"#)?;
    let tag = selected.map(|s| s.tag).unwrap_or_else(|| "none".into());
    step.done(format!("→ {tag} (of {})", TAGS.join(", ")));

    let step = Step::start("building the webhook notification with builtin:webhook");
    let notifier = plugins
        .load("builtin:webhook", World::Notifier, Limits::default())
        .await?;
    let event = Event {
        involved_object: ObjectReference {
            kind: "Kustomization".into(),
            namespace: "flux-system".into(),
            name: "podinfo".into(),
            uid: String::new(),
            api_version: "kustomize.toolkit.fluxcd.io/v1".into(),
            resource_version: String::new(),
        },
        severity: "info".into(),
        timestamp: "2026-01-01T00:00:00Z".into(),
        message: format!("Deployment/demo/podinfo configured (image {tag})"),
        reason: "ReconciliationSucceeded".into(),
        metadata: vec![(
            "revision".into(),
            "main@sha1:0000000000000000000000000000000000000000".into(),
        )],
        reporting_controller: "kustomize-controller".into(),
        reporting_instance: String::new(),
    };
    let provider = Provider {
        kind: "generic".into(),
        address: "https://hooks.example.com/gyre".into(),
        channel: None,
        username: None,
        token: None,
        headers: vec![],
        config: "{}".into(),
    };
    let requests = notifier.notify(&event, &provider)?;
    let summary: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {} ({} bytes, not sent)", r.method, r.url, r.body.len()))
        .collect();
    step.done(summary.join("; "));

    write_yaml(&objects)
}
