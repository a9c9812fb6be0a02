//! Helm-compatible release storage: Helm's release model, its Secret encoding and its Secret
//! storage driver, so that `helm list|history|get|rollback` and Gyre act on the same
//! releases.
//!
//! - [`release`]: the model, with Helm's JSON names; unknown fields round-trip.
//! - [`codec`]: `base64(gzip(json))` as Helm writes it, with size caps on decode.
//! - [`storage`]: one Secret per revision (`sh.helm.release.v1.<name>.v<N>`) with Helm's
//!   labels, history, the deployed revision and `maxHistory` pruning.

pub mod codec;
pub mod release;
pub mod storage;

pub use codec::{CodecError, decode, encode};
pub use release::{
    Chart, File, Hook, HookExecution, Info, Metadata, Release, Status, Time, Values,
};
pub use storage::{Error, Result, SecretStorage, secret_name};
