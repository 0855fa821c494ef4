//! The bench's one table: every row is a rate, a latency distribution or a
//! size, and rows of the system name the raw limit they are divided by, so a
//! reader compares ratios (portable across machines) rather than rates.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Latencies in microseconds, 1 µs to 60 s, three significant digits.
pub struct Latencies(Histogram<u64>);

impl Latencies {
    pub fn new() -> Self {
        Self(
            Histogram::new_with_bounds(1, 60_000_000, 3)
                .expect("1 µs to 60 s with 3 significant digits are valid bounds"),
        )
    }

    /// Records one call's latency (clamped into the histogram's range).
    pub fn record(&mut self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.0.saturating_record(micros.max(1));
    }

    /// Adds another caller's latencies.
    pub fn merge(&mut self, other: &Self) {
        // Same bounds on both sides: adding cannot fail.
        self.0
            .add(&other.0)
            .expect("histograms of the same bounds add up");
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    fn quantile_ms(&self, q: f64) -> f64 {
        self.0.value_at_quantile(q) as f64 / 1000.0
    }
}

/// What a row shows.
pub enum Value {
    /// Operations per second, with the latency of each (when measured).
    Rate {
        per_second: f64,
        latencies: Option<Latencies>,
    },
    /// A latency distribution only.
    Latency(Latencies),
    /// A size in bytes (peak RSS).
    Bytes(u64),
    /// Not measured, and why.
    Skipped(String),
}

struct Row {
    part: String,
    value: Value,
    ratio: String,
}

/// The table, built row by row as the bench runs, printed once at the end.
pub struct Report {
    title: String,
    rows: Vec<Row>,
}

impl Report {
    pub fn new(title: String) -> Self {
        Self {
            title,
            rows: Vec::new(),
        }
    }

    /// A row without a ratio (a raw limit, a latency, a size).
    pub fn row(&mut self, part: impl Into<String>, value: Value) {
        self.row_with_ratio(part, value, String::new());
    }

    /// A row with its ratio(s) to raw limits, already formatted.
    pub fn row_with_ratio(&mut self, part: impl Into<String>, value: Value, ratio: String) {
        self.rows.push(Row {
            part: part.into(),
            value,
            ratio,
        });
    }

    /// The table as Markdown, ready for the README.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.title);
        let _ = writeln!(out, "| part | per second | p50 ms | p99 ms | ratio |");
        let _ = writeln!(out, "| --- | ---: | ---: | ---: | --- |");
        for row in &self.rows {
            let (rate, p50, p99) = match &row.value {
                Value::Rate {
                    per_second,
                    latencies,
                } => {
                    let (p50, p99) = latencies
                        .as_ref()
                        .map_or((String::new(), String::new()), percentiles);
                    (thousands(*per_second), p50, p99)
                }
                Value::Latency(latencies) => {
                    let (p50, p99) = percentiles(latencies);
                    (String::new(), p50, p99)
                }
                Value::Bytes(bytes) => (
                    format!("{:.0} MiB peak RSS", *bytes as f64 / (1024.0 * 1024.0)),
                    String::new(),
                    String::new(),
                ),
                Value::Skipped(why) => (format!("skipped: {why}"), String::new(), String::new()),
            };
            let _ = writeln!(
                out,
                "| {} | {rate} | {p50} | {p99} | {} |",
                row.part, row.ratio
            );
        }
        out
    }
}

fn percentiles(latencies: &Latencies) -> (String, String) {
    if latencies.count() == 0 {
        return (String::new(), String::new());
    }
    (
        format!("{:.2}", latencies.quantile_ms(0.50)),
        format!("{:.2}", latencies.quantile_ms(0.99)),
    )
}

/// `12345.6` → `12,346`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `system / limit` as `0.87× what`.
pub fn ratio(system: f64, limit: f64, what: &str) -> String {
    format!("{:.2}× {what}", system / limit)
}

/// Operations per second.
pub fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// The peak resident set (`VmHWM`) of process `pid`, in bytes.
pub fn peak_rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .ok_or_else(|| anyhow::anyhow!("/proc/{pid}/status has no VmHWM line"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib * 1024)
}
