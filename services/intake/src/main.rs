//! `sy-intake`: parses its configuration and runs the command API until
//! SIGINT or SIGTERM.

use clap::Parser;
use sy_intake::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    config.common.init_process();
    sy_intake::run(config, sy_api::server::shutdown_signal()).await
}
