//! The shape every aggregate shares (request, person, placement, allowance,
//! station, double list), so intake can run one pipeline for all kinds and the projection
//! one fold: a state folded from its own events by
//! `apply`, and `decide`, which turns a validated command into the one event
//! it records (one command, one event, one subject: atomic in the log).
//!
//! Rules that span aggregates (a placement needs a registered person of the
//! right role; a station checks a child's age) are decided by the aggregate
//! that owns the invariant, from `Facts` the caller looked up beforehand.
//! Consequences that span aggregates (a spouse going on duty stops their
//! allowance) are [`Implied`] commands, declared in [`crate::follow_up`].

use crate::error::DomainError;
use crate::event::event_type;
use crate::pb::event_envelope::Payload;
use crate::pb::{Actor, EventEnvelope, PersonRole};
use jiff::civil::Date;

/// What other aggregates may know of a registered person (looked up by the
/// caller and passed in `Facts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonFacts {
    /// The person aggregate's id (a UUID in text form).
    pub id: String,
    /// The role the person was registered in (veteran, spouse, child...).
    pub role: PersonRole,
    /// Read from their ID number; stations check a child's age against it.
    pub birth_date: Date,
    /// The six-digit administrative area they were registered in.
    pub area_code: String,
}

/// Why a stored event cannot be folded into an aggregate. The projection
/// quarantines such events; intake refuses to decide on such a history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The envelope carries no payload this build knows.
    #[error("event has no payload it knows (written by a newer schema?)")]
    MissingPayload,
    /// The envelope names another aggregate than the one folding it.
    #[error("event belongs to {kind} {id}, not to {expected_kind} {expected_id}")]
    WrongAggregate {
        /// Kind named by the envelope.
        kind: String,
        /// Aggregate id named by the envelope.
        id: String,
        /// Kind of the aggregate folding it.
        expected_kind: &'static str,
        /// Id of the aggregate folding it (empty before its first event).
        expected_id: String,
    },
    /// The envelope's version is not the aggregate's next one.
    #[error("event has version {actual}, expected {expected}")]
    VersionGap {
        /// The aggregate's version plus one.
        expected: u64,
        /// The version the envelope carries.
        actual: u64,
    },
    /// The event is not allowed from the aggregate's current state.
    #[error("{event_type} cannot happen to a {kind} that is {state}")]
    NotApplicable {
        /// Stable name of the event (`RequestSubmitted`...).
        event_type: &'static str,
        /// Kind of the aggregate folding it.
        kind: &'static str,
        /// The aggregate's current state, as the error shows it.
        state: String,
    },
}

/// A command on an aggregate of kind `A` that an event implies.
pub struct Implied<A: Aggregate> {
    /// The aggregate it addresses.
    pub id: uuid::Uuid,
    /// The command to run on it.
    pub command: A::Command,
    /// Issued only when this holds for the addressed aggregate's current
    /// state; otherwise there is nothing to do (not an error).
    pub needed: fn(&A) -> bool,
    /// Its idempotency key is `{key_prefix}/{causing event id}`.
    pub key_prefix: &'static str,
}

/// One aggregate kind: its state folded from its events, and the decision a
/// command makes on it.
pub trait Aggregate: Clone + Default + Send + Sync + 'static {
    /// Kind in subjects and envelopes (`sy.evt.<KIND>.<id>`).
    const KIND: &'static str;
    /// A command, validated at the edge.
    type Command: Send + Sync;
    /// What a command needs to know of other aggregates.
    type Facts: Default + Send + Sync;

    /// The id the aggregate was created with (empty before its first event).
    fn id(&self) -> &str;

    /// Number of events folded; 0 for an aggregate that does not exist yet.
    fn version(&self) -> u64;

    /// Folds one event stored at stream sequence `position`. Pure and
    /// deterministic; on error the state is unchanged.
    fn apply(&mut self, event: &EventEnvelope, position: u64) -> Result<(), ApplyError>;

    /// The event `command` records, or why it may not happen. Pure.
    fn decide(
        &self,
        command: &Self::Command,
        facts: &Self::Facts,
        actor: &Actor,
    ) -> Result<Payload, DomainError>;

    /// The person whose data key seals the personal fields of `payload`
    /// (see [`crate::pii`]) in the aggregate `id`: the person themselves,
    /// or the person a placement, allowance or seat is for. `None` for kinds
    /// that hold no personal data.
    fn data_subject(&self, _id: uuid::Uuid, _payload: &Payload) -> Option<uuid::Uuid> {
        None
    }
}

/// The checks every `apply` starts with: a payload, this aggregate's kind and
/// id (any id for the first event), the next version. Returns the payload.
pub fn check_envelope<'e, A: Aggregate>(
    state: &A,
    event: &'e EventEnvelope,
) -> Result<&'e Payload, ApplyError> {
    let payload = event.payload.as_ref().ok_or(ApplyError::MissingPayload)?;
    let first = state.version() == 0;
    if event.aggregate_kind != A::KIND || (!first && event.aggregate_id != state.id()) {
        return Err(ApplyError::WrongAggregate {
            kind: event.aggregate_kind.clone(),
            id: event.aggregate_id.clone(),
            expected_kind: A::KIND,
            expected_id: state.id().to_string(),
        });
    }
    if event.aggregate_version != state.version() + 1 {
        return Err(ApplyError::VersionGap {
            expected: state.version() + 1,
            actual: event.aggregate_version,
        });
    }
    Ok(payload)
}

/// `ApplyError::NotApplicable` for `payload` in `state`.
pub fn not_applicable<A: Aggregate>(payload: &Payload, state: impl Into<String>) -> ApplyError {
    ApplyError::NotApplicable {
        event_type: event_type(payload),
        kind: A::KIND,
        state: state.into(),
    }
}

/// given(events) / when(command) / then(event or error) for aggregate tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// An actor for tests.
    pub fn actor(agency: &str) -> Actor {
        Actor {
            agency: agency.into(),
            user: "tester".into(),
        }
    }

    /// The envelope that records `payload` as the next event of `state`,
    /// occurring `hours` after a fixed instant (2026-06-01T00:00Z).
    pub fn envelope<A: Aggregate>(
        state: &A,
        id: &str,
        payload: Payload,
        hours: i64,
    ) -> EventEnvelope {
        EventEnvelope {
            event_id: format!("event-{}", state.version() + 1),
            aggregate_kind: A::KIND.into(),
            aggregate_id: id.into(),
            aggregate_version: state.version() + 1,
            occurred_at: Some(prost_types::Timestamp {
                seconds: 1_780_272_000 + 3600 * hours,
                nanos: 0,
            }),
            actor: Some(actor("tester")),
            payload: Some(payload),
            ..Default::default()
        }
    }

    /// Decides `command` and folds its event `hours` after the fixed instant;
    /// panics if refused (the `given` part of a test).
    pub fn run<A: Aggregate>(
        state: &mut A,
        id: &str,
        command: &A::Command,
        facts: &A::Facts,
        hours: i64,
    ) -> Payload {
        let payload = state
            .decide(command, facts, &actor("tester"))
            .unwrap_or_else(|err| panic!("given must be legal: {err}"));
        let event = envelope(state, id, payload.clone(), hours);
        let position = state.version() + 1;
        state
            .apply(&event, position)
            .expect("a decided event applies");
        payload
    }
}
