//! Go text/template: parser and executor.

pub mod exec;
pub mod parse;
