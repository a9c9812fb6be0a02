//! Git benchmarks over real smart HTTP (`git http-backend`), printed as numbers and ratios:
//! - no-op reconcile of an unchanged repository (target < 50 ms),
//! - first fetch of a 10 000-file repository vs `git clone` of the same, in the same run.
//!
//! Run: `cargo bench -p gyre-source --bench git_fetch` (GYRE_BENCH_FILES overrides 10000).

use gyre_test_support as support;

use std::process::Command;
use std::time::{Duration, Instant};

use gyre_source::git::{self, GitOutcome, GitRepositoryOptions, LastObserved};
use gyre_source::{ObjectRef, Store, StoreOptions};

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2], v[(v.len() * 9 / 10).min(v.len() - 1)])
}

fn main() {
    let files: usize = std::env::var("GYRE_BENCH_FILES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");

    // A repository of `files` small YAML files in 100 directories.
    let work = tmp.path().join("big-work");
    std::fs::create_dir_all(&work).unwrap();
    support::git(&work, &["init", "-q", "-b", "main"]);
    for i in 0..files {
        let dir = work.join(format!("dir{:03}", i % 100));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("cm-{i:05}.yaml")),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  n: \"{i}\"\n"
            ),
        )
        .unwrap();
    }
    support::git(&work, &["add", "-A"]);
    support::git(&work, &["commit", "-q", "-m", "many files"]);
    std::fs::create_dir_all(&served).unwrap();
    support::git(
        tmp.path(),
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            served.join("big.git").to_str().unwrap(),
        ],
    );
    let server = support::git_http_server(&served, None);
    let url = format!("{}/big.git", server.url());

    let store = Store::new(StoreOptions::new(tmp.path().join("store"))).unwrap();
    let obj = ObjectRef::new("GitRepository", "bench", "big");
    let mut opts = GitRepositoryOptions::new(url.clone());
    opts.reference.branch = Some("main".into());

    // First fetch (gix shallow fetch + checkout + archive) vs git clone --depth 1 and full.
    let rounds = 3;
    let mut ours = Vec::new();
    let mut last = None;
    for _ in 0..rounds {
        let start = Instant::now();
        match rt
            .block_on(git::reconcile(&store, &obj, &opts, None))
            .unwrap()
        {
            GitOutcome::Updated {
                artifact,
                included_digests,
            } => {
                last = Some(LastObserved {
                    revision: artifact.revision,
                    included_digests,
                });
            }
            GitOutcome::Unchanged { .. } => unreachable!("no last revision given"),
        }
        ours.push(start.elapsed());
    }
    let mut shallow = Vec::new();
    let mut full = Vec::new();
    for i in 0..rounds {
        for (depth, out) in [(true, &mut shallow), (false, &mut full)] {
            let dest = tmp.path().join(format!("clone-{depth}-{i}"));
            let start = Instant::now();
            let mut cmd = Command::new("git");
            cmd.args(["clone", "-q"]);
            if depth {
                cmd.args(["--depth", "1"]);
            }
            let st = cmd
                .args(["--branch", "main", &url, dest.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(st.success());
            out.push(start.elapsed());
        }
    }
    let (o_min, o_med, _) = stats(ours);
    let (s_min, s_med, _) = stats(shallow);
    let (f_min, f_med, _) = stats(full);
    println!("first fetch, {files} files, smart HTTP, {rounds} rounds:");
    println!("  gyre (shallow fetch + checkout + tar.gz artifact): min {o_min:?} median {o_med:?}");
    println!("  git clone --depth 1 (checkout only):               min {s_min:?} median {s_med:?}");
    println!("  git clone (full, checkout only):                   min {f_min:?} median {f_med:?}");
    println!(
        "  ratio gyre/git-shallow: {:.2}x, gyre/git-full: {:.2}x (median)",
        o_med.as_secs_f64() / s_med.as_secs_f64(),
        o_med.as_secs_f64() / f_med.as_secs_f64()
    );

    // No-op: handshake + ls-refs only.
    let last = last.unwrap();
    let mut noop = Vec::new();
    for _ in 0..30 {
        let start = Instant::now();
        let outcome = rt
            .block_on(git::reconcile(&store, &obj, &opts, Some(&last)))
            .unwrap();
        noop.push(start.elapsed());
        assert!(matches!(outcome, GitOutcome::Unchanged { .. }));
    }
    let (n_min, n_med, n_p90) = stats(noop);
    let mut lsremote = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let out = Command::new("git")
            .args(["ls-remote", &url, "refs/heads/main"])
            .output()
            .unwrap();
        assert!(out.status.success());
        lsremote.push(start.elapsed());
    }
    let (_, l_med, _) = stats(lsremote);
    println!("no-op reconcile of an unchanged repository, 30 rounds:");
    println!("  gyre: min {n_min:?} median {n_med:?} p90 {n_p90:?} (target < 50ms)");
    println!(
        "  git ls-remote: median {l_med:?}; ratio gyre/ls-remote {:.2}x",
        n_med.as_secs_f64() / l_med.as_secs_f64()
    );
}
