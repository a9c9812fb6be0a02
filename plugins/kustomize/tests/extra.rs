//! Extra differential cases for features the corpus covers thinly
//! (replacements, selectors, JSON patch ops, `$patch` directives, images,
//! generators, namespaces with RBAC, vars, sort options, overlays).
//! Each `testdata/extra/<case>/expected.yaml` is the output of
//! `kubectl kustomize <case>` (kubectl v1.32, kustomize v5.5.0).

use gyre_kustomize::{Options, build, yaml};
use std::path::Path;

#[test]
fn extra_cases_match_kubectl_kustomize() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/extra");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("expected.yaml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    let mut failures = Vec::new();
    for n in &names {
        let want = yaml::parse_stream(
            &std::fs::read_to_string(root.join(n).join("expected.yaml")).unwrap(),
        )
        .unwrap();
        match build(&root, n, &Options::default()) {
            Ok(got) => {
                let back = yaml::parse_stream(&yaml::emit_stream(&got)).unwrap();
                if back != want {
                    failures.push(format!("{n}: output differs"));
                }
            }
            Err(e) => failures.push(format!("{n}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
