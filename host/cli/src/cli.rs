//! Command-line arguments and dispatch.

use crate::output::write_yaml;
use crate::plugins::{Plugins, default_cache_dir};
use crate::progress::Step;
use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use gyre_plugin::oci::RegistryOptions;
use gyre_plugin::{Limits, World};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod check;
mod cluster;
mod controller;
mod create;
mod diff;
mod events;
mod get;
mod helm;
mod install;
mod reconcile;
mod suspend;
mod tree;

/// Gyre: GitOps for Kubernetes that speaks the Flux v2 APIs, with every
/// configuration transform running as a sandboxed WebAssembly plugin.
#[derive(Debug, Parser)]
#[command(name = "gyre", version, propagate_version = true)]
pub struct Cli {
    /// Cache for pulled plugins and compiled code.
    #[arg(long, global = true, env = "GYRE_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// More logging (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// Whether this runs the controller.
    pub fn is_controller(&self) -> bool {
        matches!(&self.command, Command::Controller(_))
    }

    /// Whether a subcommand asked for JSON logs (`gyre controller --log-encoding json`).
    pub fn wants_json_logs(&self) -> bool {
        matches!(&self.command, Command::Controller(a) if a.log_encoding == "json")
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Gyre on an embedded default: an in-process API server (kube-sim),
    /// the controllers and a bundled example Git repository, reconciled the
    /// way Flux's getting-started guide does it. Needs no cluster and no
    /// network (only `git`). `--pipeline` instead shows the plugin pipeline
    /// alone: render, transform, image policy and notification.
    Demo {
        /// Show only the sandboxed plugin pipeline (no API server).
        #[arg(long)]
        pipeline: bool,
        /// Keep the API server running (kubeconfig written to
        /// ./gyre-demo.kubeconfig) until Ctrl-C.
        #[arg(long, conflicts_with = "pipeline")]
        keep_running: bool,
    },
    /// Run the controllers (in a cluster: see deploy/).
    Controller(Box<controller::ControllerArgs>),
    /// Render a local directory through a renderer plugin (and optional
    /// transforms) and print the objects as YAML.
    Render(RenderArgs),
    /// Build configuration locally and print it as YAML (like `flux build`).
    #[command(subcommand)]
    Build(BuildCommand),
    /// Show what applying a local directory would change in the cluster
    /// (server-side dry run; exit code 1 when there are changes).
    Diff(DiffCommand),
    /// Push configuration to an OCI registry as a Flux artifact (like `flux
    /// push artifact`), for an OCIRepository to pull.
    #[command(subcommand)]
    Push(PushCommand),
    /// Push, pull, inspect and list plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Print the version and the plugin contract version.
    Version {
        /// Only the client's version (all `gyre version` prints; accepted
        /// for compatibility with `flux version --client`).
        #[arg(long)]
        client: bool,
    },
    /// List sources, Kustomizations, HelmReleases and Plugins with their
    /// status (like `flux get`).
    #[command(subcommand)]
    Get(get::GetCommand),
    /// Reconcile an object now and wait for the result (like `flux reconcile`).
    #[command(subcommand)]
    Reconcile(reconcile::ReconcileTarget),
    /// Stop reconciling an object (`spec.suspend: true`).
    #[command(subcommand)]
    Suspend(suspend::SuspendTarget),
    /// Resume reconciling a suspended object and wait for the reconciliation.
    #[command(subcommand)]
    Resume(suspend::ResumeTarget),
    /// Show the objects a Kustomization applied, as a tree (like `flux tree`).
    #[command(subcommand)]
    Tree(tree::TreeCommand),
    /// Show the Kubernetes Events of Flux and Gyre objects (like `flux events`).
    Events(events::EventsArgs),
    /// Create or update sources and Kustomizations, or print them with
    /// `--export` (like `flux create`).
    #[command(subcommand)]
    Create(create::CreateCommand),
    /// Install Gyre (CRDs, RBAC, controller) in a cluster, or print the
    /// manifests with `--export`.
    Install(install::InstallArgs),
    /// Check that the cluster can run Gyre and that Gyre is installed and ready.
    Check(check::CheckArgs),
}

#[derive(Debug, Args)]
struct RegistryArgs {
    /// Talk plain HTTP to the registry (trusted local registries only).
    #[arg(long)]
    insecure: bool,
    /// Docker config file with registry credentials.
    #[arg(long, value_name = "FILE", env = "GYRE_DOCKER_CONFIG")]
    docker_config: Option<PathBuf>,
    /// Use only the local cache, never the network.
    #[arg(long)]
    offline: bool,
}

impl RegistryArgs {
    fn options(&self) -> RegistryOptions {
        RegistryOptions {
            insecure: self.insecure,
            docker_config: self.docker_config.clone(),
            offline: self.offline,
        }
    }
}

#[derive(Debug, Args)]
struct RenderArgs {
    /// Directory to render.
    #[arg(long, default_value = ".")]
    path: PathBuf,
    /// Root of the artifact the renderer may read (default: the enclosing
    /// Git work tree, else the path itself). Nothing outside it is visible.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Renderer plugin: `builtin:<name>`, a .wasm file, or an OCI reference.
    #[arg(long, default_value = "builtin:manifests")]
    renderer: String,
    /// Renderer configuration (JSON).
    #[arg(long, default_value = "{}")]
    config: String,
    /// Transform plugin to run on the output (repeatable, in order).
    #[arg(long = "transform", value_name = "PLUGIN")]
    transforms: Vec<String>,
    /// Configuration (JSON) of the transform at the same position.
    #[arg(long = "transform-config", value_name = "JSON")]
    transform_configs: Vec<String>,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Subcommand)]
enum PushCommand {
    /// Package a directory as a Flux OCI artifact and push it.
    Artifact {
        /// Where to push: `oci://registry/repo:tag`.
        reference: String,
        /// The directory to package.
        #[arg(long)]
        path: PathBuf,
        /// The source it came from (a Git URL), recorded as
        /// `org.opencontainers.image.source`.
        #[arg(long)]
        source: String,
        /// The revision it came from (`main@sha1:<hex>`), recorded as
        /// `org.opencontainers.image.revision`.
        #[arg(long)]
        revision: String,
        /// Extra paths to leave out (gitignore syntax, comma-separated).
        #[arg(long)]
        ignore_paths: Option<String>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

/// `gyre diff --path DIR`, or `gyre diff kustomization NAME --path DIR`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
struct DiffCommand {
    #[command(subcommand)]
    kustomization: Option<DiffKustomization>,
    #[command(flatten)]
    args: DiffArgs,
}

#[derive(Debug, Subcommand)]
enum DiffKustomization {
    /// Diff a directory as the named Kustomization would apply it (its spec's
    /// targetNamespace, patches, images... and its ownership labels).
    Kustomization {
        /// The Kustomization's name.
        name: String,
        /// The Kustomization's namespace.
        #[arg(short, long, default_value = "flux-system")]
        namespace: String,
        #[command(flatten)]
        args: DiffArgs,
    },
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// The directory to build and compare.
    #[arg(long, default_value = ".")]
    path: PathBuf,
    /// Root of the tree the renderer may read (default: the enclosing Git
    /// work tree, else the current directory if it holds the path).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long)]
    context: Option<String>,
    /// Renderer plugin.
    #[arg(long, default_value = "builtin:kustomize")]
    renderer: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Subcommand)]
enum BuildCommand {
    /// Build a kustomization directory with kustomize v5 semantics through
    /// the kustomize plugin (like `kustomize build` / `flux build kustomization`).
    Kustomization(KustomizationArgs),
    /// Render a Helm chart (a directory or a packaged .tgz) like `helm
    /// template`, through the Helm renderer plugin, and print it as YAML with
    /// Helm's `# Source:` headers.
    Helm(HelmArgs),
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
struct HelmArgs {
    /// The chart: a directory holding Chart.yaml, or a packaged .tgz.
    chart: PathBuf,
    /// Release name.
    #[arg(long, default_value = "release-name")]
    release_name: String,
    /// Release namespace.
    #[arg(short, long, default_value = "default")]
    namespace: String,
    /// Values file (repeatable, or comma-separated); later files win.
    #[arg(
        short = 'f',
        long = "values",
        value_name = "FILE",
        value_delimiter = ','
    )]
    values: Vec<PathBuf>,
    /// Set values (`a.b=1,c[0]=x`), with Helm's type inference.
    #[arg(long = "set", value_name = "KEY=VAL")]
    set: Vec<String>,
    /// Set values as strings.
    #[arg(long = "set-string", value_name = "KEY=VAL")]
    set_string: Vec<String>,
    /// Set values from JSON (`a={"b":1}`).
    #[arg(long = "set-json", value_name = "KEY=JSON")]
    set_json: Vec<String>,
    /// Set values from files (`key=path`).
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    set_file: Vec<String>,
    /// Set one value verbatim (no escaping, commas kept).
    #[arg(long = "set-literal", value_name = "KEY=VAL")]
    set_literal: Vec<String>,
    /// Kubernetes version for `.Capabilities` and `kubeVersion` checks.
    #[arg(long)]
    kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions` (repeatable, or comma-separated).
    #[arg(short = 'a', long = "api-versions", value_delimiter = ',')]
    api_versions: Vec<String>,
    /// Also print the chart's `crds/`.
    #[arg(long)]
    include_crds: bool,
    /// Leave out test hooks.
    #[arg(long)]
    skip_tests: bool,
    /// Leave out all hooks.
    #[arg(long)]
    no_hooks: bool,
    /// Do not validate values against values.schema.json.
    #[arg(long)]
    skip_schema_validation: bool,
    /// Only print the output of these templates (`templates/service.yaml`).
    #[arg(short = 's', long = "show-only", value_name = "TEMPLATE")]
    show_only: Vec<String>,
    /// Renderer plugin to use instead of the built-in Helm renderer.
    #[arg(long, default_value = "builtin:helm")]
    renderer: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
struct KustomizationArgs {
    /// The directory holding kustomization.yaml.
    #[arg(long, default_value = ".")]
    path: PathBuf,
    /// Root of the tree the plugin may read (default: the enclosing Git
    /// work tree, else the current directory if it holds the path, else
    /// the path itself). Nothing outside it is visible.
    #[arg(long)]
    root: Option<PathBuf>,
    /// `LoadRestrictionsRootOnly` (kustomize's default: files only from
    /// the kustomization's own tree) or `LoadRestrictionsNone` (Flux's).
    #[arg(long, default_value = "LoadRestrictionsRootOnly")]
    load_restrictor: String,
    /// Output order: `legacy` (kustomize's default) or `none` (input order).
    #[arg(long, default_value = "legacy")]
    reorder: String,
    /// Renderer plugin to use instead of the built-in kustomize.
    #[arg(long, default_value = "builtin:kustomize")]
    renderer: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Push a .wasm component to an OCI registry (CNCF Wasm layout).
    Push {
        /// The component file.
        file: PathBuf,
        /// Where to push, e.g. `registry.example.com/plugins/jsonnet:v1`.
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Pull a plugin by tag or `@sha256:` digest into the local cache.
    Pull {
        /// The reference.
        reference: String,
        /// Also write the component to this file.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Show a plugin's world, imports, exports, digest and size.
    Inspect {
        /// `builtin:<name>`, a .wasm file or an OCI reference.
        target: String,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// List the built-in plugins and the plugins in the local cache.
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let cache_dir = cli.cache_dir.clone().unwrap_or_else(default_cache_dir);
    match cli.command {
        Command::Demo {
            pipeline: false,
            keep_running,
        } => crate::cluster_demo::run(&cache_dir, keep_running).await?,
        Command::Controller(args) => return controller::run(*args).await,
        Command::Demo { pipeline: true, .. } => {
            let plugins = Plugins::new(
                &cache_dir,
                RegistryOptions {
                    offline: true,
                    ..Default::default()
                },
            )?;
            crate::demo::run(&plugins).await?;
        }
        Command::Render(args) => render(&cache_dir, args).await?,
        Command::Build(BuildCommand::Kustomization(args)) => {
            build_kustomization(&cache_dir, args).await?
        }
        Command::Build(BuildCommand::Helm(args)) => helm::build(&cache_dir, args).await?,
        Command::Diff(cmd) => return diff::run(&cache_dir, cmd).await,
        Command::Push(PushCommand::Artifact {
            reference,
            path,
            source,
            revision,
            ignore_paths,
            registry,
        }) => {
            push_artifact(
                &reference,
                &path,
                &source,
                &revision,
                ignore_paths,
                &registry,
            )
            .await?
        }
        Command::Plugin(cmd) => plugin(&cache_dir, cmd).await?,
        Command::Get(cmd) => get::run(cmd).await?,
        Command::Reconcile(target) => reconcile::run(target).await?,
        Command::Suspend(target) => suspend::suspend(target).await?,
        Command::Resume(target) => suspend::resume(target).await?,
        Command::Tree(cmd) => tree::run(cmd).await?,
        Command::Events(args) => events::run(args).await?,
        Command::Create(cmd) => create::run(cmd).await?,
        Command::Install(args) => install::run(args).await?,
        Command::Check(args) => check::run(args).await?,
        Command::Version { client: _ } => {
            println!("gyre {}", env!("CARGO_PKG_VERSION"));
            println!(
                "plugin contract gyre:plugin@0.1.0 (worlds: renderer, transform, image-policy, notifier)"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The nearest ancestor holding `.git`; else the current directory when it
/// holds `path`; else `path` itself.
fn artifact_root(path: &Path) -> PathBuf {
    if let Some(git) = path.ancestors().find(|p| p.join(".git").exists()) {
        return git.to_path_buf();
    }
    match std::env::current_dir().and_then(|d| d.canonicalize()) {
        Ok(cwd) if path.starts_with(&cwd) => cwd,
        _ => path.to_path_buf(),
    }
}

/// Resolves a local render path into (artifact root, path relative to it).
fn locate(path: &Path, root: Option<&Path>) -> anyhow::Result<(PathBuf, String)> {
    let path = path
        .canonicalize()
        .with_context(|| format!("path {}", path.display()))?;
    anyhow::ensure!(path.is_dir(), "path {} is not a directory", path.display());
    let root = match root {
        Some(r) => r
            .canonicalize()
            .with_context(|| format!("artifact root {}", r.display()))?,
        None => artifact_root(&path),
    };
    let rel = path.strip_prefix(&root).with_context(|| {
        format!(
            "{} is not inside the artifact root {}",
            path.display(),
            root.display()
        )
    })?;
    let rel = if rel.as_os_str().is_empty() {
        ".".to_string()
    } else {
        rel.to_string_lossy().into_owned()
    };
    Ok((root, rel))
}

async fn build_kustomization(cache_dir: &Path, args: KustomizationArgs) -> anyhow::Result<()> {
    let (root, rel) = locate(&args.path, args.root.as_deref())?;
    anyhow::ensure!(
        matches!(
            args.load_restrictor.as_str(),
            "LoadRestrictionsRootOnly" | "LoadRestrictionsNone"
        ),
        "--load-restrictor must be LoadRestrictionsRootOnly or LoadRestrictionsNone, not {:?}",
        args.load_restrictor
    );
    anyhow::ensure!(
        matches!(args.reorder.as_str(), "legacy" | "none"),
        "--reorder must be legacy or none, not {:?}",
        args.reorder
    );
    let config = serde_json::json!({
        "loadRestrictor": args.load_restrictor,
        "reorder": args.reorder,
        "generateKustomization": false,
    });
    let plugins = Plugins::new(cache_dir, args.registry.options())?;
    let renderer = plugins
        .load(&args.renderer, World::Renderer, Limits::default())
        .await?;
    let out = renderer
        .render(&root, &rel, &config.to_string())
        .with_context(|| format!("building kustomization {}", args.path.display()))?;
    for w in &out.warnings {
        eprintln!("# Warning: {w}");
    }
    write_yaml(&out.objects)
}

async fn render(cache_dir: &Path, args: RenderArgs) -> anyhow::Result<()> {
    let (root, rel) = locate(&args.path, args.root.as_deref())?;
    let path = &args.path;
    anyhow::ensure!(
        args.transform_configs.len() <= args.transforms.len(),
        "{} --transform-config values for {} --transform plugins",
        args.transform_configs.len(),
        args.transforms.len()
    );

    let plugins = Plugins::new(cache_dir, args.registry.options())?;
    let renderer = plugins
        .load(&args.renderer, World::Renderer, Limits::default())
        .await?;
    let step = Step::start(format!("rendering {} with {}", rel, renderer.name()));
    let out = renderer
        .render(&root, &rel, &args.config)
        .with_context(|| format!("rendering {}", path.display()))?;
    step.done(format!("({} objects)", out.objects.len()));
    for w in &out.warnings {
        tracing::warn!(renderer = renderer.name(), "{w}");
    }
    let mut objects = out.objects;
    for (i, reference) in args.transforms.iter().enumerate() {
        let config = args
            .transform_configs
            .get(i)
            .map(String::as_str)
            .unwrap_or("{}");
        let t = plugins
            .load(reference, World::Transform, Limits::default())
            .await?;
        objects = t
            .transform(&objects, config)
            .with_context(|| format!("transform {reference}"))?;
    }
    write_yaml(&objects)
}

async fn push_artifact(
    reference: &str,
    path: &Path,
    source: &str,
    revision: &str,
    ignore_paths: Option<String>,
    registry: &RegistryArgs,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        path.is_dir(),
        "--path {} is not a directory",
        path.display()
    );
    let host = reference
        .strip_prefix("oci://")
        .unwrap_or(reference)
        .split('/')
        .next()
        .unwrap_or_default();
    let docker_config = registry.docker_config.clone().or_else(|| {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
        Some(dir.join("config.json"))
    });
    let credentials = match docker_config.filter(|p| p.is_file()) {
        Some(file) => {
            let json = std::fs::read(&file)
                .with_context(|| format!("reading docker config {}", file.display()))?;
            gyre_source::oci::credentials_from_docker_config(&json, host)?
        }
        None => None,
    };
    let options = gyre_source::oci::PushOptions {
        credentials,
        insecure: registry.insecure,
        ignore: ignore_paths.map(|p| p.replace(',', "\n")),
        ..Default::default()
    };
    let step = Step::start(format!("pushing {} to {reference}", path.display()));
    let digest = gyre_source::oci::push_artifact(path, reference, source, revision, &options)
        .await
        .with_context(|| format!("pushing {} to {reference}", path.display()))?;
    step.done("");
    println!("pushed {reference}");
    println!("digest: {digest}");
    Ok(())
}

async fn plugin(cache_dir: &Path, cmd: PluginCommand) -> anyhow::Result<()> {
    match cmd {
        PluginCommand::Push {
            file,
            reference,
            registry,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let plugins = Plugins::new(cache_dir, registry.options())?;
            let info = plugins
                .engine
                .inspect(&file.display().to_string(), &bytes)?;
            anyhow::ensure!(
                !info.worlds.is_empty(),
                "{} implements no Gyre plugin world (it exports: {})",
                file.display(),
                info.exports.join(", ")
            );
            let step = Step::start(format!("pushing {} to {reference}", file.display()));
            let pushed = plugins
                .registry
                .push(&bytes, &info, &reference)
                .await
                .with_context(|| format!("pushing to {reference}"))?;
            step.done("");
            println!("pushed {}", pushed.reference);
            println!("digest: {}", pushed.manifest_digest);
            let base = reference
                .split_once('@')
                .map(|(b, _)| b)
                .unwrap_or(&reference);
            let base = base
                .rsplit_once(':')
                .filter(|(_, tag)| !tag.contains('/'))
                .map(|(b, _)| b)
                .unwrap_or(base);
            println!("pin it as: {base}@{}", pushed.manifest_digest);
        }
        PluginCommand::Pull {
            reference,
            output,
            registry,
        } => {
            let plugins = Plugins::new(cache_dir, registry.options())?;
            let (name, bytes) = plugins.fetch(&reference).await?;
            let info = plugins.engine.inspect(&name, &bytes)?;
            println!("{name}");
            println!("world: {}", worlds(&info.worlds));
            println!("size: {} bytes", info.size);
            if let Some(out) = output {
                std::fs::write(&out, &bytes)
                    .with_context(|| format!("writing {}", out.display()))?;
                println!("written to {}", out.display());
            }
        }
        PluginCommand::Inspect {
            target,
            output,
            registry,
        } => {
            let plugins = Plugins::new(cache_dir, registry.options())?;
            let (name, bytes) = plugins.fetch(&target).await?;
            let info = plugins.engine.inspect(&name, &bytes)?;
            match output {
                Format::Json => println!("{}", serde_json::to_string_pretty(&info)?),
                Format::Text => {
                    println!("plugin:  {name}");
                    println!("world:   {}", worlds(&info.worlds));
                    println!("digest:  {}", info.digest);
                    println!("size:    {} bytes", info.size);
                    println!("exports:");
                    for e in &info.exports {
                        println!("  {e}");
                    }
                    println!("imports:");
                    for i in &info.imports {
                        println!("  {i}");
                    }
                }
            }
        }
        PluginCommand::List => {
            println!("{:<44} {:<14} DESCRIPTION", "NAME", "WORLD");
            for b in gyre_builtins::BUILTINS {
                println!(
                    "{:<44} {:<14} {}",
                    format!("builtin:{}", b.name),
                    b.world,
                    b.description
                );
            }
            let store = gyre_plugin::store::BlobStore::new(cache_dir.join("plugins"));
            let tags = store.tags();
            println!();
            if tags.is_empty() {
                println!("no plugins in the cache at {}", store.root().display());
            } else {
                println!("{:<60} DIGEST", "CACHED REFERENCE");
                for t in tags {
                    println!("{:<60} {}", t.reference, t.manifest_digest);
                }
            }
        }
    }
    Ok(())
}

fn worlds(w: &[World]) -> String {
    if w.is_empty() {
        "none (not a Gyre plugin)".into()
    } else {
        w.iter()
            .map(|w| w.wit_name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn artifact_root_is_the_enclosing_git_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::create_dir_all(dir.path().join("apps/prod")).unwrap();
        assert_eq!(artifact_root(&dir.path().join("apps/prod")), dir.path());
        let bare = tempfile::tempdir().unwrap();
        assert_eq!(artifact_root(bare.path()), bare.path());
    }
}
