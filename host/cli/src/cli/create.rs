//! `gyre create`: generate sources and Kustomizations from flags, like
//! `flux create`. With `--export` the object is printed as YAML (exactly the
//! fields flux prints, keys sorted as flux's encoder sorts them); otherwise it
//! is applied server-side (field manager `gyre`) and waited for until its
//! controller reports Ready.

use super::cluster::{self, ClusterArgs, Kind, Until, humantime, outcome, parse_duration};
use crate::progress::Step;
use anyhow::Context;
use clap::{ArgAction, Args, Subcommand};
use gyre_apply::{Applier, ApplyOptions};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// What to create.
#[derive(Debug, Subcommand)]
pub(crate) enum CreateCommand {
    /// A source: git, helm, oci or bucket.
    #[command(subcommand)]
    Source(CreateSource),
    /// A Kustomization that applies a path of a source.
    #[command(visible_alias = "ks")]
    Kustomization(KustomizationArgs),
}

/// Which source to create.
#[derive(Debug, Subcommand)]
pub(crate) enum CreateSource {
    /// A GitRepository.
    Git(GitArgs),
    /// A HelmRepository (an HTTP index, or an OCI registry with `oci://`).
    Helm(HelmArgs),
    /// An OCIRepository.
    Oci(OciArgs),
    /// A Bucket.
    Bucket(BucketArgs),
}

/// Flags every `gyre create` command has.
#[derive(Debug, Args)]
pub(crate) struct CommonArgs {
    /// The object's name.
    name: String,
    /// How often the controller reconciles it.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    interval: Duration,
    /// Labels of the object: `key=value` (repeatable or comma-separated).
    #[arg(long = "label", value_delimiter = ',', value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Print the object as YAML instead of applying it.
    #[arg(long)]
    export: bool,
    /// How long to wait for it to become Ready after applying.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    cluster: ClusterArgs,
}

// Boolean flags take an optional value (`--prune` or `--prune=true`), as
// flux's do, so commands copied from the Flux docs work unchanged.

/// Flags of `gyre create source git`.
#[derive(Debug, Args)]
pub(crate) struct GitArgs {
    /// Repository address (`https://`, `http://` or `ssh://`).
    #[arg(long)]
    url: String,
    /// Branch to check out.
    #[arg(long)]
    branch: Option<String>,
    /// Tag to check out.
    #[arg(long)]
    tag: Option<String>,
    /// SemVer range of tags; the highest match is checked out.
    #[arg(long = "tag-semver", visible_alias = "semver", value_name = "RANGE")]
    semver: Option<String>,
    /// Commit SHA to check out (with --branch, looked up on that branch).
    #[arg(long)]
    commit: Option<String>,
    /// Git reference name to check out (e.g. `refs/pull/1/head`).
    #[arg(long)]
    ref_name: Option<String>,
    /// Existing Secret with the credentials.
    #[arg(long)]
    secret_ref: Option<String>,
    /// Paths to ignore (gitignore syntax; repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    ignore_paths: Vec<String>,
    /// Include the repository's submodules.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value_t = false)]
    recurse_submodules: bool,
    /// Timeout of Git operations (spec.timeout).
    #[arg(long, value_parser = parse_duration)]
    fetch_timeout: Option<Duration>,
    #[command(flatten)]
    common: CommonArgs,
}

/// Flags of `gyre create source helm`.
#[derive(Debug, Args)]
pub(crate) struct HelmArgs {
    /// Repository address (`https://`, `http://`, or `oci://` for a registry).
    #[arg(long)]
    url: String,
    /// An OCI registry (implied by an `oci://` URL).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value_t = false)]
    oci: bool,
    /// Existing Secret with the credentials.
    #[arg(long)]
    secret_ref: Option<String>,
    /// Send the credentials to hosts other than the repository's too.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value_t = false)]
    pass_credentials: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// Flags of `gyre create source oci`.
#[derive(Debug, Args)]
pub(crate) struct OciArgs {
    /// Artifact address, `oci://<registry>/<repository>`.
    #[arg(long)]
    url: String,
    /// Tag to pull.
    #[arg(long)]
    tag: Option<String>,
    /// SemVer range of tags; the highest match is pulled.
    #[arg(long = "tag-semver", visible_alias = "semver", value_name = "RANGE")]
    semver: Option<String>,
    /// Digest to pull (`sha256:<hex>`).
    #[arg(long)]
    digest: Option<String>,
    /// Existing Secret of type kubernetes.io/dockerconfigjson.
    #[arg(long)]
    secret_ref: Option<String>,
    /// Paths to ignore (gitignore syntax; repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    ignore_paths: Vec<String>,
    /// Allow a plain-HTTP registry.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value_t = false)]
    insecure: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// Flags of `gyre create source bucket`.
#[derive(Debug, Args)]
pub(crate) struct BucketArgs {
    /// Name of the bucket.
    #[arg(long)]
    bucket_name: String,
    /// Address of the object storage (host[:port]).
    #[arg(long)]
    endpoint: String,
    /// `generic` (S3-compatible), `aws`, `gcp` or `azure`.
    #[arg(long, default_value = "generic")]
    provider: String,
    /// Region of the bucket.
    #[arg(long)]
    region: Option<String>,
    /// Existing Secret with the credentials.
    #[arg(long)]
    secret_ref: Option<String>,
    /// Allow a plain-HTTP endpoint.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value_t = false)]
    insecure: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// Flags of `gyre create kustomization`.
#[derive(Debug, Args)]
pub(crate) struct KustomizationArgs {
    /// The source: `[<kind>/]<name>[.<namespace>]`, kind GitRepository
    /// (default), OCIRepository or Bucket.
    #[arg(long)]
    source: String,
    /// Path in the source to build.
    #[arg(long, default_value = "./")]
    path: String,
    /// Delete objects that leave the source.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value_t = false)]
    prune: bool,
    /// Namespace for every namespaced object.
    #[arg(long)]
    target_namespace: Option<String>,
    /// Kustomizations that must be Ready first: `<name>` or `<namespace>/<name>`
    /// (repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    depends_on: Vec<String>,
    /// Wait for every applied object to be healthy.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value_t = false)]
    wait: bool,
    /// Timeout of build, apply and health checks (spec.timeout).
    #[arg(long, value_parser = parse_duration)]
    health_check_timeout: Option<Duration>,
    /// ServiceAccount to impersonate when applying.
    #[arg(long)]
    service_account: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs `gyre create`.
pub(super) async fn run(cmd: CreateCommand) -> anyhow::Result<()> {
    let (kind, object, common) = match cmd {
        CreateCommand::Source(CreateSource::Git(a)) => {
            let o = git(&a)?;
            (Kind::GitRepository, o, a.common)
        }
        CreateCommand::Source(CreateSource::Helm(a)) => {
            let o = helm(&a)?;
            (Kind::HelmRepository, o, a.common)
        }
        CreateCommand::Source(CreateSource::Oci(a)) => {
            let o = oci(&a)?;
            (Kind::OciRepository, o, a.common)
        }
        CreateCommand::Source(CreateSource::Bucket(a)) => {
            let o = bucket(&a)?;
            (Kind::Bucket, o, a.common)
        }
        CreateCommand::Kustomization(a) => {
            let o = kustomization(&a)?;
            (Kind::Kustomization, o, a.common)
        }
    };
    if common.export {
        print!("---\n{}", crate::yaml::to_string(&object));
        return Ok(());
    }
    let what = if kind.is_source() {
        format!("{} source", kind.name())
    } else {
        kind.name().to_string()
    };
    let (ns, name) = (&common.cluster.namespace, &common.name);
    let client = common.cluster.client().await?;
    eprintln!("✚ generating {what}");
    eprintln!("► applying {what}");
    let options = ApplyOptions {
        default_namespace: ns.clone(),
        ..ApplyOptions::default()
    };
    let result = Applier::new(client.clone())
        .apply(vec![object], &options)
        .await
        .map_err(|failure| anyhow::anyhow!("{}", failure.chain()))
        .with_context(|| format!("applying {} {ns}/{name}", kind.name()))?;
    let action = result
        .change_set()
        .entries
        .first()
        .map(|e| e.action.to_string())
        .unwrap_or_else(|| "applied".into());
    eprintln!("✔ {what} {action}");
    let step = Step::start(format!("waiting for {what} reconciliation"));
    let obj =
        cluster::wait_reconciled(&client, kind, ns, name, Until::Observed, common.timeout).await?;
    step.done("");
    let line = outcome(kind, ns, name, &obj)?;
    eprintln!("✔ {line}");
    Ok(())
}

/// The object's skeleton: apiVersion, kind, metadata.
///
/// # Errors
/// When a `--label` is not `key=value`.
fn object(kind: Kind, common: &CommonArgs, spec: Value) -> anyhow::Result<Value> {
    let ar = kind.resource();
    let mut metadata = json!({"name": common.name, "namespace": common.cluster.namespace});
    for label in &common.labels {
        let (k, v) = label
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .with_context(|| {
                format!(
                    "{} {}: --label {label:?} is not KEY=VALUE (hint: --label app=podinfo)",
                    kind.name(),
                    common.name
                )
            })?;
        metadata["labels"][k] = v.into();
    }
    Ok(sorted(json!({
        "apiVersion": ar.api_version,
        "kind": ar.kind,
        "metadata": metadata,
        "spec": spec,
    })))
}

/// Keys sorted at every level, as flux's YAML encoder writes them.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(l) => Value::Array(l.into_iter().map(sorted).collect()),
        v => v,
    }
}

fn interval(d: Duration) -> Value {
    humantime(d).into()
}

fn secret_ref(spec: &mut Map<String, Value>, name: &Option<String>) {
    if let Some(name) = name {
        spec.insert("secretRef".into(), json!({ "name": name }));
    }
}

fn git(a: &GitArgs) -> anyhow::Result<Value> {
    let scheme = a.url.split("://").next().unwrap_or_default();
    anyhow::ensure!(
        a.url.contains("://") && matches!(scheme, "http" | "https" | "ssh"),
        "GitRepository {}: URL {:?} is not supported (hint: use an http://, https:// or ssh:// address)",
        a.common.name,
        a.url
    );
    // Flux's precedence: commit (with its branch), ref name, semver, tag, branch.
    let reference = if let Some(commit) = &a.commit {
        let mut r = json!({ "commit": commit });
        if let Some(b) = &a.branch {
            r["branch"] = b.as_str().into();
        }
        r
    } else if let Some(n) = &a.ref_name {
        json!({ "name": n })
    } else if let Some(s) = &a.semver {
        json!({ "semver": s })
    } else if let Some(t) = &a.tag {
        json!({ "tag": t })
    } else if let Some(b) = &a.branch {
        json!({ "branch": b })
    } else {
        anyhow::bail!(
            "GitRepository {}: a Git reference is required (hint: pass one of --branch, --tag, --tag-semver, --commit or --ref-name)",
            a.common.name
        );
    };
    let mut spec = Map::new();
    spec.insert("interval".into(), interval(a.common.interval));
    spec.insert("ref".into(), reference);
    spec.insert("url".into(), a.url.clone().into());
    secret_ref(&mut spec, &a.secret_ref);
    if !a.ignore_paths.is_empty() {
        spec.insert("ignore".into(), a.ignore_paths.join("\n").into());
    }
    if a.recurse_submodules {
        spec.insert("recurseSubmodules".into(), true.into());
    }
    if let Some(t) = a.fetch_timeout {
        spec.insert("timeout".into(), interval(t));
    }
    object(Kind::GitRepository, &a.common, spec.into())
}

fn helm(a: &HelmArgs) -> anyhow::Result<Value> {
    let oci = a.oci || a.url.starts_with("oci://");
    anyhow::ensure!(
        ["http://", "https://", "oci://"]
            .iter()
            .any(|p| a.url.starts_with(p)),
        "HelmRepository {}: URL {:?} is not supported (hint: use an http://, https:// or oci:// address)",
        a.common.name,
        a.url
    );
    anyhow::ensure!(
        !oci || a.url.starts_with("oci://"),
        "HelmRepository {}: --oci needs an oci:// URL, not {:?}",
        a.common.name,
        a.url
    );
    let mut spec = Map::new();
    spec.insert("interval".into(), interval(a.common.interval));
    spec.insert("url".into(), a.url.clone().into());
    secret_ref(&mut spec, &a.secret_ref);
    if a.pass_credentials {
        spec.insert("passCredentials".into(), true.into());
    }
    if oci {
        spec.insert("type".into(), "oci".into());
    }
    object(Kind::HelmRepository, &a.common, spec.into())
}

fn oci(a: &OciArgs) -> anyhow::Result<Value> {
    anyhow::ensure!(
        a.url.starts_with("oci://"),
        "OCIRepository {}: URL {:?} is not an oci:// address (hint: --url oci://ghcr.io/org/repo)",
        a.common.name,
        a.url
    );
    let reference = if let Some(d) = &a.digest {
        json!({ "digest": d })
    } else if let Some(s) = &a.semver {
        json!({ "semver": s })
    } else if let Some(t) = &a.tag {
        json!({ "tag": t })
    } else {
        anyhow::bail!(
            "OCIRepository {}: an artifact reference is required (hint: pass one of --tag, --tag-semver or --digest)",
            a.common.name
        );
    };
    let mut spec = Map::new();
    spec.insert("interval".into(), interval(a.common.interval));
    spec.insert("ref".into(), reference);
    spec.insert("url".into(), a.url.clone().into());
    secret_ref(&mut spec, &a.secret_ref);
    if !a.ignore_paths.is_empty() {
        spec.insert("ignore".into(), a.ignore_paths.join("\n").into());
    }
    if a.insecure {
        spec.insert("insecure".into(), true.into());
    }
    object(Kind::OciRepository, &a.common, spec.into())
}

fn bucket(a: &BucketArgs) -> anyhow::Result<Value> {
    anyhow::ensure!(
        matches!(a.provider.as_str(), "generic" | "aws" | "gcp" | "azure"),
        "Bucket {}: provider {:?} is not supported (hint: --provider generic, aws, gcp or azure)",
        a.common.name,
        a.provider
    );
    let mut spec = Map::new();
    spec.insert("bucketName".into(), a.bucket_name.clone().into());
    spec.insert("endpoint".into(), a.endpoint.clone().into());
    spec.insert("interval".into(), interval(a.common.interval));
    spec.insert("provider".into(), a.provider.clone().into());
    secret_ref(&mut spec, &a.secret_ref);
    if let Some(r) = &a.region {
        spec.insert("region".into(), r.clone().into());
    }
    if a.insecure {
        spec.insert("insecure".into(), true.into());
    }
    object(Kind::Bucket, &a.common, spec.into())
}

/// `[<kind>/]<name>[.<namespace>]` → a sourceRef.
fn source_ref(source: &str) -> anyhow::Result<Value> {
    let (kind, rest) = match source.split_once('/') {
        Some((k, r)) => (k, r),
        None => ("GitRepository", source),
    };
    let kind = ["GitRepository", "OCIRepository", "Bucket"]
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(kind))
        .with_context(|| {
            format!(
                "--source {source:?}: kind {kind:?} is not a Kustomization source (hint: GitRepository, OCIRepository or Bucket, e.g. --source GitRepository/podinfo)"
            )
        })?;
    let (name, namespace) = match rest.split_once('.') {
        Some((n, ns)) => (n, Some(ns)),
        None => (rest, None),
    };
    anyhow::ensure!(
        !name.is_empty() && namespace != Some(""),
        "--source {source:?} has no name (hint: --source GitRepository/podinfo)"
    );
    let mut r = json!({ "kind": kind, "name": name });
    if let Some(ns) = namespace {
        r["namespace"] = ns.into();
    }
    Ok(r)
}

fn kustomization(a: &KustomizationArgs) -> anyhow::Result<Value> {
    let mut spec = Map::new();
    if !a.depends_on.is_empty() {
        let deps: Vec<Value> = a
            .depends_on
            .iter()
            .map(|d| match d.split_once('/') {
                Some((ns, n)) => json!({ "name": n, "namespace": ns }),
                None => json!({ "name": d }),
            })
            .collect();
        spec.insert("dependsOn".into(), deps.into());
    }
    spec.insert("interval".into(), interval(a.common.interval));
    spec.insert("path".into(), a.path.clone().into());
    spec.insert("prune".into(), a.prune.into());
    spec.insert("sourceRef".into(), source_ref(&a.source)?);
    if let Some(ns) = &a.target_namespace {
        spec.insert("targetNamespace".into(), ns.clone().into());
    }
    if let Some(t) = a.health_check_timeout {
        spec.insert("timeout".into(), interval(t));
    }
    if let Some(sa) = &a.service_account {
        spec.insert("serviceAccountName".into(), sa.clone().into());
    }
    if a.wait {
        spec.insert("wait".into(), true.into());
    }
    object(Kind::Kustomization, &a.common, spec.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: CreateCommand,
    }

    fn export(args: &[&str]) -> anyhow::Result<String> {
        let mut argv = vec!["t"];
        argv.extend(args);
        let cmd = T::try_parse_from(argv)?.cmd;
        let obj = match cmd {
            CreateCommand::Source(CreateSource::Git(a)) => git(&a)?,
            CreateCommand::Source(CreateSource::Helm(a)) => helm(&a)?,
            CreateCommand::Source(CreateSource::Oci(a)) => oci(&a)?,
            CreateCommand::Source(CreateSource::Bucket(a)) => bucket(&a)?,
            CreateCommand::Kustomization(a) => kustomization(&a)?,
        };
        Ok(crate::yaml::to_string(&obj))
    }

    #[test]
    fn git_sources_export_like_flux() {
        let y = export(&[
            "source",
            "git",
            "podinfo",
            "--url",
            "https://github.com/stefanprodan/podinfo",
            "--branch",
            "master",
            "--interval",
            "30s",
        ])
        .unwrap();
        assert_eq!(
            y,
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: podinfo\n  namespace: flux-system\nspec:\n  interval: 30s\n  ref:\n    branch: master\n  url: https://github.com/stefanprodan/podinfo\n"
        );
        let y = export(&[
            "source",
            "git",
            "p",
            "--url",
            "ssh://git@h/r",
            "--tag-semver",
            ">=1.0.0",
            "--secret-ref",
            "creds",
            "-n",
            "apps",
        ])
        .unwrap();
        assert!(
            y.contains("  ref:\n    semver: '>=1.0.0'\n  secretRef:\n    name: creds\n"),
            "{y}"
        );
        assert!(
            y.contains("interval: 1m0s") && y.contains("namespace: apps"),
            "{y}"
        );
        let y = export(&[
            "source",
            "git",
            "p",
            "--url",
            "https://h/r",
            "--branch",
            "main",
            "--label",
            "team=a,tier=web",
        ])
        .unwrap();
        assert!(
            y.contains("metadata:\n  labels:\n    team: a\n    tier: web\n  name: p\n"),
            "{y}"
        );
        let err = export(&[
            "source",
            "git",
            "p",
            "--url",
            "https://h/r",
            "--branch",
            "m",
            "--label",
            "x",
        ]);
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("--label \"x\" is not KEY=VALUE")
        );
        let err = export(&["source", "git", "p", "--url", "https://h/r"]).unwrap_err();
        assert!(err.to_string().contains("--branch"), "{err}");
        assert!(export(&["source", "git", "p", "--url", "ftp://h/r", "--branch", "m"]).is_err());
    }

    #[test]
    fn kustomizations_export_like_flux() {
        let y = export(&[
            "kustomization",
            "podinfo",
            "--source",
            "GitRepository/podinfo",
            "--path",
            "./kustomize",
            "--prune",
            "--interval",
            "5m",
            "--target-namespace",
            "default",
            "--depends-on",
            "infra,flux-system/crds",
            "--wait",
        ])
        .unwrap();
        assert_eq!(
            y,
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: podinfo\n  namespace: flux-system\nspec:\n  dependsOn:\n  - name: infra\n  - name: crds\n    namespace: flux-system\n  interval: 5m0s\n  path: ./kustomize\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: podinfo\n  targetNamespace: default\n  wait: true\n"
        );
        // Flux's docs spell boolean flags `--prune=true`.
        let y2 = export(&[
            "kustomization",
            "podinfo",
            "--source=GitRepository/podinfo",
            "--path=./kustomize",
            "--prune=true",
            "--interval=5m",
            "--target-namespace=default",
            "--depends-on=infra,flux-system/crds",
            "--wait=true",
        ])
        .unwrap();
        assert_eq!(y, y2);
        let y = export(&["ks", "a", "--source", "podinfo.other", "--wait=false"]).unwrap();
        assert!(!y.contains("wait"), "{y}");
        assert!(y.contains("prune: false") && y.contains("path: ./"), "{y}");
        assert!(
            y.contains("kind: GitRepository\n    name: podinfo\n    namespace: other"),
            "{y}"
        );
        assert!(export(&["ks", "a", "--source", "HelmRepository/x"]).is_err());
    }

    #[test]
    fn helm_oci_and_bucket_sources_export_like_flux() {
        let y = export(&["source", "helm", "r", "--url", "oci://ghcr.io/org/charts"]).unwrap();
        assert!(
            y.ends_with("spec:\n  interval: 1m0s\n  type: oci\n  url: oci://ghcr.io/org/charts\n"),
            "{y}"
        );
        let y = export(&["source", "helm", "r", "--url", "https://charts.example.com"]).unwrap();
        assert!(!y.contains("type:"), "{y}");
        let y = export(&[
            "source",
            "oci",
            "o",
            "--url",
            "oci://ghcr.io/org/app",
            "--tag",
            "latest",
        ])
        .unwrap();
        assert!(y.contains("  ref:\n    tag: latest\n"), "{y}");
        assert!(export(&["source", "oci", "o", "--url", "oci://x/y"]).is_err());
        let y = export(&[
            "source",
            "bucket",
            "b",
            "--bucket-name",
            "podinfo",
            "--endpoint",
            "minio.minio.svc:9000",
            "--insecure",
        ])
        .unwrap();
        assert!(
            y.ends_with("spec:\n  bucketName: podinfo\n  endpoint: minio.minio.svc:9000\n  insecure: true\n  interval: 1m0s\n  provider: generic\n"),
            "{y}"
        );
    }
}
