//! The Wasm component: the `renderer` world, with the artifact tree at `/src`.

use crate::flux::FluxSpec;
use crate::{ErrorKind, Options, Reorder, build_with_warnings};
use exports::gyre::plugin::render::{Guest, RenderOutput, RenderRequest};
use gyre::plugin::types::{InputError, Location, PluginError};

wit_bindgen::generate!({ path: "../../wit", world: "renderer" });

struct Component;

fn to_plugin_error(e: crate::Error) -> PluginError {
    let location = Some(Location {
        file: e.file.clone(),
        field: e.field.clone(),
        line: None,
    });
    match e.kind {
        ErrorKind::Invalid => PluginError::InvalidInput(InputError {
            message: e.message,
            location,
        }),
        ErrorKind::NotFound => PluginError::NotFound(InputError {
            message: e.message,
            location,
        }),
        ErrorKind::Unsupported => PluginError::Unsupported(e.to_string()),
    }
}

/// Reads the plugin configuration: a Flux `Kustomization.spec`-shaped JSON
/// object plus renderer switches. Defaults follow kustomize-controller:
/// files may be loaded from anywhere inside the artifact (LoadRestrictionsNone)
/// and a directory without a kustomization file gets a generated one.
fn options(config: &str) -> Result<Options, PluginError> {
    let mut opts = Options {
        load_restrictor_none: true,
        generate_kustomization: true,
        ..Options::default()
    };
    if config.trim().is_empty() {
        return Ok(opts);
    }
    let cfg: serde_json::Value = serde_json::from_str(config)
        .map_err(|e| PluginError::InvalidConfig(format!("config is not JSON: {e}")))?;
    if let Some(r) = cfg.get("loadRestrictor").and_then(|v| v.as_str()) {
        opts.load_restrictor_none = r == "LoadRestrictionsNone";
    }
    if let Some(g) = cfg.get("generateKustomization").and_then(|v| v.as_bool()) {
        opts.generate_kustomization = g;
    }
    match cfg.get("reorder").and_then(|v| v.as_str()) {
        Some("none") => opts.reorder = Reorder::None,
        Some("legacy") => opts.reorder = Reorder::Legacy,
        _ => {}
    }
    opts.flux = FluxSpec::from_json(&cfg).map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
    Ok(opts)
}

impl Guest for Component {
    fn render(request: RenderRequest) -> Result<RenderOutput, PluginError> {
        let opts = options(&request.config)?;
        let (objs, warnings) =
            build_with_warnings(std::path::Path::new("/src"), &request.path, &opts)
                .map_err(to_plugin_error)?;
        let objects = objs.iter().map(|o| o.to_string()).collect();
        Ok(RenderOutput {
            objects,
            origins: Vec::new(),
            warnings,
        })
    }
}

export!(Component);
