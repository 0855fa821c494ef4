//! Placement statistics as counters (tree `stats`), moved by each event in
//! the batch transaction and only read by prefix at query time.
//!
//! Counters move by what the domain states before and after an event say
//! (placed or not, the cycle, the time to placement), and by the event's type
//! for counts of events (registrations, declines).
//!
//! Every counter exists at three levels of the area it is counted in:
//! district (6 digits), street (9) and community (12), leaving out levels
//! the code does not name (a street-level code `500106001000` counts in its
//! district and street only). Key: [`keys::stats_key`], value u64 BE;
//! a counter that reaches zero is removed. Metrics:
//! - `people`: persons registered in the area;
//! - `p{programme}/{name}` for a programme's wire number, counted in the
//!   area of the placement's current cycle: `registered` (cycles), `people`
//!   (first cycles only: the placement rate's denominator), `placed`,
//!   `declined`, `withdrawn`, `fast_placed`, `fast_24h`, `talent`,
//!   `decided`, `accepted`, and `h{bucket:02}` for the histogram of seconds
//!   from registration to placement (bucket bounds in [`BUCKETS`]);
//! - `a/granted` (persons ever granted the allowance), `a/active`,
//!   `a/m/{YYYY-MM}` (fen paid for that month), in the person's area.

use std::collections::BTreeMap;

use sy_domain::allowance::{Allowance, Month};
use sy_domain::pb::{self, Programme, event_envelope::Payload};
use sy_domain::placement::Placement;

use super::keys::{self, STATS_DISTRICTS, stats_below_prefix, stats_own_prefix, stats_parts};
use super::{ReadModelError, views};

/// Upper bounds (seconds) of the time-to-placement histogram's buckets; the
/// last is +inf, reported as `u64::MAX`.
pub const BUCKETS: [u64; 14] = [
    3_600,
    6 * 3_600,
    12 * 3_600,
    24 * 3_600,
    48 * 3_600,
    72 * 3_600,
    7 * 86_400,
    14 * 86_400,
    30 * 86_400,
    60 * 86_400,
    90 * 86_400,
    180 * 86_400,
    365 * 86_400,
    u64::MAX,
];

const PROGRAMMES: [Programme; 3] = [
    Programme::VeteranResettlement,
    Programme::SpousePlacement,
    Programme::SchoolEnrollment,
];

/// Counter changes of a batch, by key, summed before they are written.
pub type Delta = BTreeMap<Vec<u8>, i64>;

/// The levels of `area` that counters are kept at.
pub fn levels(area: &str) -> Vec<&str> {
    if area.len() != 12 || !area.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let mut levels = vec![&area[..6]];
    if &area[6..9] != "000" {
        levels.push(&area[..9]);
        if &area[9..] != "000" {
            levels.push(area);
        }
    }
    levels
}

fn add(delta: &mut Delta, area: &str, metric: &str, change: i64) {
    for level in levels(area) {
        *delta.entry(keys::stats_key(level, metric)).or_default() += change;
    }
}

/// The bucket holding `seconds`.
pub fn bucket(seconds: u64) -> usize {
    BUCKETS
        .iter()
        .position(|bound| seconds <= *bound)
        .unwrap_or(BUCKETS.len() - 1)
}

/// A person registered in `area`.
pub fn person_registered(delta: &mut Delta, area: &str) {
    add(delta, area, "people", 1);
}

/// What a placement event changed, from the placement before and after it.
pub fn placement(
    delta: &mut Delta,
    before: Option<&Placement>,
    after: &Placement,
    payload: &Payload,
) {
    let cycle = after.current();
    let area = cycle.area_code.as_str();
    let metric = |name: &str| format!("p{}/{name}", after.programme() as i32);
    let mut count = |name: &str| add(delta, area, &metric(name), 1);
    match payload {
        Payload::PlacementRegistered(_) => {
            count("registered");
            if after.cycle() == 1 {
                count("people");
            }
        }
        Payload::PlacementDeclined(_) => count("declined"),
        Payload::PlacementWithdrawn(_) => count("withdrawn"),
        Payload::TalentPoolRecommended(_) => count("talent"),
        Payload::SchoolRequestAccepted(_) => {
            count("decided");
            count("accepted");
        }
        Payload::SchoolRequestDeclined(_) => {
            count("decided");
            count("declined");
        }
        _ => {}
    }
    if after.is_placed() && !before.is_some_and(Placement::is_placed) {
        count("placed");
        count(&format!(
            "h{:02}",
            bucket(views::seconds_to_placement(after))
        ));
        if cycle.fast_lane && matches!(payload, Payload::PlacementOnDuty(_)) {
            count("fast_placed");
            if after.fast_lane_within_24h() == Some(true) {
                count("fast_24h");
            }
        }
    }
}

/// What an allowance event changed; `area` is where the allowance counts.
pub fn allowance(delta: &mut Delta, before: Option<&Allowance>, area: &str, payload: &Payload) {
    match payload {
        Payload::AllowanceGranted(_) => {
            if before.is_none_or(|b| b.status().is_none()) {
                add(delta, area, "a/granted", 1);
            }
            add(delta, area, "a/active", 1);
        }
        Payload::AllowanceStopped(_) => add(delta, area, "a/active", -1),
        Payload::AllowancePaid(e) => {
            // The fold checked the month; store it as the view spells months.
            if let Ok(month) = Month::parse("month", &e.month) {
                add(delta, area, &format!("a/m/{month}"), e.amount_fen);
            }
        }
        _ => {}
    }
}

/// Counters of one area: metric → value.
type Counters = BTreeMap<String, u64>;

/// Reads `prefix`'s counters, grouped by area.
fn scan(tree: &sled::Tree, prefix: &str) -> Result<BTreeMap<String, Counters>, ReadModelError> {
    let mut areas: BTreeMap<String, Counters> = BTreeMap::new();
    for entry in tree.scan_prefix(prefix.as_bytes()) {
        let (key, value) = entry?;
        let key = std::str::from_utf8(&key)
            .map_err(|_| ReadModelError::corrupt("stats key is not UTF-8"))?;
        let (area, metric) = stats_parts(key)
            .ok_or_else(|| ReadModelError::corrupt(format!("stats key {key} is malformed")))?;
        let value = keys::read_u64(&value)
            .ok_or_else(|| ReadModelError::corrupt(format!("stats counter {key} is malformed")))?;
        areas
            .entry(area.to_string())
            .or_default()
            .insert(metric.to_string(), value);
    }
    Ok(areas)
}

/// The first district that has counters, if any.
pub fn first_district(tree: &sled::Tree) -> Result<Option<String>, ReadModelError> {
    let Some(entry) = tree.scan_prefix(STATS_DISTRICTS).next() else {
        return Ok(None);
    };
    let (key, _) = entry?;
    Ok(keys::stats_district(&key))
}

/// The statistics of the area `scope` (a district, street or community
/// prefix) and of each area directly below it that has data.
pub fn read(
    tree: &sled::Tree,
    scope: &str,
    year: i16,
) -> Result<(pb::AreaStats, Vec<pb::AreaStats>), ReadModelError> {
    let own = scan(tree, &stats_own_prefix(scope))?;
    let own = own.get(scope).cloned().unwrap_or_default();
    let area = area_stats(scope, &own, year);
    let below = match scope.len() {
        6 | 9 => scan(tree, &stats_below_prefix(scope))?
            .iter()
            .map(|(code, counters)| area_stats(code, counters, year))
            .collect(),
        _ => Vec::new(),
    };
    Ok((area, below))
}

fn area_stats(scope: &str, counters: &Counters, year: i16) -> pb::AreaStats {
    let get = |metric: &str| counters.get(metric).copied().unwrap_or_default();
    let programmes = PROGRAMMES
        .iter()
        .map(|programme| {
            let p = |name: &str| get(&format!("p{}/{name}", *programme as i32));
            let histogram: Vec<u64> = (0..BUCKETS.len()).map(|b| p(&format!("h{b:02}"))).collect();
            let (placed, fast_placed, fast_24h) = (p("placed"), p("fast_placed"), p("fast_24h"));
            let (decided, accepted) = (p("decided"), p("accepted"));
            pb::ProgrammeStats {
                programme: *programme as i32,
                registered: p("registered"),
                placed,
                placement_rate: rate(placed, p("people")),
                median_seconds_to_placement: quantile(&histogram, 50),
                p90_seconds_to_placement: quantile(&histogram, 90),
                fast_lane_placed: fast_placed,
                fast_lane_within_24h: fast_24h,
                fast_lane_within_24h_rate: rate(fast_24h, fast_placed),
                talent_pool_recommended: p("talent"),
                requests_decided: decided,
                requests_accepted: accepted,
                acceptance_rate: rate(accepted, decided),
                declined: p("declined"),
                withdrawn: p("withdrawn"),
            }
        })
        .collect();
    let months_prefix = format!("a/m/{year:04}-");
    let paid_fen_by_month: std::collections::HashMap<String, i64> = counters
        .range(months_prefix.clone()..)
        .take_while(|(metric, _)| metric.starts_with(&months_prefix))
        .map(|(metric, fen)| {
            (
                metric["a/m/".len()..].to_string(),
                i64::try_from(*fen).unwrap_or(i64::MAX),
            )
        })
        .collect();
    pb::AreaStats {
        area_code: format!("{scope:0<12}"),
        programmes,
        allowance: Some(pb::AllowanceStats {
            spouses_granted: get("a/granted"),
            active: get("a/active"),
            paid_fen_in_year: paid_fen_by_month.values().sum(),
            paid_fen_by_month,
        }),
        people: get("people"),
    }
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The upper bound of the bucket holding the `percent`th percentile; 0
/// without data.
pub fn quantile(histogram: &[u64], percent: u64) -> u64 {
    let total: u64 = histogram.iter().sum();
    if total == 0 {
        return 0;
    }
    // The rank of the percentile among the sorted values, 1-based.
    let rank = (total * percent).div_ceil(100).max(1);
    let mut seen = 0;
    for (count, bound) in histogram.iter().zip(BUCKETS) {
        seen += count;
        if seen >= rank {
            return bound;
        }
    }
    u64::MAX
}
