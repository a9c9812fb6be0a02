//! Defaulting and validation, where the real API server defaults or rejects: names,
//! labels, required fields, immutable fields, and CRD structural schemas (pruning,
//! defaults, types, required, enums, bounds).

use serde_json::{Value, json};

use crate::registry::ResourceType;
use crate::selector::LabelSelector;
use crate::status::{Cause, forbidden, invalid_value, not_supported, required, type_invalid};

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// Whether `s` is a DNS-1123 label.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Whether `s` is a DNS-1123 subdomain.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_qualified_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
}

fn is_qualified_name(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_qualified_name_part(name),
        None => is_qualified_name_part(s),
    }
}

fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_qualified_name_part(s)
}

/// Applies the defaults the real API server applies on create and update.
pub fn apply_defaults(rt: &ResourceType, obj: &mut Value, next_ip: &mut u32) {
    let spec_present = obj.get("spec").is_some();
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => {
            let name = obj["metadata"]["name"].clone();
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            if obj["spec"]["finalizers"].is_null() {
                obj["spec"]["finalizers"] = json!(["kubernetes"]);
            }
            if obj["status"]["phase"].is_null() {
                obj["status"]["phase"] = json!("Active");
            }
        }
        ("", "Secret") => {
            if obj["type"].is_null() {
                obj["type"] = json!("Opaque");
            }
            if let Some(sd) = obj.as_object_mut().and_then(|m| m.remove("stringData"))
                && let Some(sd) = sd.as_object()
            {
                use base64::Engine;
                for (k, v) in sd {
                    let enc = base64::engine::general_purpose::STANDARD
                        .encode(v.as_str().unwrap_or_default());
                    obj["data"][k] = json!(enc);
                }
            }
        }
        ("", "Service") => {
            let spec = &mut obj["spec"];
            if spec["type"].is_null() {
                spec["type"] = json!("ClusterIP");
            }
            if spec["sessionAffinity"].is_null() {
                spec["sessionAffinity"] = json!("None");
            }
            if spec["type"] != "ExternalName" {
                if spec["clusterIP"].is_null() || spec["clusterIP"] == "" {
                    let ip = format!("10.96.{}.{}", *next_ip / 250, *next_ip % 250 + 1);
                    *next_ip += 1;
                    spec["clusterIP"] = json!(ip);
                }
                if spec["clusterIPs"].is_null() {
                    spec["clusterIPs"] = json!([spec["clusterIP"].clone()]);
                }
                if spec["ipFamilies"].is_null() {
                    spec["ipFamilies"] = json!(["IPv4"]);
                }
                if spec["ipFamilyPolicy"].is_null() {
                    spec["ipFamilyPolicy"] = json!("SingleStack");
                }
                if spec["internalTrafficPolicy"].is_null() {
                    spec["internalTrafficPolicy"] = json!("Cluster");
                }
            }
            if let Some(ports) = spec["ports"].as_array_mut() {
                for p in ports {
                    if p["protocol"].is_null() {
                        p["protocol"] = json!("TCP");
                    }
                    if p["targetPort"].is_null() {
                        p["targetPort"] = p["port"].clone();
                    }
                }
            }
            if obj["status"].is_null() {
                obj["status"] = json!({"loadBalancer": {}});
            }
        }
        ("", "PersistentVolumeClaim") => {
            if obj["spec"]["volumeMode"].is_null() {
                obj["spec"]["volumeMode"] = json!("Filesystem");
            }
            if obj["status"]["phase"].is_null() {
                obj["status"]["phase"] = json!("Pending");
            }
        }
        ("", "Pod") => {
            default_pod_spec(&mut obj["spec"]);
            if obj["status"]["phase"].is_null() {
                obj["status"]["phase"] = json!("Pending");
            }
        }
        ("apps", "Deployment") if spec_present => {
            let spec = &mut obj["spec"];
            for (k, v) in [
                ("replicas", json!(1)),
                ("revisionHistoryLimit", json!(10)),
                ("progressDeadlineSeconds", json!(600)),
                (
                    "strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
                ),
            ] {
                if spec[k].is_null() {
                    spec[k] = v;
                }
            }
            default_pod_spec(&mut spec["template"]["spec"]);
        }
        ("apps", "StatefulSet" | "ReplicaSet" | "DaemonSet") if spec_present => {
            let spec = &mut obj["spec"];
            if rt.kind != "DaemonSet" && spec["replicas"].is_null() {
                spec["replicas"] = json!(1);
            }
            if rt.kind == "StatefulSet" && spec["podManagementPolicy"].is_null() {
                spec["podManagementPolicy"] = json!("OrderedReady");
            }
            default_pod_spec(&mut spec["template"]["spec"]);
        }
        ("batch", "Job") if spec_present => {
            let uid = obj["metadata"]["uid"].clone();
            let spec = &mut obj["spec"];
            for (k, v) in [
                ("backoffLimit", json!(6)),
                ("completions", json!(1)),
                ("parallelism", json!(1)),
                ("completionMode", json!("NonIndexed")),
                ("suspend", json!(false)),
            ] {
                if spec[k].is_null() {
                    spec[k] = v;
                }
            }
            if spec["selector"].is_null() && spec["manualSelector"] != true && uid.is_string() {
                spec["selector"] =
                    json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
                spec["template"]["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] =
                    uid.clone();
                spec["template"]["metadata"]["labels"]["controller-uid"] = uid;
            }
            default_pod_spec(&mut spec["template"]["spec"]);
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let names = &mut obj["spec"]["names"];
            if names["singular"].is_null()
                && let Some(k) = names["kind"].as_str()
            {
                names["singular"] = json!(k.to_lowercase());
            }
            if names["listKind"].is_null()
                && let Some(k) = names["kind"].as_str()
            {
                names["listKind"] = json!(format!("{k}List"));
            }
            if obj["spec"]["conversion"].is_null() {
                obj["spec"]["conversion"] = json!({"strategy": "None"});
            }
        }
        _ => {}
    }
}

fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    for (k, v) in [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("securityContext", json!({})),
        ("schedulerName", json!("default-scheduler")),
    ] {
        if spec[k].is_null() {
            spec[k] = v;
        }
    }
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec[list].as_array_mut() {
            for c in cs {
                if c["terminationMessagePath"].is_null() {
                    c["terminationMessagePath"] = json!("/dev/termination-log");
                }
                if c["terminationMessagePolicy"].is_null() {
                    c["terminationMessagePolicy"] = json!("File");
                }
                if c["imagePullPolicy"].is_null() {
                    let img = c["image"].as_str().unwrap_or_default();
                    let latest = img.ends_with(":latest")
                        || !img.rsplit('/').next().unwrap_or("").contains(':');
                    c["imagePullPolicy"] = json!(if latest && !img.contains('@') {
                        "Always"
                    } else {
                        "IfNotPresent"
                    });
                }
                if c["resources"].is_null() {
                    c["resources"] = json!({});
                }
                if let Some(ps) = c["ports"].as_array_mut() {
                    for p in ps {
                        if p["protocol"].is_null() {
                            p["protocol"] = json!("TCP");
                        }
                    }
                }
            }
        }
    }
}

/// Validates an object (and, on update, its transition from `old`).
pub fn validate(rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut c = vec![];
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        c.push(required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        let label_names =
            matches!(rt.kind.as_str(), "Namespace" | "Service") && rt.group.is_empty();
        let rbac = rt.group == "rbac.authorization.k8s.io";
        if rbac {
            if name.contains('/') || name.contains('%') || name == "." || name == ".." {
                c.push(invalid_value(
                    "metadata.name",
                    &json!(name),
                    "may not contain '/' or '%'",
                ));
            }
        } else if label_names && !is_dns_label(name) {
            c.push(invalid_value("metadata.name", &json!(name), LABEL_MSG));
        } else if !label_names && !is_dns_subdomain(name) {
            c.push(invalid_value("metadata.name", &json!(name), SUBDOMAIN_MSG));
        }
    }
    if let Some(labels) = meta["labels"].as_object() {
        for (k, v) in labels {
            if !is_qualified_name(k) {
                c.push(invalid_value("metadata.labels", &json!(k), "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
            }
            match v.as_str() {
                Some(s) if is_label_value(s) => {}
                _ => c.push(invalid_value("metadata.labels", v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")),
            }
        }
    }
    if let Some(ann) = meta["annotations"].as_object() {
        for (k, v) in ann {
            if !is_qualified_name(k) {
                c.push(invalid_value("metadata.annotations", &json!(k), "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
            }
            if !v.is_string() {
                c.push(type_invalid(
                    &format!("metadata.annotations.{k}"),
                    v,
                    "must be a string",
                ));
            }
        }
    }
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "ConfigMap" | "Secret") => {
            for field in ["data", "binaryData"] {
                if let Some(m) = obj[field].as_object() {
                    for k in m.keys() {
                        if k.is_empty()
                            || !k
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
                        {
                            c.push(invalid_value(field, &json!(k), "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
                        }
                    }
                }
            }
            if let Some(old) = old {
                if old["immutable"] == true {
                    if old["data"] != obj["data"] || old["binaryData"] != obj["binaryData"] {
                        c.push(forbidden(
                            "data",
                            "field is immutable when `immutable` is set",
                        ));
                    }
                    if obj["immutable"] != true {
                        c.push(forbidden(
                            "immutable",
                            "field is immutable when `immutable` is set",
                        ));
                    }
                }
                if rt.kind == "Secret" && old["type"] != obj["type"] {
                    c.push(invalid_value("type", &obj["type"], "field is immutable"));
                }
            }
        }
        ("", "Service") => {
            let spec = &obj["spec"];
            let headless = spec["clusterIP"] == "None";
            if spec["type"] != "ExternalName"
                && !headless
                && spec["ports"].as_array().is_none_or(|a| a.is_empty())
            {
                c.push(required("spec.ports", ""));
            }
            if let Some(ports) = spec["ports"].as_array() {
                for (i, p) in ports.iter().enumerate() {
                    let port = p["port"].as_i64().unwrap_or(0);
                    if !(1..=65535).contains(&port) {
                        c.push(invalid_value(
                            &format!("spec.ports[{i}].port"),
                            &p["port"],
                            "must be between 1 and 65535, inclusive",
                        ));
                    }
                    if ports.len() > 1 && p["name"].as_str().is_none_or(str::is_empty) {
                        c.push(required(&format!("spec.ports[{i}].name"), ""));
                    }
                }
            }
            if let Some(old) = old
                && old["spec"]["clusterIP"] != spec["clusterIP"]
                && old["spec"]["type"] != "ExternalName"
                && spec["type"] != "ExternalName"
            {
                c.push(invalid_value(
                    "spec.clusterIPs[0]",
                    &spec["clusterIPs"],
                    "may not change once set",
                ));
            }
        }
        ("", "Pod") => {
            pod_spec(&obj["spec"], "spec", &mut c);
        }
        ("", "PersistentVolumeClaim") => {
            if let Some(old) = old {
                let strip = |v: &Value| {
                    let mut s = v["spec"].clone();
                    if let Some(r) = s.get_mut("resources").and_then(|r| r.as_object_mut()) {
                        r.remove("requests");
                    }
                    s.as_object_mut()
                        .map(|m| m.remove("volumeAttributesClassName"));
                    s
                };
                if strip(old) != strip(obj) {
                    c.push(forbidden("spec", "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"));
                }
            }
        }
        ("apps", kind @ ("Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")) => {
            let spec = &obj["spec"];
            workload_selector(spec, &mut c);
            if spec["template"].is_null() {
                c.push(required("spec.template", ""));
            } else {
                pod_spec(&spec["template"]["spec"], "spec.template.spec", &mut c);
                {
                    let rp = &spec["template"]["spec"]["restartPolicy"];
                    if !rp.is_null() && rp != "Always" {
                        c.push(not_supported(
                            "spec.template.spec.restartPolicy",
                            rp,
                            &["Always"],
                        ));
                    }
                }
            }
            if let Some(r) = spec["replicas"].as_i64()
                && r < 0
            {
                c.push(invalid_value(
                    "spec.replicas",
                    &spec["replicas"],
                    "must be greater than or equal to 0",
                ));
            }
            if let Some(old) = old {
                if old["spec"]["selector"] != spec["selector"] {
                    c.push(invalid_value(
                        "spec.selector",
                        &spec["selector"],
                        "field is immutable",
                    ));
                }
                if kind == "StatefulSet" {
                    let strip = |v: &Value| {
                        let mut s = v["spec"].clone();
                        if let Some(m) = s.as_object_mut() {
                            for k in [
                                "replicas",
                                "ordinals",
                                "template",
                                "updateStrategy",
                                "persistentVolumeClaimRetentionPolicy",
                                "minReadySeconds",
                            ] {
                                m.remove(k);
                            }
                        }
                        s
                    };
                    if strip(old) != strip(obj) {
                        c.push(forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
                    }
                }
            }
        }
        ("batch", "Job") => {
            let spec = &obj["spec"];
            if spec["template"].is_null() {
                c.push(required("spec.template", ""));
            } else {
                pod_spec(&spec["template"]["spec"], "spec.template.spec", &mut c);
                let rp = &spec["template"]["spec"]["restartPolicy"];
                if rp != "OnFailure" && rp != "Never" {
                    c.push(not_supported(
                        "spec.template.spec.restartPolicy",
                        rp,
                        &["OnFailure", "Never"],
                    ));
                }
            }
            if let Some(old) = old {
                if old["spec"]["template"] != spec["template"] {
                    c.push(invalid_value(
                        "spec.template",
                        &spec["template"],
                        "field is immutable",
                    ));
                }
                if old["spec"]["selector"] != spec["selector"] {
                    c.push(invalid_value(
                        "spec.selector",
                        &spec["selector"],
                        "field is immutable",
                    ));
                }
                if old["spec"]["completions"] != spec["completions"] {
                    c.push(invalid_value(
                        "spec.completions",
                        &spec["completions"],
                        "field is immutable",
                    ));
                }
            }
        }
        ("batch", "CronJob") => {
            let spec = &obj["spec"];
            if spec["schedule"].as_str().is_none_or(str::is_empty) {
                c.push(required("spec.schedule", ""));
            }
            if spec["jobTemplate"].is_null() {
                c.push(required("spec.jobTemplate", ""));
            } else {
                pod_spec(
                    &spec["jobTemplate"]["spec"]["template"]["spec"],
                    "spec.jobTemplate.spec.template.spec",
                    &mut c,
                );
            }
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            if obj["roleRef"]["name"].as_str().is_none_or(str::is_empty) {
                c.push(required("roleRef.name", ""));
            }
            let k = &obj["roleRef"]["kind"];
            if k != "Role" && k != "ClusterRole" {
                c.push(not_supported("roleRef.kind", k, &["Role", "ClusterRole"]));
            }
            if let Some(old) = old
                && old["roleRef"] != obj["roleRef"]
            {
                c.push(invalid_value(
                    "roleRef",
                    &obj["roleRef"],
                    "cannot change roleRef",
                ));
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let spec = &obj["spec"];
            let group = spec["group"].as_str().unwrap_or_default();
            let plural = spec["names"]["plural"].as_str().unwrap_or_default();
            if group.is_empty() {
                c.push(required("spec.group", ""));
            } else if !group.contains('.') {
                c.push(invalid_value(
                    "spec.group",
                    &spec["group"],
                    "should be a domain with at least one dot",
                ));
            }
            if plural.is_empty() {
                c.push(required("spec.names.plural", ""));
            }
            if spec["names"]["kind"].as_str().is_none_or(str::is_empty) {
                c.push(required("spec.names.kind", ""));
            }
            if name != format!("{plural}.{group}") {
                c.push(invalid_value(
                    "metadata.name",
                    &json!(name),
                    "must be spec.names.plural+\".\"+spec.group",
                ));
            }
            let scope = &spec["scope"];
            if scope != "Namespaced" && scope != "Cluster" {
                c.push(not_supported(
                    "spec.scope",
                    scope,
                    &["Cluster", "Namespaced"],
                ));
            }
            let versions = spec["versions"].as_array().cloned().unwrap_or_default();
            if versions.is_empty() {
                c.push(required(
                    "spec.versions",
                    "must have exactly one version marked as storage version",
                ));
            } else if versions.iter().filter(|v| v["storage"] == true).count() != 1 {
                c.push(invalid_value(
                    "spec.versions",
                    &spec["versions"],
                    "must have exactly one version marked as storage version",
                ));
            }
            for (i, v) in versions.iter().enumerate() {
                if v["schema"]["openAPIV3Schema"].is_null() {
                    c.push(required(
                        &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                        "schemas are required",
                    ));
                }
            }
            if let Some(old) = old {
                if old["spec"]["group"] != spec["group"] {
                    c.push(invalid_value(
                        "spec.group",
                        &spec["group"],
                        "field is immutable",
                    ));
                }
                if old["spec"]["scope"] != spec["scope"] {
                    c.push(invalid_value(
                        "spec.scope",
                        &spec["scope"],
                        "field is immutable",
                    ));
                }
            }
        }
        _ => {}
    }
    c
}

fn workload_selector(spec: &Value, c: &mut Vec<Cause>) {
    if spec["selector"].is_null() {
        c.push(required("spec.selector", ""));
        return;
    }
    let sel = LabelSelector::from_object(&spec["selector"]);
    if sel.is_empty() {
        c.push(invalid_value(
            "spec.selector",
            &spec["selector"],
            "empty selector is invalid for deployment",
        ));
        return;
    }
    let labels = &spec["template"]["metadata"]["labels"];
    if !sel.matches(labels) {
        c.push(invalid_value(
            "spec.template.metadata.labels",
            labels,
            "`selector` does not match template `labels`",
        ));
    }
}

fn pod_spec(spec: &Value, path: &str, c: &mut Vec<Cause>) {
    let containers = spec["containers"].as_array();
    match containers {
        None => c.push(required(&format!("{path}.containers"), "")),
        Some(cs) if cs.is_empty() => c.push(required(&format!("{path}.containers"), "")),
        Some(cs) => {
            let mut seen = std::collections::BTreeSet::new();
            for (i, ct) in cs.iter().enumerate() {
                let n = ct["name"].as_str().unwrap_or_default();
                if n.is_empty() {
                    c.push(required(&format!("{path}.containers[{i}].name"), ""));
                } else if !is_dns_label(n) {
                    c.push(invalid_value(
                        &format!("{path}.containers[{i}].name"),
                        &ct["name"],
                        LABEL_MSG,
                    ));
                } else if !seen.insert(n.to_string()) {
                    c.push(Cause {
                        reason: "FieldValueDuplicate".into(),
                        message: format!("Duplicate value: \"{n}\""),
                        field: format!("{path}.containers[{i}].name"),
                    });
                }
                if ct["image"].as_str().is_none_or(|s| s.trim().is_empty()) {
                    c.push(required(&format!("{path}.containers[{i}].image"), ""));
                }
            }
        }
    }
}

/// Prunes unknown fields, applies defaults and validates a custom resource against its
/// structural schema.
/// Fields dropped because the schema does not declare them are added to `unknown`.
pub fn crd_schema(
    obj: &mut Value,
    schema: &Value,
    causes: &mut Vec<Cause>,
    unknown: &mut Vec<String>,
) {
    let Some(m) = obj.as_object_mut() else { return };
    let props = schema.get("properties");
    let preserve = schema["x-kubernetes-preserve-unknown-fields"] == true;
    if let Some(p) = props.and_then(Value::as_object) {
        for (name, ps) in p {
            if matches!(name.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if !m.contains_key(name)
                && let Some(d) = ps.get("default")
            {
                m.insert(name.clone(), d.clone());
            }
        }
    }
    let keys: Vec<String> = m.keys().cloned().collect();
    for k in keys {
        if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        match props.and_then(|p| p.get(&k)) {
            Some(ps) => {
                let keep = check(m.get_mut(&k).expect("present"), ps, &k, causes, unknown);
                if !keep {
                    m.remove(&k);
                }
            }
            None if preserve => {}
            None => {
                unknown.push(k.clone());
                m.remove(&k);
            }
        }
    }
    if let Some(req) = schema["required"].as_array() {
        for r in req.iter().filter_map(Value::as_str) {
            if !m.contains_key(r) {
                causes.push(required(r, ""));
            }
        }
    }
}

/// Returns false when the value must be dropped (a null for a non-nullable field).
fn check(
    v: &mut Value,
    s: &Value,
    path: &str,
    causes: &mut Vec<Cause>,
    unknown: &mut Vec<String>,
) -> bool {
    if v.is_null() {
        return s["nullable"] == true;
    }
    let int_or_string = s["x-kubernetes-int-or-string"] == true;
    let ty = s["type"].as_str().unwrap_or_default();
    let type_ok = if int_or_string {
        v.is_i64() || v.is_u64() || v.is_string()
    } else {
        match ty {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            _ => true,
        }
    };
    if !type_ok {
        let actual = match v {
            Value::Object(_) => "object",
            Value::Array(_) => "array",
            Value::String(_) => "string",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_f64() => "number",
            Value::Number(_) => "integer",
            Value::Null => "null",
        };
        causes.push(type_invalid(
            path,
            &json!(actual),
            &format!("{path} in body must be of type {ty}: \"{actual}\""),
        ));
        return true;
    }
    if let Some(en) = s["enum"].as_array()
        && !en.contains(v)
    {
        let allowed: Vec<String> = en
            .iter()
            .map(|e| e.as_str().map(str::to_string).unwrap_or(e.to_string()))
            .collect();
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        causes.push(not_supported(path, v, &allowed));
    }
    match v {
        Value::Object(m) => {
            if s["x-kubernetes-embedded-resource"] == true {
                // apiVersion/kind/metadata of embedded objects are always kept.
            }
            let props = s.get("properties").and_then(Value::as_object);
            let addl = s.get("additionalProperties");
            let preserve = s["x-kubernetes-preserve-unknown-fields"] == true;
            if let Some(p) = props {
                for (name, ps) in p {
                    if !m.contains_key(name)
                        && let Some(d) = ps.get("default")
                    {
                        m.insert(name.clone(), d.clone());
                    }
                }
            }
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let child = format!("{path}.{k}");
                let cs = props.and_then(|p| p.get(&k)).or(match addl {
                    Some(a) if a.is_object() => Some(a),
                    _ => None,
                });
                match cs {
                    Some(cs) => {
                        if !check(m.get_mut(&k).expect("present"), cs, &child, causes, unknown) {
                            m.remove(&k);
                        }
                    }
                    None if preserve || addl == Some(&Value::Bool(true)) => {}
                    None if s["x-kubernetes-embedded-resource"] == true
                        && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") => {}
                    None => {
                        unknown.push(child);
                        m.remove(&k);
                    }
                }
            }
            if let Some(req) = s["required"].as_array() {
                for r in req.iter().filter_map(Value::as_str) {
                    if !m.contains_key(r) {
                        causes.push(required(&format!("{path}.{r}"), ""));
                    }
                }
            }
            if let Some(max) = s["maxProperties"].as_u64()
                && m.len() as u64 > max
            {
                causes.push(Cause {
                    reason: "FieldValueTooMany".into(),
                    message: format!("Too many: {}: must have at most {max} items", m.len()),
                    field: path.into(),
                });
            }
        }
        Value::Array(a) => {
            if let Some(is) = s.get("items") {
                let mut i = 0;
                a.retain_mut(|item| {
                    let keep = check(item, is, &format!("{path}[{i}]"), causes, unknown);
                    i += 1;
                    keep
                });
            }
            if let Some(max) = s["maxItems"].as_u64()
                && a.len() as u64 > max
            {
                causes.push(Cause {
                    reason: "FieldValueTooMany".into(),
                    message: format!("Too many: {}: must have at most {max} items", a.len()),
                    field: path.into(),
                });
            }
            if let Some(min) = s["minItems"].as_u64()
                && (a.len() as u64) < min
            {
                causes.push(invalid_value(
                    path,
                    &json!(a.len()),
                    &format!("{path} in body should have at least {min} items"),
                ));
            }
        }
        Value::String(st) => {
            if let Some(min) = s["minLength"].as_u64()
                && (st.chars().count() as u64) < min
            {
                causes.push(invalid_value(
                    path,
                    v,
                    &format!("{path} in body should be at least {min} chars long"),
                ));
            } else if let Some(max) = s["maxLength"].as_u64()
                && (st.chars().count() as u64) > max
            {
                causes.push(Cause {
                    reason: "FieldValueTooLong".into(),
                    message: format!("Too long: may not be more than {max} bytes"),
                    field: path.into(),
                });
            }
        }
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if let Some(min) = s["minimum"].as_f64()
                && f < min
            {
                causes.push(invalid_value(
                    path,
                    v,
                    &format!("{path} in body should be greater than or equal to {min}"),
                ));
            }
            if let Some(max) = s["maximum"].as_f64()
                && f > max
            {
                causes.push(invalid_value(
                    path,
                    v,
                    &format!("{path} in body should be less than or equal to {max}"),
                ));
            }
        }
        _ => {}
    }
    true
}
