//! Adapts the manifests renderer to the `renderer` world.

use crate::{RenderError, render};
use std::path::Path;

wit_bindgen::generate!({ path: "../../wit", world: "renderer" });

use exports::gyre::plugin::render::{Guest, RenderOutput, RenderRequest};
use gyre::plugin::types::{InputError, Location, PluginError};

/// Where the host preopens the artifact tree.
const ROOT: &str = "/src";

struct Manifests;

impl Guest for Manifests {
    fn render(request: RenderRequest) -> Result<RenderOutput, PluginError> {
        let objects = render(Path::new(ROOT), &request.path).map_err(to_plugin_error)?;
        Ok(RenderOutput {
            objects: objects.iter().map(|o| o.to_string()).collect(),
            origins: Vec::new(),
            warnings: Vec::new(),
        })
    }
}

fn to_plugin_error(e: RenderError) -> PluginError {
    let file = match &e {
        RenderError::SymlinkEscapes { file, .. }
        | RenderError::TooLarge { file, .. }
        | RenderError::Io { file, .. }
        | RenderError::BadDocument { file, .. } => Some(file.clone()),
        _ => None,
    };
    let detail = InputError {
        message: e.to_string(),
        location: file.map(|f| Location {
            file: Some(f),
            field: None,
            line: None,
        }),
    };
    match e {
        RenderError::NotFound(_) => PluginError::NotFound(detail),
        RenderError::IsKustomization(_) => PluginError::Unsupported(e.to_string()),
        _ => PluginError::InvalidInput(detail),
    }
}

export!(Manifests);
