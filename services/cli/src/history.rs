//! `sy history KIND ID`: one aggregate's events read from the log itself
//! (its subject `sy.evt.KIND.ID`), never from a read model, one row per
//! event, and whether its hash chain holds, checked with the domain's
//! [`ChainVerifier`], and, given the published verify keys, whether each
//! event's signature is valid and by which key (a forged event chained onto
//! the right hash shows as a valid link with a BAD signature).

use std::fmt::Write as _;
use std::time::Duration;

use prost::Message as _;
use sy_domain::audit::ChainVerifier;
use sy_domain::event::{hash, subject};
use sy_domain::pb::EventEnvelope;
use sy_domain::signature::VerifyKeys;
use sy_eventlog::StoredEvent;

use crate::args::HistoryArgs;
use crate::error::Error;
use crate::log::{self, subject_token};
use crate::render;

/// The table, what breaks the chain (empty: intact), and which events are
/// not signed by intake (empty: all signed, or not checked).
#[derive(Debug)]
pub struct History {
    pub text: String,
    pub problems: Vec<String>,
    pub unsigned: Vec<String>,
}

/// What the signature column says of an event: `ok <key id>`, `BAD: why`,
/// or `not checked` without keys.
fn signature_cell(
    keys: Option<&VerifyKeys>,
    stored: &[u8],
    envelope: &EventEnvelope,
) -> (String, Option<String>) {
    let Some(keys) = keys else {
        return ("not checked".into(), None);
    };
    match keys.verify(stored, envelope) {
        Ok(key_id) => (format!("ok {key_id}"), None),
        Err(err) => (
            format!("BAD ({})", short_reason(&err)),
            Some(err.to_string()),
        ),
    }
}

/// A few words for the table; the full reason is listed under it.
fn short_reason(err: &sy_domain::signature::SignatureError) -> &'static str {
    use sy_domain::signature::SignatureError;
    match err {
        SignatureError::Missing => "unsigned",
        SignatureError::UnknownKey(_) => "unknown key",
        SignatureError::Malformed { .. } => "malformed",
        SignatureError::Invalid(_) => "forged or altered",
    }
}

/// Renders `events` (the subject's events, oldest first) of `kind` `id`,
/// checking signatures with `keys` when given.
pub fn history(kind: &str, id: &str, events: &[StoredEvent], keys: Option<&VerifyKeys>) -> History {
    let mut table = render::table(&[
        "position",
        "v",
        "event",
        "occurred (UTC+8)",
        "recorded (UTC+8)",
        "actor",
        "prev_hash",
        "hash",
        "chain",
        "signature",
    ]);
    let mut chain = ChainVerifier::default();
    let mut problems = Vec::new();
    let mut unsigned = Vec::new();
    for event in events {
        let stored = &event.payload;
        let mut problem = None;
        let envelope = match EventEnvelope::decode(stored.as_ref()) {
            Ok(envelope) => envelope,
            Err(err) => {
                problem = Some(format!("the payload is not an EventEnvelope: {err}"));
                EventEnvelope::default()
            }
        };
        let mut signature = String::new();
        if problem.is_none() {
            let (cell, bad) = signature_cell(keys, stored, &envelope);
            signature = cell;
            if let Some(bad) = bad {
                unsigned.push(format!("position {}: {bad}", event.position));
            }
            if envelope.aggregate_kind != kind || envelope.aggregate_id != id {
                problem = Some(format!(
                    "the envelope belongs to {} {}",
                    envelope.aggregate_kind, envelope.aggregate_id
                ));
            } else if let Err(err) = chain.check(&envelope, stored) {
                problem = Some(err.to_string());
            }
        }
        table.add_row(vec![
            event.position.to_string(),
            envelope.aggregate_version.to_string(),
            render::event_cell(&envelope),
            render::precise_time(envelope.occurred_at.as_ref()),
            render::precise_time(envelope.recorded_at.as_ref()),
            render::actor(envelope.actor.as_ref()),
            render::short_hash(&envelope.prev_hash),
            render::short_hash(&hash(stored)),
            if problem.is_some() { "BROKEN" } else { "ok" }.to_string(),
            signature,
        ]);
        if let Some(problem) = problem {
            problems.push(format!("position {}: {problem}", event.position));
        }
    }
    let mut text = format!("{table}\n");
    let first = events.first().map_or(0, |e| e.position);
    let last = events.last().map_or(0, |e| e.position);
    let head = events
        .last()
        .map(|e| render::short_hash(&hash(&e.payload)))
        .unwrap_or_default();
    if problems.is_empty() {
        let _ = writeln!(
            text,
            "chain: intact: {} events of {kind} {id} at positions {first} to {last}, \
             each prev_hash the hash of the event before it; head {head}",
            events.len()
        );
    } else {
        let _ = writeln!(
            text,
            "chain: BROKEN in {} of {} events of {kind} {id}:",
            problems.len(),
            events.len()
        );
        for problem in &problems {
            let _ = writeln!(text, "  {problem}");
        }
    }
    if keys.is_none() {
        let _ = writeln!(
            text,
            "signatures: not checked (no --verify-keys-file): authorship is not proved"
        );
    } else if unsigned.is_empty() {
        let _ = writeln!(
            text,
            "signatures: all {} events signed by intake",
            events.len()
        );
    } else {
        let _ = writeln!(
            text,
            "signatures: {} of {} events NOT signed by intake:",
            unsigned.len(),
            events.len()
        );
        for bad in &unsigned {
            let _ = writeln!(text, "  {bad}");
        }
    }
    History {
        text,
        problems,
        unsigned,
    }
}

/// Runs `sy history`.
pub async fn run(args: &HistoryArgs, timeout: Duration) -> Result<(), Error> {
    subject_token("kind", &args.kind)?;
    subject_token("id", &args.id)?;
    let log = log::open(&args.log, timeout).await?;
    let subject = subject(&args.kind, &args.id);
    let events = log.read_subject(&subject, 0).await?;
    if events.is_empty() {
        return Err(Error::Failed(format!(
            "no events on {subject} in stream {}",
            args.log.stream
        )));
    }
    let keys = crate::verify::verify_keys(args.verify_keys_file.as_deref())?;
    let history = history(&args.kind, &args.id, &events, keys.as_deref());
    say_raw!("{}", history.text);
    if !history.problems.is_empty() {
        Err(Error::Verification(format!(
            "the hash chain of {} {} is broken",
            args.kind, args.id
        )))
    } else if !history.unsigned.is_empty() {
        Err(Error::Verification(format!(
            "{} of the events of {} {} are not signed by intake",
            history.unsigned.len(),
            args.kind,
            args.id
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sy_domain::event::GENESIS_HASH;
    use sy_domain::pb::{self, event_envelope::Payload};
    use sy_domain::signature::EventSigner;

    fn events(n: u64) -> Vec<StoredEvent> {
        signed_events(n, |_| None)
    }

    /// `n` chained events, event `v` signed by `signer(v)` if any.
    fn signed_events(n: u64, signer: impl Fn(u64) -> Option<EventSigner>) -> Vec<StoredEvent> {
        let mut previous = GENESIS_HASH;
        (1..=n)
            .map(|version| {
                let mut envelope = EventEnvelope {
                    aggregate_kind: "request".into(),
                    aggregate_id: "r-1".into(),
                    aggregate_version: version,
                    recorded_at: Some(prost_types::Timestamp {
                        seconds: 1_767_225_600,
                        nanos: 0,
                    }),
                    prev_hash: previous.to_vec(),
                    payload: Some(Payload::ProgressRecorded(pb::ProgressRecorded {
                        note: format!("step {version}"),
                    })),
                    ..Default::default()
                };
                let bytes = match signer(version) {
                    Some(signer) => signer.sign(&mut envelope),
                    None => envelope.encode_to_vec(),
                };
                previous = hash(&bytes);
                StoredEvent {
                    position: version * 10,
                    subject: subject("request", "r-1"),
                    payload: bytes.into(),
                }
            })
            .collect()
    }

    #[test]
    fn an_intact_history_says_so() {
        let shown = history("request", "r-1", &events(3), None);
        assert!(shown.problems.is_empty());
        assert!(shown.text.contains("ProgressRecorded"));
        assert!(shown.text.contains("2026-01-01 08:00:00"));
        assert!(
            shown
                .text
                .contains("chain: intact: 3 events of request r-1 at positions 10 to 30")
        );
    }

    #[test]
    fn a_broken_history_names_the_event() {
        let mut gapped = events(3);
        gapped.remove(1);
        let shown = history("request", "r-1", &gapped, None);
        assert_eq!(shown.problems.len(), 1);
        assert!(
            shown.problems[0].starts_with("position 30: request r-1: version 3 follows version 1")
        );
        assert!(shown.text.contains("chain: BROKEN in 1 of 2 events"));

        let mut damaged = events(2);
        damaged[1].payload = bytes::Bytes::from_static(b"\xff\xff");
        let shown = history("request", "r-1", &damaged, None);
        assert!(shown.problems[0].contains("not an EventEnvelope"));
    }

    #[test]
    fn signatures_are_shown_per_event_and_a_forgery_with_a_right_chain_is_named() {
        let intake = EventSigner::from_seed("k1", [1; 32]).unwrap();
        let keys = VerifyKeys::of([&intake]);
        let forger = EventSigner::from_seed("k1", [2; 32]).unwrap();
        let log = signed_events(4, |v| match v {
            3 => Some(forger.clone()),
            4 => None,
            _ => Some(intake.clone()),
        });
        let shown = history("request", "r-1", &log, Some(&keys));
        // The chain holds: only the signatures tell the forgery.
        assert!(shown.problems.is_empty(), "{:?}", shown.problems);
        assert_eq!(shown.unsigned.len(), 2, "{:?}", shown.unsigned);
        assert!(shown.unsigned[0].starts_with("position 30: bad signature"));
        assert!(shown.unsigned[1].starts_with("position 40: unsigned"));
        assert!(shown.text.contains("ok k1"), "{}", shown.text);
        assert!(shown.text.contains("BAD (forged or altered)"));
        assert!(
            shown
                .text
                .contains("signatures: 2 of 4 events NOT signed by intake")
        );

        let genuine = signed_events(2, |_| Some(intake.clone()));
        let shown = history("request", "r-1", &genuine, Some(&keys));
        assert!(shown.unsigned.is_empty());
        assert!(
            shown
                .text
                .contains("signatures: all 2 events signed by intake")
        );
        let unchecked = history("request", "r-1", &genuine, None);
        assert!(unchecked.text.contains("signatures: not checked"));
    }
}
