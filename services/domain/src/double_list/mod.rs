//! The yearly double list (双清单): each year the coordinating office lists
//! the troops' needs for the locality and the locality's needs for the
//! troops, one list per year and direction ([`double_list_id`]). Its items
//! are requests, so its progress is read from the requests themselves and
//! never kept twice.
//!
//! Drafting and publishing are events: a published list is what was
//! promised, so it is fixed from then on (no item added or removed).
//!
//! # Lifecycle
//!
//! | state \ command | `Add`                 | `Remove`                | `Publish`             |
//! | --------------- | --------------------- | ----------------------- | --------------------- |
//! | no item yet     | `DoubleListItemAdded` ¹ | `NotFound`            | `NotFound`            |
//! | draft           | `DoubleListItemAdded` ¹ | `DoubleListItemRemoved` ² | `DoubleListPublished` ³ |
//! | published       | `RuleViolated`        | `RuleViolated`          | `RuleViolated`        |
//!
//! ¹ The request must exist (`NotFound`), have the list's direction and not
//!   be on the list yet (`RuleViolated`).
//! ² The request must be on the list (`NotFound`).
//! ³ The list must have an item (`RuleViolated`).
//!
//! Malformed commands (a year outside 2000 to next year, no direction, a
//! request id that is no UUID, an over-long note or reason) are `Invalid`.

mod apply;
mod command;
mod decide;
mod state;

pub use command::{Command, FIRST_YEAR};
pub use state::{DoubleList, Item};

use crate::aggregate::{Aggregate, ApplyError};
use crate::error::DomainError;
use crate::pb::event_envelope::Payload;
use crate::pb::{Actor, Direction, EventEnvelope};

/// Namespace of double-list ids derived from year and direction.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6d1b_52c4_98e3_4f0a_b217_c4e9_5a80_13d6);

/// The id of the list of `year` and `direction`: a v5 UUID of both, so
/// there is one list per year and direction and anyone can address it.
pub fn double_list_id(year: i32, direction: Direction) -> uuid::Uuid {
    let name = format!("{year}/{}", direction.as_str_name());
    uuid::Uuid::new_v5(&ID_NAMESPACE, name.as_bytes())
}

/// What an `Add` needs to know of the request it puts on the list, looked
/// up by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoubleListFacts {
    /// The request named by `Add`; `None` when it does not exist.
    pub request: Option<RequestFacts>,
}

/// What a list may know of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// The request's id.
    pub id: uuid::Uuid,
    /// Whose need it is: it must be the list's direction.
    pub direction: Direction,
}

impl Aggregate for DoubleList {
    const KIND: &'static str = "double-list";
    type Command = Command;
    type Facts = DoubleListFacts;

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
        facts: &DoubleListFacts,
        _actor: &Actor,
    ) -> Result<Payload, DomainError> {
        decide::decide(self, command, facts)
    }
}

#[cfg(test)]
mod tests;
