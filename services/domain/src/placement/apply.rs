//! `apply`: folds one event into the placement. Pure and deterministic
//! (times come from the event, never the clock), so replaying the log gives
//! the same state. Besides the lifecycle table it checks what the state could
//! not represent: a first registration on an id not derived from its person
//! and programme, a re-registration for someone else, an unreadable date, a
//! second talent-pool recommendation in one cycle.

use crate::aggregate::{ApplyError, check_envelope, not_applicable};
use crate::event::to_jiff;
use crate::pb::{EventEnvelope, Programme, event_envelope::Payload};

use super::lifecycle::{Status, transition};
use super::state::{Cycle, Placement, TalentPool};
use super::{KIND, placement_id_for};

/// Folds `event`, stored at stream sequence `position`, into `state`. On
/// error `state` is unchanged: every check runs before the first change.
pub fn apply(
    state: &mut Placement,
    event: &EventEnvelope,
    position: u64,
) -> Result<(), ApplyError> {
    let payload = check_envelope(state, event)?;
    let refuse = |why: &str| not_applicable::<Placement>(payload, format!("{}{why}", state.status));
    // A first registration brings the programme it is judged in.
    let programme = match payload {
        Payload::PlacementRegistered(e) if state.status == Status::Unregistered => e.programme(),
        _ => state.programme,
    };
    let status = transition(programme, state.status, payload).ok_or_else(|| refuse(""))?;

    // Checks that need the payload's fields, still without changing anything.
    let mut person_id = state.person_id;
    let mut on_duty_date = None;
    match payload {
        Payload::PlacementRegistered(e) => {
            let person = uuid::Uuid::try_parse(&e.person_id)
                .map_err(|_| refuse(" (the registration's person_id is not a UUID)"))?;
            if state.status == Status::Unregistered {
                let expected = placement_id_for(&person, programme);
                if uuid::Uuid::try_parse(&event.aggregate_id).ok() != Some(expected) {
                    return Err(ApplyError::WrongAggregate {
                        kind: event.aggregate_kind.clone(),
                        id: event.aggregate_id.clone(),
                        expected_kind: KIND,
                        expected_id: expected.to_string(),
                    });
                }
            } else if e.programme() != state.programme || Some(person) != state.person_id {
                return Err(refuse(" (for another person or programme)"));
            }
            person_id = Some(person);
        }
        Payload::PlacementOnDuty(e) => {
            on_duty_date = Some(
                crate::validate::date("on_duty_date", &e.on_duty_date)
                    .map_err(|_| refuse(" (on_duty_date is not a YYYY-MM-DD date)"))?,
            );
        }
        Payload::TalentPoolRecommended(_) if state.current.talent_pool.is_some() => {
            return Err(refuse(
                " (already recommended to the talent pool in this cycle)",
            ));
        }
        _ => {}
    }

    let at = to_jiff(event.occurred_at.as_ref());
    let cycle = &mut state.current;
    match payload {
        Payload::PlacementRegistered(e) => {
            state.programme = programme;
            state.person_id = person_id;
            state.cycle += 1;
            *cycle = Cycle {
                area_code: e.area_code.clone(),
                fast_lane: e.fast_lane,
                registered_at: at,
                school: e.school.clone(),
                grade: e.grade.clone(),
                ..Cycle::default()
            };
        }
        Payload::PlacementMatched(e) => {
            cycle.matched_at = at;
            cycle.employer = e.employer.clone();
            cycle.post = e.post.clone();
            cycle.profession_matched = e.profession_matched;
            cycle.post_matched = e.post_matched;
            cycle.rank_matched = e.rank_matched;
        }
        Payload::PlacementOnDuty(_) => {
            cycle.on_duty_at = at;
            cycle.on_duty_date = on_duty_date;
            cycle.closed_at = at;
        }
        Payload::PlacementDeclined(e) => {
            cycle.reason = e.reason.clone();
            cycle.closed_at = at;
            state.declined_cycles += 1;
        }
        Payload::PlacementWithdrawn(e) => {
            cycle.reason = e.reason.clone();
            cycle.closed_at = at;
            state.withdrawn_cycles += 1;
        }
        Payload::TalentPoolRecommended(e) => {
            cycle.talent_pool = Some(TalentPool {
                community_code: e.community_code.clone(),
                note: e.note.clone(),
                recommended_at: at,
            });
        }
        Payload::SchoolRequestAccepted(e) => {
            cycle.accepted_at = at;
            cycle.acceptance_note = e.note.clone();
        }
        Payload::SchoolRequestDeclined(e) => {
            cycle.reason = e.reason.clone();
            cycle.closed_at = at;
            state.declined_cycles += 1;
        }
        Payload::SchoolEnrolled(e) => {
            cycle.enrolled_at = at;
            cycle.enrolled_school = e.school.clone();
            cycle.closed_at = at;
        }
        // `transition` refused every other kind's event above.
        _ => unreachable!("the lifecycle table admits only placement events"),
    }
    if state.id.is_empty() {
        state.id = event.aggregate_id.clone();
    }
    state.version = event.aggregate_version;
    state.last_position = position;
    debug_assert!(state.programme != Programme::Unspecified);
    state.status = status;
    Ok(())
}
