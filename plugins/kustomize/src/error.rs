//! Errors of a kustomize build, each naming the file and the field at fault.

use std::fmt;

/// What went wrong, in categories the host maps to the WIT `plugin-error` variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is malformed or violates a rule (escape, cycle, conflict).
    Invalid,
    /// A referenced file, directory or object does not exist.
    NotFound,
    /// The input asks for something this renderer refuses (helm, remote bases).
    Unsupported,
}

/// A build failure with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The category.
    pub kind: ErrorKind,
    /// What is wrong.
    pub message: String,
    /// File relative to the artifact root, if known.
    pub file: Option<String>,
    /// Field inside the file, if known (e.g. `patches[2].target`).
    pub field: Option<String>,
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An invalid-input error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Invalid,
            message: message.into(),
            file: None,
            field: None,
        }
    }
    /// A not-found error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::NotFound,
            message: message.into(),
            file: None,
            field: None,
        }
    }
    /// An unsupported-feature error.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Unsupported,
            message: message.into(),
            file: None,
            field: None,
        }
    }
    /// Sets the file if not set yet (the innermost location wins).
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        if self.file.is_none() {
            self.file = Some(file.into());
        }
        self
    }
    /// Sets the field if not set yet.
    pub fn at(mut self, field: impl Into<String>) -> Self {
        if self.field.is_none() {
            self.field = Some(field.into());
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, &self.field) {
            (Some(file), Some(field)) => write!(f, "{file}: {field}: {}", self.message),
            (Some(file), None) => write!(f, "{file}: {}", self.message),
            (None, Some(field)) => write!(f, "{field}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}
