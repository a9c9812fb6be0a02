//! The `gyre` binary end to end: the README's first command, and a
//! kustomize build through the built-in plugin (both call plugins from
//! inside the async runtime, which the library tests do not).

use gyre_plugin_tests::TestRegistry;
use std::process::Command;

fn gyre(cache: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gyre"));
    c.env("GYRE_CACHE_DIR", cache);
    c
}

/// The README's first command: kube-sim, the controllers and the bundled Git repository,
/// reconciled to Ready; the reconciled objects are listed from the inventory.
#[test]
fn demo_reconciles_the_bundled_repository_on_kube_sim() {
    let cache = tempfile::tempdir().unwrap();
    let out = gyre(cache.path()).arg("demo").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stderr.contains("Applied revision: main@sha1:"), "{stderr}");
    for line in [
        "ConfigMap    default    podinfo-config   v1",
        "Service      default    podinfo          v1",
        "Deployment   default    podinfo          v1",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn demo_pipeline_renders_and_transforms_the_embedded_example() {
    let cache = tempfile::tempdir().unwrap();
    let out = gyre(cache.path())
        .args(["demo", "--pipeline"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.matches("namespace: demo").count(), 3, "{stdout}");
    assert!(
        stdout.contains("kind: Deployment")
            && stdout.contains("app.kubernetes.io/managed-by: gyre")
    );
    assert!(
        stderr.contains("→ 6.6.0"),
        "semver ^6 picks 6.6.0: {stderr}"
    );
}

#[test]
fn build_kustomization_applies_an_overlay_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let prod = dir.path().join("prod");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::create_dir_all(&prod).unwrap();
    std::fs::write(base.join("kustomization.yaml"), "resources:\n- cm.yaml\n").unwrap();
    std::fs::write(
        base.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: \"1\"\n",
    )
    .unwrap();
    std::fs::write(
        prod.join("kustomization.yaml"),
        "resources:\n- ../base\nnamespace: prod\nnamePrefix: prod-\n",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = gyre(cache.path())
        .args(["build", "kustomization", "--root"])
        .arg(dir.path())
        .arg("--path")
        .arg(&prod)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("name: prod-app") && stdout.contains("namespace: prod"),
        "{stdout}"
    );

    std::fs::write(
        prod.join("kustomization.yaml"),
        "resources:\n- ../missing\n",
    )
    .unwrap();
    let out = gyre(cache.path())
        .args(["build", "kustomization", "--root"])
        .arg(dir.path())
        .arg("--path")
        .arg(&prod)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kustomization.yaml") && stderr.contains("hint:"),
        "{stderr}"
    );
}

/// Runs `gyre` off the async runtime (kube-sim serves on it meanwhile).
async fn run_gyre(cache: &std::path::Path, args: Vec<String>) -> std::process::Output {
    let cache = cache.to_path_buf();
    tokio::task::spawn_blocking(move || gyre(&cache).args(&args).output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_shows_created_configured_and_nothing_after_apply_with_secrets_masked() {
    let sim = kube_sim::KubeSim::start(kube_sim::Options::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    let cm = |v: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: default\ndata:\n  color: {v}\n"
        )
    };
    std::fs::write(app.join("cm.yaml"), cm("blue")).unwrap();
    std::fs::write(
        app.join("secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: default\nstringData:\n  password: hunter2-s3cret\n",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let args = vec![
        "diff".to_string(),
        "--path".into(),
        app.display().to_string(),
        "--kubeconfig".into(),
        kubeconfig.display().to_string(),
    ];

    let out = run_gyre(cache.path(), args.clone()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("► ConfigMap/default/web created"),
        "{stdout}"
    );
    assert!(
        stdout.contains("► Secret/default/creds created"),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2"), "secret value leaked: {stdout}");

    // Apply both as the engine would, then the diff is empty.
    let client = kube::Client::try_from(sim.client_config().await.unwrap()).unwrap();
    let objects: Vec<serde_json::Value> = vec![
        serde_json::json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"web","namespace":"default"},"data":{"color":"blue"}}),
        serde_json::json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds","namespace":"default"},"stringData":{"password":"hunter2-s3cret"}}),
    ];
    gyre_apply::Applier::new(client)
        .apply(objects, &gyre_apply::ApplyOptions::default())
        .await
        .map_err(|f| f.chain())
        .unwrap();
    let out = run_gyre(cache.path(), args.clone()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.trim().is_empty(), "{stdout}");

    // A change in Git is a configured object with a unified diff.
    std::fs::write(app.join("cm.yaml"), cm("green")).unwrap();
    let out = run_gyre(cache.path(), args.clone()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("► ConfigMap/default/web configured"),
        "{stdout}"
    );
    assert!(
        stdout.contains("-  color: blue") && stdout.contains("+  color: green"),
        "{stdout}"
    );
    assert!(!stdout.contains("Secret/default/creds"), "{stdout}");

    // Naming a Kustomization that does not exist is a clear error.
    let mut ks_args = vec!["diff".to_string(), "kustomization".into(), "nope".into()];
    ks_args.extend(args[1..].iter().cloned());
    let out = run_gyre(cache.path(), ks_args).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Kustomization flux-system/nope"),
        "{stderr}"
    );
}

/// The manifest of `repo:tag` in `registry`, fetched with a plain HTTP/1.0 GET.
fn manifest(registry: &TestRegistry, repo: &str, tag: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&registry.addr).unwrap();
    write!(
        s,
        "GET /v2/{repo}/manifests/{tag} HTTP/1.0\r\nHost: {}\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\n\r\n",
        registry.addr
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    serde_json::from_str(body).unwrap()
}

#[test]
fn push_artifact_creates_a_flux_oci_artifact() {
    let registry = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    )
    .unwrap();
    let reference = format!("oci://{}/apps/demo:v1", registry.addr);
    let revision = "main@sha1:0123456789abcdef0123456789abcdef01234567";
    let out = gyre(dir.path())
        .env("DOCKER_CONFIG", dir.path())
        .args(["push", "artifact", &reference, "--path"])
        .arg(&app)
        .args([
            "--source",
            "https://github.com/example/demo",
            "--revision",
            revision,
            "--insecure",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("digest: sha256:"), "{stdout}");

    let manifest = manifest(&registry, "apps/demo", "v1");
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.cncf.flux.config.v1+json"
    );
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.cncf.flux.content.v1.tar+gzip"
    );
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.revision"],
        revision
    );
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.source"],
        "https://github.com/example/demo"
    );
}
