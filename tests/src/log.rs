//! The event log as intake sets it up, for suites that write events by
//! hand and run the projection on them: the stream, and the key store that
//! intake makes beside it with the log's first event (a projection refuses a
//! log with events and no key store: that is a lost store).

use std::sync::Arc;
use std::time::Duration;

use sy_domain::pii::Cipher;
use sy_eventlog::keystore::{Create, KeyStore};
use sy_eventlog::{EventLog, LogConfig, NatsAuth};

use crate::NatsServer;

/// Connects to `stream` on `nats` (no user, no TLS), creates it and its key
/// store with the development KEK, as intake does in `--dev`.
pub async fn log_as_intake_makes_it(nats: &NatsServer, stream: &str) -> anyhow::Result<EventLog> {
    let log = EventLog::connect(&LogConfig {
        nats_url: nats.url(),
        stream: stream.into(),
        replicas: 1,
        request_timeout: Duration::from_secs(2),
        auth: NatsAuth::default(),
    })
    .await?;
    tokio::time::timeout(Duration::from_secs(10), log.await_stream(1)).await??;
    let kek = Arc::new(sy_api::args::development_kek());
    KeyStore::open(&log, kek, Cipher::default(), Create::WhenLogEmpty, 1).await?;
    Ok(log)
}
