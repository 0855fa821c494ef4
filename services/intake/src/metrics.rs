//! Intake's metrics, in one place (gRPC call latency comes from the shared
//! layer in `sy-api`).

use std::time::Duration;

/// `sy_intake_commands_total{command,outcome}` and
/// `sy_intake_command_seconds{command}`: outcome is `ok`, `replayed`, or the
/// gRPC code of the refusal.
pub fn command(command: &'static str, outcome: &'static str, elapsed: Duration) {
    metrics::counter!("sy_intake_commands_total", "command" => command, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("sy_intake_command_seconds", "command" => command)
        .record(elapsed.as_secs_f64());
}

/// `sy_intake_publish_seconds`: from publish to JetStream's ack.
pub fn published(elapsed: Duration) {
    metrics::histogram!("sy_intake_publish_seconds").record(elapsed.as_secs_f64());
}

/// `sy_intake_conflicts_total`: appends that lost the race and were decided again.
pub fn conflict() {
    metrics::counter!("sy_intake_conflicts_total").increment(1);
}

/// `sy_intake_nats_connected`: 1 while connected to NATS.
pub fn connected(up: bool) {
    metrics::gauge!("sy_intake_nats_connected").set(if up { 1.0 } else { 0.0 });
}
