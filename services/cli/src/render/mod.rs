//! Readable output, one module per subject: `requests` (the request
//! protocol's labels, the close-out board, requests and timelines),
//! `placements` (the placement statistics), `registry` (people, placements
//! and care stations) and `events` (who sent an event
//! as stored in the log); what a demo load did is [`crate::summary`]'s. Here: what they share, China
//! Standard Time for timestamps, durations, money, and the house table style.

mod events;
mod placements;
mod registry;
mod requests;

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};
use jiff::tz::Offset;
use sy_domain::event::to_jiff;
use sy_domain::validate::CHINA_OFFSET_HOURS;

pub use events::{actor, event_cell};
pub use placements::{programme_label, stats_text};
pub use registry::*;
pub use requests::*;

/// A requester's rating (满意度), as the request view, the board and the
/// history show it.
pub fn satisfaction_label(satisfaction: sy_domain::pb::Satisfaction) -> &'static str {
    use sy_domain::pb::Satisfaction;
    match satisfaction {
        Satisfaction::Unspecified => "not rated 未评价",
        Satisfaction::Satisfied => "satisfied 满意",
        Satisfaction::BasicallySatisfied => "basically satisfied 基本满意",
        Satisfaction::Dissatisfied => "dissatisfied 不满意",
    }
}

/// A timestamp in China Standard Time, `YYYY-MM-DD HH:MM`; "-" when unset.
pub fn time(ts: Option<&prost_types::Timestamp>) -> String {
    china_time(ts, "%Y-%m-%d %H:%M")
}

/// A timestamp in China Standard Time to the second, `YYYY-MM-DD HH:MM:SS`;
/// "-" when unset. For audit views, where minutes are too coarse to order events.
pub fn precise_time(ts: Option<&prost_types::Timestamp>) -> String {
    china_time(ts, "%Y-%m-%d %H:%M:%S")
}

fn china_time(ts: Option<&prost_types::Timestamp>, format: &str) -> String {
    match to_jiff(ts) {
        Some(ts) => Offset::constant(CHINA_OFFSET_HOURS)
            .to_datetime(ts)
            .strftime(format)
            .to_string(),
        None => "-".to_string(),
    }
}

/// A duration in seconds, in the largest unit that reads well.
pub fn duration(seconds: u64) -> String {
    const DAY: u64 = 86_400;
    match seconds {
        0 => "-".to_string(),
        1..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..DAY => format!("{:.1} h", seconds as f64 / 3600.0),
        _ => format!("{:.1} d", seconds as f64 / DAY as f64),
    }
}

pub fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

/// A new table with the house style and a header row.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(Cell::new));
    table
}

/// A record as a two-column table of its fields and their values.
pub fn field_table(rows: Vec<(&str, String)>) -> Table {
    let mut table = table(&["field", "value"]);
    for (field, value) in rows {
        table.add_row(vec![field.to_string(), value]);
    }
    table
}

pub fn number(n: u64) -> Cell {
    Cell::new(n).set_alignment(CellAlignment::Right)
}

/// First bytes of a hash in hex, enough to eyeball a chain.
pub fn short_hash(bytes: &[u8]) -> String {
    bytes.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Fen as yuan with thousands separators: `1,512,000`, `12.50`.
pub fn yuan(fen: i64) -> String {
    let whole = (fen / 100).abs();
    let cents = (fen % 100).abs();
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if fen < 0 { "-" } else { "" };
    if cents == 0 {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{cents:02}")
    }
}

/// A rate as a percentage with one decimal.
pub fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_china_standard_time() {
        let ts = prost_types::Timestamp {
            seconds: 1_767_225_600, // 2026-01-01T00:00:00Z
            nanos: 0,
        };
        assert_eq!(time(Some(&ts)), "2026-01-01 08:00");
        assert_eq!(precise_time(Some(&ts)), "2026-01-01 08:00:00");
        assert_eq!(time(None), "-");
        assert_eq!(precise_time(None), "-");
        assert_eq!(duration(0), "-");
        assert_eq!(duration(42), "42 s");
        assert_eq!(duration(600), "10 min");
        assert_eq!(duration(5400), "1.5 h");
        assert_eq!(duration(3 * 86_400), "3.0 d");
    }

    #[test]
    fn money_reads_as_yuan() {
        assert_eq!(yuan(151_200_000), "1,512,000");
        assert_eq!(yuan(1250), "12.50");
        assert_eq!(yuan(-5), "-0.05");
    }
}
