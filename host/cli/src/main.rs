//! The `gyre` command line.

mod cli;
mod cluster_demo;
mod demo;
mod output;
mod plugins;
mod progress;
mod yaml;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    // The controller is a service: it logs what it does at info level by default.
    let verbose = if args.is_controller() {
        args.verbose.max(1)
    } else {
        args.verbose
    };
    output::init_logging(verbose, args.log_json || args.wants_json_logs());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(err) => {
            output::print_error(&err);
            std::process::ExitCode::FAILURE
        }
    }
}
