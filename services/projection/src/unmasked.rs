//! `PlacementQuery.GetPersonUnmasked`: a person's data in the clear, for a
//! purpose, and a record of every such look (issue 10, PIPL articles 45 and
//! 51).
//!
//! The read model keeps persons masked and never holds their data in the
//! clear, so an unmasked read goes to the source: the person's events
//! (`sy.evt.person.<id>`), checked as the fold checks them (intake's
//! signature when the replica has verify keys, the upcast, the aggregate
//! the subject names), opened with the person's data key and folded by the
//! domain's own `Person::apply`. An event the fold would quarantine is
//! skipped here too. Placements and the allowance, which are not personal,
//! come from the read model as `GetPerson` serves them.
//!
//! The access is appended to the access log (`sy_eventlog::access`)
//! before the reply is sent: if it cannot be recorded the call is
//! UNAVAILABLE and nothing is disclosed. The record names the fields
//! disclosed, never their values. An erased person's read is recorded too,
//! with no fields, and discloses nothing personal.
//!
//! The role (`personal-data`) is checked with every other role, before the
//! call reaches the service (`sy_api::policy`); the purpose and the note
//! are checked here.

use prost::Message as _;
use sy_api::status::from_domain;
use sy_domain::FieldViolation;
use sy_domain::aggregate::Aggregate;
use sy_domain::event::{subject, to_proto};
use sy_domain::pb::{self, Actor};
use sy_domain::person::Person;
use sy_domain::validate::{Violations, aggregate_id};
use sy_eventlog::EventLog;
use sy_eventlog::access::AccessLog;
use sy_eventlog::keystore::{KeyStore, KeyStoreError};
use tokio::sync::OnceCell;
use tonic::Status;
use tracing::{info, warn};
use uuid::Uuid;

use crate::live::Live;
use crate::read_model::checked_envelope;
use crate::serving::internal;

/// Why personal data may be read in the clear: the codes a caller gives in
/// `purpose`, each with what it covers (documented in
/// `placement_query.proto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Calling or writing to the person about a placement, post or place.
    ContactForPlacement,
    /// Paying or stopping the spouse allowance.
    AllowancePayment,
    /// Enrolling a child with a school or a care station.
    SchoolEnrollment,
    /// A duty under law (a court, an inspection).
    LegalObligation,
    /// The person asked for their own data (PIPL article 45).
    SubjectAccessRequest,
}

impl Purpose {
    const ALL: [Self; 5] = [
        Self::ContactForPlacement,
        Self::AllowancePayment,
        Self::SchoolEnrollment,
        Self::LegalObligation,
        Self::SubjectAccessRequest,
    ];

    /// The code as callers send it and the access log records it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ContactForPlacement => "contact-for-placement",
            Self::AllowancePayment => "allowance-payment",
            Self::SchoolEnrollment => "school-enrollment",
            Self::LegalObligation => "legal-obligation",
            Self::SubjectAccessRequest => "subject-access-request",
        }
    }

    fn parse(field: &str, code: &str) -> Result<Self, FieldViolation> {
        Self::ALL
            .into_iter()
            .find(|purpose| purpose.as_str() == code)
            .ok_or_else(|| {
                let codes: Vec<&str> = Self::ALL.iter().map(|p| p.as_str()).collect();
                FieldViolation::new(field, format!("must be one of {}", codes.join(", ")))
            })
    }
}

/// The longest note, in characters.
pub(crate) const MAX_NOTE_CHARS: usize = 200;

/// The longest run of digits a note may hold: an ID number has 17 or 18,
/// a mobile number 11, a landline 7 or 8, while a case reference such as
/// `2026-0415` stays within it.
const MAX_DIGIT_RUN: usize = 6;

/// A checked `GetPersonUnmaskedRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnmaskedRead {
    person: Uuid,
    purpose: Purpose,
    note: String,
}

fn check_note(note: &str) -> Result<(), FieldViolation> {
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(FieldViolation::new(
            "note",
            format!("must be at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    let mut run = 0;
    for c in note.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run > MAX_DIGIT_RUN {
            return Err(FieldViolation::new(
                "note",
                format!(
                    "must hold no personal data: more than {MAX_DIGIT_RUN} digits in a row \
                     look like an ID or phone number"
                ),
            ));
        }
    }
    if note.chars().any(char::is_control) {
        return Err(FieldViolation::new(
            "note",
            "must be one line without control characters",
        ));
    }
    Ok(())
}

/// Checks `request`: INVALID_ARGUMENT naming every field that is wrong.
pub(crate) fn parse(request: &pb::GetPersonUnmaskedRequest) -> Result<UnmaskedRead, Status> {
    let mut v = Violations::default();
    let person = v.check(aggregate_id("person_id", &request.person_id));
    let purpose = v.check(Purpose::parse("purpose", &request.purpose));
    let note = v.check(check_note(&request.note));
    v.finish(|| {
        note?;
        Some(UnmaskedRead {
            person: person?,
            purpose: purpose?,
            note: request.note.clone(),
        })
    })
    .map_err(|err| from_domain(&err))
}

/// Serves unmasked reads and records each one.
pub(crate) struct Unmasked {
    live: Live,
    log: EventLog,
    access: AccessLog,
    /// Set once the access log's stream is known to exist.
    access_ready: OnceCell<()>,
}

/// What an access record says of the outcome.
const DISCLOSED: &str = "disclosed";
const ERASED: &str = "erased";

impl Unmasked {
    /// Reads `log` (and its key store, once the fold opened it, through
    /// `live`); records in the access log beside it, created with
    /// `replicas` on first use.
    pub(crate) fn new(live: Live, log: EventLog, replicas: usize) -> Self {
        let access = AccessLog::new(&log, replicas);
        Self {
            live,
            log,
            access,
            access_ready: OnceCell::new(),
        }
    }

    /// The person of `read` in the clear, for `reader`, once the access is
    /// recorded.
    pub(crate) async fn read(
        &self,
        read: UnmaskedRead,
        reader: Actor,
    ) -> Result<pb::GetPersonUnmaskedResponse, Status> {
        let store = self.live.data_keys().ok_or_else(|| {
            Status::unavailable(
                "personal data cannot be opened here: this replica has not opened the key \
                 store (still starting, or read-only)",
            )
        })?;
        let id = read.person.to_string();
        let person = self.fold(&id, store).await?;
        // Placements and the allowance as served; the identity comes from
        // the log, so the sealed masks are not needed.
        let served = self
            .live
            .model()
            .and_then(|model| model.person(&id))
            .map_err(internal)?
            .and_then(|stored| stored.view);
        let (person, fields) = clear_view(&person, served);
        let access_id = Uuid::now_v7().to_string();
        let record = pb::AccessRecorded {
            access_id: access_id.clone(),
            person_id: id,
            reader: Some(reader),
            fields: fields.iter().map(|f| (*f).to_string()).collect(),
            purpose: read.purpose.as_str().to_string(),
            note: read.note,
            at: Some(to_proto(jiff::Timestamp::now())),
            outcome: if person.erased { ERASED } else { DISCLOSED }.to_string(),
        };
        self.record(read.person, &record).await?;
        Ok(pb::GetPersonUnmaskedResponse {
            person: Some(person),
            access_id,
        })
    }

    /// Appends `record` to the access log; UNAVAILABLE if it is not stored.
    async fn record(&self, person: Uuid, record: &pb::AccessRecorded) -> Result<(), Status> {
        let not_recorded = |err: sy_eventlog::access::AccessError| {
            warn!(target: "security", %err, person_id = %person, "an unmasked read could not be recorded; nothing disclosed");
            Status::unavailable(format!(
                "the access could not be recorded, so nothing is disclosed: {err}"
            ))
        };
        self.access_ready
            .get_or_try_init(|| self.access.ensure_stream())
            .await
            .map_err(not_recorded)?;
        let agency = record.reader.as_ref().map_or("", |r| r.agency.as_str());
        let sequence = self
            .access
            .append(
                person,
                agency,
                &record.access_id,
                record.encode_to_vec().into(),
            )
            .await
            .map_err(not_recorded)?;
        info!(
            target: "security",
            access_id = %record.access_id,
            person_id = %person,
            agency,
            purpose = %record.purpose,
            outcome = %record.outcome,
            sequence,
            "unmasked read recorded"
        );
        Ok(())
    }

    /// The person `id` folded from their events in the clear (an erased
    /// person's stay sealed); NOT_FOUND if they were never registered.
    async fn fold(&self, id: &str, store: &KeyStore) -> Result<Person, Status> {
        let events = self
            .log
            .read_subject(&subject(Person::KIND, id), 0)
            .await
            .map_err(|err| Status::unavailable(err.to_string()))?;
        let verifier = self.live.model().map_err(internal)?.verifier();
        let mut person = Person::new(id);
        for event in &events {
            let mut envelope = match checked_envelope(event, Person::KIND, id, verifier.as_deref())
            {
                Ok(envelope) => envelope,
                Err(reason) => {
                    warn!(position = event.position, %reason, "skipping an event the fold quarantines");
                    continue;
                }
            };
            match store.open_envelope(&mut envelope).await {
                Ok(_) => {}
                Err(KeyStoreError::Unavailable(err)) => {
                    return Err(Status::unavailable(format!("key store: {err}")));
                }
                Err(err @ KeyStoreError::Unreadable { .. }) => {
                    warn!(position = event.position, %err, "skipping an event the fold quarantines");
                    continue;
                }
                Err(err) => return Err(Status::internal(err.to_string())),
            }
            if let Err(err) = person.apply(&envelope, event.position) {
                warn!(position = event.position, %err, "skipping an event the fold quarantines");
            }
        }
        if person.is_registered() {
            Ok(person)
        } else {
            Err(Status::not_found(format!("person {id} not found")))
        }
    }
}

/// The view of `person` with their data in the clear, over what the read
/// model serves of them (`served`: placements, allowance), and the names of
/// the fields it discloses. An erased person's view holds nothing personal,
/// masked or not, and discloses nothing.
fn clear_view(
    person: &Person,
    served: Option<pb::PersonView>,
) -> (pb::PersonView, Vec<&'static str>) {
    let mut view = served.unwrap_or_default();
    view.id = person.id().to_string();
    view.version = person.version();
    view.legal_hold = person.hold().is_some();
    if let Some(withheld) = person.withheld() {
        view.role = withheld.role as i32;
        view.area_code = withheld.area_code.as_str().to_string();
        view.registered_at = Some(to_proto(withheld.registered_at));
    }
    view.sex.clear();
    view.birth_year = 0;
    let Some(record) = person.record() else {
        view.erased = true;
        view.erased_at = person.erasure().map(|e| to_proto(e.erased_at));
        view.name.clear();
        view.id_number.clear();
        view.phone.clear();
        for link in &mut view.links {
            link.name.clear();
        }
        view.trainings.clear();
        view.certificates.clear();
        return (view, Vec::new());
    };
    view.erased = false;
    view.erased_at = None;
    view.name = record.name.as_str().to_string();
    view.id_number = record.id_number.as_str().to_string();
    view.phone = record
        .phone
        .as_ref()
        .map(|phone| phone.as_str().to_string())
        .unwrap_or_default();
    view.links = record
        .links
        .iter()
        .map(|link| pb::PersonLink {
            relation: link.relation as i32,
            name: link.name.as_str().to_string(),
            unit: link
                .unit
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            person_id: link.person_id.map(|id| id.to_string()).unwrap_or_default(),
        })
        .collect();
    view.trainings = record
        .trainings
        .iter()
        .map(|t| pb::TrainingRecorded {
            course: t.course.clone(),
            hours: t.hours,
            completed_on: t.completed_on.to_string(),
        })
        .collect();
    view.certificates = record
        .certificates
        .iter()
        .map(|c| pb::CertificateRecorded {
            certificate: c.certificate.clone(),
            issuer: c.issuer.clone(),
            issued_on: c.issued_on.to_string(),
        })
        .collect();
    let mut fields = vec!["name", "id_number"];
    if record.phone.is_some() {
        fields.push("phone");
    }
    if !record.links.is_empty() {
        fields.push("links.name");
    }
    if !record.trainings.is_empty() {
        fields.push("trainings.course");
    }
    if !record.certificates.is_empty() {
        fields.extend(["certificates.certificate", "certificates.issuer"]);
    }
    (view, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(purpose: &str, note: &str) -> pb::GetPersonUnmaskedRequest {
        pb::GetPersonUnmaskedRequest {
            person_id: Uuid::now_v7().to_string(),
            purpose: purpose.into(),
            note: note.into(),
        }
    }

    #[test]
    fn every_documented_purpose_is_accepted_and_nothing_else() {
        for purpose in Purpose::ALL {
            let read = parse(&request(purpose.as_str(), "case 2026-0415")).unwrap();
            assert_eq!(read.purpose, purpose);
        }
        for bad in ["", "curiosity", "Contact-For-Placement"] {
            let status = parse(&request(bad, "")).unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(status.message().starts_with("purpose: "), "{status:?}");
            assert!(
                status.message().contains("subject-access-request"),
                "{status:?}"
            );
        }
    }

    #[test]
    fn a_note_is_short_and_holds_no_number_of_a_person() {
        assert!(parse(&request("legal-obligation", &"案".repeat(200))).is_ok());
        for bad in [
            "案".repeat(201),
            "call 13812345678".to_string(),
            "id 500106198701013185".to_string(),
            "two\nlines".to_string(),
        ] {
            let status = parse(&request("legal-obligation", &bad)).unwrap_err();
            assert!(status.message().starts_with("note: "), "{status:?}");
            assert!(!status.message().contains("1381234"), "{status:?}");
        }
    }

    #[test]
    fn a_bad_person_id_is_named_with_the_other_fields() {
        let status = parse(&pb::GetPersonUnmaskedRequest {
            person_id: "nobody".into(),
            purpose: "gossip".into(),
            note: String::new(),
        })
        .unwrap_err();
        assert!(status.message().contains("person_id"), "{status:?}");
        assert!(status.message().contains("purpose"), "{status:?}");
    }

    /// `payload` as event `version` of person `id`, on 2026-06-01.
    fn event(id: &str, version: u64, payload: pb::event_envelope::Payload) -> pb::EventEnvelope {
        pb::EventEnvelope {
            event_id: format!("event-{version}"),
            aggregate_kind: Person::KIND.into(),
            aggregate_id: id.into(),
            aggregate_version: version,
            occurred_at: Some(prost_types::Timestamp {
                seconds: 1_780_272_000,
                nanos: 0,
            }),
            payload: Some(payload),
            ..Default::default()
        }
    }

    #[test]
    fn the_clear_view_names_what_it_discloses_and_an_erased_one_discloses_nothing() {
        use sy_domain::person::{Command, Link, person_id_for};
        use sy_domain::person_data::{IdNumber, PersonName, Phone};
        use sy_domain::validate::{AreaCode, Districts};

        let today = jiff::civil::date(2026, 6, 1);
        let number = (0..=10)
            .map(|check| {
                format!(
                    "50010619870101318{}",
                    "0123456789X".as_bytes()[check] as char
                )
            })
            .find(|n| IdNumber::parse("n", n, today).is_ok())
            .unwrap();
        let id_number = IdNumber::parse("id_number", &number, today).unwrap();
        let id = person_id_for(&[7; 32], &id_number).to_string();
        let command = Command::Register {
            role: pb::PersonRole::MilitarySpouse,
            name: PersonName::parse("name", "李秀兰").unwrap(),
            id_number,
            phone: Some(Phone::parse("phone", "13812345678").unwrap()),
            area_code: AreaCode::parse(
                "area_code",
                "500106001002",
                &Districts::parse("500106").unwrap(),
            )
            .unwrap(),
            links: vec![Link {
                relation: pb::Relation::SpouseOf,
                name: PersonName::parse("name", "王强国").unwrap(),
                unit: None,
                person_id: None,
            }],
        };
        let mut person = Person::new(&id);
        let registered = person.decide(&command, &(), &Actor::default()).unwrap();
        person.apply(&event(&id, 1, registered), 1).unwrap();
        // What the read model serves (masked, with a placement) is kept
        // where it is not personal, replaced where it is.
        let served = pb::PersonView {
            name: "李*".into(),
            placements: vec![pb::PlacementView::default()],
            ..Default::default()
        };
        let (view, fields) = clear_view(&person, Some(served.clone()));
        assert_eq!(fields, ["name", "id_number", "phone", "links.name"]);
        assert_eq!(view.name, "李秀兰");
        assert_eq!(view.id_number, number);
        assert_eq!(view.phone, "13812345678");
        assert_eq!(view.links[0].name, "王强国");
        assert_eq!(view.placements.len(), 1);
        assert!(!view.erased);

        let erased = pb::event_envelope::Payload::PersonErased(pb::PersonErased {
            legal_basis: "PIPL art. 47(1)".into(),
        });
        person.apply(&event(&id, 2, erased), 2).unwrap();
        let (view, fields) = clear_view(&person, Some(served));
        assert!(fields.is_empty());
        assert!(view.erased && view.erased_at.is_some());
        assert!(view.name.is_empty() && view.id_number.is_empty() && view.phone.is_empty());
        assert!(view.links.iter().all(|link| link.name.is_empty()));
        assert_eq!(view.role, pb::PersonRole::MilitarySpouse as i32);
    }
}
