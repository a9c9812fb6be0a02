//! Renders a directory of plain Kubernetes manifests (`*.yaml`, `*.yml`,
//! `*.json`, searched recursively in path order) into objects, as Flux does
//! for a path that has no `kustomization.yaml`. Runs as Gyre's built-in
//! `renderer` plugin; the logic is plain Rust, tested natively.

// The WIT glue that wit-bindgen generates is `unsafe` by nature (raw exports).
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, missing_docs)]
mod guest;

use serde::Deserialize;
use serde_json::Value;
use std::path::{Component, Path, PathBuf};

/// Largest single file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 32 << 20;
/// Largest total read for one render, in bytes.
pub const MAX_TOTAL_BYTES: u64 = 128 << 20;
/// Most files visited in one render.
pub const MAX_FILES: usize = 20_000;
/// Deepest directory nesting followed.
const MAX_DEPTH: usize = 64;

/// Where a render failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The requested path is absolute or leaves the artifact root.
    #[error("path {0:?} must be relative and stay inside the artifact")]
    PathEscapes(String),
    /// The requested directory does not exist.
    #[error("directory {0:?} not found in the artifact")]
    NotFound(String),
    /// A symlink whose target is outside the artifact.
    #[error("{file}: symlink points outside the artifact ({target})")]
    SymlinkEscapes {
        /// The link, relative to the root.
        file: String,
        /// Where it points.
        target: String,
    },
    /// A file or the whole tree is over the size caps.
    #[error("{file}: too large ({size} bytes; the limit is {limit})")]
    TooLarge {
        /// The file, relative to the root.
        file: String,
        /// Its size, or the running total.
        size: u64,
        /// The cap that was hit.
        limit: u64,
    },
    /// More files than [`MAX_FILES`] or deeper than the nesting cap.
    #[error("{0}: the tree has too many files or is nested too deeply")]
    TooManyFiles(String),
    /// The directory has a kustomization file; this renderer does not build it.
    #[error("{0}: this directory is a kustomization; render it with the kustomize renderer")]
    IsKustomization(String),
    /// Reading failed.
    #[error("{file}: {source}")]
    Io {
        /// The file, relative to the root.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A document is not valid YAML/JSON or not a Kubernetes object.
    #[error("{file}: document {doc}: {message}")]
    BadDocument {
        /// The file, relative to the root.
        file: String,
        /// 1-based index of the document in the file.
        doc: usize,
        /// What is wrong.
        message: String,
    },
}

/// Checks that `rel` is a plain relative path and returns it normalized.
pub fn normalize_relative(rel: &str) -> Result<PathBuf, RenderError> {
    let mut out = PathBuf::new();
    for c in Path::new(rel).components() {
        match c {
            Component::CurDir => {}
            Component::Normal(p) => out.push(p),
            Component::ParentDir => {
                if !out.pop() {
                    return Err(RenderError::PathEscapes(rel.to_string()));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(RenderError::PathEscapes(rel.to_string()));
            }
        }
    }
    Ok(out)
}

struct Walker<'a> {
    root: &'a Path,
    files: Vec<PathBuf>,
    visited: usize,
}

impl Walker<'_> {
    fn io(rel: &Path, source: std::io::Error) -> RenderError {
        RenderError::Io {
            file: rel.display().to_string(),
            source,
        }
    }

    /// Resolves a symlink found at `rel` lexically, refusing targets outside
    /// the root. (The sandbox refuses them too; this gives a clear error.)
    fn resolve_link(&self, rel: &Path) -> Result<PathBuf, RenderError> {
        let target = std::fs::read_link(self.root.join(rel)).map_err(|e| Self::io(rel, e))?;
        let escapes = || RenderError::SymlinkEscapes {
            file: rel.display().to_string(),
            target: target.display().to_string(),
        };
        if target.is_absolute() {
            return Err(escapes());
        }
        let joined = rel.parent().unwrap_or(Path::new("")).join(&target);
        normalize_relative(&joined.to_string_lossy()).map_err(|_| escapes())
    }

    fn walk(&mut self, rel: &Path, depth: usize) -> Result<(), RenderError> {
        if depth > MAX_DEPTH {
            return Err(RenderError::TooManyFiles(rel.display().to_string()));
        }
        let mut entries: Vec<_> = std::fs::read_dir(self.root.join(rel))
            .map_err(|e| Self::io(rel, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| Self::io(rel, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            self.visited += 1;
            if self.visited > MAX_FILES {
                return Err(RenderError::TooManyFiles(rel.display().to_string()));
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let mut path = rel.join(&*name);
            let mut ft = entry.file_type().map_err(|e| Self::io(&path, e))?;
            let mut hops = 0;
            while ft.is_symlink() {
                hops += 1;
                if hops > 8 {
                    return Err(RenderError::TooManyFiles(path.display().to_string()));
                }
                path = self.resolve_link(&path)?;
                ft = std::fs::symlink_metadata(self.root.join(&path))
                    .map_err(|e| Self::io(&path, e))?
                    .file_type();
            }
            if ft.is_dir() {
                self.walk(&path, depth + 1)?;
            } else if ft.is_file() && is_manifest(&name) {
                self.files.push(path);
            }
        }
        Ok(())
    }
}

fn is_manifest(name: &str) -> bool {
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Renders every manifest under `dir` (relative to `root`).
///
/// # Errors
/// Paths escaping the root, unreadable or oversized files, documents that
/// are not Kubernetes objects; each error names the file.
pub fn render(root: &Path, dir: &str) -> Result<Vec<Value>, RenderError> {
    let rel = normalize_relative(dir)?;
    let abs = root.join(&rel);
    if !abs.is_dir() {
        return Err(RenderError::NotFound(dir.to_string()));
    }
    for k in ["kustomization.yaml", "kustomization.yml", "Kustomization"] {
        if abs.join(k).exists() {
            return Err(RenderError::IsKustomization(
                rel.join(k).display().to_string(),
            ));
        }
    }
    let mut walker = Walker {
        root,
        files: Vec::new(),
        visited: 0,
    };
    walker.walk(&rel, 0)?;
    let mut total = 0u64;
    let mut objects = Vec::new();
    for file in walker.files {
        let shown = file.display().to_string();
        let size = std::fs::metadata(root.join(&file))
            .map_err(|e| Walker::io(&file, e))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(RenderError::TooLarge {
                file: shown,
                size,
                limit: MAX_FILE_BYTES,
            });
        }
        total += size;
        if total > MAX_TOTAL_BYTES {
            return Err(RenderError::TooLarge {
                file: shown,
                size: total,
                limit: MAX_TOTAL_BYTES,
            });
        }
        let text = std::fs::read_to_string(root.join(&file)).map_err(|e| Walker::io(&file, e))?;
        parse_documents(&shown, &text, &mut objects)?;
    }
    Ok(objects)
}

/// Parses a multi-document YAML (or JSON) text into objects, flattening
/// `kind: List`.
///
/// # Errors
/// [`RenderError::BadDocument`] naming the file and the document.
pub fn parse_documents(file: &str, text: &str, out: &mut Vec<Value>) -> Result<(), RenderError> {
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let bad = |message: String| RenderError::BadDocument {
            file: file.to_string(),
            doc: i + 1,
            message,
        };
        let value = Value::deserialize(doc).map_err(|e| bad(e.to_string()))?;
        match value {
            Value::Null => continue,
            Value::Object(ref map) => {
                let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
                if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
                    for item in map["items"].as_array().into_iter().flatten() {
                        check_object(item).map_err(&bad)?;
                        out.push(item.clone());
                    }
                    continue;
                }
                check_object(&value).map_err(&bad)?;
                out.push(value);
            }
            _ => return Err(bad("not a mapping; expected a Kubernetes object".into())),
        }
    }
    Ok(())
}

fn check_object(v: &Value) -> Result<(), String> {
    let get = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    if get("apiVersion").is_none() {
        return Err("missing apiVersion".into());
    }
    if get("kind").is_none() {
        return Err("missing kind".into());
    }
    let meta = v.get("metadata");
    let named = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
        || meta
            .and_then(|m| m.get("generateName"))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
    if !named {
        return Err("missing metadata.name".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, body) in files {
            let p = dir.path().join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, body).unwrap();
        }
        dir
    }

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"1\"\n";

    #[test]
    fn renders_all_manifests_recursively_in_path_order() {
        let t = tree(&[
            (
                "app/b.yaml",
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: b\n---\n# only a comment\n",
            ),
            ("app/a.yml", CM),
            (
                "app/sub/c.json",
                r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"c"}}"#,
            ),
            ("app/README.md", "not yaml"),
            ("app/.hidden.yaml", "garbage: ["),
        ]);
        let objs = render(t.path(), "app").unwrap();
        let names: Vec<_> = objs
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(objs[0]["data"]["k"], "1", "quoted scalars stay strings");
    }

    #[test]
    fn lists_are_flattened() {
        let t = tree(&[(
            "l.yaml",
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: x}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: y}\n",
        )]);
        assert_eq!(render(t.path(), ".").unwrap().len(), 2);
    }

    #[test]
    fn errors_name_the_file_and_document() {
        let t = tree(&[(
            "x/bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\nkind: ConfigMap\nmetadata: {name: nope}\n",
        )]);
        let err = render(t.path(), "x").unwrap_err().to_string();
        assert!(
            err.contains("x/bad.yaml") && err.contains("document 2") && err.contains("apiVersion"),
            "{err}"
        );
        let t = tree(&[("y.yaml", "a: [unclosed\n")]);
        assert!(
            render(t.path(), ".")
                .unwrap_err()
                .to_string()
                .starts_with("y.yaml: document 1")
        );
    }

    #[test]
    fn paths_escaping_the_root_are_refused() {
        let t = tree(&[("a.yaml", CM)]);
        for p in ["..", "../x", "/etc", "a/../../x"] {
            assert!(
                matches!(render(t.path(), p), Err(RenderError::PathEscapes(_))),
                "{p}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_pointing_outside_are_refused_and_inside_ones_followed() {
        let outside = tree(&[("secret.yaml", CM)]);
        let t = tree(&[("app/real/cm.yaml", CM)]);
        std::os::unix::fs::symlink("real", t.path().join("app/alias")).unwrap();
        assert_eq!(
            render(t.path(), "app").unwrap().len(),
            2,
            "an inside link is followed"
        );
        std::os::unix::fs::symlink(
            outside.path().join("secret.yaml"),
            t.path().join("app/evil.yaml"),
        )
        .unwrap();
        assert!(matches!(
            render(t.path(), "app"),
            Err(RenderError::SymlinkEscapes { .. })
        ));
        fs::remove_file(t.path().join("app/evil.yaml")).unwrap();
        std::os::unix::fs::symlink("../../../etc/passwd", t.path().join("app/evil.yaml")).unwrap();
        assert!(matches!(
            render(t.path(), "app"),
            Err(RenderError::SymlinkEscapes { .. })
        ));
    }

    #[test]
    fn kustomization_directories_are_left_to_the_kustomize_renderer() {
        let t = tree(&[("k/kustomization.yaml", "resources: []\n")]);
        assert!(matches!(
            render(t.path(), "k"),
            Err(RenderError::IsKustomization(_))
        ));
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut y = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let mut prev = 'a';
        for c in 'b'..='j' {
            y.push_str(&format!("{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
            prev = c;
        }
        let t = tree(&[("bomb.yaml", &y)]);
        let err = render(t.path(), ".").unwrap_err();
        assert!(matches!(err, RenderError::BadDocument { .. }), "{err}");
    }
}
