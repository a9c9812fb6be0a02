//! `spec.postBuild`: gathering the substitution variables from the inline map and the
//! referenced ConfigMaps and Secrets, then substituting them into the rendered objects.

use std::collections::BTreeMap;

use gyre_api::kustomize::PostBuild;
use serde_json::Value;

use crate::context::Context;
use crate::secrets;

/// The variables of `post`, with Flux's precedence: `substituteFrom` entries in order
/// (later wins), then the inline `substitute` map over all of them.
///
/// # Errors
/// A message naming a missing non-optional ConfigMap or Secret, or an unsupported kind.
pub async fn collect(
    ctx: &Context,
    ns: &str,
    post: &PostBuild,
) -> Result<BTreeMap<String, String>, String> {
    let mut layers = Vec::new();
    for r in post.substitute_from.iter().flatten() {
        let optional = r.optional.unwrap_or(false);
        let data = match r.kind.as_str() {
            "ConfigMap" => secrets::config_map_data(&ctx.client, ns, &r.name)
                .await
                .map_err(|e| format!("substitute from 'ConfigMap/{}': {e}", r.name))?,
            "Secret" => secrets::secret_data(&ctx.client, ns, &r.name)
                .await
                .map_err(|e| format!("substitute from 'Secret/{}': {e}", r.name))?
                .map(|d| {
                    d.into_iter()
                        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
                        .collect()
                }),
            other => {
                return Err(format!(
                    "substitute from '{other}/{}': kind must be ConfigMap or Secret",
                    r.name
                ));
            }
        };
        match data {
            Some(d) => layers.push(d),
            None if optional => {}
            None => {
                return Err(format!(
                    "substitute from '{}/{}': {} {ns}/{} not found",
                    r.kind, r.name, r.kind, r.name
                ));
            }
        }
    }
    layers.push(post.substitute.clone().unwrap_or_default());
    Ok(gyre_render::substitute::merge_vars(layers))
}

/// Substitutes `vars` into `objects` (objects that opt out with
/// `kustomize.toolkit.fluxcd.io/substitute: disabled` are left alone).
///
/// # Errors
/// The substitution error, naming the object and the variable.
pub fn substitute(objects: &mut [Value], vars: &BTreeMap<String, String>) -> Result<(), String> {
    let options = gyre_render::substitute::Options::default();
    let before: Vec<Value> = objects.to_vec();
    gyre_render::substitute::substitute(objects, vars, &options).map_err(|e| e.to_string())?;
    for (old, new) in before.iter().zip(objects.iter_mut()) {
        keep_strings(old, new, false, vars, &options);
    }
    Ok(())
}

/// Keeps string-typed fields strings after substitution.
///
/// Flux substitutes into kustomize's YAML, which keeps each scalar's quoting, so a quoted
/// `"${replicas}"` in a ConfigMap stays the string `"5"`. Gyre's renderers hand over JSON,
/// where that quoting is gone and YAML re-typing would turn it into the number 5 — which
/// the API server rejects. Fields Kubernetes defines as strings (ConfigMap `data`, Secret
/// `stringData`, labels, annotations, `env[].value`, `args`, `command`) therefore get the
/// substituted text back as a string; everywhere else YAML typing applies, as in Flux for
/// unquoted variables (`replicas: ${replicas}` becomes an integer).
fn keep_strings(
    old: &Value,
    new: &mut Value,
    string_field: bool,
    vars: &BTreeMap<String, String>,
    options: &gyre_render::substitute::Options,
) {
    match (old, new) {
        (Value::String(text), new) if string_field && !new.is_string() && text.contains("${") => {
            if let Ok(expanded) = gyre_render::substitute::expand(text, vars, options) {
                *new = Value::String(expanded);
            }
        }
        (Value::Object(o), Value::Object(n)) => {
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
            for (k, ov) in o {
                let Some(nv) = n.get_mut(k) else { continue };
                let strings_below = matches!(k.as_str(), "labels" | "annotations")
                    || (k == "data" && kind == "ConfigMap")
                    || (k == "stringData" && kind == "Secret");
                if strings_below {
                    if let (Value::Object(om), Value::Object(nm)) = (ov, nv) {
                        for (mk, mv) in om {
                            if let Some(nmv) = nm.get_mut(mk) {
                                keep_strings(mv, nmv, true, vars, options);
                            }
                        }
                    }
                    continue;
                }
                let is_string =
                    k == "value" && o.contains_key("name") && !o.contains_key("valueFrom");
                let items_are_strings = matches!(k.as_str(), "args" | "command");
                if items_are_strings {
                    if let (Value::Array(oa), Value::Array(na)) = (ov, nv) {
                        for (oi, ni) in oa.iter().zip(na.iter_mut()) {
                            keep_strings(oi, ni, true, vars, options);
                        }
                    }
                    continue;
                }
                keep_strings(ov, nv, is_string, vars, options);
            }
        }
        (Value::Array(oa), Value::Array(na)) => {
            for (oi, ni) in oa.iter().zip(na.iter_mut()) {
                keep_strings(oi, ni, false, vars, options);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> BTreeMap<String, String> {
        [("n", "5"), ("flag", "true"), ("v", "1.10")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn string_fields_stay_strings_and_others_are_typed() {
        let mut objs = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"n": "${n}"}},
                   "data": {"n": "${n}", "v": "${v}", "flag": "${flag}"}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                   "spec": {"replicas": "${n}", "template": {"spec": {"containers": [{"name": "c",
                     "args": ["--n=${n}", "${n}"], "env": [{"name": "N", "value": "${n}"}]}]}}}}),
        ];
        substitute(&mut objs, &vars()).unwrap();
        assert_eq!(
            objs[0]["data"],
            json!({"n": "5", "v": "1.10", "flag": "true"})
        );
        assert_eq!(objs[0]["metadata"]["labels"]["n"], "5");
        assert_eq!(objs[1]["spec"]["replicas"], 5);
        let c = &objs[1]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["args"], json!(["--n=5", "5"]));
        assert_eq!(c["env"][0]["value"], "5");
    }
}
