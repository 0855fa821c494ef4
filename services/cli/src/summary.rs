//! What a demo load did: totals, then per request (`sy demo`) or per kind
//! of track with the figures planned (`sy demo placements`). Apart from
//! [`crate::render`], which the scripts themselves use: these summaries
//! depend on the scripts.

use std::collections::BTreeMap;

use crate::catalogue;
use crate::commands::Slot;
use crate::demo::{self, Plan};
use crate::load::Totals;
use crate::placements::{self, Kind, Scenario};
use crate::render::{table, yuan};

/// What `sy demo` prints after its load: totals, the mix of end states, each request.
pub fn requests_summary(seed: u64, loaded: &[demo::Loaded]) -> String {
    let t = demo::totals(loaded);
    let mut out = format!(
        "demo seed {seed}: {} requests, {} commands: {} written, {} replayed (already in the log), {} kept from an earlier day, {} requests failed\n",
        t.scripts, t.commands, t.written, t.replayed, t.kept, t.failed
    );
    let mut by_plan: BTreeMap<Plan, usize> = BTreeMap::new();
    for l in loaded {
        *by_plan.entry(l.plan).or_default() += 1;
    }
    let mix: Vec<String> = by_plan
        .iter()
        .map(|(plan, n)| format!("{n} {}", plan.label()))
        .collect();
    out.push_str(&format!("end states: {}\n", mix.join(", ")));

    let mut table = table(&["#", "request id", "planned state", "title", "result"]);
    for l in loaded {
        let result = match &l.sent.error {
            Some(err) => format!("failed: {err}"),
            None => "ok".to_string(),
        };
        table.add_row(vec![
            l.index.to_string(),
            l.sent.ids.get(Slot::Request).unwrap_or("-").to_string(),
            l.plan.label().to_string(),
            l.title.clone(),
            result,
        ]);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    out
}

/// What `sy demo` did to the year's draft double lists, with the command
/// that shows each.
pub fn lists_summary(drafted: &[demo::lists::Drafted]) -> String {
    use clap::ValueEnum as _;
    let mut out = String::new();
    for list in drafted {
        let label = crate::render::direction_label(list.direction);
        let flag = crate::args::DirectionArg::value_variants()
            .iter()
            .find(|d| sy_api::pb::Direction::from(**d) == list.direction)
            .and_then(|d| d.to_possible_value())
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        if list.published {
            out.push_str(&format!(
                "double list 双清单 {} {label}: published already, the demo adds nothing to it\n",
                list.year
            ));
        } else {
            out.push_str(&format!(
                "double list 双清单 {} {label} (draft): {} added, {} already on it{}   (sy lists show --year {} --direction {flag})\n",
                list.year,
                list.added,
                list.kept,
                if list.failed.is_empty() {
                    String::new()
                } else {
                    format!(", {} failed", list.failed.len())
                },
                list.year
            ));
        }
        for failure in &list.failed {
            out.push_str(&format!("  failed: {failure}\n"));
        }
    }
    out
}

/// What `sy demo placements` prints after its load: per kind of track, then the figures planned.
pub fn placements_summary(scenario: &Scenario, loaded: &[placements::Loaded]) -> String {
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
    let mut by_kind: BTreeMap<Kind, Totals> = Default::default();
    for l in loaded {
        by_kind.entry(l.kind).or_default().add(&l.sent);
    }
    let mut table = table(&[
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
        catalogue::placements().article.monthly_allowance_fen / 100,
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
