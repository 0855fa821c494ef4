//! `decide`: the one place a request's business rules live. Pure: the same
//! state and command always give the same event or error.

use crate::error::DomainError;
use crate::pb::{self, RequestStatus, event_envelope::Payload};

use super::command::{Command, Submission};
use super::lifecycle::{is_unresolved, transition};
use crate::supervision::{Action, Effect};

/// Most sub-tasks one request may be broken into: a bound on what one
/// record carries (the article's supervised items break into a handful).
pub const MAX_SUB_TASKS: usize = 50;

/// The event a command yields on a request in `state`, or why it may not.
///
/// `state` is the folded request; a request with no events yet has status
/// `Unspecified`. `actor` is who issues the command.
pub fn decide(
    state: &pb::Request,
    command: &Command,
    actor: &pb::Actor,
) -> Result<Payload, DomainError> {
    let status = state.status();
    if status == RequestStatus::Unspecified && !matches!(command, Command::Submit(_)) {
        return Err(DomainError::NotFound {
            kind: "request",
            id: state.id.clone(),
        });
    }
    let payload = event_for(state, command);
    if transition(status, &payload).is_none() {
        return Err(DomainError::IllegalTransition {
            action: command.action(),
            status,
        });
    }
    check_rules(state, command, actor)?;
    Ok(payload)
}

/// Rules beyond the lifecycle table.
fn check_rules(
    state: &pb::Request,
    command: &Command,
    actor: &pb::Actor,
) -> Result<(), DomainError> {
    match command {
        Command::Close { .. } | Command::Reopen { .. } => {
            let requester = state.requester.as_ref().map_or("", |r| r.agency.as_str());
            if actor.agency != requester {
                return Err(DomainError::PermissionDenied(format!(
                    "only the requesting party ({requester}) may {} a request",
                    command.action()
                )));
            }
        }
        Command::Escalate { level, .. } if *level <= state.supervision_level() => {
            return Err(DomainError::RuleViolated(format!(
                "request is already supervised at level {}; escalate to a higher level",
                level_name(state.supervision_level())
            )));
        }
        Command::ChangeDueDate { due_date, .. } if due_date.to_string() == state.due_date => {
            return Err(DomainError::RuleViolated(format!(
                "request is already due on {due_date}"
            )));
        }
        Command::Supervise(action) => check_clock(state, action)?,
        Command::Resolve { .. } => {
            let open: Vec<String> = state
                .sub_tasks
                .iter()
                .filter(|task| !task.done)
                .map(|task| format!("#{} ({}, due {})", task.id, task.department, task.due_date))
                .collect();
            if !open.is_empty() {
                return Err(DomainError::RuleViolated(format!(
                    "request has open sub-tasks: {}; it resolves once they are done",
                    open.join(", ")
                )));
            }
        }
        Command::AddSubTask { .. } if state.sub_tasks.len() >= MAX_SUB_TASKS => {
            return Err(DomainError::RuleViolated(format!(
                "request already has {MAX_SUB_TASKS} sub-tasks, the most one request may have"
            )));
        }
        Command::CompleteSubTask { sub_task_id, .. } => {
            match state.sub_tasks.iter().find(|task| task.id == *sub_task_id) {
                None => {
                    return Err(DomainError::NotFound {
                        kind: "sub-task",
                        id: format!("{}#{sub_task_id}", state.id),
                    });
                }
                Some(task) if task.done => {
                    return Err(DomainError::RuleViolated(format!(
                        "sub-task #{sub_task_id} is already done"
                    )));
                }
                Some(_) => {}
            }
        }
        _ => {}
    }
    Ok(())
}

/// A clock action applies to the due date in force, to a request the
/// department still owes work on, once.
fn check_clock(state: &pb::Request, action: &Action) -> Result<(), DomainError> {
    if !is_unresolved(state.status()) {
        return Err(DomainError::IllegalTransition {
            action: "run a supervision clock on",
            status: state.status(),
        });
    }
    if state.due_date != action.due_date.to_string() {
        return Err(DomainError::RuleViolated(format!(
            "the clock of rule {} is for due date {}; the request is due on {}",
            action.rule_id,
            action.due_date,
            display_due(&state.due_date)
        )));
    }
    if state.supervision_fired.contains(&action.key()) {
        return Err(DomainError::AlreadyExists {
            kind: "supervision clock action",
            id: action.key(),
        });
    }
    if let Effect::Escalate(level) = action.effect
        && level <= state.supervision_level()
    {
        return Err(DomainError::RuleViolated(format!(
            "request is already supervised at level {}",
            level_name(state.supervision_level())
        )));
    }
    Ok(())
}

fn display_due(due: &str) -> &str {
    if due.is_empty() { "no date" } else { due }
}

fn level_name(level: pb::SupervisionLevel) -> String {
    level
        .as_str_name()
        .trim_start_matches("SUPERVISION_LEVEL_")
        .to_ascii_lowercase()
}

fn date_text(date: Option<jiff::civil::Date>) -> String {
    date.map(|d| d.to_string()).unwrap_or_default()
}

/// The event a command records; `state` supplies what the event keeps of the
/// past (the level escalated from, the due date moved from).
fn event_for(state: &pb::Request, command: &Command) -> Payload {
    match command.clone() {
        Command::Submit(s) => Payload::RequestSubmitted(submitted(s)),
        Command::Assign {
            department,
            due_date,
            note,
        } => Payload::RequestAssigned(pb::RequestAssigned {
            department: department.to_string(),
            due_date: due_date.to_string(),
            note,
        }),
        Command::Start { note } => Payload::RequestStarted(pb::RequestStarted { note }),
        Command::RecordProgress { note } => {
            Payload::ProgressRecorded(pb::ProgressRecorded { note })
        }
        Command::Resolve { resolution } => {
            Payload::RequestResolved(pb::RequestResolved { resolution })
        }
        Command::Close { note, satisfaction } => closed(note, satisfaction),
        Command::Reject { reason } => Payload::RequestRejected(pb::RequestRejected { reason }),
        Command::Reopen { reason } => Payload::RequestReopened(pb::RequestReopened {
            reason,
            satisfaction: pb::Satisfaction::Unspecified as i32,
        }),
        Command::Escalate {
            level,
            reason,
            due_date,
        } => Payload::RequestEscalated(pb::RequestEscalated {
            from_level: state.supervision_level,
            to_level: level as i32,
            reason,
            due_date: date_text(due_date),
            ..Default::default()
        }),
        Command::Supervise(action) => clock_event(state, action),
        Command::ChangeDueDate { due_date, reason } => {
            Payload::DueDateChanged(pb::DueDateChanged {
                previous_due_date: state.due_date.clone(),
                due_date: due_date.to_string(),
                reason,
            })
        }
        Command::AddSubTask {
            department,
            due_date,
            title,
        } => Payload::SubTaskAdded(pb::SubTaskAdded {
            sub_task_id: next_sub_task_id(state),
            department: department.to_string(),
            due_date: due_date.to_string(),
            title,
        }),
        Command::CompleteSubTask { sub_task_id, note } => {
            Payload::SubTaskCompleted(pb::SubTaskCompleted { sub_task_id, note })
        }
        Command::RecordInspection {
            visited_on,
            findings,
            follow_up_required,
        } => Payload::InspectionRecorded(pb::InspectionRecorded {
            visited_on: visited_on.to_string(),
            findings,
            follow_up_required,
        }),
    }
}

/// Sub-tasks are numbered 1, 2, ... in the order added.
pub(super) fn next_sub_task_id(state: &pb::Request) -> u32 {
    u32::try_from(state.sub_tasks.len()).map_or(u32::MAX, |n| n + 1)
}

/// A confirmation rated 不满意 is not a close-out: it reopens the request
/// with the rating, in the one event the command writes, and the note says
/// what is not resolved.
fn closed(note: String, satisfaction: pb::Satisfaction) -> Payload {
    if satisfaction == pb::Satisfaction::Dissatisfied {
        Payload::RequestReopened(pb::RequestReopened {
            reason: note,
            satisfaction: satisfaction as i32,
        })
    } else {
        Payload::RequestClosed(pb::RequestClosed {
            note,
            satisfaction: satisfaction as i32,
        })
    }
}

/// A reminder, or an escalation naming its rule (no new due date: the
/// supervising office sets one when it takes the request up).
fn clock_event(state: &pb::Request, action: Action) -> Payload {
    let due_date = action.due_date.to_string();
    let occurrence = action.occurrence.to_string();
    match action.effect {
        Effect::Remind(kind) => Payload::RequestReminded(pb::RequestReminded {
            rule_id: action.rule_id,
            kind: kind as i32,
            due_date,
            occurrence,
            department: state.department.clone(),
        }),
        Effect::Escalate(level) => Payload::RequestEscalated(pb::RequestEscalated {
            from_level: state.supervision_level,
            to_level: level as i32,
            reason: format!(
                "overdue since {due_date}: escalated on {occurrence} by rule {}",
                action.rule_id
            ),
            due_date: String::new(),
            rule_id: action.rule_id,
            occurrence,
        }),
    }
}

fn submitted(s: Submission) -> pb::RequestSubmitted {
    pb::RequestSubmitted {
        direction: s.direction as i32,
        requester: Some(pb::RequestingParty {
            agency: s.requester_agency.to_string(),
            name: s.requester_name,
        }),
        category: s.category as i32,
        title: s.title,
        description: s.description,
        area_code: s.area_code.as_str().to_string(),
        priority: s.priority as i32,
        due_date: date_text(s.due_date),
        supervision_level: s.supervision_level as i32,
        person_id: s.person.map(|p| p.to_string()).unwrap_or_default(),
    }
}
