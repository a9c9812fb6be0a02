//! Merge keys and name references from custom schemas (`openapi`, `crds`).

use crate::fieldspec::Config;
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
}

/// Reads merge keys (and nothing else yet) from CRD OpenAPI definitions.
pub fn load_crd_defs(doc: &Value, _cfg: &mut Config, keys: &mut ExtraKeys) {
    collect_keys(doc, None, keys);
}
