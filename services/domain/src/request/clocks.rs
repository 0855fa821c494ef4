//! Which supervision clock actions a request still needs today: those its
//! policy rule has scheduled against its *current* due date (so a moved due
//! date re-arms every clock), which it has not recorded yet, and, for an
//! escalation, only up to a level above the one it is at.
//!
//! Only unresolved requests run clocks. A request resolved and awaiting the
//! requester's confirmation has none: the department has done its part and
//! the wait is the requester's, whom the clocks do not chase; a dispute
//! (reopen) puts the request back to work and its clocks resume.

use jiff::civil::Date;

use crate::pb;
use crate::supervision::{Action, Effect, Policy, scheduled};

use super::lifecycle::is_unresolved;

/// The clock actions `state` needs on `today` under `policy`, not yet
/// recorded; empty for a request that is not unresolved or has no due date.
pub fn due_actions(policy: &Policy, state: &pb::Request, today: Date) -> Vec<Action> {
    if !is_unresolved(state.status()) {
        return Vec::new();
    }
    let Ok(due) = state.due_date.parse::<Date>() else {
        return Vec::new();
    };
    let Some(rule) = policy.rule_for(state.category(), state.supervision_level()) else {
        return Vec::new();
    };
    scheduled(rule, due, today)
        .into_iter()
        .filter(|action| !state.supervision_fired.contains(&action.key()))
        .filter(|action| match action.effect {
            Effect::Remind(_) => true,
            Effect::Escalate(to) => to > state.supervision_level(),
        })
        .collect()
}
