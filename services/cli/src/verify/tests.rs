//! The verifier against in-memory exports: an intact one, and one of each
//! kind of tampering, each of which must be found and named.

use std::collections::HashMap;

use prost::Message as _;
use serde_json::Value;
use sy_domain::event::{GENESIS_HASH, hash, subject};
use sy_domain::pb::{self, EventEnvelope, event_envelope::Payload};

use super::*;
use crate::record::{EventView, ExportLine};
use sy_domain::audit::ChainProblem;
use sy_domain::signature::EventSigner;

/// One event as stored: position, subject, bytes.
#[derive(Debug, Clone)]
struct Stored {
    position: u64,
    subject: String,
    bytes: Vec<u8>,
}

fn payload(version: u64) -> Payload {
    match version {
        1 => Payload::RequestSubmitted(pb::RequestSubmitted {
            direction: pb::Direction::MilitaryToLocal as i32,
            title: "训练场排水改造".into(),
            area_code: "500106001002".into(),
            ..Default::default()
        }),
        2 => Payload::RequestAssigned(pb::RequestAssigned {
            department: "district-housing-bureau".into(),
            due_date: "2026-02-01".into(),
            note: String::new(),
        }),
        3 => Payload::RequestStarted(pb::RequestStarted {
            note: "crew on site".into(),
        }),
        _ => Payload::ProgressRecorded(pb::ProgressRecorded {
            note: format!("step {version}"),
        }),
    }
}

fn envelope(id: &str, version: u64, prev_hash: [u8; 32], seconds: i64) -> EventEnvelope {
    let at = prost_types::Timestamp { seconds, nanos: 0 };
    EventEnvelope {
        event_id: format!("{id}-{version}"),
        aggregate_kind: "request".into(),
        aggregate_id: id.into(),
        aggregate_version: version,
        occurred_at: Some(at),
        recorded_at: Some(at),
        actor: Some(pb::Actor {
            agency: "unit-31001".into(),
            user: "zhang.wei".into(),
        }),
        correlation_id: format!("corr-{id}"),
        schema_version: 1,
        prev_hash: prev_hash.to_vec(),
        idempotency_key: format!("key-{id}-{version}"),
        payload: Some(payload(version)),
        ..Default::default()
    }
}

/// Request `a` has 4 events, `b` has 3, interleaved:
/// 1 a1, 2 b1, 3 a2, 4 a3, 5 b2, 6 a4, 7 b3.
fn log() -> Vec<Stored> {
    let order = [
        ("a", 1),
        ("b", 1),
        ("a", 2),
        ("a", 3),
        ("b", 2),
        ("a", 4),
        ("b", 3),
    ];
    let mut previous: HashMap<&str, [u8; 32]> = HashMap::new();
    order
        .iter()
        .enumerate()
        .map(|(i, &(id, version))| {
            let prev = previous.get(id).copied().unwrap_or(GENESIS_HASH);
            let bytes = envelope(id, version, prev, 1_767_225_600 + i as i64 * 60).encode_to_vec();
            previous.insert(id, hash(&bytes));
            Stored {
                position: i as u64 + 1,
                subject: subject("request", id),
                bytes,
            }
        })
        .collect()
}

fn lines(events: &[Stored]) -> Vec<String> {
    events
        .iter()
        .map(|e| ExportLine::new(e.position, &e.subject, &e.bytes).to_json())
        .collect()
}

fn verify_with(lines: &[String], options: Options) -> Report {
    let mut verifier = Verifier::new(options);
    for line in lines {
        verifier.line(line);
    }
    verifier.finish()
}

fn verify(lines: &[String]) -> Report {
    verify_with(lines, Options::default())
}

/// The digest computed directly, as a replica computes it.
fn direct_digest(events: &[Stored]) -> LogDigest {
    let mut digest = LogDigest::default();
    for event in events {
        digest.advance(event.position, &event.bytes);
    }
    digest
}

/// A finding as (position, aggregate id, version, problem).
type Named = (Option<u64>, Option<String>, Option<u64>, Problem);

fn named(report: &Report) -> Vec<Named> {
    report
        .findings
        .iter()
        .map(|f| {
            (
                f.position,
                f.aggregate.as_ref().map(|(_, id)| id.clone()),
                f.version,
                f.problem.clone(),
            )
        })
        .collect()
}

fn at(position: u64, problem: Problem) -> Named {
    (Some(position), None, None, problem)
}

fn in_chain(position: u64, id: &str, version: u64, problem: Problem) -> Named {
    (Some(position), Some(id.to_string()), Some(version), problem)
}

/// Rewrites a line's envelope as a careful forger would: new payload bytes,
/// a matching `event` object, and (with `rehash`) a matching `hash`.
fn forge(line: &str, rehash: bool, edit: impl FnOnce(&mut EventEnvelope)) -> String {
    let mut value: Value = serde_json::from_str(line).unwrap();
    let record = Record::parse(line).unwrap();
    let mut envelope = EventEnvelope::decode(record.stored().unwrap().as_slice()).unwrap();
    edit(&mut envelope);
    let bytes = envelope.encode_to_vec();
    let json = ExportLine::new(record.position, &record.subject, &bytes).to_json();
    let forged: Value = serde_json::from_str(&json).unwrap();
    value["payload"] = forged["payload"].clone();
    value["event"] = forged["event"].clone();
    if rehash {
        value["hash"] = forged["hash"].clone();
    }
    value.to_string()
}

fn set(line: &str, field: &str, to: Value) -> String {
    let mut value: Value = serde_json::from_str(line).unwrap();
    value[field] = to;
    value.to_string()
}

/// Positions 1, 2, 3, ... in line order, as a forger hiding a gap would.
fn renumber(lines: &mut [String]) {
    for (i, line) in lines.iter_mut().enumerate() {
        *line = set(line, "position", Value::from(i as u64 + 1));
    }
}

#[test]
fn an_intact_export_verifies_with_the_replicas_digest() {
    let events = log();
    let report = verify(&lines(&events));
    assert!(report.is_ok(), "{:?}", report.findings);
    assert!(report.warnings.is_empty());
    assert_eq!((report.events, report.aggregates), (7, 2));
    let direct = direct_digest(&events);
    assert_eq!(report.digest, direct);
    assert_eq!(
        report.summary(),
        format!(
            "ok: 7 events, 2 aggregates, digest {} at position 7; \
             signatures NOT checked (no --verify-keys-file): authorship is not proved",
            direct.hex()
        )
    );
}

#[test]
fn the_log_itself_verifies_like_its_export() {
    let events = log();
    let mut verifier = Verifier::new(Options::default());
    for e in &events {
        verifier.stored(&StoredEvent {
            position: e.position,
            subject: e.subject.clone(),
            payload: e.bytes.clone().into(),
        });
    }
    let live = verifier.finish();
    assert!(live.is_ok(), "{:?}", live.findings);
    assert_eq!(live, verify(&lines(&events)));
}

#[test]
fn an_altered_event_is_named_by_its_hash() {
    let mut lines = lines(&log());
    lines[2] = forge(&lines[2], false, |e| e.correlation_id.push_str("-forged"));
    let report = verify(&lines);
    assert_eq!(named(&report).len(), 1, "{:?}", report.findings);
    assert!(matches!(
        &report.findings[0],
        Finding {
            position: Some(3),
            problem: Problem::HashMismatch { .. },
            ..
        }
    ));
    assert!(
        report.findings[0]
            .to_string()
            .starts_with("line 3, position 3, request a version 2: the payload hashes to")
    );
}

#[test]
fn an_altered_event_with_a_rewritten_hash_breaks_the_next_link() {
    let mut lines = lines(&log());
    lines[2] = forge(&lines[2], true, |e| e.correlation_id.push_str("-forged"));
    let report = verify(&lines);
    assert_eq!(
        named(&report),
        [in_chain(
            4,
            "a",
            3,
            Problem::Chain(ChainProblem::PrevHashMismatch {
                previous_version: 2,
                previous_position: Some(3)
            })
        )]
    );
    assert_eq!(
        report.findings[0].to_string(),
        "line 4, position 4, request a version 3: prev_hash is not the hash of version 2 at position 3: \
         that event was altered (its hash rewritten too), or this one was altered or inserted"
    );
}

#[test]
fn an_altered_last_event_is_named_by_its_hash_or_else_by_the_digest() {
    let events = log();
    let mut tampered = lines(&events);
    tampered[5] = forge(&tampered[5], false, |e| {
        e.correlation_id.push_str("-forged")
    });
    assert!(matches!(
        named(&verify(&tampered)).as_slice(),
        [(Some(6), Some(id), Some(4), Problem::HashMismatch { .. })] if id == "a"
    ));

    // Hash rewritten too, and nothing after it in the chain: only the
    // digest against a replica's shows it.
    let mut tampered = lines(&events);
    tampered[5] = forge(&tampered[5], true, |e| e.correlation_id.push_str("-forged"));
    assert!(verify(&tampered).is_ok());
    let expect = Options {
        expect: Some(Expectation {
            digest: direct_digest(&events).digest,
            position: None,
        }),
        ..Options::default()
    };
    let report = verify_with(&tampered, expect);
    assert!(matches!(
        named(&report).as_slice(),
        [(Some(7), None, None, Problem::DigestMismatch { .. })]
    ));
    assert!(verify_with(&lines(&events), expect).matched_expectation);
}

#[test]
fn a_dropped_event_leaves_a_position_gap_and_a_version_gap() {
    let mut lines = lines(&log());
    lines.remove(3); // a3 at position 4
    assert_eq!(
        named(&verify(&lines)),
        [
            at(5, Problem::PositionGap { previous: 3 }),
            in_chain(
                6,
                "a",
                4,
                Problem::Chain(ChainProblem::VersionGap {
                    previous: 2,
                    previous_position: Some(3),
                    found: 4
                })
            ),
        ]
    );

    // Positions renumbered to hide the gap: the chain still shows it.
    renumber(&mut lines);
    assert_eq!(
        named(&verify(&lines)),
        [in_chain(
            5,
            "a",
            4,
            Problem::Chain(ChainProblem::VersionGap {
                previous: 2,
                previous_position: Some(3),
                found: 4
            })
        )]
    );
}

#[test]
fn a_dropped_first_line_is_found_unless_the_export_is_partial() {
    let mut lines = lines(&log());
    lines.remove(0); // a1
    assert_eq!(
        named(&verify(&lines)),
        [
            at(2, Problem::StartsLate),
            in_chain(
                3,
                "a",
                2,
                Problem::Chain(ChainProblem::VersionGap {
                    previous: 0,
                    previous_position: None,
                    found: 2
                })
            ),
        ]
    );
    let partial = verify_with(
        &lines,
        Options {
            partial: true,
            expect: None,
        },
    );
    assert!(partial.is_ok(), "{:?}", partial.findings);
    assert!(partial.summary().contains("partial export from position 2"));
}

#[test]
fn reordered_events_go_back() {
    let events = log();
    // Lines swapped, positions as they were.
    let mut swapped = lines(&events);
    swapped.swap(2, 3); // a2 (3) and a3 (4)
    assert_eq!(
        named(&verify(&swapped)),
        [
            at(4, Problem::PositionGap { previous: 2 }),
            in_chain(
                4,
                "a",
                3,
                Problem::Chain(ChainProblem::VersionGap {
                    previous: 1,
                    previous_position: Some(1),
                    found: 3
                })
            ),
            at(3, Problem::PositionNotAfter { previous: 4 }),
            in_chain(
                3,
                "a",
                2,
                Problem::Chain(ChainProblem::VersionBack {
                    latest: 3,
                    latest_position: 4
                })
            ),
        ]
    );

    // Positions renumbered too: the versions still go back.
    renumber(&mut swapped);
    assert_eq!(
        named(&verify(&swapped)),
        [
            in_chain(
                3,
                "a",
                3,
                Problem::Chain(ChainProblem::VersionGap {
                    previous: 1,
                    previous_position: Some(1),
                    found: 3
                })
            ),
            in_chain(
                4,
                "a",
                2,
                Problem::Chain(ChainProblem::VersionBack {
                    latest: 3,
                    latest_position: 3
                })
            ),
        ]
    );
}

#[test]
fn an_inserted_event_repeats_a_version_or_names_a_foreign_hash() {
    let events = log();
    // A forged version 3 of `a` that links correctly to a2, inserted before
    // the real a3, positions renumbered.
    let a2 = &events[2];
    let forged = envelope("a", 3, hash(&a2.bytes), 1_767_300_000).encode_to_vec();
    let mut inserted = lines(&events);
    inserted.insert(3, ExportLine::new(4, &a2.subject, &forged).to_json());
    renumber(&mut inserted);
    assert_eq!(
        named(&verify(&inserted)),
        [in_chain(
            5,
            "a",
            3,
            Problem::Chain(ChainProblem::DuplicateVersion { other_position: 4 })
        )]
    );

    // The next version appended, but its prev_hash names no event of `a`.
    let mut appended = lines(&events);
    let foreign = envelope("a", 5, hash(b"some other event"), 1_767_300_000).encode_to_vec();
    appended.push(ExportLine::new(8, &a2.subject, &foreign).to_json());
    assert_eq!(
        named(&verify(&appended)),
        [in_chain(
            8,
            "a",
            5,
            Problem::Chain(ChainProblem::PrevHashMismatch {
                previous_version: 4,
                previous_position: Some(6)
            })
        )]
    );

    // A repeated line: the same position and version again.
    let mut repeated = lines(&events);
    repeated.insert(5, repeated[4].clone());
    assert_eq!(
        named(&verify(&repeated)),
        [
            at(5, Problem::PositionNotAfter { previous: 5 }),
            in_chain(
                5,
                "b",
                2,
                Problem::Chain(ChainProblem::DuplicateVersion { other_position: 5 })
            ),
        ]
    );
}

#[test]
fn a_moved_subject_and_an_edited_event_object_are_found() {
    let events = log();
    let mut lines = lines(&events);
    lines[4] = set(&lines[4], "subject", Value::from("sy.evt.request.a"));
    let mut view: Value = serde_json::from_str(&lines[2]).unwrap();
    view["event"]["data"]["department"] = Value::from("district-health-bureau");
    lines[2] = view.to_string();
    assert_eq!(
        named(&verify(&lines)),
        [
            in_chain(3, "a", 2, Problem::DescriptionMismatch),
            in_chain(
                5,
                "b",
                2,
                Problem::SubjectMismatch {
                    expected: "sy.evt.request.b".into()
                }
            ),
        ]
    );
}

#[test]
fn lines_that_are_not_records_are_named_by_line() {
    let mut lines = lines(&log());
    lines.insert(1, "not json".into());
    lines.insert(2, String::new());
    lines[3] = set(&lines[3], "hash", Value::from("xyz"));
    let report = verify(&lines);
    assert!(matches!(
        &report.findings[0],
        Finding {
            line: Some(2),
            position: None,
            problem: Problem::NotARecord(_),
            ..
        }
    ));
    assert_eq!(report.findings[1].problem, Problem::BadHash);
    assert_eq!(report.findings[1].line, Some(4));
    assert_eq!(report.findings.len(), 2, "{:?}", report.findings);
    let payload = set(&lines[4], "payload", Value::from("%%%"));
    let report = verify(&[payload]);
    assert!(matches!(report.findings[0].problem, Problem::BadPayload(_)));
}

#[test]
fn undecodable_events_are_warnings_and_still_in_the_digest() {
    let mut events = log();
    events.push(Stored {
        position: 8,
        subject: "sy.evt.request.junk".into(),
        bytes: b"\xff\xff\xff junk".to_vec(),
    });
    let report = verify(&lines(&events));
    assert!(report.is_ok(), "{:?}", report.findings);
    assert_eq!(report.warnings.len(), 1);
    assert!(matches!(
        report.warnings[0].problem,
        Problem::Undecodable(_)
    ));
    assert_eq!(report.digest, direct_digest(&events));
    assert!(report.summary().ends_with("; 1 warning"));
}

#[test]
fn an_expected_digest_applies_at_its_position() {
    let events = log();
    let lines = lines(&events);
    let at_4 = direct_digest(&events[..4]);
    let expect = |digest: [u8; 32], position| Options {
        partial: false,
        expect: Some(Expectation {
            digest,
            position: Some(position),
        }),
    };
    let report = verify_with(&lines, expect(at_4.digest, 4));
    assert!(
        report.is_ok() && report.matched_expectation,
        "{:?}",
        report.findings
    );
    assert!(report.summary().contains("; matches the expected digest"));

    let report = verify_with(&lines, expect(at_4.digest, 5));
    assert!(matches!(
        named(&report).as_slice(),
        [(Some(5), None, None, Problem::DigestMismatch { .. })]
    ));
    let report = verify_with(&lines, expect(at_4.digest, 99));
    assert!(matches!(
        named(&report).as_slice(),
        [(
            None,
            None,
            None,
            Problem::ExpectedPositionMissing { position: 99, .. }
        )]
    ));
}

#[test]
fn a_failed_report_says_how_many_findings() {
    let mut lines = lines(&log());
    lines.remove(3);
    let summary = verify(&lines).summary();
    assert!(
        summary.starts_with("FAILED: 2 findings in 6 events, 2 aggregates"),
        "{summary}"
    );
}

#[test]
fn the_readable_event_matches_the_payload_it_came_from() {
    let events = log();
    let line = &lines(&events)[0];
    let record = Record::parse(line).unwrap();
    let view = EventView::decode(&events[0].bytes).unwrap();
    assert_eq!(record.event, Some(serde_json::to_value(&view).unwrap()));
    assert_eq!(view.event_type, "RequestSubmitted");
    assert_eq!(view.aggregate_version, 1);
}

/// The log with event `forged_at` (1-based) replaced by one chained onto the
/// same predecessor, either unsigned or signed by `forger`; every other
/// event signed by `intake`.
fn signed_log(intake: &EventSigner, forged_at: usize, forger: Option<&EventSigner>) -> Vec<Stored> {
    let mut previous: HashMap<String, [u8; 32]> = HashMap::new();
    log()
        .into_iter()
        .map(|stored| {
            let mut envelope = EventEnvelope::decode(stored.bytes.as_slice()).unwrap();
            let id = envelope.aggregate_id.clone();
            envelope.prev_hash = previous.get(&id).copied().unwrap_or(GENESIS_HASH).to_vec();
            let bytes = match (stored.position as usize == forged_at, forger) {
                (false, _) => intake.sign(&mut envelope),
                (true, Some(forger)) => forger.sign(&mut envelope),
                (true, None) => envelope.encode_to_vec(),
            };
            previous.insert(id, hash(&bytes));
            Stored { bytes, ..stored }
        })
        .collect()
}

fn verify_signed(events: &[Stored], keys: &VerifyKeys) -> Report {
    let mut verifier = Verifier::new(Options::default()).with_keys(Some(Arc::new(keys.clone())));
    for line in lines(events) {
        verifier.line(&line);
    }
    verifier.finish()
}

#[test]
fn signatures_verify_and_a_forgery_with_a_right_chain_is_named() {
    use sy_domain::signature::SignatureError;
    let intake = EventSigner::from_seed("k1", [1; 32]).unwrap();
    let keys = VerifyKeys::of([&intake]);

    let genuine = verify_signed(&signed_log(&intake, 0, None), &keys);
    assert!(genuine.is_ok(), "{:?}", genuine.findings);
    assert_eq!(genuine.signed, Some(7));
    assert!(genuine.summary().contains("7 signatures verified"));

    let impostor = EventSigner::from_seed("k1", [2; 32]).unwrap();
    for (forger, expected) in [
        (None, SignatureError::Missing),
        (Some(&impostor), SignatureError::Invalid("k1".into())),
    ] {
        let report = verify_signed(&signed_log(&intake, 3, forger), &keys);
        // Only the signature tells: the chain and the digest hold.
        assert_eq!(
            named(&report),
            [(
                Some(3),
                Some("a".to_string()),
                Some(2),
                Problem::Signature(expected)
            )]
        );
        assert!(report.summary().starts_with("FAILED: 1 finding"));
    }

    let unchecked = verify(&lines(&signed_log(&intake, 3, None)));
    assert!(unchecked.is_ok());
    assert!(unchecked.summary().contains("signatures NOT checked"));
}
