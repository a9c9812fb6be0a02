//! Adapts the policy logic to the `image-policy` world.

use crate::{PolicyConfig, PolicyError, select};

wit_bindgen::generate!({ path: "../../wit", world: "image-policy" });

use exports::gyre::plugin::tag_policy::{Guest, Selection};
use gyre::plugin::types::PluginError;

struct ImagePolicy;

impl Guest for ImagePolicy {
    fn select(tags: Vec<String>, policy: String) -> Result<Option<Selection>, PluginError> {
        let config = PolicyConfig::from_json(&policy).map_err(to_plugin_error)?;
        let picked = select(&tags, &config).map_err(to_plugin_error)?;
        Ok(picked.map(|s| Selection {
            tag: s.tag,
            compared: s.compared,
        }))
    }
}

fn to_plugin_error(e: PolicyError) -> PluginError {
    match e {
        PolicyError::InvalidConfig(msg) => PluginError::InvalidConfig(msg),
        e @ PolicyError::NotNumeric { .. } => {
            PluginError::InvalidInput(gyre::plugin::types::InputError {
                message: e.to_string(),
                location: None,
            })
        }
    }
}

export!(ImagePolicy);
