//! Discovery documents (`/api`, `/apis`, resource lists), `/version`, OpenAPI stubs and
//! server-side `Table` rendering for `kubectl get`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::registry::ResourceType;

/// Orders versions as Kubernetes does: GA > beta > alpha, higher numbers first, then others
/// alphabetically.
pub fn version_priority(v: &str) -> (u8, i64, i64, String) {
    let parse = || -> Option<(u8, i64, i64)> {
        let rest = v.strip_prefix('v')?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let major: i64 = digits.parse().ok()?;
        let tail = &rest[digits.len()..];
        if tail.is_empty() {
            return Some((0, -major, 0));
        }
        for (p, rank) in [("beta", 1u8), ("alpha", 2u8)] {
            if let Some(n) = tail.strip_prefix(p) {
                let minor: i64 = n.parse().ok()?;
                return Some((rank, -major, -minor));
            }
        }
        None
    };
    match parse() {
        Some((r, a, b)) => (r, a, b, String::new()),
        None => (3, 0, 0, v.to_string()),
    }
}

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-kube-sim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-12-11T00:00:00Z",
        "goVersion": "go1.23.4",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api`.
pub fn api_versions(addr: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}]})
}

/// Groups and their versions, preferred first.
pub fn groups(types: &[ResourceType]) -> BTreeMap<String, Vec<String>> {
    let mut g: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in types.iter().filter(|t| !t.group.is_empty()) {
        let vs = g.entry(t.group.clone()).or_default();
        if !vs.contains(&t.version) {
            vs.push(t.version.clone());
        }
    }
    for vs in g.values_mut() {
        vs.sort_by_key(|v| version_priority(v));
    }
    g
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": vs, "preferredVersion": vs[0].clone()})
}

/// `/apis`.
pub fn api_group_list(types: &[ResourceType]) -> Value {
    let gs: Vec<Value> = groups(types)
        .iter()
        .map(|(n, vs)| group_doc(n, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": gs})
}

/// `/apis/{group}`.
pub fn api_group(types: &[ResourceType], group: &str) -> Option<Value> {
    let gs = groups(types);
    let vs = gs.get(group)?;
    let mut d = group_doc(group, vs);
    d["kind"] = json!("APIGroup");
    d["apiVersion"] = json!("v1");
    Some(d)
}

/// `/api/v1` or `/apis/{group}/{version}`.
pub fn resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let mine: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if mine.is_empty() {
        return None;
    }
    let mut rs = vec![];
    for t in mine {
        let mut r = json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": t.verbs(),
        });
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            r["categories"] = json!(t.categories);
        }
        rs.push(r);
        if t.has_status {
            rs.push(json!({"name": format!("{}/status", t.plural), "singularName": "",
                           "namespaced": t.namespaced, "kind": t.kind, "verbs": ["get", "patch", "update"]}));
        }
        if t.has_scale {
            rs.push(json!({"name": format!("{}/scale", t.plural), "singularName": "", "group": "autoscaling",
                           "version": "v1", "namespaced": t.namespaced, "kind": "Scale", "verbs": ["get", "patch", "update"]}));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": rs}),
    )
}

fn age(ts: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts) else {
        return "<unknown>".into();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 3 => format!("{}m", s / 60),
        s if s < 86400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// Evaluates the simple JSONPath forms CRD printer columns use: `.a.b`, `.a[0].b`,
/// `.a[?(@.type=="Ready")].status`.
pub fn json_path<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    let mut rest = path.trim().trim_start_matches('{').trim_end_matches('}');
    rest = rest.strip_prefix('$').unwrap_or(rest);
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            cur = cur.get(&r[..end])?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = &r[end + 1..];
            if let Some(f) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (k, val) = f.split_once("==")?;
                let val = val.trim().trim_matches(|c| c == '"' || c == '\'');
                cur = cur.as_array()?.iter().find(|i| i[k.trim()] == val)?;
            } else {
                let i: usize = inner.parse().ok()?;
                cur = cur.as_array()?.get(i)?;
            }
        } else {
            return None;
        }
    }
    Some(cur)
}

fn cell(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => json!("<none>"),
        Some(Value::String(s)) => json!(s),
        Some(other) => other.clone(),
    }
}

/// Renders objects as a `meta.k8s.io/v1` Table.
pub fn table(
    rt: &ResourceType,
    objs: &[Value],
    rv: &str,
    include: &str,
    cont: Option<&str>,
) -> Value {
    let mut cols = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    type Getter = Box<dyn Fn(&Value) -> Value>;
    let mut getters: Vec<Getter> = vec![Box::new(|o: &Value| o["metadata"]["name"].clone())];
    let mut col = |name: &str, ty: &str, f: Getter| {
        cols.push(
            json!({"name": name, "type": ty, "format": "", "description": name, "priority": 0}),
        );
        getters.push(f);
    };
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => col(
            "Status",
            "string",
            Box::new(|o| cell(o.pointer("/status/phase"))),
        ),
        ("", "ConfigMap") => col(
            "Data",
            "integer",
            Box::new(|o| {
                json!(
                    o["data"].as_object().map_or(0, |m| m.len())
                        + o["binaryData"].as_object().map_or(0, |m| m.len())
                )
            }),
        ),
        ("", "Secret") => {
            col("Type", "string", Box::new(|o| cell(o.get("type"))));
            col(
                "Data",
                "integer",
                Box::new(|o| json!(o["data"].as_object().map_or(0, |m| m.len()))),
            );
        }
        ("", "Service") => {
            col(
                "Type",
                "string",
                Box::new(|o| cell(o.pointer("/spec/type"))),
            );
            col(
                "Cluster-IP",
                "string",
                Box::new(|o| cell(o.pointer("/spec/clusterIP"))),
            );
        }
        ("apps", "Deployment") => {
            col(
                "Ready",
                "string",
                Box::new(|o| {
                    json!(format!(
                        "{}/{}",
                        o["status"]["readyReplicas"].as_i64().unwrap_or(0),
                        o["spec"]["replicas"].as_i64().unwrap_or(0)
                    ))
                }),
            );
            col(
                "Up-to-date",
                "integer",
                Box::new(|o| json!(o["status"]["updatedReplicas"].as_i64().unwrap_or(0))),
            );
            col(
                "Available",
                "integer",
                Box::new(|o| json!(o["status"]["availableReplicas"].as_i64().unwrap_or(0))),
            );
        }
        ("batch", "Job") => {
            col(
                "Status",
                "string",
                Box::new(|o| {
                    let conds = o["status"]["conditions"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let has = |t: &str| {
                        conds
                            .iter()
                            .any(|c| c["type"] == t && c["status"] == "True")
                    };
                    json!(if has("Complete") {
                        "Complete"
                    } else if has("Failed") {
                        "Failed"
                    } else {
                        "Running"
                    })
                }),
            );
            col(
                "Completions",
                "string",
                Box::new(|o| {
                    json!(format!(
                        "{}/{}",
                        o["status"]["succeeded"].as_i64().unwrap_or(0),
                        o["spec"]["completions"].as_i64().unwrap_or(1)
                    ))
                }),
            );
        }
        ("apiextensions.k8s.io", _) => col(
            "Created At",
            "date",
            Box::new(|o| cell(o.pointer("/metadata/creationTimestamp"))),
        ),
        _ => {}
    }
    let mut has_age = true;
    if let Some(crd) = &rt.crd
        && !crd.printer_columns.is_empty()
    {
        has_age = false;
        for pc in &crd.printer_columns {
            let path = pc["jsonPath"].as_str().unwrap_or_default().to_string();
            let ty = pc["type"].as_str().unwrap_or("string").to_string();
            let is_date = ty == "date";
            let name = pc["name"].as_str().unwrap_or_default().to_string();
            let prio = pc["priority"].as_i64().unwrap_or(0);
            cols.push(json!({"name": name, "type": ty, "format": "", "description": pc["description"].as_str().unwrap_or_default(), "priority": prio}));
            getters.push(Box::new(move |o| {
                let v = json_path(o, &path);
                if is_date {
                    v.and_then(Value::as_str)
                        .map(|s| json!(age(s)))
                        .unwrap_or(json!("<unknown>"))
                } else {
                    cell(v)
                }
            }));
        }
    }
    if has_age {
        cols.push(json!({"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0}));
        getters.push(Box::new(|o| {
            json!(age(o["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or_default()))
        }));
    }
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| {
            let cells: Vec<Value> = getters.iter().map(|g| g(o)).collect();
            let mut row = json!({"cells": cells});
            match include {
                "None" => {}
                "Object" => row["object"] = o.clone(),
                _ => {
                    row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"].clone()})
                }
            }
            row
        })
        .collect();
    let mut meta = json!({"resourceVersion": rv});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": cols, "rows": rows})
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one entry per served group/version.
pub fn openapi_v3_root(types: &[ResourceType], hash: u64) -> Value {
    let mut paths = serde_json::Map::new();
    for t in types {
        let p = gv_path(&t.group, &t.version);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash:016X}")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/apis/{group}/{version}`: the operations (no schemas), enough for kubectl to
/// see that PATCH supports `fieldValidation` and so validate on the server.
pub fn openapi_v3_gv(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let mine: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if mine.is_empty() {
        return None;
    }
    let params = json!([
        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}},
    ]);
    let mut paths = serde_json::Map::new();
    for t in mine {
        let base = format!("/{}", gv_path(&t.group, &t.version));
        let coll = if t.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", t.plural)
        } else {
            format!("{base}/{}", t.plural)
        };
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let op = |action: &str| json!({"x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": {}});
        if t.create_only {
            paths.insert(coll, json!({"post": op("post")}));
            continue;
        }
        paths.insert(
            coll.clone(),
            json!({"get": op("list"), "post": op("post"), "delete": op("deletecollection")}),
        );
        paths.insert(format!("{coll}/{{name}}"), json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
        if t.has_status {
            paths.insert(
                format!("{coll}/{{name}}/status"),
                json!({"get": op("get"), "put": op("put"), "patch": op("patch")}),
            );
        }
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths, "components": {"schemas": {}}}),
    )
}
