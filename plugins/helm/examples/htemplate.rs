//! `helm template`-like CLI over gyre-helm, for conformance runs.

use std::path::Path;

fn main() {
    let h = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(real_main)
        .expect("spawn");
    let code = h.join().unwrap_or(101);
    std::process::exit(code);
}

fn real_main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut pos = Vec::new();
    let mut opts = gyre_helm::TemplateOptions {
        namespace: "default".into(),
        ..Default::default()
    };
    let mut files = Vec::new();
    let mut sets = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.to_string(), None),
        };
        let mut val = || -> String {
            if let Some(v) = inline.clone() {
                v
            } else {
                i += 1;
                args.get(i).cloned().unwrap_or_default()
            }
        };
        match flag.as_str() {
            "--namespace" | "-n" => opts.namespace = val(),
            "--kube-version" => opts.kube_version = Some(val()),
            "-f" | "--values" => files.push(val()),
            "--set" | "--set-string" | "--set-json" | "--set-file" | "--set-literal" => {
                let v = val();
                sets.push((flag.clone(), v));
            }
            "--api-versions" | "-a" => {
                let v = val();
                opts.api_versions.extend(v.split(',').map(String::from));
            }
            "--include-crds" => opts.include_crds = true,
            "--skip-tests" => opts.skip_tests = true,
            "--no-hooks" => opts.no_hooks = true,
            "--skip-schema-validation" => opts.skip_schema_validation = true,
            "--show-only" | "-s" => {
                let v = val();
                opts.show_only.push(v);
            }
            _ => pos.push(a.to_string()),
        }
        i += 1;
    }
    if pos.len() < 2 {
        eprintln!("usage: htemplate RELEASE CHART [flags]");
        return 2;
    }
    opts.release_name = pos[0].clone();
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("open {p}: {e}"));
    let vals = match gyre_helm::build_values(&files, &sets, &read) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
    opts.values = vals;
    let chart = Path::new(&pos[1]);
    let (root, rel) = match (chart.parent(), chart.file_name()) {
        (Some(p), Some(n)) => (p.to_path_buf(), Path::new(n).to_path_buf()),
        _ => (Path::new(".").to_path_buf(), chart.to_path_buf()),
    };
    let root = if root.as_os_str().is_empty() {
        Path::new(".").to_path_buf()
    } else {
        root
    };
    match gyre_helm::template(&root, &rel, &opts) {
        Ok(r) => {
            print!("{}", r.text);
            0
        }
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}
