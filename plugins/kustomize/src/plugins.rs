//! `generators:` and `transformers:` entries holding built-in plugin
//! configurations (`apiVersion: builtin`). Exec, container and Go plugins
//! are refused: the sandbox runs none of them.

use crate::build::{self, Accumulator, Context, Kustomization};
use crate::error::{Error, Result};
use crate::fieldspec::{Config, FieldSpec};
use crate::fsys;
use crate::generators::{self, GenOptions};
use crate::resource::Origin;
use crate::transforms::{self, Image};
use crate::{jsonpatch, replacements, select::Selector, yaml};
use serde_json::Value;

/// Loads the plugin configurations listed in field `key`, with the file
/// each came from (root-relative, or the kustomization for inline ones).
fn configs(ctx: &mut Context<'_>, k: &Kustomization, key: &str) -> Result<Vec<(Value, String)>> {
    let mut out = Vec::new();
    for (i, e) in k.entries(key)?.iter().enumerate() {
        let field = format!("{key}[{i}]");
        let Some(s) = e.as_str() else {
            return Err(k.error(
                Error::invalid("expected a path or an inline configuration"),
                &field,
            ));
        };
        if s.contains('\n') {
            for d in build::parse_objects(s).map_err(|e| k.error(e, &field))? {
                out.push((d, k.file().to_string()));
            }
            continue;
        }
        let rel = fsys::join_rel(k.dir(), s).map_err(|e| k.error(e, &field))?;
        if ctx.fs().is_dir(&rel)? {
            let sub = build::accumulate_dir(ctx, &rel, false).map_err(|e| k.error(e, &field))?;
            for r in sub.into_resources() {
                let origin = r.origin.path.clone().unwrap_or_default();
                out.push((r.obj, origin));
            }
        } else {
            let (rel, text) = build::read_file(ctx, k, s, &field)?;
            for d in build::parse_objects(&text).map_err(|e| e.in_file(&rel))? {
                out.push((d, rel.clone()));
            }
        }
    }
    Ok(out)
}

fn check_builtin(c: &Value, file: &str) -> Result<String> {
    let av = c.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = c
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if av != "builtin" {
        return Err(Error::unsupported(format!(
            "plugin {av}/{kind} is not a built-in; exec, container and Go plugins are not supported"
        ))
        .in_file(file));
    }
    Ok(kind)
}

/// Runs the `generators:` field.
pub(crate) fn run_generators(
    ctx: &mut Context<'_>,
    k: &Kustomization,
    acc: &mut Accumulator,
) -> Result<()> {
    for (c, file) in configs(ctx, k, "generators")? {
        let kind = check_builtin(&c, &file)?;
        let secret = match kind.as_str() {
            "ConfigMapGenerator" => false,
            "SecretGenerator" => true,
            other => {
                return Err(
                    Error::unsupported(format!("unknown built-in generator {other}")).in_file(file),
                );
            }
        };
        let mut entry = c.clone();
        let meta_name = c.get("metadata").and_then(|m| m.get("name")).cloned();
        if let Some(m) = entry.as_object_mut() {
            if m.get("name").is_none_or(Value::is_null)
                && let Some(n) = &meta_name
            {
                m.insert("name".into(), n.clone());
            }
            if m.get("namespace").is_none()
                && let Some(ns) = c.get("metadata").and_then(|m| m.get("namespace"))
            {
                m.insert("namespace".into(), ns.clone());
            }
        }
        let mut r = generators::generate(
            ctx.fs(),
            k.dir(),
            ctx.unrestricted(),
            &entry,
            secret,
            &GenOptions::default(),
            "generators",
        )
        .map_err(|e| e.in_file(file.clone()))?;
        r.origin = Origin {
            path: None,
            configured_in: Some(build::rel_to_top(ctx, &file)),
            configured_by: Some(kind.clone()),
            configured_name: meta_name.and_then(|v| v.as_str().map(str::to_string)),
        };
        acc.absorb_generated(r).map_err(|e| e.in_file(file))?;
    }
    Ok(())
}

fn specs(c: &Value, key: &str) -> Result<Vec<FieldSpec>> {
    let mut cfg = Config::default();
    if let Some(fs) = c.get("fieldSpecs") {
        cfg.merge_doc(&serde_json::json!({ key: fs }))?;
    }
    Ok(match key {
        "namePrefix" => cfg.name_prefix,
        "commonAnnotations" => cfg.common_annotations,
        "images" => cfg.images,
        "replicas" => cfg.replicas,
        "namespace" => cfg.namespace,
        _ => cfg.common_labels,
    })
}

/// Runs the `transformers:` field.
pub(crate) fn run_transformers(
    ctx: &mut Context<'_>,
    k: &Kustomization,
    acc: &mut Accumulator,
) -> Result<()> {
    for (c, file) in configs(ctx, k, "transformers")? {
        let kind = check_builtin(&c, &file)?;
        let s = |n: &str| c.get(n).and_then(Value::as_str).unwrap_or("").to_string();
        let res = acc.resources_mut();
        let r: Result<()> = (|| match kind.as_str() {
            "PatchTransformer" => {
                let text = if !s("path").is_empty() {
                    build::read_file(ctx, k, &s("path"), "path")?.1
                } else {
                    s("patch")
                };
                let opt = |n: &str| {
                    c.get("options")
                        .and_then(|o| o.get(n))
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                };
                build::apply_patch_entry(
                    res,
                    &text,
                    c.get("target"),
                    opt("allowNameChange"),
                    opt("allowKindChange"),
                    &Default::default(),
                )
            }
            "PatchStrategicMergeTransformer" => {
                let mut texts = Vec::new();
                for p in c
                    .get("paths")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    texts.push(build::read_file(ctx, k, p.as_str().unwrap_or(""), "paths")?.1);
                }
                if let Some(p) = c.get("patches").and_then(Value::as_str) {
                    texts.push(p.to_string());
                }
                for t in texts {
                    build::apply_patch_entry(res, &t, None, false, false, &Default::default())?;
                }
                Ok(())
            }
            "PatchJson6902Transformer" => {
                let text = if !s("path").is_empty() {
                    build::read_file(ctx, k, &s("path"), "path")?.1
                } else {
                    s("jsonOp")
                };
                let ops = yaml::parse_one(&text)?;
                let sel = Selector::parse(c.get("target").unwrap_or(&Value::Null));
                for r in res.iter_mut().filter(|r| sel.matches(r)) {
                    jsonpatch::apply(&mut r.obj, &ops)?;
                }
                Ok(())
            }
            "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
                let mut fs = specs(&c, "namePrefix")?;
                if fs.is_empty() {
                    fs = Config::builtin().name_prefix;
                }
                transforms::prefix_suffix(res, &s("prefix"), &s("suffix"), &fs)
            }
            "LabelTransformer" => transforms::add_map(
                res,
                &build::str_map(c.get("labels")),
                &specs(&c, "commonLabels")?,
            ),
            "AnnotationsTransformer" => transforms::add_map(
                res,
                &build::str_map(c.get("annotations")),
                &specs(&c, "commonAnnotations")?,
            ),
            "NamespaceTransformer" => {
                let ns = c
                    .get("metadata")
                    .and_then(|m| m.get("namespace"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let mut cfg = Config::builtin();
                cfg.namespace = specs(&c, "namespace")?;
                transforms::namespace(res, ns, &cfg)
            }
            "ImageTagTransformer" => {
                let it = c.get("imageTag").cloned().unwrap_or(Value::Null);
                let g = |n: &str| {
                    it.get(n)
                        .map(crate::fieldpath::scalar_text)
                        .filter(|s| !s.is_empty())
                };
                let img = Image {
                    name: g("name").unwrap_or_default(),
                    new_name: g("newName"),
                    new_tag: g("newTag"),
                    digest: g("digest"),
                };
                transforms::images(res, &[img], &specs(&c, "images")?)
            }
            "ReplicaCountTransformer" => {
                let rep = c.get("replica").cloned().unwrap_or(Value::Null);
                let name = rep.get("name").and_then(Value::as_str).unwrap_or("");
                let count = rep.get("count").cloned().unwrap_or(Value::Null);
                let mut fs = specs(&c, "replicas")?;
                if fs.is_empty() {
                    fs = Config::builtin().replicas;
                }
                transforms::replicas(res, name, &count, &fs)
            }
            "ReplacementTransformer" => {
                for rep in c
                    .get("replacements")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(p) = rep.get("path").and_then(Value::as_str) {
                        let (_, text) = build::read_file(ctx, k, p, "replacements.path")?;
                        for d in yaml::parse_stream(&text)? {
                            let items = if let Value::Array(a) = d { a } else { vec![d] };
                            for it in items {
                                replacements::apply(res, &it)?;
                            }
                        }
                    } else {
                        replacements::apply(res, rep)?;
                    }
                }
                Ok(())
            }
            "SortOrderTransformer" => Err(Error::unsupported(
                "unable to load builtin SortOrderTransformer as a transformer; use sortOptions",
            )),
            other => Err(Error::unsupported(format!(
                "unknown built-in transformer {other}"
            ))),
        })();
        r.map_err(|e| e.in_file(file))?;
    }
    Ok(())
}
