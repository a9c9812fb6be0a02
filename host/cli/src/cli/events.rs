//! `gyre events`: the Kubernetes Events of Flux and Gyre objects (core/v1
//! and events.k8s.io/v1, which a real API server serves as two views of the
//! same objects), oldest first, like `flux events`.

use super::cluster::{ClusterArgs, Kind, Paint, Table, to_json};
use anyhow::Context;
use clap::Args;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;
use std::collections::HashSet;

/// Flags of `gyre events`.
#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// Only the events of this object (`Kustomization/podinfo`) or of every
    /// object of a kind (`Kustomization`).
    #[arg(long = "for", value_name = "KIND[/NAME]")]
    for_object: Option<String>,
    /// Only events of these types: `Normal`, `Warning` (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    types: Vec<String>,
    /// After listing, print new events as they come, until interrupted.
    #[arg(short, long)]
    watch: bool,
    /// Events of every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// One event, from either API.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    uid: String,
    namespace: String,
    last_seen: Option<Timestamp>,
    type_: String,
    reason: String,
    api_version: String,
    kind: String,
    name: String,
    message: String,
}

impl Event {
    /// What makes an occurrence new: the event, when it was last seen, and
    /// what it says.
    fn key(&self) -> (String, Option<Timestamp>, String) {
        (self.uid.clone(), self.last_seen, self.message.clone())
    }

    /// Whether the event is about a Flux or Gyre object: one of the kinds
    /// the CLI knows, or any kind of a Flux or Gyre API group.
    fn is_flux(&self) -> bool {
        let group = self.api_version.split('/').next().unwrap_or_default();
        Kind::from_name(&self.kind).is_some()
            || group.ends_with(".toolkit.fluxcd.io")
            || group.ends_with("gyre.dev")
    }
}

/// Runs `gyre events`.
pub(super) async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let filter = match &args.for_object {
        Some(f) => {
            let (kind, name) = match f.split_once('/') {
                Some((k, n)) => (k.to_string(), Some(n.to_string())),
                None => (f.clone(), None),
            };
            anyhow::ensure!(
                !kind.is_empty() && name.as_deref() != Some(""),
                "--for {f:?} is not KIND[/NAME] (hint: --for Kustomization/podinfo)"
            );
            Some((kind, name))
        }
        None => None,
    };
    for t in &args.types {
        anyhow::ensure!(
            t.eq_ignore_ascii_case("normal") || t.eq_ignore_ascii_case("warning"),
            "--types {t:?} is not an event type (hint: --types Normal,Warning)"
        );
    }
    let client = args.cluster.client().await?;
    let ns = if args.all_namespaces {
        None
    } else {
        Some(args.cluster.namespace.as_str())
    };
    let events = fetch(&client, ns, &filter, &args.types).await?;
    if events.is_empty() && !args.watch {
        let place = match ns {
            Some(ns) => format!("{ns} namespace"),
            None => "any namespace".into(),
        };
        match &args.for_object {
            Some(f) => eprintln!("✗ no events found for {f} in {place}"),
            None => eprintln!("✗ no events found for Flux or Gyre objects in {place}"),
        }
        return Ok(());
    }
    let paint = Paint::stdout();
    print!("{}", render(&events, args.all_namespaces, &paint));
    if !args.watch {
        return Ok(());
    }
    // --watch: relist every two seconds, print what is new or was seen again.
    let mut seen: HashSet<_> = events.iter().map(Event::key).collect();
    loop {
        use std::io::Write;
        std::io::stdout().flush()?;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let fresh: Vec<Event> = fetch(&client, ns, &filter, &args.types)
            .await?
            .into_iter()
            .filter(|e| seen.insert(e.key()))
            .collect();
        if !fresh.is_empty() {
            let text = render(&fresh, args.all_namespaces, &paint);
            print!("{}", text.split_once('\n').map_or("", |(_, rows)| rows));
        }
    }
}

/// The events (both APIs, one of each), filtered and oldest first.
async fn fetch(
    client: &kube::Client,
    ns: Option<&str>,
    filter: &Option<(String, Option<String>)>,
    types: &[String],
) -> anyhow::Result<Vec<Event>> {
    let mut events = list(client, ns, "", "v1").await?;
    // Events written through events.k8s.io are also core Events; keep one of each.
    match list(client, ns, "events.k8s.io", "v1").await {
        Ok(more) => events.extend(more),
        Err(e) => tracing::debug!("events.k8s.io not listed: {e:#}"),
    }
    let mut seen = HashSet::new();
    events.retain(|e| e.uid.is_empty() || seen.insert(e.uid.clone()));
    events.retain(|e| match filter {
        Some((kind, name)) => {
            e.kind.eq_ignore_ascii_case(kind) && name.as_ref().is_none_or(|n| &e.name == n)
        }
        None => e.is_flux(),
    });
    events.retain(|e| types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(&e.type_)));
    events.sort_by_key(|e| e.last_seen);
    Ok(events)
}

/// The events as a table, flux's columns, warnings in yellow on a terminal.
fn render(events: &[Event], all_namespaces: bool, paint: &Paint) -> String {
    let now = Timestamp::now();
    let mut header = vec!["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"];
    if all_namespaces {
        header.insert(0, "NAMESPACE");
    }
    let mut table = Table::new(&header);
    for e in events {
        let mut row = vec![
            e.last_seen
                .map(|t| age(now.duration_since(t).as_secs().max(0) as u64))
                .unwrap_or_else(|| "<unknown>".into()),
            e.type_.clone(),
            e.reason.clone(),
            format!("{}/{}", e.kind, e.name),
            e.message.replace('\n', " "),
        ];
        if all_namespaces {
            row.insert(0, e.namespace.clone());
        }
        table.row(row);
    }
    let type_col = usize::from(all_namespaces) + 1;
    table.render(|i, value, padded| {
        if i == type_col && value == "Warning" {
            paint.warn(padded)
        } else {
            padded.to_string()
        }
    })
}

/// The events of one API group (`""` for core/v1).
async fn list(
    client: &kube::Client,
    ns: Option<&str>,
    group: &str,
    version: &str,
) -> anyhow::Result<Vec<Event>> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, "Event"),
        "events",
    );
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let list = api
        .list(&ListParams::default())
        .await
        .with_context(|| format!("listing {} events", ar.api_version))?;
    Ok(list.items.iter().map(|o| parse(&to_json(o))).collect())
}

/// Reads either API's shape.
fn parse(o: &Value) -> Event {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let core = o["involvedObject"].is_object();
    let object = if core {
        &o["involvedObject"]
    } else {
        &o["regarding"]
    };
    let times = [
        &o["series"]["lastObservedTime"],
        &o["lastTimestamp"],
        &o["deprecatedLastTimestamp"],
        &o["eventTime"],
        &o["firstTimestamp"],
        &o["deprecatedFirstTimestamp"],
        &o["metadata"]["creationTimestamp"],
    ];
    let last_seen = times
        .iter()
        .filter_map(|t| t.as_str())
        .find_map(|t| t.parse::<Timestamp>().ok());
    Event {
        uid: s(&o["metadata"]["uid"]),
        namespace: s(&o["metadata"]["namespace"]),
        last_seen,
        type_: s(&o["type"]),
        reason: s(&o["reason"]),
        api_version: s(&object["apiVersion"]),
        kind: s(&object["kind"]),
        name: s(&object["name"]),
        message: if core {
            s(&o["message"])
        } else {
            s(&o["note"])
        },
    }
}

/// An age the way kubectl prints it: `45s`, `3m12s`, `25m`, `2h5m`, `3d`.
fn age(secs: u64) -> String {
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        format!("{m}m{}s", secs % 60)
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        format!("{h}h{}m", m % 60)
    } else if h < 48 {
        format!("{h}h")
    } else {
        format!("{d}d")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_event_apis_are_read_into_one_shape() {
        let core = parse(&json!({
            "metadata": {"uid": "1", "namespace": "flux-system"},
            "involvedObject": {"kind": "Kustomization", "name": "podinfo"},
            "type": "Normal", "reason": "ReconciliationSucceeded", "message": "ok",
            "lastTimestamp": "2026-01-01T00:00:05Z", "firstTimestamp": "2026-01-01T00:00:00Z"
        }));
        assert_eq!(core.kind, "Kustomization");
        assert_eq!(core.message, "ok");
        assert_eq!(core.last_seen.unwrap().as_second(), 1_767_225_605);
        let new = parse(&json!({
            "metadata": {"uid": "2", "namespace": "flux-system"},
            "regarding": {"kind": "GitRepository", "name": "podinfo"},
            "type": "Warning", "reason": "GitOperationFailed", "note": "boom",
            "eventTime": "2026-01-01T00:00:01.123456Z"
        }));
        assert_eq!(
            (new.kind.as_str(), new.message.as_str()),
            ("GitRepository", "boom")
        );
        assert!(new.last_seen.is_some());
        assert!(new.is_flux() && core.is_flux());
        let alert = parse(&json!({"involvedObject": {
            "apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert", "name": "a"}}));
        assert!(alert.is_flux());
        let pod =
            parse(&json!({"involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "a"}}));
        assert!(!pod.is_flux());
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(age(45), "45s");
        assert_eq!(age(192), "3m12s");
        assert_eq!(age(25 * 60), "25m");
        assert_eq!(age(2 * 3600 + 300), "125m");
        assert_eq!(age(5 * 3600 + 300), "5h5m");
        assert_eq!(age(20 * 3600), "20h");
        assert_eq!(age(3 * 86400), "3d");
    }
}
