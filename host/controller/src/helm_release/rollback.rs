//! Rollback remediation, with Helm's rollback semantics: a new revision (newest + 1)
//! carrying the target revision's chart, values and manifest, described
//! `Rollback to <target>`; its objects are re-applied and the objects of the newest
//! revision that the target does not hold are pruned. On success every deployed
//! revision is superseded and the new one is deployed (the failed one stays `failed`);
//! on failure the newest revision is superseded and the new one is `failed`
//! (`Rollback "<name>" failed: …`).

use gyre_api::helm::HelmReleaseStatus;
use gyre_api::meta::{Condition, condition_types, set_condition};
use gyre_release::{Release, Status};

use super::Failure;
use super::atomic::Request;
use super::deploy::{Settings, apply_objects, manifest_objects, replaced_inventory};
use super::hooks::{self, Event};
use super::reason;
use super::state::full_name;
use crate::events::Severity;
use crate::source::chain;

/// Rolls the release back to revision `to`, marking `Remediated`.
///
/// # Errors
/// A [`Failure`] when nothing was stored (the target is missing, the storage cannot be
/// read or written): the caller retries. A failed apply is recorded and returns `Ok`.
pub async fn run(
    req: &Request<'_>,
    status: &mut HelmReleaseStatus,
    to: i64,
) -> Result<(), Failure> {
    let name = &req.name;
    let releases = req
        .storage
        .history(name)
        .await
        .map_err(|e| req.storage_failure(&e))?;
    let (Some(current), Some(target)) = (
        releases.last().cloned(),
        releases
            .iter()
            .find(|r| i64::from(r.version) == to)
            .cloned(),
    ) else {
        return Err(Failure::new(
            reason::ROLLBACK_FAILED,
            format!(
                "Helm rollback failed for release {}/{name}: revision {to} not found in storage",
                req.namespace
            ),
        ));
    };
    let target_id = format!(
        "{} with chart {}@{}",
        full_name(&target),
        target.chart.metadata.name,
        target.chart.metadata.version
    );
    let fail_msg =
        |err: &str| format!("Helm rollback to previous release {target_id} failed: {err}");

    let mut rel = Release::prepare_rollback(&current, &target);
    req.storage.create(&rel).await.map_err(|e| {
        Failure::new(
            reason::ROLLBACK_FAILED,
            fail_msg(&format!("storing the release: {}", chain(&e))),
        )
    })?;

    // Hooks: pre-rollback (the target's hooks, `rel.hooks`) after the pending revision
    // is stored, before its objects are applied; post-rollback after the wait, before
    // the revision is marked deployed.
    let objects = manifest_objects(&rel.manifest);
    let replaced = replaced_inventory([&current], &req.namespace);
    let outcome = async {
        hooks::run_for_action(&req.target.client, req.hr, &mut rel, Event::PreRollback).await?;
        let changes = apply_objects(
            &req.target.applier,
            req.hr,
            objects,
            &replaced,
            Settings::of(req.hr, "rollback"),
        )
        .await?;
        hooks::run_for_action(&req.target.client, req.hr, &mut rel, Event::PostRollback).await?;
        Ok::<_, String>(changes)
    }
    .await;

    let generation = req.hr.metadata.generation;
    let (ok, message) = match outcome {
        Ok(_) => {
            req.supersede_others(rel.version).await?;
            rel.info.status = Status::Deployed;
            req.record(&rel).await?;
            req.prune_history().await?;
            (
                true,
                format!("Helm rollback to previous release {target_id} succeeded"),
            )
        }
        Err(err) => {
            let mut current = current;
            current.info.status = Status::Superseded;
            req.record(&current).await?;
            rel.info.status = Status::Failed;
            rel.info.description = format!("Rollback {name:?} failed: {err}");
            req.record(&rel).await?;
            status.failures = Some(status.failures.unwrap_or(0) + 1);
            (false, fail_msg(&err))
        }
    };
    status.history = Some(req.history().await?);
    let why = if ok {
        reason::ROLLBACK_SUCCEEDED
    } else {
        reason::ROLLBACK_FAILED
    };
    set_condition(
        &mut status.conditions,
        Condition::new(condition_types::REMEDIATED, ok, why, message.clone())
            .with_observed_generation(generation),
    );
    let severity = if ok {
        Severity::Normal
    } else {
        Severity::Warning
    };
    req.event(severity, why, &message).await;
    Ok(())
}
