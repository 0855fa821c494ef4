//! Whole streams, message by message, for `sy backup` and `sy restore`: the
//! event log, its key store and its access log must come back with every
//! message at the stream sequence it had, because positions are the log's
//! identity (checkpoints, `min_position`, the log digest and each
//! aggregate's expected subject sequence all name them).
//!
//! Reading is an ordered consumer over every subject of the stream, so a
//! message comes with its stored headers and nothing the server adds (a
//! direct get would add `Nats-Stream`, `Nats-Sequence`...). Headers named
//! `Nats-Expected-*` are preconditions of the original publish, checked
//! once and meaningless afterwards, so they are not kept: republishing them
//! would test them again against a stream still being rebuilt.
//!
//! Writing ([`Restorer`]) creates a stream that must not exist, publishes in
//! order and checks each acknowledgement names the sequence the message had.
//! Where the original has a gap (a deleted message: an erased data key, a
//! retired KEK canary), a filler is published on [`FILLER_TOKEN`] and
//! deleted once the stream is complete, so the following messages keep
//! their sequences. A stream that denies deletes is created allowing them
//! while it is rebuilt and then given its own configuration back.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, context::PublishAckFuture, stream};
use bytes::Bytes;
use futures::StreamExt as _;

use crate::{EventLog, LogError};

/// A stream's configuration, as a backup stores it (serde: the server's JSON).
pub use async_nats::jetstream::stream::Config as StreamConfig;

/// The last subject token of a gap's filler message (deleted again before
/// the restore ends): `<the stream's first subject, wildcards replaced>.<FILLER_TOKEN>`.
pub const FILLER_TOKEN: &str = "restore-gap";

/// Prefix of the headers that are publish preconditions (see the module docs).
const EXPECTED_PREFIX: &str = "nats-expected-";

/// Publishes awaiting their acknowledgement at once while restoring.
const IN_FLIGHT: usize = 256;

/// A stream as it is now: its configuration and where its sequences are.
#[derive(Debug, Clone)]
pub struct StreamShape {
    /// The configuration, as the server reports it.
    pub config: stream::Config,
    /// First sequence still stored (last + 1 when empty).
    pub first_sequence: u64,
    /// Last sequence ever assigned (0 when nothing was stored).
    pub last_sequence: u64,
    /// Messages stored.
    pub messages: u64,
}

/// One stored message as a backup keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// Its stream sequence.
    pub sequence: u64,
    /// Its subject.
    pub subject: String,
    /// Its headers but the publish preconditions, sorted by name (values in
    /// their stored order), so equal messages compare and digest equal.
    pub headers: Vec<(String, String)>,
    /// Its bytes.
    pub payload: Bytes,
}

/// The headers worth keeping, sorted (see [`RawMessage::headers`]).
pub fn kept_headers(headers: Option<&HeaderMap>) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = headers
        .into_iter()
        .flat_map(HeaderMap::iter)
        .filter(|(name, _)| {
            !name
                .to_string()
                .to_ascii_lowercase()
                .starts_with(EXPECTED_PREFIX)
        })
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |value| (name.to_string(), value.to_string()))
        })
        .collect();
    // Stable: the values of one name keep their order.
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    kept
}

fn unavailable(err: impl std::fmt::Display) -> LogError {
    LogError::Unavailable(err.to_string())
}

impl EventLog {
    /// The stream `name`'s configuration and sequences, `None` when it does
    /// not exist.
    pub async fn stream_shape(&self, name: &str) -> Result<Option<StreamShape>, LogError> {
        self.require_connection()?;
        match self.js.get_stream(name).await {
            Ok(mut found) => {
                let info = found.info().await.map_err(unavailable)?;
                Ok(Some(StreamShape {
                    config: info.config.clone(),
                    first_sequence: info.state.first_sequence,
                    last_sequence: info.state.last_sequence,
                    messages: info.state.messages,
                }))
            }
            Err(err) => match err.kind() {
                jetstream::context::GetStreamErrorKind::JetStream(api)
                    if api.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
                {
                    Ok(None)
                }
                _ => Err(unavailable(err)),
            },
        }
    }

    /// Every message `shape` counts, in order, with its headers: from its
    /// first sequence up to its last, which a busy stream passes while it
    /// is read. A read that waits longer than `stall` for the next message
    /// fails instead of hanging (a message deleted meanwhile is never seen).
    pub async fn read_stream(
        &self,
        shape: &StreamShape,
        stall: Duration,
    ) -> Result<StreamReader, LogError> {
        self.require_connection()?;
        let name = shape.config.name.clone();
        let messages = if shape.messages == 0 {
            None
        } else {
            let consumer = self
                .js
                .get_stream_no_info(&name)
                .await
                .map_err(unavailable)?
                .create_consumer(consumer::pull::OrderedConfig {
                    deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                        start_sequence: shape.first_sequence.max(1),
                    },
                    ..Default::default()
                })
                .await
                .map_err(unavailable)?;
            Some(consumer.messages().await.map_err(unavailable)?)
        };
        Ok(StreamReader {
            messages,
            stream: name,
            to: shape.last_sequence,
            left: shape.messages,
            last: shape.first_sequence.saturating_sub(1),
            stall,
        })
    }
}

/// The messages of one stream up to a fixed sequence, from
/// [`EventLog::read_stream`].
pub struct StreamReader {
    messages: Option<consumer::pull::Ordered>,
    stream: String,
    to: u64,
    /// Messages still to come.
    left: u64,
    last: u64,
    stall: Duration,
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader")
            .field("stream", &self.stream)
            .field("to", &self.to)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl StreamReader {
    /// The next message, or `None` past the end. Deleted messages are not
    /// there: the caller sees the jump in sequences.
    pub async fn next(&mut self) -> Result<Option<RawMessage>, LogError> {
        let Some(messages) = self.messages.as_mut() else {
            return Ok(None);
        };
        let message = match tokio::time::timeout(self.stall, messages.next()).await {
            Err(_) => {
                return Err(LogError::Unavailable(format!(
                    "reading stream {} stalled after sequence {} (nothing for {} ms; want up to {}): \
                     were messages deleted while it was read?",
                    self.stream,
                    self.last,
                    self.stall.as_millis(),
                    self.to
                )));
            }
            Ok(None) => {
                return Err(LogError::Unavailable(format!(
                    "the subscription to stream {} ended after sequence {}",
                    self.stream, self.last
                )));
            }
            Ok(Some(message)) => message.map_err(unavailable)?,
        };
        let sequence = message.info().map_err(unavailable)?.stream_sequence;
        if sequence > self.to {
            self.messages = None;
            return Ok(None);
        }
        self.left = self.left.saturating_sub(1);
        if sequence == self.to || self.left == 0 {
            self.messages = None;
        }
        self.last = sequence;
        Ok(Some(RawMessage {
            sequence,
            subject: message.subject.to_string(),
            headers: kept_headers(message.headers.as_ref()),
            payload: message.payload.clone(),
        }))
    }
}

/// Rebuilds one stream with the sequences it had (see the module docs).
pub struct Restorer {
    js: jetstream::Context,
    target: stream::Config,
    /// The sequence the next publish must get.
    next: u64,
    pending: VecDeque<(u64, PublishAckFuture)>,
    fillers: Vec<u64>,
    filler_subject: String,
}

impl std::fmt::Debug for Restorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restorer")
            .field("stream", &self.target.name)
            .field("next", &self.next)
            .field("fillers", &self.fillers.len())
            .finish_non_exhaustive()
    }
}

/// The filler subject of a stream capturing `subjects`: the first one with
/// its wildcards replaced, then [`FILLER_TOKEN`].
fn filler_subject(subjects: &[String]) -> Option<String> {
    let first = subjects.first()?;
    let tokens: Vec<&str> = first
        .split('.')
        .map(|token| match token {
            ">" | "*" => "gap",
            token => token,
        })
        .collect();
    Some(format!("{}.{FILLER_TOKEN}", tokens.join(".")))
}

impl Restorer {
    /// Creates the stream `config` describes (with `replicas` if given),
    /// refusing one that exists. `gaps`: whether the original has deleted
    /// messages, so fillers will need deleting.
    pub async fn create(
        log: &EventLog,
        mut config: stream::Config,
        replicas: Option<usize>,
        gaps: bool,
    ) -> Result<Self, LogError> {
        if log.stream_shape(&config.name).await?.is_some() {
            return Err(LogError::Failed(format!(
                "stream {} exists: restore only creates streams",
                config.name
            )));
        }
        if let Some(replicas) = replicas {
            config.num_replicas = replicas.max(1);
        }
        config.first_sequence = None;
        let filler_subject = filler_subject(&config.subjects).ok_or_else(|| {
            LogError::Failed(format!("stream {} captures no subjects", config.name))
        })?;
        let mut building = config.clone();
        if gaps {
            building.deny_delete = false;
        }
        log.js.create_stream(building).await.map_err(|err| {
            LogError::Failed(format!("cannot create stream {}: {err}", config.name))
        })?;
        Ok(Self {
            js: log.js.clone(),
            target: config,
            next: 1,
            pending: VecDeque::new(),
            fillers: Vec::new(),
            filler_subject,
        })
    }

    /// The stream being rebuilt.
    pub fn stream(&self) -> &str {
        &self.target.name
    }

    /// Publishes `message` at its sequence, after fillers for any gap
    /// before it.
    pub async fn put(&mut self, message: &RawMessage) -> Result<(), LogError> {
        if message.sequence < self.next {
            return Err(LogError::Failed(format!(
                "stream {}: message {} comes after {}: sequences must increase",
                self.target.name,
                message.sequence,
                self.next - 1
            )));
        }
        self.fill_to(message.sequence).await?;
        let mut headers = HeaderMap::new();
        for (name, value) in &message.headers {
            headers.append(name.as_str(), value.as_str());
        }
        self.send(
            message.subject.clone(),
            headers,
            message.payload.clone(),
            false,
        )
        .await
    }

    /// Fillers up to (not including) `sequence`.
    async fn fill_to(&mut self, sequence: u64) -> Result<(), LogError> {
        while self.next < sequence {
            self.send(
                self.filler_subject.clone(),
                HeaderMap::new(),
                Bytes::new(),
                true,
            )
            .await?;
        }
        Ok(())
    }

    async fn send(
        &mut self,
        subject: String,
        headers: HeaderMap,
        payload: Bytes,
        filler: bool,
    ) -> Result<(), LogError> {
        if self.pending.len() >= IN_FLIGHT {
            self.settle_one().await?;
        }
        let ack = self
            .js
            .publish_with_headers(subject, headers, payload)
            .await
            .map_err(unavailable)?;
        if filler {
            self.fillers.push(self.next);
        }
        self.pending.push_back((self.next, ack));
        self.next += 1;
        Ok(())
    }

    /// Awaits the oldest acknowledgement and checks it.
    async fn settle_one(&mut self) -> Result<(), LogError> {
        let Some((want, ack)) = self.pending.pop_front() else {
            return Ok(());
        };
        let ack = ack.await.map_err(unavailable)?;
        if ack.stream != self.target.name || ack.sequence != want || ack.duplicate {
            return Err(LogError::Failed(format!(
                "stream {}: the message for sequence {want} was stored {} \
                 (a Nats-Msg-Id seen twice within the duplicate window, or another writer): \
                 delete the stream and restore again with nothing else writing",
                self.target.name,
                if ack.duplicate {
                    format!("as a duplicate of sequence {}", ack.sequence)
                } else {
                    format!("in {} at sequence {}", ack.stream, ack.sequence)
                }
            )));
        }
        Ok(())
    }

    /// Fills up to `last_sequence`, waits for every acknowledgement,
    /// deletes the fillers and gives the stream its own configuration.
    pub async fn finish(mut self, last_sequence: u64) -> Result<(), LogError> {
        self.fill_to(last_sequence + 1).await?;
        while !self.pending.is_empty() {
            self.settle_one().await?;
        }
        let stream = self
            .js
            .get_stream_no_info(&self.target.name)
            .await
            .map_err(unavailable)?;
        for &sequence in &self.fillers {
            stream.delete_message(sequence).await.map_err(|err| {
                LogError::Failed(format!(
                    "stream {}: cannot delete the filler at sequence {sequence}: {err}",
                    self.target.name
                ))
            })?;
        }
        if !self.fillers.is_empty() && self.target.deny_delete {
            self.js
                .update_stream(self.target.clone())
                .await
                .map_err(|err| {
                    LogError::Failed(format!(
                        "stream {}: cannot deny deletes again after the fillers: {err}",
                        self.target.name
                    ))
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LogConfig, NatsAuth};
    use sy_tests::NatsServer;

    #[test]
    fn preconditions_are_dropped_and_the_rest_sorted() {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", "k1");
        headers.insert("Nats-Expected-Last-Subject-Sequence", "4");
        headers.append("B-Two", "x");
        headers.append("B-Two", "y");
        headers.insert("A-One", "1");
        assert_eq!(
            kept_headers(Some(&headers)),
            [
                ("A-One".to_string(), "1".to_string()),
                ("B-Two".to_string(), "x".to_string()),
                ("B-Two".to_string(), "y".to_string()),
                ("Nats-Msg-Id".to_string(), "k1".to_string()),
            ]
        );
        assert!(kept_headers(None).is_empty());
    }

    #[test]
    fn fillers_stay_inside_the_stream_subjects() {
        assert_eq!(
            filler_subject(&["sy.key.>".to_string()]).as_deref(),
            Some("sy.key.gap.restore-gap")
        );
        assert_eq!(
            filler_subject(&["a.*.b".to_string(), "c".to_string()]).as_deref(),
            Some("a.gap.b.restore-gap")
        );
        assert_eq!(filler_subject(&[]), None);
    }

    async fn log_on(server: &NatsServer) -> EventLog {
        let log = EventLog::connect(&LogConfig {
            nats_url: server.url(),
            stream: "SRC".into(),
            replicas: 1,
            request_timeout: Duration::from_secs(5),
            auth: NatsAuth::default(),
        })
        .await
        .unwrap();
        assert!(log.connected_within(Duration::from_secs(10)).await);
        log
    }

    #[tokio::test]
    async fn a_stream_with_gaps_comes_back_at_the_same_sequences_and_denies_deletes_again() {
        let source = NatsServer::start().await.expect("nats-server starts");
        let target = NatsServer::start().await.expect("nats-server starts");
        let from = log_on(&source).await;
        from.js
            .create_stream(stream::Config {
                name: "GAPS".into(),
                subjects: vec!["g.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 1..=6u8 {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("m{i}").as_str());
            from.js
                .publish_with_headers(format!("g.{i}"), headers, Bytes::from(vec![i]))
                .await
                .unwrap()
                .await
                .unwrap();
        }
        let stream = from.js.get_stream("GAPS").await.unwrap();
        for gone in [1, 3, 6] {
            stream.delete_message(gone).await.unwrap();
        }
        let shape = from.stream_shape("GAPS").await.unwrap().unwrap();
        assert_eq!((shape.last_sequence, shape.messages), (6, 3));
        let stall = Duration::from_secs(5);
        let mut reader = from.read_stream(&shape, stall).await.unwrap();
        let mut read = Vec::new();
        while let Some(message) = reader.next().await.unwrap() {
            read.push(message);
        }
        assert_eq!(
            read.iter().map(|m| m.sequence).collect::<Vec<_>>(),
            [2, 4, 5]
        );
        assert_eq!(read[0].headers, [("Nats-Msg-Id".into(), "m2".into())]);

        let to = log_on(&target).await;
        let mut config = shape.config.clone();
        config.deny_delete = true;
        let mut restorer = Restorer::create(&to, config.clone(), None, true)
            .await
            .unwrap();
        for message in &read {
            restorer.put(message).await.unwrap();
        }
        restorer.finish(shape.last_sequence).await.unwrap();
        let copy = to.stream_shape("GAPS").await.unwrap().unwrap();
        assert_eq!((copy.last_sequence, copy.messages), (6, 3));
        assert!(copy.config.deny_delete, "its own configuration again");
        let mut reader = to.read_stream(&copy, stall).await.unwrap();
        let mut again = Vec::new();
        while let Some(message) = reader.next().await.unwrap() {
            again.push(message);
        }
        assert_eq!(again, read);

        let refused = Restorer::create(&to, config, None, false)
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("GAPS exists"), "{refused}");
    }
}
