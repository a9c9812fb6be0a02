//! What install, upgrade and rollback share: rendering the chart with the Helm plugin,
//! the release manifest (written and read back), and applying a revision's objects —
//! server-side apply, prune what left the release, wait for health — bounded by the
//! action's timeout.

use std::time::Duration;

use gyre_api::helm::{HelmRelease, HelmReleaseStatus};
use gyre_api::meta::{Condition, condition_types, set_condition};
use gyre_apply::{Applier, ApplyOptions, Inventory, ObjectRef, Owner, PruneOptions, WaitOptions};
use gyre_plugin::{Limits, World};
use gyre_release::{Release, Status};
use gyre_render::{PluginSource, build};
use kube::ResourceExt;
use serde_json::{Value, json};

use super::Failure;
use super::atomic::Request;
use super::hooks::{self, Event};
use super::post_render;
use super::state::full_name;
use crate::events::Severity;
use crate::source::chain;

/// Kinds that are cluster-scoped, for reading a release manifest back into object
/// references (Helm leaves the namespace of namespaced objects to the release's).
pub(super) const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
];

/// The objects of a release manifest, as an inventory (for prune and uninstall).
pub fn manifest_inventory(manifest: &str, namespace: &str) -> Inventory {
    let mut refs: Vec<(ObjectRef, String)> = Vec::new();
    for v in manifest_objects(manifest) {
        let (Some(av), Some(kind), Some(name)) = (
            v["apiVersion"].as_str(),
            v["kind"].as_str(),
            v["metadata"]["name"].as_str(),
        ) else {
            continue;
        };
        let ns = if CLUSTER_SCOPED.contains(&kind) {
            ""
        } else {
            v["metadata"]["namespace"].as_str().unwrap_or(namespace)
        };
        refs.push(ObjectRef::from_api_version(av, kind, ns, name));
    }
    Inventory::from_refs(refs.iter().map(|(r, v)| (r, v.as_str())))
}

/// The objects of a release manifest (documents that are not objects are skipped).
pub fn manifest_objects(manifest: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(manifest)
        .filter_map(|doc| <Value as serde::Deserialize>::deserialize(doc).ok())
        .filter(|v| v.is_object() && v["kind"].is_string())
        .collect()
}

/// The release manifest Helm stores: each object as YAML under a `# Source:` comment.
pub fn manifest(objects: &[Value], origins: &[String]) -> String {
    let mut out = String::new();
    for (i, o) in objects.iter().enumerate() {
        out.push_str("---\n");
        if let Some(origin) = origins.get(i).filter(|s| !s.is_empty()) {
            out.push_str(&format!("# Source: {origin}\n"));
        }
        out.push_str(&serde_yaml_ng::to_string(o).unwrap_or_default());
    }
    out
}

/// The union of the manifests' objects: what a new revision replaces. Helm replaces the
/// deployed revision's objects only; objects a later failed revision created are added
/// here so that they are pruned too rather than orphaned (the owner labels keep prune
/// from touching anything the release does not own).
pub fn replaced_inventory<'a>(
    releases: impl IntoIterator<Item = &'a Release>,
    namespace: &str,
) -> Inventory {
    releases.into_iter().fold(Inventory::default(), |acc, r| {
        acc.union(&manifest_inventory(&r.manifest, namespace))
    })
}

/// Rendered objects and where each came from (`<chart>/templates/<file>`).
pub struct Rendered {
    pub objects: Vec<Value>,
    pub origins: Vec<String>,
    /// The chart's hooks (tests included), stored with the revision.
    pub hooks: Vec<gyre_release::Hook>,
}

/// Renders the chart with the values, for the target cluster's version and APIs; hooks
/// (tests included) come apart from the manifest's objects, and the post-renderers run
/// over the objects only (Helm 3 does not post-render hooks).
///
/// # Errors
/// The plugin's error chain, or the post-renderer's error.
pub async fn render(
    req: &Request<'_>,
    revision: i32,
    is_upgrade: bool,
) -> Result<Rendered, String> {
    let caps = req.target.capabilities().await?;
    let renderer = req
        .ctx
        .plugins
        .load(
            &PluginSource::Builtin("helm".into()),
            World::Renderer,
            Limits::default(),
        )
        .await
        .map_err(|e| e.chain())?;
    let dir_name = req
        .chart_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into());
    let config = json!({
        "releaseName": req.name,
        "namespace": req.namespace,
        "values": Value::Object(req.values.clone()),
        "revision": revision,
        "isUpgrade": is_upgrade,
        "kubeVersion": caps.kube_version,
        "apiVersions": caps.api_versions,
        "includeCrds": true,
        // Hooks (tests included) are stored in the release whether or not they run.
        "noHooks": false,
        "skipTests": false,
    });
    let out = build::build(renderer, req.chart_root.clone(), dir_name, config)
        .await
        .map_err(|e| e.chain())?;
    let split = super::hooks::split(out.objects, out.origins);
    let (objects, origins) = post_render::run(req.ctx, req.hr, split.objects, split.origins)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Rendered {
        objects,
        origins,
        hooks: split.hooks,
    })
}

/// How an action applies: its timeout and whether it waits for health.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub timeout: Duration,
    pub wait: bool,
    /// Whether the wait includes Jobs (Flux: unless `disableWaitForJobs`).
    pub wait_for_jobs: bool,
}

impl Settings {
    /// The settings of an action: its own `timeout`, else `spec.timeout`; wait unless
    /// its `disableWait`.
    pub fn of(hr: &HelmRelease, action: &str) -> Settings {
        let spec = &hr.spec;
        let (timeout, disable_wait, disable_jobs) = match action {
            "install" => spec
                .install
                .as_ref()
                .map(|a| (a.timeout.clone(), a.disable_wait, a.disable_wait_for_jobs))
                .unwrap_or_default(),
            "upgrade" => spec
                .upgrade
                .as_ref()
                .map(|a| (a.timeout.clone(), a.disable_wait, a.disable_wait_for_jobs))
                .unwrap_or_default(),
            "rollback" => spec
                .rollback
                .as_ref()
                .map(|a| (a.timeout.clone(), a.disable_wait, a.disable_wait_for_jobs))
                .unwrap_or_default(),
            "uninstall" => spec
                .uninstall
                .as_ref()
                .map(|a| (a.timeout.clone(), a.disable_wait, None))
                .unwrap_or_default(),
            _ => (None, None, None),
        };
        Settings {
            timeout: timeout.map_or_else(|| spec.timeout(), |t| t.as_std()),
            wait: !disable_wait.unwrap_or(false),
            wait_for_jobs: !disable_jobs.unwrap_or(false),
        }
    }
}

/// Applies the objects, prunes what `replaced` held and they do not, and waits for
/// health (unless `settings.wait` is off), within the timeout. Returns the change set's
/// lines.
///
/// # Errors
/// The failing step's error chain, or the timeout.
pub async fn apply_objects(
    applier: &Applier,
    hr: &HelmRelease,
    objects: Vec<Value>,
    replaced: &Inventory,
    settings: Settings,
) -> Result<Vec<String>, String> {
    let owner = Owner::helm_release(&hr.name_any(), &hr.namespace().unwrap_or_default());
    let mut opts = ApplyOptions::for_owner(owner.clone());
    opts.default_namespace = hr.release_namespace();
    let timeout = settings.timeout;
    let work = async {
        let applied = applier.apply(objects, &opts).await.map_err(|f| f.chain())?;
        let mut changes: Vec<String> = applied
            .change_set()
            .summary()
            .lines()
            .map(str::to_string)
            .collect();
        let pruned = applier
            .prune(&applied, replaced, &PruneOptions::for_owner(owner))
            .await
            .map_err(|f| f.chain())?;
        changes.extend(pruned.summary().lines().map(str::to_string));
        if settings.wait {
            let wait = WaitOptions {
                timeout,
                ..WaitOptions::default()
            };
            let mut targets = applied.health_targets();
            if !settings.wait_for_jobs {
                targets.retain(|(r, _)| !(r.group == "batch" && r.kind == "Job"));
            }
            applier.wait(&targets, &wait).await.map_err(|e| e.chain())?;
        }
        Ok::<_, String>(changes)
    };
    tokio::time::timeout(timeout + Duration::from_secs(5), work)
        .await
        .map_err(|_| format!("timed out after {timeout:?}"))?
}

/// What differs between an install and an upgrade: Helm's statuses and descriptions,
/// Flux's reasons, and which failure counter a failure bumps.
pub struct Kind {
    /// `install` or `upgrade` (`status.lastAttemptedReleaseAction`).
    pub action: &'static str,
    /// The status of the revision while the action runs.
    pub pending: Status,
    /// The description while the action runs.
    pub pending_description: &'static str,
    /// The description on success.
    pub done_description: &'static str,
    /// Helm's description of a failure (`Release "x" failed: …`).
    pub failed_description: fn(&str, &str) -> String,
    /// Flux's reasons on success and on failure.
    pub succeeded_reason: &'static str,
    pub failed_reason: &'static str,
}

/// Renders, records a pending revision, applies it and records the outcome, as Helm's
/// install and upgrade do; the Released condition, the failure counters and the
/// history follow.
///
/// `replaced` are the revisions whose objects the new one replaces (pruned when not in
/// it).
///
/// # Errors
/// A [`Failure`] when nothing was stored (rendering, reading or writing the storage
/// failed): the action can be retried as is, and no failure is counted against the
/// remediation retries. A failed apply or health check is recorded (revision
/// `failed`, counters, `Released=False`) and returns `Ok`.
pub async fn release(
    req: &Request<'_>,
    status: &mut HelmReleaseStatus,
    kind: &Kind,
    replaced: &[Release],
) -> Result<(), Failure> {
    let (name, ns) = (&req.name, &req.namespace);
    let chart_id = format!("{}@{}", req.metadata.name, req.metadata.version);
    let action = kind.action;
    let fail_msg = |err: &str| {
        format!("Helm {action} failed for release {ns}/{name} with chart {chart_id}: {err}")
    };
    let fail = |err: String| Failure::new(kind.failed_reason, fail_msg(&err));
    status.last_attempted_release_action = Some(action.into());

    let releases = req
        .storage
        .history(name)
        .await
        .map_err(|e| req.storage_failure(&e))?;
    let last = releases.last().cloned();
    // `.Release.Revision`/`.Release.IsUpgrade` as Helm's install or upgrade shows them.
    let revision = last.as_ref().map_or(1, |l| l.version + 1);
    let mut rendered = render(req, revision, action == "upgrade")
        .await
        .map_err(fail)?;
    // `crds/` files are not release objects (crds.rs); they are applied per CRD policy,
    // before the release is recorded, as helm-controller does.
    let crd_objects = super::crds::take(&mut rendered.objects, &mut rendered.origins);
    let crd_changes = super::crds::apply(req.ctx, req.hr, action == "upgrade", &crd_objects)
        .await
        .map_err(fail)?;

    // Helm's install with `replace`: a new revision after an uninstalled (kept) one,
    // which it supersedes.
    if let Some(mut old) = last
        .clone()
        .filter(|l| l.info.status == Status::Uninstalled)
    {
        old.info.status = Status::Superseded;
        old.info.description = "superseded by new release".into();
        req.storage
            .update(&old)
            .await
            .map_err(|e| fail(format!("storing the release: {}", chain(&e))))?;
    }

    // Record the pending revision, as Helm does before touching the cluster.
    let now = gyre_release::Time::now();
    let mut rel = Release {
        name: name.clone(),
        namespace: ns.clone(),
        info: gyre_release::Info {
            first_deployed: last.as_ref().map(|l| l.info.first_deployed).unwrap_or(now),
            last_deployed: now,
            status: kind.pending.clone(),
            description: kind.pending_description.into(),
            ..Default::default()
        },
        chart: gyre_release::Chart {
            metadata: req.metadata.clone(),
            ..Default::default()
        },
        config: req.values.clone(),
        manifest: manifest(&rendered.objects, &rendered.origins),
        hooks: std::mem::take(&mut rendered.hooks),
        version: revision,
        ..Default::default()
    };
    req.storage
        .create(&rel)
        .await
        .map_err(|e| fail(format!("storing the release: {}", chain(&e))))?;

    // Hooks: pre-install / pre-upgrade after the pending revision is stored, before its
    // objects are applied; post-install / post-upgrade after the wait, before the
    // revision is marked deployed.
    let (pre, post) = if action == "upgrade" {
        (Event::PreUpgrade, Event::PostUpgrade)
    } else {
        (Event::PreInstall, Event::PostInstall)
    };
    let settings = Settings::of(req.hr, action);
    let replaced = super::crds::spare(replaced_inventory(replaced, ns), &crd_objects);
    let outcome = async {
        hooks::run_for_action(&req.target.client, req.hr, &mut rel, pre).await?;
        let changes = apply_objects(
            &req.target.applier,
            req.hr,
            rendered.objects,
            &replaced,
            settings,
        )
        .await?;
        hooks::run_for_action(&req.target.client, req.hr, &mut rel, post).await?;
        Ok::<_, String>(changes)
    }
    .await;

    let generation = req.hr.metadata.generation;
    match outcome.map(|changes| crd_changes.into_iter().chain(changes).collect::<Vec<_>>()) {
        Ok(changes) => {
            rel.info.status = Status::Deployed;
            rel.info.description = kind.done_description.into();
            req.record(&rel).await?;
            req.supersede_others(rel.version).await?;
            req.prune_history().await?;
            status.history = Some(req.history().await?);
            let message = format!(
                "Helm {action} succeeded for release {} with chart {chart_id}",
                full_name(&rel)
            );
            set_condition(
                &mut status.conditions,
                Condition::new(
                    condition_types::RELEASED,
                    true,
                    kind.succeeded_reason,
                    message.clone(),
                )
                .with_observed_generation(generation),
            );
            status.last_applied_revision = Some(rel.chart.metadata.version.clone());
            status.last_release_revision = Some(i64::from(rel.version));
            let note = if changes.is_empty() {
                message
            } else {
                format!("{message}\n{}", changes.join("\n"))
            };
            req.event(Severity::Normal, kind.succeeded_reason, &note)
                .await;
            Ok(())
        }
        Err(err) => {
            rel.info.status = Status::Failed;
            rel.info.description = (kind.failed_description)(name, &err);
            req.record(&rel).await?;
            status.history = Some(req.history().await?);
            let message = fail_msg(&err);
            set_condition(
                &mut status.conditions,
                Condition::new(
                    condition_types::RELEASED,
                    false,
                    kind.failed_reason,
                    message.clone(),
                )
                .with_observed_generation(generation),
            );
            // A failure that stored a revision counts against the retries.
            status.failures = Some(status.failures.unwrap_or(0) + 1);
            let counter = if action == "install" {
                &mut status.install_failures
            } else {
                &mut status.upgrade_failures
            };
            *counter = Some(counter.unwrap_or(0) + 1);
            req.event(Severity::Warning, kind.failed_reason, &message)
                .await;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_inventory_defaults_namespaced_objects_to_the_release_namespace() {
        let m = "---\n# Source: c/templates/a.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: other\n";
        let inv = manifest_inventory(m, "apps");
        let mut ids: Vec<String> = inv
            .refs()
            .iter()
            .map(|(r, _)| gyre_apply::inventory::object_id(r))
            .collect();
        ids.sort();
        assert_eq!(
            ids,
            [
                "_r_rbac.authorization.k8s.io_ClusterRole",
                "apps_a__Service",
                "other_d_apps_Deployment"
            ]
        );
    }

    #[test]
    fn a_written_manifest_reads_back_as_the_same_objects() {
        let objects = vec![
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"k": "v"}}),
        ];
        let m = manifest(&objects, &["c/templates/a.yaml".into(), String::new()]);
        assert!(m.contains("# Source: c/templates/a.yaml\n"));
        assert_eq!(manifest_objects(&m), objects);
        assert!(manifest_objects("---\n# only a comment\n---\n").is_empty());
    }
}
