//! Gyre's release storage against the real `helm` binary, both ways, on kube-sim.

mod common;

use base64::Engine as _;
use common::{Env, release, write_chart};
use gyre_release::{SecretStorage, Status, secret_name};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde_json::{Value, json};

/// Writes v1 (deployed), then v2 (deployed) with v1 superseded — as an upgrade does.
async fn install_and_upgrade(env: &Env, store: &SecretStorage, ns: &str) {
    let v1 = release(
        "web",
        ns,
        1,
        Status::Deployed,
        "Install complete",
        json!({"greeting": "hi"}),
    );
    store.create(&v1).await.expect("v1 stored");
    let mut v1 = store.get("web", 1).await.expect("v1 read back");
    let mut v2 = release(
        "web",
        ns,
        2,
        Status::Deployed,
        "Upgrade complete",
        json!({"greeting": "bonjour", "replicas": 2}),
    );
    v2.info.first_deployed = v1.info.first_deployed;
    v2.labels.insert("team".into(), "web".into());
    // A custom label may not override Helm's own.
    v2.labels.insert("owner".into(), "someone-else".into());
    store.create(&v2).await.expect("v2 stored");
    v1.info.status = Status::Superseded;
    store.update(&v1).await.expect("v1 superseded");
    // The live object of v2, as Gyre's apply would have left it.
    let cms: kube::Api<ConfigMap> = kube::Api::namespaced(env.client.clone(), ns);
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "web-config", "namespace": ns,
                     "labels": {"app.kubernetes.io/managed-by": "Helm"},
                     "annotations": {"meta.helm.sh/release-name": "web", "meta.helm.sh/release-namespace": ns}},
        "data": {"greeting": "bonjour"}
    }))
    .unwrap();
    cms.create(&Default::default(), &cm)
        .await
        .expect("live ConfigMap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_list_history_and_get_see_releases_gyre_wrote() {
    let env = Env::start().await;
    env.namespace("apps").await;
    let store = SecretStorage::new(env.client.clone(), "apps");
    install_and_upgrade(&env, &store, "apps").await;

    let list = env.helm_json(&["list", "-n", "apps", "-o", "json"]).await;
    let list = list.as_array().expect("a list");
    assert_eq!(list.len(), 1, "{list:?}");
    let row = &list[0];
    assert_eq!(row["name"], "web");
    assert_eq!(row["namespace"], "apps");
    assert_eq!(row["revision"], "2");
    assert_eq!(row["status"], "deployed");
    assert_eq!(row["chart"], "demo-1.2.3");
    assert_eq!(row["app_version"], "4.5.6");

    let history = env
        .helm_json(&["history", "web", "-n", "apps", "-o", "json"])
        .await;
    let rows: Vec<(i64, String, String)> = history
        .as_array()
        .expect("history rows")
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap(),
                r["status"].as_str().unwrap().to_string(),
                r["description"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (1, "superseded".into(), "Install complete".into()),
            (2, "deployed".into(), "Upgrade complete".into()),
        ]
    );
    assert_eq!(history[1]["chart"], "demo-1.2.3");
    assert_eq!(history[1]["app_version"], "4.5.6");

    let values = env
        .helm_json(&["get", "values", "web", "-n", "apps", "-o", "json"])
        .await;
    assert_eq!(values, json!({"greeting": "bonjour", "replicas": 2}));
    let values_v1 = env
        .helm_json(&[
            "get",
            "values",
            "web",
            "-n",
            "apps",
            "--revision",
            "1",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(values_v1, json!({"greeting": "hi"}));
    let manifest = env.helm(&["get", "manifest", "web", "-n", "apps"]).await;
    assert_eq!(
        manifest.trim(),
        common::manifest("web-config", "apps", "bonjour").trim()
    );
    let notes = env.helm(&["get", "notes", "web", "-n", "apps"]).await;
    assert!(notes.contains("Thanks for installing demo."), "{notes}");
    // `helm status -o json` prints the release as Go decoded and re-encoded it (without the
    // chart): the same JSON Gyre wrote, so Gyre writes exactly what helm's structs hold.
    let status = env
        .helm_json(&["status", "web", "-n", "apps", "-o", "json"])
        .await;
    let mut ours = serde_json::to_value(store.get("web", 2).await.unwrap()).unwrap();
    ours.as_object_mut().unwrap().remove("chart");
    assert_eq!(status, ours);
    let meta = env
        .helm_json(&["get", "metadata", "web", "-n", "apps", "-o", "json"])
        .await;
    assert_eq!(meta["chart"], "demo", "{meta}");
    assert_eq!(meta["version"], "1.2.3", "{meta}");
    assert_eq!(meta["appVersion"], "4.5.6", "{meta}");
    assert_eq!(meta["revision"], 2, "{meta}");
    assert_eq!(meta["status"], "deployed", "{meta}");

    // The Secrets have Helm's shape: a create stamps `createdAt`, an update `modifiedAt`
    // (and, replacing the whole Secret as Helm does, drops `createdAt`).
    let secrets: kube::Api<Secret> = kube::Api::namespaced(env.client.clone(), "apps");
    let v1 = secrets.get(&secret_name("web", 1)).await.unwrap();
    let v2 = secrets.get(&secret_name("web", 2)).await.unwrap();
    for s in [&v1, &v2] {
        assert_eq!(s.type_.as_deref(), Some("helm.sh/release.v1"));
        assert_eq!(
            s.data.as_ref().unwrap().keys().collect::<Vec<_>>(),
            ["release"]
        );
    }
    let l1 = v1.metadata.labels.unwrap();
    let l2 = v2.metadata.labels.unwrap();
    assert_eq!(
        l1.keys().map(String::as_str).collect::<Vec<_>>(),
        ["modifiedAt", "name", "owner", "status", "version"]
    );
    assert_eq!(
        (
            l1["name"].as_str(),
            l1["owner"].as_str(),
            l1["status"].as_str(),
            l1["version"].as_str()
        ),
        ("web", "helm", "superseded", "1")
    );
    let stamp: i64 = l1["modifiedAt"].parse().expect("Unix seconds");
    assert!((stamp - chrono_now()).abs() < 60, "{stamp}");
    assert_eq!(
        l2.keys().map(String::as_str).collect::<Vec<_>>(),
        ["createdAt", "name", "owner", "status", "team", "version"]
    );
    assert_eq!((l2["owner"].as_str(), l2["team"].as_str()), ("helm", "web"));
    let back = store.get("web", 2).await.unwrap();
    assert_eq!(
        back.labels,
        std::collections::BTreeMap::from([("team".to_string(), "web".to_string())])
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gyre_reads_a_release_helm_installed_and_rewrites_it_losslessly() {
    let env = Env::start().await;
    env.namespace("apps").await;
    let chart = write_chart(env.dir.path());
    env.helm(&[
        "install",
        "demo",
        chart.to_str().unwrap(),
        "-n",
        "apps",
        "--set",
        "greeting=hi",
        "--description",
        "first install",
        "--labels",
        "team=web",
    ])
    .await;

    let store = SecretStorage::new(env.client.clone(), "apps");
    let history = store.history("demo").await.expect("history");
    assert_eq!(history.len(), 1);
    let rel = store
        .deployed("demo")
        .await
        .expect("deployed")
        .expect("a deployed revision");
    assert_eq!(rel, history[0]);
    assert_eq!(rel.name, "demo");
    assert_eq!(rel.namespace, "apps");
    assert_eq!(rel.version, 1);
    assert_eq!(rel.info.status, Status::Deployed);
    assert_eq!(rel.info.description, "first install");
    assert!(!rel.info.first_deployed.is_zero());
    assert!(rel.info.deleted.is_zero());
    assert_eq!(rel.info.notes.trim(), "Installed demo.");
    assert_eq!(rel.chart.metadata.name, "demo");
    assert_eq!(rel.chart.metadata.version, "0.3.0");
    assert_eq!(rel.chart.metadata.app_version, "1.16.0");
    assert_eq!(rel.chart.metadata.api_version, "v2");
    assert_eq!(rel.chart_ref(), "demo-0.3.0");
    assert_eq!(Value::Object(rel.config.clone()), json!({"greeting": "hi"}));
    assert_eq!(rel.chart.values["replicas"], 1);
    assert!(
        rel.chart
            .templates
            .iter()
            .any(|t| t.name == "templates/configmap.yaml"),
        "{:?}",
        rel.chart.templates
    );
    assert!(rel.manifest.contains("kind: ConfigMap"), "{}", rel.manifest);
    assert!(
        rel.manifest.contains("name: demo-config"),
        "{}",
        rel.manifest
    );
    assert!(
        rel.manifest.contains("greeting: \"hi\""),
        "{}",
        rel.manifest
    );
    assert_eq!(store.last("demo").await.unwrap().unwrap(), rel);

    // Lossless: Helm's JSON, decoded and re-encoded by Gyre, is the same JSON.
    let secrets: kube::Api<Secret> = kube::Api::namespaced(env.client.clone(), "apps");
    let secret = secrets
        .get(&secret_name("demo", 1))
        .await
        .expect("helm's Secret");
    assert_eq!(secret.type_.as_deref(), Some("helm.sh/release.v1"));
    let labels = secret.metadata.labels.clone().unwrap();
    // Helm's install creates the Secret pending (label `createdAt`), then replaces it
    // deployed (label `modifiedAt`): only the last write's labels remain.
    let keys: Vec<&str> = labels.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["modifiedAt", "name", "owner", "status", "team", "version"]
    );
    assert_eq!(labels["owner"], "helm");
    assert_eq!(labels["status"], "deployed");
    assert_eq!(labels["version"], "1");
    assert_eq!(
        rel.labels,
        std::collections::BTreeMap::from([("team".to_string(), "web".to_string())]),
        "custom labels (helm install --labels) come back without Helm's system labels"
    );
    let helm_json = raw_json(&secret);
    let gyre_json: Value = serde_json::from_slice(&gunzip(&gyre_release::encode(&rel))).unwrap();
    assert_eq!(
        gyre_json, helm_json,
        "re-encoding must not change Helm's JSON"
    );

    // A status change written by Gyre is seen by helm.
    let mut failed = rel.clone();
    failed.info.status = Status::Failed;
    failed.info.description = "Upgrade \"demo\" failed: health check".into();
    store.update(&failed).await.expect("update");
    let history = env
        .helm_json(&["history", "demo", "-n", "apps", "-o", "json"])
        .await;
    assert_eq!(history[0]["status"], "failed");
    assert_eq!(
        history[0]["description"],
        "Upgrade \"demo\" failed: health check"
    );
    assert!(store.deployed("demo").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_rollback_of_a_gyre_history_is_seen_by_gyre() {
    let env = Env::start().await;
    env.namespace("apps").await;
    let store = SecretStorage::new(env.client.clone(), "apps");
    install_and_upgrade(&env, &store, "apps").await;
    let expected = gyre_release::Release::prepare_rollback(
        &store.last("web").await.unwrap().unwrap(),
        &store.get("web", 1).await.unwrap(),
    );

    env.helm(&["rollback", "web", "1", "-n", "apps"]).await;

    let history = store.history("web").await.expect("history");
    let summary: Vec<(i32, Status, String)> = history
        .iter()
        .map(|r| (r.version, r.info.status.clone(), r.info.description.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, Status::Superseded, "Install complete".into()),
            (2, Status::Superseded, "Upgrade complete".into()),
            (3, Status::Deployed, "Rollback to 1".into()),
        ]
    );
    let v3 = store.deployed("web").await.unwrap().expect("v3 deployed");
    assert_eq!(v3.version, 3);
    assert_eq!(Value::Object(v3.config.clone()), json!({"greeting": "hi"}));
    assert_eq!(v3.manifest, history[0].manifest);
    assert_eq!(v3.chart, history[0].chart);
    assert_eq!(v3.info.first_deployed, history[0].info.first_deployed);
    // Gyre's own rollback revision is the one helm wrote, up to the clock and the final
    // status.
    let mut ours = expected;
    ours.info.last_deployed = v3.info.last_deployed;
    ours.info.status = Status::Deployed;
    assert_eq!(ours, v3);
    // helm applied v1's manifest over the live object.
    let cms: kube::Api<ConfigMap> = kube::Api::namespaced(env.client.clone(), "apps");
    let cm = cms.get("web-config").await.expect("live ConfigMap");
    assert_eq!(cm.data.unwrap()["greeting"], "hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_history_keeps_the_newest_and_the_deployed_revision() {
    let env = Env::start().await;
    env.namespace("apps").await;
    let store = SecretStorage::new(env.client.clone(), "apps");
    for v in 1..=5 {
        let status = if v == 2 {
            Status::Deployed
        } else {
            Status::Superseded
        };
        store
            .create(&release(
                "app",
                "apps",
                v,
                status,
                "Upgrade complete",
                json!({}),
            ))
            .await
            .unwrap();
    }
    assert_eq!(
        store.prune_history("app", 0).await.unwrap(),
        Vec::<i32>::new()
    );
    assert_eq!(
        store.prune_history("app", 9).await.unwrap(),
        Vec::<i32>::new()
    );
    assert_eq!(store.prune_history("app", 2).await.unwrap(), vec![1, 3, 4]);
    let left: Vec<i32> = store
        .history("app")
        .await
        .unwrap()
        .iter()
        .map(|r| r.version)
        .collect();
    assert_eq!(left, vec![2, 5]);
    let helm_rows = env
        .helm_json(&["history", "app", "-n", "apps", "-o", "json"])
        .await;
    assert_eq!(helm_rows.as_array().unwrap().len(), 2);
    assert_eq!(store.prune_history("app", 1).await.unwrap(), vec![5]);
    assert_eq!(store.deployed("app").await.unwrap().unwrap().version, 2);

    // Two revisions marked deployed (concurrent writers): the newest is the deployed one,
    // and both are listed for superseding.
    store
        .create(&release(
            "app",
            "apps",
            6,
            Status::Deployed,
            "Upgrade complete",
            json!({}),
        ))
        .await
        .unwrap();
    assert_eq!(store.deployed("app").await.unwrap().unwrap().version, 6);
    let all: Vec<i32> = store
        .deployed_all("app")
        .await
        .unwrap()
        .iter()
        .map(|r| r.version)
        .collect();
    assert_eq!(all, vec![2, 6]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_release_secrets_fail_clearly_without_blowing_up_memory() {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    let env = Env::start().await;
    env.namespace("apps").await;
    let secrets: kube::Api<Secret> = kube::Api::namespaced(env.client.clone(), "apps");
    let b64 = base64::engine::general_purpose::STANDARD;

    // 256 MiB of zeros: ~256 KiB gzipped, well inside a Secret; inflated, 4× the cap.
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = b64.encode(gz.finish().unwrap());
    assert!(bomb.len() < 1 << 20, "bomb fits a Secret: {}", bomb.len());
    put_release_secret(&secrets, "bomb", 1, bomb.as_bytes()).await;
    put_release_secret(&secrets, "garbage", 1, b"%%% this is not base64 %%%").await;

    let store = SecretStorage::new(env.client.clone(), "apps");
    let err = store.get("bomb", 1).await.unwrap_err();
    let chain = chain(&err);
    assert!(
        chain.contains("release bomb v1: Secret sh.helm.release.v1.bomb.v1 could not be decoded"),
        "{chain}"
    );
    assert!(
        chain.contains("decompressed release exceeds 67108864 bytes"),
        "{chain}"
    );
    let err = store.history("bomb").await.unwrap_err();
    assert!(chain_of(&err).contains("exceeds"), "{}", chain_of(&err));

    let err = store.get("garbage", 1).await.unwrap_err();
    let chain = chain_of(&err);
    assert!(chain.contains("release garbage v1"), "{chain}");
    assert!(chain.contains("not valid base64"), "{chain}");
    assert!(store.deployed("garbage").await.is_err());

    // A corrupt revision can still be removed without decoding it.
    store
        .delete("garbage", 1)
        .await
        .expect("delete corrupt revision");
    assert!(store.history("garbage").await.unwrap().is_empty());
    let err = store.get("garbage", 1).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "release garbage v1 not found in namespace apps"
    );
}

async fn put_release_secret(api: &kube::Api<Secret>, name: &str, version: i32, data: &[u8]) {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": secret_name(name, version),
                     "labels": {"name": name, "owner": "helm", "status": "deployed", "version": version.to_string()}},
        "type": "helm.sh/release.v1",
        "data": {"release": base64::engine::general_purpose::STANDARD.encode(data)}
    }))
    .unwrap();
    api.create(&Default::default(), &secret)
        .await
        .expect("hostile secret stored");
}

fn chain_of(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

fn chain(err: &gyre_release::Error) -> String {
    chain_of(err)
}

/// The release JSON inside a release Secret, as Helm wrote it.
fn raw_json(secret: &Secret) -> Value {
    let text = std::str::from_utf8(&secret.data.as_ref().unwrap()["release"].0)
        .unwrap()
        .to_string();
    serde_json::from_slice(&gunzip(&text)).unwrap()
}

fn gunzip(text: &str) -> Vec<u8> {
    use std::io::Read;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_gyre_does_not_know_survive_a_gyre_status_update() {
    let env = Env::start().await;
    env.namespace("apps").await;
    let secrets: kube::Api<Secret> = kube::Api::namespaced(env.client.clone(), "apps");
    // A release as a future helm might write it: fields this model does not know, at
    // several levels.
    let future = json!({
        "name": "future", "namespace": "apps", "version": 1,
        "info": {"first_deployed": "2025-06-01T10:00:00.5+02:00", "last_deployed": "2025-06-01T10:00:00.5+02:00",
                 "deleted": "", "description": "Install complete", "status": "deployed",
                 "rollback_revision": 0},
        "chart": {"metadata": {"name": "demo", "version": "1.0.0", "apiVersion": "v2", "minHelmVersion": "3.20"},
                  "lock": {"generated": "2025-01-01T00:00:00Z", "digest": "sha256:00"},
                  "templates": null, "values": null, "schema": "e30=", "files": null},
        "config": {"x": 1},
        "manifest": "---\n",
        "hooks": [{"name": "h", "kind": "Job", "path": "templates/h.yaml", "manifest": "kind: Job",
                   "events": ["pre-install"], "weight": -5, "delete_policies": ["before-hook-creation"],
                   "last_run": {"started_at": "2025-06-01T08:00:00Z", "completed_at": "2025-06-01T08:00:01Z",
                                "phase": "Succeeded"},
                   "output_log_policies": ["hook-failed"]}],
        "apply_method": "ssa"
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &serde_json::to_vec(&future).unwrap()).unwrap();
    let text = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    put_release_secret(&secrets, "future", 1, text.as_bytes()).await;

    let store = SecretStorage::new(env.client.clone(), "apps");
    let mut rel = store.get("future", 1).await.expect("decoded");
    assert_eq!(rel.chart.schema.as_deref(), Some(&b"{}"[..]));
    assert_eq!(rel.hooks[0].weight, -5);
    rel.info.status = Status::Superseded;
    store.update(&rel).await.expect("updated");

    let stored = raw_json(&secrets.get(&secret_name("future", 1)).await.unwrap());
    let mut want = future.clone();
    want["info"]["status"] = json!("superseded");
    assert_eq!(
        stored, want,
        "everything but the status is as helm wrote it"
    );
    let history = env
        .helm_json(&["history", "future", "-n", "apps", "-o", "json"])
        .await;
    assert_eq!(history[0]["status"], "superseded", "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_errors_name_the_release_the_revision_and_the_reason() {
    let env = Env::start().await;
    env.namespace("apps").await;
    let store = SecretStorage::new(env.client.clone(), "apps");
    let v1 = release(
        "app",
        "apps",
        1,
        Status::Deployed,
        "Install complete",
        json!({}),
    );
    store.create(&v1).await.unwrap();
    let err = store.create(&v1).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "release app v1 already exists in namespace apps"
    );
    let v2 = release(
        "app",
        "apps",
        2,
        Status::Deployed,
        "Upgrade complete",
        json!({}),
    );
    let err = store.update(&v2).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "release app v2 not found in namespace apps"
    );
    let err = store.delete("app", 7).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "release app v7 not found in namespace apps"
    );
    assert!(store.history("nothing").await.unwrap().is_empty());
    assert!(store.last("nothing").await.unwrap().is_none());
    assert!(store.deployed("nothing").await.unwrap().is_none());
    let err = store.history("a,owner!=helm").await.unwrap_err();
    assert!(err.to_string().contains("must be a label value"), "{err}");
    // A namespace that does not exist: the API error is kept as the source.
    let elsewhere = SecretStorage::new(env.client.clone(), "missing");
    let err = elsewhere.create(&v1).await.unwrap_err();
    let chain = chain_of(&err);
    assert!(
        chain.starts_with("release app v1: create of Secret sh.helm.release.v1.app.v1 failed: "),
        "{chain}"
    );
    assert!(chain.contains("not found"), "{chain}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_honours_a_pending_revision_gyre_wrote_and_gyre_sees_helm_uninstall() {
    let env = Env::start().await;
    env.namespace("apps").await;
    let store = SecretStorage::new(env.client.clone(), "apps");
    install_and_upgrade(&env, &store, "apps").await;

    // An upgrade in progress, as Gyre writes it before applying: helm must refuse to start
    // another upgrade of the release. (helm 3.17's rollback does not check for a pending
    // revision; only install and upgrade do.)
    let mut v3 = release(
        "web",
        "apps",
        3,
        Status::PendingUpgrade,
        "Preparing upgrade",
        json!({"greeting": "hola"}),
    );
    v3.info.first_deployed = store.get("web", 1).await.unwrap().info.first_deployed;
    store.create(&v3).await.unwrap();
    let chart = write_chart(env.dir.path());
    let (ok, _, err) = env
        .helm_status(&["upgrade", "web", chart.to_str().unwrap(), "-n", "apps"])
        .await;
    assert!(!ok, "helm must not upgrade while an upgrade is pending");
    assert!(err.contains("another operation"), "{err}");
    let list = env
        .helm_json(&["list", "-n", "apps", "--pending", "-o", "json"])
        .await;
    assert_eq!(list[0]["status"], "pending-upgrade", "{list}");

    // The upgrade completes.
    v3.info.status = Status::Deployed;
    v3.info.description = "Upgrade complete".into();
    store.update(&v3).await.unwrap();
    let mut v2 = store.get("web", 2).await.unwrap();
    v2.info.status = Status::Superseded;
    store.update(&v2).await.unwrap();

    // A person uninstalls, keeping history: the last revision becomes `uninstalled`, with
    // its `deleted` time.
    env.helm(&["uninstall", "web", "-n", "apps", "--keep-history"])
        .await;
    let last = store.last("web").await.unwrap().expect("history kept");
    assert_eq!(last.version, 3);
    assert_eq!(last.info.status, Status::Uninstalled);
    assert!(!last.info.deleted.is_zero());
    assert!(store.deployed("web").await.unwrap().is_none());
    // ... and the objects of the manifest are gone.
    let cms: kube::Api<ConfigMap> = kube::Api::namespaced(env.client.clone(), "apps");
    assert!(cms.get_opt("web-config").await.unwrap().is_none());

    // Without --keep-history, helm deletes every revision's Secret.
    env.helm(&["uninstall", "web", "-n", "apps"]).await;
    assert!(store.history("web").await.unwrap().is_empty());
}
