//! `sy`: parses the command line and hands it to [`sy_cli::run`]. Errors go
//! to stderr with their gRPC details; the exit code is 1 when a call or I/O
//! failed, 2 for usage errors, 3 when a verification failed.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = sy_cli::args::Cli::parse();
    match sy_cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
