//! From a `Plugin` object to something the render step can load: its pinned reference,
//! pull settings and sandbox limits. Shared by the Plugin reconciler (which pulls and
//! verifies) and the Kustomization reconciler (which only uses verified plugins).

use std::path::PathBuf;

use gyre_api::plugin::{Plugin, PluginWorld};
use gyre_plugin::{Limits, World};
use gyre_render::PluginSource;
use kube::ResourceExt;

use crate::context::Context;
use crate::secrets;

/// The host's world for an API world.
pub fn world(w: PluginWorld) -> World {
    match w {
        PluginWorld::Renderer => World::Renderer,
        PluginWorld::Transform => World::Transform,
        PluginWorld::ImagePolicy => World::ImagePolicy,
        PluginWorld::Notifier => World::Notifier,
    }
}

/// The API world for a host world.
pub fn api_world(w: World) -> PluginWorld {
    match w {
        World::Renderer => PluginWorld::Renderer,
        World::Transform => PluginWorld::Transform,
        World::ImagePolicy => PluginWorld::ImagePolicy,
        World::Notifier => PluginWorld::Notifier,
    }
}

/// The sandbox limits of a Plugin.
///
/// # Errors
/// A message when a quantity is invalid.
pub fn limits(plugin: &Plugin) -> Result<Limits, String> {
    let l = plugin
        .spec
        .effective_limits()
        .map_err(|e| format!("spec.limits: {e}"))?;
    Ok(Limits {
        memory_bytes: usize::try_from(l.memory_bytes).unwrap_or(usize::MAX),
        timeout: l.timeout,
        output_bytes: usize::try_from(l.max_output_bytes).unwrap_or(usize::MAX),
        ..Limits::default()
    })
}

/// Writes the Plugin's pull Secret (a dockerconfigjson) where the registry client can
/// read it, under the plugin cache, one file per Secret.
async fn docker_config(ctx: &Context, plugin: &Plugin) -> Result<Option<PathBuf>, String> {
    let Some(secret) = &plugin.spec.secret_ref else {
        // An empty docker config: anonymous pulls, never the controller's own ambient
        // docker credentials (a tenant's Plugin must not borrow them).
        let dir = ctx.options.plugin_cache.join("auth");
        let path = dir.join("anonymous.json");
        if !path.is_file() {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            std::fs::write(&path, "{}").map_err(|e| format!("{}: {e}", path.display()))?;
        }
        return Ok(Some(path));
    };
    let ns = plugin.namespace().unwrap_or_default();
    let data = secrets::required_secret(&ctx.client, &ns, &secret.name)
        .await
        .map_err(|e| e.to_string())?;
    let json = data
        .get(".dockerconfigjson")
        .ok_or_else(|| format!("Secret {ns}/{} has no .dockerconfigjson key", secret.name))?;
    let dir = ctx
        .options
        .plugin_cache
        .join("auth")
        .join(&ns)
        .join(&secret.name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("config.json");
    std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(path))
}

/// How to reach the Plugin's registry: plain HTTP or not, and the docker config file
/// with its pull credentials (an empty one when it names no Secret).
///
/// # Errors
/// A message when the pull Secret cannot be read.
pub async fn pull_options(
    ctx: &Context,
    plugin: &Plugin,
) -> Result<(bool, Option<PathBuf>), String> {
    Ok((
        plugin.spec.insecure.unwrap_or(false),
        docker_config(ctx, plugin).await?,
    ))
}

/// Where to pull the Plugin from, pinned to `digest` (the spec's pin, or the digest the
/// Plugin reconciler verified).
///
/// # Errors
/// A message when the pull Secret cannot be read.
pub async fn source(ctx: &Context, plugin: &Plugin, digest: &str) -> Result<PluginSource, String> {
    let (insecure, docker_config) = pull_options(ctx, plugin).await?;
    Ok(PluginSource::Oci {
        reference: plugin.spec.registry_reference().to_string(),
        digest: digest.to_string(),
        insecure,
        docker_config,
    })
}

/// A verified (Ready, digest-pinned) Plugin of namespace `ns`, loaded for `world`: what
/// the Kustomization's renderer and transforms and the HelmRelease's transform
/// post-renderers run.
///
/// # Errors
/// A message naming the Plugin when it is missing, not ready, or fails to load.
pub async fn load_verified(
    ctx: &Context,
    ns: &str,
    name: &str,
    world: World,
) -> Result<std::sync::Arc<gyre_plugin::Plugin>, String> {
    let api: kube::Api<Plugin> = kube::Api::namespaced(ctx.client.clone(), ns);
    let plugin = api
        .get_opt(name)
        .await
        .map_err(|e| format!("reading Plugin {ns}/{name}: {e}"))?
        .ok_or_else(|| format!("Plugin {ns}/{name} not found"))?;
    let st = plugin.status.clone().unwrap_or_default();
    let digest = st
        .digest
        .filter(|_| gyre_api::meta::is_ready(&st.conditions))
        .ok_or_else(|| format!("Plugin {ns}/{name} is not ready"))?;
    let limits = limits(&plugin).map_err(|m| format!("Plugin {ns}/{name}: {m}"))?;
    let source = source(ctx, &plugin, &digest)
        .await
        .map_err(|m| format!("Plugin {ns}/{name}: {m}"))?;
    ctx.plugins
        .load(&source, world, limits)
        .await
        .map_err(|e| format!("Plugin {ns}/{name}: {}", e.chain()))
}
