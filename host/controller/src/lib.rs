//! `gyre-controller`: the reconcilers behind `gyre controller` — one kube-runtime
//! controller per kind (GitRepository, OCIRepository, HelmRepository, HelmChart, Bucket,
//! Kustomization, Plugin), plus leader election on a Lease, Prometheus metrics and the
//! health endpoints.

pub mod leader;
pub mod metrics;
pub mod server;
