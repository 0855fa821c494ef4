//! A station's commands and their parsing from protobuf messages
//! ([`CommandMessage`]), what `decide` needs to know of other aggregates, and
//! the programme's promises as constants: seats, ages and opening hours.

use std::fmt;

use jiff::civil::{Date, Time};
use uuid::Uuid;

use super::{Station, station_id_for};
use crate::aggregate::PersonFacts;
use crate::command_meta::{CommandMessage, Input, context_accessors, on_existing};
use crate::error::FieldViolation;
use crate::pb;
use crate::validate::{self, AreaCode, Violations};

/// Most seats a station may offer.
pub const MAX_SEATS: u32 = 500;
/// Youngest age taken, in completed years.
pub const MIN_AGE: i16 = 3;
/// Oldest age taken, in completed years (until the 13th birthday).
pub const MAX_AGE: i16 = 12;
/// The programme promises care 8 hours a day.
pub const MIN_OPENING_HOURS: i32 = 8;

/// A command on a station. Text fields are checked by `decide` (which reports
/// every bad field at once as `DomainError::Invalid`), so a caller may build
/// commands straight from its input.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Opens the station (its first event).
    Open {
        /// The station's name; required.
        name: String,
        /// 1 to [`MAX_SEATS`].
        seats: u32,
        /// `HH:MM-HH:MM` within one day, at least [`MIN_OPENING_HOURS`] long.
        opening_hours: String,
        /// 12-digit code of the street or community it serves.
        area_code: AreaCode,
        /// Street address; required.
        address: String,
    },
    /// Sets the number of seats; never below the children seated. Added seats
    /// go to waiting children in order.
    ChangeSeats {
        /// The new number of seats, 1 to [`MAX_SEATS`].
        seats: u32,
    },
    /// Enrolls a registered military child, aged 3 to 12 on `on` (the day of
    /// enrollment): seated when a seat is free, else waitlisted.
    Enroll {
        /// The registered child (a person id).
        child_id: Uuid,
        /// The day of enrollment, against which the age is checked.
        on: Date,
    },
    /// Takes a child off the station or its waitlist. A freed seat goes to the
    /// first child waiting.
    Withdraw {
        /// The enrolled child (a person id).
        child_id: Uuid,
        /// Why the child leaves; required.
        reason: String,
    },
}

/// What `Enroll` needs to know of other aggregates, looked up by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StationFacts {
    /// The registered person `child_id` names; `None` when not registered.
    pub child: Option<PersonFacts>,
}

/// An opening creates its station, whose id derives from the opening agency
/// and the idempotency key. Its text fields are checked by `decide`.
impl CommandMessage for pb::OpenStationCommand {
    type Target = Station;
    const CREATES: bool = true;
    context_accessors!();

    fn body(&self, v: &mut Violations, input: &Input<'_>) -> Option<(Uuid, Command)> {
        let area_code = v.check(AreaCode::parse(
            "area_code",
            &self.area_code,
            &input.env.districts,
        ));
        Some((
            station_id_for(&input.actor.agency, input.idempotency_key),
            Command::Open {
                name: self.name.clone(),
                seats: self.seats,
                opening_hours: self.opening_hours.clone(),
                area_code: area_code?,
                address: self.address.clone(),
            },
        ))
    }
}

on_existing! { Station, station_id;
    pb::ChangeStationSeatsCommand => |m, _, _| Some(Command::ChangeSeats { seats: m.seats });
    // Enrolled as of the day the command occurred.
    pb::EnrollChildCommand => |m, v, input| {
        child(v, &m.child_person_id).map(|child_id| Command::Enroll {
            child_id,
            on: input.today,
        })
    };
    pb::WithdrawChildCommand => |m, v, _| {
        child(v, &m.child_person_id).map(|child_id| Command::Withdraw {
            child_id,
            reason: m.reason.clone(),
        })
    };
}

/// The child a command names.
fn child(v: &mut Violations, child_id: &str) -> Option<Uuid> {
    v.check(validate::aggregate_id("child_person_id", child_id))
}

/// Daily opening hours `HH:MM-HH:MM` within one day, open at least
/// [`MIN_OPENING_HOURS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningHours {
    opens: Time,
    closes: Time,
}

impl OpeningHours {
    /// Parses `08:30-16:30`; refuses other shapes, a closing time not after
    /// the opening time (overnight care is not what the programme offers) and
    /// fewer than [`MIN_OPENING_HOURS`] hours.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let shape = || FieldViolation::new(field, "must be written HH:MM-HH:MM, e.g. 08:30-16:30");
        let b = value.as_bytes();
        let well_formed = b.len() == 11
            && b.iter().enumerate().all(|(i, &c)| match i {
                2 | 8 => c == b':',
                5 => c == b'-',
                _ => c.is_ascii_digit(),
            });
        if !well_formed {
            return Err(shape());
        }
        let time = |at: usize| {
            let two = |i: usize| i8::try_from((b[i] - b'0') * 10 + (b[i + 1] - b'0')).ok();
            Time::new(two(at)?, two(at + 3)?, 0, 0).ok()
        };
        let (Some(opens), Some(closes)) = (time(0), time(6)) else {
            return Err(FieldViolation::new(
                field,
                format!("{value} is not a time of day (00:00 to 23:59)"),
            ));
        };
        let hours = Self { opens, closes };
        let minutes = hours.minutes();
        if minutes <= 0 {
            return Err(FieldViolation::new(
                field,
                "must close after it opens on the same day",
            ));
        }
        if minutes < MIN_OPENING_HOURS * 60 {
            return Err(FieldViolation::new(
                field,
                format!(
                    "must be open at least {MIN_OPENING_HOURS} hours a day, is {}h{:02}m",
                    minutes / 60,
                    minutes % 60
                ),
            ));
        }
        Ok(hours)
    }

    /// Opening time of day.
    pub fn opens(&self) -> Time {
        self.opens
    }

    /// Closing time of day, after the opening time.
    pub fn closes(&self) -> Time {
        self.closes
    }

    /// Minutes open a day.
    pub fn minutes(&self) -> i32 {
        let of_day = |t: Time| i32::from(t.hour()) * 60 + i32::from(t.minute());
        of_day(self.closes) - of_day(self.opens)
    }
}

impl fmt::Display for OpeningHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.opens.hour(),
            self.opens.minute(),
            self.closes.hour(),
            self.closes.minute()
        )
    }
}
