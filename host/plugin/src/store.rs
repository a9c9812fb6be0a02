//! The local plugin cache: a content-addressed blob store (manifests and
//! Wasm layers under `blobs/sha256/<hex>`) plus a tag index
//! (`refs/<registry>/<repository>/<tag>` → manifest digest).
//!
//! Safe under concurrent use: every write goes to a unique temp file in the
//! same directory and is renamed into place, so readers see either nothing
//! or a complete file, and two writers of the same digest write the same
//! bytes. Every read re-verifies the digest, so a corrupted file is an
//! error, never a wrong plugin.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Splits and validates a `sha256:<64 hex>` digest, returning the hex part.
pub fn digest_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(hex)
}

/// Writes `bytes` to `path` atomically (temp file in the same directory,
/// fsync, rename), creating parent directories owner-only.
///
/// # Errors
/// [`Error::Storage`] naming the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(Error::storage("writing", path))
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
        .map_err(Error::storage("creating directory", dir))
}

/// One tag recorded in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagEntry {
    /// `registry/repository:tag`.
    pub reference: String,
    /// The manifest digest it pointed to when last pulled or pushed.
    pub manifest_digest: String,
}

/// The content-addressed plugin cache.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        BlobStore { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, hex: &str) -> PathBuf {
        self.root.join("blobs").join("sha256").join(hex)
    }

    /// Stores `bytes` under their digest (after checking they match
    /// `expected` when given) and returns the digest.
    ///
    /// # Errors
    /// [`Error::DigestMismatch`] or storage errors.
    pub fn put(&self, bytes: &[u8], expected: Option<&str>) -> Result<String> {
        let digest = sha256_digest(bytes);
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(Error::DigestMismatch {
                what: "blob".into(),
                expected: expected.into(),
                actual: digest,
            });
        }
        let hex = digest_hex(&digest).expect("computed digests are well-formed");
        let path = self.blob_path(hex);
        if !path.is_file() {
            write_atomic(&path, bytes)?;
        }
        Ok(digest)
    }

    /// Reads a blob by digest, verifying it. `Ok(None)` when absent.
    ///
    /// # Errors
    /// [`Error::DigestMismatch`] when the file on disk is corrupted (it is
    /// then removed, so the next pull fetches it again).
    pub fn get(&self, digest: &str) -> Result<Option<Vec<u8>>> {
        let Some(hex) = digest_hex(digest) else {
            return Ok(None);
        };
        let path = self.blob_path(hex);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::storage("reading", &path)(e)),
        };
        let actual = sha256_digest(&bytes);
        if actual != digest {
            let _ = std::fs::remove_file(&path);
            return Err(Error::DigestMismatch {
                what: format!("cached blob {}", path.display()),
                expected: digest.into(),
                actual,
            });
        }
        Ok(Some(bytes))
    }

    /// Whether the blob is present (not verified).
    pub fn contains(&self, digest: &str) -> bool {
        digest_hex(digest).is_some_and(|hex| self.blob_path(hex).is_file())
    }

    fn tag_path(&self, registry: &str, repository: &str, tag: &str) -> PathBuf {
        // Registry hosts may carry a port (`:`), which is fine on Unix but
        // not as a Windows path component; keep it portable.
        let mut p = self.root.join("refs").join(registry.replace(':', "_"));
        for part in repository.split('/') {
            p.push(part);
        }
        p.push(tag);
        p
    }

    /// Records that `registry/repository:tag` points to `manifest_digest`.
    ///
    /// # Errors
    /// Storage errors.
    pub fn set_tag(
        &self,
        registry: &str,
        repository: &str,
        tag: &str,
        manifest_digest: &str,
    ) -> Result<()> {
        let body = format!("{manifest_digest}\n{registry}/{repository}:{tag}\n");
        write_atomic(&self.tag_path(registry, repository, tag), body.as_bytes())
    }

    /// The manifest digest last seen for a tag.
    pub fn tag(&self, registry: &str, repository: &str, tag: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.tag_path(registry, repository, tag)).ok()?;
        text.lines()
            .next()
            .filter(|d| digest_hex(d).is_some())
            .map(str::to_string)
    }

    /// Every tag in the index, sorted by reference.
    pub fn tags(&self) -> Vec<TagEntry> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.join("refs")];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in rd.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if !entry.file_name().to_string_lossy().starts_with(".tmp-")
                    && let Ok(text) = std::fs::read_to_string(&path)
                {
                    let mut lines = text.lines();
                    if let (Some(d), Some(r)) = (lines.next(), lines.next())
                        && digest_hex(d).is_some()
                    {
                        out.push(TagEntry {
                            reference: r.to_string(),
                            manifest_digest: d.to_string(),
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| a.reference.cmp(&b.reference));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_and_corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::new(dir.path());
        let d = s.put(b"hello", None).unwrap();
        assert_eq!(
            d,
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(s.get(&d).unwrap().unwrap(), b"hello");
        assert!(matches!(
            s.put(b"x", Some(&d)),
            Err(Error::DigestMismatch { .. })
        ));
        std::fs::write(
            dir.path()
                .join("blobs/sha256")
                .join(digest_hex(&d).unwrap()),
            b"tampered",
        )
        .unwrap();
        assert!(matches!(s.get(&d), Err(Error::DigestMismatch { .. })));
        assert_eq!(s.get(&d).unwrap(), None, "a corrupted entry is dropped");
    }

    #[test]
    fn tags_are_indexed_by_reference() {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::new(dir.path());
        let d = s.put(b"m", None).unwrap();
        s.set_tag("127.0.0.1:5000", "team/plugin", "v1", &d)
            .unwrap();
        assert_eq!(
            s.tag("127.0.0.1:5000", "team/plugin", "v1").as_deref(),
            Some(d.as_str())
        );
        assert_eq!(s.tag("127.0.0.1:5000", "team/plugin", "v2"), None);
        assert_eq!(
            s.tags(),
            vec![TagEntry {
                reference: "127.0.0.1:5000/team/plugin:v1".into(),
                manifest_digest: d
            }]
        );
    }

    #[test]
    fn concurrent_writers_of_one_blob_leave_one_good_copy() {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::new(dir.path());
        let data = vec![7u8; 1 << 20];
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| s.put(&data, None).unwrap());
            }
        });
        let d = sha256_digest(&data);
        assert_eq!(s.get(&d).unwrap().unwrap(), data);
        let leftovers = std::fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .count();
        assert_eq!(leftovers, 1, "no temp files remain");
    }

    #[test]
    fn digests_are_validated() {
        assert!(digest_hex("sha256:abc").is_none());
        assert!(digest_hex(&format!("sha256:{}", "A".repeat(64))).is_none());
        assert!(digest_hex(&format!("sha512:{}", "a".repeat(64))).is_none());
        assert!(digest_hex(&format!("sha256:{}", "a".repeat(64))).is_some());
    }
}
