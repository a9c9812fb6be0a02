//! Values that cross the plugin boundary, as the host's callers see them.

use std::fmt;

pub use crate::bindings::exports::gyre::plugin::notify::{
    Event, HttpRequest, ObjectReference, Provider,
};
pub use crate::bindings::exports::gyre::plugin::tag_policy::Selection;
use crate::bindings::gyre::plugin::types as wit;

/// A failure the plugin itself reported (the WIT `plugin-error`), as opposed
/// to one the host detected (trap, limit, malformed output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginFailure {
    /// The configuration is not valid for the plugin.
    InvalidConfig(String),
    /// The input is malformed.
    InvalidInput(InputError),
    /// Something the input refers to does not exist.
    NotFound(InputError),
    /// The plugin refuses the request.
    Unsupported(String),
    /// A bug inside the plugin.
    Internal(String),
}

/// An input error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// What is wrong.
    pub message: String,
    /// File, relative to the artifact root.
    pub file: Option<String>,
    /// Field path.
    pub field: Option<String>,
    /// 1-based line.
    pub line: Option<u32>,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        let mut at = Vec::new();
        if let Some(file) = &self.file
            && !self.message.contains(file.as_str())
        {
            at.push(match self.line {
                Some(line) => format!("{file}:{line}"),
                None => file.clone(),
            });
        }
        if let Some(field) = &self.field {
            at.push(format!("field {field}"));
        }
        if !at.is_empty() {
            write!(f, " (at {})", at.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for PluginFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginFailure::InvalidConfig(m) => write!(f, "invalid configuration: {m}"),
            PluginFailure::InvalidInput(e) => write!(f, "invalid input: {e}"),
            PluginFailure::NotFound(e) => write!(f, "not found: {e}"),
            PluginFailure::Unsupported(m) => write!(f, "unsupported: {m}"),
            PluginFailure::Internal(m) => write!(f, "internal plugin error: {m}"),
        }
    }
}

impl std::error::Error for PluginFailure {}

impl From<wit::InputError> for InputError {
    fn from(e: wit::InputError) -> Self {
        let loc = e.location;
        InputError {
            message: e.message,
            file: loc.as_ref().and_then(|l| l.file.clone()),
            field: loc.as_ref().and_then(|l| l.field.clone()),
            line: loc.as_ref().and_then(|l| l.line),
        }
    }
}

impl From<wit::PluginError> for PluginFailure {
    fn from(e: wit::PluginError) -> Self {
        match e {
            wit::PluginError::InvalidConfig(m) => PluginFailure::InvalidConfig(m),
            wit::PluginError::InvalidInput(e) => PluginFailure::InvalidInput(e.into()),
            wit::PluginError::NotFound(e) => PluginFailure::NotFound(e.into()),
            wit::PluginError::Unsupported(m) => PluginFailure::Unsupported(m),
            wit::PluginError::Internal(m) => PluginFailure::Internal(m),
        }
    }
}

/// What a renderer returned, after the host checked it.
#[derive(Debug, Clone, Default)]
pub struct RenderOutput {
    /// The objects, each checked to be a JSON object with `kind` and
    /// `metadata.name` (or `generateName`).
    pub objects: Vec<serde_json::Value>,
    /// For each object, the file it came from (relative to the artifact
    /// root), or an empty string where the renderer did not say. Always as
    /// long as `objects`.
    pub origins: Vec<String>,
    /// Warnings the renderer reported.
    pub warnings: Vec<String>,
}
