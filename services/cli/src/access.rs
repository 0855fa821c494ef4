//! `sy access`: who looked at whose unmasked data, read straight from the
//! access log (`sy_eventlog::access`, stream `<stream>_ACCESS`) as the NATS
//! auditor, not through a service. `--person` lists every access to one
//! person's data (also what the person gets when they ask for their own
//! access history, PIPL article 45); `--reader` every access by one agency.
//!
//! One line per access (time in China Standard Time, reader, person,
//! purpose, fields, outcome, access id), or with `--json` one JSON object
//! per line. The records hold no personal data, so neither does the output.

use std::io::Write as _;

use prost::Message as _;
use sy_api::pb::AccessRecorded;
use sy_eventlog::access::{AccessLog, Filter, StoredAccess};
use uuid::Uuid;

use crate::args::AccessArgs;
use crate::error::Error;
use crate::log;
use crate::render;

/// What `args` asks for.
fn filter(args: &AccessArgs) -> Result<Filter, Error> {
    match (&args.person, &args.reader) {
        (Some(person), None) => Uuid::try_parse(person)
            .map(Filter::Person)
            .map_err(|_| Error::Usage(format!("--person {person:?} is not a person id (a UUID)"))),
        (None, Some(agency)) if !agency.is_empty() => Ok(Filter::Reader(agency.clone())),
        _ => Err(Error::Usage(
            "give one of --person ID or --reader AGENCY".into(),
        )),
    }
}

/// `stored` decoded; a record that does not decode is an error naming it.
fn decode(stored: &StoredAccess) -> Result<AccessRecorded, Error> {
    AccessRecorded::decode(stored.payload.as_ref()).map_err(|err| {
        Error::Failed(format!(
            "access record {} ({}) does not decode: {err}",
            stored.sequence, stored.subject
        ))
    })
}

/// One access as a line of text.
fn line(record: &AccessRecorded) -> String {
    let fields = if record.fields.is_empty() {
        "-".to_string()
    } else {
        record.fields.join(",")
    };
    let note = if record.note.is_empty() {
        String::new()
    } else {
        format!("  note {:?}", record.note)
    };
    format!(
        "{time}  {reader}  person {person}  purpose {purpose}  fields {fields}  {outcome}  access {id}{note}",
        time = render::precise_time(record.at.as_ref()),
        reader = render::actor(record.reader.as_ref()),
        person = record.person_id,
        purpose = record.purpose,
        outcome = record.outcome,
        id = record.access_id,
    )
}

/// One access as a JSON object.
fn json(stored: &StoredAccess, record: &AccessRecorded) -> serde_json::Value {
    let reader = record.reader.clone().unwrap_or_default();
    serde_json::json!({
        "sequence": stored.sequence,
        "access_id": record.access_id,
        "at": record
            .at
            .as_ref()
            .and_then(|at| sy_domain::event::to_jiff(Some(at)))
            .map(|at| at.to_string()),
        "person_id": record.person_id,
        "reader": { "agency": reader.agency, "user": reader.user },
        "purpose": record.purpose,
        "fields": record.fields,
        "note": record.note,
        "outcome": record.outcome,
    })
}

/// Runs `sy access`.
pub async fn run(args: &AccessArgs, timeout: std::time::Duration) -> Result<(), Error> {
    let filter = filter(args)?;
    let log = log::open(&args.log, timeout).await?;
    let stored = AccessLog::new(&log, 1)
        .list(&filter)
        .await
        .map_err(|err| Error::Failed(err.to_string()))?;
    let mut shown = 0usize;
    for entry in &stored {
        let record = decode(entry)?;
        // The subject already selects these; the record has the last word.
        let matches = match &filter {
            Filter::Person(person) => record.person_id == person.to_string(),
            Filter::Reader(agency) => record.reader.as_ref().is_some_and(|r| r.agency == *agency),
        };
        if !matches {
            continue;
        }
        if args.json {
            say!("{}", json(entry, &record));
        } else {
            say!("{}", line(&record));
        }
        shown += 1;
    }
    let whose = match &filter {
        Filter::Person(person) => format!("to person {person}"),
        Filter::Reader(agency) => format!("by {agency}"),
    };
    let _ = writeln!(std::io::stderr(), "{shown} accesses {whose}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_who_whose_why_what_and_how_it_ended() {
        let record = AccessRecorded {
            access_id: "a-1".into(),
            person_id: "p-1".into(),
            reader: Some(sy_api::pb::Actor {
                agency: "district-veterans-bureau".into(),
                user: "zhang".into(),
            }),
            fields: vec!["name".into(), "phone".into()],
            purpose: "contact-for-placement".into(),
            note: "case 2026-0415".into(),
            at: Some(prost_types::Timestamp {
                seconds: 1_780_272_000,
                nanos: 0,
            }),
            outcome: "disclosed".into(),
        };
        let text = line(&record);
        for part in [
            "2026-06-01 08:00:00",
            "district-veterans-bureau/zhang",
            "person p-1",
            "purpose contact-for-placement",
            "fields name,phone",
            "disclosed",
            "access a-1",
            "note \"case 2026-0415\"",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
        let stored = StoredAccess {
            sequence: 4,
            subject: "sy.access.p-1.district-veterans-bureau".into(),
            payload: record.encode_to_vec().into(),
        };
        let value = json(&stored, &decode(&stored).unwrap());
        assert_eq!(value["reader"]["agency"], "district-veterans-bureau");
        assert_eq!(value["fields"][1], "phone");
        assert_eq!(value["at"], "2026-06-01T00:00:00Z");
    }
}
