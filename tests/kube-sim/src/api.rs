//! HTTP request handling: authentication, impersonation, authorization, routing, and the
//! verbs (get, list, watch, create, update, patch, delete, deletecollection).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response};
use serde_json::{Value, json};

use crate::Shared;
use crate::discovery;
use crate::managed::{self, Scope, Who};
use crate::patch;
use crate::rbac::{self, Attrs, User};
use crate::registry::{self, ResourceType};
use crate::schema::Ctx;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};
use crate::store::{Change, EventType, Key, Store, now};
use crate::validate;

/// Response body type.
pub type Body = BoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-cache, private")
        .body(full(serde_json::to_vec(v).unwrap_or_default()))
        .expect("valid response")
}

fn error_response(e: &ApiError) -> Response<Body> {
    let mut r = json_response(e.code, &e.to_status());
    if let Some(s) = e.retry_after {
        r.headers_mut()
            .insert("Retry-After", s.to_string().parse().expect("digits"));
    }
    r
}

/// Parsed query parameters (last value wins).
type Query = HashMap<String, String>;

fn parse_query(q: Option<&str>) -> Query {
    let mut out = HashMap::new();
    for pair in q.unwrap_or_default().split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        out.insert(dec(k), dec(v));
    }
    out
}

/// Entry point for every request.
pub async fn handle(sh: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    Ok(match route(&sh, &parts, bytes).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    })
}

fn header<'a>(parts: &'a hyper::http::request::Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn authenticate(sh: &Shared, parts: &hyper::http::request::Parts) -> ApiResult<User> {
    let tokens = sh.tokens.lock().expect("lock");
    if tokens.is_empty() {
        return Ok(User::admin());
    }
    let token = header(parts, "authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    match token.and_then(|t| tokens.get(t)) {
        Some(u) => Ok(u.clone()),
        None => Err(ApiError::unauthorized()),
    }
}

struct ResReq {
    /// The (possibly impersonated) user making the request.
    user: User,
    /// `fieldValidation`: Ignore, Warn or Strict.
    validation: String,
    /// `true` for server-side apply requests (changes the strict-validation message).
    apply: std::cell::Cell<bool>,
    /// Warnings for the `Warning` response header.
    warnings: std::cell::RefCell<Vec<String>>,
    rt: ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn resolve(st: &Store, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
    all_types(st)
        .into_iter()
        .find(|t| t.group == group && t.version == version && t.plural == plural)
}

/// Every served type: built-ins plus established CRDs.
pub fn all_types(st: &Store) -> Vec<ResourceType> {
    let mut v = registry::builtins();
    for (_, crd) in st.list("apiextensions.k8s.io", "customresourcedefinitions", None) {
        v.extend(registry::from_crd(crd));
    }
    v
}

async fn route(
    sh: &Arc<Shared>,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> ApiResult<Response<Body>> {
    let path = parts.uri.path().to_string();
    let q = parse_query(parts.uri.query());
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let caller = authenticate(sh, parts)?;
    let imp_user = header(parts, "impersonate-user").map(str::to_string);
    let imp_groups: Vec<String> = parts
        .headers
        .get_all("impersonate-group")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let user = {
        let st = sh.store.lock().expect("lock");
        rbac::impersonate(&st, &caller, imp_user.as_deref(), &imp_groups)?
    };

    // Resource request?
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => ("", "v1", rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (g, v, rest),
        _ => {
            let st = sh.store.lock().expect("lock");
            let a = Attrs {
                verb: parts.method.as_str().to_lowercase(),
                path: Some(path.clone()),
                ..Default::default()
            };
            if !rbac::allowed(&st, &user, &a) {
                return Err(rbac::forbidden(&user, &a));
            }
            return non_resource(sh, &st, &segs);
        }
    };
    let (namespace, rest) = if rest[0] == "namespaces"
        && rest.len() >= 3
        && !(rest.len() == 3 && matches!(rest[2], "status" | "finalize"))
    {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    if rest.len() > 3 {
        return Err(ApiError::path_not_found());
    }
    let rt = {
        let st = sh.store.lock().expect("lock");
        resolve(&st, group, version, rest[0]).ok_or_else(ApiError::path_not_found)?
    };
    if namespace.is_some() && !rt.namespaced {
        return Err(ApiError::path_not_found());
    }
    let name = rest.get(1).map(|s| s.to_string());
    let sub = rest.get(2).map(|s| s.to_string());
    if let Some(s) = &sub
        && !(s == "status" && rt.has_status)
        && !(s == "finalize" && rt.kind == "Namespace")
        && !(s == "scale" && rt.has_scale)
    {
        return Err(ApiError::path_not_found());
    }
    let is_watch = matches!(q.get("watch").map(String::as_str), Some("true" | "1"));
    let verb = match (&parts.method, name.is_some()) {
        (&Method::GET, _) if is_watch => "watch",
        (&Method::GET, true) => "get",
        (&Method::GET, false) => "list",
        (&Method::POST, false) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => {
            return Err(ApiError::method_not_allowed(
                parts.method.as_str(),
                &rt.kind,
            ));
        }
    };
    if rt.create_only && verb != "create" {
        return Err(ApiError::method_not_allowed(
            parts.method.as_str(),
            &rt.kind,
        ));
    }
    let validation = q
        .get("fieldValidation")
        .cloned()
        .unwrap_or_else(|| "Warn".into());
    if !matches!(validation.as_str(), "Ignore" | "Warn" | "Strict") {
        return Err(ApiError::bad_request(format!(
            "fieldValidation parameter unsupported: {validation}"
        )));
    }
    let rr = ResReq {
        user: user.clone(),
        validation,
        apply: std::cell::Cell::new(false),
        warnings: Default::default(),
        rt,
        namespace,
        name,
        sub,
    };
    {
        let st = sh.store.lock().expect("lock");
        let a = Attrs {
            verb: verb.into(),
            group: rr.rt.group.clone(),
            resource: rr.rt.plural.clone(),
            subresource: rr.sub.clone().unwrap_or_default(),
            namespace: rr.namespace.clone().unwrap_or_default(),
            name: rr.name.clone().unwrap_or_default(),
            path: None,
        };
        if !rbac::allowed(&st, &user, &a) {
            return Err(rbac::forbidden(&user, &a));
        }
    }
    let verdict = sh.faults.lock().expect("lock").check(
        verb,
        &rr.rt.group,
        &rr.rt.plural,
        &rr.rt.kind,
        rr.name.as_deref().unwrap_or_default(),
    );
    if let Some(l) = verdict.latency {
        tokio::time::sleep(l).await;
    }
    if let Some(e) = verdict.error {
        return Err(e);
    }
    let accept = header(parts, "accept").unwrap_or_default().to_string();
    let ua = header(parts, "user-agent").unwrap_or_default().to_string();
    let ctype = header(parts, "content-type")
        .unwrap_or_default()
        .to_string();
    let meta_only = accept.contains("as=PartialObjectMetadata");
    if verb == "watch" {
        return watch(sh, &rr, &q, meta_only, verdict.drop_watch_after);
    }
    let mut st = sh.store.lock().expect("lock");
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All");
    if let Some(d) = q.get("dryRun")
        && !d.is_empty()
        && d != "All"
    {
        return Err(ApiError::bad_request(format!(
            "Invalid dry run value: {d}: supported values: \"All\""
        )));
    }
    let manager = q
        .get("fieldManager")
        .cloned()
        .unwrap_or_else(|| ua.split('/').next().unwrap_or("unknown").to_string());
    if rr.sub.as_deref() == Some("scale") {
        let (code, out) = scale(&mut st, &rr, verb, &body, &ctype, &manager, dry_run)?;
        return Ok(json_response(code, &out));
    }
    let (code, out) = match verb {
        "get" => (200, get(&st, &rr)?),
        "list" => {
            let (items, rv, cont, remaining) = list(&st, &rr, &q)?;
            if accept.contains("as=Table") {
                let t = discovery::table(
                    &rr.rt,
                    &items,
                    &rv,
                    q.get("includeObject")
                        .map(String::as_str)
                        .unwrap_or("Metadata"),
                    cont.as_deref(),
                );
                return Ok(json_response(200, &t));
            }
            let mut meta = json!({"resourceVersion": rv});
            if let Some(c) = cont {
                meta["continue"] = json!(c);
                meta["remainingItemCount"] = json!(remaining);
            }
            if meta_only {
                let items: Vec<Value> = items.iter().map(partial).collect();
                return Ok(json_response(
                    200,
                    &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items}),
                ));
            }
            (
                200,
                json!({"kind": format!("{}List", rr.rt.kind), "apiVersion": rr.rt.api_version(), "metadata": meta, "items": items}),
            )
        }
        "create" => {
            if rr.rt.create_only {
                (201, review(&st, &rr, &user, &body, &ctype)?)
            } else {
                let obj = parse_body(&body, &ctype, &rr.rt.kind)?;
                create(&mut st, &rr, obj, &manager, dry_run, None)?
            }
        }
        "update" => update(&mut st, &rr, &body, &ctype, &manager, dry_run)?,
        "patch" => patch_verb(&mut st, &rr, &body, &ctype, &manager, dry_run, &q)?,
        "delete" => delete(&mut st, &rr, &body, &q, dry_run)?,
        "deletecollection" => delete_collection(&mut st, &rr, &body, &q, dry_run)?,
        _ => return Err(ApiError::path_not_found()),
    };
    if verb == "get" && accept.contains("as=Table") {
        let rv = out["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let t = discovery::table(
            &rr.rt,
            std::slice::from_ref(&out),
            &rv,
            q.get("includeObject")
                .map(String::as_str)
                .unwrap_or("Metadata"),
            None,
        );
        return Ok(json_response(200, &t));
    }
    drop(st);
    let out = if meta_only && verb == "get" {
        partial(&out)
    } else {
        out
    };
    let mut resp = json_response(code, &out);
    for w in rr.warnings.borrow().iter() {
        let v = format!("299 - \"{}\"", w.replace('"', "\\\""));
        if let Ok(h) = v.parse() {
            resp.headers_mut().append("Warning", h);
        }
    }
    Ok(resp)
}

fn non_resource(sh: &Shared, st: &Store, segs: &[&str]) -> ApiResult<Response<Body>> {
    let types = all_types(st);
    let v = match segs {
        ["version"] => discovery::version(),
        ["api"] => discovery::api_versions(&sh.addr),
        ["apis"] => discovery::api_group_list(&types),
        ["api", "v1"] => discovery::resource_list(&types, "", "v1").expect("core"),
        ["apis", g] => discovery::api_group(&types, g).ok_or_else(ApiError::path_not_found)?,
        ["apis", g, v] => {
            discovery::resource_list(&types, g, v).ok_or_else(ApiError::path_not_found)?
        }
        ["healthz" | "livez" | "readyz", ..] => {
            return Ok(Response::builder()
                .status(200)
                .header("Content-Type", "text/plain")
                .body(full("ok"))
                .expect("response"));
        }
        ["openapi", "v3"] => discovery::openapi_v3_root(&types, st.rv),
        ["openapi", "v3", "api", v] => {
            discovery::openapi_v3_gv(&types, "", v).ok_or_else(ApiError::path_not_found)?
        }
        ["openapi", "v3", "apis", g, v] => {
            discovery::openapi_v3_gv(&types, g, v).ok_or_else(ApiError::path_not_found)?
        }
        _ => return Err(ApiError::path_not_found()),
    };
    Ok(json_response(200, &v))
}

fn parse_body(body: &Bytes, ctype: &str, kind: &str) -> ApiResult<Value> {
    if body.is_empty() {
        return Err(ApiError::bad_request("request body must not be empty"));
    }
    if ctype.contains("protobuf") {
        return crate::proto::decode(body, kind).map_err(ApiError::unsupported_media_type);
    }
    let v: Result<Value, String> = if ctype.contains("yaml") {
        serde_yaml::from_slice(body).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    };
    v.map_err(|e| {
        ApiError::bad_request(format!("the body of the request could not be decoded: {e}"))
    })
}

/// The group objects of a type are stored under: `events.k8s.io` Events are the same
/// objects as core Events, as in the real API server.
fn storage_group(rt: &ResourceType) -> &str {
    if rt.group == "events.k8s.io" && rt.plural == "events" {
        ""
    } else {
        &rt.group
    }
}

const EVENT_FIELDS: &[(&str, &str)] = &[
    ("note", "message"),
    ("regarding", "involvedObject"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename_fields(obj: &mut Value, to_core: bool) {
    if let Some(m) = obj.as_object_mut() {
        for (new, core) in EVENT_FIELDS {
            let (from, to) = if to_core { (new, core) } else { (core, new) };
            if let Some(v) = m.remove(*from) {
                m.insert((*to).to_string(), v);
            }
        }
    }
}

fn key_for(rr: &ResReq, name: &str) -> Key {
    Key::new(
        storage_group(&rr.rt),
        &rr.rt.plural,
        rr.namespace.as_deref().unwrap_or_default(),
        name,
    )
}

/// Converts a stored object to the version the request asked for.
fn to_version(mut obj: Value, rt: &ResourceType) -> Value {
    if rt.group == "events.k8s.io" && rt.kind == "Event" && obj["apiVersion"] == "v1" {
        rename_fields(&mut obj, false);
    }
    obj["apiVersion"] = json!(rt.api_version());
    obj["kind"] = json!(rt.kind);
    obj
}

fn to_storage(mut obj: Value, rt: &ResourceType) -> Value {
    if rt.group == "events.k8s.io" && rt.kind == "Event" && obj["apiVersion"] == "events.k8s.io/v1"
    {
        rename_fields(&mut obj, true);
        obj["apiVersion"] = json!("v1");
    }
    if let Some(c) = &rt.crd {
        obj["apiVersion"] = json!(format!("{}/{}", rt.group, c.storage_version));
    }
    obj
}

fn ctx_for(rt: &ResourceType) -> Ctx<'_> {
    Ctx::root(
        rt.crd.as_ref().and_then(|c| c.schema.as_ref()),
        rt.is_builtin(),
    )
}

fn get(st: &Store, rr: &ResReq) -> ApiResult<Value> {
    let name = rr.name.as_deref().unwrap_or_default();
    st.objects
        .get(&key_for(rr, name))
        .map(|o| to_version(o.clone(), &rr.rt))
        .ok_or_else(|| ApiError::not_found(&rr.rt.group, &rr.rt.plural, name))
}

fn selectors(rr: &ResReq, q: &Query) -> ApiResult<(LabelSelector, FieldSelector)> {
    let ls = LabelSelector::parse(
        q.get("labelSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
    let fs = FieldSelector::parse(
        q.get("fieldSelector")
            .map(String::as_str)
            .unwrap_or_default(),
        &rr.rt.kind,
    )
    .map_err(|e| {
        ApiError::bad_request(format!(
            "\"{e}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        ))
    })?;
    Ok((ls, fs))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    start: String,
}

type ListResult = (Vec<Value>, String, Option<String>, usize);

fn list(st: &Store, rr: &ResReq, q: &Query) -> ApiResult<ListResult> {
    use base64::Engine;
    let (ls, fs) = selectors(rr, q)?;
    let mut start = String::new();
    let mut rv = st.rv;
    if let Some(c) = q.get("continue").filter(|c| !c.is_empty()) {
        let tok: ContinueToken = base64::engine::general_purpose::STANDARD
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                ApiError::bad_request("continue key is not valid: illegal base64 data")
            })?;
        if tok.rv < st.oldest_rv {
            return Err(ApiError::gone(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
            ));
        }
        start = tok.start;
        rv = tok.rv;
    }
    if let Some(want) = q.get("resourceVersion").and_then(|v| v.parse::<u64>().ok())
        && q.get("resourceVersionMatch").is_some_and(|m| m == "Exact")
        && want < st.oldest_rv
    {
        return Err(ApiError::gone(format!(
            "too old resource version: {want} ({})",
            st.oldest_rv
        )));
    }
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let all: Vec<(String, Value)> = st
        .list(
            storage_group(&rr.rt),
            &rr.rt.plural,
            rr.namespace.as_deref(),
        )
        .into_iter()
        .filter(|(_, o)| ls.matches(&o["metadata"]["labels"]) && fs.matches(o))
        .map(|(k, o)| (format!("{}/{}", k.namespace, k.name), o.clone()))
        .filter(|(pos, _)| start.is_empty() || *pos > start)
        .collect();
    let more = all.len() > limit;
    let page: Vec<(String, Value)> = all.iter().take(limit).cloned().collect();
    let cont = if more {
        let last = page.last().map(|p| p.0.clone()).unwrap_or_default();
        let tok = serde_json::to_vec(&ContinueToken { rv, start: last }).expect("json");
        Some(base64::engine::general_purpose::STANDARD.encode(tok))
    } else {
        None
    };
    let items = page
        .into_iter()
        .map(|(_, o)| to_version(o, &rr.rt))
        .collect();
    Ok((items, rv.to_string(), cont, all.len().saturating_sub(limit)))
}

fn check_namespace(st: &Store, rr: &ResReq, obj: &mut Value) -> ApiResult<String> {
    if !rr.rt.namespaced {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        return Ok(String::new());
    }
    let url_ns = rr.namespace.clone().unwrap_or_default();
    let body_ns = obj["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if url_ns.is_empty() {
        return Err(ApiError::path_not_found());
    }
    if !body_ns.is_empty() && body_ns != url_ns {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    obj["metadata"]["namespace"] = json!(url_ns);
    match st.objects.get(&Key::new("", "namespaces", "", &url_ns)) {
        None => Err(ApiError::not_found("", "namespaces", &url_ns)),
        Some(ns) if !ns["metadata"]["deletionTimestamp"].is_null() => {
            let mut e = ApiError::forbidden_plain(format!(
                "{} \"{}\" is forbidden: unable to create new content in namespace {url_ns} because it is being terminated",
                crate::status::qualified(&rr.rt.group, &rr.rt.plural),
                obj["metadata"]["name"].as_str().unwrap_or_default()
            ));
            e.details = Some(
                json!({"name": obj["metadata"]["name"], "group": rr.rt.group, "kind": rr.rt.plural,
                "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {url_ns} is being terminated"), "field": "metadata.namespace"}]}),
            );
            Err(e)
        }
        Some(_) => Ok(url_ns),
    }
}

fn check_type(rr: &ResReq, obj: &mut Value) -> ApiResult<()> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be an object",
        ));
    }
    let av = rr.rt.api_version();
    match obj["apiVersion"].as_str() {
        None | Some("") => obj["apiVersion"] = json!(av),
        Some(a) if a == av => {}
        Some(a) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({a}) does not match the expected API version ({av})"
            )));
        }
    }
    match obj["kind"].as_str() {
        None | Some("") => obj["kind"] = json!(rr.rt.kind),
        Some(k) if k == rr.rt.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rr.rt.kind
            )));
        }
    }
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    Ok(())
}

fn finish_object(
    st: &mut Store,
    rr: &ResReq,
    obj: &mut Value,
    old: Option<&Value>,
) -> ApiResult<()> {
    let mut next_ip = st.next_ip;
    validate::apply_defaults(&rr.rt, obj, &mut next_ip);
    st.next_ip = next_ip;
    let mut causes = vec![];
    let mut unknown = vec![];
    if let Some(schema) = rr.rt.crd.as_ref().and_then(|c| c.schema.as_ref()) {
        validate::crd_schema(obj, schema, &mut causes, &mut unknown);
    } else if rr.rt.crd.is_none() {
        unknown = crate::typed::prune_unknown(&rr.rt.group, &rr.rt.kind, obj).map_err(|e| {
            ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: {e}",
                rr.rt.kind, rr.rt.version, rr.rt.kind
            ))
        })?;
    }
    if !unknown.is_empty() {
        let msgs: Vec<String> = if rr.apply.get() {
            unknown
                .iter()
                .map(|u| format!(".{u}: field not declared in schema"))
                .collect()
        } else {
            unknown
                .iter()
                .map(|u| format!("unknown field \"{u}\""))
                .collect()
        };
        match rr.validation.as_str() {
            "Strict" if rr.apply.get() => {
                return Err(ApiError::bad_request(format!(
                    "failed to create typed patch object ({}, Kind={}): {}",
                    rr.rt.api_version(),
                    rr.rt.kind,
                    msgs.join(", ")
                )));
            }
            "Strict" => {
                return Err(ApiError::bad_request(format!(
                    "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                    rr.rt.kind,
                    rr.rt.version,
                    rr.rt.kind,
                    msgs.join(", ")
                )));
            }
            "Warn" => rr.warnings.borrow_mut().extend(msgs),
            _ => {}
        }
    }
    causes.extend(validate::validate(&rr.rt, obj, old));
    if rr.rt.group == "rbac.authorization.k8s.io" && causes.is_empty() {
        rbac::check_escalation(
            st,
            &rr.user,
            &rr.rt.kind,
            obj,
            rr.namespace.as_deref().unwrap_or_default(),
        )?;
    }
    if let (Some(old), Some(new_f)) = (old, obj["metadata"]["finalizers"].as_array())
        && !old["metadata"]["deletionTimestamp"].is_null()
    {
        let old_f = old["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if new_f.iter().any(|f| !old_f.contains(f)) {
            causes.push(crate::status::forbidden(
                "metadata.finalizers",
                "no new finalizers can be added if the object is being deleted",
            ));
        }
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(
            &rr.rt.group,
            &rr.rt.kind,
            obj["metadata"]["name"].as_str().unwrap_or_default(),
            causes,
        ));
    }
    Ok(())
}

fn crd_status(obj: &mut Value) {
    let t = now();
    let storage = obj["spec"]["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["storage"] == true))
        .and_then(|v| v["name"].as_str())
        .unwrap_or_default()
        .to_string();
    let mut stored: Vec<Value> = obj["status"]["storedVersions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !stored.iter().any(|s| s == storage.as_str()) {
        stored.push(json!(storage));
    }
    let keep_time = |ty: &str| {
        obj["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == ty))
            .and_then(|c| c["lastTransitionTime"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| t.clone())
    };
    let conds = json!([
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": keep_time("NamesAccepted")},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": keep_time("Established")},
    ]);
    let names = obj["spec"]["names"].clone();
    obj["status"] = json!({"conditions": conds, "acceptedNames": names, "storedVersions": stored});
}

/// Creates an object. `preset_managed` means managedFields were already computed (apply).
fn create(
    st: &mut Store,
    rr: &ResReq,
    mut obj: Value,
    manager: &str,
    dry_run: bool,
    preset_managed: Option<()>,
) -> ApiResult<(u16, Value)> {
    check_type(rr, &mut obj)?;
    if rr.name.is_some() && preset_managed.is_none() {
        return Err(ApiError::method_not_allowed("POST", &rr.rt.kind));
    }
    let mut name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if name.is_empty()
        && let Some(g) = obj["metadata"]["generateName"].as_str()
        && !g.is_empty()
    {
        let suffix: String = uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .chars()
            .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            .take(5)
            .collect();
        name = format!("{g}{suffix}");
        obj["metadata"]["name"] = json!(name);
    }
    if rr.rt.crd.is_some() {
        let crd_key = Key::new(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "",
            &format!("{}.{}", rr.rt.plural, rr.rt.group),
        );
        if st
            .objects
            .get(&crd_key)
            .is_some_and(|c| !c["metadata"]["deletionTimestamp"].is_null())
        {
            return Err(ApiError::method_not_allowed_msg(
                "create not allowed while custom resource definition is terminating",
            ));
        }
    }
    let ns = check_namespace(st, rr, &mut obj)?;
    if let Some(rv) = obj["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && preset_managed.is_none()
    {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let meta = obj["metadata"].as_object_mut().expect("object");
    for k in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta.remove(k);
    }
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(now()));
    if rr.rt.has_generation {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    if rr.rt.has_status
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
    finish_object(st, rr, &mut obj, None)?;
    let key = Key::new(storage_group(&rr.rt), &rr.rt.plural, &ns, &name);
    if st.objects.contains_key(&key) {
        return Err(ApiError::already_exists(&rr.rt.group, &rr.rt.plural, &name));
    }
    if preset_managed.is_none() {
        let who = Who {
            manager,
            api_version: &rr.rt.api_version(),
            subresource: "",
            scope: if rr.rt.has_status {
                Scope::NoStatus
            } else {
                Scope::All
            },
        };
        managed::record_update(None, &mut obj, &who, &ctx_for(&rr.rt));
    }
    if rr.rt.kind == "CustomResourceDefinition" {
        crd_status(&mut obj);
        let fins = obj["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !fins
            .iter()
            .any(|f| f == "customresourcecleanup.apiextensions.k8s.io")
        {
            let mut fins = fins;
            fins.push(json!("customresourcecleanup.apiextensions.k8s.io"));
            obj["metadata"]["finalizers"] = json!(fins);
        }
    }
    if dry_run {
        return Ok((201, to_version(obj, &rr.rt)));
    }
    let stored = st.put(key, to_storage(obj, &rr.rt));
    if rr.rt.kind == "Namespace" && rr.rt.group.is_empty() {
        crate::namespace_content(st, &name);
    }
    Ok((201, to_version(stored, &rr.rt)))
}

/// Whether a change bumps `metadata.generation`: anything but metadata, and but status
/// when status is a separate subresource.
fn spec_changed(old: &Value, new: &Value, has_status: bool) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            for k in ["metadata", "apiVersion", "kind"] {
                m.remove(k);
            }
            if has_status {
                m.remove("status");
            }
        }
        v
    };
    strip(old) != strip(new)
}

/// The shared tail of update and patch: identity, status handling, defaults, validation,
/// generation, ownership, no-op detection, persistence.
#[allow(clippy::too_many_arguments)]
fn commit_update(
    st: &mut Store,
    rr: &ResReq,
    key: Key,
    old: Value,
    mut new: Value,
    manager: &str,
    dry_run: bool,
    managed_done: bool,
) -> ApiResult<(u16, Value)> {
    check_type(rr, &mut new)?;
    let old_v = to_version(old.clone(), &rr.rt);
    for k in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
    ] {
        match old_v["metadata"].get(k) {
            Some(v) => new["metadata"][k] = v.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(k);
                }
            }
        }
    }
    let status_sub = rr.sub.as_deref() == Some("status");
    if status_sub {
        let mut merged = old_v.clone();
        match new.get("status") {
            Some(s) => merged["status"] = s.clone(),
            None => {
                if let Some(m) = merged.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        merged["metadata"]["managedFields"] = new["metadata"]["managedFields"].clone();
        if merged["metadata"]["managedFields"].is_null()
            && let Some(m) = merged["metadata"].as_object_mut()
        {
            m.remove("managedFields");
        }
        new = merged;
    } else if rr.rt.has_status && rr.rt.kind != "CustomResourceDefinition" {
        match old_v.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    if rr.sub.as_deref() == Some("finalize") {
        let fins = new["spec"]["finalizers"].clone();
        new = old_v.clone();
        new["spec"]["finalizers"] = fins;
    }
    if rr.rt.kind == "Service"
        && rr.rt.group.is_empty()
        && new["spec"]["clusterIP"].as_str().is_none_or(str::is_empty)
        && new["spec"]["type"] != "ExternalName"
    {
        new["spec"]["clusterIP"] = old_v["spec"]["clusterIP"].clone();
        if new["spec"]["clusterIPs"].is_null() {
            new["spec"]["clusterIPs"] = old_v["spec"]["clusterIPs"].clone();
        }
    }
    if rr.rt.kind == "CustomResourceDefinition" {
        new["status"] = old_v["status"].clone();
    }
    finish_object(st, rr, &mut new, Some(&old_v))?;
    if rr.rt.has_generation && spec_changed(&old_v, &new, rr.rt.has_status) {
        let g = old_v["metadata"]["generation"].as_i64().unwrap_or(0);
        new["metadata"]["generation"] = json!(g + 1);
    }
    // `managedFields: [{}]` is the documented way to reset ownership tracking.
    let reset = new["metadata"]["managedFields"] == json!([{}]);
    if reset && let Some(m) = new["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    if !managed_done && !reset {
        let who = Who {
            manager,
            api_version: &rr.rt.api_version(),
            subresource: if status_sub { "status" } else { "" },
            scope: if status_sub {
                Scope::StatusOnly
            } else if rr.rt.has_status {
                Scope::NoStatus
            } else {
                Scope::All
            },
        };
        managed::record_update(Some(&old_v), &mut new, &who, &ctx_for(&rr.rt));
    }
    if rr.rt.kind == "CustomResourceDefinition" {
        crd_status(&mut new);
    }
    if managed::same_ignoring_times(&old_v, &new) {
        return Ok((200, old_v));
    }
    if dry_run {
        return Ok((200, new));
    }
    let stored = st.put(key.clone(), to_storage(new, &rr.rt));
    st.gc();
    let out = st.objects.get(&key).cloned().unwrap_or(stored);
    Ok((200, to_version(out, &rr.rt)))
}

fn update(
    st: &mut Store,
    rr: &ResReq,
    body: &Bytes,
    ctype: &str,
    manager: &str,
    dry_run: bool,
) -> ApiResult<(u16, Value)> {
    let new = parse_body(body, ctype, &rr.rt.kind)?;
    let name = rr.name.as_deref().unwrap_or_default();
    let body_name = new["metadata"]["name"].as_str().unwrap_or_default();
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if rr.rt.namespaced
        && let Some(ns) = new["metadata"]["namespace"].as_str()
        && !ns.is_empty()
        && Some(ns) != rr.namespace.as_deref()
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let key = key_for(rr, name);
    let old = st
        .objects
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&rr.rt.group, &rr.rt.plural, name))?;
    if let Some(rv) = new["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(&rr.rt.group, &rr.rt.plural, name));
    }
    commit_update(st, rr, key, old, new, manager, dry_run, false)
}

#[allow(clippy::too_many_arguments)]
fn patch_verb(
    st: &mut Store,
    rr: &ResReq,
    body: &Bytes,
    ctype: &str,
    manager: &str,
    dry_run: bool,
    q: &Query,
) -> ApiResult<(u16, Value)> {
    let name = rr.name.as_deref().unwrap_or_default();
    let key = key_for(rr, name);
    let cur = st.objects.get(&key).cloned();
    let ct = ctype.split(';').next().unwrap_or_default().trim();
    let not_found = || ApiError::not_found(&rr.rt.group, &rr.rt.plural, name);
    if ct == "application/apply-patch+yaml" {
        rr.apply.set(true);
        let Some(manager) = q.get("fieldManager").filter(|m| !m.is_empty()) else {
            return Err(ApiError::bad_request(
                "PATCH, application/apply-patch+yaml requires fieldManager to be set",
            ));
        };
        let force = q.get("force").is_some_and(|f| f == "true");
        let mut cfg: Value = serde_yaml::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        if !cfg.is_object() {
            return Err(ApiError::bad_request("apply patch must be an object"));
        }
        for (f, what) in [("apiVersion", "apiVersion"), ("kind", "kind")] {
            if cfg[f].as_str().is_none_or(str::is_empty) {
                return Err(ApiError::bad_request(format!("{what} must be set")));
            }
        }
        check_type(rr, &mut cfg)?;
        let cfg_name = cfg["metadata"]["name"].as_str().unwrap_or_default();
        if !cfg_name.is_empty() && cfg_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({cfg_name}) does not match the name on the URL ({name})"
            )));
        }
        let status_sub = rr.sub.as_deref() == Some("status");
        let who = Who {
            manager,
            api_version: &rr.rt.api_version(),
            subresource: if status_sub { "status" } else { "" },
            scope: if status_sub {
                Scope::StatusOnly
            } else if rr.rt.has_status {
                Scope::NoStatus
            } else {
                Scope::All
            },
        };
        let ctx = ctx_for(&rr.rt);
        if let (Some(c), Some(rv)) = (&cur, cfg["metadata"]["resourceVersion"].as_str())
            && !rv.is_empty()
            && Some(rv) != c["metadata"]["resourceVersion"].as_str()
        {
            return Err(ApiError::conflict(&rr.rt.group, &rr.rt.plural, name));
        }
        return match cur {
            None => {
                if status_sub {
                    return Err(not_found());
                }
                let mut merged = managed::apply(None, &cfg, &who, force, &ctx)?;
                merged["metadata"]["name"] = json!(name);
                create(st, rr, merged, manager, dry_run, Some(())).map(|(_, v)| (201, v))
            }
            Some(c) => {
                let live = to_version(c.clone(), &rr.rt);
                let merged = managed::apply(Some(&live), &cfg, &who, force, &ctx)?;
                commit_update(st, rr, key, c, merged, manager, dry_run, true)
            }
        };
    }
    let cur = cur.ok_or_else(not_found)?;
    let live = to_version(cur.clone(), &rr.rt);
    let p: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let new = match ct {
        "application/merge-patch+json" => patch::merge_patch(&live, &p),
        "application/json-patch+json" => {
            patch::json_patch(&live, &p).map_err(ApiError::unprocessable)?
        }
        "application/strategic-merge-patch+json" => {
            if !rr.rt.is_builtin() {
                return Err(ApiError::unsupported_media_type(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                ));
            }
            patch::strategic_merge(&live, &p, &ctx_for(&rr.rt)).map_err(ApiError::bad_request)?
        }
        other => {
            return Err(ApiError::unsupported_media_type(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other})"
            )));
        }
    };
    if let Some(rv) = new["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && Some(rv) != cur["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(&rr.rt.group, &rr.rt.plural, name));
    }
    commit_update(st, rr, key, cur, new, manager, dry_run, false)
}

fn delete_options(body: &Bytes, q: &Query) -> Value {
    let mut o: Value = serde_json::from_slice(body).unwrap_or_else(|_| json!({}));
    if !o.is_object() {
        o = json!({});
    }
    if let Some(p) = q.get("propagationPolicy") {
        o["propagationPolicy"] = json!(p);
    }
    if q.get("orphanDependents").is_some_and(|v| v == "true") {
        o["propagationPolicy"] = json!("Orphan");
    }
    if o["orphanDependents"] == true {
        o["propagationPolicy"] = json!("Orphan");
    }
    o
}

fn delete_one(
    st: &mut Store,
    rr: &ResReq,
    key: &Key,
    opts: &Value,
    dry_run: bool,
) -> ApiResult<(u16, Value)> {
    let name = key.name.clone();
    let obj = st
        .objects
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&rr.rt.group, &rr.rt.plural, &name))?;
    let pre = &opts["preconditions"];
    if let Some(uid) = pre["uid"].as_str()
        && Some(uid) != obj["metadata"]["uid"].as_str()
    {
        return Err(ApiError::conflict_msg(
            format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                obj["metadata"]["uid"].as_str().unwrap_or_default()
            ),
            json!({"name": name, "group": rr.rt.group, "kind": rr.rt.plural}),
        ));
    }
    if let Some(rv) = pre["resourceVersion"].as_str()
        && Some(rv) != obj["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict_msg(
            format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                obj["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
            ),
            json!({"name": name, "group": rr.rt.group, "kind": rr.rt.plural}),
        ));
    }
    let finalizer = match opts["propagationPolicy"].as_str() {
        Some("Foreground") => Some("foregroundDeletion"),
        Some("Orphan") => Some("orphan"),
        Some("Background") | None => None,
        Some(other) => {
            return Err(ApiError::invalid(
                &rr.rt.group,
                &rr.rt.kind,
                &name,
                vec![crate::status::not_supported(
                    "propagationPolicy",
                    &json!(other),
                    &["Foreground", "Background", "Orphan"],
                )],
            ));
        }
    };
    if dry_run {
        let mut o = to_version(obj, &rr.rt);
        let has_fins = o["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
            || finalizer.is_some()
            || rr.rt.kind == "Namespace";
        if has_fins && o["metadata"]["deletionTimestamp"].is_null() {
            o["metadata"]["deletionTimestamp"] = json!(now());
        }
        return Ok((200, o));
    }
    let (o, gone) = st
        .delete_object(key, finalizer)
        .ok_or_else(|| ApiError::not_found(&rr.rt.group, &rr.rt.plural, &name))?;
    if gone {
        Ok((
            200,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                   "details": {"name": name, "group": rr.rt.group, "kind": rr.rt.plural,
                               "uid": o["metadata"]["uid"]}}),
        ))
    } else {
        Ok((202, to_version(o, &rr.rt)))
    }
}

fn delete(
    st: &mut Store,
    rr: &ResReq,
    body: &Bytes,
    q: &Query,
    dry_run: bool,
) -> ApiResult<(u16, Value)> {
    let opts = delete_options(body, q);
    let dry_run = dry_run
        || opts["dryRun"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "All"));
    let key = key_for(rr, rr.name.as_deref().unwrap_or_default());
    delete_one(st, rr, &key, &opts, dry_run)
}

fn delete_collection(
    st: &mut Store,
    rr: &ResReq,
    body: &Bytes,
    q: &Query,
    dry_run: bool,
) -> ApiResult<(u16, Value)> {
    let opts = delete_options(body, q);
    let dry_run = dry_run
        || opts["dryRun"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "All"));
    let (ls, fs) = selectors(rr, q)?;
    let keys: Vec<Key> = st
        .list(
            storage_group(&rr.rt),
            &rr.rt.plural,
            rr.namespace.as_deref(),
        )
        .into_iter()
        .filter(|(_, o)| ls.matches(&o["metadata"]["labels"]) && fs.matches(o))
        .map(|(k, _)| k.clone())
        .collect();
    let mut items = vec![];
    for k in keys {
        if let Ok((_, o)) = delete_one(st, rr, &k, &opts, dry_run) {
            items.push(o);
        }
    }
    Ok((
        200,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
    ))
}

fn review(st: &Store, rr: &ResReq, user: &User, body: &Bytes, ctype: &str) -> ApiResult<Value> {
    let mut obj = parse_body(body, ctype, &rr.rt.kind)?;
    let spec = obj["spec"].clone();
    let subject = match rr.rt.kind.as_str() {
        "SelfSubjectAccessReview" => user.clone(),
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let groups: Vec<String> = spec["groups"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|g| g.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            User {
                name: spec["user"].as_str().unwrap_or_default().into(),
                groups,
            }
        }
        "SelfSubjectRulesReview" => {
            obj["status"] =
                json!({"resourceRules": [], "nonResourceRules": [], "incomplete": true});
            return Ok(obj);
        }
        _ => return Err(ApiError::path_not_found()),
    };
    let a = if let Some(nr) = spec.get("nonResourceAttributes").filter(|v| v.is_object()) {
        Attrs {
            verb: nr["verb"].as_str().unwrap_or_default().into(),
            path: Some(nr["path"].as_str().unwrap_or_default().into()),
            ..Default::default()
        }
    } else {
        let ra = &spec["resourceAttributes"];
        Attrs {
            verb: ra["verb"].as_str().unwrap_or_default().into(),
            group: ra["group"].as_str().unwrap_or_default().into(),
            resource: ra["resource"].as_str().unwrap_or_default().into(),
            subresource: ra["subresource"].as_str().unwrap_or_default().into(),
            namespace: ra["namespace"].as_str().unwrap_or_default().into(),
            name: ra["name"].as_str().unwrap_or_default().into(),
            path: None,
        }
    };
    let ok = rbac::allowed(st, &subject, &a);
    obj["status"] = if ok {
        json!({"allowed": true, "reason": "RBAC: allowed by kube-sim"})
    } else {
        json!({"allowed": false})
    };
    if obj["metadata"].is_null() {
        obj["metadata"] = json!({});
    }
    obj["metadata"]["creationTimestamp"] = Value::Null;
    Ok(obj)
}

fn watch_event(etype: &str, obj: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": etype, "object": obj})).expect("json");
    line.push(b'\n');
    Bytes::from(line)
}

struct WatchFilter {
    group: String,
    plural: String,
    namespace: Option<String>,
    ls: LabelSelector,
    fs: FieldSelector,
}

impl WatchFilter {
    fn matches(&self, o: &Value) -> bool {
        self.ls.matches(&o["metadata"]["labels"]) && self.fs.matches(o)
    }

    /// The event a watcher sees for this change, if any.
    fn translate(&self, c: &Change) -> Option<(&'static str, Value)> {
        if c.key.group != self.group
            || c.key.resource != self.plural
            || self
                .namespace
                .as_ref()
                .is_some_and(|n| *n != c.key.namespace)
        {
            return None;
        }
        let now_m = self.matches(&c.obj);
        match c.etype {
            EventType::Added => now_m.then(|| ("ADDED", c.obj.clone())),
            EventType::Deleted => now_m.then(|| ("DELETED", c.obj.clone())),
            EventType::Modified => {
                let was_m = c.old.as_ref().is_some_and(|o| self.matches(o));
                match (was_m, now_m) {
                    (true, true) => Some(("MODIFIED", c.obj.clone())),
                    (false, true) => Some(("ADDED", c.obj.clone())),
                    (true, false) => Some(("DELETED", c.obj.clone())),
                    (false, false) => None,
                }
            }
        }
    }
}

/// The `PartialObjectMetadata` form of an object (metadata-only clients).
fn partial(o: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"].clone()})
}

fn watch(
    sh: &Arc<Shared>,
    rr: &ResReq,
    q: &Query,
    meta_only: bool,
    drop_after: Option<Duration>,
) -> ApiResult<Response<Body>> {
    let conv = move |o: Value, rt: &ResourceType| {
        let o = to_version(o, rt);
        if meta_only { partial(&o) } else { o }
    };
    let mut q = q.clone();
    if let Some(n) = &rr.name {
        q.insert("fieldSelector".into(), format!("metadata.name={n}"));
    }
    let (ls, fs) = selectors(rr, &q)?;
    let filter = WatchFilter {
        group: storage_group(&rr.rt).to_string(),
        plural: rr.rt.plural.clone(),
        namespace: rr.namespace.clone(),
        ls,
        fs,
    };
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|v| v == "true");
    let send_initial = q.get("sendInitialEvents").is_some_and(|v| v == "true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let timeout = drop_after.map_or(timeout, |d| d.min(timeout));
    let rt = rr.rt.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    let mut initial: Vec<Bytes> = vec![];
    let (mut sub, mut last_rv) = {
        let st = sh.store.lock().expect("lock");
        let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
        if rv_param.is_empty() || rv_param == "0" || send_initial {
            for (_, o) in st.list(storage_group(&rt), &rt.plural, rr.namespace.as_deref()) {
                if filter.matches(o) {
                    initial.push(watch_event("ADDED", &conv(o.clone(), &rt)));
                }
            }
            if send_initial && bookmarks {
                initial.push(watch_event(
                    "BOOKMARK",
                    &json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": {
                        "resourceVersion": st.rv.to_string(),
                        "annotations": {"k8s.io/initial-events-end": "true"}}}),
                ));
            }
        } else {
            let from: u64 = rv_param.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid resource version: {rv_param}"))
            })?;
            if from < st.oldest_rv {
                let e = ApiError::gone(format!(
                    "too old resource version: {from} ({})",
                    st.oldest_rv
                ));
                initial.push(watch_event("ERROR", &e.to_status()));
                let body = StreamBody::new(futures::stream::iter(
                    initial
                        .into_iter()
                        .map(|b| Ok::<_, Infallible>(Frame::data(b))),
                ));
                return Ok(Response::builder()
                    .status(200)
                    .header("Content-Type", "application/json")
                    .body(BodyExt::boxed(body))
                    .expect("response"));
            }
            for c in st.history.iter().filter(|c| c.rv > from) {
                if let Some((t, o)) = filter.translate(c) {
                    initial.push(watch_event(t, &conv(o, &rt)));
                }
            }
        }
        (st.tx.subscribe(), st.rv)
    };
    let mut kill = sh.watch_kill.subscribe();
    let interval = *sh.bookmark_interval.lock().expect("lock");
    tokio::spawn(async move {
        for b in initial {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = kill.changed() => return,
                _ = tick.tick(), if bookmarks => {
                    // Drain what is queued first so the bookmark never runs ahead of events.
                    loop {
                        match sub.try_recv() {
                            Ok(c) => {
                                if c.rv <= last_rv { continue; }
                                last_rv = c.rv;
                                if let Some((t, o)) = filter.translate(&c)
                                    && tx.send(watch_event(t, &conv(o, &rt))).await.is_err() {
                                    return;
                                }
                            }
                            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
                            Err(_) => return,
                        }
                    }
                    let b = watch_event("BOOKMARK", &json!({"kind": rt.kind, "apiVersion": rt.api_version(),
                        "metadata": {"resourceVersion": last_rv.to_string()}}));
                    if tx.send(b).await.is_err() { return; }
                }
                r = sub.recv() => match r {
                    Ok(c) => {
                        if c.rv <= last_rv { continue; }
                        last_rv = c.rv;
                        if let Some((t, o)) = filter.translate(&c)
                            && tx.send(watch_event(t, &conv(o, &rt))).await.is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                },
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let body = StreamBody::new(futures::StreamExt::map(stream, |b| {
        Ok::<_, Infallible>(Frame::data(b))
    }));
    Ok(Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .body(BodyExt::boxed(body))
        .expect("response"))
}

fn scale_of(obj: &Value) -> Value {
    let sel = LabelSelector::from_object(&obj["spec"]["selector"]);
    let sel: Vec<String> = sel
        .0
        .iter()
        .filter_map(|r| match r {
            crate::selector::Req::Eq(k, v) => Some(format!("{k}={v}")),
            _ => None,
        })
        .collect();
    let m = &obj["metadata"];
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
           "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
                        "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
           "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
           "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": sel.join(",")}})
}

/// The `scale` subresource of Deployments, ReplicaSets and StatefulSets.
#[allow(clippy::too_many_arguments)]
fn scale(
    st: &mut Store,
    rr: &ResReq,
    verb: &str,
    body: &Bytes,
    ctype: &str,
    manager: &str,
    dry_run: bool,
) -> ApiResult<(u16, Value)> {
    let name = rr.name.as_deref().unwrap_or_default();
    let key = key_for(rr, name);
    let cur = st
        .objects
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&rr.rt.group, &rr.rt.plural, name))?;
    let sc = scale_of(&cur);
    let new_scale = match verb {
        "get" => return Ok((200, sc)),
        "update" => serde_json::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!("the body of the request could not be decoded: {e}"))
        })?,
        "patch" => {
            let p: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            if ctype.starts_with("application/json-patch+json") {
                patch::json_patch(&sc, &p).map_err(ApiError::unprocessable)?
            } else {
                patch::merge_patch(&sc, &p)
            }
        }
        _ => return Err(ApiError::method_not_allowed(verb, "Scale")),
    };
    if let Some(rv) = new_scale["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && Some(rv) != cur["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(&rr.rt.group, &rr.rt.plural, name));
    }
    let mut new = to_version(cur.clone(), &rr.rt);
    new["spec"]["replicas"] = new_scale["spec"]["replicas"].clone();
    let main = ResReq {
        user: rr.user.clone(),
        validation: rr.validation.clone(),
        apply: std::cell::Cell::new(false),
        warnings: Default::default(),
        rt: rr.rt.clone(),
        namespace: rr.namespace.clone(),
        name: rr.name.clone(),
        sub: None,
    };
    let (code, obj) = commit_update(st, &main, key, cur, new, manager, dry_run, false)?;
    Ok((code, scale_of(&obj)))
}
