//! Loads the gyre-helm renderer component in wasmtime the way the host does (read-only
//! preopen at `/src`, fresh store per call, precompiled `InstancePre`) and times warm renders.
//!
//! `gyre-helm-wasm-check COMPONENT.wasm N CHART_DIR...` (N = 0: render once and print the
//! result, used for the hostile charts in `testdata/`).

use anyhow::{Context, Result, anyhow};
use std::time::Instant;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Bindings generated from the WIT contract (undocumented generated items).
#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({ path: "../../wit", world: "renderer" });
}
use bindings::{Renderer, RendererPre, exports, gyre};

use exports::gyre::plugin::render::RenderRequest;

struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl gyre::plugin::log::Host for Host {
    fn log(&mut self, _level: gyre::plugin::log::Level, message: String) {
        eprintln!("guest: {message}");
    }
}

impl gyre::plugin::types::Host for Host {}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wasm = args.first().context("component path")?;
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let mut cfg = Config::new();
    cfg.wasm_component_model(true);
    let engine = Engine::new(&cfg)?;
    let t = Instant::now();
    let component = Component::from_file(&engine, wasm)?;
    eprintln!("compile: {:?}", t.elapsed());
    let mut linker: Linker<Host> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    Renderer::add_to_linker::<_, HasSelf<Host>>(&mut linker, |h| h)?;
    let pre = RendererPre::new(linker.instantiate_pre(&component)?)?;
    for chart in &args[2..] {
        let p = std::path::Path::new(chart);
        let parent = p.parent().context("chart parent")?;
        let name = p
            .file_name()
            .context("chart name")?
            .to_string_lossy()
            .into_owned();
        let req = RenderRequest {
            path: name,
            config: std::env::var("GYRE_HELM_CONFIG").unwrap_or_else(|_| {
                r#"{"releaseName":"bench","namespace":"default","kubeVersion":"1.31.0"}"#.into()
            }),
        };
        let run = || -> Result<usize> {
            let mut b = WasiCtxBuilder::new();
            b.preopened_dir(parent, "/src", FsPerms::ReadOnly)?;
            let mut store = Store::new(
                &engine,
                Host {
                    wasi: b.build(),
                    table: ResourceTable::new(),
                },
            );
            let r = pre.instantiate(&mut store)?;
            match r.gyre_plugin_render().call_render(&mut store, &req)? {
                Ok(out) => {
                    for w in &out.warnings {
                        eprintln!("warning: {w}");
                    }
                    Ok(out.objects.len())
                }
                Err(e) => Err(anyhow!("plugin error: {e:?}")),
            }
        };
        let first = run();
        if n == 0 {
            println!("{chart}: {first:?}");
            continue;
        }
        let t = Instant::now();
        for _ in 0..n {
            let _ = run();
        }
        println!(
            "{chart}: {:.2} ms/render warm in wasm ({first:?} objects)",
            t.elapsed().as_secs_f64() * 1000.0 / n as f64
        );
    }
    Ok(())
}
