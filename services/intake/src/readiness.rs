//! Readiness: whether this intake should get commands, as gRPC health says.
//!
//! A TCP connection to NATS is not enough. A hung server (stopped, swapping,
//! wedged behind a partition) keeps the socket open while every publish
//! times out, and a command answered `UNAVAILABLE` after a publish timeout
//! may still have been stored: its outcome is unknown to the caller. So
//! intake asks JetStream for the stream's info every [`PROBE_INTERVAL`] and
//! gives it [`PROBE_DEADLINE`] to answer. It reports `NOT_SERVING` at once
//! when the connection is down, and after [`FAILURES_TO_WITHDRAW`] probes in
//! a row that failed or went unanswered (one slow answer on a busy host does
//! not pull a replica); the first answer in time makes it `SERVING` again.

use std::time::{Duration, Instant};

use sy_eventlog::EventLog;
use tokio::time::MissedTickBehavior;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::metrics;

/// How often the log is probed.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a probe may wait for JetStream's answer.
const PROBE_DEADLINE: Duration = Duration::from_secs(1);
/// Failed probes in a row before intake reports `NOT_SERVING`.
const FAILURES_TO_WITHDRAW: u32 = 2;

/// What one probe found.
#[derive(Debug)]
enum Probe {
    /// JetStream answered, in this long.
    Answered(Duration),
    /// No connection to NATS.
    Disconnected,
    /// JetStream answered with an error, or not within the deadline.
    Failed(String),
}

/// Asks the stream for its info, within [`PROBE_DEADLINE`].
async fn probe(log: &EventLog) -> Probe {
    if !log.is_connected() {
        return Probe::Disconnected;
    }
    let started = Instant::now();
    match tokio::time::timeout(PROBE_DEADLINE, log.last_position()).await {
        Ok(Ok(_)) => Probe::Answered(started.elapsed()),
        Ok(Err(err)) => Probe::Failed(err.to_string()),
        Err(_) => Probe::Failed(format!(
            "no answer within {} ms",
            PROBE_DEADLINE.as_millis()
        )),
    }
}

/// Sets the health of `services` (and of the whole server, `""`) from the
/// probes, for as long as it runs.
pub async fn track(log: EventLog, health: HealthReporter, services: &[&str]) {
    let mut ticks = tokio::time::interval(PROBE_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failures = 0u32;
    let mut last = None;
    loop {
        ticks.tick().await;
        let probe = probe(&log).await;
        metrics::connected(log.is_connected());
        let status = match &probe {
            Probe::Answered(elapsed) => {
                metrics::probed(Some(*elapsed));
                failures = 0;
                ServingStatus::Serving
            }
            Probe::Disconnected => {
                metrics::probed(None);
                failures = failures.saturating_add(1);
                ServingStatus::NotServing
            }
            Probe::Failed(reason) => {
                metrics::probed(None);
                failures = failures.saturating_add(1);
                tracing::debug!(failures, %reason, "log probe failed");
                // One failure keeps what the last probe found (a replica
                // that never answered is not ready).
                match last {
                    Some(previous) if failures < FAILURES_TO_WITHDRAW => previous,
                    _ => ServingStatus::NotServing,
                }
            }
        };
        if last != Some(status) {
            match &probe {
                Probe::Answered(elapsed) => {
                    tracing::info!(?status, probe_ms = elapsed.as_millis(), "readiness changed")
                }
                Probe::Disconnected => {
                    tracing::warn!(
                        ?status,
                        reason = "not connected to nats",
                        "readiness changed"
                    );
                }
                Probe::Failed(reason) => {
                    tracing::warn!(?status, %reason, failures, "readiness changed");
                }
            }
            for service in services.iter().copied().chain([""]) {
                health.set_service_status(service, status).await;
            }
            last = Some(status);
        }
    }
}
