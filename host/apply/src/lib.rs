//! `gyre-apply`: Gyre's apply engine — ordered server-side apply with change sets,
//! Flux-format inventory, pruning, kstatus health checks and server-side diffs.
//!
//! One [`Applier`] per cluster connection (it caches discovery). A Kustomization
//! reconcile is:
//!
//! ```no_run
//! # async fn demo(client: kube::Client, objects: Vec<serde_json::Value>,
//! #     previous: gyre_apply::Inventory) -> Result<(), Box<dyn std::error::Error>> {
//! use gyre_apply::{Applier, ApplyOptions, Owner, PruneOptions, WaitOptions};
//! let applier = Applier::new(client);
//! let opts = ApplyOptions::for_owner(Owner::new("podinfo", "flux-system"));
//! let applied = match applier.apply(objects, &opts).await {
//!     Ok(a) => a,
//!     Err(failure) => {
//!         // Keep everything old and new in the inventory; prune nothing.
//!         let _store = failure.inventory_with(&previous);
//!         return Err(failure.into());
//!     }
//! };
//! // `prune` only accepts the result of a successful apply (spec.prune: true).
//! let pruned = applier.prune(&applied, &previous, &PruneOptions::default()).await?;
//! // spec.wait: true — or a healthChecks list built with ObjectRef::from_api_version.
//! applier.wait(&applied.health_targets(), &WaitOptions::default()).await?;
//! let _status_inventory = applied.inventory(); // → status.inventory
//! # let _ = pruned; Ok(()) }
//! ```
//!
//! `gyre diff --path DIR` renders the directory, then calls [`Applier::diff`] with the
//! objects as JSON values (and `DiffOptions { owner: Some(..), .. }` when diffing a named
//! Kustomization, so its ownership labels are not reported as changes), prints
//! [`DiffResult::render`] and exits 1 when [`DiffResult::has_changes`].
//!
//! HelmRelease drift detection calls [`Applier::detect_drift`] with the release manifest's
//! objects (and the JSON pointers each ignores), then [`Applier::correct_drift`] with what
//! drifted: missing objects are created, modified ones JSON-patched back, as Flux does.
//!
//! `serviceAccountName` and `kubeConfig` are the caller's: build the `kube::Client` with
//! impersonation or for the remote cluster and give it to [`Applier::new`].
//!
//! # Caveats
//! - `kustomize.toolkit.fluxcd.io/ssa: Merge` applies like any object: Gyre does not yet
//!   strip `kubectl` / `before-first-apply` field managers or the last-applied annotation
//!   (Flux's cleanup that `Merge` opts out of).
//! - Discovery is cached per [`Applier`]; a kind whose CRD is deleted and recreated with
//!   another scope needs a new `Applier`.

pub mod api;
pub mod apply;
pub mod changeset;
pub mod cluster_drift;
pub mod diff;
pub mod drift;
pub mod error;
pub mod health;
pub mod inventory;
pub mod mask;
pub mod object;
pub mod order;
pub mod prune;
pub mod wait;

use serde_json::Value;

pub use api::RequestOptions;
pub use apply::{ApplyOptions, ApplyResult};
pub use changeset::{Action, ChangeSet, ChangeSetEntry};
pub use cluster_drift::{Drift, DriftKind, DriftOptions, DriftReport, DriftTarget};
pub use diff::{DiffOptions, DiffResult, ObjectDiff};
pub use error::{Error, Failure, RequestError, Result};
pub use health::{Health, assess};
pub use inventory::{Inventory, InventoryEntry};
pub use object::ObjectRef;
pub use prune::{Propagation, PruneOptions};
pub use wait::WaitOptions;

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "gyre";
/// Ownership label naming the owning Kustomization.
pub const NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
/// Ownership label naming the owning Kustomization's namespace.
pub const NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";
/// `Ignore` skips an object, `IfNotPresent` only creates it, `Merge` applies it.
pub const SSA_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// `enabled` recreates the object when an immutable field changed.
pub const FORCE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/force";
/// `disabled` keeps the object when it leaves the inventory.
pub const PRUNE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/prune";

/// Ownership label naming the owning HelmRelease (helm-controller's origin labels).
pub const HELM_NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
/// Ownership label naming the owning HelmRelease's namespace.
pub const HELM_NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";

/// The Kustomization or HelmRelease whose ownership labels go on every object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The label keys `(name, namespace)`: Flux's kustomize or helm ones.
    labels: (&'static str, &'static str),
}

impl Owner {
    /// A Kustomization owner (`kustomize.toolkit.fluxcd.io/name|namespace` labels).
    pub fn new(name: &str, namespace: &str) -> Owner {
        Owner {
            name: name.into(),
            namespace: namespace.into(),
            labels: (NAME_LABEL, NAMESPACE_LABEL),
        }
    }

    /// A HelmRelease owner (`helm.toolkit.fluxcd.io/name|namespace` labels, as
    /// helm-controller puts on every object of a release).
    pub fn helm_release(name: &str, namespace: &str) -> Owner {
        Owner {
            name: name.into(),
            namespace: namespace.into(),
            labels: (HELM_NAME_LABEL, HELM_NAMESPACE_LABEL),
        }
    }

    /// The label selector matching the objects it owns.
    pub fn selector(&self) -> String {
        let (n, ns) = self.labels;
        format!("{n}={},{ns}={}", self.name, self.namespace)
    }

    /// Whether an object's ownership labels name this owner.
    pub fn owns(&self, obj: &Value) -> bool {
        let (n, ns) = self.labels;
        let l = &obj["metadata"]["labels"];
        l[n] == self.name.as_str() && l[ns] == self.namespace.as_str()
    }

    /// Puts the ownership labels on an object.
    pub fn label(&self, obj: &mut Value) {
        let (n, ns) = self.labels;
        let meta = &mut obj["metadata"];
        if !meta["labels"].is_object() {
            meta["labels"] = Value::Object(Default::default());
        }
        meta["labels"][n] = Value::String(self.name.clone());
        meta["labels"][ns] = Value::String(self.namespace.clone());
    }
}

/// The apply engine for one cluster connection. Cheap to clone; clones share the
/// discovery cache.
#[derive(Clone)]
pub struct Applier {
    pub(crate) api: api::Api,
    pub(crate) manager: String,
}

impl Applier {
    /// An engine using field manager `gyre` and default request options.
    pub fn new(client: kube::Client) -> Applier {
        Applier {
            api: api::Api::new(client, RequestOptions::default()),
            manager: FIELD_MANAGER.into(),
        }
    }

    /// Uses another field manager (tests, or running beside another Gyre).
    pub fn with_field_manager(mut self, manager: &str) -> Applier {
        self.manager = manager.into();
        self
    }

    /// Uses other request timeouts and retries.
    pub fn with_request_options(mut self, opts: RequestOptions) -> Applier {
        self.api.opts = opts;
        self
    }

    /// The client.
    pub fn client(&self) -> &kube::Client {
        &self.api.client
    }
}
