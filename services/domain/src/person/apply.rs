//! `apply` for persons: folds one event, parsing what it stored with the same
//! value types the edge uses, so a folded person is as valid as a fresh
//! command. Pure and deterministic: the only "today" is the day the event
//! occurred.

use crate::aggregate::{ApplyError, check_envelope, not_applicable};
use crate::error::FieldViolation;
use crate::event::to_jiff;
use crate::pb::{self, EventEnvelope, PersonRole, event_envelope::Payload};
use crate::person_data::{IdNumber, PersonName, Phone};
use crate::validate::{self, AreaCode, china_date};

use super::command::Link;
use super::state::{Certificate, Person, PersonRecord, Training};

pub(super) fn apply(state: &mut Person, event: &EventEnvelope) -> Result<(), ApplyError> {
    let payload = check_envelope(state, event)?;
    // Everything is parsed before anything changes: on error the state is
    // unchanged.
    match (payload, state.record.as_mut()) {
        (Payload::PersonRegistered(e), None) => {
            let record = registered(e, event).map_err(|reason| {
                not_applicable::<Person>(payload, format!("not registered ({reason})"))
            })?;
            state.id = event.aggregate_id.clone();
            state.record = Some(record);
        }
        (Payload::TrainingRecorded(e), Some(record)) => {
            let completed_on = validate::date("completed_on", &e.completed_on).map_err(|v| {
                not_applicable::<Person>(payload, format!("registered ({})", stored(&v)))
            })?;
            record.trainings.push(Training {
                course: e.course.clone(),
                hours: e.hours,
                completed_on,
            });
        }
        (Payload::CertificateRecorded(e), Some(record)) => {
            let issued_on = validate::date("issued_on", &e.issued_on).map_err(|v| {
                not_applicable::<Person>(payload, format!("registered ({})", stored(&v)))
            })?;
            record.certificates.push(Certificate {
                certificate: e.certificate.clone(),
                issuer: e.issuer.clone(),
                issued_on,
            });
        }
        (_, record) => {
            let state = if record.is_some() {
                "registered"
            } else {
                "not registered"
            };
            return Err(not_applicable::<Person>(payload, state));
        }
    }
    state.version = event.aggregate_version;
    Ok(())
}

/// The record a registration event stores, or why it does not parse. The
/// reason names fields, never their values (the value types' reasons never
/// echo them).
fn registered(e: &pb::PersonRegistered, event: &EventEnvelope) -> Result<PersonRecord, String> {
    let registered_at = to_jiff(event.occurred_at.as_ref())
        .ok_or_else(|| "its event has no valid occurred_at".to_string())?;
    let today = china_date(registered_at);
    let role = match PersonRole::try_from(e.role) {
        Ok(PersonRole::Unspecified) | Err(_) => {
            return Err(format!("its stored role {} is not a known role", e.role));
        }
        Ok(role) => role,
    };
    let name = PersonName::parse("name", &e.name).map_err(|v| stored(&v))?;
    let id_number = IdNumber::parse("id_number", &e.id_number, today).map_err(|v| stored(&v))?;
    let phone = if e.phone.is_empty() {
        None
    } else {
        Some(Phone::parse("phone", &e.phone).map_err(|v| stored(&v))?)
    };
    let area_code = AreaCode::parse_shape("area_code", &e.area_code).map_err(|v| stored(&v))?;
    let links = e
        .links
        .iter()
        .enumerate()
        .map(|(i, link)| Link::from_proto(link, &format!("links[{i}]")))
        .collect::<Result<_, _>>()
        .map_err(|v| stored(&v))?;
    Ok(PersonRecord {
        role,
        name,
        id_number,
        phone,
        area_code,
        links,
        trainings: Vec::new(),
        certificates: Vec::new(),
        registered_at,
    })
}

fn stored(violation: &FieldViolation) -> String {
    format!(
        "its stored {} does not parse: {}",
        violation.field, violation.reason
    )
}
