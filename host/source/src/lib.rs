//! Gyre's sources: everything the host fetches (Git, OCI, Helm repositories and charts, S3
//! buckets) and the content-addressed artifact store they write to.
//!
//! Plugins never touch the network; this crate is where the outside world comes in. Each
//! source takes a plain options struct that a controller fills from the Flux object's spec
//! (and Secrets), and returns either an [`artifact::Artifact`] for `status.artifact` or
//! "unchanged" when the remote has not moved since the last revision.

pub mod archive;
pub mod artifact;
pub mod bucket;
pub mod constraint;
pub mod error;
pub mod git;
pub mod helm_chart;
pub mod helm_repo;
pub mod ignore;
pub mod oci;

pub use archive::Limits;
pub use artifact::{Artifact, ObjectRef, Store, StoreOptions};
pub use error::{Error, Result};
pub use ignore::SourceFilter;
