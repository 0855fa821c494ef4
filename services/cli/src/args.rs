//! The command line: every subcommand, flag and environment variable of `sy`,
//! declared with clap derive so `sy --help` is the reference.

use clap::{Args, Parser, Subcommand, ValueEnum};

use sy_api::pb;

#[derive(Debug, Parser)]
#[command(
    name = "sy",
    version,
    about = "Operate and inspect shuangyong (双拥): demo data, a lifecycle walkthrough, the close-out board, requests, health.",
    after_help = "Every intake call carries the metadata x-sy-agency and x-sy-user. \
                  `demo` and `walkthrough` act as the parties of their script (a military unit, \
                  the responsible department, the supervision office) and as --agency/--user for \
                  the coordinating office that assigns requests."
)]
pub struct Cli {
    /// Intake (command API) endpoint.
    #[arg(
        long,
        env = "SY_INTAKE_URL",
        default_value = "http://127.0.0.1:50051",
        global = true,
        help_heading = "Connection"
    )]
    pub intake_url: String,

    /// Query (read API, projection) endpoint.
    #[arg(
        long,
        env = "SY_QUERY_URL",
        default_value = "http://127.0.0.1:50052",
        global = true,
        help_heading = "Connection"
    )]
    pub query_url: String,

    /// Agency code of the operator (x-sy-agency); in `demo` and `walkthrough`
    /// the coordinating office (区双拥办) that assigns requests.
    #[arg(
        long,
        env = "SY_AGENCY",
        default_value = "district-veterans-bureau",
        global = true,
        help_heading = "Connection"
    )]
    pub agency: String,

    /// User within the operator's agency (x-sy-user).
    #[arg(
        long,
        env = "SY_USER",
        default_value = "operator",
        global = true,
        help_heading = "Connection"
    )]
    pub user: String,

    /// Deadline of each call, in milliseconds.
    #[arg(
        long,
        env = "SY_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true,
        help_heading = "Connection"
    )]
    pub timeout_ms: u64,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load a small deterministic demo set (idempotent: a rerun with the same
    /// seed writes nothing new), then print a summary and the board.
    Demo(DemoArgs),
    /// Walk one new request from submission to close-out (销号), printing each
    /// call and result, then the request, its history from the log and its board row.
    Walkthrough,
    /// The close-out board (销号清零): open, overdue and closed counts.
    Board(BoardArgs),
    /// List and show support requests.
    Requests {
        #[command(subcommand)]
        command: RequestsCommand,
    },
    /// Ask a service's gRPC health endpoint; exits 0 only when SERVING.
    Health(HealthArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the demo set: idempotency keys and choices derive from it.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of requests to load (1 to 500).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub count: u32,
    /// Requests loaded concurrently (each request's commands stay in order).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
}

#[derive(Debug, Args)]
pub struct BoardArgs {
    /// Day ("YYYY-MM-DD", Asia/Shanghai) for the overdue counts; default today.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Wait until the projection has applied this stream position.
    #[arg(long, default_value_t = 0)]
    pub min_position: u64,
}

#[derive(Debug, Subcommand)]
pub enum RequestsCommand {
    /// Requests matching all given filters, newest first.
    List(ListArgs),
    /// One request with its timeline.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Lifecycle status.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Responsible department code, e.g. district-housing-bureau.
    #[arg(long)]
    pub department: Option<String>,
    /// Which way the request goes.
    #[arg(long, value_enum)]
    pub direction: Option<DirectionArg>,
    /// What the request is about.
    #[arg(long, value_enum)]
    pub category: Option<CategoryArg>,
    /// Supervision level (挂牌督办).
    #[arg(long, value_enum)]
    pub level: Option<LevelArg>,
    /// 12-digit area code; a street code matches its communities.
    #[arg(long)]
    pub area: Option<String>,
    /// Only unresolved requests due before this day ("YYYY-MM-DD").
    #[arg(long)]
    pub overdue_as_of: Option<String>,
    /// Requests per page (1 to 500).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub page_size: u32,
    /// Continue from a previous page's token.
    #[arg(long)]
    pub page_token: Option<String>,
    /// Follow page tokens to the last page.
    #[arg(long, conflicts_with = "page_token")]
    pub all: bool,
    /// Wait until the projection has applied this stream position.
    #[arg(long, default_value_t = 0)]
    pub min_position: u64,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Request id (a UUID).
    pub id: String,
    /// Wait until the projection has applied this stream position.
    #[arg(long, default_value_t = 0)]
    pub min_position: u64,
    /// Also print the request's events as stored in the log, with the hash chain.
    #[arg(long)]
    pub history: bool,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Service endpoint, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    pub url: String,
    /// Service name to check; empty for the whole server.
    #[arg(long, default_value = "")]
    pub service: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Submitted,
    Assigned,
    InProgress,
    Resolved,
    Closed,
    Rejected,
}

impl From<StatusArg> for pb::RequestStatus {
    fn from(value: StatusArg) -> Self {
        match value {
            StatusArg::Submitted => Self::Submitted,
            StatusArg::Assigned => Self::Assigned,
            StatusArg::InProgress => Self::InProgress,
            StatusArg::Resolved => Self::Resolved,
            StatusArg::Closed => Self::Closed,
            StatusArg::Rejected => Self::Rejected,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirectionArg {
    MilitaryToLocal,
    LocalToMilitary,
}

impl From<DirectionArg> for pb::Direction {
    fn from(value: DirectionArg) -> Self {
        match value {
            DirectionArg::MilitaryToLocal => Self::MilitaryToLocal,
            DirectionArg::LocalToMilitary => Self::LocalToMilitary,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CategoryArg {
    BarracksAndTrainingGrounds,
    PropertyRegistration,
    Medical,
    FamilyDifficulty,
    StudentMilitaryTraining,
    FreeClinic,
    JointSecurity,
    EmergencyRelief,
    Other,
}

impl From<CategoryArg> for pb::Category {
    fn from(value: CategoryArg) -> Self {
        match value {
            CategoryArg::BarracksAndTrainingGrounds => Self::BarracksAndTrainingGrounds,
            CategoryArg::PropertyRegistration => Self::PropertyRegistration,
            CategoryArg::Medical => Self::Medical,
            CategoryArg::FamilyDifficulty => Self::FamilyDifficulty,
            CategoryArg::StudentMilitaryTraining => Self::StudentMilitaryTraining,
            CategoryArg::FreeClinic => Self::FreeClinic,
            CategoryArg::JointSecurity => Self::JointSecurity,
            CategoryArg::EmergencyRelief => Self::EmergencyRelief,
            CategoryArg::Other => Self::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    None,
    District,
    City,
    National,
}

impl From<LevelArg> for pb::SupervisionLevel {
    fn from(value: LevelArg) -> Self {
        match value {
            LevelArg::None => Self::None,
            LevelArg::District => Self::District,
            LevelArg::City => Self::City,
            LevelArg::National => Self::National,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_and_filters_parse() {
        let cli = Cli::try_parse_from(["sy", "requests", "list", "--status", "in-progress"])
            .expect("parses");
        let Command::Requests {
            command: RequestsCommand::List(list),
        } = cli.command
        else {
            panic!("wrong subcommand");
        };
        assert_eq!(list.status, Some(StatusArg::InProgress));
        assert!(Cli::try_parse_from(["sy", "demo", "--count", "0"]).is_err());
        assert!(Cli::try_parse_from(["sy", "health"]).is_err());
    }
}
