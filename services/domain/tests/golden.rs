//! Schema evolution guard: `golden/events-v1.bin` holds envelopes encoded by
//! the first release (length-delimited), one of every event type. This test
//! decodes and folds them forever after: a change that breaks old events
//! fails here. Regenerate only for a new golden version, never to make this
//! pass: `SY_BLESS_GOLDEN=1 cargo test -p sy-domain --test golden`.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use std::path::PathBuf;

use prost::Message;
use sy_domain::aggregate::Aggregate;
use sy_domain::audit::ChainVerifier;
use sy_domain::event::{GENESIS_HASH, SCHEMA_VERSION, event_type, hash};
use sy_domain::pb::{self, EventEnvelope, RequestStatus, event_envelope::Payload};
use sy_domain::request::KIND;
use sy_domain::upcast::upcast;

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/events-v1.bin")
}

/// The events the golden file was made from: two requests, every event type.
fn golden_payloads() -> Vec<(&'static str, &'static str, Payload)> {
    let a = "0190c3b6-6f4e-7a51-8c2d-3e1f00000001";
    let b = "0190c3b6-6f4e-7a51-8c2d-3e1f00000002";
    vec![
        (
            a,
            "unit-31001",
            Payload::RequestSubmitted(pb::RequestSubmitted {
                direction: pb::Direction::MilitaryToLocal as i32,
                requester: Some(pb::RequestingParty {
                    agency: "unit-31001".into(),
                    name: "某部营房科".into(),
                }),
                category: pb::Category::BarracksAndTrainingGrounds as i32,
                title: "训练场排水改造".into(),
                description: "雨季积水影响训练".into(),
                area_code: "500106001002".into(),
                priority: pb::Priority::High as i32,
                due_date: String::new(),
                supervision_level: pb::SupervisionLevel::None as i32,
                person_id: String::new(),
            }),
        ),
        (
            a,
            "district-office",
            Payload::RequestAssigned(pb::RequestAssigned {
                department: "district-housing-bureau".into(),
                due_date: "2025-03-01".into(),
                note: "请住建委牵头".into(),
            }),
        ),
        (
            a,
            "supervision-office",
            Payload::RequestEscalated(pb::RequestEscalated {
                from_level: pb::SupervisionLevel::None as i32,
                to_level: pb::SupervisionLevel::City as i32,
                reason: "市级挂牌督办".into(),
                due_date: "2025-02-15".into(),
                ..Default::default()
            }),
        ),
        (
            a,
            "district-housing-bureau",
            Payload::DueDateChanged(pb::DueDateChanged {
                previous_due_date: "2025-02-15".into(),
                due_date: "2025-02-28".into(),
                reason: "春节顺延".into(),
            }),
        ),
        (
            a,
            "district-housing-bureau",
            Payload::RequestStarted(pb::RequestStarted {
                note: "进场施工".into(),
            }),
        ),
        (
            a,
            "district-housing-bureau",
            Payload::ProgressRecorded(pb::ProgressRecorded {
                note: "管网铺设过半".into(),
            }),
        ),
        (
            a,
            "district-housing-bureau",
            Payload::RequestResolved(pb::RequestResolved {
                resolution: "完工".into(),
            }),
        ),
        (
            a,
            "unit-31001",
            Payload::RequestReopened(pb::RequestReopened {
                reason: "东侧仍积水".into(),
                ..Default::default()
            }),
        ),
        (
            a,
            "district-housing-bureau",
            Payload::RequestResolved(pb::RequestResolved {
                resolution: "东侧补修完成".into(),
            }),
        ),
        (
            a,
            "unit-31001",
            Payload::RequestClosed(pb::RequestClosed {
                note: "确认销号".into(),
                ..Default::default()
            }),
        ),
        (
            b,
            "district-education-committee",
            Payload::RequestSubmitted(pb::RequestSubmitted {
                direction: pb::Direction::LocalToMilitary as i32,
                requester: Some(pb::RequestingParty {
                    agency: "district-education-committee".into(),
                    name: "区教委".into(),
                }),
                category: pb::Category::StudentMilitaryTraining as i32,
                title: "高一新生军训".into(),
                description: String::new(),
                area_code: "500106005000".into(),
                priority: pb::Priority::Normal as i32,
                due_date: "2025-08-20".into(),
                supervision_level: pb::SupervisionLevel::District as i32,
                person_id: String::new(),
            }),
        ),
        (
            b,
            "unit-31001",
            Payload::RequestRejected(pb::RequestRejected {
                reason: "演训任务冲突".into(),
            }),
        ),
    ]
}

fn build_golden() -> Vec<u8> {
    let mut out = Vec::new();
    let mut last: std::collections::HashMap<&str, (u64, [u8; 32])> = Default::default();
    for (i, (id, agency, payload)) in golden_payloads().into_iter().enumerate() {
        let (version, prev) = last.get(id).copied().unwrap_or((0, GENESIS_HASH));
        let at = prost_types::Timestamp {
            seconds: 1_735_689_600 + 86_400 * i as i64,
            nanos: 0,
        };
        let envelope = EventEnvelope {
            event_id: format!("0190c3b6-6f4e-7a51-8c2d-4e1f{:08x}", i),
            aggregate_kind: KIND.into(),
            aggregate_id: id.into(),
            aggregate_version: version + 1,
            occurred_at: Some(at),
            recorded_at: Some(at),
            actor: Some(pb::Actor {
                agency: agency.into(),
                user: "golden".into(),
            }),
            correlation_id: "golden".into(),
            causation_id: String::new(),
            schema_version: SCHEMA_VERSION,
            prev_hash: prev.to_vec(),
            idempotency_key: format!("golden-{i}"),
            command_fingerprint: vec![i as u8; 32],
            // Events of the first release were never signed.
            signing_key_id: String::new(),
            signature: Vec::new(),
            // Nor did they seal personal fields.
            personal: None,
            payload: Some(payload),
        };
        let stored = envelope.encode_to_vec();
        last.insert(id, (version + 1, hash(&stored)));
        envelope.encode_length_delimited(&mut out).unwrap();
    }
    out
}

#[test]
fn golden_events_still_decode_chain_and_fold() {
    if std::env::var_os("SY_BLESS_GOLDEN").is_some() {
        std::fs::write(golden_path(), build_golden()).unwrap();
    }
    let bytes = std::fs::read(golden_path()).expect("golden file is committed");
    let mut buf = bytes.as_slice();
    let mut verifier = ChainVerifier::default();
    let mut states: std::collections::BTreeMap<String, pb::Request> = Default::default();
    let mut types = Vec::new();
    let mut position = 0;
    while !buf.is_empty() {
        let stored_envelope = EventEnvelope::decode_length_delimited(&mut buf).expect("decodes");
        position += 1;
        // The stored form is the plain encoding; re-encoding must reproduce it
        // for the hash chain to verify.
        let stored = stored_envelope.encode_to_vec();
        verifier
            .check(&stored_envelope, &stored)
            .expect("chain holds");
        // Read as every reader does: upcast to today's meaning, then fold.
        let envelope = upcast(stored_envelope).expect("golden events are not from the future");
        types.push(event_type(envelope.payload.as_ref().expect("payload")));
        let state = states.entry(envelope.aggregate_id.clone()).or_default();
        Aggregate::apply(state, &envelope, position).expect("folds");
    }
    assert_eq!(types.len(), 12);
    let mut distinct = types.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "every event type is in the golden file");

    let a = &states["0190c3b6-6f4e-7a51-8c2d-3e1f00000001"];
    assert_eq!(a.status(), RequestStatus::Closed);
    assert_eq!(a.version, 10);
    assert_eq!(a.reopen_count, 1);
    assert_eq!(a.supervision_level(), pb::SupervisionLevel::City);
    assert_eq!(a.due_date, "2025-02-28");
    assert_eq!(a.resolution, "东侧补修完成");
    assert_eq!(a.department, "district-housing-bureau");
    let b = &states["0190c3b6-6f4e-7a51-8c2d-3e1f00000002"];
    assert_eq!(b.status(), RequestStatus::Rejected);
    assert_eq!(b.rejection_reason, "演训任务冲突");
}
