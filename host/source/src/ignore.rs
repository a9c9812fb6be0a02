//! Source ignore rules: Flux's default excludes, `.sourceignore` files and `spec.ignore`.
//!
//! Semantics follow source-controller: VCS metadata (`.git/`, `.gitignore`, …) is always
//! excluded; the extension/CI/extra defaults apply only when `spec.ignore` is not set (a set
//! `spec.ignore` *overrides* them); `.sourceignore` files anywhere in the tree add patterns
//! scoped to their own directory; `spec.ignore` is evaluated last and so can re-include
//! (`!pattern`) what an earlier rule excluded. A path inside an excluded directory stays
//! excluded, as in Git.

use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// Name of the per-directory ignore file.
pub const SOURCEIGNORE_FILE: &str = ".sourceignore";

/// Version-control metadata, excluded from every source.
pub const EXCLUDE_VCS: &[&str] = &[".git/", ".gitignore", ".gitmodules", ".gitattributes"];

/// Binary and archive extensions excluded by default.
pub const EXCLUDE_EXT: &[&str] = &[
    "*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
];

/// CI configuration excluded by default.
pub const EXCLUDE_CI: &[&str] = &[
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
];

/// Tool configuration excluded by default.
pub const EXCLUDE_EXTRA: &[&str] = &["**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml"];

/// Which built-in exclusion list a source kind starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Defaults {
    /// GitRepository / OCIRepository: VCS files, plus extension, CI and extra defaults unless
    /// `spec.ignore` is set.
    #[default]
    Source,
    /// Bucket: no built-in patterns besides `.sourceignore` and `spec.ignore`.
    None,
}

/// A pattern file failed to parse.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A pattern (from defaults, a `.sourceignore` file or `spec.ignore`) is invalid.
    #[error("invalid ignore pattern in {origin}")]
    InvalidPattern {
        /// Where the pattern came from.
        origin: String,
        /// The parser's error.
        #[source]
        source: ignore::Error,
    },
    /// A `.sourceignore` file could not be read.
    #[error("reading {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// An ordered set of gitignore matchers; the last rule that matches a path decides.
#[derive(Debug, Clone, Default)]
pub struct SourceFilter {
    /// (domain relative to the root, matcher). The matcher's root is the domain.
    rules: Vec<(PathBuf, Gitignore)>,
}

impl SourceFilter {
    /// A filter that excludes nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// Build the filter for the tree at `root`: the `defaults`, every `.sourceignore` file in
    /// the tree (scoped to its directory, shallower files first), then `spec_ignore`.
    ///
    /// # Errors
    /// An unreadable `.sourceignore` file or an invalid pattern.
    pub fn for_tree(
        root: &Path,
        defaults: Defaults,
        spec_ignore: Option<&str>,
    ) -> Result<Self, Error> {
        let mut filter = Self::none();
        let mut base: Vec<&str> = Vec::new();
        if defaults == Defaults::Source {
            base.extend_from_slice(EXCLUDE_VCS);
            if spec_ignore.is_none() {
                base.extend_from_slice(EXCLUDE_EXT);
                base.extend_from_slice(EXCLUDE_CI);
                base.extend_from_slice(EXCLUDE_EXTRA);
            }
        }
        if !base.is_empty() {
            filter.push_lines(Path::new(""), base.iter().copied(), "the default excludes")?;
        }
        // .sourceignore files, breadth-first so that deeper files come later and win.
        let mut found = Vec::new();
        collect_ignore_files(root, Path::new(""), &filter, &mut found)?;
        found.sort_by_key(|p| p.components().count());
        for domain in found {
            let path = root.join(&domain).join(SOURCEIGNORE_FILE);
            let text = std::fs::read_to_string(&path).map_err(|source| Error::ReadFile {
                path: path.clone(),
                source,
            })?;
            filter.push_lines(&domain, text.lines(), &path.display().to_string())?;
        }
        if let Some(spec) = spec_ignore {
            filter.push_lines(Path::new(""), spec.lines(), "spec.ignore")?;
        }
        Ok(filter)
    }

    /// Append patterns (gitignore syntax) scoped to `domain` (relative to the tree root).
    ///
    /// # Errors
    /// An invalid pattern.
    pub fn push_lines<'a>(
        &mut self,
        domain: &Path,
        lines: impl IntoIterator<Item = &'a str>,
        origin: &str,
    ) -> Result<(), Error> {
        // The matcher works on paths relative to the domain, so give it a virtual root.
        let virtual_root = Path::new("/").join(domain);
        let mut builder = GitignoreBuilder::new(&virtual_root);
        for line in lines {
            builder
                .add_line(None, line)
                .map_err(|source| Error::InvalidPattern {
                    origin: origin.to_string(),
                    source,
                })?;
        }
        let gi = builder.build().map_err(|source| Error::InvalidPattern {
            origin: origin.to_string(),
            source,
        })?;
        self.rules.push((domain.to_path_buf(), gi));
        Ok(())
    }

    /// Whether `rel` (relative to the tree root) is excluded by the rules themselves. Callers
    /// walking a tree must also skip everything below an excluded directory.
    pub fn is_excluded(&self, rel: &Path, is_dir: bool) -> bool {
        let mut verdict = false;
        for (domain, gi) in &self.rules {
            if !rel.starts_with(domain) || rel == domain {
                continue;
            }
            match gi.matched(Path::new("/").join(rel), is_dir) {
                Match::Ignore(_) => verdict = true,
                Match::Whitelist(_) => verdict = false,
                Match::None => {}
            }
        }
        verdict
    }
}

fn collect_ignore_files(
    root: &Path,
    rel: &Path,
    filter: &SourceFilter,
    out: &mut Vec<PathBuf>,
) -> Result<(), Error> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir).map_err(|source| Error::ReadFile {
        path: dir.clone(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::ReadFile {
            path: dir.clone(),
            source,
        })?;
        let ft = entry.file_type().map_err(|source| Error::ReadFile {
            path: entry.path(),
            source,
        })?;
        let child = rel.join(entry.file_name());
        if ft.is_dir() {
            if !filter.is_excluded(&child, true) {
                collect_ignore_files(root, &child, filter, out)?;
            }
        } else if ft.is_file() && entry.file_name() == SOURCEIGNORE_FILE {
            out.push(rel.to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, body) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        dir
    }

    #[test]
    fn default_excludes_cover_vcs_images_ci_and_tool_files() {
        let dir = tree(&[("a.yaml", "")]);
        let f = SourceFilter::for_tree(dir.path(), Defaults::Source, None).unwrap();
        for (p, is_dir) in [
            (".git", true),
            (".gitignore", false),
            ("sub/.gitmodules", false),
            ("logo.png", false),
            ("docs/pic.jpeg", false),
            ("bundle.tar.gz", false),
            (".github", true),
            ("deep/.sops.yaml", false),
            (".flux.yaml", false),
        ] {
            assert!(
                f.is_excluded(Path::new(p), is_dir),
                "{p} should be excluded"
            );
        }
        for p in ["a.yaml", "deploy/kustomization.yaml", "README.md"] {
            assert!(!f.is_excluded(Path::new(p), false), "{p} should be kept");
        }
    }

    #[test]
    fn spec_ignore_overrides_extension_defaults_but_not_vcs() {
        let dir = tree(&[("a.yaml", "")]);
        let f = SourceFilter::for_tree(dir.path(), Defaults::Source, Some("*.txt\n")).unwrap();
        assert!(f.is_excluded(Path::new("notes.txt"), false));
        assert!(!f.is_excluded(Path::new("logo.png"), false));
        assert!(f.is_excluded(Path::new(".git"), true));
    }

    #[test]
    fn spec_ignore_can_exclude_all_but_one_directory() {
        let dir = tree(&[("a.yaml", "")]);
        let f =
            SourceFilter::for_tree(dir.path(), Defaults::Source, Some("/*\n!/deploy/\n")).unwrap();
        assert!(f.is_excluded(Path::new("a.yaml"), false));
        assert!(f.is_excluded(Path::new("src"), true));
        assert!(!f.is_excluded(Path::new("deploy"), true));
    }

    #[test]
    fn nested_sourceignore_applies_only_below_its_directory() {
        let dir = tree(&[
            (".sourceignore", "secret.yaml\n"),
            ("apps/.sourceignore", "*.md\n/local.yaml\n"),
        ]);
        let f = SourceFilter::for_tree(dir.path(), Defaults::Source, None).unwrap();
        assert!(f.is_excluded(Path::new("secret.yaml"), false));
        assert!(f.is_excluded(Path::new("apps/x/secret.yaml"), false));
        assert!(f.is_excluded(Path::new("apps/README.md"), false));
        assert!(!f.is_excluded(Path::new("README.md"), false));
        assert!(f.is_excluded(Path::new("apps/local.yaml"), false));
        assert!(!f.is_excluded(Path::new("local.yaml"), false));
    }

    #[test]
    fn bucket_defaults_exclude_nothing_by_themselves() {
        let dir = tree(&[("a.png", "")]);
        let f = SourceFilter::for_tree(dir.path(), Defaults::None, None).unwrap();
        assert!(!f.is_excluded(Path::new("a.png"), false));
        assert!(!f.is_excluded(Path::new(".gitignore"), false));
    }
}
