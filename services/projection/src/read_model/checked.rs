//! The part of folding an event that needs no read model: its subject
//! parsed, its envelope decoded, its signature checked and upcast. It is the
//! costly part (an Ed25519 verification per event), so a batch is checked
//! on every core before it is folded; the fold then only reads and writes
//! the read model.

use std::num::NonZeroUsize;

use prost::Message;
use sy_domain::event::{SCHEMA_VERSION, SUBJECT_PREFIX};
use sy_domain::pb::EventEnvelope;
use sy_domain::signature::VerifyKeys;
use sy_domain::upcast::{UpcastError, upcast_reading};
use sy_eventlog::StoredEvent;

/// Below this many events a batch is checked on the calling thread: a
/// thread's start would cost more than it saves, and a follower's small
/// batches are latency-bound.
const PARALLEL_FROM: usize = 64;

/// An event of a kind the read model keeps, as checked before its batch.
/// Owned, so a batch can be checked while the batch before it is folded.
pub(super) struct Checked {
    /// The aggregate kind (one of the kinds checked for) and id its
    /// subject names.
    pub kind: &'static str,
    pub id: String,
    /// Its envelope, upcast, or why it cannot be folded.
    pub envelope: Result<EventEnvelope, Unusable>,
}

/// Each of `events` checked (`None` for an event of a kind not in `kinds`,
/// which the fold passes over), in order, split over the machine's cores
/// when the batch is large enough.
pub(super) fn check_batch(
    events: &[StoredEvent],
    kinds: &[&'static str],
    verifier: Option<&VerifyKeys>,
    supported: u32,
) -> Vec<Option<Checked>> {
    let check = |event: &StoredEvent| {
        let (kind, id) = aggregate_of(event)?;
        let kind = *kinds.iter().find(|kept| **kept == kind)?;
        Some(Checked {
            kind,
            id: id.to_string(),
            envelope: checked_envelope_reading(event, kind, id, verifier, supported),
        })
    };
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    if cores == 1 || events.len() < PARALLEL_FROM {
        return events.iter().map(check).collect();
    }
    std::thread::scope(|scope| {
        let parts: Vec<_> = events
            .chunks(events.len().div_ceil(cores))
            .map(|part| scope.spawn(move || part.iter().map(check).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|part| {
                part.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The aggregate kind and id of `event`'s subject (`sy.evt.<kind>.<id>`).
fn aggregate_of(event: &StoredEvent) -> Option<(&str, &str)> {
    event
        .subject
        .strip_prefix(SUBJECT_PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.split_once('.'))
}

/// Why an event cannot be folded before its payload is looked at.
#[derive(Debug, Clone)]
pub enum Unusable {
    /// No valid signature by one of the verifier's keys.
    Unsigned(String),
    /// Written by a newer release than the reader's.
    Newer(UpcastError),
    /// It does not decode, or names another aggregate.
    Refused(String),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unsigned(reason) | Self::Refused(reason) => f.write_str(reason),
            Self::Newer(err) => write!(f, "{err}"),
        }
    }
}

/// The envelope of `event`, upcast, if it decodes, carries a signature by
/// one of `verifier`'s keys (when there are keys) and names the aggregate
/// its subject names (`kind` `id`); otherwise why not. The one check every
/// reader of single events shares with the fold.
pub fn checked_envelope(
    event: &StoredEvent,
    kind: &str,
    id: &str,
    verifier: Option<&VerifyKeys>,
) -> Result<EventEnvelope, Unusable> {
    checked_envelope_reading(event, kind, id, verifier, SCHEMA_VERSION)
}

/// [`checked_envelope`] by a reader of schema versions up to `supported`.
fn checked_envelope_reading(
    event: &StoredEvent,
    kind: &str,
    id: &str,
    verifier: Option<&VerifyKeys>,
    supported: u32,
) -> Result<EventEnvelope, Unusable> {
    let envelope = EventEnvelope::decode(event.payload.as_ref())
        .map_err(|err| Unusable::Refused(format!("cannot decode envelope: {err}")))?;
    if let Some(keys) = verifier {
        // On the bytes as stored, before any upcast.
        keys.verify(&event.payload, &envelope)
            .map_err(|err| Unusable::Unsigned(format!("signature: {err}")))?;
    }
    let envelope = upcast_reading(envelope, supported).map_err(Unusable::Newer)?;
    if envelope.aggregate_id != id {
        return Err(Unusable::Refused(format!(
            "subject names {kind} {id} but the envelope names {}",
            envelope.aggregate_id
        )));
    }
    Ok(envelope)
}
