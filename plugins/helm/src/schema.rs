//! A JSON Schema validator covering the keywords charts use.

use crate::Error;
use crate::chart::Chart;
use crate::value::{Map, Value};
use serde_json::Value as J;

/// Validates values against each chart's schema (recursing into subcharts).
pub fn validate_chart(c: &Chart, vals: &Map) -> Result<(), Error> {
    let mut msgs = String::new();
    collect(c, vals, &mut msgs);
    if msgs.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "values don't meet the specifications of the schema(s) in the following chart(s):\n{msgs}"
        )))
    }
}

fn collect(c: &Chart, vals: &Map, msgs: &mut String) {
    if let Some(s) = &c.schema {
        let v = crate::json::to_serde(&Value::map(vals.clone()));
        let mut errs = Vec::new();
        check(s, s, &v, "", &mut errs);
        if !errs.is_empty() {
            msgs.push_str(&format!("{}:\n", c.name));
            for e in errs {
                msgs.push_str(&format!("- {e}\n"));
            }
        }
    }
    for sub in &c.subcharts {
        let sv = match vals.get(&sub.name) {
            Some(Value::Map(m)) => m.borrow().clone(),
            _ => Map::new(),
        };
        collect(sub, &sv, msgs);
    }
}

fn type_ok(t: &str, v: &J) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => true,
    }
}

fn jtype(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "boolean",
        J::Number(n) => {
            if n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                "integer"
            } else {
                "number"
            }
        }
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
    }
}

fn resolve<'a>(root: &'a J, s: &'a J) -> &'a J {
    if let Some(r) = s.get("$ref").and_then(|r| r.as_str())
        && let Some(p) = r.strip_prefix("#/")
    {
        let mut cur = root;
        for part in p.split('/') {
            match cur.get(part) {
                Some(n) => cur = n,
                None => return s,
            }
        }
        return cur;
    }
    s
}

fn check(root: &J, s: &J, v: &J, path: &str, errs: &mut Vec<String>) {
    let s = resolve(root, s);
    let loc = if path.is_empty() {
        "(root)".to_string()
    } else {
        path.trim_start_matches('.').to_string()
    };
    if let Some(b) = s.as_bool() {
        if !b {
            errs.push(format!("{loc}: False always fails validation"));
        }
        return;
    }
    if let Some(t) = s.get("type") {
        let ok = match t {
            J::String(t) => type_ok(t, v),
            J::Array(ts) => ts.iter().any(|t| t.as_str().is_some_and(|t| type_ok(t, v))),
            _ => true,
        };
        if !ok {
            let want = match t {
                J::String(t) => t.clone(),
                J::Array(ts) => ts
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            };
            errs.push(format!(
                "{loc}: Invalid type. Expected: {want}, given: {}",
                jtype(v)
            ));
            return;
        }
    }
    if let Some(J::Array(e)) = s.get("enum")
        && !e.contains(v)
    {
        let opts: Vec<String> = e.iter().map(|x| x.to_string()).collect();
        errs.push(format!(
            "{loc}: {loc} must be one of the following: {}",
            opts.join(", ")
        ));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errs.push(format!("{loc}: {loc} does not match: {c}"));
    }
    if let Some(n) = v.as_f64() {
        if let Some(m) = s.get("minimum").and_then(|m| m.as_f64())
            && n < m
        {
            errs.push(format!("{loc}: Must be greater than or equal to {m}"));
        }
        if let Some(m) = s.get("maximum").and_then(|m| m.as_f64())
            && n > m
        {
            errs.push(format!("{loc}: Must be less than or equal to {m}"));
        }
        if let Some(m) = s.get("exclusiveMinimum").and_then(|m| m.as_f64())
            && n <= m
        {
            errs.push(format!("{loc}: Must be greater than {m}"));
        }
        if let Some(m) = s.get("exclusiveMaximum").and_then(|m| m.as_f64())
            && n >= m
        {
            errs.push(format!("{loc}: Must be less than {m}"));
        }
    }
    if let Some(st) = v.as_str() {
        if let Some(p) = s.get("pattern").and_then(|p| p.as_str())
            && let Ok(re) = regex::Regex::new(p)
            && !re.is_match(st)
        {
            errs.push(format!("{loc}: Does not match pattern '{p}'"));
        }
        let len = st.chars().count() as u64;
        if let Some(m) = s.get("minLength").and_then(|m| m.as_u64())
            && len < m
        {
            errs.push(format!(
                "{loc}: String length must be greater than or equal to {m}"
            ));
        }
        if let Some(m) = s.get("maxLength").and_then(|m| m.as_u64())
            && len > m
        {
            errs.push(format!(
                "{loc}: String length must be less than or equal to {m}"
            ));
        }
    }
    if let Some(o) = v.as_object() {
        if let Some(J::Array(req)) = s.get("required") {
            for r in req {
                if let Some(r) = r.as_str()
                    && !o.contains_key(r)
                {
                    errs.push(format!("{loc}: {r} is required"));
                }
            }
        }
        let props = s.get("properties").and_then(|p| p.as_object());
        for (k, val) in o {
            let sub = format!("{path}.{k}");
            let mut matched = false;
            if let Some(ps) = props.and_then(|p| p.get(k)) {
                check(root, ps, val, &sub, errs);
                matched = true;
            }
            if let Some(pp) = s.get("patternProperties").and_then(|p| p.as_object()) {
                for (pat, ps) in pp {
                    if regex::Regex::new(pat).is_ok_and(|re| re.is_match(k)) {
                        check(root, ps, val, &sub, errs);
                        matched = true;
                    }
                }
            }
            if !matched {
                match s.get("additionalProperties") {
                    Some(J::Bool(false)) => {
                        errs.push(format!("{loc}: Additional property {k} is not allowed"))
                    }
                    Some(ap @ J::Object(_)) => check(root, ap, val, &sub, errs),
                    _ => {}
                }
            }
        }
    }
    if let Some(a) = v.as_array() {
        if let Some(items) = s.get("items") {
            for (i, x) in a.iter().enumerate() {
                check(root, items, x, &format!("{path}.{i}"), errs);
            }
        }
        if let Some(m) = s.get("minItems").and_then(|m| m.as_u64())
            && (a.len() as u64) < m
        {
            errs.push(format!("{loc}: Array must have at least {m} items"));
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(J::Array(list)) = s.get(key) {
            let results: Vec<Vec<String>> = list
                .iter()
                .map(|sub| {
                    let mut e = Vec::new();
                    check(root, sub, v, path, &mut e);
                    e
                })
                .collect();
            let ok_count = results.iter().filter(|e| e.is_empty()).count();
            match key {
                "allOf" => results.into_iter().for_each(|e| errs.extend(e)),
                "anyOf" if ok_count == 0 => {
                    errs.push(format!("{loc}: Must validate at least one schema (anyOf)"))
                }
                "oneOf" if ok_count != 1 => errs.push(format!(
                    "{loc}: Must validate one and only one schema (oneOf)"
                )),
                _ => {}
            }
        }
    }
    if let Some(n) = s.get("not") {
        let mut e = Vec::new();
        check(root, n, v, path, &mut e);
        if e.is_empty() {
            errs.push(format!("{loc}: Must not validate the schema (not)"));
        }
    }
    if let (Some(i), Some(o)) = (s.get("if"), v.as_object()) {
        let _ = o;
        let mut e = Vec::new();
        check(root, i, v, path, &mut e);
        if e.is_empty() {
            if let Some(t) = s.get("then") {
                check(root, t, v, path, errs);
            }
        } else if let Some(el) = s.get("else") {
            check(root, el, v, path, errs);
        }
    }
}
