//! The projection's metrics, in one place (gRPC call latency comes from the
//! shared layer in `sy-api`).

use std::time::Duration;

use crate::read_model::BatchOutcome;

/// Per folded batch: `sy_projection_batches_total`,
/// `sy_projection_events_total{verdict}`,
/// `sy_projection_signature_refusals_total` (events quarantined for their
/// signature: a forgery, or intake without its key), `sy_projection_fold_seconds`,
/// and the applied position.
pub fn batch(outcome: &BatchOutcome, elapsed: Duration) {
    metrics::counter!("sy_projection_batches_total").increment(1);
    for (verdict, count) in [
        ("applied", outcome.applied),
        ("ignored", outcome.ignored),
        ("redelivered", outcome.redelivered),
        ("quarantined", outcome.quarantined.len()),
    ] {
        metrics::counter!("sy_projection_events_total", "verdict" => verdict)
            .increment(count as u64);
    }
    metrics::counter!("sy_projection_signature_refusals_total").increment(outcome.unsigned as u64);
    metrics::histogram!("sy_projection_fold_seconds").record(elapsed.as_secs_f64());
    applied(outcome.checkpoint);
}

/// `sy_projection_applied_position`: the checkpoint.
pub fn applied(position: u64) {
    metrics::gauge!("sy_projection_applied_position").set(position as f64);
}

/// `sy_projection_log_position`, `sy_projection_lag_events` and
/// `sy_projection_lag_seconds` (age of the newest applied event while behind,
/// else 0); `sy_projection_log_reachable`.
pub fn lag(log_position: Option<u64>, lag_events: u64, lag_seconds: f64) {
    metrics::gauge!("sy_projection_log_reachable").set(if log_position.is_some() {
        1.0
    } else {
        0.0
    });
    if let Some(position) = log_position {
        metrics::gauge!("sy_projection_log_position").set(position as f64);
    }
    metrics::gauge!("sy_projection_lag_events").set(lag_events as f64);
    metrics::gauge!("sy_projection_lag_seconds").set(lag_seconds);
}

/// `sy_projection_quarantined`: events the fold refused, in total.
pub fn quarantined(total: u64) {
    metrics::gauge!("sy_projection_quarantined").set(total as f64);
}

/// `sy_projection_fold_blocked{reason="disk_full"}`: 1 while the fold waits
/// for disk space, else 0.
pub fn disk_full(blocked: bool) {
    metrics::gauge!("sy_projection_fold_blocked", "reason" => "disk_full").set(if blocked {
        1.0
    } else {
        0.0
    });
}

/// `sy_projection_fold_stalled_seconds`: how long the log has been ahead
/// without the fold advancing (0 while it advances or is caught up).
pub fn stalled(for_: Duration) {
    metrics::gauge!("sy_projection_fold_stalled_seconds").set(for_.as_secs_f64());
}

/// `sy_projection_webhook_attempts_total{outcome}`: POSTs to webhook
/// receivers, `delivered` or `failed`.
pub fn webhook_attempt(delivered: bool) {
    let outcome = if delivered { "delivered" } else { "failed" };
    metrics::counter!("sy_projection_webhook_attempts_total", "outcome" => outcome).increment(1);
}

/// `sy_projection_webhook_dead_letters_total`: notifications given up
/// after their last attempt.
pub fn webhook_dead_letter() {
    metrics::counter!("sy_projection_webhook_dead_letters_total").increment(1);
}
