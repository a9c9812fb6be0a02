//! The YAML in the Flux docs is the acceptance test: every fixture under `testdata/`
//! deserializes into Gyre's types unchanged and serializes back to the same JSON.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gyre_api::{crds, helm, image, kustomize, notification, plugin, source};
use kube::Resource;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Every YAML document under `testdata/<dir>`, with the file it came from.
fn documents(dir: &str) -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(testdata().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, de) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
            let value = Value::deserialize(de)
                .unwrap_or_else(|e| panic!("{}: document {i}: {e}", file.display()));
            let name = format!(
                "{} #{i} ({} {})",
                file.file_name().unwrap().to_string_lossy(),
                value["kind"].as_str().unwrap_or("?"),
                value["metadata"]["name"].as_str().unwrap_or("?"),
            );
            docs.push((name, value));
        }
    }
    docs
}

/// Deserializes `doc` as `K`, serializes it back, and compares; the only difference
/// allowed is `apiVersion`, which the typed object always writes as the storage version
/// (older versions are served from the same schema, so the content is the same).
fn round_trip<K>(name: &str, doc: &Value) -> K
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Serialize,
{
    let typed: K = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{name}: does not deserialize: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    let mut expected = doc.clone();
    expected["apiVersion"] = Value::String(K::api_version(&()).into_owned());
    if back != expected {
        panic!(
            "{name}: round trip changed the object\nexpected: {}\n     got: {}",
            serde_json::to_string_pretty(&expected).unwrap(),
            serde_json::to_string_pretty(&back).unwrap()
        );
    }
    typed
}

/// The document's `apiVersion` must be one the CRD of its kind serves.
fn assert_served(name: &str, doc: &Value) {
    let (group, version) = doc["apiVersion"]
        .as_str()
        .and_then(|v| v.split_once('/'))
        .unwrap_or_else(|| panic!("{name}: no group/version"));
    let kind = doc["kind"].as_str().unwrap();
    let crd = crds::all()
        .into_iter()
        .find(|c| c.spec.group == group && c.spec.names.kind == kind)
        .unwrap_or_else(|| panic!("{name}: no CRD for {group} {kind}"));
    assert!(
        crd.spec
            .versions
            .iter()
            .any(|v| v.name == version && v.served),
        "{name}: {group}/{version} is not served for {kind}"
    );
}

/// Round-trips one document by kind; returns the kind.
fn check(name: &str, doc: &Value) -> String {
    assert_served(name, doc);
    let kind = doc["kind"].as_str().unwrap().to_owned();
    match kind.as_str() {
        "GitRepository" => drop(round_trip::<source::GitRepository>(name, doc)),
        "OCIRepository" => drop(round_trip::<source::OCIRepository>(name, doc)),
        "HelmRepository" => drop(round_trip::<source::HelmRepository>(name, doc)),
        "HelmChart" => drop(round_trip::<source::HelmChart>(name, doc)),
        "Bucket" => drop(round_trip::<source::Bucket>(name, doc)),
        "Kustomization" => drop(round_trip::<kustomize::Kustomization>(name, doc)),
        "HelmRelease" => drop(round_trip::<helm::HelmRelease>(name, doc)),
        "ImageRepository" => drop(round_trip::<image::ImageRepository>(name, doc)),
        "ImagePolicy" => drop(round_trip::<image::ImagePolicy>(name, doc)),
        "ImageUpdateAutomation" => drop(round_trip::<image::ImageUpdateAutomation>(name, doc)),
        "Provider" => drop(round_trip::<notification::Provider>(name, doc)),
        "Alert" => drop(round_trip::<notification::Alert>(name, doc)),
        "Receiver" => drop(round_trip::<notification::Receiver>(name, doc)),
        "Plugin" => drop(round_trip::<plugin::Plugin>(name, doc)),
        other => panic!("{name}: no type for kind {other}"),
    }
    kind
}

fn doc_named<'a>(docs: &'a [(String, Value)], file: &str, kind: &str) -> &'a Value {
    &docs
        .iter()
        .find(|(n, v)| n.starts_with(file) && v["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {file}"))
        .1
}

#[test]
fn every_flux_docs_fixture_deserializes_and_round_trips_unchanged() {
    let docs = documents("flux");
    assert!(docs.len() >= 25, "only {} documents", docs.len());
    let kinds: BTreeSet<String> = docs.iter().map(|(n, d)| check(n, d)).collect();
    // Every Flux kind Gyre serves has at least one fixture.
    let served: BTreeSet<String> = crds::all()
        .iter()
        .filter(|c| c.spec.group.ends_with("toolkit.fluxcd.io"))
        .map(|c| c.spec.names.kind.clone())
        .collect();
    assert_eq!(kinds, served);
}

#[test]
fn every_gyre_fixture_deserializes_and_round_trips_unchanged() {
    for (name, doc) in documents("gyre") {
        check(&name, &doc);
    }
}

#[test]
fn the_getting_started_objects_read_as_flux_means_them() {
    let docs = documents("flux");
    let repo: source::GitRepository =
        serde_json::from_value(doc_named(&docs, "getting-started", "GitRepository").clone())
            .unwrap();
    assert_eq!(repo.spec.url, "https://github.com/stefanprodan/podinfo");
    assert_eq!(repo.spec.interval.as_std().as_secs(), 60);
    assert_eq!(repo.spec.reference().branch.as_deref(), Some("master"));
    assert_eq!(repo.spec.timeout().as_secs(), 60);

    let ks: kustomize::Kustomization =
        serde_json::from_value(doc_named(&docs, "getting-started", "Kustomization").clone())
            .unwrap();
    assert_eq!(ks.spec.interval.as_std().as_secs(), 30 * 60);
    assert_eq!(ks.spec.retry_interval().as_secs(), 60);
    assert_eq!(ks.spec.timeout().as_secs(), 5 * 60);
    assert!(ks.spec.prune);
    assert!(ks.spec.waits());
    assert!(!ks.spec.forces());
    assert_eq!(ks.spec.path.as_deref(), Some("./kustomize"));
    assert_eq!(ks.spec.target_namespace.as_deref(), Some("default"));
    assert_eq!(ks.spec.source_ref.to_string(), "GitRepository/podinfo");
    let patch = &ks.spec.patches.as_ref().unwrap()[0];
    assert_eq!(
        patch.target.as_ref().unwrap().kind.as_deref(),
        Some("HorizontalPodAutoscaler")
    );
    assert!(patch.patch.as_deref().unwrap().contains("minReplicas: 3"));
    assert!(ks.spec.renderer.is_none() && ks.spec.transforms.is_none());
}

#[test]
fn the_podinfo_helm_release_reads_values_and_remediation_as_flux_means_them() {
    let docs = documents("flux");
    let hr: helm::HelmRelease =
        serde_json::from_value(doc_named(&docs, "helm-podinfo", "HelmRelease").clone()).unwrap();
    assert_eq!(hr.spec.values_map()["replicaCount"], 3);
    assert_eq!(
        hr.spec.values.as_ref().unwrap()["resources"]["limits"]["memory"],
        "256Mi"
    );
    let install = hr.spec.install.as_ref().unwrap().remediation();
    assert_eq!(install.retries(), 3);
    let upgrade = hr.spec.upgrade.as_ref().unwrap().remediation();
    assert!(upgrade.remediate_last_failure());
    assert_eq!(upgrade.strategy(), "rollback");
    let chart = hr.spec.chart.as_ref().unwrap();
    assert_eq!(chart.spec.version(), "6.5.*");
    assert_eq!(chart.spec.source_ref.kind, "HelmRepository");
    assert_eq!(hr.release_name(), "podinfo");
    assert_eq!(hr.spec.drift_detection_mode(), "enabled");
    let from = hr.spec.values_from.as_ref().unwrap();
    assert_eq!(from[0].values_key(), "values.yaml");
    assert_eq!(from[1].values_key(), "redis.password");
}

#[test]
fn status_fixtures_keep_conditions_inventory_and_history() {
    let docs = documents("flux");
    let ks: kustomize::Kustomization =
        serde_json::from_value(doc_named(&docs, "kustomization-full", "Kustomization").clone())
            .unwrap();
    let status = ks.status.unwrap();
    assert!(gyre_api::meta::is_ready(&status.conditions));
    let entries = status.inventory.unwrap().entries;
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[1].object_id().unwrap().kind, "Deployment");
    assert_eq!(
        status.history.unwrap()[0]
            .last_reconciled_duration
            .as_std()
            .as_millis(),
        2500
    );

    let hr: helm::HelmRelease =
        serde_json::from_value(doc_named(&docs, "helm-oci-chartref", "HelmRelease").clone())
            .unwrap();
    let latest = hr.status.as_ref().unwrap().latest().unwrap().clone();
    assert_eq!(latest.versioned_chart_name(), "podinfo@6.5.4");
    assert_eq!(latest.full_release_name(), "apps/apps-podinfo.v1");
    assert_eq!(hr.release_name(), "apps-podinfo");
}

#[test]
fn older_api_versions_are_served_and_read_into_the_same_types() {
    let docs = documents("flux");
    let old: Vec<_> = docs
        .iter()
        .filter(|(n, _)| n.starts_with("older-versions"))
        .collect();
    let versions: BTreeSet<&str> = old
        .iter()
        .map(|(_, d)| d["apiVersion"].as_str().unwrap())
        .collect();
    for v in [
        "source.toolkit.fluxcd.io/v1beta2",
        "helm.toolkit.fluxcd.io/v2beta1",
        "helm.toolkit.fluxcd.io/v2beta2",
        "image.toolkit.fluxcd.io/v1beta2",
        "image.toolkit.fluxcd.io/v1beta1",
        "notification.toolkit.fluxcd.io/v1beta2",
    ] {
        assert!(versions.contains(v), "no fixture for {v}");
    }
    let hr: helm::HelmRelease = serde_json::from_value(
        old.iter()
            .find(|(_, d)| d["apiVersion"] == "helm.toolkit.fluxcd.io/v2beta1")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    let chart = hr.spec.chart.unwrap();
    assert_eq!(chart.spec.values_file.as_deref(), Some("values-prod.yaml"));
    let kustomize = hr.spec.post_renderers.unwrap()[0]
        .kustomize
        .clone()
        .unwrap();
    assert_eq!(kustomize.patches_strategic_merge.unwrap().len(), 1);
    assert_eq!(kustomize.patches_json6902.unwrap()[0].patch[0].op, "add");
}

#[test]
fn gyre_plugin_fields_are_optional_additions_to_a_kustomization() {
    let docs = documents("gyre");
    let ks: kustomize::Kustomization =
        serde_json::from_value(doc_named(&docs, "plugins", "Kustomization").clone()).unwrap();
    let renderer = ks.spec.renderer.unwrap();
    assert_eq!(renderer.plugin_ref.name, "jsonnet");
    assert_eq!(renderer.config.unwrap()["tlas"]["replicas"], 3);
    let transforms = ks.spec.transforms.unwrap();
    assert_eq!(transforms.len(), 2);
    assert!(transforms[1].config.is_none());

    let p: plugin::Plugin =
        serde_json::from_value(doc_named(&docs, "plugins", "Plugin").clone()).unwrap();
    let limits = p.spec.effective_limits().unwrap();
    assert_eq!(limits.memory_bytes, 128 << 20);
    assert_eq!(limits.timeout.as_secs(), 10);
    assert_eq!(limits.max_output_bytes, 16 << 20);
}

#[test]
fn the_round_trip_check_notices_a_field_the_types_do_not_know() {
    // Guards the harness itself: a field missing from the types must fail the check,
    // or the fixtures above would prove nothing.
    let docs = documents("flux");
    let mut doc = doc_named(&docs, "getting-started", "Kustomization").clone();
    doc["spec"]["notAFluxField"] = Value::Bool(true);
    let result = std::panic::catch_unwind(|| {
        round_trip::<kustomize::Kustomization>("tampered", &doc);
    });
    assert!(result.is_err());
}

#[test]
fn statuses_of_every_kind_are_handled_through_one_trait() {
    use gyre_api::meta::{FluxStatus, is_ready, mark_ready};

    fn ready_at<S: FluxStatus>(status: &S) -> (bool, Option<i64>) {
        (is_ready(status.conditions()), status.observed_generation())
    }

    let docs = documents("flux");
    let ks: kustomize::Kustomization =
        serde_json::from_value(doc_named(&docs, "kustomization-full", "Kustomization").clone())
            .unwrap();
    assert_eq!(ready_at(ks.status.as_ref().unwrap()), (true, Some(3)));
    let rcv: notification::Receiver =
        serde_json::from_value(doc_named(&docs, "notification", "Receiver").clone()).unwrap();
    assert_eq!(ready_at(rcv.status.as_ref().unwrap()), (true, Some(1)));

    let mut status = source::BucketStatus::default();
    mark_ready(
        status.conditions_mut(),
        Some(4),
        "Succeeded",
        "stored artifact",
    );
    status.set_observed_generation(Some(4));
    status.set_last_handled_reconcile_at(Some("now".into()));
    assert_eq!(ready_at(&status), (true, Some(4)));
    assert_eq!(status.last_handled_reconcile_at(), Some("now"));
}
