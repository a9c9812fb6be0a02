//! Hostile inputs end in clear errors within the sandbox's limits, never in a crash or a hang.

use gyre_helm::{TemplateOptions, value::Value};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

fn opts() -> TemplateOptions {
    TemplateOptions {
        release_name: "r".into(),
        namespace: "default".into(),
        ..Default::default()
    }
}

fn chart_dir(tmp: &Path, template: &str) {
    std::fs::create_dir_all(tmp.join("c/templates")).expect("mkdir");
    std::fs::write(
        tmp.join("c/Chart.yaml"),
        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    )
    .expect("write");
    std::fs::write(tmp.join("c/templates/t.yaml"), template).expect("write");
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("gyre-helm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

/// Runs `f` on a thread with a big stack (as the CLI and the guest do) and a time budget.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let start = Instant::now();
    let h = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .expect("spawn");
    let r = h.join().expect("no panic");
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
    r
}

#[test]
fn include_that_recurses_forever_is_a_clear_error() {
    let err = bounded(|| {
        gyre_helm::execute(
            "t",
            r#"{{ define "loop" }}{{ include "loop" . }}{{ end }}{{ include "loop" . }}"#,
            &Value::Nil,
        )
        .expect_err("must fail")
        .to_string()
    });
    assert!(
        err.contains("nested reference") || err.contains("maximum template depth"),
        "{err}"
    );
}

#[test]
fn template_that_recurses_forever_is_a_clear_error() {
    let err = bounded(|| {
        gyre_helm::execute(
            "t",
            r#"{{ define "loop" }}{{ template "loop" . }}{{ end }}{{ template "loop" . }}"#,
            &Value::Nil,
        )
        .expect_err("must fail")
        .to_string()
    });
    assert!(err.contains("maximum template depth"), "{err}");
}

#[test]
fn huge_range_hits_the_step_limit() {
    let err = bounded(|| {
        gyre_helm::execute("t", "{{ range 1000000000000 }}x{{ end }}", &Value::Nil)
            .expect_err("must fail")
            .to_string()
    });
    assert!(err.contains("step limit"), "{err}");
    let err = bounded(|| {
        gyre_helm::execute("t", "{{ range until 100000000 }}x{{ end }}", &Value::Nil)
            .expect_err("must fail")
            .to_string()
    });
    assert!(
        err.contains("too many elements") || err.contains("step limit"),
        "{err}"
    );
}

#[test]
fn output_bomb_hits_the_size_limit() {
    let err = bounded(|| {
        gyre_helm::execute(
            "t",
            r#"{{ range until 1000000 }}{{ "x" | repeat 1000 }}{{ end }}"#,
            &Value::Nil,
        )
        .expect_err("must fail")
        .to_string()
    });
    assert!(err.contains("size limit"), "{err}");
}

#[test]
fn deeply_nested_values_are_rejected_not_overflowing() {
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = bounded(move || {
        gyre_helm::yaml::parse(&deep, true)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    assert!(r.is_err());
    let deep_json = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(gyre_helm::json::parse(&deep_json).is_err());
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
            h.set_link_name(l).expect("link");
        }
        // Write the raw name so `..` survives (the builder's helpers refuse it).
        let name = path.as_bytes();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        b.append(&h, *data).expect("append");
    }
    b.into_inner().expect("finish").finish().expect("gzip")
}

#[test]
fn archive_with_dotdot_entry_is_refused() {
    let d = tempdir("dotdot");
    let data = tgz(&[
        (
            "c/Chart.yaml",
            b"apiVersion: v2\nname: c\nversion: 0.1.0\n",
            tar::EntryType::Regular,
            None,
        ),
        ("c/../../evil.yaml", b"x", tar::EntryType::Regular, None),
    ]);
    std::fs::write(d.join("c.tgz"), data).expect("write");
    let err = gyre_helm::template(&d, Path::new("c.tgz"), &opts())
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("escapes"), "{err}");
}

#[test]
fn archive_with_symlink_is_refused() {
    let d = tempdir("symlink-tgz");
    let data = tgz(&[
        (
            "c/Chart.yaml",
            b"apiVersion: v2\nname: c\nversion: 0.1.0\n",
            tar::EntryType::Regular,
            None,
        ),
        (
            "c/templates/link.yaml",
            b"",
            tar::EntryType::Symlink,
            Some("/etc/passwd"),
        ),
    ]);
    std::fs::write(d.join("c.tgz"), data).expect("write");
    let err = gyre_helm::template(&d, Path::new("c.tgz"), &opts())
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("link"), "{err}");
}

#[test]
fn archive_bomb_is_refused() {
    let d = tempdir("bomb");
    // 200 MiB of zeros compresses to ~200 KiB.
    let zeros = vec![0u8; 1 << 20];
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut h = tar::Header::new_gnu();
    h.set_path("c/templates/big.yaml").expect("path");
    h.set_size(200 << 20);
    h.set_mode(0o644);
    h.set_cksum();
    struct Zeros<'a>(&'a [u8], u64);
    impl std::io::Read for Zeros<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = (buf.len() as u64).min(self.1).min(self.0.len() as u64) as usize;
            buf[..n].copy_from_slice(&self.0[..n]);
            self.1 -= n as u64;
            Ok(n)
        }
    }
    b.append(&h, Zeros(&zeros, 200 << 20)).expect("append");
    let data = b.into_inner().expect("finish").finish().expect("gzip");
    assert!(data.len() < 4 << 20);
    std::fs::File::create(d.join("c.tgz"))
        .and_then(|mut f| f.write_all(&data))
        .expect("write");
    let err = gyre_helm::template(&d, Path::new("c.tgz"), &opts())
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("size limit"), "{err}");
}

#[test]
fn symlink_pointing_outside_the_root_is_refused() {
    let d = tempdir("symlink-dir");
    chart_dir(&d, "a: 1\n");
    std::os::unix::fs::symlink("/etc/passwd", d.join("c/templates/passwd.yaml")).expect("symlink");
    let err = gyre_helm::template(&d, Path::new("c"), &opts())
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("outside"), "{err}");
}

#[test]
fn chart_path_escaping_the_root_is_refused() {
    let d = tempdir("escape");
    chart_dir(&d, "a: 1\n");
    let inner = d.join("root");
    std::fs::create_dir_all(&inner).expect("mkdir");
    let err = gyre_helm::template(&inner, Path::new("../c"), &opts())
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("escapes"), "{err}");
}

#[test]
fn packaged_chart_renders_like_its_directory() {
    let d = tempdir("tgz-ok");
    let data = tgz(&[
        ("c/Chart.yaml", b"apiVersion: v2\nname: c\nversion: 0.1.0\n", tar::EntryType::Regular, None),
        ("c/values.yaml", b"num: 2\n", tar::EntryType::Regular, None),
        ("c/templates/cm.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  num: {{ .Values.num | quote }}\n", tar::EntryType::Regular, None),
    ]);
    std::fs::write(d.join("c.tgz"), data).expect("write");
    let r = gyre_helm::template(&d, Path::new("c.tgz"), &opts()).expect("renders");
    assert_eq!(
        r.text,
        "---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r\ndata:\n  num: \"2\"\n"
    );
    assert_eq!(
        r.objects,
        vec![
            r#"{"apiVersion":"v1","data":{"num":"2"},"kind":"ConfigMap","metadata":{"name":"r"}}"#
                .to_string()
        ]
    );
}
