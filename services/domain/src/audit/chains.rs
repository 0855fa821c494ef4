//! Following every aggregate's chain through a log, or an export of it,
//! that may have been tampered with. Unlike [`ChainVerifier`], which stops
//! at an aggregate's first broken link, this follower resynchronises after
//! each problem, so one tampering is named once and the events after it are
//! still checked.
//!
//! [`ChainVerifier`]: super::ChainVerifier

use std::collections::HashMap;
use std::fmt;

use super::check_prev_hash;
use crate::event::GENESIS_HASH;
use crate::pb::EventEnvelope;

/// How an event does not fit its aggregate's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// Versions between the aggregate's previous event and this one are missing.
    VersionGap {
        /// The version of the aggregate's previous event (0 for none).
        previous: u64,
        /// Where that event stands in the log (`None`: no previous event).
        previous_position: Option<u64>,
        /// The version this event carries.
        found: u64,
    },
    /// The version is below the aggregate's latest.
    VersionBack {
        /// The aggregate's latest version so far.
        latest: u64,
        /// Where the event with that version stands in the log.
        latest_position: u64,
    },
    /// The aggregate already had an event with this version.
    DuplicateVersion {
        /// Where the earlier event with this version stands in the log.
        other_position: u64,
    },
    /// `prev_hash` is not the hash of the aggregate's previous event
    /// (`None`: the genesis hash, for version 1).
    PrevHashMismatch {
        /// The version whose hash was expected.
        previous_version: u64,
        /// Where that event stands in the log (`None`: the genesis hash).
        previous_position: Option<u64>,
    },
}

/// `versions a to b are missing` / `version a is missing`.
fn missing(first: u64, last: u64) -> String {
    if first == last {
        format!("version {first} is missing")
    } else {
        format!("versions {first} to {last} are missing")
    }
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainProblem::VersionGap {
                previous,
                previous_position,
                found,
            } => match previous_position {
                Some(at) => write!(
                    f,
                    "follows version {previous} at position {at}: {} (dropped, or moved later)",
                    missing(previous + 1, found - 1)
                ),
                None => write!(
                    f,
                    "is the aggregate's first event: {} (dropped, or moved later)",
                    missing(1, found - 1)
                ),
            },
            ChainProblem::VersionBack {
                latest,
                latest_position,
            } => write!(
                f,
                "comes after version {latest} at position {latest_position}: events reordered"
            ),
            ChainProblem::DuplicateVersion { other_position } => write!(
                f,
                "the aggregate already has this version at position {other_position}: an event was inserted or repeated"
            ),
            ChainProblem::PrevHashMismatch {
                previous_version,
                previous_position: Some(at),
            } => write!(
                f,
                "prev_hash is not the hash of version {previous_version} at position {at}: \
                 that event was altered (its hash rewritten too), or this one was altered or inserted"
            ),
            ChainProblem::PrevHashMismatch {
                previous_position: None,
                ..
            } => write!(
                f,
                "prev_hash of version 1 is not the genesis hash (32 zero bytes): this event was altered or inserted"
            ),
        }
    }
}

/// Where an aggregate's chain is: its latest version and the hashes that
/// version may have (more than one only after a duplicate, so the event
/// after an inserted one is not reported a second time).
#[derive(Debug)]
struct Tip {
    version: u64,
    position: u64,
    hashes: Vec<[u8; 32]>,
}

/// Follows every aggregate's chain, in stream order.
#[derive(Debug, Default)]
pub struct ChainFollower {
    /// The log may start inside chains: each aggregate's first event is
    /// trusted as its anchor.
    partial: bool,
    tips: HashMap<(String, String), Tip>,
}

impl ChainFollower {
    /// A follower from position 1, or (`partial`) from anywhere in the log.
    pub fn new(partial: bool) -> Self {
        Self {
            partial,
            tips: HashMap::new(),
        }
    }

    /// How many aggregates it has seen.
    pub fn aggregates(&self) -> usize {
        self.tips.len()
    }

    /// Moves the aggregate's chain to `envelope`, stored at `position`;
    /// `link` is the hash its aggregate's next event must name as
    /// `prev_hash`. `None` when it fits, else why not.
    pub fn follow(
        &mut self,
        envelope: &EventEnvelope,
        position: u64,
        link: [u8; 32],
    ) -> Option<ChainProblem> {
        let key = (
            envelope.aggregate_kind.clone(),
            envelope.aggregate_id.clone(),
        );
        let version = envelope.aggregate_version;
        let fresh = Tip {
            version,
            position,
            hashes: vec![link],
        };
        let Some(tip) = self.tips.get_mut(&key) else {
            self.tips.insert(key, fresh);
            if self.partial {
                // The export starts inside this chain: trust its first event.
                return None;
            }
            if version != 1 {
                return Some(ChainProblem::VersionGap {
                    previous: 0,
                    previous_position: None,
                    found: version,
                });
            }
            return check_prev_hash(envelope, &GENESIS_HASH).err().map(|_| {
                ChainProblem::PrevHashMismatch {
                    previous_version: 0,
                    previous_position: None,
                }
            });
        };
        if version == tip.version + 1 {
            let linked = tip
                .hashes
                .iter()
                .any(|previous| check_prev_hash(envelope, previous).is_ok());
            let problem = (!linked).then_some(ChainProblem::PrevHashMismatch {
                previous_version: tip.version,
                previous_position: Some(tip.position),
            });
            *tip = fresh;
            problem
        } else if version == tip.version {
            tip.hashes.push(link);
            Some(ChainProblem::DuplicateVersion {
                other_position: tip.position,
            })
        } else if version < tip.version {
            // Keep the tip: the events after it still link to it.
            Some(ChainProblem::VersionBack {
                latest: tip.version,
                latest_position: tip.position,
            })
        } else {
            let problem = ChainProblem::VersionGap {
                previous: tip.version,
                previous_position: Some(tip.position),
                found: version,
            };
            *tip = fresh;
            Some(problem)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::hash;

    /// Versions 1 to `n` of one aggregate, each with its stored hash.
    fn chain(n: u64) -> Vec<(EventEnvelope, [u8; 32])> {
        super::super::tests::chain(n)
            .into_iter()
            .map(|(envelope, stored)| (envelope, hash(&stored)))
            .collect()
    }

    #[test]
    fn one_dropped_event_is_named_once_and_the_rest_still_checked() {
        let events = chain(5);
        let mut follower = ChainFollower::new(false);
        let problems: Vec<_> = [0, 1, 3, 4]
            .into_iter()
            .filter_map(|i| {
                let (envelope, link) = &events[i];
                follower.follow(envelope, i as u64 + 1, *link)
            })
            .collect();
        assert_eq!(
            problems,
            [ChainProblem::VersionGap {
                previous: 2,
                previous_position: Some(2),
                found: 4
            }]
        );
        assert_eq!(follower.aggregates(), 1);
        assert!(problems[0].to_string().contains("version 3 is missing"));
    }

    #[test]
    fn a_partial_log_trusts_each_aggregates_first_event() {
        let events = chain(3);
        let mut follower = ChainFollower::new(true);
        assert_eq!(follower.follow(&events[1].0, 10, events[1].1), None);
        assert_eq!(follower.follow(&events[2].0, 11, events[2].1), None);
        let mut strict = ChainFollower::new(false);
        assert!(matches!(
            strict.follow(&events[1].0, 10, events[1].1),
            Some(ChainProblem::VersionGap { found: 2, .. })
        ));
    }
}
