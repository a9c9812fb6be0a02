//! Chart loading: directories and .tgz archives, Chart.yaml, .helmignore, subcharts.

use crate::Error;
use crate::value::{Map, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Maximum total decompressed size of a chart archive.
pub const MAX_ARCHIVE_BYTES: u64 = 64 << 20;
/// Maximum size of one file.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Maximum nesting of subcharts.
pub const MAX_CHART_DEPTH: usize = 20;

/// A dependency entry of Chart.yaml.
#[derive(Debug, Clone, Default)]
pub struct Dependency {
    /// Name.
    pub name: String,
    /// Alias.
    pub alias: String,
    /// Condition paths.
    pub condition: String,
    /// Tags.
    pub tags: Vec<String>,
    /// import-values entries.
    pub import_values: Vec<Value>,
    /// Enabled after tag/condition processing.
    pub enabled: bool,
    /// Raw entry.
    pub raw: Value,
}

/// A loaded chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Chart.yaml as a map.
    pub meta: Map,
    /// Name.
    pub name: String,
    /// Dependencies declared in Chart.yaml/requirements.yaml.
    pub deps: Vec<Dependency>,
    /// Templates: path (e.g. `templates/x.yaml`) and text.
    pub templates: Vec<(String, String)>,
    /// values.yaml.
    pub values: Map,
    /// values.schema.json.
    pub schema: Option<serde_json::Value>,
    /// Other files.
    pub files: crate::files::Files,
    /// Loaded subcharts.
    pub subcharts: Vec<Chart>,
    /// Full path like `parent/charts/child`.
    pub full_path: String,
    /// The name in Chart.yaml (before aliasing); subcharts of an aliased chart keep it in their paths.
    pub orig_name: String,
}

impl Chart {
    /// `type: library`.
    pub fn is_library(&self) -> bool {
        self.meta.get("type").and_then(|v| v.as_str()) == Some("library")
    }
    /// Metadata string field.
    pub fn meta_str(&self, k: &str) -> String {
        match self.meta.get(k) {
            Some(Value::Str(s)) => s.to_string(),
            Some(Value::Nil) | None => String::new(),
            Some(v) => v.to_v(),
        }
    }
}

/// Joins `rel` onto `root` without touching the filesystem; `None` when `..` climbs above `root`.
fn lexical_join(root: &Path, rel: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(x) => parts.push(x.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    let mut p = root.to_path_buf();
    p.extend(parts);
    Some(p)
}

/// Resolves symlinks. Natively this is `canonicalize`; WASI has no `canonicalize`, and there
/// the preopened directory itself refuses `..` and symlinks that leave it, so the lexical
/// path is used and the sandbox enforces confinement.
fn real_path(p: &Path) -> std::io::Result<PathBuf> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        p.canonicalize()
    }
    #[cfg(target_arch = "wasm32")]
    {
        std::fs::metadata(p).map(|_| p.to_path_buf())
    }
}

/// Loads a chart directory or `.tgz` file below `root` (relative path `rel`).
pub fn load(root: &Path, rel: &Path) -> Result<Chart, Error> {
    let root_canon =
        real_path(root).map_err(|e| Error::NotFound(format!("{}: {e}", root.display())))?;
    let lexical = lexical_join(&root_canon, rel).ok_or_else(|| {
        Error::Invalid(format!("{}: path escapes the source root", rel.display()))
    })?;
    let canon =
        real_path(&lexical).map_err(|e| Error::NotFound(format!("{}: {e}", rel.display())))?;
    if !canon.starts_with(&root_canon) {
        return Err(Error::Invalid(format!(
            "{}: path escapes the source root",
            rel.display()
        )));
    }
    let files = if canon.is_dir() {
        let mut out = Vec::new();
        let rules = read_ignore(&canon)?;
        walk(&root_canon, &canon, "", &rules, &mut out, &mut 0)?;
        out
    } else {
        let data = read_capped(&canon)?;
        untar(&data)?
    };
    from_files(files, "", 0)
}

/// Reads a whole file with one `wasi:filesystem` read instead of std's chunked stream reads
/// (each chunk is a host call). `None` means "use the portable path".
#[cfg(target_arch = "wasm32")]
fn read_fast(p: &Path) -> Option<Vec<u8>> {
    use wasip2::filesystem::preopens::get_directories;
    use wasip2::filesystem::types::{Descriptor, DescriptorFlags, OpenFlags, PathFlags};
    thread_local! {
        static PREOPENS: Vec<(Descriptor, String)> = get_directories();
    }
    let s = p.to_str()?;
    PREOPENS.with(|pre| {
        for (dir, name) in pre {
            let Some(rel) = s.strip_prefix(name.as_str()) else {
                continue;
            };
            let rel = rel.trim_start_matches('/');
            if rel.is_empty() {
                continue;
            }
            let f = dir
                .open_at(
                    PathFlags::SYMLINK_FOLLOW,
                    rel,
                    OpenFlags::empty(),
                    DescriptorFlags::READ,
                )
                .ok()?;
            let size = f.stat().ok()?.size;
            if size > MAX_ARCHIVE_BYTES {
                return None;
            }
            let mut out = Vec::with_capacity(size as usize);
            loop {
                let want = (size - out.len() as u64).max(1);
                let (chunk, eof) = f.read(want, out.len() as u64).ok()?;
                let done = eof || chunk.is_empty();
                out.extend_from_slice(&chunk);
                // The artifact tree is read-only: stop at the stat size without an EOF probe.
                if done || out.len() as u64 >= size {
                    break;
                }
            }
            return Some(out);
        }
        None
    })
}

fn read_capped(p: &Path) -> Result<Vec<u8>, Error> {
    #[cfg(target_arch = "wasm32")]
    if let Some(b) = read_fast(p) {
        if b.len() as u64 > MAX_ARCHIVE_BYTES {
            return Err(Error::Invalid(format!("{}: file too large", p.display())));
        }
        return Ok(b);
    }
    // Few filesystem calls: in the sandbox each one crosses into the host.
    let f = std::fs::File::open(p).map_err(|e| Error::NotFound(format!("{}: {e}", p.display())))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_ARCHIVE_BYTES {
        return Err(Error::Invalid(format!("{}: file too large", p.display())));
    }
    let mut buf = Vec::with_capacity(len as usize + 1);
    f.take(MAX_ARCHIVE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))?;
    if buf.len() as u64 > MAX_ARCHIVE_BYTES {
        return Err(Error::Invalid(format!("{}: file too large", p.display())));
    }
    Ok(buf)
}

struct IgnoreRule {
    pat: Pattern,
    negate: bool,
    dir_only: bool,
    basename: bool,
}

fn read_ignore(dir: &Path) -> Result<Vec<IgnoreRule>, Error> {
    let mut rules = vec![parse_ignore_rule("templates/.?*").unwrap_or_else(unreachable_rule)];
    if let Ok(s) = std::fs::read_to_string(dir.join(".helmignore")) {
        rules.extend(parse_ignore(&s)?);
    }
    Ok(rules)
}

fn unreachable_rule() -> IgnoreRule {
    IgnoreRule {
        pat: Pattern::Simple(Vec::new()),
        negate: false,
        dir_only: false,
        basename: false,
    }
}

fn parse_ignore(s: &str) -> Result<Vec<IgnoreRule>, Error> {
    let mut out = Vec::new();
    for line in s.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if l.contains("**") {
            return Err(Error::Invalid(
                "double-star (**) syntax is not supported".into(),
            ));
        }
        if let Some(r) = parse_ignore_rule(l) {
            out.push(r);
        }
    }
    Ok(out)
}

fn parse_ignore_rule(l: &str) -> Option<IgnoreRule> {
    let mut l = l.to_string();
    let negate = l.starts_with('!');
    if negate {
        l = l[1..].to_string();
    }
    let dir_only = l.ends_with('/');
    if dir_only {
        l.pop();
    }
    let basename = !l.contains('/');
    let l = l.trim_start_matches('/').to_string();
    Some(IgnoreRule {
        pat: Pattern::new(&l)?,
        negate,
        dir_only,
        basename,
    })
}

/// A `.helmignore` pattern. Most are literal text with `*` and `?`, matched directly:
/// compiling a regex per rule (two dozen per chart) was a measurable part of a sandboxed
/// render, which starts with no cache. Classes and escapes use the regex translation.
enum Pattern {
    /// Only literal characters, `*` and `?`.
    Simple(Vec<char>),
    /// Anything else, as [`filepath_match_regex`] translates it.
    Regex(regex::Regex),
}

impl Pattern {
    fn new(p: &str) -> Option<Self> {
        if p.contains(['[', '\\']) {
            filepath_match_regex(p).map(Pattern::Regex)
        } else {
            Some(Pattern::Simple(p.chars().collect()))
        }
    }

    fn is_match(&self, s: &str) -> bool {
        match self {
            Pattern::Simple(p) => {
                let s: Vec<char> = s.chars().collect();
                simple_match(p, &s)
            }
            Pattern::Regex(re) => re.is_match(s),
        }
    }
}

/// Whole-string match of `*` (any run of characters but `/`), `?` (one character but `/`)
/// and literals, as the regex `filepath_match_regex` builds would match. Dynamic
/// programming over (pattern, text) positions, so no pattern can make it backtrack
/// exponentially.
fn simple_match(p: &[char], s: &[char]) -> bool {
    // ok[j]: pattern suffix from the current i matches text suffix from j.
    let mut ok = vec![false; s.len() + 1];
    ok[s.len()] = true;
    for pc in p.iter().rev() {
        let mut next = vec![false; s.len() + 1];
        for j in (0..=s.len()).rev() {
            next[j] = match pc {
                '*' => ok[j] || (j < s.len() && s[j] != '/' && next[j + 1]),
                '?' => j < s.len() && s[j] != '/' && ok[j + 1],
                c => j < s.len() && s[j] == *c && ok[j + 1],
            };
        }
        ok = next;
    }
    ok[0]
}

/// Go's filepath.Match pattern as a regex.
pub fn filepath_match_regex(p: &str) -> Option<regex::Regex> {
    let mut re = String::from("^");
    let cs: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        match cs[i] {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                let mut j = i + 1;
                re.push('[');
                if cs.get(j) == Some(&'^') || cs.get(j) == Some(&'!') {
                    re.push('^');
                    j += 1;
                }
                while j < cs.len() && cs[j] != ']' {
                    if cs[j] == '\\' || cs[j] == '[' {
                        re.push('\\');
                    }
                    re.push(cs[j]);
                    j += 1;
                }
                re.push(']');
                i = j;
            }
            '\\' => {
                i += 1;
                if let Some(c) = cs.get(i) {
                    re.push_str(&regex::escape(&c.to_string()));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    re.push('$');
    crate::funcs::cached_regex(&re).ok()
}

fn ignored(rules: &[IgnoreRule], path: &str, is_dir: bool) -> bool {
    if path.is_empty() || path == "." {
        return false;
    }
    for r in rules {
        let subject = if r.basename {
            path.rsplit('/').next().unwrap_or(path)
        } else {
            path
        };
        if r.negate {
            if r.dir_only && !is_dir {
                return true;
            }
            if !r.pat.is_match(subject) {
                return true;
            }
            continue;
        }
        if r.dir_only && !is_dir {
            continue;
        }
        if r.pat.is_match(subject) {
            return true;
        }
    }
    false
}

fn walk(
    root: &Path,
    dir: &Path,
    prefix: &str,
    rules: &[IgnoreRule],
    out: &mut Vec<(String, Vec<u8>)>,
    total: &mut u64,
) -> Result<(), Error> {
    // The entry's type comes with the directory listing: no extra stat per entry.
    let mut entries: Vec<(PathBuf, Option<std::fs::FileType>)> = std::fs::read_dir(dir)
        .map_err(|e| Error::Invalid(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| (e.path(), e.file_type().ok())))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (p, ft) in entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let ft = match ft {
            Some(ft) => ft,
            None => std::fs::symlink_metadata(&p)
                .map_err(|e| Error::Invalid(format!("{rel}: {e}")))?
                .file_type(),
        };
        let is_link = ft.is_symlink();
        let real = if is_link {
            let c = real_path(&p).map_err(|e| {
                Error::Invalid(format!(
                    "{rel}: symlink points outside the source root or nowhere: {e}"
                ))
            })?;
            if !c.starts_with(root) {
                return Err(Error::Invalid(format!(
                    "{rel}: symlink points outside the source root"
                )));
            }
            c
        } else {
            p.clone()
        };
        let is_dir = if is_link { real.is_dir() } else { ft.is_dir() };
        if ignored(rules, &rel, is_dir) {
            continue;
        }
        if is_dir {
            walk(root, &real, &rel, rules, out, total)?;
        } else {
            let data = read_capped(&real)?;
            *total += data.len() as u64;
            if *total > MAX_ARCHIVE_BYTES {
                return Err(Error::Invalid("chart is larger than the size limit".into()));
            }
            out.push((rel, data));
        }
    }
    Ok(())
}

/// Unpacks a gzipped tar archive, refusing `..`, absolute paths, links and bombs.
pub fn untar(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let gz = flate2::read::GzDecoder::new(data);
    let mut ar = tar::Archive::new(gz.take(MAX_ARCHIVE_BYTES * 2));
    let mut out = Vec::new();
    let mut total: u64 = 0;
    let entries = ar
        .entries()
        .map_err(|e| Error::Invalid(format!("invalid chart archive: {e}")))?;
    for e in entries {
        let mut e = e.map_err(|e| Error::Invalid(format!("invalid chart archive: {e}")))?;
        let et = e.header().entry_type();
        let path = e
            .path()
            .map_err(|e| Error::Invalid(format!("invalid chart archive: {e}")))?
            .to_string_lossy()
            .replace('\\', "/");
        if path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(Error::Invalid(format!(
                "chart archive entry {path:?} escapes the chart"
            )));
        }
        if et.is_symlink() || et.is_hard_link() {
            return Err(Error::Invalid(format!(
                "chart archive entry {path:?} is a link"
            )));
        }
        if et.is_dir() || !(et.is_file()) {
            continue;
        }
        let mut buf = Vec::new();
        (&mut e)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::Invalid(format!("invalid chart archive: {e}")))?;
        if buf.len() as u64 > MAX_FILE_BYTES {
            return Err(Error::Invalid(format!(
                "chart archive entry {path:?} is larger than the size limit"
            )));
        }
        total += buf.len() as u64;
        if total > MAX_ARCHIVE_BYTES {
            return Err(Error::Invalid(
                "chart archive decompresses beyond the size limit".into(),
            ));
        }
        out.push((path, buf));
    }
    // Strip the top-level directory.
    let out: Vec<(String, Vec<u8>)> = out
        .into_iter()
        .filter_map(|(p, d)| p.split_once('/').map(|(_, rest)| (rest.to_string(), d)))
        .collect();
    // Apply .helmignore from inside the archive.
    let rules = match out.iter().find(|(p, _)| p == ".helmignore") {
        Some((_, d)) => parse_ignore(&String::from_utf8_lossy(d))?,
        None => vec![],
    };
    Ok(out
        .into_iter()
        .filter(|(p, _)| !ignored(&rules, p, false))
        .collect())
}

fn yaml_map(name: &str, data: &[u8]) -> Result<Map, Error> {
    let s = String::from_utf8_lossy(data);
    match crate::yaml::parse(&s, true) {
        Ok(Value::Map(m)) => Ok(m.borrow().clone()),
        Ok(Value::Nil) => Ok(Map::new()),
        Ok(v) => Err(Error::Invalid(format!(
            "cannot load {name}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            match v {
                Value::List(_) => "array",
                Value::Str(_) => "string",
                Value::Bool(_) => "bool",
                _ => "number",
            }
        ))),
        Err(e) => Err(Error::Invalid(format!(
            "cannot load {name}: error converting YAML to JSON: {e}"
        ))),
    }
}

fn from_files(files: Vec<(String, Vec<u8>)>, parent: &str, depth: usize) -> Result<Chart, Error> {
    if depth > MAX_CHART_DEPTH {
        return Err(Error::Invalid("subcharts are nested too deeply".into()));
    }
    let mut meta: Option<Map> = None;
    let mut values = Map::new();
    let mut schema = None;
    let mut templates = Vec::new();
    let mut other = BTreeMap::new();
    let mut sub_dirs: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    let mut sub_tgz: Vec<(String, Vec<u8>)> = Vec::new();
    let mut requirements: Option<Map> = None;
    for (p, d) in files {
        if p == "Chart.yaml" {
            meta = Some(yaml_map("Chart.yaml", &d)?);
        } else if p == "values.yaml" {
            values = yaml_map("values.yaml", &d)?;
        } else if p == "values.schema.json" {
            schema = Some(
                serde_json::from_slice(&d)
                    .map_err(|e| Error::Invalid(format!("values.schema.json: {e}")))?,
            );
        } else if p == "requirements.yaml" {
            requirements = Some(yaml_map("requirements.yaml", &d)?);
        } else if p == "Chart.lock" || p == "requirements.lock" {
        } else if let Some(rest) = p.strip_prefix("templates/") {
            let _ = rest;
            // Valid UTF-8 (nearly always) moves without a copy.
            let text = String::from_utf8(d)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            templates.push((p.clone(), text));
        } else if let Some(rest) = p.strip_prefix("charts/") {
            match rest.split_once('/') {
                Some((dir, inner)) => sub_dirs
                    .entry(dir.to_string())
                    .or_default()
                    .push((inner.to_string(), d)),
                None => {
                    if rest.ends_with(".tgz") || rest.ends_with(".tar.gz") {
                        sub_tgz.push((rest.to_string(), d));
                    }
                }
            }
        } else {
            other.insert(p, Rc::new(d));
        }
    }
    let Some(mut meta) = meta else {
        return Err(Error::Invalid("Chart.yaml file is missing".into()));
    };
    let mut api = meta
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    if api.is_empty() {
        api = "v1".into();
        meta.insert("apiVersion".into(), Value::str("v1"));
    }
    let name = match meta.get("name") {
        Some(Value::Str(s)) if !s.is_empty() => s.to_string(),
        _ => {
            return Err(Error::Invalid(
                "validation: chart.metadata.name is required".into(),
            ));
        }
    };
    if name.contains('/') || name.contains('\\') || name == "." || name == ".." {
        return Err(Error::Invalid(format!(
            "validation: chart.metadata.name {name:?} is invalid"
        )));
    }
    let version = match meta.get("version") {
        Some(Value::Str(s)) => s.to_string(),
        Some(Value::Nil) | None => {
            return Err(Error::Invalid(
                "validation: chart.metadata.version is required".into(),
            ));
        }
        Some(v) => v.to_v(),
    };
    if crate::semver::Version::parse(&version).is_err() {
        return Err(Error::Invalid(format!(
            "validation: chart.metadata.version {version:?} is invalid"
        )));
    }
    meta.insert("version".into(), Value::str(&version));
    for k in ["appVersion", "kubeVersion"] {
        if let Some(v) = meta.get(k).cloned()
            && !matches!(v, Value::Str(_) | Value::Nil)
        {
            meta.insert(k.into(), Value::str(v.to_v()));
        }
    }
    match meta.get("type").and_then(|v| v.as_str()) {
        None | Some("") | Some("application") | Some("library") => {}
        Some(_) => {
            return Err(Error::Invalid(
                "validation: chart.metadata.type must be application or library".into(),
            ));
        }
    }
    if api == "v1"
        && let Some(r) = &requirements
        && let Some(d) = r.get("dependencies")
    {
        meta.insert("dependencies".into(), d.clone());
    }
    let mut deps = Vec::new();
    if let Some(Value::List(l)) = meta.get("dependencies") {
        for d in l.iter() {
            let Value::Map(m) = d else {
                return Err(Error::Invalid(
                    "validation: dependencies must be a list of maps".into(),
                ));
            };
            let m = m.borrow();
            let gs = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let dn = gs("name");
            if dn.is_empty() {
                return Err(Error::Invalid(
                    "validation: dependencies must have a name".into(),
                ));
            }
            let tags = match m.get("tags") {
                Some(Value::List(t)) => t.iter().map(|x| x.strval()).collect(),
                _ => vec![],
            };
            let iv = match m.get("import-values") {
                Some(Value::List(t)) => t.as_ref().clone(),
                _ => vec![],
            };
            deps.push(Dependency {
                name: dn,
                alias: gs("alias"),
                condition: gs("condition"),
                tags,
                import_values: iv,
                enabled: true,
                raw: d.clone(),
            });
        }
    }
    let full_path = if parent.is_empty() {
        name.clone()
    } else {
        format!("{parent}/charts/{name}")
    };
    let mut subcharts = Vec::new();
    for (dir, fs) in sub_dirs {
        let sub = from_files(fs, &full_path, depth + 1).map_err(|e| {
            Error::Invalid(format!("error unpacking subchart {dir} in {name}: {e}"))
        })?;
        subcharts.push(sub);
    }
    for (n, d) in sub_tgz {
        let fs = untar(&d).map_err(|e| Error::Invalid(format!("charts/{n}: {e}")))?;
        subcharts.push(from_files(fs, &full_path, depth + 1)?);
    }
    for (i, d) in deps.iter().enumerate() {
        if deps[..i].iter().any(|o| {
            o.alias.clone().max(o.name.clone()) == d.alias.clone().max(d.name.clone())
                && o.alias == d.alias
                && o.name == d.name
        }) {
            return Err(Error::Invalid(format!(
                "validation: more than one dependency with name or alias {:?}",
                d.name
            )));
        }
    }
    Ok(Chart {
        meta,
        deps,
        templates,
        values,
        schema,
        files: crate::files::Files { entries: other },
        subcharts,
        full_path,
        orig_name: name.clone(),
        name,
    })
}

/// Recomputes full paths after aliasing.
pub fn set_paths(c: &mut Chart, parent: &str) {
    c.full_path = if parent.is_empty() {
        c.name.clone()
    } else {
        format!("{parent}/charts/{}", c.name)
    };
    let fp = if parent.is_empty() {
        c.name.clone()
    } else {
        format!("{parent}/charts/{}", c.orig_name)
    };
    for s in &mut c.subcharts {
        set_paths(s, &fp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_patterns_match_as_their_regex_does() {
        let names = [
            "",
            "a",
            "ab",
            "abc",
            "a/b",
            "a/bc",
            ".git",
            ".gitignore",
            "x.orig",
            "a.tmp",
            "dir/x.tmp",
            "templates/.hidden",
            "templates/x.yaml",
            "*",
            "a?c",
            "ci/",
            "aXbXc",
        ];
        let pats = [
            "",
            "*",
            "a",
            "a*",
            "*c",
            "a?c",
            "?",
            "*.tmp",
            ".git",
            ".*",
            "templates/.?*",
            "a/*",
            "*/*",
            "a*b*c",
            "**",
            "*.orig",
            "ci",
        ];
        for p in pats {
            let fast = Pattern::new(p).expect("pattern");
            assert!(matches!(fast, Pattern::Simple(_)), "{p}");
            let re = filepath_match_regex(p).expect("regex");
            for n in names {
                assert_eq!(fast.is_match(n), re.is_match(n), "pattern {p:?} on {n:?}");
            }
        }
        // A pattern with many stars stays fast (no exponential backtracking).
        let long: String = "a".repeat(200);
        let p = Pattern::new(&"*a".repeat(30).replace("a*a", "a*b")).expect("pattern");
        assert!(!p.is_match(&long));
        assert!(matches!(
            Pattern::new("[ab]").expect("class"),
            Pattern::Regex(_)
        ));
    }
}
