//! The placement programmes for people: the programme's labels and a
//! district's placement statistics as tables.

use sy_api::pb::{self, Programme};

use super::{duration, percent, table, yuan};

pub fn programme_label(programme: Programme) -> &'static str {
    match programme {
        Programme::Unspecified => "-",
        Programme::VeteranResettlement => "veteran resettlement 退役军人安置",
        Programme::SpousePlacement => "spouse placement 随军家属安置",
        Programme::SchoolEnrollment => "school enrollment 子女入学",
    }
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
    let mut table = table(&[
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
            duration(p.median_seconds_to_placement),
            duration(p.p90_seconds_to_placement),
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
        let mut below = super::table(&[
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
