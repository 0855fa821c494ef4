//! The placement registries for people: a person (masked as the projection
//! serves them), placements, care stations. Masking is the projection's:
//! nothing here can show more than it was given (a masked view leaves a
//! spouse's courses and certificates out, shown as `-`).

use comfy_table::Table;
use sy_api::pb::{self, PersonRole, Programme, Relation};

use super::{field_table, or_dash, programme_label, table, time, yuan};

pub fn role_label(role: PersonRole) -> &'static str {
    match role {
        PersonRole::Unspecified => "-",
        PersonRole::Veteran => "veteran 退役军人",
        PersonRole::MilitarySpouse => "military spouse 随军家属",
        PersonRole::MilitaryChild => "military child 军人子女",
    }
}

fn relation_label(relation: Relation) -> &'static str {
    match relation {
        Relation::Unspecified => "-",
        Relation::SpouseOf => "spouse of",
        Relation::ChildOf => "child of",
    }
}

/// A person's fields, their placements and their allowance, as tables.
pub fn person_text(p: &pb::PersonView) -> String {
    let links: Vec<String> = p
        .links
        .iter()
        .map(|l| {
            let whom = [l.name.as_str(), l.unit.as_str(), l.person_id.as_str()]
                .into_iter()
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(", ");
            format!("{} {whom}", relation_label(l.relation()))
        })
        .collect();
    let mut rows: Vec<(&str, String)> = vec![
        ("id", p.id.clone()),
        ("role", role_label(p.role()).to_string()),
        ("name", or_dash(&p.name).to_string()),
        ("ID number", or_dash(&p.id_number).to_string()),
        ("phone", or_dash(&p.phone).to_string()),
        ("area", p.area_code.clone()),
        ("links", or_dash(&links.join("; ")).to_string()),
        ("registered", time(p.registered_at.as_ref())),
        ("version", p.version.to_string()),
        ("legal hold", yes_no(p.legal_hold).to_string()),
    ];
    if p.erased {
        rows.push(("erased", time(p.erased_at.as_ref())));
    }
    for t in &p.trainings {
        rows.push((
            "training",
            format!("{} ({} h, {})", or_dash(&t.course), t.hours, t.completed_on),
        ));
    }
    for c in &p.certificates {
        rows.push((
            "certificate",
            format!(
                "{} by {} ({})",
                or_dash(&c.certificate),
                or_dash(&c.issuer),
                c.issued_on
            ),
        ));
    }
    let mut out = format!("{}\n", field_table(rows));
    if !p.placements.is_empty() {
        out.push_str(&format!("{}\n", placement_list(&p.placements)));
    }
    if let Some(a) = p.allowance.as_ref().filter(|a| !a.status.is_empty()) {
        out.push_str(&format!(
            "allowance 生活保障金: {} since {}, {} yuan a month, {} months paid ({} yuan, last {}){}\n",
            a.status,
            a.from_month,
            yuan(a.monthly_amount_fen),
            a.months_paid,
            yuan(a.total_paid_fen),
            or_dash(&a.last_paid_month),
            if a.stop_reason.is_empty() {
                String::new()
            } else {
                format!("; stopped: {}", a.stop_reason)
            }
        ));
    }
    out
}

/// Placements, one row each.
pub fn placement_list(placements: &[pb::PlacementView]) -> Table {
    let mut table = table(&[
        "placement",
        "programme",
        "person",
        "status",
        "area",
        "registered",
        "placed",
        "where",
    ]);
    for p in placements {
        let programme = p.programme();
        let place = match programme {
            Programme::SchoolEnrollment => [p.school.as_str(), p.grade.as_str()].join(" "),
            _ => [p.employer.as_str(), p.post.as_str()].join(" "),
        };
        let lane = if p.fast_lane { " (fast lane)" } else { "" };
        table.add_row(vec![
            p.id.clone(),
            format!("{}{lane}", programme_label(programme)),
            p.person_id.clone(),
            p.status.clone(),
            p.area_code.clone(),
            time(p.registered_at.as_ref()),
            time(p.placed_at.as_ref()),
            or_dash(place.trim()).to_string(),
        ]);
    }
    table
}

/// A station's fields, then its seated children and its waitlist in order.
pub fn station_text(s: &pb::StationView) -> String {
    let rows = vec![
        ("id", s.id.clone()),
        ("name", s.name.clone()),
        (
            "seats",
            format!("{} ({} taken, {} free)", s.seats, s.occupancy, s.free_seats),
        ),
        ("opening hours", s.opening_hours.clone()),
        ("area", s.area_code.clone()),
        ("address", s.address.clone()),
        ("version", s.version.to_string()),
    ];
    let mut children = table(&["#", "child", "place"]);
    let seated = s.seated.iter().map(|id| (id, "seated"));
    let waiting = s.waitlist.iter().map(|id| (id, "waitlist"));
    for (n, (id, place)) in seated.chain(waiting).enumerate() {
        children.add_row(vec![(n + 1).to_string(), id.clone(), place.to_string()]);
    }
    format!("{}\n{children}\n", field_table(rows))
}

/// Stations, one row each.
pub fn station_list(stations: &[pb::StationView]) -> Table {
    let mut table = table(&[
        "station", "name", "area", "seats", "taken", "free", "waitlist", "hours",
    ]);
    for s in stations {
        table.add_row(vec![
            s.id.clone(),
            s.name.clone(),
            s.area_code.clone(),
            s.seats.to_string(),
            s.occupancy.to_string(),
            s.free_seats.to_string(),
            s.waitlist.len().to_string(),
            s.opening_hours.clone(),
        ]);
    }
    table
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}
