//! `decide` for persons: the one place the registry's rules live. Pure.
//!
//! Malformed commands are refused first (`Invalid`, from the command alone),
//! then the rules that read the person's state.

use jiff::civil::Date;

use crate::error::{DomainError, FieldViolation};
use crate::pb::{self, PersonRole, Relation, event_envelope::Payload};
use crate::validate::{Violations, text};

use super::command::{Command, Link, TITLE_MAX, TRAINING_HOURS};
use super::state::{Person, PersonRecord};

pub(super) fn decide(state: &Person, command: &Command) -> Result<Payload, DomainError> {
    match command {
        Command::Erase { legal_basis } => {
            not_erased(state)?;
            if let Some(reason) = &state.hold {
                return Err(DomainError::RuleViolated(format!(
                    "person {} is under a legal hold and cannot be erased: {reason}",
                    state.id
                )));
            }
            Ok(Payload::PersonErased(pb::PersonErased {
                legal_basis: legal_basis.clone(),
            }))
        }
        Command::PlaceHold { reason } => match &not_erased(state)?.hold {
            Some(current) => Err(DomainError::RuleViolated(format!(
                "person {} is already under a legal hold: {current}",
                state.id
            ))),
            None => Ok(Payload::LegalHoldPlaced(pb::LegalHoldPlaced {
                reason: reason.clone(),
            })),
        },
        Command::ReleaseHold { reason } => match &not_erased(state)?.hold {
            None => Err(DomainError::RuleViolated(format!(
                "person {} is under no legal hold",
                state.id
            ))),
            Some(_) => Ok(Payload::LegalHoldReleased(pb::LegalHoldReleased {
                reason: reason.clone(),
            })),
        },
        Command::Register {
            role,
            name,
            id_number,
            phone,
            area_code,
            links,
        } => {
            let mut v = Violations::default();
            check_role_and_links(&mut v, *role, links);
            if area_code.scope_prefix() == area_code.district() {
                v.push(FieldViolation::new(
                    "area_code",
                    "must name a street or community, not a whole district",
                ));
            }
            v.finish(|| Some(()))?;
            if state.is_registered() {
                return Err(DomainError::AlreadyExists {
                    kind: "person",
                    id: state.id.clone(),
                });
            }
            Ok(Payload::PersonRegistered(pb::PersonRegistered {
                role: *role as i32,
                name: name.as_str().to_string(),
                id_number: id_number.as_str().to_string(),
                phone: phone
                    .as_ref()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
                area_code: area_code.as_str().to_string(),
                links: links.iter().map(Link::to_proto).collect(),
            }))
        }
        Command::RecordTraining {
            course,
            hours,
            completed_on,
        } => {
            let mut v = Violations::default();
            let course = v.check(text("course", course, 1, TITLE_MAX));
            if !TRAINING_HOURS.contains(hours) {
                v.push(FieldViolation::new(
                    "hours",
                    format!(
                        "must be between {} and {}, is {hours}",
                        TRAINING_HOURS.start(),
                        TRAINING_HOURS.end()
                    ),
                ));
            }
            let course = v.finish(|| course)?;
            let record = spouse(state, "training is")?;
            after_birth(record, "completed_on", *completed_on)?;
            if record
                .trainings
                .iter()
                .any(|t| t.course == course && t.completed_on == *completed_on)
            {
                return Err(DomainError::RuleViolated(format!(
                    "training {course:?} completed on {completed_on} is already recorded"
                )));
            }
            Ok(Payload::TrainingRecorded(pb::TrainingRecorded {
                course,
                hours: *hours,
                completed_on: completed_on.to_string(),
            }))
        }
        Command::RecordCertificate {
            certificate,
            issuer,
            issued_on,
        } => {
            let mut v = Violations::default();
            let certificate = v.check(text("certificate", certificate, 1, TITLE_MAX));
            let issuer = v.check(text("issuer", issuer, 1, TITLE_MAX));
            let (certificate, issuer) = v.finish(|| Some((certificate?, issuer?)))?;
            let record = spouse(state, "certificates are")?;
            after_birth(record, "issued_on", *issued_on)?;
            if record.certificates.iter().any(|c| {
                c.certificate == certificate && c.issuer == issuer && c.issued_on == *issued_on
            }) {
                return Err(DomainError::RuleViolated(format!(
                    "certificate {certificate:?} issued by {issuer:?} on {issued_on} is already recorded"
                )));
            }
            Ok(Payload::CertificateRecorded(pb::CertificateRecorded {
                certificate,
                issuer,
                issued_on: issued_on.to_string(),
            }))
        }
    }
}

/// The role is known, every link's relation is, and a spouse or child has the
/// link that makes them one.
fn check_role_and_links(v: &mut Violations, role: PersonRole, links: &[Link]) {
    for (i, link) in links.iter().enumerate() {
        if link.relation == Relation::Unspecified {
            v.push(FieldViolation::new(
                format!("links[{i}].relation"),
                "is required",
            ));
        }
    }
    let required = match role {
        PersonRole::Unspecified => {
            v.push(FieldViolation::new("role", "is required"));
            return;
        }
        PersonRole::Veteran => return,
        PersonRole::MilitarySpouse => Relation::SpouseOf,
        PersonRole::MilitaryChild => Relation::ChildOf,
    };
    if !links.iter().any(|link| link.relation == required) {
        v.push(FieldViolation::new(
            "links",
            format!(
                "a {} needs a {} link to the service member",
                role_name(role),
                required.as_str_name().trim_start_matches("RELATION_")
            ),
        ));
    }
}

/// The record of a registered spouse: training and certificates are the
/// spouse programme's (随军家属培训、取证). `what` starts the refusal:
/// "training is".
fn spouse<'s>(state: &'s Person, what: &str) -> Result<&'s PersonRecord, DomainError> {
    // Registered and not erased, so without a record its data is sealed to
    // this reader: intake always holds the keys, so only a reader that
    // does not would get here.
    let record = not_erased(state)?.record.as_ref().ok_or_else(|| {
        DomainError::RuleViolated(format!(
            "the personal data of person {} cannot be read here",
            state.id
        ))
    })?;
    if record.role != PersonRole::MilitarySpouse {
        return Err(DomainError::RuleViolated(format!(
            "{what} recorded for military spouses only; person {} is a {}",
            state.id,
            role_name(record.role)
        )));
    }
    Ok(record)
}

/// `state`, if it is a registered person who was not erased: nothing more
/// is recorded about an erased person.
fn not_erased(state: &Person) -> Result<&Person, DomainError> {
    if !state.is_registered() {
        return Err(DomainError::NotFound {
            kind: "person",
            id: state.id.clone(),
        });
    }
    state.refuse_if_erased()?;
    Ok(state)
}

/// Nobody trains or is certified before they are born. The message does not
/// name the birth date, which is part of the ID number.
fn after_birth(record: &PersonRecord, field: &str, date: Date) -> Result<(), DomainError> {
    if date < record.birth_date() {
        return Err(DomainError::RuleViolated(format!(
            "{field} {date} is before the person was born"
        )));
    }
    Ok(())
}

/// Lowercase role name for messages: "military spouse".
pub(super) fn role_name(role: PersonRole) -> String {
    role.as_str_name()
        .trim_start_matches("PERSON_ROLE_")
        .to_ascii_lowercase()
        .replace('_', " ")
}
