//! The access log: one record per look at a person's unmasked data, in a
//! JetStream stream of its own beside the event log (PIPL articles 45 and
//! 51: who read whose data, which fields, why, when). It is not part of the
//! event log: reads are not facts of the domain, and the log's digest and
//! chains must not move when someone reads.
//!
//! Stream `<log stream>_ACCESS`, file storage, `deny_delete` and
//! `deny_purge`: append-only like the event log. One record per message,
//! on `sy.access.<person>.<reader>`, so auditors list a person's accesses
//! or a reader's with a subject filter and nothing else to index. The
//! reader token is the agency code with every byte outside `A-Z a-z 0-9 -`
//! written as `_HH` (its hex), so any agency code is one subject token and
//! two codes never share one ([`reader_token`]).
//!
//! This module moves bytes, as [`crate::EventLog`] does: the records are
//! `shuangyong.v1.AccessRecorded` messages, encoded and decoded by their
//! writer (the projection) and readers (`sy access`). Only the projection
//! may append and create the stream; auditors may read it; intake may not
//! touch it (see [`crate::permissions`]).

use std::fmt::Write as _;

use async_nats::header::NATS_MESSAGE_ID;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use uuid::Uuid;

use crate::EventLog;

/// Subjects of the access log.
pub const ACCESS_SUBJECTS: &str = "sy.access.>";

/// The access log's stream for the event log stream `log_stream`.
pub fn stream_name(log_stream: &str) -> String {
    format!("{log_stream}_ACCESS")
}

/// `agency` as one subject token: bytes outside `A-Z a-z 0-9 -` (a `.`
/// would split the token, `*` and `>` are wildcards) become `_HH`, so the
/// mapping is one-to-one and the usual codes stay readable.
pub fn reader_token(agency: &str) -> String {
    let mut token = String::with_capacity(agency.len());
    for byte in agency.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            token.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(token, "_{byte:02X}");
        }
    }
    token
}

/// The subject of an access by `agency` to `person`'s data.
pub fn subject(person: Uuid, agency: &str) -> String {
    format!("sy.access.{person}.{}", reader_token(agency))
}

/// Whose accesses to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Every access to this person's data (also their own access history,
    /// PIPL article 45).
    Person(Uuid),
    /// Every access by this agency.
    Reader(String),
}

impl Filter {
    /// The subject filter that selects exactly these accesses.
    pub fn subject(&self) -> String {
        match self {
            Self::Person(person) => format!("sy.access.{person}.*"),
            Self::Reader(agency) => format!("sy.access.*.{}", reader_token(agency)),
        }
    }
}

/// One stored access record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccess {
    /// Its sequence in the access log's stream.
    pub sequence: u64,
    /// `sy.access.<person>.<reader>`.
    pub subject: String,
    /// The encoded `AccessRecorded`.
    pub payload: Bytes,
}

/// Why the access log cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// NATS or the stream cannot be reached now; retrying may work.
    #[error("access log unavailable: {0}")]
    Unavailable(String),
    /// An agency code that names nobody.
    #[error("an access needs the reader's agency")]
    NoReader,
}

fn unavailable(err: impl std::fmt::Display) -> AccessError {
    AccessError::Unavailable(err.to_string())
}

/// The access log of one event log.
#[derive(Clone)]
pub struct AccessLog {
    js: jetstream::Context,
    stream: String,
    replicas: usize,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl AccessLog {
    /// The access log beside `log`, created with `replicas` by
    /// [`Self::ensure_stream`]. Nothing is asked of NATS here.
    pub fn new(log: &EventLog, replicas: usize) -> Self {
        Self {
            js: log.js.clone(),
            stream: stream_name(log.stream_name()),
            replicas: replicas.max(1),
        }
    }

    /// The stream's name.
    pub fn stream_name(&self) -> &str {
        &self.stream
    }

    /// Creates the stream if it does not exist (the writer, on first use);
    /// an existing one is left as it is.
    pub async fn ensure_stream(&self) -> Result<(), AccessError> {
        let config = stream::Config {
            name: self.stream.clone(),
            description: Some(
                "shuangyong access log: every unmasked read of personal data, append-only".into(),
            ),
            subjects: vec![ACCESS_SUBJECTS.into()],
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            deny_delete: true,
            deny_purge: true,
            duplicate_window: std::time::Duration::from_secs(120),
            ..Default::default()
        };
        self.js
            .get_or_create_stream(config)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// Appends the encoded record `payload` of the access `access_id` by
    /// `agency` to `person`'s data, deduplicated by its id; its sequence
    /// once the server has stored it.
    pub async fn append(
        &self,
        person: Uuid,
        agency: &str,
        access_id: &str,
        payload: Bytes,
    ) -> Result<u64, AccessError> {
        if agency.is_empty() {
            return Err(AccessError::NoReader);
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(NATS_MESSAGE_ID, access_id);
        let ack = self
            .js
            .publish_with_headers(subject(person, agency), headers, payload)
            .await
            .map_err(unavailable)?
            .await
            .map_err(unavailable)?;
        Ok(ack.sequence)
    }

    /// The records `filter` selects, oldest first; none while the stream
    /// does not exist (no unmasked read was ever served).
    pub async fn list(&self, filter: &Filter) -> Result<Vec<StoredAccess>, AccessError> {
        let stream = self
            .js
            .get_stream_no_info(&self.stream)
            .await
            .map_err(unavailable)?;
        let subjects = filter.subject();
        let mut records = Vec::new();
        let mut next = 1;
        loop {
            let found = stream
                .raw_message_builder()
                .sequence(next)
                .next_by_subject(subjects.clone())
                .send()
                .await;
            match found {
                Ok(message) => {
                    next = message.sequence + 1;
                    records.push(StoredAccess {
                        sequence: message.sequence,
                        subject: message.subject.to_string(),
                        payload: message.payload,
                    });
                }
                Err(err) => match err.kind() {
                    stream::RawMessageErrorKind::NoMessageFound => return Ok(records),
                    // Nobody ever read unmasked data: nothing to list.
                    stream::RawMessageErrorKind::JetStream(api)
                        if api.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
                    {
                        return Ok(records);
                    }
                    _ => return Err(unavailable(err)),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{LogConfig, NatsAuth};
    use sy_tests::NatsServer;

    #[test]
    fn every_agency_code_is_one_subject_token_of_its_own() {
        assert_eq!(
            reader_token("district-veterans-bureau"),
            "district-veterans-bureau"
        );
        assert_eq!(reader_token("unit.31001"), "unit_2E31001");
        assert_eq!(reader_token("a_b"), "a_5Fb");
        assert_ne!(reader_token("a.b"), reader_token("a_2Eb"));
        for agency in ["a.b", "*", ">", "x y", "区"] {
            let token = reader_token(agency);
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{agency:?} → {token}"
            );
        }
    }

    #[tokio::test]
    async fn accesses_are_listed_by_person_and_by_reader_and_cannot_be_deleted() {
        let server = NatsServer::start().await.expect("nats-server starts");
        let log = EventLog::connect(&LogConfig {
            nats_url: server.url(),
            stream: "ACC".into(),
            replicas: 1,
            request_timeout: Duration::from_secs(2),
            auth: NatsAuth::default(),
        })
        .await
        .unwrap();
        assert!(log.connected_within(Duration::from_secs(10)).await);
        let access = AccessLog::new(&log, 1);
        assert!(
            access
                .list(&Filter::Person(Uuid::now_v7()))
                .await
                .unwrap()
                .is_empty()
        );
        access.ensure_stream().await.unwrap();
        access.ensure_stream().await.unwrap();
        let (p1, p2) = (Uuid::now_v7(), Uuid::now_v7());
        let reads = [
            (p1, "bureau", "a1"),
            (p2, "bureau", "a2"),
            (p1, "unit.7", "a3"),
            // A retry of a1: deduplicated.
            (p1, "bureau", "a1"),
        ];
        for (person, agency, id) in reads {
            access
                .append(person, agency, id, Bytes::from(id.as_bytes().to_vec()))
                .await
                .unwrap();
        }
        let payloads = |records: Vec<StoredAccess>| -> Vec<Bytes> {
            records.into_iter().map(|r| r.payload).collect()
        };
        let by_person = access.list(&Filter::Person(p1)).await.unwrap();
        assert_eq!(payloads(by_person), ["a1", "a3"]);
        let by_reader = access.list(&Filter::Reader("bureau".into())).await.unwrap();
        assert_eq!(payloads(by_reader), ["a1", "a2"]);
        let dotted = access.list(&Filter::Reader("unit.7".into())).await.unwrap();
        assert_eq!(dotted.len(), 1);
        assert_eq!(dotted[0].subject, format!("sy.access.{p1}.unit_2E7"));
        assert!(
            access
                .list(&Filter::Person(Uuid::now_v7()))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            access.append(p1, "", "a9", Bytes::new()).await,
            Err(AccessError::NoReader)
        ));

        let stream = log.js.get_stream(access.stream_name()).await.unwrap();
        assert!(stream.delete_message(1).await.is_err(), "deny_delete");
        assert!(stream.purge().await.is_err(), "deny_purge");
    }
}
