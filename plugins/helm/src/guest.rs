//! The `renderer` component export: maps the WIT contract onto [`crate::template`].

// wit-bindgen's generated export glue is unsafe FFI; it is confined to this module.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../wit", world: "renderer" });

use exports::gyre::plugin::render::{Guest, RenderOutput, RenderRequest};
use gyre::plugin::types::{InputError, Location, PluginError};

struct Component;

/// The renderer's allocator (see [`crate::alloc`]): much cheaper than wasi-libc's malloc for
/// a render's churn of small blocks.
#[global_allocator]
static ALLOC: crate::alloc::ClassAlloc = crate::alloc::ClassAlloc::new();

/// Renderer configuration (JSON).
///
/// `{"releaseName": "...", "namespace": "...", "valueSources": [...], "values": {...},
///   "kubeVersion": "1.31.0",
///   "apiVersions": [...], "includeCrds": false, "skipTests": false, "noHooks": false,
///   "skipSchemaValidation": false, "showOnly": ["templates/x.yaml"],
///   "revision": 1, "isUpgrade": false,
///   "chart": "optional path of the chart or .tgz below `path`"}`
fn options(cfg: &str) -> Result<(crate::TemplateOptions, Option<String>), PluginError> {
    let j: serde_json::Value = if cfg.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_str(cfg).map_err(|e| PluginError::InvalidConfig(e.to_string()))?
    };
    let s = |k: &str| j.get(k).and_then(|v| v.as_str()).map(String::from);
    let b = |k: &str| j.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
    let strings = |k: &str| -> Vec<String> {
        j.get(k)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Layers first (files and --set flags, or Flux's valuesFrom), then `values`
    // over them, as Flux merges spec.values last.
    let mut values =
        crate::values_from_sources(j.get("valueSources").unwrap_or(&serde_json::Value::Null))
            .map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
    match j.get("values") {
        Some(v @ serde_json::Value::Object(_)) => {
            if let crate::value::Value::Map(m) = crate::json::from_serde(v) {
                crate::strvals::merge_maps(&mut values, &m.borrow());
            }
        }
        None | Some(serde_json::Value::Null) => {}
        Some(_) => {
            return Err(PluginError::InvalidConfig(
                "values must be an object".into(),
            ));
        }
    }
    let opts = crate::TemplateOptions {
        release_name: s("releaseName").unwrap_or_else(|| "release-name".into()),
        namespace: s("namespace").unwrap_or_else(|| "default".into()),
        values,
        kube_version: s("kubeVersion"),
        api_versions: strings("apiVersions"),
        include_crds: b("includeCrds"),
        skip_tests: b("skipTests"),
        no_hooks: b("noHooks"),
        skip_schema_validation: b("skipSchemaValidation"),
        show_only: strings("showOnly"),
        revision: j.get("revision").and_then(serde_json::Value::as_i64),
        is_upgrade: b("isUpgrade"),
    };
    Ok((opts, s("chart")))
}

impl Guest for Component {
    fn render(req: RenderRequest) -> Result<RenderOutput, PluginError> {
        let (opts, chart) = options(&req.config)?;
        let mut rel = std::path::PathBuf::from(&req.path);
        if let Some(c) = chart {
            rel.push(c);
        }
        match crate::template_objects(std::path::Path::new("/src"), &rel, &opts) {
            Ok(r) => Ok(RenderOutput {
                objects: r.objects,
                origins: r.origins,
                warnings: r.warnings,
            }),
            Err(crate::Error::NotFound(m)) => Err(PluginError::NotFound(InputError {
                message: m,
                location: None,
            })),
            Err(e) => {
                let location = e.location().map(|(file, line)| Location {
                    file: Some(if req.path == "." {
                        file
                    } else {
                        format!("{}/{file}", req.path)
                    }),
                    field: None,
                    line: (line > 0).then_some(line),
                });
                Err(PluginError::InvalidInput(InputError {
                    message: e.to_string(),
                    location,
                }))
            }
        }
    }
}

export!(Component);
