//! Adapts the metadata transform to the `transform` world.

use crate::{Config, TransformError, transform};

wit_bindgen::generate!({ path: "../../wit", world: "transform" });

use exports::gyre::plugin::transformation::Guest;
use gyre::plugin::types::{InputError, PluginError};

struct Metadata;

impl Guest for Metadata {
    fn transform(objects: Vec<String>, config: String) -> Result<Vec<String>, PluginError> {
        let config = Config::from_json(&config).map_err(to_plugin_error)?;
        let parsed = objects
            .iter()
            .enumerate()
            .map(|(index, o)| {
                serde_json::from_str(o).map_err(|e| TransformError::BadObject {
                    index,
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(to_plugin_error)?;
        let out = transform(parsed, &config).map_err(to_plugin_error)?;
        Ok(out.iter().map(|v| v.to_string()).collect())
    }
}

fn to_plugin_error(e: TransformError) -> PluginError {
    match e {
        TransformError::InvalidConfig(m) => PluginError::InvalidConfig(m),
        e @ TransformError::BadObject { .. } => PluginError::InvalidInput(InputError {
            message: e.to_string(),
            location: None,
        }),
    }
}

export!(Metadata);
