//! A station's commands, what `decide` needs to know of other aggregates, and
//! the programme's promises as constants: seats, ages and opening hours.

use std::fmt;

use jiff::civil::{Date, Time};

use crate::aggregate::PersonFacts;
use crate::error::FieldViolation;
use crate::validate::AreaCode;

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
        name: String,
        /// 1 to [`MAX_SEATS`].
        seats: u32,
        /// `HH:MM-HH:MM` within one day, at least [`MIN_OPENING_HOURS`] long.
        opening_hours: String,
        area_code: AreaCode,
        address: String,
    },
    /// Sets the number of seats; never below the children seated. Added seats
    /// go to waiting children in order.
    ChangeSeats { seats: u32 },
    /// Enrolls a registered military child, aged 3 to 12 on `on` (the day of
    /// enrollment): seated when a seat is free, else waitlisted.
    Enroll { child_id: uuid::Uuid, on: Date },
    /// Takes a child off the station or its waitlist. A freed seat goes to the
    /// first child waiting.
    Withdraw {
        child_id: uuid::Uuid,
        reason: String,
    },
}

/// What `Enroll` needs to know of other aggregates, looked up by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StationFacts {
    /// The registered person `child_id` names; `None` when not registered.
    pub child: Option<PersonFacts>,
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

    pub fn opens(&self) -> Time {
        self.opens
    }

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
