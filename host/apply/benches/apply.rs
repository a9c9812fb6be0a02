//! Apply benchmark against kube-sim: first apply and no-op re-apply of 500 mixed objects
//! (ConfigMaps, Secrets, Services, Deployments across 5 namespaces, plus the namespaces),
//! wall time and API requests per object. Run with
//! `cargo bench -p gyre-apply --bench apply` (add `--profile dev` for a quick run).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Env, Requests, mixed_set};
use gyre_apply::{ApplyOptions, DiffOptions, Owner};

const NAMESPACES: &[&str] = &["bench-a", "bench-b", "bench-c", "bench-d", "bench-e"];
const PER_NAMESPACE: usize = 99;
const RUNS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn line(what: &str, took: Duration, reqs: &[String], objects: usize) {
    let writes = Requests::writes(reqs).len();
    let dry = reqs.iter().filter(|r| r.contains("dryRun=All")).count();
    println!(
        "{what:<44} {:>9.1} ms  {:>5} requests ({:.3}/object; {writes} writes, {dry} dry-runs)",
        took.as_secs_f64() * 1000.0,
        reqs.len(),
        reqs.len() as f64 / objects as f64,
    );
}

async fn run() {
    let env = Env::start().await;
    let set = mixed_set(NAMESPACES, PER_NAMESPACE);
    let n = set.len();
    println!("gyre-apply bench: {n} objects (kube-sim, in-process)");
    let opts = ApplyOptions::for_owner(Owner::new("bench", "flux-system"));

    env.requests.take();
    let t = Instant::now();
    let res = env
        .applier
        .apply(set.clone(), &opts)
        .await
        .expect("first apply");
    let took = t.elapsed();
    assert_eq!(res.change_set().entries.len(), n);
    line("first apply", took, &env.requests.take(), n);

    let mut times = Vec::new();
    let mut last = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let res = env
            .applier
            .apply(set.clone(), &opts)
            .await
            .expect("re-apply");
        times.push(t.elapsed());
        assert!(!res.change_set().has_changes());
        last = env.requests.take();
    }
    line(
        &format!("no-op re-apply (median of {RUNS})"),
        median(times),
        &last,
        n,
    );

    // A fresh engine: discovery is not cached yet.
    let cold = gyre_apply::Applier::new(env.client.clone());
    let t = Instant::now();
    cold.apply(set.clone(), &opts).await.expect("re-apply");
    line(
        "no-op re-apply, cold discovery cache",
        t.elapsed(),
        &env.requests.take(),
        n,
    );

    let no_owner = ApplyOptions {
        owner: None,
        ..Default::default()
    };
    // Without an owner there is no label to LIST by: one GET per object. The objects keep
    // the labels they carry, so apply them once unlabelled first.
    env.applier
        .apply(set.clone(), &no_owner)
        .await
        .expect("apply");
    env.requests.take();
    let t = Instant::now();
    env.applier
        .apply(set.clone(), &no_owner)
        .await
        .expect("re-apply");
    line(
        "no-op re-apply without owner (GET each)",
        t.elapsed(),
        &env.requests.take(),
        n,
    );

    env.applier.apply(set.clone(), &opts).await.expect("apply");
    env.requests.take();
    let t = Instant::now();
    let d = env
        .applier
        .diff(
            set.clone(),
            &DiffOptions {
                owner: opts.owner.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("diff");
    assert!(!d.has_changes());
    line(
        "diff of the unchanged set",
        t.elapsed(),
        &env.requests.take(),
        n,
    );

    // One ConfigMap changed in each namespace.
    let mut changed = set.clone();
    for o in changed
        .iter_mut()
        .filter(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "obj-0")
    {
        o["data"]["key"] = serde_json::json!("changed");
    }
    let t = Instant::now();
    env.applier.apply(changed, &opts).await.expect("apply");
    line(
        "re-apply with 5 changed objects",
        t.elapsed(),
        &env.requests.take(),
        n,
    );
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}
