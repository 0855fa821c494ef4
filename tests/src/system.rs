//! One whole deployment for one test: a NATS server, `sy-intake` and
//! `sy-projection` wired to a stream of their own and a temporary data dir,
//! so tests run in parallel without seeing each other.
//!
//! Events are signed as in a deployment: each system makes its own signing
//! key ([`SIGNING_KEY_ID`]); intake signs with it and every projection
//! verifies with its published line, so an event not written by this
//! intake is quarantined. The services still run in development mode for
//! the other protections (see `ServiceBuilder`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use sy_api::pb;
use tempfile::TempDir;

use crate::client::{
    self, AGENCY, ActorInterceptor, IntakeClient, NotificationsClient, QueryClient, USER,
};
use crate::nats::{NatsServer, Secrets};
use crate::service::{Service, ServiceBuilder};

/// The agency a secured system's query clients act for (`sy setup --demo`
/// grants it every read).
pub const AUDITOR_AGENCY: &str = "district-audit-office";

/// Key id of the signing key each system makes for its intake.
pub const SIGNING_KEY_ID: &str = "sy-test";

/// How long suites wait for a projection to catch up.
pub const CONVERGE: Duration = Duration::from_secs(60);

/// Flags a test may want to change; `None` keeps the service's default.
#[derive(Debug, Clone, Default)]
pub struct SystemBuilder {
    districts: Option<String>,
    max_wait_ms: Option<u64>,
    batch_size: Option<u64>,
    nats_timeout_ms: Option<u64>,
    rate_per_credential: Option<(u32, u32)>,
    secured: bool,
    intake_flags: Vec<(String, String)>,
}

impl SystemBuilder {
    /// `--districts` of intake (the service defaults to `500106`).
    pub fn districts(mut self, districts: &str) -> Self {
        self.districts = Some(districts.into());
        self
    }

    /// `--max-wait-ms` of the projection: the bound of a `min_position` wait.
    pub fn max_wait_ms(mut self, ms: u64) -> Self {
        self.max_wait_ms = Some(ms);
        self
    }

    /// `--batch-size` of the projection.
    pub fn batch_size(mut self, size: u64) -> Self {
        self.batch_size = Some(size);
        self
    }

    /// `--rate-per-credential` and `--burst-per-credential` of both
    /// services (the testkit's default is far above any suite's).
    pub fn rate_per_credential(mut self, rate: u32, burst: u32) -> Self {
        self.rate_per_credential = Some((rate, burst));
        self
    }

    /// `--nats-timeout-ms` of both services.
    pub fn nats_timeout_ms(mut self, ms: u64) -> Self {
        self.nats_timeout_ms = Some(ms);
        self
    }

    /// `flag value` on every intake of the system (the first and each
    /// [`System::intake_replica`]).
    pub fn intake_flag(mut self, flag: &str, value: impl ToString) -> Self {
        self.intake_flags.push((flag.into(), value.to_string()));
        self
    }

    /// Runs as a deployment does: NATS with TLS and users (from `sy
    /// setup`, see [`crate::nats::Secrets`]), the services connected as
    /// their users, with the identity key, and without `--dev`.
    pub fn secured(mut self) -> Self {
        self.secured = true;
        self
    }

    /// Starts NATS, intake and projection as configured, on a fresh stream.
    pub async fn start(self) -> anyhow::Result<System> {
        let stream = format!("SY_TEST_{}", uuid::Uuid::new_v4().simple()).to_uppercase();
        let nats = if self.secured {
            NatsServer::start_secured(Arc::new(Secrets::create(&stream)?)).await?
        } else {
            NatsServer::start().await?
        };
        let root = tempfile::Builder::new()
            .prefix("sy-system-")
            .tempdir()
            .context("cannot create a temp dir")?;
        let signing = sy_api::event_keys::new_signing_key(SIGNING_KEY_ID, root.path())?;
        let verify_keys_file = root.path().join("verify-keys");
        std::fs::write(
            &verify_keys_file,
            format!("# this system's intake\n{}\n", signing.public_line),
        )
        .context("cannot write the verify keys file")?;
        // Intake first: it sets the stream up.
        let intake = self.intake(&nats, &stream, &signing.path).start().await?;
        let mut system = System {
            nats,
            intake,
            projection: None,
            stream,
            root,
            projections: AtomicUsize::new(0),
            config: self,
            signing_key_file: signing.path,
            verify_keys_file,
        };
        let projection = system.projection_builder().start().await?;
        system.projection = Some(projection);
        Ok(system)
    }
}

impl SystemBuilder {
    /// How an intake of the system starts: its stream, signing key and flags.
    fn intake(
        &self,
        nats: &NatsServer,
        stream: &str,
        signing_key_file: &std::path::Path,
    ) -> ServiceBuilder {
        let mut intake = ServiceBuilder::intake(nats, stream)
            .flag("--signing-key-file", signing_key_file.display());
        if let Some(districts) = &self.districts {
            intake = intake.flag("--districts", districts);
        }
        if let Some(ms) = self.nats_timeout_ms {
            intake = intake.flag("--nats-timeout-ms", ms);
        }
        if let Some((rate, burst)) = self.rate_per_credential {
            intake = intake
                .flag("--rate-per-credential", rate)
                .flag("--burst-per-credential", burst);
        }
        for (flag, value) in &self.intake_flags {
            intake = intake.flag(flag, value);
        }
        if self.secured {
            intake = intake.without_dev();
        }
        intake
    }
}

/// NATS + intake + projection for one test. Fields are public so a test can
/// kill, restart or inspect each part.
pub struct System {
    /// The system's own `nats-server`.
    pub nats: NatsServer,
    /// The intake service, connected to `nats`.
    pub intake: Service,
    projection: Option<Service>,
    stream: String,
    root: TempDir,
    projections: AtomicUsize,
    config: SystemBuilder,
    signing_key_file: PathBuf,
    verify_keys_file: PathBuf,
}

impl System {
    /// The default deployment.
    pub async fn start() -> anyhow::Result<Self> {
        Self::builder().start().await
    }

    /// A deployment with non-default settings.
    pub fn builder() -> SystemBuilder {
        SystemBuilder::default()
    }

    /// Intake's signing key file (owner-only, `<key-id> <base64 seed>`).
    pub fn signing_key_file(&self) -> &std::path::Path {
        &self.signing_key_file
    }

    /// The verify keys file this system publishes (its intake's key), as
    /// its projections and `sy --verify-keys-file` read it.
    pub fn verify_keys_file(&self) -> &std::path::Path {
        &self.verify_keys_file
    }

    /// Runs the real `sy` binary with `args`, then this system's
    /// `--nats-url` and `--stream` (nothing from the environment); returns
    /// its exit code and its output (stdout, then stderr).
    pub async fn sy(&self, args: &[&str]) -> anyhow::Result<(i32, String)> {
        let url = self.nats_url();
        let place = ["--nats-url", url.as_str(), "--stream", self.stream()];
        crate::process::sy(args.iter().copied().chain(place)).await
    }

    /// Runs the real `sy` binary with `args` against this system's gRPC
    /// services, as `agency` (a secured system's clients: its CA and the
    /// agency's token from `sy setup`); returns its exit code and output.
    pub async fn sy_as(&self, agency: &str, args: &[&str]) -> anyhow::Result<(i32, String)> {
        self.sy_as_fed(agency, args, None).await
    }

    /// [`System::sy_as`] with `stdin` as `sy`'s standard input (a person
    /// piped into `sy person register --from-file -`).
    pub async fn sy_as_fed(
        &self,
        agency: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> anyhow::Result<(i32, String)> {
        let intake = self.intake.endpoint();
        let query = self.projection().endpoint();
        let mut line: Vec<std::ffi::OsString> = [
            "--intake-url",
            intake.as_str(),
            "--query-url",
            query.as_str(),
            "--agency",
            agency,
            "--timeout-ms",
            "30000",
        ]
        .iter()
        .map(Into::into)
        .collect();
        if let Some(secrets) = self.nats.secrets() {
            line.extend(["--ca".into(), secrets.ca().into_os_string()]);
            line.push("--credentials-dir".into());
            line.push(secrets.path().join("clients").into_os_string());
        }
        line.extend(args.iter().map(Into::into));
        crate::process::sy_fed(line, stdin).await
    }

    /// The directory holding this system's files: every projection's data
    /// dir and its keys (not NATS's store: see `nats.store_dir()`).
    pub fn root(&self) -> &std::path::Path {
        self.root.path()
    }

    /// The stream this system's services use.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The projection service; panics if it was never started.
    pub fn projection(&self) -> &Service {
        self.projection.as_ref().expect("projection started")
    }

    /// The projection service, to kill or restart it.
    pub fn projection_mut(&mut self) -> &mut Service {
        self.projection.as_mut().expect("projection started")
    }

    /// How a further intake replica of this system starts: the same
    /// stream, signing key and flags as the first, named `label`.
    pub fn intake_replica(&self, label: &str) -> ServiceBuilder {
        self.config
            .intake(&self.nats, &self.stream, &self.signing_key_file)
            .label(label)
    }

    /// Every event of the log, in stream order, read from NATS directly.
    pub async fn events(&self) -> anyhow::Result<Vec<pb::EventEnvelope>> {
        use prost::Message;
        let js = async_nats::jetstream::new(self.nats.client().await?);
        let stream = js.get_stream(self.stream()).await?;
        let last = self.log_position().await?;
        let mut events = Vec::new();
        for position in 1..=last {
            let stored = stream.get_raw_message(position).await?;
            events.push(pb::EventEnvelope::decode(stored.payload.as_ref())?);
        }
        Ok(events)
    }

    /// An intake client acting as the requesting party ([`AGENCY`]).
    pub fn intake(&self) -> IntakeClient {
        self.intake_as(AGENCY, USER)
    }

    /// An intake client acting as another actor: on a secured system with
    /// the token `sy setup` issued to `agency` (whose user it names).
    pub fn intake_as(&self, agency: &str, user: &str) -> IntakeClient {
        pb::intake_client::IntakeClient::with_interceptor(
            self.intake.channel(),
            self.caller(agency, user),
        )
    }

    /// Who a client of this system calls as: `agency`'s token on a secured
    /// system, else the headers.
    pub fn caller(&self, agency: &str, user: &str) -> ActorInterceptor {
        match self.nats.secrets() {
            Some(secrets) => ActorInterceptor::token(
                &secrets
                    .token(agency)
                    .expect("sy setup issued a token to the agency"),
            ),
            None => ActorInterceptor::new(agency, user),
        }
    }

    /// A query client on the system's projection (on a secured system, as
    /// the audit office: a reader of everything).
    pub fn query(&self) -> QueryClient {
        self.query_at(self.projection())
    }

    /// A query client on another projection (see [`System::spawn_projection`]).
    pub fn query_at(&self, projection: &Service) -> QueryClient {
        pb::query_client::QueryClient::with_interceptor(
            projection.channel(),
            self.caller(AUDITOR_AGENCY, USER),
        )
    }

    /// A notifications client on the system's projection, acting as `user`
    /// of `agency` (its token on a secured system).
    pub fn notifications_as(&self, agency: &str, user: &str) -> NotificationsClient {
        self.notifications_at(self.projection(), agency, user)
    }

    /// A notifications client on another projection (the one delivering
    /// webhooks, say), acting as `user` of `agency`.
    pub fn notifications_at(
        &self,
        projection: &Service,
        agency: &str,
        user: &str,
    ) -> NotificationsClient {
        pb::notifications_client::NotificationsClient::with_interceptor(
            projection.channel(),
            self.caller(agency, user),
        )
    }

    /// How a further projection of this system starts: same stream and flags,
    /// a fresh data dir (so it replays the log from sequence 1).
    pub fn projection_builder(&self) -> ServiceBuilder {
        let n = self.projections.fetch_add(1, Ordering::Relaxed) + 1;
        let data_dir = self.data_dir(n);
        let mut builder = ServiceBuilder::projection(&self.nats, &self.stream, &data_dir)
            .label(if n == 1 {
                "sy-projection".to_string()
            } else {
                format!("sy-projection#{n}")
            })
            .flag("--verify-keys-file", self.verify_keys_file.display());
        if let Some(ms) = self.config.max_wait_ms {
            builder = builder.flag("--max-wait-ms", ms);
        }
        if let Some(size) = self.config.batch_size {
            builder = builder.flag("--batch-size", size);
        }
        if let Some(ms) = self.config.nats_timeout_ms {
            builder = builder.flag("--nats-timeout-ms", ms);
        }
        if let Some((rate, burst)) = self.config.rate_per_credential {
            builder = builder
                .flag("--rate-per-credential", rate)
                .flag("--burst-per-credential", burst);
        }
        if self.config.secured {
            builder = builder.without_dev();
        }
        builder
    }

    /// The NATS URL of this system's server (for tools such as `sy`).
    pub fn nats_url(&self) -> String {
        self.nats.url()
    }

    /// Publishes raw bytes onto the log, as a foreign or broken writer would;
    /// returns their position.
    pub async fn publish_raw(
        &self,
        subject: &str,
        bytes: impl Into<bytes::Bytes>,
    ) -> anyhow::Result<u64> {
        let js = async_nats::jetstream::new(self.nats.client().await?);
        let ack = js.publish(subject.to_string(), bytes.into()).await?.await?;
        Ok(ack.sequence)
    }

    /// A projection of this system's stream on `data_dir` (the caller's).
    pub fn projection_on(&self, data_dir: &std::path::Path) -> ServiceBuilder {
        ServiceBuilder::projection(&self.nats, &self.stream, data_dir)
            .label("sy-projection@dir")
            .flag("--verify-keys-file", self.verify_keys_file.display())
    }

    /// Starts another projection on a fresh data dir.
    pub async fn spawn_projection(&self) -> anyhow::Result<Service> {
        self.projection_builder().start().await
    }

    /// The last sequence of the stream, read from NATS directly.
    pub async fn log_position(&self) -> anyhow::Result<u64> {
        self.nats.last_sequence(&self.stream).await
    }

    /// Submits a valid request with a fresh key; returns its result.
    pub async fn submit(&self) -> anyhow::Result<pb::CommandResult> {
        let command = client::submit_command(&client::new_key("submit"));
        Ok(self.intake().submit_request(command).await?.into_inner())
    }

    /// Waits until the projection has applied `position`.
    pub async fn wait_applied(&self, position: u64) -> anyhow::Result<u64> {
        let query = self.query();
        wait_applied(&query, position).await
    }

    fn data_dir(&self, n: usize) -> PathBuf {
        self.root.path().join(format!("projection-{n}"))
    }
}

/// Waits until the projection behind `query` has applied `position`; returns
/// the position it reports.
pub async fn wait_applied(query: &QueryClient, position: u64) -> anyhow::Result<u64> {
    client::eventually(
        CONVERGE,
        &format!("projection at position {position}"),
        || {
            let mut query = query.clone();
            async move {
                let board = query
                    .get_clearance_board(pb::GetClearanceBoardRequest {
                        as_of: String::new(),
                        min_position: position,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                anyhow::ensure!(board.position >= position, "at {}", board.position);
                Ok(board.position)
            }
        },
    )
    .await
}

impl Drop for System {
    fn drop(&mut self) {
        // Services before NATS (fields drop in declaration order), so their
        // logs end with their own last words rather than reconnect noise.
        self.projection.take();
        self.intake.kill9();
    }
}
