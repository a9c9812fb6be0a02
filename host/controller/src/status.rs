//! Writing `.status` with server-side apply under the controller's field manager, so a
//! field the controller stops setting is removed and nothing else on the object moves.

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The field manager of status writes (the same as for applied objects).
pub const FIELD_MANAGER: &str = gyre_apply::FIELD_MANAGER;

/// `Kind namespace/name` of an object, for messages.
pub fn describe<K: Resource<DynamicType = ()>>(obj: &K) -> String {
    format!(
        "{} {}/{}",
        K::kind(&()),
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    )
}

/// Replaces the status of `obj` with `status`.
///
/// # Errors
/// [`Error::Api`] when the write fails.
pub async fn patch<K, S>(api: &Api<K>, obj: &K, status: &S) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(|source| Error::Api {
        action: "updating the status of",
        object: describe(obj),
        source,
    })?;
    Ok(())
}

/// Records the object's conditions and suspension in the metrics (`gotk_reconcile_condition`,
/// `gotk_suspend_status`).
pub fn record<K: Resource<DynamicType = ()>>(
    metrics: &crate::metrics::Metrics,
    obj: &K,
    conditions: &[gyre_api::meta::Condition],
    suspended: bool,
) {
    let kind = K::kind(&());
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    if let Some(ready) =
        gyre_api::meta::find_condition(conditions, gyre_api::meta::condition_types::READY)
    {
        metrics.record_condition(&kind, &ns, &name, ready);
    }
    metrics.record_suspend(&kind, &ns, &name, suspended);
}

/// The end of every reconcile: write the status when it changed, record its conditions
/// in the metrics, and publish the event of this transition, if any.
///
/// # Errors
/// [`Error::Api`] when the status write fails (metrics and event are then skipped, and
/// the next attempt repeats them).
pub async fn finish<K, S>(
    ctx: &crate::context::Context,
    api: &Api<K>,
    obj: &K,
    original: &S,
    status: &S,
    conditions: &[gyre_api::meta::Condition],
    event: Option<(crate::events::Severity, impl AsRef<str>, impl AsRef<str>)>,
) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize + PartialEq,
{
    if status != original {
        patch(api, obj, status).await?;
    }
    record(&ctx.metrics, obj, conditions, false);
    if let Some((severity, reason, message)) = event {
        ctx.events
            .publish(obj, severity, reason.as_ref(), message.as_ref())
            .await;
    }
    Ok(())
}
