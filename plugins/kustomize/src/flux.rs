//! Flux Kustomization spec fields that change the build, applied the way
//! kustomize-controller applies them: written into the top kustomization
//! (`targetNamespace`, `namePrefix`, `nameSuffix`, `patches`, `images`,
//! `components`) or set on every rendered object (`commonMetadata`).

use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// The part of a Flux `Kustomization.spec` the renderer honours.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FluxSpec {
    /// `spec.targetNamespace`.
    pub target_namespace: Option<String>,
    /// `spec.namePrefix`.
    pub name_prefix: Option<String>,
    /// `spec.nameSuffix`.
    pub name_suffix: Option<String>,
    /// `spec.patches` (`{patch, target}` entries).
    pub patches: Vec<Value>,
    /// `spec.images`.
    pub images: Vec<Value>,
    /// `spec.components` (paths relative to the built directory).
    pub components: Vec<String>,
    /// `spec.commonMetadata.labels`.
    pub labels: Map<String, Value>,
    /// `spec.commonMetadata.annotations`.
    pub annotations: Map<String, Value>,
}

impl FluxSpec {
    /// Reads the fields from a Flux `Kustomization.spec`-shaped JSON object;
    /// unknown fields are ignored (the host owns them).
    ///
    /// # Errors
    /// Fails when a known field has the wrong type.
    pub fn from_json(v: &Value) -> Result<Self> {
        let s = |k: &str| -> Result<Option<String>> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.is_empty())),
                Some(_) => Err(Error::invalid(format!("{k} must be a string")).at(k)),
            }
        };
        let list = |k: &str| -> Result<Vec<Value>> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(a)) => Ok(a.clone()),
                Some(_) => Err(Error::invalid(format!("{k} must be a list")).at(k)),
            }
        };
        let components = list("components")?
            .into_iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::invalid("components must be strings").at("components"))
            })
            .collect::<Result<_>>()?;
        let meta = |k: &str| -> Map<String, Value> {
            v.get("commonMetadata")
                .and_then(|m| m.get(k))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        Ok(Self {
            target_namespace: s("targetNamespace")?,
            name_prefix: s("namePrefix")?,
            name_suffix: s("nameSuffix")?,
            patches: list("patches")?,
            images: list("images")?,
            components,
            labels: meta("labels"),
            annotations: meta("annotations"),
        })
    }

    /// Writes the fields into a kustomization document.
    pub(crate) fn apply_to(&self, doc: &mut Map<String, Value>) -> Result<()> {
        if let Some(ns) = &self.target_namespace {
            doc.insert("namespace".into(), Value::String(ns.clone()));
        }
        if let Some(p) = &self.name_prefix {
            doc.insert("namePrefix".into(), Value::String(p.clone()));
        }
        if let Some(p) = &self.name_suffix {
            doc.insert("nameSuffix".into(), Value::String(p.clone()));
        }
        let mut append = |key: &str, items: Vec<Value>| -> Result<()> {
            if items.is_empty() {
                return Ok(());
            }
            match doc
                .entry(key.to_string())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(a) => {
                    a.extend(items);
                    Ok(())
                }
                v @ Value::Null => {
                    *v = Value::Array(items);
                    Ok(())
                }
                _ => {
                    Err(Error::invalid(format!("{key} in the kustomization is not a list")).at(key))
                }
            }
        };
        append("patches", self.patches.clone())?;
        append("images", self.images.clone())?;
        append(
            "components",
            self.components.iter().cloned().map(Value::String).collect(),
        )?;
        Ok(())
    }

    /// Sets `commonMetadata` labels and annotations on a rendered object.
    pub(crate) fn common_metadata(&self, obj: &mut Value) {
        for (field, pairs) in [("labels", &self.labels), ("annotations", &self.annotations)] {
            if pairs.is_empty() {
                continue;
            }
            let m = crate::resource::obj_at(obj, &["metadata", field]);
            for (k, v) in pairs {
                m.insert(k.clone(), Value::String(crate::fieldpath::scalar_text(v)));
            }
        }
    }
}
