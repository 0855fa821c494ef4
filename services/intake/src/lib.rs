//! `sy-intake`: the command side, for support requests and the placement
//! programmes. Validates each command at the edge, decides
//! its event against the aggregate's history, and appends it to the JetStream
//! log with optimistic concurrency and idempotency; replies only after the
//! log acknowledged the write.
//!
//! Layout: `config` (flags), `service` (gRPC surface: one span per command,
//! the same pipeline for every RPC), `pipeline` (the command pipeline and the
//! follow-ups the domain declares), `kinds` (a cache per aggregate kind and
//! what each kind needs of the others), `aggregate` (loading and caching
//! aggregates), `queue` (commands on one aggregate take turns), `error`
//! (errors and their gRPC codes), `readiness` (gRPC health from a probe of
//! JetStream), `supervision` (the clocks that remind and escalate overdue
//! requests through the pipeline), `metrics` (what it reports to Prometheus). Commands are parsed by the domain
//! (`sy_domain::command_meta::CommandMessage`). Modules depend one way:
//! `service` and `supervision` → `pipeline` → `kinds` → `aggregate` → `queue`,
//! `error`. Intake keeps no state of its own beyond a cache and the clocks'
//! index, both rebuilt from the log: run as many as needed.
#![forbid(unsafe_code)]

mod aggregate;
mod config;
mod error;
mod kinds;
mod metrics;
mod pipeline;
mod queue;
mod readiness;
mod service;
mod supervision;

use std::future::Future;
use std::sync::Arc;

use sy_api::auth::AuthLayer;
use sy_api::pb::intake_server::IntakeServer;
use sy_api::pb::placements_server::PlacementsServer;
use sy_api::quota::QuotaLayer;
use sy_eventlog::EventLog;
use sy_eventlog::keystore::{Create, KeyStore};

pub use config::Config;
pub use error::IntakeError;

/// The gRPC services whose health intake reports (besides the server's, `""`).
const SERVICE_NAMES: &[&str] = &["shuangyong.v1.Intake", "shuangyong.v1.Placements"];

/// Runs intake until `shutdown` resolves; in-flight commands finish first.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    // TLS first: a service that would serve plaintext outside development
    // mode stops before it connects to anything.
    let tls = config.common.server_tls()?;
    let identity = config.common.identity()?;
    let log_config = config.common.log_config(config.stream_replicas)?;
    let identity_key = config.identity_key()?;
    let signer =
        sy_api::event_keys::signer_or_dev(config.signing_key_file.as_deref(), config.common.dev)?;
    let keys = config.loaded_event_keys(signer.as_ref())?;
    let clocks = config.clocks()?;
    let kek = Arc::new(config.common.kek_ring()?);
    if let Some(listen) = config.common.metrics_listen {
        sy_api::telemetry::install_metrics(listen)?;
    }
    let log = EventLog::connect(&log_config).await?;
    tokio::pin!(shutdown);
    tokio::select! {
        ready = log.await_stream(config.stream_replicas) => ready?,
        () = &mut shutdown => return Ok(()),
    }
    let create = if config.new_key_store {
        tracing::warn!("--new-key-store: creating the key store even if the log has events");
        Create::Always
    } else {
        Create::WhenLogEmpty
    };
    let opening =
        KeyStore::await_open(&log, kek, config.pii_cipher, create, config.stream_replicas);
    let data_keys = tokio::select! {
        store = opening => Arc::new(store?),
        () = &mut shutdown => return Ok(()),
    };
    tracing::info!(
        store = data_keys.stream_name(),
        cipher = config.pii_cipher.as_str(),
        "key store ready"
    );

    let pipeline = Arc::new(pipeline::Pipeline::new(
        aggregate::History {
            log: log.clone(),
            keys: keys.map(Arc::new),
            data_keys,
        },
        sy_domain::command_meta::ParseEnv {
            districts: config.districts.clone(),
            identity_key,
        },
        config.cache_size,
        signer,
    ));
    let clocks = match clocks {
        Some(clocks) => {
            tracing::info!(
                version = clocks.policy.version,
                digest = clocks.policy.digest,
                rules = clocks.policy.rules.len(),
                tick_ms = clocks.tick.as_millis(),
                "supervision clocks running"
            );
            Some(tokio::spawn(supervision::run(
                clocks,
                log.clone(),
                pipeline.clone(),
            )))
        }
        None => {
            tracing::info!("no supervision policy (--supervision-policy): no clocks run");
            None
        }
    };
    let commands = service::IntakeService::new(pipeline);
    let (health, health_service) = tonic_health::server::health_reporter();
    let readiness = tokio::spawn(readiness::track(log.clone(), health, SERVICE_NAMES));

    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, stream = %config.common.stream, "listening");
    let reloader = identity.spawn_reloader(sy_api::server::CREDENTIALS_POLL)?;
    let served = sy_api::server::secure_builder(tls)?
        .timeout(config.common.call_timeout())
        .layer(sy_api::telemetry::GrpcMetricsLayer)
        .layer(AuthLayer::new(identity, "intake"))
        .layer(QuotaLayer::new(config.common.limits(), "intake"))
        .add_service(health_service)
        .add_service(sy_api::server::reflection_service()?)
        .add_service(sy_api::server::reflection_service_v1alpha()?)
        .add_service(IntakeServer::new(commands.clone()))
        .add_service(PlacementsServer::new(commands))
        .serve_with_incoming_shutdown(sy_api::server::incoming(listener), shutdown)
        .await;
    readiness.abort();
    if let Some(clocks) = clocks {
        clocks.abort();
    }
    if let Some(reloader) = reloader {
        reloader.abort();
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}
