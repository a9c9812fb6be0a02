//! Gyre's Kubernetes API types: the Flux v2 custom resources Gyre serves, Gyre's own
//! `Plugin`, shared condition and reference types, and CRD generation.

pub mod duration;
pub mod meta;

pub use duration::Duration;
