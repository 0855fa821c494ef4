//! `apply`: folds one event into a station. It mirrors `decide` and re-checks
//! the seat invariant, so an event `decide` could not have produced (a child
//! seated in a full station, a promotion out of turn, a child enrolled twice)
//! is refused with `NotApplicable` and quarantined rather than folded. Every
//! check runs before the first change, so a refused event leaves the state as
//! it was.

use crate::aggregate::{ApplyError, check_envelope, not_applicable};
use crate::event::to_jiff;
use crate::pb::{EventEnvelope, event_envelope::Payload};

use super::Station;

pub(super) fn apply(
    state: &mut Station,
    event: &EventEnvelope,
    _position: u64,
) -> Result<(), ApplyError> {
    let payload = check_envelope(state, event)?;
    let refuse = |why: String| Err(not_applicable::<Station>(payload, why));

    if let Payload::StationOpened(e) = payload {
        if state.is_open() {
            return refuse("already open".into());
        }
        *state = Station {
            id: event.aggregate_id.clone(),
            name: e.name.clone(),
            seats: e.seats,
            opening_hours: e.opening_hours.clone(),
            area_code: e.area_code.clone(),
            address: e.address.clone(),
            opened_at: to_jiff(event.occurred_at.as_ref()),
            operator: event
                .actor
                .as_ref()
                .map(|a| a.agency.clone())
                .unwrap_or_default(),
            ..Station::default()
        };
        state.version = event.aggregate_version;
        return Ok(());
    }
    if !state.is_open() {
        return refuse("not open".into());
    }

    match payload {
        Payload::StationSeatsChanged(e) => {
            let seated = state.occupancy();
            if e.seats < seated {
                return refuse(format!(
                    "seating {seated} children (more than {} seats)",
                    e.seats
                ));
            }
            // Added seats go to the children waiting longest, all of them
            // that fit: nobody waits while a seat is free.
            let room = usize::try_from(e.seats - seated).unwrap_or(usize::MAX);
            let owed = room.min(state.waitlist.len());
            if e.promoted_person_ids[..] != state.waitlist[..owed] {
                return refuse(format!(
                    "waiting to seat {:?} in order, not {:?}",
                    &state.waitlist[..owed],
                    e.promoted_person_ids
                ));
            }
            let promoted = state.waitlist.drain(..owed);
            state.seated.extend(promoted);
            state.seats = e.seats;
        }
        Payload::ChildEnrolled(e) => {
            let child = &e.person_id;
            if child.is_empty() {
                return refuse("asked to enroll a child without a person id".into());
            }
            if state.is_enrolled(child) {
                return refuse(format!("already enrolling child {child}"));
            }
            let full = state.free_seats() == 0;
            if full && !e.waitlisted {
                return refuse(format!(
                    "full ({} of {} seats taken)",
                    state.occupancy(),
                    state.seats
                ));
            }
            if !full && e.waitlisted {
                return refuse(format!(
                    "not full ({} of {} seats free, so nobody waits)",
                    state.free_seats(),
                    state.seats
                ));
            }
            if full {
                state.waitlist.push(child.clone());
            } else {
                state.seated.push(child.clone());
            }
        }
        Payload::ChildWithdrawn(e) => {
            let child = &e.person_id;
            let promoted = &e.promoted_person_id;
            if let Some(seat) = state.seated.iter().position(|c| c == child) {
                let next = state.waitlist.first().map_or("", String::as_str);
                if promoted != next {
                    return refuse(format!(
                        "waiting to seat {next:?} in the freed seat, not {promoted:?}"
                    ));
                }
                state.seated.remove(seat);
                if !promoted.is_empty() {
                    let first = state.waitlist.remove(0);
                    state.seated.push(first);
                }
            } else if let Some(place) = state.waitlist.iter().position(|c| c == child) {
                if !promoted.is_empty() {
                    return refuse(format!(
                        "keeping child {child} on the waitlist (a waiting child frees no seat for {promoted})"
                    ));
                }
                state.waitlist.remove(place);
            } else {
                return refuse(format!("without child {child}"));
            }
        }
        // Events of other kinds never apply to a station.
        _ => return refuse("open".into()),
    }
    state.version = event.aggregate_version;
    Ok(())
}
