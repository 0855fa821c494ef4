//! `sy migrate`: copies a log written before personal data was sealed into
//! a new stream with every personal field sealed, as intake writes today
//! (issue 10, "Existing logs"). The old stream denies purge and deletion, so
//! its plaintext cannot be removed in place: the copy is made, checked, and
//! then the old stream is deleted as a whole (README, "Migrating a log
//! written before sealing").
//!
//! Steps, each safe to repeat:
//! 1. OLD is moved off `sy.evt.>` to `sy.retired.<OLD>.>` (streams cannot
//!    overlap, and the services need `sy.evt.>`); its messages keep their
//!    subjects and are read by sequence. Nothing can append to it any more.
//! 2. NEW is created on `sy.evt.>` exactly as the services create it
//!    ([`EventLog::ensure_stream`]), with its key store.
//! 3. Each OLD event, in order, is checked (its signature with the verify
//!    keys, if given; its aggregate's hash chain), then rebuilt for NEW the
//!    way intake's pipeline builds an event: personal fields sealed under
//!    the data key of the person they concern (found from the aggregate's
//!    state, folded from the clear events as they go), `prev_hash` from
//!    NEW's chain, signed with the signing key, appended on the same subject
//!    with the aggregate's expected last sequence. Everything else (event
//!    id, version, times, actor, idempotency key, command fingerprint) is
//!    kept, so a command retried after the migration is still recognised.
//!
//! Restart: sealing draws fresh nonces, so a copy is compared by meaning,
//! not bytes. Events already in NEW are opened with NEW's key store and
//! must be, in order, the OLD events they were copied from; the copy goes
//! on after the last one. Anything else in their place is refused. Once
//! every OLD event is in NEW, a rerun writes nothing (events the services
//! appended to NEW since are left alone and counted).
//!
//! Refused, never copied: events whose signature is forged or altered (a
//! copy signed with the migration's key would launder them), broken chains,
//! bytes that do not decode (they may hold plaintext that cannot be
//! sealed), and events already sealed (that log needs its own key store;
//! it is not one written before sealing).
//!
//! The report (`--report`) is JSON lines, rewritten whole by every run: one
//! `{"type":"event",...}` line per event (old and new position, subject,
//! event id, old and new hash, whether it was sealed and signed in OLD),
//! then one `{"type":"summary",...}` line with both log digests
//! ([`LogDigest`]) and the counts. It holds ids and hashes, never a value.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use serde::Serialize;
use sy_domain::aggregate::{Aggregate, ApplyError};
use sy_domain::allowance::Allowance;
use sy_domain::audit::{ChainVerifier, LogDigest};
use sy_domain::event::{GENESIS_HASH, hash};
use sy_domain::pb::event_envelope::Payload;
use sy_domain::pb::{self, EventEnvelope};
use sy_domain::person::Person;
use sy_domain::pii::{KekRing, fields};
use sy_domain::placement::Placement;
use sy_domain::signature::{EventSigner, SignatureError, VerifyKeys};
use sy_domain::station::Station;
use sy_domain::upcast::upcast;
use sy_eventlog::keystore::{Create, KeyState, KeyStore, KeyStoreError, Opened};
use sy_eventlog::{EventLog, LogError, StoredEvent};
use uuid::Uuid;

use crate::args::MigrateArgs;
use crate::error::Error;
use crate::log;
use crate::record::hex;

/// Why the migration stops. Names positions, aggregates and paths, never a
/// personal value.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// OLD and NEW are the same stream.
    #[error("--from and --to name the same stream {0}: the copy needs a new one")]
    SameStream(String),
    /// A position of OLD holds no message.
    #[error("{stream} has no event at position {position} (its last is {last})")]
    Missing {
        stream: String,
        position: u64,
        last: u64,
    },
    /// An OLD event does not decode: it may hold plaintext that cannot be sealed.
    #[error("{stream} position {position} is not an EventEnvelope ({reason}): it cannot be sealed")]
    Undecodable {
        stream: String,
        position: u64,
        reason: String,
    },
    /// An OLD event is already sealed.
    #[error(
        "{stream} position {position} is already sealed: this log was written after sealing \
         began and needs its own key store, not a migration"
    )]
    AlreadySealed { stream: String, position: u64 },
    /// An OLD event is not signed by one of the verify keys.
    #[error("{stream} position {position} ({aggregate}): {source}; it is not copied")]
    Signature {
        stream: String,
        position: u64,
        aggregate: String,
        source: SignatureError,
    },
    /// An OLD event does not fit its aggregate's chain.
    #[error("{stream} position {position}: {source}; it is not copied")]
    Chain {
        stream: String,
        position: u64,
        source: sy_domain::audit::ChainBreak,
    },
    /// Personal fields with no person to seal them for.
    #[error("{stream} position {position} ({aggregate}): personal fields that name no person{why}")]
    NoSubject {
        stream: String,
        position: u64,
        aggregate: String,
        /// The fold error that left the aggregate without its person, if any.
        why: String,
    },
    /// Sealing failed.
    #[error("sealing {stream} position {position}: {reason}")]
    Sealing {
        stream: String,
        position: u64,
        reason: String,
    },
    /// NEW holds, where a copy should be, something else.
    #[error(
        "{new} position {new_position} is not the copy of {old} position {old_position} \
         ({reason}): {new} was written by something else; start again with a new --to"
    )]
    NotACopy {
        old: String,
        old_position: u64,
        new: String,
        new_position: u64,
        reason: &'static str,
    },
    /// JetStream stored the append elsewhere than expected.
    #[error("appending {subject} to {stream}: {reason}")]
    Append {
        stream: String,
        subject: String,
        reason: String,
    },
    /// The key store cannot answer.
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::SameStream(_) => Error::Usage(refusal.to_string()),
            other => Error::Failed(other.to_string()),
        }
    }
}

/// The folded state of one aggregate, of whichever kind: what
/// [`Aggregate::data_subject`] needs (a placement's person, an allowance's).
#[derive(Debug)]
enum State {
    Request(Box<pb::Request>),
    Person(Box<Person>),
    Placement(Box<Placement>),
    Allowance(Box<Allowance>),
    Station(Box<Station>),
}

/// Runs `$body` with `$state` bound to the aggregate inside `$self`.
macro_rules! each_kind {
    ($self:expr, $state:ident => $body:expr) => {
        match $self {
            State::Request($state) => $body,
            State::Person($state) => $body,
            State::Placement($state) => $body,
            State::Allowance($state) => $body,
            State::Station($state) => $body,
        }
    };
}

impl State {
    /// An empty aggregate of `kind`, `None` for a kind this build does not know.
    fn new(kind: &str) -> Option<Self> {
        Some(match kind {
            k if k == pb::Request::KIND => State::Request(Box::default()),
            k if k == Person::KIND => State::Person(Box::default()),
            k if k == Placement::KIND => State::Placement(Box::default()),
            k if k == Allowance::KIND => State::Allowance(Box::default()),
            k if k == Station::KIND => State::Station(Box::default()),
            _ => return None,
        })
    }

    fn apply(&mut self, event: &EventEnvelope, position: u64) -> Result<(), ApplyError> {
        each_kind!(self, state => state.apply(event, position))
    }

    fn data_subject(&self, id: Uuid, payload: &Payload) -> Option<Uuid> {
        each_kind!(self, state => state.data_subject(id, payload))
    }
}

/// What NEW holds so far of one aggregate.
#[derive(Debug, Default)]
struct Head {
    /// NEW position of its last event (0: none yet).
    position: u64,
    /// Hash of that event's stored bytes.
    hash: Option<[u8; 32]>,
    /// Its state, folded from the clear events; `None` for unknown kinds.
    state: Option<State>,
    /// Why the last of its events that did not fold was refused.
    fold_error: Option<String>,
}

/// One line of the report.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    Event {
        old_position: u64,
        new_position: u64,
        subject: String,
        event_id: String,
        old_hash: String,
        new_hash: String,
        sealed: bool,
        signed_in_old: bool,
        /// The domain could not fold the event (it is copied all the same,
        /// as the log is the record): why.
        #[serde(skip_serializing_if = "Option::is_none")]
        fold_warning: Option<String>,
    },
    Summary(Summary),
}

/// A digest as the report shows it.
#[derive(Debug, Serialize)]
struct Digest {
    position: u64,
    digest: String,
}

impl From<LogDigest> for Digest {
    fn from(digest: LogDigest) -> Self {
        Self {
            position: digest.position,
            digest: digest.hex(),
        }
    }
}

/// The report's last line.
#[derive(Debug, Serialize)]
struct Summary {
    old_stream: String,
    new_stream: String,
    /// OLD's digest over every event migrated.
    old_digest: Digest,
    /// NEW's digest over the copies (events appended to NEW after the
    /// migration are not in it).
    new_digest: Digest,
    events: u64,
    /// Copied by this run; the rest were in NEW already.
    copied_now: u64,
    sealed: u64,
    unsigned_in_old: u64,
    /// Whether OLD's signatures were checked (`--verify-keys-file`).
    signatures_checked: bool,
    /// Events in NEW after the last copy (written by the services since).
    later_in_new: u64,
}

/// The migration's state as it walks OLD.
struct Migration {
    old: EventLog,
    new: EventLog,
    store: KeyStore,
    signer: EventSigner,
    keys: Option<Arc<VerifyKeys>>,
    chains: ChainVerifier,
    heads: HashMap<String, Head>,
    old_digest: LogDigest,
    new_digest: LogDigest,
    lines: Vec<Line>,
    sealed: u64,
    unsigned: u64,
    copied_now: u64,
    later_in_new: u64,
}

/// An OLD event, checked.
struct Source {
    stored: StoredEvent,
    envelope: EventEnvelope,
    signed: bool,
}

/// Connects to `stream` on the server of `args`.
async fn connect(args: &MigrateArgs, stream: &str, timeout: Duration) -> Result<EventLog, Error> {
    log::connect(
        &args.nats_url,
        stream,
        args.replicas,
        args.nats.auth()?,
        timeout,
    )
    .await
}

/// The subjects OLD is moved to.
fn retired_subjects(old: &str) -> Vec<String> {
    vec![format!("sy.retired.{old}.>")]
}

/// Runs `sy migrate`.
pub async fn run(args: &MigrateArgs, timeout: Duration) -> Result<(), Error> {
    if args.from == args.to {
        return Err(Refusal::SameStream(args.from.clone()).into());
    }
    log::subject_token("--from", &args.from)?;
    let signer = sy_api::event_keys::load_signer(&args.signing_key_file)
        .map_err(|err| Error::Failed(err.to_string()))?;
    let keys = crate::verify::verify_keys(args.verify_keys_file.as_deref())?;
    let ring = KekRing::parse(&sy_api::secret_file::read_private(&args.kek_file)?)
        .map_err(|err| Error::Failed(format!("{}: {err}", args.kek_file.display())))?;

    let old = connect(args, &args.from, timeout).await?;
    let new = connect(args, &args.to, timeout).await?;
    // OLD first: NEW can only take `sy.evt.>` once OLD has let go of it.
    let retired = retired_subjects(&args.from);
    if old.set_subjects(&retired).await? {
        say!(
            "{} moved to {}: nothing can append to it any more",
            args.from,
            retired.join(" ")
        );
    }
    new.ensure_stream(args.replicas).await?;
    let store = KeyStore::open(
        &new,
        Arc::new(ring),
        args.pii_cipher,
        Create::Always,
        args.replicas,
    )
    .await
    .map_err(Refusal::from)?;

    let mut migration = Migration {
        old,
        new,
        store,
        signer,
        keys,
        chains: ChainVerifier::default(),
        heads: HashMap::new(),
        old_digest: LogDigest::default(),
        new_digest: LogDigest::default(),
        lines: Vec::new(),
        sealed: 0,
        unsigned: 0,
        copied_now: 0,
        later_in_new: 0,
    };
    let summary = migration.run().await?;
    let mut text = String::new();
    for line in migration.lines.iter().chain([&Line::Summary(summary)]) {
        let json = serde_json::to_string(line)
            .map_err(|err| Error::Failed(format!("encoding the report: {err}")))?;
        text.push_str(&json);
        text.push('\n');
    }
    std::fs::write(&args.report, text)
        .map_err(Error::io(format!("writing {}", args.report.display())))?;
    print_summary(args, &migration);
    Ok(())
}

/// Prints what the run did.
fn print_summary(args: &MigrateArgs, migration: &Migration) {
    let events = migration.lines.len() as u64;
    let signatures = match migration.keys {
        Some(_) => String::new(),
        None => " (signatures NOT checked: no --verify-keys-file)".to_string(),
    };
    say!(
        "migrated {events} events from {} to {} ({} copied now, {} already there): \
         {} sealed, {} unsigned in {}{signatures}",
        args.from,
        args.to,
        migration.copied_now,
        events - migration.copied_now,
        migration.sealed,
        migration.unsigned,
        args.from,
    );
    if migration.later_in_new > 0 {
        say!(
            "events written to {} after the migration: {} (left as they are)",
            args.to,
            migration.later_in_new
        );
    }
    say!(
        "{} digest {} at position {}; {} digest {} at position {}",
        args.from,
        migration.old_digest.hex(),
        migration.old_digest.position,
        args.to,
        migration.new_digest.hex(),
        migration.new_digest.position
    );
    say!("report: {}", args.report.display());
}

impl Migration {
    /// Walks OLD from position 1, pairing each event with its copy in NEW
    /// or writing it.
    async fn run(&mut self) -> Result<Summary, Error> {
        let old_last = self.old.last_position().await?;
        let new_last = self.new.last_position().await?;
        let bar = log::progress(old_last, "migrating");
        let mut next_new = 1;
        for old_position in 1..=old_last {
            let source = self.source(old_position, old_last).await?;
            let (copy, clear) = if next_new <= new_last {
                let copy = self
                    .new
                    .event_at(next_new)
                    .await?
                    .ok_or_else(|| self.not_a_copy(old_position, next_new, "no event there"))?;
                let clear = self.check_copy(&source, &copy).await?;
                (copy, clear)
            } else {
                let (copy, clear) = self.write(&source).await?;
                self.copied_now += 1;
                (copy, clear)
            };
            next_new = copy.position + 1;
            self.advance(source, copy, &clear);
            bar.inc(1);
        }
        bar.finish_and_clear();
        self.later_in_new = new_last.saturating_sub(next_new - 1);
        Ok(Summary {
            old_stream: self.old.stream_name().to_string(),
            new_stream: self.new.stream_name().to_string(),
            old_digest: self.old_digest.into(),
            new_digest: self.new_digest.into(),
            events: old_last,
            copied_now: self.copied_now,
            sealed: self.sealed,
            unsigned_in_old: self.unsigned,
            signatures_checked: self.keys.is_some(),
            later_in_new: self.later_in_new,
        })
    }

    /// The OLD event at `position`, decoded and checked.
    async fn source(&mut self, position: u64, last: u64) -> Result<Source, Error> {
        let stream = self.old.stream_name().to_string();
        let stored = self
            .old
            .event_at(position)
            .await?
            .ok_or_else(|| Refusal::Missing {
                stream: stream.clone(),
                position,
                last,
            })?;
        let envelope =
            EventEnvelope::decode(stored.payload.as_ref()).map_err(|err| Refusal::Undecodable {
                stream: stream.clone(),
                position,
                reason: err.to_string(),
            })?;
        if envelope.personal.is_some() {
            return Err(Refusal::AlreadySealed { stream, position }.into());
        }
        let signed = match &self.keys {
            Some(keys) => match keys.verify(&stored.payload, &envelope) {
                Ok(_) => true,
                Err(SignatureError::Missing) => false,
                Err(source) => {
                    return Err(Refusal::Signature {
                        stream,
                        position,
                        aggregate: aggregate(&envelope),
                        source,
                    }
                    .into());
                }
            },
            None => !envelope.signature.is_empty(),
        };
        self.chains
            .check(&envelope, &stored.payload)
            .map_err(|source| Refusal::Chain {
                stream: stream.clone(),
                position,
                source,
            })?;
        Ok(Source {
            stored,
            envelope,
            signed,
        })
    }

    /// The envelope NEW gets for `source`, before signing: sealed, chained
    /// onto NEW's head of the aggregate, unsigned.
    async fn rebuild(&self, source: &Source) -> Result<EventEnvelope, Refusal> {
        let mut envelope = source.envelope.clone();
        let head = self.heads.get(&source.stored.subject);
        envelope.prev_hash = head.and_then(|h| h.hash).unwrap_or(GENESIS_HASH).to_vec();
        envelope.signature.clear();
        envelope.signing_key_id.clear();
        let Some(payload) = envelope.payload.as_ref() else {
            return Ok(envelope);
        };
        if !fields::has_personal_data_for(payload, true) {
            return Ok(envelope);
        }
        let position = source.stored.position;
        let no_subject = || Refusal::NoSubject {
            stream: self.old.stream_name().to_string(),
            position,
            aggregate: aggregate(&envelope),
            why: head
                .and_then(|h| h.fold_error.as_deref())
                .map(|err| format!(" (an earlier event of it did not fold: {err})"))
                .unwrap_or_default(),
        };
        let id = Uuid::try_parse(&envelope.aggregate_id).map_err(|_| no_subject())?;
        let fresh;
        let state = match head.and_then(|h| h.state.as_ref()) {
            Some(state) => state,
            None => {
                fresh = State::new(&envelope.aggregate_kind).ok_or_else(no_subject)?;
                &fresh
            }
        };
        let subject = fields::sealing_subject(payload, state.data_subject(id, payload))
            .map_err(|_| no_subject())?;
        let Some(subject) = subject else {
            return Ok(envelope);
        };
        let key = self.store.key_or_create(subject).await?;
        let key = match &key {
            KeyState::Key(key) => Some(key),
            KeyState::Erased { .. } => None,
        };
        fields::seal(&mut envelope, subject, key).map_err(|err| Refusal::Sealing {
            stream: self.old.stream_name().to_string(),
            position,
            reason: err.to_string(),
        })?;
        Ok(envelope)
    }

    /// Seals, signs and appends the copy of `source`; the copy as stored
    /// and the clear envelope to fold.
    async fn write(&self, source: &Source) -> Result<(StoredEvent, EventEnvelope), Error> {
        let mut envelope = self.rebuild(source).await?;
        let bytes = bytes::Bytes::from(self.signer.sign(&mut envelope));
        let subject = &source.stored.subject;
        let expected = self.heads.get(subject).map_or(0, |h| h.position);
        let msg_id = format!("migrate/{}", source.envelope.event_id);
        let refused = |reason: String| Refusal::Append {
            stream: self.new.stream_name().to_string(),
            subject: subject.clone(),
            reason,
        };
        let appended = match self
            .new
            .append(subject, bytes.clone(), expected, &msg_id)
            .await
        {
            Ok(appended) if !appended.duplicate => appended,
            Ok(appended) => {
                return Err(refused(format!(
                    "already stored at position {} (another migration is running?)",
                    appended.position
                ))
                .into());
            }
            Err(LogError::Conflict { .. }) => {
                return Err(refused(
                    "another writer appended to it (are the services stopped?)".into(),
                )
                .into());
            }
            Err(err) => return Err(err.into()),
        };
        Ok((
            StoredEvent {
                position: appended.position,
                subject: subject.clone(),
                payload: bytes,
            },
            source.envelope.clone(),
        ))
    }

    /// Checks that `copy`, already in NEW, is the copy of `source`; the
    /// clear envelope to fold.
    async fn check_copy(
        &self,
        source: &Source,
        copy: &StoredEvent,
    ) -> Result<EventEnvelope, Refusal> {
        let not_a_copy = |reason| self.not_a_copy(source.stored.position, copy.position, reason);
        if copy.subject != source.stored.subject {
            return Err(not_a_copy("another subject"));
        }
        let mut opened = EventEnvelope::decode(copy.payload.as_ref())
            .map_err(|_| not_a_copy("not an EventEnvelope"))?;
        let head = self.heads.get(&copy.subject);
        let expected_prev = head.and_then(|h| h.hash).unwrap_or(GENESIS_HASH);
        if opened.prev_hash != expected_prev {
            return Err(not_a_copy("not chained onto the copy before it"));
        }
        let mut expected = source.envelope.clone();
        match self.store.open_envelope(&mut opened).await? {
            Opened::Clear | Opened::Opened => {}
            // Erased since: what is left must be the rest of the event.
            Opened::Erased => {
                if let Some(subject) = fields::sealed_subject(&opened).map(str::to_string)
                    && let Ok(subject) = Uuid::try_parse(&subject)
                {
                    fields::seal(&mut expected, subject, None)
                        .map_err(|_| not_a_copy("does not seal"))?;
                }
                opened.personal = None;
                expected.personal = None;
            }
        }
        for envelope in [&mut opened, &mut expected] {
            envelope.prev_hash.clear();
            envelope.signature.clear();
            envelope.signing_key_id.clear();
        }
        if opened != expected {
            return Err(not_a_copy("another event"));
        }
        Ok(source.envelope.clone())
    }

    fn not_a_copy(&self, old_position: u64, new_position: u64, reason: &'static str) -> Refusal {
        Refusal::NotACopy {
            old: self.old.stream_name().to_string(),
            old_position,
            new: self.new.stream_name().to_string(),
            new_position,
            reason,
        }
    }

    /// Records `copy` of `source` as the aggregate's head in NEW, folds the
    /// clear envelope, and adds the report line.
    fn advance(&mut self, source: Source, copy: StoredEvent, clear: &EventEnvelope) {
        let new_hash = hash(&copy.payload);
        let sealed = EventEnvelope::decode(copy.payload.as_ref())
            .map(|e| e.personal.is_some())
            .unwrap_or(false);
        self.old_digest
            .advance(source.stored.position, &source.stored.payload);
        self.new_digest.advance(copy.position, &copy.payload);
        let head = self.heads.entry(copy.subject.clone()).or_default();
        head.position = copy.position;
        head.hash = Some(new_hash);
        if head.state.is_none() {
            head.state = State::new(&clear.aggregate_kind);
        }
        let fold_warning = match head.state.as_mut() {
            Some(state) => upcast(clear.clone())
                .map_err(|err| err.to_string())
                .and_then(|e| {
                    state
                        .apply(&e, copy.position)
                        .map_err(|err| err.to_string())
                })
                .err(),
            None => Some(format!("unknown aggregate kind {}", clear.aggregate_kind)),
        };
        if fold_warning.is_some() {
            head.fold_error.clone_from(&fold_warning);
        }
        self.sealed += u64::from(sealed);
        self.unsigned += u64::from(!source.signed);
        self.lines.push(Line::Event {
            old_position: source.stored.position,
            new_position: copy.position,
            subject: copy.subject,
            event_id: source.envelope.event_id,
            old_hash: hex(&hash(&source.stored.payload)),
            new_hash: hex(&new_hash),
            sealed,
            signed_in_old: source.signed,
            fold_warning,
        });
    }
}

/// `kind id version N`, for messages.
fn aggregate(envelope: &EventEnvelope) -> String {
    format!(
        "{} {} version {}",
        envelope.aggregate_kind, envelope.aggregate_id, envelope.aggregate_version
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_folds_and_a_placement_knows_its_person() {
        for kind in ["request", "person", "placement", "allowance", "station"] {
            assert!(State::new(kind).is_some(), "{kind}");
        }
        assert!(State::new("unknown").is_none());

        let person = Uuid::now_v7();
        let programme = pb::Programme::SpousePlacement;
        let id = sy_domain::placement::placement_id_for(&person, programme);
        let mut state = State::new("placement").unwrap();
        let withdrawn = Payload::PlacementWithdrawn(pb::PlacementWithdrawn {
            reason: "moved".into(),
        });
        assert_eq!(state.data_subject(id, &withdrawn), None);
        let registered = EventEnvelope {
            event_id: Uuid::now_v7().to_string(),
            aggregate_kind: "placement".into(),
            aggregate_id: id.to_string(),
            aggregate_version: 1,
            payload: Some(Payload::PlacementRegistered(pb::PlacementRegistered {
                programme: programme as i32,
                person_id: person.to_string(),
                area_code: "500106002003".into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        state.apply(&registered, 1).unwrap();
        assert_eq!(state.data_subject(id, &withdrawn), Some(person));
    }

    #[test]
    fn report_lines_are_tagged() {
        let line = Line::Summary(Summary {
            old_stream: "OLD".into(),
            new_stream: "NEW".into(),
            old_digest: LogDigest::default().into(),
            new_digest: LogDigest::default().into(),
            events: 0,
            copied_now: 0,
            sealed: 0,
            unsigned_in_old: 0,
            signatures_checked: false,
            later_in_new: 0,
        });
        let json = serde_json::to_string(&line).unwrap();
        assert!(
            json.starts_with(r#"{"type":"summary","old_stream":"OLD""#),
            "{json}"
        );
        assert!(json.contains(&format!(r#""digest":"{}""#, "0".repeat(64))));
    }
}
