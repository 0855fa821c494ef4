//! Which fields of which events are personal, and sealing them into the
//! envelope's `personal` record or opening them back into the payload.
//!
//! Intake seals before it hashes and signs (DESIGN, "Security and data"):
//! every non-empty personal field of the payload is encrypted under the data
//! key of the person it concerns, with a fresh nonce, and the payload keeps
//! the field empty. A reader holding the key opens the envelope, which puts
//! the values back and removes the record, so the domain folds it as if it
//! had never been sealed. A reader without the key (the person was erased)
//! folds the envelope still sealed, and the domain keeps only what is not
//! personal.
//!
//! The associated data binds each ciphertext to its event, aggregate and
//! field: a ciphertext copied into another event or another field of the
//! same event does not open.
//!
//! What counts as personal: whatever identifies the person (name, ID number,
//! phone, the name of the service member they are linked to) and every free
//! text written about them (courses, certificates, reasons and notes on
//! their placements, allowance and station seat), which may say anything.
//! Codes, dates, amounts and the programme's outcome stay in the clear: the
//! statistics are made of them and they survive an erasure.
//!
//! A support request's free text (title, description, notes, reasons and
//! resolution) is personal only when the request concerns a registered
//! person (a family difficulty names them): it then says what their family
//! lives through, and is sealed under their key. Requests about nobody in
//! particular keep their text in the clear, as before.

use uuid::Uuid;

use super::{Cipher, CryptoError, DataKey};
use crate::pb::event_envelope::Payload;
use crate::pb::{EventEnvelope, PersonalData, SealedField};

/// Bytes before every field's associated data: a ciphertext sealed here can
/// never be taken for one sealed for another purpose.
pub const AAD_TAG: &[u8] = b"shuangyong.v1.pii\n";

/// Why a sealed envelope could not be opened. Never contains a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The record names a cipher other than the key's.
    #[error("sealed with {sealed}, but the data key of {subject} is for {key}")]
    CipherMismatch {
        /// The person whose key it is.
        subject: String,
        /// The cipher the envelope names.
        sealed: String,
        /// The key's cipher.
        key: &'static str,
    },
    /// A field names no personal field of this payload.
    #[error("sealed field {path:?} is not a personal field of this event")]
    UnknownField {
        /// The path as stored.
        path: String,
    },
    /// A field does not authenticate under the key: tampered with, moved
    /// from another event, or sealed under another key.
    #[error("sealed field {path:?} does not open: {source}")]
    Field {
        /// The path as stored.
        path: String,
        /// Why.
        source: CryptoError,
    },
    /// A field opens to bytes that are not UTF-8.
    #[error("sealed field {path:?} is not UTF-8 text")]
    NotText {
        /// The path as stored.
        path: String,
    },
}

/// The personal fields of `payload`, by path, in a fixed order. The free
/// text of a request is listed only when the request `concerns_person`.
fn personal_fields(payload: &mut Payload, concerns_person: bool) -> Vec<(String, &mut String)> {
    fn one<'p>(path: &str, value: &'p mut String) -> Vec<(String, &'p mut String)> {
        vec![(path.to_string(), value)]
    }
    match payload {
        Payload::PersonRegistered(e) => {
            let mut fields = vec![
                ("name".to_string(), &mut e.name),
                ("id_number".to_string(), &mut e.id_number),
                ("phone".to_string(), &mut e.phone),
            ];
            for (i, link) in e.links.iter_mut().enumerate() {
                fields.push((format!("links.{i}.name"), &mut link.name));
            }
            fields
        }
        Payload::TrainingRecorded(e) => one("course", &mut e.course),
        Payload::CertificateRecorded(e) => vec![
            ("certificate".to_string(), &mut e.certificate),
            ("issuer".to_string(), &mut e.issuer),
        ],
        Payload::PlacementDeclined(e) => one("reason", &mut e.reason),
        Payload::PlacementWithdrawn(e) => one("reason", &mut e.reason),
        Payload::TalentPoolRecommended(e) => one("note", &mut e.note),
        Payload::SchoolRequestAccepted(e) => one("note", &mut e.note),
        Payload::SchoolRequestDeclined(e) => one("reason", &mut e.reason),
        Payload::AllowanceStopped(e) => one("reason", &mut e.reason),
        Payload::ChildWithdrawn(e) => one("reason", &mut e.reason),
        _ if concerns_person => request_text(payload),
        _ => Vec::new(),
    }
}

/// The free text of a request event, by path; nothing for other events.
fn request_text(payload: &mut Payload) -> Vec<(String, &mut String)> {
    let (path, value) = match payload {
        Payload::RequestSubmitted(e) => {
            return vec![
                ("title".to_string(), &mut e.title),
                ("description".to_string(), &mut e.description),
            ];
        }
        Payload::RequestAssigned(e) => ("note", &mut e.note),
        Payload::RequestStarted(e) => ("note", &mut e.note),
        Payload::ProgressRecorded(e) => ("note", &mut e.note),
        Payload::RequestClosed(e) => ("note", &mut e.note),
        Payload::RequestResolved(e) => ("resolution", &mut e.resolution),
        Payload::RequestRejected(e) => ("reason", &mut e.reason),
        Payload::RequestReopened(e) => ("reason", &mut e.reason),
        Payload::RequestEscalated(e) => ("reason", &mut e.reason),
        Payload::DueDateChanged(e) => ("reason", &mut e.reason),
        Payload::SubTaskAdded(e) => ("title", &mut e.title),
        Payload::SubTaskCompleted(e) => ("note", &mut e.note),
        Payload::InspectionRecorded(e) => ("findings", &mut e.findings),
        _ => return Vec::new(),
    };
    vec![(path.to_string(), value)]
}

/// Whether `payload` holds a field with a value that is personal whoever
/// the event concerns (a person's identity, free text about their
/// placement): sealing it needs the key of the person it concerns, and an
/// aggregate that names nobody cannot record it.
pub fn has_personal_data(payload: &Payload) -> bool {
    has_personal_data_for(payload, false)
}

/// Whether `payload` holds a personal field with a value, counting a
/// request's free text as personal when the request `concerns_person`:
/// only then is there anything to seal.
pub fn has_personal_data_for(payload: &Payload, concerns_person: bool) -> bool {
    let mut payload = payload.clone();
    personal_fields(&mut payload, concerns_person)
        .iter()
        .any(|(_, value)| !value.is_empty())
}

/// An event holds personal data but its aggregate names no person to seal
/// it for (a bug, or an aggregate whose earlier events did not fold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("it holds personal data but names no person")]
pub struct NoSubject;

/// Whose key seals `payload`, given the person its aggregate names
/// (`subject`, from `Aggregate::data_subject`): `Some` to seal under their
/// key, `None` when there is nothing to seal (a request that concerns
/// nobody keeps its text as written), `NoSubject` when it holds data that
/// is personal whoever it concerns but names nobody. The one rule intake
/// and `sy migrate` seal by.
pub fn sealing_subject(
    payload: &Payload,
    subject: Option<Uuid>,
) -> Result<Option<Uuid>, NoSubject> {
    match subject {
        Some(subject) => Ok(has_personal_data_for(payload, true).then_some(subject)),
        None if has_personal_data(payload) => Err(NoSubject),
        None => Ok(None),
    }
}

/// The person a payload names directly (placements, allowances and seats
/// name the person they are for, a request the person it concerns), when
/// its aggregate is not the person.
pub fn named_person(payload: &Payload) -> Option<Uuid> {
    let id = match payload {
        Payload::PlacementRegistered(e) => &e.person_id,
        Payload::AllowanceGranted(e) => &e.person_id,
        Payload::ChildEnrolled(e) => &e.person_id,
        Payload::ChildWithdrawn(e) => &e.person_id,
        Payload::RequestSubmitted(e) => &e.person_id,
        _ => return None,
    };
    Uuid::try_parse(id).ok()
}

/// The associated data of the field `path` of `envelope`.
fn aad(envelope: &EventEnvelope, path: &str) -> Vec<u8> {
    let mut aad = AAD_TAG.to_vec();
    for part in [
        envelope.event_id.as_str(),
        envelope.aggregate_kind.as_str(),
        envelope.aggregate_id.as_str(),
    ] {
        aad.extend_from_slice(part.as_bytes());
        aad.push(b'\n');
    }
    aad.extend_from_slice(path.as_bytes());
    aad
}

/// Seals the personal fields of `envelope` under `key`, the data key of
/// `subject`, and empties them in the payload. A request's free text is
/// sealed too: the caller seals a request only when it concerns `subject`. Call it after the envelope's
/// identity (event id, aggregate) is set and before it is hashed or signed.
/// Without `key` (the subject was erased) the values are dropped and the
/// record names the subject with no fields: nothing personal is written
/// about an erased person.
pub fn seal(
    envelope: &mut EventEnvelope,
    subject: Uuid,
    key: Option<&DataKey>,
) -> Result<(), CryptoError> {
    let Some(mut payload) = envelope.payload.take() else {
        return Ok(());
    };
    let mut sealed = Vec::new();
    let mut result = Ok(());
    for (path, value) in personal_fields(&mut payload, true) {
        if value.is_empty() {
            continue;
        }
        let plaintext = std::mem::take(value);
        if let Some(key) = key {
            match key.seal(&aad(envelope, &path), plaintext.as_bytes()) {
                Ok(field) => sealed.push(SealedField {
                    path,
                    nonce: field.nonce.to_vec(),
                    ciphertext: field.ciphertext,
                }),
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
        }
    }
    envelope.payload = Some(payload);
    result?;
    envelope.personal = Some(PersonalData {
        subject: subject.to_string(),
        cipher: key
            .map(|k| k.cipher())
            .unwrap_or_default()
            .as_str()
            .to_string(),
        fields: sealed,
    });
    Ok(())
}

/// The person whose key opens `envelope`, if it is sealed.
pub fn sealed_subject(envelope: &EventEnvelope) -> Option<&str> {
    envelope.personal.as_ref().map(|p| p.subject.as_str())
}

/// Opens a sealed `envelope` with its subject's `key`: every field goes
/// back into the payload and the record is removed. An envelope that is not
/// sealed is left as it is. On error the envelope is unchanged.
pub fn open(envelope: &mut EventEnvelope, key: &DataKey) -> Result<(), OpenError> {
    let Some(personal) = &envelope.personal else {
        return Ok(());
    };
    if personal.cipher != key.cipher().as_str() {
        return Err(OpenError::CipherMismatch {
            subject: personal.subject.clone(),
            sealed: personal.cipher.clone(),
            key: key.cipher().as_str(),
        });
    }
    let mut opened = Vec::with_capacity(personal.fields.len());
    for field in &personal.fields {
        let plaintext = key
            .open(&aad(envelope, &field.path), &field.nonce, &field.ciphertext)
            .map_err(|source| OpenError::Field {
                path: field.path.clone(),
                source,
            })?;
        let text = String::from_utf8(plaintext.to_vec()).map_err(|_| OpenError::NotText {
            path: field.path.clone(),
        })?;
        opened.push((field.path.clone(), text));
    }
    let Some(mut payload) = envelope.payload.clone() else {
        return Ok(());
    };
    let mut fields = personal_fields(&mut payload, true);
    for (path, text) in opened {
        let slot = fields
            .iter_mut()
            .find(|(p, _)| *p == path)
            .ok_or(OpenError::UnknownField { path })?;
        *slot.1 = text;
    }
    envelope.payload = Some(payload);
    envelope.personal = None;
    Ok(())
}

/// Drops what an erased person's sealed envelope still says of them: the
/// ciphertexts, which nobody can open any more. The record stays, empty,
/// so the domain still folds the envelope as sealed. For views and exports
/// of an erased person; the log itself keeps the bytes it hashed.
pub fn forget(envelope: &mut EventEnvelope) {
    if let Some(personal) = envelope.personal.as_mut() {
        personal.fields.clear();
    }
}

/// The cipher a sealed envelope names, if it is one this build knows.
pub fn sealed_cipher(envelope: &EventEnvelope) -> Option<Cipher> {
    envelope
        .personal
        .as_ref()
        .and_then(|p| p.cipher.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{self, PersonLink};

    fn registration() -> EventEnvelope {
        EventEnvelope {
            event_id: "0190e3a0-0000-7000-8000-000000000001".into(),
            aggregate_kind: "person".into(),
            aggregate_id: "0190e3a0-0000-8000-8000-000000000002".into(),
            aggregate_version: 1,
            payload: Some(Payload::PersonRegistered(pb::PersonRegistered {
                role: pb::PersonRole::MilitarySpouse as i32,
                name: "张三丰".into(),
                id_number: "11010519491231002X".into(),
                phone: String::new(),
                area_code: "500106002003".into(),
                links: vec![PersonLink {
                    relation: pb::Relation::SpouseOf as i32,
                    name: "李四".into(),
                    unit: "unit-31001".into(),
                    person_id: String::new(),
                }],
            })),
            ..Default::default()
        }
    }

    fn subject() -> Uuid {
        Uuid::try_parse("0190e3a0-0000-8000-8000-000000000002").unwrap()
    }

    #[test]
    fn sealing_empties_the_fields_and_opening_restores_them() {
        for cipher in [Cipher::Aes256Gcm, Cipher::Sm4Gcm] {
            let key = DataKey::generate(cipher).unwrap();
            let clear = registration();
            let mut envelope = clear.clone();
            seal(&mut envelope, subject(), Some(&key)).unwrap();
            let encoded = prost::Message::encode_to_vec(&envelope);
            for secret in ["张三丰", "11010519491231002X", "李四"] {
                assert!(
                    !encoded
                        .windows(secret.len())
                        .any(|w| w == secret.as_bytes()),
                    "{secret} is in the sealed bytes"
                );
            }
            let personal = envelope.personal.as_ref().unwrap();
            assert_eq!(personal.cipher, cipher.as_str());
            // The empty phone is not sealed: there is nothing to hide.
            let paths: Vec<&str> = personal.fields.iter().map(|f| f.path.as_str()).collect();
            assert_eq!(paths, ["name", "id_number", "links.0.name"]);
            assert_eq!(
                sealed_subject(&envelope),
                Some(subject().to_string().as_str())
            );

            open(&mut envelope, &key).unwrap();
            assert_eq!(envelope, clear);
        }
    }

    #[test]
    fn every_field_gets_its_own_nonce() {
        let key = DataKey::generate(Cipher::Aes256Gcm).unwrap();
        let mut envelope = registration();
        seal(&mut envelope, subject(), Some(&key)).unwrap();
        let nonces: std::collections::HashSet<_> = envelope
            .personal
            .unwrap()
            .fields
            .into_iter()
            .map(|f| f.nonce)
            .collect();
        assert_eq!(nonces.len(), 3);
    }

    #[test]
    fn a_ciphertext_moved_to_another_field_or_event_does_not_open() {
        let key = DataKey::generate(Cipher::Aes256Gcm).unwrap();
        let mut sealed = registration();
        seal(&mut sealed, subject(), Some(&key)).unwrap();

        let mut swapped = sealed.clone();
        let fields = &mut swapped.personal.as_mut().unwrap().fields;
        let name = fields[0].path.clone();
        fields[0].path = fields[1].path.clone();
        fields[1].path = name;
        let err = open(&mut swapped, &key).unwrap_err();
        assert!(matches!(err, OpenError::Field { .. }), "{err}");

        let mut other_event = sealed.clone();
        other_event.event_id = "0190e3a0-0000-7000-8000-000000000009".into();
        assert!(open(&mut other_event, &key).is_err());

        let other_key = DataKey::generate(Cipher::Aes256Gcm).unwrap();
        let mut unchanged = sealed.clone();
        assert!(open(&mut unchanged, &other_key).is_err());
        assert_eq!(unchanged, sealed, "a failed open changes nothing");

        let sm4 = DataKey::generate(Cipher::Sm4Gcm).unwrap();
        let err = open(&mut sealed.clone(), &sm4).unwrap_err();
        assert!(matches!(err, OpenError::CipherMismatch { .. }), "{err}");
    }

    #[test]
    fn without_a_key_nothing_personal_is_written() {
        let mut envelope = registration();
        seal(&mut envelope, subject(), None).unwrap();
        let Some(Payload::PersonRegistered(e)) = &envelope.payload else {
            panic!("payload kept");
        };
        assert!(e.name.is_empty() && e.id_number.is_empty() && e.links[0].name.is_empty());
        assert_eq!(e.area_code, "500106002003");
        let personal = envelope.personal.as_ref().unwrap();
        assert!(personal.fields.is_empty());
    }

    #[test]
    fn events_without_personal_data_are_not_sealed() {
        let paid = Payload::AllowancePaid(pb::AllowancePaid {
            month: "2026-05".into(),
            amount_fen: 100,
        });
        assert!(!has_personal_data(&paid));
        let stopped = |reason: &str| {
            Payload::AllowanceStopped(pb::AllowanceStopped {
                reason: reason.into(),
                automatic: false,
            })
        };
        assert!(has_personal_data(&stopped("moved away")));
        assert!(!has_personal_data(&stopped("")));
        assert!(has_personal_data(registration().payload.as_ref().unwrap()));
    }

    fn family_difficulty() -> EventEnvelope {
        EventEnvelope {
            event_id: "0190e3a0-0000-7000-8000-000000000003".into(),
            aggregate_kind: "request".into(),
            aggregate_id: "0190e3a0-0000-8000-8000-000000000004".into(),
            aggregate_version: 1,
            payload: Some(Payload::RequestSubmitted(pb::RequestSubmitted {
                category: pb::Category::FamilyDifficulty as i32,
                title: "张三丰家属就医困难".into(),
                description: "张三丰之妻住院，需协调".into(),
                area_code: "500106002003".into(),
                person_id: subject().to_string(),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn request_text_is_personal_only_when_the_request_concerns_a_person() {
        let submitted = family_difficulty().payload.unwrap();
        assert!(!has_personal_data(&submitted), "not personal by itself");
        assert!(!has_personal_data_for(&submitted, false));
        assert!(has_personal_data_for(&submitted, true));
        assert_eq!(named_person(&submitted), Some(subject()));
        let progress =
            |note: &str| Payload::ProgressRecorded(pb::ProgressRecorded { note: note.into() });
        assert!(has_personal_data_for(&progress("见了张三丰"), true));
        assert!(!has_personal_data_for(&progress(""), true));
        assert!(!has_personal_data_for(&progress("见了张三丰"), false));
        // So is the text of its breakdown and inspections.
        let sub_task = Payload::SubTaskAdded(pb::SubTaskAdded {
            sub_task_id: 1,
            department: "district-civil-affairs".into(),
            due_date: "2027-01-01".into(),
            title: "走访张三丰家".into(),
        });
        let done = Payload::SubTaskCompleted(pb::SubTaskCompleted {
            sub_task_id: 1,
            note: "张三丰家已修缮".into(),
        });
        let visit = Payload::InspectionRecorded(pb::InspectionRecorded {
            visited_on: "2026-12-01".into(),
            findings: "张三丰反映属实".into(),
            follow_up_required: false,
        });
        for payload in [&sub_task, &done, &visit] {
            assert!(has_personal_data_for(payload, true), "{payload:?}");
            assert!(!has_personal_data_for(payload, false), "{payload:?}");
        }
        // A person's identity is personal whoever the event concerns.
        let registered = registration().payload.unwrap();
        assert!(has_personal_data_for(&registered, false));
    }

    #[test]
    fn a_request_s_text_is_sealed_and_opened_like_a_person_s_fields() {
        let key = DataKey::generate(Cipher::Aes256Gcm).unwrap();
        let clear = family_difficulty();
        let mut envelope = clear.clone();
        seal(&mut envelope, subject(), Some(&key)).unwrap();
        let encoded = prost::Message::encode_to_vec(&envelope);
        assert!(
            !encoded
                .windows("张三丰".len())
                .any(|w| w == "张三丰".as_bytes()),
            "the name is in the sealed bytes"
        );
        let Some(Payload::RequestSubmitted(e)) = &envelope.payload else {
            panic!("payload kept");
        };
        assert_eq!(e.area_code, "500106002003");
        assert_eq!(e.person_id, subject().to_string());
        let paths: Vec<&str> = envelope
            .personal
            .as_ref()
            .unwrap()
            .fields
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(paths, ["title", "description"]);
        open(&mut envelope, &key).unwrap();
        assert_eq!(envelope, clear);
    }

    #[test]
    fn forgetting_keeps_an_empty_record() {
        let key = DataKey::generate(Cipher::Aes256Gcm).unwrap();
        let mut envelope = registration();
        seal(&mut envelope, subject(), Some(&key)).unwrap();
        forget(&mut envelope);
        assert!(envelope.personal.as_ref().unwrap().fields.is_empty());
        assert_eq!(sealed_cipher(&envelope), Some(Cipher::Aes256Gcm));
    }

    #[test]
    fn the_sealing_rule_needs_a_person_only_for_what_is_always_personal() {
        let person = subject();
        let registration = registration().payload.unwrap();
        assert_eq!(
            sealing_subject(&registration, Some(person)),
            Ok(Some(person))
        );
        assert_eq!(sealing_subject(&registration, None), Err(NoSubject));
        let note = Payload::ProgressRecorded(pb::ProgressRecorded {
            note: "已联系家属".into(),
        });
        assert_eq!(
            sealing_subject(&note, None),
            Ok(None),
            "a request about nobody"
        );
        assert_eq!(sealing_subject(&note, Some(person)), Ok(Some(person)));
        let paid = Payload::AllowancePaid(pb::AllowancePaid {
            month: "2026-05".into(),
            amount_fen: 1,
        });
        assert_eq!(
            sealing_subject(&paid, Some(person)),
            Ok(None),
            "nothing to seal"
        );
    }
}
