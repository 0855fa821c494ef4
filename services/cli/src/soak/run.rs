//! `sy soak run`: a steady load of submissions and reads that outlives the
//! faults injected under it.
//!
//! Every tick of the rate starts one command as its own task, so a command
//! stuck in retries never slows the ones after it: the load stays what a
//! fleet of agency systems would send. A command keeps its idempotency key
//! through every retry (that is what makes retrying safe: intake answers a
//! repeated key from the log), backs off with jitter so clients do not
//! retry in lockstep when a node comes back, and moves to the next intake
//! after each failure. Channels connect lazily and reconnect by themselves,
//! so a service down at the start or restarted midway is only a failed
//! attempt. The reader runs beside it at its own rate, failing over between
//! projection replicas.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sy_api::pb::{self, query_client::QueryClient};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use super::now_ms;
use super::report::{self, CommandRecord, FORMAT, Outcome, ReadRecord, Report};
use crate::args::SoakRunArgs;
use crate::commands::{self, Cmd};
use crate::demo::{self, Rng};
use crate::error::{Error, code_name};
use crate::rpc::{self, Channel, Endpoints, IntakeClients};

/// Distinct demo submissions the load cycles through (each sent with its
/// own key, so each is a new request).
const SUBMISSIONS: u32 = 40;
/// The first retry's backoff; it doubles with each attempt.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// The longest backoff between two attempts.
const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// Acknowledged requests the reader picks from.
const RECENT: usize = 64;
/// Every this many reads, one is a `ListRequests`.
const LIST_EVERY: u64 = 4;

/// Runs `sy soak run`: the load, then the report.
pub async fn run(
    args: &SoakRunArgs,
    endpoints: &Endpoints,
    coordinator: &pb::Actor,
) -> Result<(), Error> {
    let intake_urls = url_list("--intake-url", &endpoints.intake_url)?;
    let query_urls = url_list("--query-url", &endpoints.query_url)?;
    // Found out now, not after the run: where the report goes.
    let out_dir = match args.out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    if !out_dir.is_dir() {
        return Err(Error::Usage(format!(
            "--out {}: {} is not a directory",
            args.out.display(),
            out_dir.display()
        )));
    }
    let intakes: Arc<[IntakeClients]> = intake_urls
        .iter()
        .map(|url| rpc::connect_lazy(url, endpoints.timeout).map(IntakeClients::new))
        .collect::<Result<Vec<_>, _>>()?
        .into();
    let queries = query_urls
        .iter()
        .map(|url| rpc::connect_lazy(url, endpoints.timeout).map(QueryClient::new))
        .collect::<Result<Vec<_>, _>>()?;
    let submissions = demo::plan(args.seed, SUBMISSIONS, jiff::Timestamp::now(), coordinator)
        .into_iter()
        .filter_map(|script| script.steps.into_iter().next())
        .map(|step| (step.actor, step.cmd))
        .collect::<Vec<_>>();
    if submissions.is_empty() {
        return Err(Error::Failed("the demo planned no submissions".into()));
    }
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let total = u64::from(args.rate) * args.duration.as_millis() as u64 / 1000;
    say!(
        "soak run {run_id}: {total} submissions at {}/s for {:.1} s to {}; reads at {}/s from {}",
        args.rate,
        args.duration.as_secs_f64(),
        intake_urls.join(", "),
        args.read_rate,
        query_urls.join(", ")
    );

    let started_ms = now_ms();
    let (stop, stopped) = watch::channel(false);
    let (stop_reads, reads_stopped) = watch::channel(false);
    let recent = Arc::new(Mutex::new(VecDeque::with_capacity(RECENT)));
    let reader = tokio::spawn(read_steadily(
        queries,
        args.read_rate,
        Arc::clone(&recent),
        reads_stopped,
    ));
    let mut signal = pin!(sy_api::server::shutdown_signal());
    let mut interrupted = false;
    let mut tasks = JoinSet::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / args.rate);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    for n in 0..total {
        tokio::select! {
            _ = ticker.tick() => {}
            () = &mut signal => {
                interrupted = true;
                break;
            }
        }
        let (actor, mut cmd) = submissions[n as usize % submissions.len()].clone();
        let key = format!("soak-{run_id}-{n:06}");
        if let Some(context) = cmd.context_mut() {
            context.idempotency_key.clone_from(&key);
            context.correlation_id = format!("soak-{run_id}");
        }
        let command = Command {
            n,
            key,
            actor,
            cmd,
            seed: args.seed,
            give_up: args.give_up,
        };
        tasks.spawn(command.drive(Arc::clone(&intakes), stopped.clone(), Arc::clone(&recent)));
    }
    if interrupted {
        let _ = stop.send(true);
    } else {
        say!("soak run {run_id}: all sent; waiting for the pending ones");
    }
    let mut commands = Vec::with_capacity(total as usize);
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(Ok(record)) => commands.push(record),
                Some(Err(err)) => return Err(Error::Failed(format!("a command task failed: {err}"))),
                None => break,
            },
            () = &mut signal, if !interrupted => {
                interrupted = true;
                let _ = stop.send(true);
            }
        }
    }
    // The run ends with its last command; reads still in flight then are
    // dropped, not waited for (a read waiting out its deadline would stretch
    // the run and the last read gap with it).
    let ended_ms = now_ms();
    let _ = stop_reads.send(true);
    let reads = reader
        .await
        .map_err(|err| Error::Failed(format!("the reader failed: {err}")))?;
    commands.sort_by(|a, b| a.key.cmp(&b.key));

    // A marks file that cannot be read must not cost the run its report:
    // `sy soak check --marks` can read a corrected one.
    let marks = match &args.marks {
        Some(path) if path.exists() => report::read_marks(path).unwrap_or_else(|err| {
            say!("marks not copied into the report: {err}");
            Vec::new()
        }),
        Some(path) => {
            say!("no marks: {} does not exist", path.display());
            Vec::new()
        }
        None => Vec::new(),
    };
    let report = Report {
        format: FORMAT,
        run_id,
        started_ms,
        ended_ms,
        rate: args.rate,
        duration_ms: args.duration.as_millis() as u64,
        give_up_ms: args.give_up.as_millis() as u64,
        intake_urls,
        query_urls,
        interrupted,
        marks_file: args.marks.clone(),
        marks,
        commands,
        reads,
    };
    report.write(&args.out)?;
    say!("{}", summary(&report));
    say!("report: {}", args.out.display());
    Ok(())
}

/// The comma-separated URLs of a flag, at least one.
fn url_list(flag: &str, value: &str) -> Result<Vec<String>, Error> {
    let urls: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_string)
        .collect();
    if urls.is_empty() {
        return Err(Error::Usage(format!("{flag} names no URL")));
    }
    Ok(urls)
}

/// One line of totals for the operator.
fn summary(report: &Report) -> String {
    let count = |outcome| {
        report
            .commands
            .iter()
            .filter(|c| c.outcome == outcome)
            .count()
    };
    let retried = report.commands.iter().filter(|c| c.attempts > 1).count();
    let reads_ok = report.reads.iter().filter(|r| r.ok).count();
    format!(
        "{} commands: {} written, {} replayed, {} failed, {} interrupted ({retried} needed retries); \
         {reads_ok} of {} reads ok{}",
        report.commands.len(),
        count(Outcome::Written),
        count(Outcome::Replayed),
        count(Outcome::Failed),
        count(Outcome::Interrupted),
        report.reads.len(),
        if report.interrupted {
            "; interrupted"
        } else {
            ""
        }
    )
}

/// Requests acknowledged lately, newest last: what the reader asks for.
type Recent = Arc<Mutex<VecDeque<(String, u64)>>>;

/// One command of the load and how it is retried.
struct Command {
    n: u64,
    key: String,
    actor: pb::Actor,
    cmd: Cmd,
    seed: u64,
    give_up: Duration,
}

impl Command {
    /// Sends the command until it is acknowledged, refused for good, given
    /// up or interrupted; says which.
    async fn drive(
        self,
        intakes: Arc<[IntakeClients]>,
        mut stopped: watch::Receiver<bool>,
        recent: Recent,
    ) -> CommandRecord {
        let mut record = CommandRecord {
            key: self.key.clone(),
            agency: self.actor.agency.clone(),
            first_attempt_ms: now_ms(),
            ack_ms: None,
            done_ms: 0,
            attempts: 0,
            outcome: Outcome::Failed,
            last_status: None,
            aggregate_id: None,
            position: None,
        };
        let first = Instant::now();
        let mut rng = Rng::new(self.seed, self.n as u32);
        let mut intake = self.n as usize % intakes.len();
        loop {
            record.attempts += 1;
            let mut clients = intakes[intake].clone();
            let sent = tokio::select! {
                sent = commands::send(&mut clients, self.cmd.clone(), &self.actor) => sent,
                _ = stopped.wait_for(|stop| *stop) => {
                    record.outcome = Outcome::Interrupted;
                    break;
                }
            };
            let err = match sent {
                Ok(result) => {
                    let at = now_ms();
                    record.ack_ms = Some(at);
                    record.outcome = if result.replayed {
                        Outcome::Replayed
                    } else {
                        Outcome::Written
                    };
                    if let Ok(mut recent) = recent.lock() {
                        if recent.len() == RECENT {
                            recent.pop_front();
                        }
                        recent.push_back((result.aggregate_id.clone(), result.position));
                    }
                    record.aggregate_id = Some(result.aggregate_id);
                    record.position = Some(result.position);
                    break;
                }
                Err(err) => err,
            };
            record.last_status = Some(status_line(&err));
            let elapsed = first.elapsed();
            if !retryable(&err) || elapsed >= self.give_up {
                record.outcome = Outcome::Failed;
                break;
            }
            intake = (intake + 1) % intakes.len();
            let wait = backoff(record.attempts, &mut rng).min(self.give_up - elapsed);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stopped.wait_for(|stop| *stop) => {
                    record.outcome = Outcome::Interrupted;
                    break;
                }
            }
        }
        record.done_ms = now_ms();
        record
    }
}

/// `CODE: message` of a failed call, on one line.
fn status_line(err: &Error) -> String {
    match err.status() {
        Some(status) => format!("{}: {}", code_name(status.code()), status.message()),
        None => err.to_string(),
    }
}

/// Whether sending the command again may succeed: not when intake refused
/// the command itself or the caller (the same bytes get the same answer).
fn retryable(err: &Error) -> bool {
    use tonic::Code;
    match err.status() {
        Some(status) => !matches!(
            status.code(),
            Code::InvalidArgument
                | Code::PermissionDenied
                | Code::Unauthenticated
                | Code::AlreadyExists
                | Code::FailedPrecondition
                | Code::NotFound
                | Code::OutOfRange
                | Code::Unimplemented
                | Code::DataLoss
        ),
        // A usage error (no credentials for the agency) never heals.
        None => !matches!(err, Error::Usage(_)),
    }
}

/// The wait before attempt `attempts + 1`: exponential, capped, with jitter
/// over its upper half so retries after a shared outage spread out.
fn backoff(attempts: u32, rng: &mut Rng) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1 << attempts.saturating_sub(1).min(16))
        .min(BACKOFF_CAP);
    let half = ceiling / 2;
    let jitter_ms = rng.next_u64() % (half.as_millis() as u64 + 1);
    half + Duration::from_millis(jitter_ms)
}

/// Reads at `rate` per second until `stop`, each read its own task so a
/// slow one does not delay the next; after a failure the next read goes to
/// the next replica. Reads still in flight at `stop` are not recorded.
async fn read_steadily(
    queries: Vec<QueryClient<Channel>>,
    rate: u32,
    recent: Recent,
    mut stop: watch::Receiver<bool>,
) -> Vec<ReadRecord> {
    let replica = Arc::new(Mutex::new(0usize));
    let mut reads = Vec::new();
    let mut running = JoinSet::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / rate);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            Some(Ok(read)) = running.join_next(), if !running.is_empty() => {
                reads.push(read);
                continue;
            }
            _ = stop.wait_for(|stop| *stop) => break,
        }
        let url = replica.lock().map_or(0, |r| *r);
        let newest = recent.lock().ok().and_then(|r| r.back().cloned());
        let target = match newest {
            Some(request) if !n.is_multiple_of(LIST_EVERY) => Some(request),
            _ => None,
        };
        n += 1;
        running.spawn(read_once(
            queries[url].clone(),
            url,
            queries.len(),
            target,
            Arc::clone(&replica),
        ));
    }
    running.abort_all();
    while let Some(joined) = running.join_next().await {
        if let Ok(read) = joined {
            reads.push(read);
        }
    }
    reads.sort_by_key(|read| read.at_ms);
    reads
}

/// One read: the request `target` at its position, or a page of the list.
async fn read_once(
    mut query: QueryClient<Channel>,
    url: usize,
    replicas: usize,
    target: Option<(String, u64)>,
    replica: Arc<Mutex<usize>>,
) -> ReadRecord {
    let (call, result) = match target {
        Some((id, position)) => (
            "GetRequest",
            query
                .get_request(pb::GetRequestRequest {
                    id,
                    min_position: position,
                })
                .await
                .map(drop),
        ),
        None => (
            "ListRequests",
            query
                .list_requests(pb::ListRequestsRequest {
                    page_size: 10,
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
    };
    if result.is_err()
        && let Ok(mut current) = replica.lock()
        && *current == url
    {
        *current = (url + 1) % replicas;
    }
    ReadRecord {
        at_ms: now_ms(),
        call: call.to_string(),
        url,
        ok: result.is_ok(),
        code: result
            .err()
            .map(|status| code_name(status.code()).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_lists_split_on_commas() {
        assert_eq!(
            url_list("--intake-url", "http://a:1, http://b:2,").unwrap(),
            vec!["http://a:1".to_string(), "http://b:2".to_string()]
        );
        assert!(matches!(
            url_list("--intake-url", " , "),
            Err(Error::Usage(_))
        ));
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter_in_the_upper_half() {
        let mut rng = Rng::new(1, 0);
        for attempts in 1..40 {
            let ceiling = (BACKOFF_BASE * 2u32.pow(attempts.min(16) - 1)).min(BACKOFF_CAP);
            for _ in 0..20 {
                let wait = backoff(attempts, &mut rng);
                assert!(
                    wait >= ceiling / 2 && wait <= ceiling,
                    "{attempts}: {wait:?}"
                );
            }
        }
    }

    #[test]
    fn only_failures_a_retry_can_heal_are_retried() {
        let rpc = |code| Error::rpc("SubmitRequest")(tonic::Status::new(code, "x"));
        for code in [
            tonic::Code::Unavailable,
            tonic::Code::DeadlineExceeded,
            tonic::Code::Aborted,
            tonic::Code::Internal,
            tonic::Code::Unknown,
            tonic::Code::ResourceExhausted,
        ] {
            assert!(retryable(&rpc(code)), "{code:?}");
        }
        for code in [
            tonic::Code::InvalidArgument,
            tonic::Code::PermissionDenied,
            tonic::Code::AlreadyExists,
        ] {
            assert!(!retryable(&rpc(code)), "{code:?}");
        }
        assert!(!retryable(&Error::Usage("no credentials".into())));
        assert_eq!(
            status_line(&rpc(tonic::Code::Unavailable)),
            "UNAVAILABLE: x"
        );
    }
}
