//! `gyre-controller`: the reconcilers behind `gyre controller` — one kube-runtime
//! controller per kind (GitRepository, OCIRepository, HelmRepository, HelmChart, Bucket,
//! Kustomization, HelmRelease, Plugin), plus leader election on a Lease, Prometheus metrics and the
//! health endpoints.
//!
//! Data flows one way: a source reconciler writes an artifact to the store and its
//! revision to `status.artifact`; the Kustomization reconciler reads it, renders it in
//! the plugin sandbox, applies the result with `gyre-apply` and records inventory and
//! conditions. Every reconciler writes status with server-side apply and emits an Event
//! per transition.

pub mod backoff;
pub mod bootstrap;
pub mod connection;
pub mod context;
pub mod dependencies;
pub mod error;
pub mod events;
pub mod helm_release;
pub mod kustomization;
pub mod leader;
pub mod manager;
pub mod metrics;
pub mod plugin;
pub mod plugin_ref;
pub mod runner;
pub mod secrets;
pub mod server;
pub mod source;
pub mod status;
pub mod vars;

pub use context::{Context, Options};
pub use error::{Error, Result};
