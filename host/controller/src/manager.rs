//! One replica of the controller: wait for leadership (when leader election is on), run
//! every reconciler while leading, and stop when asked or when leadership is lost.
//!
//! Losing the Lease ends the replica rather than pausing it: its caches and in-flight
//! reconciles may be stale, so — like Flux's controllers — the process exits and comes
//! back as a fresh candidate.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::context::Context;
use crate::leader::{self, LeaseConfig};
use crate::server::Health;

/// Why a replica stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `shutdown` resolved (SIGTERM): leadership was released for a quick handover.
    Shutdown,
    /// Another replica holds the Lease now, or it could not be renewed in time.
    LostLeadership,
    /// The leader-election timings are unsafe (see `LeaseConfig::validate`); nothing ran.
    InvalidConfig,
}

/// Runs one replica until `shutdown` resolves or leadership is lost. `health` turns
/// ready once this replica leads (or at once without leader election).
pub async fn run(
    ctx: Arc<Context>,
    lease: Option<LeaseConfig>,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Exit {
    let mut shutdown = Box::pin(shutdown);
    let mut elector = match lease {
        Some(config) => {
            if let Err(e) = config.validate() {
                // A lease that can expire before its holder gives up could give two
                // leaders; refuse to run rather than risk it.
                tracing::error!(error = %e, "invalid leader election timings");
                health.set_not_ready(format!("invalid leader election timings: {e}"));
                return Exit::InvalidConfig;
            }
            let identity = config.identity.clone();
            let mut handle = leader::start(ctx.client.clone(), config);
            health.set_not_ready("waiting for leadership");
            tracing::info!(identity = %identity, "waiting for leadership");
            tokio::select! {
                () = handle.wait_until_leader() => {}
                () = &mut shutdown => {
                    handle.release().await;
                    return Exit::Shutdown;
                }
            }
            tracing::info!(identity = %identity, "became leader");
            Some(handle)
        }
        None => None,
    };
    health.set_ready(true);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controllers = tokio::spawn(crate::runner::run(ctx, async move {
        let _ = stop_rx.await;
    }));
    let lost = async {
        match elector.as_mut() {
            Some(h) => h.lost().await,
            None => std::future::pending().await,
        }
    };
    let exit = tokio::select! {
        () = &mut shutdown => Exit::Shutdown,
        () = lost => Exit::LostLeadership,
    };
    health.set_not_ready(match exit {
        Exit::Shutdown => "shutting down",
        Exit::LostLeadership | Exit::InvalidConfig => "lost leadership",
    });
    let _ = stop_tx.send(());
    if exit == Exit::LostLeadership {
        // Do not wait for in-flight reconciles: another replica owns the objects now.
        controllers.abort();
    } else {
        let _ = tokio::time::timeout(Duration::from_secs(30), controllers).await;
    }
    if let Some(h) = elector {
        h.release().await;
    }
    exit
}
