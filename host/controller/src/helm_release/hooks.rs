//! Helm hooks: splitting a render into the release manifest and its hooks, and running the
//! hooks of one lifecycle event as Helm 3.17 does (`pkg/action/hooks.go`).
//!
//! A hook is a rendered template object annotated `helm.sh/hook: <event>[,<event>...]`.
//! It is not part of the release manifest: it is stored in the release record's `hooks`
//! (so `helm get hooks` shows it), created with a plain `create` (never server-side
//! applied, not labelled with helm-controller's `helm.toolkit.fluxcd.io/*` labels — Helm 3
//! post-renders only the manifest, so Flux's origin labels never reach hooks), not in the
//! inventory and never pruned. Running an event's hooks: sorted by `helm.sh/hook-weight`
//! then name (stable over the kind order the renderer gives), each one has its
//! `before-hook-creation` policy applied (the default when it names none), is created,
//! and is waited for — a Job until `Complete`, a Pod until `Succeeded`, anything else is
//! done once created — while its `last_run` is recorded in the release. The first failure
//! applies that hook's `hook-failed` policy and the `hook-succeeded` policy of the hooks
//! that ran before it, and stops; when all succeed, `hook-succeeded` is applied in reverse
//! order.
//!
//! # Caveats
//! `helm.sh/hook-output-log-policy` is kept in the record but no logs are copied (there
//! is no log API in the simulated cluster, and Flux does not surface them). A hook whose
//! `helm.sh/hook` names an unknown event is dropped, neither hook nor manifest, as Helm
//! does. An object from a chart's `crds/` directory is never a hook. Jobs and Pods are
//! polled (every 250 ms) rather than watched.

use std::time::Duration;

use gyre_api::helm::HelmRelease;
use gyre_release::{Hook, HookExecution, Release, SecretStorage, Time};
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use serde_json::Value;

/// The annotation naming the events a hook runs on.
pub const HOOK_ANNOTATION: &str = "helm.sh/hook";
/// The annotation ordering hooks of one event (an integer; 0 when absent or invalid).
pub const WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
/// The annotation naming when the hook object is deleted.
pub const DELETE_POLICY_ANNOTATION: &str = "helm.sh/hook-delete-policy";

/// Delete the previous hook object before creating it again (the default).
pub const BEFORE_HOOK_CREATION: &str = "before-hook-creation";
/// Delete the hook object once its event's hooks all succeeded.
pub const HOOK_SUCCEEDED: &str = "hook-succeeded";
/// Delete the hook object when it failed.
pub const HOOK_FAILED: &str = "hook-failed";

/// How often a hook being waited for (or deleted) is looked at.
const POLL: Duration = Duration::from_millis(250);

/// A lifecycle event hooks run on, with Helm's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// `pre-install`: after the release record is written, before the manifest.
    PreInstall,
    /// `post-install`: after the manifest is applied (and ready, when waiting).
    PostInstall,
    /// `pre-delete`: before the release's objects are deleted.
    PreDelete,
    /// `post-delete`: after the release's objects are deleted.
    PostDelete,
    /// `pre-upgrade`: before the new manifest is applied.
    PreUpgrade,
    /// `post-upgrade`: after the new manifest is applied (and ready, when waiting).
    PostUpgrade,
    /// `pre-rollback`: before the previous manifest is re-applied.
    PreRollback,
    /// `post-rollback`: after the previous manifest is re-applied.
    PostRollback,
    /// `test` (also spelled `test-success`, Helm 2's name): `helm test`.
    Test,
}

impl Event {
    /// Helm's name of the event, as stored in a hook's `events`.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::PreInstall => "pre-install",
            Event::PostInstall => "post-install",
            Event::PreDelete => "pre-delete",
            Event::PostDelete => "post-delete",
            Event::PreUpgrade => "pre-upgrade",
            Event::PostUpgrade => "post-upgrade",
            Event::PreRollback => "pre-rollback",
            Event::PostRollback => "post-rollback",
            Event::Test => "test",
        }
    }

    /// Parses one event of a `helm.sh/hook` annotation the way Helm does: trimmed,
    /// case-insensitive, `test-success` being `test`. `None` for an unknown event.
    pub fn parse(s: &str) -> Option<Event> {
        Some(match s.trim().to_lowercase().as_str() {
            "pre-install" => Event::PreInstall,
            "post-install" => Event::PostInstall,
            "pre-delete" => Event::PreDelete,
            "post-delete" => Event::PostDelete,
            "pre-upgrade" => Event::PreUpgrade,
            "post-upgrade" => Event::PostUpgrade,
            "pre-rollback" => Event::PreRollback,
            "post-rollback" => Event::PostRollback,
            "test" | "test-success" => Event::Test,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hook run that failed. Each message names the hook (`Kind/namespace/name` and its
/// template) and the cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The hook's stored manifest could not be turned into an object of a served kind.
    #[error("unable to build kubernetes object for {event} hook {path}: {cause}")]
    Build {
        /// The event being run.
        event: Event,
        /// The hook's template.
        path: String,
        /// Why.
        cause: String,
    },
    /// The hook could not be created, failed, or did not finish in time.
    #[error("{event} hook {hook} ({path}) failed: {cause}")]
    Failed {
        /// The event being run.
        event: Event,
        /// `Kind/namespace/name` of the hook object.
        hook: String,
        /// The hook's template.
        path: String,
        /// Why.
        cause: String,
    },
    /// A delete policy could not be applied.
    #[error("applying the {policy} delete policy of hook {hook}: {cause}")]
    Delete {
        /// The policy.
        policy: &'static str,
        /// `Kind/namespace/name` of the hook object.
        hook: String,
        /// Why.
        cause: String,
    },
}

/// A render split into the release manifest's objects and the hooks.
#[derive(Debug, Default)]
pub struct Split {
    /// The manifest's objects, in render order.
    pub objects: Vec<Value>,
    /// The template each object came from.
    pub origins: Vec<String>,
    /// The hooks, in render order (the renderer sorts them by kind, as Helm does).
    pub hooks: Vec<Hook>,
}

/// Splits rendered objects into manifest objects and hooks (by `helm.sh/hook`). A hook
/// naming an unknown event is dropped, as Helm drops it.
pub fn split(objects: Vec<Value>, origins: Vec<String>) -> Split {
    let mut out = Split::default();
    for (i, obj) in objects.into_iter().enumerate() {
        let origin = origins.get(i).cloned().unwrap_or_default();
        // CRDs of a chart's crds/ directory are installed as they are, never as hooks.
        let from_templates = origin.contains("/templates/");
        match obj["metadata"]["annotations"][HOOK_ANNOTATION].as_str() {
            Some(events) if from_templates => {
                if let Some(h) = hook(&obj, events, &origin) {
                    out.hooks.push(h);
                } else {
                    tracing::info!(hook = events, path = %origin, "skipping unknown hook");
                }
            }
            _ => {
                out.objects.push(obj);
                out.origins.push(origin);
            }
        }
    }
    out
}

/// The release record of one hook object; `None` when an event is unknown.
fn hook(obj: &Value, events: &str, path: &str) -> Option<Hook> {
    let events: Vec<String> = events
        .split(',')
        .map(|e| Event::parse(e).map(|e| e.as_str().to_string()))
        .collect::<Option<_>>()?;
    let annotations = &obj["metadata"]["annotations"];
    // Helm's strconv.Atoi: no trimming, and anything unparsable weighs 0.
    let weight = annotations[WEIGHT_ANNOTATION]
        .as_str()
        .and_then(|w| w.parse::<i32>().ok())
        .unwrap_or(0);
    let delete_policies = annotations[DELETE_POLICY_ANNOTATION]
        .as_str()
        .map(|p| p.split(',').map(|p| p.trim().to_lowercase()).collect())
        .unwrap_or_default();
    Some(Hook {
        name: obj["metadata"]["name"].as_str().unwrap_or_default().into(),
        kind: obj["kind"].as_str().unwrap_or_default().into(),
        path: path.into(),
        manifest: serde_yaml_ng::to_string(obj).unwrap_or_default(),
        events,
        last_run: HookExecution::default(),
        weight,
        delete_policies,
        extra: Default::default(),
    })
}

/// Whether a hook runs on `event`.
pub fn runs_on(h: &Hook, event: Event) -> bool {
    h.events.iter().any(|e| e == event.as_str())
}

/// The indices of `rel`'s hooks for `event` that `select` keeps, in Helm's execution
/// order: by weight, then by name, otherwise as stored.
fn execution_order(rel: &Release, event: Event, select: &dyn Fn(&Hook) -> bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rel.hooks.len())
        .filter(|&i| runs_on(&rel.hooks[i], event) && select(&rel.hooks[i]))
        .collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&rel.hooks[a], &rel.hooks[b]);
        a.weight.cmp(&b.weight).then_with(|| a.name.cmp(&b.name))
    });
    order
}

/// Runs `rel`'s hooks of `event`, recording each one's `last_run` in the release (the
/// stored record is updated as each hook starts, as Helm does; the caller stores the
/// final state).
///
/// # Errors
/// The first hook that cannot be built, created, or that fails or times out (after
/// `timeout`, per hook); a delete policy that cannot be applied.
pub async fn run_hooks(
    client: &kube::Client,
    hr: &HelmRelease,
    rel: &mut Release,
    event: Event,
    timeout: Duration,
) -> Result<(), Error> {
    run_selected(client, hr, rel, event, timeout, &|_| true).await
}

/// [`run_hooks`] for the hooks `select` keeps (Helm test's name filters).
pub(super) async fn run_selected(
    client: &kube::Client,
    hr: &HelmRelease,
    rel: &mut Release,
    event: Event,
    timeout: Duration,
    select: &(dyn Fn(&Hook) -> bool + Sync),
) -> Result<(), Error> {
    let storage = SecretStorage::new(client.clone(), &hr.storage_namespace());
    let order = execution_order(rel, event, select);
    for (n, &i) in order.iter().enumerate() {
        if rel.hooks[i].delete_policies.is_empty() {
            // Helm's default, written back into the record as Helm does.
            rel.hooks[i].delete_policies = vec![BEFORE_HOOK_CREATION.into()];
        }
        let target = Target::build(client, &rel.hooks[i], &rel.namespace)
            .await
            .map_err(|cause| Error::Build {
                event,
                path: rel.hooks[i].path.clone(),
                cause,
            })?;
        delete_by_policy(&target, &rel.hooks[i], BEFORE_HOOK_CREATION, timeout).await?;

        rel.hooks[i].last_run = HookExecution {
            started_at: Time::now(),
            phase: "Running".into(),
            ..Default::default()
        };
        if let Err(e) = storage.update(rel).await {
            // As Helm: recording progress is best effort, the hook still runs.
            tracing::warn!(release = %rel.name, error = %e, "recording the hook start");
        }
        // What is left if neither outcome is reached (Helm's HookPhaseUnknown).
        rel.hooks[i].last_run.phase = "Unknown".into();

        let path = rel.hooks[i].path.clone();
        let fail = |cause: String| Error::Failed {
            event,
            hook: target.display.clone(),
            path: path.clone(),
            cause,
        };
        if let Err(cause) = target.create().await {
            rel.hooks[i].last_run.completed_at = Time::now();
            rel.hooks[i].last_run.phase = "Failed".into();
            return Err(fail(cause));
        }
        let result = target.wait_until_done(timeout).await;
        rel.hooks[i].last_run.completed_at = Time::now();
        if let Err(cause) = result {
            let err = fail(cause);
            rel.hooks[i].last_run.phase = "Failed".into();
            if let Err(e) = delete_by_policy(&target, &rel.hooks[i], HOOK_FAILED, timeout).await {
                // The hook's failure is what the release reports.
                tracing::warn!(error = %e, "deleting a failed hook");
            }
            for &done in &order[..n] {
                let t = Target::build(client, &rel.hooks[done], &rel.namespace)
                    .await
                    .map_err(|cause| Error::Build {
                        event,
                        path: rel.hooks[done].path.clone(),
                        cause,
                    })?;
                delete_by_policy(&t, &rel.hooks[done], HOOK_SUCCEEDED, timeout).await?;
            }
            return Err(err);
        }
        rel.hooks[i].last_run.phase = "Succeeded".into();
    }
    for &i in order.iter().rev() {
        let t = Target::build(client, &rel.hooks[i], &rel.namespace)
            .await
            .map_err(|cause| Error::Build {
                event,
                path: rel.hooks[i].path.clone(),
                cause,
            })?;
        delete_by_policy(&t, &rel.hooks[i], HOOK_SUCCEEDED, timeout).await?;
    }
    Ok(())
}

/// Deletes the hook's object when it has `policy`, and waits until it is gone.
/// CustomResourceDefinitions are never deleted (Helm avoids the cascade).
async fn delete_by_policy(
    target: &Target,
    h: &Hook,
    policy: &'static str,
    timeout: Duration,
) -> Result<(), Error> {
    if h.kind == "CustomResourceDefinition" || !h.delete_policies.iter().any(|p| p == policy) {
        return Ok(());
    }
    target
        .delete_and_wait(timeout)
        .await
        .map_err(|cause| Error::Delete {
            policy,
            hook: target.display.clone(),
            cause,
        })
}

/// A hook object and the API it lives in.
struct Target {
    api: Api<DynamicObject>,
    object: Value,
    name: String,
    kind: String,
    group: String,
    /// `Kind/namespace/name` (`Kind/name` when cluster-scoped).
    display: String,
}

impl Target {
    /// Parses the stored manifest and resolves its kind; namespaced objects without a
    /// namespace go to the release's.
    async fn build(client: &kube::Client, h: &Hook, release_ns: &str) -> Result<Target, String> {
        let mut object: Value =
            serde_yaml_ng::from_str(&h.manifest).map_err(|e| format!("parsing: {e}"))?;
        let (Some(api_version), Some(kind), Some(name)) = (
            object["apiVersion"].as_str().map(str::to_string),
            object["kind"].as_str().map(str::to_string),
            object["metadata"]["name"].as_str().map(str::to_string),
        ) else {
            return Err("apiVersion, kind and metadata.name are required".into());
        };
        let (group, version) = api_version
            .split_once('/')
            .unwrap_or(("", api_version.as_str()));
        let gvk = GroupVersionKind::gvk(group, version, &kind);
        let (ar, caps) = kube::discovery::pinned_kind(client, &gvk)
            .await
            .map_err(|e| {
                format!(
                    "resource mapping not found for kind {kind:?} in version {api_version:?}: {e}"
                )
            })?;
        let (api, display) = if caps.scope == Scope::Namespaced {
            let ns = object["metadata"]["namespace"]
                .as_str()
                .filter(|s| !s.is_empty())
                .unwrap_or(release_ns)
                .to_string();
            object["metadata"]["namespace"] = Value::String(ns.clone());
            (
                Api::namespaced_with(client.clone(), &ns, &ar),
                format!("{kind}/{ns}/{name}"),
            )
        } else {
            (Api::all_with(client.clone(), &ar), format!("{kind}/{name}"))
        };
        Ok(Target {
            api,
            object,
            name,
            kind,
            group: group.to_string(),
            display,
        })
    }

    /// Creates the object (a plain create: an existing object is an error, as in Helm).
    async fn create(&self) -> Result<(), String> {
        let obj: DynamicObject =
            serde_json::from_value(self.object.clone()).map_err(|e| e.to_string())?;
        self.api
            .create(&PostParams::default(), &obj)
            .await
            .map(|_| ())
            .map_err(|e| format!("creating it: {e}"))
    }

    /// Waits for a Job to complete or a Pod to succeed; other kinds are done once
    /// created (Helm's WatchUntilReady).
    async fn wait_until_done(&self, timeout: Duration) -> Result<(), String> {
        let job = self.group == "batch" && self.kind == "Job";
        let pod = self.group.is_empty() && self.kind == "Pod";
        if !job && !pod {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let live = self
                .api
                .get_opt(&self.name)
                .await
                .map_err(|e| format!("reading it: {e}"))?
                .map(|o| serde_json::to_value(o).unwrap_or_default());
            let Some(live) = live else {
                return Err(format!(
                    "{} was deleted while being waited for",
                    self.display
                ));
            };
            let done = if job {
                job_done(&live, &self.name)
            } else {
                pod_done(&live, &self.name)
            };
            if let Some(result) = done {
                return result;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {timeout:?} waiting for the condition"
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Deletes the object (background propagation, as Helm) and waits until it is gone.
    async fn delete_and_wait(&self, timeout: Duration) -> Result<(), String> {
        match self
            .api
            .delete(&self.name, &DeleteParams::background())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(format!("deleting it: {e}")),
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.api.get_opt(&self.name).await {
                Ok(None) => return Ok(()),
                Ok(Some(_)) if tokio::time::Instant::now() >= deadline => {
                    return Err(format!(
                        "timed out after {timeout:?} waiting for its deletion"
                    ));
                }
                Ok(Some(_)) => tokio::time::sleep(POLL).await,
                Err(e) => return Err(format!("reading it: {e}")),
            }
        }
    }
}

/// A Job's outcome once it has one: `Complete` succeeds, `Failed` fails with its reason.
fn job_done(job: &Value, name: &str) -> Option<Result<(), String>> {
    let conditions = job["status"]["conditions"].as_array()?;
    for c in conditions {
        if c["status"] != "True" {
            continue;
        }
        match c["type"].as_str() {
            Some("Complete") => return Some(Ok(())),
            Some("Failed") => {
                let reason = c["reason"].as_str().unwrap_or_default();
                return Some(Err(format!("job {name} failed: {reason}")));
            }
            _ => {}
        }
    }
    None
}

/// A Pod's outcome once it has one: phase `Succeeded` or `Failed`.
fn pod_done(pod: &Value, name: &str) -> Option<Result<(), String>> {
    match pod["status"]["phase"].as_str()? {
        "Succeeded" => Some(Ok(())),
        "Failed" => Some(Err(format!("pod {name} failed"))),
        _ => None,
    }
}

/// Whether hooks run for `event` of this HelmRelease (`disableHooks` of the action), and
/// the action's timeout (its own, else `spec.timeout`).
pub fn settings(hr: &HelmRelease, event: Event) -> (bool, Duration) {
    let s = &hr.spec;
    let pick = |disable: Option<bool>, timeout: Option<&gyre_api::duration::Duration>| {
        (
            !disable.unwrap_or(false),
            timeout.map_or(s.timeout(), |t| t.as_std()),
        )
    };
    match event {
        Event::PreInstall | Event::PostInstall => {
            let i = s.install.as_ref();
            pick(
                i.and_then(|i| i.disable_hooks),
                i.and_then(|i| i.timeout.as_ref()),
            )
        }
        Event::PreUpgrade | Event::PostUpgrade => {
            let u = s.upgrade.as_ref();
            pick(
                u.and_then(|u| u.disable_hooks),
                u.and_then(|u| u.timeout.as_ref()),
            )
        }
        Event::PreRollback | Event::PostRollback => {
            let r = s.rollback.as_ref();
            pick(
                r.and_then(|r| r.disable_hooks),
                r.and_then(|r| r.timeout.as_ref()),
            )
        }
        Event::PreDelete | Event::PostDelete => {
            let u = s.uninstall.as_ref();
            pick(
                u.and_then(|u| u.disable_hooks),
                u.and_then(|u| u.timeout.as_ref()),
            )
        }
        Event::Test => {
            let t = s.test.as_ref();
            pick(None, t.and_then(|t| t.timeout.as_ref()))
        }
    }
}

/// Runs the hooks of a release action's `event` unless the action disables hooks, with
/// the action's timeout, and words a failure as Helm's action does (it becomes the
/// release description: `failed pre-install: …`, `pre-upgrade hooks failed: …`).
///
/// # Errors
/// The hook failure, worded for the release description.
pub async fn run_for_action(
    client: &kube::Client,
    hr: &HelmRelease,
    rel: &mut Release,
    event: Event,
) -> Result<(), String> {
    let (enabled, timeout) = settings(hr, event);
    if !enabled {
        return Ok(());
    }
    run_hooks(client, hr, rel, event, timeout)
        .await
        .map_err(|e| match event {
            Event::PreInstall | Event::PostInstall => format!("failed {event}: {e}"),
            Event::PreUpgrade | Event::PostUpgrade => format!("{event} hooks failed: {e}"),
            _ => e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: &str, name: &str, annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "annotations": annotations}})
    }

    #[test]
    fn split_separates_hooks_from_the_manifest_and_parses_their_annotations() {
        let objects = vec![
            obj("ConfigMap", "plain", json!({})),
            obj(
                "Job",
                "migrate",
                json!({"helm.sh/hook": " Pre-Upgrade, pre-install ", "helm.sh/hook-weight": "-5",
                       "helm.sh/hook-delete-policy": "hook-succeeded, Hook-Failed"}),
            ),
            obj("Pod", "test", json!({"helm.sh/hook": "test-success"})),
            obj(
                "ConfigMap",
                "odd",
                json!({"helm.sh/hook": "pre-install,someday"}),
            ),
            obj(
                "ConfigMap",
                "w",
                json!({"helm.sh/hook": "post-install", "helm.sh/hook-weight": " 3"}),
            ),
            obj(
                "CustomResourceDefinition",
                "crd",
                json!({"helm.sh/hook": "pre-install"}),
            ),
        ];
        let origins = [
            "c/templates/cm.yaml",
            "c/templates/job.yaml",
            "c/templates/tests/t.yaml",
            "c/templates/odd.yaml",
            "c/templates/w.yaml",
            "c/crds/crd.yaml",
        ]
        .map(String::from)
        .to_vec();
        let s = split(objects, origins);
        let names: Vec<&str> = s
            .objects
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["plain", "crd"]);
        assert_eq!(s.origins, ["c/templates/cm.yaml", "c/crds/crd.yaml"]);
        let hooks: Vec<(&str, Vec<&str>, i32, Vec<&str>)> = s
            .hooks
            .iter()
            .map(|h| {
                (
                    h.name.as_str(),
                    h.events.iter().map(String::as_str).collect(),
                    h.weight,
                    h.delete_policies.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            hooks,
            [
                (
                    "migrate",
                    vec!["pre-upgrade", "pre-install"],
                    -5,
                    vec!["hook-succeeded", "hook-failed"]
                ),
                ("test", vec!["test"], 0, vec![]),
                // Atoi does not trim: " 3" weighs 0.
                ("w", vec!["post-install"], 0, vec![]),
            ]
        );
        let job = &s.hooks[0];
        assert_eq!(job.kind, "Job");
        assert_eq!(job.path, "c/templates/job.yaml");
        let back: Value = serde_yaml_ng::from_str(&job.manifest).unwrap();
        assert_eq!(back["metadata"]["name"], "migrate");
    }

    #[test]
    fn hooks_run_by_weight_then_name_and_only_for_their_event() {
        let h = |name: &str, weight: i32, events: &[&str]| Hook {
            name: name.into(),
            weight,
            events: events.iter().map(|e| e.to_string()).collect(),
            ..Default::default()
        };
        let rel = Release {
            hooks: vec![
                h("b", 0, &["pre-install"]),
                h("z", -1, &["pre-install", "pre-upgrade"]),
                h("a", 0, &["pre-install"]),
                h("post", -10, &["post-install"]),
                h("c", 5, &["pre-install"]),
            ],
            ..Default::default()
        };
        let names = |event, select: &dyn Fn(&Hook) -> bool| -> Vec<String> {
            execution_order(&rel, event, select)
                .into_iter()
                .map(|i| rel.hooks[i].name.clone())
                .collect()
        };
        assert_eq!(names(Event::PreInstall, &|_| true), ["z", "a", "b", "c"]);
        assert_eq!(names(Event::PreUpgrade, &|_| true), ["z"]);
        assert_eq!(names(Event::PostInstall, &|_| true), ["post"]);
        assert_eq!(
            names(Event::PreInstall, &|h| h.name != "a"),
            ["z", "b", "c"]
        );
        assert!(names(Event::Test, &|_| true).is_empty());
    }

    #[test]
    fn job_and_pod_outcomes_follow_their_status() {
        assert_eq!(job_done(&json!({"status": {"active": 1}}), "j"), None);
        assert_eq!(
            job_done(
                &json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}),
                "j"
            ),
            Some(Ok(()))
        );
        assert_eq!(
            job_done(
                &json!({"status": {"conditions": [{"type": "FailureTarget", "status": "True"},
                    {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}}),
                "j"
            ),
            Some(Err("job j failed: BackoffLimitExceeded".into()))
        );
        assert_eq!(
            pod_done(&json!({"status": {"phase": "Running"}}), "p"),
            None
        );
        assert_eq!(
            pod_done(&json!({"status": {"phase": "Succeeded"}}), "p"),
            Some(Ok(()))
        );
        assert_eq!(
            pod_done(&json!({"status": {"phase": "Failed"}}), "p"),
            Some(Err("pod p failed".into()))
        );
    }

    #[test]
    fn event_names_parse_as_helm_parses_them() {
        for e in [
            Event::PreInstall,
            Event::PostInstall,
            Event::PreDelete,
            Event::PostDelete,
            Event::PreUpgrade,
            Event::PostUpgrade,
            Event::PreRollback,
            Event::PostRollback,
            Event::Test,
        ] {
            assert_eq!(Event::parse(e.as_str()), Some(e));
        }
        assert_eq!(Event::parse(" TEST-success"), Some(Event::Test));
        assert_eq!(Event::parse("crd-install"), None);
    }
}
