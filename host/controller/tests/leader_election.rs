//! Two controller replicas against one API server: exactly one leads and reconciles;
//! when the leader is killed (no graceful release) the other takes over after the
//! Lease expires and carries on reconciling.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Env, is_ready};
use gyre_controller::Context;
use gyre_controller::leader::LeaseConfig;
use gyre_controller::manager::{self, Exit};
use gyre_controller::server::Health;
use k8s_openapi::api::coordination::v1::Lease;

const KS: (&str, &str) = ("kustomize.toolkit.fluxcd.io/v1", "Kustomization");

fn lease(identity: &str) -> LeaseConfig {
    let mut l = LeaseConfig::new("flux-system", "gyre-leader-election", identity);
    l.lease_duration = Duration::from_secs(3);
    l.renew_deadline = Duration::from_secs(2);
    l.retry_period = Duration::from_millis(200);
    l
}

fn replica(env: &Env, name: &str) -> (tokio::task::JoinHandle<Exit>, Health) {
    let ctx =
        Arc::new(Context::new(env.client.clone(), env.config.clone(), env.options(name)).unwrap());
    let health = Health::new();
    let h = tokio::spawn(manager::run(
        ctx,
        Some(lease(name)),
        health.clone(),
        std::future::pending(),
    ));
    (h, health)
}

async fn holder(env: &Env) -> Option<(String, i32)> {
    let api: kube::Api<Lease> = kube::Api::namespaced(env.client.clone(), "flux-system");
    let l = api.get_opt("gyre-leader-election").await.unwrap()?;
    let spec = l.spec?;
    Some((spec.holder_identity?, spec.lease_transitions.unwrap_or(0)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_reconciles_and_a_killed_leader_fails_over() {
    let env = Env::new().await;
    let repo = env.repo("fleet", &[("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\ndata:\n  v: \"1\"\n")]);
    repo.push();
    let (a, health_a) = replica(&env, "replica-a");
    let (b, health_b) = replica(&env, "replica-b");
    let url = format!("{}/fleet.git", env.git.url());
    env.apply_yaml(&format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: fleet\n  namespace: flux-system\nspec:\n  interval: 1s\n  ref:\n    branch: main\n  url: {url}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: fleet\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./app\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: fleet\n"
    ))
    .await;
    env.wait_for(
        KS,
        "flux-system",
        "fleet",
        Duration::from_secs(60),
        "Ready",
        is_ready,
    )
    .await;

    // Exactly one replica leads, and only the leader reports ready.
    let (leader, transitions) = holder(&env).await.expect("a Lease with a holder");
    assert!(leader == "replica-a" || leader == "replica-b", "{leader}");
    assert_ne!(
        health_a.is_ready(),
        health_b.is_ready(),
        "exactly one replica is ready"
    );
    let (dead, survivor, survivor_health) = if leader == "replica-a" {
        (a, b, health_b)
    } else {
        (b, a, health_a)
    };
    let survivor_name = if leader == "replica-a" {
        "replica-b"
    } else {
        "replica-a"
    };
    assert!(!survivor_health.is_ready());

    // Kill the leader: no release, its Lease must expire first.
    dead.abort();
    let _ = dead.await;
    repo.write(&[("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\ndata:\n  v: \"2\"\n")]);
    let second = repo.commit("v2");
    repo.push();
    let want = format!("main@sha1:{second}");
    env.wait_for(
        KS,
        "flux-system",
        "fleet",
        Duration::from_secs(60),
        "the new commit applied by the survivor",
        |o| o.and_then(|o| o["status"]["lastAppliedRevision"].as_str()) == Some(want.as_str()),
    )
    .await;
    let (now, transitions_now) = holder(&env).await.unwrap();
    assert_eq!(now, survivor_name);
    assert_eq!(transitions_now, transitions + 1);
    assert!(survivor_health.is_ready());
    assert_eq!(
        env.get("v1", "ConfigMap", "default", "app").await.unwrap()["data"]["v"],
        "2"
    );
    survivor.abort();
}
