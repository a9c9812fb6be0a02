//! Publishing Gyre's built-in components to a real OCI registry as plugins, for tests of
//! `Plugin` objects.

use gyre_plugin::oci::{Registry, RegistryOptions};
use gyre_plugin::store::BlobStore;
use gyre_plugin::{EngineOptions, PluginEngine};
use gyre_plugin_tests::TestRegistry;

/// Pushes a built-in component to the registry as an OCI plugin
/// (`<registry>/plugins/<name>:<tag>`); returns the manifest digest.
pub async fn push_builtin(reg: &TestRegistry, name: &str, tag: &str) -> String {
    let bytes = gyre_builtins::get(name).unwrap().bytes;
    let engine = PluginEngine::new(EngineOptions::default()).unwrap();
    let info = engine.inspect(name, bytes).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let docker_config = cache.path().join("docker-config.json");
    std::fs::write(&docker_config, "{}").unwrap();
    let registry = Registry::new(
        BlobStore::new(cache.path().join("plugins")),
        RegistryOptions {
            insecure: true,
            docker_config: Some(docker_config),
            offline: false,
        },
    );
    registry
        .push(bytes, &info, &format!("{}/plugins/{name}:{tag}", reg.addr))
        .await
        .unwrap()
        .manifest_digest
}
