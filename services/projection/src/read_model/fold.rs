//! The fold: a batch of log events into the read model in one sled
//! transaction across every tree, checkpoint included. A crash before the
//! commit loses the whole batch and the next run folds it again from the old
//! checkpoint; after it, the checkpoint says the batch is in. So no event is
//! applied twice or skipped.
//!
//! Inside the transaction only point reads and writes are used (sled 0.34
//! transactions cannot scan); transactional trees read their own writes, so
//! several events of one request in a batch see each other. The closure may be
//! rerun by sled on a conflict, so it has no side effects besides its writes:
//! logging happens after the commit, from the returned [`BatchOutcome`].
//!
//! Every event moves the running log digest, and a request's event must name
//! the hash of the request's previous event (`prev_hash`): an altered,
//! dropped, reordered or inserted event breaks that link and is quarantined.
//!
//! Events the fold cannot use are quarantined with their position, subject,
//! reason and bytes, and the fold moves on: a bad event must not stop every
//! later one from being served. Later events of the same request then fail
//! `apply`'s version check and are quarantined too, rather than guessed at.

use prost::Message;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sy_domain::audit::{LogDigest, check_prev_hash};
use sy_domain::event::{GENESIS_HASH, hash, subject};
use sy_domain::pb::{self, EventEnvelope};
use sy_domain::request::{KIND, apply};
use sy_domain::upcast::upcast;
use sy_eventlog::StoredEvent;

use super::keys::{Index, LAST_APPLIED, LOG_DIGEST, QUARANTINED, read_u64, u64_bytes};
use super::{Quarantined, ReadModel, ReadModelError, board, decode_request};

/// What a batch did; the fold task logs it and publishes `checkpoint`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// The checkpoint after the batch: the last position folded.
    pub checkpoint: u64,
    /// Request events applied.
    pub applied: usize,
    /// Events of other aggregate kinds, checkpointed past.
    pub ignored: usize,
    /// Events at or below the checkpoint (redelivered), skipped.
    pub redelivered: usize,
    /// Events quarantined by this batch: position and reason.
    pub quarantined: Vec<(u64, String)>,
}

type TxResult<T> = Result<T, ConflictableTransactionError<ReadModelError>>;

fn abort(err: ReadModelError) -> ConflictableTransactionError<ReadModelError> {
    ConflictableTransactionError::Abort(err)
}

impl ReadModel {
    /// Folds `events` (in stream order) and moves the checkpoint past them,
    /// atomically. Events at or below the current checkpoint are skipped.
    pub fn apply_batch(&self, events: &[StoredEvent]) -> Result<BatchOutcome, ReadModelError> {
        let t = &self.trees;
        (
            &t.meta,
            &t.requests,
            &t.chain,
            &t.idx_all,
            &t.idx_status,
            &t.idx_department,
            &t.idx_open_due,
            &t.board,
            &t.changes,
            &t.quarantine,
        )
            .transaction(
                |(
                    meta,
                    requests,
                    chain,
                    idx_all,
                    idx_status,
                    idx_department,
                    idx_open_due,
                    board,
                    changes,
                    quarantine,
                )| {
                    Batch {
                        meta,
                        requests,
                        chain,
                        indexes: [idx_all, idx_status, idx_department, idx_open_due],
                        board,
                        changes,
                        quarantine,
                    }
                    .fold(events)
                },
            )
            .map_err(|err| match err {
                TransactionError::Abort(err) => err,
                TransactionError::Storage(err) => ReadModelError::Storage(err),
            })
    }
}

/// The transactional view of every tree during one batch.
struct Batch<'a> {
    meta: &'a TransactionalTree,
    requests: &'a TransactionalTree,
    chain: &'a TransactionalTree,
    /// In [`Index::ALL`] order.
    indexes: [&'a TransactionalTree; 4],
    board: &'a TransactionalTree,
    changes: &'a TransactionalTree,
    quarantine: &'a TransactionalTree,
}

/// What became of one event.
enum Verdict {
    Applied,
    Ignored,
    Refused(String),
}

impl Batch<'_> {
    fn fold(&self, events: &[StoredEvent]) -> TxResult<BatchOutcome> {
        let mut outcome = BatchOutcome {
            checkpoint: self.counter(LAST_APPLIED)?,
            ..Default::default()
        };
        // Board changes are summed over the batch and written once: hot
        // counters (the total row) are touched once per batch, not per event.
        let mut counters = board::Delta::default();
        let mut digest = LogDigest {
            position: outcome.checkpoint,
            digest: self.digest()?,
        };
        for event in events {
            if event.position <= outcome.checkpoint {
                outcome.redelivered += 1;
                continue;
            }
            digest.advance(event.position, &event.payload);
            match self.fold_event(event, &mut counters)? {
                Verdict::Applied => outcome.applied += 1,
                Verdict::Ignored => outcome.ignored += 1,
                Verdict::Refused(reason) => {
                    let entry = Quarantined::encode(&event.subject, &reason, &event.payload);
                    self.quarantine
                        .insert(&u64_bytes(event.position)[..], entry)?;
                    outcome.quarantined.push((event.position, reason));
                }
            }
            outcome.checkpoint = event.position;
        }
        self.count(counters)?;
        self.meta
            .insert(LAST_APPLIED, &u64_bytes(outcome.checkpoint)[..])?;
        self.meta.insert(LOG_DIGEST, &digest.digest[..])?;
        if !outcome.quarantined.is_empty() {
            let total = self.counter(QUARANTINED)? + outcome.quarantined.len() as u64;
            self.meta.insert(QUARANTINED, &u64_bytes(total)[..])?;
        }
        Ok(outcome)
    }

    fn digest(&self) -> TxResult<[u8; 32]> {
        match self.meta.get(LOG_DIGEST)? {
            None => Ok(LogDigest::default().digest),
            Some(bytes) => bytes
                .as_ref()
                .try_into()
                .map_err(|_| abort(ReadModelError::corrupt("log digest is not 32 bytes"))),
        }
    }

    /// The hash the next event of request `id` must name as `prev_hash`.
    fn chain_head(&self, id: &str) -> TxResult<[u8; 32]> {
        match self.chain.get(id.as_bytes())? {
            None => Ok(GENESIS_HASH),
            Some(bytes) => bytes
                .as_ref()
                .try_into()
                .map_err(|_| abort(ReadModelError::corrupt("chain hash is not 32 bytes"))),
        }
    }

    fn counter(&self, key: &[u8]) -> TxResult<u64> {
        match self.meta.get(key)? {
            None => Ok(0),
            Some(bytes) => read_u64(&bytes)
                .ok_or_else(|| abort(ReadModelError::corrupt("meta counter is not a u64"))),
        }
    }

    fn fold_event(&self, event: &StoredEvent, counters: &mut board::Delta) -> TxResult<Verdict> {
        let Some(id) = event.subject.strip_prefix(&subject(KIND, "")) else {
            return Ok(Verdict::Ignored);
        };
        let envelope = match EventEnvelope::decode(event.payload.as_ref()) {
            Ok(envelope) => envelope,
            Err(err) => return Ok(Verdict::Refused(format!("cannot decode envelope: {err}"))),
        };
        let envelope = match upcast(envelope) {
            Ok(envelope) => envelope,
            Err(err) => return Ok(Verdict::Refused(err.to_string())),
        };
        if envelope.aggregate_id != id {
            return Ok(Verdict::Refused(format!(
                "subject names request {id} but the envelope names {}",
                envelope.aggregate_id
            )));
        }
        let before = match self.requests.get(id.as_bytes())? {
            Some(bytes) => Some(decode_request(&bytes).map_err(abort)?),
            None => None,
        };
        let mut after = before.clone().unwrap_or_default();
        if let Err(err) = apply(&mut after, &envelope, event.position) {
            return Ok(Verdict::Refused(err.to_string()));
        }
        // After `apply`, so a replayed or skipped version is reported as such;
        // what remains is an event whose content or predecessor was altered.
        if let Err(broken) = check_prev_hash(&envelope, &self.chain_head(id)?) {
            return Ok(Verdict::Refused(format!("hash chain broken: {broken}")));
        }
        self.requests.insert(id.as_bytes(), after.encode_to_vec())?;
        self.chain
            .insert(id.as_bytes(), &hash(&event.payload)[..])?;
        self.reindex(before.as_ref(), &after)?;
        counters.merge(board::delta(before.as_ref(), &after));
        let change = pb::RequestChange {
            position: event.position,
            request_id: after.id.clone(),
            version: after.version,
            event_type: after
                .timeline
                .last()
                .map(|entry| entry.event_type.clone())
                .unwrap_or_default(),
            status: after.status,
        };
        self.changes
            .insert(&u64_bytes(event.position)[..], change.encode_to_vec())?;
        Ok(Verdict::Applied)
    }

    /// Moves the request's index entries from where `before` had them.
    fn reindex(&self, before: Option<&pb::Request>, after: &pb::Request) -> TxResult<()> {
        for (index, tree) in Index::ALL.into_iter().zip(self.indexes) {
            let old = before.and_then(|request| index.key_of(request));
            let new = index.key_of(after);
            if old == new {
                continue;
            }
            if let Some(old) = old {
                tree.remove(old)?;
            }
            if let Some(new) = new {
                tree.insert(new, &[][..])?;
            }
        }
        Ok(())
    }

    /// Applies the batch's board changes, dropping counters that reach zero.
    fn count(&self, delta: board::Delta) -> TxResult<()> {
        for (key, change) in &delta.rows {
            if change.iter().all(|c| *c == 0) {
                continue;
            }
            let counts = match self.board.get(key.as_bytes())? {
                None => [0; board::FIELDS],
                Some(bytes) => board::decode(&bytes).ok_or_else(|| {
                    abort(ReadModelError::corrupt(format!(
                        "board row {key} is malformed"
                    )))
                })?,
            };
            let counts = board::add(counts, change);
            if counts == [0; board::FIELDS] {
                self.board.remove(key.as_bytes())?;
            } else {
                self.board.insert(key.as_bytes(), board::encode(&counts))?;
            }
        }
        for (key, change) in &delta.due {
            if *change == 0 {
                continue;
            }
            let count = match self.board.get(key.as_bytes())? {
                None => 0,
                Some(bytes) => read_u64(&bytes).ok_or_else(|| {
                    abort(ReadModelError::corrupt(format!(
                        "due counter {key} is malformed"
                    )))
                })?,
            };
            debug_assert!(
                count.checked_add_signed(*change).is_some(),
                "due counter out of range"
            );
            match count.saturating_add_signed(*change) {
                0 => self.board.remove(key.as_bytes())?,
                count => self.board.insert(key.as_bytes(), &u64_bytes(count)[..])?,
            };
        }
        Ok(())
    }
}
