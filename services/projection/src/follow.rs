//! The fold task: follows the event log from `last_applied + 1` with an ordered
//! consumer and hands the read model one batch at a time (whatever is ready,
//! up to `--batch-size`), then publishes the new checkpoint to readers.
//!
//! NATS may be down at start or go away later; the task retries with capped
//! exponential backoff and resumes from the read model's checkpoint, never
//! from where a consumer happened to be. A batch already taken from the
//! stream is always committed before the task looks at the stop signal again,
//! so shutdown never abandons a half-read batch.
//!
//! Each batch is folded in its own span (`fold_batch`, with its first and
//! last position and size), and every event's correlation id is logged with
//! its position, so a request can be followed from intake's logs into these.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use prost::Message;
use sy_domain::pb::EventEnvelope;
use sy_domain::pii::{Cipher, KekRing};
use sy_eventlog::keystore::{Create, KeyStore, KeyStoreError};
use sy_eventlog::{EventLog, LogError, StoredEvent};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::Stop;
use crate::live::Live;
use crate::metrics;
use crate::read_model::{BatchKeys, BatchOutcome, ReadModelError};

const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);

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

/// How one subscription to the log ended.
enum Ended {
    Stopped,
    /// The subscription broke; follow again from the checkpoint.
    Interrupted(LogError),
}

/// Folds the log into the live model until `stop`; `applied` carries the
/// checkpoint.
///
/// `newest` gets the recording time (unix seconds) of the newest event
/// handed to the fold, for the lag in seconds.
///
/// First it opens the log's key store with `kek` (waiting while NATS or
/// the store is not there yet): a wrong KEK or a lost store stops the
/// service here, before anything is folded.
pub(crate) async fn follow(
    live: Live,
    log: EventLog,
    kek: Arc<KekRing>,
    batch_size: usize,
    applied: watch::Sender<u64>,
    newest: Arc<AtomicI64>,
    mut stop: Stop,
) -> Result<(), FollowError> {
    let opening = KeyStore::await_open(&log, kek, Cipher::default(), Create::Never, 1);
    let store = tokio::select! {
        () = stop.wait() => return Ok(()),
        store = opening => store.map_err(FollowError::Keys)?,
    };
    info!(store = store.stream_name(), "key store open");
    live.set_data_keys(store);
    let mut retry = FIRST_RETRY;
    loop {
        let start = applied.borrow().saturating_add(1);
        let tail = tokio::select! {
            () = stop.wait() => return Ok(()),
            tail = log.tail(start) => tail,
        };
        match tail {
            Ok(events) => {
                info!(from = start, "following the event log");
                match fold(
                    &live, events, batch_size, &applied, &newest, &mut stop, &mut retry,
                )
                .await?
                {
                    Ended::Stopped => return Ok(()),
                    Ended::Interrupted(err) => {
                        warn!(%err, retry_in = ?retry, "lost the event log; following again");
                    }
                }
            }
            Err(err) => warn!(%err, retry_in = ?retry, "cannot follow the event log"),
        }
        tokio::select! {
            () = stop.wait() => return Ok(()),
            () = tokio::time::sleep(retry) => {}
        }
        retry = (retry * 2).min(MAX_RETRY);
    }
}

/// Folds one subscription's events batch by batch until it breaks or `stop`.
async fn fold(
    live: &Live,
    events: impl Stream<Item = Result<StoredEvent, LogError>>,
    batch_size: usize,
    applied: &watch::Sender<u64>,
    newest: &AtomicI64,
    stop: &mut Stop,
    retry: &mut Duration,
) -> Result<Ended, FollowError> {
    let mut chunks = std::pin::pin!(events.ready_chunks(batch_size));
    loop {
        let chunk = tokio::select! {
            biased;
            () = stop.wait() => return Ok(Ended::Stopped),
            chunk = chunks.next() => chunk,
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
            // A rebuild may switch models between batches, never during one.
            if let Some(at) = batch
                .last()
                .and_then(|event| EventEnvelope::decode(event.payload.as_ref()).ok())
                .and_then(|envelope| envelope.recorded_at)
            {
                newest.store(at.seconds, Ordering::Relaxed);
            }
            let store = live.data_keys().expect("opened before the first batch");
            let keys = match BatchKeys::gather(store, &batch).await {
                Ok(keys) => keys,
                Err(KeyStoreError::Unavailable(err)) => {
                    return Ok(Ended::Interrupted(LogError::Unavailable(format!(
                        "key store: {err}"
                    ))));
                }
                Err(err) => return Err(FollowError::Keys(err)),
            };
            let outcome = fold_batch(live, batch, keys).await?;
            applied.send_replace(outcome.checkpoint);
            *retry = FIRST_RETRY;
        }
        if let Some(err) = broken {
            return Ok(Ended::Interrupted(err));
        }
    }
}

/// Folds one batch into the live model (paused for rebuilds meanwhile) and
/// reports it.
#[tracing::instrument(
    skip_all,
    fields(
        first = batch.first().map(|event| event.position),
        last = batch.last().map(|event| event.position),
        events = batch.len(),
    )
)]
async fn fold_batch(
    live: &Live,
    batch: Vec<StoredEvent>,
    keys: BatchKeys,
) -> Result<BatchOutcome, FollowError> {
    let paused = live.pause().await;
    let model = live.model();
    let started = Instant::now();
    let outcome = tokio::task::spawn_blocking(move || model.apply_batch(&batch, &keys)).await??;
    drop(paused);
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
