//! `decide` for the allowance: the one place its rules live. Pure.
//!
//! Malformed commands are refused first (`Invalid`, from the command alone),
//! then the rules that read the allowance and the facts.

use crate::error::DomainError;
use crate::pb::{self, PersonRole, event_envelope::Payload};
use crate::validate::text;

use super::AllowanceFacts;
use super::command::{Command, MONTHLY_AMOUNT_FEN, REASON_MAX};
use super::state::{Allowance, AllowanceStatus};

pub(super) fn decide(
    state: &Allowance,
    command: &Command,
    facts: &AllowanceFacts,
) -> Result<Payload, DomainError> {
    match command {
        Command::Grant {
            person_id,
            monthly_amount_fen,
            from_month,
        } => {
            if !MONTHLY_AMOUNT_FEN.contains(monthly_amount_fen) {
                return Err(DomainError::invalid(
                    "monthly_amount_fen",
                    format!(
                        "must be between {} and {} fen, is {monthly_amount_fen}",
                        MONTHLY_AMOUNT_FEN.start(),
                        MONTHLY_AMOUNT_FEN.end()
                    ),
                ));
            }
            if state.person_id.is_some_and(|own| own != *person_id) {
                return Err(DomainError::invalid(
                    "person_id",
                    "belongs to another person's allowance",
                ));
            }
            // Facts about someone else do not count as finding the person.
            let person_key = person_id.to_string();
            let person = facts
                .person
                .as_ref()
                .filter(|person| person.id == person_key)
                .ok_or_else(|| DomainError::NotFound {
                    kind: "person",
                    id: person_key.clone(),
                })?;
            if person.role != PersonRole::MilitarySpouse {
                return Err(DomainError::RuleViolated(format!(
                    "the allowance is for military spouses; person {person_key} is a {}",
                    role_name(person.role)
                )));
            }
            if facts.spouse_placed {
                return Err(DomainError::RuleViolated(format!(
                    "person {person_key} is placed; the allowance is for spouses without a post"
                )));
            }
            if let Some(period) = state.current().filter(|p| p.stop.is_none()) {
                return Err(DomainError::RuleViolated(format!(
                    "the allowance is already granted from {}; stop it before granting it again",
                    period.from_month
                )));
            }
            if let Some(last) = state.last_paid_month().filter(|last| from_month <= last) {
                return Err(DomainError::RuleViolated(format!(
                    "from_month {from_month} must come after the last month paid ({last})"
                )));
            }
            Ok(Payload::AllowanceGranted(pb::AllowanceGranted {
                person_id: person_key,
                monthly_amount_fen: *monthly_amount_fen,
                from_month: from_month.to_string(),
            }))
        }
        Command::Pay { month } => {
            let period = state.current().ok_or_else(|| not_found(state))?;
            if period.stop.is_some() {
                return Err(DomainError::RuleViolated(format!(
                    "cannot pay {month}: the allowance is stopped; grant it again first"
                )));
            }
            if facts.spouse_placed {
                return Err(DomainError::RuleViolated(format!(
                    "cannot pay {month}: the spouse is placed; stop the allowance first"
                )));
            }
            if *month < period.from_month {
                return Err(DomainError::RuleViolated(format!(
                    "cannot pay {month}: the allowance is paid from {}",
                    period.from_month
                )));
            }
            if let Some(amount) = state.paid_for(*month) {
                return Err(DomainError::RuleViolated(format!(
                    "{month} is already paid ({amount} fen)"
                )));
            }
            Ok(Payload::AllowancePaid(pb::AllowancePaid {
                month: month.to_string(),
                amount_fen: period.monthly_amount_fen,
            }))
        }
        Command::Stop { reason, automatic } => {
            let reason =
                text("reason", reason, 1, REASON_MAX).map_err(|v| DomainError::Invalid(vec![v]))?;
            match state.status() {
                None => Err(not_found(state)),
                Some(AllowanceStatus::Stopped) => Err(DomainError::RuleViolated(
                    "the allowance is already stopped".into(),
                )),
                Some(AllowanceStatus::Granted) => {
                    Ok(Payload::AllowanceStopped(pb::AllowanceStopped {
                        reason,
                        automatic: *automatic,
                    }))
                }
            }
        }
    }
}

fn not_found(state: &Allowance) -> DomainError {
    DomainError::NotFound {
        kind: "allowance",
        id: state.id.clone(),
    }
}

/// Lowercase role name for messages: "military child".
fn role_name(role: PersonRole) -> String {
    role.as_str_name()
        .trim_start_matches("PERSON_ROLE_")
        .to_ascii_lowercase()
        .replace('_', " ")
}
