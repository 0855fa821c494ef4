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
//! Events are dispatched by the kind their subject names: requests, and the
//! placement programmes' persons, placements, allowances and stations (folded
//! by [`super::registry`] into views, counted by [`super::stats`]); events
//! of other kinds are checkpointed past as ignored.
//!
//! Every event moves the running log digest, and an aggregate's event must
//! name the hash of the aggregate's previous event (`prev_hash`): an altered,
//! dropped, reordered or inserted event breaks that link and is quarantined.
//!
//! Events the fold cannot use are quarantined with their position, subject,
//! reason and bytes, and the fold moves on: a bad event must not stop every
//! later one from being served. Later events of the same aggregate then fail
//! `apply`'s version check and are quarantined too, rather than guessed at.

use prost::Message;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sy_domain::aggregate::Aggregate;
use sy_domain::allowance::Allowance;
use sy_domain::audit::{LogDigest, check_prev_hash};
use sy_domain::event::{GENESIS_HASH, SUBJECT_PREFIX, hash};
use sy_domain::pb::{self, EventEnvelope, event_envelope::Payload};
use sy_domain::person::Person;
use sy_domain::request::KIND;
use sy_domain::upcast::upcast;
use sy_eventlog::StoredEvent;

use super::keys::{
    Index, LAST_APPLIED, LOG_DIGEST, QUARANTINED, newest_first, read_u64, u64_bytes,
};
use super::registry::{self, StoredAllowance, StoredPlacement, status_named};
use super::{Quarantined, ReadModel, ReadModelError, board, decode_request, stats};

const PERSON: &str = <Person as Aggregate>::KIND;
const PLACEMENT: &str = sy_domain::placement::KIND;
const ALLOWANCE: &str = <Allowance as Aggregate>::KIND;
const STATION: &str = sy_domain::station::KIND;
/// The placement programmes' aggregate kinds, folded beside requests.
const REGISTRY_KINDS: [&str; 4] = [PERSON, PLACEMENT, ALLOWANCE, STATION];

/// What a batch did; the fold task logs it and publishes `checkpoint`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// The checkpoint after the batch: the last position folded.
    pub checkpoint: u64,
    /// Events applied (requests and the placement programmes' kinds).
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
        let trees = self.trees.all();
        trees[..]
            .transaction(|tx| {
                let [
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
                    people,
                    placements,
                    allowances,
                    stations,
                    idx_placements,
                    idx_placement_status,
                    idx_placement_fast,
                    idx_stations,
                    stats,
                ] = tx.as_slice()
                // sled gives one transactional tree per tree, in order.
                else {
                    return Err(abort(ReadModelError::corrupt(
                        "the batch transaction did not open every tree",
                    )));
                };
                Batch {
                    meta,
                    requests,
                    chain,
                    indexes: [idx_all, idx_status, idx_department, idx_open_due],
                    board,
                    changes,
                    quarantine,
                    registry: Registry {
                        people,
                        placements,
                        allowances,
                        stations,
                        idx_placements,
                        idx_placement_status,
                        idx_placement_fast,
                        idx_stations,
                    },
                    stats,
                }
                .fold(events)
            })
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
    registry: Registry<'a>,
    stats: &'a TransactionalTree,
}

/// The placement programmes' trees (see [`super`]).
struct Registry<'a> {
    people: &'a TransactionalTree,
    placements: &'a TransactionalTree,
    allowances: &'a TransactionalTree,
    stations: &'a TransactionalTree,
    idx_placements: &'a TransactionalTree,
    idx_placement_status: &'a TransactionalTree,
    idx_placement_fast: &'a TransactionalTree,
    idx_stations: &'a TransactionalTree,
}

/// The envelope of `event`, upcast, if it decodes and names the aggregate
/// its subject names; otherwise why not.
fn decode(event: &StoredEvent, kind: &str, id: &str) -> Result<EventEnvelope, String> {
    let envelope = EventEnvelope::decode(event.payload.as_ref())
        .map_err(|err| format!("cannot decode envelope: {err}"))?;
    let envelope = upcast(envelope).map_err(|err| err.to_string())?;
    if envelope.aggregate_id != id {
        return Err(format!(
            "subject names {kind} {id} but the envelope names {}",
            envelope.aggregate_id
        ));
    }
    Ok(envelope)
}

fn decoded<M: Message + Default>(what: &str, bytes: &[u8]) -> TxResult<M> {
    M::decode(bytes).map_err(|err| abort(ReadModelError::corrupt(format!("stored {what}: {err}"))))
}

/// The stored view of `id` in `tree`, if any.
fn stored<M: Message + Default>(
    tree: &TransactionalTree,
    what: &str,
    id: &str,
) -> TxResult<Option<M>> {
    tree.get(id.as_bytes())?
        .map(|bytes| decoded(what, &bytes))
        .transpose()
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
        let mut stats = stats::Delta::default();
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
            match self.fold_event(event, &mut counters, &mut stats)? {
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
        self.count_stats(&stats)?;
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

    /// The hash the next event of aggregate `id` must name as `prev_hash`
    /// (requests by id, other kinds by `{kind}.{id}`).
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

    fn fold_event(
        &self,
        event: &StoredEvent,
        counters: &mut board::Delta,
        stats: &mut stats::Delta,
    ) -> TxResult<Verdict> {
        let Some((kind, id)) = event
            .subject
            .strip_prefix(SUBJECT_PREFIX)
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|rest| rest.split_once('.'))
        else {
            return Ok(Verdict::Ignored);
        };
        if kind == KIND {
            return self.fold_request(event, id, counters);
        }
        if !REGISTRY_KINDS.contains(&kind) {
            return Ok(Verdict::Ignored);
        }
        let envelope = match decode(event, kind, id) {
            Ok(envelope) => envelope,
            Err(reason) => return Ok(Verdict::Refused(reason)),
        };
        self.registry_event(kind, id, event, &envelope, stats)
    }

    fn fold_request(
        &self,
        event: &StoredEvent,
        id: &str,
        counters: &mut board::Delta,
    ) -> TxResult<Verdict> {
        let envelope = match decode(event, KIND, id) {
            Ok(envelope) => envelope,
            Err(reason) => return Ok(Verdict::Refused(reason)),
        };
        let before = match self.requests.get(id.as_bytes())? {
            Some(bytes) => Some(decode_request(&bytes).map_err(abort)?),
            None => None,
        };
        let mut after = before.clone().unwrap_or_default();
        if let Err(err) = after.apply(&envelope, event.position) {
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

impl Batch<'_> {
    /// Folds an event of the placement programmes; `envelope` is decoded and
    /// names `id`. Like requests: `apply` first, then the hash chain (keyed
    /// `{kind}.{id}` in `chain`), then the writes.
    fn registry_event(
        &self,
        kind: &str,
        id: &str,
        event: &StoredEvent,
        envelope: &EventEnvelope,
        stats: &mut stats::Delta,
    ) -> TxResult<Verdict> {
        let chain_key = format!("{kind}.{id}");
        let r = &self.registry;
        let Some(payload) = envelope.payload.as_ref() else {
            return Ok(Verdict::Refused(
                "event has no payload it knows (written by a newer schema?)".into(),
            ));
        };
        let write: Write = match kind {
            PERSON => {
                let before: Option<pb::PersonView> = stored(r.people, "person", id)?;
                match registry::person(before.as_ref(), envelope, event.position) {
                    Err(reason) => return Ok(Verdict::Refused(reason)),
                    Ok(after) => Write::Person { before, after },
                }
            }
            PLACEMENT => {
                let before: Option<StoredPlacement> = stored(r.placements, "placement", id)?;
                match registry::placement(before.as_ref(), envelope, event.position) {
                    Err(reason) => return Ok(Verdict::Refused(reason)),
                    Ok(after) => Write::Placement { before, after },
                }
            }
            ALLOWANCE => {
                let before: Option<StoredAllowance> = stored(r.allowances, "allowance", id)?;
                let area = match payload {
                    Payload::AllowanceGranted(e) => self.person_area(&e.person_id)?,
                    _ => String::new(),
                };
                match registry::allowance(before.as_ref(), envelope, &area) {
                    Err(reason) => return Ok(Verdict::Refused(reason)),
                    Ok(after) => Write::Allowance { before, after },
                }
            }
            // STATION: the caller admits only `REGISTRY_KINDS`.
            _ => {
                let before: Option<pb::StationView> = stored(r.stations, "station", id)?;
                match registry::station(before.as_ref(), envelope) {
                    Err(reason) => return Ok(Verdict::Refused(reason)),
                    Ok(after) => Write::Station { before, after },
                }
            }
        };
        if let Err(broken) = check_prev_hash(envelope, &self.chain_head(&chain_key)?) {
            return Ok(Verdict::Refused(format!("hash chain broken: {broken}")));
        }
        self.chain
            .insert(chain_key.as_bytes(), &hash(&event.payload)[..])?;
        match write {
            Write::Person { before, after } => {
                if before.is_none() {
                    stats::person_registered(stats, &after.area_code);
                }
                r.people.insert(id.as_bytes(), after.encode_to_vec())?;
            }
            Write::Placement { before, after } => {
                stats::placement(stats, before.as_ref(), &after, payload);
                self.reindex_placement(id, before.as_ref(), &after)?;
                r.placements.insert(id.as_bytes(), after.encode_to_vec())?;
            }
            Write::Allowance { before, after } => {
                stats::allowance(stats, before.as_ref(), &after, payload);
                r.allowances.insert(id.as_bytes(), after.encode_to_vec())?;
            }
            Write::Station { before, after } => {
                if before.is_none() {
                    r.idx_stations
                        .insert(station_key(&after.area_code, id), &[][..])?;
                }
                r.stations.insert(id.as_bytes(), after.encode_to_vec())?;
            }
        }
        Ok(Verdict::Applied)
    }

    /// The area of person `person_id` as folded so far; empty if unknown.
    fn person_area(&self, person_id: &str) -> TxResult<String> {
        Ok(match self.registry.people.get(person_id.as_bytes())? {
            Some(bytes) => decoded::<pb::PersonView>("person", &bytes)?.area_code,
            None => String::new(),
        })
    }

    /// Moves the placement's list index entries from where `before` had them.
    fn reindex_placement(
        &self,
        id: &str,
        before: Option<&StoredPlacement>,
        after: &StoredPlacement,
    ) -> TxResult<()> {
        let r = &self.registry;
        let old = before.map(|b| placement_keys(id, b));
        let new = placement_keys(id, after);
        if old.as_ref() == Some(&new) {
            return Ok(());
        }
        if let Some(old) = old {
            r.idx_placements.remove(old.all)?;
            r.idx_placement_status.remove(old.by_status)?;
            if let Some(fast) = old.fast {
                r.idx_placement_fast.remove(fast)?;
            }
        }
        r.idx_placements.insert(new.all, &[][..])?;
        r.idx_placement_status.insert(new.by_status, &[][..])?;
        if let Some(fast) = new.fast {
            r.idx_placement_fast.insert(fast, &[][..])?;
        }
        Ok(())
    }

    /// Applies the batch's statistics changes, dropping counters at zero.
    fn count_stats(&self, delta: &stats::Delta) -> TxResult<()> {
        for (key, change) in delta {
            if *change == 0 {
                continue;
            }
            let count = match self.stats.get(key)? {
                None => 0,
                Some(bytes) => read_u64(&bytes).ok_or_else(|| {
                    abort(ReadModelError::corrupt("a stats counter is malformed"))
                })?,
            };
            match count.saturating_add_signed(*change) {
                0 => self.stats.remove(&key[..])?,
                count => self.stats.insert(&key[..], &u64_bytes(count)[..])?,
            };
        }
        Ok(())
    }
}

/// A registry aggregate before and after its event, to be written.
enum Write {
    Person {
        before: Option<pb::PersonView>,
        after: pb::PersonView,
    },
    Placement {
        before: Option<StoredPlacement>,
        after: StoredPlacement,
    },
    Allowance {
        before: Option<StoredAllowance>,
        after: StoredAllowance,
    },
    Station {
        before: Option<pb::StationView>,
        after: pb::StationView,
    },
}

/// A placement's keys in the placement list indexes.
#[derive(Debug, PartialEq, Eq)]
struct PlacementKeys {
    /// `idx_placements`: `[newest first 8][id]`.
    all: Vec<u8>,
    /// `idx_placement_status`: `[programme][status][newest first 8][id]`.
    by_status: Vec<u8>,
    /// `idx_placement_fast`, for fast-lane placements: as `all`.
    fast: Option<Vec<u8>>,
}

fn placement_keys(id: &str, placement: &StoredPlacement) -> PlacementKeys {
    let mut all = newest_first(placement.registered_position).to_vec();
    all.extend_from_slice(id.as_bytes());
    let view = placement.view.as_ref();
    let mut by_status = placement_status_prefix(
        view.map_or(0, |v| v.programme),
        view.and_then(|v| status_named(&v.status)),
    );
    by_status.extend_from_slice(&all);
    let fast = view.is_some_and(|v| v.fast_lane).then(|| all.clone());
    PlacementKeys {
        all,
        by_status,
        fast,
    }
}

/// Prefix of `idx_placement_status` for one programme and status.
pub(super) fn placement_status_prefix(
    programme: i32,
    status: Option<sy_domain::placement::Status>,
) -> Vec<u8> {
    vec![
        u8::try_from(programme).unwrap_or(u8::MAX),
        status.map_or(u8::MAX, |s| s as u8),
    ]
}

/// A station's key in `idx_stations`: `[area code][/][id]`.
pub(super) fn station_key(area_code: &str, id: &str) -> Vec<u8> {
    format!("{area_code}/{id}").into_bytes()
}
