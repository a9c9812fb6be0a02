//! Kustomize v5 renderer: builds a kustomization directory inside an
//! artifact tree, reading nothing outside it. Compiled natively for tests
//! and to a `wasm32-wasip2` component (the `renderer` world) for Gyre.
//!
//! Output matches `kubectl kustomize` (kustomize v5.5.0) as data and order:
//! the 258-case conformance corpus passes in full.
//!
//! # Plugin configuration (`render-request.config`)
//! A Flux `Kustomization.spec`-shaped JSON object; the renderer reads
//! `targetNamespace`, `namePrefix`, `nameSuffix`, `patches`, `images`,
//! `components` and `commonMetadata`, ignores the rest, and accepts three
//! switches: `loadRestrictor` (default `LoadRestrictionsNone`, as Flux),
//! `generateKustomization` (default `true`: a directory without a
//! kustomization file gets one listing its manifests, as Flux) and
//! `reorder` (`legacy` | `none`).
//!
//! # Caveats
//! `helmCharts`, remote bases and exec/container plugins are refused
//! (`unsupported`). Files over 8 MiB, YAML nested deeper than 512 levels and
//! alias expansion over 1,000,000 nodes are refused. `postBuild`
//! substitution is left to the host.

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
