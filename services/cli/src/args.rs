//! The command line: every subcommand, flag and environment variable of `sy`,
//! declared with clap derive so `sy --help` is the reference.

mod ledger;
mod lists;
mod placements;
mod requests;

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

pub use ledger::*;
pub use lists::*;
pub use placements::*;
pub use requests::*;

use sy_api::pb;
use sy_domain::pii::Cipher;

#[derive(Debug, Parser)]
#[command(
    name = "sy",
    version,
    about = "Operate and inspect shuangyong (双拥): demo data, a lifecycle walkthrough, the close-out board, every step of a request's lifecycle, the placement programmes (people, placements, allowances, care stations, statistics), health, and audits of the event log.",
    after_help = "Every intake call carries the metadata x-sy-agency and x-sy-user. \
                  `demo` and `walkthrough` act as the parties of their script (a military unit, \
                  the responsible department, the supervision office) and as --agency/--user for \
                  the coordinating office that assigns requests.\n\n\
                  Exit codes: 0 ok; 1 a call or I/O failed; 2 bad command line; \
                  3 verification FAILED (`verify`, the chain check of `history`, an ABORTED `rebuild`, \
                  a command missing or duplicated in `soak check`)."
)]
pub struct Cli {
    /// Intake (command API) endpoint; `soak run` takes a comma-separated list.
    #[arg(
        long,
        env = "SY_INTAKE_URL",
        default_value = "http://127.0.0.1:50051",
        global = true,
        help_heading = "Connection"
    )]
    pub intake_url: String,

    /// Query (read API, projection) endpoint; `soak run` takes a comma-separated list.
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

    /// File (owner-only) holding the bearer token sent with every call; the
    /// token names the caller. Without it, `$SY_TOKEN` is sent if set (a
    /// token is never taken from the command line).
    #[arg(
        long,
        env = "SY_TOKEN_FILE",
        global = true,
        help_heading = "Connection"
    )]
    pub token_file: Option<PathBuf>,

    /// Directory of per-agency credentials, `DIR/<agency>/token` (the
    /// `clients/` directory `sy setup` writes): each call acting for an
    /// agency (the demo and walkthrough act for many) sends that agency's
    /// token.
    #[arg(
        long,
        env = "SY_CREDENTIALS_DIR",
        global = true,
        help_heading = "Connection"
    )]
    pub credentials_dir: Option<PathBuf>,

    /// CA certificate (PEM) to trust for `https://` endpoints.
    #[arg(long, env = "SY_CA", global = true, help_heading = "Connection")]
    pub ca: Option<PathBuf>,

    /// Client certificate (PEM) to present over TLS: its subject's O is the
    /// agency, its CN the user. With `--key`.
    #[arg(long, env = "SY_CERT", global = true, help_heading = "Connection")]
    pub cert: Option<PathBuf>,

    /// Private key (PEM) of `--cert`, a file only its owner may read.
    #[arg(long, env = "SY_KEY", global = true, help_heading = "Connection")]
    pub key: Option<PathBuf>,

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
    /// `walkthrough supervision`: one request under the supervision clocks,
    /// on a simulated clock.
    Walkthrough(WalkthroughArgs),
    /// The close-out board (销号清零): open, overdue and closed counts.
    Board(BoardArgs),
    /// Support requests: list and show them, and every step of their
    /// lifecycle (submit, assign, start, progress, resolve, close, reject,
    /// reopen, escalate, due-date).
    #[command(after_help = WRITE_HELP)]
    Requests {
        #[command(subcommand)]
        command: RequestsCommand,
    },
    /// Ledgers (台账) in and out: export the request ledger of a period or
    /// the board as CSV or XLSX; import requests from an XLSX ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Ask a service's gRPC health endpoint; exits 0 only when SERVING.
    Health(HealthArgs),
    /// Write the event log as JSON lines, one event per line, for auditors and `sy verify`.
    #[command(after_help = EXPORT_HELP)]
    Export(ExportArgs),
    /// Check an export (or the log itself): hashes, every aggregate's hash chain,
    /// positions and the log digest. Exits 3 when anything does not hold.
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Back the log up into one file: the event stream, its key store and
    /// its access log, every message at its sequence, with a manifest.
    #[command(after_help = BACKUP_HELP)]
    Backup(BackupArgs),
    /// Restore a backup into a NATS server that does not have its streams:
    /// every message at the sequence it had. Refuses a damaged file.
    #[command(after_help = RESTORE_HELP)]
    Restore(RestoreArgs),
    /// One aggregate's events as stored in the log, with its hash chain checked.
    #[command(after_help = HISTORY_HELP)]
    History(HistoryArgs),
    /// Who read whose unmasked personal data, why and which fields, from
    /// the access log: per person (`--person`, also a person's own access
    /// history on request, PIPL art. 45) or per reader agency (`--reader`).
    #[command(after_help = ACCESS_HELP)]
    Access(AccessArgs),
    /// Build the read models as they were at a position or a time, into a new
    /// directory that `sy-projection --read-only` can serve.
    #[command(after_help = AS_OF_HELP)]
    AsOf(AsOfArgs),
    /// Where the projection is: its position, log digest (and read model
    /// digest), quarantine count and lag behind the log.
    Status(StatusArgs),
    /// Events the projection's fold refused, with the reason.
    Quarantine(QuarantineArgs),
    /// Rebuild the projection's read model from the log beside the live one,
    /// verify both agree, then switch. Exits 3 when the projection aborts it.
    #[command(after_help = REBUILD_HELP)]
    Rebuild,
    /// Bearer tokens for the services' `--tokens-file`.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Create a deployment's secrets in a new directory, every file
    /// readable by its owner only: a CA, server certificates (nats, intake,
    /// projection), client certificates and tokens for agencies, the
    /// identity key, NATS users' passwords and their permissions.
    #[command(after_help = SETUP_HELP)]
    Setup(SetupArgs),
    /// Copy a log written before personal data was sealed into a new
    /// stream, every personal field sealed, chains recomputed and signed;
    /// writes a report mapping old positions and hashes to new ones.
    #[command(after_help = MIGRATE_HELP)]
    Migrate(MigrateArgs),
    /// Event signing keys (intake's `--signing-key-file` and the verify
    /// keys file), and the key-encryption keys (KEKs) that wrap every
    /// person's data key: make, rotate, rewrap the key store.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// People of the placement programmes: register one, show one
    /// (masked), erase their personal data for good or hold it from erasure
    /// (role privacy-officer).
    #[command(after_help = WRITE_HELP)]
    Person {
        #[command(subcommand)]
        command: PersonCommand,
    },
    /// Placements (安置) of veterans, spouses and children: register, match,
    /// on duty, decline, withdraw, the talent pool and the school decisions;
    /// list them and their statistics by area.
    #[command(after_help = WRITE_HELP)]
    Placements {
        #[command(subcommand)]
        command: PlacementsCommand,
    },
    /// The unemployed spouse allowance (生活保障金): grant, pay, stop.
    #[command(after_help = WRITE_HELP)]
    Allowance {
        #[command(subcommand)]
        command: AllowanceCommand,
    },
    /// Children's care stations (军娃托管站): open, change seats, enroll
    /// and withdraw children; show and list them.
    #[command(after_help = WRITE_HELP)]
    Stations {
        #[command(subcommand)]
        command: StationsCommand,
    },
    /// Notifications to agencies: watch an agency's (a stream that resumes
    /// after a position), manage webhook subscriptions (role admin), list
    /// and replay the webhook dead letters (role admin, on the replica
    /// that delivers webhooks).
    #[command(after_help = WRITE_HELP)]
    Notifications {
        #[command(subcommand)]
        command: NotificationsCommand,
    },
    /// The yearly double list (双清单) of a year and direction: add and
    /// remove requests while a draft, publish it, show it with its progress.
    #[command(after_help = WRITE_HELP)]
    Lists {
        #[command(subcommand)]
        command: ListsCommand,
    },
    /// Fault campaigns: keep a steady, retrying load on the services while
    /// faults are injected (`run`), then check the log against what was
    /// acknowledged (`check`).
    Soak {
        #[command(subcommand)]
        command: SoakCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum NotificationsCommand {
    /// Print an agency's notifications after a position, then live ones as
    /// they come, one line each (or one JSON object with `--json`), until
    /// interrupted. Resume with `--after` the last position printed.
    Watch(WatchNotificationsArgs),
    /// Subscribe an agency's webhook receiver (or replace its subscription).
    Subscribe(SubscribeWebhookArgs),
    /// End an agency's webhook subscription.
    Unsubscribe(UnsubscribeWebhookArgs),
    /// The notifications whose webhook delivery was given up, with each
    /// attempt (status, error, time).
    DeadLetters(DeadLettersArgs),
    /// Deliver dead letters again (same notification ids).
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct WatchNotificationsArgs {
    /// The agency whose notifications to watch; default `--agency` (an
    /// auditor may watch any).
    #[arg(long = "of")]
    pub of: Option<String>,
    /// Start after this position (0: from the beginning).
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// Stop after this many notifications (default: run until interrupted).
    #[arg(long)]
    pub limit: Option<u64>,
    /// Print each notification as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// A notification kind, as `sy` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NotificationKindArg {
    Assigned,
    DueSoon,
    Overdue,
    Escalated,
    AwaitingConfirmation,
    Reopened,
}

impl From<NotificationKindArg> for pb::NotificationKind {
    fn from(kind: NotificationKindArg) -> Self {
        match kind {
            NotificationKindArg::Assigned => Self::Assigned,
            NotificationKindArg::DueSoon => Self::DueSoon,
            NotificationKindArg::Overdue => Self::Overdue,
            NotificationKindArg::Escalated => Self::Escalated,
            NotificationKindArg::AwaitingConfirmation => Self::AwaitingConfirmation,
            NotificationKindArg::Reopened => Self::Reopened,
        }
    }
}

#[derive(Debug, Args)]
pub struct SubscribeWebhookArgs {
    /// The agency whose notifications are delivered.
    #[arg(long = "for")]
    pub for_agency: String,
    /// The receiver: an https URL.
    #[arg(long)]
    pub url: String,
    /// Id of the HMAC key in the delivering replica's `--webhook-secrets-file`.
    #[arg(long)]
    pub secret_id: String,
    /// Deliver only these kinds (repeatable); default every kind.
    #[arg(long = "kind", value_enum)]
    pub kinds: Vec<NotificationKindArg>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct UnsubscribeWebhookArgs {
    /// The agency whose subscription ends.
    #[arg(long = "for")]
    pub for_agency: String,
    /// Why.
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct DeadLettersArgs {
    /// Only this agency's; default every agency's.
    #[arg(long = "of")]
    pub of: Option<String>,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Only this agency's; default every agency's.
    #[arg(long = "of")]
    pub of: Option<String>,
    /// Only these notification ids (repeatable); default all.
    #[arg(long = "id")]
    pub ids: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum SoakCommand {
    /// Send submissions at a steady rate, each retried with its own
    /// idempotency key until acknowledged, while reading from the
    /// projections; write what happened to every command and read.
    #[command(after_help = SOAK_RUN_HELP)]
    Run(SoakRunArgs),
    /// Check a soak report against the log (read as the auditor) and print
    /// one markdown table row. Exits 3 when an acknowledged command is not
    /// in the log or a command was written twice.
    #[command(after_help = SOAK_CHECK_HELP)]
    Check(SoakCheckArgs),
}

const SOAK_RUN_HELP: &str = "--intake-url and --query-url take comma-separated lists: a \
command that fails is sent again to the next intake, a read that fails moves to the next \
projection. Submissions are the demo's (as their requesting parties, with their tokens from \
--credentials-dir), each with the key soak-<run id>-<n>; they are retried with jittered \
exponential backoff (100 ms doubling to 5 s) until acknowledged or --give-up after their first \
attempt; a refusal no retry changes (INVALID_ARGUMENT, PERMISSION_DENIED, ...) fails at once. \
Reads (as --agency) are GetRequest of a recently acknowledged request with its position as \
min_position, and every fourth a ListRequests. Each call's deadline is --timeout-ms.\n\n\
The report (JSON) holds the settings, the marks (--marks, as the file held them at the end) and \
per command: key, agency, first_attempt_ms, ack_ms, done_ms, attempts, outcome (written, \
replayed, failed, interrupted), last_status, aggregate_id, position; per read: at_ms, call, \
url, ok, code. Times are Unix milliseconds. SIGINT or SIGTERM stops the load early; the \
report is still written (pending commands as interrupted).\n\n\
Exit codes: 0 the report was written; 1 it could not be; 2 bad command line.";

const SOAK_CHECK_HELP: &str = "The row's columns: | label | acknowledged | found in log | \
duplicates | failed after retries | longest unavailability (s) | recovery (s) | longest read gap \
(s) |. Found: acknowledged commands whose event (same agency and idempotency key) is in the log \
at the acknowledged position. Duplicates: the run's keys with more than one event. \
Unavailability: an interval in which commands were pending and none was acknowledged; recovery: \
from the first mark whose label starts with `fault` to the end of the last unavailability \
window (at least --unavailable-after long) that began after it, 0 if none. Read gap: the \
longest interval of the run without a successful read. Missing and duplicated keys are listed \
on stderr.\n\n\
Exit codes: 0 every acknowledged command is in the log, once; 1 the report, the marks or the \
log could not be read; 2 bad command line; 3 a command is missing or duplicated.";

#[derive(Debug, Args)]
pub struct SoakRunArgs {
    /// Commands per second.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub rate: u32,
    /// How long to send new commands (60s, 5m, 1m30s); the run then waits
    /// for the pending ones.
    #[arg(long, value_parser = parse_duration)]
    pub duration: std::time::Duration,
    /// The fault script's marks file (`<unix ms> <label>` lines), copied
    /// into the report at the end.
    #[arg(long)]
    pub marks: Option<PathBuf>,
    /// The report to write (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// A command not acknowledged this long after its first attempt fails.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub give_up: std::time::Duration,
    /// Reads per second.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub read_rate: u32,
    /// Seed of the demo submissions sent (their content; keys are the run's own).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct SoakCheckArgs {
    /// The report `sy soak run` wrote.
    pub report: PathBuf,
    /// The row's first column, e.g. the fault's name.
    #[arg(long)]
    pub label: String,
    /// The marks file; default the marks recorded in the report.
    #[arg(long)]
    pub marks: Option<PathBuf>,
    /// Print the row as one JSON object (with the missing and duplicated keys).
    #[arg(long)]
    pub json: bool,
    /// The shortest interval without acknowledgements counted as a window of
    /// unavailability for the recovery time (shorter ones are latency).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub unavailable_after: std::time::Duration,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a signing key: writes `DIR/<id>.key` (owner-only; intake's
    /// --signing-key-file) and prints the public line to add to the verify
    /// keys file (projection and `sy` --verify-keys-file). To rotate, publish
    /// the new line first, then switch intake; keep old lines published.
    New(KeysArgs),
    /// Make a key-encryption key file (version 1, owner-only): intake's and
    /// the projection's --kek-file (SY_KEK_FILE). `sy setup` writes one as
    /// DIR/kek.key.
    NewKek(NewKekArgs),
    /// Add a new KEK version to a KEK file (it wraps new data keys from
    /// then on; the older versions stay to unwrap the keys made under them)
    /// and print the steps of the rotation.
    #[command(after_help = ROTATION_HELP)]
    RotateKek(RotateKekArgs),
    /// Rewrap every data key of the key store under the KEK file's newest
    /// version (events are not touched); with --retire, then drop the older
    /// versions from the file. Run as NATS user `intake`: only intake may
    /// write the key store.
    #[command(after_help = ROTATION_HELP)]
    Rewrap(RewrapArgs),
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Key id written into every event it signs (A-Z a-z 0-9 . _ -, at
    /// most 64), e.g. `intake-2026-12`.
    #[arg(long)]
    pub id: String,
    /// Directory to write `<id>.key` into (an existing file is never
    /// overwritten).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
}

/// The help of `--cipher` of `new-kek` and `rotate-kek`.
const CIPHER_HELP: &str =
    "Cipher of the new KEK: aes-256-gcm, or sm4-gcm (SM4, for 密评 / GB/T 39786)";

#[derive(Debug, Args)]
pub struct NewKekArgs {
    /// The KEK file to write (owner-only, mode 0600).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = Cipher::default(), help = CIPHER_HELP)]
    pub cipher: Cipher,
    /// Replace an existing file. Every data key wrapped under the KEK it
    /// holds becomes unreadable: only for a deployment with no key store yet.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RotateKekArgs {
    /// The KEK file to rotate (rewritten owner-only).
    #[arg(long, env = "SY_KEK_FILE")]
    pub kek_file: PathBuf,
    /// Cipher of the new version; default that of the current version.
    #[arg(long, help = CIPHER_HELP)]
    pub cipher: Option<Cipher>,
}

#[derive(Debug, Args)]
pub struct RewrapArgs {
    /// The KEK file the services run with (after `sy keys rotate-kek` and
    /// their restart): every version the key store uses, the newest last.
    #[arg(long, env = "SY_KEK_FILE")]
    pub kek_file: PathBuf,
    /// After every key is rewrapped, rewrite the KEK file with its newest
    /// version only. Restart intake and the projections with it afterwards.
    #[arg(long)]
    pub retire: bool,
    /// The event log whose key store (`<stream>_KEYS`) to rewrap; connect
    /// as NATS user `intake`.
    #[command(flatten)]
    pub log: LogArgs,
}

const ROTATION_HELP: &str = "Rotating the KEK:\n1. sy keys rotate-kek --kek-file FILE (adds version N+1; keep a backup of the file)\n2. give the new FILE to intake and every projection and restart them: new data keys are wrapped \
under N+1, every version still unwraps\n3. sy keys rewrap --kek-file FILE --nats-user intake ... (refused until a service runs with N+1)\n4. sy keys rewrap --kek-file FILE --retire ... (or delete the older lines from the file by hand)\n5. give the retired FILE to intake and every projection and restart them.\n\nExit codes: 0 ok; 1 the file or the key store could not be used; 2 bad command line.";

const WRITE_HELP: &str = "Every write acts as --agency/--user (with --credentials-dir, as that \
agency's token) and carries an idempotency key: --idempotency-key, else a fresh one printed \
before the call; rerun with it to retry a call whose answer was lost (intake answers from the \
log: `replayed`). A write prints the aggregate's id, version and log position (--json: one JSON \
object). Reads print tables (--json: the answer in the protobuf JSON mapping); personal data is \
masked.\n\n\
Exit codes: 0 ok; 1 the call failed (its gRPC code and every field it refused are printed); \
2 bad command line (also a malformed date, naming its flag).";

#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// A person with their placements and allowance, personal data masked.
    Show(ShowByIdArgs),
    #[command(flatten)]
    Step(PersonStep),
}

/// A command on a person: one Placements RPC each.
#[derive(Debug, Subcommand)]
pub enum PersonStep {
    /// Register a veteran, military spouse or military child; prints the
    /// person id (derived from the ID number).
    Register(RegisterPersonArgs),
    /// Record a training course a spouse completed.
    Training(TrainingArgs),
    /// Record a certificate a spouse obtained (取证).
    Certificate(CertificateArgs),
    /// Erase a person's personal data for good: intake destroys their data
    /// key, so their name, ID number, phone and every free text about them
    /// no longer open anywhere (read models, exports, replays). Placements,
    /// allowances and statistics stay. Refused while a legal hold is placed.
    Erase(EraseArgs),
    /// Place a legal hold: the person cannot be erased until it is released.
    Hold(HoldArgs),
    /// Release the person's legal hold.
    Release(HoldArgs),
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The person's id.
    #[arg(long)]
    pub person: String,
    /// The legal basis, recorded in the erasure event (1 to 500 characters,
    /// no personal data), e.g. `PIPL art. 47(1): purpose achieved`.
    #[arg(long)]
    pub legal_basis: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct HoldArgs {
    /// The person's id.
    #[arg(long)]
    pub person: String,
    /// Why (1 to 500 characters, no personal data), e.g. a case number.
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// What every write takes.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Idempotency key of the command (1 to 128 printable ASCII characters);
    /// default a fresh one, printed. To retry a call whose answer was lost,
    /// rerun it with the printed key: intake answers from the log.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Print the result as one JSON object (call, idempotency_key,
    /// aggregate, aggregate_id, version, position, replayed).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Directory to create (e.g. deploy/secrets, which the compose files mount).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace `--out` if it exists (every secret is made anew: clients need
    /// their new certificates and tokens).
    #[arg(long)]
    pub force: bool,
    /// A client to issue a certificate (O=<agency>, CN=<user>) and a token
    /// for: `agency` or `agency/user` (user `operator` when not given).
    /// Repeat for several.
    #[arg(
        long,
        value_name = "AGENCY[/USER]",
        default_value = "district-veterans-bureau"
    )]
    pub client: Vec<String>,
    /// Also issue a client for every party the demo acts as, auditors and
    /// operators, and write the demo's role policy (else `policy.toml`
    /// grants nothing until edited).
    #[arg(long)]
    pub demo: bool,
    /// The JetStream stream the NATS permissions are for.
    #[arg(long, env = "SY_STREAM", default_value = "SHUANGYONG")]
    pub stream: String,
    /// An extra DNS name or IP address for every server certificate (the
    /// host's name, when clients reach it from elsewhere). Repeat for several.
    #[arg(long, value_name = "NAME")]
    pub san: Vec<String>,
}

const SETUP_HELP: &str = "Layout: ca.pem, ca.key; nats/{server.pem,server.key,users.conf,\
intake.password,projection.password,auditor.password,backup.password,restore.password}; intake/{server.pem,server.key,identity.key}; \
projection/{server.pem,server.key}; tokens (hashes only); clients/<agency>/{client.pem,client.key,token}; \
policy.toml. \
Include nats/users.conf in the NATS server's configuration. Keep ca.key offline.";

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token for `--user` of `--agency` (the caller on every call
    /// made with it): prints it (give it to that user's system) and the line
    /// to add to the tokens file (which holds only the token's hash).
    New,
}

const EXPORT_HELP: &str = "Each line is a JSON object with the fields `position`, `subject`, \
`hash` (hex BLAKE3 of the stored bytes), `payload` (base64 of the stored bytes) and `event` \
(the decoded envelope, for people; `decode_error` instead when the bytes do not decode). \
`sy verify` recomputes everything from `payload`.\n\n\
Exit codes: 0 ok; 1 the log could not be read or the file written; 2 bad command line.";

const VERIFY_HELP: &str = "What is checked: every line's `hash` against its `payload`; the \
`event`, `decode_error` and `subject` fields against the payload; positions strictly \
increasing and without gaps (an export starts at 1 unless --partial); each aggregate's versions \
(1, 2, 3, ...) and hash chain (each prev_hash is the hash of the aggregate's previous event); \
the running log digest; with --verify-keys-file, every event's signature by intake. Each finding names its position, aggregate, version and what is wrong.\n\n\
The chains prove each aggregate's own events and order. The order across aggregates, the \
positions, and the last event of each aggregate (if someone also rewrote its `hash`) are \
proved only by the digest: compare it with a replica's (`sy status`) using --expect-digest \
and --expect-position.\n\n\
Exit codes: 0 verified; 1 the file or the log could not be read; 2 bad command line; \
3 verification FAILED.";

const HISTORY_HELP: &str = "Read from the log itself (the subject sy.evt.KIND.ID), not from \
a read model. Times are China Standard Time (Asia/Shanghai, UTC+8).\n\n\
With --verify-keys-file (SY_VERIFY_KEYS_FILE) each event's signature is checked: `ok <key id>`, \
or BAD and why (unsigned, unknown key, malformed, forged or altered).\n\n\
Exit codes: 0 ok, the chain intact (and, with keys, every event signed); 1 the log could not be \
read or the aggregate has no events; 2 bad command line; 3 the hash chain is broken or an event \
is not signed by intake.";

const AS_OF_HELP: &str = "Folds the log from position 1 into a fresh read model in --out \
(which must be missing or empty), in batches of 1000, exactly as the projection folds it: up \
to --position inclusive, or up to the last event recorded (envelope recorded_at) at or before \
--time. Serve the result with `sy-projection --read-only --data-dir DIR --listen ADDR`.\n\n\
Exit codes: 0 ok; 1 the log could not be read or the read model written; 2 bad command line \
(also a non-empty --out, or a position past the log's end).";

const REBUILD_HELP: &str = "Calls shuangyong.v1.Admin/Rebuild on the projection at \
--query-url and follows its progress: replaying the log into a new read model, verifying it \
against the live one at the same position (log digest and read model digest), switching.\n\n\
Exit codes: 0 switched; 1 the call failed; 2 bad command line; 3 ABORTED: the rebuilt read \
model differs from the live one, nothing was switched.";

const MIGRATE_HELP: &str = "Stop intake and the projection first. The old stream is moved off \
sy.evt.> to sy.retired.<FROM>.> (its events stay readable by position), the new one is created \
on sy.evt.> with its key store <TO>_KEYS, and every old event is checked (with \
--verify-keys-file: its signature; always: its aggregate's hash chain) and copied with its \
personal fields sealed, its prev_hash from the new chain and a new signature; ids, versions, \
times, actors and idempotency keys are kept. A rerun goes on after the last event copied (and \
refuses a new stream that holds anything else); once all are copied it writes nothing.\n\n\
The report (JSON lines, rewritten by every run): one {\"type\":\"event\"} line per event with \
its old and new position and hash, then a {\"type\":\"summary\"} line with both log digests \
and the counts (events, sealed, unsigned in the old log). Then start the services with \
--stream TO, run `sy verify --live --stream TO`, keep the report, and delete the old stream \
(README, \"Migrating a log written before sealing\"). Needs a NATS user that may update, read \
and create both streams and TO_KEYS (an operator's, not a service's).\n\n\
Exit codes: 0 migrated (or nothing left to copy); 1 a check refused an event, or NATS, the key \
store or a file failed; 2 bad command line.";

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The stream to migrate, written before personal data was sealed.
    #[arg(long, value_name = "OLD")]
    pub from: String,
    /// The stream to create on sy.evt.> and copy into (and its key store TO_KEYS).
    #[arg(long, value_name = "NEW")]
    pub to: String,
    /// File for the report (JSON lines), replaced by every run.
    #[arg(long)]
    pub report: PathBuf,
    /// The signing key the copies are signed with (intake's, owner-only):
    /// publish its line in the verify keys file the services read.
    #[arg(long, env = "SY_SIGNING_KEY_FILE")]
    pub signing_key_file: PathBuf,
    /// The key-encryption key file the services use (owner-only): it wraps
    /// every person's data key in TO_KEYS.
    #[arg(long, env = "SY_KEK_FILE")]
    pub kek_file: PathBuf,
    /// The verify keys of the old log's intake: every old event must be
    /// signed by one of them or unsigned (counted); a bad signature stops
    /// the migration. Without it signatures are not checked.
    #[arg(long, env = "SY_VERIFY_KEYS_FILE")]
    pub verify_keys_file: Option<PathBuf>,
    /// The cipher of the new data keys.
    #[arg(long, env = "SY_PII_CIPHER", default_value = "aes-256-gcm")]
    pub pii_cipher: Cipher,
    /// Replicas of the new stream and its key store.
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// NATS server URL of both streams.
    #[arg(
        long,
        env = "SY_NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        help_heading = "Event log"
    )]
    pub nats_url: String,
    /// NATS user (an operator's: see above) and TLS.
    #[command(flatten, next_help_heading = "Event log")]
    pub nats: sy_api::args::NatsArgs,
}

/// Where the event log is read: the audit commands read it directly from
/// NATS JetStream, not through a service.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// NATS server URL of the event log.
    #[arg(
        long,
        env = "SY_NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        help_heading = "Event log"
    )]
    pub nats_url: String,
    /// JetStream stream holding the event log.
    #[arg(
        long,
        env = "SY_STREAM",
        default_value = "SHUANGYONG",
        help_heading = "Event log"
    )]
    pub stream: String,
    /// NATS user (an auditor's, read-only) and TLS.
    #[command(flatten, next_help_heading = "Event log")]
    pub nats: sy_api::args::NatsArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// First position to export.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub from: u64,
    /// Last position to export; default the log's last position when the export starts.
    #[arg(long)]
    pub to: Option<u64>,
    /// File to write (replaced when the export is complete); default stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["file", "live"])))]
pub struct VerifyArgs {
    /// An export made by `sy export`; `-` for stdin.
    pub file: Option<PathBuf>,
    /// Verify the log itself, from position 1 to its last position.
    #[arg(long)]
    pub live: bool,
    /// The export need not start at position 1 (made with `sy export --from`):
    /// each aggregate's first event in it is trusted as the chain's anchor.
    #[arg(long, conflicts_with = "live")]
    pub partial: bool,
    /// The log digest (hex) the export must reach, e.g. from a replica's `sy status`.
    #[arg(long)]
    pub expect_digest: Option<String>,
    /// Position at which --expect-digest applies; default the last one verified.
    #[arg(long, requires = "expect_digest")]
    pub expect_position: Option<u64>,
    /// The deployment's published verify keys (`<key-id> <base64 public
    /// key>` lines): every event must carry intake's signature by one of
    /// them. Without it signatures are not checked (the summary says so).
    #[arg(long, env = "SY_VERIFY_KEYS_FILE")]
    pub verify_keys_file: Option<PathBuf>,
    #[command(flatten)]
    pub log: LogArgs,
}

const BACKUP_HELP: &str = "Reads <stream> (cut at its last position when the backup starts), then \
<stream>_KEYS (wrapped data keys, erasure tombstones, KEK canaries) and <stream>_ACCESS (the access \
log), each with its configuration and every message's sequence, subject, headers (not the \
Nats-Expected-* preconditions) and bytes, into FILE (JSON lines, written as FILE.partial and \
renamed when complete), ending with a manifest: counts, last sequences, digests, the log digest \
and a BLAKE3 of the file. Runs beside live services. Connect as NATS user `backup` (`sy setup` \
makes it; it may read the three streams and write nothing).\n\n\
The file holds every person's data key, wrapped by the KEK: keep it as safe as the KEK file.\n\n\
Exit codes: 0 written; 1 NATS or the file failed; 2 bad command line.";

const RESTORE_HELP: &str = "Checks the whole file against its manifest first (a truncated or \
altered file is refused, exit 3, nothing created), then refuses if any of its streams exists, \
then creates each stream with its configuration and republishes its messages in order, each at \
the sequence it had (a deleted message, such as an erased data key, comes back deleted), with \
its Nats-Msg-Id. Stop intake and the projections first; start them after, the projections with \
fresh data directories (or `sy rebuild`). Connect as NATS user `restore`. Erasures made after \
the backup was taken are not in it: erase those people again.\n\n\
Exit codes: 0 restored; 1 NATS failed or a stream exists; 2 bad command line; 3 the file is \
damaged or incomplete.";

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The file to write (replaced when the backup is complete).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file `sy backup` wrote.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// Replicas of the restored streams; default those they had.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=5))]
    pub replicas: Option<u64>,
    /// The log to restore into (`--stream`: the backup's stream).
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Aggregate kind, e.g. `request`.
    pub kind: String,
    /// Aggregate id (a UUID for requests).
    pub id: String,
    /// The deployment's published verify keys: each event's signature is
    /// shown as valid (with its key id) or not. Without it: not checked.
    #[arg(long, env = "SY_VERIFY_KEYS_FILE")]
    pub verify_keys_file: Option<PathBuf>,
    #[command(flatten)]
    pub log: LogArgs,
}

const ACCESS_HELP: &str = "Read from the access log itself (the stream <stream>_ACCESS, \
subjects sy.access.PERSON.READER) as the NATS auditor, like `sy export`. Every \
GetPersonUnmasked is recorded there before anything is disclosed: the time (China Standard \
Time), the reader (agency/user), the person, the purpose code, the fields disclosed (never \
their values), the outcome (`disclosed`, or `erased`: nothing personal was left to disclose) \
and the access id. The masked GetPerson is not recorded.\n\n\
A person who asks which accesses were made to their data (PIPL article 45) is given the \
output of `sy access --person THEIR_ID`: it holds no one else's data.\n\n\
Exit codes: 0 ok (also when nothing was recorded); 1 the access log could not be read; \
2 bad command line.";

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("whose").required(true).args(["person", "reader"])))]
pub struct AccessArgs {
    /// Every access to this person's data (their person id): also the
    /// access history a person may ask for (PIPL art. 45).
    #[arg(long, value_name = "ID")]
    pub person: Option<String>,
    /// Every access by this agency (its code, e.g. district-veterans-bureau).
    #[arg(long, value_name = "AGENCY")]
    pub reader: Option<String>,
    /// One JSON object per line (sequence, access_id, at, person_id,
    /// reader, purpose, fields, note, outcome) instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("cut").required(true).args(["position", "time"])))]
pub struct AsOfArgs {
    /// Fold up to this position, inclusive.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub position: Option<u64>,
    /// Fold up to the last event recorded at or before this time (RFC 3339,
    /// with an offset: 2026-05-01T18:00:00+08:00).
    #[arg(long)]
    pub time: Option<jiff::Timestamp>,
    /// New directory for the read model (created; must be missing or empty).
    #[arg(long)]
    pub out: PathBuf,
    /// The deployment's published verify keys: events not signed by one of
    /// them are quarantined, as the live projection does. Without it every
    /// event is folded unchecked (said in the output).
    #[arg(long, env = "SY_VERIFY_KEYS_FILE")]
    pub verify_keys_file: Option<PathBuf>,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Also compute the read model digest (reads every tree of the replica).
    #[arg(long)]
    pub digest: bool,
    /// Wait until the projection has applied this stream position.
    #[arg(long, default_value_t = 0)]
    pub min_position: u64,
}

#[derive(Debug, Args)]
pub struct QuarantineArgs {
    /// Only events with a position after this one.
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// Events to list (1 to 500).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: u32,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DemoArgs {
    /// Another scenario instead of the support requests.
    #[command(subcommand)]
    pub scenario: Option<DemoScenario>,
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
pub struct WalkthroughArgs {
    /// Another walkthrough instead of the close-out one.
    #[command(subcommand)]
    pub scenario: Option<WalkthroughScenario>,
}

#[derive(Debug, Subcommand)]
pub enum WalkthroughScenario {
    /// One request under the supervision clocks (督办时钟), on intake's
    /// simulated clock: reminded before and on its due date, overdue,
    /// escalated by rule (挂牌督办), its department notified, then rated
    /// 不满意 (reopened) and 满意 (closed), with the board's ratings and the
    /// year's double list (双清单).
    #[command(after_help = SUPERVISION_WALKTHROUGH_HELP)]
    Supervision(SupervisionWalkthroughArgs),
}

const SUPERVISION_WALKTHROUGH_HELP: &str = "Needs an intake started with \
--simulated-clock-file (a development flag; `deploy/dev-up.sh --simulated-clock` starts one, \
ticking every second): the walkthrough moves that clock forward, day by day, to the days the \
policy's rule owes the request something, and waits on each until intake's clocks recorded \
what the domain's schedule says is owed. Each run moves the clock about two weeks on; every \
request with a due date feels it.";

#[derive(Debug, Args)]
pub struct SupervisionWalkthroughArgs {
    /// The simulated clock's file, as intake's `--simulated-clock-file`: the
    /// walkthrough moves it forward.
    #[arg(long, env = "SY_SIMULATED_CLOCK_FILE")]
    pub clock_file: PathBuf,
    /// The supervision policy intake runs with (its `--supervision-policy`):
    /// which days to visit and what each owes.
    #[arg(long, env = "SY_SUPERVISION_POLICY")]
    pub policy: PathBuf,
    /// Seconds to wait, on each day visited, for intake's clocks.
    #[arg(long, default_value_t = 60)]
    pub wait_secs: u64,
}

#[derive(Debug, Subcommand)]
pub enum DemoScenario {
    /// Load the placement programmes (安置) at the article's scale, then print
    /// the district's placement statistics.
    ///
    /// 1,581 veterans placed (some through the employment fast lane), 33 of
    /// them recommended to the community reserve talent pool, 26 spouses
    /// placed, 60 spouses paid the allowance (about 1.5 million yuan in the
    /// year), about 2,000 children enrolled at school, six care stations full
    /// with a waitlist.
    #[command(after_help = PLACEMENTS_HELP)]
    Placements(PlacementsDemoArgs),
}

const PLACEMENTS_HELP: &str = "Deterministic from --seed: ID numbers (region 500106, MOD 11-2 \
check character), names, areas, dates and idempotency keys derive from it, so a rerun on the \
same day is answered from the log (`replayed`). Commands are dated in the past with \
`context.occurred_at` (within the last year, in order per aggregate); dates inside commands \
(on duty, months paid) are computed from today, so a rerun on a later day finds some keys \
used with other dates (`ALREADY_EXISTS`) and counts those steps as kept. The allowance is paid \
for the twelve months of the current year (months still to come in advance).\n\n\
Exit codes: 0 ok; 1 a call failed; 2 bad command line.";

#[derive(Debug, Args)]
pub struct PlacementsDemoArgs {
    /// Seed of the scenario: ID numbers, choices and idempotency keys derive from it.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Divide every count by this (rounding up), for quick runs: 1 is the article's scale.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub scale: u32,
    /// People (and stations) loaded concurrently; each one's commands stay in order.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
}

/// With any of the period, area, requester or direction filters, the board
/// counts only the matching requests, by department.
#[derive(Debug, Args)]
pub struct BoardArgs {
    /// Day ("YYYY-MM-DD", Asia/Shanghai) for the overdue counts and the age of
    /// items awaiting confirmation; default today.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Only requests filed in this year (China time).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub year: Option<u32>,
    /// Only requests filed from this day ("YYYY-MM-DD") ...
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// ... through this day, included.
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// Only requests of this street (9 digits) or community (12 digits).
    #[arg(long)]
    pub area: Option<String>,
    /// Only requests filed by this agency.
    #[arg(long)]
    pub requester: Option<String>,
    /// Only requests of this direction.
    #[arg(long, value_enum)]
    pub direction: Option<DirectionArg>,
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
    #[command(flatten)]
    Step(RequestStep),
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
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Request id (a UUID).
    pub id: String,
    /// Also print the request's events as stored in the log, with the hash
    /// chain (with --json: one object, `request` the GetRequest answer and
    /// `history` the GetRequestHistory answer).
    #[arg(long)]
    pub history: bool,
    #[command(flatten)]
    pub read: ReadArgs,
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

/// Parses a calendar day "YYYY-MM-DD" (a real day: not 2027-02-30).
pub fn parse_date(text: &str) -> Result<String, String> {
    let bad = || format!("{text:?} is not a day written YYYY-MM-DD");
    let date: jiff::civil::Date = text.trim().parse().map_err(|_| bad())?;
    let day = date.strftime("%Y-%m-%d").to_string();
    // jiff also reads a date and time as its date: the flag wants a day only.
    if day != text.trim() {
        return Err(bad());
    }
    Ok(day)
}

/// Parses a month "YYYY-MM".
pub fn parse_month(text: &str) -> Result<String, String> {
    let bad = || format!("{text:?} is not a month written YYYY-MM");
    let (year, month) = text.trim().split_once('-').ok_or_else(bad)?;
    let (year, month): (i16, i8) = (
        year.parse().map_err(|_| bad())?,
        month.parse().map_err(|_| bad())?,
    );
    if year.to_string().len() != 4 || !(1..=12).contains(&month) {
        return Err(bad());
    }
    Ok(format!("{year}-{month:02}"))
}

/// Parses a duration as `60s`, `1m 30s`, `500ms` or ISO 8601 (`PT60S`):
/// positive, for flags such as `--duration`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let parsed: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|err| format!("{text:?} is not a duration such as 60s or 1m30s: {err}"))?;
    let duration = std::time::Duration::try_from(parsed)
        .map_err(|_| format!("{text:?} must not be negative"))?;
    if duration.is_zero() {
        return Err(format!("{text:?} must be longer than zero"));
    }
    Ok(duration)
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

    #[test]
    fn the_placements_demo_is_a_scenario_of_demo() {
        let cli = Cli::try_parse_from(["sy", "demo", "placements", "--seed", "3", "--scale", "10"])
            .expect("parses");
        let Command::Demo(DemoArgs {
            scenario: Some(DemoScenario::Placements(args)),
            ..
        }) = cli.command
        else {
            panic!("wrong subcommand");
        };
        assert_eq!((args.seed, args.scale, args.concurrency), (3, 10, 16));
        let cli = Cli::try_parse_from(["sy", "demo", "--seed", "2"]).expect("parses");
        let Command::Demo(demo) = cli.command else {
            panic!("wrong subcommand");
        };
        assert!(demo.scenario.is_none());
        assert_eq!(demo.seed, 2);
        assert!(Cli::try_parse_from(["sy", "demo", "placements", "--scale", "0"]).is_err());
        assert!(Cli::try_parse_from(["sy", "demo", "--count", "3", "placements"]).is_err());
    }

    #[test]
    fn audit_commands_parse() {
        let cli = Cli::try_parse_from(["sy", "export", "--from", "5", "--out", "x.jsonl"])
            .expect("parses");
        let Command::Export(export) = cli.command else {
            panic!("wrong subcommand");
        };
        assert_eq!((export.from, export.to), (5, None));
        assert_eq!(export.log.stream, "SHUANGYONG");
        assert!(Cli::try_parse_from(["sy", "export", "--from", "0"]).is_err());

        assert!(
            Cli::try_parse_from(["sy", "verify"]).is_err(),
            "needs a source"
        );
        assert!(Cli::try_parse_from(["sy", "verify", "-", "--live"]).is_err());
        assert!(Cli::try_parse_from(["sy", "verify", "--expect-position", "3", "-"]).is_err());
        let cli = Cli::try_parse_from(["sy", "verify", "-", "--expect-digest", "ab"]).unwrap();
        let Command::Verify(verify) = cli.command else {
            panic!("wrong subcommand");
        };
        assert_eq!(verify.file.as_deref(), Some(std::path::Path::new("-")));

        assert!(Cli::try_parse_from(["sy", "as-of", "--out", "d"]).is_err());
        assert!(
            Cli::try_parse_from([
                "sy",
                "as-of",
                "--position",
                "3",
                "--time",
                "2026-05-01T00:00:00Z",
                "--out",
                "d"
            ])
            .is_err()
        );
        let cli = Cli::try_parse_from([
            "sy",
            "as-of",
            "--time",
            "2026-05-01T18:00:00+08:00",
            "--out",
            "d",
        ])
        .unwrap();
        let Command::AsOf(as_of) = cli.command else {
            panic!("wrong subcommand");
        };
        assert_eq!(as_of.time.unwrap().to_string(), "2026-05-01T10:00:00Z");
        assert!(
            Cli::try_parse_from(["sy", "as-of", "--time", "2026-05-01", "--out", "d"]).is_err()
        );
        assert!(Cli::try_parse_from(["sy", "quarantine", "--limit", "501"]).is_err());
        assert!(Cli::try_parse_from(["sy", "rebuild"]).is_ok());
        assert!(Cli::try_parse_from(["sy", "history", "request"]).is_err());
    }

    #[test]
    fn migrate_needs_both_streams_and_its_keys() {
        let base = [
            "sy",
            "migrate",
            "--from",
            "OLD",
            "--to",
            "NEW",
            "--report",
            "r.jsonl",
            "--signing-key-file",
            "k",
            "--kek-file",
            "kek",
        ];
        let cli = Cli::try_parse_from(base).expect("parses");
        let Command::Migrate(migrate) = cli.command else {
            panic!("wrong subcommand");
        };
        assert_eq!((migrate.from.as_str(), migrate.to.as_str()), ("OLD", "NEW"));
        assert_eq!(migrate.pii_cipher, Cipher::Aes256Gcm);
        assert!(migrate.verify_keys_file.is_none());
        let sm4 = [&base[..], &["--pii-cipher", "sm4-gcm"]].concat();
        let Command::Migrate(migrate) = Cli::try_parse_from(sm4).unwrap().command else {
            panic!("wrong subcommand");
        };
        assert_eq!(migrate.pii_cipher, Cipher::Sm4Gcm);
        assert!(
            Cli::try_parse_from(&base[..base.len() - 2]).is_err(),
            "needs a KEK"
        );
    }

    #[test]
    fn days_and_months_are_real_ones() {
        assert_eq!(parse_date("2027-01-10"), Ok("2027-01-10".to_string()));
        assert_eq!(parse_date(" 2028-02-29 "), Ok("2028-02-29".to_string()));
        for bad in [
            "2027-02-29",
            "2027-1-10",
            "10/01/2027",
            "2027-01-10T00:00",
            "",
        ] {
            assert!(parse_date(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_month("2026-03"), Ok("2026-03".to_string()));
        assert_eq!(parse_month("2026-3"), Ok("2026-03".to_string()));
        for bad in ["2026-13", "2026-00", "26-03", "2026", "2026-03-01", "march"] {
            assert!(parse_month(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_parse_in_the_friendly_and_iso_forms() {
        assert_eq!(
            parse_duration("60s"),
            Ok(std::time::Duration::from_secs(60))
        );
        assert_eq!(
            parse_duration("1m 30s"),
            Ok(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration("500ms"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert_eq!(
            parse_duration("PT2S"),
            Ok(std::time::Duration::from_secs(2))
        );
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
