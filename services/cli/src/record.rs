//! The export format shared by `sy export` and `sy verify`: one JSON object
//! per line and per event. Field names are a contract with auditors' tools,
//! so they only ever get added to:
//!
//! - `position`: the event's stream sequence;
//! - `subject`: `sy.evt.<kind>.<id>`;
//! - `hash`: lowercase hex BLAKE3 of the stored bytes (what the next event of
//!   the aggregate names as `prev_hash`);
//! - `payload`: the stored bytes (the prost-encoded `EventEnvelope`) in
//!   standard base64, so a verifier recomputes every hash from them;
//! - `event`: the envelope decoded for people (never trusted by `verify`,
//!   which checks it says what `payload` says), or `decode_error` instead.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use prost::{Message, Name};
use std::sync::LazyLock;

use prost_reflect::{
    DescriptorPool, DynamicMessage, Kind, MessageDescriptor, ReflectMessage as _, SerializeOptions,
    Value,
};
use serde::ser::SerializeMap as _;
use serde::{Deserialize, Serialize, Serializer};
use sy_domain::event::hash;
use sy_domain::pb::EventEnvelope;

/// `event_type` of an envelope whose payload this release does not know.
pub const UNKNOWN_EVENT_TYPE: &str = "(unknown)";

/// The envelope's event type, or [`UNKNOWN_EVENT_TYPE`].
pub fn event_label(envelope: &EventEnvelope) -> &'static str {
    envelope
        .payload
        .as_ref()
        .map_or(UNKNOWN_EVENT_TYPE, sy_domain::event::event_type)
}

/// Lowercase hex, as every hash and digest is printed.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// A 32-byte hash from 64 hex digits (either case), or `None`.
pub fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(bytes)
}

/// One line of an export, as written.
#[derive(Debug, Serialize)]
pub struct ExportLine<'a> {
    pub position: u64,
    pub subject: &'a str,
    pub hash: String,
    pub payload: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<EventView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<String>,
}

impl<'a> ExportLine<'a> {
    /// The line for the event stored at `position` on `subject` as `stored`.
    pub fn new(position: u64, subject: &'a str, stored: &[u8]) -> Self {
        let (event, decode_error) = match EventView::decode(stored) {
            Ok(view) => (Some(view), None),
            Err(err) => (None, Some(err)),
        };
        Self {
            position,
            subject,
            hash: hex(&hash(stored)),
            payload: BASE64.encode(stored),
            event,
            decode_error,
        }
    }

    /// The line as JSON, without the newline.
    pub fn to_json(&self) -> String {
        // Only strings, numbers and maps with string keys: cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One line of an export, as read back: everything a verifier needs, with
/// the human part kept as raw JSON to compare with what the payload says.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Record {
    pub position: u64,
    pub subject: String,
    pub hash: String,
    pub payload: String,
    #[serde(default)]
    pub event: Option<serde_json::Value>,
    #[serde(default)]
    pub decode_error: Option<String>,
}

impl Record {
    /// Parses one line of an export.
    pub fn parse(line: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(line)
    }

    /// The stored bytes, from base64.
    pub fn stored(&self) -> Result<Vec<u8>, base64::DecodeError> {
        BASE64.decode(&self.payload)
    }

    /// Whether `event` / `decode_error` say what `stored` decodes to. A
    /// line written by an earlier release lacks the payload fields added
    /// since, which this release lists with their defaults: those are no
    /// difference (the contract only ever adds fields).
    pub fn describes(&self, stored: &[u8]) -> bool {
        match EventView::decode(stored) {
            Ok(view) => {
                let (Some(written), Ok(mut today)) = (&self.event, serde_json::to_value(&view))
                else {
                    return false;
                };
                if let (Some(data), Some(old)) =
                    (today.pointer_mut("/data"), written.pointer("/data"))
                {
                    drop_added_defaults(data, old);
                }
                self.decode_error.is_none() && written == &today
            }
            Err(err) => self.event.is_none() && self.decode_error.as_deref() == Some(&err),
        }
    }
}

/// Removes from `data` (a payload as this release writes it) the keys
/// `old` (as a line wrote it) lacks whose value is a default: fields added
/// to the payload since. Returns how many; any other difference stays.
fn drop_added_defaults(data: &mut serde_json::Value, old: &serde_json::Value) -> usize {
    let (Some(data), Some(old)) = (data.as_object_mut(), old.as_object()) else {
        return 0;
    };
    let is_default = |v: &serde_json::Value| match v {
        // An enum's zero value is named `*_UNSPECIFIED` in every proto here.
        serde_json::Value::String(s) => s.is_empty() || s.ends_with("_UNSPECIFIED"),
        serde_json::Value::Number(n) => n.as_f64() == Some(0.0),
        serde_json::Value::Bool(b) => !b,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        serde_json::Value::Null => true,
    };
    let added: Vec<String> = data
        .iter()
        .filter(|(key, value)| !old.contains_key(*key) && is_default(value))
        .map(|(key, _)| key.clone())
        .collect();
    for key in &added {
        data.remove(key);
    }
    added.len()
}

/// Who issued the command, as in the envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActorView {
    pub agency: String,
    pub user: String,
}

/// An `EventEnvelope` for people: times in RFC 3339 (UTC), hashes in hex,
/// enums by their protobuf names, the payload's fields under `data`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    pub event_id: String,
    pub aggregate_kind: String,
    pub aggregate_id: String,
    pub aggregate_version: u64,
    pub occurred_at: Option<String>,
    pub recorded_at: Option<String>,
    pub actor: ActorView,
    pub correlation_id: String,
    pub causation_id: String,
    pub schema_version: u32,
    pub prev_hash: String,
    pub idempotency_key: String,
    pub command_fingerprint: String,
    pub event_type: String,
    pub data: Data,
}

impl EventView {
    /// Decodes stored bytes; the error text is what an export writes as
    /// `decode_error`.
    pub fn decode(stored: &[u8]) -> Result<Self, String> {
        let not_an_envelope = |err: prost::DecodeError| format!("not an EventEnvelope: {err}");
        let envelope = EventEnvelope::decode(stored).map_err(not_an_envelope)?;
        let dynamic =
            DynamicMessage::decode(envelope_descriptor(), stored).map_err(not_an_envelope)?;
        Ok(Self::new(&envelope, &dynamic))
    }

    pub fn from_envelope(e: &EventEnvelope) -> Self {
        let dynamic = DynamicMessage::decode(envelope_descriptor(), e.encode_to_vec().as_slice())
            .expect("an envelope prost encoded decodes with its own descriptor");
        Self::new(e, &dynamic)
    }

    /// The header from the typed envelope, `data` from the same envelope
    /// decoded by descriptor (`dynamic`).
    fn new(e: &EventEnvelope, dynamic: &DynamicMessage) -> Self {
        let actor = e.actor.clone().unwrap_or_default();
        Self {
            event_id: e.event_id.clone(),
            aggregate_kind: e.aggregate_kind.clone(),
            aggregate_id: e.aggregate_id.clone(),
            aggregate_version: e.aggregate_version,
            occurred_at: rfc3339(e.occurred_at.as_ref()),
            recorded_at: rfc3339(e.recorded_at.as_ref()),
            actor: ActorView {
                agency: actor.agency,
                user: actor.user,
            },
            correlation_id: e.correlation_id.clone(),
            causation_id: e.causation_id.clone(),
            schema_version: e.schema_version,
            prev_hash: hex(&e.prev_hash),
            idempotency_key: e.idempotency_key.clone(),
            command_fingerprint: hex(&e.command_fingerprint),
            event_type: event_label(e).to_string(),
            data: Data::of(dynamic),
        }
    }
}

/// A protobuf timestamp in RFC 3339 (UTC), `None` when unset or out of range.
pub fn rfc3339(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    sy_domain::event::to_jiff(ts).map(|ts| ts.to_string())
}

/// The envelope's payload message, serialised by its descriptor: every field
/// in field-number order under its proto name, defaults included, enums by
/// name (by number when this release does not know the value), 64-bit
/// integers as JSON numbers; `{}` when there is no payload this release knows.
#[derive(Debug, Clone, PartialEq)]
pub struct Data(Option<DynamicMessage>);

impl Data {
    /// The payload of `envelope` (an `EventEnvelope` decoded by descriptor).
    fn of(envelope: &DynamicMessage) -> Self {
        let payload = envelope
            .descriptor()
            .oneofs()
            .find(|oneof| oneof.name() == "payload")
            .and_then(|oneof| oneof.fields().find(|field| envelope.has_field(field)))
            .and_then(|field| envelope.get_field(&field).as_message().cloned());
        Self(payload.map(|mut message| {
            with_empty_messages(&mut message);
            message
        }))
    }
}

impl Serialize for Data {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let options = SerializeOptions::new()
            .use_proto_field_name(true)
            .skip_default_fields(false)
            .stringify_64_bit_integers(false)
            .use_enum_numbers(false);
        match &self.0 {
            Some(message) => message.serialize_with_options(serializer, &options),
            None => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

/// Sets every unset message field to its empty message, as prost's
/// `unwrap_or_default` did when exports were mapped by hand: an absent
/// `requester` reads `{"agency":"","name":""}` in every release.
fn with_empty_messages(message: &mut DynamicMessage) {
    let fields: Vec<_> = message.descriptor().fields().collect();
    for field in fields {
        if field.containing_oneof().is_some() || field.is_map() {
            continue;
        }
        if let Kind::Message(_) = field.kind() {
            match message.get_field_mut(&field) {
                Value::Message(inner) => with_empty_messages(inner),
                Value::List(items) => items
                    .iter_mut()
                    .filter_map(Value::as_message_mut)
                    .for_each(with_empty_messages),
                _ => {}
            }
        }
    }
}

/// The descriptor set `sy-api` embeds: every message of the protocol.
fn descriptors() -> &'static DescriptorPool {
    static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
        DescriptorPool::decode(sy_api::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set built with the protos decodes")
    });
    &POOL
}

/// `shuangyong.v1.EventEnvelope` in the descriptor set `sy-api` embeds.
fn envelope_descriptor() -> MessageDescriptor {
    descriptors()
        .get_message_by_name(EventEnvelope::full_name().as_str())
        .expect("the descriptor set holds the event log's envelope")
}

/// Any message of the protocol as JSON by its descriptor (the protobuf JSON
/// mapping with proto field names, defaults included, enums by name), for
/// `--json` answers of reads; `None` for a message the descriptor set lacks.
pub fn message_json<M: Message + Name>(message: &M) -> Option<String> {
    let descriptor = descriptors().get_message_by_name(M::full_name().as_str())?;
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(false)
        .stringify_64_bit_integers(false);
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).ok()?;
    let mut out = serde_json::Serializer::new(Vec::new());
    dynamic.serialize_with_options(&mut out, &options).ok()?;
    String::from_utf8(out.into_inner()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use sy_domain::event::GENESIS_HASH;
    use sy_domain::pb::{self, event_envelope::Payload};

    /// An export written by release 0.1.0, when the payloads were mapped by
    /// hand: every event type, unknown enum numbers, absent messages, 64-bit
    /// amounts, an envelope without payload and undecodable bytes.
    const EXPORT_V0_1_0: &str = include_str!("../tests/data/export-v0.1.0.jsonl");

    #[test]
    fn exports_of_release_0_1_0_are_written_the_same_and_verify() {
        let mut verifier = crate::verify::Verifier::new(crate::verify::Options::default());
        for line in EXPORT_V0_1_0.lines() {
            let record = Record::parse(line).unwrap();
            let stored = record.stored().unwrap();
            let today = ExportLine::new(record.position, &record.subject, &stored).to_json();
            // Equal as JSON, but for fields added to a payload since 0.1.0,
            // which `data` shows with their defaults (every field is listed);
            // as text too, but for those and for the keys inside `links`,
            // which 0.1.0 sorted and today come in field order.
            let value = |text: &str| serde_json::from_str::<Value>(text).unwrap();
            let (mut written, old) = (value(&today), value(line));
            let added = match (
                written.pointer_mut("/event/data"),
                old.pointer("/event/data"),
            ) {
                (Some(data), Some(old_data)) => drop_added_defaults(data, old_data),
                _ => 0,
            };
            assert_eq!(written, old, "position {}", record.position);
            if added == 0 && !line.contains(r#""links":[{"#) {
                assert_eq!(today, line, "position {}", record.position);
            }
            verifier.line(line);
        }
        let report = verifier.finish();
        assert!(report.is_ok(), "{:?}", report.findings);
        assert_eq!((report.events, report.warnings.len()), (37, 1));
    }

    fn envelope() -> EventEnvelope {
        EventEnvelope {
            event_id: "0197a000-0000-7000-8000-000000000001".into(),
            aggregate_kind: "request".into(),
            aggregate_id: "r-1".into(),
            aggregate_version: 1,
            occurred_at: Some(prost_types::Timestamp {
                seconds: 1_767_225_600,
                nanos: 0,
            }),
            recorded_at: Some(prost_types::Timestamp {
                seconds: 1_767_225_601,
                nanos: 500_000_000,
            }),
            actor: Some(pb::Actor {
                agency: "unit-31001".into(),
                user: "zhang.wei".into(),
            }),
            correlation_id: "c-1".into(),
            schema_version: 1,
            prev_hash: GENESIS_HASH.to_vec(),
            idempotency_key: "k-1".into(),
            payload: Some(Payload::RequestAssigned(pb::RequestAssigned {
                department: "district-housing-bureau".into(),
                due_date: "2026-02-01".into(),
                note: String::new(),
            })),
            ..Default::default()
        }
    }

    #[test]
    fn a_read_answer_is_json_by_its_descriptor() {
        let answer = pb::GetStationResponse {
            station: Some(pb::StationView {
                id: "st-1".into(),
                seats: 6,
                waitlist: vec!["c-1".into()],
                ..Default::default()
            }),
            position: 42,
        };
        let json: Value =
            serde_json::from_str(&message_json(&answer).expect("in the descriptor set")).unwrap();
        assert_eq!(json["position"], 42);
        assert_eq!(json["station"]["id"], "st-1");
        assert_eq!(json["station"]["free_seats"], 0, "defaults included");
        assert_eq!(json["station"]["waitlist"], json!(["c-1"]));
    }

    #[test]
    fn a_line_has_stable_field_names() {
        let stored = envelope().encode_to_vec();
        let json = ExportLine::new(7, "sy.evt.request.r-1", &stored).to_json();
        let value: Value = serde_json::from_str(&json).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["event", "hash", "payload", "position", "subject"]);
        // Written in declaration order, which people read.
        assert!(json.starts_with(r#"{"position":7,"subject":"sy.evt.request.r-1","hash":""#));
        let event = &value["event"];
        assert_eq!(event["aggregate_version"], 1);
        assert_eq!(event["occurred_at"], "2026-01-01T00:00:00Z");
        assert_eq!(event["recorded_at"], "2026-01-01T00:00:01.5Z");
        assert_eq!(event["actor"]["agency"], "unit-31001");
        assert_eq!(event["prev_hash"], "0".repeat(64));
        assert_eq!(event["event_type"], "RequestAssigned");
        assert_eq!(event["data"]["department"], "district-housing-bureau");
        assert_eq!(value["hash"], hex(&hash(&stored)));
    }

    #[test]
    fn a_line_reads_back_to_the_same_bytes() {
        let stored = envelope().encode_to_vec();
        let json = ExportLine::new(7, "sy.evt.request.r-1", &stored).to_json();
        let record = Record::parse(&json).unwrap();
        assert_eq!(record.position, 7);
        assert_eq!(record.subject, "sy.evt.request.r-1");
        assert_eq!(record.stored().unwrap(), stored);
        assert_eq!(parse_hash(&record.hash), Some(hash(&stored)));
        assert!(record.describes(&stored));

        let mut edited = record.clone();
        edited.event.as_mut().unwrap()["data"]["department"] = json!("elsewhere");
        assert!(!edited.describes(&stored));
    }

    #[test]
    fn undecodable_bytes_are_described_by_their_error() {
        let stored = b"\xff\xff\xff not an envelope".to_vec();
        let line = ExportLine::new(3, "sy.evt.request.x", &stored);
        assert!(line.event.is_none());
        let json = line.to_json();
        assert!(json.contains(r#""decode_error":"not an EventEnvelope"#));
        let record = Record::parse(&json).unwrap();
        assert!(record.describes(&stored));
        assert!(!record.describes(&envelope().encode_to_vec()));
    }

    #[test]
    fn unknown_enum_numbers_stay_numbers() {
        let mut e = envelope();
        e.payload = Some(Payload::RequestEscalated(pb::RequestEscalated {
            from_level: pb::SupervisionLevel::None as i32,
            to_level: 42,
            reason: "r".into(),
            ..Default::default()
        }));
        let view = serde_json::to_value(EventView::from_envelope(&e)).unwrap();
        assert_eq!(view["data"]["from_level"], "SUPERVISION_LEVEL_NONE");
        assert_eq!(view["data"]["to_level"], 42);
        e.payload = None;
        let view = serde_json::to_value(EventView::from_envelope(&e)).unwrap();
        assert_eq!(view["event_type"], UNKNOWN_EVENT_TYPE);
        assert_eq!(view["data"], json!({}));
    }

    #[test]
    fn hashes_parse_from_hex_only_at_full_length() {
        let h = hash(b"x");
        assert_eq!(parse_hash(&hex(&h)), Some(h));
        assert_eq!(parse_hash(&hex(&h).to_uppercase()), Some(h));
        assert_eq!(parse_hash("abc"), None);
        assert_eq!(parse_hash(&"g".repeat(64)), None);
    }
}
