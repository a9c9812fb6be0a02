//! Gyre's Helm renderer: `helm template` semantics (Go text/template, Sprig, Helm's chart
//! model) in plain Rust, exported as a `renderer` WebAssembly component.

pub mod alloc;
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
    /// `.Release.Revision` (Helm's template uses 1; an upgrade renders the next revision).
    pub revision: Option<i64>,
    /// `.Release.IsUpgrade` (and not `.Release.IsInstall`), as an upgrade renders.
    pub is_upgrade: bool,
}

/// Rendered chart.
pub struct Rendered {
    /// The rendered objects, as JSON text, in Helm's order (CRDs first when requested).
    pub objects: Vec<String>,
    /// For each object, the template it came from (`chart/templates/x.yaml`).
    pub origins: Vec<String>,
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
    template_inner(root, chart, opts, true)
}

/// As [`template`], for callers that only want the objects: [`Rendered::text`] is left
/// empty unless `show_only` needs it to select documents.
///
/// # Errors
/// As [`template`].
pub fn template_objects(root: &Path, chart: &Path, opts: &TemplateOptions) -> Result<Rendered> {
    template_inner(root, chart, opts, false)
}

fn template_inner(
    root: &Path,
    chart: &Path,
    opts: &TemplateOptions,
    want_text: bool,
) -> Result<Rendered> {
    let c = chart::load(root, chart)?;
    let out = render::render(c, opts.values.clone(), opts)?;
    let text = if want_text || !opts.show_only.is_empty() {
        render::to_text(&out, opts)?
    } else {
        String::new()
    };
    let mut objects = Vec::new();
    let mut origins = Vec::new();
    let mut push = |v: &Value, origin: &str| {
        if let Value::Map(_) = v {
            objects.push(serde_json::to_string(&json::to_serde(v)).unwrap_or_default());
            origins.push(origin.to_string());
        }
    };
    if opts.show_only.is_empty() {
        for (path, c) in &out.crds {
            for doc in render::split_manifests(c) {
                if let Ok(v) = yaml::parse(&doc, false) {
                    push(&v, path);
                }
            }
        }
        for m in &out.manifests {
            push(&m.data, &m.path);
        }
        if !opts.no_hooks {
            for h in out.hooks.iter().filter(|h| !(opts.skip_tests && h.test)) {
                push(&h.data, &h.path);
            }
        }
    } else {
        // The filtered text is all there is; each document names its origin
        // in its `# Source:` line, and a document without one continues the
        // file before it (as Helm's own splitter treats it).
        let mut origin = String::new();
        for doc in render::split_manifests(&text) {
            if let Some(src) = doc.lines().find_map(|l| l.strip_prefix("# Source: ")) {
                origin = src.trim().to_string();
            }
            if let Ok(v) = yaml::parse(&doc, false) {
                push(&v, &origin);
            }
        }
    }
    Ok(Rendered {
        objects,
        origins,
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
        merge_yaml_layer(&mut vals, f, &s)?;
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

/// Merges one values file (`name` for errors) over `vals`, as `-f` does.
fn merge_yaml_layer(vals: &mut Map, name: &str, text: &str) -> Result<()> {
    let v = yaml::parse(text, true).map_err(|e| {
        Error::Invalid(format!(
            "failed to parse {name}: error converting YAML to JSON: {e}"
        ))
    })?;
    match v {
        Value::Map(m) => strvals::merge_maps(vals, &m.borrow()),
        Value::Nil => {}
        _ => {
            return Err(Error::Invalid(format!(
                "failed to parse {name}: error unmarshaling JSON: cannot unmarshal into map"
            )));
        }
    }
    Ok(())
}

/// Builds user values from an ordered list of layers, the renderer's `valueSources`
/// configuration:
///
/// `[{"yaml": "<text>", "name": "values.yaml"}, {"json": {...}}, {"set": "a.b=1"},
///   {"setString": "..."}, {"setJson": "..."}, {"setLiteral": "..."}]`
///
/// Each layer is merged over the ones before it, exactly as `-f` files and `--set*`
/// flags are: YAML and JSON numbers are float64 (Helm decodes values files and Flux's
/// `spec.values` that way), `set` infers int64/bool/string as `--set` does. Nothing is
/// read from disk: a host resolves `--set-file` into `setLiteral` first.
///
/// # Errors
/// A malformed layer, naming its position and what is wrong.
pub fn values_from_sources(sources: &serde_json::Value) -> Result<Map> {
    let no_files = |p: &str| -> Result<String, String> {
        Err(format!(
            "{p}: files cannot be read here; pass their content instead"
        ))
    };
    let list = match sources {
        serde_json::Value::Null => return Ok(Map::new()),
        serde_json::Value::Array(l) => l,
        _ => return Err(Error::Invalid("valueSources must be a list".into())),
    };
    let mut vals = Map::new();
    for (i, layer) in list.iter().enumerate() {
        let obj = layer.as_object().filter(|o| !o.is_empty()).ok_or_else(|| {
            Error::Invalid(format!(
                "valueSources[{i}] must be an object with one kind key"
            ))
        })?;
        let name = obj.get("name").and_then(|n| n.as_str()).unwrap_or("values");
        let text = |k: &str| {
            obj.get(k)
                .and_then(|t| t.as_str())
                .ok_or_else(|| Error::Invalid(format!("valueSources[{i}].{k} must be a string")))
        };
        let set = |kind: strvals::SetKind, k: &str, vals: &mut Map| -> Result<()> {
            strvals::parse_into(text(k)?, kind, vals, &no_files).map_err(Error::Invalid)
        };
        if obj.contains_key("yaml") {
            merge_yaml_layer(&mut vals, name, text("yaml")?)?;
        } else if let Some(j) = obj.get("json") {
            match json::from_serde(j) {
                Value::Map(m) => strvals::merge_maps(&mut vals, &m.borrow()),
                Value::Nil => {}
                _ => {
                    return Err(Error::Invalid(format!(
                        "valueSources[{i}].json must be an object"
                    )));
                }
            }
        } else if obj.contains_key("set") {
            set(strvals::SetKind::Typed, "set", &mut vals)?;
        } else if obj.contains_key("setString") {
            set(strvals::SetKind::String, "setString", &mut vals)?;
        } else if obj.contains_key("setJson") {
            set(strvals::SetKind::Json, "setJson", &mut vals)?;
        } else if obj.contains_key("setLiteral") {
            set(strvals::SetKind::Literal, "setLiteral", &mut vals)?;
        } else {
            let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            return Err(Error::Invalid(format!(
                "valueSources[{i}] has none of yaml, json, set, setString, setJson, setLiteral (keys: {})",
                keys.join(", ")
            )));
        }
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
