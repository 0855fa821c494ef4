//! The clerk's request verbs (`sy requests submit|assign|...`), one per
//! Intake RPC. Dates are checked here, before any call, so a mistyped day is
//! a usage error naming its flag rather than a round trip.

use clap::{Args, Subcommand};

use super::{CategoryArg, DirectionArg, LevelArg, WriteArgs, parse_date};

/// A step of a request's lifecycle: one Intake RPC each.
#[derive(Debug, Subcommand)]
pub enum RequestStep {
    /// File a request as the requesting party (--agency); prints its id.
    Submit(SubmitArgs),
    /// Assign a request to the responsible department, with a due date
    /// (the coordinating office, 交办).
    Assign(AssignArgs),
    /// The department starts work on it.
    Start(NoteArgs),
    /// The department records progress.
    Progress(ProgressArgs),
    /// The department reports it resolved; the requesting party confirms.
    Resolve(ResolveArgs),
    /// The requesting party confirms the resolution (销号) with its rating;
    /// `dissatisfied` (不满意) reopens the request instead, and needs a note
    /// saying what is not resolved.
    Close(CloseArgs),
    /// Refuse the request (不予受理).
    Reject(ReasonArgs),
    /// The requesting party reopens a resolved request.
    Reopen(ReasonArgs),
    /// List it for supervision at a higher level (挂牌督办), optionally
    /// with a new due date (the supervision office).
    Escalate(EscalateArgs),
    /// Move the due date (the supervision office).
    DueDate(DueArgs),
    /// Split off a part of the work to a department, with its own due date
    /// (任务分解; the coordinating or supervision office). The request
    /// resolves only once every sub-task is done.
    SubTask(SubTaskArgs),
    /// The sub-task's department reports it done.
    SubTaskDone(SubTaskDoneArgs),
    /// Record an inspection visit (督查) with its findings (the
    /// supervision office).
    Inspect(InspectArgs),
}

/// The requesting party's rating of a resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RatingArg {
    /// 满意
    Satisfied,
    /// 基本满意
    BasicallySatisfied,
    /// 不满意: reopens the request.
    Dissatisfied,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    #[command(flatten)]
    pub request: RequestId,
    /// The rating (满意 / 基本满意 / 不满意).
    #[arg(long, value_enum)]
    pub rating: RatingArg,
    /// Required with `--rating dissatisfied`: what is not resolved.
    #[arg(long, default_value = "")]
    pub note: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct SubTaskArgs {
    #[command(flatten)]
    pub request: RequestId,
    /// Code of the department that does this part.
    #[arg(long)]
    pub department: String,
    /// Its due date ("YYYY-MM-DD", not before today).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub due: String,
    /// What this part of the work is (1 to 200 characters).
    #[arg(long)]
    pub title: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct SubTaskDoneArgs {
    #[command(flatten)]
    pub request: RequestId,
    /// The sub-task's number within the request (1, 2, ...).
    pub sub_task: u32,
    #[arg(long, default_value = "")]
    pub note: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub request: RequestId,
    /// Day of the visit ("YYYY-MM-DD", not in the future).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub visited_on: String,
    /// What the inspectors found.
    #[arg(long)]
    pub findings: String,
    /// The findings call for follow-up work.
    #[arg(long)]
    pub follow_up: bool,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// A request verb's target: the request id.
#[derive(Debug, Args)]
pub struct RequestId {
    /// Request id (a UUID).
    pub id: String,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Which way the request goes.
    #[arg(long, value_enum)]
    pub direction: DirectionArg,
    /// What the request is about.
    #[arg(long, value_enum)]
    pub category: CategoryArg,
    /// 1 to 200 characters.
    #[arg(long)]
    pub title: String,
    /// Up to 4000 characters.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Display name of the requesting party (the calling agency, `--agency`),
    /// e.g. "某部队营房科".
    #[arg(long)]
    pub requester_name: String,
    /// 12-digit area code inside a served district.
    #[arg(long)]
    pub area: String,
    /// Priority; default normal.
    #[arg(long, value_enum)]
    pub priority: Option<PriorityArg>,
    /// Due date ("YYYY-MM-DD", not before today).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub due: Option<String>,
    /// Supervision level (挂牌督办); default none.
    #[arg(long, value_enum)]
    pub level: Option<LevelArg>,
    /// Id of a registered person the request concerns (its text is then
    /// sealed under their data key).
    #[arg(long)]
    pub person: Option<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    #[command(flatten)]
    pub request: RequestId,
    /// Responsible department code, e.g. district-housing-bureau.
    #[arg(long)]
    pub department: String,
    /// Due date ("YYYY-MM-DD", not before today).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub due: String,
    #[arg(long, default_value = "")]
    pub note: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// A verb whose only content is an optional note (start, close).
#[derive(Debug, Args)]
pub struct NoteArgs {
    #[command(flatten)]
    pub request: RequestId,
    #[arg(long, default_value = "")]
    pub note: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct ProgressArgs {
    #[command(flatten)]
    pub request: RequestId,
    /// What was done (1 to 4000 characters).
    #[arg(long)]
    pub note: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    #[command(flatten)]
    pub request: RequestId,
    /// How it was resolved (1 to 4000 characters).
    #[arg(long)]
    pub resolution: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// A verb that must say why (reject, reopen).
#[derive(Debug, Args)]
pub struct ReasonArgs {
    #[command(flatten)]
    pub request: RequestId,
    /// Why (1 to 4000 characters).
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct EscalateArgs {
    #[command(flatten)]
    pub request: RequestId,
    /// The new supervision level, higher than the current one.
    #[arg(long, value_enum)]
    pub level: LevelArg,
    /// 1 to 4000 characters.
    #[arg(long)]
    pub reason: String,
    /// A new due date set by the supervising office ("YYYY-MM-DD").
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub due: Option<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct DueArgs {
    #[command(flatten)]
    pub request: RequestId,
    /// The new due date ("YYYY-MM-DD", not before today).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub due: String,
    /// 1 to 4000 characters.
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PriorityArg {
    Low,
    Normal,
    High,
    Urgent,
}

impl From<PriorityArg> for sy_api::pb::Priority {
    fn from(value: PriorityArg) -> Self {
        match value {
            PriorityArg::Low => Self::Low,
            PriorityArg::Normal => Self::Normal,
            PriorityArg::High => Self::High,
            PriorityArg::Urgent => Self::Urgent,
        }
    }
}
