//! Gyre's Helm renderer: `helm template` semantics (Go text/template, Sprig, Helm's chart
//! model) in plain Rust, exported as a `renderer` WebAssembly component.

pub mod chart;
pub mod cli;
pub mod dates;
pub mod files;
pub mod funcs;
pub mod json;
pub mod printf;
pub mod render;
pub mod schema;
pub mod semver;
pub mod strvals;
pub mod tmpl;
pub mod toml;
pub mod value;
pub mod yaml;

#[cfg(target_arch = "wasm32")]
mod guest;

use std::path::Path;
use value::{Map, Value};

/// Errors from loading or rendering a chart.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or path does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The chart, values or options are invalid.
    #[error("{0}")]
    Invalid(String),
    /// Template parsing or execution failed.
    #[error("{0}")]
    Render(String),
}

impl Error {
    /// The template file (relative to the chart directory) and line an error points at, when the
    /// message names one (`template: chart/templates/x.yaml:12:3: ...`).
    pub fn location(&self) -> Option<(String, u32)> {
        let msg = self.to_string();
        let re = funcs::cached_regex(r"(?:template: |execution error at \(|parse error at \(|YAML parse error on )([^:()\s]+?)(?::(\d+))?[:)]").ok()?;
        let c = re.captures(&msg)?;
        let full = c.get(1)?.as_str();
        let rel = full
            .split_once('/')
            .map(|(_, r)| r)
            .unwrap_or(full)
            .to_string();
        let line = c.get(2).and_then(|l| l.as_str().parse().ok()).unwrap_or(0);
        Some((rel, line))
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Options of `helm template`.
#[derive(Debug, Clone, Default)]
pub struct TemplateOptions {
    /// Release name.
    pub release_name: String,
    /// Release namespace.
    pub namespace: String,
    /// User values (already merged: files then --set flags).
    pub values: Map,
    /// `--kube-version`.
    pub kube_version: Option<String>,
    /// `--api-versions`.
    pub api_versions: Vec<String>,
    /// `--include-crds`.
    pub include_crds: bool,
    /// `--skip-tests`.
    pub skip_tests: bool,
    /// `--no-hooks`.
    pub no_hooks: bool,
    /// `--skip-schema-validation`.
    pub skip_schema_validation: bool,
    /// `--show-only`.
    pub show_only: Vec<String>,
}

/// Rendered chart.
pub struct Rendered {
    /// The rendered objects, as JSON text, in Helm's order (CRDs first when requested).
    pub objects: Vec<String>,
    /// `helm template`'s text output.
    pub text: String,
    /// Warnings.
    pub warnings: Vec<String>,
}

/// Renders the chart at `chart` (a directory or `.tgz`, relative to `root`) like `helm template`.
///
/// Reads nothing outside `root`: paths and symlinks escaping it are refused, archives are
/// checked for `..` entries, links and decompressed size.
///
/// # Errors
/// Load, values, schema and template errors, with Helm's wording where it matters.
///
/// # Caveats
/// Deeply recursive templates need a large stack; native callers should run this on a
/// thread with a generous stack size (the CLI uses 256 MiB).
pub fn template(root: &Path, chart: &Path, opts: &TemplateOptions) -> Result<Rendered> {
    template_inner(root, chart, opts)
}

fn template_inner(root: &Path, chart: &Path, opts: &TemplateOptions) -> Result<Rendered> {
    let c = chart::load(root, chart)?;
    let out = render::render(c, opts.values.clone(), opts)?;
    let text = render::to_text(&out, opts)?;
    let mut objects = Vec::new();
    let mut push = |v: &Value| {
        if let Value::Map(_) = v {
            objects.push(serde_json::to_string(&json::to_serde(v)).unwrap_or_default());
        }
    };
    if opts.show_only.is_empty() {
        for (_, c) in &out.crds {
            for doc in render::split_manifests(c) {
                if let Ok(v) = yaml::parse(&doc, false) {
                    push(&v);
                }
            }
        }
        for m in &out.manifests {
            push(&m.data);
        }
        if !opts.no_hooks {
            for h in out.hooks.iter().filter(|h| !(opts.skip_tests && h.test)) {
                push(&h.data);
            }
        }
    } else {
        for doc in render::split_manifests(&text) {
            if let Ok(v) = yaml::parse(&doc, false) {
                push(&v);
            }
        }
    }
    Ok(Rendered {
        objects,
        text,
        warnings: out.warnings,
    })
}

/// Builds user values as Helm does: values files merged in order, then each `--set*` flag.
///
/// `read` reads a file named on the command line (values files and `--set-file`).
///
/// # Errors
/// Unreadable or invalid files and malformed `--set` expressions.
pub fn build_values(
    files: &[String],
    sets: &[(String, String)],
    read: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Map> {
    let mut vals = Map::new();
    for f in files {
        let s = read(f).map_err(Error::NotFound)?;
        let v = yaml::parse(&s, true).map_err(|e| {
            Error::Invalid(format!(
                "failed to parse {f}: error converting YAML to JSON: {e}"
            ))
        })?;
        match v {
            Value::Map(m) => strvals::merge_maps(&mut vals, &m.borrow()),
            Value::Nil => {}
            _ => {
                return Err(Error::Invalid(format!(
                    "failed to parse {f}: error unmarshaling JSON: cannot unmarshal into map"
                )));
            }
        }
    }
    for (flag, arg) in sets {
        let r = match flag.as_str() {
            "--set" => strvals::parse_into(arg, strvals::SetKind::Typed, &mut vals, read),
            "--set-string" => strvals::parse_into(arg, strvals::SetKind::String, &mut vals, read),
            "--set-literal" => strvals::parse_into(arg, strvals::SetKind::Literal, &mut vals, read),
            "--set-json" => strvals::parse_into(arg, strvals::SetKind::Json, &mut vals, read),
            "--set-file" => {
                let mut out = Ok(());
                for pair in arg.split(',') {
                    if let Some((k, p)) = pair.split_once('=') {
                        match read(p) {
                            Ok(content) => {
                                let lit = format!("{k}={content}");
                                out = strvals::parse_into(
                                    &lit,
                                    strvals::SetKind::Literal,
                                    &mut vals,
                                    read,
                                );
                            }
                            Err(e) => out = Err(e),
                        }
                    }
                }
                out
            }
            other => Err(format!("unknown flag {other}")),
        };
        r.map_err(Error::Invalid)?;
    }
    Ok(vals)
}

/// Parses and executes a standalone template text with Helm's function set (the engine
/// without a chart): `define`d templates in `text` are available to `include`/`template`.
///
/// # Errors
/// Parse and execution errors, worded as Go's text/template words them.
pub fn execute(name: &str, text: &str, data: &Value) -> Result<String> {
    let parsed = tmpl::parse::parse(text, &funcs::is_func)
        .map_err(|e| Error::Render(format!("template: {name}:{}: {}", e.line, e.msg)))?;
    let templates = tmpl::exec::Templates {
        map: Default::default(),
    };
    {
        let file: std::rc::Rc<str> = std::rc::Rc::from(name);
        let mut m = templates.map.borrow_mut();
        m.insert(
            name.to_string(),
            tmpl::exec::Tmpl {
                nodes: std::rc::Rc::new(parsed.root),
                file: file.clone(),
            },
        );
        for (n, body) in parsed.defines {
            m.insert(
                n,
                tmpl::exec::Tmpl {
                    nodes: std::rc::Rc::new(body),
                    file: file.clone(),
                },
            );
        }
    }
    let ctx = render::HelmCtx::default();
    let mut ex = tmpl::exec::Exec::new(&templates, &ctx, name);
    ex.exec_template(name, data.clone())
        .map_err(|e| Error::Render(e.msg))?;
    Ok(ex.out)
}
