//! A server stream that follows the read model: what is stored after a
//! position first, then what each batch the fold commits adds, until the
//! client goes away, the service stops or a read fails. `WatchRequests`
//! and `Notifications.Watch` are both one [`Tail`], differing only in what
//! they read: a client that lost its stream resumes from the last position
//! it handled, with no gap and no polling.

use std::collections::VecDeque;

use futures::stream::BoxStream;
use tokio::sync::watch;
use tonic::Status;

use crate::Stop;
use crate::live::Live;
use crate::read_model::{ReadModel, ReadModelError};
use crate::serving::{Reads, internal};
use crate::watches::WatchSlot;

/// Items to send, read from `model` after a position: the position of the
/// last entry read (filtered out or not), and the items to send; `None`
/// when nothing is stored after it yet.
pub(crate) type ReadAfter<T> =
    Box<dyn Fn(&ReadModel, u64) -> Result<Option<(u64, Vec<T>)>, ReadModelError> + Send + Sync>;

/// State of one stream. Dropped (and so ended) when the client goes away.
pub(crate) struct Tail<T> {
    /// Its place among the caller's open streams, freed when it ends.
    _slot: WatchSlot,
    live: Live,
    /// Position of the last entry read from sled.
    after: u64,
    applied: watch::Receiver<u64>,
    stop: Stop,
    read: ReadAfter<T>,
    pending: VecDeque<T>,
    /// A read failed and the error was sent: the stream ends.
    failed: bool,
}

impl<T: Send + 'static> Tail<T> {
    /// The stream of what `read` finds after `after`, as the fold goes on.
    pub(crate) fn stream(
        slot: WatchSlot,
        reads: &Reads,
        stop: Stop,
        after: u64,
        read: ReadAfter<T>,
    ) -> BoxStream<'static, Result<T, Status>> {
        let tail = Self {
            _slot: slot,
            live: reads.live.clone(),
            after,
            applied: reads.applied.clone(),
            stop,
            read,
            pending: VecDeque::new(),
            failed: false,
        };
        Box::pin(futures::stream::unfold(tail, Self::next))
    }

    async fn next(mut self) -> Option<(Result<T, Status>, Self)> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some((Ok(item), self));
            }
            if self.failed || self.stop.is_stopped() {
                return None;
            }
            // Mark the current position seen before reading, so a batch
            // committed after the read wakes the wait below.
            self.applied.borrow_and_update();
            let read = self
                .live
                .model()
                .and_then(|model| (self.read)(&model, self.after));
            match read {
                Err(err) => {
                    self.failed = true;
                    return Some((Err(internal(err)), self));
                }
                Ok(Some((last, items))) => {
                    self.after = last;
                    self.pending.extend(items);
                }
                Ok(None) => {
                    tokio::select! {
                        changed = self.applied.changed() => if changed.is_err() { return None },
                        () = self.stop.wait() => return None,
                    }
                }
            }
        }
    }
}
