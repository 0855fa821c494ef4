//! The event log on NATS JetStream, the system's source of truth: one stream,
//! file storage, append-only (`deny_delete`, `deny_purge`), a subject per
//! aggregate (`sy.evt.<kind>.<id>`).
//!
//! Writers append with `Nats-Expected-Last-Subject-Sequence` (optimistic
//! concurrency per aggregate) and `Nats-Msg-Id` (deduplication); readers load
//! one aggregate's subject or tail the whole stream from a position with an
//! ordered consumer.
//!
//! [`connect_options`] is the one place a NATS connection is configured
//! (credentials, TLS, timeouts), so the services and `sy` connect alike.
//!
//! A tail ends (with `Unavailable`) as soon as the connection drops: its
//! ordered consumer is ephemeral and lives in the server's memory, so a
//! restarted or replaced server no longer has it. async-nats would find
//! that out by itself only after its own retries (about 15 s: it asks for the
//! consumer's info five times, 0.5 s to 10 s apart, before giving up), so the
//! caller follows again from its own checkpoint instead, at once.
#![forbid(unsafe_code)]

pub mod access;
pub mod keystore;
pub mod permissions;
pub mod snapshot;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::connection::State;
use async_nats::header::{NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use futures::{Stream, StreamExt as _, TryStreamExt};

/// Subjects the stream captures.
pub const STREAM_SUBJECTS: &str = "sy.evt.>";

/// Expiry of the tail's pull requests; heartbeats come at half of it.
const TAIL_PULL_EXPIRY: Duration = Duration::from_secs(4);

/// How often the connection state is polled while waiting for NATS.
const CONNECT_POLL: Duration = Duration::from_millis(50);

/// How to reach and shape the log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// One NATS URL or several, comma-separated (the nodes of a cluster).
    pub nats_url: String,
    /// Name of the JetStream stream holding `sy.evt.>`.
    pub stream: String,
    /// Stream replicas when the stream is created (1 in dev, 3 in a cluster).
    pub replicas: usize,
    /// Bound on each JetStream request; past it the call is `Unavailable`.
    pub request_timeout: Duration,
    /// Who this client is to NATS and how the server is checked.
    pub auth: NatsAuth,
}

/// A NATS user's name and password (never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct NatsUser {
    /// The user name, as in the server's `authorization { users [...] }`.
    pub name: String,
    /// Its password, read from an owner-only file.
    pub password: String,
}

impl std::fmt::Debug for NatsUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsUser")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// How a client authenticates to NATS and checks the server: a user with a
/// password (none: anonymous, development only) and TLS, required when
/// `ca` is set (the CA that signed the server's certificate) or a URL is
/// `tls://`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatsAuth {
    /// The NATS user, if any.
    pub user: Option<NatsUser>,
    /// PEM file of the CA the server's certificate must chain to.
    pub ca: Option<PathBuf>,
}

impl NatsAuth {
    /// Whether the connection to `urls` (comma-separated) is encrypted:
    /// a CA is configured or every URL is `tls://`.
    pub fn tls_required(&self, urls: &str) -> bool {
        let servers = servers(urls);
        self.ca.is_some()
            || (!servers.is_empty() && servers.iter().all(|url| url.starts_with("tls://")))
    }
}

/// How often a connection pings its server; see [`connect_options`].
pub const NATS_PING_INTERVAL: Duration = Duration::from_secs(2);

/// The options every NATS connection of shuangyong starts from: named
/// `name`, with `auth`'s user and TLS, bounded by `timeout`.
pub fn connect_options(
    name: &str,
    auth: &NatsAuth,
    timeout: Duration,
) -> async_nats::ConnectOptions {
    let mut options = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(timeout)
        .request_timeout(Some(timeout))
        // A server that stops answering (hung, or cut off by a partition)
        // keeps its TCP connection open: the client notices only when pings
        // go unanswered (async-nats gives up after 3 in a row). At its 60 s
        // default that took minutes; every 2 s, the client moves to another
        // node of the cluster within about 6 s.
        .ping_interval(NATS_PING_INTERVAL);
    if let Some(user) = &auth.user {
        options = options.user_and_password(user.name.clone(), user.password.clone());
    }
    if let Some(ca) = &auth.ca {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    options
}

/// Runs `op` until it succeeds or fails with an error `retryable` does not
/// accept, sleeping with capped exponential backoff in between (NATS not up
/// yet, or the client still connecting). `what` names it in the warnings.
pub(crate) async fn retry_while<T, E, F>(
    what: &str,
    mut op: impl FnMut() -> F,
    retryable: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match op().await {
            Err(err) if retryable(&err) => {
                tracing::warn!(%err, retry_in = ?delay, "{what} not ready");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            done => return done,
        }
    }
}

/// One event as stored: its stream sequence (the position), subject and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Stream sequence, from 1; the log's total order.
    pub position: u64,
    /// `sy.evt.<kind>.<id>`: the aggregate the event belongs to.
    pub subject: String,
    /// The encoded `EventEnvelope`.
    pub payload: Bytes,
}

/// What an append returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Stream sequence the event was stored at.
    pub position: u64,
    /// JetStream recognised the message id: nothing new was stored and
    /// `position` is that of the first message with this id.
    pub duplicate: bool,
}

/// Why a log operation failed, by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// NATS or the stream cannot be reached now; retrying later may work.
    #[error("event log unavailable: {0}")]
    Unavailable(String),
    /// Another writer appended to the subject after the expected sequence.
    #[error("subject {subject} has moved past sequence {expected}")]
    Conflict {
        /// The aggregate's subject.
        subject: String,
        /// The last sequence on the subject the writer expected (0: none).
        expected: u64,
    },
    /// The log answered, but not as the caller needs (bad configuration).
    #[error("event log error: {0}")]
    Failed(String),
}

/// A connection to the event log.
#[derive(Clone)]
pub struct EventLog {
    client: async_nats::Client,
    js: jetstream::Context,
    stream_name: String,
    /// Counts the connection's ups and downs, so a tail knows when the
    /// server it subscribed on went away.
    sessions: Arc<tokio::sync::watch::Sender<Sessions>>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("stream", &self.stream_name)
            .field("state", &self.client.connection_state())
            .finish()
    }
}

/// How often the connection came up and went down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sessions {
    up: u64,
    down: u64,
}

/// The servers of a comma-separated URL list (`nats://a:4222,nats://b:4222`).
fn servers(urls: &str) -> Vec<&str> {
    urls.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .collect()
}

fn unavailable(err: impl std::fmt::Display) -> LogError {
    LogError::Unavailable(err.to_string())
}

impl EventLog {
    /// Connects to NATS, retrying in the background while the server is down;
    /// the returned log reports `Unavailable` until it is up.
    pub async fn connect(config: &LogConfig) -> Result<Self, LogError> {
        let sessions = Arc::new(tokio::sync::watch::Sender::new(Sessions::default()));
        let counter = Arc::clone(&sessions);
        let client = connect_options("shuangyong", &config.auth, config.request_timeout)
            .event_callback(move |event| {
                let counter = Arc::clone(&counter);
                async move {
                    let count = |sessions: &mut Sessions| match event {
                        async_nats::Event::Connected => sessions.up = sessions.up.wrapping_add(1),
                        async_nats::Event::Disconnected => {
                            sessions.down = sessions.down.wrapping_add(1);
                        }
                        _ => {}
                    };
                    counter.send_modify(count);
                }
            })
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connect(servers(&config.nats_url))
            .await
            .map_err(unavailable)?;
        let js = jetstream::ContextBuilder::new()
            .timeout(config.request_timeout)
            .build(client.clone());
        Ok(Self {
            client,
            js,
            stream_name: config.stream.clone(),
            sessions,
        })
    }

    /// Resolves at the connection's next change (it drops, or it is up
    /// again): for waiting on a reconnect instead of a fixed delay.
    pub fn connection_changed(&self) -> impl Future<Output = ()> + Send + 'static {
        self.sessions_until(|then, now| then != now)
    }

    /// Resolves when the connection next drops.
    fn connection_dropped(&self) -> impl Future<Output = ()> + Send + 'static {
        self.sessions_until(|then, now| then.down != now.down)
    }

    /// Resolves once `changed(as it was, as it is)` holds.
    fn sessions_until(
        &self,
        changed: fn(&Sessions, &Sessions) -> bool,
    ) -> impl Future<Output = ()> + Send + 'static {
        let mut sessions = self.sessions.subscribe();
        let then = *sessions.borrow_and_update();
        async move {
            if sessions.wait_for(|now| changed(&then, now)).await.is_err() {
                // The client is gone, so the connection never changes again.
                futures::future::pending::<()>().await;
            }
        }
    }

    /// The stream this connection reads and appends to.
    pub fn stream_name(&self) -> &str {
        &self.stream_name
    }

    /// Whether the NATS connection is up right now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// Waits up to `timeout` for the connection [`EventLog::connect`] makes
    /// in the background; whether it is up. For tools that read once and
    /// should fail with a clear message rather than with every read.
    pub async fn connected_within(&self, timeout: Duration) -> bool {
        let connected = async {
            while !self.is_connected() {
                tokio::time::sleep(CONNECT_POLL).await;
            }
        };
        tokio::time::timeout(timeout, connected).await.is_ok()
    }

    /// Fails fast instead of queueing behind a dead connection.
    fn require_connection(&self) -> Result<(), LogError> {
        if self.is_connected() {
            Ok(())
        } else {
            Err(LogError::Unavailable("not connected to nats".into()))
        }
    }

    /// Creates the stream if it does not exist; an existing stream is left as
    /// it is (operators own its configuration from then on). A configuration
    /// the server refuses for good (the subjects overlap another stream, a bad
    /// name) is `Failed`; anything else is `Unavailable` and worth retrying.
    pub async fn ensure_stream(&self, replicas: usize) -> Result<(), LogError> {
        self.require_connection()?;
        let config = stream::Config {
            name: self.stream_name.clone(),
            description: Some("shuangyong event log: append-only, source of truth".into()),
            subjects: vec![STREAM_SUBJECTS.into()],
            storage: stream::StorageType::File,
            num_replicas: replicas.max(1),
            deny_delete: true,
            deny_purge: true,
            allow_direct: true,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        self.js
            .get_or_create_stream(config)
            .await
            .map(|_| ())
            .map_err(|err| {
                use jetstream::context::CreateStreamErrorKind as Kind;
                let permanent = match err.kind() {
                    Kind::EmptyStreamName | Kind::InvalidStreamName => true,
                    Kind::JetStream(api) => [
                        jetstream::ErrorCode::STREAM_SUBJECT_OVERLAP,
                        jetstream::ErrorCode::STREAM_NAME_EXIST,
                    ]
                    .contains(&api.error_code()),
                    _ => false,
                };
                if permanent {
                    LogError::Failed(format!("cannot create stream {}: {err}", self.stream_name))
                } else {
                    unavailable(err)
                }
            })
    }

    /// [`Self::ensure_stream`], retried with capped backoff while the log is
    /// `Unavailable` (NATS not up yet, or the client still connecting); a
    /// permanent refusal (`Failed`) is returned at once.
    pub async fn await_stream(&self, replicas: usize) -> Result<(), LogError> {
        retry_while(
            "event log",
            || self.ensure_stream(replicas),
            |err| matches!(err, LogError::Unavailable(_)),
        )
        .await
    }

    async fn stream(&self) -> Result<stream::Stream<()>, LogError> {
        self.require_connection()?;
        self.js
            .get_stream_no_info(&self.stream_name)
            .await
            .map_err(unavailable)
    }

    /// Appends `payload` to `subject` if the subject's last sequence is still
    /// `expected_last` (0: the subject must be empty). `msg_id` deduplicates
    /// retries within the stream's duplicate window.
    pub async fn append(
        &self,
        subject: &str,
        payload: Bytes,
        expected_last: u64,
        msg_id: &str,
    ) -> Result<Appended, LogError> {
        self.require_connection()?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(NATS_MESSAGE_ID, msg_id);
        headers.insert(
            NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            expected_last.to_string().as_str(),
        );
        let ack = self
            .js
            .publish_with_headers(subject.to_string(), headers, payload)
            .await
            .map_err(unavailable)?
            .await;
        match ack {
            Ok(ack) => Ok(Appended {
                position: ack.sequence,
                duplicate: ack.duplicate,
            }),
            Err(err) if err.kind() == jetstream::context::PublishErrorKind::WrongLastSequence => {
                Err(LogError::Conflict {
                    subject: subject.to_string(),
                    expected: expected_last,
                })
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    /// The events on `subject` after stream sequence `after`, oldest first,
    /// read from the stream leader (so a write acknowledged before is seen).
    pub async fn read_subject(
        &self,
        subject: &str,
        after: u64,
    ) -> Result<Vec<StoredEvent>, LogError> {
        let stream = self.stream().await?;
        let mut events = Vec::new();
        let mut next = after + 1;
        loop {
            let found = stream
                .raw_message_builder()
                .sequence(next)
                .next_by_subject(subject.to_string())
                .send()
                .await;
            match found {
                Ok(message) => {
                    next = message.sequence + 1;
                    events.push(StoredEvent {
                        position: message.sequence,
                        subject: message.subject.to_string(),
                        payload: message.payload,
                    });
                }
                Err(err) if err.kind() == stream::RawMessageErrorKind::NoMessageFound => {
                    return Ok(events);
                }
                Err(err) => return Err(unavailable(err)),
            }
        }
    }

    /// The stream's last sequence (0 when empty).
    pub async fn last_position(&self) -> Result<u64, LogError> {
        let info = self.stream().await?.get_info().await.map_err(unavailable)?;
        Ok(info.state.last_sequence)
    }

    /// The event stored at `position`, `None` past the end. Read by sequence
    /// whatever the stream's subjects now are, so a stream moved off
    /// `sy.evt.>` ([`Self::set_subjects`]) still reads as it was written.
    pub async fn event_at(&self, position: u64) -> Result<Option<StoredEvent>, LogError> {
        match self.stream().await?.get_raw_message(position).await {
            Ok(message) => Ok(Some(StoredEvent {
                position: message.sequence,
                subject: message.subject.to_string(),
                payload: message.payload,
            })),
            Err(err) if err.kind() == stream::RawMessageErrorKind::NoMessageFound => Ok(None),
            Err(err) => Err(unavailable(err)),
        }
    }

    /// Makes the stream capture `subjects` instead of what it captures now
    /// (the stored messages keep their subjects); whether it changed
    /// anything. For retiring a log: its `sy.evt.>` is freed for a new one.
    pub async fn set_subjects(&self, subjects: &[String]) -> Result<bool, LogError> {
        self.require_connection()?;
        let stream = self
            .js
            .get_stream(&self.stream_name)
            .await
            .map_err(|err| LogError::Failed(format!("stream {}: {err}", self.stream_name)))?;
        let mut config = stream.cached_info().config.clone();
        if config.subjects == subjects {
            return Ok(false);
        }
        config.subjects = subjects.to_vec();
        self.js.update_stream(config).await.map_err(|err| {
            LogError::Failed(format!(
                "cannot move stream {} to {subjects:?}: {err}",
                self.stream_name
            ))
        })?;
        Ok(true)
    }

    /// Every event from `start` on (inclusive), in stream order, then live as
    /// they arrive. An ordered consumer: no acks, no server-side state to
    /// clean up, recreated by the client on gaps.
    ///
    /// The stream ends after its first error. When the connection drops,
    /// that is `Unavailable` at once: tail again (from the caller's own
    /// position) once connected.
    pub async fn tail(
        &self,
        start: u64,
    ) -> Result<impl Stream<Item = Result<StoredEvent, LogError>> + Send + 'static, LogError> {
        // Watched from before the consumer exists, so a drop while it is
        // being created is not missed.
        let dropped = self.connection_dropped();
        let stream = self.stream().await?;
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: STREAM_SUBJECTS.into(),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: start.max(1),
                },
                // Pulls expire after 4 s, so idle heartbeats come every 2 s
                // and a restarted server is noticed in seconds, not the 15-30 s
                // of the client's defaults.
                max_expires: TAIL_PULL_EXPIRY,
                ..Default::default()
            })
            .await
            .map_err(unavailable)?;
        let messages = consumer.messages().await.map_err(unavailable)?;
        let events = messages
            .map_err(unavailable)
            .and_then(|message| async move {
                let position = message.info().map_err(unavailable)?.stream_sequence;
                Ok(StoredEvent {
                    position,
                    subject: message.subject.to_string(),
                    payload: message.payload.clone(),
                })
            });
        let lost = futures::stream::once(async move {
            dropped.await;
            Err(LogError::Unavailable(
                "the connection to nats dropped; the tail's consumer went with it".into(),
            ))
        });
        // Events until the first error (the connection dropped, or the
        // consumer failed), which ends the tail.
        Ok(
            futures::stream::select(events, lost).scan(false, |ended, item| {
                if *ended {
                    return futures::future::ready(None);
                }
                *ended = item.is_err();
                futures::future::ready(Some(item))
            }),
        )
    }

    /// The events at positions `from..=to`, in stream order, ending there
    /// (a tail that stops); a read that waits longer than `stall` for the
    /// next event fails instead of hanging. An empty range (`from > to`)
    /// subscribes to nothing.
    pub async fn range(&self, from: u64, to: u64, stall: Duration) -> Result<Range, LogError> {
        let from = from.max(1);
        let events = if from > to {
            None
        } else {
            Some(Box::pin(self.tail(from).await?) as Events)
        };
        Ok(Range {
            events,
            to,
            last: from - 1,
            stall,
        })
    }
}

type Events = std::pin::Pin<Box<dyn Stream<Item = Result<StoredEvent, LogError>> + Send>>;

/// The events of a fixed range of positions, from [`EventLog::range`].
pub struct Range {
    events: Option<Events>,
    to: u64,
    last: u64,
    stall: Duration,
}

impl std::fmt::Debug for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Range")
            .field("to", &self.to)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl Range {
    /// The next event, or `None` past the range's end.
    pub async fn next(&mut self) -> Result<Option<StoredEvent>, LogError> {
        let Some(events) = self.events.as_mut() else {
            return Ok(None);
        };
        let next = match tokio::time::timeout(self.stall, events.next()).await {
            Err(_) => {
                return Err(LogError::Unavailable(format!(
                    "reading the log stalled after position {} (no event for {} ms; want up to {})",
                    self.last,
                    self.stall.as_millis(),
                    self.to
                )));
            }
            Ok(None) => {
                return Err(LogError::Unavailable(format!(
                    "the log subscription ended after position {}",
                    self.last
                )));
            }
            Ok(Some(event)) => event?,
        };
        if next.position >= self.to {
            self.events = None;
        }
        if next.position > self.to {
            return Ok(None);
        }
        self.last = next.position;
        Ok(Some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sy_tests::NatsServer;

    #[tokio::test]
    async fn a_range_ends_at_its_last_position_and_an_empty_one_reads_nothing() {
        let server = NatsServer::start().await.expect("nats-server starts");
        let log = EventLog::connect(&LogConfig {
            nats_url: server.url(),
            stream: "TEST".into(),
            replicas: 1,
            request_timeout: Duration::from_secs(2),
            auth: NatsAuth::default(),
        })
        .await
        .unwrap();
        assert!(log.connected_within(Duration::from_secs(10)).await);
        log.await_stream(1).await.unwrap();
        for i in 0..5u8 {
            let subject = format!("sy.evt.request.r{i}");
            log.append(&subject, Bytes::from(vec![i]), 0, &format!("k{i}"))
                .await
                .unwrap();
        }
        let stall = Duration::from_secs(5);
        let mut range = log.range(2, 4, stall).await.unwrap();
        let mut positions = Vec::new();
        while let Some(event) = range.next().await.unwrap() {
            positions.push(event.position);
        }
        assert_eq!(positions, [2, 3, 4]);
        let mut empty = log.range(3, 2, stall).await.unwrap();
        assert!(empty.next().await.unwrap().is_none());
    }
}
