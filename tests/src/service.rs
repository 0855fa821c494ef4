//! The service binaries (`sy-intake`, `sy-projection`) as child processes: the
//! real thing a deployment runs, started with flags, found serving through the
//! `listening addr=HOST:PORT` line it logs, killed (`SIGKILL`) or stopped
//! (`SIGTERM`) and restarted with the same flags (so the same data dir).

use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use anyhow::Context;
use tonic::transport::{Channel, Endpoint};

use crate::nats::NatsServer;
use crate::process::{Log, Process, binary_path};

/// How long a service may take to log `listening addr=`.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a service may take to stop after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Name of intake's binary in the workspace.
pub const INTAKE_BIN: &str = "sy-intake";
/// Name of the projection's binary in the workspace.
pub const PROJECTION_BIN: &str = "sy-projection";

/// How to start a service; [`ServiceBuilder::start`] adds `--listen`.
#[derive(Debug, Clone)]
pub struct ServiceBuilder {
    binary: PathBuf,
    label: String,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    /// The CA (PEM) a TLS server's clients trust; `None` for plaintext.
    tls_ca: Option<String>,
}

impl ServiceBuilder {
    /// A workspace binary by name, e.g. `sy-intake`.
    pub fn new(binary_name: &str) -> Self {
        Self::with_binary(binary_path(binary_name), binary_name)
    }

    /// The binary at `binary`, called `label` in logs and dumps.
    pub fn with_binary(binary: impl Into<PathBuf>, label: &str) -> Self {
        Self {
            binary: binary.into(),
            label: label.to_string(),
            // Development mode unless a test configures the protections
            // itself (the security suites do, and drop it).
            args: vec!["--log-format".into(), "text".into(), "--dev".into()],
            // The suites check behaviour, not throughput limits, and read in
            // tight loops: per-credential rates far above theirs (a test of
            // the limits sets its own with the flags, which win).
            envs: vec![
                ("SY_RATE_PER_CREDENTIAL".into(), "1000000".into()),
                ("SY_BURST_PER_CREDENTIAL".into(), "1000000".into()),
            ],
            tls_ca: None,
        }
    }

    /// `sy-intake` on `nats`, writing to `stream`; on a secured server as
    /// NATS user `intake` with the deployment's identity key.
    pub fn intake(nats: &NatsServer, stream: &str) -> Self {
        let builder = Self::new(INTAKE_BIN).on_nats(nats, "intake", stream);
        match nats.secrets() {
            Some(secrets) => {
                builder.flag("--identity-key-file", secrets.identity_key_file().display())
            }
            None => builder,
        }
    }

    /// `--nats-url` and `--stream`, and on a secured server the flags of
    /// NATS user `user` and the service's gRPC TLS, tokens and policy.
    fn on_nats(self, nats: &NatsServer, user: &str, stream: &str) -> Self {
        let mut builder = self
            .arg("--nats-url")
            .arg(nats.url())
            .arg("--stream")
            .arg(stream);
        if let Some(secrets) = nats.secrets() {
            for arg in secrets
                .nats_args(user)
                .into_iter()
                .chain(secrets.grpc_args(user))
            {
                builder = builder.arg(arg);
            }
            builder.tls_ca = Some(secrets.ca_pem().expect("sy setup wrote the CA"));
        }
        builder
    }

    /// `sy-projection` on `nats`, folding `stream` into `data_dir`; on a
    /// secured server as NATS user `projection`.
    pub fn projection(nats: &NatsServer, stream: &str, data_dir: &Path) -> Self {
        Self::new(PROJECTION_BIN)
            .on_nats(nats, "projection", stream)
            .arg("--data-dir")
            .arg(data_dir)
    }

    /// The name logs and errors use (e.g. `sy-projection#2`).
    /// Renames the service in logs and dumps (`projection-2`...).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Drops `--dev`: the service must then be given TLS, credentials and
    /// the other protections a deployment has, or it refuses to start.
    pub fn without_dev(mut self) -> Self {
        self.args.retain(|arg| arg != "--dev");
        self
    }

    /// Serves TLS with `pki`'s server certificate and accepts client
    /// certificates of its CA (`--tls-cert`, `--tls-key`,
    /// `--tls-client-ca`); [`Service::endpoint`] is then `https://` and
    /// [`Service::channel`] trusts the CA.
    pub fn tls(mut self, pki: &crate::tls::Pki) -> Self {
        self.tls_ca = Some(pki.ca.cert_pem());
        self.flag("--tls-cert", pki.server_cert().display())
            .flag("--tls-key", pki.server_key().display())
            .flag("--tls-client-ca", pki.ca_path().display())
    }

    /// Appends one command-line argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// `--flag value`.
    pub fn flag(self, flag: &str, value: impl ToString) -> Self {
        self.arg(flag).arg(value.to_string())
    }

    /// `--flag value` in place of any `--flag` given before (a replica built
    /// from another service's flags, on a port of its own).
    pub fn set_flag(mut self, flag: &str, value: impl ToString) -> Self {
        if let Some(at) = self.args.iter().position(|arg| arg == flag) {
            self.args.drain(at..(at + 2).min(self.args.len()));
        }
        self.flag(flag, value)
    }

    /// Sets an environment variable of the process.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Spawns the service on a free port and waits until it serves.
    pub async fn start(self) -> anyhow::Result<Service> {
        let log = Log::new(&self.label);
        let mut service = Service {
            spec: self,
            addr: None,
            process: None,
            log,
        };
        service
            .spawn(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
            .await?;
        Ok(service)
    }
}

/// A running (or stopped) service binary.
pub struct Service {
    spec: ServiceBuilder,
    addr: Option<SocketAddr>,
    process: Option<Process>,
    log: Log,
}

impl Service {
    /// The gRPC address it serves on (of its latest start).
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("service has started")
    }

    /// `http://HOST:PORT`, or `https://` when it serves TLS.
    pub fn endpoint(&self) -> String {
        let scheme = if self.spec.tls_ca.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr())
    }

    /// A channel that connects on first use (and reconnects after restarts on
    /// the same port); over TLS when the service serves it (trusting its CA,
    /// no client certificate).
    pub fn channel(&self) -> Channel {
        match &self.spec.tls_ca {
            Some(ca) => crate::tls::tls_channel(&self.endpoint(), ca, None),
            None => Endpoint::from_shared(self.endpoint())
                .expect("valid endpoint")
                .connect_timeout(Duration::from_secs(5))
                .connect_lazy(),
        }
    }

    /// A TLS channel presenting `client`'s certificate (the service must
    /// serve TLS, see [`ServiceBuilder::tls`]).
    pub fn channel_with_cert(&self, client: &crate::tls::KeyedCert) -> Channel {
        let ca = self
            .spec
            .tls_ca
            .as_deref()
            .expect("the service serves TLS (ServiceBuilder::tls)");
        crate::tls::tls_channel(&self.endpoint(), ca, Some(client))
    }

    /// The service's name in logs and dumps.
    pub fn label(&self) -> &str {
        &self.spec.label
    }

    /// The running process's id; `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Process::pid)
    }

    /// Whether the process is alive (started and not exited).
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| p.exited().is_none())
    }

    /// Everything the service logged so far, across restarts.
    pub fn log(&self) -> String {
        self.log.text()
    }

    /// Crash it: SIGKILL, no chance to flush or checkpoint.
    pub fn kill9(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill9();
        }
    }

    /// Stop it gracefully: SIGTERM, then wait for the exit.
    pub async fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        match self.process.take() {
            Some(mut process) => process.terminate(STOP_TIMEOUT).await,
            None => anyhow::bail!("{} is not running", self.spec.label),
        }
    }

    /// Starts it again with the same flags (same data dir), on the same port
    /// when it is free (so existing channels reconnect), else on a new one.
    /// A service still running is stopped gracefully first.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            self.terminate().await?;
        }
        self.process = None;
        let previous = self.addr();
        match self.spawn(previous).await {
            Ok(()) => Ok(()),
            Err(err) => {
                self.log.push(format!(
                    "--- restart on {previous} failed ({err:#}); trying a new port"
                ));
                self.spawn(SocketAddr::new(previous.ip(), 0)).await
            }
        }
    }

    async fn spawn(&mut self, listen: SocketAddr) -> anyhow::Result<()> {
        let mut command = Command::new(&self.spec.binary);
        // Nothing from the developer's environment leaks into the flags.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SY_") {
                command.env_remove(key);
            }
        }
        command
            .env("NO_COLOR", "1")
            .env(
                "RUST_LOG",
                std::env::var("SY_TEST_RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(self.spec.envs.iter().map(|(k, v)| (k, v)))
            .args(&self.spec.args)
            .arg("--listen")
            .arg(listen.to_string());
        let mut process = Process::spawn(command, self.log.clone())
            .with_context(|| format!("is {} built?", self.spec.binary.display()))?;
        let addr = process
            .wait_for_line(START_TIMEOUT, "`listening addr=`", listening_addr)
            .await?;
        self.addr = Some(addr);
        self.process = Some(process);
        Ok(())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
        self.log.dump();
    }
}

/// The address of a `... listening addr=127.0.0.1:50051 ...` log line; an
/// unspecified host (0.0.0.0, ::) is reached through loopback.
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    let (before, rest) = line.split_once("addr=")?;
    if !before.contains("listening") {
        return None;
    }
    let value = rest
        .split_whitespace()
        .next()?
        .trim_matches(['"', ',', '}']);
    let mut addr: SocketAddr = value.parse().ok()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        });
    }
    Some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_lines_are_parsed() {
        let addr = |s: &str| listening_addr(s).map(|a| a.to_string());
        assert_eq!(
            addr("2025-01-01T00:00:00Z  INFO sy_intake: listening addr=127.0.0.1:5051").as_deref(),
            Some("127.0.0.1:5051")
        );
        assert_eq!(
            addr("INFO sy_projection::server: listening addr=0.0.0.0:7000 stream=SY").as_deref(),
            Some("127.0.0.1:7000")
        );
        assert_eq!(
            addr(r#"INFO listening addr="[::]:7000""#).as_deref(),
            Some("[::1]:7000")
        );
        assert_eq!(addr("INFO connected addr=127.0.0.1:4222"), None);
    }
}
