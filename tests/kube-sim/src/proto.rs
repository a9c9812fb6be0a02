//! Just enough of the Kubernetes protobuf encoding to read the request bodies kubectl's
//! typed clients send as `application/vnd.kubernetes.protobuf` (access reviews, and the
//! ObjectMeta + data of ConfigMaps, Secrets and Namespaces from `kubectl create`).

use serde_json::{Map, Value, json};

/// A decoded field value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn fields(b: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut out = vec![];
    let mut pos = 0;
    while pos < b.len() {
        let tag = varint(b, &mut pos)?;
        let (num, wt) = (tag >> 3, tag & 7);
        match wt {
            0 => out.push((num, Field::Varint(varint(b, &mut pos)?))),
            2 => {
                let len = usize::try_from(varint(b, &mut pos)?).ok()?;
                let s = b.get(pos..pos + len)?;
                pos += len;
                out.push((num, Field::Bytes(s)));
            }
            1 => pos += 8,
            5 => pos += 4,
            _ => return None,
        }
    }
    Some(out)
}

fn string(f: &Field) -> String {
    match f {
        Field::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Field::Varint(v) => v.to_string(),
    }
}

fn map_entry(b: &[u8]) -> Option<(String, Vec<u8>)> {
    let fs = fields(b)?;
    let mut k = String::new();
    let mut v = vec![];
    for (n, f) in fs {
        match (n, f) {
            (1, f) => k = string(&f),
            (2, Field::Bytes(b)) => v = b.to_vec(),
            _ => {}
        }
    }
    Some((k, v))
}

fn object_meta(b: &[u8]) -> Option<Value> {
    let mut m = Map::new();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    for (n, f) in fields(b)? {
        match n {
            1..=3 => {
                let s = string(&f);
                if !s.is_empty() {
                    let k = ["", "name", "generateName", "namespace"][n as usize];
                    m.insert(k.into(), json!(s));
                }
            }
            11 | 12 => {
                if let Field::Bytes(b) = f
                    && let Some((k, v)) = map_entry(b)
                {
                    let v = json!(String::from_utf8_lossy(&v));
                    if n == 11 {
                        labels.insert(k, v);
                    } else {
                        annotations.insert(k, v);
                    }
                }
            }
            _ => {}
        }
    }
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), Value::Object(annotations));
    }
    Some(Value::Object(m))
}

fn sub<'a>(f: &Field<'a>) -> &'a [u8] {
    match f {
        Field::Bytes(b) => b,
        Field::Varint(_) => &[],
    }
}

/// Decodes a `k8s\0`-prefixed protobuf body of the given kind into JSON.
///
/// # Errors
/// A message when the body is not protobuf or the kind is not supported.
pub fn decode(body: &[u8], kind: &str) -> Result<Value, String> {
    let raw = body
        .strip_prefix(b"k8s\x00")
        .ok_or("protobuf body lacks the k8s magic prefix")?;
    let unknown = fields(raw).ok_or("malformed protobuf envelope")?;
    let mut api_version = String::new();
    let mut obj_bytes: &[u8] = &[];
    for (n, f) in &unknown {
        match n {
            1 => {
                for (tn, tf) in fields(sub(f)).unwrap_or_default() {
                    if tn == 1 {
                        api_version = string(&tf);
                    }
                }
            }
            2 => obj_bytes = sub(f),
            _ => {}
        }
    }
    let fs = fields(obj_bytes).ok_or("malformed protobuf object")?;
    let mut obj = json!({"apiVersion": api_version, "kind": kind});
    match kind {
        "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            for (n, f) in &fs {
                match n {
                    1 => obj["metadata"] = object_meta(sub(f)).unwrap_or(json!({})),
                    2 => {
                        let mut spec = Map::new();
                        let mut groups = vec![];
                        for (sn, sf) in fields(sub(f)).unwrap_or_default() {
                            match sn {
                                1 => {
                                    let names = [
                                        "",
                                        "namespace",
                                        "verb",
                                        "group",
                                        "version",
                                        "resource",
                                        "subresource",
                                        "name",
                                    ];
                                    let mut ra = Map::new();
                                    for (an, af) in fields(sub(&sf)).unwrap_or_default() {
                                        if let Some(k) =
                                            names.get(an as usize).filter(|k| !k.is_empty())
                                        {
                                            ra.insert((*k).into(), json!(string(&af)));
                                        }
                                    }
                                    spec.insert("resourceAttributes".into(), Value::Object(ra));
                                }
                                2 => {
                                    let mut nr = Map::new();
                                    for (an, af) in fields(sub(&sf)).unwrap_or_default() {
                                        match an {
                                            1 => nr.insert("path".into(), json!(string(&af))),
                                            2 => nr.insert("verb".into(), json!(string(&af))),
                                            _ => None,
                                        };
                                    }
                                    spec.insert("nonResourceAttributes".into(), Value::Object(nr));
                                }
                                3 if kind != "SelfSubjectAccessReview" => {
                                    spec.insert("user".into(), json!(string(&sf)));
                                }
                                4 if kind != "SelfSubjectAccessReview" => {
                                    groups.push(json!(string(&sf)))
                                }
                                _ => {}
                            }
                        }
                        if !groups.is_empty() {
                            spec.insert("groups".into(), Value::Array(groups));
                        }
                        obj["spec"] = Value::Object(spec);
                    }
                    _ => {}
                }
            }
        }
        "ConfigMap" | "Secret" | "Namespace" => {
            for (n, f) in &fs {
                match (kind, n) {
                    (_, 1) => obj["metadata"] = object_meta(sub(f)).unwrap_or(json!({})),
                    ("ConfigMap", 2) | ("ConfigMap", 3) | ("Secret", 2) => {
                        if let Some((k, v)) = map_entry(sub(f)) {
                            let field = if *n == 2 { "data" } else { "binaryData" };
                            let val = if kind == "ConfigMap" && *n == 2 {
                                json!(String::from_utf8_lossy(&v))
                            } else {
                                use base64::Engine;
                                json!(base64::engine::general_purpose::STANDARD.encode(&v))
                            };
                            obj[field][k] = val;
                        }
                    }
                    ("ConfigMap", 4) | ("Secret", 5) => {
                        if let Field::Varint(v) = f {
                            obj["immutable"] = json!(*v != 0);
                        }
                    }
                    ("Secret", 3) => obj["type"] = json!(string(f)),
                    _ => {}
                }
            }
        }
        "ServiceAccount" => {
            for (n, f) in &fs {
                if *n == 1 {
                    obj["metadata"] = object_meta(sub(f)).unwrap_or(json!({}));
                }
            }
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            let mut subjects = vec![];
            for (n, f) in &fs {
                match n {
                    1 => obj["metadata"] = object_meta(sub(f)).unwrap_or(json!({})),
                    2 => {
                        let mut s = Map::new();
                        for (sn, sf) in fields(sub(f)).unwrap_or_default() {
                            let k = ["", "kind", "apiGroup", "name", "namespace"]
                                .get(sn as usize)
                                .copied()
                                .unwrap_or("");
                            let v = string(&sf);
                            if !k.is_empty() && !v.is_empty() {
                                s.insert(k.into(), json!(v));
                            }
                        }
                        subjects.push(Value::Object(s));
                    }
                    3 => {
                        let mut r = Map::new();
                        for (rn, rf) in fields(sub(f)).unwrap_or_default() {
                            let k = ["", "apiGroup", "kind", "name"]
                                .get(rn as usize)
                                .copied()
                                .unwrap_or("");
                            if !k.is_empty() {
                                r.insert(k.into(), json!(string(&rf)));
                            }
                        }
                        obj["roleRef"] = Value::Object(r);
                    }
                    _ => {}
                }
            }
            if !subjects.is_empty() {
                obj["subjects"] = Value::Array(subjects);
            }
        }
        other => {
            return Err(format!(
                "kube-sim cannot decode protobuf for {other}; send application/json"
            ));
        }
    }
    if obj["metadata"].is_null() {
        obj["metadata"] = json!({});
    }
    Ok(obj)
}
