//! Commands for one aggregate take turns inside one intake.
//!
//! Without turns, concurrent commands on one aggregate race each other
//! through the log's expected-sequence check: all but one lose, reload and
//! decide again, and under load some run out of attempts (`ABORTED`) although
//! nothing but timing conflicted. With a turn per aggregate they queue
//! instead, first come first served (tokio's mutex is fair), and each decides
//! on the state its predecessor left in the cache. Only writers outside this
//! process (another intake replica) can still move the aggregate between
//! load and append; the pipeline backs off from those.
//!
//! Memory follows the aggregates in use, not those ever seen: an entry goes
//! away when the last command holding or awaiting it is done. A waiter that
//! is cancelled (its call timed out) can leave its entry behind; such
//! orphans are swept whenever the map has doubled since the last sweep.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::OwnedMutexGuard;

/// Entries the map may hold before the first sweep for orphans.
const FIRST_SWEEP: usize = 1024;

/// One FIFO queue per key, made on first use and dropped when idle.
pub struct Queues<K> {
    entries: Mutex<Entries<K>>,
}

struct Entries<K> {
    slots: HashMap<K, Arc<tokio::sync::Mutex<()>>>,
    /// Size at which `slots` is next swept for orphans.
    sweep_at: usize,
}

/// The right to act on one key, until dropped.
pub struct Turn<'a, K: Hash + Eq + Clone> {
    queues: &'a Queues<K>,
    key: K,
    guard: Option<OwnedMutexGuard<()>>,
}

impl<K: Hash + Eq + Clone> Queues<K> {
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(Entries {
                slots: HashMap::new(),
                sweep_at: FIRST_SWEEP,
            }),
        }
    }

    fn entries(&self) -> MutexGuard<'_, Entries<K>> {
        // Nothing panics while holding it; a poisoned map is still consistent.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until every command queued before on `key` is done; the turn
    /// lasts until the returned value is dropped.
    pub async fn turn(&self, key: K) -> Turn<'_, K> {
        let slot = {
            let mut entries = self.entries();
            entries.sweep_if_grown();
            Arc::clone(entries.slots.entry(key.clone()).or_default())
        };
        let guard = slot.lock_owned().await;
        Turn {
            queues: self,
            key,
            guard: Some(guard),
        }
    }

    /// Keys with a command holding or awaiting their turn (plus orphans not
    /// yet swept).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries().slots.len()
    }
}

impl<K> Entries<K> {
    /// Drops the entries nobody holds or awaits, once the map has doubled.
    fn sweep_if_grown(&mut self) {
        if self.slots.len() < self.sweep_at {
            return;
        }
        self.slots.retain(|_, slot| Arc::strong_count(slot) > 1);
        self.sweep_at = (self.slots.len() * 2).max(FIRST_SWEEP);
    }
}

impl<K: Hash + Eq + Clone> Drop for Turn<'_, K> {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else {
            return;
        };
        // Under the map's lock no one can clone the slot meanwhile: two
        // references (the map's and this guard's) mean no one else holds or
        // awaits it.
        let mut entries = self.queues.entries();
        let slot = OwnedMutexGuard::mutex(&guard);
        let idle = Arc::strong_count(slot) == 2;
        let ours = entries
            .slots
            .get(&self.key)
            .is_some_and(|current| Arc::ptr_eq(current, slot));
        drop(guard);
        if idle && ours {
            entries.slots.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn turns_on_one_key_never_overlap_and_come_in_order() {
        let queues = Arc::new(Queues::new());
        let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = queues.turn(7u32).await;
        let mut waiters = Vec::new();
        for i in 0..16 {
            let (shared, inside, order) = (queues.clone(), inside.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let _turn = shared.turn(7).await;
                assert_eq!(inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 0);
                order.lock().unwrap().push(i);
                tokio::time::sleep(Duration::from_millis(1)).await;
                inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }));
            // Queued one after the other.
            while Arc::strong_count(&queues.entries().slots[&7]) < i + 3 {
                tokio::task::yield_now().await;
            }
        }
        drop(first);
        for waiter in waiters {
            waiter.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..16).collect::<Vec<_>>());
        assert_eq!(queues.len(), 0, "an idle key leaves no entry");
    }

    #[tokio::test]
    async fn other_keys_do_not_wait() {
        let queues = Queues::new();
        let _held = queues.turn(1u32).await;
        let other = tokio::time::timeout(Duration::from_secs(5), queues.turn(2)).await;
        assert!(other.is_ok(), "key 2 waited for key 1");
        assert_eq!(queues.len(), 2);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_leaves_no_entry_behind() {
        let queues = Queues::new();
        let held = queues.turn(3u32).await;
        let waiting = tokio::time::timeout(Duration::from_millis(1), queues.turn(3)).await;
        assert!(waiting.is_err(), "the key is held");
        drop(held);
        assert_eq!(queues.len(), 0);
    }

    #[tokio::test]
    async fn orphaned_entries_are_swept_once_the_map_has_grown() {
        let queues = Queues::new();
        // As a holder leaves them when a waiter's cancellation races its end.
        for key in 0..FIRST_SWEEP as u32 {
            queues.entries().slots.insert(key, Arc::default());
        }
        let held = queues.turn(u32::MAX).await;
        assert_eq!(queues.len(), 1, "only the key in use is left");
        drop(held);
        assert_eq!(queues.len(), 0);
    }
}
