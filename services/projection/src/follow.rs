//! The fold task: follows the event log from `last_applied + 1` with an ordered
//! consumer and hands the read model one batch at a time (whatever is ready,
//! up to `--batch-size`), then publishes the new checkpoint to readers. The
//! next batch's signatures are checked while a batch is folded, so a
//! catch-up keeps both the checks and sled busy.
//!
//! NATS may be down at start or go away later; the task retries with capped
//! exponential backoff (cut short when the connection comes back) and
//! resumes from the read model's checkpoint, never from where a consumer
//! happened to be. A tail ends as soon as the connection drops (see
//! `EventLog::tail`), and one that delivers nothing for `--ready-max-stall-ms`
//! while the log is ahead is given up too, so a restarted or replaced server
//! is followed again within seconds. A batch already taken from the stream is
//! always committed before the task looks at the stop signal again, so
//! shutdown never abandons a half-read batch.
//!
//! A full disk pauses the fold, not the service: sled fails the batch (and,
//! in 0.34, every later write of that database), so the task waits until the
//! data dir's reserve can be written again (see `data_dir`), warning every
//! 30 s, then opens the read model anew and follows from its checkpoint on
//! disk. Reads are answered from what is folded meanwhile.
//!
//! Each batch is folded in its own span (`fold_batch`, with its first and
//! last position and size), and every event's correlation id is logged with
//! its position, so a request can be followed from intake's logs into these.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use prost::Message;
use sy_domain::pb::EventEnvelope;
use sy_domain::pii::{Cipher, KekRing};
use sy_eventlog::keystore::{Create, KeyStore, KeyStoreError};
use sy_eventlog::{EventLog, LogError, StoredEvent};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::Stop;
use crate::data_dir::Reserve;
use crate::live::Live;
use crate::metrics;
use crate::read_model::{BatchKeys, BatchOutcome, CheckedBatch, ReadModelError};

const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);
/// How often a subscription is checked for a stall.
const STALL_CHECK: Duration = Duration::from_secs(1);
/// Checks for disk space back off from the first to the last.
const FIRST_ROOM_CHECK: Duration = Duration::from_millis(500);
const MAX_ROOM_CHECK: Duration = Duration::from_secs(5);
/// A fold blocked on a full disk says so this often, not per check.
const DISK_FULL_WARN_EVERY: Duration = Duration::from_secs(30);

/// Why the fold stopped for good; the service shuts down with it.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The read model could not be written or read.
    #[error(transparent)]
    Store(#[from] ReadModelError),
    /// The blocking task folding batches panicked or was cancelled.
    #[error("fold worker failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
    /// The key store answered, but cannot give a key the log needs (lost,
    /// or a wrong KEK): folding on would show people as erased who are not.
    #[error(transparent)]
    Keys(KeyStoreError),
}

/// What the fold and readiness know of each other beyond the checkpoint.
#[derive(Debug, Default)]
pub(crate) struct FoldStatus {
    /// The log's last position when readiness last read it (0: not yet).
    log_position: AtomicU64,
    /// The fold waits for disk space.
    disk_full: AtomicBool,
}

impl FoldStatus {
    /// The log's last position as last seen.
    pub(crate) fn log_position(&self) -> u64 {
        self.log_position.load(Ordering::Relaxed)
    }

    pub(crate) fn saw_log_at(&self, position: u64) {
        self.log_position.store(position, Ordering::Relaxed);
    }

    /// Whether the fold is blocked by a full disk.
    pub(crate) fn is_disk_full(&self) -> bool {
        self.disk_full.load(Ordering::Relaxed)
    }

    /// Records (and exports) whether the fold is blocked by a full disk.
    pub(crate) fn set_disk_full(&self, full: bool) {
        self.disk_full.store(full, Ordering::Relaxed);
        metrics::disk_full(full);
    }
}

/// How one subscription to the log ended.
enum Ended {
    Stopped,
    /// The subscription broke; follow again from the checkpoint.
    Interrupted(LogError),
    /// The read model could not be written for want of disk space.
    DiskFull(ReadModelError),
}

/// The fold task and what it works with.
pub(crate) struct Follower {
    pub(crate) live: Live,
    pub(crate) log: EventLog,
    pub(crate) batch_size: usize,
    /// Carries the checkpoint to readers.
    pub(crate) applied: watch::Sender<u64>,
    /// The recording time (unix seconds) of the newest event handed to the
    /// fold, for the lag in seconds.
    pub(crate) newest: Arc<AtomicI64>,
    pub(crate) status: Arc<FoldStatus>,
    /// The data dir's reserve: writing it again tells there is room.
    pub(crate) reserve: Reserve,
    /// A subscription that delivers nothing this long while the log is
    /// ahead is given up (`--ready-max-stall-ms`).
    pub(crate) max_stall: Duration,
}

impl Follower {
    /// Folds the log into the live model until `stop`.
    ///
    /// First it opens the log's key store with `kek` (waiting while NATS
    /// or the store is not there yet): a wrong KEK or a lost store stops
    /// the service here, before anything is folded.
    pub(crate) async fn run(self, kek: Arc<KekRing>, mut stop: Stop) -> Result<(), FollowError> {
        let opening = KeyStore::await_open(&self.log, kek, Cipher::default(), Create::Never, 1);
        let store = tokio::select! {
            () = stop.wait() => return Ok(()),
            store = opening => store.map_err(FollowError::Keys)?,
        };
        info!(store = store.stream_name(), "key store open");
        self.live.set_data_keys(store);
        let mut retry = FIRST_RETRY;
        let mut warned = None;
        loop {
            if self.status.is_disk_full() {
                if !self.wait_for_room(&mut stop, &mut warned).await? {
                    return Ok(());
                }
                retry = FIRST_RETRY;
            }
            let start = self.applied.borrow().saturating_add(1);
            let tail = tokio::select! {
                () = stop.wait() => return Ok(()),
                tail = self.log.tail(start) => tail,
            };
            match tail {
                Ok(events) => {
                    info!(from = start, "following the event log");
                    match self.fold(events, &mut stop, &mut retry).await? {
                        Ended::Stopped => return Ok(()),
                        Ended::DiskFull(err) => {
                            debug!(%err, "the read model cannot be written");
                            self.status.set_disk_full(true);
                            continue;
                        }
                        Ended::Interrupted(err) => {
                            warn!(%err, retry_in = ?retry, "lost the event log; following again");
                        }
                    }
                }
                Err(err) => warn!(%err, retry_in = ?retry, "cannot follow the event log"),
            }
            let reconnected = self.log.connection_changed();
            tokio::select! {
                () = stop.wait() => return Ok(()),
                () = tokio::time::sleep(retry) => retry = (retry * 2).min(MAX_RETRY),
                // Up again (or down: then the next attempt fails fast).
                () = reconnected => retry = FIRST_RETRY,
            }
        }
    }

    /// Folds one subscription's events batch by batch until it breaks,
    /// stalls or `stop`.
    ///
    /// Two batches are in hand at a time: one folded (in its own task,
    /// which publishes its checkpoint as it commits) while the next is read
    /// and checked (signatures: the costly part that needs no read model),
    /// so the fold's single thread and the checks share the cores. Batches
    /// are still folded one after another, in log order.
    async fn fold(
        &self,
        events: impl Stream<Item = Result<StoredEvent, LogError>>,
        stop: &mut Stop,
        retry: &mut Duration,
    ) -> Result<Ended, FollowError> {
        let mut folding = None;
        let ended = self.fold_batches(events, stop, retry, &mut folding).await;
        // However the subscription ended, the batch in hand commits first
        // (and its failure, if it failed, is how it ended).
        let last = finished(folding.take(), retry).await;
        match (ended, last) {
            (Err(err), _) | (Ok(_), Err(err)) => Err(err),
            (Ok(_), Ok(Some(failed))) => Ok(failed),
            (Ok(ended), Ok(None)) => Ok(ended),
        }
    }

    /// The loop of [`Self::fold`]; `folding` is the batch being folded.
    async fn fold_batches(
        &self,
        events: impl Stream<Item = Result<StoredEvent, LogError>>,
        stop: &mut Stop,
        retry: &mut Duration,
        folding: &mut Option<JoinHandle<Result<BatchOutcome, FollowError>>>,
    ) -> Result<Ended, FollowError> {
        let mut chunks = std::pin::pin!(events.ready_chunks(self.batch_size));
        let mut stall_check = tokio::time::interval(STALL_CHECK);
        stall_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut progressed = Instant::now();
        loop {
            let chunk = tokio::select! {
                biased;
                () = stop.wait() => return Ok(Ended::Stopped),
                Some(folded) = async { Some(folding.as_mut()?.await) }, if folding.is_some() => {
                    *folding = None;
                    if let Some(ended) = outcome(folded, retry)? {
                        return Ok(ended);
                    }
                    continue;
                }
                chunk = chunks.next() => chunk,
                _ = stall_check.tick() => {
                    let (log_at, applied) = (self.status.log_position(), *self.applied.borrow());
                    if log_at > applied && progressed.elapsed() >= self.max_stall {
                        return Ok(Ended::Interrupted(LogError::Unavailable(format!(
                            "the subscription delivered nothing for {:?} while the log is at \
                             {log_at} and the fold at {applied}",
                            progressed.elapsed()
                        ))));
                    }
                    continue;
                }
            };
            let Some(chunk) = chunk else {
                return Ok(Ended::Interrupted(LogError::Unavailable(
                    "event log subscription ended".into(),
                )));
            };
            let mut batch = Vec::with_capacity(chunk.len());
            let mut broken = None;
            for item in chunk {
                match item {
                    Ok(event) => batch.push(event),
                    Err(err) => {
                        broken = Some(err);
                        break;
                    }
                }
            }
            if !batch.is_empty() {
                if let Some(at) = batch
                    .last()
                    .and_then(|event| EventEnvelope::decode(event.payload.as_ref()).ok())
                    .and_then(|envelope| envelope.recorded_at)
                {
                    self.newest.store(at.seconds, Ordering::Relaxed);
                }
                let store = self
                    .live
                    .data_keys()
                    .expect("opened before the first batch");
                let keys = match BatchKeys::gather(store, &batch).await {
                    Ok(keys) => keys,
                    Err(KeyStoreError::Unavailable(err)) => {
                        return Ok(Ended::Interrupted(LogError::Unavailable(format!(
                            "key store: {err}"
                        ))));
                    }
                    Err(err) => return Err(FollowError::Keys(err)),
                };
                // Checked while the batch before is folded; a rebuild
                // switching models meanwhile makes the fold check again.
                let model = self.live.model()?;
                let checked = tokio::task::spawn_blocking(move || model.check(batch)).await?;
                if let Some(ended) = finished(folding.take(), retry).await? {
                    return Ok(ended);
                }
                *folding = Some(tokio::spawn(fold_batch(
                    self.live.clone(),
                    self.applied.clone(),
                    checked,
                    keys,
                )));
            }
            progressed = Instant::now();
            if let Some(err) = broken {
                return Ok(Ended::Interrupted(err));
            }
        }
    }

    /// Waits until the data dir has room again (its reserve can be written
    /// anew), then opens the read model anew and takes its checkpoint:
    /// batches sled took in memory but could not write are folded again.
    /// `false` when stopped first. Warns on entry and then every 30 s
    /// (`warned`: when it last did).
    async fn wait_for_room(
        &self,
        stop: &mut Stop,
        warned: &mut Option<Instant>,
    ) -> Result<bool, FollowError> {
        let mut delay = FIRST_ROOM_CHECK;
        loop {
            let reserve = self.reserve.clone();
            match tokio::task::spawn_blocking(move || reserve.renew()).await? {
                Ok(()) => break,
                Err(err) => {
                    if warned.is_none_or(|at| at.elapsed() >= DISK_FULL_WARN_EVERY) {
                        warn!(
                            %err,
                            checkpoint = *self.applied.borrow(),
                            reserve = %self.reserve.path().display(),
                            "disk full; folding paused, reads are answered from what is folded"
                        );
                        *warned = Some(Instant::now());
                    }
                }
            }
            tokio::select! {
                () = stop.wait() => return Ok(false),
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(MAX_ROOM_CHECK);
        }
        let paused = self.live.pause().await;
        let model = self.live.reopen(&paused).await?;
        drop(paused);
        let checkpoint = model.last_applied()?;
        self.applied.send_replace(checkpoint);
        metrics::applied(checkpoint);
        self.status.set_disk_full(false);
        info!(
            checkpoint,
            "the disk has room again; folding on from the checkpoint"
        );
        Ok(true)
    }
}

/// Waits for the batch being folded, if any: `None` when it committed (or
/// there was none), else how the subscription ends.
async fn finished(
    folding: Option<JoinHandle<Result<BatchOutcome, FollowError>>>,
    retry: &mut Duration,
) -> Result<Option<Ended>, FollowError> {
    match folding {
        None => Ok(None),
        Some(folding) => outcome(folding.await, retry),
    }
}

/// What a folded batch means for the subscription: `None` when it
/// committed, `DiskFull` when sled had no room (then the batches after it
/// are dropped and folded again from the checkpoint), or a lasting failure.
fn outcome(
    folded: Result<Result<BatchOutcome, FollowError>, tokio::task::JoinError>,
    retry: &mut Duration,
) -> Result<Option<Ended>, FollowError> {
    match folded? {
        Ok(_) => {
            *retry = FIRST_RETRY;
            Ok(None)
        }
        Err(FollowError::Store(err)) if err.is_disk_full() => Ok(Some(Ended::DiskFull(err))),
        Err(err) => Err(err),
    }
}

/// Folds one checked batch into the live model (paused for rebuilds
/// meanwhile), publishes its checkpoint to readers and reports it.
#[tracing::instrument(
    skip_all,
    fields(
        first = batch.events().first().map(|event| event.position),
        last = batch.events().last().map(|event| event.position),
        events = batch.events().len(),
    )
)]
async fn fold_batch(
    live: Live,
    applied: watch::Sender<u64>,
    batch: CheckedBatch,
    keys: BatchKeys,
) -> Result<BatchOutcome, FollowError> {
    let paused = live.pause().await;
    let model = live.model()?;
    let started = Instant::now();
    let outcome = tokio::task::spawn_blocking(move || model.apply_checked(batch, &keys)).await??;
    drop(paused);
    applied.send_replace(outcome.checkpoint);
    metrics::batch(&outcome, started.elapsed());
    report(&outcome);
    Ok(outcome)
}

fn report(outcome: &BatchOutcome) {
    let correlation_id = |position: u64| {
        outcome
            .correlation_ids
            .iter()
            .find(|(at, _)| *at == position)
            .map_or("", |(_, id)| id.as_str())
    };
    for (position, reason) in &outcome.quarantined {
        let correlation_id = correlation_id(*position);
        warn!(position, correlation_id, %reason, "event quarantined");
    }
    for (position, correlation_id) in &outcome.correlation_ids {
        if !outcome.quarantined.iter().any(|(at, _)| at == position) {
            debug!(position, %correlation_id, "event folded");
        }
    }
    if outcome.redelivered > 0 {
        debug!(
            redelivered = outcome.redelivered,
            "skipped events at or below the checkpoint"
        );
    }
    debug!(
        applied = outcome.applied,
        ignored = outcome.ignored,
        "batch folded"
    );
}
