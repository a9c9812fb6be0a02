//! Flux behaviour on top of kustomize: generated kustomizations for plain
//! directories and the Kustomization spec fields the renderer applies.

use gyre_kustomize::flux::FluxSpec;
use gyre_kustomize::{Options, build};
use serde_json::json;
use std::fs;
use std::path::Path;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn tree(root: &Path) {
    write(
        root,
        "app/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.0\n",
    );
    write(
        root,
        "app/nested/svc.yml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n",
    );
    write(root, "app/notes.txt", "not yaml: [");
    write(
        root,
        "app/base/kustomization.yaml",
        "resources:\n- cm.yaml\n",
    );
    write(
        root,
        "app/base/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
    );
    write(
        root,
        "app/base/ignored.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-listed\n",
    );
    write(
        root,
        "comp/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations:\n  comp: \"on\"\n",
    );
}

fn names(objs: &[serde_json::Value]) -> Vec<String> {
    objs.iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn plain_directory_gets_a_generated_kustomization_like_kustomize_controller() {
    let t = tempfile::tempdir().unwrap();
    tree(t.path());
    let opts = Options {
        generate_kustomization: true,
        load_restrictor_none: true,
        ..Default::default()
    };
    let objs = build(t.path(), "app", &opts).unwrap();
    assert_eq!(
        names(&objs),
        ["ConfigMap/cm", "Service/web", "Deployment/web"]
    );
    // Without the Flux switch it is kustomize's error.
    assert!(build(t.path(), "app", &Options::default()).is_err());
}

#[test]
fn generated_kustomization_rejects_yaml_that_is_not_kubernetes() {
    let t = tempfile::tempdir().unwrap();
    tree(t.path());
    write(t.path(), "app/values.yaml", "just: [a, list\n");
    let opts = Options {
        generate_kustomization: true,
        ..Default::default()
    };
    let e = build(t.path(), "app", &opts).unwrap_err();
    assert_eq!(e.file.as_deref(), Some("app/values.yaml"), "{e}");
}

#[test]
fn flux_spec_fields_apply_to_the_top_kustomization() {
    let t = tempfile::tempdir().unwrap();
    tree(t.path());
    let spec = FluxSpec::from_json(&json!({
        "targetNamespace": "apps",
        "namePrefix": "p-",
        "images": [{"name": "nginx", "newTag": "2.0"}],
        "patches": [{"target": {"kind": "Service"}, "patch": "- op: add\n  path: /metadata/labels\n  value: {patched: \"yes\"}\n"}],
        "components": ["../comp"],
        "commonMetadata": {"labels": {"team": "a"}, "annotations": {"owner": "b"}},
        "interval": "5m",
        "prune": true
    }))
    .unwrap();
    let opts = Options {
        generate_kustomization: true,
        load_restrictor_none: true,
        flux: spec,
        ..Default::default()
    };
    let objs = build(t.path(), "app", &opts).unwrap();
    assert_eq!(
        names(&objs),
        ["ConfigMap/p-cm", "Service/p-web", "Deployment/p-web"]
    );
    for o in &objs {
        assert_eq!(o["metadata"]["namespace"], "apps");
        assert_eq!(o["metadata"]["labels"]["team"], "a");
        assert_eq!(o["metadata"]["annotations"]["owner"], "b");
        assert_eq!(o["metadata"]["annotations"]["comp"], "on");
    }
    assert_eq!(objs[1]["metadata"]["labels"]["patched"], "yes");
    assert_eq!(
        objs[2]["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2.0"
    );
}

#[test]
fn flux_spec_with_wrong_types_is_invalid_config() {
    assert!(FluxSpec::from_json(&json!({"targetNamespace": 3})).is_err());
    assert!(FluxSpec::from_json(&json!({"patches": "x"})).is_err());
}
