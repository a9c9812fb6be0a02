//! Multi-tenancy: `serviceAccountName` impersonation bounded by the tenant's RBAC,
//! `kubeConfig.secretRef` applying to a remote cluster, and `--no-cross-namespace-refs`.

mod common;

use std::time::Duration;

use common::{Env, is_ready, ready};

const KS: (&str, &str) = ("kustomize.toolkit.fluxcd.io/v1", "Kustomization");
const T: Duration = Duration::from_secs(60);

fn cm(ns: &str, name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n  k: v\n"
    )
}

async fn fleet(env: &mut Env, files: &[(&str, &str)]) {
    let repo = env.repo("fleet", files);
    repo.push();
    let url = format!("{}/fleet.git", env.git.url());
    env.apply_yaml(&format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: fleet\n  namespace: flux-system\nspec:\n  interval: 1m\n  ref:\n    branch: main\n  url: {url}\n"
    ))
    .await;
}

fn kustomization(ns: &str, name: &str, path: &str, extra: &str) -> String {
    format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  interval: 10m\n  path: {path}\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: fleet\n    namespace: flux-system\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_impersonation_is_bounded_by_the_tenants_rbac() {
    let mut env = Env::new().await;
    let inside = cm("team-a", "inside");
    let outside = cm("kube-system", "outside");
    fleet(
        &mut env,
        &[
            ("ok/cm.yaml", inside.as_str()),
            ("escape/cm.yaml", inside.as_str()),
            ("escape/other.yaml", outside.as_str()),
        ],
    )
    .await;
    env.apply_yaml(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n---\n\
apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: deployer\n  namespace: team-a\n---\n\
apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: deployer\n  namespace: team-a\nrules:\n- apiGroups: [\"\"]\n  resources: [\"configmaps\"]\n  verbs: [\"*\"]\n---\n\
apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: deployer\n  namespace: team-a\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: deployer\nsubjects:\n- kind: ServiceAccount\n  name: deployer\n  namespace: team-a\n",
    )
    .await;
    env.start();
    env.apply_yaml(&kustomization(
        "team-a",
        "ok",
        "./ok",
        "  serviceAccountName: deployer\n",
    ))
    .await;
    env.apply_yaml(&kustomization(
        "team-a",
        "escape",
        "./escape",
        "  serviceAccountName: deployer\n",
    ))
    .await;

    env.wait_for(KS, "team-a", "ok", T, "Ready as the tenant", is_ready)
        .await;
    let inside = env
        .get("v1", "ConfigMap", "team-a", "inside")
        .await
        .unwrap();
    assert_eq!(
        inside["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"],
        "ok"
    );
    let escape = env
        .wait_for(KS, "team-a", "escape", T, "refused by RBAC", |o| {
            ready(o).is_some_and(|c| c["status"] == "False")
        })
        .await
        .unwrap();
    let cond = ready(Some(&escape)).unwrap();
    assert_eq!(cond["reason"], "ReconciliationFailed");
    let message = cond["message"].as_str().unwrap();
    assert!(
        message.contains("forbidden") && message.contains("kube-system"),
        "{message}"
    );
    assert!(
        env.get("v1", "ConfigMap", "kube-system", "outside")
            .await
            .is_none()
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_config_secret_ref_applies_to_the_remote_cluster() {
    let remote = kube_sim::KubeSim::start(kube_sim::Options::default())
        .await
        .unwrap();
    let mut env = Env::new().await;
    let remote_cm = cm("default", "remote-only");
    fleet(&mut env, &[("remote/cm.yaml", remote_cm.as_str())]).await;
    let kubeconfig = remote.kubeconfig_yaml();
    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "remote-kubeconfig", "namespace": "flux-system"},
        "stringData": {"value": kubeconfig}
    });
    env.apply_yaml(&serde_json::to_string(&secret).unwrap())
        .await;
    env.start();
    env.apply_yaml(&kustomization(
        "flux-system",
        "remote",
        "./remote",
        "  kubeConfig:\n    secretRef:\n      name: remote-kubeconfig\n",
    ))
    .await;
    env.wait_for(KS, "flux-system", "remote", T, "Ready", is_ready)
        .await;
    assert!(
        env.get("v1", "ConfigMap", "default", "remote-only")
            .await
            .is_none(),
        "not applied locally"
    );
    let remote_client = kube::Client::try_from(remote.client_config().await.unwrap()).unwrap();
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(remote_client, "default");
    let got = cms
        .get("remote-only")
        .await
        .expect("applied to the remote cluster");
    assert_eq!(
        got.metadata.labels.unwrap()["kustomize.toolkit.fluxcd.io/name"],
        "remote"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_namespace_source_refs_are_refused_when_locked_down() {
    let mut env = Env::new().await;
    let c = cm("team-b", "c");
    fleet(&mut env, &[("b/cm.yaml", c.as_str())]).await;
    env.apply_yaml("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-b\n")
        .await;
    let mut options = env.options("locked");
    options.no_cross_namespace_refs = true;
    env.start_with(options);
    env.apply_yaml(&kustomization("team-b", "b", "./b", ""))
        .await;
    let ks = env
        .wait_for(KS, "team-b", "b", T, "stalled", |o| {
            ready(o).is_some_and(|c| c["status"] == "False")
        })
        .await
        .unwrap();
    let cond = ready(Some(&ks)).unwrap();
    assert_eq!(cond["reason"], "AccessDenied");
    let stalled = ks["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Stalled")
        .expect("Stalled condition");
    assert_eq!(stalled["status"], "True");
    assert!(env.get("v1", "ConfigMap", "team-b", "c").await.is_none());
    env.stop().await;
}

/// SOPS decryption is not implemented: a Kustomization asking for it is refused (stalled,
/// nothing applied) rather than applying still-encrypted Secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decryption_is_refused_until_supported() {
    let mut env = Env::new().await;
    let c = cm("default", "sops");
    fleet(&mut env, &[("s/cm.yaml", c.as_str())]).await;
    env.start();
    env.apply_yaml(&kustomization(
        "flux-system",
        "sops",
        "./s",
        "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n",
    ))
    .await;
    let ks = env
        .wait_for(KS, "flux-system", "sops", T, "refused", |o| {
            ready(o).is_some_and(|c| c["status"] == "False")
        })
        .await
        .unwrap();
    let cond = ready(Some(&ks)).unwrap();
    assert_eq!(cond["reason"], "DecryptionFailed");
    assert!(
        cond["message"].as_str().unwrap().contains("not supported"),
        "{cond}"
    );
    assert!(
        env.get("v1", "ConfigMap", "default", "sops")
            .await
            .is_none()
    );
    env.stop().await;
}
