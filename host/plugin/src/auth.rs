//! Registry credentials from a docker config file (`config.json`), the way
//! docker, helm and flux read them: `auths` entries (`auth` or
//! `username`/`password`, `identitytoken`), per-registry `credHelpers` and a
//! default `credsStore` (run as `docker-credential-<name> get`).

use crate::error::{Error, Result};
use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// The docker config file to read: `explicit`, else
/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// The host part of an `auths` key (`https://host/v1/` → `host`).
fn normalize_server(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

fn same_registry(a: &str, b: &str) -> bool {
    fn canon(s: &str) -> &str {
        match s {
            "docker.io" | "registry-1.docker.io" => "index.docker.io",
            other => other,
        }
    }
    canon(a) == canon(b)
}

/// Credentials for `registry` from the docker config at `config` (see
/// [`docker_config_path`]). A missing file means anonymous access.
///
/// # Errors
/// [`Error::Credentials`] for an unreadable or malformed file, a bad `auth`
/// value, or a failing credential helper.
pub fn credentials_for(registry: &str, config: Option<&Path>) -> Result<RegistryAuth> {
    let Some(path) = docker_config_path(config) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let fail = |reason: String| Error::Credentials {
        path: path.clone(),
        reason,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && config.is_none() => {
            return Ok(RegistryAuth::Anonymous);
        }
        Err(e) => return Err(fail(e.to_string())),
    };
    let cfg: DockerConfig =
        serde_json::from_str(&text).map_err(|e| fail(format!("not a docker config file: {e}")))?;

    if let Some((_, helper)) = cfg
        .cred_helpers
        .iter()
        .find(|(k, _)| same_registry(normalize_server(k), registry))
    {
        return run_helper(helper, registry).map_err(fail);
    }
    if let Some((_, entry)) = cfg
        .auths
        .iter()
        .find(|(k, _)| same_registry(normalize_server(k), registry))
    {
        if let Some(token) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
            return Ok(RegistryAuth::Bearer(token.clone()));
        }
        if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
            return Ok(RegistryAuth::Basic(u.clone(), p.clone()));
        }
        if let Some(auth) = entry.auth.as_ref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|e| fail(format!("auths.{registry}.auth is not base64: {e}")))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| fail(format!("auths.{registry}.auth is not UTF-8")))?;
            let (u, p) = decoded
                .split_once(':')
                .ok_or_else(|| fail(format!("auths.{registry}.auth is not user:password")))?;
            return Ok(RegistryAuth::Basic(u.to_string(), p.to_string()));
        }
    }
    if let Some(store) = cfg.creds_store.as_deref().filter(|s| !s.is_empty()) {
        return run_helper(store, registry).map_err(fail);
    }
    Ok(RegistryAuth::Anonymous)
}

fn run_helper(helper: &str, registry: &str) -> std::result::Result<RegistryAuth, String> {
    if !helper
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(format!(
            "credential helper name {helper:?} is not a plain name"
        ));
    }
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(registry.as_bytes())
            .map_err(|e| format!("writing to {program}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("running {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let answer: HelperAnswer = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{program} answered garbage: {e}"))?;
    Ok(if answer.username == "<token>" {
        RegistryAuth::Bearer(answer.secret)
    } else {
        RegistryAuth::Basic(answer.username, answer.secret)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_config(json: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, json).unwrap();
        (dir, p)
    }

    fn basic(a: RegistryAuth) -> (String, String) {
        match a {
            RegistryAuth::Basic(u, p) => (u, p),
            other => panic!("expected basic auth, got {other:?}"),
        }
    }

    #[test]
    fn auth_field_and_username_password_are_read_per_registry() {
        let (_d, p) = with_config(
            r#"{"auths":{"https://reg.example:5000/v1/":{"auth":"YWxpY2U6czNjcmV0"},"other.io":{"username":"bob","password":"pw"}}}"#,
        );
        assert_eq!(
            basic(credentials_for("reg.example:5000", Some(&p)).unwrap()),
            ("alice".into(), "s3cret".into())
        );
        assert_eq!(
            basic(credentials_for("other.io", Some(&p)).unwrap()),
            ("bob".into(), "pw".into())
        );
        assert!(matches!(
            credentials_for("third.io", Some(&p)).unwrap(),
            RegistryAuth::Anonymous
        ));
    }

    #[test]
    fn docker_hub_aliases_match() {
        let (_d, p) =
            with_config(r#"{"auths":{"https://index.docker.io/v1/":{"identitytoken":"tok"}}}"#);
        assert!(
            matches!(credentials_for("docker.io", Some(&p)).unwrap(), RegistryAuth::Bearer(t) if t == "tok")
        );
    }

    #[test]
    fn malformed_files_and_values_are_reported_with_the_path() {
        let (_d, p) = with_config("{not json");
        let err = credentials_for("x", Some(&p)).unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.contains("not a docker config"),
            "{err}"
        );
        let (_d, p) = with_config(r#"{"auths":{"x":{"auth":"!!!"}}}"#);
        assert!(
            credentials_for("x", Some(&p))
                .unwrap_err()
                .to_string()
                .contains("not base64")
        );
        let (_d, p) = with_config(r#"{"credHelpers":{"x":"../../bin/sh"}}"#);
        assert!(
            credentials_for("x", Some(&p))
                .unwrap_err()
                .to_string()
                .contains("not a plain name")
        );
    }

    #[test]
    fn an_explicit_missing_file_is_an_error() {
        let err = credentials_for("x", Some(Path::new("/nonexistent/config.json"))).unwrap_err();
        assert!(matches!(err, Error::Credentials { .. }));
    }
}
