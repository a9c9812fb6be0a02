//! Plugins as OCI artifacts in the CNCF Wasm layout: config
//! `application/vnd.wasm.config.v0+json`, one layer `application/wasm`.
//! Pulls also accept the older layout (`…config.v1+json` with
//! `…content.layer.v1+wasm`). Every manifest and blob is verified against
//! its digest before it is cached or used, and a pinned digest already in
//! the cache is served without touching the network.

use crate::auth::credentials_for;
use crate::error::{Error, Result};
use crate::inspect::{ComponentInfo, check_component_header};
use crate::store::{BlobStore, digest_hex, sha256_digest};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Config media type of the CNCF Wasm OCI layout.
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// Layer media type of the CNCF Wasm OCI layout.
pub const WASM_LAYER: &str = "application/wasm";
/// Config media type of the older layout, accepted on pull.
pub const LEGACY_WASM_CONFIG: &str = "application/vnd.wasm.config.v1+json";
/// Layer media type of the older layout, accepted on pull.
pub const LEGACY_WASM_LAYER: &str = "application/vnd.wasm.content.layer.v1+wasm";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Largest plugin accepted, in bytes.
pub const MAX_PLUGIN_BYTES: i64 = 128 << 20;
/// Largest manifest accepted, in bytes.
const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Use plain HTTP (only for registries you trust on your network).
    pub insecure: bool,
    /// Docker config file for credentials (default: `$DOCKER_CONFIG` or `~/.docker`).
    pub docker_config: Option<PathBuf>,
    /// Never use the network: only references pinned by digest (or tags
    /// seen before) that are in the cache.
    pub offline: bool,
}

/// The result of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The reference pushed to.
    pub reference: String,
    /// Digest of the manifest (pin with `@<digest>`).
    pub manifest_digest: String,
    /// Digest of the Wasm layer.
    pub layer_digest: String,
}

/// The result of a pull.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The reference pulled, pinned: `registry/repo@sha256:…`.
    pub pinned: String,
    /// Digest of the manifest.
    pub manifest_digest: String,
    /// Digest of the Wasm layer.
    pub layer_digest: String,
    /// The component bytes (verified).
    pub bytes: Vec<u8>,
    /// Whether nothing had to be downloaded.
    pub from_cache: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    artifact_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: i64,
}

/// The CNCF Wasm config (`application/vnd.wasm.config.v0+json`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WasmConfig<'a> {
    architecture: &'static str,
    os: &'static str,
    layer_digests: Vec<String>,
    component: ComponentSummary<'a>,
}

#[derive(Debug, Serialize)]
struct ComponentSummary<'a> {
    exports: &'a [String],
    imports: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
}

/// Parses an OCI reference (`registry/repo:tag` or `registry/repo@sha256:…`).
///
/// # Errors
/// [`Error::BadReference`].
pub fn parse_reference(reference: &str) -> Result<Reference> {
    let r = reference.strip_prefix("oci://").unwrap_or(reference);
    let parsed: Reference = r
        .parse()
        .map_err(|e: oci_client::ParseError| Error::BadReference {
            reference: reference.into(),
            reason: e.to_string(),
        })?;
    if let Some(d) = parsed.digest()
        && digest_hex(d).is_none()
    {
        return Err(Error::BadReference {
            reference: reference.into(),
            reason: "only sha256 digests are supported".into(),
        });
    }
    Ok(parsed)
}

/// Push and pull of plugins, backed by the local [`BlobStore`].
pub struct Registry {
    client: Client,
    options: RegistryOptions,
    store: BlobStore,
}

impl Registry {
    /// A registry client that caches into `store`.
    pub fn new(store: BlobStore, options: RegistryOptions) -> Self {
        let config = ClientConfig {
            protocol: if options.insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            ..Default::default()
        };
        Registry {
            client: Client::new(config),
            options,
            store,
        }
    }

    /// The cache this registry client writes to.
    pub fn store(&self) -> &BlobStore {
        &self.store
    }

    fn auth(&self, r: &Reference) -> Result<RegistryAuth> {
        credentials_for(r.resolve_registry(), self.options.docker_config.as_deref())
    }

    fn registry_error(action: &'static str, reference: &str, e: OciDistributionError) -> Error {
        if let OciDistributionError::DigestError(
            oci_client::errors::DigestError::VerificationError { expected, actual },
        ) = &e
        {
            return Error::DigestMismatch {
                what: format!("{reference}: blob"),
                expected: expected.clone(),
                actual: actual.clone(),
            };
        }
        Error::Registry {
            action,
            reference: reference.into(),
            source: Box::new(e),
        }
    }

    /// Pushes a component to `reference` (a tag) and records it in the cache.
    ///
    /// # Errors
    /// Bad references, non-component bytes, registry and credential errors.
    pub async fn push(&self, wasm: &[u8], info: &ComponentInfo, reference: &str) -> Result<Pushed> {
        let r = parse_reference(reference)?;
        check_component_header(wasm).map_err(|reason| Error::BadArtifact {
            reference: reference.into(),
            reason,
        })?;
        let auth = self.auth(&r)?;
        self.client
            .auth(&r, &auth, RegistryOperation::Push)
            .await
            .map_err(|e| Self::registry_error("authenticating to", reference, e))?;

        let layer_digest = sha256_digest(wasm);
        let config = serde_json::to_vec(&WasmConfig {
            architecture: "wasm",
            os: "wasip2",
            layer_digests: vec![layer_digest.clone()],
            component: ComponentSummary {
                exports: &info.exports,
                imports: &info.imports,
                target: info.worlds.first().map(|w| w.wit_name()),
            },
        })
        .expect("the config is plain data");
        let config_digest = sha256_digest(&config);
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.into()),
            artifact_type: Some(WASM_CONFIG.into()),
            config: Descriptor {
                media_type: WASM_CONFIG.into(),
                digest: config_digest.clone(),
                size: config.len() as i64,
            },
            layers: vec![Descriptor {
                media_type: WASM_LAYER.into(),
                digest: layer_digest.clone(),
                size: wasm.len() as i64,
            }],
        };
        let manifest_bytes = serde_json::to_vec(&manifest).expect("the manifest is plain data");
        let manifest_digest = sha256_digest(&manifest_bytes);

        for (data, digest) in [
            (config.clone(), &config_digest),
            (wasm.to_vec(), &layer_digest),
        ] {
            if !self.client.blob_exists(&r, digest).await.unwrap_or(false) {
                self.client
                    .push_blob(&r, data, digest)
                    .await
                    .map_err(|e| Self::registry_error("pushing a blob to", reference, e))?;
            }
        }
        self.client
            .push_manifest_raw(
                &r,
                manifest_bytes.clone(),
                OCI_MANIFEST.parse().expect("static header value"),
            )
            .await
            .map_err(|e| Self::registry_error("pushing the manifest to", reference, e))?;

        self.store.put(wasm, Some(&layer_digest))?;
        self.store.put(&manifest_bytes, Some(&manifest_digest))?;
        if let Some(tag) = r.tag() {
            self.store
                .set_tag(r.registry(), r.repository(), tag, &manifest_digest)?;
        }
        Ok(Pushed {
            reference: r.whole(),
            manifest_digest,
            layer_digest,
        })
    }

    /// Pulls the plugin at `reference`, from the cache when the digest is
    /// known, else from the registry (verifying every digest).
    ///
    /// # Errors
    /// Bad references, digest mismatches, artifacts that are not Wasm
    /// plugins, registry errors, and [`Error::NotCached`] offline.
    pub async fn pull(&self, reference: &str) -> Result<Pulled> {
        let r = parse_reference(reference)?;
        let known = match (r.digest(), r.tag()) {
            (Some(d), _) => Some(d.to_string()),
            (None, Some(tag)) if self.options.offline => {
                self.store.tag(r.registry(), r.repository(), tag)
            }
            _ => None,
        };
        if let Some(digest) = &known
            && let Some(pulled) = self.cached(&r, reference, digest)?
        {
            return Ok(pulled);
        }
        if self.options.offline {
            return Err(Error::NotCached(reference.to_string()));
        }

        let auth = self.auth(&r)?;
        let (manifest_bytes, _) = self
            .client
            .pull_manifest_raw(&r, &auth, &[OCI_MANIFEST, DOCKER_MANIFEST])
            .await
            .map_err(|e| Self::registry_error("pulling the manifest of", reference, e))?;
        if manifest_bytes.len() > MAX_MANIFEST_BYTES {
            return Err(Error::BadArtifact {
                reference: reference.into(),
                reason: format!("manifest of {} bytes is too large", manifest_bytes.len()),
            });
        }
        // The digest is computed here, not taken from the registry's header,
        // so a lying registry cannot substitute a manifest.
        let manifest_digest = sha256_digest(&manifest_bytes);
        if let Some(pinned) = r.digest()
            && pinned != manifest_digest
        {
            return Err(Error::DigestMismatch {
                what: format!("{reference}: manifest"),
                expected: pinned.into(),
                actual: manifest_digest,
            });
        }
        let layer = wasm_layer(reference, &manifest_bytes)?;

        let bytes = match self.store.get(&layer.digest)? {
            Some(b) => b,
            None => {
                let desc = OciDescriptor {
                    media_type: layer.media_type.clone(),
                    digest: layer.digest.clone(),
                    size: layer.size,
                    ..Default::default()
                };
                let mut buf = Vec::with_capacity(usize::try_from(layer.size).unwrap_or(0));
                self.client
                    .pull_blob(&r, &desc, &mut buf)
                    .await
                    .map_err(|e| Self::registry_error("pulling the wasm layer of", reference, e))?;
                let actual = sha256_digest(&buf);
                if actual != layer.digest {
                    return Err(Error::DigestMismatch {
                        what: format!("{reference}: wasm layer"),
                        expected: layer.digest,
                        actual,
                    });
                }
                if buf.len() as i64 != layer.size {
                    return Err(Error::BadArtifact {
                        reference: reference.into(),
                        reason: format!(
                            "layer is {} bytes, manifest says {}",
                            buf.len(),
                            layer.size
                        ),
                    });
                }
                check_component_header(&buf).map_err(|reason| Error::BadArtifact {
                    reference: reference.into(),
                    reason,
                })?;
                self.store.put(&buf, Some(&layer.digest))?;
                buf
            }
        };
        self.store.put(&manifest_bytes, Some(&manifest_digest))?;
        if let Some(tag) = r.tag()
            && r.digest().is_none()
        {
            self.store
                .set_tag(r.registry(), r.repository(), tag, &manifest_digest)?;
        }
        Ok(Pulled {
            pinned: format!("{}/{}@{}", r.registry(), r.repository(), manifest_digest),
            manifest_digest,
            layer_digest: layer.digest,
            bytes,
            from_cache: false,
        })
    }

    fn cached(
        &self,
        r: &Reference,
        reference: &str,
        manifest_digest: &str,
    ) -> Result<Option<Pulled>> {
        let Some(manifest) = self.store.get(manifest_digest)? else {
            return Ok(None);
        };
        let layer = wasm_layer(reference, &manifest)?;
        let Some(bytes) = self.store.get(&layer.digest)? else {
            return Ok(None);
        };
        Ok(Some(Pulled {
            pinned: format!("{}/{}@{}", r.registry(), r.repository(), manifest_digest),
            manifest_digest: manifest_digest.to_string(),
            layer_digest: layer.digest,
            bytes,
            from_cache: true,
        }))
    }
}

/// Finds the single Wasm layer of a plugin manifest.
fn wasm_layer(reference: &str, manifest: &[u8]) -> Result<Descriptor> {
    let bad = |reason: String| Error::BadArtifact {
        reference: reference.into(),
        reason,
    };
    let m: Manifest = serde_json::from_slice(manifest)
        .map_err(|e| bad(format!("manifest is not an OCI image manifest: {e}")))?;
    let config = m.config.media_type.as_str();
    if config != WASM_CONFIG && config != LEGACY_WASM_CONFIG {
        return Err(bad(format!(
            "config media type is {config:?}, expected {WASM_CONFIG:?}"
        )));
    }
    let mut wasm = m
        .layers
        .into_iter()
        .filter(|l| l.media_type == WASM_LAYER || l.media_type == LEGACY_WASM_LAYER);
    let layer = wasm
        .next()
        .ok_or_else(|| bad(format!("no layer of type {WASM_LAYER:?}")))?;
    if wasm.next().is_some() {
        return Err(bad("more than one wasm layer".into()));
    }
    if digest_hex(&layer.digest).is_none() {
        return Err(bad(format!(
            "layer digest {:?} is not a sha256 digest",
            layer.digest
        )));
    }
    if !(0..=MAX_PLUGIN_BYTES).contains(&layer.size) {
        return Err(bad(format!(
            "layer size {} is over the {MAX_PLUGIN_BYTES}-byte limit",
            layer.size
        )));
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(config: &str, layers: &[(&str, i64)]) -> Vec<u8> {
        let layers: Vec<_> = layers
            .iter()
            .map(|(mt, size)| serde_json::json!({"mediaType": mt, "digest": format!("sha256:{}", "a".repeat(64)), "size": size}))
            .collect();
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "config": {"mediaType": config, "digest": format!("sha256:{}", "b".repeat(64)), "size": 2}, "layers": layers})).unwrap()
    }

    #[test]
    fn both_wasm_layouts_are_accepted() {
        assert!(wasm_layer("r", &manifest(WASM_CONFIG, &[(WASM_LAYER, 10)])).is_ok());
        assert!(
            wasm_layer(
                "r",
                &manifest(LEGACY_WASM_CONFIG, &[(LEGACY_WASM_LAYER, 10)])
            )
            .is_ok()
        );
    }

    #[test]
    fn non_plugin_artifacts_are_refused_with_the_reason() {
        let err = |m: Vec<u8>| wasm_layer("r", &m).unwrap_err().to_string();
        assert!(
            err(manifest(
                "application/vnd.oci.image.config.v1+json",
                &[(WASM_LAYER, 1)]
            ))
            .contains("config media type")
        );
        assert!(err(manifest(WASM_CONFIG, &[("application/tar", 1)])).contains("no layer"));
        assert!(
            err(manifest(WASM_CONFIG, &[(WASM_LAYER, 1), (WASM_LAYER, 1)]))
                .contains("more than one")
        );
        assert!(
            err(manifest(WASM_CONFIG, &[(WASM_LAYER, MAX_PLUGIN_BYTES + 1)])).contains("limit")
        );
        assert!(err(b"{}".to_vec()).contains("not an OCI image manifest"));
    }

    #[test]
    fn references_are_parsed_and_digests_checked() {
        let r = parse_reference("oci://127.0.0.1:5000/plugins/kustomize:v1").unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("127.0.0.1:5000", "plugins/kustomize", Some("v1"))
        );
        assert!(parse_reference("127.0.0.1:5000/p@sha256:abc").is_err());
        assert!(parse_reference("UPPER/Case:x").is_err());
    }
}
