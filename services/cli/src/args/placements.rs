//! The clerk's verbs of the placement programmes: registering people
//! (`sy person register|show`), their placements (`sy placements`), the
//! spouse allowance (`sy allowance`) and care stations (`sy stations`),
//! each a Placements RPC or a PlacementQuery read.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use sy_api::pb;

use super::{WriteArgs, parse_date, parse_month};

/// `sy person register`: the personal fields (name, national ID number,
/// phone, the service member's name) come from a file or stdin, never from
/// the command line, where they would stay in the shell's history and show
/// in `ps` to every user of the machine. The flags carry what is not
/// personal data; each may instead be in the file, not in both.
#[derive(Debug, Args)]
pub struct RegisterPersonArgs {
    /// The person's fields: an owner-only (chmod 600) TOML or JSON file, or
    /// `-` for stdin. Keys: name, id_number, phone, member_name (personal
    /// data: only here), and role, area, relation, member_unit,
    /// member_person (here or as flags).
    #[arg(long, value_name = "FILE|-")]
    pub from_file: PathBuf,
    /// Who registers: a veteran, a military spouse or a military child.
    #[arg(long, value_enum)]
    pub role: Option<RoleArg>,
    /// 12-digit street or community code in a served district.
    #[arg(long)]
    pub area: Option<String>,
    /// A spouse's or child's service member or veteran: how they are
    /// related (their name goes in the file as member_name).
    #[arg(long, value_enum)]
    pub relation: Option<RelationArg>,
    /// Their unit's agency code when serving, e.g. unit-31001.
    #[arg(long)]
    pub member_unit: Option<String>,
    /// Their person id when registered here (a veteran).
    #[arg(long)]
    pub member_person: Option<String>,
    /// Refused: personal data is not taken on the command line.
    #[command(flatten)]
    pub refused: PersonalFlags,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// The flags that once carried a person's data, kept hidden so that using
/// one is refused with a message saying where the field goes instead of
/// clap's "unexpected argument". Their values are never printed.
#[derive(Debug, Args)]
pub struct PersonalFlags {
    #[arg(long, hide = true, value_name = "REFUSED")]
    pub name: Option<String>,
    #[arg(long, hide = true, value_name = "REFUSED")]
    pub id_number: Option<String>,
    #[arg(long, hide = true, value_name = "REFUSED")]
    pub phone: Option<String>,
    #[arg(long, hide = true, value_name = "REFUSED")]
    pub member_name: Option<String>,
}

impl PersonalFlags {
    /// The first personal flag given, as `(flag, the file's key)`.
    pub fn given(&self) -> Option<(&'static str, &'static str)> {
        [
            (&self.name, "--name", "name"),
            (&self.id_number, "--id-number", "id_number"),
            (&self.phone, "--phone", "phone"),
            (&self.member_name, "--member-name", "member_name"),
        ]
        .into_iter()
        .find_map(|(value, flag, key)| value.as_ref().map(|_| (flag, key)))
    }
}

/// A read of one record by id.
#[derive(Debug, Args)]
pub struct ShowByIdArgs {
    pub id: String,
    #[command(flatten)]
    pub read: ReadArgs,
}

/// What every read takes.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Wait until the projection has applied this stream position.
    #[arg(long, default_value_t = 0)]
    pub min_position: u64,
    /// Print the answer as JSON (the protobuf JSON mapping, field names as
    /// in the proto) instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PlacementsCommand {
    /// Placements matching all given filters, newest first.
    List(ListPlacementsArgs),
    /// Figures per programme for an area and each area directly below it.
    Stats(StatsArgs),
    #[command(flatten)]
    Step(PlacementStep),
}

/// A command on a placement: one Placements RPC each.
#[derive(Debug, Subcommand)]
pub enum PlacementStep {
    /// A person enters a programme; prints the placement id.
    Register(RegisterPlacementArgs),
    /// A post (or a school place) is found for the placement.
    Match(MatchArgs),
    /// The person is on duty (上岗); a spouse's allowance stops by itself.
    OnDuty(OnDutyArgs),
    /// The person declined the placement.
    Decline(PlacementReasonArgs),
    /// The placement is withdrawn.
    Withdraw(PlacementReasonArgs),
    /// Recommend a placed veteran to a community's reserve talent pool.
    TalentPool(TalentPoolArgs),
    /// The school accepts a child's school request (the education office).
    SchoolAccept(SchoolNoteArgs),
    /// The school declines a child's school request (the education office).
    SchoolDecline(PlacementReasonArgs),
    /// The child is enrolled at the school.
    SchoolEnroll(SchoolEnrollArgs),
}

#[derive(Debug, Args)]
pub struct RegisterPlacementArgs {
    /// The person's id.
    #[arg(long)]
    pub person: String,
    #[arg(long, value_enum)]
    pub programme: ProgrammeArg,
    /// 12-digit area code of the placement.
    #[arg(long)]
    pub area: String,
    /// Veterans: the employment fast lane (24 hours to duty).
    #[arg(long)]
    pub fast_lane: bool,
    /// School enrollment: the school asked for.
    #[arg(long)]
    pub school: Option<String>,
    /// School enrollment: the grade asked for.
    #[arg(long)]
    pub grade: Option<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct MatchArgs {
    /// The placement id.
    pub id: String,
    #[arg(long)]
    pub employer: String,
    #[arg(long)]
    pub post: String,
    /// Spouses: the post matches their profession (专业对口).
    #[arg(long)]
    pub profession_matched: bool,
    /// Spouses: the post matches their former post (岗位对应).
    #[arg(long)]
    pub post_matched: bool,
    /// Spouses: the rank matches (职务对等).
    #[arg(long)]
    pub rank_matched: bool,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct OnDutyArgs {
    /// The placement id.
    pub id: String,
    /// The day on duty ("YYYY-MM-DD"); default the day of the command.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub date: Option<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct PlacementReasonArgs {
    /// The placement id.
    pub id: String,
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct TalentPoolArgs {
    /// The placement id.
    pub id: String,
    /// 12-digit community code.
    #[arg(long)]
    pub community: String,
    #[arg(long, default_value = "")]
    pub note: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct SchoolNoteArgs {
    /// The placement id.
    pub id: String,
    #[arg(long, default_value = "")]
    pub note: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct SchoolEnrollArgs {
    /// The placement id.
    pub id: String,
    /// The school the child is enrolled at.
    #[arg(long)]
    pub school: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct TrainingArgs {
    /// The person's id.
    #[arg(long)]
    pub person: String,
    #[arg(long)]
    pub course: String,
    #[arg(long)]
    pub hours: u32,
    /// The day it was completed ("YYYY-MM-DD", not in the future).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub completed: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct CertificateArgs {
    /// The person's id.
    #[arg(long)]
    pub person: String,
    #[arg(long)]
    pub certificate: String,
    #[arg(long)]
    pub issuer: String,
    /// The day it was issued ("YYYY-MM-DD", not in the future).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub issued: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct ListPlacementsArgs {
    #[arg(long, value_enum)]
    pub programme: Option<ProgrammeArg>,
    #[arg(long, value_enum)]
    pub status: Option<PlacementStatusArg>,
    /// 12-digit area code; matches the area and everything below it.
    #[arg(long)]
    pub area: Option<String>,
    /// Only fast-lane placements.
    #[arg(long)]
    pub fast_lane: bool,
    /// Placements per page (1 to 500).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub page_size: u32,
    /// Continue from a previous page's token.
    #[arg(long)]
    pub page_token: Option<String>,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// 12-digit area code; default the first served district with data.
    #[arg(long)]
    pub area: Option<String>,
    /// Calendar year of the allowance totals; default this year.
    #[arg(long)]
    pub year: Option<i32>,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Subcommand)]
pub enum AllowanceCommand {
    /// Grant an unemployed spouse the monthly allowance (生活保障金).
    Grant(GrantArgs),
    /// Record the payment of one month.
    Pay(PayArgs),
    /// Stop the allowance.
    Stop(StopArgs),
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The spouse's person id.
    #[arg(long)]
    pub person: String,
    /// Monthly amount in yuan, e.g. 2100 or 2100.50.
    #[arg(long, value_parser = parse_yuan)]
    pub monthly_yuan: i64,
    /// First month ("YYYY-MM").
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    pub from: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct PayArgs {
    /// The spouse's person id.
    #[arg(long)]
    pub person: String,
    /// The month paid ("YYYY-MM").
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    pub month: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The spouse's person id.
    #[arg(long)]
    pub person: String,
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Subcommand)]
pub enum StationsCommand {
    /// One station with its seated children and waitlist.
    Show(ShowByIdArgs),
    /// Stations, by area.
    List(ListStationsArgs),
    #[command(flatten)]
    Step(StationStep),
}

/// A command on a care station: one Placements RPC each.
#[derive(Debug, Subcommand)]
pub enum StationStep {
    /// Open a children's care station (军娃托管站); prints its id.
    Open(OpenStationArgs),
    /// Change a station's number of seats.
    Seats(SeatsArgs),
    /// Enroll a child: seated when a seat is free, else waitlisted.
    Enroll(ChildArgs),
    /// Withdraw a child: the freed seat goes to the first child waiting.
    Withdraw(WithdrawChildArgs),
}

#[derive(Debug, Args)]
pub struct OpenStationArgs {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub seats: u32,
    /// "HH:MM-HH:MM", at least 8 hours.
    #[arg(long)]
    pub hours: String,
    /// 12-digit area code.
    #[arg(long)]
    pub area: String,
    #[arg(long)]
    pub address: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct SeatsArgs {
    /// The station id.
    pub id: String,
    #[arg(long)]
    pub seats: u32,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct ChildArgs {
    /// The station id.
    pub id: String,
    /// The child's person id.
    #[arg(long)]
    pub child: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct WithdrawChildArgs {
    #[command(flatten)]
    pub child: ChildArgs,
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct ListStationsArgs {
    /// 12-digit area code; matches the area and everything below it.
    #[arg(long)]
    pub area: Option<String>,
    /// Stations per page (1 to 500).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub page_size: u32,
    /// Continue from a previous page's token.
    #[arg(long)]
    pub page_token: Option<String>,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Veteran,
    Spouse,
    Child,
}

impl From<RoleArg> for pb::PersonRole {
    fn from(value: RoleArg) -> Self {
        match value {
            RoleArg::Veteran => Self::Veteran,
            RoleArg::Spouse => Self::MilitarySpouse,
            RoleArg::Child => Self::MilitaryChild,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RelationArg {
    SpouseOf,
    ChildOf,
}

impl From<RelationArg> for pb::Relation {
    fn from(value: RelationArg) -> Self {
        match value {
            RelationArg::SpouseOf => Self::SpouseOf,
            RelationArg::ChildOf => Self::ChildOf,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgrammeArg {
    /// Veteran resettlement (退役军人安置).
    Veteran,
    /// Military spouse placement (随军家属安置).
    Spouse,
    /// School enrollment of military children (子女入学).
    School,
}

impl From<ProgrammeArg> for pb::Programme {
    fn from(value: ProgrammeArg) -> Self {
        match value {
            ProgrammeArg::Veteran => Self::VeteranResettlement,
            ProgrammeArg::Spouse => Self::SpousePlacement,
            ProgrammeArg::School => Self::SchoolEnrollment,
        }
    }
}

/// A placement's status, as the projection names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum PlacementStatusArg {
    Registered,
    Matched,
    OnDuty,
    Accepted,
    Enrolled,
    Declined,
    Withdrawn,
}

impl PlacementStatusArg {
    /// The name the projection files it under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Matched => "matched",
            Self::OnDuty => "on_duty",
            Self::Accepted => "accepted",
            Self::Enrolled => "enrolled",
            Self::Declined => "declined",
            Self::Withdrawn => "withdrawn",
        }
    }
}

/// Yuan (at most two decimals) as integer fen: `2100` → 210000.
pub fn parse_yuan(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not an amount in yuan such as 2100 or 2100.50");
    let (whole, cents) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || cents.len() > 2 {
        return Err(bad());
    }
    if !cents.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{cents:0<2}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(100)
        .and_then(|fen| fen.checked_add(cents))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::{Cli, Command};

    #[test]
    fn yuan_become_fen() {
        assert_eq!(parse_yuan("2100"), Ok(210_000));
        assert_eq!(parse_yuan("2100.5"), Ok(210_050));
        assert_eq!(parse_yuan("0.05"), Ok(5));
        for bad in ["", "-1", "2100.555", "21,00", "1e3", ".5", "2100.x"] {
            assert!(parse_yuan(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_registration_takes_its_person_from_a_file_and_no_personal_flag_shows() {
        let cli = Cli::try_parse_from([
            "sy",
            "person",
            "register",
            "--from-file",
            "-",
            "--role",
            "spouse",
            "--area",
            "500106001002",
            "--relation",
            "spouse-of",
            "--member-unit",
            "unit-31001",
        ])
        .expect("parses");
        let Command::Person {
            command: crate::args::PersonCommand::Step(crate::args::PersonStep::Register(register)),
        } = cli.command
        else {
            panic!("not a registration");
        };
        assert_eq!(register.from_file, std::path::Path::new("-"));
        assert_eq!(register.role, Some(RoleArg::Spouse));
        assert_eq!(register.relation, Some(RelationArg::SpouseOf));
        assert_eq!(register.refused.given(), None);
        assert!(
            Cli::try_parse_from(["sy", "person", "register", "--role", "veteran"]).is_err(),
            "the file is required"
        );
        let help = {
            use clap::CommandFactory as _;
            let mut command = Cli::command();
            command
                .find_subcommand_mut("person")
                .and_then(|person| person.find_subcommand_mut("register"))
                .expect("sy person register")
                .render_long_help()
                .to_string()
        };
        assert!(help.contains("--from-file"), "{help}");
        for hidden in ["--id-number", "--name", "--phone", "--member-name"] {
            assert!(!help.contains(hidden), "{hidden} offered: {help}");
        }
    }

    #[test]
    fn placement_statuses_are_the_projections_names() {
        let cli = Cli::try_parse_from(["sy", "placements", "list", "--status", "on_duty"])
            .expect("parses");
        let Command::Placements {
            command: PlacementsCommand::List(list),
        } = cli.command
        else {
            panic!("not a list");
        };
        assert_eq!(list.status.map(PlacementStatusArg::as_str), Some("on_duty"));
        for status in PlacementStatusArg::value_variants() {
            let name = status.to_possible_value().expect("not hidden");
            assert_eq!(name.get_name(), status.as_str());
        }
    }
}
