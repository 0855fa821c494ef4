//! `apply`: folds one event into the request read model. Pure and
//! deterministic (times come from the event, never the clock), so replaying the
//! log from sequence 1 rebuilds byte-identical state.

use crate::aggregate::{ApplyError, check_envelope, not_applicable};
use crate::error::status_name;
use crate::event::event_type;
use crate::pb::{self, EventEnvelope, TimelineEntry, event_envelope::Payload};

use super::decide::next_sub_task_id;
use super::lifecycle::transition;
use crate::supervision::{ESCALATE, REMIND, fired_key};

/// The timeline's note of a reminder: what it said and which rule sent it.
fn reminder_note(e: &pb::RequestReminded) -> String {
    let what = match e.kind() {
        pb::ReminderKind::DueSoon => "due soon",
        pb::ReminderKind::DueToday => "due today",
        pb::ReminderKind::Overdue => "overdue",
        pb::ReminderKind::Unspecified => "reminder",
    };
    format!("{what}: due {} (rule {})", e.due_date, e.rule_id)
}

/// Folds `event`, stored at stream sequence `position`, into `state`. On error
/// `state` is unchanged.
pub(super) fn apply(
    state: &mut pb::Request,
    event: &EventEnvelope,
    position: u64,
) -> Result<(), ApplyError> {
    let payload = check_envelope(state, event)?;
    let from = state.status();
    let refused = move || not_applicable::<pb::Request>(payload, status_name(from));
    let status = transition(from, payload).ok_or_else(refused)?;

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
                person_id: e.person_id.clone(),
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
            state.satisfaction = e.satisfaction;
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
            if e.satisfaction() == pb::Satisfaction::Dissatisfied {
                state.satisfaction = e.satisfaction;
                state.dissatisfied_count += 1;
            }
            e.reason.clone()
        }
        Payload::RequestEscalated(e) => {
            if !e.rule_id.is_empty() {
                let key = fired_key(&e.rule_id, ESCALATE, &state.due_date, &e.occurrence);
                state.supervision_fired.push(key);
            }
            state.supervision_level = e.to_level;
            if !e.due_date.is_empty() {
                state.due_date = e.due_date.clone();
            }
            e.reason.clone()
        }
        Payload::RequestReminded(e) => {
            let key = fired_key(&e.rule_id, REMIND, &e.due_date, &e.occurrence);
            state.supervision_fired.push(key);
            reminder_note(e)
        }
        Payload::DueDateChanged(e) => {
            state.due_date = e.due_date.clone();
            e.reason.clone()
        }
        Payload::SubTaskAdded(e) => {
            if e.sub_task_id != next_sub_task_id(state) {
                let have = state.sub_tasks.len();
                return Err(not_applicable::<pb::Request>(
                    payload,
                    format!("with {have} sub-tasks (it must number the next one)"),
                ));
            }
            state.sub_tasks.push(pb::SubTask {
                id: e.sub_task_id,
                department: e.department.clone(),
                due_date: e.due_date.clone(),
                title: e.title.clone(),
                added_at: at,
                ..Default::default()
            });
            e.title.clone()
        }
        Payload::SubTaskCompleted(e) => {
            let Some(task) = state
                .sub_tasks
                .iter_mut()
                .find(|task| task.id == e.sub_task_id && !task.done)
            else {
                return Err(not_applicable::<pb::Request>(
                    payload,
                    format!("without an open sub-task #{}", e.sub_task_id),
                ));
            };
            task.done = true;
            task.note = e.note.clone();
            task.completed_at = at;
            e.note.clone()
        }
        Payload::InspectionRecorded(e) => {
            state.inspections.push(pb::Inspection {
                visited_on: e.visited_on.clone(),
                findings: e.findings.clone(),
                follow_up_required: e.follow_up_required,
                inspector: event.actor.clone(),
                recorded_at: at,
            });
            e.findings.clone()
        }
        // `transition` refused every other kind's event above.
        _ => return Err(refused()),
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
