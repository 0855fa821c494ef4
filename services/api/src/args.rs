//! The flags both services share (the event log and its NATS credentials,
//! metrics, logs, the tokens and policy files, TLS, development mode), so `sy-intake`,
//! `sy-projection` and `sy` spell, document and default them the same way:
//! each binary flattens [`CommonArgs`] (or, for `sy`, [`NatsArgs`]) into its
//! own flags. A protection a deployment must have and that is missing is
//! checked in one place, [`CommonArgs::missing`]: an error, or with `--dev`
//! a warning.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use sy_domain::pii::KekRing;
use sy_eventlog::{LogConfig, NatsAuth, NatsUser};

use tonic::transport::ServerTlsConfig;

use crate::identity::Identity;
use crate::secret_file::{self, SecretFileError};
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

    /// NATS user and TLS.
    #[command(flatten)]
    pub nats: NatsArgs,

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
    #[arg(long, env = "SY_RATE_PER_CREDENTIAL", default_value_t = NonZeroU32::new(1000).expect("non-zero"))]
    pub rate_per_credential: NonZeroU32,

    /// Calls each credential may make at once above its rate.
    #[arg(long, env = "SY_BURST_PER_CREDENTIAL", default_value_t = NonZeroU32::new(2000).expect("non-zero"))]
    pub burst_per_credential: NonZeroU32,

    /// Calls of one credential in flight at once.
    #[arg(long, env = "SY_IN_FLIGHT_PER_CREDENTIAL", default_value_t = 64)]
    pub in_flight_per_credential: usize,

    /// Server-side deadline of every call, in milliseconds (a client's
    /// shorter `grpc-timeout` wins); past it the call is cancelled.
    #[arg(long, env = "SY_CALL_TIMEOUT_MS", default_value_t = 30_000)]
    pub call_timeout_ms: u64,

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

    /// The key-encryption key file: lines `<version> <cipher> <base64
    /// key>` (`sy setup` and `sy keys new-kek` write it), readable by its
    /// owner only, never logged. It wraps every person's data key in the key
    /// store; the highest version wraps new keys, older ones stay until `sy
    /// keys rewrap` has moved every key off them. Required unless `--dev`
    /// (then a fixed development KEK, with a warning).
    #[arg(long, env = "SY_KEK_FILE")]
    pub kek_file: Option<PathBuf>,

    /// Development mode: allows running without the protections a deployment
    /// must have (TLS, credentials, a role policy, an identity key, signed
    /// events), each missing one logged as a warning at start-up. Without
    /// it a service refuses to start when any of them is missing.
    #[arg(long, env = "SY_DEV")]
    pub dev: bool,
}

/// How to authenticate to NATS and check its server: a user whose password
/// is read from an owner-only file (never from argv), and the CA of the
/// server's certificate. A CA, or `tls://` URLs, make TLS required.
#[derive(Debug, Clone, Default, Args)]
pub struct NatsArgs {
    /// NATS user name (the server config lists each service's user and what
    /// it may publish and subscribe to). Unset: anonymous, development only.
    #[arg(long, env = "SY_NATS_USER", requires = "nats_password_file")]
    pub nats_user: Option<String>,

    /// File holding the NATS user's password (one line; readable by its
    /// owner only, else refused).
    #[arg(long, env = "SY_NATS_PASSWORD_FILE", requires = "nats_user")]
    pub nats_password_file: Option<PathBuf>,

    /// PEM file of the CA that signed the NATS server's certificate; when
    /// set, the connection must be TLS and the server's certificate must
    /// chain to it (`tls://` URLs require TLS against the system's roots).
    #[arg(long, env = "SY_NATS_CA")]
    pub nats_ca: Option<PathBuf>,
}

impl NatsArgs {
    /// The user (password read from its file) and TLS settings.
    pub fn auth(&self) -> Result<NatsAuth, SecretFileError> {
        let user = match (&self.nats_user, &self.nats_password_file) {
            (Some(name), Some(file)) => Some(NatsUser {
                name: name.clone(),
                password: secret_file::read_private(file)?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
            }),
            _ => None,
        };
        Ok(NatsAuth {
            user,
            ca: self.nats_ca.clone(),
        })
    }
}

/// Why a service refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A protection a deployment must have is not configured.
    #[error("{0}; configure it, or pass --dev (SY_DEV) to run without it in development")]
    Missing(String),
    /// A secret file cannot be used.
    #[error(transparent)]
    Secret(#[from] SecretFileError),
    /// A secret file's content is not what it must be (the error never
    /// repeats the content).
    #[error("{0}")]
    Invalid(String),
}

/// The KEK used with `--dev` when none is configured: fine for demos and
/// tests, never for real people's data.
const DEVELOPMENT_KEK: &str = "1 aes-256-gcm c2h1YW5neW9uZy1kZXZlbG9wbWVudC1vbmx5LWtlayE=";

/// The development KEK (`--dev` without `--kek-file`), for tools and tests
/// that stand in for a service in development mode.
pub fn development_kek() -> KekRing {
    KekRing::parse(DEVELOPMENT_KEK).expect("the development KEK is a valid KEK file")
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
    pub fn identity(&self) -> Result<Identity, StartError> {
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
                self.missing(
                    false,
                    "no --tokens-file: calls are not authenticated, and x-sy-agency / x-sy-user \
                     are trusted as sent",
                )?;
                Identity::trusting_headers()
            }
        };
        match &self.policy_file {
            Some(path) => {
                identity = identity.with_policy_file(path)?;
                tracing::info!(path = %path.display(), "roles come from the policy file");
            }
            None => self.missing(false, "no --policy-file: every caller holds every role")?,
        }
        Ok(identity)
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

    /// Checks a protection a deployment must have: when `present` it is
    /// fine; when missing, an error naming `what`, or with `--dev` a loud
    /// warning (and `Ok(())`, so the caller falls back to its development
    /// behaviour).
    pub fn missing(&self, present: bool, what: &str) -> Result<(), StartError> {
        if present {
            Ok(())
        } else if self.dev {
            tracing::warn!(
                missing = what,
                "development mode: running without a protection"
            );
            Ok(())
        } else {
            Err(StartError::Missing(what.to_string()))
        }
    }

    /// The KEKs of `--kek-file`; without one, an error, or with `--dev`
    /// the development KEK (with a warning).
    pub fn kek_ring(&self) -> Result<KekRing, StartError> {
        let Some(path) = &self.kek_file else {
            self.missing(
                false,
                "no key-encryption key (--kek-file); personal data would be sealed under the development KEK",
            )?;
            return Ok(development_kek());
        };
        let text = secret_file::read_private(path)?;
        KekRing::parse(&text)
            .map_err(|err| StartError::Invalid(format!("{}: {err}", path.display())))
    }

    /// How to reach the event log as a NATS user over TLS: refused without
    /// a user or without TLS unless `--dev`.
    pub fn log_config(&self, replicas: usize) -> Result<LogConfig, StartError> {
        let auth = self.nats.auth()?;
        self.missing(
            auth.user.is_some(),
            "no NATS user (--nats-user, --nats-password-file)",
        )?;
        self.missing(
            auth.tls_required(&self.nats_url),
            "no TLS to NATS (--nats-ca, or tls:// URLs)",
        )?;
        Ok(LogConfig {
            nats_url: self.nats_url.clone(),
            stream: self.stream.clone(),
            replicas,
            request_timeout: self.nats_timeout(),
            auth,
        })
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
        assert_eq!(common.tls_cert, None);
        assert!(!common.dev);
        assert_eq!(common.nats.auth().unwrap(), NatsAuth::default());
    }

    #[test]
    fn outside_development_nats_needs_a_user_and_tls() {
        let dir = tempfile::tempdir().unwrap();
        let password = dir.path().join("password");
        secret_file::write_private(&password, b"pw\n").unwrap();
        let ca = dir.path().join("ca.pem");
        let password_arg = password.to_str().unwrap();
        let parse = |args: &[&str]| {
            Flags::try_parse_from(["sy"].iter().chain(args))
                .unwrap()
                .common
                .log_config(1)
        };
        let err = parse(&[]).unwrap_err().to_string();
        assert!(err.contains("--nats-user"), "{err}");
        let user = [
            "--nats-user",
            "intake",
            "--nats-password-file",
            password_arg,
        ];
        let err = parse(&user).unwrap_err().to_string();
        assert!(err.contains("TLS"), "{err}");

        let config = parse(&[&user[..], &["--nats-ca", ca.to_str().unwrap()]].concat()).unwrap();
        let nats_user = config.auth.user.unwrap();
        assert_eq!(nats_user.name, "intake");
        assert_eq!(nats_user.password, "pw", "the line end is not the password");
        assert!(!format!("{nats_user:?}").contains("pw"));
        assert!(parse(&[&user[..], &["--nats-url", "tls://n1:4222"]].concat()).is_ok());
        assert!(parse(&["--dev"]).is_ok());
        assert!(Flags::try_parse_from(["sy", "--nats-user", "intake"]).is_err());
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
