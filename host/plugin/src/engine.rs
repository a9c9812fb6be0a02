//! The process-wide wasmtime engine: configured once (component model,
//! epoch interruption), with a ticker thread that advances the epoch so
//! deadlines fire, a linker holding WASI and the log import, and the
//! compiled-code cache.
//!
//! Profiling guests: `GYRE_PLUGIN_PROFILER=perfmap` (or `jitdump`) makes
//! wasmtime describe compiled guest code to `perf`; build the guest
//! unstripped (`CARGO_PROFILE_GUEST_STRIP=false`) to see its function names.
//!
//! # Caveats
//! Instances use wasmtime's default on-demand allocator: every call maps
//! fresh linear memory, and the page faults of a guest touching it are
//! about a fifth of a Helm render. wasmtime's pooling allocator (with
//! `linear_memory_keep_resident`) would reuse warm pages, but it reserves a
//! fixed number of slots up front and fails instantiation when concurrent
//! calls exceed them, so it is not used yet.

use crate::compiled::{CompiledCache, Outcome};
use crate::error::{Error, Result, boxed};
use crate::inspect::{ComponentInfo, World, check_component_header, component_info};
use crate::limits::Limits;
use crate::plugin::Plugin;
use crate::sandbox::HostState;
use crate::store::sha256_digest;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

/// How the engine is set up.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Directory for the compiled-code cache; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Epoch tick; deadlines are rounded up to whole ticks.
    pub epoch_tick: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            cache_dir: None,
            epoch_tick: Duration::from_millis(10),
        }
    }
}

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Option<CompiledCache>,
    tick: Duration,
}

/// The plugin engine. Cheap to clone; one per process is the intent.
#[derive(Clone)]
pub struct PluginEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("cache", &self.inner.cache)
            .field("tick", &self.inner.tick)
            .finish()
    }
}

impl PluginEngine {
    /// Creates the engine and starts its epoch ticker (which stops by itself
    /// when the last clone of the engine is dropped).
    ///
    /// # Errors
    /// [`Error::EngineSetup`] if wasmtime rejects the configuration.
    pub fn new(options: EngineOptions) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // `GYRE_PLUGIN_PROFILER=perfmap|jitdump` lets `perf` name guest code.
        match std::env::var("GYRE_PLUGIN_PROFILER").as_deref() {
            Ok("perfmap") => {
                config.profiler(wasmtime::ProfilingStrategy::PerfMap);
            }
            Ok("jitdump") => {
                config.profiler(wasmtime::ProfilingStrategy::JitDump);
            }
            _ => {}
        }
        let engine = Engine::new(&config).map_err(|e| Error::EngineSetup(boxed(e)))?;

        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| Error::EngineSetup(boxed(e)))?;
        crate::bindings::gyre::plugin::log::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| Error::EngineSetup(boxed(e)))?;

        let tick = options.epoch_tick.max(Duration::from_millis(1));
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("gyre-epoch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(tick);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| Error::EngineSetup(Box::new(e)))?;

        let cache = options
            .cache_dir
            .map(|dir| CompiledCache::new(&dir, &engine));
        Ok(PluginEngine {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                tick,
            }),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn linker(&self) -> &Linker<HostState> {
        &self.inner.linker
    }

    /// Epoch ticks that make up `timeout` (at least one).
    pub(crate) fn ticks_for(&self, timeout: Duration) -> u64 {
        let tick = self.inner.tick.as_nanos().max(1);
        (timeout.as_nanos().div_ceil(tick)).clamp(1, u128::from(u64::MAX)) as u64
    }

    /// Compiles `bytes` (or loads them from the compiled cache).
    ///
    /// # Errors
    /// [`Error::NotAComponent`] for non-components, [`Error::CompileFailed`]
    /// for invalid ones.
    pub fn compile(&self, name: &str, bytes: &[u8]) -> Result<(Component, Outcome)> {
        check_component_header(bytes).map_err(|reason| Error::NotAComponent {
            plugin: name.into(),
            reason,
        })?;
        let digest = sha256_digest(bytes);
        let hex = &digest["sha256:".len()..];
        match &self.inner.cache {
            Some(cache) => cache.load_or_compile(&self.inner.engine, name, hex, bytes),
            None => Component::new(&self.inner.engine, bytes)
                .map(|c| (c, Outcome::Compiled))
                .map_err(|e| Error::CompileFailed {
                    plugin: name.into(),
                    source: boxed(e),
                }),
        }
    }

    /// Describes a component without instantiating it.
    ///
    /// # Errors
    /// As [`PluginEngine::compile`].
    pub fn inspect(&self, name: &str, bytes: &[u8]) -> Result<ComponentInfo> {
        let (component, _) = self.compile(name, bytes)?;
        Ok(component_info(&self.inner.engine, &component, bytes))
    }

    /// Loads a plugin of whichever single world it implements.
    ///
    /// # Errors
    /// Compile and link errors; [`Error::WrongWorld`] when the component
    /// implements no Gyre world.
    pub fn load(&self, name: &str, bytes: &[u8], limits: Limits) -> Result<Plugin> {
        let (component, _) = self.compile(name, bytes)?;
        let info = component_info(&self.inner.engine, &component, bytes);
        let Some(world) = info.worlds.first().copied() else {
            return Err(Error::WrongWorld {
                plugin: name.into(),
                expected: World::Renderer,
                found: vec![],
            });
        };
        Plugin::new(self.clone(), name, component, info, world, limits)
    }

    /// Loads a plugin that must implement `world`.
    ///
    /// # Errors
    /// As [`PluginEngine::load`], and [`Error::WrongWorld`] when the
    /// component implements another world.
    pub fn load_as(
        &self,
        name: &str,
        bytes: &[u8],
        world: World,
        limits: Limits,
    ) -> Result<Plugin> {
        let (component, _) = self.compile(name, bytes)?;
        let info = component_info(&self.inner.engine, &component, bytes);
        if !info.worlds.contains(&world) {
            return Err(Error::WrongWorld {
                plugin: name.into(),
                expected: world,
                found: info.worlds,
            });
        }
        Plugin::new(self.clone(), name, component, info, world, limits)
    }
}
