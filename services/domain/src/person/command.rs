//! Person commands as validated values. The edge builds them from parsed
//! types (`IdNumber::parse`, `Phone::parse`, `AreaCode::parse`...); what is
//! left to check depends on the role or the person's state and belongs to
//! `decide`.

use jiff::civil::Date;

use crate::error::FieldViolation;
use crate::pb::{self, PersonRole, Relation};
use crate::person_data::{IdNumber, PersonName, Phone};
use crate::validate::{AreaCode, Code};

/// The service member or veteran a spouse or child belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub relation: Relation,
    /// The service member's name (masked in `Debug` like the person's own).
    pub name: PersonName,
    /// Their unit's agency code, when serving.
    pub unit: Option<Code>,
    /// Their person id, when they are registered here (a veteran).
    pub person_id: Option<uuid::Uuid>,
}

impl Link {
    pub(super) fn to_proto(&self) -> pb::PersonLink {
        pb::PersonLink {
            relation: self.relation as i32,
            name: self.name.as_str().to_string(),
            unit: self
                .unit
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_default(),
            person_id: self.person_id.map(|id| id.to_string()).unwrap_or_default(),
        }
    }

    /// The link a stored event records, parsed like input at the edge.
    pub(super) fn from_proto(link: &pb::PersonLink, field: &str) -> Result<Self, FieldViolation> {
        let relation = match Relation::try_from(link.relation) {
            Ok(Relation::Unspecified) | Err(_) => {
                return Err(FieldViolation::new(
                    format!("{field}.relation"),
                    "is not a known relation",
                ));
            }
            Ok(relation) => relation,
        };
        let name = PersonName::parse(&format!("{field}.name"), &link.name)?;
        let unit = if link.unit.is_empty() {
            None
        } else {
            Some(Code::parse(&format!("{field}.unit"), &link.unit)?)
        };
        let person_id =
            if link.person_id.is_empty() {
                None
            } else {
                Some(uuid::Uuid::try_parse(&link.person_id).map_err(|_| {
                    FieldViolation::new(format!("{field}.person_id"), "is not a UUID")
                })?)
            };
        Ok(Self {
            relation,
            name,
            unit,
            person_id,
        })
    }
}

/// A command on a person. `Debug` masks the personal data, like the value
/// types it is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Enters a person into the registry. The aggregate it addresses is
    /// `person_id_for(key, &id_number)`.
    Register {
        role: PersonRole,
        name: PersonName,
        id_number: IdNumber,
        phone: Option<Phone>,
        /// A street or community (not a whole district).
        area_code: AreaCode,
        /// A spouse needs a `SPOUSE_OF` link, a child a `CHILD_OF` link.
        links: Vec<Link>,
    },
    /// Training a spouse completed.
    RecordTraining {
        course: String,
        /// Within [`TRAINING_HOURS`].
        hours: u32,
        completed_on: Date,
    },
    /// A certificate a spouse obtained.
    RecordCertificate {
        certificate: String,
        issuer: String,
        issued_on: Date,
    },
}

/// Hours a recorded training may last: a course of at least an hour, at most
/// about a year of full-time study.
pub const TRAINING_HOURS: std::ops::RangeInclusive<u32> = 1..=2000;

/// Longest course, certificate or issuer name, in characters.
pub const TITLE_MAX: usize = 200;
