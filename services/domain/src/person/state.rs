//! A person as folded from their events.

use jiff::Timestamp;
use jiff::civil::Date;

use crate::aggregate::PersonFacts;
use crate::pb::PersonRole;
use crate::person_data::{IdNumber, PersonName, Phone, Sex};
use crate::validate::AreaCode;

use super::command::Link;

/// A person aggregate: nothing until registered, then their record.
///
/// `Debug` is derived but safe: the personal fields are value types that
/// print masked, and the birth date is only ever read from the number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub(super) id: String,
    pub(super) version: u64,
    pub(super) record: Option<PersonRecord>,
}

/// What the registry knows of a registered person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    /// What they are registered as (veteran, spouse, child...).
    pub role: PersonRole,
    /// Their legal name (masked in `Debug`).
    pub name: PersonName,
    /// Their resident ID number (masked in `Debug`); the birth date reads from it.
    pub id_number: IdNumber,
    /// Their mobile number, if given (masked in `Debug`).
    pub phone: Option<Phone>,
    /// The street or community they were registered in.
    pub area_code: AreaCode,
    /// The service members or veterans they belong to, as registered.
    pub links: Vec<Link>,
    /// In the order recorded.
    pub trainings: Vec<Training>,
    /// In the order recorded.
    pub certificates: Vec<Certificate>,
    /// When the registration event occurred.
    pub registered_at: Timestamp,
}

/// A training course a spouse completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Training {
    /// Name of the course.
    pub course: String,
    /// Its length in hours, within `TRAINING_HOURS`.
    pub hours: u32,
    /// The day it was completed.
    pub completed_on: Date,
}

/// What a registered person's record takes after the registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordEntry {
    /// A completed training course.
    Training(Training),
    /// An obtained certificate.
    Certificate(Certificate),
}

/// A certificate a spouse obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Name of the certificate.
    pub certificate: String,
    /// The body that issued it.
    pub issuer: String,
    /// The day it was issued.
    pub issued_on: Date,
}

impl Person {
    /// A person not registered yet, addressed by `id` (the id
    /// [`super::person_id_for`] gives), so that `NotFound` can name it. The
    /// first event's id wins.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }

    /// The record, once registered.
    pub fn record(&self) -> Option<&PersonRecord> {
        self.record.as_ref()
    }

    /// Whether the registration event has been folded.
    pub fn is_registered(&self) -> bool {
        self.record.is_some()
    }

    /// What other aggregates may know of this person; `None` until
    /// registered.
    pub fn facts(&self) -> Option<PersonFacts> {
        let record = self.record.as_ref()?;
        Some(PersonFacts {
            id: self.id.clone(),
            role: record.role,
            birth_date: record.birth_date(),
            area_code: record.area_code.as_str().to_string(),
        })
    }
}

impl PersonRecord {
    /// From the ID number (characters 7-14).
    pub fn birth_date(&self) -> Date {
        self.id_number.birth_date()
    }

    /// From the ID number (character 17).
    pub fn sex(&self) -> Sex {
        self.id_number.sex()
    }

    /// Age in completed years on `date`.
    pub fn age_on(&self, date: Date) -> i16 {
        self.id_number.age_on(date)
    }
}
