//! Kustomize v5 renderer: builds a kustomization directory inside an
//! artifact tree, reading nothing outside it. Compiled natively for tests
//! and to a `wasm32-wasip2` component (the `renderer` world) for Gyre.

mod build;
pub mod error;
mod fieldpath;
mod fieldspec;
pub mod flux;
pub mod fsys;
mod generators;
mod jsonpatch;
mod openapi;
mod order;
mod plugins;
mod replacements;
mod resource;
mod select;
mod smp;
mod transforms;
mod vars;
pub mod yaml;

// The generated component bindings need `unsafe` (canonical ABI glue);
// no hand-written unsafe code lives here.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, missing_docs)]
mod guest;

pub use build::{Options, Reorder, build, build_with_warnings};
pub use error::{Error, ErrorKind, Result};
