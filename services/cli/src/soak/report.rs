//! The soak report (`sy soak run --out`, read by `sy soak check`) and the
//! marks file of the fault script.
//!
//! The report is one JSON object: the run's settings, the marks, one entry
//! per command (its idempotency key and acting agency, which together name
//! its event in the log, when it was first sent and acknowledged, how many
//! attempts it took and how it ended) and one per read. Times are Unix
//! milliseconds, the clock of the marks, so a fault script on the same host
//! and the report line up without conversion.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The format of this release's reports; a reader refuses others.
pub const FORMAT: u32 = 1;

/// Everything a soak run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format: u32,
    /// Prefix of every idempotency key of the run (`soak-<run id>-<n>`).
    pub run_id: String,
    pub started_ms: i64,
    pub ended_ms: i64,
    /// Commands per second, as asked.
    pub rate: u32,
    pub duration_ms: u64,
    pub give_up_ms: u64,
    pub intake_urls: Vec<String>,
    pub query_urls: Vec<String>,
    /// Ended early by SIGINT or SIGTERM.
    pub interrupted: bool,
    /// The marks file the run was given, and what it held at the end.
    pub marks_file: Option<PathBuf>,
    pub marks: Vec<Mark>,
    pub commands: Vec<CommandRecord>,
    pub reads: Vec<ReadRecord>,
}

/// One command, from its first attempt to its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRecord {
    pub key: String,
    /// The agency it acted as: intake deduplicates by agency and key.
    pub agency: String,
    pub first_attempt_ms: i64,
    /// When intake acknowledged it (JetStream stored the event).
    pub ack_ms: Option<i64>,
    /// When it ended: acknowledged, given up, refused for good or interrupted.
    pub done_ms: i64,
    pub attempts: u32,
    pub outcome: Outcome,
    /// The last failure (`CODE: message`), when there was one.
    pub last_status: Option<String>,
    pub aggregate_id: Option<String>,
    pub position: Option<u64>,
}

impl CommandRecord {
    pub fn acknowledged(&self) -> bool {
        matches!(self.outcome, Outcome::Written | Outcome::Replayed)
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Acknowledged; this attempt wrote the event.
    Written,
    /// Acknowledged from the log: an earlier attempt, whose answer was lost,
    /// had written it.
    Replayed,
    /// Not acknowledged: given up after `--give-up`, or refused for a reason
    /// no retry changes (`last_status` says which).
    Failed,
    /// Still pending when the run was interrupted.
    Interrupted,
}

/// One read of a projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadRecord {
    /// When the answer (or the failure) came.
    pub at_ms: i64,
    pub call: String,
    /// Index into `query_urls` of the replica asked.
    pub url: usize,
    pub ok: bool,
    /// The gRPC code of a failed read.
    pub code: Option<String>,
}

/// A line of the fault script: when, and what (`fault`, `heal`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub at_ms: i64,
    pub label: String,
}

impl Mark {
    /// A fault began: the label's first word is `fault` (`fault`, `fault kill
    /// the leader`).
    pub fn is_fault(&self) -> bool {
        self.label.split_whitespace().next() == Some("fault")
    }
}

/// Parses a marks file: `<unix ms> <label>` per line; blank lines and lines
/// starting with `#` are skipped. An error names the line.
pub fn parse_marks(text: &str) -> Result<Vec<Mark>, String> {
    let mut marks = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (at, label) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let at_ms = at.parse::<i64>().map_err(|_| {
            format!(
                "line {}: {at:?} is not a time in Unix milliseconds",
                number + 1
            )
        })?;
        let label = label.trim();
        if label.is_empty() {
            return Err(format!("line {}: the mark has no label", number + 1));
        }
        marks.push(Mark {
            at_ms,
            label: label.to_string(),
        });
    }
    marks.sort_by_key(|mark| mark.at_ms);
    Ok(marks)
}

/// Reads and parses the marks file at `path`.
pub fn read_marks(path: &Path) -> Result<Vec<Mark>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(Error::io(format!("reading marks {}", path.display())))?;
    parse_marks(&text).map_err(|reason| Error::Usage(format!("marks {}: {reason}", path.display())))
}

impl Report {
    /// Reads a report written by `sy soak run`.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(Error::io(format!("reading report {}", path.display())))?;
        let report: Report = serde_json::from_str(&text).map_err(|err| {
            Error::Usage(format!("{} is not a soak report: {err}", path.display()))
        })?;
        if report.format != FORMAT {
            return Err(Error::Usage(format!(
                "{} is a soak report of format {}; this sy reads format {FORMAT}",
                path.display(),
                report.format
            )));
        }
        Ok(report)
    }

    /// Writes the report to `path`: beside it first, then moved into place,
    /// so a crash never leaves half a report under its name.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let what = format!("writing {}", partial.display());
        let file = std::fs::File::create(&partial).map_err(Error::io(what.clone()))?;
        let mut writer = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut writer, self)
            .map_err(|err| Error::io(what.clone())(err.into()))?;
        writer.write_all(b"\n").map_err(Error::io(what.clone()))?;
        let file = writer
            .into_inner()
            .map_err(|err| Error::io(what.clone())(err.into_error()))?;
        file.sync_all().map_err(Error::io(what))?;
        std::fs::rename(&partial, path).map_err(Error::io(format!(
            "moving {} to {}",
            partial.display(),
            path.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_parse_in_time_order_and_name_bad_lines() {
        let marks =
            parse_marks("# campaign\n1765000020000 heal\n\n1765000000000 fault kill the leader\n")
                .unwrap();
        assert_eq!(
            marks,
            vec![
                Mark {
                    at_ms: 1_765_000_000_000,
                    label: "fault kill the leader".into()
                },
                Mark {
                    at_ms: 1_765_000_020_000,
                    label: "heal".into()
                },
            ]
        );
        assert!(marks[0].is_fault());
        assert!(!marks[1].is_fault());
        assert!(
            !Mark {
                at_ms: 0,
                label: "faulty".into()
            }
            .is_fault()
        );
        let err = parse_marks("1765000000000 fault\nyesterday heal\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(
            parse_marks("1765000000000\n")
                .unwrap_err()
                .contains("no label")
        );
    }

    #[test]
    fn a_report_is_written_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        let report = Report {
            format: FORMAT,
            run_id: "r".into(),
            started_ms: 1,
            ended_ms: 2,
            rate: 40,
            duration_ms: 1000,
            give_up_ms: 60_000,
            intake_urls: vec!["http://a".into()],
            query_urls: vec!["http://b".into()],
            interrupted: false,
            marks_file: None,
            marks: vec![],
            commands: vec![CommandRecord {
                key: "soak-r-000000".into(),
                agency: "unit-31001".into(),
                first_attempt_ms: 1,
                ack_ms: Some(2),
                done_ms: 2,
                attempts: 1,
                outcome: Outcome::Replayed,
                last_status: None,
                aggregate_id: Some("id".into()),
                position: Some(7),
            }],
            reads: vec![],
        };
        report.write(&path).unwrap();
        assert_eq!(Report::read(&path).unwrap(), report);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"outcome\": \"replayed\""), "{text}");
        std::fs::write(&path, text.replace("\"format\": 1", "\"format\": 9")).unwrap();
        assert!(matches!(Report::read(&path), Err(Error::Usage(_))));
    }
}
