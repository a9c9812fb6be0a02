//! `.Release` as an install and as an upgrade render it: `helm template` always renders
//! revision 1 as an install; the HelmRelease controller renders an upgrade as the next
//! revision, so charts that gate on `.Release.IsUpgrade` (hooks, one-off Jobs) see what
//! Helm's upgrade shows them.

use gyre_helm::TemplateOptions;
use std::path::Path;

fn chart(root: &Path) {
    std::fs::create_dir_all(root.join("c/templates")).expect("mkdir");
    std::fs::write(
        root.join("c/Chart.yaml"),
        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    )
    .expect("write");
    std::fs::write(
        root.join("c/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r\ndata:\n  revision: {{ .Release.Revision | quote }}\n  upgrade: {{ .Release.IsUpgrade | quote }}\n  install: {{ .Release.IsInstall | quote }}\n",
    )
    .expect("write");
}

fn data(opts: &TemplateOptions) -> serde_json::Value {
    let root = std::env::temp_dir().join(format!(
        "gyre-helm-release-{}-{}",
        std::process::id(),
        opts.revision.unwrap_or(0)
    ));
    let _ = std::fs::remove_dir_all(&root);
    chart(&root);
    let out = gyre_helm::template(&root, Path::new("c"), opts).expect("renders");
    let _ = std::fs::remove_dir_all(&root);
    let cm: serde_json::Value = serde_json::from_str(&out.objects[0]).expect("json");
    cm["data"].clone()
}

#[test]
fn template_renders_an_install_at_revision_one() {
    let opts = TemplateOptions {
        release_name: "r".into(),
        namespace: "default".into(),
        ..Default::default()
    };
    assert_eq!(
        data(&opts),
        serde_json::json!({"revision": "1", "upgrade": "false", "install": "true"})
    );
}

#[test]
fn an_upgrade_renders_its_revision_and_is_upgrade() {
    let opts = TemplateOptions {
        release_name: "r".into(),
        namespace: "default".into(),
        revision: Some(4),
        is_upgrade: true,
        ..Default::default()
    };
    assert_eq!(
        data(&opts),
        serde_json::json!({"revision": "4", "upgrade": "true", "install": "false"})
    );
}
