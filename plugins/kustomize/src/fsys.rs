//! Read-only file access confined to the artifact root, with a size cap.

use crate::error::{Error, Result};
use std::path::{Component, Path, PathBuf};

/// Largest file the renderer reads (bytes). Larger files are refused.
pub const MAX_FILE_SIZE: u64 = 8 * 1024 * 1024;

/// Canonical form of an existing path. Natively this resolves symlinks so
/// escapes can be detected. WASI has no `realpath`: there the path is only
/// normalised lexically (callers already removed `..`) and checked to exist,
/// and the host's preopened directory refuses any symlink leading out.
fn canonicalize(p: &Path) -> std::io::Result<PathBuf> {
    #[cfg(not(target_os = "wasi"))]
    {
        p.canonicalize()
    }
    #[cfg(target_os = "wasi")]
    {
        std::fs::metadata(p)?;
        Ok(p.components().collect())
    }
}

/// File access below one root directory.
#[derive(Debug, Clone)]
pub struct Fs {
    root: PathBuf,
}

/// Joins `rel` onto the root-relative directory `dir`, normalising `.` and
/// `..` lexically. Fails if the result escapes the root.
pub fn join_rel(dir: &str, rel: &str) -> Result<String> {
    if rel.starts_with('/') || Path::new(rel).is_absolute() {
        return Err(Error::invalid(format!(
            "absolute path {rel:?} is not allowed"
        )));
    }
    let mut parts: Vec<String> = dir
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(str::to_string)
        .collect();
    for c in Path::new(rel).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(Error::invalid(format!(
                        "path {rel:?} escapes the artifact root"
                    )));
                }
            }
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            _ => return Err(Error::invalid(format!("path {rel:?} is not allowed"))),
        }
    }
    Ok(if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    })
}

/// Directory part of a root-relative path.
pub fn parent(rel: &str) -> String {
    match rel.rfind('/') {
        Some(i) => rel[..i].to_string(),
        None => ".".into(),
    }
}

/// Whether root-relative `path` lies inside root-relative directory `dir`.
pub fn is_within(dir: &str, path: &str) -> bool {
    dir == "." || path == dir || path.starts_with(&format!("{dir}/"))
}

impl Fs {
    /// File access below `root`.
    ///
    /// # Errors
    /// Fails if the root cannot be canonicalized.
    pub fn new(root: &Path) -> Result<Self> {
        let root = canonicalize(root)
            .map_err(|e| Error::not_found(format!("artifact root {}: {e}", root.display())))?;
        Ok(Self { root })
    }

    /// Resolves a root-relative path and checks that symlinks do not lead out.
    fn resolve(&self, rel: &str) -> Result<Option<PathBuf>> {
        let p = if rel == "." {
            self.root.clone()
        } else {
            self.root.join(rel)
        };
        match canonicalize(&p) {
            Ok(c) => {
                if c.starts_with(&self.root) {
                    Ok(Some(c))
                } else {
                    Err(Error::invalid(format!(
                        "{rel} resolves outside the artifact root (symlink)"
                    )))
                }
            }
            Err(_) => Ok(None),
        }
    }

    /// Whether `rel` is an existing directory.
    pub fn is_dir(&self, rel: &str) -> Result<bool> {
        Ok(self.resolve(rel)?.is_some_and(|p| p.is_dir()))
    }

    /// Whether `rel` exists.
    pub fn exists(&self, rel: &str) -> Result<bool> {
        Ok(self.resolve(rel)?.is_some())
    }

    /// Canonical root-relative form of an existing path (symlinks resolved).
    pub fn canonical(&self, rel: &str) -> Result<String> {
        let p = self
            .resolve(rel)?
            .ok_or_else(|| Error::not_found(format!("{rel}: no such file or directory")))?;
        let r = p.strip_prefix(&self.root).unwrap_or(Path::new(""));
        let s = r.to_string_lossy().into_owned();
        Ok(if s.is_empty() { ".".into() } else { s })
    }

    /// Entries of a directory, sorted by name: (name, is_dir). Entries
    /// resolving outside the root are refused.
    pub fn list(&self, rel: &str) -> Result<Vec<(String, bool)>> {
        let p = self
            .resolve(rel)?
            .ok_or_else(|| Error::not_found(format!("{rel}: no such directory")))?;
        let rd = std::fs::read_dir(&p).map_err(|e| Error::not_found(format!("{rel}: {e}")))?;
        let mut out = Vec::new();
        for e in rd {
            let e = e.map_err(|e| Error::invalid(format!("{rel}: {e}")))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let child = if rel == "." {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let resolved = self
                .resolve(&child)?
                .ok_or_else(|| Error::not_found(format!("{child}: dangling link")))?;
            out.push((name, resolved.is_dir()));
        }
        out.sort();
        Ok(out)
    }

    /// Reads a file, refusing files over [`MAX_FILE_SIZE`].
    pub fn read(&self, rel: &str) -> Result<Vec<u8>> {
        let p = self
            .resolve(rel)?
            .ok_or_else(|| Error::not_found(format!("{rel}: no such file or directory")))?;
        let meta = std::fs::metadata(&p).map_err(|e| Error::not_found(format!("{rel}: {e}")))?;
        if meta.is_dir() {
            return Err(Error::invalid(format!(
                "{rel} is a directory, expected a file"
            )));
        }
        if meta.len() > MAX_FILE_SIZE {
            return Err(Error::invalid(format!(
                "{rel} is {} bytes, over the {MAX_FILE_SIZE}-byte limit",
                meta.len()
            )));
        }
        use std::io::Read;
        let f = std::fs::File::open(&p).map_err(|e| Error::not_found(format!("{rel}: {e}")))?;
        let mut buf = Vec::new();
        f.take(MAX_FILE_SIZE + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::invalid(format!("{rel}: {e}")))?;
        if buf.len() as u64 > MAX_FILE_SIZE {
            return Err(Error::invalid(format!(
                "{rel} is over the {MAX_FILE_SIZE}-byte limit"
            )));
        }
        Ok(buf)
    }

    /// Reads a UTF-8 text file.
    pub fn read_string(&self, rel: &str) -> Result<String> {
        let b = self.read(rel)?;
        String::from_utf8(b).map_err(|_| Error::invalid(format!("{rel} is not valid UTF-8")))
    }
}
