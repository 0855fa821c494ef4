//! The flags both services share (the event log, metrics, logs and the
//! tokens file), so
//! `sy-intake` and `sy-projection` spell, document and default them the same
//! way: each binary flattens [`CommonArgs`] into its own flags.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::identity::Identity;
use crate::secret_file::SecretFileError;

/// Flags of every service, each with its `SY_*` environment variable.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// NATS server URL(s) of the event log, comma-separated for a cluster.
    #[arg(long, env = "SY_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,

    /// JetStream stream holding the event log (intake creates it if missing).
    #[arg(long, env = "SY_STREAM", default_value = "SHUANGYONG")]
    pub stream: String,

    /// Bound on each NATS request (connecting, publishing, reading), in
    /// milliseconds; past it the call waiting on it fails with UNAVAILABLE.
    #[arg(long, env = "SY_NATS_TIMEOUT_MS", default_value_t = 2000)]
    pub nats_timeout_ms: u64,

    /// Address to serve Prometheus metrics on (`/metrics`); off unless set.
    #[arg(long, env = "SY_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Log format.
    #[arg(long, env = "SY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Tokens file (owner-only): each line `<BLAKE3 hex of a token> <agency>
    /// <user>`. Every call needs `authorization: Bearer <token>` (or a client
    /// certificate); the token's agency and user are the caller. Re-read on
    /// SIGHUP or when it changes. `sy token new` makes entries. Unset only in
    /// development mode, where `x-sy-agency`/`x-sy-user` are trusted as sent.
    #[arg(long, env = "SY_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,

    /// Role policy file (TOML, owner-only): which agencies (patterns such as
    /// `unit-*`) hold which roles. Re-read on SIGHUP or when it changes. Unset
    /// only in development mode, where every caller holds every role.
    #[arg(long, env = "SY_POLICY_FILE")]
    pub policy_file: Option<PathBuf>,

    /// Calls per second each credential (token or client certificate) may
    /// make, sustained; beyond it and its burst, calls are
    /// `RESOURCE_EXHAUSTED` with a retry hint.
    #[arg(long, env = "SY_RATE_PER_CREDENTIAL", default_value_t = NonZeroU32::new(200).expect("non-zero"))]
    pub rate_per_credential: NonZeroU32,

    /// Calls each credential may make at once above its rate.
    #[arg(long, env = "SY_BURST_PER_CREDENTIAL", default_value_t = NonZeroU32::new(400).expect("non-zero"))]
    pub burst_per_credential: NonZeroU32,

    /// Calls of one credential in flight at once.
    #[arg(long, env = "SY_IN_FLIGHT_PER_CREDENTIAL", default_value_t = 64)]
    pub in_flight_per_credential: usize,

    /// Server-side deadline of every call, in milliseconds (a client's
    /// shorter `grpc-timeout` wins); past it the call is cancelled.
    #[arg(long, env = "SY_CALL_TIMEOUT_MS", default_value_t = 30_000)]
    pub call_timeout_ms: u64,

    /// Development mode: allows running without the protections a deployment
    /// must have (TLS, credentials, a role policy, an identity key, signed
    /// events), each missing one logged as a warning at start-up. Without
    /// it a service refuses to start when any of them is missing.
    #[arg(long, env = "SY_DEV")]
    pub dev: bool,
}

/// Why a service cannot set up who may call it.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A protection a deployment must have is not configured.
    #[error("{0} is required (or --dev, for development only)")]
    Missing(&'static str),
    /// A tokens or policy file cannot be used.
    #[error(transparent)]
    File(#[from] SecretFileError),
}

/// How a service writes its logs (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Text,
    /// One JSON object per line, for containers and log shippers.
    Json,
}

impl CommonArgs {
    /// `--nats-timeout-ms` as a duration (at least a millisecond).
    pub fn nats_timeout(&self) -> Duration {
        Duration::from_millis(self.nats_timeout_ms.max(1))
    }

    /// How calls are authenticated and authorized: by the tokens file and
    /// the policy file (both reloaded, see [`crate::reload::spawn_reloader`]).
    /// Either may be missing only with `--dev`, which logs what that means.
    pub fn identity(&self) -> Result<Identity, IdentityError> {
        let mut identity = match &self.tokens_file {
            Some(path) => {
                let identity = Identity::from_tokens_file(path)?;
                tracing::info!(
                    path = %path.display(),
                    tokens = identity.token_count(),
                    "calls need a bearer token; the tokens file is re-read on SIGHUP"
                );
                identity
            }
            None => {
                self.allow_missing(
                    "--tokens-file",
                    "calls are not authenticated and x-sy-agency / x-sy-user are trusted as sent",
                )?;
                Identity::trusting_headers()
            }
        };
        match &self.policy_file {
            Some(path) => {
                identity = identity.with_policy_file(path)?;
                tracing::info!(path = %path.display(), "roles come from the policy file");
            }
            None => self.allow_missing("--policy-file", "every caller holds every role")?,
        }
        Ok(identity)
    }

    /// `Ok` (with a warning saying what is lost) in development mode, else
    /// the error naming `flag`.
    pub fn allow_missing(&self, flag: &'static str, meaning: &str) -> Result<(), IdentityError> {
        if !self.dev {
            return Err(IdentityError::Missing(flag));
        }
        tracing::warn!(flag, "development mode without {flag}: {meaning}");
        Ok(())
    }

    /// The per-credential limits of `--rate-per-credential`,
    /// `--burst-per-credential` and `--in-flight-per-credential`.
    pub fn limits(&self) -> crate::quota::Limits {
        crate::quota::Limits {
            rate: self.rate_per_credential,
            burst: self.burst_per_credential,
            in_flight: self.in_flight_per_credential.max(1),
        }
    }

    /// `--call-timeout-ms` as a duration (at least a millisecond).
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms.max(1))
    }

    /// Sets the process up for serving: the global log subscriber in
    /// `--log-format`, and the open files limit raised to the hard limit
    /// (every connection is a file: the usual soft limit of 1024 would let a
    /// thousand idle connections lock every caller out).
    pub fn init_process(&self) {
        crate::server::init_tracing(self.log_format == LogFormat::Json);
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => tracing::info!(limit, "open files limit"),
            Err(err) => tracing::warn!(%err, "cannot raise the open files limit"),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn defaults_need_no_arguments() {
        let common = Flags::try_parse_from(["sy"]).unwrap().common;
        assert_eq!(common.nats_url, "nats://127.0.0.1:4222");
        assert_eq!(common.stream, "SHUANGYONG");
        assert_eq!(common.nats_timeout(), Duration::from_secs(2));
        assert_eq!(common.metrics_listen, None);
        assert_eq!(common.log_format, LogFormat::Text);
        assert_eq!(common.tokens_file, None);
        assert!(!common.dev);
    }

    #[test]
    fn a_zero_timeout_is_a_millisecond() {
        let common =
            Flags::try_parse_from(["sy", "--nats-timeout-ms", "0", "--log-format", "json"])
                .unwrap()
                .common;
        assert_eq!(common.nats_timeout(), Duration::from_millis(1));
        assert_eq!(common.log_format, LogFormat::Json);
    }
}
