//! Facts about events that every reader of the log shares: stable names,
//! subjects, the hash chain and the time conversions.

use crate::pb::event_envelope::Payload;

/// Version of the envelope schema written by this release.
pub const SCHEMA_VERSION: u32 = 1;

/// `prev_hash` of an aggregate's first event.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Subject prefix of every event; the full subject is
/// `sy.evt.<aggregate_kind>.<aggregate_id>`.
pub const SUBJECT_PREFIX: &str = "sy.evt";

/// The subject an aggregate's events are published on.
pub fn subject(kind: &str, id: &str) -> String {
    format!("{SUBJECT_PREFIX}.{kind}.{id}")
}

/// Hash of an event as stored in the log (its encoded envelope); the next
/// event of the same aggregate carries it as `prev_hash`.
pub fn hash(encoded_envelope: &[u8]) -> [u8; 32] {
    *blake3::hash(encoded_envelope).as_bytes()
}

/// Stable past-tense name of an event, as shown in timelines and metrics.
pub fn event_type(payload: &Payload) -> &'static str {
    match payload {
        Payload::RequestSubmitted(_) => "RequestSubmitted",
        Payload::RequestAssigned(_) => "RequestAssigned",
        Payload::RequestStarted(_) => "RequestStarted",
        Payload::ProgressRecorded(_) => "ProgressRecorded",
        Payload::RequestResolved(_) => "RequestResolved",
        Payload::RequestClosed(_) => "RequestClosed",
        Payload::RequestRejected(_) => "RequestRejected",
        Payload::RequestReopened(_) => "RequestReopened",
        Payload::RequestEscalated(_) => "RequestEscalated",
        Payload::DueDateChanged(_) => "DueDateChanged",
        Payload::RequestReminded(_) => "RequestReminded",
        Payload::SupervisionPolicyAdopted(_) => "SupervisionPolicyAdopted",
        Payload::SubTaskAdded(_) => "SubTaskAdded",
        Payload::SubTaskCompleted(_) => "SubTaskCompleted",
        Payload::InspectionRecorded(_) => "InspectionRecorded",
        Payload::DoubleListItemAdded(_) => "DoubleListItemAdded",
        Payload::DoubleListItemRemoved(_) => "DoubleListItemRemoved",
        Payload::DoubleListPublished(_) => "DoubleListPublished",
        Payload::PersonRegistered(_) => "PersonRegistered",
        Payload::TrainingRecorded(_) => "TrainingRecorded",
        Payload::CertificateRecorded(_) => "CertificateRecorded",
        Payload::PersonErased(_) => "PersonErased",
        Payload::LegalHoldPlaced(_) => "LegalHoldPlaced",
        Payload::LegalHoldReleased(_) => "LegalHoldReleased",
        Payload::PlacementRegistered(_) => "PlacementRegistered",
        Payload::PlacementMatched(_) => "PlacementMatched",
        Payload::PlacementOnDuty(_) => "PlacementOnDuty",
        Payload::PlacementDeclined(_) => "PlacementDeclined",
        Payload::PlacementWithdrawn(_) => "PlacementWithdrawn",
        Payload::TalentPoolRecommended(_) => "TalentPoolRecommended",
        Payload::SchoolRequestAccepted(_) => "SchoolRequestAccepted",
        Payload::SchoolRequestDeclined(_) => "SchoolRequestDeclined",
        Payload::SchoolEnrolled(_) => "SchoolEnrolled",
        Payload::AllowanceGranted(_) => "AllowanceGranted",
        Payload::AllowancePaid(_) => "AllowancePaid",
        Payload::AllowanceStopped(_) => "AllowanceStopped",
        Payload::StationOpened(_) => "StationOpened",
        Payload::StationSeatsChanged(_) => "StationSeatsChanged",
        Payload::ChildEnrolled(_) => "ChildEnrolled",
        Payload::ChildWithdrawn(_) => "ChildWithdrawn",
        Payload::WebhookSubscribed(_) => "WebhookSubscribed",
        Payload::WebhookUnsubscribed(_) => "WebhookUnsubscribed",
    }
}

/// Converts a protobuf timestamp; `None` when absent or out of range.
pub fn to_jiff(ts: Option<&prost_types::Timestamp>) -> Option<jiff::Timestamp> {
    let ts = ts?;
    jiff::Timestamp::new(ts.seconds, ts.nanos).ok()
}

/// Converts a timestamp to its protobuf form (seconds and nanoseconds).
pub fn to_proto(ts: jiff::Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ts.as_second(),
        nanos: ts.subsec_nanosecond(),
    }
}
