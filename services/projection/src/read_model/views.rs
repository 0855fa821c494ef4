//! The views the placement queries serve, derived from the domain states the
//! read model stores. Presentation only: names, wire numbers, timestamps and
//! sums of what the domain's `apply` decided; no rule is checked here.

use sy_domain::aggregate::Aggregate;
use sy_domain::allowance::{Allowance, AllowanceStatus};
use sy_domain::event::to_proto;
use sy_domain::pb;
use sy_domain::placement::{Placement, Status};
use sy_domain::station::Station;

/// Registration to placement in whole seconds; 0 until placed (or when a
/// clock ran backwards).
pub fn seconds_to_placement(placement: &Placement) -> u64 {
    placement
        .time_to_placement()
        .and_then(|elapsed| u64::try_from(elapsed.as_secs()).ok())
        .unwrap_or_default()
}

pub fn placement(placement: &Placement) -> pb::PlacementView {
    let cycle = placement.current();
    // A school enrollment names the school the child got into.
    let school = if placement.status() == Status::Enrolled {
        &cycle.enrolled_school
    } else {
        &cycle.school
    };
    pb::PlacementView {
        id: placement.id().to_string(),
        programme: placement.programme() as i32,
        person_id: placement
            .person_id()
            .map(|id| id.to_string())
            .unwrap_or_default(),
        status: placement.status().as_str().to_string(),
        cycle: placement.cycle(),
        area_code: cycle.area_code.clone(),
        fast_lane: cycle.fast_lane,
        within_24h: placement.fast_lane_within_24h().unwrap_or_default(),
        registered_at: cycle.registered_at.map(to_proto),
        placed_at: cycle.on_duty_at.or(cycle.enrolled_at).map(to_proto),
        employer: cycle.employer.clone(),
        post: cycle.post.clone(),
        profession_matched: cycle.profession_matched,
        post_matched: cycle.post_matched,
        rank_matched: cycle.rank_matched,
        talent_pool_community: cycle
            .talent_pool
            .as_ref()
            .map(|pool| pool.community_code.clone())
            .unwrap_or_default(),
        school: school.clone(),
        grade: cycle.grade.clone(),
        reason: cycle.reason.clone(),
        seconds_to_placement: seconds_to_placement(placement),
        last_position: placement.last_position(),
    }
}

pub fn allowance(allowance: &Allowance) -> pb::AllowanceView {
    let stop = allowance.stop();
    pb::AllowanceView {
        person_id: allowance
            .person_id()
            .map(|id| id.to_string())
            .unwrap_or_default(),
        status: match allowance.status() {
            None => "",
            Some(AllowanceStatus::Granted) => "granted",
            Some(AllowanceStatus::Stopped) => "stopped",
        }
        .to_string(),
        monthly_amount_fen: allowance.monthly_amount_fen().unwrap_or_default(),
        from_month: allowance
            .from_month()
            .map(|month| month.to_string())
            .unwrap_or_default(),
        total_paid_fen: allowance.total_paid_fen(),
        months_paid: u32::try_from(allowance.paid().len()).unwrap_or(u32::MAX),
        last_paid_month: allowance
            .last_paid_month()
            .map(|month| month.to_string())
            .unwrap_or_default(),
        stop_reason: stop.map(|s| s.reason.clone()).unwrap_or_default(),
        stopped_automatically: stop.is_some_and(|s| s.automatic),
    }
}

pub fn station(station: &Station) -> pb::StationView {
    pb::StationView {
        id: station.id().to_string(),
        name: station.name().to_string(),
        seats: station.seats(),
        occupancy: station.occupancy(),
        free_seats: station.free_seats(),
        opening_hours: station.opening_hours().to_string(),
        area_code: station.area_code().to_string(),
        address: station.address().to_string(),
        seated: station.seated().to_vec(),
        waitlist: station.waitlist().to_vec(),
        version: station.version(),
    }
}
