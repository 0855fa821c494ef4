//! The key store: each person's data key, wrapped by the key-encryption
//! key (KEK), in a JetStream stream of its own beside the event log, never
//! in it. Only intake may write it; the projection may read it; auditors
//! may not touch it (see [`crate::permissions`]).
//!
//! Subjects, for the stream `<log stream>_KEYS`:
//! - `sy.key.dek.<person>`: the person's data key, wrapped ([`WrappedKey`]);
//!   created once, with an expected subject sequence of 0, so replicas
//!   racing to create it agree on one key.
//! - `sy.key.erased.<person>`: the tombstone of an erasure (the erasure
//!   event's id). Written before the key is destroyed, so a reader that finds
//!   no key knows whether it was erased or lost.
//! - `sy.key.kek.<version>`: a canary sealed under KEK `version`, so a wrong
//!   KEK is refused at start-up rather than discovered as unreadable data.
//!
//! Destroying a key is JetStream's message delete *with erase* (the server
//! overwrites the message in its store files with random bytes), not a
//! purge marker: the wrapped key's bytes are gone from disk. A missing key
//! with no tombstone is an error ([`KeyStoreError::Missing`]), never
//! "erased".
//!
//! Unwrapped keys are cached for [`KEY_TTL`]; erasures (tombstones) for
//! good. A reader that folds an erasure forgets the key at once
//! ([`KeyStore::forget`]).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use lru::LruCache;
use sy_domain::pb::EventEnvelope;
use sy_domain::pii::{Cipher, DataKey, KekError, KekRing, WrappedKey, fields};
use uuid::Uuid;

use crate::EventLog;

/// Subjects of the key store.
pub const KEY_SUBJECTS: &str = "sy.key.>";

/// How long an unwrapped key is used from memory before it is read again,
/// which bounds how long another replica keeps using a key after an
/// erasure it has not folded yet.
pub const KEY_TTL: Duration = Duration::from_secs(30);

/// Keys kept unwrapped in memory.
const CACHE_KEYS: usize = 65_536;

/// The key store's stream for the event log stream `log_stream`.
pub fn stream_name(log_stream: &str) -> String {
    format!("{log_stream}_KEYS")
}

fn dek_subject(subject: Uuid) -> String {
    format!("sy.key.dek.{subject}")
}

fn tombstone_subject(subject: Uuid) -> String {
    format!("sy.key.erased.{subject}")
}

fn canary_subject(version: u32) -> String {
    format!("sy.key.kek.{version}")
}

/// What the store holds for a person.
#[derive(Debug, Clone)]
pub enum KeyState {
    /// Their data key.
    Key(DataKey),
    /// Destroyed by the erasure with this event id.
    Erased {
        /// The erasure event's id, as the tombstone records it.
        event_id: String,
    },
}

/// Why the key store cannot answer. Never holds key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// NATS or the stream cannot be reached now; retrying may work.
    #[error("key store unavailable: {0}")]
    Unavailable(String),
    /// No key and no tombstone: the store was lost or is not the one the
    /// log was written with. Never taken for an erasure.
    #[error(
        "the key store {stream} has no data key for person {subject} and no erasure of it: \
         was the key store lost or replaced? Restore it from a backup"
    )]
    Missing {
        /// The key store's stream.
        stream: String,
        /// The person.
        subject: Uuid,
    },
    /// The store does not exist.
    #[error(
        "the key store {stream} does not exist{why}: restore it from a backup, \
         or start intake with --new-key-store if the log holds no personal data yet"
    )]
    NoStore {
        /// The key store's stream.
        stream: String,
        /// What makes it needed.
        why: String,
    },
    /// No service has opened the store with the ring's current KEK yet: a
    /// rewrap now would move keys to a version the running services cannot
    /// unwrap, and retire the only canaries the store has.
    #[error(
        "no service runs with key-encryption key version {version} yet (the key store {stream} \
         has no canary of it): restart intake and the projections with the rotated KEK file, \
         then rewrap"
    )]
    NotInUse {
        /// The key store's stream.
        stream: String,
        /// The ring's current version.
        version: u32,
    },
    /// The KEK file does not fit the store.
    #[error("key-encryption key: {0}")]
    Kek(#[from] KekError),
    /// A stored record does not decode.
    #[error("key store record {subject} at sequence {sequence} is damaged: {reason}")]
    Damaged {
        /// The NATS subject.
        subject: String,
        /// Its sequence.
        sequence: u64,
        /// Why.
        reason: String,
    },
    /// Generating or wrapping a key failed.
    #[error("cannot make a data key: {0}")]
    Crypto(String),
    /// A sealed event does not open under its person's key.
    #[error("event {event_id}: personal data sealed for {subject:?} does not open: {reason}")]
    Unreadable {
        /// The event's id.
        event_id: String,
        /// The subject it names.
        subject: String,
        /// Why.
        reason: String,
    },
}

/// What [`KeyStore::open_envelope`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// The envelope holds no personal data.
    Clear,
    /// Its personal fields are back in the payload.
    Opened,
    /// Its person was erased: it stays sealed.
    Erased,
}

fn unavailable(err: impl std::fmt::Display) -> KeyStoreError {
    KeyStoreError::Unavailable(err.to_string())
}

/// An unwrapped key or a tombstone, and when it was read.
#[derive(Clone)]
struct Cached {
    state: KeyState,
    read_at: Instant,
}

/// What [`KeyStore::rewrap_all`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rewrapped {
    /// Keys wrapped again under the current KEK.
    pub rewrapped: u64,
    /// Keys already under it.
    pub current: u64,
    /// Canaries of retired KEK versions removed.
    pub retired_versions: u64,
}

/// The key store of one event log, with the deployment's KEKs.
pub struct KeyStore {
    js: jetstream::Context,
    stream: String,
    ring: Arc<KekRing>,
    cipher: Cipher,
    cache: Mutex<LruCache<Uuid, Cached>>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("stream", &self.stream)
            .field("cipher", &self.cipher)
            .field("ring", &self.ring)
            .finish_non_exhaustive()
    }
}

/// How [`KeyStore::open`] treats a store that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Never create (readers): a missing store is an error.
    Never,
    /// Create it when the event log is empty (intake's default): a log
    /// with events but no store means the store was lost.
    WhenLogEmpty,
    /// Create it even though the log has events (`--new-key-store`, for a
    /// log written before personal data was sealed).
    Always,
}

impl KeyStore {
    /// Opens the key store of `log`, creating it as `create` allows (with
    /// `replicas`), and checks `ring` against every KEK canary it holds: a
    /// version the store used that the file lacks, or a file key that does
    /// not open its canary, is an error here, at start-up. New keys are for
    /// `cipher`.
    pub async fn open(
        log: &EventLog,
        ring: Arc<KekRing>,
        cipher: Cipher,
        create: Create,
        replicas: usize,
    ) -> Result<Self, KeyStoreError> {
        let name = stream_name(log.stream_name());
        let store = Self {
            js: log.js.clone(),
            stream: name.clone(),
            ring,
            cipher,
            cache: Mutex::new(LruCache::new(
                NonZeroUsize::new(CACHE_KEYS).expect("a positive capacity"),
            )),
        };
        let exists = match log.js.get_stream(&name).await {
            Ok(_) => true,
            Err(err) => match err.kind() {
                jetstream::context::GetStreamErrorKind::JetStream(api)
                    if api.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
                {
                    false
                }
                _ => return Err(unavailable(err)),
            },
        };
        if !exists {
            let events = log.last_position().await.map_err(unavailable)?;
            if create == Create::Never && events == 0 {
                // Intake creates it with the first events: wait for it.
                return Err(unavailable(format!(
                    "the key store {name} does not exist yet"
                )));
            }
            let allowed = match create {
                Create::Never => false,
                Create::WhenLogEmpty => events == 0,
                Create::Always => true,
            };
            if !allowed {
                let why = if events > 0 {
                    format!(" but the event log holds {events} events")
                } else {
                    String::new()
                };
                return Err(KeyStoreError::NoStore { stream: name, why });
            }
            store.create_stream(replicas).await?;
        }
        store
            .check_canaries(matches!(create, Create::Never))
            .await?;
        Ok(store)
    }

    /// [`Self::open`], retried with backoff while NATS is unavailable;
    /// any other error is returned at once.
    pub async fn await_open(
        log: &EventLog,
        ring: Arc<KekRing>,
        cipher: Cipher,
        create: Create,
        replicas: usize,
    ) -> Result<Self, KeyStoreError> {
        crate::retry_while(
            "key store",
            || Self::open(log, ring.clone(), cipher, create, replicas),
            |err| matches!(err, KeyStoreError::Unavailable(_)),
        )
        .await
    }

    async fn create_stream(&self, replicas: usize) -> Result<(), KeyStoreError> {
        let config = stream::Config {
            name: self.stream.clone(),
            description: Some(
                "shuangyong data keys, wrapped by the KEK; erasure deletes with erase".into(),
            ),
            subjects: vec![KEY_SUBJECTS.into()],
            storage: stream::StorageType::File,
            num_replicas: replicas.max(1),
            // Erasure deletes single messages; nobody purges.
            deny_delete: false,
            deny_purge: true,
            ..Default::default()
        };
        self.js
            .get_or_create_stream(config)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// The KEK versions the store holds canaries for must be in the ring
    /// and open; a writer adds the canary of the current version.
    async fn check_canaries(&self, read_only: bool) -> Result<(), KeyStoreError> {
        let stream = self
            .js
            .get_stream_no_info(&self.stream)
            .await
            .map_err(unavailable)?;
        let mut subjects = stream
            .info_with_subjects("sy.key.kek.*")
            .await
            .map_err(unavailable)?;
        let mut versions = Vec::new();
        while let Some(entry) = futures::TryStreamExt::try_next(&mut subjects)
            .await
            .map_err(unavailable)?
        {
            let (subject, _) = entry;
            if let Some(version) = subject
                .strip_prefix("sy.key.kek.")
                .and_then(|v| v.parse::<u32>().ok())
            {
                versions.push(version);
            }
        }
        for version in &versions {
            let (canary, _) = self
                .last(&canary_subject(*version))
                .await?
                .ok_or_else(|| unavailable("a canary vanished while being read"))?;
            self.ring.check(&canary)?;
        }
        let current = self.ring.current().version();
        if !read_only && !versions.contains(&current) {
            let canary = self
                .ring
                .canary()
                .map_err(|err| KeyStoreError::Crypto(err.to_string()))?;
            self.publish(&canary_subject(current), canary.encode(), None)
                .await?;
        }
        Ok(())
    }

    /// The last record on `subject`, decoded, with its sequence.
    async fn last(&self, subject: &str) -> Result<Option<(WrappedKey, u64)>, KeyStoreError> {
        match self.last_raw(subject).await? {
            None => Ok(None),
            Some((payload, sequence)) => WrappedKey::decode(&payload)
                .map(|wrapped| Some((wrapped, sequence)))
                .map_err(|err| KeyStoreError::Damaged {
                    subject: subject.to_string(),
                    sequence,
                    reason: err.to_string(),
                }),
        }
    }

    async fn last_raw(&self, subject: &str) -> Result<Option<(Bytes, u64)>, KeyStoreError> {
        let stream = self
            .js
            .get_stream_no_info(&self.stream)
            .await
            .map_err(unavailable)?;
        match stream.get_last_raw_message_by_subject(subject).await {
            Ok(message) => Ok(Some((message.payload, message.sequence))),
            Err(err) if err.kind() == stream::LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(err) => Err(unavailable(err)),
        }
    }

    /// Publishes `payload` on `subject`; with `expected`, only if the
    /// subject's last sequence is still that (0: empty). `Ok(false)` when
    /// another writer got there first.
    async fn publish(
        &self,
        subject: &str,
        payload: Vec<u8>,
        expected: Option<u64>,
    ) -> Result<bool, KeyStoreError> {
        let mut headers = async_nats::HeaderMap::new();
        if let Some(expected) = expected {
            headers.insert(
                NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                expected.to_string().as_str(),
            );
        }
        let ack = self
            .js
            .publish_with_headers(subject.to_string(), headers, payload.into())
            .await
            .map_err(unavailable)?
            .await;
        match ack {
            Ok(_) => Ok(true),
            Err(err) if err.kind() == jetstream::context::PublishErrorKind::WrongLastSequence => {
                Ok(false)
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    fn cached(&self, subject: Uuid) -> Option<KeyState> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let cached = cache.get(&subject)?;
        match cached.state {
            KeyState::Key(_) if cached.read_at.elapsed() > KEY_TTL => None,
            _ => Some(cached.state.clone()),
        }
    }

    fn remember(&self, subject: Uuid, state: &KeyState) {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .put(
                subject,
                Cached {
                    state: state.clone(),
                    read_at: Instant::now(),
                },
            );
    }

    /// Drops `subject`'s key from memory (after folding their erasure).
    pub fn forget(&self, subject: Uuid) {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop(&subject);
    }

    /// `subject`'s key or their erasure, from memory or the store.
    pub async fn key(&self, subject: Uuid) -> Result<KeyState, KeyStoreError> {
        if let Some(state) = self.cached(subject) {
            return Ok(state);
        }
        let state = match self.read(subject).await? {
            Some(state) => state,
            None => {
                return Err(KeyStoreError::Missing {
                    stream: self.stream.clone(),
                    subject,
                });
            }
        };
        self.remember(subject, &state);
        Ok(state)
    }

    /// What the store holds for `subject`, unwrapped; `None`: nothing.
    async fn read(&self, subject: Uuid) -> Result<Option<KeyState>, KeyStoreError> {
        // The tombstone first: it is written before the key is destroyed,
        // so a key read after it is never used.
        if let Some((event_id, _)) = self.last_raw(&tombstone_subject(subject)).await? {
            return Ok(Some(KeyState::Erased {
                event_id: String::from_utf8_lossy(&event_id).into_owned(),
            }));
        }
        match self.last(&dek_subject(subject)).await? {
            None => Ok(None),
            Some((wrapped, _)) => {
                let key = self.ring.unwrap(&wrapped, &subject.to_string())?;
                Ok(Some(KeyState::Key(key)))
            }
        }
    }

    /// Opens a sealed `envelope` with its person's key, putting the values
    /// back into the payload. An erased person's envelope stays sealed: the
    /// domain folds what is not personal.
    pub async fn open_envelope(
        &self,
        envelope: &mut EventEnvelope,
    ) -> Result<Opened, KeyStoreError> {
        let Some(subject) = fields::sealed_subject(envelope).map(str::to_string) else {
            return Ok(Opened::Clear);
        };
        let event_id = envelope.event_id.clone();
        let unreadable = |reason: String| KeyStoreError::Unreadable {
            event_id: event_id.clone(),
            subject: subject.clone(),
            reason,
        };
        let person = Uuid::try_parse(&subject)
            .map_err(|_| unreadable("the subject is not a person id".into()))?;
        match self.key(person).await? {
            KeyState::Erased { .. } => Ok(Opened::Erased),
            KeyState::Key(key) => {
                fields::open(envelope, &key).map_err(|err| unreadable(err.to_string()))?;
                Ok(Opened::Opened)
            }
        }
    }

    /// `subject`'s key, made and stored if they have none yet (intake,
    /// before sealing their first personal field). Erased stays erased.
    pub async fn key_or_create(&self, subject: Uuid) -> Result<KeyState, KeyStoreError> {
        if let Some(state) = self.cached(subject) {
            return Ok(state);
        }
        if let Some(state) = self.read(subject).await? {
            self.remember(subject, &state);
            return Ok(state);
        }
        let key =
            DataKey::generate(self.cipher).map_err(|err| KeyStoreError::Crypto(err.to_string()))?;
        let wrapped = self
            .ring
            .wrap(&key, &subject.to_string())
            .map_err(|err| KeyStoreError::Crypto(err.to_string()))?;
        if self
            .publish(&dek_subject(subject), wrapped.encode(), Some(0))
            .await?
        {
            let state = KeyState::Key(key);
            self.remember(subject, &state);
            return Ok(state);
        }
        // Another replica created it first: use theirs.
        self.key(subject).await
    }

    /// Destroys `subject`'s key for the erasure event `event_id`: the
    /// tombstone first, then every stored copy of the wrapped key is
    /// deleted with erase (overwritten in the store's files). Idempotent,
    /// so a failed attempt is simply repeated.
    pub async fn erase(&self, subject: Uuid, event_id: &str) -> Result<(), KeyStoreError> {
        if self.last_raw(&tombstone_subject(subject)).await?.is_none() {
            self.publish(
                &tombstone_subject(subject),
                event_id.as_bytes().to_vec(),
                Some(0),
            )
            .await?;
        }
        let stream = self
            .js
            .get_stream_no_info(&self.stream)
            .await
            .map_err(unavailable)?;
        while let Some((_, sequence)) = self.last_raw(&dek_subject(subject)).await? {
            stream.delete_message(sequence).await.map_err(unavailable)?;
        }
        self.remember(
            subject,
            &KeyState::Erased {
                event_id: event_id.to_string(),
            },
        );
        Ok(())
    }

    /// Wraps every data key again under the current KEK (a rotation: the
    /// events are not touched), erasing each old wrapping, then removes the
    /// canaries of versions no key uses any more. Safe to run again after
    /// an interruption. Refused ([`KeyStoreError::NotInUse`]) until a
    /// writer has opened the store with the current KEK, so keys never move
    /// ahead of the running services and the store keeps a canary.
    pub async fn rewrap_all(&self) -> Result<Rewrapped, KeyStoreError> {
        let stream = self
            .js
            .get_stream_no_info(&self.stream)
            .await
            .map_err(unavailable)?;
        let current = self.ring.current().version();
        if self.last_raw(&canary_subject(current)).await?.is_none() {
            return Err(KeyStoreError::NotInUse {
                stream: self.stream.clone(),
                version: current,
            });
        }
        let mut report = Rewrapped::default();
        // Rewrapped keys are appended after the last one there now: stop
        // there rather than meet them again.
        let last = self
            .js
            .get_stream(&self.stream)
            .await
            .map_err(unavailable)?
            .cached_info()
            .state
            .last_sequence;
        let mut from = 1;
        while from <= last {
            let message = match stream
                .raw_message_builder()
                .sequence(from)
                .next_by_subject("sy.key.dek.*")
                .send()
                .await
            {
                Ok(message) if message.sequence <= last => message,
                Ok(_) => break,
                Err(err) if err.kind() == stream::RawMessageErrorKind::NoMessageFound => {
                    break;
                }
                Err(err) => return Err(unavailable(err)),
            };
            from = message.sequence + 1;
            let damaged = |reason: String| KeyStoreError::Damaged {
                subject: message.subject.to_string(),
                sequence: message.sequence,
                reason,
            };
            let person = message
                .subject
                .strip_prefix("sy.key.dek.")
                .and_then(|id| Uuid::try_parse(id).ok())
                .ok_or_else(|| damaged("not a person's key subject".into()))?;
            let wrapped =
                WrappedKey::decode(&message.payload).map_err(|err| damaged(err.to_string()))?;
            if wrapped.kek_version == current {
                report.current += 1;
                continue;
            }
            let rewrapped = self.ring.rewrap(&wrapped, &person.to_string())?;
            if self
                .publish(
                    &dek_subject(person),
                    rewrapped.encode(),
                    Some(message.sequence),
                )
                .await?
            {
                stream
                    .delete_message(message.sequence)
                    .await
                    .map_err(unavailable)?;
                report.rewrapped += 1;
            }
            self.forget(person);
        }
        for version in self.ring.versions().filter(|v| *v != current) {
            if let Some((_, sequence)) = self.last_raw(&canary_subject(version)).await? {
                stream.delete_message(sequence).await.map_err(unavailable)?;
                report.retired_versions += 1;
            }
        }
        Ok(report)
    }

    /// The store's stream name.
    pub fn stream_name(&self) -> &str {
        &self.stream
    }
}
