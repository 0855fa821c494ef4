//! Double-list commands as validated values, parsed from their protobuf
//! messages ([`CommandMessage`]). Every message names the list by year and
//! direction; the aggregate it addresses is [`double_list_id`] of both.

use uuid::Uuid;

use super::{DoubleList, double_list_id};
use crate::command_meta::{CommandMessage, Input, context_accessors};
use crate::error::FieldViolation;
use crate::pb::{self, Direction};
use crate::validate::{Violations, aggregate_id, enum_value, text};

/// The first year a list may be drafted for; the last is next year.
pub const FIRST_YEAR: i32 = 2000;

/// Longest note or reason, in characters.
pub(super) const TEXT_MAX: usize = 500;

/// A double-list command, validated at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Puts a request on the list.
    Add {
        /// The list's year (the first item records it).
        year: i32,
        /// The list's direction; the request must have it.
        direction: Direction,
        /// The request.
        request_id: Uuid,
        /// Why it is on the list (may be empty).
        note: String,
    },
    /// Takes a request off the draft list.
    Remove {
        /// The request.
        request_id: Uuid,
        /// Why.
        reason: String,
    },
    /// Publishes the list; it is fixed from then on.
    Publish,
}

/// The list a message names: `(id, year, direction)`.
fn list(
    v: &mut Violations,
    input: &Input<'_>,
    year: i32,
    direction: i32,
) -> Option<(Uuid, i32, Direction)> {
    let last = i32::from(input.today.year()) + 1;
    let year = v.check(if (FIRST_YEAR..=last).contains(&year) {
        Ok(year)
    } else {
        Err(FieldViolation::new(
            "year",
            format!("must be between {FIRST_YEAR} and {last}, is {year}"),
        ))
    });
    let direction = v.check(enum_value::<Direction>("direction", direction, None));
    let (year, direction) = (year?, direction?);
    Some((double_list_id(year, direction), year, direction))
}

impl CommandMessage for pb::AddDoubleListItemCommand {
    type Target = DoubleList;
    context_accessors!();

    fn body(&self, v: &mut Violations, input: &Input<'_>) -> Option<(Uuid, Command)> {
        let list = list(v, input, self.year, self.direction);
        let request_id = v.check(aggregate_id("request_id", &self.request_id));
        let note = v.check(text("note", &self.note, 0, TEXT_MAX));
        let (id, year, direction) = list?;
        Some((
            id,
            Command::Add {
                year,
                direction,
                request_id: request_id?,
                note: note?,
            },
        ))
    }
}

impl CommandMessage for pb::RemoveDoubleListItemCommand {
    type Target = DoubleList;
    context_accessors!();

    fn body(&self, v: &mut Violations, input: &Input<'_>) -> Option<(Uuid, Command)> {
        let list = list(v, input, self.year, self.direction);
        let request_id = v.check(aggregate_id("request_id", &self.request_id));
        let reason = v.check(text("reason", &self.reason, 1, TEXT_MAX));
        let (id, _, _) = list?;
        Some((
            id,
            Command::Remove {
                request_id: request_id?,
                reason: reason?,
            },
        ))
    }
}

impl CommandMessage for pb::PublishDoubleListCommand {
    type Target = DoubleList;
    context_accessors!();

    fn body(&self, v: &mut Violations, input: &Input<'_>) -> Option<(Uuid, Command)> {
        let (id, _, _) = list(v, input, self.year, self.direction)?;
        Some((id, Command::Publish))
    }
}
