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
use super::state::{Certificate, Erasure, Person, PersonRecord, RecordEntry, Training, Withheld};

pub(super) fn apply(state: &mut Person, event: &EventEnvelope) -> Result<(), ApplyError> {
    let payload = check_envelope(state, event)?;
    // Everything is parsed before anything changes: on error the state is
    // unchanged.
    let registered_now = state.is_registered();
    match (payload, state.record.as_mut()) {
        (Payload::PersonRegistered(e), None) if !registered_now => {
            let not_registered = |reason: String| {
                not_applicable::<Person>(payload, format!("not registered ({reason})"))
            };
            if event.personal.is_some() {
                // Sealed and not opened: erased, or this reader has no key.
                state.withheld = Some(withheld(e, event).map_err(not_registered)?);
            } else {
                state.record = Some(registered(e, event).map_err(not_registered)?);
            }
            state.id = event.aggregate_id.clone();
        }
        (Payload::PersonErased(e), _) if registered_now && state.erasure.is_none() => {
            let erased_at = to_jiff(event.occurred_at.as_ref()).ok_or_else(|| {
                not_applicable::<Person>(payload, "registered (no valid occurred_at)")
            })?;
            state.withheld = state.withheld();
            state.record = None;
            state.erasure = Some(Erasure {
                event_id: event.event_id.clone(),
                erased_at,
                legal_basis: e.legal_basis.clone(),
            });
        }
        (Payload::LegalHoldPlaced(e), _) if registered_now && state.hold.is_none() => {
            state.hold = Some(e.reason.clone());
        }
        (Payload::LegalHoldReleased(_), _) if state.hold.is_some() => state.hold = None,
        (_, Some(record)) => match entry(payload)? {
            RecordEntry::Training(training) => record.trainings.push(training),
            RecordEntry::Certificate(certificate) => record.certificates.push(certificate),
        },
        // What a registered person records, sealed and not opened: it
        // counts (the version) but cannot be read.
        (Payload::TrainingRecorded(_) | Payload::CertificateRecorded(_), None)
            if registered_now && event.personal.is_some() => {}
        (_, _) if registered_now => {
            return Err(not_applicable::<Person>(payload, "registered"));
        }
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
        entry(Self::check_next(id, version, event)?)
    }

    /// The payload of `event` if it may follow version `version` of the
    /// registered person `id` (the envelope checks `apply` runs first).
    pub fn check_next<'e>(
        id: &str,
        version: u64,
        event: &'e EventEnvelope,
    ) -> Result<&'e Payload, ApplyError> {
        let registered = Person {
            id: id.to_string(),
            version,
            ..Person::default()
        };
        check_envelope(&registered, event)
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
    let role = stored_role(e.role)?;
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

/// The non-personal part of a sealed registration.
fn withheld(e: &pb::PersonRegistered, event: &EventEnvelope) -> Result<Withheld, String> {
    let registered_at = to_jiff(event.occurred_at.as_ref())
        .ok_or_else(|| "its event has no valid occurred_at".to_string())?;
    Ok(Withheld {
        role: stored_role(e.role)?,
        area_code: AreaCode::parse_shape("area_code", &e.area_code).map_err(|v| stored(&v))?,
        registered_at,
    })
}

fn stored_role(role: i32) -> Result<PersonRole, String> {
    match PersonRole::try_from(role) {
        Ok(PersonRole::Unspecified) | Err(_) => {
            Err(format!("its stored role {role} is not a known role"))
        }
        Ok(role) => Ok(role),
    }
}

fn stored(violation: &FieldViolation) -> String {
    format!(
        "its stored {} does not parse: {}",
        violation.field, violation.reason
    )
}
