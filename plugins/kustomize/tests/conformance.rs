//! Runs the kustomize conformance corpus (cases from kustomize's own tests,
//! outputs from `kubectl kustomize` v5.5.0) natively, comparing as data.
//!
//! The corpus lives outside the repository, in `shared/` beside the clone;
//! `KUSTOMIZE_CORPUS` may point at its `cases` directory instead. Skipped
//! when absent, except under CI (`CI` set), where a missing corpus fails.

use gyre_kustomize::{Options, Reorder, build, yaml};
use std::path::PathBuf;

#[test]
fn every_corpus_case_matches_kubectl_kustomize() {
    let dir = std::env::var("KUSTOMIZE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/conformance/kustomize/cases")
        });
    let Ok(entries) = std::fs::read_dir(&dir) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "corpus not found at {} under CI",
            dir.display()
        );
        eprintln!("corpus not found at {}; skipped", dir.display());
        return;
    };
    let mut cases: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let build_dir = std::fs::read_to_string(case.join("build-dir.txt")).unwrap();
        let mut opts = Options::default();
        if let Ok(args) = std::fs::read_to_string(case.join("args.txt")) {
            opts.load_restrictor_none = args.contains("LoadRestrictionsNone");
            if args.contains("--reorder=legacy") {
                opts.reorder = Reorder::Legacy;
            }
        }
        let got = build(&case.join("input"), build_dir.trim(), &opts);
        match std::fs::read_to_string(case.join("expected.yaml")) {
            Ok(expected) => {
                let want = yaml::parse_stream(&expected).unwrap();
                match got {
                    // Round-trip through our own emitter, as the CLI prints it.
                    Ok(objs) => {
                        let text = yaml::emit_stream(&objs);
                        let back = yaml::parse_stream(&text).unwrap();
                        if back != want {
                            failures.push(format!("{name}: output differs"));
                        }
                    }
                    Err(e) => failures.push(format!("{name}: {e}")),
                }
            }
            Err(_) => {
                if got.is_ok() {
                    failures.push(format!("{name}: expected an error"));
                }
            }
        }
    }
    eprintln!("{} cases, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "{failures:#?}");
}
