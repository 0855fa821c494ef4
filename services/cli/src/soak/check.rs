//! `sy soak check`: a soak report against the log, as one table row.
//!
//! The log is read from JetStream as the auditor, every event of the
//! stream, not through a service: the point is to learn whether what
//! clients were told (acknowledged) is what the source of truth holds. An
//! event names its command by the acting agency (`actor.agency`) and the
//! caller's `idempotency_key`, the pair intake deduplicates on; a run's keys
//! are its own (`soak-<run id>-<n>`), so other traffic in the log is left
//! out. The times (unavailability, recovery, read gaps) are computed from
//! the report alone, by the pure functions below.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::time::Duration;

use prost::Message as _;
use serde::Serialize;
use sy_domain::pb::EventEnvelope;

use super::report::{self, Mark, Outcome, Report};
use crate::args::SoakCheckArgs;
use crate::error::Error;
use crate::log;

/// The positions of each of the run's commands in the log, by (agency, key).
pub type Found = HashMap<(String, String), Vec<u64>>;

/// What `check` prints: the row's columns, then the evidence behind them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub label: String,
    pub acknowledged: usize,
    pub found_in_log: usize,
    pub duplicates: usize,
    pub failed_after_retries: usize,
    pub longest_unavailability_s: f64,
    pub recovery_s: f64,
    pub longest_read_gap_s: f64,
    /// Commands still pending when the run was interrupted.
    pub interrupted: usize,
    /// Commands the client gave up on (or was interrupted on) whose event is
    /// in the log all the same: an outcome the client could not know.
    pub unacknowledged_but_written: usize,
    /// Acknowledged commands not in the log where acknowledged, and why.
    pub missing: Vec<String>,
    pub duplicated: Vec<Duplicate>,
}

/// A command with more than one event in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    pub agency: String,
    pub key: String,
    pub positions: Vec<u64>,
}

impl Row {
    /// The markdown table row.
    pub fn markdown(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} |",
            self.label.replace('|', "\\|"),
            self.acknowledged,
            self.found_in_log,
            self.duplicates,
            self.failed_after_retries,
            self.longest_unavailability_s,
            self.recovery_s,
            self.longest_read_gap_s
        )
    }

    /// Whether the log holds every acknowledged command exactly once.
    pub fn holds(&self) -> bool {
        self.missing.is_empty() && self.duplicated.is_empty()
    }
}

/// Runs `sy soak check`.
pub async fn run(args: &SoakCheckArgs, timeout: Duration) -> Result<(), Error> {
    let report = Report::read(&args.report)?;
    let marks = match &args.marks {
        Some(path) => report::read_marks(path)?,
        None => report.marks.clone(),
    };
    let found = find_in_log(args, &report, timeout).await?;
    let row = assess(&args.label, &report, &marks, &found, args.unavailable_after);
    if args.json {
        // Strings, numbers and lists only: cannot fail.
        say!("{}", serde_json::to_string(&row).unwrap_or_default());
    } else {
        say!("{}", row.markdown());
    }
    if row.holds() {
        return Ok(());
    }
    let mut stderr = std::io::stderr().lock();
    for missing in &row.missing {
        let _ = writeln!(stderr, "missing: {missing}");
    }
    for duplicate in &row.duplicated {
        let _ = writeln!(
            stderr,
            "duplicate: {} (agency {}) written at positions {:?}",
            duplicate.key, duplicate.agency, duplicate.positions
        );
    }
    Err(Error::Verification(format!(
        "{} acknowledged commands missing from the log, {} written more than once",
        row.missing.len(),
        row.duplicated.len()
    )))
}

/// Reads every event of the log and notes where each of the run's commands is.
async fn find_in_log(
    args: &SoakCheckArgs,
    report: &Report,
    timeout: Duration,
) -> Result<Found, Error> {
    let wanted: HashSet<(&str, &str)> = report
        .commands
        .iter()
        .map(|c| (c.agency.as_str(), c.key.as_str()))
        .collect();
    let log = log::open(&args.log, timeout).await?;
    let last = log.last_position().await?;
    let mut range = log.range(1, last, timeout).await?;
    let bar = log::progress(last, "reading the log");
    let mut found = Found::new();
    while let Some(event) = range.next().await? {
        bar.inc(1);
        // An event that does not decode names no command: `sy verify` is
        // the tool that reports it.
        let Ok(envelope) = EventEnvelope::decode(event.payload.as_ref()) else {
            continue;
        };
        let agency = envelope.actor.map(|a| a.agency).unwrap_or_default();
        if wanted.contains(&(agency.as_str(), envelope.idempotency_key.as_str())) {
            found
                .entry((agency, envelope.idempotency_key))
                .or_default()
                .push(event.position);
        }
    }
    bar.finish_and_clear();
    Ok(found)
}

/// The row for `report`, its commands found in the log as `found`.
pub fn assess(
    label: &str,
    report: &Report,
    marks: &[Mark],
    found: &Found,
    unavailable_after: Duration,
) -> Row {
    let mut row = Row {
        label: label.to_string(),
        acknowledged: 0,
        found_in_log: 0,
        duplicates: 0,
        failed_after_retries: 0,
        longest_unavailability_s: 0.0,
        recovery_s: 0.0,
        longest_read_gap_s: 0.0,
        interrupted: 0,
        unacknowledged_but_written: 0,
        missing: Vec::new(),
        duplicated: Vec::new(),
    };
    for command in &report.commands {
        let positions = found
            .get(&(command.agency.clone(), command.key.clone()))
            .map_or(&[][..], Vec::as_slice);
        if positions.len() > 1 {
            row.duplicated.push(Duplicate {
                agency: command.agency.clone(),
                key: command.key.clone(),
                positions: positions.to_vec(),
            });
        }
        match command.outcome {
            Outcome::Written | Outcome::Replayed => {
                row.acknowledged += 1;
                let at_ack = match command.position {
                    Some(position) => positions.contains(&position),
                    None => !positions.is_empty(),
                };
                if at_ack {
                    row.found_in_log += 1;
                } else {
                    let acked_at = command
                        .position
                        .map_or_else(|| "no position".to_string(), |p| format!("position {p}"));
                    row.missing.push(if positions.is_empty() {
                        format!(
                            "{} (agency {}): acknowledged at {acked_at}, no event in the log",
                            command.key, command.agency
                        )
                    } else {
                        format!(
                            "{} (agency {}): acknowledged at {acked_at}, in the log at {positions:?}",
                            command.key, command.agency
                        )
                    });
                }
            }
            Outcome::Failed | Outcome::Interrupted => {
                if command.outcome == Outcome::Failed {
                    row.failed_after_retries += 1;
                } else {
                    row.interrupted += 1;
                }
                if !positions.is_empty() {
                    row.unacknowledged_but_written += 1;
                }
            }
        }
    }
    row.duplicates = row.duplicated.len();
    let windows = unavailability(report);
    row.longest_unavailability_s = seconds(windows.iter().map(|(s, e)| e - s).max());
    row.recovery_s = seconds(recovery(&windows, marks, unavailable_after));
    row.longest_read_gap_s = seconds(longest_read_gap(report));
    row
}

fn seconds(ms: Option<i64>) -> f64 {
    ms.unwrap_or(0).max(0) as f64 / 1000.0
}

/// The windows (start, end; Unix ms) in which commands were pending and none
/// was acknowledged: a window opens when a command becomes pending with none
/// before it, or at an acknowledgement with commands still pending, and
/// closes at the next acknowledgement or when nothing is pending any more.
pub fn unavailability(report: &Report) -> Vec<(i64, i64)> {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Point {
        Start,
        End { acknowledged: bool },
    }
    let mut points: Vec<(i64, Point)> = report
        .commands
        .iter()
        .flat_map(|c| {
            [
                (c.first_attempt_ms, Point::Start),
                (
                    c.ack_ms.unwrap_or(c.done_ms).max(c.first_attempt_ms),
                    Point::End {
                        acknowledged: c.acknowledged(),
                    },
                ),
            ]
        })
        .collect();
    points.sort();
    let mut windows = Vec::new();
    let mut pending = 0usize;
    let mut open: Option<i64> = None;
    for (at, point) in points {
        match point {
            Point::Start => {
                if pending == 0 {
                    open = Some(at);
                }
                pending += 1;
            }
            Point::End { acknowledged } => {
                pending = pending.saturating_sub(1);
                if acknowledged || pending == 0 {
                    if let Some(start) = open.take() {
                        windows.push((start, at));
                    }
                    if pending > 0 {
                        open = Some(at);
                    }
                }
            }
        }
    }
    windows
}

/// From the first `fault` mark to the end of the last window of at least
/// `unavailable_after` that began after it or was under way at it (a
/// window opens at the last acknowledgement before the outage, which may
/// precede the mark); `None` without a fault mark or such a window.
pub fn recovery(
    windows: &[(i64, i64)],
    marks: &[Mark],
    unavailable_after: Duration,
) -> Option<i64> {
    let fault = marks.iter().find(|mark| mark.is_fault())?.at_ms;
    let shortest = i64::try_from(unavailable_after.as_millis()).unwrap_or(i64::MAX);
    windows
        .iter()
        .filter(|(start, end)| *end > fault && end - start >= shortest)
        .map(|(_, end)| end - fault)
        .max()
}

/// The longest interval of the run without a successful read (from its
/// start to the first, between two, from the last to its end).
pub fn longest_read_gap(report: &Report) -> Option<i64> {
    let mut times: Vec<i64> = report
        .reads
        .iter()
        .filter(|read| read.ok)
        .map(|read| read.at_ms)
        .collect();
    times.push(report.started_ms);
    times.push(report.ended_ms);
    times.sort_unstable();
    times.windows(2).map(|pair| pair[1] - pair[0]).max()
}

#[cfg(test)]
mod tests {
    use super::super::report::{CommandRecord, FORMAT, ReadRecord};
    use super::*;

    fn command(n: u32, first: i64, done: i64, outcome: Outcome, position: u64) -> CommandRecord {
        let acknowledged = matches!(outcome, Outcome::Written | Outcome::Replayed);
        CommandRecord {
            key: format!("soak-r-{n:06}"),
            agency: "unit-31001".into(),
            first_attempt_ms: first,
            ack_ms: acknowledged.then_some(done),
            done_ms: done,
            attempts: 1,
            outcome,
            last_status: None,
            aggregate_id: None,
            position: acknowledged.then_some(position),
        }
    }

    fn read(at_ms: i64, ok: bool) -> ReadRecord {
        ReadRecord {
            at_ms,
            call: "GetRequest".into(),
            url: 0,
            ok,
            code: (!ok).then(|| "UNAVAILABLE".into()),
        }
    }

    fn report(commands: Vec<CommandRecord>, reads: Vec<ReadRecord>) -> Report {
        Report {
            format: FORMAT,
            run_id: "r".into(),
            started_ms: 0,
            ended_ms: 20_000,
            rate: 1,
            duration_ms: 20_000,
            give_up_ms: 60_000,
            intake_urls: vec![],
            query_urls: vec![],
            interrupted: false,
            marks_file: None,
            marks: vec![],
            commands,
            reads,
        }
    }

    fn fault_at(at_ms: i64) -> Vec<Mark> {
        vec![
            Mark {
                at_ms,
                label: "fault".into(),
            },
            Mark {
                at_ms: at_ms + 3000,
                label: "heal".into(),
            },
        ]
    }

    #[test]
    fn an_outage_is_the_longest_window_and_recovery_ends_with_it() {
        // Acks every second, then none from 4.1 s to 9.5 s while commands
        // wait (an outage), then acks again.
        let report = report(
            vec![
                command(0, 1000, 1010, Outcome::Written, 1),
                command(1, 2000, 2010, Outcome::Written, 2),
                command(2, 3000, 3020, Outcome::Written, 3),
                command(3, 4000, 4100, Outcome::Written, 4),
                command(4, 5000, 9500, Outcome::Replayed, 5),
                command(5, 6000, 9600, Outcome::Written, 6),
                command(6, 11_000, 11_010, Outcome::Written, 7),
            ],
            vec![],
        );
        let windows = unavailability(&report);
        assert_eq!(
            windows,
            vec![
                (1000, 1010),
                (2000, 2010),
                (3000, 3020),
                (4000, 4100),
                (5000, 9500),
                (9500, 9600),
                (11_000, 11_010)
            ]
        );
        let row = assess(
            "kill",
            &report,
            &fault_at(4500),
            &Found::new(),
            Duration::from_secs(1),
        );
        assert_eq!(row.longest_unavailability_s, 4.5);
        assert_eq!(row.recovery_s, 5.0, "from the mark at 4.5 s to 9.5 s");
        // Without a fault mark, or with a threshold no window reaches: 0.
        assert_eq!(recovery(&windows, &[], Duration::from_secs(1)), None);
        assert_eq!(
            recovery(&windows, &fault_at(4500), Duration::from_secs(5)),
            None
        );
        // A window under way at the mark counts.
        assert_eq!(
            recovery(&windows, &fault_at(9000), Duration::from_secs(1)),
            Some(500)
        );
    }

    #[test]
    fn a_given_up_command_ends_its_window() {
        let report = report(
            vec![
                command(0, 1000, 1010, Outcome::Written, 1),
                command(1, 2000, 8000, Outcome::Failed, 0),
            ],
            vec![],
        );
        assert_eq!(unavailability(&report), vec![(1000, 1010), (2000, 8000)]);
        let row = assess("pause", &report, &[], &Found::new(), Duration::from_secs(1));
        assert_eq!(row.failed_after_retries, 1);
        assert_eq!(row.longest_unavailability_s, 6.0);
        assert_eq!(row.recovery_s, 0.0);
    }

    #[test]
    fn found_duplicated_and_missing_commands_are_told_apart() {
        let report = report(
            vec![
                command(0, 1000, 1010, Outcome::Written, 1),
                command(1, 2000, 2010, Outcome::Replayed, 2),
                command(2, 3000, 3010, Outcome::Written, 3),
                command(3, 4000, 4010, Outcome::Written, 9),
                command(4, 5000, 8000, Outcome::Failed, 0),
            ],
            vec![],
        );
        let key = |n: u32| ("unit-31001".to_string(), format!("soak-r-{n:06}"));
        let found: Found = [
            (key(0), vec![1]),
            (key(1), vec![2, 5]),
            (key(3), vec![4]),
            (key(4), vec![6]),
        ]
        .into_iter()
        .collect();
        let row = assess("partition", &report, &[], &found, Duration::from_secs(1));
        assert_eq!(row.acknowledged, 4);
        assert_eq!(row.found_in_log, 2);
        assert_eq!(row.duplicates, 1);
        assert_eq!(row.duplicated[0].positions, vec![2, 5]);
        assert_eq!(row.failed_after_retries, 1);
        assert_eq!(row.unacknowledged_but_written, 1);
        assert_eq!(row.missing.len(), 2);
        assert!(
            row.missing[0].contains("soak-r-000002"),
            "{:?}",
            row.missing
        );
        assert!(row.missing[0].ends_with("no event in the log"));
        assert!(
            row.missing[1].ends_with("in the log at [4]"),
            "{:?}",
            row.missing
        );
        assert!(!row.holds());
        assert_eq!(
            row.markdown(),
            "| partition | 4 | 2 | 1 | 1 | 3.0 | 0.0 | 20.0 |"
        );
    }

    #[test]
    fn the_read_gap_runs_between_successes_and_to_the_ends_of_the_run() {
        let gap = |reads| longest_read_gap(&report(vec![], reads));
        assert_eq!(gap(vec![]), Some(20_000));
        assert_eq!(
            gap(vec![
                read(500, true),
                read(1000, true),
                read(2000, false),
                read(7000, false),
                read(8000, true),
                read(19_000, true),
            ]),
            Some(11_000)
        );
        assert_eq!(
            gap(vec![
                read(4000, true),
                read(12_000, true),
                read(16_000, true)
            ]),
            Some(8000)
        );
    }
}
