//! Schema helpers for fields whose content is free-form JSON.
//!
//! Kubernetes' structural-schema rules require every field to have a type unless it
//! preserves unknown fields; these schemas say "anything goes below here".

use schemars::{Schema, SchemaGenerator, json_schema};

/// Any JSON value (object, array, string, number, bool), kept as is by the API server.
pub fn any_json(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// A JSON object with arbitrary content, kept as is by the API server.
pub fn any_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}
