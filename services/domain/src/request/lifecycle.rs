//! The lifecycle table: which event may follow which status, and the status it
//! leads to. `decide` and `apply` both consult it, so a command that decide
//! accepts always folds, and an event that breaks the table is caught on read.

use crate::pb::RequestStatus as S;
use crate::pb::event_envelope::Payload;

/// The status after `payload` when the request is in `current`, or `None` if
/// the event may not happen in that status.
pub fn transition(current: S, payload: &Payload) -> Option<S> {
    let open = matches!(
        current,
        S::Submitted | S::Assigned | S::InProgress | S::Resolved
    );
    let unresolved = is_unresolved(current);
    match payload {
        Payload::RequestSubmitted(_) => (current == S::Unspecified).then_some(S::Submitted),
        Payload::RequestAssigned(_) => {
            matches!(current, S::Submitted | S::Assigned).then_some(S::Assigned)
        }
        Payload::RequestStarted(_) => (current == S::Assigned).then_some(S::InProgress),
        Payload::ProgressRecorded(_) => (current == S::InProgress).then_some(S::InProgress),
        Payload::RequestResolved(_) => (current == S::InProgress).then_some(S::Resolved),
        Payload::RequestClosed(_) => (current == S::Resolved).then_some(S::Closed),
        Payload::RequestRejected(_) => {
            matches!(current, S::Submitted | S::Assigned).then_some(S::Rejected)
        }
        Payload::RequestReopened(_) => (current == S::Resolved).then_some(S::InProgress),
        Payload::RequestEscalated(_) => open.then_some(current),
        Payload::DueDateChanged(_) => unresolved.then_some(current),
        Payload::RequestReminded(_) => unresolved.then_some(current),
        // Work is broken down and its parts done while the request is worked.
        Payload::SubTaskAdded(_) | Payload::SubTaskCompleted(_) => unresolved.then_some(current),
        Payload::InspectionRecorded(_) => open.then_some(current),
        // Events of other aggregates never apply to a request.
        _ => None,
    }
}

/// Neither closed nor rejected: counts against 销号清零.
pub fn is_open(status: S) -> bool {
    matches!(
        status,
        S::Submitted | S::Assigned | S::InProgress | S::Resolved
    )
}

/// Open and not yet resolved: the department still owes work, so a passed due
/// date makes it overdue.
pub fn is_unresolved(status: S) -> bool {
    matches!(status, S::Submitted | S::Assigned | S::InProgress)
}
