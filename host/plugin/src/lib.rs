//! Gyre's WebAssembly plugin host.
//!
//! Plugins are WebAssembly components implementing one of the worlds in
//! `wit/plugin.wit` (`renderer`, `transform`, `image-policy`, `notifier`).
//! The pieces follow the pipeline fetch → verify → store → compile once →
//! instantiate per call:
//!
//! - [`oci`] pushes and pulls plugins as OCI artifacts (CNCF Wasm layout) and
//!   verifies every digest; [`store`] is the content-addressed local cache
//!   they land in; [`auth`] reads registry credentials from a docker config.
//! - [`engine`] owns the one wasmtime `Engine` of the process, the epoch
//!   ticker that enforces deadlines, and the compiled-code cache
//!   ([`compiled`]).
//! - [`plugin`] is a loaded plugin: an `InstancePre` plus its limits; every
//!   call gets a fresh `Store`, so nothing leaks between calls.
//! - [`sandbox`] builds the per-call WASI context (no network, no
//!   environment, no inherited stdio, read-only artifact tree) and the
//!   resource limiter.

pub mod auth;
// Generated code: its docs come from the WIT, which wasmtime does not copy onto every item.
#[allow(missing_docs)]
mod bindings;
pub mod compiled;
pub mod engine;
mod error;
pub mod inspect;
pub mod limits;
pub mod oci;
pub mod plugin;
pub mod sandbox;
pub mod store;
pub mod types;

pub use engine::{EngineOptions, PluginEngine};
pub use error::{Error, Result};
pub use inspect::{ComponentInfo, World};
pub use limits::Limits;
pub use plugin::Plugin;
pub use types::{PluginFailure, RenderOutput};
