//! Configuration: every flag has an `SY_*` environment variable and a
//! documented default.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use sy_domain::validate::Districts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Text,
    /// One JSON object per line, for containers and log shippers.
    Json,
}

impl LogFormat {
    pub fn is_json(self) -> bool {
        self == LogFormat::Json
    }
}

/// The command API of shuangyong: validates commands and appends their events
/// to the NATS JetStream event log.
#[derive(Debug, Clone, Parser)]
#[command(name = "sy-intake", version, about)]
pub struct Config {
    /// NATS server URL(s), comma-separated.
    #[arg(long, env = "SY_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,

    /// Address the gRPC API listens on (port 0: any free port; the bound
    /// address is logged as `listening addr=...`).
    #[arg(long, env = "SY_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// JetStream stream holding the event log; created if missing.
    #[arg(long, env = "SY_STREAM", default_value = "SHUANGYONG")]
    pub stream: String,

    /// Replicas of the stream when intake creates it (3 in a cluster).
    #[arg(long, env = "SY_STREAM_REPLICAS", default_value_t = 1)]
    pub stream_replicas: usize,

    /// Districts served (6-digit codes, comma-separated); area codes outside
    /// them are refused. 500106 is Shapingba, Chongqing.
    #[arg(long, env = "SY_DISTRICTS", default_value = "500106", value_parser = Districts::parse)]
    pub districts: Districts,

    /// Bound on each JetStream request (publish ack, reads), in milliseconds;
    /// past it a command fails with UNAVAILABLE.
    #[arg(long, env = "SY_NATS_TIMEOUT_MS", default_value_t = 2000)]
    pub nats_timeout_ms: u64,

    /// Aggregates whose folded state is kept in memory (LRU).
    #[arg(long, env = "SY_CACHE_SIZE", default_value_t = 10_000)]
    pub cache_size: usize,

    /// Address to serve Prometheus metrics on (`/metrics`); off unless set.
    #[arg(long, env = "SY_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Log format.
    #[arg(long, env = "SY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl Config {
    pub fn nats_timeout(&self) -> Duration {
        Duration::from_millis(self.nats_timeout_ms.max(1))
    }
}
