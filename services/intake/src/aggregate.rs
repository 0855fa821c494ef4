//! Loading an aggregate (any kind): its events on its subject, folded with
//! the same `apply` the projection uses, plus what idempotency needs (the
//! result of every key already used on it).
//!
//! Folded aggregates are cached with the subject's last sequence. A stale
//! cache entry is safe: the append's expected-sequence check fails, and the
//! caller refreshes, reading only the events after the cached sequence.
//! Commands on one aggregate take turns ([`Aggregates::turn`], see
//! `crate::queue`), so within one intake they find the cache fresh.
//!
//! Sealed events are opened with their person's data key before they are
//! folded: intake decides on clear values. An erased person's events fold
//! sealed, and the domain keeps only what is not personal.
//!
//! With verify keys ([`History`]), every event read from the log must carry a
//! valid signature: one published straight into NATS (even with intake's own
//! NATS credentials) is never decided on; the aggregate is `DATA_LOSS` until
//! an operator looks at it, as for an event that does not decode.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use prost::Message;
use sy_domain::aggregate::Aggregate;
use sy_domain::event::{GENESIS_HASH, hash, to_jiff};
use sy_domain::pb::{CommandResult, EventEnvelope};
use sy_domain::signature::VerifyKeys;
use sy_domain::upcast::upcast;
use sy_eventlog::keystore::{KeyStore, KeyStoreError};
use sy_eventlog::{EventLog, StoredEvent};
use uuid::Uuid;

use crate::error::IntakeError;
use crate::queue::{Queues, Turn};

/// A command already recorded on the aggregate, found by (agency, key).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub fingerprint: Vec<u8>,
    pub result: CommandResult,
}

/// An aggregate folded from its events.
#[derive(Clone)]
pub struct Loaded<A: Aggregate> {
    /// The id the caller addressed (the state's own id is empty before its
    /// first event).
    pub id: Uuid,
    pub state: A,
    /// Stream sequence of the subject's last event; 0 for a new request.
    pub last_position: u64,
    /// Hash of the last event: the next event's `prev_hash`.
    pub last_hash: [u8; 32],
    /// When its last event occurred: the next may not be dated before it.
    pub last_occurred_at: Option<jiff::Timestamp>,
    recorded: HashMap<(String, String), Recorded>,
}

impl<A: Aggregate> Loaded<A> {
    fn new(id: Uuid) -> Self {
        Self {
            id,
            state: A::default(),
            last_occurred_at: None,
            last_position: 0,
            last_hash: GENESIS_HASH,
            recorded: HashMap::new(),
        }
    }

    /// The result of the command `agency` sent with `key`, if it was recorded.
    pub fn recorded(&self, agency: &str, key: &str) -> Option<&Recorded> {
        self.recorded.get(&(agency.to_string(), key.to_string()))
    }

    /// Folds one stored event read from the log, whose signature must verify
    /// against the history's keys (when intake checks signatures), opened
    /// with its person's data key when it is sealed.
    async fn fold(&mut self, stored: &StoredEvent, history: &History) -> Result<(), IntakeError> {
        let corrupt = |reason: String| IntakeError::CorruptHistory {
            kind: A::KIND,
            id: self.id.to_string(),
            position: stored.position,
            reason,
        };
        let envelope = EventEnvelope::decode(stored.payload.as_ref())
            .map_err(|err| corrupt(format!("cannot decode: {err}")))?;
        if let Some(keys) = &history.keys {
            keys.verify(&stored.payload, &envelope)
                .map_err(|err| corrupt(format!("signature: {err}")))?;
        }
        let mut envelope = upcast(envelope).map_err(|err| corrupt(err.to_string()))?;
        history
            .data_keys
            .open_envelope(&mut envelope)
            .await
            .map_err(|err| match err {
                KeyStoreError::Unavailable(_) => IntakeError::Keys(err),
                other => corrupt(other.to_string()),
            })?;
        self.fold_envelope(&envelope, stored)
    }

    /// Folds an envelope already decoded (or just built) with its stored bytes.
    pub fn fold_envelope(
        &mut self,
        envelope: &EventEnvelope,
        stored: &StoredEvent,
    ) -> Result<(), IntakeError> {
        self.state
            .apply(envelope, stored.position)
            .map_err(|err| IntakeError::CorruptHistory {
                kind: A::KIND,
                id: self.id.to_string(),
                position: stored.position,
                reason: err.to_string(),
            })?;
        self.last_position = stored.position;
        self.last_occurred_at = to_jiff(envelope.occurred_at.as_ref());
        self.last_hash = hash(&stored.payload);
        let agency = envelope
            .actor
            .as_ref()
            .map(|a| a.agency.clone())
            .unwrap_or_default();
        self.recorded.insert(
            (agency, envelope.idempotency_key.clone()),
            Recorded {
                fingerprint: envelope.command_fingerprint.clone(),
                result: CommandResult {
                    aggregate_id: envelope.aggregate_id.clone(),
                    version: envelope.aggregate_version,
                    position: stored.position,
                    event_ids: vec![envelope.event_id.clone()],
                    replayed: false,
                },
            },
        );
        Ok(())
    }
}

/// Where aggregates are read from: the log, the keys its events must be
/// signed with (`None`: signatures not checked, development mode), and the
/// data keys that open their personal fields.
#[derive(Clone)]
pub struct History {
    pub log: EventLog,
    pub keys: Option<Arc<VerifyKeys>>,
    pub data_keys: Arc<KeyStore>,
}

/// Loads aggregates of one kind from the log through an LRU cache, and
/// queues the commands on each.
pub struct Aggregates<A: Aggregate> {
    history: History,
    cache: Mutex<LruCache<Uuid, Loaded<A>>>,
    queues: Queues<Uuid>,
}

impl<A: Aggregate> Aggregates<A> {
    pub fn new(history: History, capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            history,
            cache: Mutex::new(LruCache::new(capacity)),
            queues: Queues::new(),
        }
    }

    /// Waits for the turn of a command on `id`: the commands this intake
    /// runs on one aggregate run one after the other.
    pub async fn turn(&self, id: Uuid) -> Turn<'_, Uuid> {
        self.queues.turn(id).await
    }

    fn cached(&self, id: Uuid) -> Option<Loaded<A>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&id)
            .cloned()
    }

    pub fn remember(&self, id: Uuid, aggregate: Loaded<A>) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Never replace a fresher entry written by a concurrent command.
        if cache
            .peek(&id)
            .is_none_or(|current| current.last_position <= aggregate.last_position)
        {
            cache.put(id, aggregate);
        }
    }

    /// The aggregate as cached, else assumed new (no events).
    pub fn cached_or_new(&self, id: Uuid) -> Loaded<A> {
        self.cached(id).unwrap_or_else(|| Loaded::new(id))
    }

    /// The aggregate as cached, or read from the log. With `refresh`, the
    /// events after the cached sequence are read too.
    pub async fn load(&self, id: Uuid, refresh: bool) -> Result<Loaded<A>, IntakeError> {
        let cached = self.cached(id);
        if let (Some(aggregate), false) = (&cached, refresh) {
            return Ok(aggregate.clone());
        }
        let mut aggregate = cached.unwrap_or_else(|| Loaded::new(id));
        let subject = sy_domain::event::subject(A::KIND, &id.to_string());
        for stored in self
            .history
            .log
            .read_subject(&subject, aggregate.last_position)
            .await?
        {
            aggregate.fold(&stored, &self.history).await?;
        }
        self.remember(id, aggregate.clone());
        Ok(aggregate)
    }
}
