//! The flags both services share (the event log, metrics, logs, the
//! tokens file and TLS), so
//! `sy-intake` and `sy-projection` spell, document and default them the same
//! way: each binary flattens [`CommonArgs`] into its own flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use tonic::transport::ServerTlsConfig;

use crate::identity::{CredentialsError, Identity};
use crate::tls::{TlsError, TlsFiles};

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

    /// Tokens file: each line `<BLAKE3 hex of a token> <agency>[,...]|*`. When
    /// set, every call needs `authorization: Bearer <token>` granted the agency
    /// in `x-sy-agency`; unset, the headers are trusted (development, or a
    /// gateway in front that authenticates). `sy token new` makes entries.
    #[arg(long, env = "SY_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,

    /// TLS certificate chain of the gRPC server (PEM, server certificate
    /// first). With `--tls-key`; without both the service refuses to start
    /// unless `--dev`.
    #[arg(long, env = "SY_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// Private key of `--tls-cert` (PEM), a file only its owner may read.
    #[arg(long, env = "SY_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// CA (PEM) whose client certificates are accepted (mutual TLS: the
    /// subject's O is the agency, its CN the user); a caller may still use a
    /// bearer token instead. Without it no client certificates are asked for.
    #[arg(long, env = "SY_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,

    /// Development mode: allows running without the protections a deployment
    /// must have (TLS, credentials, a role policy, an identity key, signed
    /// events), each missing one logged as a warning at start-up. Without
    /// it a service refuses to start when any of them is missing.
    #[arg(long, env = "SY_DEV")]
    pub dev: bool,
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

    /// How calls are authenticated: by the tokens file (reloaded on SIGHUP,
    /// see [`Identity::spawn_reloader`]), or, without one, by the headers
    /// alone (with a warning).
    pub fn identity(&self) -> Result<Identity, CredentialsError> {
        let Some(path) = &self.tokens_file else {
            tracing::warn!(
                "no --tokens-file: calls are not authenticated and x-sy-agency is trusted as sent"
            );
            return Ok(Identity::trusting_headers());
        };
        let identity = Identity::from_tokens_file(path)?;
        tracing::info!(
            path = %path.display(),
            tokens = identity.token_count(),
            "calls need a bearer token; the tokens file is re-read on SIGHUP"
        );
        Ok(identity)
    }

    /// The gRPC server's TLS (`--tls-cert`, `--tls-key`, `--tls-client-ca`):
    /// `None` serves plaintext, which only `--dev` allows.
    pub fn server_tls(&self) -> Result<Option<ServerTlsConfig>, TlsError> {
        TlsFiles {
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
            client_ca: self.tls_client_ca.clone(),
        }
        .server_config(self.dev)
    }

    /// Installs the global log subscriber in `--log-format`.
    pub fn init_tracing(&self) {
        crate::server::init_tracing(self.log_format == LogFormat::Json);
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
        assert_eq!(common.tls_cert, None);
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
