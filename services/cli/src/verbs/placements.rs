//! `sy placements`, `sy allowance` and `sy stations`: the placement
//! programmes' commands as Placements RPCs, and their reads (lists,
//! statistics, a station) through [`super::registry`].

use sy_api::pb;

use super::{context_of, or_empty, registry, write};
use crate::args::{
    AllowanceCommand, PlacementStep, PlacementsCommand, StationStep, StationsCommand,
};
use crate::commands::Cmd;
use crate::error::Error;
use crate::rpc::Endpoints;

/// `sy placements ...`: a read, or a step sent as `operator`.
pub async fn placements(
    endpoints: &Endpoints,
    operator: &pb::Actor,
    command: &PlacementsCommand,
) -> Result<(), Error> {
    match command {
        PlacementsCommand::List(list) => registry::placements(endpoints, list).await,
        PlacementsCommand::Stats(stats) => registry::stats(endpoints, stats).await,
        PlacementsCommand::Step(step) => {
            let (cmd, json) = plan_placement(step);
            write(endpoints, operator, cmd, json).await
        }
    }
}

/// `sy allowance grant|pay|stop` as `operator`.
pub async fn allowance(
    endpoints: &Endpoints,
    operator: &pb::Actor,
    command: &AllowanceCommand,
) -> Result<(), Error> {
    let (cmd, json) = plan_allowance(command);
    write(endpoints, operator, cmd, json).await
}

/// `sy stations ...`: a read, or a step sent as `operator`.
pub async fn stations(
    endpoints: &Endpoints,
    operator: &pb::Actor,
    command: &StationsCommand,
) -> Result<(), Error> {
    match command {
        StationsCommand::Show(show) => registry::station(endpoints, show).await,
        StationsCommand::List(list) => registry::stations(endpoints, list).await,
        StationsCommand::Step(step) => {
            let (cmd, json) = plan_station(step);
            write(endpoints, operator, cmd, json).await
        }
    }
}

/// The command for `step`, and whether its result is wanted as JSON.
fn plan_placement(step: &PlacementStep) -> (Cmd, bool) {
    let key = |w| context_of(w, "placements");
    match step {
        PlacementStep::Register(a) => (
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
        PlacementStep::Match(a) => (
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
        PlacementStep::OnDuty(a) => (
            Cmd::PutOnDuty(pb::PutOnDutyCommand {
                context: key(&a.write),
                placement_id: a.id.clone(),
                on_duty_date: or_empty(&a.date),
            }),
            a.write.json,
        ),
        PlacementStep::Decline(a) => (
            Cmd::DeclinePlacement(pb::DeclinePlacementCommand {
                context: key(&a.write),
                placement_id: a.id.clone(),
                reason: a.reason.clone(),
            }),
            a.write.json,
        ),
        PlacementStep::Withdraw(a) => (
            Cmd::WithdrawPlacement(pb::WithdrawPlacementCommand {
                context: key(&a.write),
                placement_id: a.id.clone(),
                reason: a.reason.clone(),
            }),
            a.write.json,
        ),
        PlacementStep::TalentPool(a) => (
            Cmd::RecommendToTalentPool(pb::RecommendToTalentPoolCommand {
                context: key(&a.write),
                placement_id: a.id.clone(),
                community_code: a.community.clone(),
                note: a.note.clone(),
            }),
            a.write.json,
        ),
        PlacementStep::SchoolAccept(a) => (
            Cmd::AcceptSchoolRequest(pb::AcceptSchoolRequestCommand {
                context: key(&a.write),
                placement_id: a.id.clone(),
                note: a.note.clone(),
            }),
            a.write.json,
        ),
        PlacementStep::SchoolDecline(a) => (
            Cmd::DeclineSchoolRequest(pb::DeclineSchoolRequestCommand {
                context: key(&a.write),
                placement_id: a.id.clone(),
                reason: a.reason.clone(),
            }),
            a.write.json,
        ),
        PlacementStep::SchoolEnroll(a) => (
            Cmd::EnrollInSchool(pb::EnrollInSchoolCommand {
                context: key(&a.write),
                placement_id: a.id.clone(),
                school: a.school.clone(),
            }),
            a.write.json,
        ),
    }
}

/// The command for `command`, and whether its result is wanted as JSON.
fn plan_allowance(command: &AllowanceCommand) -> (Cmd, bool) {
    let key = |w| context_of(w, "allowance");
    match command {
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
    }
}

/// The command for `step`, and whether its result is wanted as JSON.
fn plan_station(step: &StationStep) -> (Cmd, bool) {
    let key = |w| context_of(w, "stations");
    match step {
        StationStep::Open(a) => (
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
        StationStep::Seats(a) => (
            Cmd::ChangeStationSeats(pb::ChangeStationSeatsCommand {
                context: key(&a.write),
                station_id: a.id.clone(),
                seats: a.seats,
            }),
            a.write.json,
        ),
        StationStep::Enroll(a) => (
            Cmd::EnrollChild(pb::EnrollChildCommand {
                context: key(&a.write),
                station_id: a.id.clone(),
                child_person_id: a.child.clone(),
            }),
            a.write.json,
        ),
        StationStep::Withdraw(a) => (
            Cmd::WithdrawChild(pb::WithdrawChildCommand {
                context: key(&a.child.write),
                station_id: a.child.id.clone(),
                child_person_id: a.child.child.clone(),
                reason: a.reason.clone(),
            }),
            a.child.write.json,
        ),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::{Cli, Command};
    use crate::commands::Slot;

    fn parsed(args: &[&str]) -> Command {
        Cli::try_parse_from(args).expect("parses").command
    }

    #[test]
    fn each_placement_step_is_its_rpc_addressing_its_placement() {
        let steps = [
            (
                &["on-duty", "pl-1", "--date", "2026-12-01"][..],
                "PutOnDuty",
            ),
            (
                &["match", "pl-1", "--employer", "e", "--post", "p"],
                "MatchPlacement",
            ),
            (&["decline", "pl-1", "--reason", "r"], "DeclinePlacement"),
            (&["withdraw", "pl-1", "--reason", "r"], "WithdrawPlacement"),
            (
                &["talent-pool", "pl-1", "--community", "500106001002"],
                "RecommendToTalentPool",
            ),
            (&["school-accept", "pl-1"], "AcceptSchoolRequest"),
            (
                &["school-decline", "pl-1", "--reason", "full"],
                "DeclineSchoolRequest",
            ),
            (
                &["school-enroll", "pl-1", "--school", "s"],
                "EnrollInSchool",
            ),
        ];
        for (args, call) in steps {
            let line: Vec<&str> = ["sy", "placements"].iter().chain(args).copied().collect();
            let Command::Placements {
                command: PlacementsCommand::Step(step),
            } = parsed(&line)
            else {
                panic!("{call}: not a step");
            };
            let (cmd, json) = plan_placement(&step);
            assert_eq!((cmd.call(), json), (call, false));
            assert_eq!(cmd.aggregate(), Slot::Placement, "{call}");
            let mut named = cmd.clone();
            named.fill(&{
                let mut ids = crate::commands::Ids::default();
                ids.set(Slot::Placement, "other".into());
                ids
            });
            assert_eq!(named, cmd, "{call} names placement pl-1 itself");
        }
        let Command::Placements {
            command: PlacementsCommand::Step(step),
        } = parsed(&[
            "sy",
            "placements",
            "register",
            "--person",
            "p-1",
            "--programme",
            "school",
            "--area",
            "500106001002",
            "--school",
            "树人小学",
            "--grade",
            "一年级",
            "--json",
        ])
        else {
            panic!("not a step");
        };
        let (Cmd::RegisterPlacement(register), true) = plan_placement(&step) else {
            panic!("not a registration with --json");
        };
        assert_eq!(register.programme, pb::Programme::SchoolEnrollment as i32);
        assert_eq!(
            (register.school.as_str(), register.grade.as_str()),
            ("树人小学", "一年级")
        );
        assert!(!register.fast_lane);
    }

    #[test]
    fn the_allowance_is_in_fen_and_months() {
        let Command::Allowance { command } = parsed(&[
            "sy",
            "allowance",
            "grant",
            "--person",
            "p-1",
            "--monthly-yuan",
            "2100",
            "--from",
            "2026-3",
            "--idempotency-key",
            "grant-1",
        ]) else {
            panic!("not an allowance");
        };
        let (Cmd::GrantAllowance(grant), false) = plan_allowance(&command) else {
            panic!("not a grant");
        };
        assert_eq!(grant.monthly_amount_fen, 210_000);
        assert_eq!(grant.from_month, "2026-03");
        assert_eq!(grant.context.unwrap().idempotency_key, "grant-1");
    }

    #[test]
    fn station_steps_name_the_station_and_the_child() {
        let Command::Stations {
            command: StationsCommand::Step(step),
        } = parsed(&[
            "sy", "stations", "withdraw", "st-1", "--child", "c-1", "--reason", "moved",
        ])
        else {
            panic!("not a step");
        };
        let (Cmd::WithdrawChild(withdraw), _) = plan_station(&step) else {
            panic!("not a withdrawal");
        };
        assert_eq!(
            (
                withdraw.station_id.as_str(),
                withdraw.child_person_id.as_str(),
                withdraw.reason.as_str()
            ),
            ("st-1", "c-1", "moved")
        );
        let key = withdraw.context.unwrap().idempotency_key;
        assert!(key.starts_with("sy-stations-"), "{key}");
        assert!(
            Cli::try_parse_from(["sy", "stations", "open", "--name", "n", "--seats", "x"]).is_err()
        );
    }
}
