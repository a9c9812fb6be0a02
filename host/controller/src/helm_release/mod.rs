//! The HelmRelease reconciler: chart artifact → values → render (Helm plugin) → release
//! record → apply → prune → wait → release record and status, as helm-controller does an
//! install or an upgrade.
//!
//! The chart comes from a HelmChart: one generated from `spec.chart` (named
//! `<namespace>-<name>` in the source's namespace, labelled with the HelmRelease and
//! deleted with it) or the one `spec.chartRef` names; or from the OCIRepository
//! `spec.chartRef` names ([`oci_chart`]). Release records are Helm's
//! (`gyre-release`), so `helm list` and `helm history` see every revision; objects are
//! applied with server-side apply and labelled `helm.toolkit.fluxcd.io/name|namespace`
//! like helm-controller's. Nothing is written when neither the chart nor the values
//! changed since the deployed revision. `spec.postRenderers` run over the rendered chart
//! before the revision is recorded (see [`post_render`]); changing them upgrades.
//! `dependsOn` holds the release back until the named HelmReleases are ready
//! ([`crate::dependencies`]). Objects and release records go through the release's
//! connection ([`client`]): impersonating `serviceAccountName` (or
//! `--default-service-account`), or to the remote cluster of `kubeConfig.secretRef`;
//! that cluster's `/version` and discovery are the chart's `.Capabilities`.
//!
//! # Caveats
//! Not in this slice: remediation (retries, rollback, uninstall strategy), hooks (the
//! renderer is asked for none, so hooks do not run), Helm tests, drift detection,
//! and CRD policies. A failed release is not retried until the chart or the
//! values change (Flux's behaviour with zero remediation retries). ConfigMaps and Secrets
//! of `valuesFrom` are re-read on every reconcile; they trigger one only when labelled
//! `reconcile.fluxcd.io/watch: Enabled`, as in Flux 2.4+. A HelmChart generated for an
//! older `spec.chart` (another source namespace) is not garbage-collected until deletion.
//! The config digest is computed over Gyre's YAML encoding of the values (see
//! [`values::digest`]).

pub mod client;
pub mod oci_chart;
pub mod post_render;
pub mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gyre_api::helm::{HelmRelease, HelmReleaseStatus, Snapshot};
use gyre_api::meta::{self, Condition, condition_types, find_condition, set_condition};
use gyre_api::source::HelmChart;
use gyre_apply::{Applier, ApplyOptions, Inventory, ObjectRef, Owner, PruneOptions, WaitOptions};
use gyre_plugin::{Limits, World};
use gyre_release::{Release, SecretStorage, Status};
use gyre_render::{PluginSource, build};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::events::Severity;
use crate::source::{FINALIZER, chain, in_store, to_store_artifact};
use crate::status;

/// helm-controller's condition reasons.
pub mod reason {
    /// The chart artifact is missing or could not be read.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// The release could not be prepared (values, chart loading, storage).
    pub const INIT_FAILED: &str = "InitFailed";
    /// The last release could not be read from the storage.
    pub const GET_LAST_RELEASE_FAILED: &str = "GetLastReleaseFailed";
    /// Install succeeded.
    pub const INSTALL_SUCCEEDED: &str = "InstallSucceeded";
    /// Install failed.
    pub const INSTALL_FAILED: &str = "InstallFailed";
    /// Upgrade succeeded.
    pub const UPGRADE_SUCCEEDED: &str = "UpgradeSucceeded";
    /// Upgrade failed.
    pub const UPGRADE_FAILED: &str = "UpgradeFailed";
    /// Uninstall succeeded.
    pub const UNINSTALL_SUCCEEDED: &str = "UninstallSucceeded";
    /// The client for the target cluster (impersonation, kubeconfig) cannot be built.
    pub const REST_CLIENT_ERROR: &str = "RESTClientError";
    /// A reference into another namespace is not allowed.
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// The failed release is not retried without remediation retries.
    pub const RETRIES_EXCEEDED: &str = "RetriesExceeded";
}

/// Labels helm-controller puts on the HelmChart it generates.
const NAME_LABEL: &str = gyre_apply::HELM_NAME_LABEL;
const NAMESPACE_LABEL: &str = gyre_apply::HELM_NAMESPACE_LABEL;

/// A failed step: the reason, the message, and whether retrying without a change is
/// pointless (the release failed for this chart and these values).
struct Failure {
    reason: &'static str,
    message: String,
    stalled: bool,
}

impl Failure {
    fn new(reason: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            reason,
            message: message.into(),
            stalled: false,
        }
    }
}

/// The chart to release: its artifact, where it came from, and its identity.
struct ChartArtifact {
    /// `source.toolkit.fluxcd.io` HelmChart the artifact belongs to.
    object: gyre_source::ObjectRef,
    artifact: gyre_source::Artifact,
}

/// What a reconcile did to the release.
enum Done {
    /// Nothing changed: the deployed revision matches the chart and values.
    UpToDate(Release),
    /// An install or upgrade succeeded.
    Released {
        release: Release,
        action: &'static str,
        changes: Vec<String>,
    },
}

/// Reconciles one HelmRelease.
///
/// # Errors
/// Only when the finalizer or the status cannot be written.
pub async fn reconcile(hr: Arc<HelmRelease>, ctx: Arc<Context>) -> Result<Action> {
    let ns = hr.namespace().unwrap_or_default();
    let api: Api<HelmRelease> = Api::namespaced(ctx.client.clone(), &ns);
    let what = status::describe(hr.as_ref());
    finalizer(&api, FINALIZER, hr, |event| async {
        match event {
            FinalizerEvent::Apply(hr) => apply(&api, hr, &ctx).await,
            FinalizerEvent::Cleanup(hr) => cleanup(hr, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer {
            object: what,
            message: other.to_string(),
        },
    })
}

/// Namespace and name of the HelmChart a HelmRelease uses: the generated one for
/// `spec.chart`, the referenced one for `spec.chartRef`.
pub fn chart_object(hr: &HelmRelease) -> Option<(String, String)> {
    let own = hr.namespace().unwrap_or_default();
    if let Some(c) = &hr.spec.chart {
        let ns = c.spec.source_ref.namespace.clone().unwrap_or(own);
        return Some((ns, hr.helm_chart_name()));
    }
    let r = hr.spec.chart_ref.as_ref()?;
    (r.kind == "HelmChart").then(|| (r.namespace.clone().unwrap_or(own), r.name.clone()))
}

/// Creates or updates the HelmChart generated from `spec.chart` (server-side apply, so
/// a changed template moves the chart's generation and the source controller rebuilds).
async fn ensure_chart(ctx: &Context, hr: &HelmRelease) -> Result<(), Failure> {
    let Some(template) = &hr.spec.chart else {
        return Ok(());
    };
    let (ns, name) = chart_object(hr).expect("spec.chart is set");
    let t = &template.spec;
    let mut labels: BTreeMap<String, String> = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(NAME_LABEL.into(), hr.name_any());
    labels.insert(NAMESPACE_LABEL.into(), hr.namespace().unwrap_or_default());
    let mut spec = json!({
        "chart": t.chart,
        "version": t.version(),
        "sourceRef": {"kind": t.source_ref.kind, "name": t.source_ref.name},
        "interval": t.interval.as_ref().unwrap_or(&hr.spec.interval),
        "reconcileStrategy": t.reconcile_strategy.as_deref().unwrap_or("ChartVersion"),
    });
    if let Some(files) = &t.values_files {
        spec["valuesFiles"] = json!(files);
    }
    if let Some(file) = &t.values_file {
        spec["valuesFile"] = json!(file);
    }
    if let Some(i) = t.ignore_missing_values_files {
        spec["ignoreMissingValuesFiles"] = json!(i);
    }
    let mut metadata = json!({"name": name, "namespace": ns, "labels": labels});
    if let Some(a) = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
    {
        metadata["annotations"] = json!(a);
    }
    let body = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmChart",
        "metadata": metadata,
        "spec": spec,
    });
    let api: Api<HelmChart> = Api::namespaced(ctx.client.clone(), &ns);
    api.patch(
        &name,
        &PatchParams::apply(status::FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(|e| {
        Failure::new(
            reason::ARTIFACT_FAILED,
            format!("failed to create or update HelmChart '{ns}/{name}': {e}"),
        )
    })?;
    Ok(())
}

/// The chart artifact of the HelmRelease's HelmChart, once it is ready.
async fn chart_artifact(ctx: &Context, hr: &HelmRelease) -> Result<ChartArtifact, Failure> {
    if hr.spec.chart.is_some() == hr.spec.chart_ref.is_some() {
        return Err(Failure {
            reason: meta::reasons::INVALID,
            message: "exactly one of spec.chart and spec.chartRef must be set".into(),
            stalled: true,
        });
    }
    if let Some(r) = hr
        .spec
        .chart_ref
        .as_ref()
        .filter(|r| r.kind == "OCIRepository")
    {
        return oci_chart::artifact(ctx, hr, r).await;
    }
    let Some((ns, name)) = chart_object(hr) else {
        let kind = hr
            .spec
            .chart_ref
            .as_ref()
            .map(|r| r.kind.clone())
            .unwrap_or_default();
        return Err(Failure {
            reason: meta::reasons::INVALID,
            message: format!(
                "spec.chartRef kind {kind:?} is not supported (HelmChart, OCIRepository)"
            ),
            stalled: true,
        });
    };
    if ctx.options.no_cross_namespace_refs && ns != hr.namespace().unwrap_or_default() {
        return Err(Failure {
            reason: reason::ACCESS_DENIED,
            message: format!(
                "cannot access the chart source in namespace {ns}: cross-namespace references are not allowed"
            ),
            stalled: true,
        });
    }
    ensure_chart(ctx, hr).await?;
    let api: Api<HelmChart> = Api::namespaced(ctx.client.clone(), &ns);
    let chart = api
        .get_opt(&name)
        .await
        .map_err(|e| {
            Failure::new(
                reason::ARTIFACT_FAILED,
                format!("could not get HelmChart '{ns}/{name}': {e}"),
            )
        })?
        .ok_or_else(|| {
            Failure::new(
                reason::ARTIFACT_FAILED,
                format!("HelmChart '{ns}/{name}' not found"),
            )
        })?;
    let st = chart.status.clone().unwrap_or_default();
    let current = st.observed_generation == chart.metadata.generation;
    let ready = find_condition(&st.conditions, condition_types::READY);
    let not_ready = |why: String| {
        Failure::new(
            reason::ARTIFACT_FAILED,
            format!("HelmChart '{ns}/{name}' is not ready: {why}"),
        )
    };
    if !current || !ready.is_some_and(Condition::is_true) {
        let why = ready
            .map(|c| c.message.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "latest generation of object has not been reconciled".into());
        return Err(not_ready(why));
    }
    let artifact = st
        .artifact
        .filter(|a| in_store(ctx, a))
        .ok_or_else(|| not_ready("no artifact in storage".into()))?;
    Ok(ChartArtifact {
        object: gyre_source::ObjectRef::new("HelmChart", &ns, &name),
        artifact: to_store_artifact(&artifact),
    })
}

/// Extracts the chart and returns the chart directory inside `dir` and its metadata.
async fn extract_chart(
    ctx: &Context,
    chart: &ChartArtifact,
    dir: &Path,
) -> Result<(PathBuf, gyre_release::Metadata), Failure> {
    let fail = |m: String| Failure::new(reason::ARTIFACT_FAILED, m);
    let store = ctx.store.clone();
    let (obj, a, d) = (
        chart.object.clone(),
        chart.artifact.clone(),
        dir.to_path_buf(),
    );
    tokio::task::spawn_blocking(move || {
        store.extract(&obj, &a, &d, &gyre_source::Limits::default())
    })
    .await
    .map_err(|e| fail(e.to_string()))?
    .map_err(|e| fail(chain(&e)))?;
    let chart_dir = std::fs::read_dir(dir)
        .map_err(|e| fail(format!("reading the extracted chart: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("Chart.yaml").is_file())
        .ok_or_else(|| fail(format!("the artifact of {} holds no chart", chart.object)))?;
    let text = std::fs::read_to_string(chart_dir.join("Chart.yaml"))
        .map_err(|e| fail(format!("reading Chart.yaml: {e}")))?;
    let metadata: gyre_release::Metadata = serde_yaml_ng::from_str::<Value>(&text)
        .map_err(|e| e.to_string())
        .and_then(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
        .map_err(|e| fail(format!("loading Chart.yaml of {}: {e}", chart.object)))?;
    Ok((chart_dir, metadata))
}

/// Kinds that are cluster-scoped, for reading a release manifest back into object
/// references (Helm leaves the namespace of namespaced objects to the release's).
const CLUSTER_SCOPED: &[&str] = &[
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
    for doc in serde_yaml_ng::Deserializer::from_str(manifest) {
        let Ok(v) = <Value as serde::Deserialize>::deserialize(doc) else {
            continue;
        };
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

/// The release manifest Helm stores: each object as YAML under a `# Source:` comment.
fn manifest(objects: &[Value], origins: &[String]) -> String {
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

/// Helm's release status names Flux uses in its history.
fn snapshot(r: &Release, config_digest: &str) -> Snapshot {
    let ts = |t: &gyre_release::Time| {
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            t.0.and_then(|d| k8s_openapi::jiff::Timestamp::from_second(d.timestamp()).ok())
                .unwrap_or_else(k8s_openapi::jiff::Timestamp::now),
        )
    };
    let encoded = serde_json::to_vec(r).unwrap_or_default();
    Snapshot {
        api_version: None,
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&encoded))),
        name: r.name.clone(),
        namespace: r.namespace.clone(),
        version: i64::from(r.version),
        status: r.info.status.as_str().to_string(),
        chart_name: r.chart.metadata.name.clone(),
        chart_version: r.chart.metadata.version.clone(),
        config_digest: config_digest.to_string(),
        first_deployed: ts(&r.info.first_deployed),
        last_deployed: ts(&r.info.last_deployed),
        deleted: (!r.info.deleted.is_zero()).then(|| ts(&r.info.deleted)),
        test_hooks: None,
        oci_digest: None,
    }
}

/// Flux's history: the releases newest first, down to the last successful one.
fn history(releases: &[Release]) -> Vec<Snapshot> {
    let mut out = Vec::new();
    for r in releases.iter().rev() {
        out.push(snapshot(r, &values::digest(&r.config)));
        if matches!(r.info.status, Status::Deployed | Status::Superseded) {
            break;
        }
    }
    out
}

/// `<namespace>/<name>.v<version>`, as Flux's messages name a release.
fn full_name(r: &Release) -> String {
    format!("{}/{}.v{}", r.namespace, r.name, r.version)
}

/// Installs or upgrades when the chart or the values moved; nothing otherwise.
async fn release(
    ctx: &Context,
    hr: &HelmRelease,
    chart: &ChartArtifact,
    status: &mut HelmReleaseStatus,
) -> Result<Done, Failure> {
    let name = hr.release_name();
    let release_ns = hr.release_namespace();
    let target = client::resolve(ctx, hr)
        .await
        .map_err(|m| Failure::new(reason::REST_CLIENT_ERROR, m))?;
    let storage = SecretStorage::new(target.client.clone(), &hr.storage_namespace());
    status.storage_namespace = Some(storage.namespace().to_string());

    let user_values = values::collect(&ctx.client, hr)
        .await
        .map_err(|m| Failure::new(reason::INIT_FAILED, m))?;
    let config_digest = values::digest(&user_values);
    status.last_attempted_config_digest = Some(config_digest.clone());
    status.last_attempted_revision = Some(chart.artifact.revision.clone());

    let tmp = tempfile::Builder::new()
        .prefix("gyre-helm-")
        .tempdir()
        .map_err(|e| Failure::new(reason::ARTIFACT_FAILED, format!("temporary directory: {e}")))?;
    let (chart_dir, mut metadata) = extract_chart(ctx, chart, tmp.path()).await?;
    status.last_attempted_revision_digest = oci_chart::mutate(chart, &chart_dir, &mut metadata)?;
    if status.last_attempted_revision_digest.is_some() {
        status.last_attempted_revision = Some(metadata.version.clone());
    }
    let chart_id = format!("{}@{}", metadata.name, metadata.version);

    let storage_fail = |e: gyre_release::Error| {
        Failure::new(
            reason::GET_LAST_RELEASE_FAILED,
            format!(
                "release {name} in namespace {}: {}",
                storage.namespace(),
                chain(&e)
            ),
        )
    };
    let mut releases = storage.history(&name).await.map_err(storage_fail)?;
    let post_renderers_changed = post_render::changed(hr, status);
    let matches = |r: &Release| {
        !post_renderers_changed
            && r.chart.metadata.name == metadata.name
            && r.chart.metadata.version == metadata.version
            && values::digest(&r.config) == config_digest
    };
    // A revision left pending (a crash mid-release) is failed first, as Flux unlocks it.
    if let Some(last) = releases.last_mut().filter(|r| r.info.status.is_pending()) {
        last.info.status = Status::Failed;
        last.info.description = format!(
            "Release {:?} was left in a pending state by an interrupted release",
            last.name
        );
        storage.update(last).await.map_err(storage_fail)?;
    }
    let last = releases.last().cloned();
    let deployed = releases
        .iter()
        .rev()
        .find(|r| r.info.status == Status::Deployed)
        .cloned();
    if let Some(last) = &last {
        if last.info.status == Status::Deployed && matches(last) {
            status.history = Some(history(&releases));
            return Ok(Done::UpToDate(last.clone()));
        }
        if last.info.status == Status::Failed && matches(last) {
            status.history = Some(history(&releases));
            let action = if deployed.is_some() || last.version > 1 {
                reason::UPGRADE_FAILED
            } else {
                reason::INSTALL_FAILED
            };
            return Err(Failure {
                reason: action,
                message: format!(
                    "{}: {} (not retried: no remediation; change the chart or values to try again)",
                    full_name(last),
                    last.info.description
                ),
                stalled: true,
            });
        }
    }
    let upgrade = last.is_some();
    let (action, failed_reason) = if upgrade {
        ("upgrade", reason::UPGRADE_FAILED)
    } else {
        ("install", reason::INSTALL_FAILED)
    };
    status.last_attempted_release_action = Some(action.into());
    let version = last.as_ref().map_or(1, |l| l.version + 1);
    let fail_msg = |err: &str| {
        format!("Helm {action} failed for release {release_ns}/{name} with chart {chart_id}: {err}")
    };

    // Render.
    let renderer = ctx
        .plugins
        .load(
            &PluginSource::Builtin("helm".into()),
            World::Renderer,
            Limits::default(),
        )
        .await
        .map_err(|e| Failure::new(failed_reason, fail_msg(&e.chain())))?;
    let dir_name = chart_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into());
    let caps = target
        .capabilities()
        .await
        .map_err(|m| Failure::new(failed_reason, fail_msg(&m)))?;
    let config = json!({
        "releaseName": name,
        "namespace": release_ns,
        "kubeVersion": caps.kube_version,
        "apiVersions": caps.api_versions,
        "values": Value::Object(user_values.clone()),
        "includeCrds": true,
        "noHooks": true,
        "skipTests": true,
    });
    let out = build::build(renderer, tmp.path().to_path_buf(), dir_name, config)
        .await
        .map_err(|e| Failure::new(failed_reason, fail_msg(&e.chain())))?;
    let out = post_render::run(ctx, hr, out)
        .await
        .map_err(|e| Failure::new(failed_reason, fail_msg(&e.to_string())))?;

    // Record the pending revision, as Helm does before touching the cluster.
    let now = gyre_release::Time::now();
    let mut rel = Release {
        name: name.clone(),
        namespace: release_ns.clone(),
        info: gyre_release::Info {
            first_deployed: last.as_ref().map(|l| l.info.first_deployed).unwrap_or(now),
            last_deployed: now,
            status: if upgrade {
                Status::PendingUpgrade
            } else {
                Status::PendingInstall
            },
            description: if upgrade {
                "Preparing upgrade".into()
            } else {
                "Initial install underway".into()
            },
            ..Default::default()
        },
        chart: gyre_release::Chart {
            metadata,
            ..Default::default()
        },
        config: user_values,
        manifest: manifest(&out.objects, &out.origins),
        version,
        ..Default::default()
    };
    storage.create(&rel).await.map_err(|e| {
        Failure::new(
            failed_reason,
            fail_msg(&format!("storing the release: {}", chain(&e))),
        )
    })?;

    // Apply, prune what left the release, wait.
    let previous = deployed
        .as_ref()
        .map(|d| manifest_inventory(&d.manifest, &release_ns))
        .unwrap_or_default();
    let outcome = apply_release(&target.applier, hr, out.objects, &previous, upgrade).await;
    match outcome {
        Ok(changes) => {
            rel.info.status = Status::Deployed;
            rel.info.description = if upgrade {
                "Upgrade complete".into()
            } else {
                "Install complete".into()
            };
            storage.update(&rel).await.map_err(storage_fail)?;
            for mut old in storage.deployed_all(&name).await.map_err(storage_fail)? {
                if old.version != rel.version {
                    old.info.status = Status::Superseded;
                    storage.update(&old).await.map_err(storage_fail)?;
                }
            }
            let max = usize::try_from(hr.spec.max_history().max(0)).unwrap_or(0);
            storage
                .prune_history(&name, max)
                .await
                .map_err(storage_fail)?;
            let releases = storage.history(&name).await.map_err(storage_fail)?;
            status.history = Some(history(&releases));
            Ok(Done::Released {
                release: rel,
                action,
                changes,
            })
        }
        Err(err) => {
            rel.info.status = Status::Failed;
            rel.info.description = if upgrade {
                format!("Upgrade {name:?} failed: {err}")
            } else {
                format!("Release {name:?} failed: {err}")
            };
            storage.update(&rel).await.map_err(storage_fail)?;
            let releases = storage.history(&name).await.map_err(storage_fail)?;
            status.history = Some(history(&releases));
            Err(Failure::new(failed_reason, fail_msg(&err)))
        }
    }
}

/// Applies the rendered objects, prunes what left the release and waits for health
/// (unless the action's `disableWait`), within `spec.timeout`. Returns the change set's
/// lines.
async fn apply_release(
    applier: &Applier,
    hr: &HelmRelease,
    objects: Vec<Value>,
    previous: &Inventory,
    upgrade: bool,
) -> Result<Vec<String>, String> {
    let owner = Owner::helm_release(&hr.name_any(), &hr.namespace().unwrap_or_default());
    let mut opts = ApplyOptions::for_owner(owner.clone());
    opts.default_namespace = hr.release_namespace();
    let timeout = hr.spec.timeout();
    let work = async {
        let applied = applier.apply(objects, &opts).await.map_err(|f| f.chain())?;
        let mut changes: Vec<String> = applied
            .change_set()
            .summary()
            .lines()
            .map(str::to_string)
            .collect();
        let pruned = applier
            .prune(&applied, previous, &PruneOptions::for_owner(owner))
            .await
            .map_err(|f| f.chain())?;
        changes.extend(pruned.summary().lines().map(str::to_string));
        let no_wait = if upgrade {
            hr.spec.upgrade.as_ref().and_then(|u| u.disable_wait)
        } else {
            hr.spec.install.as_ref().and_then(|i| i.disable_wait)
        }
        .unwrap_or(false);
        if !no_wait {
            let wait = WaitOptions {
                timeout,
                ..WaitOptions::default()
            };
            applier
                .wait(&applied.health_targets(), &wait)
                .await
                .map_err(|e| e.chain())?;
        }
        Ok::<_, String>(changes)
    };
    tokio::time::timeout(timeout + Duration::from_secs(5), work)
        .await
        .map_err(|_| format!("timed out after {timeout:?}"))?
}

async fn apply(api: &Api<HelmRelease>, hr: Arc<HelmRelease>, ctx: &Context) -> Result<Action> {
    if hr.spec.suspended() {
        let conditions = hr
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default();
        status::record(&ctx.metrics, hr.as_ref(), &conditions, true);
        return Ok(Action::await_change());
    }
    let generation = hr.metadata.generation;
    let original = hr.status.clone().unwrap_or_default();
    let mut status = original.clone();
    let before = find_condition(&status.conditions, condition_types::READY).cloned();
    if let Some(at) = meta::requested_at(&hr.metadata) {
        status.last_handled_reconcile_at = Some(at.to_string());
    }
    status.last_attempted_generation = generation;
    status.helm_chart = chart_object(hr.as_ref())
        .filter(|_| hr.spec.chart.is_some())
        .map(|(ns, name)| format!("{ns}/{name}"));

    let outcome = async {
        crate::dependencies::check(ctx, hr.as_ref(), |_, _| true)
            .await
            .map_err(|m| Failure::new(meta::reasons::DEPENDENCY_NOT_READY, m))?;
        let chart = chart_artifact(ctx, &hr).await?;
        release(ctx, &hr, &chart, &mut status).await
    }
    .await;
    if outcome.is_ok() {
        status.observed_post_renderers_digest = post_render::digest(&hr.spec);
    }

    let what = status::describe(hr.as_ref());
    let conditions = &mut status.conditions;
    let mut event = None;
    let requeue = match outcome {
        Ok(Done::UpToDate(rel)) => {
            let message = format!(
                "Helm release {} with chart {}@{} is up to date",
                full_name(&rel),
                rel.chart.metadata.name,
                rel.chart.metadata.version
            );
            if before.as_ref().is_none_or(|c| !c.is_true()) {
                meta::mark_ready(
                    conditions,
                    generation,
                    reason::UPGRADE_SUCCEEDED,
                    message.clone(),
                );
                event = Some((Severity::Normal, reason::UPGRADE_SUCCEEDED, message));
            } else if let Some(c) = before.clone() {
                // Keep the message of the release that made it ready.
                meta::mark_ready(conditions, generation, &c.reason, c.message);
            }
            ctx.backoff.succeeded(&what);
            hr.spec.interval.as_std()
        }
        Ok(Done::Released {
            release,
            action,
            changes,
        }) => {
            let (reason, verb) = if action == "upgrade" {
                (reason::UPGRADE_SUCCEEDED, "upgrade")
            } else {
                (reason::INSTALL_SUCCEEDED, "install")
            };
            let message = format!(
                "Helm {verb} succeeded for release {} with chart {}@{}",
                full_name(&release),
                release.chart.metadata.name,
                release.chart.metadata.version
            );
            set_condition(
                conditions,
                Condition::new(condition_types::RELEASED, true, reason, message.clone())
                    .with_observed_generation(generation),
            );
            meta::mark_ready(conditions, generation, reason, message.clone());
            status.last_applied_revision = Some(release.chart.metadata.version.clone());
            status.last_release_revision = Some(i64::from(release.version));
            status.failures = None;
            status.install_failures = None;
            status.upgrade_failures = None;
            let note = if changes.is_empty() {
                message
            } else {
                format!("{message}\n{}", changes.join("\n"))
            };
            event = Some((Severity::Normal, reason, note));
            ctx.backoff.succeeded(&what);
            hr.spec.interval.as_std()
        }
        Err(failure) => {
            let released_failure = matches!(
                failure.reason,
                reason::INSTALL_FAILED | reason::UPGRADE_FAILED
            );
            if released_failure {
                set_condition(
                    conditions,
                    Condition::new(
                        condition_types::RELEASED,
                        false,
                        failure.reason,
                        failure.message.clone(),
                    )
                    .with_observed_generation(generation),
                );
            }
            let requeue = if failure.stalled {
                meta::mark_stalled(
                    conditions,
                    generation,
                    if released_failure {
                        reason::RETRIES_EXCEEDED
                    } else {
                        failure.reason
                    },
                    failure.message.clone(),
                );
                // Keep the action's reason on Ready, as Flux does.
                set_condition(
                    conditions,
                    Condition::new(
                        condition_types::READY,
                        false,
                        failure.reason,
                        failure.message.clone(),
                    )
                    .with_observed_generation(generation),
                );
                hr.spec.interval.as_std()
            } else {
                meta::mark_failed_with_retry(
                    conditions,
                    generation,
                    failure.reason,
                    failure.message.clone(),
                );
                if failure.reason == reason::ARTIFACT_FAILED {
                    Duration::from_secs(5).min(hr.spec.interval.as_std())
                } else if failure.reason == meta::reasons::DEPENDENCY_NOT_READY {
                    ctx.options.requeue_dependency
                } else {
                    ctx.backoff.failed(&what, hr.spec.interval.as_std())
                }
            };
            let repeated = before
                .as_ref()
                .is_some_and(|c| !c.is_true() && c.message == failure.message);
            if released_failure && !failure.stalled && !repeated {
                status.failures = Some(status.failures.unwrap_or(0) + 1);
                let counter = if failure.reason == reason::INSTALL_FAILED {
                    &mut status.install_failures
                } else {
                    &mut status.upgrade_failures
                };
                *counter = Some(counter.unwrap_or(0) + 1);
            }
            if !repeated {
                let severity = if [reason::ARTIFACT_FAILED, meta::reasons::DEPENDENCY_NOT_READY]
                    .contains(&failure.reason)
                {
                    Severity::Normal
                } else {
                    Severity::Warning
                };
                event = Some((severity, failure.reason, failure.message.clone()));
            }
            tracing::info!(object = %what, reason = failure.reason, error = %failure.message, "reconcile failed");
            requeue
        }
    };
    status.observed_generation = generation;
    status::finish(
        ctx,
        api,
        hr.as_ref(),
        &original,
        &status,
        &status.conditions,
        event,
    )
    .await?;
    Ok(Action::requeue(requeue))
}

/// Deletion: Helm's uninstall — the deployed revision's objects are deleted, then the
/// release records (or, with `uninstall.keepHistory`, the last one is marked
/// `uninstalled`) — and the generated HelmChart goes. A suspended HelmRelease is let go
/// without uninstalling, as Flux does.
async fn cleanup(hr: Arc<HelmRelease>, ctx: &Context) -> Result<Action> {
    let own_ns = hr.namespace().unwrap_or_default();
    ctx.metrics.forget("HelmRelease", &own_ns, &hr.name_any());
    if hr.spec.suspended() {
        return Ok(Action::await_change());
    }
    let what = status::describe(hr.as_ref());
    let fail = |m: String| Error::Finalizer {
        object: what.clone(),
        message: m,
    };
    let name = hr.release_name();
    let target = client::resolve(ctx, &hr).await.map_err(&fail)?;
    let storage = SecretStorage::new(target.client.clone(), &hr.storage_namespace());
    let releases = storage
        .history(&name)
        .await
        .map_err(|e| fail(format!("reading release {name}: {}", chain(&e))))?;
    if let Some(deployed) = releases
        .iter()
        .rev()
        .find(|r| r.info.status == Status::Deployed)
    {
        let previous = manifest_inventory(&deployed.manifest, &hr.release_namespace());
        let owner = Owner::helm_release(&hr.name_any(), &own_ns);
        let nothing = target
            .applier
            .apply(Vec::new(), &ApplyOptions::for_owner(owner.clone()))
            .await
            .map_err(|f| fail(f.chain()))?;
        target
            .applier
            .prune(&nothing, &previous, &PruneOptions::for_owner(owner))
            .await
            .map_err(|f| fail(format!("deleting the release's objects: {}", f.chain())))?;
    }
    let keep = hr
        .spec
        .uninstall
        .as_ref()
        .and_then(|u| u.keep_history)
        .unwrap_or(false);
    if keep {
        if let Some(mut last) = releases.last().cloned() {
            last.info.status = Status::Uninstalled;
            last.info.deleted = gyre_release::Time::now();
            last.info.description = "Uninstallation complete".into();
            storage.update(&last).await.map_err(|e| fail(chain(&e)))?;
        }
    } else {
        for r in &releases {
            match storage.delete(&name, r.version).await {
                Ok(()) | Err(gyre_release::Error::NotFound { .. }) => {}
                Err(e) => return Err(fail(chain(&e))),
            }
        }
    }
    if hr.spec.chart.is_some()
        && let Some((ns, chart)) = chart_object(hr.as_ref())
    {
        let api: Api<HelmChart> = Api::namespaced(ctx.client.clone(), &ns);
        match api.delete(&chart, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(fail(format!("deleting HelmChart '{ns}/{chart}': {e}"))),
        }
    }
    ctx.events
        .publish(
            hr.as_ref(),
            Severity::Normal,
            reason::UNINSTALL_SUCCEEDED,
            &format!(
                "Helm uninstall succeeded for release {}/{name}",
                hr.release_namespace()
            ),
        )
        .await;
    Ok(Action::await_change())
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
    fn history_stops_at_the_last_successful_release() {
        let r = |v: i32, s: Status| Release {
            name: "x".into(),
            version: v,
            info: gyre_release::Info {
                status: s,
                ..Default::default()
            },
            ..Default::default()
        };
        let h = history(&[
            r(1, Status::Superseded),
            r(2, Status::Deployed),
            r(3, Status::Failed),
        ]);
        let got: Vec<(i64, &str)> = h.iter().map(|s| (s.version, s.status.as_str())).collect();
        assert_eq!(got, [(3, "failed"), (2, "deployed")]);
    }
}
