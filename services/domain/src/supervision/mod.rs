//! Supervision clocks (督办时钟): the policy a deployment configures (when to
//! remind a responsible department, when an overdue request escalates on
//! its own) and the calendar arithmetic that turns one rule and one due date
//! into the actions that have fallen due by a given day.
//!
//! Pure: the caller brings the day (China time) from its clock, so tests run
//! in simulated time. Which actions a *request* still needs (its status, its
//! level, the keys already recorded) is the request aggregate's business
//! (`crate::request::due_actions`); this module knows rules and dates only.
//!
//! Every action has a key, "<rule>/<remind|escalate>/<due date>/<occurrence>":
//! the request records the keys it fired, intake derives the idempotency key
//! and the log's message id from it, so an action happens once per rule and
//! deadline however many intakes run; a new due date makes new keys, which
//! is how a changed due date re-arms the clocks.
//!
//! Which policy was in force when is itself in the log (`adopted`): the
//! first intake to start with a changed file records it.

mod adopted;
mod policy;
mod schedule;

pub use adopted::{Adopt, Adopted};
pub use policy::{Escalation, Policy, PolicyError, Rule};
pub use schedule::scheduled;

use jiff::civil::Date;

use crate::pb;

/// Agency of the actor of every clock event; the user is the rule's id.
pub const ACTOR_AGENCY: &str = "supervision-policy";

/// What a clock does when it falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Remind the responsible department.
    Remind(pb::ReminderKind),
    /// List the request for supervision at this (higher) level.
    Escalate(pb::SupervisionLevel),
}

/// One clock action that fell due: a rule's reminder or escalation for a
/// deadline, on its occurrence day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Id of the policy rule that caused it.
    pub rule_id: String,
    /// The due date it is about.
    pub due_date: Date,
    /// The day it fell due (China time).
    pub occurrence: Date,
    /// What it does.
    pub effect: Effect,
}

impl Action {
    /// The key the request records once the action happened.
    pub fn key(&self) -> String {
        let kind = match self.effect {
            Effect::Remind(_) => REMIND,
            Effect::Escalate(_) => ESCALATE,
        };
        fired_key(
            &self.rule_id,
            kind,
            &self.due_date.to_string(),
            &self.occurrence.to_string(),
        )
    }

    /// The actor its event is recorded under: the rule.
    pub fn actor(&self) -> pb::Actor {
        pb::Actor {
            agency: ACTOR_AGENCY.to_string(),
            user: self.rule_id.clone(),
        }
    }
}

/// Key tag of reminders.
pub const REMIND: &str = "remind";
/// Key tag of automatic escalations.
pub const ESCALATE: &str = "escalate";

/// The key of a clock action, as recorded in `Request.supervision_fired`.
pub fn fired_key(rule_id: &str, kind: &str, due_date: &str, occurrence: &str) -> String {
    format!("{rule_id}/{kind}/{due_date}/{occurrence}")
}

#[cfg(test)]
mod tests;
