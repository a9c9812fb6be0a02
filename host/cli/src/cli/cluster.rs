//! What the flux-shaped commands share: the cluster flags, the table of Flux
//! and Gyre kinds, reading their status, requesting a reconcile and waiting
//! for it, and colour on a terminal.

use anyhow::Context;
use clap::Args;
use gyre_api::meta::{annotations, condition_types};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The namespace Flux (and Gyre) objects live in by default.
pub(super) const DEFAULT_NAMESPACE: &str = "flux-system";

/// How to reach the cluster and which namespace to work in.
#[derive(Debug, Args, Clone)]
pub(super) struct ClusterArgs {
    /// The namespace of the objects.
    #[arg(short, long, default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
}

impl ClusterArgs {
    /// A client for the configured cluster.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let options = kube::config::KubeConfigOptions {
            context: self.context.clone(),
            ..Default::default()
        };
        let config = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(path)
                    .with_context(|| format!("reading kubeconfig {}", path.display()))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?
            }
            None if self.context.is_some() => kube::Config::from_kubeconfig(&options).await?,
            None => kube::Config::infer()
                .await
                .context("no cluster configured (hint: set KUBECONFIG or pass --kubeconfig)")?,
        };
        Ok(kube::Client::try_from(config)?)
    }
}

/// A Flux or Gyre kind the CLI works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    GitRepository,
    OciRepository,
    HelmRepository,
    Bucket,
    HelmChart,
    Kustomization,
    HelmRelease,
    Plugin,
}

impl Kind {
    /// Every kind, in the order `gyre get all` lists them.
    pub const ALL: [Kind; 8] = [
        Kind::GitRepository,
        Kind::OciRepository,
        Kind::HelmRepository,
        Kind::Bucket,
        Kind::HelmChart,
        Kind::Kustomization,
        Kind::HelmRelease,
        Kind::Plugin,
    ];

    /// The API resource (group, version, plural).
    pub fn resource(self) -> ApiResource {
        use gyre_api::{helm, kustomize, plugin, source};
        match self {
            Kind::GitRepository => ApiResource::erase::<source::GitRepository>(&()),
            Kind::OciRepository => ApiResource::erase::<source::OCIRepository>(&()),
            Kind::HelmRepository => ApiResource::erase::<source::HelmRepository>(&()),
            Kind::Bucket => ApiResource::erase::<source::Bucket>(&()),
            Kind::HelmChart => ApiResource::erase::<source::HelmChart>(&()),
            Kind::Kustomization => ApiResource::erase::<kustomize::Kustomization>(&()),
            Kind::HelmRelease => ApiResource::erase::<helm::HelmRelease>(&()),
            Kind::Plugin => ApiResource::erase::<plugin::Plugin>(&()),
        }
    }

    /// The Kubernetes kind name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::GitRepository => "GitRepository",
            Kind::OciRepository => "OCIRepository",
            Kind::HelmRepository => "HelmRepository",
            Kind::Bucket => "Bucket",
            Kind::HelmChart => "HelmChart",
            Kind::Kustomization => "Kustomization",
            Kind::HelmRelease => "HelmRelease",
            Kind::Plugin => "Plugin",
        }
    }

    /// The kind for a Kubernetes kind name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// How the CLI spells it: `source git`, `kustomization`...
    pub fn cli(self) -> &'static str {
        match self {
            Kind::GitRepository => "source git",
            Kind::OciRepository => "source oci",
            Kind::HelmRepository => "source helm",
            Kind::Bucket => "source bucket",
            Kind::HelmChart => "source chart",
            Kind::Kustomization => "kustomization",
            Kind::HelmRelease => "helmrelease",
            Kind::Plugin => "plugin",
        }
    }

    /// The `gyre get` arguments that list objects of this kind.
    pub fn get_cli(self) -> &'static str {
        match self {
            Kind::GitRepository => "sources git",
            Kind::OciRepository => "sources oci",
            Kind::HelmRepository => "sources helm",
            Kind::Bucket => "sources bucket",
            Kind::HelmChart => "sources chart",
            Kind::Kustomization => "kustomizations",
            Kind::HelmRelease => "helmreleases",
            Kind::Plugin => "plugins",
        }
    }

    /// Whether it is a source (its reconciliation produces an artifact).
    pub fn is_source(self) -> bool {
        matches!(
            self,
            Kind::GitRepository
                | Kind::OciRepository
                | Kind::HelmRepository
                | Kind::Bucket
                | Kind::HelmChart
        )
    }

    /// A namespaced dynamic API for the kind.
    pub fn api(self, client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(client.clone(), namespace, &self.resource())
    }

    /// A dynamic API over all namespaces.
    pub fn api_all(self, client: &kube::Client) -> Api<DynamicObject> {
        Api::all_with(client.clone(), &self.resource())
    }

    /// The revision `gyre get` shows: the artifact's for sources, the last
    /// applied one for Kustomizations, the chart version for HelmReleases,
    /// the digest for Plugins.
    pub fn revision(self, obj: &Value) -> String {
        let status = &obj["status"];
        let s = match self {
            k if k.is_source() => status["artifact"]["revision"].as_str(),
            Kind::Kustomization => status["lastAppliedRevision"].as_str(),
            Kind::HelmRelease => status["history"][0]["chartVersion"]
                .as_str()
                .or_else(|| status["lastAttemptedRevision"].as_str()),
            _ => status["digest"].as_str(),
        };
        s.unwrap_or_default().to_string()
    }

    /// What a successful reconcile reports: `fetched revision X` for
    /// sources, `applied revision X` otherwise.
    pub fn revision_verb(self) -> &'static str {
        match self {
            k if k.is_source() => "fetched",
            Kind::Plugin => "pulled",
            _ => "applied",
        }
    }
}

/// Defines the `<verb> source git|oci|helm|bucket|chart NAME`,
/// `<verb> kustomization|ks NAME`, `<verb> helmrelease|hr NAME` and
/// `<verb> plugin NAME` subcommand tree of a verb, all with `$args`, and
/// `into_parts` returning the kind and the arguments.
macro_rules! targets {
    ($target:ident, $sources:ident, $args:ty) => {
        /// The kind of object.
        #[derive(Debug, clap::Subcommand)]
        pub(crate) enum $target {
            /// A source: git, oci, helm, bucket or chart.
            #[command(subcommand)]
            Source($sources),
            /// A Kustomization.
            #[command(visible_alias = "ks")]
            Kustomization($args),
            /// A HelmRelease.
            #[command(visible_alias = "hr")]
            Helmrelease($args),
            /// A Gyre Plugin.
            Plugin($args),
        }

        /// The kind of source.
        #[derive(Debug, clap::Subcommand)]
        pub(crate) enum $sources {
            /// A GitRepository.
            Git($args),
            /// An OCIRepository.
            Oci($args),
            /// A HelmRepository.
            Helm($args),
            /// A Bucket.
            Bucket($args),
            /// A HelmChart.
            Chart($args),
        }

        impl $target {
            /// The kind and the arguments.
            fn into_parts(self) -> ($crate::cli::cluster::Kind, $args) {
                use $crate::cli::cluster::Kind;
                match self {
                    $target::Source($sources::Git(a)) => (Kind::GitRepository, a),
                    $target::Source($sources::Oci(a)) => (Kind::OciRepository, a),
                    $target::Source($sources::Helm(a)) => (Kind::HelmRepository, a),
                    $target::Source($sources::Bucket(a)) => (Kind::Bucket, a),
                    $target::Source($sources::Chart(a)) => (Kind::HelmChart, a),
                    $target::Kustomization(a) => (Kind::Kustomization, a),
                    $target::Helmrelease(a) => (Kind::HelmRelease, a),
                    $target::Plugin(a) => (Kind::Plugin, a),
                }
            }
        }
    };
}
pub(super) use targets;

/// An object as JSON (the dynamic object serialized).
pub(super) fn to_json(obj: &DynamicObject) -> Value {
    serde_json::to_value(obj).unwrap_or(Value::Null)
}

/// The condition of type `type_` in `status.conditions`, if any.
pub(super) fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"].as_str() == Some(type_))
}

/// `spec.suspend`.
pub(super) fn is_suspended(obj: &Value) -> bool {
    obj["spec"]["suspend"].as_bool().unwrap_or(false)
}

/// The Ready status (`True`, `False`, `Unknown`) and message; an object
/// without a Ready condition is `False`, "waiting to be reconciled", as flux
/// shows it.
pub(super) fn ready(obj: &Value) -> (String, String) {
    match condition(obj, condition_types::READY) {
        Some(c) => (
            c["status"].as_str().unwrap_or("Unknown").to_string(),
            c["message"].as_str().unwrap_or_default().to_string(),
        ),
        None => ("False".into(), "waiting to be reconciled".into()),
    }
}

/// The current time as flux writes `reconcile.fluxcd.io/requestedAt`:
/// RFC 3339 with nanoseconds (trailing zeros trimmed, like Go's RFC3339Nano).
pub(super) fn request_timestamp() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// Reads `kind` `namespace/name`, failing with a hint when it does not exist.
pub(super) async fn get(
    client: &kube::Client,
    kind: Kind,
    namespace: &str,
    name: &str,
) -> anyhow::Result<Value> {
    let obj = kind
        .api(client, namespace)
        .get_opt(name)
        .await
        .with_context(|| format!("reading {} {namespace}/{name}", kind.name()))?
        .with_context(|| {
            format!(
                "{} {namespace}/{name} not found (hint: gyre get {} -A)",
                kind.name(),
                kind.get_cli()
            )
        })?;
    Ok(to_json(&obj))
}

/// Merge-patches `namespace/name`.
pub(super) async fn merge_patch(
    client: &kube::Client,
    kind: Kind,
    namespace: &str,
    name: &str,
    patch: &Value,
) -> anyhow::Result<Value> {
    let obj = kind
        .api(client, namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .with_context(|| format!("patching {} {namespace}/{name}", kind.name()))?;
    Ok(to_json(&obj))
}

/// What a reconcile request changes besides `reconcile.fluxcd.io/requestedAt`.
#[derive(Debug, Default)]
pub(super) struct Request {
    /// A merge patch for `spec` (resume: `{"suspend": false}`).
    pub spec: Option<Value>,
    /// Annotations set to the same timestamp (`reconcile.fluxcd.io/forceAt`,
    /// `resetAt`).
    pub also: Vec<&'static str>,
}

/// Sets `reconcile.fluxcd.io/requestedAt` (and what `request` adds) in one
/// merge patch and returns the requested timestamp.
pub(super) async fn request_reconcile(
    client: &kube::Client,
    kind: Kind,
    namespace: &str,
    name: &str,
    request: Request,
) -> anyhow::Result<String> {
    let at = request_timestamp();
    let mut patch = json!({
        "metadata": {"annotations": {annotations::RECONCILE_REQUESTED_AT: at}}
    });
    for a in request.also {
        patch["metadata"]["annotations"][a] = at.clone().into();
    }
    let spec = request.spec;
    if let Some(spec) = spec {
        patch["spec"] = spec;
    }
    merge_patch(client, kind, namespace, name, &patch).await?;
    Ok(at)
}

/// What to wait for.
pub(super) enum Until<'a> {
    /// `status.lastHandledReconcileAt` equals this request.
    Handled(&'a str),
    /// The current generation has been observed (after a create or update).
    Observed,
}

/// Waits until the object's controller has handled the request and its
/// Ready condition is decided (True or False), polling every 500 ms.
/// Returns the object; the caller reads Ready from it.
///
/// # Errors
/// When the object disappears, or at the timeout, naming what was last seen.
pub(super) async fn wait_reconciled(
    client: &kube::Client,
    kind: Kind,
    namespace: &str,
    name: &str,
    until: Until<'_>,
    timeout: Duration,
) -> anyhow::Result<Value> {
    let api = kind.api(client, namespace);
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no status yet");
    loop {
        let obj = api
            .get_opt(name)
            .await
            .with_context(|| format!("reading {} {namespace}/{name}", kind.name()))?
            .with_context(|| format!("{} {namespace}/{name} was deleted", kind.name()))?;
        let obj = to_json(&obj);
        let status = &obj["status"];
        let handled = match until {
            Until::Handled(at) => status["lastHandledReconcileAt"].as_str() == Some(at),
            Until::Observed => {
                status["observedGeneration"].as_i64().is_some()
                    && status["observedGeneration"] == obj["metadata"]["generation"]
            }
        };
        if handled {
            match condition(&obj, condition_types::READY) {
                Some(c) if c["status"] == "True" || c["status"] == "False" => return Ok(obj),
                Some(c) => last = c["message"].as_str().unwrap_or_default().to_string(),
                None => last = "no Ready condition yet".into(),
            }
        } else if let Some(c) = condition(&obj, condition_types::READY) {
            last = format!(
                "{} (request not handled yet)",
                c["message"].as_str().unwrap_or_default()
            );
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "timed out after {} waiting for {} {namespace}/{name} to be reconciled; last status: {last} (hint: is the gyre controller running? `gyre check`; `gyre events --for {}/{name} -n {namespace}`)",
                humantime(timeout),
                kind.name(),
                kind.name()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The outcome of a reconciliation the way flux reports it: `Ok(line)` with
/// `fetched revision X` when Ready=True, an error with Ready's message
/// when Ready=False.
pub(super) fn outcome(
    kind: Kind,
    namespace: &str,
    name: &str,
    obj: &Value,
) -> anyhow::Result<String> {
    let (status, message) = ready(obj);
    if status != "True" {
        anyhow::bail!(
            "{} {namespace}/{name} reconciliation failed: {message} (hint: gyre events --for {}/{name} -n {namespace})",
            kind.name(),
            kind.name()
        );
    }
    let revision = kind.revision(obj);
    Ok(if revision.is_empty() {
        message
    } else {
        format!("{} revision {revision}", kind.revision_verb())
    })
}

/// Parses a Go-style duration flag (`5m`, `1h30m`, `90s`).
pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    gyre_api::duration::parse_go_duration(s).map_err(|e| e.to_string())
}

/// A duration as Go prints it (`5m0s`).
pub(super) fn humantime(d: Duration) -> String {
    gyre_api::duration::format_go_duration(d)
}

/// ANSI colour for table cells, only when stdout is a terminal.
pub(super) struct Paint {
    on: bool,
}

impl Paint {
    /// Colour if stdout is a terminal and `NO_COLOR` is not set.
    pub fn stdout() -> Paint {
        Paint {
            on: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// `text` (already padded) in the colour that fits a Ready/Suspended
    /// value: True green, False red, Unknown yellow.
    pub fn status(&self, value: &str, text: &str) -> String {
        let code = match value {
            "True" => "32",
            "False" => "31",
            "Unknown" => "33",
            _ => return text.to_string(),
        };
        self.wrap(code, text)
    }

    /// `text` in yellow (warnings, suspended objects).
    pub fn warn(&self, text: &str) -> String {
        self.wrap("33", text)
    }

    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// A table printed with columns padded to their widest cell (two spaces
/// apart, like flux); `paint` colours cells after padding.
pub(super) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text; `colour(column, value, padded)` may wrap a cell.
    pub fn render(&self, colour: impl Fn(usize, &str, &str) -> String) -> String {
        let cols = self.header.len();
        let mut width = vec![0; cols];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate().take(cols) {
                width[i] = width[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for (r, row) in std::iter::once(&self.header).chain(&self.rows).enumerate() {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(cols) {
                let last = i + 1 == cols;
                let padded = if last {
                    cell.clone()
                } else {
                    format!("{cell:<w$}  ", w = width[i])
                };
                if r == 0 {
                    line.push_str(&padded);
                } else {
                    line.push_str(&colour(i, cell, &padded));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_to_the_widest_cell_and_trim_the_last() {
        let mut t = Table::new(&["NAME", "READY", "MESSAGE"]);
        t.row(vec!["podinfo".into(), "True".into(), "ok".into()]);
        t.row(vec!["a".into(), "False".into(), "".into()]);
        assert_eq!(
            t.render(|_, _, p| p.to_string()),
            "NAME     READY  MESSAGE\npodinfo  True   ok\na        False\n"
        );
    }

    #[test]
    fn an_object_without_a_ready_condition_is_waiting_to_be_reconciled() {
        assert_eq!(
            ready(&json!({"status": {}})),
            ("False".to_string(), "waiting to be reconciled".to_string())
        );
        let obj = json!({"status": {"conditions": [
            {"type": "Reconciling", "status": "True", "message": "x"},
            {"type": "Ready", "status": "True", "message": "Applied revision: main@sha1:abc"}
        ]}});
        assert_eq!(ready(&obj).1, "Applied revision: main@sha1:abc");
    }

    #[test]
    fn colour_wraps_status_cells_only_when_on() {
        let on = Paint { on: true };
        assert_eq!(on.status("True", "True  "), "\x1b[32mTrue  \x1b[0m");
        assert_eq!(on.status("False", "False"), "\x1b[31mFalse\x1b[0m");
        assert_eq!(on.status("podinfo", "podinfo"), "podinfo");
        let off = Paint { on: false };
        assert_eq!(off.status("True", "True"), "True");
        assert_eq!(off.warn("x"), "x");
    }

    #[test]
    fn request_timestamps_are_rfc3339_in_utc() {
        let ts = request_timestamp();
        assert!(ts.ends_with('Z') && ts.contains('T'), "{ts}");
        assert!(ts.parse::<k8s_openapi::jiff::Timestamp>().is_ok(), "{ts}");
    }

    #[test]
    fn revisions_come_from_the_field_each_kind_reports() {
        let obj = json!({"status": {
            "artifact": {"revision": "main@sha1:1"},
            "lastAppliedRevision": "main@sha1:2",
            "history": [{"chartVersion": "6.0.0"}],
            "digest": "sha256:3"
        }});
        assert_eq!(Kind::GitRepository.revision(&obj), "main@sha1:1");
        assert_eq!(Kind::Kustomization.revision(&obj), "main@sha1:2");
        assert_eq!(Kind::HelmRelease.revision(&obj), "6.0.0");
        assert_eq!(Kind::Plugin.revision(&obj), "sha256:3");
        assert_eq!(Kind::from_name("kustomization"), Some(Kind::Kustomization));
    }
}
