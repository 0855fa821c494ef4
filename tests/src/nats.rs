//! A real `nats-server` with JetStream for one test, modelled on nats.rs's
//! `nats-server` test-support crate: its own store directory, a port of its
//! own, killed and cleaned up on drop. Unlike that crate it can be killed and
//! restarted on the same port with the same store, which the fault suites need,
//! and it can start on a port chosen beforehand ([`free_port`] then
//! [`NatsServer::start_on`]), for tests that start a client while NATS is
//! still down.
//!
//! A server can also run as a deployment's does ([`NatsServer::start_secured`]):
//! TLS with a certificate of the deployment's CA and only the users, with
//! their permissions, that `sy setup` wrote ([`Secrets`], made by the real
//! `sy` binary). Services started on it connect as their users
//! ([`Secrets::nats_args`]).
//!
//! [`NatsOptions`] starts a server another way: another binary (a release
//! newer than the machine's), or JetStream's `sync_interval` set, e.g. to
//! `always` (fsync before every acknowledgement, as a durable deployment
//! runs), for the bench that measures that mode against its own raw limit.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tempfile::TempDir;

use crate::process::{Log, Process};

/// How long a server may take to report it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a restart retries when its port is still taken.
const RESTART_ATTEMPTS: usize = 10;

/// The `nats-server` binary: `$SY_NATS_SERVER`, else `nats-server` on `PATH`,
/// else Debian's `/usr/sbin/nats-server`.
pub fn nats_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SY_NATS_SERVER") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "SY_NATS_SERVER={} is not a file; point it at a nats-server binary",
            path.display()
        );
        return path;
    }
    if let Some(found) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    }) {
        return found;
    }
    let debian = PathBuf::from("/usr/sbin/nats-server");
    assert!(
        debian.is_file(),
        "nats-server not found: set SY_NATS_SERVER, put nats-server on PATH, \
         or install it (`apt-get install nats-server`)"
    );
    debian
}

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then let
/// go), for a server that must have its address before it starts. Another
/// process may take it in between; [`NatsServer::start_on`] then fails with
/// the server's log.
pub fn free_port() -> anyhow::Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0 to find a free port")?;
    Ok(listener
        .local_addr()
        .context("cannot read the address of a bound listener")?
        .port())
}

/// A deployment's secrets, made by `sy setup` (the real binary) into a
/// temporary directory for one stream: a CA, the NATS server's certificate,
/// the NATS users (`intake`, `projection`, `auditor`) with their passwords
/// and permissions, the identity key, the demo's clients (certificates and
/// tokens) and role policy, and a client `unit-1` (user `li`).
pub struct Secrets {
    dir: TempDir,
}

impl Secrets {
    /// Runs `sy setup --out <temp>/secrets --stream <stream> --demo
    /// --client unit-1/li`.
    pub fn create(stream: &str) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("sy-secrets-")
            .tempdir()
            .context("cannot create a directory for the secrets")?;
        let output = Command::new(crate::process::binary_path("sy"))
            .args([
                "setup",
                "--stream",
                stream,
                "--demo",
                "--client",
                "unit-1/li",
            ])
            .arg("--out")
            .arg(dir.path().join("secrets"))
            .output()
            .context("cannot run sy setup")?;
        anyhow::ensure!(
            output.status.success(),
            "sy setup failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(Self { dir })
    }

    /// The directory `sy setup` wrote.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("secrets")
    }

    /// The deployment's CA certificate (PEM).
    pub fn ca(&self) -> PathBuf {
        self.path().join("ca.pem")
    }

    /// The password file of NATS user `user`.
    pub fn password_file(&self, user: &str) -> PathBuf {
        self.path().join("nats").join(format!("{user}.password"))
    }

    /// The password of NATS user `user`.
    pub fn password(&self, user: &str) -> anyhow::Result<String> {
        let path = self.password_file(user);
        Ok(std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .trim()
            .to_string())
    }

    /// The token `sy setup` issued to `agency` (one of the demo's parties,
    /// or `unit-1`).
    pub fn token(&self, agency: &str) -> anyhow::Result<String> {
        let path = self.path().join("clients").join(agency).join("token");
        Ok(std::fs::read_to_string(&path)
            .with_context(|| format!("no token for {agency}: cannot read {}", path.display()))?
            .trim()
            .to_string())
    }

    /// The deployment's CA certificate, as PEM text.
    pub fn ca_pem(&self) -> anyhow::Result<String> {
        std::fs::read_to_string(self.ca()).context("cannot read the CA certificate")
    }

    /// The gRPC flags of `service` (`intake`, `projection`) in this
    /// deployment: TLS with its certificate and client certificates of the
    /// deployment's CA, the tokens file and the role policy.
    pub fn grpc_args(&self, service: &str) -> Vec<OsString> {
        let dir = self.path().join(service);
        vec![
            "--tls-cert".into(),
            dir.join("server.pem").into(),
            "--tls-key".into(),
            dir.join("server.key").into(),
            "--tls-client-ca".into(),
            self.ca().into(),
            "--tokens-file".into(),
            self.path().join("tokens").into(),
            "--policy-file".into(),
            self.path().join("policy.toml").into(),
            "--kek-file".into(),
            self.kek_file().into(),
        ]
    }

    /// The key-encryption key file of intake and projection.
    pub fn kek_file(&self) -> PathBuf {
        self.path().join("kek.key")
    }

    /// intake's identity key file.
    pub fn identity_key_file(&self) -> PathBuf {
        self.path().join("intake").join("identity.key")
    }

    /// The flags that make a service or `sy` connect as NATS user `user`
    /// over TLS.
    pub fn nats_args(&self, user: &str) -> Vec<OsString> {
        vec![
            "--nats-user".into(),
            user.into(),
            "--nats-password-file".into(),
            self.password_file(user).into(),
            "--nats-ca".into(),
            self.ca().into(),
        ]
    }

    /// Writes the nats-server configuration beside the users file (an
    /// `include` is relative to the file that has it): TLS with the
    /// deployment's server certificate, and the users `sy setup` wrote (no
    /// anonymous user). Returns its path.
    fn write_server_conf(&self) -> anyhow::Result<PathBuf> {
        let nats = self.path().join("nats");
        let conf = nats.join("testkit.conf");
        let text = format!(
            "tls {{\n  cert_file: {cert:?}\n  key_file: {key:?}\n  timeout: 2\n}}\ninclude \"users.conf\"\n",
            cert = nats.join("server.pem").display().to_string(),
            key = nats.join("server.key").display().to_string(),
        );
        std::fs::write(&conf, text).with_context(|| format!("cannot write {}", conf.display()))?;
        Ok(conf)
    }
}

/// One `nats-server -js` on 127.0.0.1 with a temporary store.
pub struct NatsServer {
    binary: PathBuf,
    store: TempDir,
    /// The port chosen with `start_on`, else 0 until the first start reported
    /// the one the server picked; reused by restarts.
    port: u16,
    process: Option<Process>,
    log: Log,
    /// The secrets of a secured server (TLS and users), else `None`.
    secrets: Option<Arc<Secrets>>,
    /// JetStream's `sync_interval` (`always`, or a duration such as `2m`),
    /// else the server's default (a periodic fsync).
    sync_interval: Option<String>,
}

/// How to start a [`NatsServer`] other than with [`NatsServer::start`]'s
/// defaults.
#[derive(Debug, Clone, Default)]
pub struct NatsOptions {
    binary: Option<PathBuf>,
    sync_interval: Option<String>,
}

impl NatsOptions {
    /// Defaults: the binary of [`nats_server_binary`], periodic fsync.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs the `nats-server` at `binary` instead of [`nats_server_binary`]'s.
    pub fn binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.binary = Some(binary.into());
        self
    }

    /// Sets JetStream's `sync_interval`: `always` fsyncs each write before
    /// it is acknowledged (needs nats-server 2.10 or newer), a duration
    /// (`2m`, `30s`) fsyncs periodically.
    pub fn sync_interval(mut self, interval: &str) -> Self {
        self.sync_interval = Some(interval.to_string());
        self
    }

    /// Starts a server on a free port with these options and waits until
    /// JetStream answers.
    pub async fn start(self) -> anyhow::Result<NatsServer> {
        let binary = match self.binary {
            Some(binary) => {
                anyhow::ensure!(
                    binary.is_file(),
                    "{} is not a file; point NatsOptions::binary at a nats-server binary",
                    binary.display()
                );
                binary
            }
            None => nats_server_binary(),
        };
        NatsServer::launch_from(binary, 0, None, self.sync_interval).await
    }
}

impl NatsServer {
    /// Starts a server on a free port and waits until JetStream answers.
    pub async fn start() -> anyhow::Result<Self> {
        Self::launch(0).await
    }

    /// Starts a server on `port` (from [`free_port`]) and waits until
    /// JetStream answers: for a test whose clients already point at that port.
    pub async fn start_on(port: u16) -> anyhow::Result<Self> {
        anyhow::ensure!(
            port != 0,
            "start_on needs a port (see free_port); NatsServer::start picks one itself"
        );
        Self::launch(port)
            .await
            .with_context(|| format!("nats-server did not start on port {port}"))
    }

    /// Starts a server as a deployment runs it: TLS with the certificate of
    /// `secrets` and only its users, each with its permissions.
    pub async fn start_secured(secrets: Arc<Secrets>) -> anyhow::Result<Self> {
        Self::launch_with(0, Some(secrets)).await
    }

    /// Starts on `port`, or on one the server picks when it is 0.
    async fn launch(port: u16) -> anyhow::Result<Self> {
        Self::launch_with(port, None).await
    }

    async fn launch_with(port: u16, secrets: Option<Arc<Secrets>>) -> anyhow::Result<Self> {
        Self::launch_from(nats_server_binary(), port, secrets, None).await
    }

    async fn launch_from(
        binary: PathBuf,
        port: u16,
        secrets: Option<Arc<Secrets>>,
        sync_interval: Option<String>,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secrets.is_none() || sync_interval.is_none(),
            "a secured server with a sync_interval is not supported by the testkit"
        );
        let store = tempfile::Builder::new()
            .prefix("sy-nats-")
            .tempdir()
            .context("cannot create a store directory for nats-server")?;
        let mut server = Self {
            binary,
            store,
            port,
            process: None,
            log: Log::new("nats-server"),
            secrets,
            sync_interval,
        };
        server.spawn().await?;
        Ok(server)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port the server picked at start (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (kept across `kill` and `restart`).
    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    /// Whether the server process is alive (not killed, not exited).
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| p.exited().is_none())
    }

    /// Everything the server logged so far, across restarts.
    pub fn log(&self) -> String {
        self.log.text()
    }

    /// Stops the server at once (SIGKILL); the store is kept for `restart`.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill9();
        }
    }

    /// Hangs the server (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.running()?.signal(rustix::process::Signal::STOP)
    }

    /// Resumes a server hung by [`NatsServer::pause`] (SIGCONT).
    pub fn resume(&self) -> anyhow::Result<()> {
        self.running()?.signal(rustix::process::Signal::CONT)
    }

    fn running(&self) -> anyhow::Result<&Process> {
        self.process
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("nats-server is not running"))
    }

    /// Starts the server again on the same port with the same store (killing
    /// it first if it still runs) and waits until JetStream answers.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let mut last_error = None;
        for _ in 0..RESTART_ATTEMPTS {
            match self.spawn().await {
                Ok(()) => return Ok(()),
                // The port may not be free yet: try again shortly.
                Err(err) => last_error = Some(err),
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("nats-server did not restart")))
    }

    /// The secrets of a server started with [`NatsServer::start_secured`].
    pub fn secrets(&self) -> Option<&Arc<Secrets>> {
        self.secrets.as_ref()
    }

    /// A client of this server: anonymous, or on a secured server the
    /// (read-only) `auditor` over TLS.
    pub async fn client(&self) -> anyhow::Result<async_nats::Client> {
        match &self.secrets {
            None => self.connect(async_nats::ConnectOptions::new()).await,
            Some(secrets) => {
                self.client_as("auditor", &secrets.password("auditor")?)
                    .await
            }
        }
    }

    /// A client of a secured server as NATS user `user` with `password`,
    /// over TLS checked against the deployment's CA.
    pub async fn client_as(
        &self,
        user: &str,
        password: &str,
    ) -> anyhow::Result<async_nats::Client> {
        let secrets = self
            .secrets
            .as_ref()
            .context("client_as needs a server started with start_secured")?;
        let options = async_nats::ConnectOptions::new()
            .user_and_password(user.into(), password.into())
            .add_root_certificates(secrets.ca())
            .require_tls(true);
        self.connect(options).await
    }

    /// `options` connected to this server within 5 s.
    pub async fn connect(
        &self,
        options: async_nats::ConnectOptions,
    ) -> anyhow::Result<async_nats::Client> {
        options
            .connection_timeout(Duration::from_secs(5))
            .connect(self.url())
            .await
            .with_context(|| format!("cannot connect to {}", self.url()))
    }

    /// The last sequence of `stream` (0 when the stream does not exist yet):
    /// lets a test prove that a refused or replayed command wrote nothing.
    pub async fn last_sequence(&self, stream: &str) -> anyhow::Result<u64> {
        use async_nats::jetstream::context::GetStreamErrorKind;
        let js = async_nats::jetstream::new(self.client().await?);
        match js.get_stream(stream).await {
            Ok(mut found) => Ok(found.info().await?.state.last_sequence),
            Err(err) => match err.kind() {
                GetStreamErrorKind::JetStream(js_err)
                    if js_err.error_code()
                        == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND =>
                {
                    Ok(0)
                }
                _ => Err(err).with_context(|| format!("cannot read stream {stream}")),
            },
        }
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let port = if self.port == 0 {
            "-1".to_string()
        } else {
            self.port.to_string()
        };
        let mut command = Command::new(&self.binary);
        if let Some(secrets) = &self.secrets {
            command.arg("-c").arg(secrets.write_server_conf()?);
        }
        if let Some(interval) = &self.sync_interval {
            command.arg("-c").arg(self.write_jetstream_conf(interval)?);
        }
        command
            .args(["-a", "127.0.0.1", "-p", &port, "-js", "-sd"])
            .arg(self.store.path());
        let mut process = Process::spawn(command, self.log.clone())?;
        let port = process
            .wait_for_line(START_TIMEOUT, "its client port", client_port)
            .await?;
        process
            .wait_for_line(START_TIMEOUT, "that it is ready", |line| {
                line.contains("Server is ready").then_some(())
            })
            .await?;
        self.port = port;
        self.process = Some(process);
        self.wait_for_jetstream().await
    }

    /// Writes a configuration with JetStream's `sync_interval` into the
    /// store directory (the store itself lives in its `jetstream/`; the
    /// flags still set the store directory). Returns its path.
    fn write_jetstream_conf(&self, sync_interval: &str) -> anyhow::Result<PathBuf> {
        let conf = self.store.path().join("testkit-jetstream.conf");
        let text = format!("jetstream {{\n  sync_interval: {sync_interval:?}\n}}\n");
        std::fs::write(&conf, text).with_context(|| format!("cannot write {}", conf.display()))?;
        Ok(conf)
    }

    /// Waits until the JetStream API answers an account-info request.
    async fn wait_for_jetstream(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // A raw request: the typed account info of async-nats expects
            // fields that nats-server 2.9 does not send.
            let attempt = async {
                let client = self.client().await?;
                let reply = client.request("$JS.API.INFO", "".into()).await?;
                let body = String::from_utf8_lossy(&reply.payload);
                anyhow::ensure!(
                    body.contains("account_info_response") && !body.contains("\"error\""),
                    "jetstream not ready: {body}"
                );
                anyhow::Ok(())
            };
            match attempt.await {
                Ok(()) => return Ok(()),
                Err(err) if Instant::now() >= deadline => {
                    bail!(
                        "jetstream on {} did not answer within {START_TIMEOUT:?}: {err:#}; log:\n{}",
                        self.url(),
                        self.log.tail(100)
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        self.log.dump();
    }
}

/// The port of "Listening for client connections on 127.0.0.1:4222".
fn client_port(line: &str) -> Option<u16> {
    let (_, addr) = line.split_once("Listening for client connections on ")?;
    addr.trim().rsplit_once(':')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_port_is_read_from_the_log() {
        let line = "[1234] 2025/01/01 00:00:00.000000 [INF] Listening for client connections on 127.0.0.1:41234";
        assert_eq!(client_port(line), Some(41234));
        assert_eq!(client_port("[INF] Server is ready"), None);
    }

    #[tokio::test]
    async fn a_sync_interval_reaches_the_servers_configuration() {
        // A server that knows `sync_interval` (2.10 and newer) starts with it
        // and names the file; Debian's 2.9 refuses the unknown field. Either
        // way the setting reached the server's configuration.
        match NatsOptions::new().sync_interval("always").start().await {
            Ok(nats) => assert!(
                nats.log().contains("testkit-jetstream.conf"),
                "{}",
                nats.log()
            ),
            Err(err) => {
                let err = format!("{err:#}");
                assert!(err.contains("unknown field \"sync_interval\""), "{err}");
            }
        }
    }

    #[tokio::test]
    async fn a_missing_binary_is_named() {
        let missing = std::env::temp_dir().join("sy-no-such-nats-server");
        let err = NatsOptions::new().binary(&missing).start().await.err();
        let err = format!("{:#}", err.expect("there is no such binary"));
        assert!(err.contains("sy-no-such-nats-server"), "{err}");
    }

    #[tokio::test]
    async fn a_server_starts_on_a_port_chosen_beforehand() -> anyhow::Result<()> {
        let port = free_port()?;
        let nats = NatsServer::start_on(port).await?;
        assert_eq!(nats.port(), port);
        assert_eq!(nats.url(), format!("nats://127.0.0.1:{port}"));
        nats.client().await?;

        let taken = NatsServer::start_on(port).await;
        let err = format!("{:#}", taken.err().expect("the port is taken"));
        assert!(err.contains(&format!("port {port}")), "{err}");
        assert!(NatsServer::start_on(0).await.is_err());
        Ok(())
    }
}
