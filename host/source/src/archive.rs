//! Deterministic tar+gzip archives of a directory, and safe extraction of untrusted ones.
//!
//! Archives are reproducible: entries sorted by path, mtime 0, uid/gid 0, modes normalised
//! to 0644/0755, gzip header without timestamp — the same tree always gives the same digest.
//! Extraction never writes outside its root: absolute paths, `..`, hard links, device
//! files, symlinks that point outside the root and entries that would be written *through*
//! a symlink are refused, and the byte and file-count [`Limits`] are enforced on the
//! decompressed stream (header sizes are not trusted).

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::ignore::SourceFilter;

/// Size and count limits for archiving and extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum total bytes of file content. Default 512 MiB.
    pub max_bytes: u64,
    /// Maximum number of entries (files, directories, symlinks). Default 100 000.
    pub max_files: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 512 * 1024 * 1024,
            max_files: 100_000,
        }
    }
}

/// Counts from an archive or extraction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Regular files.
    pub files: u64,
    /// Total bytes of file content.
    pub bytes: u64,
}

/// Archiving or extraction failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the source tree or writing the archive failed.
    #[error("archiving {path}")]
    Write {
        /// The path being archived.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Reading the archive failed: it is not valid gzip/tar, or it is truncated.
    #[error("reading archive: corrupted or truncated")]
    Corrupt(#[source] io::Error),
    /// Writing an extracted entry failed.
    #[error("extracting {path}")]
    Extract {
        /// The entry's destination.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// An entry's path is absolute, contains `..`, or is otherwise unsafe.
    #[error("unsafe path {0:?} in archive: must stay inside the extraction root")]
    UnsafePath(PathBuf),
    /// A symlink points outside the root (or is absolute).
    #[error("symlink {path:?} -> {target:?} points outside the source root")]
    SymlinkEscapes {
        /// The link.
        path: PathBuf,
        /// Its target.
        target: PathBuf,
    },
    /// An entry would be written through a symlink.
    #[error("entry {0:?} would be written through a symlink")]
    ThroughSymlink(PathBuf),
    /// Hard links, devices, FIFOs and other special entries are refused.
    #[error("unsupported entry type {kind} for {path:?}")]
    UnsupportedEntry {
        /// The entry.
        path: PathBuf,
        /// Its tar type.
        kind: String,
    },
    /// The content exceeds [`Limits::max_bytes`].
    #[error("size limit exceeded: more than {limit} bytes of content")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The entry count exceeds [`Limits::max_files`].
    #[error("file count limit exceeded: more than {limit} entries")]
    TooManyFiles {
        /// The limit.
        limit: u64,
    },
}

/// A writer that hashes and counts what passes through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }
    /// (inner, hex digest, bytes written)
    pub(crate) fn finish(self) -> (W, String, u64) {
        (
            self.inner,
            hex::encode(self.hasher.finalize()),
            self.written,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes what passes through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }
    /// Drain the rest of the stream and return the hex digest of everything read.
    pub(crate) fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(hex::encode(self.hasher.finalize()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Write a deterministic tar+gzip of `root` to `out`, skipping what `filter` excludes.
///
/// Symlinks are kept as symlinks when their target stays inside `root`.
///
/// # Errors
/// I/O errors, a symlink pointing outside `root` ([`Error::SymlinkEscapes`]), or a tree over
/// `limits`.
pub fn write_tar_gz<W: Write>(
    root: &Path,
    filter: &SourceFilter,
    limits: &Limits,
    out: W,
) -> Result<(W, Stats), Error> {
    let gz = GzEncoder::new(out, Compression::default());
    let mut builder = tar::Builder::new(gz);
    builder.mode(tar::HeaderMode::Deterministic);
    builder.follow_symlinks(false);
    let mut stats = Stats::default();
    let mut entries = 0u64;
    append_dir(
        &mut builder,
        root,
        Path::new(""),
        filter,
        limits,
        &mut stats,
        &mut entries,
    )?;
    let gz = builder.into_inner().map_err(|source| Error::Write {
        path: root.into(),
        source,
    })?;
    let out = gz.finish().map_err(|source| Error::Write {
        path: root.into(),
        source,
    })?;
    Ok((out, stats))
}

fn append_dir<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
    filter: &SourceFilter,
    limits: &Limits,
    stats: &mut Stats,
    entries: &mut u64,
) -> Result<(), Error> {
    let dir = root.join(rel);
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    let mut children: Vec<_> = std::fs::read_dir(&dir)
        .map_err(io_err(&dir))?
        .collect::<Result<_, _>>()
        .map_err(io_err(&dir))?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let child_rel = rel.join(child.file_name());
        let full = root.join(&child_rel);
        let meta = std::fs::symlink_metadata(&full).map_err(io_err(&full))?;
        let ft = meta.file_type();
        if filter.is_excluded(&child_rel, ft.is_dir()) {
            continue;
        }
        if ft.is_dir() || ft.is_file() || ft.is_symlink() {
            *entries += 1;
            if *entries > limits.max_files {
                return Err(Error::TooManyFiles {
                    limit: limits.max_files,
                });
            }
        }
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        if ft.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder
                .append_data(&mut header, &child_rel, io::empty())
                .map_err(io_err(&full))?;
            append_dir(builder, root, &child_rel, filter, limits, stats, entries)?;
        } else if ft.is_file() {
            stats.files += 1;
            stats.bytes += meta.len();
            if stats.bytes > limits.max_bytes {
                return Err(Error::TooLarge {
                    limit: limits.max_bytes,
                });
            }
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if is_executable(&meta) { 0o755 } else { 0o644 });
            header.set_size(meta.len());
            let file = File::open(&full).map_err(io_err(&full))?;
            // Guard against the file growing while we read it.
            builder
                .append_data(&mut header, &child_rel, file.take(meta.len()))
                .map_err(io_err(&full))?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&full).map_err(io_err(&full))?;
            if !link_stays_inside(&child_rel, &target) {
                return Err(Error::SymlinkEscapes {
                    path: child_rel,
                    target,
                });
            }
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            builder
                .append_link(&mut header, &child_rel, &target)
                .map_err(io_err(&full))?;
        }
        // Sockets, FIFOs and devices in a checkout are skipped.
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Whether a relative symlink at `link` (relative to the root) pointing at `target` resolves,
/// lexically, to a path inside the root.
fn link_stays_inside(link: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: Vec<&std::ffi::OsStr> = Vec::new();
    if let Some(parent) = link.parent() {
        for c in parent.components() {
            match c {
                Component::Normal(n) => depth.push(n),
                _ => return false,
            }
        }
    }
    for c in target.components() {
        match c {
            Component::Normal(n) => depth.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Validate an archive path and return it as a clean relative path (`None` for the root).
fn clean_relative(path: &Path) -> Result<Option<PathBuf>, Error> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return Err(Error::UnsafePath(path.to_path_buf())),
        }
    }
    Ok(if out.as_os_str().is_empty() {
        None
    } else {
        Some(out)
    })
}

/// Extract a tar+gzip stream into `dest` (created if missing) under `limits`.
///
/// # Errors
/// See the module docs; on error `dest` may hold a partial tree — extract into a fresh
/// directory and move it into place only on success.
pub fn extract_tar_gz<R: Read>(reader: R, dest: &Path, limits: &Limits) -> Result<Stats, Error> {
    extract_tar(MultiGzDecoder::new(reader), dest, limits)
}

/// Extract an uncompressed tar stream; see [`extract_tar_gz`].
///
/// # Errors
/// See [`extract_tar_gz`].
pub fn extract_tar<R: Read>(reader: R, dest: &Path, limits: &Limits) -> Result<Stats, Error> {
    std::fs::create_dir_all(dest).map_err(|source| Error::Extract {
        path: dest.into(),
        source,
    })?;
    let mut archive = tar::Archive::new(reader);
    let mut stats = Stats::default();
    let mut entries = 0u64;
    let mut known_dirs: HashSet<PathBuf> = HashSet::new();
    for entry in archive.entries().map_err(Error::Corrupt)? {
        let mut entry = entry.map_err(Error::Corrupt)?;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let raw_path = entry.path().map_err(Error::Corrupt)?.into_owned();
        let Some(rel) = clean_relative(&raw_path)? else {
            continue;
        };
        entries += 1;
        if entries > limits.max_files {
            return Err(Error::TooManyFiles {
                limit: limits.max_files,
            });
        }
        let target = dest.join(&rel);
        match kind {
            tar::EntryType::Directory => {
                ensure_dirs(dest, &rel, &mut known_dirs)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                if let Some(parent) = rel.parent() {
                    ensure_dirs(dest, parent, &mut known_dirs)?;
                }
                refuse_existing_symlink(&target, &rel)?;
                let budget = limits.max_bytes - stats.bytes;
                let mut file = File::create(&target).map_err(|source| Error::Extract {
                    path: target.clone(),
                    source,
                })?;
                let copied = copy_limited(&mut entry, &mut file, budget + 1, &target)?;
                if copied > budget {
                    drop(file);
                    let _ = std::fs::remove_file(&target);
                    return Err(Error::TooLarge {
                        limit: limits.max_bytes,
                    });
                }
                stats.bytes += copied;
                stats.files += 1;
                set_mode(&target, entry.header().mode().unwrap_or(0o644))?;
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(Error::Corrupt)?
                    .ok_or_else(|| Error::UnsafePath(raw_path.clone()))?
                    .into_owned();
                if !link_stays_inside(&rel, &link) {
                    return Err(Error::SymlinkEscapes {
                        path: rel,
                        target: link,
                    });
                }
                if let Some(parent) = rel.parent() {
                    ensure_dirs(dest, parent, &mut known_dirs)?;
                }
                refuse_existing_symlink(&target, &rel)?;
                if target.exists() {
                    return Err(Error::UnsafePath(rel));
                }
                make_symlink(&link, &target)?;
            }
            other => {
                return Err(Error::UnsupportedEntry {
                    path: rel,
                    kind: format!("{other:?}"),
                });
            }
        }
    }
    Ok(stats)
}

/// Copy at most `max` bytes; read errors mean a corrupt archive, write errors are local.
fn copy_limited(from: &mut impl Read, to: &mut File, max: u64, path: &Path) -> Result<u64, Error> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    while total < max {
        let want = buf.len().min((max - total) as usize);
        let n = from.read(&mut buf[..want]).map_err(Error::Corrupt)?;
        if n == 0 {
            break;
        }
        to.write_all(&buf[..n]).map_err(|source| Error::Extract {
            path: path.into(),
            source,
        })?;
        total += n as u64;
    }
    Ok(total)
}

/// Create `rel`'s directories under `dest`, refusing to pass through symlinks.
fn ensure_dirs(dest: &Path, rel: &Path, known: &mut HashSet<PathBuf>) -> Result<(), Error> {
    let mut cur = PathBuf::new();
    for c in rel.components() {
        cur.push(c);
        if known.contains(&cur) {
            continue;
        }
        let full = dest.join(&cur);
        match std::fs::symlink_metadata(&full) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Error::ThroughSymlink(rel.to_path_buf()));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(Error::UnsafePath(rel.to_path_buf())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir(&full).map_err(|source| Error::Extract {
                    path: full.clone(),
                    source,
                })?;
            }
            Err(source) => return Err(Error::Extract { path: full, source }),
        }
        known.insert(cur.clone());
    }
    Ok(())
}

fn refuse_existing_symlink(target: &Path, rel: &Path) -> Result<(), Error> {
    if let Ok(m) = std::fs::symlink_metadata(target)
        && m.file_type().is_symlink()
    {
        return Err(Error::ThroughSymlink(rel.to_path_buf()));
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| {
        Error::Extract {
            path: path.into(),
            source,
        }
    })
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), Error> {
    Ok(())
}

#[cfg(unix)]
fn make_symlink(link: &Path, target: &Path) -> Result<(), Error> {
    std::os::unix::fs::symlink(link, target).map_err(|source| Error::Extract {
        path: target.into(),
        source,
    })
}

#[cfg(not(unix))]
fn make_symlink(_link: &Path, target: &Path) -> Result<(), Error> {
    Err(Error::UnsupportedEntry {
        path: target.into(),
        kind: "Symlink".into(),
    })
}

/// Package `dir` as a tar+gzip whose entries all live under `prefix/` (Helm's chart layout).
///
/// # Errors
/// As [`write_tar_gz`].
pub fn write_tar_gz_with_prefix<W: Write>(
    dir: &Path,
    prefix: &str,
    filter: &SourceFilter,
    limits: &Limits,
    out: W,
) -> Result<(W, Stats), Error> {
    // Build in a staging directory so the walker and determinism rules stay in one place.
    let staging = tempfile::tempdir().map_err(|source| Error::Write {
        path: dir.into(),
        source,
    })?;
    let staged = staging.path().join(prefix);
    copy_tree(dir, &staged, filter, Path::new(""))?;
    write_tar_gz(staging.path(), &SourceFilter::none(), limits, out)
}

/// Copy a tree, skipping excluded paths and refusing escaping symlinks.
///
/// # Errors
/// I/O errors or [`Error::SymlinkEscapes`].
pub fn copy_tree(src: &Path, dst: &Path, filter: &SourceFilter, rel: &Path) -> Result<(), Error> {
    let from = src.join(rel);
    let to = dst.join(rel);
    std::fs::create_dir_all(&to).map_err(|source| Error::Extract {
        path: to.clone(),
        source,
    })?;
    let rd = std::fs::read_dir(&from).map_err(|source| Error::Write {
        path: from.clone(),
        source,
    })?;
    for entry in rd {
        let entry = entry.map_err(|source| Error::Write {
            path: from.clone(),
            source,
        })?;
        let child = rel.join(entry.file_name());
        let ft = entry.file_type().map_err(|source| Error::Write {
            path: entry.path(),
            source,
        })?;
        if filter.is_excluded(&child, ft.is_dir()) {
            continue;
        }
        if ft.is_dir() {
            copy_tree(src, dst, filter, &child)?;
        } else if ft.is_file() {
            std::fs::copy(entry.path(), dst.join(&child)).map_err(|source| Error::Extract {
                path: dst.join(&child),
                source,
            })?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(entry.path()).map_err(|source| Error::Write {
                path: entry.path(),
                source,
            })?;
            if !link_stays_inside(&child, &target) {
                return Err(Error::SymlinkEscapes {
                    path: child,
                    target,
                });
            }
            make_symlink(&target, &dst.join(&child))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("apps/podinfo")).unwrap();
        std::fs::write(
            dir.path().join("apps/podinfo/deploy.yaml"),
            "kind: Deployment\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("kustomization.yaml"),
            "resources: [apps/podinfo]\n",
        )
        .unwrap();
        dir
    }

    fn tar_gz_of(entries: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        entries(&mut b);
        let raw = b.into_inner().unwrap();
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&raw).unwrap();
        gz.finish().unwrap()
    }

    fn raw_entry(
        b: &mut tar::Builder<Vec<u8>>,
        path: &str,
        kind: tar::EntryType,
        link: Option<&str>,
        body: &[u8],
    ) {
        // Write the name bytes directly: tar::Header::set_path refuses `..`, an attacker does not.
        let mut h = tar::Header::new_old();
        {
            let name = &mut h.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
        }
        if let Some(link) = link {
            let l = &mut h.as_old_mut().linkname;
            l[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, body).unwrap();
    }

    #[test]
    fn archives_are_reproducible_and_round_trip() {
        let dir = sample_tree();
        let (a, stats) = write_tar_gz(
            dir.path(),
            &SourceFilter::none(),
            &Limits::default(),
            Vec::new(),
        )
        .unwrap();
        // Touch a file: same content, new mtime.
        std::fs::write(
            dir.path().join("kustomization.yaml"),
            "resources: [apps/podinfo]\n",
        )
        .unwrap();
        let (b, _) = write_tar_gz(
            dir.path(),
            &SourceFilter::none(),
            &Limits::default(),
            Vec::new(),
        )
        .unwrap();
        assert_eq!(a, b, "same tree must give byte-identical archives");
        assert_eq!(stats.files, 2);
        let out = tempfile::tempdir().unwrap();
        extract_tar_gz(&a[..], out.path(), &Limits::default()).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.path().join("apps/podinfo/deploy.yaml")).unwrap(),
            "kind: Deployment\n"
        );
    }

    #[test]
    fn archiving_refuses_a_symlink_to_etc_passwd() {
        let dir = sample_tree();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("passwd")).unwrap();
        let err = write_tar_gz(
            dir.path(),
            &SourceFilter::none(),
            &Limits::default(),
            Vec::new(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::SymlinkEscapes { .. }), "{err}");
        assert!(err.to_string().contains("outside the source root"));
    }

    #[test]
    fn archiving_keeps_symlinks_that_stay_inside() {
        let dir = sample_tree();
        std::os::unix::fs::symlink("../kustomization.yaml", dir.path().join("apps/k.yaml"))
            .unwrap();
        let (a, _) = write_tar_gz(
            dir.path(),
            &SourceFilter::none(),
            &Limits::default(),
            Vec::new(),
        )
        .unwrap();
        let out = tempfile::tempdir().unwrap();
        extract_tar_gz(&a[..], out.path(), &Limits::default()).unwrap();
        assert_eq!(
            std::fs::read_link(out.path().join("apps/k.yaml")).unwrap(),
            Path::new("../kustomization.yaml")
        );
    }

    #[test]
    fn archiving_enforces_limits() {
        let dir = sample_tree();
        std::fs::write(dir.path().join("big.bin"), vec![0u8; 4096]).unwrap();
        let err = write_tar_gz(
            dir.path(),
            &SourceFilter::none(),
            &Limits {
                max_bytes: 1024,
                max_files: 100,
            },
            Vec::new(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 1024 }), "{err}");
        let err = write_tar_gz(
            dir.path(),
            &SourceFilter::none(),
            &Limits {
                max_bytes: 1 << 20,
                max_files: 2,
            },
            Vec::new(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::TooManyFiles { limit: 2 }), "{err}");
    }

    #[test]
    fn extraction_refuses_parent_dir_paths() {
        let data = tar_gz_of(|b| raw_entry(b, "../evil.txt", tar::EntryType::Regular, None, b"x"));
        let out = tempfile::tempdir().unwrap();
        let root = out.path().join("root");
        let err = extract_tar_gz(&data[..], &root, &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::UnsafePath(_)), "{err}");
        assert!(!out.path().join("evil.txt").exists());
    }

    #[test]
    fn extraction_refuses_absolute_paths() {
        let data =
            tar_gz_of(|b| raw_entry(b, "/tmp/gyre-evil.txt", tar::EntryType::Regular, None, b"x"));
        let out = tempfile::tempdir().unwrap();
        let err = extract_tar_gz(&data[..], out.path(), &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::UnsafePath(_)), "{err}");
    }

    #[test]
    fn extraction_refuses_symlinks_out_and_writes_through_symlinks() {
        let out = tempfile::tempdir().unwrap();
        let data = tar_gz_of(|b| {
            raw_entry(
                b,
                "passwd",
                tar::EntryType::Symlink,
                Some("/etc/passwd"),
                b"",
            )
        });
        let err = extract_tar_gz(&data[..], &out.path().join("a"), &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::SymlinkEscapes { .. }), "{err}");

        // A symlink to "." followed by "link/../x" style writes: the write goes through the link.
        let data = tar_gz_of(|b| {
            raw_entry(b, "d", tar::EntryType::Symlink, Some("."), b"");
            raw_entry(b, "d/x.txt", tar::EntryType::Regular, None, b"x");
        });
        let err = extract_tar_gz(&data[..], &out.path().join("b"), &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::ThroughSymlink(_)), "{err}");

        // A file entry after a symlink with the same name must not follow it.
        let data = tar_gz_of(|b| {
            raw_entry(b, "f", tar::EntryType::Symlink, Some("g"), b"");
            raw_entry(b, "f", tar::EntryType::Regular, None, b"x");
        });
        let err = extract_tar_gz(&data[..], &out.path().join("c"), &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::ThroughSymlink(_)), "{err}");
    }

    #[test]
    fn extraction_refuses_hard_links_and_devices() {
        let out = tempfile::tempdir().unwrap();
        let data = tar_gz_of(|b| raw_entry(b, "h", tar::EntryType::Link, Some("/etc/passwd"), b""));
        let err = extract_tar_gz(&data[..], out.path(), &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::UnsupportedEntry { .. }), "{err}");
        let data = tar_gz_of(|b| raw_entry(b, "dev", tar::EntryType::Char, None, b""));
        let err = extract_tar_gz(&data[..], out.path(), &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::UnsupportedEntry { .. }), "{err}");
    }

    #[test]
    fn extraction_counts_real_bytes_not_header_sizes() {
        // A 1 MiB file of zeros compresses to ~1 KiB: a gzip bomb in miniature.
        let data = tar_gz_of(|b| {
            raw_entry(
                b,
                "zeros",
                tar::EntryType::Regular,
                None,
                &vec![0u8; 1 << 20],
            )
        });
        assert!(data.len() < 8192);
        let out = tempfile::tempdir().unwrap();
        let err = extract_tar_gz(
            &data[..],
            out.path(),
            &Limits {
                max_bytes: 64 * 1024,
                max_files: 10,
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
        assert!(
            !out.path().join("zeros").exists(),
            "partial file must be removed"
        );
    }

    #[test]
    fn extraction_enforces_file_count() {
        let data = tar_gz_of(|b| {
            for i in 0..20 {
                raw_entry(b, &format!("f{i}"), tar::EntryType::Regular, None, b"x");
            }
        });
        let out = tempfile::tempdir().unwrap();
        let err = extract_tar_gz(
            &data[..],
            out.path(),
            &Limits {
                max_bytes: 1 << 20,
                max_files: 5,
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::TooManyFiles { limit: 5 }), "{err}");
    }

    #[test]
    fn extraction_reports_corruption() {
        let mut data =
            tar_gz_of(|b| raw_entry(b, "a.yaml", tar::EntryType::Regular, None, &[b'a'; 10_000]));
        let mid = data.len() / 2;
        data.truncate(mid);
        let out = tempfile::tempdir().unwrap();
        let err = extract_tar_gz(&data[..], out.path(), &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::Corrupt(_)), "{err}");
        let err = extract_tar_gz(
            &b"not a gzip stream at all"[..],
            out.path(),
            &Limits::default(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Corrupt(_)), "{err}");
    }
}
