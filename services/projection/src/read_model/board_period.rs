//! The clearance board by period and place: the board's counts per
//! department for the requests filed in a period, in an area, by one
//! requesting agency and in one direction, still read from counters.
//!
//! A request counts under every *slice* its filters could name: the area
//! (any, its street, its community) × the requester (any, its agency) × the
//! direction (any, its own), twelve slices ([`slices`]), so every
//! combination of the four filters is one slice and none has to be combined
//! at read time. The full cross product stays twelve because each filter
//! either names the request's own value or none.
//!
//! Within a slice, counters are bucketed by the day the request was filed
//! (China time), which is the period filter:
//! - `p/<slice>/<filed>/<department>` → the board's row counters
//!   ([`super::board::contribution`]), the same as the unfiltered rows',
//!   requesters' ratings included, moved on the same changes
//!   ([`super::board::contributes_alike`]): a period is one range read over
//!   its days, at most (days × departments) keys, a year ≤ 366 per
//!   department;
//! - `o/<slice>/<filed>/<due>/<department>` → unresolved requests due that
//!   day: overdue as of D sums those due before D;
//! - `a/<slice>/<filed>/<resolved>/<department>` → requests awaiting
//!   confirmation since that day: their count, oldest day and mean age.
//!
//! The two dated families are bounded by the distinct (filing day, day,
//! department) triples among requests still unresolved or awaiting
//! confirmation, which is what 销号清零 drives towards zero; closed requests
//! leave them. Key layouts are in [`super::keys::PeriodFamily`]. A request
//! without a submission time (only a foreign writer makes one) has no filing
//! day and counts in no slice; one whose area code is not 12 digits counts
//! only under "any area", one without a requester only under "any
//! requester".

use std::collections::BTreeMap;
use std::ops::Bound;

use jiff::civil::Date;
use sy_domain::event::to_jiff;
use sy_domain::pb::{self, RequestStatus};
use sy_domain::request::is_unresolved;
use sy_domain::validate::china_date;

use super::board::{
    Counts, Delta, FIELDS, board_counts, contributes_alike, contribution, department_of,
};
use super::keys::{DATE_LEN, PeriodFamily, board_slice, due_date, prefix_end, read_u64};
use super::{ReadModelError, counters};

/// Which requests a board by period and place counts. `None` matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoardFilter {
    /// Filing days, both included.
    pub period: Option<(Date, Date)>,
    /// A street (9 digits) or community (12 digits).
    pub area: Option<String>,
    /// The requesting agency.
    pub requester: Option<String>,
    pub direction: Option<pb::Direction>,
}

impl BoardFilter {
    fn slice(&self) -> String {
        board_slice(
            self.area.as_deref(),
            self.requester.as_deref(),
            self.direction.map(|d| d as i32),
        )
    }
}

/// The slices `request` counts under (see the module doc).
fn slices(request: &pb::Request) -> Vec<String> {
    let code = request.area_code.as_str();
    let mut areas = vec![None];
    if code.len() == 12 && code.bytes().all(|b| b.is_ascii_digit()) {
        areas.extend([Some(&code[..9]), Some(code)]);
    }
    // Without a requester (only a foreign writer makes one) the request
    // counts under "any requester" once, not twice.
    let mut requesters = vec![None];
    requesters.extend(request.requester.as_ref().map(|r| Some(r.agency.as_str())));
    let direction = request.direction;
    let mut slices = Vec::with_capacity(areas.len() * 4);
    for area in areas {
        for requester in requesters.iter().copied() {
            for direction in [None, Some(direction)] {
                slices.push(board_slice(area, requester, direction));
            }
        }
    }
    slices
}

/// The counter changes of the board by period and place when a request
/// goes from `before` (`None`: it did not exist) to `after`.
pub fn delta(before: Option<&pb::Request>, after: &pb::Request) -> Delta {
    let mut delta = Delta::default();
    if before.is_some_and(|before| counted_alike(before, after)) {
        return delta;
    }
    if let Some(before) = before {
        add(&mut delta, before, -1);
    }
    add(&mut delta, after, 1);
    delta.prune();
    delta
}

/// Whether two versions of a request agree on every field counted here:
/// the row counters' (ratings included), the slices' and the resolution day.
fn counted_alike(a: &pb::Request, b: &pb::Request) -> bool {
    contributes_alike(a, b)
        && a.direction == b.direction
        && a.area_code == b.area_code
        && a.requester.as_ref().map(|r| &r.agency) == b.requester.as_ref().map(|r| &r.agency)
        && a.resolved_at == b.resolved_at
}

/// The China day of a timestamp, as keys write it.
fn day_of(ts: Option<jiff::Timestamp>) -> Option<String> {
    ts.map(|ts| china_date(ts).to_string())
}

fn add(delta: &mut Delta, request: &pb::Request, sign: i64) {
    let Some(filed) = day_of(to_jiff(request.submitted_at.as_ref())) else {
        return;
    };
    let counts = contribution(request);
    let department = department_of(request);
    let status = request.status();
    let due = due_date(request).filter(|_| is_unresolved(status));
    let resolved = (status == RequestStatus::Resolved)
        .then(|| day_of(to_jiff(request.resolved_at.as_ref())))
        .flatten();
    for slice in slices(request) {
        let key = PeriodFamily::Counts.key(&slice, &filed, None, department);
        delta.add_row(key, &counts, sign);
        let dated = [
            (PeriodFamily::Due, due),
            (PeriodFamily::Resolved, resolved.as_deref()),
        ];
        for (family, day) in dated {
            if let Some(day) = day {
                let key = family.key(&slice, &filed, Some(day), department);
                *delta.due.entry(key).or_default() += sign;
            }
        }
    }
}

/// Requests awaiting confirmation in one row, for their age.
#[derive(Debug, Default, Clone, Copy)]
struct Waiting {
    count: u64,
    /// Sum over them of the days waited.
    days: u64,
    oldest: Option<Date>,
}

impl Waiting {
    fn add(&mut self, count: u64, resolved: Date, as_of: Date) {
        let waited = resolved
            .until(as_of)
            .map(|span| u64::try_from(span.get_days()).unwrap_or(0))
            .unwrap_or(0);
        self.count = self.count.saturating_add(count);
        self.days = self.days.saturating_add(waited.saturating_mul(count));
        self.oldest = Some(self.oldest.map_or(resolved, |oldest| oldest.min(resolved)));
    }

    fn merge(&mut self, other: &Waiting) {
        self.count = self.count.saturating_add(other.count);
        self.days = self.days.saturating_add(other.days);
        self.oldest = match (self.oldest, other.oldest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    fn age(&self, as_of: Date) -> pb::AwaitingAge {
        let oldest_days = self.oldest.map_or(0, |oldest| {
            oldest
                .until(as_of)
                .map(|span| u64::try_from(span.get_days()).unwrap_or(0))
                .unwrap_or(0)
        });
        pb::AwaitingAge {
            count: self.count,
            oldest_days,
            mean_days: match self.count {
                0 => 0.0,
                // Counts stay far below 2^53: exact as f64.
                count => self.days as f64 / count as f64,
            },
        }
    }
}

/// The keys of `family` for `slice` filed within `period` (all when `None`).
fn range(
    family: PeriodFamily,
    slice: &str,
    period: Option<(Date, Date)>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let prefix = family.prefix(slice);
    match period {
        None => (
            Bound::Included(prefix.clone().into_bytes()),
            prefix_end(prefix.as_bytes()),
        ),
        Some((from, to)) => (
            Bound::Included(format!("{prefix}{from}").into_bytes()),
            // '0' sorts after the '/' that follows the filing day.
            Bound::Excluded(format!("{prefix}{to}0").into_bytes()),
        ),
    }
}

/// Each key of `family` for `slice` within `period`, as its day (for the
/// dated families), department and value.
fn walk(
    tree: &sled::Tree,
    family: PeriodFamily,
    slice: &str,
    period: Option<(Date, Date)>,
    mut each: impl FnMut(Option<&str>, &str, &[u8]) -> Result<(), ReadModelError>,
) -> Result<(), ReadModelError> {
    let prefix_len = family.prefix(slice).len();
    for entry in tree.range(range(family, slice, period)) {
        let (key, value) = entry?;
        let rest = key
            .get(prefix_len..)
            .and_then(|rest| std::str::from_utf8(rest).ok())
            .and_then(|rest| family.parts(rest))
            .ok_or_else(|| {
                ReadModelError::corrupt(format!(
                    "board period key {} is malformed",
                    String::from_utf8_lossy(&key)
                ))
            })?;
        let (_, day, department) = rest;
        each(day, department, &value)?;
    }
    Ok(())
}

fn count(value: &[u8]) -> Result<u64, ReadModelError> {
    read_u64(value).ok_or_else(|| ReadModelError::corrupt("a board period counter is malformed"))
}

fn parse_day(day: Option<&str>) -> Result<Date, ReadModelError> {
    day.filter(|day| day.len() == DATE_LEN)
        .and_then(|day| day.parse().ok())
        .ok_or_else(|| ReadModelError::corrupt("a board period key has no valid day"))
}

/// Requests awaiting confirmation per department, with their age.
fn waiting(
    tree: &sled::Tree,
    slice: &str,
    period: Option<(Date, Date)>,
    as_of: Date,
) -> Result<BTreeMap<String, Waiting>, ReadModelError> {
    let mut waiting = BTreeMap::<String, Waiting>::new();
    walk(
        tree,
        PeriodFamily::Resolved,
        slice,
        period,
        |day, department, value| {
            let resolved = parse_day(day)?;
            waiting
                .entry(department.to_string())
                .or_default()
                .add(count(value)?, resolved, as_of);
            Ok(())
        },
    )?;
    Ok(waiting)
}

/// The board of the requests `filter` matches: `total` and `by_department`,
/// with overdue counts and ages as of `as_of`.
pub fn read(
    tree: &sled::Tree,
    filter: &BoardFilter,
    as_of: Date,
) -> Result<pb::ClearanceBoard, ReadModelError> {
    let slice = filter.slice();
    let mut counts = BTreeMap::<String, Counts>::new();
    walk(
        tree,
        PeriodFamily::Counts,
        &slice,
        filter.period,
        |_, department, value| {
            let value = counters::decode::<FIELDS>(value)
                .ok_or_else(|| ReadModelError::corrupt("a board period row is malformed"))?;
            let sum = counts.entry(department.to_string()).or_insert([0; FIELDS]);
            for (total, count) in sum.iter_mut().zip(value) {
                *total = total.saturating_add(count);
            }
            Ok(())
        },
    )?;
    let as_of_key = as_of.to_string();
    let mut overdue = BTreeMap::<String, u64>::new();
    walk(
        tree,
        PeriodFamily::Due,
        &slice,
        filter.period,
        |due, department, value| {
            if due.is_some_and(|due| *due < *as_of_key) {
                *overdue.entry(department.to_string()).or_default() += count(value)?;
            }
            Ok(())
        },
    )?;
    let waiting = waiting(tree, &slice, filter.period, as_of)?;

    let mut total_counts: Counts = [0; FIELDS];
    let mut total_waiting = Waiting::default();
    let mut board = pb::ClearanceBoard {
        as_of: as_of_key,
        ..Default::default()
    };
    for (department, counts) in &counts {
        for (total, count) in total_counts.iter_mut().zip(counts) {
            *total = total.saturating_add(*count);
        }
        let mut row = board_counts(counts, overdue.get(department).copied().unwrap_or(0));
        let department_waiting = waiting.get(department).copied().unwrap_or_default();
        total_waiting.merge(&department_waiting);
        row.awaiting_age = Some(department_waiting.age(as_of));
        board.by_department.push(pb::BoardRow {
            key: department.clone(),
            counts: Some(row),
        });
    }
    let mut total = board_counts(&total_counts, overdue.values().sum());
    total.awaiting_age = Some(total_waiting.age(as_of));
    board.total = Some(total);
    Ok(board)
}

/// Sets the age of what awaits confirmation on the total and department
/// rows of the unfiltered `board` (read by [`super::board::read`]).
pub fn add_ages(
    tree: &sled::Tree,
    board: &mut pb::ClearanceBoard,
    as_of: Date,
) -> Result<(), ReadModelError> {
    let waiting = waiting(tree, &BoardFilter::default().slice(), None, as_of)?;
    let mut total = Waiting::default();
    for department in waiting.values() {
        total.merge(department);
    }
    if let Some(counts) = board.total.as_mut() {
        counts.awaiting_age = Some(total.age(as_of));
    }
    for row in &mut board.by_department {
        let department = waiting.get(&row.key).copied().unwrap_or_default();
        if let Some(counts) = row.counts.as_mut() {
            counts.awaiting_age = Some(department.age(as_of));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
