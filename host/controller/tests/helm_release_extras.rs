//! HelmRelease beyond install/upgrade, against kube-sim, a chart packaged and served
//! (or pushed to a real `docker-registry`) with the real `helm`, and the real `helm`
//! reading Gyre's release records: post-renderers (kustomize patches and images, a Gyre
//! transform plugin and its namespace boundary), `dependsOn`, `serviceAccountName`
//! impersonation, `kubeConfig`, `chartRef` to an OCIRepository, `valuesFrom` watches and
//! the cluster's version as `.Capabilities.KubeVersion`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::helm::{self, documents};
use common::oci::push_builtin;
use common::{Env, is_ready, ready};
use gyre_plugin_tests::TestRegistry;
use serde_json::Value;

const HR: (&str, &str) = ("helm.toolkit.fluxcd.io/v2", "HelmRelease");
// Generous: the first render compiles the Helm and kustomize plugins when the shared
// cache is cold.
const TIMEOUT: Duration = Duration::from_secs(240);

const VALUES: &str = "replicaCount: 1\nimage: docker.io/library/nginx:1.25\ngreeting: hello\n";

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    app: web
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
"#;

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  labels:
    app: web
spec:
  type: ClusterIP
  selector:
    app: web
  ports:
    - port: 80
"#;

const CONFIGMAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-info
data:
  greeting: {{ .Values.greeting | quote }}
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
  servesFlux: {{ .Capabilities.APIVersions.Has "source.toolkit.fluxcd.io/v1/HelmRepository" | quote }}
"#;

/// A pre-install hook Job, only when `hookJob` is set: the tenant Role below may not
/// create Jobs, so under impersonation the hook must be forbidden, not run with the
/// controller's rights.
const HOOK_JOB: &str = r#"{{- if .Values.hookJob }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-hook
  annotations:
    "helm.sh/hook": pre-install
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: hook
          image: docker.io/library/busybox:1.36
{{- end }}
"#;

/// A test environment with the `web` chart served as a Helm repository named `charts`
/// in flux-system, a kubeconfig for the real helm, and an isolated Helm home.
struct Fixture {
    env: Env,
    home: PathBuf,
    kubeconfig: PathBuf,
    tgz: PathBuf,
    _server: gyre_test_support::Server,
}

impl Fixture {
    async fn new() -> Fixture {
        let env = Env::new().await;
        let home = env.tmp.path().join("helm-home");
        let (repo, tgz) = helm::package(
            &env.tmp.path().join("charts"),
            &home,
            "web",
            "1.0.0",
            VALUES,
            &[
                ("deployment.yaml", DEPLOYMENT),
                ("service.yaml", SERVICE),
                ("configmap.yaml", CONFIGMAP),
                ("hook-job.yaml", HOOK_JOB),
            ],
        );
        let (server, _) = gyre_test_support::static_server(&repo, None);
        let kubeconfig = env.tmp.path().join("kubeconfig");
        env.sim.write_kubeconfig(&kubeconfig).unwrap();
        env.apply_yaml(&format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: charts\n  namespace: flux-system\nspec:\n  interval: 5m\n  url: {}\n",
            server.url()
        ))
        .await;
        Fixture {
            env,
            home,
            kubeconfig,
            tgz,
            _server: server,
        }
    }

    fn manifest(&self, release: &str, ns: &str) -> Vec<Value> {
        documents(&helm::manifest(&self.home, &self.kubeconfig, release, ns))
    }

    fn history(&self, release: &str, ns: &str) -> Vec<Value> {
        helm::history(&self.home, &self.kubeconfig, release, ns)
    }
}

/// A HelmRelease of the `web` chart from the `charts` HelmRepository in flux-system.
fn release(ns: &str, name: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
  namespace: {ns}
spec:
  interval: 10m
  timeout: 1m
  releaseName: {name}
  chart:
    spec:
      chart: web
      version: "1.0.x"
      sourceRef:
        kind: HelmRepository
        name: charts
        namespace: flux-system
{extra}"#
    )
}

fn reason(o: Option<&Value>) -> String {
    ready(o)
        .and_then(|c| c["reason"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn message(o: Option<&Value>) -> String {
    ready(o)
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {docs:?}"))
}

async fn helm_secrets(env: &Env, ns: &str, release: &str) -> usize {
    let api: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(env.client.clone(), ns);
    api.list(&kube::api::ListParams::default().labels(&format!("owner=helm,name={release}")))
        .await
        .unwrap()
        .items
        .len()
}

const POST_RENDERERS: &str = r#"  postRenderers:
    - kustomize:
        patches:
          - target:
              kind: Deployment
              labelSelector: app=web
            patch: |
              apiVersion: apps/v1
              kind: Deployment
              metadata:
                name: any
                annotations:
                  patched-by: strategic-merge
              spec:
                replicas: 3
          - target:
              version: v1
              kind: Service
              name: web
            patch: |
              - op: replace
                path: /spec/type
                value: NodePort
        images:
          - name: docker.io/library/nginx
            newName: registry.example.com/nginx
            newTag: "1.27"
    - kustomize:
        patchesStrategicMerge:
          - apiVersion: v1
            kind: ConfigMap
            metadata:
              name: web-info
            data:
              extra: from-deprecated-smp
        patchesJson6902:
          - target:
              version: v1
              kind: ConfigMap
              name: web-info
            patch:
              - op: add
                path: /metadata/annotations
                value:
                  patched-by: json6902
    - transform:
        pluginRef:
          name: labels
        config:
          labels:
            team: a
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn post_renderers_patch_retag_and_label_what_is_applied_and_recorded_and_a_transform_may_not_leave_the_namespace()
 {
    let reg = TestRegistry::start();
    push_builtin(&reg, "metadata", "v1").await;
    let mut f = Fixture::new().await;
    f.env.start();
    f.env
        .apply_yaml(&format!(
            "apiVersion: plugins.gyre.dev/v1alpha1\nkind: Plugin\nmetadata:\n  name: labels\n  namespace: flux-system\nspec:\n  reference: oci://{}/plugins/metadata:v1\n  world: transform\n  insecure: true\n",
            reg.addr
        ))
        .await;
    f.env
        .wait_for(
            ("plugins.gyre.dev/v1alpha1", "Plugin"),
            "flux-system",
            "labels",
            TIMEOUT,
            "Ready",
            is_ready,
        )
        .await;
    f.env
        .apply_yaml(&release("flux-system", "web", POST_RENDERERS))
        .await;
    let hr = f
        .env
        .wait_for(HR, "flux-system", "web", TIMEOUT, "installed", |o| {
            reason(o) == "InstallSucceeded"
        })
        .await
        .unwrap();
    let digest = hr["status"]["observedPostRenderersDigest"]
        .as_str()
        .expect("the post-renderers digest is recorded")
        .to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");

    // What was applied: patched, re-tagged and labelled, in order.
    let d = f
        .env
        .get("apps/v1", "Deployment", "flux-system", "web")
        .await
        .expect("the Deployment");
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(
        d["metadata"]["annotations"]["patched-by"],
        "strategic-merge"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/nginx:1.27"
    );
    assert_eq!(d["metadata"]["labels"]["team"], "a");
    assert_eq!(d["metadata"]["labels"]["app"], "web");
    let svc = f
        .env
        .get("v1", "Service", "flux-system", "web")
        .await
        .unwrap();
    assert_eq!(svc["spec"]["type"], "NodePort");
    assert_eq!(svc["metadata"]["labels"]["team"], "a");
    let cm = f
        .env
        .get("v1", "ConfigMap", "flux-system", "web-info")
        .await
        .unwrap();
    assert_eq!(cm["data"]["extra"], "from-deprecated-smp");
    assert_eq!(cm["data"]["greeting"], "hello");
    assert_eq!(
        cm["data"]["kubeVersion"], "v1.32.0-kube-sim",
        "the cluster's /version, not the renderer's default v1.32.0"
    );
    assert_eq!(
        cm["data"]["servesFlux"], "true",
        "the cluster's discovery is .Capabilities.APIVersions"
    );
    assert_eq!(cm["metadata"]["annotations"]["patched-by"], "json6902");

    // What Helm recorded: the post-rendered manifest, as `helm get manifest` shows it.
    let docs = f.manifest("web", "flux-system");
    assert_eq!(docs.len(), 3, "{docs:?}");
    let dep = find(&docs, "Deployment");
    assert_eq!(dep["spec"]["replicas"], 3);
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/nginx:1.27"
    );
    assert_eq!(dep["metadata"]["labels"]["team"], "a");
    assert_eq!(find(&docs, "Service")["spec"]["type"], "NodePort");
    assert_eq!(
        find(&docs, "ConfigMap")["data"]["extra"],
        "from-deprecated-smp"
    );
    let raw = helm::manifest(&f.home, &f.kubeconfig, "web", "flux-system");
    assert!(
        !raw.contains("# Source:"),
        "a post-rendered manifest carries no template origins, as with helm --post-renderer:\n{raw}"
    );

    // Changing only the post-renderers (a new generation) upgrades: revision 2.
    f.env
        .apply_yaml(&release(
            "flux-system",
            "web",
            &POST_RENDERERS.replace("newTag: \"1.27\"", "newTag: \"1.28\""),
        ))
        .await;
    let hr = f
        .env
        .wait_for(HR, "flux-system", "web", TIMEOUT, "upgraded", |o| {
            reason(o) == "UpgradeSucceeded"
                && o.is_some_and(|o| o["status"]["history"][0]["version"] == 2)
        })
        .await
        .unwrap();
    assert_ne!(hr["status"]["observedPostRenderersDigest"], digest.as_str());
    let dep = f
        .env
        .get("apps/v1", "Deployment", "flux-system", "web")
        .await
        .unwrap();
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/nginx:1.28"
    );
    let statuses: Vec<String> = f
        .history("web", "flux-system")
        .iter()
        .map(|h| h["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["superseded", "deployed"]);

    // A transform that moves objects out of the release namespace is refused before
    // anything is recorded or applied.
    f.env
        .apply_yaml(&release(
            "flux-system",
            "escape",
            "  postRenderers:\n    - transform:\n        pluginRef:\n          name: labels\n        config:\n          namespace: kube-system\n",
        ))
        .await;
    let hr = f
        .env
        .wait_for(HR, "flux-system", "escape", TIMEOUT, "refused", |o| {
            reason(o) == "InstallFailed"
        })
        .await;
    let msg = message(hr.as_ref());
    assert!(
        msg.contains("post-renderer 0 (transform labels)")
            && msg.contains("outside the target namespace \"flux-system\""),
        "{msg}"
    );
    assert!(
        f.env
            .get("apps/v1", "Deployment", "kube-system", "escape")
            .await
            .is_none()
    );
    assert!(
        f.env
            .get("apps/v1", "Deployment", "flux-system", "escape")
            .await
            .is_none()
    );
    assert_eq!(helm_secrets(&f.env, "flux-system", "escape").await, 0);

    // A patch that cannot apply fails the install with kustomize's message.
    f.env
        .apply_yaml(&release(
            "flux-system",
            "badpatch",
            "  postRenderers:\n    - kustomize:\n        patches:\n          - target:\n              kind: Service\n            patch: |\n              - op: remove\n                path: /spec/notThere\n",
        ))
        .await;
    let hr = f
        .env
        .wait_for(HR, "flux-system", "badpatch", TIMEOUT, "failed", |o| {
            reason(o) == "InstallFailed"
        })
        .await;
    assert!(
        message(hr.as_ref()).contains("post-renderer 0 (kustomize)"),
        "{}",
        message(hr.as_ref())
    );
    assert_eq!(helm_secrets(&f.env, "flux-system", "badpatch").await, 0);
    let _ = (&f.tgz, Path::new("."));
    f.env.stop().await;
}

/// A post-renderer that makes kube-sim fail the release's Deployment.
const FAILING_DEPLOYMENT: &str = r#"  postRenderers:
    - kustomize:
        patches:
          - target:
              kind: Deployment
            patch: |
              - op: add
                path: /metadata/annotations
                value:
                  kube-sim.gyre.dev/behavior: fail
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn depends_on_holds_a_release_back_until_its_dependency_is_ready_and_then_installs_it() {
    let mut f = Fixture::new().await;
    // A dependency-wait requeue far beyond the test: only the dependency's readiness can
    // wake the dependent.
    let mut options = f.env.options("deps");
    options.requeue_dependency = Duration::from_secs(3600);
    f.env.start_with(options);
    // The dependent first; its dependency does not exist yet.
    f.env
        .apply_yaml(&release(
            "flux-system",
            "app",
            "  dependsOn:\n    - name: db\n",
        ))
        .await;
    let app = f
        .env
        .wait_for(HR, "flux-system", "app", TIMEOUT, "held back", |o| {
            reason(o) == "DependencyNotReady"
        })
        .await;
    assert_eq!(
        message(app.as_ref()),
        "dependency 'flux-system/db' not found"
    );
    assert_eq!(helm_secrets(&f.env, "flux-system", "app").await, 0);

    // The dependency exists but its install fails: still held back.
    f.env
        .apply_yaml(
            &release("flux-system", "db", FAILING_DEPLOYMENT).replace("timeout: 1m", "timeout: 3s"),
        )
        .await;
    f.env
        .wait_for(HR, "flux-system", "db", TIMEOUT, "install failed", |o| {
            reason(o) == "InstallFailed"
        })
        .await;
    let app = f
        .env
        .wait_for(HR, "flux-system", "app", TIMEOUT, "still held back", |o| {
            message(o) == "dependency 'flux-system/db' is not ready"
        })
        .await;
    assert_eq!(reason(app.as_ref()), "DependencyNotReady");
    assert_eq!(helm_secrets(&f.env, "flux-system", "app").await, 0);
    assert!(
        f.env
            .get("apps/v1", "Deployment", "flux-system", "app")
            .await
            .is_none()
    );

    // The dependency is fixed (its post-renderer removed, and a values change so that the
    // failed release is retried) and becomes ready; the dependent follows.
    f.env
        .apply_yaml(
            &release("flux-system", "db", "  values:\n    replicaCount: 2\n")
                .replace("timeout: 1m", "timeout: 3s"),
        )
        .await;
    let db = f
        .env
        .wait_for(HR, "flux-system", "db", TIMEOUT, "ready", is_ready)
        .await
        .unwrap();
    let app = f
        .env
        .wait_for(HR, "flux-system", "app", TIMEOUT, "installed", |o| {
            reason(o) == "InstallSucceeded"
        })
        .await
        .unwrap();
    let when = |o: &Value| {
        ready(Some(o)).unwrap()["lastTransitionTime"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(when(&app) >= when(&db), "app after db");
    assert_eq!(
        f.history("app", "flux-system")[0]["status"],
        "deployed",
        "the real helm sees the dependent's release"
    );
    f.env.stop().await;
}

const TENANT: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: team-a
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: deployer
  namespace: team-a
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: nobody
  namespace: team-a
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: deployer
  namespace: team-a
rules:
- apiGroups: [""]
  resources: ["secrets", "configmaps", "services"]
  verbs: ["*"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: deployer
  namespace: team-a
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: deployer
subjects:
- kind: ServiceAccount
  name: deployer
  namespace: team-a
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_account_impersonation_releases_with_the_tenants_rights_and_is_forbidden_without_them()
 {
    let mut f = Fixture::new().await;
    f.env.apply_yaml(TENANT).await;
    f.env.start();

    // With the tenant's rights: installed, release records in the tenant's namespace.
    f.env
        .apply_yaml(&release(
            "team-a",
            "web",
            "  serviceAccountName: deployer\n",
        ))
        .await;
    f.env
        .wait_for(HR, "team-a", "web", TIMEOUT, "installed", |o| {
            reason(o) == "InstallSucceeded"
        })
        .await;
    assert!(
        f.env
            .get("apps/v1", "Deployment", "team-a", "web")
            .await
            .is_some()
    );
    assert_eq!(f.history("web", "team-a")[0]["status"], "deployed");

    // Hooks run with the tenant's rights too: its Role may not create Jobs, so the
    // pre-install hook Job is forbidden (the controller itself could create it) and the
    // release's objects are not applied.
    f.env
        .apply_yaml(&release(
            "team-a",
            "hooked",
            "  serviceAccountName: deployer\n  values:\n    hookJob: true\n",
        ))
        .await;
    let hr = f
        .env
        .wait_for(HR, "team-a", "hooked", TIMEOUT, "hook forbidden", |o| {
            ready(o).is_some_and(|c| c["status"] == "False") && message(o).contains("forbidden")
        })
        .await;
    let msg = message(hr.as_ref());
    assert!(
        msg.contains("pre-install") && msg.contains("system:serviceaccount:team-a:deployer"),
        "the hook and the impersonated user are named: {msg}"
    );
    assert!(
        f.env
            .get("batch/v1", "Job", "team-a", "hooked-hook")
            .await
            .is_none(),
        "the hook Job was not created with the controller's rights"
    );
    assert!(
        f.env
            .get("apps/v1", "Deployment", "team-a", "hooked")
            .await
            .is_none()
    );

    // A ServiceAccount without rights: forbidden, and nothing written.
    f.env
        .apply_yaml(&release(
            "team-a",
            "denied",
            "  serviceAccountName: nobody\n",
        ))
        .await;
    let hr = f
        .env
        .wait_for(HR, "team-a", "denied", TIMEOUT, "forbidden", |o| {
            ready(o).is_some_and(|c| c["status"] == "False") && message(o).contains("forbidden")
        })
        .await;
    let msg = message(hr.as_ref());
    assert!(
        msg.contains("system:serviceaccount:team-a:nobody"),
        "the impersonated user is named: {msg}"
    );
    assert!(
        f.env
            .get("apps/v1", "Deployment", "team-a", "denied")
            .await
            .is_none()
    );
    assert_eq!(helm_secrets(&f.env, "team-a", "denied").await, 0);

    // --default-service-account applies to a HelmRelease that names none.
    f.env.stop().await;
    let mut options = f.env.options("default-sa");
    options.default_service_account = Some("nobody".into());
    f.env.start_with(options);
    f.env.apply_yaml(&release("team-a", "defaulted", "")).await;
    let hr = f
        .env
        .wait_for(HR, "team-a", "defaulted", TIMEOUT, "forbidden", |o| {
            message(o).contains("forbidden")
        })
        .await;
    assert!(
        message(hr.as_ref()).contains("system:serviceaccount:team-a:nobody"),
        "{}",
        message(hr.as_ref())
    );
    assert_eq!(helm_secrets(&f.env, "team-a", "defaulted").await, 0);
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kube_config_releases_to_the_remote_cluster_with_its_release_records_there() {
    let remote = kube_sim::KubeSim::start(kube_sim::Options::default())
        .await
        .unwrap();
    remote.set_workload_mode(kube_sim::WorkloadMode::Ready);
    let mut f = Fixture::new().await;
    let secret = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "remote-kubeconfig", "namespace": "flux-system"},
        "stringData": {"value": remote.kubeconfig_yaml()}
    });
    f.env
        .apply_yaml(&serde_yaml_ng::to_string(&secret).unwrap())
        .await;
    f.env.start();
    f.env
        .apply_yaml(&release(
            "flux-system",
            "web",
            "  targetNamespace: default\n  storageNamespace: default\n  kubeConfig:\n    secretRef:\n      name: remote-kubeconfig\n",
        ))
        .await;
    let hr = f
        .env
        .wait_for(HR, "flux-system", "web", TIMEOUT, "installed", |o| {
            reason(o) == "InstallSucceeded"
        })
        .await
        .unwrap();
    assert_eq!(hr["status"]["storageNamespace"], "default");

    // Objects and release records on the remote cluster, none on the local one.
    let remote_client = kube::Client::try_from(remote.client_config().await.unwrap()).unwrap();
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(remote_client.clone(), "default");
    assert!(deployments.get_opt("web").await.unwrap().is_some());
    let info: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(remote_client.clone(), "default");
    let info = info.get("web-info").await.unwrap();
    assert_eq!(
        info.data.as_ref().unwrap()["kubeVersion"],
        remote_client.apiserver_version().await.unwrap().git_version,
        "rendered for the remote cluster's version"
    );
    assert_eq!(
        info.data.as_ref().unwrap()["servesFlux"],
        "false",
        "the remote cluster serves no Flux APIs"
    );
    assert!(
        f.env
            .get("apps/v1", "Deployment", "default", "web")
            .await
            .is_none()
    );
    assert_eq!(helm_secrets(&f.env, "default", "web").await, 0);
    assert_eq!(helm_secrets(&f.env, "flux-system", "web").await, 0);
    let remote_kubeconfig = f.env.tmp.path().join("remote-kubeconfig");
    remote.write_kubeconfig(&remote_kubeconfig).unwrap();
    let list: Value = serde_json::from_str(&helm::helm(
        &f.home,
        Some(&remote_kubeconfig),
        &["list", "-n", "default", "-o", "json"],
    ))
    .unwrap();
    assert_eq!(list[0]["name"], "web");
    assert_eq!(list[0]["status"], "deployed");

    // Deletion uninstalls from the remote cluster.
    let api: kube::Api<gyre_api::helm::HelmRelease> =
        kube::Api::namespaced(f.env.client.clone(), "flux-system");
    api.delete("web", &Default::default()).await.unwrap();
    f.env
        .wait_for(HR, "flux-system", "web", TIMEOUT, "deleted", |o| {
            o.is_none()
        })
        .await;
    assert!(deployments.get_opt("web").await.unwrap().is_none());
    let list: Value = serde_json::from_str(&helm::helm(
        &f.home,
        Some(&remote_kubeconfig),
        &["list", "-n", "default", "-o", "json"],
    ))
    .unwrap();
    assert_eq!(list, serde_json::json!([]));
    f.env.stop().await;
}

/// `helm push` of a packaged chart to `oci://<registry>/charts` over plain HTTP.
fn helm_push(home: &Path, tgz: &Path, registry: &str) {
    helm::helm(
        home,
        None,
        &[
            "push",
            tgz.to_str().unwrap(),
            &format!("oci://{registry}/charts"),
            "--plain-http",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chart_ref_to_an_oci_repository_installs_the_chart_helm_pushed_and_upgrades_when_it_moves()
{
    let reg = TestRegistry::start();
    let mut f = Fixture::new().await;
    helm_push(&f.home, &f.tgz, &reg.addr);
    f.env.start();
    f.env
        .apply_yaml(&format!(
            r#"apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: web
  namespace: flux-system
spec:
  interval: 10m
  url: oci://{}/charts/web
  insecure: true
  ref:
    semver: "1.0.x"
  layerSelector:
    mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    operation: copy
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: flux-system
spec:
  interval: 10m
  timeout: 1m
  chartRef:
    kind: OCIRepository
    name: web
  values:
    greeting: from-oci
"#,
            reg.addr
        ))
        .await;
    let hr = f
        .env
        .wait_for(HR, "flux-system", "web", TIMEOUT, "installed", |o| {
            reason(o) == "InstallSucceeded"
        })
        .await
        .unwrap();
    let repo = f
        .env
        .get(
            "source.toolkit.fluxcd.io/v1",
            "OCIRepository",
            "flux-system",
            "web",
        )
        .await
        .unwrap();
    let revision = repo["status"]["artifact"]["revision"].as_str().unwrap();
    let (tag, digest) = revision.split_once('@').unwrap();
    assert_eq!(tag, "1.0.0");
    let version = format!("1.0.0+{}", &digest["sha256:".len().."sha256:".len() + 12]);
    let st = &hr["status"];
    assert_eq!(st["lastAttemptedRevision"], version.as_str());
    assert_eq!(st["lastAttemptedRevisionDigest"], digest);
    assert_eq!(st["history"][0]["chartVersion"], version.as_str());
    assert!(st.get("helmChart").is_none(), "no HelmChart for a chartRef");
    assert_eq!(
        message(Some(&hr)),
        format!("Helm install succeeded for release flux-system/web.v1 with chart web@{version}")
    );
    let cm = f
        .env
        .get("v1", "ConfigMap", "flux-system", "web-info")
        .await
        .unwrap();
    assert_eq!(cm["data"]["greeting"], "from-oci");
    let list: Value = serde_json::from_str(&helm::helm(
        &f.home,
        Some(&f.kubeconfig),
        &["list", "-n", "flux-system", "-o", "json"],
    ))
    .unwrap();
    assert_eq!(list[0]["chart"], format!("web-{version}"));

    // A new chart version pushed: the OCIRepository moves, the release upgrades.
    let (_, tgz2) = helm::package(
        &f.env.tmp.path().join("charts-1.0.1"),
        &f.home,
        "web",
        "1.0.1",
        VALUES,
        &[
            ("deployment.yaml", DEPLOYMENT),
            ("service.yaml", SERVICE),
            ("configmap.yaml", CONFIGMAP),
        ],
    );
    helm_push(&f.home, &tgz2, &reg.addr);
    let api: kube::Api<gyre_api::source::OCIRepository> =
        kube::Api::namespaced(f.env.client.clone(), "flux-system");
    api.patch(
        "web",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({
            "metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}
        })),
    )
    .await
    .unwrap();
    let hr = f
        .env
        .wait_for(
            HR,
            "flux-system",
            "web",
            TIMEOUT,
            "upgraded to 1.0.1",
            |o| {
                reason(o) == "UpgradeSucceeded"
                    && o.is_some_and(|o| {
                        o["status"]["lastAttemptedRevision"]
                            .as_str()
                            .is_some_and(|r| r.starts_with("1.0.1+"))
                    })
            },
        )
        .await
        .unwrap();
    assert_eq!(hr["status"]["history"][0]["version"], 2);
    let statuses: Vec<String> = f
        .history("web", "flux-system")
        .iter()
        .map(|h| {
            format!(
                "{} {}",
                h["chart"].as_str().unwrap(),
                h["status"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        statuses[0].starts_with("web-1.0.0+") && statuses[0].ends_with(" superseded"),
        "{statuses:?}"
    );
    assert!(
        statuses[1].starts_with("web-1.0.1+") && statuses[1].ends_with(" deployed"),
        "{statuses:?}"
    );
    f.env.stop().await;
}

fn values_config_map(name: &str, greeting: &str, watched: bool) -> String {
    let labels = if watched {
        "  labels:\n    reconcile.fluxcd.io/watch: Enabled\n"
    } else {
        ""
    };
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: flux-system\n{labels}data:\n  values.yaml: |\n    greeting: {greeting}\n"
    )
}

async fn greeting(env: &Env, release: &str) -> String {
    env.get("v1", "ConfigMap", "flux-system", &format!("{release}-info"))
        .await
        .map(|c| {
            c["data"]["greeting"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn values_from_objects_labelled_for_watching_trigger_an_upgrade_when_they_change() {
    let mut f = Fixture::new().await;
    f.env
        .apply_yaml(&values_config_map("watched", "one", true))
        .await;
    f.env
        .apply_yaml(&values_config_map("plain", "one", false))
        .await;
    f.env.start();
    for (name, cm) in [("web", "watched"), ("other", "plain")] {
        f.env
            .apply_yaml(&release(
                "flux-system",
                name,
                &format!("  valuesFrom:\n    - kind: ConfigMap\n      name: {cm}\n"),
            ))
            .await;
    }
    for name in ["web", "other"] {
        f.env
            .wait_for(HR, "flux-system", name, TIMEOUT, "installed", |o| {
                reason(o) == "InstallSucceeded"
            })
            .await;
        assert_eq!(greeting(&f.env, name).await, "one");
    }

    // The labelled ConfigMap changes: its HelmRelease upgrades without any other trigger
    // (interval 10m).
    f.env
        .apply_yaml(&values_config_map("watched", "two", true))
        .await;
    f.env
        .wait_for(HR, "flux-system", "web", TIMEOUT, "upgraded", |o| {
            reason(o) == "UpgradeSucceeded"
        })
        .await;
    assert_eq!(greeting(&f.env, "web").await, "two");
    assert_eq!(f.history("web", "flux-system").len(), 2);

    // An unlabelled ConfigMap changes: nothing happens until the next interval…
    f.env
        .apply_yaml(&values_config_map("plain", "two", false))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(greeting(&f.env, "other").await, "one");
    assert_eq!(f.history("other", "flux-system").len(), 1);
    // …or until it is labelled for watching.
    f.env
        .apply_yaml(&values_config_map("plain", "two", true))
        .await;
    f.env
        .wait_for(HR, "flux-system", "other", TIMEOUT, "upgraded", |o| {
            reason(o) == "UpgradeSucceeded"
        })
        .await;
    assert_eq!(greeting(&f.env, "other").await, "two");
    f.env.stop().await;
}
