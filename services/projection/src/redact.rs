//! What `ListQuarantined` serves of a refused event: never its bytes as
//! stored (they carry personal data), but their length, their hash, and the
//! envelope with every personal or free-text field masked. The envelope is
//! walked through the protos' descriptors, so every event type, present and
//! future, is masked by its field names, and fields this release does not
//! know (which could hold anything) are dropped.

use std::sync::LazyLock;

use prost::Name as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value};
use sy_domain::event::hash;
use sy_domain::pb::EventEnvelope;

/// What a masked string field holds.
pub(crate) const MASK: &str = "[redacted]";

/// Names of the string fields that hold personal data or free text, in any
/// message: people's names, national ID numbers, phones, addresses (of a
/// person or a station), and whatever an operator may type into a title,
/// description, note, resolution, reason or an inspection's findings.
const PERSONAL: &[&str] = &[
    "name",
    "id_number",
    "phone",
    "address",
    "title",
    "description",
    "note",
    "resolution",
    "reason",
    "findings",
];

/// A quarantined event as it may be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Redacted {
    /// The envelope with personal fields masked; empty when the stored
    /// bytes do not decode.
    pub(crate) payload: Vec<u8>,
    /// Length of the stored bytes.
    pub(crate) size: u64,
    /// BLAKE3 of the stored bytes.
    pub(crate) hash: [u8; 32],
}

/// `shuangyong.v1.EventEnvelope` in the descriptor set `sy-api` embeds.
fn envelope_descriptor() -> &'static MessageDescriptor {
    static ENVELOPE: LazyLock<MessageDescriptor> = LazyLock::new(|| {
        DescriptorPool::decode(sy_api::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set built with the protos decodes")
            .get_message_by_name(EventEnvelope::full_name().as_str())
            .expect("the descriptor set holds the event log's envelope")
    });
    &ENVELOPE
}

/// Masks `stored`, an event's bytes as stored in the log.
pub(crate) fn redact(stored: &[u8]) -> Redacted {
    let payload = match DynamicMessage::decode(envelope_descriptor().clone(), stored) {
        Ok(mut envelope) => {
            mask_message(&mut envelope);
            prost::Message::encode_to_vec(&envelope)
        }
        Err(_) => Vec::new(),
    };
    Redacted {
        payload,
        size: stored.len() as u64,
        hash: hash(stored),
    }
}

fn mask_message(message: &mut DynamicMessage) {
    message.take_unknown_fields().for_each(drop);
    for (field, value) in message.fields_mut() {
        mask_value(PERSONAL.contains(&field.name()), value);
    }
}

fn mask_value(personal: bool, value: &mut Value) {
    match value {
        Value::String(text) if personal && !text.is_empty() => *text = MASK.to_string(),
        Value::Message(message) => mask_message(message),
        Value::List(values) => values.iter_mut().for_each(|v| mask_value(personal, v)),
        Value::Map(entries) => entries.values_mut().for_each(|v| mask_value(personal, v)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use sy_domain::pb::{self, event_envelope::Payload};

    use super::*;

    fn envelope(payload: Payload) -> EventEnvelope {
        EventEnvelope {
            aggregate_kind: "person".into(),
            aggregate_id: "p-1".into(),
            aggregate_version: 1,
            actor: Some(pb::Actor {
                agency: "veterans-bureau".into(),
                user: "wang".into(),
            }),
            payload: Some(payload),
            ..Default::default()
        }
    }

    #[test]
    fn personal_fields_are_masked_and_the_rest_kept() {
        let registered = pb::PersonRegistered {
            name: "张三".into(),
            id_number: "11010519491231002X".into(),
            phone: "13800138000".into(),
            area_code: "500106001001".into(),
            links: vec![pb::PersonLink {
                name: "李四".into(),
                unit: "unit-31001".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut stored = envelope(Payload::PersonRegistered(registered)).encode_to_vec();
        // A field this release does not know, e.g. from a newer intake.
        stored.extend_from_slice(&[0xfa, 0x3e, 4, b'1', b'2', b'3', b'4']);
        let served = redact(&stored);
        assert_eq!(served.size, stored.len() as u64);
        assert_eq!(served.hash, hash(&stored));
        let text = String::from_utf8_lossy(&served.payload);
        for secret in ["张三", "李四", "11010519491231002X", "13800138000", "1234"] {
            assert!(!text.contains(secret), "{secret} served");
        }
        let decoded = EventEnvelope::decode(served.payload.as_slice()).unwrap();
        let Some(Payload::PersonRegistered(person)) = decoded.payload else {
            panic!("not a person: {decoded:?}");
        };
        assert_eq!(
            (
                person.name.as_str(),
                person.id_number.as_str(),
                person.phone.as_str()
            ),
            (MASK, MASK, MASK)
        );
        assert_eq!(person.links[0].name, MASK);
        // What an auditor needs to place the event stays.
        assert_eq!(person.area_code, "500106001001");
        assert_eq!(person.links[0].unit, "unit-31001");
        assert_eq!(decoded.aggregate_id, "p-1");
        assert_eq!(decoded.actor.unwrap().agency, "veterans-bureau");
    }

    #[test]
    fn free_text_of_requests_is_masked() {
        let note = pb::ProgressRecorded {
            note: "called Mr Zhang at 13800138000".into(),
        };
        let served = redact(&envelope(Payload::ProgressRecorded(note)).encode_to_vec());
        let decoded = EventEnvelope::decode(served.payload.as_slice()).unwrap();
        assert_eq!(
            decoded.payload,
            Some(Payload::ProgressRecorded(pb::ProgressRecorded {
                note: MASK.into()
            }))
        );
    }

    #[test]
    fn inspection_findings_and_sub_task_titles_are_masked() {
        let visit = pb::InspectionRecorded {
            visited_on: "2026-12-01".into(),
            findings: "张三家中漏水未修".into(),
            follow_up_required: true,
        };
        let served = redact(&envelope(Payload::InspectionRecorded(visit)).encode_to_vec());
        let decoded = EventEnvelope::decode(served.payload.as_slice()).unwrap();
        assert_eq!(
            decoded.payload,
            Some(Payload::InspectionRecorded(pb::InspectionRecorded {
                visited_on: "2026-12-01".into(),
                findings: MASK.into(),
                follow_up_required: true,
            }))
        );
        let task = pb::SubTaskAdded {
            sub_task_id: 1,
            department: "district-civil-affairs".into(),
            due_date: "2027-01-01".into(),
            title: "走访张三".into(),
        };
        let served = redact(&envelope(Payload::SubTaskAdded(task.clone())).encode_to_vec());
        let decoded = EventEnvelope::decode(served.payload.as_slice()).unwrap();
        assert_eq!(
            decoded.payload,
            Some(Payload::SubTaskAdded(pb::SubTaskAdded {
                title: MASK.into(),
                ..task
            }))
        );
    }

    #[test]
    fn undecodable_bytes_are_not_served() {
        let stored = b"\xff\x00 13800138000".to_vec();
        let served = redact(&stored);
        assert!(served.payload.is_empty());
        assert_eq!(served.size, stored.len() as u64);
        assert_eq!(served.hash, hash(&stored));
    }
}
