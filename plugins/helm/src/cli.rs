//! `helm template`-style command-line flags, shared by the example CLI and `gyre build helm`.

use crate::TemplateOptions;

/// A parsed command line.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// Positional arguments (`RELEASE CHART`, or just `CHART` with `--release-name`).
    pub positional: Vec<String>,
    /// Options; `values` is left empty until [`crate::build_values`] fills it.
    pub opts: TemplateOptions,
    /// `-f/--values` files, in order.
    pub values_files: Vec<String>,
    /// `--set*` flags with their arguments, in order.
    pub sets: Vec<(String, String)>,
}

/// Parses flags: `--namespace/-n`, `--release-name`, `--kube-version`, `-f/--values`,
/// `--set`, `--set-string`, `--set-json`, `--set-file`, `--set-literal`, `--api-versions/-a`,
/// `--include-crds`, `--skip-tests`, `--no-hooks`, `--skip-schema-validation`, `--show-only/-s`.
///
/// # Errors
/// An unknown flag or a flag missing its value.
pub fn parse(args: &[String]) -> Result<Invocation, String> {
    let mut inv = Invocation {
        opts: TemplateOptions {
            namespace: "default".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.to_string(), None),
        };
        let takes_value = matches!(
            flag.as_str(),
            "--namespace"
                | "-n"
                | "--release-name"
                | "--kube-version"
                | "-f"
                | "--values"
                | "--set"
                | "--set-string"
                | "--set-json"
                | "--set-file"
                | "--set-literal"
                | "--api-versions"
                | "-a"
                | "--show-only"
                | "-s"
        );
        let val = if takes_value {
            match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| format!("flag needs an argument: {flag}"))?
                }
            }
        } else {
            String::new()
        };
        match flag.as_str() {
            "--namespace" | "-n" => inv.opts.namespace = val,
            "--release-name" => inv.opts.release_name = val,
            "--kube-version" => inv.opts.kube_version = Some(val),
            "-f" | "--values" => inv.values_files.extend(val.split(',').map(String::from)),
            "--set" | "--set-string" | "--set-json" | "--set-file" | "--set-literal" => {
                inv.sets.push((flag.clone(), val))
            }
            "--api-versions" | "-a" => inv
                .opts
                .api_versions
                .extend(val.split(',').map(String::from)),
            "--include-crds" => inv.opts.include_crds = true,
            "--skip-tests" => inv.opts.skip_tests = true,
            "--no-hooks" => inv.opts.no_hooks = true,
            "--skip-schema-validation" => inv.opts.skip_schema_validation = true,
            "--show-only" | "-s" => inv.opts.show_only.push(val),
            f if f.starts_with('-') && f.len() > 1 => return Err(format!("unknown flag: {f}")),
            _ => inv.positional.push(a.to_string()),
        }
        i += 1;
    }
    match inv.positional.len() {
        2 => inv.opts.release_name = inv.positional[0].clone(),
        1 if inv.opts.release_name.is_empty() => inv.opts.release_name = "release-name".into(),
        1 => {}
        _ => return Err("expected RELEASE CHART or CHART".into()),
    }
    Ok(inv)
}

impl Invocation {
    /// The chart argument.
    pub fn chart(&self) -> &str {
        self.positional.last().map(String::as_str).unwrap_or(".")
    }
}
