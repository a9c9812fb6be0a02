//! `gyre build helm`: `helm template` through the Helm renderer plugin.
//!
//! The host only gathers inputs — values files and `--set*` flags become the
//! renderer's ordered `valueSources`, `--set-file` contents are read here — and
//! prints what the sandboxed plugin returns. Chart files are read by the plugin
//! alone, from a read-only view of the chart's directory.

use super::HelmArgs;
use crate::plugins::Plugins;
use anyhow::Context;
use gyre_plugin::{Limits, World};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Renders the chart and prints it.
pub(super) async fn build(cache_dir: &Path, args: HelmArgs) -> anyhow::Result<()> {
    let (root, path, chart) = chart_location(&args.chart)?;
    let config = config(&args, chart)?;
    let plugins = Plugins::new(cache_dir, args.registry.options())?;
    let renderer = plugins
        .load(&args.renderer, World::Renderer, Limits::default())
        .await?;
    let out = renderer
        .render_documents(&root, &path, &config.to_string())
        .with_context(|| format!("rendering chart {}", args.chart.display()))?;
    for w in &out.warnings {
        eprintln!("# Warning: {w}");
    }
    let mut stdout = std::io::stdout().lock();
    for (object, origin) in out.objects.iter().zip(&out.origins) {
        writeln!(stdout, "---")?;
        if !origin.is_empty() {
            writeln!(stdout, "# Source: {origin}")?;
        }
        stdout.write_all(crate::yaml::to_string(object).as_bytes())?;
    }
    Ok(())
}

/// The artifact root the plugin sees, the render path inside it, and the
/// chart entry (a `.tgz` file name) when the chart is an archive. A chart
/// directory is its own root, so the plugin sees nothing beside it.
fn chart_location(chart: &Path) -> anyhow::Result<(PathBuf, String, Option<String>)> {
    let abs = chart
        .canonicalize()
        .with_context(|| format!("chart {}", chart.display()))?;
    if abs.is_dir() {
        anyhow::ensure!(
            abs.join("Chart.yaml").is_file(),
            "{} is not a chart: it has no Chart.yaml",
            chart.display()
        );
        return Ok((abs, ".".into(), None));
    }
    let parent = abs
        .parent()
        .context("a chart archive must have a parent directory")?
        .to_path_buf();
    let name = abs
        .file_name()
        .context("chart archive name")?
        .to_string_lossy()
        .into_owned();
    Ok((parent, ".".into(), Some(name)))
}

/// The renderer configuration: the flags, with user values as layers in
/// Helm's order (files, then `--set-json`, `--set`, `--set-string`,
/// `--set-file`, `--set-literal`, as `helm template` merges them).
fn config(args: &HelmArgs, chart: Option<String>) -> anyhow::Result<Value> {
    let mut sources = Vec::new();
    for f in &args.values {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading values file {}", f.display()))?;
        sources.push(json!({"yaml": text, "name": f.display().to_string()}));
    }
    sources.extend(args.set_json.iter().map(|s| json!({ "setJson": s })));
    sources.extend(args.set.iter().map(|s| json!({ "set": s })));
    sources.extend(args.set_string.iter().map(|s| json!({ "setString": s })));
    for arg in &args.set_file {
        for pair in arg.split(',') {
            let (key, file) = pair
                .split_once('=')
                .with_context(|| format!("--set-file {pair:?}: expected key=path"))?;
            let content = std::fs::read_to_string(file)
                .with_context(|| format!("--set-file {key}: reading {file}"))?;
            sources.push(json!({ "setLiteral": format!("{key}={content}") }));
        }
    }
    sources.extend(args.set_literal.iter().map(|s| json!({ "setLiteral": s })));
    let mut config = json!({
        "releaseName": args.release_name,
        "namespace": args.namespace,
        "valueSources": sources,
        "apiVersions": args.api_versions,
        "includeCrds": args.include_crds,
        "skipTests": args.skip_tests,
        "noHooks": args.no_hooks,
        "skipSchemaValidation": args.skip_schema_validation,
        "showOnly": args.show_only,
    });
    if let Some(v) = &args.kube_version {
        config["kubeVersion"] = json!(v);
    }
    if let Some(c) = chart {
        config["chart"] = json!(c);
    }
    Ok(config)
}
