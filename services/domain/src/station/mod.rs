//! The children's care station aggregate (军娃托管站): free, open at least 8
//! hours a day, for military children aged 3 to 12, with a limited number of
//! seats.
//!
//! The station owns the seat invariant: the children seated never outnumber
//! the seats, and nobody waits while a seat is free. Intake serialises one
//! aggregate's writes with optimistic concurrency, so enrollments racing for
//! the last seat are decided one after the other against the folded state and
//! the loser is waitlisted. `apply` checks the same invariant again, so a log
//! that breaks it (a bug, a hand-edited stream) is quarantined, not folded.
//!
//! Seat order is the order children took their seats; the waitlist is first
//! come, first served: a seat freed by a withdrawal or added by a seat change
//! goes to the child who has waited longest, and the event names who moved up.

mod apply;
mod command;
mod decide;

use jiff::Timestamp;

use crate::aggregate::{Aggregate, ApplyError};
use crate::error::DomainError;
use crate::pb::{Actor, EventEnvelope, event_envelope::Payload};

pub use command::{
    Command, MAX_AGE, MAX_SEATS, MIN_AGE, MIN_OPENING_HOURS, OpeningHours, StationFacts,
};

/// Aggregate kind of stations in subjects and envelopes.
pub const KIND: &str = "station";

/// Namespace of station ids derived from (agency, idempotency key).
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x3f8e_2b71_c4d9_4a06_8b5e_91a7_d2c0_5e13);

/// The id of the station an `Open` creates: derived from the opening agency
/// and its idempotency key, so a retried opening finds its station instead of
/// opening a second one.
pub fn station_id_for(agency: &str, idempotency_key: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(
        &ID_NAMESPACE,
        format!("{KIND}\u{1f}{agency}\u{1f}{idempotency_key}").as_bytes(),
    )
}

/// A station folded from its events. Fields are private so the seat
/// invariant can only change through `apply`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Station {
    id: String,
    version: u64,
    name: String,
    seats: u32,
    opening_hours: String,
    area_code: String,
    address: String,
    /// Person ids of the children holding a seat, in the order they took it.
    seated: Vec<String>,
    /// Person ids of the children waiting for a seat, first in line first.
    waitlist: Vec<String>,
    opened_at: Option<Timestamp>,
    /// The agency that opened the station and runs it: the only one that
    /// may change it, when a role policy is in force.
    operator: String,
}

impl Station {
    /// Whether the station has opened (its first event was folded).
    pub fn is_open(&self) -> bool {
        self.version > 0
    }

    /// The station's name, as opened.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Seats the station offers; children beyond them wait.
    pub fn seats(&self) -> u32 {
        self.seats
    }

    /// As recorded, `HH:MM-HH:MM`.
    pub fn opening_hours(&self) -> &str {
        &self.opening_hours
    }

    /// 12-digit statistical division code.
    pub fn area_code(&self) -> &str {
        &self.area_code
    }

    /// Street address, as recorded.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Children holding a seat, in the order they took it.
    pub fn seated(&self) -> &[String] {
        &self.seated
    }

    /// Children waiting for a seat, first in line first.
    pub fn waitlist(&self) -> &[String] {
        &self.waitlist
    }

    /// The agency that opened the station and runs it.
    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// When the station opened (the first event's `occurred_at`).
    pub fn opened_at(&self) -> Option<Timestamp> {
        self.opened_at
    }

    /// Seats taken. Never more than [`Station::seats`].
    pub fn occupancy(&self) -> u32 {
        // At most `seats`, a u32, by the invariant `apply` keeps.
        u32::try_from(self.seated.len()).unwrap_or(u32::MAX)
    }

    /// Seats not taken.
    pub fn free_seats(&self) -> u32 {
        self.seats.saturating_sub(self.occupancy())
    }

    /// Place in line of a waiting child, counted from 1; `None` when the child
    /// is not waiting (seated or not enrolled).
    pub fn position_in_waitlist(&self, child: &str) -> Option<usize> {
        self.waitlist.iter().position(|c| c == child).map(|i| i + 1)
    }

    /// Whether the child (a person id) holds a seat.
    pub fn is_seated(&self, child: &str) -> bool {
        self.seated.iter().any(|c| c == child)
    }

    /// Seated or waiting.
    pub fn is_enrolled(&self, child: &str) -> bool {
        self.is_seated(child) || self.position_in_waitlist(child).is_some()
    }
}

impl Aggregate for Station {
    const KIND: &'static str = KIND;
    type Command = Command;
    type Facts = StationFacts;

    fn id(&self) -> &str {
        &self.id
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn apply(&mut self, event: &EventEnvelope, position: u64) -> Result<(), ApplyError> {
        apply::apply(self, event, position)
    }

    fn decide(
        &self,
        command: &Command,
        facts: &StationFacts,
        actor: &Actor,
    ) -> Result<Payload, DomainError> {
        decide::decide(self, command, facts, actor)
    }

    fn data_subject(&self, _id: uuid::Uuid, payload: &Payload) -> Option<uuid::Uuid> {
        crate::pii::fields::named_person(payload)
    }
}

#[cfg(test)]
mod tests;
