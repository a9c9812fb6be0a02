//! The `kube-sim` binary: serves the Kubernetes API test server until interrupted.

use std::path::PathBuf;

fn usage() -> ! {
    eprintln!(
        "usage: kube-sim [--port N] [--kubeconfig-out FILE] [--tls] [--token TOKEN] [--no-auth] [--workloads ready|fail|stuck]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = kube_sim::Options {
        tls: false,
        ..Default::default()
    };
    let mut out: Option<PathBuf> = None;
    let mut mode = kube_sim::WorkloadMode::Off;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => {
                opts.port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--kubeconfig-out" => out = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--tls" => opts.tls = true,
            "--token" => opts.token = Some(args.next().unwrap_or_else(|| usage())),
            "--no-auth" => opts.token = None,
            "--workloads" => {
                mode = match args.next().as_deref() {
                    Some("ready") => kube_sim::WorkloadMode::Ready,
                    Some("fail") => kube_sim::WorkloadMode::Fail,
                    Some("stuck") => kube_sim::WorkloadMode::Stuck,
                    _ => usage(),
                }
            }
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    let sim = kube_sim::KubeSim::start(opts).await?;
    sim.set_workload_mode(mode);
    if let Some(p) = &out {
        sim.write_kubeconfig(p)?;
    }
    println!("kube-sim serving at {}", sim.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
