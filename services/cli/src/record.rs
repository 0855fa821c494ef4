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
use prost::Message as _;
use serde::ser::SerializeMap as _;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Value, json};
use sy_domain::event::{event_type, hash};
use sy_domain::pb::{self, EventEnvelope, event_envelope::Payload};

/// `event_type` of an envelope whose payload this release does not know.
pub const UNKNOWN_EVENT_TYPE: &str = "(unknown)";

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
    pub event: Option<Value>,
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

    /// Whether `event` / `decode_error` say what `stored` decodes to.
    pub fn describes(&self, stored: &[u8]) -> bool {
        match EventView::decode(stored) {
            Ok(view) => {
                self.decode_error.is_none()
                    && self.event.as_ref() == serde_json::to_value(&view).ok().as_ref()
            }
            Err(err) => self.event.is_none() && self.decode_error.as_deref() == Some(&err),
        }
    }
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
    pub data: Fields,
}

impl EventView {
    /// Decodes stored bytes; the error text is what an export writes as
    /// `decode_error`.
    pub fn decode(stored: &[u8]) -> Result<Self, String> {
        EventEnvelope::decode(stored)
            .map(|envelope| Self::from_envelope(&envelope))
            .map_err(|err| format!("not an EventEnvelope: {err}"))
    }

    pub fn from_envelope(e: &EventEnvelope) -> Self {
        let actor = e.actor.clone().unwrap_or_default();
        let (event_type, data) = match &e.payload {
            Some(payload) => (event_type(payload).to_string(), payload_fields(payload)),
            None => (UNKNOWN_EVENT_TYPE.to_string(), Fields::default()),
        };
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
            event_type,
            data,
        }
    }
}

/// A protobuf timestamp in RFC 3339 (UTC), `None` when unset or out of range.
pub fn rfc3339(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    sy_domain::event::to_jiff(ts).map(|ts| ts.to_string())
}

/// Named values serialised as a JSON object in the order given (a
/// `serde_json::Map` would sort them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(pub Vec<(&'static str, Value)>);

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// An enum field by its protobuf name, or its number when this release does
/// not know it.
fn enum_name<E>(value: i32, name: impl Fn(&E) -> &'static str) -> Value
where
    E: TryFrom<i32>,
{
    E::try_from(value).map_or_else(|_| json!(value), |e| json!(name(&e)))
}

/// Every field of a payload, in the proto's field order.
fn payload_fields(payload: &Payload) -> Fields {
    let fields = match payload {
        Payload::RequestSubmitted(p) => {
            let requester = p.requester.clone().unwrap_or_default();
            vec![
                (
                    "direction",
                    enum_name(p.direction, pb::Direction::as_str_name),
                ),
                (
                    "requester",
                    json!({"agency": requester.agency, "name": requester.name}),
                ),
                ("category", enum_name(p.category, pb::Category::as_str_name)),
                ("title", json!(p.title)),
                ("description", json!(p.description)),
                ("area_code", json!(p.area_code)),
                ("priority", enum_name(p.priority, pb::Priority::as_str_name)),
                ("due_date", json!(p.due_date)),
                (
                    "supervision_level",
                    enum_name(p.supervision_level, pb::SupervisionLevel::as_str_name),
                ),
            ]
        }
        Payload::RequestAssigned(p) => vec![
            ("department", json!(p.department)),
            ("due_date", json!(p.due_date)),
            ("note", json!(p.note)),
        ],
        Payload::RequestStarted(p) => vec![("note", json!(p.note))],
        Payload::ProgressRecorded(p) => vec![("note", json!(p.note))],
        Payload::RequestResolved(p) => vec![("resolution", json!(p.resolution))],
        Payload::RequestClosed(p) => vec![("note", json!(p.note))],
        Payload::RequestRejected(p) => vec![("reason", json!(p.reason))],
        Payload::RequestReopened(p) => vec![("reason", json!(p.reason))],
        Payload::RequestEscalated(p) => vec![
            (
                "from_level",
                enum_name(p.from_level, pb::SupervisionLevel::as_str_name),
            ),
            (
                "to_level",
                enum_name(p.to_level, pb::SupervisionLevel::as_str_name),
            ),
            ("reason", json!(p.reason)),
            ("due_date", json!(p.due_date)),
        ],
        Payload::DueDateChanged(p) => vec![
            ("previous_due_date", json!(p.previous_due_date)),
            ("due_date", json!(p.due_date)),
            ("reason", json!(p.reason)),
        ],
        Payload::PersonRegistered(p) => vec![
            ("role", enum_name(p.role, pb::PersonRole::as_str_name)),
            ("name", json!(p.name)),
            ("id_number", json!(p.id_number)),
            ("phone", json!(p.phone)),
            ("area_code", json!(p.area_code)),
            (
                "links",
                Value::Array(
                    p.links
                        .iter()
                        .map(|link| {
                            json!({
                                "relation": enum_name(link.relation, pb::Relation::as_str_name),
                                "name": link.name,
                                "unit": link.unit,
                                "person_id": link.person_id,
                            })
                        })
                        .collect(),
                ),
            ),
        ],
        Payload::TrainingRecorded(p) => vec![
            ("course", json!(p.course)),
            ("hours", json!(p.hours)),
            ("completed_on", json!(p.completed_on)),
        ],
        Payload::CertificateRecorded(p) => vec![
            ("certificate", json!(p.certificate)),
            ("issuer", json!(p.issuer)),
            ("issued_on", json!(p.issued_on)),
        ],
        Payload::PlacementRegistered(p) => vec![
            (
                "programme",
                enum_name(p.programme, pb::Programme::as_str_name),
            ),
            ("person_id", json!(p.person_id)),
            ("area_code", json!(p.area_code)),
            ("fast_lane", json!(p.fast_lane)),
            ("school", json!(p.school)),
            ("grade", json!(p.grade)),
        ],
        Payload::PlacementMatched(p) => vec![
            ("employer", json!(p.employer)),
            ("post", json!(p.post)),
            ("profession_matched", json!(p.profession_matched)),
            ("post_matched", json!(p.post_matched)),
            ("rank_matched", json!(p.rank_matched)),
        ],
        Payload::PlacementOnDuty(p) => vec![("on_duty_date", json!(p.on_duty_date))],
        Payload::PlacementDeclined(p) => vec![("reason", json!(p.reason))],
        Payload::PlacementWithdrawn(p) => vec![("reason", json!(p.reason))],
        Payload::TalentPoolRecommended(p) => vec![
            ("community_code", json!(p.community_code)),
            ("note", json!(p.note)),
        ],
        Payload::SchoolRequestAccepted(p) => vec![("note", json!(p.note))],
        Payload::SchoolRequestDeclined(p) => vec![("reason", json!(p.reason))],
        Payload::SchoolEnrolled(p) => vec![("school", json!(p.school))],
        Payload::AllowanceGranted(p) => vec![
            ("person_id", json!(p.person_id)),
            ("monthly_amount_fen", json!(p.monthly_amount_fen)),
            ("from_month", json!(p.from_month)),
        ],
        Payload::AllowancePaid(p) => vec![
            ("month", json!(p.month)),
            ("amount_fen", json!(p.amount_fen)),
        ],
        Payload::AllowanceStopped(p) => vec![
            ("reason", json!(p.reason)),
            ("automatic", json!(p.automatic)),
        ],
        Payload::StationOpened(p) => vec![
            ("name", json!(p.name)),
            ("seats", json!(p.seats)),
            ("opening_hours", json!(p.opening_hours)),
            ("area_code", json!(p.area_code)),
            ("address", json!(p.address)),
        ],
        Payload::StationSeatsChanged(p) => vec![
            ("seats", json!(p.seats)),
            ("promoted_person_ids", json!(p.promoted_person_ids)),
        ],
        Payload::ChildEnrolled(p) => vec![
            ("person_id", json!(p.person_id)),
            ("waitlisted", json!(p.waitlisted)),
        ],
        Payload::ChildWithdrawn(p) => vec![
            ("person_id", json!(p.person_id)),
            ("reason", json!(p.reason)),
            ("promoted_person_id", json!(p.promoted_person_id)),
        ],
    };
    Fields(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sy_domain::event::GENESIS_HASH;

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
            due_date: String::new(),
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
