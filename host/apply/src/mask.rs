//! Keeps Secret values out of logs, events and diffs: values are masked as Flux masks
//! them, and API error messages about a Secret are scrubbed of its values.

use serde_json::{Map, Value};

/// The mask of a value that is the same on both sides (or only on one side).
pub const MASK: &str = "***";
/// The mask of the live value when it differs from the desired one.
pub const MASK_BEFORE: &str = "*** (before)";
/// The mask of the desired value when it differs from the live one.
pub const MASK_AFTER: &str = "*** (after)";

/// Whether an object is a core `Secret`.
pub fn is_secret(obj: &Value) -> bool {
    obj["kind"] == "Secret" && obj["apiVersion"] == "v1"
}

/// Masks the `data` and `stringData` values of a Secret pair in place, key by key: equal
/// values become `***`, differing ones `*** (before)` / `*** (after)`, so a diff still
/// shows *which* keys changed but never a value. Either side may be absent (created or
/// deleted objects). Objects that are not Secrets are left alone.
pub fn mask_secret_pair(before: Option<&mut Value>, after: Option<&mut Value>) {
    let is = before.as_deref().is_some_and(is_secret) || after.as_deref().is_some_and(is_secret);
    if !is {
        return;
    }
    let (mut before, mut after) = (before, after);
    for field in ["data", "stringData"] {
        let b = before.as_deref().and_then(|o| o.get(field)).cloned();
        let a = after.as_deref().and_then(|o| o.get(field)).cloned();
        let (bm, am) = (
            b.as_ref().and_then(Value::as_object),
            a.as_ref().and_then(Value::as_object),
        );
        if let Some(o) = before.as_deref_mut()
            && let Some(bm) = bm
        {
            o[field] = Value::Object(mask_side(bm, am, MASK_BEFORE));
        }
        if let Some(o) = after.as_deref_mut()
            && let Some(am) = am
        {
            o[field] = Value::Object(mask_side(am, bm, MASK_AFTER));
        }
    }
}

fn mask_side(
    this: &Map<String, Value>,
    other: Option<&Map<String, Value>>,
    changed: &str,
) -> Map<String, Value> {
    this.iter()
        .map(|(k, v)| {
            let m = match other.and_then(|o| o.get(k)) {
                Some(ov) if ov != v => changed,
                _ => MASK,
            };
            (k.clone(), Value::String(m.into()))
        })
        .collect()
}

/// Masks a single Secret (every value `***`); other objects are returned unchanged.
pub fn mask_secret(obj: &Value) -> Value {
    if !is_secret(obj) {
        return obj.clone();
    }
    let mut o = obj.clone();
    mask_secret_pair(None, Some(&mut o));
    // A lone object has no "before": every value is the plain mask.
    for field in ["data", "stringData"] {
        if let Some(m) = o.get_mut(field).and_then(Value::as_object_mut) {
            for v in m.values_mut() {
                *v = Value::String(MASK.into());
            }
        }
    }
    o
}

/// The values of a Secret as they could appear in a message: each value as written and,
/// for `data`, base64-decoded.
fn secret_values(obj: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for field in ["data", "stringData"] {
        if let Some(m) = obj[field].as_object() {
            for v in m.values().filter_map(Value::as_str) {
                if v.len() >= 3 {
                    out.push(v.to_string());
                }
                if field == "data"
                    && let Some(d) = decode_base64(v)
                    && d.len() >= 3
                {
                    out.push(d);
                }
            }
        }
    }
    // Longest first, so a value containing another is replaced whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// Replaces every Secret value of `obj` found in `message` with `***`.
pub fn scrub(message: &str, obj: &Value) -> String {
    if !is_secret(obj) {
        return message.to_string();
    }
    let mut m = message.to_string();
    for v in secret_values(obj) {
        m = m.replace(&v, MASK);
    }
    m
}

/// An API error about a Secret, with its values scrubbed from the message (validation
/// errors quote the offending value).
pub fn scrub_error(err: kube::Error, obj: &Value) -> kube::Error {
    match err {
        kube::Error::Api(mut s) if is_secret(obj) => {
            s.message = scrub(&s.message, obj);
            kube::Error::Api(s)
        }
        e => e,
    }
}

fn decode_base64(s: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let s = s.trim_end_matches('=');
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_values_are_masked_key_by_key_showing_which_changed() {
        let mut live = json!({"apiVersion": "v1", "kind": "Secret",
            "data": {"same": "YQ==", "changed": "Yg==", "gone": "Yw=="}});
        let mut want = json!({"apiVersion": "v1", "kind": "Secret",
            "data": {"same": "YQ==", "changed": "ZA==", "new": "ZQ=="},
            "stringData": {"plain": "hunter2"}});
        mask_secret_pair(Some(&mut live), Some(&mut want));
        assert_eq!(
            live["data"],
            json!({"same": "***", "changed": "*** (before)", "gone": "***"})
        );
        assert_eq!(
            want["data"],
            json!({"same": "***", "changed": "*** (after)", "new": "***"})
        );
        assert_eq!(want["stringData"], json!({"plain": "***"}));
    }

    #[test]
    fn other_kinds_are_not_masked() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}});
        assert_eq!(mask_secret(&cm), cm);
    }

    #[test]
    fn error_messages_about_a_secret_lose_its_values_plain_and_decoded() {
        let s = json!({"apiVersion": "v1", "kind": "Secret",
            "data": {"k": "aHVudGVyMg=="}, "stringData": {"p": "s3cr3t-value"}});
        let m = scrub(
            "Invalid value: \"hunter2\" and aHVudGVyMg== and s3cr3t-value",
            &s,
        );
        assert_eq!(m, "Invalid value: \"***\" and *** and ***");
        assert_eq!(decode_base64("aHVudGVyMg==").as_deref(), Some("hunter2"));
    }
}
