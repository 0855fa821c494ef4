//! `apply` for the allowance: folds one event, refusing any that would break
//! the invariants `decide` keeps (a month paid twice, a payment before the
//! first month or while stopped), so a corrupt log is quarantined instead of
//! miscounting money. Pure and deterministic.

use crate::aggregate::{ApplyError, check_envelope, not_applicable};
use crate::event::to_jiff;
use crate::pb::{EventEnvelope, event_envelope::Payload};

use super::command::MONTHLY_AMOUNT_FEN;
use super::month::Month;
use super::state::{Allowance, AllowanceStatus, GrantPeriod, Stop};

pub(super) fn apply(state: &mut Allowance, event: &EventEnvelope) -> Result<(), ApplyError> {
    let payload = check_envelope(state, event)?;
    let at = to_jiff(event.occurred_at.as_ref());
    let status = state.status();
    let refuse = |why: String| not_applicable::<Allowance>(payload, why);
    let state_name = match status {
        None => "never granted",
        Some(AllowanceStatus::Granted) => "granted",
        Some(AllowanceStatus::Stopped) => "stopped",
    };
    // Everything is checked before anything changes: on error the state is
    // unchanged.
    match payload {
        Payload::AllowanceGranted(e) if status != Some(AllowanceStatus::Granted) => {
            let person_id = uuid::Uuid::try_parse(&e.person_id)
                .map_err(|_| refuse(format!("{state_name} (its person_id is not a UUID)")))?;
            if state.person_id.is_some_and(|own| own != person_id) {
                return Err(refuse(format!(
                    "{state_name} for another person than {person_id}"
                )));
            }
            if !MONTHLY_AMOUNT_FEN.contains(&e.monthly_amount_fen) {
                return Err(refuse(format!(
                    "{state_name} (its monthly amount {} fen is out of range)",
                    e.monthly_amount_fen
                )));
            }
            let from_month = Month::parse("from_month", &e.from_month)
                .map_err(|v| refuse(format!("{state_name} (its from_month {})", v.reason)))?;
            if let Some(last) = state.last_paid_month().filter(|last| from_month <= *last) {
                return Err(refuse(format!(
                    "{state_name} and paid up to {last}, after {from_month}"
                )));
            }
            state.id = event.aggregate_id.clone();
            state.person_id = Some(person_id);
            state.periods.push(GrantPeriod {
                monthly_amount_fen: e.monthly_amount_fen,
                from_month,
                granted_at: at,
                stop: None,
            });
        }
        Payload::AllowancePaid(e) if status == Some(AllowanceStatus::Granted) => {
            let month = Month::parse("month", &e.month)
                .map_err(|v| refuse(format!("granted (its month {})", v.reason)))?;
            let from = state
                .from_month()
                .expect("a granted allowance has a period");
            if month < from {
                return Err(refuse(format!("granted from {from}, after {month}")));
            }
            if state.paid.contains_key(&month) {
                return Err(refuse(format!("granted and already paid for {month}")));
            }
            if e.amount_fen <= 0 {
                return Err(refuse(format!(
                    "granted (its amount {} fen is not positive)",
                    e.amount_fen
                )));
            }
            let total = state
                .total_paid_fen
                .checked_add(e.amount_fen)
                .ok_or_else(|| refuse("granted with a total that would overflow".into()))?;
            state.paid.insert(month, e.amount_fen);
            state.total_paid_fen = total;
        }
        Payload::AllowanceStopped(e) if status == Some(AllowanceStatus::Granted) => {
            let period = state
                .periods
                .last_mut()
                .expect("a granted allowance has a period");
            period.stop = Some(Stop {
                reason: e.reason.clone(),
                automatic: e.automatic,
                stopped_at: at,
            });
        }
        _ => return Err(refuse(state_name.to_string())),
    }
    state.version = event.aggregate_version;
    Ok(())
}
