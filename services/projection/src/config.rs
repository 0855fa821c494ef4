//! Command-line flags and their `SY_*` environment variables. Every flag has a
//! documented default, so `sy-projection` with no arguments runs against a
//! local NATS; nothing here is secret (the tokens file holds only hashes, and
//! only its path is here), so the whole config may be logged. The flags every
//! service takes (NATS, stream, metrics, logs, tokens file) are
//! `sy_api::args::CommonArgs`; these are the projection's own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use sy_api::args::CommonArgs;
use sy_domain::validate::Districts;

/// The projection: folds the event log into sled and serves `shuangyong.v1.Query`.
#[derive(Debug, Clone, Parser)]
#[command(name = "sy-projection", version, about)]
pub struct Config {
    /// Flags both services take: NATS URL, stream, log format, metrics,
    /// tokens file.
    #[command(flatten)]
    pub common: CommonArgs,

    /// Address the gRPC server binds (port 0 picks a free port; the chosen
    /// address is logged as `listening addr=...`).
    #[arg(long, env = "SY_LISTEN", default_value = "127.0.0.1:50052")]
    pub listen: SocketAddr,

    /// Directory of this replica's sled read model.
    #[arg(long, env = "SY_DATA_DIR", default_value = "data/projection")]
    pub data_dir: PathBuf,

    /// Longest a read waits for its `min_position` to be applied before
    /// answering UNAVAILABLE, in milliseconds.
    #[arg(long, env = "SY_MAX_WAIT_MS", default_value_t = 5000)]
    pub max_wait_ms: u64,

    /// sled's page cache, in MiB: the bound on the read model's memory
    /// beyond the process's own (sled's default would be 1 GiB). A rebuild
    /// opens a second database beside the live one with the same bound.
    #[arg(long, env = "SY_SLED_CACHE_MB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub sled_cache_mb: u64,

    /// Most events folded in one sled transaction.
    #[arg(long, env = "SY_BATCH_SIZE", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_size: u64,

    /// Readiness bound: gRPC health reports NOT_SERVING while the log is
    /// unreachable or this many events or more are not yet applied.
    #[arg(long, env = "SY_READY_MAX_LAG", default_value_t = 1000)]
    pub ready_max_lag: u64,

    /// Stall bound, in milliseconds: gRPC health reports NOT_SERVING while
    /// the log is ahead and the fold has not advanced for this long, however
    /// small the lag; the fold then also follows the log again from its
    /// checkpoint.
    #[arg(long, env = "SY_READY_MAX_STALL_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ready_max_stall_ms: u64,

    /// Verify keys file the deployment publishes: lines `<key-id> <base64
    /// Ed25519 public key>`, `#` comments allowed. Every event must carry
    /// intake's signature by one of them; one that does not (unsigned,
    /// unknown key id, bad signature) is quarantined, naming which. Required
    /// unless `--dev` (then signatures are not checked).
    #[arg(long, env = "SY_VERIFY_KEYS_FILE")]
    pub verify_keys_file: Option<PathBuf>,

    /// Serve `--data-dir` as it is, without following the log: for a
    /// point-in-time build made by `sy as-of`, so every query answers as of
    /// that position. History still reads the log when it is reachable.
    #[arg(long, env = "SY_READ_ONLY")]
    pub read_only: bool,

    /// Most watch streams (`WatchRequests`, `Notifications.Watch`) one
    /// credential may hold open at once;
    /// one more is RESOURCE_EXHAUSTED.
    #[arg(long, env = "SY_MAX_WATCHES_PER_CALLER", default_value_t = 8)]
    pub max_watches_per_caller: usize,

    /// Districts served (6-digit codes, comma-separated), as intake is
    /// told: a board asked for an area outside them is refused.
    #[arg(long, env = "SY_DISTRICTS", default_value = "500106", value_parser = Districts::parse)]
    pub districts: Districts,

    /// Webhook delivery, run by one replica of a deployment only (every
    /// replica derives the same notifications; two delivering replicas
    /// would deliver each twice).
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

/// Flags of webhook delivery (`--deliver-webhooks`).
#[derive(Debug, Clone, clap::Args)]
pub struct WebhookArgs {
    /// Deliver notifications to the agencies' webhook subscriptions from
    /// this replica (one replica per deployment).
    #[arg(long, env = "SY_DELIVER_WEBHOOKS")]
    pub deliver_webhooks: bool,

    /// Owner-only file of the HMAC keys webhooks are signed with: lines
    /// `<secret-id> <key>` (keys of at least 32 bytes). Required with
    /// `--deliver-webhooks`.
    #[arg(long, env = "SY_WEBHOOK_SECRETS_FILE")]
    pub webhook_secrets_file: Option<PathBuf>,

    /// PEM file of the CA certificates receivers' HTTPS certificates must
    /// chain to (the deployment CA); no public roots are trusted.
    #[arg(long, env = "SY_WEBHOOK_CA_FILE")]
    pub webhook_ca_file: Option<PathBuf>,

    /// Development only: allow receivers on plain http (logged as a
    /// warning at start).
    #[arg(long, env = "SY_WEBHOOK_ALLOW_HTTP")]
    pub webhook_allow_http: bool,

    /// Directory of the delivery state (cursors, attempts, dead letters),
    /// kept apart from the read model so a rebuild keeps it.
    #[arg(long, env = "SY_WEBHOOK_STATE_DIR", default_value = "data/webhooks")]
    pub webhook_state_dir: PathBuf,

    /// Attempts at one notification before it becomes a dead letter.
    #[arg(long, env = "SY_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub webhook_max_attempts: u32,

    /// Wait after a first failed attempt, in milliseconds; it doubles with
    /// each further failure (with jitter), up to `--webhook-backoff-max-ms`.
    #[arg(long, env = "SY_WEBHOOK_BACKOFF_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub webhook_backoff_ms: u64,

    /// Longest wait between two attempts, in milliseconds.
    #[arg(long, env = "SY_WEBHOOK_BACKOFF_MAX_MS", default_value_t = 300_000,
          value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub webhook_backoff_max_ms: u64,
}

impl Config {
    /// `--max-wait-ms` as a duration.
    pub fn max_wait(&self) -> Duration {
        Duration::from_millis(self.max_wait_ms)
    }

    /// `--ready-max-stall-ms` as a duration.
    pub fn ready_max_stall(&self) -> Duration {
        Duration::from_millis(self.ready_max_stall_ms)
    }

    /// `sled_cache_mb` in bytes; the parser bounds it to 1 MiB..=1 TiB.
    pub fn sled_cache_bytes(&self) -> u64 {
        self.sled_cache_mb * 1024 * 1024
    }

    /// `batch_size` as a length; the parser bounds it to 1..=100000.
    pub fn batch_len(&self) -> usize {
        usize::try_from(self.batch_size).unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use sy_api::args::LogFormat;

    use super::*;

    #[test]
    fn defaults_need_no_arguments() {
        let config = Config::try_parse_from(["sy-projection"]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:50052");
        assert_eq!(config.common.stream, "SHUANGYONG");
        assert_eq!(config.batch_len(), 1000);
        assert_eq!(config.sled_cache_bytes(), 256 * 1024 * 1024);
        assert_eq!(config.max_wait(), Duration::from_secs(5));
        assert_eq!(config.ready_max_stall(), Duration::from_secs(5));
        assert_eq!(config.common.log_format, LogFormat::Text);
    }

    #[test]
    fn batch_size_must_be_positive() {
        assert!(Config::try_parse_from(["sy-projection", "--batch-size", "0"]).is_err());
        assert!(Config::try_parse_from(["sy-projection", "--sled-cache-mb", "0"]).is_err());
        let config = Config::try_parse_from([
            "sy-projection",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.common.log_format, LogFormat::Json);
    }
}
