//! `sy-projection`: parses the flags, installs logging and runs the service
//! until SIGINT or SIGTERM. Everything else lives in the library.

use clap::Parser;
use sy_projection::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    config.common.init_process();
    sy_projection::run(config, sy_api::server::shutdown_signal()).await?;
    Ok(())
}
