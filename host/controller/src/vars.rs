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
    gyre_render::substitute::substitute(objects, vars, &gyre_render::substitute::Options::default())
        .map_err(|e| e.to_string())
}
