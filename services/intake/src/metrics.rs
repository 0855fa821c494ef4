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

/// `sy_intake_conflicts_total{kind}`: appends that lost the race to another
/// writer (an intake replica) and were decided again after a pause.
pub fn conflict(kind: &'static str) {
    metrics::counter!("sy_intake_conflicts_total", "kind" => kind).increment(1);
}

/// `sy_intake_turn_wait_seconds{kind}`: how long a command waited for the
/// commands before it on the same aggregate.
pub fn turn_waited(kind: &'static str, elapsed: Duration) {
    metrics::histogram!("sy_intake_turn_wait_seconds", "kind" => kind)
        .record(elapsed.as_secs_f64());
}

/// `sy_intake_nats_connected`: 1 while connected to NATS.
pub fn connected(up: bool) {
    metrics::gauge!("sy_intake_nats_connected").set(if up { 1.0 } else { 0.0 });
}

/// `sy_intake_log_reachable`: 1 while JetStream answers the readiness probe
/// in time; `sy_intake_log_probe_seconds`: how long each answer took.
pub fn probed(answered: Option<Duration>) {
    metrics::gauge!("sy_intake_log_reachable").set(if answered.is_some() { 1.0 } else { 0.0 });
    if let Some(elapsed) = answered {
        metrics::histogram!("sy_intake_log_probe_seconds").record(elapsed.as_secs_f64());
    }
}

/// `sy_intake_clock_actions_total{effect,outcome}`: supervision clock
/// actions tried; effect `reminder` or `escalation`, outcome `recorded`,
/// `replayed` (another replica or an earlier try recorded it), `refused`
/// (no longer needed) or `failed` (retried on the next tick).
pub fn clock_action(effect: &'static str, outcome: &'static str) {
    metrics::counter!("sy_intake_clock_actions_total", "effect" => effect, "outcome" => outcome)
        .increment(1);
}

/// `sy_intake_clock_ticks_total`: ticks of the supervision clocks that ran
/// to their end (every due action recorded, refused or failed).
pub fn clock_ticked() {
    metrics::counter!("sy_intake_clock_ticks_total").increment(1);
}

/// `sy_intake_clock_requests`: open requests the supervision clocks watch.
pub fn clocks_watched(requests: usize) {
    metrics::gauge!("sy_intake_clock_requests").set(requests as f64);
}
