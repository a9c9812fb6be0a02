//! A dependsOn chain, and Kustomizations rendered and transformed by Plugins pulled
//! from a real OCI registry — including a transform that tries to leave its tenant's
//! namespace and is refused.

mod common;

use std::time::Duration;

use common::oci::push_builtin as push;
use common::{Env, is_ready, ready};
use gyre_plugin_tests::TestRegistry;

const KS: (&str, &str) = ("kustomize.toolkit.fluxcd.io/v1", "Kustomization");
const T: Duration = Duration::from_secs(60);

const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n";
const CONFIG: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: apps\ndata:\n  color: blue\n";
const APP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: apps\ndata:\n  uses: settings\n";

fn kustomization(name: &str, path: &str, extra: &str) -> String {
    format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: {path}\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: fleet\n{extra}"
    )
}

fn git_repository(url: &str) -> String {
    format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: fleet\n  namespace: flux-system\nspec:\n  interval: 1m\n  ref:\n    branch: main\n  url: {url}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depends_on_holds_back_until_the_dependency_is_ready() {
    let mut env = Env::new().await;
    let repo = env.repo(
        "fleet",
        &[
            ("infra/namespace.yaml", NAMESPACE),
            ("infra/settings.yaml", CONFIG),
            ("apps/app.yaml", APP),
        ],
    );
    repo.push();
    env.start();
    let url = format!("{}/fleet.git", env.git.url());
    env.apply_yaml(&git_repository(&url)).await;
    // apps first, its dependency not there yet.
    env.apply_yaml(&kustomization(
        "apps",
        "./apps",
        "  dependsOn:\n    - name: infra\n",
    ))
    .await;
    let apps = env
        .wait_for(
            KS,
            "flux-system",
            "apps",
            T,
            "held back by its dependency",
            |o| ready(o).is_some_and(|c| c["reason"] == "DependencyNotReady"),
        )
        .await
        .unwrap();
    assert_eq!(
        ready(Some(&apps)).unwrap()["message"],
        "dependency 'flux-system/infra' not found"
    );
    assert!(env.get("v1", "ConfigMap", "apps", "app").await.is_none());

    env.apply_yaml(&kustomization("infra", "./infra", "")).await;
    let infra = env
        .wait_for(KS, "flux-system", "infra", T, "Ready", is_ready)
        .await
        .unwrap();
    let apps = env
        .wait_for(KS, "flux-system", "apps", T, "Ready after infra", |o| {
            is_ready(o)
        })
        .await
        .unwrap();
    assert_eq!(
        apps["status"]["lastAppliedRevision"], infra["status"]["lastAppliedRevision"],
        "both built the same revision of the same source"
    );
    assert_eq!(
        env.get("v1", "ConfigMap", "apps", "app").await.unwrap()["data"]["uses"],
        "settings"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_from_a_registry_render_and_transform_within_the_tenant_boundary() {
    let reg = TestRegistry::start();
    let renderer_digest = push(&reg, "manifests", "v1").await;
    push(&reg, "metadata", "v1").await;

    let mut env = Env::new().await;
    let repo = env.repo(
        "fleet",
        &[(
            "tenant/app.yaml",
            APP.replace("  namespace: apps\n", "").as_str(),
        )],
    );
    repo.push();
    env.start();
    let url = format!("{}/fleet.git", env.git.url());
    env.apply_yaml(&git_repository(&url)).await;
    env.apply_yaml(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: tenant-a\n---\n\
apiVersion: plugins.gyre.dev/v1alpha1\nkind: Plugin\nmetadata:\n  name: manifests\n  namespace: flux-system\nspec:\n  reference: oci://{addr}/plugins/manifests:v1\n  digest: {renderer_digest}\n  world: renderer\n  insecure: true\n---\n\
apiVersion: plugins.gyre.dev/v1alpha1\nkind: Plugin\nmetadata:\n  name: labels\n  namespace: flux-system\nspec:\n  reference: oci://{addr}/plugins/metadata:v1\n  world: transform\n  insecure: true\n---\n\
apiVersion: plugins.gyre.dev/v1alpha1\nkind: Plugin\nmetadata:\n  name: wrong-world\n  namespace: flux-system\nspec:\n  reference: oci://{addr}/plugins/metadata:v1\n  world: renderer\n  insecure: true\n",
        addr = reg.addr
    ))
    .await;

    // The Plugin reconciler pins the tag to the digest it verified, and refuses a
    // component that does not implement the declared world.
    let labels = env
        .wait_for(
            ("plugins.gyre.dev/v1alpha1", "Plugin"),
            "flux-system",
            "labels",
            T,
            "Ready",
            is_ready,
        )
        .await
        .unwrap();
    assert!(
        labels["status"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(labels["status"]["world"], "transform");
    let wrong = env
        .wait_for(
            ("plugins.gyre.dev/v1alpha1", "Plugin"),
            "flux-system",
            "wrong-world",
            T,
            "refused",
            |o| ready(o).is_some_and(|c| c["status"] == "False"),
        )
        .await
        .unwrap();
    assert_eq!(ready(Some(&wrong)).unwrap()["reason"], "WrongWorld");

    // Rendered by the registry plugin, labelled and placed by the transform plugin.
    env.apply_yaml(&kustomization(
        "tenant-a",
        "./tenant",
        "  targetNamespace: tenant-a\n  renderer:\n    pluginRef:\n      name: manifests\n  transforms:\n    - pluginRef:\n        name: labels\n      config:\n        namespace: tenant-a\n        labels:\n          team: a\n",
    ))
    .await;
    env.wait_for(KS, "flux-system", "tenant-a", T, "Ready", is_ready)
        .await;
    let cm = env.get("v1", "ConfigMap", "tenant-a", "app").await.unwrap();
    assert_eq!(cm["metadata"]["labels"]["team"], "a");
    assert_eq!(
        cm["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"],
        "tenant-a"
    );

    // A transform moving objects out of the tenant's namespace is refused before
    // anything is applied.
    env.apply_yaml(&kustomization(
        "escape",
        "./tenant",
        "  targetNamespace: tenant-a\n  renderer:\n    pluginRef:\n      name: manifests\n  transforms:\n    - pluginRef:\n        name: labels\n      config:\n        namespace: kube-system\n",
    ))
    .await;
    let escape = env
        .wait_for(KS, "flux-system", "escape", T, "refused", |o| {
            ready(o).is_some_and(|c| c["status"] == "False")
        })
        .await
        .unwrap();
    let cond = ready(Some(&escape)).unwrap();
    assert_eq!(cond["reason"], "BuildFailed");
    assert!(
        cond["message"]
            .as_str()
            .unwrap()
            .contains("outside the target namespace"),
        "{cond}"
    );
    assert!(
        env.get("v1", "ConfigMap", "kube-system", "app")
            .await
            .is_none()
    );
    env.stop().await;
}
