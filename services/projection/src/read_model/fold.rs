//! The fold: a batch of log events into the read model, committed in one
//! sled transaction across every tree it wrote, checkpoint included. A crash
//! before the commit loses the whole batch and the next run folds it again
//! from the old checkpoint; after it, the checkpoint says the batch is in. So
//! no event is applied twice or skipped.
//!
//! The events are folded before that transaction, against an overlay of
//! each tree ([`super::overlay`]) that reads the batch's own writes first,
//! so several events of one request in a batch see each other; the
//! transaction then only writes. sled holds a process-wide lock while a
//! transaction runs, which every query's read waits for: folding outside it
//! keeps that wait to the writes. Only point reads are used (the overlay
//! cannot scan). Nothing but the commit has a side effect: logging happens
//! after it, from the returned [`BatchOutcome`].
//!
//! Events are dispatched by the kind their subject names. Requests,
//! placements, allowances, stations, webhook subscriptions and double lists are folded by the domain's own
//! `Aggregate::apply` into the state the read model stores (see
//! [`super::registry`]); persons by the masking fold there. Indexes and
//! counters ([`super::board`], [`super::board_period`], [`super::stats`]) move by comparing the state
//! before and after. Events of other kinds are checkpointed past as ignored.
//! A request event rewrites the request's record and appends one entry to
//! its timeline, which is stored apart ([`super::timeline`]), so what an
//! event costs does not grow with the request's history. It also stores the
//! notifications it yields (`sy_domain::notification`), in the same
//! transaction, so a notification exists exactly when its event is folded.
//!
//! Every event moves the running log digest, and an aggregate's event must
//! name the hash of the aggregate's previous event (`prev_hash`): an altered,
//! dropped, reordered or inserted event breaks that link and is quarantined.
//!
//! With verify keys (`ReadModel::verifying`), every event of a kind the
//! read model keeps must carry intake's signature over its stored bytes
//! (`sy_domain::signature`), checked before anything else (on every
//! core: [`super::checked`]): an unsigned
//! event, one signed under an unknown key id, or one whose signature does
//! not match is quarantined, the reason saying which, and counted in
//! [`BatchOutcome::unsigned`]. A forged event with a correct `prev_hash`
//! therefore never reaches a view.
//!
//! Personal fields arrive sealed (`sy_domain::pii`). The fold opens only a
//! person's registration, to mask it, and the text of a request that
//! concerns a person, which it seals again in the read model
//! ([`super::sealed`], [`super::request_text`]); everything else personal
//! is folded sealed, so it never reaches sled in the clear.
//!
//! Events the fold cannot use are quarantined with their position, subject,
//! reason and bytes (and, for an event refused as written by a newer
//! release, its schema version, so an upgraded release knows it now reads
//! it: see `crate::data_dir`), and the fold moves on: a bad event must not
//! stop every later one from being served. Later events of the same aggregate then fail
//! `apply`'s version check and are quarantined too, rather than guessed at.

use std::sync::Arc;

use prost::Message;
use sy_domain::aggregate::{Aggregate, ApplyError};
use sy_domain::allowance::Allowance;
use sy_domain::audit::{LogDigest, check_prev_hash};
use sy_domain::double_list::DoubleList;
use sy_domain::event::{GENESIS_HASH, hash};
use sy_domain::notification::notifications;
use sy_domain::pb::{self, EventEnvelope, event_envelope::Payload};
use sy_domain::person::Person;
use sy_domain::placement::Placement;
use sy_domain::signature::VerifyKeys;
use sy_domain::station::Station;
use sy_domain::subscription::Subscription;
use sy_domain::upcast::UpcastError;
use sy_eventlog::StoredEvent;

use super::checked::{Checked, Unusable, check_batch};
use super::keys::{
    Index, LAST_APPLIED, LOG_DIGEST, PlacementKeys, QUARANTINED, notification_key, read_u64,
    station_key, timeline_key, u64_bytes,
};
use super::overlay::{Overlay, commit};
use super::registry::{self, Record, StoredAllowance, StoredPerson, StoredPlacement};
use super::request_text;
use super::sealed::{BatchKeys, NotOpened};
use super::timeline::StoredEntry;
use super::trees::Trees;
use super::{Quarantined, ReadModel, ReadModelError, board, board_period, counters, stats};

const REQUEST: &str = <pb::Request as Aggregate>::KIND;
const PERSON: &str = <Person as Aggregate>::KIND;
const PLACEMENT: &str = <Placement as Aggregate>::KIND;
const ALLOWANCE: &str = <Allowance as Aggregate>::KIND;
const STATION: &str = <Station as Aggregate>::KIND;
const SUBSCRIPTION: &str = <Subscription as Aggregate>::KIND;
const DOUBLE_LIST: &str = <DoubleList as Aggregate>::KIND;
/// The kinds the read model keeps; events of others are checkpointed past.
const KEPT: [&str; 7] = [
    REQUEST,
    PERSON,
    PLACEMENT,
    ALLOWANCE,
    STATION,
    SUBSCRIPTION,
    DOUBLE_LIST,
];

/// The version of an aggregate's first event.
const FIRST_VERSION: u64 = 1;

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
    /// Of those, events quarantined for their signature (missing, unknown
    /// key id, or not matching).
    pub unsigned: usize,
    /// Position and correlation id of each event folded or quarantined
    /// that carried one, so logs follow a request from intake on.
    pub correlation_ids: Vec<(u64, String)>,
}

/// Why an event was not folded: refused (it is quarantined and the batch
/// goes on), or the read model failed (the batch stops).
enum Skip {
    Refused(String),
    /// Refused for its signature.
    Unsigned(String),
    /// Refused because a newer release wrote it: its schema version.
    Newer(u32, String),
    Failed(ReadModelError),
}

impl From<ReadModelError> for Skip {
    fn from(err: ReadModelError) -> Self {
        Self::Failed(err)
    }
}

impl From<Unusable> for Skip {
    fn from(unusable: Unusable) -> Self {
        match unusable {
            Unusable::Unsigned(reason) => Self::Unsigned(reason),
            Unusable::Refused(reason) => Self::Refused(reason),
            Unusable::Newer(err) => {
                let UpcastError::Newer { found, .. } = err;
                Self::Newer(found, err.to_string())
            }
        }
    }
}

fn refused(reason: impl ToString) -> Skip {
    Skip::Refused(reason.to_string())
}

impl ReadModel {
    /// Folds `events` (in stream order) and moves the checkpoint past them,
    /// atomically. Events at or below the current checkpoint are skipped.
    /// `keys` opens the sealed registrations among them
    /// ([`BatchKeys::gather`]).
    ///
    /// The batch is folded against an overlay of the trees, outside any
    /// sled transaction, and only its writes are committed in one (see
    /// [`super::overlay`]): queries wait for those writes, not the fold.
    pub fn apply_batch(
        &self,
        events: &[StoredEvent],
        keys: &BatchKeys,
    ) -> Result<BatchOutcome, ReadModelError> {
        let checked = check_batch(events, &KEPT, self.verifier.as_deref(), self.schema_version);
        self.fold_checked(events, checked, keys)
    }

    /// `events` (in stream order) checked as this model's fold checks
    /// them: signatures, decoding, upcasting. The costly part of a fold,
    /// and it reads nothing of the model, so the fold task checks a batch
    /// while the one before it is folded.
    pub fn check(&self, events: Vec<StoredEvent>) -> CheckedBatch {
        let checked = check_batch(
            &events,
            &KEPT,
            self.verifier.as_deref(),
            self.schema_version,
        );
        CheckedBatch {
            events,
            checked,
            verifier: self.verifier.clone(),
            schema_version: self.schema_version,
        }
    }

    /// [`Self::apply_batch`] of a batch [`Self::check`] checked. A batch
    /// checked by a model that checks otherwise (other keys or schema
    /// version: a rebuild switched models meanwhile) is checked again.
    pub fn apply_checked(
        &self,
        batch: CheckedBatch,
        keys: &BatchKeys,
    ) -> Result<BatchOutcome, ReadModelError> {
        let same_keys = match (&batch.verifier, &self.verifier) {
            (None, None) => true,
            (Some(checked), Some(ours)) => Arc::ptr_eq(checked, ours),
            _ => false,
        };
        if same_keys && batch.schema_version == self.schema_version {
            self.fold_checked(&batch.events, batch.checked, keys)
        } else {
            self.apply_batch(&batch.events, keys)
        }
    }

    fn fold_checked(
        &self,
        events: &[StoredEvent],
        checked: Vec<Option<Checked>>,
        keys: &BatchKeys,
    ) -> Result<BatchOutcome, ReadModelError> {
        // The overlay reads committed state: no other batch may commit to
        // this model between its reads and its commit.
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let batch = Batch {
            trees: self.trees.map(Overlay::new),
            keys,
        };
        let outcome = batch.fold(events, checked)?;
        commit(&batch.trees.all())?;
        Ok(outcome)
    }
}

/// Events checked by [`ReadModel::check`], with what it found of each and
/// what it checked them with.
pub struct CheckedBatch {
    events: Vec<StoredEvent>,
    checked: Vec<Option<Checked>>,
    verifier: Option<Arc<VerifyKeys>>,
    schema_version: u32,
}

impl std::fmt::Debug for CheckedBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedBatch")
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl CheckedBatch {
    /// The events, in stream order.
    pub fn events(&self) -> &[StoredEvent] {
        &self.events
    }
}

/// Every tree as the batch sees it, its writes held until the commit.
struct Batch<'a> {
    trees: Trees<Overlay<'a>>,
    keys: &'a BatchKeys,
}

/// Counter changes of a batch, summed over its events and written once: hot
/// counters (the board's total row) are touched once per batch.
#[derive(Default)]
struct Deltas {
    board: board::Delta,
    stats: stats::Delta,
}

/// The event being folded and the aggregate it belongs to.
struct At<'e> {
    id: &'e str,
    /// Where the aggregate's hash chain head is kept in `chain`.
    chain_key: String,
    event: &'e StoredEvent,
    envelope: &'e EventEnvelope,
}

/// `before` (or a new aggregate) with `event` folded by the domain's `apply`.
fn applied<A: Aggregate>(
    before: Option<&A>,
    event: &EventEnvelope,
    position: u64,
) -> Result<A, String> {
    let mut state = before.cloned().unwrap_or_default();
    state
        .apply(event, position)
        .map_err(|err| err.to_string())?;
    Ok(state)
}

impl Batch<'_> {
    /// Folds `events`, each with what [`check_batch`] found of it.
    fn fold(
        &self,
        events: &[StoredEvent],
        checked: Vec<Option<Checked>>,
    ) -> Result<BatchOutcome, ReadModelError> {
        let meta = &self.trees.meta;
        let mut outcome = BatchOutcome {
            checkpoint: self.counter(LAST_APPLIED)?,
            ..Default::default()
        };
        let mut deltas = Deltas::default();
        let mut digest = LogDigest {
            position: outcome.checkpoint,
            digest: self.digest()?,
        };
        for (event, checked) in events.iter().zip(checked) {
            if event.position <= outcome.checkpoint {
                outcome.redelivered += 1;
                continue;
            }
            digest.advance(event.position, &event.payload);
            let folded = match checked {
                None => Ok(false),
                Some(checked) => {
                    self.fold_event(event, checked, &mut deltas, &mut outcome.correlation_ids)
                }
            };
            match folded {
                Ok(true) => outcome.applied += 1,
                Ok(false) => outcome.ignored += 1,
                Err(Skip::Refused(reason)) => self.quarantine(event, reason, None, &mut outcome)?,
                Err(Skip::Unsigned(reason)) => {
                    outcome.unsigned += 1;
                    self.quarantine(event, reason, None, &mut outcome)?;
                }
                Err(Skip::Newer(found, reason)) => {
                    self.quarantine(event, reason, Some(found), &mut outcome)?;
                }
                Err(Skip::Failed(err)) => return Err(err),
            }
            outcome.checkpoint = event.position;
        }
        let Deltas { board, stats } = deltas;
        let rows = board
            .rows
            .iter()
            .map(|(key, change)| (key.as_bytes(), *change));
        counters::apply(&self.trees.board, rows)?;
        let due = board
            .due
            .iter()
            .map(|(key, change)| (key.as_bytes(), [*change]));
        counters::apply(&self.trees.board, due)?;
        let stats = stats.iter().map(|(key, change)| (&key[..], [*change]));
        counters::apply(&self.trees.stats, stats)?;
        meta.insert(LAST_APPLIED, &u64_bytes(outcome.checkpoint)[..]);
        meta.insert(LOG_DIGEST, &digest.digest[..]);
        if !outcome.quarantined.is_empty() {
            let total = self.counter(QUARANTINED)? + outcome.quarantined.len() as u64;
            meta.insert(QUARANTINED, &u64_bytes(total)[..]);
        }
        Ok(outcome)
    }

    /// Keeps `event` in the quarantine tree with why it was refused and,
    /// if it was refused as written by a newer release, its schema version.
    fn quarantine(
        &self,
        event: &StoredEvent,
        reason: String,
        newer_schema: Option<u32>,
        outcome: &mut BatchOutcome,
    ) -> Result<(), ReadModelError> {
        let entry = Quarantined::encode(&event.subject, &reason, newer_schema, &event.payload);
        self.trees
            .quarantine
            .insert(&u64_bytes(event.position)[..], entry);
        outcome.quarantined.push((event.position, reason));
        Ok(())
    }

    fn digest(&self) -> Result<[u8; 32], ReadModelError> {
        match self.trees.meta.get(LOG_DIGEST)? {
            None => Ok(LogDigest::default().digest),
            Some(bytes) => bytes
                .as_ref()
                .try_into()
                .map_err(|_| ReadModelError::corrupt("log digest is not 32 bytes")),
        }
    }

    /// The hash the next event of aggregate `id` must name as `prev_hash`
    /// (requests by id, other kinds by `{kind}.{id}`).
    fn chain_head(&self, id: &str) -> Result<[u8; 32], ReadModelError> {
        match self.trees.chain.get(id.as_bytes())? {
            None => Ok(GENESIS_HASH),
            Some(bytes) => bytes
                .as_ref()
                .try_into()
                .map_err(|_| ReadModelError::corrupt("chain hash is not 32 bytes")),
        }
    }

    fn counter(&self, key: &[u8]) -> Result<u64, ReadModelError> {
        match self.trees.meta.get(key)? {
            None => Ok(0),
            Some(bytes) => {
                read_u64(&bytes).ok_or_else(|| ReadModelError::corrupt("meta counter is not a u64"))
            }
        }
    }

    /// Folds one event of a kind the read model keeps.
    fn fold_event(
        &self,
        event: &StoredEvent,
        checked: Checked,
        deltas: &mut Deltas,
        correlation_ids: &mut Vec<(u64, String)>,
    ) -> Result<bool, Skip> {
        let Checked { kind, id, envelope } = checked;
        let id = id.as_str();
        let mut envelope = envelope.map_err(Skip::from)?;
        let opened_with = if kind == PERSON || kind == REQUEST {
            self.keys
                .open_sealed(&mut envelope)
                .map_err(|err| match err {
                    NotOpened::Unreadable(reason) => refused(reason),
                    NotOpened::NotGathered(person) => Skip::Failed(ReadModelError::corrupt(
                        format!("the data key of person {person} was not gathered for the batch"),
                    )),
                })?
        } else {
            None
        };
        if !envelope.correlation_id.is_empty() {
            correlation_ids.push((event.position, envelope.correlation_id.clone()));
        }
        let payload = envelope
            .payload
            .as_ref()
            .ok_or_else(|| refused(ApplyError::MissingPayload))?;
        let position = event.position;
        let t = &self.trees;
        let at = At {
            id,
            // Requests came first and keep their bare id in the chain.
            chain_key: if kind == REQUEST {
                id.to_string()
            } else {
                format!("{kind}.{id}")
            },
            event,
            envelope: &envelope,
        };
        match kind {
            REQUEST => {
                let mut entry = None;
                let (before, after) = self.step(&t.requests, &at, |before| {
                    let (after, new_entry) =
                        request_text::fold(before, &envelope, position, opened_with)?;
                    entry = Some(new_entry);
                    Ok(after)
                })?;
                let entry = entry.ok_or_else(|| {
                    ReadModelError::corrupt("a folded request event left no timeline entry")
                })?;
                let event_type = entry
                    .entry
                    .as_ref()
                    .map(|entry| entry.event_type.clone())
                    .unwrap_or_default();
                t.timeline
                    .insert(timeline_key(id, after.version), entry.encode_record());
                let submitted = match &before {
                    None => position,
                    Some(_) => self.submitted_position(id)?,
                };
                self.reindex(before.as_ref(), &after, submitted);
                if before.is_none() {
                    self.index_concerned_person(&after)?;
                }
                deltas.board.merge(board::delta(before.as_ref(), &after));
                deltas
                    .board
                    .merge(board_period::delta(before.as_ref(), &after));
                let change = pb::RequestChange {
                    position,
                    request_id: after.id.clone(),
                    version: after.version,
                    event_type,
                    status: after.status,
                };
                t.changes
                    .insert(&u64_bytes(position)[..], change.encode_to_vec());
                for told in notifications(&after, &envelope, position) {
                    t.notifications.insert(
                        notification_key(&told.agency, position),
                        told.encode_to_vec(),
                    );
                }
            }
            PERSON => {
                let (before, after) = self.step(&t.people, &at, |before| {
                    registry::person(before, &envelope, position, opened_with)
                })?;
                if before.is_none() {
                    stats::person_registered(&mut deltas.stats, &after.view().area_code);
                }
                if matches!(payload, Payload::PersonErased(_)) {
                    self.forget_requests_text(id)?;
                }
            }
            PLACEMENT => {
                let (before, after) =
                    self.step(&t.placements, &at, |before: Option<&StoredPlacement>| {
                        let state = applied(before.map(|b| &b.state), &envelope, position)?;
                        let registered_position = match payload {
                            Payload::PlacementRegistered(_) => position,
                            _ => before.map_or(position, |b| b.registered_position),
                        };
                        Ok(StoredPlacement {
                            state,
                            registered_position,
                        })
                    })?;
                let before_state = before.as_ref().map(|b| &b.state);
                stats::placement(&mut deltas.stats, before_state, &after.state, payload);
                self.reindex_placement(id, before.as_ref(), &after);
            }
            ALLOWANCE => {
                let area = match payload {
                    Payload::AllowanceGranted(e) => self.person_area(&e.person_id)?,
                    _ => String::new(),
                };
                let (before, after) =
                    self.step(&t.allowances, &at, |before: Option<&StoredAllowance>| {
                        let state = applied(before.map(|b| &b.state), &envelope, position)?;
                        let kept = before.map(|b| b.area_code.clone()).unwrap_or_default();
                        let area_code = if kept.is_empty() { area } else { kept };
                        Ok(StoredAllowance { state, area_code })
                    })?;
                let before_state = before.as_ref().map(|b| &b.state);
                stats::allowance(&mut deltas.stats, before_state, &after.area_code, payload);
            }
            SUBSCRIPTION => {
                self.step(&t.subscriptions, &at, |before| {
                    applied::<Subscription>(before, &envelope, position)
                })?;
            }
            // A list keeps no counters of its own: its progress is read
            // from its items' requests when it is asked for.
            DOUBLE_LIST => {
                self.step(&t.double_lists, &at, |before| {
                    applied::<DoubleList>(before, &envelope, position)
                })?;
            }
            _ => {
                let (before, after) = self.step(&t.stations, &at, |before| {
                    applied::<Station>(before, &envelope, position)
                })?;
                if before.is_none() {
                    t.idx_stations
                        .insert(station_key(after.area_code(), id), &[][..]);
                }
            }
        }
        Ok(true)
    }

    /// Folds the event `at` names into its record in `tree` with `fold`,
    /// checks the hash chain, then writes the record and the chain head.
    /// Returns the record before and after. Nothing is written unless both
    /// checks pass, so a refused event leaves the read model as it was.
    fn step<R: Record>(
        &self,
        tree: &Overlay<'_>,
        at: &At<'_>,
        fold: impl FnOnce(Option<&R>) -> Result<R, String>,
    ) -> Result<(Option<R>, R), Skip> {
        let At {
            id,
            chain_key,
            event,
            envelope,
        } = at;
        let before = tree
            .get(id.as_bytes())?
            .map(|bytes| R::decode_record(&bytes))
            .transpose()?;
        let after = fold(before.as_ref()).map_err(Skip::Refused)?;
        // The record and the chain head are written together, here and
        // nowhere else: an aggregate without a record has no head yet, and
        // its first event must name the genesis hash (one read saved per
        // new aggregate, most of a catch-up's events).
        let head = match before {
            None => GENESIS_HASH,
            Some(_) => self.chain_head(chain_key)?,
        };
        debug_assert!(
            before.is_some() || self.trees.chain.get(chain_key.as_bytes())?.is_none(),
            "a chain head without its record: {chain_key}"
        );
        // After `apply`, so a replayed or skipped version is reported as such;
        // what remains is an event whose content or predecessor was altered.
        check_prev_hash(envelope, &head)
            .map_err(|broken| refused(format!("hash chain broken: {broken}")))?;
        self.trees
            .chain
            .insert(chain_key.as_bytes(), &hash(&event.payload)[..]);
        tree.insert(id.as_bytes(), after.encode_record());
        Ok((before, after))
    }

    /// Notes that the new request `request` concerns its person, if any.
    fn index_concerned_person(&self, request: &pb::Request) -> Result<(), ReadModelError> {
        let Some(person) = request_text::subject(request) else {
            return Ok(());
        };
        let Ok(id) = uuid::Uuid::try_parse(&request.id) else {
            return Ok(());
        };
        let tree = &self.trees.idx_person_requests;
        let mut ids = tree
            .get(person.as_bytes())?
            .map(|ids| ids.to_vec())
            .unwrap_or_default();
        ids.extend_from_slice(id.as_bytes());
        tree.insert(person.as_bytes(), ids);
        Ok(())
    }

    /// Drops the sealed text of every request that concerns the erased
    /// person `person_id`: nothing opens it any more, and a replica folding
    /// the log after the erasure never had it, so both read models agree.
    fn forget_requests_text(&self, person_id: &str) -> Result<(), Skip> {
        let Ok(person) = uuid::Uuid::try_parse(person_id) else {
            return Ok(());
        };
        let Some(ids) = self.trees.idx_person_requests.get(person.as_bytes())? else {
            return Ok(());
        };
        for id in ids.chunks_exact(16) {
            let id = uuid::Uuid::from_slice(id)
                .map_err(|_| ReadModelError::corrupt("a person's request id is not 16 bytes"))?
                .to_string();
            let Some(bytes) = self.trees.requests.get(id.as_bytes())? else {
                continue;
            };
            let mut request = pb::Request::decode_record(&bytes)?;
            if request.sealed_text.take().is_some() {
                self.trees
                    .requests
                    .insert(id.as_bytes(), request.encode_record());
            }
            // Versions run from the first without gaps: a refused event
            // takes none. Point reads: the overlay cannot scan.
            for version in FIRST_VERSION..=request.version {
                let key = timeline_key(&id, version);
                let Some(bytes) = self.trees.timeline.get(&key)? else {
                    continue;
                };
                let mut stored = StoredEntry::decode_record(&bytes)?;
                if stored.sealed_note.take().is_some() {
                    self.trees.timeline.insert(key, stored.encode_record());
                }
            }
        }
        Ok(())
    }

    /// The stream position of request `id`'s submission: its first
    /// timeline entry's.
    fn submitted_position(&self, id: &str) -> Result<u64, ReadModelError> {
        let first = self
            .trees
            .timeline
            .get(timeline_key(id, FIRST_VERSION))?
            .map(|bytes| StoredEntry::decode_record(&bytes))
            .transpose()?
            .and_then(|stored| stored.entry)
            .ok_or_else(|| {
                ReadModelError::corrupt(format!("request {id} has no first timeline entry"))
            })?;
        Ok(first.position)
    }

    /// Moves the request's index entries from where `before` had them;
    /// `submitted` is the position of its submission.
    fn reindex(&self, before: Option<&pb::Request>, after: &pb::Request, submitted: u64) {
        for index in Index::ALL {
            let old = before.and_then(|request| index.key_of(request, submitted));
            let new = index.key_of(after, submitted);
            move_entry(self.trees.index(index), old, new);
        }
    }

    /// The area of person `person_id` as folded so far; empty if unknown.
    fn person_area(&self, person_id: &str) -> Result<String, Skip> {
        Ok(match self.trees.people.get(person_id.as_bytes())? {
            Some(bytes) => StoredPerson::decode_record(&bytes)?
                .view()
                .area_code
                .clone(),
            None => String::new(),
        })
    }

    /// Moves the placement's list index entries from where `before` had them.
    fn reindex_placement(
        &self,
        id: &str,
        before: Option<&StoredPlacement>,
        after: &StoredPlacement,
    ) {
        let keys = |p: &StoredPlacement| PlacementKeys::of(id, p.registered_position, &p.state);
        let old = before.map(keys);
        let new = keys(after);
        let t = &self.trees;
        move_entry(
            &t.idx_placements,
            old.as_ref().map(|k| k.all.clone()),
            Some(new.all),
        );
        let old_status = old.as_ref().map(|k| k.by_status.clone());
        move_entry(&t.idx_placement_status, old_status, Some(new.by_status));
        move_entry(&t.idx_placement_fast, old.and_then(|k| k.fast), new.fast);
    }
}

/// Moves an index entry (values are empty) from key `old` to key `new`.
fn move_entry(tree: &Overlay<'_>, old: Option<Vec<u8>>, new: Option<Vec<u8>>) {
    if old == new {
        return;
    }
    if let Some(old) = old {
        tree.remove(old);
    }
    if let Some(new) = new {
        tree.insert(new, &[][..]);
    }
}
