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
use super::state::{Certificate, Person, PersonRecord, RecordEntry, Training};

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
        (_, Some(record)) => match entry(payload)? {
            RecordEntry::Training(training) => record.trainings.push(training),
            RecordEntry::Certificate(certificate) => record.certificates.push(certificate),
        },
        (_, None) => return Err(not_applicable::<Person>(payload, "not registered")),
    }
    state.version = event.aggregate_version;
    Ok(())
}

impl Person {
    /// The entry `event` adds to the record of the registered person `id`
    /// at `version`, checked exactly as `apply` checks it (envelope, which
    /// events a registered person takes, their dates). For folds that keep
    /// the record in another shape: the projection keeps it masked, so it
    /// cannot hold a `Person`.
    pub fn entry(id: &str, version: u64, event: &EventEnvelope) -> Result<RecordEntry, ApplyError> {
        let registered = Person {
            id: id.to_string(),
            version,
            record: None,
        };
        entry(check_envelope(&registered, event)?)
    }
}

/// What `payload` adds to a registered person's record.
fn entry(payload: &Payload) -> Result<RecordEntry, ApplyError> {
    let refuse = |v: FieldViolation| {
        not_applicable::<Person>(payload, format!("registered ({})", stored(&v)))
    };
    match payload {
        Payload::TrainingRecorded(e) => Ok(RecordEntry::Training(Training {
            course: e.course.clone(),
            hours: e.hours,
            completed_on: validate::date("completed_on", &e.completed_on).map_err(refuse)?,
        })),
        Payload::CertificateRecorded(e) => Ok(RecordEntry::Certificate(Certificate {
            certificate: e.certificate.clone(),
            issuer: e.issuer.clone(),
            issued_on: validate::date("issued_on", &e.issued_on).map_err(refuse)?,
        })),
        _ => Err(not_applicable::<Person>(payload, "registered")),
    }
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
