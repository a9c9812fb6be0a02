//! Helm uninstall, for remediation and for deletion: the newest revision goes
//! `uninstalling`, the release's objects are deleted with `uninstall.deletionPropagation`
//! (and waited for unless `uninstall.disableWait`), then the release records are deleted
//! — or, with `uninstall.keepHistory`, the newest is marked `uninstalled`
//! ("Uninstallation complete").
//!
//! # Caveats
//! Helm deletes the newest revision's objects only; Gyre deletes those of the deployed
//! revision too (a failed upgrade's newest manifest may not hold them), limited to
//! objects labelled as this HelmRelease's. When deleting objects fails, Helm still
//! purges the records; Gyre puts the newest revision back as it was and reports the
//! error, so that the uninstall is retried and no object is orphaned.

use gyre_api::helm::{HelmRelease, HelmReleaseStatus};
use gyre_api::meta::{Condition, condition_types, set_condition};
use gyre_apply::{Applier, ApplyOptions, Inventory, Owner, Propagation, PruneOptions};
use gyre_release::{Release, SecretStorage, Status};
use kube::ResourceExt;

use super::Failure;
use super::atomic::Request;
use super::deploy::{Settings, replaced_inventory};
use super::hooks::{self, Event};
use super::reason;
use super::state;
use crate::events::Severity;
use crate::source::chain;

/// An uninstall that failed, and whether it changed the release records.
#[derive(Debug)]
pub struct Failed {
    /// Whether the storage was changed (then the failure is recorded, not retried).
    pub stored: bool,
    /// What failed.
    pub message: String,
}

/// Uninstalls the release `name` (whose namespaced objects default to `namespace`):
/// `Ok(None)` when there is none, else the newest revision as it was left
/// (`uninstalled`).
///
/// # Errors
/// [`Failed`] when reading or writing the records or deleting the objects failed.
pub async fn uninstall(
    applier: &Applier,
    hr: &HelmRelease,
    storage: &SecretStorage,
    name: &str,
    namespace: &str,
) -> Result<Option<Release>, Failed> {
    let unstored = |message: String| Failed {
        stored: false,
        message,
    };
    let releases = storage
        .history(name)
        .await
        .map_err(|e| unstored(chain(&e)))?;
    let Some(latest) = releases.last().cloned() else {
        return Ok(None);
    };
    let spec = hr.spec.uninstall.clone().unwrap_or_default();
    let keep = spec.keep_history.unwrap_or(false);
    if latest.info.status != Status::Uninstalled {
        let mut rel = latest.clone();
        rel.info.status = Status::Uninstalling;
        rel.info.deleted = gyre_release::Time::now();
        rel.info.description = "Deletion in progress (or silently failing)".into();
        storage
            .update(&rel)
            .await
            .map_err(|e| unstored(chain(&e)))?;

        // Hooks: pre-delete (the newest revision's, `rel.hooks`) after it is marked
        // uninstalling, before its objects are deleted.
        if let Err(err) =
            hooks::run_for_action(applier.client(), hr, &mut rel, Event::PreDelete).await
        {
            // Put the record back so that the uninstall is retried in full.
            return Err(match storage.update(&latest).await {
                Ok(()) => unstored(err),
                Err(e) => Failed {
                    stored: true,
                    message: format!("{err}; restoring the release record: {}", chain(&e)),
                },
            });
        }
        let deployed: Vec<&Release> = releases
            .iter()
            .filter(|r| r.info.status == Status::Deployed)
            .collect();
        let targets = replaced_inventory(deployed.into_iter().chain([&latest]), namespace);
        let propagation =
            Propagation::parse(spec.deletion_propagation()).unwrap_or(Propagation::Background);
        if let Err(err) = delete_objects(
            applier,
            hr,
            &targets,
            propagation,
            Settings::of(hr, "uninstall"),
        )
        .await
        {
            // Put the record back so that the uninstall is retried in full.
            return Err(match storage.update(&latest).await {
                Ok(()) => unstored(err),
                Err(e) => Failed {
                    stored: true,
                    message: format!("{err}; restoring the release record: {}", chain(&e)),
                },
            });
        }
        // Hooks: post-delete after the objects are gone, before the records are deleted.
        // As Helm, a failure does not stop the uninstall; it is reported at the end.
        let post_delete =
            hooks::run_for_action(applier.client(), hr, &mut rel, Event::PostDelete).await;

        rel.info.status = Status::Uninstalled;
        rel.info.description = "Uninstallation complete".into();
        if keep {
            storage.update(&rel).await.map_err(|e| Failed {
                stored: true,
                message: chain(&e),
            })?;
        } else {
            purge(storage, name, &releases).await?;
        }
        return match post_delete {
            Ok(()) => Ok(Some(rel)),
            Err(e) => Err(Failed {
                stored: true,
                message: format!("uninstallation completed with 1 error(s): {e}"),
            }),
        };
    }
    if !keep {
        purge(storage, name, &releases).await?;
    }
    Ok(Some(latest))
}

/// Deletes every stored revision.
async fn purge(storage: &SecretStorage, name: &str, releases: &[Release]) -> Result<(), Failed> {
    for r in releases {
        match storage.delete(name, r.version).await {
            Ok(()) | Err(gyre_release::Error::NotFound { .. }) => {}
            Err(e) => {
                return Err(Failed {
                    stored: true,
                    message: format!("deleting the release records: {}", chain(&e)),
                });
            }
        }
    }
    Ok(())
}

/// Deletes the objects the HelmRelease owns among `targets` and waits until they are
/// gone (unless the settings say not to wait), within the timeout.
async fn delete_objects(
    applier: &Applier,
    hr: &HelmRelease,
    targets: &Inventory,
    propagation: Propagation,
    settings: Settings,
) -> Result<(), String> {
    let owner = Owner::helm_release(&hr.name_any(), &hr.namespace().unwrap_or_default());
    let work = async {
        let nothing = applier
            .apply(Vec::new(), &ApplyOptions::for_owner(owner.clone()))
            .await
            .map_err(|f| f.chain())?;
        let mut opts = PruneOptions::for_owner(owner);
        opts.propagation = propagation;
        let deleted = applier
            .prune(&nothing, targets, &opts)
            .await
            .map_err(|f| format!("deleting the release's objects: {}", f.chain()))?;
        if settings.wait {
            let gone: Vec<_> = targets
                .refs()
                .into_iter()
                .filter(|(r, _)| {
                    deleted
                        .get(r)
                        .is_some_and(|e| e.action == gyre_apply::Action::Deleted)
                })
                .collect();
            applier
                .wait_deleted(&gone, settings.timeout)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok::<_, String>(())
    };
    tokio::time::timeout(settings.timeout + std::time::Duration::from_secs(5), work)
        .await
        .map_err(|_| format!("timed out after {:?}", settings.timeout))?
}

/// Uninstall remediation of a failed release, marking `Remediated`.
///
/// # Errors
/// A [`Failure`] when the uninstall changed nothing (the caller retries).
pub async fn remediate(req: &Request<'_>, status: &mut HelmReleaseStatus) -> Result<(), Failure> {
    let latest = status
        .history
        .as_ref()
        .and_then(|h| h.iter().max_by_key(|s| s.version).cloned());
    let what = latest.as_ref().map_or_else(
        || format!("{}/{}", req.namespace, req.name),
        |s| {
            format!(
                "{} with chart {}",
                s.full_release_name(),
                s.versioned_chart_name()
            )
        },
    );
    let generation = req.hr.metadata.generation;
    match uninstall(
        &req.target.applier,
        req.hr,
        &req.storage,
        &req.name,
        &req.namespace,
    )
    .await
    {
        Ok(rel) => {
            let mut history = req.history().await?;
            if history.is_empty()
                && let Some(rel) = &rel
            {
                // The records are gone; remember what was uninstalled.
                history.push(state::snapshot(rel, &super::values::digest(&rel.config)));
            }
            status.history = Some(history);
            let message = format!("Helm uninstall remediation for release {what} succeeded");
            set_condition(
                &mut status.conditions,
                Condition::new(
                    condition_types::REMEDIATED,
                    true,
                    reason::UNINSTALL_SUCCEEDED,
                    message.clone(),
                )
                .with_observed_generation(generation),
            );
            req.event(Severity::Normal, reason::UNINSTALL_SUCCEEDED, &message)
                .await;
            Ok(())
        }
        Err(failed) => {
            let message = format!(
                "Helm uninstall remediation for release {what} failed: {}",
                failed.message
            );
            status.failures = Some(status.failures.unwrap_or(0) + 1);
            set_condition(
                &mut status.conditions,
                Condition::new(
                    condition_types::REMEDIATED,
                    false,
                    reason::UNINSTALL_FAILED,
                    message.clone(),
                )
                .with_observed_generation(generation),
            );
            if failed.stored {
                req.event(Severity::Warning, reason::UNINSTALL_FAILED, &message)
                    .await;
                status.history = Some(req.history().await?);
                Ok(())
            } else {
                // The reconcile reports it (and its event) as a failure to retry.
                Err(Failure::new(reason::UNINSTALL_FAILED, message))
            }
        }
    }
}
