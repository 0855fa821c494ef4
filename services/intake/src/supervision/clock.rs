//! Where the supervision clocks read the time: the system's, or for
//! end-to-end tests with real binaries a file holding an RFC 3339 instant,
//! re-read on every tick so a test can move time forward for every intake
//! replica at once. The day is always taken in China time by the caller.

use std::path::PathBuf;

use jiff::Timestamp;

/// Why the time could not be read (only a simulated clock fails).
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// The simulated clock's file could not be read.
    #[error("cannot read the simulated clock file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It does not hold an RFC 3339 instant.
    #[error("the simulated clock file {path} does not hold an RFC 3339 instant: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: jiff::Error,
    },
}

/// The time, as the clocks see it.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Result<Timestamp, ClockError>;
}

/// The system's time: production.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Result<Timestamp, ClockError> {
        Ok(Timestamp::now())
    }
}

/// The instant written in a file (`--simulated-clock-file`): development
/// and tests only.
pub struct FileClock {
    /// The file holding the instant.
    pub path: PathBuf,
}

impl Clock for FileClock {
    fn now(&self) -> Result<Timestamp, ClockError> {
        let text = std::fs::read_to_string(&self.path).map_err(|source| ClockError::Read {
            path: self.path.clone(),
            source,
        })?;
        text.trim().parse().map_err(|source| ClockError::Parse {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_clock_reads_its_instant_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let clock = FileClock {
            path: dir.path().join("now"),
        };
        assert!(matches!(clock.now(), Err(ClockError::Read { .. })));
        std::fs::write(&clock.path, "2026-12-10T01:00:00+08:00\n").unwrap();
        assert_eq!(
            clock.now().unwrap(),
            "2026-12-09T17:00:00Z".parse::<Timestamp>().unwrap()
        );
        std::fs::write(&clock.path, "tomorrow").unwrap();
        let err = clock.now().unwrap_err().to_string();
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
