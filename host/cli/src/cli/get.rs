//! `gyre get`: tables of Flux and Gyre objects with their revision, suspend
//! state and Ready condition, like `flux get`.

use super::cluster::{ClusterArgs, Kind, Paint, Table, is_suspended, ready, to_json};
use anyhow::Context;
use clap::{Args, Subcommand};
use kube::api::ListParams;
use serde_json::Value;

/// What to list.
#[derive(Debug, Subcommand)]
pub(crate) enum GetCommand {
    /// Sources: git, oci, helm, bucket, chart, or all of them.
    #[command(subcommand)]
    Sources(GetSources),
    /// Kustomizations.
    #[command(visible_alias = "ks")]
    Kustomizations(GetArgs),
    /// HelmReleases.
    #[command(visible_alias = "hr")]
    Helmreleases(GetArgs),
    /// Gyre Plugins.
    Plugins(GetArgs),
    /// Every kind above.
    All(GetArgs),
}

/// Which sources to list.
#[derive(Debug, Subcommand)]
pub(crate) enum GetSources {
    /// GitRepositories.
    Git(GetArgs),
    /// OCIRepositories.
    Oci(GetArgs),
    /// HelmRepositories.
    Helm(GetArgs),
    /// Buckets.
    Bucket(GetArgs),
    /// HelmCharts.
    Chart(GetArgs),
    /// Every source kind.
    All(GetArgs),
}

/// Flags of `gyre get`.
#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// Only this object.
    name: Option<String>,
    /// List the objects of every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Only objects with this condition status, e.g. `ready=false`.
    #[arg(long, value_name = "TYPE=STATUS")]
    status_selector: Option<String>,
    /// Leave out the header line.
    #[arg(long)]
    no_header: bool,
    /// After listing, print every object that changes, until interrupted.
    #[arg(short, long)]
    watch: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// Runs `gyre get`.
pub(super) async fn run(cmd: GetCommand) -> anyhow::Result<()> {
    let (kinds, args, all): (Vec<Kind>, GetArgs, bool) = match cmd {
        GetCommand::Sources(s) => match s {
            GetSources::Git(a) => (vec![Kind::GitRepository], a, false),
            GetSources::Oci(a) => (vec![Kind::OciRepository], a, false),
            GetSources::Helm(a) => (vec![Kind::HelmRepository], a, false),
            GetSources::Bucket(a) => (vec![Kind::Bucket], a, false),
            GetSources::Chart(a) => (vec![Kind::HelmChart], a, false),
            GetSources::All(a) => (
                Kind::ALL.into_iter().filter(|k| k.is_source()).collect(),
                a,
                true,
            ),
        },
        GetCommand::Kustomizations(a) => (vec![Kind::Kustomization], a, false),
        GetCommand::Helmreleases(a) => (vec![Kind::HelmRelease], a, false),
        GetCommand::Plugins(a) => (vec![Kind::Plugin], a, false),
        GetCommand::All(a) => (Kind::ALL.to_vec(), a, true),
    };
    anyhow::ensure!(
        !(all && args.watch),
        "--watch lists one kind at a time (hint: gyre get kustomizations --watch)"
    );
    let selector = args
        .status_selector
        .as_deref()
        .map(parse_selector)
        .transpose()?;
    let client = args.cluster.client().await?;
    let lister = Lister {
        client: &client,
        args: &args,
        selector: selector.as_ref(),
        all,
    };
    let namespace = &args.cluster.namespace;
    let paint = Paint::stdout();
    let mut printed = false;
    for &kind in &kinds {
        let Some(objects) = lister.list(kind).await? else {
            continue;
        };
        let table = table(kind, &objects, args.all_namespaces, all);
        if table.is_empty() && !args.watch {
            if !all {
                let place = if args.all_namespaces {
                    "any namespace".to_string()
                } else {
                    format!("{namespace} namespace")
                };
                match &args.name {
                    Some(n) => eprintln!("✗ {} {n} not found in {place}", kind.name()),
                    None => eprintln!("✗ no {} objects found in {place}", kind.name()),
                }
            }
            continue;
        }
        if printed {
            println!();
        }
        printed = true;
        let text = render(&table, &args, &paint);
        let text = if args.no_header {
            text.split_once('\n').map_or("", |(_, rows)| rows)
        } else {
            &text
        };
        print!("{text}");
        if args.watch {
            return watch(&lister, kind, objects, &paint).await;
        }
    }
    if all && !printed {
        eprintln!("✗ no Flux or Gyre objects found");
    }
    Ok(())
}

/// Lists the objects `gyre get` shows.
struct Lister<'a> {
    client: &'a kube::Client,
    args: &'a GetArgs,
    selector: Option<&'a (String, String)>,
    all: bool,
}

impl Lister<'_> {
    /// The objects of `kind` that pass the name and status filters, sorted
    /// by namespace and name; `None` for a kind whose CRD is not installed
    /// when listing `all`.
    async fn list(&self, kind: Kind) -> anyhow::Result<Option<Vec<Value>>> {
        let args = self.args;
        let list = if args.all_namespaces {
            kind.api_all(self.client).list(&ListParams::default()).await
        } else {
            kind.api(self.client, &args.cluster.namespace)
                .list(&ListParams::default())
                .await
        };
        let items = match list {
            Ok(l) => l.items,
            // With `all`, a kind whose CRD is not installed is just empty.
            Err(kube::Error::Api(e)) if self.all && e.code == 404 => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "listing {} objects (hint: `gyre check` shows whether the CRDs are installed)",
                        kind.name()
                    )
                });
            }
        };
        let mut objects: Vec<Value> = items
            .iter()
            .map(to_json)
            .filter(|o| {
                args.name
                    .as_deref()
                    .is_none_or(|n| o["metadata"]["name"] == n)
            })
            .filter(|o| self.selector.is_none_or(|s| matches(o, s)))
            .collect();
        objects.sort_by_key(key);
        Ok(Some(objects))
    }
}

/// (namespace, name).
fn key(o: &Value) -> (String, String) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (s(&o["metadata"]["namespace"]), s(&o["metadata"]["name"]))
}

/// The table as text, with READY and SUSPENDED coloured on a terminal.
fn render(table: &Table, args: &GetArgs, paint: &Paint) -> String {
    // READY and SUSPENDED are the columns after NAME (and NAMESPACE).
    let first = usize::from(args.all_namespaces) + 2;
    table.render(|i, value, padded| {
        if i == first {
            if value == "True" {
                paint.warn(padded)
            } else {
                padded.to_string()
            }
        } else if i == first + 1 {
            paint.status(value, padded)
        } else {
            padded.to_string()
        }
    })
}

/// `--watch`: relists every two seconds and prints the row of every object
/// that appeared or changed since (until interrupted).
async fn watch(
    lister: &Lister<'_>,
    kind: Kind,
    mut last: Vec<Value>,
    paint: &Paint,
) -> anyhow::Result<()> {
    use std::io::Write;
    let args = lister.args;
    let rows = |objects: &[Value]| -> Vec<((String, String), Vec<String>)> {
        objects
            .iter()
            .map(|o| (key(o), row(kind, o, args.all_namespaces, false)))
            .collect()
    };
    loop {
        std::io::stdout().flush()?;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let Some(now) = lister.list(kind).await? else {
            continue;
        };
        let before: std::collections::HashMap<_, _> = rows(&last).into_iter().collect();
        let current = rows(&now);
        let table = table(kind, &now, args.all_namespaces, false);
        let text = render(&table, args, paint);
        for ((k, cells), line) in current.iter().zip(text.lines().skip(1)) {
            if before.get(k) != Some(cells) {
                println!("{line}");
            }
        }
        last = now;
    }
}

/// The table of `objects` of `kind`; with `prefix`, names are
/// `kind/name` (as `flux get all` shows them).
fn table(kind: Kind, objects: &[Value], namespaces: bool, prefix: bool) -> Table {
    let mut header = vec!["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"];
    if namespaces {
        header.insert(0, "NAMESPACE");
    }
    let mut t = Table::new(&header);
    let mut objects: Vec<&Value> = objects.iter().collect();
    objects.sort_by_key(|o| key(o));
    for o in objects {
        t.row(row(kind, o, namespaces, prefix));
    }
    t
}

/// One object's cells.
fn row(kind: Kind, o: &Value, namespaces: bool, prefix: bool) -> Vec<String> {
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    let name = if prefix {
        format!("{}/{name}", kind.name().to_lowercase())
    } else {
        name.to_string()
    };
    let (status, message) = ready(o);
    let mut row = vec![
        name,
        kind.revision(o),
        if is_suspended(o) { "True" } else { "False" }.to_string(),
        status,
        message.replace('\n', " "),
    ];
    if namespaces {
        row.insert(
            0,
            o["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    row
}

/// `ready=false` → (`ready`, `false`).
fn parse_selector(s: &str) -> anyhow::Result<(String, String)> {
    let (t, v) = s.split_once('=').with_context(|| {
        format!("--status-selector {s:?} is not TYPE=STATUS (hint: --status-selector ready=false)")
    })?;
    anyhow::ensure!(
        !t.is_empty() && !v.is_empty(),
        "--status-selector {s:?} is not TYPE=STATUS (hint: --status-selector ready=false)"
    );
    Ok((t.to_string(), v.to_string()))
}

/// Whether the object's condition `type` has status `status` (both
/// case-insensitive); a missing Ready condition counts as `False`.
fn matches(obj: &Value, (type_, status): &(String, String)) -> bool {
    if type_.eq_ignore_ascii_case("ready") {
        return ready(obj).0.eq_ignore_ascii_case(status);
    }
    obj["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| {
            c["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(type_))
                && c["status"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(status))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ks(name: &str, ns: &str, ready: &str, suspend: bool) -> Value {
        json!({
            "metadata": {"name": name, "namespace": ns},
            "spec": {"suspend": suspend},
            "status": {
                "lastAppliedRevision": "main@sha1:abc",
                "conditions": [{"type": "Ready", "status": ready, "message": "msg\nline"}]
            }
        })
    }

    #[test]
    fn get_tables_have_flux_columns_and_a_namespace_column_with_all_namespaces() {
        let objs = [
            ks("b", "apps", "True", false),
            ks("a", "flux-system", "False", true),
        ];
        let t = table(Kind::Kustomization, &objs, true, false).render(|_, _, p| p.into());
        assert_eq!(
            t,
            "NAMESPACE    NAME  REVISION       SUSPENDED  READY  MESSAGE\n\
             apps         b     main@sha1:abc  False      True   msg line\n\
             flux-system  a     main@sha1:abc  True       False  msg line\n"
        );
        let t = table(Kind::Kustomization, &objs[..1], false, true).render(|_, _, p| p.into());
        assert!(
            t.starts_with("NAME  ") && t.contains("kustomization/b"),
            "{t}"
        );
    }

    #[test]
    fn status_selectors_match_conditions_case_insensitively() {
        let s = parse_selector("ready=false").unwrap();
        assert!(matches(&ks("a", "x", "False", false), &s));
        assert!(!matches(&ks("a", "x", "True", false), &s));
        assert!(
            matches(&json!({"status": {}}), &s),
            "no Ready counts as False"
        );
        assert!(parse_selector("ready").is_err());
    }
}
