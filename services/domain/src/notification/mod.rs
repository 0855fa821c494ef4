//! Which agencies an event of the log concerns, and why: the notifications
//! it yields. A pure function of the request after the event and the event
//! itself, so every projection replica, and every rebuild, derives the same
//! notifications with the same ids from the same log; delivery (a watch
//! stream, a webhook) can then be at least once, and receivers
//! de-duplicate by id.
//!
//! Who is told what:
//! - the responsible department: assigned (or reassigned) to it, due soon
//!   or today, overdue, escalated, reopened by the requester;
//! - the requesting agency: resolved and awaiting its confirmation (销号),
//!   and escalated, since supervision of its need is news to it too.
//!
//! An event for nobody in particular (a reminder before any assignment goes
//! to the coordinating office, which watches the board) yields nothing.

use crate::event::event_type;
use crate::pb::{self, EventEnvelope, NotificationKind, event_envelope::Payload};

#[cfg(test)]
mod tests;

/// Namespace of notification ids.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x5e1f_0c2a_93d4_4b71_a0e6_7d28_41c9_b305);

/// The stable id of the notification of `kind` to `agency` from the event at
/// `position`: the same on every replica and after every rebuild.
pub fn notification_id(position: u64, agency: &str, kind: NotificationKind) -> String {
    uuid::Uuid::new_v5(
        &ID_NAMESPACE,
        format!("{position}\u{1f}{agency}\u{1f}{}", kind.as_str_name()).as_bytes(),
    )
    .to_string()
}

/// The notifications `event`, folded at `position` into the request now
/// `after`, yields: at most one per agency, in a fixed order.
pub fn notifications(
    after: &pb::Request,
    event: &EventEnvelope,
    position: u64,
) -> Vec<pb::Notification> {
    let Some(payload) = event.payload.as_ref() else {
        return Vec::new();
    };
    let requester = after
        .requester
        .as_ref()
        .map(|r| r.agency.as_str())
        .unwrap_or_default();
    let department = after.department.as_str();
    let told: Vec<(&str, NotificationKind)> = match payload {
        Payload::RequestAssigned(e) => vec![(e.department.as_str(), NotificationKind::Assigned)],
        Payload::RequestReminded(e) => {
            let kind = match e.kind() {
                pb::ReminderKind::Overdue => NotificationKind::Overdue,
                _ => NotificationKind::DueSoon,
            };
            vec![(e.department.as_str(), kind)]
        }
        Payload::RequestEscalated(_) => vec![
            (department, NotificationKind::Escalated),
            (requester, NotificationKind::Escalated),
        ],
        Payload::RequestResolved(_) => vec![(requester, NotificationKind::AwaitingConfirmation)],
        Payload::RequestReopened(_) => vec![(department, NotificationKind::Reopened)],
        _ => Vec::new(),
    };
    let mut seen: Vec<&str> = Vec::with_capacity(told.len());
    told.into_iter()
        .filter(|(agency, _)| {
            let new = !agency.is_empty() && !seen.contains(agency);
            seen.push(agency);
            new
        })
        .map(|(agency, kind)| pb::Notification {
            id: notification_id(position, agency, kind),
            agency: agency.to_string(),
            kind: kind as i32,
            position,
            request_id: after.id.clone(),
            request_version: after.version,
            event_type: event_type(payload).to_string(),
            occurred_at: event.occurred_at,
            due_date: after.due_date.clone(),
            department: after.department.clone(),
            supervision_level: after.supervision_level,
            category: after.category,
        })
        .collect()
}
