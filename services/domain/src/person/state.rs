//! A person as folded from their events.

use jiff::Timestamp;
use jiff::civil::Date;

use crate::aggregate::PersonFacts;
use crate::error::DomainError;
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
    /// The record with its personal data, while it can be read.
    pub(super) record: Option<PersonRecord>,
    /// What is left of a registration whose personal data cannot be read:
    /// erased, or sealed and folded by a reader without the data key.
    pub(super) withheld: Option<Withheld>,
    /// Set by `PersonErased`: the data key is gone for good.
    pub(super) erasure: Option<Erasure>,
    /// The reason of the legal hold in force, which blocks erasure.
    pub(super) hold: Option<String>,
}

/// The part of a registration that is not personal data: enough to count
/// the person in statistics and to refuse commands on them clearly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld {
    /// What they were registered as.
    pub role: PersonRole,
    /// The street or community they were registered in.
    pub area_code: AreaCode,
    /// When the registration event occurred.
    pub registered_at: Timestamp,
}

/// An erasure as its event recorded it (no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// The erasure event's id (the key store's tombstone names it).
    pub event_id: String,
    /// When the erasure event occurred.
    pub erased_at: Timestamp,
    /// The legal basis given.
    pub legal_basis: String,
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

    /// The facts other aggregates need, or why they cannot have them: a
    /// person whose data was erased takes no new placement, allowance or
    /// seat (their birth date went with their ID number). `Ok(None)` until
    /// registered.
    pub fn facts_for_others(&self) -> Result<Option<PersonFacts>, DomainError> {
        self.refuse_if_erased()?;
        Ok(self.facts())
    }

    /// `RuleViolated` once erased: nothing more is recorded about them.
    pub(super) fn refuse_if_erased(&self) -> Result<(), DomainError> {
        match &self.erasure {
            None => Ok(()),
            Some(erasure) => Err(DomainError::RuleViolated(format!(
                "person {} was erased at {}; nothing more is recorded about them",
                self.id, erasure.erased_at
            ))),
        }
    }

    /// The record, once registered.
    pub fn record(&self) -> Option<&PersonRecord> {
        self.record.as_ref()
    }

    /// Whether the registration event has been folded.
    pub fn is_registered(&self) -> bool {
        self.record.is_some() || self.withheld.is_some()
    }

    /// The registration's non-personal part, whether or not its personal
    /// data can still be read.
    pub fn withheld(&self) -> Option<Withheld> {
        match (&self.record, &self.withheld) {
            (Some(record), _) => Some(Withheld {
                role: record.role,
                area_code: record.area_code.clone(),
                registered_at: record.registered_at,
            }),
            (None, withheld) => withheld.clone(),
        }
    }

    /// The erasure, once the person's data key was destroyed.
    pub fn erasure(&self) -> Option<&Erasure> {
        self.erasure.as_ref()
    }

    /// The reason of the legal hold in force, if any.
    pub fn hold(&self) -> Option<&str> {
        self.hold.as_deref()
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
