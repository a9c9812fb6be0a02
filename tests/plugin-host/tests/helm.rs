//! The built-in Helm renderer through the real plugin host: values layering,
//! origins, and hostile charts ending in clear errors within the sandbox's
//! limits (issue 5). Every hostile case is followed by a good render on the
//! same plugin, to show nothing was left broken.

use gyre_plugin::{EngineOptions, Error, Limits, Plugin, PluginEngine, World};
use serde_json::json;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One compiled plugin for the whole file: compiling the Helm renderer is
/// the slow part, and reuse is exactly what must stay safe.
fn helm() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let engine = PluginEngine::new(EngineOptions::default()).unwrap();
        engine
            .load_as(
                "builtin:helm",
                gyre_builtins::get("helm").unwrap().bytes,
                World::Renderer,
                Limits {
                    timeout: Duration::from_secs(20),
                    ..Limits::default()
                },
            )
            .unwrap()
    })
}

fn chart(dir: &Path, template: &str) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    )
    .unwrap();
    // Not `n`: YAML 1.1 (and so Helm) reads that key as the boolean false.
    std::fs::write(dir.join("values.yaml"), "num: 1\n").unwrap();
    std::fs::write(dir.join("templates/t.yaml"), template).unwrap();
}

const CONFIGMAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  num: {{ .Values.num | quote }}\n";

/// A good render still works on the same plugin.
fn still_renders() {
    let d = tempfile::tempdir().unwrap();
    chart(d.path(), CONFIGMAP);
    let out = helm()
        .render(d.path(), ".", r#"{"releaseName":"ok"}"#)
        .expect("a good chart renders after a hostile one");
    assert_eq!(out.objects[0]["metadata"]["name"], "ok");
}

/// Renders `template` and returns the error text, checking it came within
/// the sandbox deadline.
fn render_err(template: &str, config: &str) -> (Error, String) {
    let d = tempfile::tempdir().unwrap();
    chart(d.path(), template);
    let start = Instant::now();
    let err = helm()
        .render(d.path(), ".", config)
        .expect_err("a hostile chart must fail");
    assert!(
        start.elapsed() < Duration::from_secs(25),
        "{:?}",
        start.elapsed()
    );
    let text = format!("{err}");
    (err, text)
}

#[test]
fn renders_objects_with_their_template_origins() {
    let d = tempfile::tempdir().unwrap();
    chart(d.path(), CONFIGMAP);
    std::fs::write(
        d.path().join("templates/svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
    )
    .unwrap();
    std::fs::write(d.path().join("templates/NOTES.txt"), "hello").unwrap();
    let out = helm()
        .render(d.path(), ".", r#"{"releaseName":"r","namespace":"apps"}"#)
        .unwrap();
    let kinds: Vec<_> = out.objects.iter().map(|o| o["kind"].clone()).collect();
    // Helm's install order (ConfigMap before Service), NOTES.txt left out.
    assert_eq!(kinds, vec![json!("ConfigMap"), json!("Service")]);
    assert_eq!(
        out.origins,
        vec!["c/templates/t.yaml", "c/templates/svc.yaml"]
    );
}

#[test]
fn value_layers_merge_in_order_with_helms_number_types() {
    let d = tempfile::tempdir().unwrap();
    chart(
        d.path(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: v\ndata:\n  a: {{ .Values.a | quote }}\n  b: {{ .Values.b | quote }}\n  c: {{ .Values.c | quote }}\n  num: {{ .Values.num | quote }}\n",
    );
    let config = json!({
        "valueSources": [
            {"yaml": "a: 1000000\nb: from-file\nnum: 5\n"},
            {"set": "b=from-set,c=2000000"},
        ],
        "values": {"num": 7},
    });
    let out = helm().render(d.path(), ".", &config.to_string()).unwrap();
    let data = &out.objects[0]["data"];
    // Values files and Flux's spec.values are float64 in Helm; --set infers int64.
    assert_eq!(data["a"], "1e+06");
    assert_eq!(data["b"], "from-set");
    assert_eq!(data["c"], "2000000");
    assert_eq!(data["num"], "7");
}

#[test]
fn a_bad_value_layer_is_an_invalid_config_error() {
    let d = tempfile::tempdir().unwrap();
    chart(d.path(), CONFIGMAP);
    let err = helm()
        .render(d.path(), ".", r#"{"valueSources":[{"nope":"x"}]}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("valueSources[0]"), "{err}");
}

#[test]
fn include_that_recurses_forever_is_a_clear_error() {
    let (_, err) = render_err(
        r#"{{ define "loop" }}{{ include "loop" . }}{{ end }}{{ include "loop" . }}"#,
        "{}",
    );
    assert!(
        err.contains("nested reference") || err.contains("maximum template depth"),
        "{err}"
    );
    assert!(err.contains("templates/t.yaml"), "{err}");
    still_renders();
}

#[test]
fn huge_range_is_stopped() {
    let (_, err) = render_err("{{ range 1000000000000 }}x{{ end }}", "{}");
    assert!(err.contains("step limit"), "{err}");
    still_renders();
}

#[test]
fn output_bomb_is_stopped() {
    let (err, text) = render_err(
        r#"{{ range until 1000000 }}{{ "x" | repeat 1000 }}{{ end }}"#,
        "{}",
    );
    // The renderer's own output cap or the sandbox's memory cap, whichever
    // the growing buffer meets first.
    assert!(
        text.contains("size limit") || matches!(err, Error::MemoryLimit { .. }),
        "{text}"
    );
    still_renders();
}

#[test]
fn deeply_nested_values_are_rejected() {
    let deep = format!("a: {}1{}\n", "[".repeat(50_000), "]".repeat(50_000));
    let config = json!({ "valueSources": [{ "yaml": deep }] });
    let (_, err) = render_err(CONFIGMAP, &config.to_string());
    assert!(
        err.contains("recursion limit") || err.contains("depth"),
        "{err}"
    );
    // And in the chart's own values.yaml.
    let d = tempfile::tempdir().unwrap();
    chart(d.path(), CONFIGMAP);
    std::fs::write(d.path().join("values.yaml"), &deep).unwrap();
    let err = helm().render(d.path(), ".", "{}").unwrap_err().to_string();
    assert!(
        err.contains("recursion limit") || err.contains("depth"),
        "{err}"
    );
    still_renders();
}

fn tgz(entries: &[(&str, &[u8], tar::EntryType, Option<&str>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, data, kind, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        // The raw name, so that `..` survives (the builder refuses it).
        let name = path.as_bytes();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

const CHART_YAML: &[u8] = b"apiVersion: v2\nname: c\nversion: 0.1.0\n";

fn render_archive(data: &[u8]) -> Result<gyre_plugin::RenderOutput, Error> {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("c.tgz"), data).unwrap();
    helm().render(d.path(), ".", r#"{"chart":"c.tgz"}"#)
}

#[test]
fn a_packaged_chart_renders() {
    let out = render_archive(&tgz(&[
        ("c/Chart.yaml", CHART_YAML, tar::EntryType::Regular, None),
        ("c/values.yaml", b"num: 3\n", tar::EntryType::Regular, None),
        (
            "c/templates/t.yaml",
            CONFIGMAP.as_bytes(),
            tar::EntryType::Regular,
            None,
        ),
    ]))
    .unwrap();
    assert_eq!(out.objects[0]["data"]["num"], "3");
}

#[test]
fn archive_with_dotdot_entry_is_refused() {
    let err = render_archive(&tgz(&[
        ("c/Chart.yaml", CHART_YAML, tar::EntryType::Regular, None),
        ("c/../../evil.yaml", b"x", tar::EntryType::Regular, None),
    ]))
    .unwrap_err()
    .to_string();
    assert!(err.contains("escapes"), "{err}");
    still_renders();
}

#[test]
fn archive_with_symlink_is_refused() {
    let err = render_archive(&tgz(&[
        ("c/Chart.yaml", CHART_YAML, tar::EntryType::Regular, None),
        (
            "c/templates/link.yaml",
            b"",
            tar::EntryType::Symlink,
            Some("/etc/passwd"),
        ),
    ]))
    .unwrap_err()
    .to_string();
    assert!(err.contains("link"), "{err}");
    still_renders();
}

#[test]
fn archive_bomb_is_refused() {
    // 200 MiB of zeros in a few hundred KiB.
    struct Zeros(u64);
    impl std::io::Read for Zeros {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = (buf.len() as u64).min(self.0) as usize;
            buf[..n].fill(0);
            self.0 -= n as u64;
            Ok(n)
        }
    }
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut h = tar::Header::new_gnu();
    h.set_path("c/templates/big.yaml").unwrap();
    h.set_size(200 << 20);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, Zeros(200 << 20)).unwrap();
    let data = b.into_inner().unwrap().finish().unwrap();
    assert!(data.len() < 4 << 20);
    let err = render_archive(&data).unwrap_err().to_string();
    assert!(err.contains("size limit"), "{err}");
    still_renders();
}

#[test]
fn symlink_out_of_the_chart_reads_nothing() {
    let d = tempfile::tempdir().unwrap();
    chart(d.path(), CONFIGMAP);
    std::os::unix::fs::symlink("/etc/passwd", d.path().join("templates/passwd.yaml")).unwrap();
    let err = helm().render(d.path(), ".", "{}").unwrap_err().to_string();
    assert!(!err.contains("root:"), "leaked file content: {err}");
    assert!(
        err.contains("outside") || err.contains("not permitted") || err.contains("passwd"),
        "{err}"
    );
    still_renders();
}
