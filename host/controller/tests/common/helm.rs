//! The real `helm` binary as a test oracle and chart packager: an isolated Helm home,
//! `helm package` into a served chart repository, `helm push` to an OCI registry, and
//! reading Gyre's release records back with `helm get`/`helm history`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The real helm binary: `HELM_BIN`, else `helm` on PATH.
pub fn helm_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("HELM_BIN") {
        return PathBuf::from(p);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("helm"))
        .find(|p| p.is_file())
        .expect("the real helm binary (v3.17.3) is required: set HELM_BIN or put helm on PATH")
}

/// Runs helm with an isolated home and `kubeconfig`; panics with its stderr on failure.
pub fn helm(home: &Path, kubeconfig: Option<&Path>, args: &[&str]) -> String {
    let mut cmd = Command::new(helm_bin());
    cmd.args(args)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env_remove("KUBECONFIG")
        .env_remove("HELM_DRIVER")
        .env_remove("HELM_NAMESPACE");
    if let Some(k) = kubeconfig {
        cmd.arg("--kubeconfig").arg(k);
    }
    let out = cmd.output().expect("helm runs");
    assert!(
        out.status.success(),
        "helm {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes a chart (`Chart.yaml`, `values.yaml`, `templates/<name>`) under `root/src/<name>`
/// and packages it with the real helm into `root/repo`, indexed as a chart repository.
/// Returns the repository directory and the package's path.
pub fn package(
    root: &Path,
    home: &Path,
    chart: &str,
    version: &str,
    values: &str,
    templates: &[(&str, &str)],
) -> (PathBuf, PathBuf) {
    let src = root.join("src").join(chart);
    std::fs::create_dir_all(src.join("templates")).unwrap();
    std::fs::write(
        src.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {chart}\ntype: application\nversion: {version}\nappVersion: \"{version}\"\n"),
    )
    .unwrap();
    std::fs::write(src.join("values.yaml"), values).unwrap();
    for (name, text) in templates {
        std::fs::write(src.join("templates").join(name), text).unwrap();
    }
    let repo = root.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    helm(
        home,
        None,
        &[
            "package",
            src.to_str().unwrap(),
            "-d",
            repo.to_str().unwrap(),
        ],
    );
    helm(home, None, &["repo", "index", repo.to_str().unwrap()]);
    let tgz = repo.join(format!("{chart}-{version}.tgz"));
    assert!(tgz.is_file(), "{} was packaged", tgz.display());
    (repo, tgz)
}

/// `helm get manifest` of a release.
pub fn manifest(home: &Path, kubeconfig: &Path, release: &str, ns: &str) -> String {
    helm(
        home,
        Some(kubeconfig),
        &["get", "manifest", release, "-n", ns],
    )
}

/// `helm history -o json` of a release.
pub fn history(home: &Path, kubeconfig: &Path, release: &str, ns: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(&helm(
        home,
        Some(kubeconfig),
        &["history", release, "-n", ns, "-o", "json"],
    ))
    .unwrap()
}

/// The documents of a manifest as JSON, `# Source:` comments dropped.
pub fn documents(manifest: &str) -> Vec<serde_json::Value> {
    serde_yaml_ng::Deserializer::from_str(manifest)
        .map(|d| <serde_json::Value as serde::Deserialize>::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}
