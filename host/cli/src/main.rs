//! The `gyre` command line.

mod cli;
mod demo;
mod output;
mod plugins;
mod progress;
mod yaml;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    output::init_logging(args.verbose, args.log_json);
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
