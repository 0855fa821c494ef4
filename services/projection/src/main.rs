//! `sy-projection`: parses the flags, installs logging and runs the service
//! until SIGINT or SIGTERM. Everything else lives in the library.

use clap::Parser;
use sy_projection::{Config, LogFormat};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    sy_api::server::init_tracing(config.log_format == LogFormat::Json);
    sy_projection::run(config, sy_api::server::shutdown_signal()).await?;
    Ok(())
}
