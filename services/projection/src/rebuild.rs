//! Blue/green rebuild (`shuangyong.v1.Admin/Rebuild`): replay the log from
//! sequence 1 into a fresh generation beside the live read model, bring it to
//! exactly the live position with the fold paused, require both to agree
//! (log digest and read model digest), then switch queries and the fold to it.
//!
//! Reads are never stopped: queries use the live model until the switch and
//! the new one after. The fold pauses only for the last stretch and the
//! digest comparison; writes (intake) never pause.
//!
//! Both folds are this release's (the fresh model reads the schema versions
//! the live one reads), so any difference aborts. Events an older release
//! quarantined as newer never make one: a release that reads them folded
//! the log again when it started (`crate::data_dir`), before it served.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::{Stream, StreamExt};
use sy_api::identity::Principal;
use sy_api::pb::admin_server::Admin;
use sy_api::pb::rebuild_progress::Phase;
use sy_api::pb::{RebuildProgress, RebuildRequest};
use sy_eventlog::keystore::KeyStoreError;
use sy_eventlog::{EventLog, LogError, StoredEvent};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::{info, warn};

use crate::data_dir::DataDir;
use crate::live::Live;
use crate::read_model::{BatchKeys, ReadModel, ReadModelError};

/// How long a switched-out generation stays on disk for queries still
/// reading it before it is deleted.
const RETIRE_AFTER: Duration = Duration::from_secs(30);

pub(crate) struct AdminService {
    live: Live,
    data_dir: Arc<std::sync::Mutex<DataDir>>,
    log: EventLog,
    applied: watch::Receiver<u64>,
    batch_size: usize,
    read_only: bool,
    running: Arc<AtomicBool>,
}

impl AdminService {
    pub(crate) fn new(
        live: Live,
        data_dir: DataDir,
        log: EventLog,
        applied: watch::Receiver<u64>,
        batch_size: usize,
        read_only: bool,
    ) -> Self {
        Self {
            live,
            data_dir: Arc::new(std::sync::Mutex::new(data_dir)),
            log,
            applied,
            batch_size,
            read_only,
            running: Arc::new(AtomicBool::new(false)),
        }
    }
}

type Events = Pin<Box<dyn Stream<Item = Vec<Result<StoredEvent, LogError>>> + Send>>;

/// One rebuild in progress.
struct Rebuild {
    live: Live,
    data_dir: Arc<std::sync::Mutex<DataDir>>,
    applied: watch::Receiver<u64>,
    fresh: ReadModel,
    path: std::path::PathBuf,
    generation: u64,
    events: Events,
    /// Read from the log but past the position being folded to.
    pending: Vec<StoredEvent>,
    position: u64,
    progress: mpsc::Sender<Result<RebuildProgress, Status>>,
}

fn storage(err: ReadModelError) -> Status {
    Status::internal(err.to_string())
}

fn hex(bytes: [u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Rebuild {
    /// Sends progress; a client that went away does not stop the rebuild.
    async fn report(&mut self, phase: Phase, digests: Option<(&str, &str)>) {
        let (log_digest, model_digest) = digests.unwrap_or_default();
        let live_position = *self.applied.borrow();
        let message = RebuildProgress {
            phase: phase as i32,
            position: self.position,
            live_position,
            log_digest: log_digest.to_string(),
            read_model_digest: model_digest.to_string(),
            data_dir: self.path.display().to_string(),
        };
        let _ = self.progress.send(Ok(message)).await;
    }

    /// Folds the log into the new model up to exactly `target`.
    async fn fold_until(&mut self, target: u64) -> Result<(), Status> {
        while self.position < target {
            if self.pending.is_empty() {
                let chunk = self
                    .events
                    .next()
                    .await
                    .ok_or_else(|| Status::unavailable("event log subscription ended"))?;
                for item in chunk {
                    self.pending
                        .push(item.map_err(|err| Status::unavailable(err.to_string()))?);
                }
            }
            let split = self
                .pending
                .iter()
                .position(|event| event.position > target)
                .unwrap_or(self.pending.len());
            if split == 0 {
                return Err(Status::internal(format!(
                    "the log skipped from position {} past {target}",
                    self.position
                )));
            }
            let batch: Vec<StoredEvent> = self.pending.drain(..split).collect();
            let store = self
                .live
                .data_keys()
                .ok_or_else(|| Status::unavailable("the key store is not open yet"))?;
            let keys = BatchKeys::gather(store, &batch)
                .await
                .map_err(|err| match err {
                    KeyStoreError::Unavailable(_) => Status::unavailable(err.to_string()),
                    _ => Status::internal(err.to_string()),
                })?;
            let fresh = self.fresh.clone();
            let outcome = tokio::task::spawn_blocking(move || fresh.apply_batch(&batch, &keys))
                .await
                .map_err(|err| Status::internal(format!("rebuild worker failed: {err}")))?
                .map_err(storage)?;
            self.position = outcome.checkpoint;
            self.report(Phase::Replaying, None).await;
        }
        Ok(())
    }

    async fn run(mut self) -> Result<(), Status> {
        // Chase the live position twice without pausing anything; the
        // stretch left is folded with the fold paused.
        for _ in 0..2 {
            let target = *self.applied.borrow();
            self.fold_until(target).await?;
        }
        let live = self.live.clone();
        let paused = live.pause().await;
        let current = live.model().map_err(storage)?;
        let target = current.last_applied().map_err(storage)?;
        self.fold_until(target).await?;
        self.report(Phase::Verifying, None).await;
        let fresh = self.fresh.clone();
        let compared = tokio::task::spawn_blocking(move || {
            Ok::<_, ReadModelError>((
                (fresh.log_digest()?, fresh.digest()?),
                (current.log_digest()?, current.digest()?),
            ))
        })
        .await
        .map_err(|err| Status::internal(format!("digest worker failed: {err}")))?
        .map_err(storage)?;
        let ((fresh_log, fresh_model), (live_log, live_model)) = compared;
        if fresh_log != live_log || fresh_model != live_model {
            return Err(Status::aborted(format!(
                "rebuilt read model differs from the live one at position {target}: \
                 log digest {} vs {}, read model digest {} vs {}; nothing was switched",
                fresh_log.hex(),
                live_log.hex(),
                hex(fresh_model),
                hex(live_model)
            )));
        }
        let retired = {
            let mut data_dir = self
                .data_dir
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let retired = data_dir.active_path();
            data_dir.activate(self.generation).map_err(storage)?;
            retired
        };
        live.replace(self.fresh.clone(), &paused);
        drop(paused);
        info!(position = target, data_dir = %self.path.display(), "switched to the rebuilt read model");
        let (log_hex, model_hex) = (fresh_log.hex(), hex(fresh_model));
        self.report(Phase::Switched, Some((&log_hex, &model_hex)))
            .await;
        retire(retired);
        Ok(())
    }
}

/// Deletes a switched-out generation once queries that started on it are done.
fn retire(path: std::path::PathBuf) {
    tokio::spawn(async move {
        tokio::time::sleep(RETIRE_AFTER).await;
        if let Err(err) = std::fs::remove_dir_all(&path) {
            warn!(%err, path = %path.display(), "cannot delete the old read model");
        }
    });
}

#[tonic::async_trait]
impl Admin for AdminService {
    type RebuildStream = ReceiverStream<Result<RebuildProgress, Status>>;

    async fn rebuild(
        &self,
        request: Request<RebuildRequest>,
    ) -> Result<Response<Self::RebuildStream>, Status> {
        // A rebuild is a security event: who asked, by which credential.
        let principal = Principal::of(&request)?;
        info!(
            target: "security",
            agency = %principal.agency,
            user = %principal.user,
            credential = %principal.credential_label(),
            "rebuild requested"
        );
        metrics::counter!("sy_security_events_total", "event" => "rebuild").increment(1);
        if self.read_only {
            return Err(Status::failed_precondition(
                "this replica is read-only; it has no live read model to rebuild",
            ));
        }
        let (generation, path) = {
            let data_dir = self
                .data_dir
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if !data_dir.has_generations() {
                return Err(Status::failed_precondition(
                    "the data dir is a plain sled directory (made by sy as-of?); rebuild needs one managed by sy-projection",
                ));
            }
            if self.running.swap(true, Ordering::SeqCst) {
                return Err(Status::failed_precondition("a rebuild is already running"));
            }
            match data_dir.prepare_next() {
                Ok(next) => next,
                Err(err) => {
                    self.running.store(false, Ordering::SeqCst);
                    return Err(storage(err));
                }
            }
        };
        let started = async {
            let live = self.live.model().map_err(storage)?;
            let fresh = ReadModel::open(&path)
                .map_err(storage)?
                .verifying(live.verifier())
                .reading_schema(live.schema_version());
            let events = self
                .log
                .tail(1)
                .await
                .map_err(|err| Status::unavailable(err.to_string()))?;
            Ok::<_, Status>((fresh, events))
        }
        .await;
        let (fresh, events) = match started {
            Ok(started) => started,
            Err(status) => {
                self.running.store(false, Ordering::SeqCst);
                let _ = std::fs::remove_dir_all(&path);
                return Err(status);
            }
        };
        let (progress, stream) = mpsc::channel(16);
        let rebuild = Rebuild {
            live: self.live.clone(),
            data_dir: self.data_dir.clone(),
            applied: self.applied.clone(),
            fresh,
            path: path.clone(),
            generation,
            events: Box::pin(events.ready_chunks(self.batch_size)),
            pending: Vec::new(),
            position: 0,
            progress: progress.clone(),
        };
        let running = self.running.clone();
        info!(data_dir = %path.display(), "rebuild started");
        tokio::spawn(async move {
            if let Err(status) = rebuild.run().await {
                warn!(code = ?status.code(), message = status.message(), "rebuild failed");
                // The failed generation is not active; remove it.
                let _ = std::fs::remove_dir_all(&path);
                let _ = progress.send(Err(status)).await;
            }
            running.store(false, Ordering::SeqCst);
        });
        Ok(Response::new(ReceiverStream::new(stream)))
    }
}
