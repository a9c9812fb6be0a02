//! Gyre's Kubernetes API types: the Flux v2 custom resources Gyre serves, Gyre's own
//! `Plugin`, shared condition and reference types, and CRD generation.
//!
//! Every optional Flux field is an `Option`, so what was on the wire stays on the wire:
//! an object read and written back is unchanged, and Flux's defaults are methods
//! (e.g. [`source::GitRepositorySpec::timeout`]) rather than values injected on read.

pub mod crds;
pub mod duration;
pub mod helm;
pub mod image;
pub mod kustomize;
pub mod meta;
pub mod notification;
pub mod plugin;
pub mod schema;
pub mod source;

pub use duration::Duration;
