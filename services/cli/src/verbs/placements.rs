//! `sy placements`, `sy allowance` and `sy stations`: the placement
//! programmes' commands as Placements RPCs, and their reads (lists,
//! statistics, a station) through [`super::registry`].

use sy_api::pb;

use super::{context_of, or_empty, registry, write};
use crate::args::{AllowanceCommand, PlacementsCommand, StationsCommand};
use crate::commands::Cmd;
use crate::error::Error;
use crate::rpc::Endpoints;

/// `sy placements ...`: a write as `operator`, or a read.
pub async fn placements(
    endpoints: &Endpoints,
    operator: &pb::Actor,
    command: &PlacementsCommand,
) -> Result<(), Error> {
    let key = |w| context_of(w, "placements");
    let (cmd, json) = match command {
        PlacementsCommand::List(list) => return registry::placements(endpoints, list).await,
        PlacementsCommand::Stats(stats) => return registry::stats(endpoints, stats).await,
        PlacementsCommand::Register(a) => (
            Cmd::RegisterPlacement(pb::RegisterPlacementCommand {
                context: key(&a.write),
                programme: pb::Programme::from(a.programme) as i32,
                person_id: a.person.clone(),
                area_code: a.area.clone(),
                fast_lane: a.fast_lane,
                school: or_empty(&a.school),
                grade: or_empty(&a.grade),
            }),
            a.write.json,
        ),
        PlacementsCommand::Match(a) => (
            Cmd::Match(pb::MatchPlacementCommand {
                context: key(&a.write),
                placement_id: a.id.clone(),
                employer: a.employer.clone(),
                post: a.post.clone(),
                profession_matched: a.profession_matched,
                post_matched: a.post_matched,
                rank_matched: a.rank_matched,
            }),
            a.write.json,
        ),
        PlacementsCommand::OnDuty(a) => (
            Cmd::PutOnDuty(pb::PutOnDutyCommand {
                context: key(&a.write),
                placement_id: a.id.clone(),
                on_duty_date: or_empty(&a.date),
            }),
            a.write.json,
        ),
        PlacementsCommand::Decline(a) => (
            Cmd::DeclinePlacement(pb::DeclinePlacementCommand {
                context: key(&a.write),
                placement_id: a.id.clone(),
                reason: a.reason.clone(),
            }),
            a.write.json,
        ),
        PlacementsCommand::Withdraw(a) => (
            Cmd::WithdrawPlacement(pb::WithdrawPlacementCommand {
                context: key(&a.write),
                placement_id: a.id.clone(),
                reason: a.reason.clone(),
            }),
            a.write.json,
        ),
    };
    write(endpoints, operator, cmd, json).await
}

/// `sy allowance grant|pay|stop` as `operator`.
pub async fn allowance(
    endpoints: &Endpoints,
    operator: &pb::Actor,
    command: &AllowanceCommand,
) -> Result<(), Error> {
    let key = |w| context_of(w, "allowance");
    let (cmd, json) = match command {
        AllowanceCommand::Grant(a) => (
            Cmd::GrantAllowance(pb::GrantAllowanceCommand {
                context: key(&a.write),
                person_id: a.person.clone(),
                monthly_amount_fen: a.monthly_yuan,
                from_month: a.from.clone(),
            }),
            a.write.json,
        ),
        AllowanceCommand::Pay(a) => (
            Cmd::PayAllowance(pb::PayAllowanceCommand {
                context: key(&a.write),
                person_id: a.person.clone(),
                month: a.month.clone(),
            }),
            a.write.json,
        ),
        AllowanceCommand::Stop(a) => (
            Cmd::StopAllowance(pb::StopAllowanceCommand {
                context: key(&a.write),
                person_id: a.person.clone(),
                reason: a.reason.clone(),
            }),
            a.write.json,
        ),
    };
    write(endpoints, operator, cmd, json).await
}

/// `sy stations ...`: a write as `operator`, or a read.
pub async fn stations(
    endpoints: &Endpoints,
    operator: &pb::Actor,
    command: &StationsCommand,
) -> Result<(), Error> {
    let key = |w| context_of(w, "stations");
    let (cmd, json) = match command {
        StationsCommand::Show(show) => return registry::station(endpoints, show).await,
        StationsCommand::List(list) => return registry::stations(endpoints, list).await,
        StationsCommand::Open(a) => (
            Cmd::OpenStation(pb::OpenStationCommand {
                context: key(&a.write),
                name: a.name.clone(),
                seats: a.seats,
                opening_hours: a.hours.clone(),
                area_code: a.area.clone(),
                address: a.address.clone(),
            }),
            a.write.json,
        ),
        StationsCommand::Seats(a) => (
            Cmd::ChangeStationSeats(pb::ChangeStationSeatsCommand {
                context: key(&a.write),
                station_id: a.id.clone(),
                seats: a.seats,
            }),
            a.write.json,
        ),
        StationsCommand::Enroll(a) => (
            Cmd::EnrollChild(pb::EnrollChildCommand {
                context: key(&a.write),
                station_id: a.id.clone(),
                child_person_id: a.child.clone(),
            }),
            a.write.json,
        ),
        StationsCommand::Withdraw(a) => (
            Cmd::WithdrawChild(pb::WithdrawChildCommand {
                context: key(&a.child.write),
                station_id: a.child.id.clone(),
                child_person_id: a.child.child.clone(),
                reason: a.reason.clone(),
            }),
            a.child.write.json,
        ),
    };
    write(endpoints, operator, cmd, json).await
}
