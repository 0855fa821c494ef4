//! `sy history KIND ID`: one aggregate's events read from the log itself
//! (its subject `sy.evt.KIND.ID`), never from a read model, one row per
//! event, and whether its hash chain holds, checked with the domain's
//! [`ChainVerifier`].

use std::fmt::Write as _;
use std::time::Duration;

use prost::Message as _;
use sy_domain::audit::ChainVerifier;
use sy_domain::event::{hash, subject};
use sy_domain::pb::EventEnvelope;
use sy_eventlog::StoredEvent;

use crate::args::HistoryArgs;
use crate::error::Error;
use crate::log::{self, subject_token};
use crate::render;

/// The table, and what breaks the chain (empty: intact).
#[derive(Debug)]
pub struct History {
    pub text: String,
    pub problems: Vec<String>,
}

/// Renders `events` (the subject's events, oldest first) of `kind` `id`.
pub fn history(kind: &str, id: &str, events: &[StoredEvent]) -> History {
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
    ]);
    let mut chain = ChainVerifier::default();
    let mut problems = Vec::new();
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
        if problem.is_none() {
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
            crate::record::event_label(&envelope).to_string(),
            render::precise_time(envelope.occurred_at.as_ref()),
            render::precise_time(envelope.recorded_at.as_ref()),
            render::actor(envelope.actor.as_ref()),
            render::short_hash(&envelope.prev_hash),
            render::short_hash(&hash(stored)),
            if problem.is_some() { "BROKEN" } else { "ok" }.to_string(),
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
    History { text, problems }
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
    let history = history(&args.kind, &args.id, &events);
    say_raw!("{}", history.text);
    if history.problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Verification(format!(
            "the hash chain of {} {} is broken",
            args.kind, args.id
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sy_domain::event::GENESIS_HASH;
    use sy_domain::pb::{self, event_envelope::Payload};

    fn events(n: u64) -> Vec<StoredEvent> {
        let mut previous = GENESIS_HASH;
        (1..=n)
            .map(|version| {
                let bytes = EventEnvelope {
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
                }
                .encode_to_vec();
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
        let shown = history("request", "r-1", &events(3));
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
        let shown = history("request", "r-1", &gapped);
        assert_eq!(shown.problems.len(), 1);
        assert!(
            shown.problems[0].starts_with("position 30: request r-1: version 3 follows version 1")
        );
        assert!(shown.text.contains("chain: BROKEN in 1 of 2 events"));

        let mut damaged = events(2);
        damaged[1].payload = bytes::Bytes::from_static(b"\xff\xff");
        let shown = history("request", "r-1", &damaged);
        assert!(shown.problems[0].contains("not an EventEnvelope"));
    }
}
