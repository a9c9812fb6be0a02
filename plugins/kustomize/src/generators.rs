//! ConfigMap and Secret generators, and the content hash kustomize appends
//! to generated names.

use crate::error::{Error, Result};
use crate::fsys::{self, Fs};
use crate::resource::Res;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Generator options (`generatorOptions` and per-generator `options`).
#[derive(Debug, Clone, Default)]
pub struct GenOptions {
    /// Labels added to generated objects.
    pub labels: Map<String, Value>,
    /// Annotations added to generated objects.
    pub annotations: Map<String, Value>,
    /// Skip the hash suffix.
    pub disable_hash: bool,
    /// Mark immutable.
    pub immutable: bool,
}

impl GenOptions {
    /// Parses an options object.
    pub fn parse(v: Option<&Value>) -> Self {
        let Some(v) = v else { return Self::default() };
        let map = |k: &str| -> Map<String, Value> {
            v.get(k)
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, x)| (k.clone(), Value::String(crate::fieldpath::scalar_text(x))))
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            labels: map("labels"),
            annotations: map("annotations"),
            disable_hash: v
                .get("disableNameSuffixHash")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            immutable: v.get("immutable").and_then(Value::as_bool).unwrap_or(false),
        }
    }
    /// Local options win over global ones for map entries; flags are or-ed.
    pub fn merged_with_global(mut self, g: &GenOptions) -> Self {
        for (k, v) in &g.labels {
            self.labels.entry(k.clone()).or_insert(v.clone());
        }
        for (k, v) in &g.annotations {
            self.annotations.entry(k.clone()).or_insert(v.clone());
        }
        self.disable_hash |= g.disable_hash;
        self.immutable |= g.immutable;
        self
    }
}

fn strip_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[0] == b[b.len() - 1] {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

fn is_env_var_name(k: &str) -> bool {
    !k.is_empty()
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// Parses an env file into key/value pairs.
pub fn parse_env(text: &str, file: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let mut line = line.strip_suffix('\r').unwrap_or(line);
        if i == 0 {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = match line.split_once('=') {
            Some((k, v)) => (k, v.to_string()),
            None => (line, String::new()),
        };
        if !is_env_var_name(k) {
            return Err(
                Error::invalid(format!("line {}: {k:?} is not a valid key name", i + 1))
                    .in_file(file),
            );
        }
        out.push((k.to_string(), v));
    }
    Ok(out)
}

/// Base64 as kustomize writes it: lines of 70 characters, each ending in a
/// newline when there is more than one.
pub fn encode_base64(data: &[u8]) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(data);
    if enc.len() < 70 {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + enc.len() / 70 + 1);
    for chunk in enc.as_bytes().chunks(70) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out
}

fn str_list<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    match v.get(key) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

/// Builds one generated ConfigMap or Secret from a generator entry.
///
/// `dir` is the kustomization directory (root-relative); files are read
/// through `fs`, restricted to `dir` unless `unrestricted`.
pub fn generate(
    fs: &Fs,
    dir: &str,
    unrestricted: bool,
    entry: &Value,
    secret: bool,
    global: &GenOptions,
    field: &str,
) -> Result<Res> {
    let name = entry.get("name").and_then(Value::as_str).unwrap_or("");
    let behavior = entry
        .get("behavior")
        .and_then(Value::as_str)
        .unwrap_or("create")
        .to_string();
    if !matches!(behavior.as_str(), "create" | "merge" | "replace") {
        return Err(Error::invalid(format!("unknown generator behavior {behavior:?}")).at(field));
    }
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    let add = |k: String, v: Vec<u8>, pairs: &mut Vec<(String, Vec<u8>)>| -> Result<()> {
        if pairs.iter().any(|(x, _)| *x == k) {
            return Err(Error::invalid(format!(
                "cannot add key {k}, another key by that name already exists"
            ))
            .at(field));
        }
        pairs.push((k, v));
        Ok(())
    };
    let read = |p: &str| -> Result<Vec<u8>> {
        let rel = fsys::join_rel(dir, p).map_err(|e| e.at(field))?;
        if !unrestricted && !fsys::is_within(dir, &rel) {
            return Err(
                Error::invalid(format!("security; file '{p}' is not in or below '{dir}'"))
                    .at(field),
            );
        }
        fs.read(&rel).map_err(|e| e.at(field))
    };
    let mut env_files: Vec<&str> = str_list(entry, "envs");
    if let Some(e) = entry.get("env").and_then(Value::as_str) {
        env_files.push(e);
    }
    for ef in env_files {
        let text = String::from_utf8(read(ef)?)
            .map_err(|_| Error::invalid(format!("env file {ef} is not UTF-8")).at(field))?;
        for (k, v) in parse_env(&text, ef)? {
            add(k, v.into_bytes(), &mut pairs)?;
        }
    }
    for lit in str_list(entry, "literals") {
        let Some((k, v)) = lit.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(Error::invalid(format!(
                "invalid literal source {lit}, expected key=value"
            ))
            .at(field));
        };
        add(
            k.to_string(),
            strip_quotes(v).as_bytes().to_vec(),
            &mut pairs,
        )?;
    }
    for f in str_list(entry, "files") {
        let (k, p) = match f.split_once('=') {
            Some((k, p)) => {
                if k.is_empty() || p.is_empty() {
                    return Err(Error::invalid(format!("invalid file source {f}")).at(field));
                }
                (k.to_string(), p)
            }
            None => (f.rsplit('/').next().unwrap_or(f).to_string(), f),
        };
        let rel = fsys::join_rel(dir, p).map_err(|e| e.at(field))?;
        if fs.is_dir(&rel)? {
            return Err(Error::invalid(format!("{p} is a directory")).at(field));
        }
        add(k, read(p)?, &mut pairs)?;
    }
    let opts = GenOptions::parse(entry.get("options")).merged_with_global(global);
    let mut meta = Map::new();
    meta.insert("name".into(), Value::String(name.into()));
    if let Some(ns) = entry
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        meta.insert("namespace".into(), Value::String(ns.into()));
    }
    if !opts.labels.is_empty() {
        meta.insert("labels".into(), Value::Object(opts.labels.clone()));
    }
    if !opts.annotations.is_empty() {
        meta.insert(
            "annotations".into(),
            Value::Object(opts.annotations.clone()),
        );
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), "v1".into());
    obj.insert(
        "kind".into(),
        (if secret { "Secret" } else { "ConfigMap" }).into(),
    );
    obj.insert("metadata".into(), Value::Object(meta));
    let mut data = Map::new();
    let mut binary = Map::new();
    for (k, v) in pairs {
        if secret {
            data.insert(k, Value::String(encode_base64(&v)));
        } else {
            match String::from_utf8(v) {
                Ok(s) => {
                    data.insert(k, Value::String(s));
                }
                Err(e) => {
                    binary.insert(k, Value::String(encode_base64(e.as_bytes())));
                }
            }
        }
    }
    if !data.is_empty() {
        obj.insert("data".into(), Value::Object(data));
    }
    if !binary.is_empty() {
        obj.insert("binaryData".into(), Value::Object(binary));
    }
    if secret {
        let t = entry
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("Opaque");
        obj.insert("type".into(), Value::String(t.into()));
    }
    if opts.immutable {
        obj.insert("immutable".into(), Value::Bool(true));
    }
    let mut r = Res::new(Value::Object(obj));
    r.needs_hash = !opts.disable_hash;
    r.behavior = Some(behavior);
    Ok(r)
}

/// Encodes a JSON value the way Go's `encoding/json` does (sorted keys,
/// HTML-safe escaping), which the hash depends on.
pub fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => go_json_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_str(k, out);
                out.push(':');
                go_json(&m[k.as_str()], out);
            }
            out.push('}');
        }
    }
}

fn go_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The kustomize name hash of a ConfigMap, Secret or other object.
pub fn hash(obj: &Value) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let field = |k: &str| -> Value {
        match obj.get(k) {
            None | Some(Value::Null) => Value::String(String::new()),
            Some(v) => v.clone(),
        }
    };
    // kustomize looks the name up under a key that never exists, so the
    // name always hashes as "" (kept for identical suffixes).
    let name = Value::String(String::new());
    let mut m = Map::new();
    let mut text = String::new();
    match kind {
        "ConfigMap" => {
            m.insert("kind".into(), "ConfigMap".into());
            m.insert("name".into(), name);
            m.insert("data".into(), field("data"));
            if let Some(b @ Value::Object(_)) = obj.get("binaryData") {
                m.insert("binaryData".into(), b.clone());
            }
            go_json(&Value::Object(m), &mut text);
        }
        "Secret" => {
            m.insert("kind".into(), "Secret".into());
            m.insert("type".into(), field("type"));
            m.insert("name".into(), name);
            m.insert("data".into(), field("data"));
            if let Some(b @ Value::Object(_)) = obj.get("stringData") {
                m.insert("stringData".into(), b.clone());
            }
            go_json(&Value::Object(m), &mut text);
        }
        _ => go_json(obj, &mut text),
    }
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[test]
    fn configmap_hash_matches_kustomize() {
        // From the corpus: configMapGenerator `TEST='` gives test-m8t7bmb6g2.
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "test"}, "data": {"TEST": "'"}});
        assert_eq!(hash(&cm), "m8t7bmb6g2");
    }

    #[rstest]
    #[case("a<b>&c", "\"a\\u003cb\\u003e\\u0026c\"")]
    #[case("tab\tnl\n", "\"tab\\tnl\\n\"")]
    #[case("\u{1}", "\"\\u0001\"")]
    fn strings_are_escaped_like_go_encoding_json(#[case] s: &str, #[case] want: &str) {
        let mut out = String::new();
        go_json(&json!(s), &mut out);
        assert_eq!(out, want);
    }

    #[test]
    fn base64_wraps_at_70_columns_like_kustomize() {
        let short = encode_base64(b"admin");
        assert_eq!(short, "YWRtaW4=");
        let long = encode_base64(&[b'x'; 60]);
        assert!(long.ends_with('\n'));
        assert_eq!(long.lines().next().unwrap().len(), 70);
    }

    #[rstest]
    #[case("A=1\nB=two words\n", vec![("A", "1"), ("B", "two words")])]
    #[case("\u{feff}X=1\r\n# c\n\n   Y=\n", vec![("X", "1"), ("Y", "")])]
    #[case("K=a=b\n", vec![("K", "a=b")])]
    fn env_files_parse_like_kustomize(#[case] text: &str, #[case] want: Vec<(&str, &str)>) {
        let got = parse_env(text, "f.env").unwrap();
        let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn env_file_with_an_invalid_key_names_the_file() {
        let e = parse_env("1BAD=x\n", "bad.env").unwrap_err();
        assert_eq!(e.file.as_deref(), Some("bad.env"));
    }
}
