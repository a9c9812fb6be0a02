//! Merge keys and name references from custom schemas (`openapi`, `crds`).

use crate::fieldspec::{Config, FieldSpec, NameRef};
use crate::smp::ExtraKeys;
use serde_json::Value;

fn collect_keys(v: &Value, field: Option<&str>, out: &mut ExtraKeys) {
    match v {
        Value::Object(m) => {
            if let (Some(f), Some(k)) = (
                field,
                m.get("x-kubernetes-patch-merge-key")
                    .and_then(Value::as_str),
            ) {
                out.insert(f.to_string(), k.to_string());
            }
            if let Some(Value::Object(props)) = m.get("properties") {
                for (name, p) in props {
                    collect_keys(p, Some(name), out);
                }
            }
            for (k, x) in m {
                if k != "properties" {
                    collect_keys(x, field.filter(|_| k == "items"), out);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                collect_keys(x, None, out);
            }
        }
        _ => {}
    }
}

/// Reads merge keys from an OpenAPI document.
pub fn load_schema(doc: &Value, keys: &mut ExtraKeys) {
    collect_keys(doc, None, keys);
    // Kinds the schema describes: their Kubernetes-typed fields (pod
    // templates...) merge with the built-in merge keys.
    for def in doc
        .get("definitions")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
    {
        for gvk in def
            .get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = gvk.get("kind").and_then(Value::as_str) {
                keys.insert(format!("kind:{k}"), String::new());
            }
        }
    }
}

fn schema_of<'a>(doc: &'a Value, r: &str) -> Option<&'a Value> {
    let def = doc.get(r)?;
    Some(def.get("Schema").unwrap_or(def))
}

fn walk_crd(
    doc: &Value,
    schema: &Value,
    kind: &str,
    path: &mut Vec<String>,
    depth: usize,
    cfg: &mut Config,
) {
    if depth > 16 {
        return;
    }
    let Some(Value::Object(props)) = schema.get("properties") else {
        return;
    };
    for (name, p) in props {
        path.push(name.clone());
        if let Some(rk) = p
            .get("x-kubernetes-object-ref-kind")
            .and_then(Value::as_str)
        {
            let av = p
                .get("x-kubernetes-object-ref-api-version")
                .and_then(Value::as_str)
                .unwrap_or("");
            let (group, version) = crate::resource::split_api_version(av);
            let mut fp: Vec<String> = path.clone();
            fp.push("name".into());
            cfg.add_name_ref(NameRef {
                group,
                version,
                kind: rk.to_string(),
                specs: vec![FieldSpec {
                    group: String::new(),
                    version: String::new(),
                    kind: kind.to_string(),
                    path: fp,
                    create: false,
                }],
            });
        } else if let Some(r) = p.get("$ref").and_then(Value::as_str) {
            if let Some(sub) = schema_of(doc, r) {
                walk_crd(doc, sub, kind, path, depth + 1, cfg);
            }
        } else {
            walk_crd(doc, p, kind, path, depth + 1, cfg);
        }
        path.pop();
    }
}

/// Reads name references and merge keys from CRD OpenAPI definitions
/// (`crds:`), as kustomize does with `x-kubernetes-object-ref-*`.
pub fn load_crd_defs(doc: &Value, cfg: &mut Config, keys: &mut ExtraKeys) {
    collect_keys(doc, None, keys);
    let Some(defs) = doc.as_object() else { return };
    for (name, def) in defs {
        let schema = def.get("Schema").unwrap_or(def);
        let is_kind = schema
            .get("properties")
            .is_some_and(|p| p.get("kind").is_some() && p.get("apiVersion").is_some());
        if !is_kind {
            continue;
        }
        let kind = name.rsplit('.').next().unwrap_or(name);
        walk_crd(doc, schema, kind, &mut Vec::new(), 0, cfg);
    }
}
