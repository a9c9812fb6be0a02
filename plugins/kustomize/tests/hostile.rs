//! Hostile inputs: each must fail with a clear error, never read outside
//! the artifact root, never hang or exhaust memory.

use gyre_kustomize::{ErrorKind, Options, build};
use std::fs;
use std::path::Path;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

const K: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n";

fn cm(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n")
}

#[test]
fn resource_path_escaping_the_root_with_dotdot_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    write(t.path(), "outside.yaml", &cm("secret"));
    write(
        &root,
        "app/kustomization.yaml",
        &format!("{K}resources:\n- ../../outside.yaml\n"),
    );
    let e = build(
        &root,
        "app",
        &Options {
            load_restrictor_none: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid);
    assert!(e.message.contains("escapes the artifact root"), "{e}");
    assert_eq!(e.file.as_deref(), Some("app/kustomization.yaml"));
    assert_eq!(e.field.as_deref(), Some("resources[0]"));
}

#[test]
fn file_outside_the_kustomization_dir_needs_load_restrictor_none() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "shared/cm.yaml", &cm("shared"));
    write(
        t.path(),
        "app/kustomization.yaml",
        &format!("{K}resources:\n- ../shared/cm.yaml\n"),
    );
    let e = build(t.path(), "app", &Options::default()).unwrap_err();
    assert!(e.message.contains("security"), "{e}");
    let ok = build(
        t.path(),
        "app",
        &Options {
            load_restrictor_none: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ok.len(), 1);
}

#[test]
fn absolute_resource_paths_are_refused() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "kustomization.yaml",
        &format!("{K}resources:\n- /etc/passwd\n"),
    );
    let e = build(t.path(), ".", &Options::default()).unwrap_err();
    assert!(e.message.contains("absolute path"), "{e}");
}

#[cfg(unix)]
#[test]
fn symlink_pointing_outside_the_root_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    write(t.path(), "outside.yaml", &cm("leak"));
    write(
        &root,
        "kustomization.yaml",
        &format!("{K}resources:\n- link.yaml\n"),
    );
    std::os::unix::fs::symlink(t.path().join("outside.yaml"), root.join("link.yaml")).unwrap();
    let e = build(&root, ".", &Options::default()).unwrap_err();
    assert!(e.message.contains("outside the artifact root"), "{e}");
}

#[cfg(unix)]
#[test]
fn symlinked_directory_pointing_outside_the_root_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    write(
        t.path(),
        "base/kustomization.yaml",
        &format!("{K}resources:\n- cm.yaml\n"),
    );
    write(t.path(), "base/cm.yaml", &cm("leak"));
    write(
        &root,
        "kustomization.yaml",
        &format!("{K}resources:\n- base\n"),
    );
    std::os::unix::fs::symlink(t.path().join("base"), root.join("base")).unwrap();
    let e = build(&root, ".", &Options::default()).unwrap_err();
    assert!(e.message.contains("outside the artifact root"), "{e}");
}

#[test]
fn cycle_of_kustomizations_is_detected() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "a/kustomization.yaml",
        &format!("{K}resources:\n- ../b\n"),
    );
    write(
        t.path(),
        "b/kustomization.yaml",
        &format!("{K}resources:\n- ../a\n"),
    );
    let e = build(t.path(), "a", &Options::default()).unwrap_err();
    assert!(e.message.contains("cycle"), "{e}");
}

#[test]
fn kustomization_including_itself_is_detected() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "a/kustomization.yaml",
        &format!("{K}resources:\n- .\n"),
    );
    let e = build(t.path(), "a", &Options::default()).unwrap_err();
    assert!(e.message.contains("cycle"), "{e}");
}

#[test]
fn file_over_the_size_cap_is_refused_without_reading_it() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "kustomization.yaml",
        &format!("{K}resources:\n- big.yaml\n"),
    );
    // A sparse 100 MB file: cheap to create, and must not be read.
    let f = fs::File::create(t.path().join("big.yaml")).unwrap();
    f.set_len(100 * 1024 * 1024).unwrap();
    let e = build(t.path(), ".", &Options::default()).unwrap_err();
    assert!(e.message.contains("limit"), "{e}");
    assert_eq!(e.field.as_deref(), Some("resources[0]"));
}

#[test]
fn billion_laughs_yaml_aliases_are_capped() {
    let t = tempfile::tempdir().unwrap();
    let mut y = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\nx:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for c in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] {
        y.push_str(&format!("  {c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        prev = c;
    }
    write(t.path(), "lol.yaml", &y);
    write(
        t.path(),
        "kustomization.yaml",
        &format!("{K}resources:\n- lol.yaml\n"),
    );
    let start = std::time::Instant::now();
    let e = build(t.path(), ".", &Options::default()).unwrap_err();
    assert!(e.message.contains("alias expansion"), "{e}");
    assert!(start.elapsed().as_secs() < 10);
}

#[test]
fn deeply_nested_yaml_is_refused_not_a_stack_overflow() {
    let t = tempfile::tempdir().unwrap();
    let y = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    write(t.path(), "deep.yaml", &y);
    write(
        t.path(),
        "kustomization.yaml",
        &format!("{K}resources:\n- deep.yaml\n"),
    );
    let e = build(t.path(), ".", &Options::default()).unwrap_err();
    assert!(
        e.message.contains("nesting") || e.message.contains("recursion limit"),
        "{e}"
    );
}

#[test]
fn remote_bases_are_refused_as_unsupported() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "kustomization.yaml",
        &format!(
            "{K}resources:\n- https://github.com/kubernetes-sigs/kustomize//examples/multibases?ref=v1.0.6\n"
        ),
    );
    let e = build(t.path(), ".", &Options::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
}

#[test]
fn helm_charts_are_refused_as_unsupported() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "kustomization.yaml",
        &format!(
            "{K}helmCharts:\n- name: podinfo\n  repo: https://stefanprodan.github.io/podinfo\n"
        ),
    );
    let e = build(t.path(), ".", &Options::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert_eq!(e.field.as_deref(), Some("helmCharts"));
}

#[test]
fn exec_plugins_are_refused_as_unsupported() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "gen.yaml",
        "apiVersion: someteam.example.com/v1\nkind: ChartInflator\nmetadata:\n  name: x\n",
    );
    write(
        t.path(),
        "kustomization.yaml",
        &format!("{K}generators:\n- gen.yaml\n"),
    );
    let e = build(t.path(), ".", &Options::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
}

#[test]
fn missing_resource_names_the_file_and_field() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "app/kustomization.yaml",
        &format!("{K}resources:\n- cm.yaml\n- nope.yaml\n"),
    );
    write(t.path(), "app/cm.yaml", &cm("a"));
    let e = build(t.path(), "app", &Options::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(e.file.as_deref(), Some("app/kustomization.yaml"));
    assert_eq!(e.field.as_deref(), Some("resources[1]"));
}
