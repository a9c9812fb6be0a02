//! The Plugin reconciler: pull the component (by digest when pinned, else by tag),
//! verify it, check the world it implements, compile it into the cache, and report
//! `status.digest`, `status.world` and `Ready`. Kustomizations only use Plugins this
//! reconciler has made Ready, always by the verified digest.

use std::sync::Arc;
use std::time::Duration;

use gyre_api::meta::{self, condition_types, find_condition};
use gyre_api::plugin::{Plugin, PluginStatus};
use gyre_plugin::oci::RegistryOptions;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use crate::context::Context;
use crate::error::Result;
use crate::events::Severity;
use crate::plugin_ref;
use crate::source::chain;
use crate::status;

/// How often a Plugin referenced by tag is checked for a new digest, by default.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// Reasons of Plugin conditions.
pub mod reason {
    /// Pulled, verified and compiled.
    pub const SUCCEEDED: &str = "Succeeded";
    /// The registry refused or the digest did not match.
    pub const PULL_FAILED: &str = "PullFailed";
    /// The component does not implement the declared world.
    pub const WRONG_WORLD: &str = "WrongWorld";
    /// The spec is invalid (limits).
    pub const INVALID_SPEC: &str = "InvalidSpec";
}

struct Verified {
    digest: String,
    world: gyre_api::plugin::PluginWorld,
    pinned: String,
}

async fn verify(
    ctx: &Context,
    plugin: &Plugin,
) -> std::result::Result<Verified, (&'static str, String)> {
    let name = format!(
        "Plugin {}/{}",
        plugin.namespace().unwrap_or_default(),
        plugin.name_any()
    );
    let limits =
        plugin_ref::limits(plugin).map_err(|m| (reason::INVALID_SPEC, format!("{name}: {m}")))?;
    let (insecure, docker_config) = plugin_ref::pull_options(ctx, plugin)
        .await
        .map_err(|m| (reason::PULL_FAILED, format!("{name}: {m}")))?;
    let source = |digest: &str| gyre_render::PluginSource::Oci {
        reference: plugin.spec.registry_reference().to_string(),
        digest: digest.to_string(),
        insecure,
        docker_config: docker_config.clone(),
    };
    let registry = ctx.plugins.registry(RegistryOptions {
        insecure,
        docker_config: docker_config.clone(),
        offline: false,
    });
    // Pinned: the pull is by digest and verified against it. By tag: resolve the tag
    // now, and from here on use only the digest it resolved to.
    let reference = match plugin.spec.pinned_digest() {
        Some(digest) => source(digest).pinned(),
        None => plugin.spec.registry_reference().to_string(),
    };
    let pulled = registry.pull(&reference).await.map_err(|e| {
        (
            reason::PULL_FAILED,
            format!("{name}: pulling {reference}: {}", chain(&e)),
        )
    })?;
    if let Some(want) = plugin.spec.digest.as_deref()
        && want != pulled.manifest_digest
    {
        return Err((
            reason::PULL_FAILED,
            format!(
                "{name}: {reference} has digest {}, but spec.digest pins {want}",
                pulled.manifest_digest
            ),
        ));
    }
    let info = ctx
        .plugins
        .inspect(&reference, pulled.bytes)
        .await
        .map_err(|e| (reason::PULL_FAILED, format!("{name}: {}", e.chain())))?;
    let world = match plugin.spec.world {
        Some(w) if info.worlds.contains(&plugin_ref::world(w)) => w,
        Some(w) => {
            let found: Vec<String> = info
                .worlds
                .iter()
                .map(|w| plugin_ref::api_world(*w).to_string())
                .collect();
            return Err((
                reason::WRONG_WORLD,
                format!(
                    "{name}: the component implements [{}], not {w}",
                    found.join(", ")
                ),
            ));
        }
        None => match info.worlds.first() {
            Some(w) => plugin_ref::api_world(*w),
            None => {
                return Err((
                    reason::WRONG_WORLD,
                    format!("{name}: the component implements no Gyre world"),
                ));
            }
        },
    };
    let pinned_source = source(&pulled.manifest_digest);
    // Compile now, so the first render does not pay for it and a component that does
    // not link fails here, on the Plugin, rather than on every Kustomization using it.
    ctx.plugins
        .load(&pinned_source, plugin_ref::world(world), limits)
        .await
        .map_err(|e| (reason::PULL_FAILED, format!("{name}: {}", e.chain())))?;
    Ok(Verified {
        digest: pulled.manifest_digest,
        world,
        pinned: pinned_source.pinned(),
    })
}

/// Reconciles one Plugin.
///
/// # Errors
/// Only when the status cannot be written.
pub async fn reconcile(plugin: Arc<Plugin>, ctx: Arc<Context>) -> Result<Action> {
    if plugin.spec.suspended() {
        return Ok(Action::await_change());
    }
    let api: Api<Plugin> =
        Api::namespaced(ctx.client.clone(), &plugin.namespace().unwrap_or_default());
    let generation = plugin.metadata.generation;
    let original = plugin.status.clone().unwrap_or_default();
    let mut status: PluginStatus = original.clone();
    let before = find_condition(&status.conditions, condition_types::READY).cloned();
    let interval = plugin
        .spec
        .interval
        .as_ref()
        .map_or(DEFAULT_INTERVAL, gyre_api::Duration::as_std);
    let mut event = None;
    let requeue = match verify(&ctx, &plugin).await {
        Ok(v) => {
            let message = format!("verified {} implementing {}", v.pinned, v.world);
            if status.digest.as_deref() != Some(&v.digest) {
                event = Some((Severity::Normal, reason::SUCCEEDED, message.clone()));
            }
            status.digest = Some(v.digest);
            status.world = Some(v.world);
            meta::mark_ready(
                &mut status.conditions,
                generation,
                reason::SUCCEEDED,
                message,
            );
            if plugin.spec.pinned_digest().is_some() {
                // A digest never changes; only a spec change brings new work.
                None
            } else {
                Some(interval)
            }
        }
        Err((reason, message)) => {
            if before.as_ref().is_none_or(|c| c.message != message) {
                event = Some((Severity::Warning, reason, message.clone()));
            }
            if reason == reason::PULL_FAILED {
                meta::mark_failed_with_retry(&mut status.conditions, generation, reason, message);
                Some(interval.min(Duration::from_secs(60)))
            } else {
                meta::mark_stalled(&mut status.conditions, generation, reason, message);
                None
            }
        }
    };
    status.observed_generation = generation;
    if let Some(at) = meta::requested_at(&plugin.metadata) {
        status.last_handled_reconcile_at = Some(at.to_string());
    }
    status::finish(
        &ctx,
        &api,
        plugin.as_ref(),
        &original,
        &status,
        &status.conditions,
        event,
    )
    .await?;
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}
