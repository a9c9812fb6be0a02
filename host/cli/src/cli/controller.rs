//! `gyre controller`: the in-cluster process. Reconcilers for the sources,
//! Kustomizations and Plugins; leader election on a Lease so only one replica
//! reconciles; the metrics, health and artifact endpoints.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use gyre_controller::leader::LeaseConfig;
use gyre_controller::manager;
use gyre_controller::metrics::Metrics;
use gyre_controller::server::{self, Health};
use gyre_controller::{Context, Options};

/// Flags of `gyre controller` (Flux controllers' names where they exist).
#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// Kubeconfig file (default: in-cluster, then KUBECONFIG).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long)]
    context: Option<String>,
    /// Directory of the artifact store.
    #[arg(long, default_value = "/data", value_name = "DIR")]
    storage_path: PathBuf,
    /// Address artifacts are served on.
    #[arg(long, default_value = ":9090", value_name = "ADDR")]
    storage_addr: String,
    /// Host (and optional scheme) artifact URLs advertise.
    #[arg(long, default_value = "gyre.flux-system.svc.cluster.local.")]
    storage_adv_addr: String,
    /// Address of the Prometheus metrics endpoint.
    #[arg(long, default_value = ":8080", value_name = "ADDR")]
    metrics_addr: String,
    /// Address of /healthz and /readyz.
    #[arg(long, default_value = ":9440", value_name = "ADDR")]
    health_addr: String,
    /// Elect a leader on a Lease; only the leader reconciles.
    #[arg(long)]
    enable_leader_election: bool,
    /// Namespace of the leader-election Lease.
    #[arg(long, env = "RUNTIME_NAMESPACE", default_value = "flux-system")]
    leader_election_namespace: String,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "gyre-leader-election")]
    leader_election_id: String,
    /// How long a Lease is valid after its last renewal.
    #[arg(long, default_value = "35s", value_parser = parse_duration)]
    leader_election_lease_duration: Duration,
    /// How long the leader retries renewing before it steps down.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    leader_election_renew_deadline: Duration,
    /// How often candidates try and the leader renews.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    leader_election_retry_period: Duration,
    /// This replica's identity in the Lease (default: the pod's hostname).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Reconciles in flight per kind.
    #[arg(long, default_value_t = 4)]
    concurrent: u16,
    /// How soon a Kustomization with unready dependencies is looked at again.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    requeue_dependency: Duration,
    /// Refuse references to objects in other namespaces (multi-tenancy lockdown).
    #[arg(long)]
    no_cross_namespace_refs: bool,
    /// ServiceAccount impersonated when a Kustomization names none.
    #[arg(long)]
    default_service_account: Option<String>,
    /// Only watch this namespace (default: all).
    #[arg(long)]
    watch_namespace: Option<String>,
    /// Plugin and compiled-code cache (default: <storage-path>/.plugins).
    #[arg(long, value_name = "DIR")]
    plugin_cache: Option<PathBuf>,
    /// Log format: `json` or `console` (as Flux's `--log-encoding`).
    #[arg(long, default_value = "console")]
    pub log_encoding: String,
}

/// Parses `30s`, `5m`, `1h30m` (Go durations).
fn parse_duration(s: &str) -> Result<Duration, String> {
    s.parse::<gyre_api::Duration>()
        .map(|d| d.as_std())
        .map_err(|e| e.to_string())
}

/// `:8080` means every interface, as in Go.
fn parse_addr(s: &str) -> anyhow::Result<SocketAddr> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_string()
    };
    full.parse()
        .with_context(|| format!("invalid listen address {s:?} (expected HOST:PORT or :PORT)"))
}

async fn bind(what: &str, addr: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = parse_addr(addr)?;
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {what} endpoint on {addr}"))
}

async fn kube_config(args: &ControllerArgs) -> anyhow::Result<kube::Config> {
    let options = kube::config::KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    Ok(match &args.kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &options).await?
        }
        None => kube::Config::infer()
            .await
            .context("no cluster configured (in-cluster, KUBECONFIG, or --kubeconfig)")?,
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs the controller until SIGTERM/SIGINT, or until leadership is lost (then the
/// process exits non-zero so the pod restarts as a candidate, as Flux does).
pub async fn run(args: ControllerArgs) -> anyhow::Result<std::process::ExitCode> {
    let config = kube_config(&args).await?;
    let client = kube::Client::try_from(config.clone()).context("building the API client")?;
    let mut options = Options::new(&args.storage_path);
    if let Some(p) = &args.plugin_cache {
        options.plugin_cache = p.clone();
    }
    options.storage_adv_addr = args.storage_adv_addr.clone();
    options.concurrency = args.concurrent.max(1);
    options.requeue_dependency = args.requeue_dependency;
    options.no_cross_namespace_refs = args.no_cross_namespace_refs;
    options.default_service_account = args.default_service_account.clone();
    options.watch_namespace = args.watch_namespace.clone();
    let identity = args
        .identity
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("gyre-{}", std::process::id()));
    options.instance = identity.clone();
    let metrics = Metrics::new();
    let ctx = Arc::new(
        Context::new(client.clone(), config, options)
            .context("setting up the controller")?
            .with_metrics(metrics.clone()),
    );
    let health = Health::new();

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let servers = [
        (
            "metrics",
            &args.metrics_addr,
            server::metrics_router(metrics),
        ),
        (
            "health",
            &args.health_addr,
            server::health_router(health.clone()),
        ),
        (
            "artifact",
            &args.storage_addr,
            server::artifact_router(ctx.store.root().to_path_buf()),
        ),
    ];
    let mut tasks = Vec::new();
    for (what, addr, router) in servers {
        let listener = bind(what, addr).await?;
        tracing::info!(endpoint = what, addr = %listener.local_addr()?, "serving");
        tasks.push(tokio::spawn(server::serve(listener, router, stopped())));
    }

    let lease = args.enable_leader_election.then(|| {
        let mut lease = LeaseConfig::new(
            &args.leader_election_namespace,
            &args.leader_election_id,
            &identity,
        );
        lease.lease_duration = args.leader_election_lease_duration;
        lease.renew_deadline = args.leader_election_renew_deadline;
        lease.retry_period = args.leader_election_retry_period;
        lease
    });
    let exit = manager::run(ctx, lease, health, shutdown_signal()).await;
    let code = match exit {
        manager::Exit::Shutdown => std::process::ExitCode::SUCCESS,
        manager::Exit::InvalidConfig => {
            let _ = stop_tx.send(true);
            anyhow::bail!(
                "invalid leader election timings (need lease duration > renew deadline > 1.2 × retry period)"
            );
        }
        manager::Exit::LostLeadership => {
            tracing::error!(identity = %identity, "lost leadership; exiting so that another replica takes over");
            std::process::ExitCode::FAILURE
        }
    };
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    Ok(code)
}
