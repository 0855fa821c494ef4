//! `sy-projection`: the read side. Folds the JetStream event log into a sled
//! read model and serves `shuangyong.v1.Query`,
//! `shuangyong.v1.PlacementQuery` and `shuangyong.v1.Notifications` from it.
//!
//! Layout: `config` (flags), `follow` (the fold task: log → batches →
//! checkpoint, a span per batch), `data_dir` (generations, and the rebuild of
//! a store in an older format), `read_model` (one named set of sled trees,
//! the fold transaction, indexes, counters, list paging, the placement
//! programmes' views and statistics), `redact` (what of a quarantined
//! event may be served), `query`, `placement_query` and `notifications`
//! (the gRPC surface, sharing `serving`; streams follow the fold through
//! `tail`), `unmasked` (a person in the clear, from the
//! log and the key store, each read recorded in the access log). Each replica keeps its own sled directory and
//! can be rebuilt from the log alone, so run as many as reads need.
//!
//! The one way to fold: every aggregate kind is folded by the domain's own
//! `Aggregate::apply` into the domain state, which the read model stores;
//! views, indexes and counters are derived from the states before and after
//! each event. Persons alone are kept masked (the domain state holds full ID
//! numbers), folded with the domain's own functions.
//!
//! Reads never need NATS (except request history, which comes from the log):
//! the service starts and answers from sled while the fold task keeps trying
//! to reach the log. Nor do they need disk space: on a full disk the service
//! still starts and answers from what is folded, while the fold waits for
//! room (see `follow`).
#![forbid(unsafe_code)]

mod board_request;
mod config;
mod data_dir;
mod follow;
mod live;
mod metrics;
mod notifications;
mod placement_query;
mod query;
mod read_model;
mod rebuild;
mod redact;
mod scope;
mod serving;
mod tail;
mod unmasked;
mod watches;
mod webhooks;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use data_dir::DataDir;
use follow::{FoldStatus, Follower};
use live::Live;
use sy_api::pb::admin_server::AdminServer;
use sy_api::pb::notifications_server::NotificationsServer;
use sy_api::pb::placement_query_server::PlacementQueryServer;
use sy_api::pb::query_server::QueryServer;
use sy_eventlog::{EventLog, LogError};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic_health::ServingStatus;
use tracing::{error, info, warn};

pub use config::Config;
pub use follow::FollowError;
pub use read_model::{
    BatchKeys, BatchOutcome, ListError, ListFilter, Page, PlacementFilter, PlacementPage,
    Quarantined, ReadModel, ReadModelError, StationPage,
};

/// Why the service could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The gRPC address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The `--listen` address.
        addr: SocketAddr,
        /// Why binding failed (in use, not permitted...).
        source: std::io::Error,
    },
    /// The bound listener's address cannot be read back.
    #[error("cannot read the listener's address: {0}")]
    LocalAddr(std::io::Error),
    /// The sled read model cannot be opened or used.
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    /// The event log cannot be reached or read.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The Prometheus exporter cannot start.
    #[error("cannot serve metrics: {0}")]
    Metrics(#[from] metrics_exporter_prometheus::BuildError),
    /// The reflection service cannot be built from the descriptors.
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The gRPC server failed while serving.
    #[error("grpc server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    /// A protection is missing outside development, or a secret file
    /// (tokens, policy, NATS password) cannot be used.
    #[error(transparent)]
    Start(#[from] sy_api::args::StartError),
    /// TLS is not configured (outside development mode) or cannot be used.
    #[error(transparent)]
    Tls(#[from] sy_api::tls::TlsError),
    /// The SIGHUP handler that reloads the tokens file cannot be installed.
    #[error("cannot listen for sighup: {0}")]
    Signal(std::io::Error),
    /// The verify keys file cannot be used, or is missing outside
    /// development mode.
    #[error(transparent)]
    Keys(#[from] sy_api::event_keys::KeyFileError),
    /// The fold stopped for good.
    #[error("fold stopped: {0}")]
    Follow(#[from] FollowError),
    /// Webhook delivery was asked for but cannot start.
    #[error(transparent)]
    Webhooks(#[from] webhooks::WebhookError),
}

/// Opens the read model a replica serves from `data_dir` (the active
/// generation), e.g. to inspect a stopped replica's store.
pub fn open_read_model(data_dir: &Path) -> Result<ReadModel, ReadModelError> {
    DataDir::open(data_dir).map(|(_, model)| model)
}

/// Binds `config.listen` and runs the service until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| RunError::Bind {
            addr: config.listen,
            source,
        })?;
    serve(config, listener, shutdown).await
}

/// Runs the service on `listener` until `shutdown` resolves or the fold fails.
///
/// On shutdown the server stops accepting calls, open watches end, the fold
/// commits the batch it holds, and sled is flushed.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    // TLS first: a service that would serve plaintext outside development
    // mode stops before it opens or connects to anything.
    let tls = config.common.server_tls()?;
    let identity = config.common.identity()?;
    let log_config = config.common.log_config(1)?;
    let verify_keys = sy_api::event_keys::verify_keys_or_dev(
        config.verify_keys_file.as_deref(),
        config.common.dev,
    )?
    .map(Arc::new);
    let kek = Arc::new(config.common.kek_ring()?);
    if let Some(listen) = config.common.metrics_listen {
        sy_api::telemetry::install_metrics(listen)?;
    }
    read_model::set_cache_capacity(config.sled_cache_bytes());
    let (data_dir, model) = DataDir::open(&config.data_dir)?;
    let model = model.verifying(verify_keys);
    for stale in data_dir.inactive() {
        info!(path = %stale.display(), "deleting a read model generation no longer in use");
        if let Err(err) = std::fs::remove_dir_all(&stale) {
            tracing::warn!(%err, path = %stale.display(), "cannot delete an old read model");
        }
    }
    let checkpoint = model.last_applied()?;
    info!(
        data_dir = %data_dir.active_path().display(),
        checkpoint,
        quarantined = model.quarantine_count()?,
        "read model opened"
    );
    let log = EventLog::connect(&log_config).await?;

    metrics::applied(checkpoint);
    metrics::quarantined(model.quarantine_count()?);
    let status = Arc::new(FoldStatus::default());
    let reserve = data_dir.reserve();
    if !config.read_only {
        match reserve.ensure() {
            Ok(()) => status.set_disk_full(false),
            Err(err) if read_model::is_disk_full(&err) => {
                warn!(
                    data_dir = %config.data_dir.display(),
                    "disk full at start; serving reads from what is folded until there is room"
                );
                status.set_disk_full(true);
            }
            Err(err) => {
                warn!(%err, reserve = %reserve.path().display(), "cannot write the disk reserve");
                status.set_disk_full(false);
            }
        }
    }
    let live = Live::new(model);
    let (applied_tx, applied) = watch::channel(checkpoint);
    let newest = Arc::new(AtomicI64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let follower = if config.read_only {
        info!(
            position = checkpoint,
            "read-only: serving the data dir as it is"
        );
        None
    } else {
        let follower = Follower {
            live: live.clone(),
            log: log.clone(),
            batch_size: config.batch_len(),
            applied: applied_tx,
            newest: newest.clone(),
            status: status.clone(),
            reserve,
            max_stall: config.ready_max_stall(),
        };
        let stop = Stop(stop_rx.clone());
        let stop_tx = stop_tx.clone();
        Some(tokio::spawn(async move {
            let followed = follower.run(kek, stop).await;
            if let Err(err) = &followed {
                error!(%err, "fold failed; shutting down");
            }
            stop_tx.send_replace(true);
            followed
        }))
    };

    let (health, health_service) = tonic_health::server::health_reporter();
    let readiness = tokio::spawn(track_readiness(Readiness {
        health,
        live: live.clone(),
        log: log.clone(),
        applied: applied.clone(),
        newest,
        status,
        max_lag: config.ready_max_lag,
        max_stall: config.ready_max_stall(),
        read_only: config.read_only,
    }));
    let admin = rebuild::AdminService::new(
        live.clone(),
        data_dir,
        log.clone(),
        applied.clone(),
        config.batch_len(),
        config.read_only,
    );
    let reads = serving::Reads {
        live: live.clone(),
        applied,
        max_wait: config.max_wait(),
    };
    let placements = placement_query::PlacementQueryService::new(
        reads.clone(),
        unmasked::Unmasked::new(live.clone(), log.clone(), log_config.replicas),
    );
    // One cap on open streams per credential, whichever they watch.
    let watches = watches::Watches::new(config.max_watches_per_caller.max(1));
    let deliveries = webhooks::start(
        &config.webhooks,
        live.clone(),
        reads.applied.clone(),
        Stop(stop_rx.clone()),
    )?;
    let notifications = notifications::NotificationsService::new(
        reads.clone(),
        Stop(stop_rx.clone()),
        watches.clone(),
        deliveries,
    );
    let service = query::QueryService::new(
        reads,
        log,
        Stop(stop_rx.clone()),
        config.read_only,
        watches,
        config.districts.clone(),
    );

    let addr = listener.local_addr().map_err(RunError::LocalAddr)?;
    info!(addr = %addr, "listening");
    let mut stopped = Stop(stop_rx);
    let stop_all = stop_tx.clone();
    let signal = async move {
        tokio::select! {
            () = shutdown => {}
            () = stopped.wait() => {}
        }
        stop_tx.send_replace(true);
    };
    let reloader = identity
        .spawn_reloader(sy_api::server::CREDENTIALS_POLL)
        .map_err(RunError::Signal)?;
    let served = sy_api::server::secure_builder(tls)?
        .timeout(config.common.call_timeout())
        .layer(sy_api::telemetry::GrpcMetricsLayer)
        .layer(sy_api::auth::AuthLayer::new(identity, "projection"))
        .layer(sy_api::quota::QuotaLayer::new(
            config.common.limits(),
            "projection",
        ))
        .add_service(health_service)
        .add_service(sy_api::server::reflection_service()?)
        .add_service(sy_api::server::reflection_service_v1alpha()?)
        .add_service(QueryServer::new(service))
        .add_service(PlacementQueryServer::new(placements))
        .add_service(AdminServer::new(admin))
        .add_service(NotificationsServer::new(notifications))
        .serve_with_incoming_shutdown(sy_api::server::incoming(listener), signal)
        .await;

    // The server may also have failed; either way the fold stops now.
    stop_all.send_replace(true);
    readiness.abort();
    if let Some(reloader) = reloader {
        reloader.abort();
    }
    // Wait for the task to be dropped: it holds the read model, whose
    // directory must be free when `serve` returns.
    let _ = readiness.await;
    let followed = match follower {
        None => Ok(()),
        Some(follower) => follower
            .await
            .unwrap_or_else(|err| Err(FollowError::Worker(err))),
    };
    match live.flush() {
        // What could not be written is folded again from the log next time.
        Err(err) if err.is_disk_full() => warn!(%err, "disk full; the last batches stay unwritten"),
        flushed => flushed?,
    }
    served?;
    followed?;
    info!("stopped");
    Ok(())
}

/// The one stop signal, shared by the server, the fold task and every watch.
#[derive(Clone)]
pub(crate) struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Resolves once stopping (or once nobody can signal any more).
    pub(crate) async fn wait(&mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }

    pub(crate) fn is_stopped(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }
}

/// What readiness is judged on.
struct Readiness {
    health: tonic_health::server::HealthReporter,
    live: Live,
    log: EventLog,
    applied: watch::Receiver<u64>,
    newest: Arc<AtomicI64>,
    status: Arc<FoldStatus>,
    max_lag: u64,
    max_stall: Duration,
    read_only: bool,
}

/// Why a replica does not serve, or that it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Serving,
    /// The log does not answer.
    Unreachable,
    /// `--ready-max-lag` events or more are not applied yet.
    Lagging,
    /// The log is ahead and the fold has not advanced for
    /// `--ready-max-stall-ms`.
    Stalled,
    /// The fold waits for disk space.
    DiskFull,
}

impl Verdict {
    fn status(self) -> ServingStatus {
        if self == Self::Serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        }
    }
}

/// One look at the fold, for [`judge`].
struct Look {
    /// The log's last position; `None`: the log did not answer.
    log_position: Option<u64>,
    applied: u64,
    /// How long the log has been ahead without the fold advancing.
    stalled_for: Duration,
    disk_full: bool,
}

/// Whether a (folding) replica should get traffic, and if not why.
fn judge(look: &Look, max_lag: u64, max_stall: Duration) -> Verdict {
    let Some(log_position) = look.log_position else {
        return Verdict::Unreachable;
    };
    if look.disk_full {
        Verdict::DiskFull
    } else if log_position.saturating_sub(look.applied) >= max_lag.max(1) {
        Verdict::Lagging
    } else if look.stalled_for >= max_stall {
        Verdict::Stalled
    } else {
        Verdict::Serving
    }
}

/// Since when the log has been ahead with the fold standing still.
#[derive(Debug, Default)]
struct StallClock {
    applied: u64,
    since: Option<Instant>,
}

impl StallClock {
    /// How long the fold has stood still at `applied` while `behind`, as of
    /// `now`; any advance, or catching up, starts the clock again.
    fn observe(&mut self, applied: u64, behind: bool, now: Instant) -> Duration {
        if !behind || applied != self.applied {
            self.applied = applied;
            self.since = behind.then_some(now);
            return Duration::ZERO;
        }
        now.saturating_duration_since(*self.since.get_or_insert(now))
    }
}

/// gRPC health of `shuangyong.v1.Query` and `shuangyong.v1.PlacementQuery`
/// (and the server as a whole), both read from the same fold: serving
/// while the log is reachable, the fold is less than `max_lag` events
/// behind, has not stood still behind the log for `max_stall` and is not
/// blocked by a full disk; a read-only replica always serves. Lag, stall
/// and quarantine metrics are refreshed on the same tick, and the fold
/// learns the log's position from it.
async fn track_readiness(r: Readiness) {
    const SERVICES: [&str; 3] = ["shuangyong.v1.Query", "shuangyong.v1.PlacementQuery", ""];
    let mut last = None;
    let mut stall = StallClock::default();
    loop {
        let applied = *r.applied.borrow();
        let (verdict, log_position) = if r.read_only {
            (Verdict::Serving, None)
        } else {
            let log_position = r.log.last_position().await.ok();
            if let Some(position) = log_position {
                r.status.saw_log_at(position);
            }
            let behind = log_position.is_some_and(|p| p > applied);
            let stalled_for = stall.observe(applied, behind, Instant::now());
            metrics::stalled(stalled_for);
            let look = Look {
                log_position,
                applied,
                stalled_for,
                disk_full: r.status.is_disk_full(),
            };
            (judge(&look, r.max_lag, r.max_stall), log_position)
        };
        let lag_events = log_position.map_or(0, |p| p.saturating_sub(applied));
        let lag_seconds = if lag_events == 0 {
            0.0
        } else {
            let newest = r.newest.load(Ordering::Relaxed);
            (jiff::Timestamp::now().as_second() - newest).max(0) as f64
        };
        metrics::lag(log_position, lag_events, lag_seconds);
        if let Ok(total) = r.live.model().and_then(|model| model.quarantine_count()) {
            metrics::quarantined(total);
        }
        if last != Some(verdict) {
            info!(?verdict, applied, log_position, "readiness changed");
            let status = verdict.status();
            if last.map(Verdict::status) != Some(status) {
                for service in SERVICES {
                    r.health.set_service_status(service, status).await;
                }
            }
            last = Some(verdict);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALL: Duration = Duration::from_secs(5);

    fn look(log_position: Option<u64>, applied: u64, stalled_for: u64) -> Look {
        Look {
            log_position,
            applied,
            stalled_for: Duration::from_secs(stalled_for),
            disk_full: false,
        }
    }

    #[test]
    fn a_fold_standing_still_behind_the_log_does_not_serve_even_with_little_lag() {
        assert_eq!(judge(&look(Some(10), 9, 0), 1000, STALL), Verdict::Serving);
        assert_eq!(judge(&look(Some(10), 9, 4), 1000, STALL), Verdict::Serving);
        assert_eq!(judge(&look(Some(10), 9, 5), 1000, STALL), Verdict::Stalled);
        assert_eq!(
            judge(&look(Some(2000), 9, 0), 1000, STALL),
            Verdict::Lagging
        );
        assert_eq!(judge(&look(None, 9, 0), 1000, STALL), Verdict::Unreachable);
        let blocked = Look {
            disk_full: true,
            ..look(Some(9), 9, 0)
        };
        assert_eq!(judge(&blocked, 1000, STALL), Verdict::DiskFull);
        assert_eq!(Verdict::Stalled.status(), ServingStatus::NotServing);
        assert_eq!(Verdict::Serving.status(), ServingStatus::Serving);
    }

    #[test]
    fn the_stall_clock_runs_only_while_behind_and_standing_still() {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut clock = StallClock::default();
        // Caught up for a long time: no stall, whatever the time.
        assert_eq!(clock.observe(5, false, at(0)), Duration::ZERO);
        assert_eq!(clock.observe(5, false, at(100)), Duration::ZERO);
        // A write lands: behind from now on, not since the last advance.
        assert_eq!(clock.observe(5, true, at(101)), Duration::ZERO);
        assert_eq!(clock.observe(5, true, at(104)), Duration::from_secs(3));
        // The fold advances but is still behind: the clock starts again.
        assert_eq!(clock.observe(6, true, at(105)), Duration::ZERO);
        assert_eq!(clock.observe(6, true, at(111)), Duration::from_secs(6));
        // Caught up: no stall.
        assert_eq!(clock.observe(7, false, at(112)), Duration::ZERO);
    }
}
