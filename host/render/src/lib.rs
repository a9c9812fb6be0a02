//! `gyre-render`: the render step of the pipeline (source → artifact → **render →
//! transform** → apply). It resolves plugin references (built-ins, Plugin objects pinned by
//! digest), runs the renderer over an extracted artifact tree, applies Flux's post-build
//! variable substitution and runs the transform plugins — every plugin call in its own
//! sandbox.
//!
//! The pieces, in pipeline order:
//! - [`plugins::PluginSet`] turns a reference (`builtin:kustomize`, or an OCI reference
//!   pinned by digest from a `Plugin` object's status) into a loaded, cached plugin;
//! - [`build::build`] renders one path of an artifact tree, with the Kustomization spec
//!   as the kustomize renderer's configuration;
//! - [`transform::run`] pipes the objects through transform plugins and checks what they
//!   hand back against the owner's boundary.

pub mod build;
pub mod error;
pub mod plugins;
pub mod substitute;
pub mod transform;

pub use error::{Error, Result};
pub use plugins::{PluginSet, PluginSource};
