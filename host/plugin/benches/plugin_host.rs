//! Plugin host costs: cold compile of each built-in plugin, load from the
//! compiled-code cache, and a warm instantiate + call of a trivial export.
//! Targets (issue 2): warm instantiate + call < 100 µs; cached load < 10 ms.

use criterion::{Criterion, criterion_group, criterion_main};
use gyre_plugin::{EngineOptions, Limits, PluginEngine, World};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let mut cold = c.benchmark_group("cold_compile");
    cold.sample_size(10);
    let no_cache = PluginEngine::new(EngineOptions::default()).unwrap();
    for b in gyre_builtins::BUILTINS {
        cold.bench_function(b.name, |bench| {
            bench.iter(|| no_cache.compile(b.name, black_box(b.bytes)).unwrap())
        });
    }
    cold.finish();

    let cache_dir = tempfile::tempdir().unwrap();
    let cached = PluginEngine::new(EngineOptions {
        cache_dir: Some(cache_dir.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let mut load = c.benchmark_group("load_from_compiled_cache");
    for b in gyre_builtins::BUILTINS {
        cached.compile(b.name, b.bytes).unwrap();
        load.bench_function(b.name, |bench| {
            bench.iter(|| {
                let (_, outcome) = cached.compile(b.name, black_box(b.bytes)).unwrap();
                assert_eq!(outcome, gyre_plugin::compiled::Outcome::Hit);
            })
        });
    }
    load.finish();

    let policy = cached
        .load_as(
            "image-policy",
            gyre_builtins::get("image-policy").unwrap().bytes,
            World::ImagePolicy,
            Limits::default(),
        )
        .unwrap();
    let tags = vec!["1.0.0".to_string(), "1.1.0".to_string()];
    let config = r#"{"policy":{"alphabetical":{}}}"#;
    c.bench_function("warm_instantiate_and_call/image-policy.select", |bench| {
        bench.iter(|| policy.select_tag(black_box(&tags), config).unwrap())
    });
    let metadata = cached
        .load_as(
            "metadata",
            gyre_builtins::get("metadata").unwrap().bytes,
            World::Transform,
            Limits::default(),
        )
        .unwrap();
    c.bench_function(
        "warm_instantiate_and_call/metadata.transform(empty)",
        |bench| bench.iter(|| metadata.transform(black_box(&[]), "{}").unwrap()),
    );
}

criterion_group!(plugin_host, benches);
criterion_main!(plugin_host);
