//! `decide`: a station's rules. Pure: the same state, command and facts always
//! give the same event or error. Fields are checked first (`Invalid` consults
//! no state), then the station's state.

use crate::error::{DomainError, FieldViolation};
use crate::pb::{self, Actor, PersonRole, event_envelope::Payload};
use crate::validate::{Violations, text};

use super::command::{Command, MAX_AGE, MAX_SEATS, MIN_AGE, OpeningHours, StationFacts};
use super::{KIND, Station};
use crate::person_data::age_on;

const NAME_MAX: usize = 100;
const ADDRESS_MAX: usize = 200;
const REASON_MAX: usize = 500;

/// Kind named by `NotFound` for a child who is neither seated nor waiting.
const ENROLLMENT: &str = "enrollment";
/// Kind named by `NotFound` for a child who is not registered.
const PERSON: &str = "person";

pub(super) fn decide(
    state: &Station,
    command: &Command,
    facts: &StationFacts,
    _actor: &Actor,
) -> Result<Payload, DomainError> {
    match command {
        Command::Open {
            name,
            seats,
            opening_hours,
            area_code,
            address,
        } => {
            let mut violations = Violations::default();
            let name = violations.check(text("name", name, 1, NAME_MAX));
            let seats = violations.check(seat_count("seats", *seats));
            let hours = violations.check(OpeningHours::parse("opening_hours", opening_hours));
            let address = violations.check(text("address", address, 1, ADDRESS_MAX));
            let opened = violations.finish(|| {
                Some(pb::StationOpened {
                    name: name?,
                    seats: seats?,
                    opening_hours: hours?.to_string(),
                    area_code: area_code.as_str().to_string(),
                    address: address?,
                })
            })?;
            if state.is_open() {
                return Err(DomainError::AlreadyExists {
                    kind: KIND,
                    id: state.id.clone(),
                });
            }
            Ok(Payload::StationOpened(opened))
        }
        Command::ChangeSeats { seats } => {
            let seats = seat_count("seats", *seats).map_err(|v| DomainError::Invalid(vec![v]))?;
            require_open(state)?;
            change_seats(state, seats)
        }
        Command::Enroll { child_id, on } => {
            require_open(state)?;
            enroll(state, &child_id.to_string(), *on, facts)
        }
        Command::Withdraw { child_id, reason } => {
            let reason =
                text("reason", reason, 1, REASON_MAX).map_err(|v| DomainError::Invalid(vec![v]))?;
            require_open(state)?;
            withdraw(state, &child_id.to_string(), reason)
        }
    }
}

fn seat_count(field: &str, seats: u32) -> Result<u32, FieldViolation> {
    if (1..=MAX_SEATS).contains(&seats) {
        Ok(seats)
    } else {
        Err(FieldViolation::new(
            field,
            format!("must be 1 to {MAX_SEATS}, is {seats}"),
        ))
    }
}

fn require_open(state: &Station) -> Result<(), DomainError> {
    if state.is_open() {
        Ok(())
    } else {
        Err(DomainError::NotFound {
            kind: KIND,
            id: state.id.clone(),
        })
    }
}

fn change_seats(state: &Station, seats: u32) -> Result<Payload, DomainError> {
    let seated = state.occupancy();
    if seats < seated {
        return Err(DomainError::RuleViolated(format!(
            "cannot reduce the station to {seats} seats: {seated} children are seated"
        )));
    }
    if seats == state.seats {
        return Err(DomainError::RuleViolated(format!(
            "station already has {seats} seats"
        )));
    }
    let room = usize::try_from(seats - seated).unwrap_or(usize::MAX);
    Ok(Payload::StationSeatsChanged(pb::StationSeatsChanged {
        seats,
        promoted_person_ids: state.waitlist.iter().take(room).cloned().collect(),
    }))
}

fn enroll(
    state: &Station,
    child: &str,
    on: jiff::civil::Date,
    facts: &StationFacts,
) -> Result<Payload, DomainError> {
    // Facts about someone else are a caller's mistake; treat them as absent.
    let Some(person) = facts.child.as_ref().filter(|p| p.id == child) else {
        return Err(DomainError::NotFound {
            kind: PERSON,
            id: child.to_string(),
        });
    };
    if person.role != PersonRole::MilitaryChild {
        return Err(DomainError::RuleViolated(format!(
            "person {child} is not registered as a military child; stations take military children"
        )));
    }
    let age = age_on(person.birth_date, on);
    if !(MIN_AGE..=MAX_AGE).contains(&age) {
        let is = if age < 0 {
            format!("is not yet born on {on}")
        } else {
            format!("is {age} years old on {on}")
        };
        return Err(DomainError::RuleViolated(format!(
            "child {child} {is}; stations take children aged {MIN_AGE} to {MAX_AGE}"
        )));
    }
    if state.is_seated(child) {
        return Err(DomainError::RuleViolated(format!(
            "child {child} already has a seat at this station"
        )));
    }
    if let Some(place) = state.position_in_waitlist(child) {
        return Err(DomainError::RuleViolated(format!(
            "child {child} is already waiting for a seat at this station (number {place} in line)"
        )));
    }
    Ok(Payload::ChildEnrolled(pb::ChildEnrolled {
        person_id: child.to_string(),
        waitlisted: state.free_seats() == 0,
    }))
}

fn withdraw(state: &Station, child: &str, reason: String) -> Result<Payload, DomainError> {
    let promoted = if state.is_seated(child) {
        state.waitlist.first().cloned().unwrap_or_default()
    } else if state.position_in_waitlist(child).is_some() {
        String::new()
    } else {
        return Err(DomainError::NotFound {
            kind: ENROLLMENT,
            id: child.to_string(),
        });
    };
    Ok(Payload::ChildWithdrawn(pb::ChildWithdrawn {
        person_id: child.to_string(),
        reason,
        promoted_person_id: promoted,
    }))
}
