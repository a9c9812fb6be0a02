//! `gyre build helm` against `helm template` on the three largest real-world
//! charts of the conformance corpus, in the same run (issue 5: at least 5x
//! faster per render).
//!
//! Three numbers per chart, each the median of several runs:
//! - `helm`: one `helm template` process;
//! - `gyre (process)`: one `gyre build helm` process, plugin code taken from
//!   the compiled-code cache (what a person at a terminal sees);
//! - `gyre (warm plugin)`: one render call on a plugin already loaded, as the
//!   controller does it (fresh sandbox per call, chart read from disk).
//!
//! `helm` comes from `$HELM_BIN` or `PATH`. Run with
//! `cargo bench -p gyre --bench helm_template` (release build).
//!
//! For profiling the Wasm path: `HELM_BENCH_PLUGIN=x.wasm` measures that
//! component instead of the built-in one (an unstripped build names its
//! functions under `perf` with `GYRE_PLUGIN_PROFILER=perfmap`), and
//! `HELM_BENCH_WARM_ONLY=N` times only N warm renders per chart.

use gyre_plugin::{EngineOptions, Limits, PluginEngine, World};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CASES: &[&str] = &[
    "traefik-include-crds",
    "bitnami-redis-sentinel",
    "bitnami-postgresql-replication",
];
const RUNS: usize = 9;

fn main() {
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/helm/cases");
    let helm = std::env::var_os("HELM_BIN")
        .map(PathBuf::from)
        .or_else(|| which("helm"))
        .expect("the real helm binary is needed: set HELM_BIN or put helm on PATH");
    let gyre = PathBuf::from(env!("CARGO_BIN_EXE_gyre"));
    let cache = tempfile::tempdir().expect("temp dir");

    let engine = PluginEngine::new(EngineOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..Default::default()
    })
    .expect("engine");
    let custom = std::env::var_os("HELM_BENCH_PLUGIN")
        .map(|p| std::fs::read(&p).expect("reading HELM_BENCH_PLUGIN"));
    let bytes = match &custom {
        Some(b) => b.as_slice(),
        None => gyre_builtins::get("helm").expect("built-in helm").bytes,
    };
    let plugin = engine
        .load_as("builtin:helm", bytes, World::Renderer, Limits::default())
        .expect("loading the helm plugin");
    let warm_only: Option<usize> = std::env::var("HELM_BENCH_WARM_ONLY")
        .ok()
        .map(|n| n.parse().expect("HELM_BENCH_WARM_ONLY is a number"));

    println!(
        "{:<32} {:>10} {:>14} {:>16} {:>9} {:>9}",
        "chart", "helm", "gyre (process)", "gyre (warm plugin)", "x process", "x warm"
    );
    for case in CASES {
        let dir = corpus.join(case);
        let chart = dir.join("chart");
        let args: Vec<String> = std::fs::read_to_string(dir.join("args.txt"))
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect();
        let values = dir.join("values.yaml");
        let mut common = vec![
            "--namespace".to_string(),
            "default".into(),
            "--kube-version".into(),
            "1.31.0".into(),
        ];
        if values.exists() {
            common.extend(["-f".to_string(), values.display().to_string()]);
        }
        common.extend(args.iter().cloned());

        let config = render_config(case, &dir, &args);
        if let Some(n) = warm_only {
            let t = median(n, || {
                let start = Instant::now();
                plugin.render(&chart, ".", &config).expect("render");
                start.elapsed()
            });
            println!("{case:<32} warm {:>8.2}ms", ms(t));
            continue;
        }
        let helm_time = median(RUNS, || {
            run(Command::new(&helm)
                .arg("template")
                .arg("release-name")
                .arg(&chart)
                .args(&common))
        });
        let gyre_time = median(RUNS, || {
            run(Command::new(&gyre)
                .args(["build", "helm"])
                .arg(&chart)
                .args(&common)
                .env("GYRE_CACHE_DIR", cache.path()))
        });

        let mut objects = 0;
        let warm_time = median(RUNS, || {
            let start = Instant::now();
            let out = plugin.render(&chart, ".", &config).expect("render");
            objects = out.objects.len();
            start.elapsed()
        });
        println!(
            "{:<32} {:>8.1}ms {:>12.1}ms {:>16.1}ms {:>8.1}x {:>8.1}x   ({objects} objects)",
            case,
            ms(helm_time),
            ms(gyre_time),
            ms(warm_time),
            ms(helm_time) / ms(gyre_time),
            ms(helm_time) / ms(warm_time),
        );
    }
}

/// The renderer configuration equivalent to the case's `helm template` flags.
fn render_config(case: &str, dir: &Path, args: &[String]) -> String {
    let values = dir.join("values.yaml");
    let mut sources = Vec::new();
    if values.exists() {
        sources.push(json!({"yaml": std::fs::read_to_string(&values).unwrap()}));
    }
    let mut sets = args.iter();
    let mut include_crds = false;
    while let Some(a) = sets.next() {
        match a.as_str() {
            "--set" => sources.push(json!({"set": sets.next().unwrap()})),
            "--include-crds" => include_crds = true,
            other => panic!("{case}: flag {other} not handled by this bench"),
        }
    }
    json!({
        "releaseName": "release-name",
        "namespace": "default",
        "kubeVersion": "1.31.0",
        "includeCrds": include_crds,
        "valueSources": sources,
    })
    .to_string()
}

fn run(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let out = cmd.output().expect("running the command");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    f(); // warm the page cache and any lazy state
    let mut times: Vec<Duration> = (0..runs).map(|_| f()).collect();
    times.sort();
    times[runs / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}
