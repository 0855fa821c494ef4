//! `apply`: folds one event into the request read model. Pure and
//! deterministic (times come from the event, never the clock), so replaying the
//! log from sequence 1 rebuilds byte-identical state.

use crate::event::event_type;
use crate::pb::{self, EventEnvelope, RequestStatus, TimelineEntry, event_envelope::Payload};

use super::KIND;
use super::lifecycle::transition;

/// Why an event from the log cannot be folded. The projection quarantines such
/// events instead of guessing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("event has no payload it knows (written by a newer schema?)")]
    MissingPayload,
    #[error("event belongs to {kind} {id}, not to request {expected}")]
    WrongAggregate {
        kind: String,
        id: String,
        expected: String,
    },
    #[error("event has version {actual}, expected {expected}")]
    VersionGap { expected: u64, actual: u64 },
    #[error("{event_type} cannot follow status {}", crate::error::status_name(*.status))]
    IllegalTransition {
        event_type: &'static str,
        status: RequestStatus,
    },
}

/// Folds `event`, stored at stream sequence `position`, into `state`. On error
/// `state` is unchanged.
pub fn apply(
    state: &mut pb::Request,
    event: &EventEnvelope,
    position: u64,
) -> Result<(), ApplyError> {
    let payload = event.payload.as_ref().ok_or(ApplyError::MissingPayload)?;
    let is_first = state.status() == RequestStatus::Unspecified;
    if event.aggregate_kind != KIND || (!is_first && event.aggregate_id != state.id) {
        return Err(ApplyError::WrongAggregate {
            kind: event.aggregate_kind.clone(),
            id: event.aggregate_id.clone(),
            expected: state.id.clone(),
        });
    }
    if event.aggregate_version != state.version + 1 {
        return Err(ApplyError::VersionGap {
            expected: state.version + 1,
            actual: event.aggregate_version,
        });
    }
    let status = transition(state.status(), payload).ok_or(ApplyError::IllegalTransition {
        event_type: event_type(payload),
        status: state.status(),
    })?;

    let at = event.occurred_at;
    let note = match payload {
        Payload::RequestSubmitted(e) => {
            *state = pb::Request {
                id: event.aggregate_id.clone(),
                direction: e.direction,
                requester: e.requester.clone(),
                category: e.category,
                title: e.title.clone(),
                description: e.description.clone(),
                area_code: e.area_code.clone(),
                priority: e.priority,
                due_date: e.due_date.clone(),
                supervision_level: e.supervision_level,
                submitted_at: at,
                submitted_by: event.actor.clone(),
                ..Default::default()
            };
            e.title.clone()
        }
        Payload::RequestAssigned(e) => {
            state.department = e.department.clone();
            state.due_date = e.due_date.clone();
            state.assigned_at = at;
            e.note.clone()
        }
        Payload::RequestStarted(e) => {
            state.started_at = at;
            e.note.clone()
        }
        Payload::ProgressRecorded(e) => e.note.clone(),
        Payload::RequestResolved(e) => {
            state.resolution = e.resolution.clone();
            state.resolved_at = at;
            e.resolution.clone()
        }
        Payload::RequestClosed(e) => {
            state.closed_at = at;
            e.note.clone()
        }
        Payload::RequestRejected(e) => {
            state.rejection_reason = e.reason.clone();
            e.reason.clone()
        }
        Payload::RequestReopened(e) => {
            state.reopen_count += 1;
            state.resolution.clear();
            state.resolved_at = None;
            e.reason.clone()
        }
        Payload::RequestEscalated(e) => {
            state.supervision_level = e.to_level;
            if !e.due_date.is_empty() {
                state.due_date = e.due_date.clone();
            }
            e.reason.clone()
        }
        Payload::DueDateChanged(e) => {
            state.due_date = e.due_date.clone();
            e.reason.clone()
        }
        // `transition` refused every other kind's event above.
        _ => {
            return Err(ApplyError::IllegalTransition {
                event_type: event_type(payload),
                status: state.status(),
            });
        }
    };

    state.version = event.aggregate_version;
    state.set_status(status);
    state.updated_at = at;
    state.last_position = position;
    state.timeline.push(TimelineEntry {
        version: event.aggregate_version,
        position,
        event_type: event_type(payload).to_string(),
        occurred_at: at,
        actor: event.actor.clone(),
        status_after: status as i32,
        note,
        event_id: event.event_id.clone(),
    });
    Ok(())
}
