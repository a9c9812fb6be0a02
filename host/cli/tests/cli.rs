//! The `gyre` binary end to end: the README's first command, and a
//! kustomize build through the built-in plugin (both call plugins from
//! inside the async runtime, which the library tests do not).

use std::process::Command;

fn gyre(cache: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gyre"));
    c.env("GYRE_CACHE_DIR", cache);
    c
}

#[test]
fn demo_renders_and_transforms_the_embedded_example() {
    let cache = tempfile::tempdir().unwrap();
    let out = gyre(cache.path()).arg("demo").output().unwrap();
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
