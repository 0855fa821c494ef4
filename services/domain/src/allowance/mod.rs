//! The unemployed military spouse living allowance (未就业随军家属基本生活保障金,
//! about 1.5 million yuan a year in the district): granted to a registered
//! spouse who is not placed, paid month by month, stopped on request or
//! automatically when the spouse goes on duty.
//!
//! One aggregate per person ([`allowance_id_for`]). A spouse who loses their
//! post may be granted the allowance again: the new grant is a new period of
//! the same aggregate, so the months paid and the total keep their history
//! and a month is never paid twice across periods.
//!
//! Money is integer fen (1 yuan = 100 fen) throughout, never floats.
//!
//! # Lifecycle
//!
//! | state \ command | `Grant`                    | `Pay`                     | `Stop`             |
//! | --------------- | -------------------------- | ------------------------- | ------------------ |
//! | never granted   | `AllowanceGranted` ¹       | `NotFound`                | `NotFound`         |
//! | granted         | `RuleViolated`             | `AllowancePaid` ²         | `AllowanceStopped` |
//! | stopped         | `AllowanceGranted` ¹ ³     | `RuleViolated`            | `RuleViolated`     |
//!
//! ¹ The person must be registered (`NotFound`), a military spouse and not
//!   placed (`RuleViolated`).
//! ² Not while the spouse is placed ("stop the allowance first"), not before
//!   the grant's first month, at most once per month (`RuleViolated`).
//! ³ From a month after the last month paid (`RuleViolated`).
//!
//! Malformed commands are `Invalid` in every state (checked first).

mod apply;
mod command;
mod decide;
mod month;
mod state;

pub use command::{Command, MONTHLY_AMOUNT_FEN};
pub use month::Month;
pub use state::{Allowance, AllowanceStatus, GrantPeriod, Stop};

use crate::aggregate::{Aggregate, ApplyError, Implied, PersonFacts};
use crate::error::DomainError;
use crate::pb::event_envelope::Payload;
use crate::pb::{Actor, EventEnvelope};

/// Namespace of allowance ids derived from person ids.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x3f0e_9a57_c2d1_4b86_a7e4_51c8_0d29_b6f3);

/// The id of `person_id`'s allowance: a v5 UUID of the person id. Unlike the
/// person id itself no secret is needed, because the input is already an
/// opaque id.
pub fn allowance_id_for(person_id: &uuid::Uuid) -> uuid::Uuid {
    uuid::Uuid::new_v5(&ID_NAMESPACE, person_id.as_bytes())
}

/// The stop that `person_id` going on duty as a placed spouse implies
/// (the allowance ends with employment); needed only while it is granted.
pub fn stop_on_placement(person_id: &uuid::Uuid) -> Implied<Allowance> {
    Implied {
        id: allowance_id_for(person_id),
        command: Command::Stop {
            reason: "spouse placed (随军家属已安置)".into(),
            automatic: true,
        },
        needed: |allowance| allowance.status() == Some(AllowanceStatus::Granted),
        key_prefix: "auto-stop",
    }
}

/// What an allowance command needs to know of other aggregates, looked up by
/// the caller: the person (for `Grant`) and whether they are placed (for
/// `Grant` and `Pay`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowanceFacts {
    /// The person the allowance is for; `None` when not registered.
    pub person: Option<PersonFacts>,
    /// The spouse holds a post (a spouse placement on duty).
    pub spouse_placed: bool,
}

impl Aggregate for Allowance {
    const KIND: &'static str = "allowance";
    type Command = Command;
    type Facts = AllowanceFacts;

    fn id(&self) -> &str {
        &self.id
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn apply(&mut self, event: &EventEnvelope, _position: u64) -> Result<(), ApplyError> {
        apply::apply(self, event)
    }

    fn decide(
        &self,
        command: &Command,
        facts: &AllowanceFacts,
        _actor: &Actor,
    ) -> Result<Payload, DomainError> {
        decide::decide(self, command, facts)
    }

    fn data_subject(&self, _id: uuid::Uuid, payload: &Payload) -> Option<uuid::Uuid> {
        crate::pii::fields::named_person(payload).or(self.person_id)
    }
}

#[cfg(test)]
mod tests;
