//! `helm template`-like CLI over gyre-helm, for conformance runs:
//! `htemplate RELEASE CHART [--namespace NS] [-f FILE]... [--set k=v]... [...]`.

use std::path::Path;

fn main() {
    // Template recursion can be deep; give the renderer a generous stack.
    let h = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(run)
        .expect("spawn");
    std::process::exit(h.join().unwrap_or(101));
}

fn run() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let inv = match gyre_helm::cli::parse(&args) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("Error: {e}");
            return 2;
        }
    };
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("open {p}: {e}"));
    let mut opts = inv.opts.clone();
    opts.values = match gyre_helm::build_values(&inv.values_files, &inv.sets, &read) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
    let chart = Path::new(inv.chart());
    let root = chart
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let rel = Path::new(chart.file_name().unwrap_or_default());
    match gyre_helm::template(root, rel, &opts) {
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
