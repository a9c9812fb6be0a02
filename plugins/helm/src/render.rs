//! Values processing, template rendering and Helm's manifest ordering.

use crate::chart::Chart;
use crate::tmpl::exec::{Exec, ExecError, Templates, Tmpl};
use crate::tmpl::parse;
use crate::value::{Map, Struct, Value};
use crate::{Error, TemplateOptions};
use std::collections::HashMap;
use std::rc::Rc;

/// Context available to Helm functions.
#[derive(Default)]
pub struct HelmCtx {}

/// Helm's `tpl`: parses `text` as a template named `gotpl` and runs it with `vals`.
pub fn tpl(ex: &mut Exec, text: &str, vals: Value) -> Result<Value, ExecError> {
    let parsed = parse::parse(text, &crate::funcs::is_func).map_err(|e| {
        ex.error(format!(
            "error calling tpl: cannot parse template {text:?}: template: gotpl:{}: {}",
            e.line, e.msg
        ))
    })?;
    let gotpl: Rc<str> = Rc::from("gotpl");
    let saved_map = if parsed.defines.is_empty() {
        None
    } else {
        let saved = ex.tmpls.map.borrow().clone();
        let mut m = ex.tmpls.map.borrow_mut();
        for (n, body) in parsed.defines {
            m.insert(
                n,
                Tmpl {
                    nodes: Rc::new(body),
                    file: gotpl.clone(),
                },
            );
        }
        Some(saved)
    };
    let outer = ex.error("");
    let saved_out = std::mem::take(&mut ex.out);
    let saved_name = std::mem::replace(&mut ex.name, gotpl.clone());
    let saved_file = std::mem::replace(&mut ex.file, gotpl);
    ex.depth += 1;
    let r = if ex.depth > crate::tmpl::exec::MAX_DEPTH {
        Err(ex.error("exceeded maximum template depth"))
    } else {
        ex.run_nodes(&parsed.root, &vals)
    };
    ex.depth -= 1;
    ex.name = saved_name;
    ex.file = saved_file;
    let out = std::mem::replace(&mut ex.out, saved_out);
    if let Some(s) = saved_map {
        *ex.tmpls.map.borrow_mut() = s;
    }
    r.map_err(|e| {
        if e.user {
            e
        } else {
            ExecError {
                msg: format!(
                    "{}error calling tpl: error during tpl function execution for {text:?}: {}",
                    outer.msg, e.msg
                ),
                user: false,
            }
        }
    })?;
    Ok(Value::str(out.replace("<no value>", "")))
}

// ------------------------------------------------------------------ values

fn get_path(m: &Map, path: &str) -> Option<Value> {
    let mut cur = Value::map(m.clone());
    for p in path.split('.') {
        let next = match &cur {
            Value::Map(mm) => mm.borrow().get(p).cloned(),
            _ => None,
        };
        cur = next?;
    }
    Some(cur)
}

fn table(m: &Map, path: &str) -> Option<Map> {
    match get_path(m, path)? {
        Value::Map(t) => Some(t.borrow().clone()),
        _ => None,
    }
}

fn deep(m: &Map) -> Map {
    match crate::funcs::deep_copy(&Value::map(m.clone())) {
        Value::Map(x) => x.borrow().clone(),
        _ => Map::new(),
    }
}

/// coalesceTablesFullKey: `dst` has priority over `src`.
fn coalesce_tables(dst: &mut Map, src: &Map, merge: bool) {
    // A null in dst (the higher-priority side) deletes the key when coalescing.
    let mut deleted: Vec<String> = Vec::new();
    if !merge {
        deleted = dst
            .iter()
            .filter(|(_, v)| v.is_nil())
            .map(|(k, _)| k.clone())
            .collect();
        for k in &deleted {
            dst.remove(k);
        }
    }
    for (k, sv) in src.iter() {
        if deleted.contains(k) {
            continue;
        }
        match dst.get_mut(k) {
            Some(Value::Nil) if !merge => {
                dst.remove(k);
            }
            None => {
                dst.insert(k.clone(), sv.clone());
            }
            Some(dv) => {
                if let (Value::Map(dm), Value::Map(sm)) = (&*dv, sv) {
                    let mut d = dm.borrow().clone();
                    coalesce_tables(&mut d, &sm.borrow(), merge);
                    *dv = Value::map(d);
                }
            }
        }
    }
}

fn coalesce_values(c: &Chart, v: &mut Map, merge: bool) {
    let vc = deep(&c.values);
    for (k, val) in vc {
        match v.get_mut(&k) {
            Some(Value::Nil) if !merge => {
                v.remove(&k);
            }
            Some(Value::Map(dm)) => {
                if let Value::Map(sm) = &val {
                    let is_sub = c.subcharts.iter().any(|s| s.name == k);
                    let mut d = dm.borrow().clone();
                    coalesce_tables(&mut d, &sm.borrow(), merge || is_sub);
                    v.insert(k, Value::map(d));
                }
            }
            Some(_) => {}
            None => {
                v.insert(k, val);
            }
        }
    }
}

fn coalesce_globals(dest: &mut Map, src: &Map) {
    let mut dg = match dest.get("global") {
        Some(Value::Map(m)) => m.borrow().clone(),
        None => Map::new(),
        _ => return,
    };
    let sg = match src.get("global") {
        Some(Value::Map(m)) => m.borrow().clone(),
        _ => Map::new(),
    };
    for (k, val) in sg {
        if let Value::Map(vm) = &val {
            let mut vv = deep(&vm.borrow());
            match dg.get(&k) {
                None => {
                    dg.insert(k, Value::map(vv));
                }
                Some(Value::Map(dm)) => {
                    coalesce_tables(&mut vv, &dm.borrow(), true);
                    dg.insert(k, Value::map(vv));
                }
                Some(_) => {}
            }
        } else if matches!(dg.get(&k), Some(Value::Map(_))) {
        } else {
            dg.insert(k, val);
        }
    }
    dest.insert("global".into(), Value::map(dg));
}

fn coalesce(c: &Chart, dest: &mut Map, merge: bool) -> Result<(), Error> {
    coalesce_values(c, dest, merge);
    for sub in &c.subcharts {
        let mut dv = match dest.get(&sub.name) {
            None => Map::new(),
            Some(Value::Map(m)) => m.borrow().clone(),
            Some(Value::Nil) => Map::new(),
            Some(other) => {
                return Err(Error::Invalid(format!(
                    "type mismatch on {}: {}",
                    sub.name,
                    other.to_v()
                )));
            }
        };
        coalesce_globals(&mut dv, dest);
        coalesce(sub, &mut dv, merge)?;
        dest.insert(sub.name.clone(), Value::map(dv));
    }
    Ok(())
}

/// Helm's MergeValues (nulls kept).
pub fn merge_all(c: &Chart, vals: &Map) -> Result<Map, Error> {
    let mut v = deep(vals);
    coalesce(c, &mut v, true)?;
    Ok(v)
}

/// Helm's CoalesceValues.
pub fn coalesce_all(c: &Chart, vals: &Map) -> Result<Map, Error> {
    let mut v = deep(vals);
    coalesce(c, &mut v, false)?;
    Ok(v)
}

fn process_enabled(c: &mut Chart, top: &Map, path: &str) -> Result<(), Error> {
    if c.deps.is_empty() && c.subcharts.is_empty() {
        return Ok(());
    }
    // Resolve which loaded chart each dependency uses, applying aliases.
    let loaded = std::mem::take(&mut c.subcharts);
    let mut result: Vec<Chart> = Vec::new();
    for ch in &loaded {
        if !c.deps.iter().any(|d| d.name == ch.name) {
            result.push(ch.clone());
        }
    }
    for d in &mut c.deps {
        if let Some(ch) = loaded.iter().find(|ch| ch.name == d.name) {
            let mut ch = ch.clone();
            if !d.alias.is_empty() {
                ch.name = d.alias.clone();
                ch.meta.insert("name".into(), Value::str(&d.alias));
            }
            result.push(ch);
        }
        if !d.alias.is_empty() {
            d.name = d.alias.clone();
        }
        d.enabled = true;
    }
    c.subcharts = result;
    let mut tmp = c.clone();
    tmp.subcharts = c.subcharts.clone();
    let cvals = coalesce_all(c, top)?;
    // tags
    let tags = match cvals.get("tags") {
        Some(Value::Map(m)) => Some(m.borrow().clone()),
        _ => None,
    };
    for d in &mut c.deps {
        if let Some(t) = &tags {
            let (mut has_true, mut has_false) = (false, false);
            for k in &d.tags {
                if let Some(Value::Bool(b)) = t.get(k) {
                    if *b {
                        has_true = true;
                    } else {
                        has_false = true;
                    }
                }
            }
            d.enabled = has_true || !has_false;
        }
        for cond in d.condition.trim().split(',') {
            let cond = cond.trim();
            if cond.is_empty() {
                continue;
            }
            if let Some(Value::Bool(b)) = get_path(&cvals, &format!("{path}{cond}")) {
                d.enabled = b;
                break;
            }
        }
    }
    let disabled: Vec<String> = c
        .deps
        .iter()
        .filter(|d| !d.enabled)
        .map(|d| d.name.clone())
        .collect();
    c.subcharts.retain(|s| !disabled.contains(&s.name));
    c.deps.retain(|d| d.enabled);
    for s in &mut c.subcharts {
        let sub = format!("{path}{}.", s.name);
        process_enabled(s, &cvals, &sub)?;
    }
    Ok(())
}

fn path_to_map(path: &str, data: Map) -> Map {
    if path == "." || path.is_empty() {
        return data;
    }
    let parts: Vec<&str> = path.trim_start_matches('.').split('.').collect();
    let mut cur = data;
    for p in parts.iter().rev() {
        let mut m = Map::new();
        m.insert(p.to_string(), Value::map(cur));
        cur = m;
    }
    cur
}

fn process_imports(
    c: &mut Chart,
    seen: &mut std::collections::HashSet<String>,
) -> Result<(), Error> {
    for s in &mut c.subcharts {
        process_imports(s, seen)?;
    }
    if c.deps.is_empty() {
        return Ok(());
    }
    // Helm rewrites import-values in place on dependency records that aliased copies of a chart
    // share; a second copy then finds them in a form it ignores. Mirror that.
    if !seen.insert(c.full_path.clone()) {
        for d in &mut c.deps {
            d.import_values.clear();
        }
    }
    let cvals = merge_all(c, &Map::new())?;
    let mut b = Map::new();
    for d in &c.deps {
        for iv in &d.import_values {
            match iv {
                Value::Map(m) => {
                    let m = m.borrow();
                    let child = m.get("child").map(|v| v.strval()).unwrap_or_default();
                    let parent = m.get("parent").map(|v| v.strval()).unwrap_or_default();
                    if let Some(t) = table(&cvals, &format!("{}.{}", d.name, child)) {
                        let pm = path_to_map(&parent, t);
                        merge_tables(&mut b, &pm);
                    }
                }
                Value::Str(s) => {
                    if let Some(t) = table(&cvals, &format!("{}.exports.{}", d.name, s)) {
                        merge_tables(&mut b, &t);
                    }
                }
                _ => {}
            }
        }
    }
    // MergeTables(cvals, b): the parent's values win over imported ones.
    let mut dst = cvals;
    merge_tables(&mut dst, &b);
    c.values = dst;
    Ok(())
}

/// MergeTables(dst, src): dst has priority, nulls kept.
fn merge_tables(dst: &mut Map, src: &Map) {
    coalesce_tables(dst, src, true);
}

// ------------------------------------------------------------------ rendering

struct Renderable {
    chart_idx: usize,
    text: String,
    base_path: String,
}

fn meta_struct(c: &Chart) -> Value {
    let mut f = Map::new();
    let s = |k: &str| Value::str(c.meta_str(k));
    f.insert("Name".into(), Value::str(&c.name));
    f.insert("Home".into(), s("home"));
    f.insert(
        "Sources".into(),
        c.meta.get("sources").cloned().unwrap_or(Value::Nil),
    );
    f.insert("Version".into(), s("version"));
    f.insert("Description".into(), s("description"));
    f.insert(
        "Keywords".into(),
        c.meta.get("keywords").cloned().unwrap_or(Value::Nil),
    );
    let maint = match c.meta.get("maintainers") {
        Some(Value::List(l)) => Value::List(Rc::new(
            l.iter()
                .map(|m| {
                    let mm = m.as_map().unwrap_or_default();
                    let mut f = Map::new();
                    let mut j = Map::new();
                    for (k, gk) in [("Name", "name"), ("Email", "email"), ("URL", "url")] {
                        let v = mm.get(gk).map(|v| v.strval()).unwrap_or_default();
                        if !v.is_empty() {
                            j.insert(gk.into(), Value::str(&v));
                        }
                        f.insert(k.into(), Value::str(v));
                    }
                    Value::Struct(Rc::new(Struct {
                        type_name: "*chart.Maintainer",
                        fields: f,
                        display: None,
                        json: Some(Value::map(j)),
                    }))
                })
                .collect(),
        )),
        _ => Value::Nil,
    };
    f.insert("Maintainers".into(), maint);
    f.insert("Icon".into(), s("icon"));
    f.insert("APIVersion".into(), s("apiVersion"));
    f.insert("Condition".into(), s("condition"));
    f.insert("Tags".into(), s("tags"));
    f.insert("AppVersion".into(), s("appVersion"));
    f.insert(
        "Deprecated".into(),
        Value::Bool(c.meta.get("deprecated").is_some_and(|v| v.truthy())),
    );
    f.insert(
        "Annotations".into(),
        c.meta.get("annotations").cloned().unwrap_or(Value::Nil),
    );
    f.insert("KubeVersion".into(), s("kubeVersion"));
    let deps: Vec<Value> = c
        .deps
        .iter()
        .map(|d| {
            let raw = d.raw.as_map().unwrap_or_default();
            let g = |k: &str| Value::str(raw.get(k).map(|v| v.strval()).unwrap_or_default());
            let mut f = Map::new();
            f.insert("Name".into(), Value::str(&d.name));
            f.insert("Version".into(), g("version"));
            f.insert("Repository".into(), g("repository"));
            f.insert("Condition".into(), Value::str(&d.condition));
            f.insert(
                "Tags".into(),
                Value::List(Rc::new(d.tags.iter().map(Value::str).collect())),
            );
            f.insert("Enabled".into(), Value::Bool(d.enabled));
            f.insert(
                "ImportValues".into(),
                Value::List(Rc::new(d.import_values.clone())),
            );
            f.insert("Alias".into(), Value::str(&d.alias));
            let mut j = raw.clone();
            j.insert("name".into(), Value::str(&d.name));
            if d.enabled {
                j.insert("enabled".into(), Value::Bool(true));
            }
            Value::Struct(Rc::new(Struct {
                type_name: "*chart.Dependency",
                fields: f,
                display: None,
                json: Some(Value::map(j)),
            }))
        })
        .collect();
    f.insert(
        "Dependencies".into(),
        if deps.is_empty() {
            Value::Nil
        } else {
            Value::List(Rc::new(deps))
        },
    );
    f.insert("Type".into(), s("type"));
    f.insert("IsRoot".into(), Value::Bool(!c.full_path.contains('/')));
    let mut j = c.meta.clone();
    j.insert("name".into(), Value::str(&c.name));
    Value::Struct(Rc::new(Struct {
        type_name: "*chart.Metadata",
        fields: f,
        display: None,
        json: Some(Value::map(j)),
    }))
}

/// Kubernetes version assumed without `--kube-version` (Helm 3.17's client-go).
pub const DEFAULT_KUBE_VERSION: &str = "v1.32.0";

/// Default API versions known to Helm 3.17 (client-go 1.32 scheme plus apiextensions).
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1",
    "coordination.k8s.io/v1beta1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1alpha1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1alpha3",
    "resource.k8s.io/v1beta1",
    "scheduling.k8s.io/v1alpha1",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1alpha1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

fn caps(opts: &TemplateOptions) -> Value {
    let kv = opts
        .kube_version
        .clone()
        .unwrap_or_else(|| DEFAULT_KUBE_VERSION.into());
    let kv = if kv.starts_with('v') {
        kv
    } else {
        format!("v{kv}")
    };
    let sv = crate::semver::Version::parse(&kv).ok();
    let (maj, min) = sv
        .map(|v| (v.major.to_string(), v.minor.to_string()))
        .unwrap_or_default();
    let mut k = Map::new();
    k.insert("Version".into(), Value::str(&kv));
    k.insert("Major".into(), Value::str(&maj));
    k.insert("Minor".into(), Value::str(&min));
    k.insert("GitVersion".into(), Value::str(&kv));
    let kvs = Value::Struct(Rc::new(Struct {
        type_name: "chartutil.KubeVersion",
        fields: k,
        display: Some(format!("{{{kv} {maj} {min}}}")),
        json: None,
    }));
    let mut apis: Vec<String> = DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect();
    apis.extend(opts.api_versions.iter().cloned());
    let mut h = Map::new();
    h.insert("Version".into(), Value::str("v3.17.3"));
    h.insert(
        "GitCommit".into(),
        Value::str("e4da49785aa6e6ee2b86efd5dd9e43400318262b"),
    );
    h.insert("GitTreeState".into(), Value::str("clean"));
    h.insert("GoVersion".into(), Value::str("go1.23.7"));
    let hv = Value::Struct(Rc::new(Struct {
        type_name: "version.BuildInfo",
        fields: h,
        display: None,
        json: None,
    }));
    let mut c = Map::new();
    c.insert("KubeVersion".into(), kvs);
    c.insert("APIVersions".into(), Value::ApiVersions(Rc::new(apis)));
    c.insert("HelmVersion".into(), hv);
    Value::Struct(Rc::new(Struct {
        type_name: "*chartutil.Capabilities",
        fields: c,
        display: None,
        json: None,
    }))
}

/// One rendered manifest document.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Source path (`chart/templates/x.yaml`).
    pub path: String,
    /// Document text.
    pub content: String,
    /// Kind.
    pub kind: String,
    /// Whether it is a hook.
    pub hook: bool,
    /// Whether it is a test hook.
    pub test: bool,
    /// The parsed document.
    pub data: Value,
}

/// The result of rendering.
pub struct Output {
    /// CRD files (path, text) when include_crds.
    pub crds: Vec<(String, String)>,
    /// Sorted non-hook manifests.
    pub manifests: Vec<Manifest>,
    /// Sorted hooks.
    pub hooks: Vec<Manifest>,
    /// Warnings.
    pub warnings: Vec<String>,
}

const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

fn sort_by_kind(v: &mut [Manifest]) {
    let ord = |k: &str| INSTALL_ORDER.iter().position(|x| *x == k);
    v.sort_by(|a, b| match (ord(&a.kind), ord(&b.kind)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.kind.cmp(&b.kind),
    });
}

fn collect_charts<'a>(c: &'a Chart, out: &mut Vec<(&'a Chart, Vec<String>)>, path: Vec<String>) {
    out.push((c, path.clone()));
    for s in &c.subcharts {
        let mut p = path.clone();
        p.push(s.name.clone());
        collect_charts(s, out, p);
    }
}

fn kube_version_check(c: &Chart, opts: &TemplateOptions) -> Result<(), Error> {
    let kc = c.meta_str("kubeVersion");
    if !kc.is_empty() {
        let kv = opts
            .kube_version
            .clone()
            .unwrap_or_else(|| DEFAULT_KUBE_VERSION.into());
        let ok = crate::semver::check(&kc, &kv).map_err(Error::Invalid)?;
        if !ok {
            return Err(Error::Invalid(format!(
                "chart requires kubeVersion: {kc} which is incompatible with Kubernetes {}",
                if kv.starts_with('v') {
                    kv
                } else {
                    format!("v{kv}")
                }
            )));
        }
    }
    Ok(())
}

/// Renders a loaded chart.
pub fn render(mut chart: Chart, user_vals: Map, opts: &TemplateOptions) -> Result<Output, Error> {
    if chart.is_library() {
        return Err(Error::Invalid("library charts are not installable".into()));
    }
    kube_version_check(&chart, opts)?;
    // Missing dependencies.
    let missing: Vec<String> = chart
        .deps
        .iter()
        .filter(|d| !chart.subcharts.iter().any(|s| s.name == d.name))
        .map(|d| d.name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Invalid(format!(
            "An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
            missing.join(", ")
        )));
    }
    process_enabled(&mut chart, &user_vals, "")?;
    process_imports(&mut chart, &mut Default::default())?;
    crate::chart::set_paths(&mut chart, "");
    let vals = coalesce_all(&chart, &user_vals)?;
    if !opts.skip_schema_validation {
        crate::schema::validate_chart(&chart, &vals)?;
    }
    let mut release = Map::new();
    release.insert("Name".into(), Value::str(&opts.release_name));
    release.insert("Namespace".into(), Value::str(&opts.namespace));
    release.insert("IsUpgrade".into(), Value::Bool(opts.is_upgrade));
    release.insert("IsInstall".into(), Value::Bool(!opts.is_upgrade));
    release.insert("Revision".into(), Value::Int(opts.revision.unwrap_or(1)));
    release.insert("Service".into(), Value::str("Helm"));
    let release = Value::map(release);
    let capabilities = caps(opts);

    let mut charts = Vec::new();
    collect_charts(&chart, &mut charts, vec![]);
    // Values per chart.
    let mut chart_vals: Vec<Value> = Vec::new();
    for (_, path) in &charts {
        let mut cur = Value::map(vals.clone());
        for p in path {
            let next = match &cur {
                Value::Map(m) => m.borrow().get(p).cloned(),
                _ => None,
            };
            cur = match next {
                Some(v @ Value::Map(_)) => v,
                _ => Value::map(Map::new()),
            };
        }
        chart_vals.push(cur);
    }
    let mut tpls: HashMap<String, Renderable> = HashMap::new();
    for (i, (c, _)) in charts.iter().enumerate() {
        for (p, text) in &c.templates {
            let base = p.rsplit('/').next().unwrap_or(p);
            if c.is_library() && !base.starts_with('_') {
                continue;
            }
            let full = format!("{}/{}", c.full_path, p);
            tpls.insert(
                full,
                Renderable {
                    chart_idx: i,
                    text: text.clone(),
                    base_path: format!("{}/templates", c.full_path),
                },
            );
        }
    }
    let mut keys: Vec<String> = tpls.keys().cloned().collect();
    keys.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        if ca == cb { a.cmp(b) } else { ca.cmp(&cb) }
    });
    keys.reverse();
    let templates = Templates {
        map: Default::default(),
    };
    {
        let mut m = templates.map.borrow_mut();
        for k in &keys {
            let r = &tpls[k];
            let parsed = parse::parse(&r.text, &crate::funcs::is_func).map_err(|e| {
                Error::Render(format!("parse error at ({k}:{}): {}", e.line, e.msg))
            })?;
            let file: Rc<str> = Rc::from(k.as_str());
            m.insert(
                k.clone(),
                Tmpl {
                    nodes: Rc::new(parsed.root),
                    file: file.clone(),
                },
            );
            for (n, body) in parsed.defines {
                m.insert(
                    n,
                    Tmpl {
                        nodes: Rc::new(body),
                        file: file.clone(),
                    },
                );
            }
        }
    }
    // Top-level objects per chart.
    let mut tops: Vec<Map> = Vec::new();
    for (i, (c, _)) in charts.iter().enumerate() {
        let mut top = Map::new();
        top.insert("Chart".into(), meta_struct(c));
        top.insert("Capabilities".into(), capabilities.clone());
        top.insert("Release".into(), release.clone());
        top.insert("Values".into(), chart_vals[i].clone());
        top.insert("Files".into(), Value::Files(Rc::new(c.files.clone())));
        tops.push(top);
    }
    // .Subcharts
    for (i, (c, path)) in charts.iter().enumerate() {
        let mut subs = Map::new();
        for (j, (s, spath)) in charts.iter().enumerate() {
            if spath.len() == path.len() + 1 && spath.starts_with(path) {
                subs.insert(s.name.clone(), Value::map(tops[j].clone()));
            }
        }
        let _ = c;
        tops[i].insert("Subcharts".into(), Value::map(subs));
    }
    let ctx = HelmCtx::default();
    let mut rendered: Vec<(String, String)> = Vec::new();
    for k in &keys {
        let base = k.rsplit('/').next().unwrap_or(k);
        if base.starts_with('_') {
            continue;
        }
        let r = &tpls[k];
        let mut top = tops[r.chart_idx].clone();
        let mut t = Map::new();
        t.insert("Name".into(), Value::str(k));
        t.insert("BasePath".into(), Value::str(&r.base_path));
        top.insert("Template".into(), Value::map(t));
        let mut ex = Exec::new(&templates, &ctx, k);
        ex.exec_template(k, Value::map(top))
            .map_err(|e| Error::Render(e.msg))?;
        rendered.push((k.clone(), ex.out.replace("<no value>", "")));
    }
    // Drop NOTES.txt and sort.
    rendered.retain(|(k, _)| !k.ends_with("NOTES.txt"));
    rendered.sort_by(|a, b| a.0.cmp(&b.0));
    let mut generic = Vec::new();
    let mut hooks = Vec::new();
    for (path, content) in rendered {
        if content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(&content) {
            let head = crate::yaml::parse(&doc, false).map_err(|e| {
                Error::Render(format!(
                    "YAML parse error on {path}: error converting YAML to JSON: {e}"
                ))
            })?;
            let (kind, hook) = match &head {
                Value::Map(m) => {
                    let m = m.borrow();
                    let kind = m.get("kind").map(|k| k.strval()).unwrap_or_default();
                    let hook = m
                        .get("metadata")
                        .and_then(|md| md.as_map())
                        .and_then(|md| md.get("annotations").and_then(|a| a.as_map()))
                        .and_then(|a| a.get("helm.sh/hook").map(|h| h.strval()));
                    (kind, hook)
                }
                Value::Nil => (String::new(), None),
                other => {
                    return Err(Error::Render(format!(
                        "YAML parse error on {path}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type releaseutil.SimpleHead",
                        match other {
                            Value::List(_) => "array",
                            Value::Str(_) => "string",
                            _ => "number",
                        }
                    )));
                }
            };
            let m = Manifest {
                path: path.clone(),
                content: doc,
                kind,
                hook: hook.is_some(),
                test: hook.as_deref().is_some_and(|h| {
                    h.split(',')
                        .any(|x| x.trim() == "test" || x.trim() == "test-success")
                }),
                data: head,
            };
            if m.hook {
                let known = m_hook_known(&hook);
                if known {
                    hooks.push(m);
                }
            } else {
                generic.push(m)
            }
        }
    }
    sort_by_kind(&mut generic);
    sort_by_kind(&mut hooks);
    let mut crds = Vec::new();
    if opts.include_crds {
        for (c, _) in &charts {
            for (p, d) in c.files.iter() {
                if p.starts_with("crds/")
                    && (p.ends_with(".yaml") || p.ends_with(".yml") || p.ends_with(".json"))
                {
                    crds.push((
                        format!("{}/{}", c.full_path, p),
                        String::from_utf8_lossy(d).into_owned(),
                    ));
                }
            }
        }
    }
    // A guest instance is discarded after one call: freeing the parse trees, values and files
    // one allocation at a time is pure overhead there (about a sixth of a render).
    #[cfg(target_arch = "wasm32")]
    {
        std::mem::forget(templates);
        std::mem::forget(tops);
        std::mem::forget(chart_vals);
        std::mem::forget(charts);
        std::mem::forget(chart);
    }
    Ok(Output {
        crds,
        manifests: generic,
        hooks,
        warnings: vec![],
    })
}

fn m_hook_known(h: &Option<String>) -> bool {
    h.as_deref().is_some_and(|h| {
        h.split(',')
            .all(|x| HOOK_EVENTS.contains(&x.trim().to_lowercase().as_str()))
    })
}

/// Helm's SplitManifests.
pub fn split_manifests(s: &str) -> Vec<String> {
    let re = crate::funcs::cached_regex(r"(?:^|\s*\n)---\s*").expect("valid regex");
    re.split(s.trim())
        .filter(|d| !d.is_empty())
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
        .collect()
}

/// Produces `helm template` text output.
pub fn to_text(out: &Output, opts: &TemplateOptions) -> Result<String, Error> {
    let mut b = String::new();
    for (p, c) in &out.crds {
        b.push_str(&format!("---\n# Source: {p}\n{c}\n"));
    }
    for m in &out.manifests {
        b.push_str(&format!("---\n# Source: {}\n{}\n", m.path, m.content));
    }
    let mut text = b.trim().to_string();
    text.push('\n');
    if !opts.no_hooks {
        for h in &out.hooks {
            if opts.skip_tests && h.test {
                continue;
            }
            text.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.content));
        }
    }
    if opts.show_only.is_empty() {
        return Ok(text);
    }
    let docs = split_manifests(&text);
    let name_re = regex::Regex::new(r"# Source: [^/]+/(.+)").expect("valid regex");
    let mut res = String::new();
    for f in &opts.show_only {
        let pat = crate::chart::filepath_match_regex(f)
            .ok_or_else(|| Error::Invalid(format!("bad pattern {f}")))?;
        let mut missing = true;
        for d in &docs {
            let Some(c) = name_re.captures(d) else {
                continue;
            };
            let name = c.get(1).map(|m| m.as_str()).unwrap_or("");
            if pat.is_match(name) {
                res.push_str(&format!("---\n{d}\n"));
                missing = false;
            }
        }
        if missing {
            return Err(Error::Invalid(format!(
                "could not find template {f} in chart"
            )));
        }
    }
    Ok(res)
}
