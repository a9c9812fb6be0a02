//! The artifact store: content-addressed archives on disk, Flux revision strings, and
//! garbage collection.
//!
//! Layout: `<root>/<kind>/<namespace>/<name>/<sha256-hex>.<ext>` (kind lower-cased). Every
//! write goes to a temporary file in the same directory and is renamed into place, so a
//! reader never sees a partial artifact and a failed reconcile leaves the previous
//! artifact untouched.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::archive::{self, HashingReader, HashingWriter, Limits, Stats};
use crate::ignore::SourceFilter;

/// The source object an artifact belongs to, used for paths and error messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// Kind, e.g. `GitRepository`.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// Build a reference.
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectRef {
    /// `GitRepository flux-system/podinfo`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// What `status.artifact` needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Path relative to the store root, e.g. `gitrepository/flux-system/podinfo/<hex>.tar.gz`.
    pub path: String,
    /// URL under the store's base URL.
    pub url: String,
    /// Flux revision string, e.g. `main@sha1:<hex>`.
    pub revision: String,
    /// `sha256:<hex>` of the stored file.
    pub digest: String,
    /// When the artifact was written.
    pub last_update_time: DateTime<Utc>,
    /// Size of the stored file in bytes.
    pub size: u64,
    /// Extra metadata (e.g. OCI annotations).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// Options for [`Store::new`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Directory holding all artifacts. Created if missing.
    pub root: PathBuf,
    /// Base URL the artifacts are served under. Default `http://localhost`.
    pub base_url: String,
    /// How many artifacts to keep per object on [`Store::gc`]. Default 2.
    pub retention: usize,
}

impl StoreOptions {
    /// Options with documented defaults for `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            base_url: "http://localhost".into(),
            retention: 2,
        }
    }
}

/// Artifact store failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store directory could not be created or written.
    #[error("{object}: artifact storage failed at {path}")]
    Storage {
        /// The owning object.
        object: String,
        /// Path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Archiving the source tree failed.
    #[error("{object}: archiving failed")]
    Archive {
        /// The owning object.
        object: String,
        /// What went wrong.
        #[source]
        source: archive::Error,
    },
    /// Extracting an artifact failed.
    #[error("{object}: extracting artifact {path} failed")]
    Extract {
        /// The owning object.
        object: String,
        /// The artifact path.
        path: String,
        /// What went wrong.
        #[source]
        source: archive::Error,
    },
    /// The stored file does not match the artifact's digest.
    #[error("{object}: artifact {path} digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The owning object.
        object: String,
        /// The artifact path.
        path: String,
        /// Recorded digest.
        expected: String,
        /// Digest of the file on disk.
        actual: String,
    },
    /// A namespace, name or artifact path would leave the store root.
    #[error("invalid artifact path component {0:?}")]
    InvalidPath(String),
}

/// Content-addressed artifact storage.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    base_url: String,
    retention: usize,
}

fn check_component(s: &str) -> Result<&str, Error> {
    if s.is_empty()
        || s == "."
        || s == ".."
        || s.contains('/')
        || s.contains('\\')
        || s.contains('\0')
    {
        return Err(Error::InvalidPath(s.to_string()));
    }
    Ok(s)
}

impl Store {
    /// Open (and create) a store.
    ///
    /// # Errors
    /// The root cannot be created.
    pub fn new(opts: StoreOptions) -> Result<Self, Error> {
        std::fs::create_dir_all(&opts.root).map_err(|source| Error::Storage {
            object: "artifact store".into(),
            path: opts.root.clone(),
            source,
        })?;
        Ok(Self {
            root: opts.root,
            base_url: opts.base_url.trim_end_matches('/').to_string(),
            retention: opts.retention,
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Relative directory for an object's artifacts.
    fn object_dir(&self, obj: &ObjectRef) -> Result<String, Error> {
        Ok(format!(
            "{}/{}/{}",
            check_component(&obj.kind.to_lowercase())?,
            check_component(&obj.namespace)?,
            check_component(&obj.name)?
        ))
    }

    /// Absolute path of a stored artifact.
    ///
    /// # Errors
    /// The recorded path would leave the store.
    pub fn local_path(&self, artifact: &Artifact) -> Result<PathBuf, Error> {
        let rel = Path::new(&artifact.path);
        if rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(Error::InvalidPath(artifact.path.clone()));
        }
        Ok(self.root.join(rel))
    }

    /// Write an artifact for `obj` by streaming into `write`, then move it into place under
    /// its digest. `ext` is the file extension (`tar.gz`, `tgz`, `yaml`).
    fn write_with<F>(
        &self,
        obj: &ObjectRef,
        revision: &str,
        ext: &str,
        write: F,
    ) -> Result<Artifact, Error>
    where
        F: FnOnce(&mut HashingWriter<BufWriter<File>>) -> Result<(), Error>,
    {
        let rel_dir = self.object_dir(obj)?;
        let dir = self.root.join(&rel_dir);
        let storage = |path: &Path| {
            let object = obj.to_string();
            let path = path.to_path_buf();
            move |source| Error::Storage {
                object,
                path,
                source,
            }
        };
        std::fs::create_dir_all(&dir).map_err(storage(&dir))?;
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(storage(&dir))?;
        let file = tmp.reopen().map_err(storage(tmp.path()))?;
        let mut hw = HashingWriter::new(BufWriter::new(file));
        write(&mut hw)?;
        let (buf, hex, size) = hw.finish();
        let file = buf
            .into_inner()
            .map_err(|e| storage(tmp.path())(e.into_error()))?;
        file.sync_all().map_err(storage(tmp.path()))?;
        drop(file);
        let name = format!("{hex}.{ext}");
        let final_path = dir.join(&name);
        tmp.persist(&final_path)
            .map_err(|e| storage(&final_path)(e.error))?;
        // Same content as an existing artifact: refresh its mtime so GC sees it as newest.
        let now = SystemTime::now();
        let _ = File::options()
            .write(true)
            .open(&final_path)
            .and_then(|f| f.set_modified(now));
        let path = format!("{rel_dir}/{name}");
        Ok(Artifact {
            url: format!("{}/{}", self.base_url, path),
            path,
            revision: revision.to_string(),
            digest: format!("sha256:{hex}"),
            last_update_time: DateTime::<Utc>::from(now),
            size,
            metadata: BTreeMap::new(),
        })
    }

    /// Archive the tree at `dir` (minus what `filter` excludes) as a tar+gzip artifact.
    ///
    /// # Errors
    /// [`Error::Archive`] for hostile trees (escaping symlinks, over `limits`), or storage I/O.
    pub fn archive_dir(
        &self,
        obj: &ObjectRef,
        dir: &Path,
        revision: &str,
        filter: &SourceFilter,
        limits: &Limits,
    ) -> Result<(Artifact, Stats), Error> {
        let mut stats = Stats::default();
        let artifact = self.write_with(obj, revision, "tar.gz", |w| {
            let (_, s) =
                archive::write_tar_gz(dir, filter, limits, w).map_err(|source| Error::Archive {
                    object: obj.to_string(),
                    source,
                })?;
            stats = s;
            Ok(())
        })?;
        Ok((artifact, stats))
    }

    /// Store a file (a chart `.tgz`, an `index.yaml`, an OCI layer) as-is.
    ///
    /// # Errors
    /// Storage I/O.
    pub fn store_file(
        &self,
        obj: &ObjectRef,
        src: &Path,
        revision: &str,
        ext: &str,
    ) -> Result<Artifact, Error> {
        self.write_with(obj, revision, ext, |w| {
            let mut f = File::open(src).map_err(|source| Error::Storage {
                object: obj.to_string(),
                path: src.to_path_buf(),
                source,
            })?;
            io::copy(&mut f, w).map_err(|source| Error::Storage {
                object: obj.to_string(),
                path: src.to_path_buf(),
                source,
            })?;
            Ok(())
        })
    }

    /// Store bytes as-is.
    ///
    /// # Errors
    /// Storage I/O.
    pub fn store_bytes(
        &self,
        obj: &ObjectRef,
        bytes: &[u8],
        revision: &str,
        ext: &str,
    ) -> Result<Artifact, Error> {
        self.write_with(obj, revision, ext, |w| {
            w.write_all(bytes).map_err(|source| Error::Storage {
                object: obj.to_string(),
                path: self.root.clone(),
                source,
            })
        })
    }

    /// Check the stored file against the artifact's digest.
    ///
    /// # Errors
    /// [`Error::DigestMismatch`] or I/O.
    pub fn verify(&self, obj: &ObjectRef, artifact: &Artifact) -> Result<(), Error> {
        let path = self.local_path(artifact)?;
        let f = File::open(&path).map_err(|source| Error::Storage {
            object: obj.to_string(),
            path: path.clone(),
            source,
        })?;
        let hex = HashingReader::new(BufReader::new(f))
            .finish()
            .map_err(|source| Error::Storage {
                object: obj.to_string(),
                path: path.clone(),
                source,
            })?;
        self.check_digest(obj, artifact, &hex)
    }

    fn check_digest(&self, obj: &ObjectRef, artifact: &Artifact, hex: &str) -> Result<(), Error> {
        let actual = format!("sha256:{hex}");
        if actual != artifact.digest {
            return Err(Error::DigestMismatch {
                object: obj.to_string(),
                path: artifact.path.clone(),
                expected: artifact.digest.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// Safely extract a tar+gzip artifact into `dest`, verifying its digest on the way.
    ///
    /// # Errors
    /// Hostile content (see [`crate::archive`]), digest mismatch, I/O.
    pub fn extract(
        &self,
        obj: &ObjectRef,
        artifact: &Artifact,
        dest: &Path,
        limits: &Limits,
    ) -> Result<Stats, Error> {
        let path = self.local_path(artifact)?;
        let f = File::open(&path).map_err(|source| Error::Storage {
            object: obj.to_string(),
            path: path.clone(),
            source,
        })?;
        let mut reader = HashingReader::new(BufReader::new(f));
        let stats = archive::extract_tar_gz(&mut reader, dest, limits).map_err(|source| {
            Error::Extract {
                object: obj.to_string(),
                path: artifact.path.clone(),
                source,
            }
        })?;
        let hex = reader.finish().map_err(|source| Error::Storage {
            object: obj.to_string(),
            path: path.clone(),
            source,
        })?;
        self.check_digest(obj, artifact, &hex)?;
        Ok(stats)
    }

    /// Open a stored artifact for reading.
    ///
    /// # Errors
    /// I/O.
    pub fn open(&self, obj: &ObjectRef, artifact: &Artifact) -> Result<File, Error> {
        let path = self.local_path(artifact)?;
        File::open(&path).map_err(|source| Error::Storage {
            object: obj.to_string(),
            path,
            source,
        })
    }

    /// Deletes every artifact of `obj` (the object itself was deleted).
    ///
    /// # Errors
    /// I/O while deleting; a missing directory is not an error.
    pub fn remove_all(&self, obj: &ObjectRef) -> Result<(), Error> {
        let dir = self.root.join(self.object_dir(obj)?);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Storage {
                object: obj.to_string(),
                path: dir,
                source,
            }),
        }
    }

    /// Delete all but the newest `retention` artifacts of `obj` (never `current`), plus stale
    /// temporary files. Returns the deleted paths.
    ///
    /// # Errors
    /// I/O while listing or deleting.
    pub fn gc(&self, obj: &ObjectRef, current: Option<&Artifact>) -> Result<Vec<PathBuf>, Error> {
        let dir = self.root.join(self.object_dir(obj)?);
        let storage = |path: &Path| {
            let object = obj.to_string();
            let path = path.to_path_buf();
            move |source| Error::Storage {
                object,
                path,
                source,
            }
        };
        let keep_path = current.map(|a| self.local_path(a)).transpose()?;
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(storage(&dir)(e)),
        };
        let mut files = Vec::new();
        let mut deleted = Vec::new();
        let hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
        for entry in rd {
            let entry = entry.map_err(storage(&dir))?;
            let meta = entry.metadata().map_err(storage(&entry.path()))?;
            if !meta.is_file() {
                continue;
            }
            let mtime = meta.modified().map_err(storage(&entry.path()))?;
            if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                if mtime < hour_ago {
                    std::fs::remove_file(entry.path()).map_err(storage(&entry.path()))?;
                    deleted.push(entry.path());
                }
                continue;
            }
            files.push((mtime, entry.path()));
        }
        files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut kept = 0;
        for (_, path) in files {
            if Some(&path) == keep_path.as_ref() {
                continue;
            }
            // `current` counts towards the retention budget.
            let budget = self
                .retention
                .saturating_sub(usize::from(keep_path.is_some()));
            if kept < budget {
                kept += 1;
                continue;
            }
            std::fs::remove_file(&path).map_err(storage(&path))?;
            deleted.push(path);
        }
        Ok(deleted)
    }
}

/// Read at most `limit` bytes from `r`, failing if there are more.
pub(crate) fn read_limited(mut r: impl Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    (&mut r).take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("more than {limit} bytes"),
        ));
    }
    Ok(buf)
}

/// Flux revision strings.
pub mod revision {
    /// `<ref>@sha1:<hex>` for a named ref, `sha1:<hex>` for a bare commit.
    pub fn git(reference: Option<&str>, commit_hex: &str) -> String {
        match reference {
            Some(r) => format!("{r}@sha1:{commit_hex}"),
            None => format!("sha1:{commit_hex}"),
        }
    }

    /// `<tag>@sha256:<hex>` for a tag, `sha256:<hex>` for a digest reference. `digest` is
    /// `sha256:<hex>`.
    pub fn oci(tag: Option<&str>, digest: &str) -> String {
        match tag {
            Some(t) => format!("{t}@{digest}"),
            None => digest.to_string(),
        }
    }

    /// A parsed revision: optional ref name, algorithm and hex.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Parsed<'a> {
        /// Branch, tag or ref name before `@`.
        pub name: Option<&'a str>,
        /// `sha1` or `sha256`.
        pub algorithm: &'a str,
        /// The hex digest.
        pub hex: &'a str,
    }

    /// Parse `name@algo:hex`, `algo:hex`, and Flux's legacy `name/hex` form.
    pub fn parse(s: &str) -> Option<Parsed<'_>> {
        let (name, rest) = match s.rsplit_once('@') {
            Some((n, r)) => (Some(n), r),
            None => (None, s),
        };
        if let Some((algorithm, hex)) = rest.split_once(':') {
            if is_hex(hex) {
                return Some(Parsed {
                    name,
                    algorithm,
                    hex,
                });
            }
            return None;
        }
        // Legacy `main/<sha1>`.
        let (n, hex) = s.rsplit_once('/')?;
        (is_hex(hex) && hex.len() == 40).then_some(Parsed {
            name: Some(n),
            algorithm: "sha1",
            hex,
        })
    }

    fn is_hex(s: &str) -> bool {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.yaml"), "a: 1\n").unwrap();
        d
    }

    #[test]
    fn revision_strings_match_flux() {
        let sha = "a".repeat(40);
        assert_eq!(
            revision::git(Some("main"), &sha),
            format!("main@sha1:{sha}")
        );
        assert_eq!(
            revision::git(Some("v1.2.3"), &sha),
            format!("v1.2.3@sha1:{sha}")
        );
        assert_eq!(revision::git(None, &sha), format!("sha1:{sha}"));
        let d = format!("sha256:{}", "b".repeat(64));
        assert_eq!(revision::oci(Some("latest"), &d), format!("latest@{d}"));
        let pr = format!("refs/pull/1/head@sha1:{sha}");
        let p = revision::parse(&pr).unwrap();
        assert_eq!(p.name, Some("refs/pull/1/head"));
        assert_eq!(p.hex, sha);
        assert_eq!(
            revision::parse(&format!("main/{sha}")).unwrap().algorithm,
            "sha1"
        );
        assert!(revision::parse("main@sha1:zz").is_none());
    }

    #[test]
    fn archive_is_content_addressed_and_verifiable() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(StoreOptions::new(root.path())).unwrap();
        let obj = ObjectRef::new("GitRepository", "flux-system", "podinfo");
        let src = tree();
        let (a, _) = store
            .archive_dir(
                &obj,
                src.path(),
                "main@sha1:00",
                &SourceFilter::none(),
                &Limits::default(),
            )
            .unwrap();
        assert!(a.path.starts_with("gitrepository/flux-system/podinfo/"));
        assert_eq!(
            a.path,
            format!(
                "gitrepository/flux-system/podinfo/{}.tar.gz",
                &a.digest[7..]
            )
        );
        assert_eq!(a.url, format!("http://localhost/{}", a.path));
        assert_eq!(
            a.size,
            std::fs::metadata(store.local_path(&a).unwrap())
                .unwrap()
                .len()
        );
        store.verify(&obj, &a).unwrap();
        let (b, _) = store
            .archive_dir(
                &obj,
                src.path(),
                "main@sha1:00",
                &SourceFilter::none(),
                &Limits::default(),
            )
            .unwrap();
        assert_eq!(a.digest, b.digest);
        let out = tempfile::tempdir().unwrap();
        store
            .extract(&obj, &a, out.path(), &Limits::default())
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(out.path().join("a.yaml")).unwrap(),
            "a: 1\n"
        );
    }

    #[test]
    fn tampered_artifact_fails_digest_verification() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(StoreOptions::new(root.path())).unwrap();
        let obj = ObjectRef::new("Bucket", "default", "b");
        let a = store
            .store_bytes(&obj, b"hello", "sha256:00", "txt")
            .unwrap();
        std::fs::write(store.local_path(&a).unwrap(), b"HELLO").unwrap();
        let err = store.verify(&obj, &a).unwrap_err();
        assert!(
            err.to_string().contains("Bucket default/b: artifact"),
            "{err}"
        );
        assert!(matches!(err, Error::DigestMismatch { .. }));
    }

    #[test]
    fn hostile_object_names_cannot_leave_the_store() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(StoreOptions::new(root.path())).unwrap();
        let err = store
            .store_bytes(&ObjectRef::new("Bucket", "..", "x"), b"x", "r", "txt")
            .unwrap_err();
        assert!(matches!(err, Error::InvalidPath(_)));
        let bad = Artifact {
            path: "../../etc/passwd".into(),
            url: String::new(),
            revision: String::new(),
            digest: String::new(),
            last_update_time: Utc::now(),
            size: 0,
            metadata: BTreeMap::new(),
        };
        assert!(matches!(store.local_path(&bad), Err(Error::InvalidPath(_))));
    }

    #[test]
    fn gc_keeps_the_newest_n_and_the_current_artifact() {
        let root = tempfile::tempdir().unwrap();
        let mut opts = StoreOptions::new(root.path());
        opts.retention = 2;
        let store = Store::new(opts).unwrap();
        let obj = ObjectRef::new("GitRepository", "default", "app");
        let mut arts = Vec::new();
        for i in 0..5u64 {
            let a = store
                .store_bytes(&obj, format!("v{i}").as_bytes(), &format!("r{i}"), "txt")
                .unwrap();
            // Distinct, increasing mtimes without sleeping.
            let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000 + i);
            File::options()
                .write(true)
                .open(store.local_path(&a).unwrap())
                .unwrap()
                .set_modified(t)
                .unwrap();
            arts.push(a);
        }
        let deleted = store.gc(&obj, Some(&arts[4])).unwrap();
        assert_eq!(deleted.len(), 3);
        for (i, a) in arts.iter().enumerate() {
            assert_eq!(
                store.local_path(a).unwrap().exists(),
                i >= 3,
                "artifact {i}"
            );
        }
        // The current artifact survives even when older than the others.
        let deleted = store.gc(&obj, Some(&arts[3])).unwrap();
        assert!(deleted.is_empty());
    }
}
