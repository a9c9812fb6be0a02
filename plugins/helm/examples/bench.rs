//! Times in-process renders of charts: `bench N CHART_DIR...` (release name `bench`, namespace `default`).

use std::path::Path;
use std::time::Instant;

fn main() {
    let h = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(run)
        .expect("spawn");
    h.join().expect("bench thread");
}

fn run() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    for chart in &args[1..] {
        let p = Path::new(chart);
        let (root, rel) = (
            p.parent().unwrap_or(Path::new(".")),
            Path::new(p.file_name().unwrap_or_default()),
        );
        let opts = gyre_helm::TemplateOptions {
            release_name: "bench".into(),
            namespace: "default".into(),
            kube_version: Some("1.31.0".into()),
            ..Default::default()
        };
        let first = gyre_helm::template(root, rel, &opts).map(|r| r.text.len());
        let t = Instant::now();
        for _ in 0..n {
            let _ = gyre_helm::template(root, rel, &opts);
        }
        let per = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        println!("{chart}: {per:.2} ms/render ({:?} bytes)", first);
    }
}
