//! Plugin distribution against a real OCI registry (Debian's
//! docker-registry): push, pull by tag and digest, tampering detected, and
//! the cache serving a pinned digest after a restart with the registry gone.

use gyre_plugin::oci::{Registry, RegistryOptions};
use gyre_plugin::store::BlobStore;
use gyre_plugin::{EngineOptions, Error, Limits, PluginEngine, World};
use gyre_plugin_tests::TestRegistry;

/// A registry client over `cache`, with an empty docker config so the
/// tests never pick up the machine's credentials.
fn registry(cache: &std::path::Path, offline: bool) -> Registry {
    let docker_config = cache.join("docker-config.json");
    std::fs::write(&docker_config, "{}").unwrap();
    Registry::new(
        BlobStore::new(cache.join("plugins")),
        RegistryOptions {
            insecure: true,
            docker_config: Some(docker_config),
            offline,
        },
    )
}

fn policy_bytes() -> &'static [u8] {
    gyre_builtins::get("image-policy").unwrap().bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn push_then_pull_by_tag_and_by_digest() {
    let reg = TestRegistry::start();
    let engine = PluginEngine::new(EngineOptions::default()).unwrap();
    let info = engine.inspect("policy", policy_bytes()).unwrap();
    assert_eq!(info.worlds, vec![World::ImagePolicy]);

    let pusher_cache = tempfile::tempdir().unwrap();
    let reference = format!("{}/plugins/image-policy:v1", reg.addr);
    let pushed = registry(pusher_cache.path(), false)
        .push(policy_bytes(), &info, &reference)
        .await
        .unwrap();
    assert_eq!(pushed.layer_digest, info.digest);

    // A second machine pulls by tag: bytes identical, digests pinned.
    let cache = tempfile::tempdir().unwrap();
    let pulled = registry(cache.path(), false)
        .pull(&reference)
        .await
        .unwrap();
    assert!(!pulled.from_cache);
    assert_eq!(pulled.bytes, policy_bytes());
    assert_eq!(pulled.manifest_digest, pushed.manifest_digest);
    assert_eq!(
        pulled.pinned,
        format!(
            "{}/plugins/image-policy@{}",
            reg.addr, pushed.manifest_digest
        )
    );

    // By digest: served from the cache with no download.
    let by_digest = format!(
        "{}/plugins/image-policy@{}",
        reg.addr, pushed.manifest_digest
    );
    let again = registry(cache.path(), false)
        .pull(&by_digest)
        .await
        .unwrap();
    assert!(again.from_cache);

    // And what came back is a working plugin.
    let plugin = engine
        .load_as(
            &by_digest,
            &again.bytes,
            World::ImagePolicy,
            Limits::default(),
        )
        .unwrap();
    let sel = plugin
        .select_tag(
            &["1.0.0".into(), "1.2.0".into()],
            r#"{"policy":{"semver":{"range":"^1"}}}"#,
        )
        .unwrap();
    assert_eq!(sel.unwrap().tag, "1.2.0");

    // A digest that does not exist is an error, not a silent fallback.
    let missing = format!(
        "{}/plugins/image-policy@sha256:{}",
        reg.addr,
        "0".repeat(64)
    );
    assert!(
        registry(tempfile::tempdir().unwrap().path(), false)
            .pull(&missing)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_blob_is_rejected() {
    let reg = TestRegistry::start();
    let engine = PluginEngine::new(EngineOptions::default()).unwrap();
    let info = engine.inspect("policy", policy_bytes()).unwrap();
    let reference = format!("{}/plugins/tampered:v1", reg.addr);
    let pushed = registry(tempfile::tempdir().unwrap().path(), false)
        .push(policy_bytes(), &info, &reference)
        .await
        .unwrap();

    // Flip bytes of the stored layer behind the registry's back.
    let file = reg.blob_file(&pushed.layer_digest);
    let mut data = std::fs::read(&file).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(&file, data).unwrap();

    let cache = tempfile::tempdir().unwrap();
    let err = registry(cache.path(), false)
        .pull(&reference)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DigestMismatch { .. } | Error::Registry { .. }),
        "{err}"
    );
    let text = format!("{err} {:?}", std::error::Error::source(&err));
    assert!(
        text.to_lowercase().contains("digest"),
        "the error says why: {text}"
    );
    assert!(
        !BlobStore::new(cache.path().join("plugins")).contains(&pushed.layer_digest),
        "nothing tampered was cached"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pinned_digest_is_served_from_the_cache_after_a_restart_with_the_registry_stopped() {
    let mut reg = TestRegistry::start();
    let engine = PluginEngine::new(EngineOptions::default()).unwrap();
    let info = engine.inspect("policy", policy_bytes()).unwrap();
    let reference = format!("{}/plugins/offline:v1", reg.addr);
    let cache = tempfile::tempdir().unwrap();
    let pushed = registry(tempfile::tempdir().unwrap().path(), false)
        .push(policy_bytes(), &info, &reference)
        .await
        .unwrap();
    registry(cache.path(), false)
        .pull(&reference)
        .await
        .unwrap();
    reg.stop();

    // "Restart": new clients over the same cache directory.
    let pinned = format!("{}/plugins/offline@{}", reg.addr, pushed.manifest_digest);
    let pulled = registry(cache.path(), false).pull(&pinned).await.unwrap();
    assert!(pulled.from_cache);
    assert_eq!(pulled.bytes, policy_bytes());
    // Offline mode also resolves the tag seen before.
    assert!(
        registry(cache.path(), true)
            .pull(&reference)
            .await
            .unwrap()
            .from_cache
    );
    // A tag needs the registry when not offline, and it is gone: a clear error.
    assert!(matches!(
        registry(cache.path(), false).pull(&reference).await,
        Err(Error::Registry { .. })
    ));
    // Offline, something never pulled is reported as not cached.
    let never = format!("{}/plugins/never:v1", reg.addr);
    assert!(matches!(
        registry(cache.path(), true).pull(&never).await,
        Err(Error::NotCached(_))
    ));
}
