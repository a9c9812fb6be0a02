//! The build pipeline: load a kustomization, accumulate its resources,
//! bases and components, run generators and transformers in kustomize's
//! order, then finish at the top (hashes, name references, vars, order).

use crate::error::{Error, Result};
use crate::fieldspec::{Config, FieldSpec};
use crate::fsys::{self, Fs};
use crate::generators::{self, GenOptions};
use crate::resource::{Origin, Res};
use crate::select::Selector;
use crate::smp::ExtraKeys;
use crate::transforms::{self, Image};
use crate::vars::Var;
use crate::{jsonpatch, order, replacements, smp, yaml};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// How output objects are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reorder {
    /// The CLI default: legacy order unless the kustomization sets `sortOptions`.
    #[default]
    Unspecified,
    /// kustomize's legacy kind order.
    Legacy,
    /// Input order.
    None,
}

/// Build options (the `kustomize build` flags that matter).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--load-restrictor=LoadRestrictionsNone`: files may be read from
    /// outside the kustomization directory (never outside the artifact root).
    pub load_restrictor_none: bool,
    /// `--reorder`.
    pub reorder: Reorder,
    /// Flux behaviour: when the directory has no kustomization file, build
    /// one listing every YAML manifest below it (sub-directories holding a
    /// kustomization are listed as a whole), as kustomize-controller does.
    pub generate_kustomization: bool,
    /// Flux Kustomization spec fields applied to the top kustomization.
    pub flux: crate::flux::FluxSpec,
}

const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

const FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "imageTags",
    "replicas",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "replacements",
    "vars",
    "crds",
    "openapi",
    "sortOptions",
    "buildMetadata",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "helmCharts",
    "helmGlobals",
    "helmChartInflationGenerator",
];

fn id_key(id: &crate::resource::Id) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        id.group,
        id.version,
        id.kind,
        id.name,
        id.effective_ns()
    )
}

/// A loaded kustomization file.
pub(crate) struct Kust {
    dir: String,
    file: String,
    doc: Map<String, Value>,
}

impl Kust {
    fn get(&self, k: &str) -> Option<&Value> {
        self.doc.get(k).filter(|v| !v.is_null())
    }
    fn str(&self, k: &str) -> &str {
        self.get(k).and_then(Value::as_str).unwrap_or("")
    }
    fn list(&self, k: &str) -> Result<Vec<Value>> {
        match self.get(k) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(_) => Err(self.err(Error::invalid("expected a list"), k)),
        }
    }
    fn strings(&self, k: &str) -> Result<Vec<String>> {
        self.list(k)?
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(self.err(Error::invalid("expected a list of strings"), k)),
            })
            .collect()
    }
    fn err(&self, e: Error, field: &str) -> Error {
        e.at(field).in_file(self.file.clone())
    }
    fn is_component(&self) -> bool {
        self.str("kind") == "Component"
    }
}

/// Accumulated state of one kustomization.
pub(crate) struct Acc {
    /// Current ids, for conflict checks while appending.
    index: Option<HashSet<String>>,
    /// Objects by (kind, name) over current and previous ids.
    any_index: Option<HashMap<(String, String), Vec<usize>>>,
    res: Vec<Res>,
    cfg: Config,
    vars: Vec<Var>,
    extra_keys: ExtraKeys,
}

impl Acc {
    fn new() -> Self {
        Self {
            index: None,
            any_index: None,
            res: Vec::new(),
            cfg: Config::builtin(),
            vars: Vec::new(),
            extra_keys: ExtraKeys::new(),
        }
    }
    fn append(&mut self, r: Res) -> Result<()> {
        let id = r.id();
        let index = self
            .index
            .get_or_insert_with(|| self.res.iter().map(|x| id_key(&x.id())).collect());
        if !index.insert(id_key(&id)) {
            return Err(Error::invalid(format!(
                "may not add resource with an already registered id: {}",
                id.display()
            )));
        }
        self.res.push(r);
        Ok(())
    }
    /// Objects may have been renamed: drop the lookup indexes.
    fn invalidate(&mut self) {
        self.index = None;
        self.any_index = None;
    }
    /// Binds a kustomization's own vars to the objects they name (now,
    /// before outer prefixes make names ambiguous), then merges them.
    fn bind_vars(&mut self, vars: Vec<Var>) -> Result<()> {
        for v in &vars {
            let m: Vec<usize> = (0..self.res.len())
                .filter(|&i| v.matches(&self.res[i]))
                .collect();
            if m.len() > 1 {
                return Err(Error::invalid(format!(
                    "found {} resId matches for var '{}' (unable to disambiguate)",
                    m.len(),
                    v.name
                ))
                .at("vars"));
            }
            if let Some(&i) = m.first() {
                self.res[i].refvars.push(v.name.clone());
            }
        }
        self.merge_vars(vars)
    }
    fn merge_vars(&mut self, vars: Vec<Var>) -> Result<()> {
        for v in vars {
            if self.vars.iter().any(|x| x.name == v.name) {
                return Err(
                    Error::invalid(format!("var '{}' already encountered", v.name)).at("vars"),
                );
            }
            self.vars.push(v);
        }
        Ok(())
    }
    /// Adds generated objects, merging or replacing per their behavior.
    fn absorb(&mut self, mut r: Res) -> Result<()> {
        self.index = None;
        let id = r.id();
        let res = &self.res;
        let any_index = self.any_index.get_or_insert_with(|| {
            let mut m: HashMap<(String, String), Vec<usize>> = HashMap::new();
            for (i, x) in res.iter().enumerate() {
                for xid in x.all_ids() {
                    m.entry((xid.kind, xid.name)).or_default().push(i);
                }
            }
            m
        });
        let mut matches: Vec<usize> = any_index
            .get(&(id.kind.clone(), id.name.clone()))
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| self.res[i].all_ids().iter().any(|x| x.same(&id)))
            .collect();
        matches.sort_unstable();
        matches.dedup();
        let pos = if matches.len() == 1 {
            matches[0]
        } else {
            self.res.len()
        };
        for xid in r.all_ids() {
            any_index.entry((xid.kind, xid.name)).or_default().push(pos);
        }
        let behavior = r.behavior.clone().unwrap_or_else(|| "create".into());
        match matches.len() {
            0 => {
                if behavior != "create" {
                    return Err(Error::not_found(format!(
                        "id {} does not exist; cannot merge or replace",
                        id.display()
                    )));
                }
                self.res.push(r);
            }
            1 => {
                let i = matches[0];
                let old = &self.res[i];
                let mut labels = old.labels();
                labels.extend(r.labels());
                let mut ann = old.annotations();
                ann.extend(r.annotations());
                match behavior.as_str() {
                    "merge" => {
                        for f in ["data", "binaryData"] {
                            if let Some(Value::Object(od)) = old.obj.get(f) {
                                let mut m = od.clone();
                                if let Some(Value::Object(nd)) = r.obj.get(f) {
                                    m.extend(nd.clone());
                                }
                                r.obj
                                    .as_object_mut()
                                    .expect("object")
                                    .insert(f.into(), Value::Object(m));
                            }
                        }
                    }
                    "replace" => {}
                    _ => {
                        return Err(Error::invalid(format!(
                            "id {} exists; behavior must be merge or replace",
                            id.display()
                        )));
                    }
                }
                let meta = crate::resource::obj_at(&mut r.obj, &["metadata"]);
                if labels.is_empty() {
                    meta.remove("labels");
                } else {
                    meta.insert("labels".into(), Value::Object(labels));
                }
                if ann.is_empty() {
                    meta.remove("annotations");
                } else {
                    meta.insert("annotations".into(), Value::Object(ann));
                }
                r.set_name(old.name());
                r.set_namespace(old.namespace());
                r.prev = old.prev.clone();
                r.prefixes = old.prefixes.clone();
                r.suffixes = old.suffixes.clone();
                if behavior == "merge" {
                    r.origin = old.origin.clone();
                }
                r.transformations = old.transformations.clone();
                r.needs_hash = old.needs_hash && r.needs_hash;
                r.refvars = old.refvars.clone();
                self.res[i] = r;
            }
            _ => {
                return Err(Error::invalid(format!(
                    "found multiple objects that could accept merge of {}",
                    id.display()
                )));
            }
        }
        Ok(())
    }
}

pub(crate) struct Ctx<'a> {
    fs: &'a Fs,
    opts: &'a Options,
    stack: Vec<String>,
    top: String,
    warnings: std::cell::RefCell<Vec<String>>,
}

fn is_remote(p: &str) -> bool {
    p.contains("://")
        || p.starts_with("git@")
        || p.starts_with("github.com/")
        || p.starts_with("gitlab.com/")
        || p.starts_with("bitbucket.org/")
}

fn load_kust(ctx: &Ctx<'_>, dir: &str) -> Result<Kust> {
    let mut found = Vec::new();
    for f in KUSTOMIZATION_FILES {
        let rel = fsys::join_rel(dir, f)?;
        if ctx.fs.exists(&rel)? && !ctx.fs.is_dir(&rel)? {
            found.push(rel);
        }
    }
    let file = match found.len() {
        0 => {
            return Err(Error::not_found(format!(
                "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '{dir}'"
            )));
        }
        1 => found.remove(0),
        _ => {
            return Err(Error::invalid(format!(
                "found multiple kustomization files in '{dir}'"
            )));
        }
    };
    let text = ctx.fs.read_string(&file)?;
    let mut docs = yaml::parse_stream_with(&text, false).map_err(|e| e.in_file(&file))?;
    let v = if docs.is_empty() {
        Value::Null
    } else {
        docs.swap_remove(0)
    };
    let raw = match v {
        Value::Null => Map::new(),
        Value::Object(m) => m,
        _ => return Err(Error::invalid("kustomization must be a YAML mapping").in_file(&file)),
    };
    let mut doc = Map::new();
    for (k, v) in raw {
        let Some(canon) = FIELDS.iter().find(|f| f.eq_ignore_ascii_case(&k)) else {
            return Err(
                Error::invalid(format!("invalid Kustomization: unknown field {k:?}"))
                    .in_file(&file)
                    .at(k),
            );
        };
        doc.insert((*canon).to_string(), v);
    }
    for (f, instead) in [
        ("commonLabels", "labels"),
        ("patchesStrategicMerge", "patches"),
        ("patchesJson6902", "patches"),
        ("bases", "resources"),
        ("vars", "replacements"),
        ("imageTags", "images"),
    ] {
        if doc.get(f).is_some_and(|v| !v.is_null()) {
            let w = format!("{file}: '{f}' is deprecated. Please use '{instead}' instead.");
            let mut ws = ctx.warnings.borrow_mut();
            if !ws.contains(&w) {
                ws.push(w);
            }
        }
    }
    // Legacy spellings.
    if let Some(Value::Array(b)) = doc.remove("bases") {
        let r = doc.entry("resources").or_insert(Value::Array(Vec::new()));
        if let Value::Array(a) = r {
            a.extend(b);
        }
    }
    if let Some(t) = doc.remove("imageTags") {
        doc.entry("images").or_insert(t);
    }
    for f in ["helmCharts", "helmGlobals", "helmChartInflationGenerator"] {
        if doc.get(f).is_some_and(|v| !v.is_null()) {
            return Err(Error::unsupported(
                "helm charts are not rendered by the kustomize renderer; use a HelmRelease",
            )
            .in_file(&file)
            .at(f));
        }
    }
    let k = Kust {
        dir: dir.to_string(),
        file,
        doc,
    };
    match k.str("kind") {
        "" | "Kustomization" => {}
        "Component" => {
            let av = k.str("apiVersion");
            if !av.is_empty() && av != "kustomize.config.k8s.io/v1alpha1" {
                return Err(k.err(
                    Error::invalid(
                        "apiVersion for Component should be kustomize.config.k8s.io/v1alpha1",
                    ),
                    "apiVersion",
                ));
            }
        }
        other => {
            return Err(k.err(
                Error::invalid(format!("unknown kustomization kind {other:?}")),
                "kind",
            ));
        }
    }
    Ok(k)
}

/// kustomize reads labels and annotations as strings.
fn stringify_meta(d: &mut Value) {
    for f in ["labels", "annotations"] {
        if let Some(Value::Object(m)) = d.get_mut("metadata").and_then(|m| m.get_mut(f)) {
            for v in m.values_mut() {
                if !v.is_string() {
                    *v = Value::String(crate::fieldpath::scalar_text(v));
                }
            }
        }
    }
}

/// Parses a stream of objects, expanding `List` kinds.
pub fn parse_objects(text: &str) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for d in yaml::parse_stream(text)? {
        let Value::Object(m) = &d else {
            return Err(Error::invalid("resource is not a YAML mapping"));
        };
        let is_list = m
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"));
        if is_list && let Some(items) = m.get("items") {
            for it in items.as_array().into_iter().flatten() {
                if it.is_object() {
                    let mut it = it.clone();
                    stringify_meta(&mut it);
                    out.push(it);
                }
            }
            continue;
        }
        if m.is_empty() {
            continue;
        }
        if m.get("kind")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(Error::invalid("missing kind in object"));
        }
        let mut d = d;
        stringify_meta(&mut d);
        out.push(d);
    }
    Ok(out)
}

pub(crate) fn rel_to_top(ctx: &Ctx<'_>, p: &str) -> String {
    if ctx.top == "." {
        return p.to_string();
    }
    let top: Vec<&str> = ctx.top.split('/').collect();
    let parts: Vec<&str> = p.split('/').collect();
    let common = top
        .iter()
        .zip(parts.iter())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out: Vec<String> = std::iter::repeat_n("..".to_string(), top.len() - common).collect();
    out.extend(parts[common..].iter().map(|s| s.to_string()));
    out.join("/")
}

fn accumulate_resources(ctx: &mut Ctx<'_>, k: &Kust, acc: &mut Acc) -> Result<()> {
    for (i, p) in k.strings("resources")?.iter().enumerate() {
        let field = format!("resources[{i}]");
        if is_remote(p) {
            return Err(k.err(
                Error::unsupported(format!(
                    "remote resource {p:?} is not supported (no network in the sandbox)"
                )),
                &field,
            ));
        }
        let rel = fsys::join_rel(&k.dir, p).map_err(|e| k.err(e, &field))?;
        if !ctx.fs.exists(&rel).map_err(|e| k.err(e, &field))? {
            return Err(k.err(
                Error::not_found(format!("accumulating resources: '{p}' doesn't exist")),
                &field,
            ));
        }
        if ctx.fs.is_dir(&rel)? {
            let sub = accumulate_dir(ctx, &rel, false).map_err(|e| k.err(e, &field))?;
            for r in sub.res {
                acc.append(r).map_err(|e| k.err(e, &field))?;
            }
            acc.merge_vars(sub.vars).map_err(|e| k.err(e, &field))?;
            acc.cfg.merge(&sub.cfg);
            acc.extra_keys.extend(sub.extra_keys);
        } else {
            if !ctx.opts.load_restrictor_none && !fsys::is_within(&k.dir, &rel) {
                return Err(k.err(
                    Error::invalid(format!(
                        "security; file '{p}' is not in or below '{}'",
                        k.dir
                    )),
                    &field,
                ));
            }
            let text = ctx.fs.read_string(&rel).map_err(|e| k.err(e, &field))?;
            let objs = parse_objects(&text).map_err(|e| e.in_file(&rel))?;
            for o in objs {
                let mut r = Res::new(o);
                r.origin = Origin {
                    path: Some(rel_to_top(ctx, &rel)),
                    ..Default::default()
                };
                acc.append(r).map_err(|e| k.err(e, &field))?;
            }
        }
    }
    Ok(())
}

pub(crate) fn accumulate_dir(ctx: &mut Ctx<'_>, dir: &str, component: bool) -> Result<Acc> {
    let canon = ctx.fs.canonical(dir)?;
    if ctx.stack.contains(&canon) {
        return Err(Error::invalid(format!(
            "cycle detected: kustomization '{dir}' includes itself"
        )));
    }
    let k = load_kust(ctx, dir)?;
    if component && !k.is_component() {
        return Err(k.err(
            Error::invalid(format!("expected kind 'Component' for path '{dir}'")),
            "kind",
        ));
    }
    if !component && k.is_component() {
        return Err(k.err(
            Error::invalid(format!("expected kind != 'Component' for path '{dir}'")),
            "kind",
        ));
    }
    ctx.stack.push(canon);
    let mut acc = Acc::new();
    let r = accumulate_target(ctx, &k, &mut acc);
    ctx.stack.pop();
    r?;
    Ok(acc)
}

fn read_local(ctx: &Ctx<'_>, k: &Kust, p: &str, field: &str) -> Result<(String, String)> {
    let rel = fsys::join_rel(&k.dir, p).map_err(|e| k.err(e, field))?;
    if !ctx.opts.load_restrictor_none && !fsys::is_within(&k.dir, &rel) {
        return Err(k.err(
            Error::invalid(format!(
                "security; file '{p}' is not in or below '{}'",
                k.dir
            )),
            field,
        ));
    }
    let text = ctx.fs.read_string(&rel).map_err(|e| k.err(e, field))?;
    Ok((rel, text))
}

fn accumulate_target(ctx: &mut Ctx<'_>, k: &Kust, acc: &mut Acc) -> Result<()> {
    accumulate_resources(ctx, k, acc)?;
    // Transformer configuration.
    for (i, p) in k.strings("configurations")?.iter().enumerate() {
        let field = format!("configurations[{i}]");
        let (rel, text) = read_local(ctx, k, p, &field)?;
        for d in yaml::parse_stream(&text).map_err(|e| e.in_file(&rel))? {
            acc.cfg.merge_doc(&d).map_err(|e| e.in_file(&rel))?;
        }
    }
    for (i, p) in k.strings("crds")?.iter().enumerate() {
        let field = format!("crds[{i}]");
        let (rel, text) = read_local(ctx, k, p, &field)?;
        let doc = yaml::parse_one(&text).map_err(|e| e.in_file(&rel))?;
        crate::openapi::load_crd_defs(&doc, &mut acc.cfg, &mut acc.extra_keys);
    }
    if let Some(o) = k.get("openapi") {
        // This kustomization's schema takes precedence over its bases'.
        acc.extra_keys = ExtraKeys::new();
        let path = o.get("path").and_then(Value::as_str);
        if let Some(v) = o.get("version").and_then(Value::as_str) {
            if path.is_some() {
                return Err(k.err(
                    Error::invalid("builtin version and custom schema provided, cannot use both"),
                    "openapi",
                ));
            }
            if v != "v1.21.2" {
                return Err(k.err(
                    Error::unsupported(format!(
                        "openapi version {v} is not built in (only v1.21.2)"
                    )),
                    "openapi.version",
                ));
            }
        }
        if let Some(p) = path {
            let (rel, text) = read_local(ctx, k, p, "openapi.path")?;
            let doc = yaml::parse_one(&text).map_err(|e| e.in_file(&rel))?;
            crate::openapi::load_schema(&doc, &mut acc.extra_keys);
        }
    }
    // Generators.
    let global = GenOptions::parse(k.get("generatorOptions"));
    for (key, secret) in [("configMapGenerator", false), ("secretGenerator", true)] {
        for (i, e) in k.list(key)?.iter().enumerate() {
            let field = format!("{key}[{i}]");
            let mut r = generators::generate(
                ctx.fs,
                &k.dir,
                ctx.opts.load_restrictor_none,
                e,
                secret,
                &global,
                &field,
            )
            .map_err(|e| e.in_file(k.file.clone()))?;
            r.origin = Origin {
                path: None,
                configured_in: Some(rel_to_top(ctx, &k.file)),
                configured_by: Some(
                    if secret {
                        "SecretGenerator"
                    } else {
                        "ConfigMapGenerator"
                    }
                    .into(),
                ),
                configured_name: None,
            };
            acc.absorb(r).map_err(|e| k.err(e, &field))?;
        }
    }
    crate::plugins::run_generators(ctx, k, acc)?;
    // Components.
    for (i, p) in k.strings("components")?.iter().enumerate() {
        let field = format!("components[{i}]");
        if is_remote(p) {
            return Err(k.err(
                Error::unsupported(format!("remote component {p:?} is not supported")),
                &field,
            ));
        }
        let rel = fsys::join_rel(&k.dir, p).map_err(|e| k.err(e, &field))?;
        if !ctx.fs.is_dir(&rel).map_err(|e| k.err(e, &field))? {
            return Err(k.err(
                Error::not_found(format!("component '{p}' is not a directory")),
                &field,
            ));
        }
        let canon = ctx.fs.canonical(&rel)?;
        if ctx.stack.contains(&canon) {
            return Err(k.err(
                Error::invalid(format!("cycle detected at component '{p}'")),
                &field,
            ));
        }
        let ck = load_kust(ctx, &rel).map_err(|e| k.err(e, &field))?;
        if !ck.is_component() {
            return Err(ck.err(
                Error::invalid(format!("expected kind 'Component' for path '{rel}'")),
                "kind",
            ));
        }
        ctx.stack.push(canon);
        let r = accumulate_target(ctx, &ck, acc);
        ctx.stack.pop();
        r?;
    }
    run_transformers(ctx, k, acc)?;
    crate::plugins::run_transformers(ctx, k, acc)?;
    let mut vars = Vec::new();
    for v in k.list("vars")? {
        vars.push(Var::parse(&v)?);
    }
    acc.bind_vars(vars).map_err(|e| e.in_file(k.file.clone()))?;
    Ok(())
}

/// Applies one strategic-merge patch to resource `i`, keeping name,
/// namespace and kind unless allowed to change. Returns false if deleted.
pub(crate) fn apply_smp(
    r: &mut Res,
    patch: &Value,
    allow_name: bool,
    allow_kind: bool,
    extra: &ExtraKeys,
) -> bool {
    let (n, ns, kind, av) = (
        r.name().to_string(),
        r.namespace().to_string(),
        r.kind().to_string(),
        r.api_version().to_string(),
    );
    if allow_name || allow_kind {
        r.store_prev();
    }
    if !smp::apply(&mut r.obj, patch, extra) {
        return false;
    }
    if r.obj.as_object().is_none_or(|m| m.is_empty()) {
        return false;
    }
    if !allow_kind {
        let m = r.obj.as_object_mut().expect("object");
        m.insert("kind".into(), Value::String(kind));
        m.insert("apiVersion".into(), Value::String(av));
    }
    if !allow_name {
        r.set_name(&n);
    }
    r.set_namespace(&ns);
    true
}

/// Loads patch text from `path` or inline `patch`.
fn patch_text(ctx: &Ctx<'_>, k: &Kust, e: &Value, field: &str) -> Result<String> {
    if let Some(p) = e.get("path").and_then(Value::as_str) {
        return Ok(read_local(ctx, k, p, field)?.1);
    }
    if let Some(p) = e.get("patch").and_then(Value::as_str) {
        return Ok(p.to_string());
    }
    Err(k.err(Error::invalid("patch has neither path nor patch"), field))
}

fn by_id(res: &[Res], patch: &Value) -> Vec<usize> {
    let probe = Res::new(patch.clone());
    let id = probe.id();
    (0..res.len())
        .filter(|&i| res[i].all_ids().iter().any(|x| x.same(&id)))
        .collect()
}

pub(crate) fn apply_patch_entry(
    res: &mut Vec<Res>,
    text: &str,
    target: Option<&Value>,
    allow_name: bool,
    allow_kind: bool,
    extra: &ExtraKeys,
) -> Result<()> {
    let docs = yaml::parse_stream(text)?;
    if docs.is_empty() {
        return Ok(());
    }
    if docs.len() == 1 && docs[0].is_array() {
        let Some(t) = target else {
            return Err(Error::invalid(
                "unable to apply a JSON patch without a target",
            ));
        };
        let sel = Selector::parse(t);
        for r in res.iter_mut() {
            if sel.matches(r) {
                let before = r.id();
                let mut obj = r.obj.clone();
                jsonpatch::apply(&mut obj, &docs[0]).map_err(|e| e.at("patch"))?;
                let prev = before.clone();
                r.obj = obj;
                if r.id() != before {
                    r.prev.push(prev);
                }
            }
        }
        return Ok(());
    }
    match target {
        Some(t) => {
            let sel = Selector::parse(t);
            let mut i = 0;
            while i < res.len() {
                if sel.matches(&res[i]) {
                    let mut keep = true;
                    for d in &docs {
                        if !apply_smp(&mut res[i], d, allow_name, allow_kind, extra) {
                            keep = false;
                            break;
                        }
                    }
                    if !keep {
                        res.remove(i);
                        continue;
                    }
                }
                i += 1;
            }
        }
        None => {
            for d in &docs {
                let m = by_id(res, d);
                if m.len() != 1 {
                    let id = Res::new(d.clone()).id();
                    return Err(Error::not_found(format!(
                        "no unique match for patch target {} ({} matches); failed to find unique target for patch",
                        id.display(),
                        m.len()
                    )));
                }
                if !apply_smp(&mut res[m[0]], d, allow_name, allow_kind, extra) {
                    res.remove(m[0]);
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn str_map(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

pub(crate) fn run_transformers(ctx: &mut Ctx<'_>, k: &Kust, acc: &mut Acc) -> Result<()> {
    acc.invalidate();
    run_builtin_transformers(ctx, k, acc)?;
    // Record what ran, for buildMetadata transformerAnnotations.
    let configured_in = rel_to_top(ctx, &k.file);
    for (field, kind) in [
        ("patchesStrategicMerge", "PatchStrategicMergeTransformer"),
        ("patches", "PatchTransformer"),
        ("namespace", "NamespaceTransformer"),
        ("namePrefix", "PrefixTransformer"),
        ("nameSuffix", "SuffixTransformer"),
        ("labels", "LabelTransformer"),
        ("commonLabels", "LabelTransformer"),
        ("commonAnnotations", "AnnotationsTransformer"),
        ("patchesJson6902", "PatchJson6902Transformer"),
        ("replicas", "ReplicaCountTransformer"),
        ("images", "ImageTagTransformer"),
        ("replacements", "ReplacementTransformer"),
    ] {
        let set = match k.get(field) {
            None => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Object(m)) => !m.is_empty(),
            Some(_) => true,
        };
        if set {
            for r in acc.res.iter_mut() {
                r.transformations
                    .push((configured_in.clone(), kind.to_string()));
            }
        }
    }
    Ok(())
}

fn run_builtin_transformers(ctx: &mut Ctx<'_>, k: &Kust, acc: &mut Acc) -> Result<()> {
    // patchesStrategicMerge
    for (i, p) in k.list("patchesStrategicMerge")?.iter().enumerate() {
        let field = format!("patchesStrategicMerge[{i}]");
        let Some(s) = p.as_str() else {
            return Err(k.err(
                Error::invalid("expected a file path or an inline patch"),
                &field,
            ));
        };
        let text = if !s.contains('\n')
            && fsys::join_rel(&k.dir, s)
                .ok()
                .is_some_and(|r| ctx.fs.exists(&r).unwrap_or(false))
        {
            read_local(ctx, k, s, &field)?.1
        } else if s.contains('\n') || s.contains(':') {
            s.to_string()
        } else {
            return Err(k.err(
                Error::not_found(format!("patch file '{s}' doesn't exist")),
                &field,
            ));
        };
        if yaml::parse_stream(&text)
            .map_err(|e| k.err(e, &field))?
            .is_empty()
        {
            return Err(k.err(
                Error::invalid(format!("patch appears to be empty: {s}")),
                &field,
            ));
        }
        apply_patch_entry(&mut acc.res, &text, None, false, false, &acc.extra_keys)
            .map_err(|e| k.err(e, &field))?;
    }
    // patches
    for (i, e) in k.list("patches")?.iter().enumerate() {
        let field = format!("patches[{i}]");
        let text = patch_text(ctx, k, e, &field)?;
        let opt = |n: &str| {
            e.get("options")
                .and_then(|o| o.get(n))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        apply_patch_entry(
            &mut acc.res,
            &text,
            e.get("target"),
            opt("allowNameChange"),
            opt("allowKindChange"),
            &acc.extra_keys,
        )
        .map_err(|e| k.err(e, &field))?;
    }
    // namespace
    let ns = k.str("namespace");
    if !ns.is_empty() {
        transforms::namespace(&mut acc.res, ns, &acc.cfg)?;
    }
    // prefix, suffix
    transforms::prefix_suffix(&mut acc.res, k.str("namePrefix"), "", &acc.cfg.name_prefix)?;
    transforms::prefix_suffix(&mut acc.res, "", k.str("nameSuffix"), &acc.cfg.name_prefix)?;
    // labels
    for (i, l) in k.list("labels")?.iter().enumerate() {
        let pairs = str_map(l.get("pairs"));
        let mut specs: Vec<FieldSpec> = Vec::new();
        for f in l
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut c = Config::default();
            c.merge_doc(&serde_json::json!({ "commonLabels": [f] }))
                .map_err(|e| k.err(e, &format!("labels[{i}].fields")))?;
            specs.extend(c.common_labels);
        }
        let b = |n: &str| l.get(n).and_then(Value::as_bool).unwrap_or(false);
        if b("includeSelectors") {
            specs.extend(acc.cfg.common_labels.iter().cloned());
        } else {
            specs.push(FieldSpec {
                group: String::new(),
                version: String::new(),
                kind: String::new(),
                path: vec!["metadata".into(), "labels".into()],
                create: true,
            });
            if b("includeTemplates") {
                specs.extend(acc.cfg.template_labels.iter().cloned());
            }
            specs.extend(acc.cfg.labels.iter().cloned());
        }
        transforms::add_map(&mut acc.res, &pairs, &specs)?;
    }
    transforms::add_map(
        &mut acc.res,
        &str_map(k.get("commonLabels")),
        &acc.cfg.common_labels,
    )?;
    transforms::add_map(
        &mut acc.res,
        &str_map(k.get("commonAnnotations")),
        &acc.cfg.common_annotations,
    )?;
    // patchesJson6902
    for (i, e) in k.list("patchesJson6902")?.iter().enumerate() {
        let field = format!("patchesJson6902[{i}]");
        let text = patch_text(ctx, k, e, &field)?;
        let ops = yaml::parse_one(&text).map_err(|e| k.err(e, &field))?;
        let t = e
            .get("target")
            .ok_or_else(|| k.err(Error::invalid("missing target"), &field))?;
        let sel = Selector::parse(t);
        for r in acc.res.iter_mut() {
            if sel.matches(r) {
                let before = r.id();
                jsonpatch::apply(&mut r.obj, &ops).map_err(|e| k.err(e, &field))?;
                if r.id() != before {
                    r.prev.push(before);
                }
            }
        }
    }
    // replicas
    for (i, e) in k.list("replicas")?.iter().enumerate() {
        let name = e.get("name").and_then(Value::as_str).unwrap_or("");
        let count = e
            .get("count")
            .cloned()
            .ok_or_else(|| k.err(Error::invalid("missing count"), &format!("replicas[{i}]")))?;
        transforms::replicas(&mut acc.res, name, &count, &acc.cfg.replicas)?;
    }
    // images
    let imgs: Vec<Image> = k
        .list("images")?
        .iter()
        .map(|e| {
            let s = |n: &str| {
                e.get(n)
                    .map(crate::fieldpath::scalar_text)
                    .filter(|s| !s.is_empty())
            };
            Image {
                name: s("name").unwrap_or_default(),
                new_name: s("newName"),
                new_tag: s("newTag"),
                digest: s("digest"),
            }
        })
        .collect();
    if !imgs.is_empty() {
        transforms::images(&mut acc.res, &imgs, &acc.cfg.images)?;
    }
    // replacements
    for (i, e) in k.list("replacements")?.iter().enumerate() {
        let field = format!("replacements[{i}]");
        if let Some(p) = e.get("path").and_then(Value::as_str) {
            let (rel, text) = read_local(ctx, k, p, &field)?;
            for d in yaml::parse_stream(&text).map_err(|e| e.in_file(&rel))? {
                let items = if let Value::Array(a) = d { a } else { vec![d] };
                for it in items {
                    replacements::apply(&mut acc.res, &it).map_err(|e| e.in_file(&rel))?;
                }
            }
        } else {
            replacements::apply(&mut acc.res, e).map_err(|e| k.err(e, &field))?;
        }
    }
    Ok(())
}

/// Builds the kustomization in root-relative directory `dir` below `root`.
///
/// # Errors
/// Any failure, naming the kustomization file and field at fault.
pub fn build(root: &std::path::Path, dir: &str, opts: &Options) -> Result<Vec<Value>> {
    build_with_warnings(root, dir, opts).map(|(objs, _)| objs)
}

/// Like [`build`], also returning warnings (deprecated fields) in the
/// order met.
///
/// # Errors
/// As [`build`].
pub fn build_with_warnings(
    root: &std::path::Path,
    dir: &str,
    opts: &Options,
) -> Result<(Vec<Value>, Vec<String>)> {
    let fs = Fs::new(root)?;
    let dir = fsys::join_rel(".", dir)?;
    let mut ctx = Ctx {
        fs: &fs,
        opts,
        stack: Vec::new(),
        top: dir.clone(),
        warnings: Default::default(),
    };
    if !fs.is_dir(&dir)? {
        return Err(Error::not_found(format!("'{dir}' is not a directory")));
    }
    let mut k = if opts.generate_kustomization && !has_kustomization(&fs, &dir)? {
        generated_kust(&fs, &dir)?
    } else {
        load_kust(&ctx, &dir)?
    };
    opts.flux.apply_to(&mut k.doc)?;
    let mut acc = Acc::new();
    ctx.stack.push(fs.canonical(&dir)?);
    accumulate_target(&mut ctx, &k, &mut acc)?;
    // Hash suffixes, then references to renamed objects, then vars.
    for r in acc.res.iter_mut() {
        if r.needs_hash {
            let h = generators::hash(&r.obj);
            r.store_prev();
            let n = format!("{}-{h}", r.name());
            r.set_name(&n);
        }
    }
    transforms::fix_name_refs(&mut acc.res, &acc.cfg)?;
    acc.res.retain(|r| {
        r.annotations()
            .get("config.kubernetes.io/local-config")
            .and_then(Value::as_str)
            != Some("true")
    });
    crate::vars::resolve(&mut acc.res, &acc.vars, &acc.cfg.var_reference)?;
    order::apply(&mut acc.res, k.get("sortOptions"), opts.reorder)?;
    let meta: Vec<String> = k.strings("buildMetadata")?;
    let objs = acc
        .res
        .into_iter()
        .map(|r| {
            let mut o = crate::order::finish(r, &meta);
            opts.flux.common_metadata(&mut o);
            o
        })
        .collect();
    Ok((objs, ctx.warnings.take()))
}

fn has_kustomization(fs: &Fs, dir: &str) -> Result<bool> {
    for f in KUSTOMIZATION_FILES {
        let rel = fsys::join_rel(dir, f)?;
        if fs.exists(&rel)? && !fs.is_dir(&rel)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The kustomization kustomize-controller generates for a plain directory.
fn generated_kust(fs: &Fs, dir: &str) -> Result<Kust> {
    fn scan(fs: &Fs, base: &str, rel: &str, out: &mut Vec<Value>, depth: usize) -> Result<()> {
        if depth > 64 {
            return Err(Error::invalid(format!(
                "directory tree below '{base}' is too deep"
            )));
        }
        let here = if rel.is_empty() {
            base.to_string()
        } else {
            fsys::join_rel(base, rel)?
        };
        for (name, is_dir) in fs.list(&here)? {
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let full = fsys::join_rel(base, &child)?;
            if is_dir {
                if has_kustomization(fs, &full)? {
                    out.push(Value::String(format!("./{child}")));
                } else {
                    scan(fs, base, &child, out, depth + 1)?;
                }
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                let text = fs.read_string(&full)?;
                parse_objects(&text)
                    .map_err(|e| e.in_file(&full).at("failed to decode Kubernetes YAML"))?;
                out.push(Value::String(format!("./{child}")));
            }
        }
        Ok(())
    }
    let mut resources = Vec::new();
    scan(fs, dir, "", &mut resources, 0)?;
    let mut doc = Map::new();
    doc.insert(
        "apiVersion".into(),
        "kustomize.config.k8s.io/v1beta1".into(),
    );
    doc.insert("kind".into(), "Kustomization".into());
    doc.insert("resources".into(), Value::Array(resources));
    Ok(Kust {
        dir: dir.to_string(),
        file: fsys::join_rel(dir, "kustomization.yaml")?,
        doc,
    })
}

pub(crate) use self::Acc as Accumulator;
pub(crate) use self::Ctx as Context;
pub(crate) use self::Kust as Kustomization;

impl Ctx<'_> {
    pub(crate) fn fs(&self) -> &Fs {
        self.fs
    }
    pub(crate) fn unrestricted(&self) -> bool {
        self.opts.load_restrictor_none
    }
}

impl Acc {
    pub(crate) fn absorb_generated(&mut self, r: Res) -> Result<()> {
        self.absorb(r)
    }
    pub(crate) fn resources_mut(&mut self) -> &mut Vec<Res> {
        self.invalidate();
        &mut self.res
    }
    pub(crate) fn into_resources(self) -> Vec<Res> {
        self.res
    }
}

impl Kust {
    pub(crate) fn dir(&self) -> &str {
        &self.dir
    }
    pub(crate) fn file(&self) -> &str {
        &self.file
    }
    pub(crate) fn entries(&self, k: &str) -> Result<Vec<Value>> {
        self.list(k)
    }
    pub(crate) fn error(&self, e: Error, field: &str) -> Error {
        self.err(e, field)
    }
}

pub(crate) fn read_file(ctx: &Ctx<'_>, k: &Kust, p: &str, field: &str) -> Result<(String, String)> {
    read_local(ctx, k, p, field)
}
