//! `decide` for the double list: the one place its rules live. Pure.

use crate::error::DomainError;
use crate::pb::{self, event_envelope::Payload};
use crate::validate::text;

use super::DoubleListFacts;
use super::command::{Command, TEXT_MAX};
use super::state::{DoubleList, direction_name};

pub(super) fn decide(
    state: &DoubleList,
    command: &Command,
    facts: &DoubleListFacts,
) -> Result<Payload, DomainError> {
    if state.is_published() {
        return Err(DomainError::RuleViolated(format!(
            "the double list {} is published; its items are fixed",
            state.name()
        )));
    }
    match command {
        Command::Add {
            year,
            direction,
            request_id,
            note,
        } => {
            let note =
                text("note", note, 0, TEXT_MAX).map_err(|v| DomainError::Invalid(vec![v]))?;
            // Facts about another request do not count as finding this one.
            let request = facts
                .request
                .as_ref()
                .filter(|request| request.id == *request_id)
                .ok_or_else(|| DomainError::NotFound {
                    kind: "request",
                    id: request_id.to_string(),
                })?;
            if request.direction != *direction {
                return Err(DomainError::RuleViolated(format!(
                    "request {request_id} is a {} need; the list is for {} needs",
                    direction_name(request.direction),
                    direction_name(*direction)
                )));
            }
            if state.contains(*request_id) {
                return Err(DomainError::RuleViolated(format!(
                    "request {request_id} is already on the double list {}",
                    state.name()
                )));
            }
            Ok(Payload::DoubleListItemAdded(pb::DoubleListItemAdded {
                year: *year,
                direction: *direction as i32,
                request_id: request_id.to_string(),
                note,
            }))
        }
        Command::Remove { request_id, reason } => {
            let reason =
                text("reason", reason, 1, TEXT_MAX).map_err(|v| DomainError::Invalid(vec![v]))?;
            if !state.contains(*request_id) {
                return Err(DomainError::NotFound {
                    kind: "double-list item",
                    id: request_id.to_string(),
                });
            }
            Ok(Payload::DoubleListItemRemoved(pb::DoubleListItemRemoved {
                request_id: request_id.to_string(),
                reason,
            }))
        }
        Command::Publish => {
            if state.version == 0 {
                return Err(DomainError::NotFound {
                    kind: "double-list",
                    id: state.id.clone(),
                });
            }
            if state.items().is_empty() {
                return Err(DomainError::RuleViolated(format!(
                    "the double list {} has no item; an empty list is not published",
                    state.name()
                )));
            }
            let items = u32::try_from(state.items().len()).unwrap_or(u32::MAX);
            Ok(Payload::DoubleListPublished(pb::DoubleListPublished {
                items,
            }))
        }
    }
}
