//! What the delivering replica remembers of webhook delivery, in a sled
//! database of its own (`--webhook-state-dir`): not part of the read model,
//! because it is not derived from the log (it records what receivers did)
//! and must survive a rebuild of the read model.
//!
//! Trees, keyed by `[agency len u32 BE][agency]` and then a position u64 BE:
//! - `cursors`: agency → the position of the last notification handled
//!   (delivered or dead-lettered);
//! - `attempts`: (agency, position, attempt u32 BE) → `DeliveryAttempt`;
//! - `dead`: (agency, position) → `DeadLetter` (without its attempts, which
//!   are read from `attempts`);
//! - `replay`: (agency, position) → `DeadLetter` queued to be delivered
//!   again by an operator's replay.

use std::path::Path;

use prost::Message;
use sy_domain::pb;

/// Why the delivery state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("webhook delivery state storage failed: {0}")]
    Storage(#[from] sled::Error),
    /// Bytes this code did not write.
    #[error("webhook delivery state is damaged: {0}")]
    Corrupt(String),
}

#[derive(Clone)]
pub(crate) struct Store {
    cursors: sled::Tree,
    attempts: sled::Tree,
    dead: sled::Tree,
    replay: sled::Tree,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn agency_prefix(agency: &str) -> Vec<u8> {
    let len = u32::try_from(agency.len()).unwrap_or(u32::MAX);
    let mut key = len.to_be_bytes().to_vec();
    key.extend_from_slice(agency.as_bytes());
    key
}

fn position_key(agency: &str, position: u64) -> Vec<u8> {
    let mut key = agency_prefix(agency);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

fn decode<M: Message + Default>(bytes: &[u8], what: &str) -> Result<M, StoreError> {
    M::decode(bytes).map_err(|err| StoreError::Corrupt(format!("stored {what}: {err}")))
}

impl Store {
    pub(crate) fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(16 * 1024 * 1024)
            .open()?;
        Ok(Self {
            cursors: db.open_tree("cursors")?,
            attempts: db.open_tree("attempts")?,
            dead: db.open_tree("dead")?,
            replay: db.open_tree("replay")?,
        })
    }

    /// The position of `agency`'s last notification handled; 0 for none.
    pub(crate) fn cursor(&self, agency: &str) -> Result<u64, StoreError> {
        match self.cursors.get(agency_prefix(agency))? {
            None => Ok(0),
            Some(bytes) => <[u8; 8]>::try_from(bytes.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt("a cursor is not a u64".into())),
        }
    }

    /// Marks `agency`'s notifications up to `position` handled; flushed,
    /// so a restart does not deliver them again (it may deliver the one in
    /// flight again: at least once).
    pub(crate) fn advance(&self, agency: &str, position: u64) -> Result<(), StoreError> {
        self.cursors
            .insert(agency_prefix(agency), &position.to_be_bytes()[..])?;
        self.cursors.flush()?;
        Ok(())
    }

    /// Records one attempt at `agency`'s notification at `position`.
    pub(crate) fn record(
        &self,
        agency: &str,
        position: u64,
        attempt: &pb::DeliveryAttempt,
    ) -> Result<(), StoreError> {
        let mut key = position_key(agency, position);
        key.extend_from_slice(&attempt.attempt.to_be_bytes());
        self.attempts.insert(key, attempt.encode_to_vec())?;
        Ok(())
    }

    /// Every attempt at `agency`'s notification at `position`, oldest first.
    pub(crate) fn attempts(
        &self,
        agency: &str,
        position: u64,
    ) -> Result<Vec<pb::DeliveryAttempt>, StoreError> {
        self.attempts
            .scan_prefix(position_key(agency, position))
            .map(|entry| decode(&entry?.1, "delivery attempt"))
            .collect()
    }

    /// Keeps `letter` (its attempts left out) as dead.
    pub(crate) fn bury(&self, letter: &pb::DeadLetter) -> Result<(), StoreError> {
        let n = letter.notification.clone().unwrap_or_default();
        let bare = pb::DeadLetter {
            attempts: Vec::new(),
            ..letter.clone()
        };
        self.dead
            .insert(position_key(&n.agency, n.position), bare.encode_to_vec())?;
        self.dead.flush()?;
        Ok(())
    }

    /// The dead letters of `agency` (every agency's when empty), oldest
    /// first per agency, each with its attempts.
    pub(crate) fn dead_letters(&self, agency: &str) -> Result<Vec<pb::DeadLetter>, StoreError> {
        let prefix = if agency.is_empty() {
            Vec::new()
        } else {
            agency_prefix(agency)
        };
        self.dead
            .scan_prefix(prefix)
            .map(|entry| {
                let mut letter: pb::DeadLetter = decode(&entry?.1, "dead letter")?;
                let n = letter.notification.clone().unwrap_or_default();
                letter.attempts = self.attempts(&n.agency, n.position)?;
                Ok(letter)
            })
            .collect()
    }

    /// Moves the dead letters of `agency` (every agency's when empty) with
    /// one of `ids` (all when empty) to the replay queue; how many moved.
    pub(crate) fn replay(&self, agency: &str, ids: &[String]) -> Result<u32, StoreError> {
        let mut moved = 0;
        for letter in self.dead_letters(agency)? {
            let n = letter.notification.clone().unwrap_or_default();
            if !ids.is_empty() && !ids.contains(&n.id) {
                continue;
            }
            let key = position_key(&n.agency, n.position);
            let bare = pb::DeadLetter {
                attempts: Vec::new(),
                ..letter
            };
            self.replay.insert(&key, bare.encode_to_vec())?;
            self.dead.remove(&key)?;
            moved += 1;
        }
        self.replay.flush()?;
        Ok(moved)
    }

    /// The oldest dead letter of `agency` queued for replay.
    pub(crate) fn next_replay(&self, agency: &str) -> Result<Option<pb::Notification>, StoreError> {
        match self.replay.scan_prefix(agency_prefix(agency)).next() {
            None => Ok(None),
            Some(entry) => {
                let letter: pb::DeadLetter = decode(&entry?.1, "replayed letter")?;
                Ok(letter.notification)
            }
        }
    }

    /// Takes the replayed notification at `position` off the queue.
    pub(crate) fn replayed(&self, agency: &str, position: u64) -> Result<(), StoreError> {
        self.replay.remove(position_key(agency, position))?;
        self.replay.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(agency: &str, position: u64) -> pb::Notification {
        pb::Notification {
            id: format!("{agency}-{position}"),
            agency: agency.into(),
            position,
            ..Default::default()
        }
    }

    fn failed(attempt: u32) -> pb::DeliveryAttempt {
        pb::DeliveryAttempt {
            attempt,
            http_status: 503,
            error: "the receiver answered 503".into(),
            ..Default::default()
        }
    }

    #[test]
    fn cursors_attempts_dead_letters_and_replays() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.cursor("a").unwrap(), 0);
        store.advance("a", 9).unwrap();
        assert_eq!(
            (store.cursor("a").unwrap(), store.cursor("ab").unwrap()),
            (9, 0)
        );

        for attempt in 1..=3 {
            store.record("a", 5, &failed(attempt)).unwrap();
        }
        store
            .bury(&pb::DeadLetter {
                notification: Some(notification("a", 5)),
                url: "https://h/".into(),
                attempts: vec![failed(1)],
            })
            .unwrap();
        store
            .bury(&pb::DeadLetter {
                notification: Some(notification("b", 6)),
                ..Default::default()
            })
            .unwrap();
        let dead = store.dead_letters("a").unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].attempts.len(), 3, "every attempt, from its tree");
        assert_eq!(store.dead_letters("").unwrap().len(), 2);

        assert_eq!(store.replay("a", &["nope".into()]).unwrap(), 0);
        assert_eq!(store.replay("a", &[]).unwrap(), 1);
        assert!(store.dead_letters("a").unwrap().is_empty());
        assert_eq!(store.next_replay("a").unwrap(), Some(notification("a", 5)));
        assert_eq!(store.next_replay("b").unwrap(), None);
        store.replayed("a", 5).unwrap();
        assert_eq!(store.next_replay("a").unwrap(), None);
    }
}
