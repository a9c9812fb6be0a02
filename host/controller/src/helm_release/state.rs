//! Where a Helm release stands against what its HelmRelease asks for, as
//! helm-controller's `DetermineReleaseState` decides it: absent, locked, unmanaged, out
//! of sync, failed or in sync. Pure: the release history and the status history in,
//! a state out.
//!
//! Also the status history itself ([`history`], [`snapshot`]): Flux's `status.history`
//! snapshots, built here from the storage after every action, with a digest of each
//! stored release so that a release written by someone else (a person's `helm rollback`)
//! is told apart from the one Gyre recorded.

use gyre_api::helm::Snapshot;
use gyre_release::{Release, Status};
use sha2::{Digest, Sha256};

use super::values;

/// The state of a release, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseState {
    /// No release in the storage, or only an uninstalled one.
    Absent(String),
    /// The newest revision is pending (an install, upgrade or rollback was interrupted).
    Locked(Status),
    /// The newest revision is not the one the HelmRelease recorded: someone else wrote
    /// it, or Gyre has no record at all.
    Unmanaged(String),
    /// The deployed revision was made from another chart or other values.
    OutOfSync(String),
    /// The newest revision, recorded by the HelmRelease, failed.
    Failed,
    /// The deployed revision is the recorded one and matches the chart and values.
    InSync,
    /// The newest revision has a status no action starts from (e.g. `superseded`).
    Unknown(String),
}

/// The chart and values a HelmRelease asks for.
#[derive(Debug, Clone, Copy)]
pub struct Desired<'a> {
    /// Chart name (`Chart.yaml`).
    pub chart_name: &'a str,
    /// Chart version (`Chart.yaml`).
    pub chart_version: &'a str,
    /// [`values::digest`] of the merged values.
    pub config_digest: &'a str,
    /// Whether `spec.postRenderers` changed since the last successful release
    /// ([`super::post_render::changed`]).
    pub post_renderers_changed: bool,
}

/// Determines the state of the release from its stored revisions (oldest first) and
/// the HelmRelease's `status.history`.
pub fn determine(releases: &[Release], history: &[Snapshot], desired: &Desired) -> ReleaseState {
    let Some(latest) = releases.last() else {
        return ReleaseState::Absent("no release in storage for object".into());
    };
    if latest.info.status.is_pending() {
        return ReleaseState::Locked(latest.info.status.clone());
    }
    let Some(recorded) = history.iter().max_by_key(|s| s.version) else {
        if latest.info.status == Status::Uninstalled {
            return ReleaseState::Absent("found uninstalled release in storage".into());
        }
        return ReleaseState::Unmanaged("found existing release in storage".into());
    };
    if recorded.name != latest.name
        || recorded.namespace != latest.namespace
        || recorded.version != i64::from(latest.version)
    {
        return ReleaseState::Unmanaged(format!(
            "release not observed to be made for object: latest in storage is {}, last recorded is {}",
            full_name(latest),
            recorded.full_release_name()
        ));
    }
    if recorded.digest != release_digest(latest) {
        return ReleaseState::Unmanaged(format!(
            "release digest verification error: {} was changed in storage",
            full_name(latest)
        ));
    }
    match latest.info.status {
        Status::Failed => ReleaseState::Failed,
        Status::Uninstalled => ReleaseState::Absent("found uninstalled release in storage".into()),
        Status::Deployed => {
            let meta = &latest.chart.metadata;
            if meta.name != desired.chart_name || meta.version != desired.chart_version {
                return ReleaseState::OutOfSync(format!(
                    "release chart changed: {}@{} → {}@{}",
                    meta.name, meta.version, desired.chart_name, desired.chart_version
                ));
            }
            if recorded.config_digest != desired.config_digest {
                return ReleaseState::OutOfSync("release config digest changed".into());
            }
            if desired.post_renderers_changed {
                return ReleaseState::OutOfSync("postrenderers digest has changed".into());
            }
            ReleaseState::InSync
        }
        ref other => ReleaseState::Unknown(format!(
            "unable to determine state for release with status '{other}'"
        )),
    }
}

/// `<namespace>/<name>.v<version>`, as Flux's messages name a release.
pub fn full_name(r: &Release) -> String {
    format!("{}/{}.v{}", r.namespace, r.name, r.version)
}

/// `sha256:<hex>` of the release as Gyre encodes it: changes whenever anything stored in
/// the revision changes (its status, its description, its manifest).
pub fn release_digest(r: &Release) -> String {
    let encoded = serde_json::to_vec(r).unwrap_or_default();
    format!("sha256:{}", hex::encode(Sha256::digest(&encoded)))
}

/// The snapshot of one stored revision.
pub fn snapshot(r: &Release, config_digest: &str) -> Snapshot {
    let ts = |t: &gyre_release::Time| {
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            t.0.and_then(|d| k8s_openapi::jiff::Timestamp::from_second(d.timestamp()).ok())
                .unwrap_or_else(k8s_openapi::jiff::Timestamp::now),
        )
    };
    Snapshot {
        api_version: None,
        digest: release_digest(r),
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
        test_hooks: super::test::snapshot_hooks(r),
        oci_digest: None,
    }
}

/// Flux's history, newest first: the newest revision, then older ones down to and
/// including the previous successful one (`deployed` or `superseded`) — what a rollback
/// goes back to, as Flux's `Snapshots.Truncate` keeps it.
pub fn history(releases: &[Release]) -> Vec<Snapshot> {
    let mut out = Vec::new();
    for (i, r) in releases.iter().rev().enumerate() {
        out.push(snapshot(r, &values::digest(&r.config)));
        if i > 0 && matches!(r.info.status, Status::Deployed | Status::Superseded) {
            break;
        }
    }
    out
}

/// The snapshot a rollback goes back to: the newest one before the latest that was
/// deployed or superseded (Flux's `Snapshots.Previous`).
pub fn previous(history: &[Snapshot]) -> Option<&Snapshot> {
    let latest = history.iter().map(|s| s.version).max()?;
    history
        .iter()
        .filter(|s| s.version < latest && matches!(s.status.as_str(), "deployed" | "superseded"))
        .max_by_key(|s| s.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(v: i32, s: Status, replicas: i64) -> Release {
        let mut config = gyre_release::Values::new();
        config.insert("replicaCount".into(), replicas.into());
        Release {
            name: "podinfo".into(),
            namespace: "apps".into(),
            version: v,
            info: gyre_release::Info {
                status: s,
                ..Default::default()
            },
            chart: gyre_release::Chart {
                metadata: gyre_release::Metadata {
                    name: "podinfo".into(),
                    version: "6.5.4".into(),
                    ..Default::default()
                },
                ..Default::default()
            },
            config,
            ..Default::default()
        }
    }

    fn digest_of(replicas: i64) -> String {
        let mut config = gyre_release::Values::new();
        config.insert("replicaCount".into(), replicas.into());
        values::digest(&config)
    }

    fn desired(digest: &str) -> Desired<'_> {
        Desired {
            chart_name: "podinfo",
            chart_version: "6.5.4",
            config_digest: digest,
            post_renderers_changed: false,
        }
    }

    #[test]
    fn no_release_is_absent_and_a_pending_one_is_locked() {
        let d = digest_of(3);
        assert!(matches!(
            determine(&[], &[], &desired(&d)),
            ReleaseState::Absent(_)
        ));
        let rs = [rel(1, Status::PendingInstall, 3)];
        assert_eq!(
            determine(&rs, &history(&rs), &desired(&d)),
            ReleaseState::Locked(Status::PendingInstall)
        );
    }

    #[test]
    fn the_recorded_deployed_release_is_in_sync_until_values_or_chart_change() {
        let rs = [rel(1, Status::Superseded, 2), rel(2, Status::Deployed, 3)];
        let h = history(&rs);
        assert_eq!(
            determine(&rs, &h, &desired(&digest_of(3))),
            ReleaseState::InSync
        );
        assert!(matches!(
            determine(&rs, &h, &desired(&digest_of(4))),
            ReleaseState::OutOfSync(_)
        ));
        let d3 = digest_of(3);
        let mut other_chart = desired(&d3);
        other_chart.chart_version = "6.5.3";
        assert!(matches!(
            determine(&rs, &h, &other_chart),
            ReleaseState::OutOfSync(_)
        ));
    }

    #[test]
    fn a_revision_written_by_someone_else_is_unmanaged() {
        // Gyre recorded 1..2; a person's `helm rollback` wrote 3.
        let mut rs = vec![rel(1, Status::Superseded, 2), rel(2, Status::Deployed, 3)];
        let h = history(&rs);
        rs[1].info.status = Status::Superseded;
        rs.push(rel(3, Status::Deployed, 2));
        let d = digest_of(3);
        match determine(&rs, &h, &desired(&d)) {
            ReleaseState::Unmanaged(why) => assert!(why.contains("not observed"), "{why}"),
            other => panic!("{other:?}"),
        }
        // The same version, changed in storage.
        let mut rs = vec![rel(1, Status::Deployed, 3)];
        let h = history(&rs);
        rs[0].info.description = "edited".into();
        match determine(&rs, &h, &desired(&d)) {
            ReleaseState::Unmanaged(why) => assert!(why.contains("digest"), "{why}"),
            other => panic!("{other:?}"),
        }
        // No record at all.
        assert!(matches!(
            determine(&rs, &[], &desired(&d)),
            ReleaseState::Unmanaged(_)
        ));
    }

    #[test]
    fn failed_and_uninstalled_releases() {
        let d = digest_of(3);
        let rs = [rel(1, Status::Deployed, 2), rel(2, Status::Failed, 3)];
        assert_eq!(
            determine(&rs, &history(&rs), &desired(&d)),
            ReleaseState::Failed
        );
        let rs = [rel(1, Status::Uninstalled, 3)];
        assert!(matches!(
            determine(&rs, &history(&rs), &desired(&d)),
            ReleaseState::Absent(_)
        ));
        assert!(matches!(
            determine(&rs, &[], &desired(&d)),
            ReleaseState::Absent(_)
        ));
    }

    #[test]
    fn history_keeps_the_latest_down_to_the_previous_successful_release() {
        let versions = |rs: &[Release]| -> Vec<(i64, String)> {
            history(rs)
                .iter()
                .map(|s| (s.version, s.status.clone()))
                .collect()
        };
        let rs = [
            rel(1, Status::Superseded, 1),
            rel(2, Status::Superseded, 1),
            rel(3, Status::Failed, 1),
            rel(4, Status::Deployed, 1),
        ];
        assert_eq!(
            versions(&rs),
            [
                (4, "deployed".to_string()),
                (3, "failed".to_string()),
                (2, "superseded".to_string())
            ]
        );
        let h = history(&rs);
        assert_eq!(previous(&h).map(|s| s.version), Some(2));
        let rs = [rel(1, Status::Deployed, 1), rel(2, Status::Failed, 1)];
        assert_eq!(previous(&history(&rs)).map(|s| s.version), Some(1));
        let rs = [rel(1, Status::Failed, 1)];
        assert_eq!(previous(&history(&rs)), None);
    }
}
