//! Prune: delete what left the inventory — never objects annotated `prune: disabled`,
//! never objects whose ownership labels name another owner, Namespaces last, and only
//! after a successful apply.

use futures::{StreamExt, stream};

use crate::apply::ApplyResult;
use crate::changeset::{Action, ChangeSet};
use crate::error::{Error, Failure};
use crate::inventory::Inventory;
use crate::object::ObjectRef;
use crate::order;
use crate::{Applier, Owner, PRUNE_ANNOTATION};

/// How deleting an object treats its dependents (the API server's `propagationPolicy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the object now, its dependents afterwards in the background.
    #[default]
    Background,
    /// Delete the dependents first; the object goes when they are gone.
    Foreground,
    /// Delete the object and leave its dependents.
    Orphan,
}

impl Propagation {
    /// Parses Flux's `deletionPropagation` spelling (`background`, `foreground`,
    /// `orphan`, any case); `None` for anything else.
    pub fn parse(s: &str) -> Option<Propagation> {
        match s.to_ascii_lowercase().as_str() {
            "background" => Some(Propagation::Background),
            "foreground" => Some(Propagation::Foreground),
            "orphan" => Some(Propagation::Orphan),
            _ => None,
        }
    }
}

/// How to prune. Defaults: 16 deletions in flight, background propagation.
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Delete only objects whose ownership labels name this owner. Default: the owner
    /// the apply labeled objects for; with none, objects are deleted whatever their
    /// labels.
    pub owner: Option<Owner>,
    /// Requests in flight at once. Default 16.
    pub concurrency: usize,
    /// How dependents of deleted objects are treated. Default background.
    pub propagation: Propagation,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            owner: None,
            concurrency: 16,
            propagation: Propagation::Background,
        }
    }
}

impl PruneOptions {
    /// Defaults, with an owner.
    pub fn for_owner(owner: Owner) -> PruneOptions {
        PruneOptions {
            owner: Some(owner),
            ..Default::default()
        }
    }
}

impl Applier {
    /// Deletes the objects of `previous` that are not in `applied`'s inventory, with
    /// `opts.propagation` and a uid precondition.
    ///
    /// Taking an [`ApplyResult`] is the guard: only a successful apply yields one, so
    /// there is no way to prune after a failed render or a failed apply.
    ///
    /// Left alone (reported as skipped): objects annotated
    /// `kustomize.toolkit.fluxcd.io/prune: disabled`, and objects whose ownership labels
    /// do not name the owner (another Kustomization took them over). Objects already gone
    /// and kinds no longer served are not reported. Ordinary objects go first, then CRDs,
    /// then Namespaces.
    ///
    /// # Errors
    /// A [`Failure`] listing every [`Error::PruneFailed`] (and lookups that failed), with
    /// the change set of what was deleted.
    pub async fn prune(
        &self,
        applied: &ApplyResult,
        previous: &Inventory,
        opts: &PruneOptions,
    ) -> Result<ChangeSet, Failure> {
        let owner = opts.owner.clone().or_else(|| applied.owner.clone());
        let mut stale = previous.diff(applied.inventory());
        stale.sort_by(|(a, _), (b, _)| {
            order::prune_rank(a)
                .cmp(&order::prune_rank(b))
                .then_with(|| order::compare(b, a))
        });
        let mut cs = ChangeSet::default();
        let mut errors = Vec::new();
        for rank in 0..=2 {
            let batch: Vec<&(ObjectRef, String)> = stale
                .iter()
                .filter(|(r, _)| order::prune_rank(r) == rank)
                .collect();
            // Built eagerly: see `resolve_all` in apply.rs (rust#110338).
            let futures: Vec<_> = batch
                .iter()
                .map(|(r, v)| self.prune_one(r, v, owner.as_ref(), opts.propagation))
                .collect();
            let results: Vec<Result<Option<Action>, Error>> = stream::iter(futures)
                .buffered(opts.concurrency.max(1))
                .collect()
                .await;
            for ((r, v), res) in batch.into_iter().zip(results) {
                match res {
                    Ok(Some(a)) => cs.add(r.clone(), v, a),
                    Ok(None) => {}
                    Err(e) => errors.push(e),
                }
            }
            // Deleting a Namespace before its content failed to go would hide the
            // failure behind the namespace's own cascade; stop here instead.
            if !errors.is_empty() {
                return Err(Failure::new("prune", cs, errors));
            }
        }
        Ok(cs)
    }

    async fn prune_one(
        &self,
        r: &ObjectRef,
        version: &str,
        owner: Option<&Owner>,
        propagation: Propagation,
    ) -> Result<Option<Action>, Error> {
        let failed = |source| Error::PruneFailed {
            object: r.to_string(),
            source,
        };
        let api_version = r.api_version(version);
        let Some(ti) = self
            .api
            .resolve(&api_version, &r.kind)
            .await
            .map_err(|source| Error::DiscoveryFailed {
                api_version: api_version.clone(),
                source,
            })?
        else {
            // The kind is gone (its CRD was deleted): so are its objects.
            return Ok(None);
        };
        let Some(live) = self
            .api
            .get(&ti, &r.namespace, &r.name)
            .await
            .map_err(failed)?
        else {
            return Ok(None);
        };
        if live["metadata"]["annotations"][PRUNE_ANNOTATION] == "disabled" {
            tracing::info!(object = %r, "prune disabled by annotation");
            return Ok(Some(Action::Skipped));
        }
        if let Some(o) = owner
            && !o.owns(&live)
        {
            tracing::info!(object = %r, "owned by another owner, not pruned");
            return Ok(Some(Action::Skipped));
        }
        if !live["metadata"]["deletionTimestamp"].is_null() {
            return Ok(Some(Action::Deleted));
        }
        let uid = live["metadata"]["uid"].as_str();
        self.api
            .delete(&ti, &r.namespace, &r.name, uid, propagation)
            .await
            .map_err(failed)?;
        tracing::info!(object = %r, "deleted");
        Ok(Some(Action::Deleted))
    }
}
