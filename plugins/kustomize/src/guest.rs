//! The Wasm component: the `renderer` world, with the artifact tree at `/src`.

use crate::{ErrorKind, Options, Reorder, build};
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

impl Guest for Component {
    fn render(request: RenderRequest) -> Result<RenderOutput, PluginError> {
        let mut opts = Options::default();
        if !request.config.trim().is_empty() {
            let cfg: serde_json::Value = serde_json::from_str(&request.config)
                .map_err(|e| PluginError::InvalidConfig(format!("config is not JSON: {e}")))?;
            if cfg.get("loadRestrictor").and_then(|v| v.as_str()) == Some("LoadRestrictionsNone") {
                opts.load_restrictor_none = true;
            }
            match cfg.get("reorder").and_then(|v| v.as_str()) {
                Some("none") => opts.reorder = Reorder::None,
                Some("legacy") => opts.reorder = Reorder::Legacy,
                _ => {}
            }
        }
        let objs =
            build(std::path::Path::new("/src"), &request.path, &opts).map_err(to_plugin_error)?;
        let objects = objs.iter().map(|o| o.to_string()).collect();
        Ok(RenderOutput {
            objects,
            warnings: Vec::new(),
        })
    }
}

export!(Component);
