//! What auditors check: each aggregate's hash chain (every event names the
//! hash of the one before it) and a running digest over the whole log in
//! stream order, so two replicas or a replay can be compared with one value.

mod chains;

use std::collections::HashMap;

pub use chains::{ChainFollower, ChainProblem};

use crate::event::{GENESIS_HASH, hash};
use crate::pb::EventEnvelope;

/// A link of an aggregate's chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// An event's `prev_hash` is not the hash of the aggregate's event before it.
    #[error("{kind} {id} version {version}: prev_hash does not match the previous event's hash")]
    PrevHashMismatch {
        /// Aggregate kind of the event.
        kind: String,
        /// Aggregate id of the event.
        id: String,
        /// The event's aggregate version.
        version: u64,
    },
    /// An aggregate's versions skip or repeat in stream order.
    #[error("{kind} {id}: version {found} follows version {previous}")]
    VersionGap {
        /// Aggregate kind of the event.
        kind: String,
        /// Aggregate id of the event.
        id: String,
        /// The version of the aggregate's event seen before.
        previous: u64,
        /// The version this event carries (should be `previous + 1`).
        found: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Link {
    version: u64,
    hash: [u8; 32],
}

/// Follows every aggregate's chain through a log read in stream order.
#[derive(Debug, Default)]
pub struct ChainVerifier {
    links: HashMap<(String, String), Link>,
}

impl ChainVerifier {
    /// Checks `envelope` (stored as `stored`) against the previous event of its
    /// aggregate; on success it becomes the aggregate's latest link.
    pub fn check(&mut self, envelope: &EventEnvelope, stored: &[u8]) -> Result<(), ChainBreak> {
        let key = (
            envelope.aggregate_kind.clone(),
            envelope.aggregate_id.clone(),
        );
        let previous = self.links.get(&key).copied().unwrap_or(Link {
            version: 0,
            hash: GENESIS_HASH,
        });
        if envelope.aggregate_version != previous.version + 1 {
            return Err(ChainBreak::VersionGap {
                kind: key.0,
                id: key.1,
                previous: previous.version,
                found: envelope.aggregate_version,
            });
        }
        check_prev_hash(envelope, &previous.hash)?;
        self.links.insert(
            key,
            Link {
                version: envelope.aggregate_version,
                hash: hash(stored),
            },
        );
        Ok(())
    }
}

/// Checks that `envelope` names `previous` (the hash of its aggregate's
/// previous event as stored, or [`GENESIS_HASH`] for the first) as `prev_hash`.
pub fn check_prev_hash(envelope: &EventEnvelope, previous: &[u8; 32]) -> Result<(), ChainBreak> {
    if envelope.prev_hash.as_slice() == previous {
        Ok(())
    } else {
        Err(ChainBreak::PrevHashMismatch {
            kind: envelope.aggregate_kind.clone(),
            id: envelope.aggregate_id.clone(),
            version: envelope.aggregate_version,
        })
    }
}

/// A running digest over the log: `d(n) = blake3(d(n-1) ‖ position ‖ hash(event))`
/// from 32 zero bytes. Equal digests at equal positions mean equal logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogDigest {
    /// Stream sequence of the last event folded in; 0 before any.
    pub position: u64,
    /// The digest after that event.
    pub digest: [u8; 32],
}

impl Default for LogDigest {
    fn default() -> Self {
        Self {
            position: 0,
            digest: GENESIS_HASH,
        }
    }
}

impl LogDigest {
    /// Folds the event stored at `position` (which must be past the last).
    pub fn advance(&mut self, position: u64, stored: &[u8]) {
        debug_assert!(position > self.position, "the log is read in order");
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.digest);
        hasher.update(&position.to_be_bytes());
        hasher.update(&hash(stored));
        self.digest = *hasher.finalize().as_bytes();
        self.position = position;
    }

    /// Lowercase hex of the digest.
    pub fn hex(&self) -> String {
        self.digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// Versions 1 to `n` of one aggregate, each with its bytes as stored.
    pub(super) fn chain(n: u64) -> Vec<(EventEnvelope, Vec<u8>)> {
        let mut previous = GENESIS_HASH;
        (1..=n)
            .map(|version| {
                let envelope = EventEnvelope {
                    aggregate_kind: "request".into(),
                    aggregate_id: "a".into(),
                    aggregate_version: version,
                    prev_hash: previous.to_vec(),
                    ..Default::default()
                };
                let stored = envelope.encode_to_vec();
                previous = hash(&stored);
                (envelope, stored)
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let mut verifier = ChainVerifier::default();
        for (envelope, stored) in chain(5) {
            verifier.check(&envelope, &stored).unwrap();
        }
    }

    #[test]
    fn altered_dropped_and_reordered_events_break_the_chain() {
        let events = chain(4);

        let mut altered = events.clone();
        altered[1].1.push(0);
        let mut verifier = ChainVerifier::default();
        let result: Result<Vec<()>, _> =
            altered.iter().map(|(e, s)| verifier.check(e, s)).collect();
        assert!(matches!(
            result,
            Err(ChainBreak::PrevHashMismatch { version: 3, .. })
        ));

        let mut verifier = ChainVerifier::default();
        verifier.check(&events[0].0, &events[0].1).unwrap();
        assert!(matches!(
            verifier.check(&events[2].0, &events[2].1),
            Err(ChainBreak::VersionGap {
                previous: 1,
                found: 3,
                ..
            })
        ));
    }

    #[test]
    fn digests_depend_on_content_and_position() {
        let mut a = LogDigest::default();
        let mut b = LogDigest::default();
        a.advance(1, b"x");
        b.advance(1, b"x");
        assert_eq!(a, b);
        let mut c = LogDigest::default();
        c.advance(2, b"x");
        assert_ne!(a.digest, c.digest);
        a.advance(2, b"y");
        b.advance(2, b"z");
        assert_ne!(a.digest, b.digest);
        assert_eq!(a.hex().len(), 64);
    }
}
