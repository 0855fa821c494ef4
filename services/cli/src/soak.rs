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

use std::time::Duration;

/// Parses a duration as `60s`, `1m 30s`, `500ms` or ISO 8601 (`PT60S`):
/// positive, for flags such as `--duration`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|err| format!("{text:?} is not a duration such as 60s or 1m30s: {err}"))?;
    let duration =
        Duration::try_from(parsed).map_err(|_| format!("{text:?} must not be negative"))?;
    if duration.is_zero() {
        return Err(format!("{text:?} must be longer than zero"));
    }
    Ok(duration)
}

/// Now, in milliseconds since the Unix epoch: the clock the report and the
/// fault script's marks share.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_the_friendly_and_iso_forms() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("PT2S"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
