//! How the CLI talks to people: YAML on stdout, errors with their cause
//! chain and a hint on stderr, logs via tracing.

use gyre_plugin::Error as PluginError;
use serde_json::Value;
use std::io::Write;

/// Sets up logging to stderr: warnings by default, `-v` for debug, JSON
/// lines with `--log-json`; `RUST_LOG` overrides.
pub fn init_logging(verbose: u8, json: bool) {
    let default = match verbose {
        0 => "warn",
        1 => "info,gyre=debug,gyre_plugin=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Writes objects as a YAML stream (`---` between documents).
pub fn write_yaml(objects: &[Value]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for (i, obj) in objects.iter().enumerate() {
        if i > 0 {
            writeln!(out, "---")?;
        }
        out.write_all(crate::yaml::to_string(obj).as_bytes())?;
    }
    Ok(())
}

/// A suggestion for the most common failures.
fn hint(err: &anyhow::Error) -> Option<&'static str> {
    let e = err.chain().find_map(|c| c.downcast_ref::<PluginError>())?;
    Some(match e {
        PluginError::NotCached(_) => "pull it once with network access, or pin it by digest",
        PluginError::Registry { .. } => {
            "check the reference and that the registry is reachable; use --insecure for a plain-HTTP registry"
        }
        PluginError::Credentials { .. } => "fix the docker config file or pass --docker-config",
        PluginError::WrongWorld { .. } => {
            "`gyre plugin inspect` shows which world a plugin implements"
        }
        PluginError::NotAComponent { .. } | PluginError::CompileFailed { .. } => {
            "plugins are WebAssembly components: build with `cargo build --target wasm32-wasip2`"
        }
        PluginError::DigestMismatch { .. } => {
            "the artifact was modified after it was published; do not use it"
        }
        PluginError::Timeout { .. }
        | PluginError::MemoryLimit { .. }
        | PluginError::OutputTooLarge { .. } => {
            "raise the plugin's limits only if the input really needs it"
        }
        PluginError::PluginFailed { .. } => "fix the input the plugin names above",
        _ => return None,
    })
}

/// Prints an error with its chain of causes, and a hint when one applies.
pub fn print_error(err: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "✗ {err}");
    for cause in err.chain().skip(1) {
        let _ = writeln!(stderr, "  caused by: {cause}");
    }
    if let Some(h) = hint(err) {
        let _ = writeln!(stderr, "  hint: {h}");
    }
}
