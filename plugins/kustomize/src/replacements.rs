//! `replacements`: copy a field of one object into fields of others.

use crate::error::{Error, Result};
use crate::fieldpath::{self, scalar_text};
use crate::resource::Res;
use crate::select::Selector;
use serde_json::Value;

fn opts(v: Option<&Value>) -> (Option<String>, i64, bool) {
    let v = v.and_then(|o| o.as_object());
    let delim = v
        .and_then(|o| o.get("delimiter"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let index = v
        .and_then(|o| o.get("index"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let create = v
        .and_then(|o| o.get("create"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    (delim, index, create)
}

/// Applies one replacement entry.
pub fn apply(res: &mut [Res], rep: &Value) -> Result<()> {
    let src = rep
        .get("source")
        .ok_or_else(|| Error::invalid("replacement has no source").at("replacements"))?;
    let sel = Selector::parse(src);
    let matches: Vec<usize> = (0..res.len()).filter(|&i| sel.matches(&res[i])).collect();
    if matches.len() != 1 {
        return Err(Error::invalid(format!(
            "replacement source must match exactly one resource, matched {}",
            matches.len()
        ))
        .at("replacements.source"));
    }
    let fp = src
        .get("fieldPath")
        .and_then(Value::as_str)
        .unwrap_or("metadata.name");
    let steps = fieldpath::parse(fp)?;
    let found = fieldpath::get(&res[matches[0]].obj, &steps);
    let mut value = found.first().map(|v| (*v).clone()).ok_or_else(|| {
        Error::invalid(format!(
            "fieldPath `{fp}` is missing for replacement source"
        ))
        .at("replacements.source")
    })?;
    let (delim, index, _) = opts(src.get("options"));
    if let Some(d) = delim {
        let text = scalar_text(&value);
        let parts: Vec<&str> = text.split(d.as_str()).collect();
        if index < 0 || index as usize >= parts.len() {
            return Err(Error::invalid("options.index out of bounds for source")
                .at("replacements.source.options"));
        }
        value = Value::String(parts[index as usize].to_string());
    }
    for t in rep
        .get("targets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let sel = Selector::parse(t.get("select").unwrap_or(&Value::Null));
        let rejects: Vec<Selector> = t
            .get("reject")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(Selector::parse)
            .collect();
        let (delim, index, create) = opts(t.get("options"));
        for r in res.iter_mut() {
            if !sel.matches(r) || rejects.iter().any(|x| x.matches(r)) {
                continue;
            }
            for fp in t
                .get("fieldPaths")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let fp = fp.as_str().unwrap_or("");
                let steps = fieldpath::parse(fp)?;
                let found = fieldpath::visit_mut(&mut r.obj, &steps, create, &mut |v| {
                    if let Some(d) = &delim {
                        let text = scalar_text(v);
                        let mut parts: Vec<String> =
                            text.split(d.as_str()).map(str::to_string).collect();
                        let nv = scalar_text(&value);
                        if index < 0 {
                            parts.insert(0, nv);
                        } else if index as usize >= parts.len() {
                            parts.push(nv);
                        } else {
                            parts[index as usize] = nv;
                        }
                        *v = Value::String(parts.join(d));
                    } else {
                        *v = value.clone();
                    }
                    Ok(())
                })?;
                if !found && !create {
                    return Err(Error::invalid(format!(
                        "unable to find field {fp} in replacement target"
                    ))
                    .at("replacements.targets"));
                }
            }
        }
    }
    Ok(())
}
