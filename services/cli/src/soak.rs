//! `sy soak`: the load and the check of a fault campaign. While a script
//! kills, pauses, partitions and restarts parts of a deployment, `sy soak
//! run` keeps a steady load of submissions whose clients retry with their
//! idempotency keys (as a real agency system must) and keeps reading from
//! the projections; it writes what happened to every command and read into a
//! report. `sy soak check` then reads the log itself as the auditor and says,
//! in one markdown table row per fault, whether every acknowledged command
//! is in the log exactly once, how long writes and reads were unavailable
//! and how long the system took to recover.
//!
//! Layout: `report` is the report's format and the marks file (lines the
//! fault script appends: `<unix ms> <label>`); `run` drives the load;
//! `check` reads the log and measures. The measures themselves are pure
//! functions of the report, so they are tested without a deployment.

pub mod check;
pub mod report;
pub mod run;

/// Now, in milliseconds since the Unix epoch: the clock the report and the
/// fault script's marks share.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
