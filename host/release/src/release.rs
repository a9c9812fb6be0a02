//! Helm's release model (`helm.sh/helm/v3/pkg/release`), with Helm's JSON field names.
//!
//! Every struct keeps the fields it does not know in a flattened `extra` map, so a release
//! written by a newer `helm` and re-written by Gyre (a status change, say) loses nothing.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, FixedOffset, Timelike, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A JSON object: chart values, user-supplied values, unknown fields.
pub type Values = Map<String, Value>;

/// One revision of a release: what Helm stores per Secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// The release name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Status, timestamps, description and notes.
    #[serde(default)]
    pub info: Info,
    /// The chart this revision was rendered from (metadata, templates, default values).
    #[serde(default)]
    pub chart: Chart,
    /// The user-supplied values (what `helm get values` prints), not merged with the chart's.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub config: Values,
    /// The rendered manifest, `---`-separated, without hooks.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// The hooks rendered from the chart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Hook>,
    /// The revision, starting at 1.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i32,
    /// The namespace the release's objects are installed in (may differ from the storage
    /// namespace).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Custom labels. Helm keeps them out of the JSON (`json:"-"`) and stores them as labels
    /// of the release Secret, next to its own system labels.
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
    /// Fields this model does not know, kept so that re-encoding loses nothing.
    #[serde(flatten)]
    pub extra: Values,
}

impl Release {
    /// The revision `helm rollback` writes (Helm's `prepareRollback`): revision
    /// `current.version + 1` carrying `previous`'s chart, values, manifest, hooks, notes and
    /// labels, `first_deployed` kept from `current`, status `pending-rollback` and the
    /// description `Rollback to <previous.version>`.
    ///
    /// Helm stores it with [`create`](crate::SecretStorage::create), applies its manifest,
    /// then on success marks every deployed revision `superseded` and this one `deployed`;
    /// on failure it marks `current` `superseded` and this one `failed` with the description
    /// `Rollback "<name>" failed: <error>`.
    pub fn prepare_rollback(current: &Release, previous: &Release) -> Release {
        Release {
            name: current.name.clone(),
            namespace: current.namespace.clone(),
            info: Info {
                first_deployed: current.info.first_deployed,
                last_deployed: Time::now(),
                status: Status::PendingRollback,
                notes: previous.info.notes.clone(),
                description: format!("Rollback to {}", previous.version),
                ..Info::default()
            },
            chart: previous.chart.clone(),
            config: previous.config.clone(),
            manifest: previous.manifest.clone(),
            hooks: previous.hooks.clone(),
            version: current.version + 1,
            labels: previous.labels.clone(),
            extra: Values::new(),
        }
    }

    /// `<name>-<version>` of the chart, as `helm list` shows it in its CHART column.
    pub fn chart_ref(&self) -> String {
        format!(
            "{}-{}",
            self.chart.metadata.name, self.chart.metadata.version
        )
    }
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

/// Release information: status, timestamps, description, notes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// When the first revision of the release was deployed.
    #[serde(default)]
    pub first_deployed: Time,
    /// When this revision was deployed.
    #[serde(default)]
    pub last_deployed: Time,
    /// When the release was uninstalled; zero (`""`) otherwise.
    #[serde(default)]
    pub deleted: Time,
    /// The human-readable log line `helm history` shows ("Install complete", "Rollback to 1").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The revision's status.
    #[serde(default)]
    pub status: Status,
    /// The rendered `NOTES.txt`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Cluster resources as `helm status --show-resources` fills them in memory (opaque
    /// here).
    ///
    /// # Caveats
    /// Never store a release with this set: helm 3.17 cannot decode it (its
    /// `map[string][]runtime.Object` has no JSON decoder) and `helm list`/`history` then
    /// silently drop the revision (seen against helm v3.17.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Value>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Values,
}

/// A revision's status, with Helm's strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Status {
    /// `unknown`: the state could not be determined.
    #[default]
    Unknown,
    /// `deployed`: the live revision.
    Deployed,
    /// `uninstalled`: uninstalled with `--keep-history`.
    Uninstalled,
    /// `superseded`: a later revision was deployed.
    Superseded,
    /// `failed`: the install, upgrade or rollback failed.
    Failed,
    /// `uninstalling`: an uninstall is in progress.
    Uninstalling,
    /// `pending-install`: an install is in progress.
    PendingInstall,
    /// `pending-upgrade`: an upgrade is in progress.
    PendingUpgrade,
    /// `pending-rollback`: a rollback is in progress.
    PendingRollback,
    /// A status string this version does not know; kept verbatim.
    Other(String),
}

impl Status {
    /// Helm's string for the status.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Unknown => "unknown",
            Status::Deployed => "deployed",
            Status::Uninstalled => "uninstalled",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
            Status::Other(s) => s,
        }
    }

    /// Parses Helm's string; an unknown string becomes [`Status::Other`].
    pub fn parse(s: &str) -> Status {
        match s {
            "unknown" => Status::Unknown,
            "deployed" => Status::Deployed,
            "uninstalled" => Status::Uninstalled,
            "superseded" => Status::Superseded,
            "failed" => Status::Failed,
            "uninstalling" => Status::Uninstalling,
            "pending-install" => Status::PendingInstall,
            "pending-upgrade" => Status::PendingUpgrade,
            "pending-rollback" => Status::PendingRollback,
            other => Status::Other(other.to_string()),
        }
    }

    /// Whether an operation is in progress (Helm refuses a new one while a revision is
    /// pending).
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Status::parse(&String::deserialize(d)?))
    }
}

/// A timestamp as Helm writes it: Go's RFC 3339 with nanoseconds (trailing zeros dropped),
/// and `""` for Go's zero time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Time(pub Option<DateTime<FixedOffset>>);

impl Time {
    /// Now, in UTC.
    pub fn now() -> Time {
        Time(Some(Utc::now().fixed_offset()))
    }

    /// Whether this is Go's zero time (written as `""`).
    pub fn is_zero(&self) -> bool {
        self.0.is_none()
    }

    /// The timestamp as Go's `time.RFC3339Nano` formats it; `""` when zero.
    pub fn to_go_string(&self) -> String {
        let Some(t) = self.0 else {
            return String::new();
        };
        let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let nanos = t.nanosecond() % 1_000_000_000;
        if nanos != 0 {
            // RFC3339Nano prints up to nine digits and drops trailing zeros.
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        let offset = t.offset().local_minus_utc();
        if offset == 0 {
            out.push('Z');
        } else {
            let sign = if offset < 0 { '-' } else { '+' };
            let abs = offset.unsigned_abs();
            out.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60));
        }
        out
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_go_string())
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Helm's time type reads both `null` and `""` as the zero time.
        match Option::<String>::deserialize(d)? {
            None => Ok(Time(None)),
            Some(s) if s.is_empty() => Ok(Time(None)),
            Some(s) => DateTime::parse_from_rfc3339(&s)
                .map(|t| Time(Some(t)))
                .map_err(|e| D::Error::custom(format!("timestamp {s:?} is not RFC 3339: {e}"))),
        }
    }
}

/// A chart as Helm stores it in a release (`helm.sh/helm/v3/pkg/chart.Chart`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    /// The contents of `Chart.yaml`.
    #[serde(default)]
    pub metadata: Metadata,
    /// The contents of `Chart.lock` (opaque here); `null` when absent.
    #[serde(default)]
    pub lock: Option<Value>,
    /// The chart's templates.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub templates: Vec<File>,
    /// The chart's default values (`values.yaml`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_map_as_null"
    )]
    pub values: Values,
    /// `values.schema.json`, base64 in JSON as Go writes `[]byte`; `null` when absent.
    #[serde(default, with = "opt_bytes")]
    pub schema: Option<Vec<u8>>,
    /// The chart's other files (README, LICENSE, and so on).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub files: Vec<File>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Values,
}

/// A file of a chart: a path relative to the chart root and its bytes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct File {
    /// The path, e.g. `templates/configmap.yaml`.
    #[serde(default)]
    pub name: String,
    /// The contents (base64 in JSON, as Go writes `[]byte`).
    #[serde(default, with = "bytes")]
    pub data: Vec<u8>,
}

/// Chart metadata (`Chart.yaml`), with Helm's JSON field names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// The chart name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The project's home page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub home: String,
    /// Source URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// The chart's SemVer version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// A one-line description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Keywords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Maintainers (`name`, `email`, `url`), kept as JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintainers: Vec<Value>,
    /// An icon URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icon: String,
    /// The chart API version (`v1` or `v2`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// A values path that enables the chart as a dependency.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    /// Tags that enable the chart as a dependency.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tags: String,
    /// The version of the packaged application (`helm list`'s APP VERSION).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app_version: String,
    /// Whether the chart is deprecated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// A SemVer constraint on the Kubernetes version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kube_version: String,
    /// Dependencies, kept as JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Value>,
    /// `application` or `library`.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub chart_type: String,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Values,
}

/// A hook rendered from a chart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    /// The hook object's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The hook object's kind.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The chart-relative template path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The rendered object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// The events it fires on (`pre-install`, `post-upgrade`, `test`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// The last execution.
    #[serde(default)]
    pub last_run: HookExecution,
    /// The ordering weight among hooks of the same event.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight: i32,
    /// When to delete the hook object (`before-hook-creation`, `hook-succeeded`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_policies: Vec<String>,
    /// Fields this model does not know (e.g. `output_log_policies`).
    #[serde(flatten)]
    pub extra: Values,
}

/// The result of a hook's last execution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HookExecution {
    /// When it started.
    #[serde(default)]
    pub started_at: Time,
    /// When it completed.
    #[serde(default)]
    pub completed_at: Time,
    /// `Unknown`, `Running`, `Succeeded` or `Failed` (empty before the first run).
    #[serde(default)]
    pub phase: String,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Values,
}

/// Go's `nil` slices and maps are written as `null`; read them as empty.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Go writes a nil slice as `null`; an empty list here is what Helm holds as nil (its chart
/// loader only allocates when it finds a file), so `null` keeps Helm's JSON unchanged.
fn empty_as_null<S: Serializer, T: Serialize>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        v.serialize(s)
    }
}

/// As [`empty_as_null`], for Go's nil maps (an empty `values.yaml` unmarshals to nil).
fn empty_map_as_null<S: Serializer>(v: &Values, s: S) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        v.serialize(s)
    }
}

/// Go's `[]byte` in JSON: standard base64; `null` for a nil slice.
mod bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(Vec::new()),
            Some(s) => STANDARD.decode(s).map_err(D::Error::custom),
        }
    }
}

/// An optional Go `[]byte`: `null` when absent.
mod opt_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            None => s.serialize_none(),
            Some(b) => s.serialize_str(&STANDARD.encode(b)),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| STANDARD.decode(s).map_err(D::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_are_written_as_go_writes_rfc3339_nano() {
        let t: Time = serde_json::from_value(json!("2025-04-01T10:20:30.123400000Z")).unwrap();
        assert_eq!(
            serde_json::to_value(t).unwrap(),
            json!("2025-04-01T10:20:30.1234Z")
        );
        let t: Time = serde_json::from_value(json!("2025-04-01T10:20:30+02:00")).unwrap();
        assert_eq!(
            serde_json::to_value(t).unwrap(),
            json!("2025-04-01T10:20:30+02:00")
        );
        let zero: Time = serde_json::from_value(json!("")).unwrap();
        assert!(zero.is_zero());
        assert_eq!(serde_json::to_value(zero).unwrap(), json!(""));
        let null: Time = serde_json::from_value(json!(null)).unwrap();
        assert!(null.is_zero());
        assert!(serde_json::from_value::<Time>(json!("yesterday")).is_err());
    }

    #[test]
    fn statuses_use_helms_strings_and_keep_unknown_ones() {
        for s in [
            "unknown",
            "deployed",
            "uninstalled",
            "superseded",
            "failed",
            "uninstalling",
            "pending-install",
            "pending-upgrade",
            "pending-rollback",
        ] {
            let st: Status = serde_json::from_value(json!(s)).unwrap();
            assert!(!matches!(st, Status::Other(_)), "{s}");
            assert_eq!(serde_json::to_value(&st).unwrap(), json!(s));
        }
        let st: Status = serde_json::from_value(json!("paused")).unwrap();
        assert_eq!(st, Status::Other("paused".into()));
        assert_eq!(serde_json::to_value(&st).unwrap(), json!("paused"));
        assert!(Status::PendingUpgrade.is_pending());
        assert!(!Status::Deployed.is_pending());
    }

    #[test]
    fn unknown_fields_round_trip_at_every_level() {
        let doc = json!({
            "name": "app",
            "info": {"first_deployed": "2025-01-01T00:00:00Z", "last_deployed": "2025-01-01T00:00:00Z",
                     "deleted": "", "description": "Install complete", "status": "deployed",
                     "future_info": 1},
            "chart": {"metadata": {"name": "demo", "version": "1.0.0", "apiVersion": "v2",
                                   "appVersion": "2.0", "type": "application", "futureMeta": true},
                      "lock": null, "templates": [{"name": "templates/cm.yaml", "data": "YQ=="}],
                      "values": {"a": 1}, "schema": null, "files": null, "future_chart": "x"},
            "config": {"replicas": 3},
            "manifest": "---\n",
            "hooks": [{"name": "h", "kind": "Job", "events": ["pre-install"],
                       "last_run": {"started_at": "", "completed_at": "", "phase": ""},
                       "output_log_policies": ["hook-failed"]}],
            "version": 2,
            "namespace": "apps",
            "future_top": {"k": "v"}
        });
        let r: Release = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(r.chart.templates[0].data, b"a");
        assert_eq!(r.chart.metadata.app_version, "2.0");
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["future_top"], doc["future_top"]);
        assert_eq!(back["info"]["future_info"], 1);
        assert_eq!(back["chart"]["future_chart"], "x");
        assert_eq!(back["chart"]["metadata"]["futureMeta"], true);
        assert_eq!(
            back["hooks"][0]["output_log_policies"],
            json!(["hook-failed"])
        );
        assert_eq!(back["chart"]["templates"], doc["chart"]["templates"]);
        assert_eq!(back["info"], doc["info"]);
        assert_eq!(back["chart"]["metadata"], doc["chart"]["metadata"]);
        let again: Release = serde_json::from_value(back).unwrap();
        assert_eq!(again, r);
    }
}
