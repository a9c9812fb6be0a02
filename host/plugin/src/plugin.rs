//! A loaded plugin: compiled once, pre-linked (`InstancePre`), and called
//! with a fresh `Store` per call so no state survives from one call to the
//! next. Every failure of the guest comes back as a typed [`Error`].

use crate::bindings::exports::gyre::plugin::{notify, render, tag_policy, transformation};
use crate::engine::PluginEngine;
use crate::error::{Error, Result, boxed};
use crate::inspect::{ComponentInfo, World};
use crate::limits::Limits;
use crate::sandbox::HostState;
use crate::types::{Event, HttpRequest, PluginFailure, Provider, RenderOutput, Selection};
use serde_json::Value;
use std::path::{Component as PathComponent, Path};
use std::sync::Arc;
use wasmtime::component::{Component, Instance, InstancePre};
use wasmtime::{Store, Trap};

enum Indices {
    Render(render::GuestIndices),
    Transform(transformation::GuestIndices),
    ImagePolicy(tag_policy::GuestIndices),
    Notifier(notify::GuestIndices),
}

/// A plugin ready to be called.
pub struct Plugin {
    engine: PluginEngine,
    name: Arc<str>,
    info: ComponentInfo,
    world: World,
    limits: Limits,
    pre: InstancePre<HostState>,
    indices: Indices,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("world", &self.world)
            .field("digest", &self.info.digest)
            .finish()
    }
}

impl Plugin {
    pub(crate) fn new(
        engine: PluginEngine,
        name: &str,
        component: Component,
        info: ComponentInfo,
        world: World,
        limits: Limits,
    ) -> Result<Self> {
        let pre = engine
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| Error::LinkFailed {
                plugin: name.into(),
                source: boxed(e),
            })?;
        let wrong = |e: wasmtime::Error| Error::MalformedOutput {
            plugin: name.into(),
            call: "load",
            reason: format!("{e}"),
        };
        let indices = match world {
            World::Renderer => Indices::Render(render::GuestIndices::new(&pre).map_err(wrong)?),
            World::Transform => {
                Indices::Transform(transformation::GuestIndices::new(&pre).map_err(wrong)?)
            }
            World::ImagePolicy => {
                Indices::ImagePolicy(tag_policy::GuestIndices::new(&pre).map_err(wrong)?)
            }
            World::Notifier => Indices::Notifier(notify::GuestIndices::new(&pre).map_err(wrong)?),
        };
        Ok(Plugin {
            engine,
            name: name.into(),
            info,
            world,
            limits,
            pre,
            indices,
        })
    }

    /// The plugin's name (as given when loading: a reference or `builtin:…`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The world it implements.
    pub fn world(&self) -> World {
        self.world
    }

    /// What the component is.
    pub fn info(&self) -> &ComponentInfo {
        &self.info
    }

    /// Its limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn wrong_world(&self, expected: World) -> Error {
        Error::WrongWorld {
            plugin: self.name.to_string(),
            expected,
            found: self.info.worlds.clone(),
        }
    }

    /// Runs one call in a fresh store with the plugin's limits.
    ///
    /// WASI's synchronous bindings drive their I/O with `block_on`, which
    /// panics on a thread of a tokio runtime; a call made from async code is
    /// therefore moved to a scoped thread of its own.
    fn call<R: Send>(
        &self,
        call: &'static str,
        tree: Option<&Path>,
        f: impl FnOnce(&mut Store<HostState>, &Instance) -> wasmtime::Result<R> + Send,
    ) -> Result<R> {
        if tokio::runtime::Handle::try_current().is_err() {
            return self.call_here(call, tree, f);
        }
        std::thread::scope(|scope| {
            scope
                .spawn(|| self.call_here(call, tree, f))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn call_here<R>(
        &self,
        call: &'static str,
        tree: Option<&Path>,
        f: impl FnOnce(&mut Store<HostState>, &Instance) -> wasmtime::Result<R>,
    ) -> Result<R> {
        let state = HostState::new(self.name.clone(), &self.limits, tree).map_err(|e| {
            Error::SandboxSetup {
                plugin: self.name.to_string(),
                path: tree.map(Path::to_path_buf).unwrap_or_default(),
                source: boxed(e),
            }
        })?;
        let mut store = Store::new(self.engine.engine(), state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(self.engine.ticks_for(self.limits.timeout));
        store.epoch_deadline_trap();
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|instance| f(&mut store, &instance));
        store.data().flush_logs();
        result.map_err(|e| self.classify(call, e, &store))
    }

    fn classify(
        &self,
        call: &'static str,
        err: wasmtime::Error,
        store: &Store<HostState>,
    ) -> Error {
        let plugin = self.name.to_string();
        if store.data().limiter.exceeded.is_some() {
            return Error::MemoryLimit {
                plugin,
                call,
                limit: self.limits.memory_bytes,
            };
        }
        let trap = err.downcast_ref::<Trap>().copied();
        match trap {
            Some(Trap::Interrupt) => Error::Timeout {
                plugin,
                call,
                limit: self.limits.timeout,
            },
            Some(Trap::StackOverflow) => Error::StackOverflow { plugin, call },
            Some(t) => Error::Trapped {
                plugin,
                call,
                trap: t.to_string(),
                stderr: store.data().stderr.tail(2048),
            },
            None => Error::Trapped {
                plugin,
                call,
                trap: format!("{err}"),
                stderr: store.data().stderr.tail(2048),
            },
        }
    }

    fn check_size(&self, call: &'static str, size: usize) -> Result<()> {
        if size > self.limits.output_bytes {
            return Err(Error::OutputTooLarge {
                plugin: self.name.to_string(),
                call,
                size,
                limit: self.limits.output_bytes,
            });
        }
        Ok(())
    }

    fn failed(&self, failure: impl Into<PluginFailure>) -> Error {
        Error::PluginFailed {
            plugin: self.name.to_string(),
            failure: failure.into(),
        }
    }

    fn parse_objects(
        &self,
        call: &'static str,
        objects: Vec<String>,
        check: fn(&Value) -> std::result::Result<(), String>,
    ) -> Result<Vec<Value>> {
        objects
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let malformed = |reason: String| Error::MalformedOutput {
                    plugin: self.name.to_string(),
                    call,
                    reason: format!("object #{i}: {reason}"),
                };
                let v: Value =
                    serde_json::from_str(text).map_err(|e| malformed(format!("not JSON: {e}")))?;
                check(&v).map_err(malformed)?;
                Ok(v)
            })
            .collect()
    }

    /// Renders `path` (relative to `tree`) with `config` (JSON).
    ///
    /// # Errors
    /// [`Error::WrongWorld`] if this is not a renderer, [`Error::BadRenderPath`]
    /// for an absolute or `..` path, the plugin's own failure, and every
    /// sandbox failure (trap, limits, malformed output).
    pub fn render(&self, tree: &Path, path: &str, config: &str) -> Result<RenderOutput> {
        self.render_checked(tree, path, config, check_object)
    }

    /// As [`Plugin::render`], but only requires each document to be a JSON
    /// object. `helm template` prints documents without `kind` (values
    /// dumps, lint fixtures), and local build commands print what it prints;
    /// never hand this output to apply, which needs real objects.
    ///
    /// # Errors
    /// As [`Plugin::render`].
    pub fn render_documents(&self, tree: &Path, path: &str, config: &str) -> Result<RenderOutput> {
        self.render_checked(tree, path, config, |v| {
            v.as_object()
                .map(|_| ())
                .ok_or_else(|| "not a JSON object".into())
        })
    }

    fn render_checked(
        &self,
        tree: &Path,
        path: &str,
        config: &str,
        check: fn(&Value) -> std::result::Result<(), String>,
    ) -> Result<RenderOutput> {
        let Indices::Render(idx) = &self.indices else {
            return Err(self.wrong_world(World::Renderer));
        };
        if !is_plain_relative(path) {
            return Err(Error::BadRenderPath(path.to_string()));
        }
        let request = render::RenderRequest {
            path: path.to_string(),
            config: config.to_string(),
        };
        let out = self.call("render", Some(tree), |store, instance| {
            idx.load(&mut *store, instance)?
                .call_render(store, &request)
        })?;
        let out = out.map_err(|e| self.failed(e))?;
        let size = out
            .objects
            .iter()
            .chain(&out.warnings)
            .chain(&out.origins)
            .map(String::len)
            .sum();
        self.check_size("render", size)?;
        let origins = match out.origins.len() {
            0 => vec![String::new(); out.objects.len()],
            n if n == out.objects.len() => out.origins,
            n => {
                return Err(Error::MalformedOutput {
                    plugin: self.name.to_string(),
                    call: "render",
                    reason: format!("{n} origins for {} objects", out.objects.len()),
                });
            }
        };
        Ok(RenderOutput {
            objects: self.parse_objects("render", out.objects, check)?,
            origins,
            warnings: out.warnings,
        })
    }

    /// Transforms `objects` with `config` (JSON).
    ///
    /// # Errors
    /// As [`Plugin::render`].
    pub fn transform(&self, objects: &[Value], config: &str) -> Result<Vec<Value>> {
        let Indices::Transform(idx) = &self.indices else {
            return Err(self.wrong_world(World::Transform));
        };
        let input: Vec<String> = objects.iter().map(Value::to_string).collect();
        let config = config.to_string();
        let out = self.call("transform", None, |store, instance| {
            idx.load(&mut *store, instance)?
                .call_transform(store, &input, &config)
        })?;
        let out = out.map_err(|e| self.failed(e))?;
        self.check_size("transform", out.iter().map(String::len).sum())?;
        self.parse_objects("transform", out, check_object)
    }

    /// Selects the latest of `tags` under `policy` (JSON).
    ///
    /// # Errors
    /// As [`Plugin::render`]; also a selection naming a tag that was not
    /// offered is malformed output.
    pub fn select_tag(&self, tags: &[String], policy: &str) -> Result<Option<Selection>> {
        let Indices::ImagePolicy(idx) = &self.indices else {
            return Err(self.wrong_world(World::ImagePolicy));
        };
        let policy = policy.to_string();
        let out = self.call("select", None, |store, instance| {
            idx.load(&mut *store, instance)?
                .call_select(store, tags, &policy)
        })?;
        let out = out.map_err(|e| self.failed(e))?;
        if let Some(sel) = &out
            && !tags.contains(&sel.tag)
        {
            return Err(Error::MalformedOutput {
                plugin: self.name.to_string(),
                call: "select",
                reason: format!("selected tag {:?} was not among the tags offered", sel.tag),
            });
        }
        Ok(out)
    }

    /// Builds the HTTP requests that deliver `event` to `provider`.
    ///
    /// # Errors
    /// As [`Plugin::render`]; requests to a non-HTTP(S) URL are malformed
    /// output.
    pub fn notify(&self, event: &Event, provider: &Provider) -> Result<Vec<HttpRequest>> {
        let Indices::Notifier(idx) = &self.indices else {
            return Err(self.wrong_world(World::Notifier));
        };
        let out = self.call("notify", None, |store, instance| {
            idx.load(&mut *store, instance)?
                .call_notify(store, event, provider)
        })?;
        let out = out.map_err(|e| self.failed(e))?;
        self.check_size(
            "notify",
            out.iter().map(|r| r.body.len() + r.url.len()).sum(),
        )?;
        if let Some(bad) = out
            .iter()
            .find(|r| !(r.url.starts_with("http://") || r.url.starts_with("https://")))
        {
            return Err(Error::MalformedOutput {
                plugin: self.name.to_string(),
                call: "notify",
                reason: format!("request URL {:?} is not http(s)", bad.url),
            });
        }
        Ok(out)
    }
}

fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, PathComponent::Normal(_) | PathComponent::CurDir))
}

/// Checks the minimum every object must have for the host to apply it.
fn check_object(v: &Value) -> std::result::Result<(), String> {
    let obj = v.as_object().ok_or("not a JSON object")?;
    // apiVersion is not required here: kustomize itself passes objects of
    // unknown kinds without one, and `gyre build` must print what it
    // prints; applying such an object fails later with its own error.
    if obj
        .get("kind")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err("missing kind".into());
    }
    let meta = obj
        .get("metadata")
        .and_then(Value::as_object)
        .ok_or("missing metadata")?;
    let named = ["name", "generateName"].iter().any(|k| {
        meta.get(*k)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    });
    if !named {
        return Err("missing metadata.name".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn render_paths_must_stay_relative() {
        for ok in [".", "apps", "apps/./prod", "a/b/c"] {
            assert!(is_plain_relative(ok), "{ok}");
        }
        for bad in ["", "/etc", "../x", "a/../../b", "a/.."] {
            assert!(!is_plain_relative(bad), "{bad}");
        }
    }

    #[test]
    fn objects_need_identity() {
        assert!(
            check_object(&json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}))
                .is_ok()
        );
        assert!(
            check_object(&json!({"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"x-"}}))
                .is_ok()
        );
        assert_eq!(
            check_object(&json!({"apiVersion":"v1","metadata":{"name":"x"}})).unwrap_err(),
            "missing kind"
        );
        assert_eq!(
            check_object(&json!({"apiVersion":"v1","kind":"ConfigMap"})).unwrap_err(),
            "missing metadata"
        );
        assert_eq!(check_object(&json!([1])).unwrap_err(), "not a JSON object");
    }
}
