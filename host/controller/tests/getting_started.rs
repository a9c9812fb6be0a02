//! The Flux getting-started pair — GitRepository `podinfo` + Kustomization `podinfo`
//! (`prune`, `targetNamespace`, `wait`) — against kube-sim and a real Git smart-HTTP
//! server: it becomes Ready; new commits are applied; a file deleted from Git is pruned;
//! a broken commit fails with the build error and keeps what was applied; suspend and
//! resume; deletion garbage-collects.

mod common;

use std::time::Duration;

use common::{Env, is_ready, ready};
use gyre_test_support::git;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  minReadySeconds: 3
  revisionHistoryLimit: 5
  progressDeadlineSeconds: 60
  strategy:
    rollingUpdate:
      maxUnavailable: 0
    type: RollingUpdate
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.7.1
        ports:
        - name: http
          containerPort: 9898
          protocol: TCP
        resources:
          limits:
            cpu: 2000m
            memory: 512Mi
          requests:
            cpu: 100m
            memory: 64Mi
"#;

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: podinfo
spec:
  type: ClusterIP
  selector:
    app: podinfo
  ports:
    - name: http
      port: 9898
      protocol: TCP
      targetPort: http
"#;

const HPA: &str = r#"apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: podinfo
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  minReplicas: 2
  maxReplicas: 4
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 99
"#;

const KUSTOMIZATION: &str = r#"apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - hpa.yaml
  - deployment.yaml
  - service.yaml
"#;

/// The two objects of the Flux getting-started guide, verbatim except for the URL (the
/// local Git server) and the GitRepository interval (2s instead of 1m, so "a new commit
/// is applied within one interval" is checked in seconds).
fn getting_started(url: &str) -> String {
    format!(
        r#"---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 2s
  ref:
    branch: master
  url: {url}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 30m0s
  path: ./kustomize
  prune: true
  retryInterval: 2m0s
  sourceRef:
    kind: GitRepository
    name: podinfo
  targetNamespace: default
  timeout: 3m0s
  wait: true
"#
    )
}

const KS: (&str, &str) = ("kustomize.toolkit.fluxcd.io/v1", "Kustomization");
const T: Duration = Duration::from_secs(60);

fn applied_revision(obj: Option<&serde_json::Value>) -> Option<String> {
    obj?["status"]["lastAppliedRevision"]
        .as_str()
        .map(str::to_string)
}

/// `spec.suspend` with a merge patch, as `flux suspend` / `flux resume` write it.
async fn suspend(env: &Env, on: bool) {
    let api: kube::Api<gyre_api::kustomize::Kustomization> =
        kube::Api::namespaced(env.client.clone(), "flux-system");
    api.patch(
        "podinfo",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({"spec": {"suspend": on}})),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_getting_started_end_to_end() {
    let mut env = Env::new().await;
    let repo = env.repo(
        "podinfo",
        &[
            ("kustomize/deployment.yaml", DEPLOYMENT),
            ("kustomize/service.yaml", SERVICE),
            ("kustomize/hpa.yaml", HPA),
            ("kustomize/kustomization.yaml", KUSTOMIZATION),
        ],
    );
    git(&repo.work, &["branch", "-m", "main", "master"]);
    repo.push();
    let url = format!("{}/podinfo.git", env.git.url());
    env.start();
    env.apply_yaml(&getting_started(&url)).await;

    // 1. Ready, with the revision in Flux's format and the objects applied and labelled.
    let head = repo.head();
    let want = format!("master@sha1:{head}");
    let ks = env
        .wait_for(
            KS,
            "flux-system",
            "podinfo",
            T,
            "Ready at the first commit",
            |o| is_ready(o) && applied_revision(o).as_deref() == Some(want.as_str()),
        )
        .await;
    let ks = ks.unwrap();
    assert_eq!(
        ready(Some(&ks)).unwrap()["reason"],
        "ReconciliationSucceeded"
    );
    assert_eq!(
        ready(Some(&ks)).unwrap()["message"],
        format!("Applied revision: {want}")
    );
    let ids: Vec<&str> = ks["status"]["inventory"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "default_podinfo__Service",
            "default_podinfo_apps_Deployment",
            "default_podinfo_autoscaling_HorizontalPodAutoscaler"
        ]
    );
    let healthy = ks["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Healthy")
        .expect("wait: true records a Healthy condition");
    assert_eq!(healthy["status"], "True");
    let deploy = env
        .get("apps/v1", "Deployment", "default", "podinfo")
        .await
        .unwrap();
    assert_eq!(
        deploy["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"],
        "podinfo"
    );
    assert_eq!(
        deploy["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/namespace"],
        "flux-system"
    );
    let gitrepo = env
        .get(
            "source.toolkit.fluxcd.io/v1",
            "GitRepository",
            "flux-system",
            "podinfo",
        )
        .await
        .unwrap();
    assert_eq!(gitrepo["status"]["artifact"]["revision"], want);
    assert!(
        gitrepo["metadata"]["finalizers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "finalizers.fluxcd.io")
    );

    // 2. A new commit is applied within one (2s) source interval, without any request.
    repo.write(&[(
        "kustomize/deployment.yaml",
        &DEPLOYMENT.replace("6.7.1", "6.8.0"),
    )]);
    let second = repo.commit("podinfo 6.8.0");
    repo.push();
    let want2 = format!("master@sha1:{second}");
    env.wait_for(
        KS,
        "flux-system",
        "podinfo",
        Duration::from_secs(20),
        "the second commit applied",
        |o| applied_revision(o).as_deref() == Some(want2.as_str()),
    )
    .await;
    let deploy = env
        .get("apps/v1", "Deployment", "default", "podinfo")
        .await
        .unwrap();
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/stefanprodan/podinfo:6.8.0"
    );

    // 3. A file deleted from Git is pruned.
    std::fs::remove_file(repo.work.join("kustomize/hpa.yaml")).unwrap();
    repo.write(&[(
        "kustomize/kustomization.yaml",
        &KUSTOMIZATION.replace("  - hpa.yaml\n", ""),
    )]);
    let third = repo.commit("drop the HPA");
    repo.push();
    let want3 = format!("master@sha1:{third}");
    env.wait_for(
        KS,
        "flux-system",
        "podinfo",
        Duration::from_secs(20),
        "the HPA commit applied",
        |o| applied_revision(o).as_deref() == Some(want3.as_str()),
    )
    .await;
    env.wait_for(
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        "default",
        "podinfo",
        T,
        "pruned",
        |o| o.is_none(),
    )
    .await;
    let ks = env.get(KS.0, KS.1, "flux-system", "podinfo").await.unwrap();
    assert_eq!(
        ks["status"]["inventory"]["entries"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // 4. A broken commit: Ready=False with the build error, the objects stay, the last
    //    applied revision stays.
    repo.write(&[(
        "kustomize/kustomization.yaml",
        "resources:\n  - deployment.yaml\n  - missing.yaml\n",
    )]);
    let broken = repo.commit("broken");
    repo.push();
    let want_broken = format!("master@sha1:{broken}");
    let ks = env
        .wait_for(
            KS,
            "flux-system",
            "podinfo",
            Duration::from_secs(20),
            "the broken commit attempted",
            |o| {
                o.and_then(|o| o["status"]["lastAttemptedRevision"].as_str())
                    == Some(want_broken.as_str())
                    && ready(o).is_some_and(|c| c["status"] == "False")
            },
        )
        .await
        .unwrap();
    let cond = ready(Some(&ks)).unwrap();
    assert_eq!(cond["reason"], "BuildFailed");
    assert!(
        cond["message"].as_str().unwrap().contains("missing.yaml"),
        "{cond}"
    );
    assert_eq!(applied_revision(Some(&ks)).as_deref(), Some(want3.as_str()));
    assert!(
        env.get("apps/v1", "Deployment", "default", "podinfo")
            .await
            .is_some()
    );
    assert!(
        env.get("v1", "Service", "default", "podinfo")
            .await
            .is_some()
    );
    assert_eq!(
        ks["status"]["inventory"]["entries"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // 5. Suspend: a fixed commit is not applied; resume applies it.
    suspend(&env, true).await;
    repo.write(&[(
        "kustomize/kustomization.yaml",
        &KUSTOMIZATION.replace("  - hpa.yaml\n", ""),
    )]);
    let fixed = repo.commit("fixed");
    repo.push();
    let want_fixed = format!("master@sha1:{fixed}");
    env.wait_for(
        ("source.toolkit.fluxcd.io/v1", "GitRepository"),
        "flux-system",
        "podinfo",
        Duration::from_secs(20),
        "the fixed commit fetched",
        |o| {
            o.and_then(|o| o["status"]["artifact"]["revision"].as_str())
                == Some(want_fixed.as_str())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ks = env.get(KS.0, KS.1, "flux-system", "podinfo").await.unwrap();
    assert_ne!(
        ks["status"]["lastAttemptedRevision"].as_str(),
        Some(want_fixed.as_str()),
        "a suspended Kustomization must not be reconciled"
    );
    suspend(&env, false).await;
    env.wait_for(
        KS,
        "flux-system",
        "podinfo",
        T,
        "Ready again after resume",
        |o| is_ready(o) && applied_revision(o).as_deref() == Some(want_fixed.as_str()),
    )
    .await;

    // 6. Deleting the Kustomization (prune: true) deletes what it applied.
    let api: kube::Api<gyre_api::kustomize::Kustomization> =
        kube::Api::namespaced(env.client.clone(), "flux-system");
    api.delete("podinfo", &Default::default()).await.unwrap();
    env.wait_for(KS, "flux-system", "podinfo", T, "finalized and gone", |o| {
        o.is_none()
    })
    .await;
    env.wait_for(
        ("apps/v1", "Deployment"),
        "default",
        "podinfo",
        T,
        "garbage-collected",
        |o| o.is_none(),
    )
    .await;
    env.stop().await;
}

/// `postBuild.substitute` and `substituteFrom` (a ConfigMap, a Secret, and an optional
/// Secret that does not exist), with `${var:=default}`, as in Flux's docs; an object
/// opting out with `kustomize.toolkit.fluxcd.io/substitute: disabled` is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_build_substitution_from_configmaps_and_secrets() {
    let mut env = Env::new().await;
    let repo = env.repo(
        "apps",
        &[
            (
                "app/config.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: ${namespace}\ndata:\n  cluster: ${cluster_name}\n  region: ${region:=eu-central-1}\n  token: ${token}\n  replicas: \"${replicas}\"\n",
            ),
            (
                "app/raw.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: raw\n  namespace: default\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  text: ${cluster_name}\n",
            ),
        ],
    );
    git(&repo.work, &["branch", "-m", "main", "master"]);
    repo.push();
    env.start();
    let url = format!("{}/apps.git", env.git.url());
    env.apply_yaml(&format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-vars
  namespace: flux-system
data:
  cluster_name: prod-1
  replicas: "3"
---
apiVersion: v1
kind: Secret
metadata:
  name: cluster-secrets
  namespace: flux-system
stringData:
  token: s3cr3t
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 1m
  ref:
    branch: master
  url: {url}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./app
  prune: true
  sourceRef:
    kind: GitRepository
    name: apps
  postBuild:
    substitute:
      namespace: default
      replicas: "5"
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
      - kind: Secret
        name: cluster-secrets
      - kind: Secret
        name: not-there
        optional: true
"#
    ))
    .await;
    env.wait_for(KS, "flux-system", "apps", T, "Ready", is_ready)
        .await;
    let cm = env.get("v1", "ConfigMap", "default", "app").await.unwrap();
    assert_eq!(cm["data"]["cluster"], "prod-1");
    assert_eq!(cm["data"]["region"], "eu-central-1");
    assert_eq!(cm["data"]["token"], "s3cr3t");
    assert_eq!(
        cm["data"]["replicas"], "5",
        "inline substitute wins over substituteFrom"
    );
    let raw = env.get("v1", "ConfigMap", "default", "raw").await.unwrap();
    assert_eq!(raw["data"]["text"], "${cluster_name}");

    // A required ConfigMap that is missing fails the build and applies nothing new.
    let api: kube::Api<gyre_api::kustomize::Kustomization> =
        kube::Api::namespaced(env.client.clone(), "flux-system");
    api.patch(
        "apps",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({"spec": {"postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "missing"}]}}})),
    )
    .await
    .unwrap();
    let ks = env
        .wait_for(
            KS,
            "flux-system",
            "apps",
            T,
            "failed on the missing ConfigMap",
            |o| ready(o).is_some_and(|c| c["status"] == "False"),
        )
        .await
        .unwrap();
    let cond = ready(Some(&ks)).unwrap();
    assert_eq!(cond["reason"], "BuildFailed");
    assert!(
        cond["message"]
            .as_str()
            .unwrap()
            .contains("ConfigMap/missing"),
        "{cond}"
    );
    assert_eq!(
        env.get("v1", "ConfigMap", "default", "app").await.unwrap()["data"]["cluster"],
        "prod-1"
    );
    env.stop().await;
}
