//! Person commands as validated values, parsed from their protobuf messages
//! ([`CommandMessage`]) into the value types (`IdNumber`, `Phone`,
//! `AreaCode`...); what is left to check depends on the role or the
//! person's state and belongs to `decide`.

use jiff::civil::Date;
use uuid::Uuid;

use super::{Person, person_id_for};
use crate::command_meta::{CommandMessage, Input, context_accessors, on_existing};
use crate::error::FieldViolation;
use crate::pb::{self, PersonRole, Relation};
use crate::person_data::{IdNumber, PersonName, Phone};
use crate::validate::{self, AreaCode, Code, Violations, text};

/// The service member or veteran a spouse or child belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// How the person is related to them (spouse of, child of).
    pub relation: Relation,
    /// The service member's name (masked in `Debug` like the person's own).
    pub name: PersonName,
    /// Their unit's agency code, when serving.
    pub unit: Option<Code>,
    /// Their person id, when they are registered here (a veteran).
    pub person_id: Option<Uuid>,
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
                Some(Uuid::try_parse(&link.person_id).map_err(|_| {
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
        /// What the person is registered as; decides which links they need.
        role: PersonRole,
        /// Their legal name.
        name: PersonName,
        /// Their 18-character resident ID number (the person id derives from it).
        id_number: IdNumber,
        /// Their mobile number, if given.
        phone: Option<Phone>,
        /// A street or community (not a whole district).
        area_code: AreaCode,
        /// A spouse needs a `SPOUSE_OF` link, a child a `CHILD_OF` link.
        links: Vec<Link>,
    },
    /// Training a spouse completed.
    RecordTraining {
        /// Name of the course, as the training provider calls it.
        course: String,
        /// Within [`TRAINING_HOURS`].
        hours: u32,
        /// The day the course was completed (not in the future).
        completed_on: Date,
    },
    /// A certificate a spouse obtained.
    RecordCertificate {
        /// Name of the certificate (a vocational qualification...).
        certificate: String,
        /// The body that issued it.
        issuer: String,
        /// The day it was issued (not in the future).
        issued_on: Date,
    },
    /// Destroys the person's data key (PIPL art. 47).
    Erase {
        /// Why the law allows or requires it; recorded in the event.
        legal_basis: String,
    },
    /// Blocks erasure until released.
    PlaceHold {
        /// Why (no personal data); shown to whoever tries to erase.
        reason: String,
    },
    /// Lifts the hold in force.
    ReleaseHold {
        /// Why it was lifted.
        reason: String,
    },
}

/// Longest legal basis or hold reason, in characters.
pub const REASON_MAX: usize = 500;

/// Hours a recorded training may last: a course of at least an hour, at most
/// about a year of full-time study.
pub const TRAINING_HOURS: std::ops::RangeInclusive<u32> = 1..=2000;

/// Most links one registration may carry (`RegisterPersonCommand.links`).
/// A spouse or a child needs one (a child may name both parents); a few
/// more leave room, far below what would make a command large.
pub const MAX_LINKS: usize = 8;

/// Longest course, certificate or issuer name, in characters.
pub const TITLE_MAX: usize = 200;

/// A registration creates its person, whose id derives from the ID number.
impl CommandMessage for pb::RegisterPersonCommand {
    type Target = Person;
    const CREATES: bool = true;
    context_accessors!();

    fn body(&self, v: &mut Violations, input: &Input<'_>) -> Option<(Uuid, Command)> {
        let role = v.check(validate::enum_value::<PersonRole>("role", self.role, None));
        let name = v.check(PersonName::parse("name", &self.name));
        let id_number = v.check(IdNumber::parse("id_number", &self.id_number, input.today));
        let phone = v.check_optional(&self.phone, |phone| Phone::parse("phone", phone));
        let area_code = v.check(AreaCode::parse(
            "area_code",
            &self.area_code,
            &input.env.districts,
        ));
        let links: Vec<Option<Link>> = if self.links.len() > MAX_LINKS {
            // One violation for the list, not one per bad link in it.
            v.push(FieldViolation::new(
                "links",
                format!(
                    "has {} links; at most {MAX_LINKS} are allowed",
                    self.links.len()
                ),
            ));
            vec![None]
        } else {
            self.links
                .iter()
                .enumerate()
                .map(|(i, link)| parse_link(v, &format!("links[{i}]"), link))
                .collect()
        };
        let id_number = id_number?;
        let id = person_id_for(&input.env.identity_key, &id_number);
        Some((
            id,
            Command::Register {
                role: role?,
                name: name?,
                id_number,
                phone: phone?,
                area_code: area_code?,
                links: links.into_iter().collect::<Option<Vec<_>>>()?,
            },
        ))
    }
}

/// A link as sent, every bad field named.
fn parse_link(v: &mut Violations, field: &str, link: &pb::PersonLink) -> Option<Link> {
    let relation = v.check(validate::enum_value(
        &format!("{field}.relation"),
        link.relation,
        None,
    ));
    let name = v.check(PersonName::parse(&format!("{field}.name"), &link.name));
    let unit = v.check_optional(&link.unit, |unit| {
        Code::parse(&format!("{field}.unit"), unit)
    });
    let person_id = v.check_optional(&link.person_id, |id| {
        validate::aggregate_id(&format!("{field}.person_id"), id)
    });
    Some(Link {
        relation: relation?,
        name: name?,
        unit: unit?,
        person_id: person_id?,
    })
}

on_existing! { Person, person_id;
    pb::RecordTrainingCommand => |m, v, input| {
        let course = v.check(text("course", &m.course, 1, TITLE_MAX));
        let completed_on = not_after_today(v, "completed_on", &m.completed_on, input.today);
        Some(Command::RecordTraining {
            course: course?,
            hours: m.hours,
            completed_on: completed_on?,
        })
    };
    pb::ErasePersonCommand => |m, v, _input| {
        let legal_basis = v.check(text("legal_basis", &m.legal_basis, 1, REASON_MAX));
        Some(Command::Erase { legal_basis: legal_basis? })
    };
    pb::PlaceLegalHoldCommand => |m, v, _input| {
        let reason = v.check(text("reason", &m.reason, 1, REASON_MAX));
        Some(Command::PlaceHold { reason: reason? })
    };
    pb::ReleaseLegalHoldCommand => |m, v, _input| {
        let reason = v.check(text("reason", &m.reason, 1, REASON_MAX));
        Some(Command::ReleaseHold { reason: reason? })
    };
    pb::RecordCertificateCommand => |m, v, input| {
        let certificate = v.check(text("certificate", &m.certificate, 1, TITLE_MAX));
        let issuer = v.check(text("issuer", &m.issuer, 1, TITLE_MAX));
        let issued_on = not_after_today(v, "issued_on", &m.issued_on, input.today);
        Some(Command::RecordCertificate {
            certificate: certificate?,
            issuer: issuer?,
            issued_on: issued_on?,
        })
    };
}

/// A date that has already come (the day the command occurred at the latest).
fn not_after_today(v: &mut Violations, field: &str, value: &str, today: Date) -> Option<Date> {
    let date = v.check(validate::date(field, value))?;
    if date > today {
        v.push(FieldViolation::new(
            field,
            format!("{date} is in the future"),
        ));
        return None;
    }
    Some(date)
}
