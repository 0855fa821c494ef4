//! The clearance board (销号清零), kept as counters updated on every event
//! instead of scans over requests.
//!
//! A request counts in five rows: the total, its department (`(unassigned)`
//! until assigned), category, supervision level and direction. Each row holds
//! fixed counters (submitted, open, awaiting confirmation, closed, rejected,
//! close-time statistics, the requesters' satisfaction ratings, and closed
//! on or before the due date, for the on-time close rate). [`delta`] is a pure function of the request before
//! and after an event: it subtracts the old request's contribution and adds
//! the new one's, so a request that moves row (reassigned, escalated) or
//! changes status leaves its old row and enters the new one.
//!
//! Satisfaction (满意度) counts ratings, read from the request like every
//! other counter: a closed request counts under its close-out's rating (or
//! as not rated when closed before ratings existed), and every 不满意 it
//! received counts from the request's `dissatisfied_count`, which only
//! grows, so the rating stays counted after the request is reopened,
//! worked and closed again. Department rows count under the department the
//! request is assigned to.
//!
//! Overdue depends on the day asked about, so it cannot be one counter.
//! Instead `due/<row>/<YYYY-MM-DD>` counts the unresolved requests of a row
//! due on that day; overdue as of D is the sum of a row's counters for days
//! before D. That is a range over distinct due dates, not over requests: a
//! board read costs the number of days with something due, however many
//! requests there are.
//!
//! Board tree keys: `row/<dimension>:<key>` → [`FIELDS`] u64 BE counters;
//! `due/<dimension>:<key>/<YYYY-MM-DD>` → u64 BE. The date is always the last
//! ten bytes of a due key, so a row key that itself contains `/` cannot be
//! confused with another row's (a row's due keys have exactly its prefix's
//! length plus ten). Counters that fall to zero are removed, so the tree is a
//! function of the counts alone.
//!
//! The same tree holds the board by period and place
//! ([`super::board_period`]), which reuses this module's per-request
//! contribution and row rendering.

use std::collections::BTreeMap;

use jiff::civil::Date;
use sy_domain::event::to_jiff;
use sy_domain::pb::{self, RequestStatus};
use sy_domain::request::{is_open, is_unresolved};
use sy_domain::validate::china_date;

use super::keys::{DATE_LEN, ROW_PREFIX, due_date, due_key, read_u64, row_key};
use super::{ReadModelError, counters};

/// Counters per row, in this order.
pub const FIELDS: usize = 18;
const SUBMITTED: usize = 0;
const OPEN: usize = 1;
const AWAITING_CONFIRMATION: usize = 2;
const CLOSED: usize = 3;
const REJECTED: usize = 4;
const CLOSE_COUNT: usize = 5;
const CLOSE_TOTAL_SECONDS: usize = 6;
/// Close-time buckets are cumulative, as their names say: a request closed in
/// two hours counts in `within_1_day` and in every longer `within_*`.
const WITHIN_1_DAY: usize = 7;
const WITHIN_7_DAYS: usize = 8;
const WITHIN_30_DAYS: usize = 9;
const WITHIN_90_DAYS: usize = 10;
const OVER_90_DAYS: usize = 11;
const SATISFIED: usize = 12;
const BASICALLY_SATISFIED: usize = 13;
const DISSATISFIED: usize = 14;
const NOT_RATED: usize = 15;
/// Closed requests that had a due date, and those closed on or before it.
const CLOSED_WITH_DUE_DATE: usize = 16;
const CLOSED_ON_TIME: usize = 17;

const DAY_SECONDS: i64 = 24 * 60 * 60;

/// Row key of requests without a department.
pub const UNASSIGNED: &str = "(unassigned)";

pub type Counts = [u64; FIELDS];
pub type CountDelta = [i64; FIELDS];

/// The groupings of the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dimension {
    Total,
    Department,
    Category,
    SupervisionLevel,
    Direction,
}

impl Dimension {
    const ALL: [Dimension; 5] = [
        Dimension::Total,
        Dimension::Department,
        Dimension::Category,
        Dimension::SupervisionLevel,
        Dimension::Direction,
    ];

    fn name(self) -> &'static str {
        match self {
            Dimension::Total => "total",
            Dimension::Department => "department",
            Dimension::Category => "category",
            Dimension::SupervisionLevel => "supervision_level",
            Dimension::Direction => "direction",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Dimension::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The row of this dimension `request` counts in (`dimension:key`).
    fn row_of(self, request: &pb::Request) -> String {
        let key = self.key_of(request);
        let mut row = String::with_capacity(self.name().len() + 1 + key.len());
        row.push_str(self.name());
        row.push(':');
        row.push_str(key);
        row
    }

    fn key_of(self, request: &pb::Request) -> &str {
        match self {
            Dimension::Total => "",
            Dimension::Department => department_of(request),
            Dimension::Category => request.category().as_str_name(),
            Dimension::SupervisionLevel => request.supervision_level().as_str_name(),
            Dimension::Direction => request.direction().as_str_name(),
        }
    }
}

/// The department row a request counts in.
pub fn department_of(request: &pb::Request) -> &str {
    match request.department.as_str() {
        "" => UNASSIGNED,
        department => department,
    }
}

/// Changes to board counters caused by one event, keyed by board tree key.
/// Entries that net to zero are dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delta {
    /// Counters of [`FIELDS`] values: the rows here, and the period rows of
    /// [`super::board_period`].
    pub rows: BTreeMap<String, CountDelta>,
    /// Single counters: the due counters here, and the dated counters of
    /// [`super::board_period`].
    pub due: BTreeMap<String, i64>,
}

/// The counter changes when a request goes from `before` (`None`: it did not
/// exist) to `after`.
pub fn delta(before: Option<&pb::Request>, after: &pb::Request) -> Delta {
    let mut delta = Delta::default();
    if before.is_some_and(|before| counted_alike(before, after)) {
        return delta; // most events (progress notes) move no counter
    }
    if let Some(before) = before {
        delta.add(before, -1);
    }
    delta.add(after, 1);
    delta.prune();
    delta
}

/// Whether two versions of a request agree on every field the board reads.
fn counted_alike(a: &pb::Request, b: &pb::Request) -> bool {
    contributes_alike(a, b)
        && a.category == b.category
        && a.supervision_level == b.supervision_level
        && a.direction == b.direction
}

/// Whether two versions of a request agree on every field [`contribution`]
/// and [`department_of`] read, so their row counters are the same. The
/// board by period and place keeps the same counters and skips on this
/// too: a field added to the contribution (as the ratings were) moves both
/// boards alike, never only the unfiltered one.
pub fn contributes_alike(a: &pb::Request, b: &pb::Request) -> bool {
    a.status == b.status
        && a.department == b.department
        && a.due_date == b.due_date
        && a.submitted_at == b.submitted_at
        && a.closed_at == b.closed_at
        && a.satisfaction == b.satisfaction
        && a.dissatisfied_count == b.dissatisfied_count
}

impl Delta {
    /// Adds `other` to this delta (to sum a batch's events before writing).
    pub fn merge(&mut self, other: Delta) {
        for (key, change) in other.rows {
            let entry = self.rows.entry(key).or_insert([0; FIELDS]);
            for (total, count) in entry.iter_mut().zip(change) {
                *total += count;
            }
        }
        for (key, change) in other.due {
            *self.due.entry(key).or_default() += change;
        }
    }

    /// Drops the entries that net to zero.
    pub fn prune(&mut self) {
        self.rows.retain(|_, counts| counts.iter().any(|c| *c != 0));
        self.due.retain(|_, count| *count != 0);
    }

    /// Adds `sign` times `counts` to the row counters at `key`.
    pub fn add_row(&mut self, key: String, counts: &CountDelta, sign: i64) {
        let entry = self.rows.entry(key).or_insert([0; FIELDS]);
        for (total, count) in entry.iter_mut().zip(counts) {
            *total += sign * count;
        }
    }

    fn add(&mut self, request: &pb::Request, sign: i64) {
        let counts = contribution(request);
        let due = due_date(request).filter(|_| is_unresolved(request.status()));
        for dimension in Dimension::ALL {
            let row = dimension.row_of(request);
            self.add_row(row_key(&row), &counts, sign);
            if let Some(date) = due {
                *self.due.entry(due_key(&row, date)).or_default() += sign;
            }
        }
    }
}

/// What one request adds to each row it counts in.
pub fn contribution(request: &pb::Request) -> CountDelta {
    let status = request.status();
    let mut counts = [0; FIELDS];
    counts[SUBMITTED] = 1;
    counts[OPEN] = i64::from(is_open(status));
    counts[AWAITING_CONFIRMATION] = i64::from(status == RequestStatus::Resolved);
    counts[CLOSED] = i64::from(status == RequestStatus::Closed);
    counts[REJECTED] = i64::from(status == RequestStatus::Rejected);
    if status == RequestStatus::Closed
        && let Some(seconds) = close_seconds(request)
    {
        counts[CLOSE_COUNT] = 1;
        counts[CLOSE_TOTAL_SECONDS] = seconds;
        counts[WITHIN_1_DAY] = i64::from(seconds <= DAY_SECONDS);
        counts[WITHIN_7_DAYS] = i64::from(seconds <= 7 * DAY_SECONDS);
        counts[WITHIN_30_DAYS] = i64::from(seconds <= 30 * DAY_SECONDS);
        counts[WITHIN_90_DAYS] = i64::from(seconds <= 90 * DAY_SECONDS);
        counts[OVER_90_DAYS] = i64::from(seconds > 90 * DAY_SECONDS);
    }
    if status == RequestStatus::Closed {
        let rated = match request.satisfaction() {
            pb::Satisfaction::Satisfied => SATISFIED,
            pb::Satisfaction::BasicallySatisfied => BASICALLY_SATISFIED,
            // A close-out is never rated 不满意 (that reopens instead); a
            // stored one would be damage, and counts as not rated.
            pb::Satisfaction::Dissatisfied | pb::Satisfaction::Unspecified => NOT_RATED,
        };
        counts[rated] = 1;
    }
    counts[DISSATISFIED] = i64::from(request.dissatisfied_count);
    if status == RequestStatus::Closed
        && let Some(due) = due_date(request)
    {
        counts[CLOSED_WITH_DUE_DATE] = 1;
        let closed_on = to_jiff(request.closed_at.as_ref()).map(china_date);
        counts[CLOSED_ON_TIME] =
            i64::from(closed_on.is_some_and(|day| day.to_string().as_str() <= due));
    }
    counts
}

/// Seconds from submission to close-out. Callers may backdate events, so a
/// close stated before its submission counts as zero rather than negative.
fn close_seconds(request: &pb::Request) -> Option<i64> {
    let submitted = to_jiff(request.submitted_at.as_ref())?;
    let closed = to_jiff(request.closed_at.as_ref())?;
    Some(closed.duration_since(submitted).as_secs().max(0))
}

/// Reads the board from the counter tree, with overdue counts as of `as_of`.
pub fn read(tree: &sled::Tree, as_of: Date) -> Result<pb::ClearanceBoard, ReadModelError> {
    let as_of = as_of.to_string();
    let mut board = pb::ClearanceBoard {
        as_of: as_of.clone(),
        total: Some(board_counts(&[0; FIELDS], 0)),
        ..Default::default()
    };
    for entry in tree.scan_prefix(ROW_PREFIX) {
        let (key, value) = entry?;
        let row = std::str::from_utf8(&key[ROW_PREFIX.len()..])
            .map_err(|_| ReadModelError::corrupt("board row key is not utf-8"))?;
        let counts = counters::decode::<FIELDS>(&value)
            .ok_or_else(|| ReadModelError::corrupt(format!("board row {row} is malformed")))?;
        let (dimension, name) = row
            .split_once(':')
            .and_then(|(d, name)| Some((Dimension::parse(d)?, name)))
            .ok_or_else(|| ReadModelError::corrupt(format!("board row {row} is unknown")))?;
        let counts = board_counts(&counts, overdue(tree, row, &as_of)?);
        let row = pb::BoardRow {
            key: name.to_string(),
            counts: Some(counts),
        };
        match dimension {
            Dimension::Total => board.total = row.counts,
            Dimension::Department => board.by_department.push(row),
            Dimension::Category => board.by_category.push(row),
            Dimension::SupervisionLevel => board.by_supervision_level.push(row),
            Dimension::Direction => board.by_direction.push(row),
        }
    }
    Ok(board)
}

/// Unresolved requests of `row` due before `as_of`: a range over due dates.
fn overdue(tree: &sled::Tree, row: &str, as_of: &str) -> Result<u64, ReadModelError> {
    let start = due_key(row, "");
    let end = due_key(row, as_of);
    let mut overdue = 0u64;
    for entry in tree.range(start.as_bytes()..end.as_bytes()) {
        let (key, value) = entry?;
        if key.len() != start.len() + DATE_LEN {
            continue; // another row whose key extends this one's
        }
        let count = read_u64(&value)
            .ok_or_else(|| ReadModelError::corrupt(format!("due counter of {row} is malformed")))?;
        overdue = overdue.saturating_add(count);
    }
    Ok(overdue)
}

/// A row as served, from its counters and its overdue count; the age of
/// what awaits confirmation is left to the caller.
pub fn board_counts(counts: &Counts, overdue: u64) -> pb::BoardCounts {
    let close_count = counts[CLOSE_COUNT];
    let with_due = counts[CLOSED_WITH_DUE_DATE];
    pb::BoardCounts {
        submitted: counts[SUBMITTED],
        open: counts[OPEN],
        overdue,
        awaiting_confirmation: counts[AWAITING_CONFIRMATION],
        closed: counts[CLOSED],
        rejected: counts[REJECTED],
        close_times: Some(pb::CloseTimes {
            count: close_count,
            total_seconds: counts[CLOSE_TOTAL_SECONDS],
            mean_seconds: counts[CLOSE_TOTAL_SECONDS]
                .checked_div(close_count)
                .unwrap_or(0),
            within_1_day: counts[WITHIN_1_DAY],
            within_7_days: counts[WITHIN_7_DAYS],
            within_30_days: counts[WITHIN_30_DAYS],
            within_90_days: counts[WITHIN_90_DAYS],
            over_90_days: counts[OVER_90_DAYS],
        }),
        satisfaction: Some(pb::SatisfactionCounts {
            satisfied: counts[SATISFIED],
            basically_satisfied: counts[BASICALLY_SATISFIED],
            dissatisfied: counts[DISSATISFIED],
            not_rated: counts[NOT_RATED],
        }),
        closed_with_due_date: with_due,
        closed_on_time: counts[CLOSED_ON_TIME],
        on_time_close_rate: match with_due {
            0 => 0.0,
            // Counts stay far below 2^53: exact as f64.
            with_due => counts[CLOSED_ON_TIME] as f64 / with_due as f64,
        },
        awaiting_age: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::RequestStatus as S;

    const SUBMITTED_AT: i64 = 1_780_000_000;

    fn submitted() -> pb::Request {
        let mut request = pb::Request {
            id: "r1".into(),
            submitted_at: Some(prost_types::Timestamp {
                seconds: SUBMITTED_AT,
                nanos: 0,
            }),
            ..Default::default()
        };
        request.set_status(S::Submitted);
        request.set_category(pb::Category::Medical);
        request.set_supervision_level(pb::SupervisionLevel::None);
        request.set_direction(pb::Direction::MilitaryToLocal);
        request
    }

    fn with(request: &pb::Request, change: impl FnOnce(&mut pb::Request)) -> pb::Request {
        let mut next = request.clone();
        change(&mut next);
        next
    }

    fn counts(pairs: &[(usize, i64)]) -> CountDelta {
        let mut counts = [0; FIELDS];
        for (field, value) in pairs {
            counts[*field] = *value;
        }
        counts
    }

    fn rows(pairs: &[(&str, CountDelta)]) -> BTreeMap<String, CountDelta> {
        pairs.iter().map(|(row, c)| (row_key(row), *c)).collect()
    }

    const ALL_ROWS: [&str; 5] = [
        "total:",
        "department:(unassigned)",
        "category:CATEGORY_MEDICAL",
        "supervision_level:SUPERVISION_LEVEL_NONE",
        "direction:DIRECTION_MILITARY_TO_LOCAL",
    ];

    #[test]
    fn a_submission_counts_once_in_each_of_its_rows() {
        let delta = delta(None, &submitted());
        let new = counts(&[(SUBMITTED, 1), (OPEN, 1)]);
        assert_eq!(delta.rows, rows(&ALL_ROWS.map(|row| (row, new))));
        assert!(delta.due.is_empty(), "no due date yet");
    }

    #[test]
    fn assignment_moves_the_department_row_and_starts_the_due_counters() {
        let before = submitted();
        let after = with(&before, |r| {
            r.set_status(S::Assigned);
            r.department = "housing".into();
            r.due_date = "2027-03-01".into();
        });
        let delta = delta(Some(&before), &after);
        let one = counts(&[(SUBMITTED, 1), (OPEN, 1)]);
        assert_eq!(
            delta.rows,
            rows(&[
                ("department:(unassigned)", one.map(|c| -c)),
                ("department:housing", one),
            ])
        );
        let expected_due: BTreeMap<String, i64> = [
            "total:",
            "department:housing",
            "category:CATEGORY_MEDICAL",
            "supervision_level:SUPERVISION_LEVEL_NONE",
            "direction:DIRECTION_MILITARY_TO_LOCAL",
        ]
        .into_iter()
        .map(|row| (due_key(row, "2027-03-01"), 1))
        .collect();
        assert_eq!(delta.due, expected_due);
    }

    #[test]
    fn a_due_date_change_moves_the_due_counters_only() {
        let before = with(&submitted(), |r| r.due_date = "2027-03-01".into());
        let after = with(&before, |r| r.due_date = "2027-04-01".into());
        let delta = delta(Some(&before), &after);
        assert!(delta.rows.is_empty());
        assert_eq!(delta.due.len(), 10);
        assert_eq!(delta.due[&due_key("total:", "2027-03-01")], -1);
        assert_eq!(delta.due[&due_key("total:", "2027-04-01")], 1);
    }

    #[test]
    fn resolution_awaits_confirmation_and_is_no_longer_overdue() {
        let before = with(&submitted(), |r| {
            r.set_status(S::InProgress);
            r.due_date = "2027-03-01".into();
        });
        let after = with(&before, |r| r.set_status(S::Resolved));
        let delta = delta(Some(&before), &after);
        let awaiting = counts(&[(AWAITING_CONFIRMATION, 1)]);
        assert_eq!(delta.rows, rows(&ALL_ROWS.map(|row| (row, awaiting))));
        assert!(delta.due.values().all(|c| *c == -1));
        assert_eq!(delta.due.len(), 5);
    }

    #[test]
    fn close_out_records_the_time_to_close_in_cumulative_buckets() {
        let before = with(&submitted(), |r| r.set_status(S::Resolved));
        let after = with(&before, |r| {
            r.set_status(S::Closed);
            r.closed_at = Some(prost_types::Timestamp {
                seconds: SUBMITTED_AT + 3 * DAY_SECONDS,
                nanos: 0,
            });
        });
        let delta = delta(Some(&before), &after);
        let closed = counts(&[
            (OPEN, -1),
            (AWAITING_CONFIRMATION, -1),
            (CLOSED, 1),
            (NOT_RATED, 1),
            (CLOSE_COUNT, 1),
            (CLOSE_TOTAL_SECONDS, 3 * DAY_SECONDS),
            (WITHIN_7_DAYS, 1),
            (WITHIN_30_DAYS, 1),
            (WITHIN_90_DAYS, 1),
        ]);
        assert_eq!(delta.rows, rows(&ALL_ROWS.map(|row| (row, closed))));
    }

    #[test]
    fn close_times_are_bucketed_and_never_negative() {
        let closed_after = |seconds: i64| {
            contribution(&with(&submitted(), |r| {
                r.set_status(S::Closed);
                r.closed_at = Some(prost_types::Timestamp {
                    seconds: SUBMITTED_AT + seconds,
                    nanos: 0,
                });
            }))
        };
        let backdated = closed_after(-60);
        assert_eq!(backdated[CLOSE_TOTAL_SECONDS], 0);
        assert_eq!(backdated[WITHIN_1_DAY], 1);
        let slow = closed_after(91 * DAY_SECONDS);
        assert_eq!(
            slow[WITHIN_1_DAY..=OVER_90_DAYS],
            [0, 0, 0, 0, 1],
            "only over_90_days"
        );
        let exactly_a_day = closed_after(DAY_SECONDS);
        assert_eq!(exactly_a_day[WITHIN_1_DAY..=OVER_90_DAYS], [1, 1, 1, 1, 0]);
        let untimed = contribution(&with(&submitted(), |r| r.set_status(S::Closed)));
        assert_eq!(untimed[CLOSED], 1);
        assert_eq!(untimed[CLOSE_COUNT], 0, "no close time without timestamps");
    }

    #[test]
    fn a_close_on_the_due_day_in_china_time_is_on_time() {
        // SUBMITTED_AT + 10 days is 2026-06-08 in China; due that day.
        let closed_at = |seconds: i64| {
            contribution(&with(&submitted(), |r| {
                r.set_status(S::Closed);
                r.due_date = "2026-06-08".into();
                r.closed_at = Some(prost_types::Timestamp {
                    seconds: SUBMITTED_AT + seconds,
                    nanos: 0,
                });
            }))
        };
        let on_the_day = closed_at(10 * DAY_SECONDS);
        assert_eq!(on_the_day[CLOSED_WITH_DUE_DATE..=CLOSED_ON_TIME], [1, 1]);
        let next_day = closed_at(11 * DAY_SECONDS);
        assert_eq!(next_day[CLOSED_WITH_DUE_DATE..=CLOSED_ON_TIME], [1, 0]);
        let counts = board_counts(&counters::add([0; FIELDS], &on_the_day).map(|c| c * 3), 0);
        let late = board_counts(&counters::add([0; FIELDS], &next_day), 0);
        assert_eq!(counts.on_time_close_rate, 1.0);
        assert_eq!(late.on_time_close_rate, 0.0);
        let undated = contribution(&with(&submitted(), |r| r.set_status(S::Closed)));
        assert_eq!(undated[CLOSED_WITH_DUE_DATE..=CLOSED_ON_TIME], [0, 0]);
        assert_eq!(board_counts(&[0; FIELDS], 0).on_time_close_rate, 0.0);
    }

    #[test]
    fn rejection_and_escalation_move_counts() {
        let before = submitted();
        let rejected = with(&before, |r| r.set_status(S::Rejected));
        let delta_rejected = delta(Some(&before), &rejected);
        let change = counts(&[(OPEN, -1), (REJECTED, 1)]);
        assert_eq!(
            delta_rejected.rows,
            rows(&ALL_ROWS.map(|row| (row, change)))
        );

        let escalated = with(&before, |r| {
            r.set_supervision_level(pb::SupervisionLevel::City)
        });
        let one = counts(&[(SUBMITTED, 1), (OPEN, 1)]);
        assert_eq!(
            delta(Some(&before), &escalated).rows,
            rows(&[
                ("supervision_level:SUPERVISION_LEVEL_CITY", one),
                ("supervision_level:SUPERVISION_LEVEL_NONE", one.map(|c| -c)),
            ])
        );
    }

    #[test]
    fn ratings_count_under_the_assigned_department() {
        let resolved = with(&submitted(), |r| {
            r.set_status(S::Resolved);
            r.department = "housing".into();
        });
        let satisfied = with(&resolved, |r| {
            r.set_status(S::Closed);
            r.set_satisfaction(pb::Satisfaction::Satisfied);
        });
        let delta_satisfied = delta(Some(&resolved), &satisfied);
        assert_eq!(
            delta_satisfied.rows[&row_key("department:housing")][SATISFIED],
            1
        );
        assert!(
            !delta_satisfied
                .rows
                .contains_key(&row_key("department:(unassigned)")),
            "only the assigned department's row moves"
        );
        let basically = with(&resolved, |r| {
            r.set_status(S::Closed);
            r.set_satisfaction(pb::Satisfaction::BasicallySatisfied);
        });
        let row = delta(Some(&resolved), &basically).rows[&row_key("department:housing")];
        assert_eq!(row[BASICALLY_SATISFIED..=NOT_RATED], [1, 0, 0]);
        assert_eq!(row[SATISFIED], 0);
    }

    #[test]
    fn a_dissatisfied_rating_stays_counted_through_the_reopened_work() {
        let resolved = with(&submitted(), |r| {
            r.set_status(S::Resolved);
            r.department = "housing".into();
        });
        let reopened = with(&resolved, |r| {
            r.set_status(S::InProgress);
            r.set_satisfaction(pb::Satisfaction::Dissatisfied);
            r.dissatisfied_count = 1;
        });
        let change = delta(Some(&resolved), &reopened).rows[&row_key("department:housing")];
        assert_eq!(change[DISSATISFIED], 1);
        assert_eq!(change[AWAITING_CONFIRMATION], -1);
        let closed = with(&reopened, |r| {
            r.set_status(S::Closed);
            r.set_satisfaction(pb::Satisfaction::Satisfied);
        });
        let change = delta(Some(&reopened), &closed).rows[&row_key("total:")];
        assert_eq!(change[SATISFIED], 1);
        assert_eq!(change[DISSATISFIED], 0, "the 不满意 is still counted, once");
        assert_eq!(contribution(&closed)[DISSATISFIED], 1);
    }

    #[test]
    fn a_close_out_from_before_ratings_counts_as_not_rated() {
        let closed = with(&submitted(), |r| r.set_status(S::Closed));
        let counts = contribution(&closed);
        assert_eq!(counts[SATISFIED..=NOT_RATED], [0, 0, 0, 1]);
        let open = contribution(&submitted());
        assert_eq!(open[SATISFIED..=NOT_RATED], [0, 0, 0, 0]);
    }

    #[test]
    fn an_event_that_changes_nothing_counted_has_an_empty_delta() {
        let before = with(&submitted(), |r| r.set_status(S::InProgress));
        let after = with(&before, |r| r.title = "progress noted".into());
        assert_eq!(delta(Some(&before), &after), Delta::default());
    }

    #[test]
    fn counters_encode_and_add() {
        use super::super::counters::{add, decode, encode};
        let counts = add([0; FIELDS], &[1; FIELDS]);
        assert_eq!(decode(&encode(&counts)), Some(counts));
        assert_eq!(decode::<FIELDS>(b"short"), None);
        assert_eq!(add(counts, &[-1; FIELDS]), [0; FIELDS]);
    }
}
