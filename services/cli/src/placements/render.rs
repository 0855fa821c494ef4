//! What `sy demo placements` prints: the load's summary and the district's
//! placement statistics as tables.

use sy_api::pb::{self, Programme, placement_query_client::PlacementQueryClient};
use tonic::transport::Channel;

use super::load::Loaded;
use super::plan::{Kind, MONTHLY_ALLOWANCE_FEN, Scenario};
use crate::error::Error;
use crate::load::Totals;
use crate::rpc::{Retry, read_with};

/// The summary printed after a load: per kind of track, then the figures planned.
pub fn summary(scenario: &Scenario, loaded: &[Loaded]) -> String {
    let t = Totals::of(loaded.iter().map(|l| &l.sent));
    let mut out = format!(
        "placements demo seed {} (scale 1/{}): {} people and stations, {} commands: {} written, {} replayed (already in the log), {} kept from an earlier run, {} failed\n",
        scenario.seed,
        scenario.counts.scale,
        t.scripts,
        t.commands,
        t.written,
        t.replayed,
        t.kept,
        t.failed
    );
    let mut by_kind: std::collections::BTreeMap<Kind, Totals> = Default::default();
    for l in loaded {
        by_kind.entry(l.kind).or_default().add(&l.sent);
    }
    let mut table = crate::render::table(&[
        "who", "tracks", "commands", "written", "replayed", "kept", "failed",
    ]);
    for (kind, t) in &by_kind {
        table.add_row(vec![
            kind.label().to_string(),
            t.scripts.to_string(),
            t.commands.to_string(),
            t.written.to_string(),
            t.replayed.to_string(),
            t.kept.to_string(),
            t.failed.to_string(),
        ]);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    let c = &scenario.counts;
    let p = &scenario.planned;
    out.push_str(&format!(
        "planned: {} veterans placed ({} in the fast lane, {} of them on duty within 24 h), {} recommended to the talent pool; \
         {} spouses placed (专业对口、岗位对应、职务对等); {} spouses paid {} yuan a month for the 12 months of {} = {} yuan; \
         {} trainings, {} certificates; {} children enrolled at school; {} care stations, {} children seated, {} waiting\n",
        c.veterans,
        p.fast_lane,
        p.fast_lane_within_24h,
        c.talent_pool,
        c.spouses_placed,
        c.spouses_on_allowance,
        MONTHLY_ALLOWANCE_FEN / 100,
        scenario.year,
        yuan(c.allowance_fen_in_year()),
        p.trainings,
        p.certificates,
        c.children,
        scenario.stations.len(),
        p.seated,
        p.waitlisted
    ));
    let failures: Vec<String> = loaded
        .iter()
        .filter_map(|l| {
            let err = l.sent.error.as_ref()?;
            Some(format!("{} #{}: {err}", l.kind.key(), l.index))
        })
        .take(10)
        .collect();
    for failure in failures {
        out.push_str(&format!("failed: {failure}\n"));
    }
    out
}

/// Fen as yuan with thousands separators: `1,512,000`, `12.50`.
pub fn yuan(fen: i64) -> String {
    let whole = (fen / 100).abs();
    let cents = (fen % 100).abs();
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
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

/// `GetPlacementStats` for `area` and `year` once the projection has applied
/// `position`, waiting (a minute at most) while it answers `UNAVAILABLE`.
pub async fn stats(
    query: &mut PlacementQueryClient<Channel>,
    area: &str,
    year: i32,
    position: u64,
) -> Result<pb::GetPlacementStatsResponse, Error> {
    read_with(Retry::CATCH_UP, "GetPlacementStats", async || {
        query
            .get_placement_stats(pb::GetPlacementStatsRequest {
                area_code: area.to_string(),
                year,
                min_position: position,
            })
            .await
    })
    .await
}

pub fn programme_label(programme: Programme) -> &'static str {
    match programme {
        Programme::Unspecified => "-",
        Programme::VeteranResettlement => "veteran resettlement 退役军人安置",
        Programme::SpousePlacement => "spouse placement 随军家属安置",
        Programme::SchoolEnrollment => "school enrollment 子女入学",
    }
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// The statistics as tables: the area's programmes, its allowance, and a row
/// per area below it.
pub fn stats_text(stats: &pb::GetPlacementStatsResponse) -> String {
    let mut out = String::new();
    let Some(area) = &stats.area else {
        return "no statistics\n".to_string();
    };
    out.push_str(&format!(
        "placement statistics of {} for {} ({} people, position {})\n",
        area.area_code, stats.year, area.people, stats.position
    ));
    let mut table = crate::render::table(&[
        "programme",
        "registered",
        "placed",
        "rate",
        "median to placement",
        "p90",
        "fast lane placed",
        "within 24 h",
        "talent pool",
        "requests accepted",
        "acceptance",
    ]);
    for p in &area.programmes {
        let programme = Programme::try_from(p.programme).unwrap_or(Programme::Unspecified);
        let school = programme == Programme::SchoolEnrollment;
        let veteran = programme == Programme::VeteranResettlement;
        table.add_row(vec![
            programme_label(programme).to_string(),
            p.registered.to_string(),
            p.placed.to_string(),
            percent(p.placement_rate),
            crate::render::duration(p.median_seconds_to_placement),
            crate::render::duration(p.p90_seconds_to_placement),
            if veteran {
                p.fast_lane_placed.to_string()
            } else {
                "-".into()
            },
            if veteran {
                format!(
                    "{} ({})",
                    p.fast_lane_within_24h,
                    percent(p.fast_lane_within_24h_rate)
                )
            } else {
                "-".into()
            },
            if veteran {
                p.talent_pool_recommended.to_string()
            } else {
                "-".into()
            },
            if school {
                format!("{} of {}", p.requests_accepted, p.requests_decided)
            } else {
                "-".into()
            },
            if school {
                percent(p.acceptance_rate)
            } else {
                "-".into()
            },
        ]);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    if let Some(a) = &area.allowance {
        out.push_str(&format!(
            "allowance 生活保障金: {} spouses granted, {} active, {} yuan paid in {}\n",
            a.spouses_granted,
            a.active,
            yuan(a.paid_fen_in_year),
            stats.year
        ));
    }
    if !stats.below.is_empty() {
        let mut below = crate::render::table(&[
            "area",
            "people",
            "veterans placed",
            "spouses placed",
            "children enrolled",
            "allowance paid (yuan)",
        ]);
        for row in &stats.below {
            let placed = |programme: Programme| {
                row.programmes
                    .iter()
                    .find(|p| p.programme == programme as i32)
                    .map_or(0, |p| p.placed)
                    .to_string()
            };
            below.add_row(vec![
                row.area_code.clone(),
                row.people.to_string(),
                placed(Programme::VeteranResettlement),
                placed(Programme::SpousePlacement),
                placed(Programme::SchoolEnrollment),
                yuan(row.allowance.as_ref().map_or(0, |a| a.paid_fen_in_year)),
            ]);
        }
        out.push_str(&below.to_string());
        out.push('\n');
    }
    out
}
