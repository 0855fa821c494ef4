//! The system under the bench's load: intake's `SubmitRequest` from many
//! callers, a projection catching up and following, the four queries a
//! dashboard makes, and the time from an acknowledgement until a query
//! asking for that position sees it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sy_api::pb;
use sy_tests::client::{self, AGENCY, QueryClient, USER};
use tokio::task::JoinSet;
use tonic::transport::Channel;

use crate::report::{Latencies, rate};

/// What a run of submits produced.
pub struct Submitted {
    pub per_second: f64,
    pub latencies: Latencies,
    /// The highest stream position acknowledged.
    pub last_position: u64,
    /// Up to [`ID_SAMPLE`] request ids, for point reads.
    pub ids: Vec<String>,
}

/// How many request ids a run of submits keeps for `GetRequest`.
const ID_SAMPLE: usize = 1000;

/// `n` `SubmitRequest` calls from `callers` concurrent callers sharing one
/// channel; idempotency keys are `<prefix>-<i>`, fresh for each run.
pub async fn submits(
    channel: Channel,
    prefix: &str,
    n: usize,
    callers: usize,
) -> anyhow::Result<Submitted> {
    let prefix = Arc::<str>::from(prefix);
    calls(channel, n, n, callers, move |mut intake, i| {
        let command = client::submit_command(&format!("{prefix}-{i}"));
        async move { Ok(vec![intake.submit_request(command).await?.into_inner()]) }
    })
    .await
}

/// `n` `SubmitRequest` commands sent as `SubmitRequests` calls of `batch`
/// commands each, `in_flight` calls at a time on one channel (the bulk path
/// of imports and the demo); keys are `<prefix>-<i>`. Every command must be
/// written: a refused one fails the run. Latencies are per call (a batch).
pub async fn bulk(
    channel: Channel,
    prefix: &str,
    n: usize,
    batch: usize,
    in_flight: usize,
) -> anyhow::Result<Submitted> {
    anyhow::ensure!(batch > 0, "a batch carries at least one command");
    let prefix = Arc::<str>::from(prefix);
    calls(
        channel,
        n,
        n.div_ceil(batch),
        in_flight,
        move |mut intake, call| {
            let commands = (call * batch..n.min((call + 1) * batch))
                .map(|i| client::submit_command(&format!("{prefix}-{i}")))
                .collect();
            async move {
                let reply = intake
                    .submit_requests(pb::SubmitRequestsRequest { commands })
                    .await?
                    .into_inner();
                reply
                    .outcomes
                    .into_iter()
                    .map(|outcome| match outcome.outcome {
                        Some(pb::command_outcome::Outcome::Result(result)) => Ok(result),
                        Some(pb::command_outcome::Outcome::Error(error)) => {
                            anyhow::bail!("a command of batch {call} was refused: {error:?}")
                        }
                        None => anyhow::bail!("a command of batch {call} has no outcome"),
                    })
                    .collect()
            }
        },
    )
    .await
}

/// `calls` intake calls writing `commands` commands in all, from `callers`
/// concurrent callers sharing one channel: caller `c` makes calls `c`,
/// `c + callers`, ... one after the other, each `call(client, index)`
/// answering the results of the commands it wrote. The rate is of commands.
async fn calls<F, Fut>(
    channel: Channel,
    commands: usize,
    calls: usize,
    callers: usize,
    call: F,
) -> anyhow::Result<Submitted>
where
    F: Fn(client::IntakeClient, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<Vec<pb::CommandResult>>> + Send,
{
    anyhow::ensure!(callers > 0, "at least one caller");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..callers {
        let intake = client::intake_client(channel.clone(), AGENCY, USER);
        let keep = ID_SAMPLE.div_ceil(callers);
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::new();
            let mut last = 0;
            let mut ids = Vec::new();
            for i in (caller..calls).step_by(callers) {
                let started = Instant::now();
                let results = call(intake.clone(), i).await?;
                latencies.record(started.elapsed());
                for result in results {
                    last = last.max(result.position);
                    if ids.len() < keep {
                        ids.push(result.aggregate_id);
                    }
                }
            }
            anyhow::Ok((latencies, last, ids))
        }));
    }
    let mut submitted = Submitted {
        per_second: 0.0,
        latencies: Latencies::new(),
        last_position: 0,
        ids: Vec::new(),
    };
    for task in tasks {
        let (latencies, last, ids) = task.await??;
        submitted.latencies.merge(&latencies);
        submitted.last_position = submitted.last_position.max(last);
        submitted.ids.extend(ids);
    }
    submitted.per_second = rate(commands, started.elapsed());
    Ok(submitted)
}

/// Waits until the projection behind `channel` has applied `position`
/// (each call waits up to the projection's `--max-wait-ms`, then answers
/// UNAVAILABLE; a projection still starting answers UNAVAILABLE too).
pub async fn caught_up(channel: Channel, position: u64) -> anyhow::Result<()> {
    let mut query = client::query_client(channel);
    loop {
        let reply = query
            .get_clearance_board(pb::GetClearanceBoardRequest {
                min_position: position,
                ..Default::default()
            })
            .await;
        match reply {
            Ok(_) => return Ok(()),
            Err(status) if status.code() == tonic::Code::Unavailable => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(status) => anyhow::bail!("board at position {position}: {status}"),
        }
    }
}

/// Latencies of the four dashboard queries.
pub struct QueryLatencies {
    pub get_request: Latencies,
    pub list_requests: Latencies,
    pub board: Latencies,
    pub placement_stats: Latencies,
}

impl QueryLatencies {
    /// The query names, in the order of [`QueryLatencies::each`].
    pub const NAMES: [&'static str; 4] = [
        "GetRequest",
        "ListRequests (first page of 50)",
        "GetClearanceBoard",
        "GetPlacementStats",
    ];

    pub fn each(self) -> [Latencies; 4] {
        [
            self.get_request,
            self.list_requests,
            self.board,
            self.placement_stats,
        ]
    }
}

/// `rounds` of each query from one caller, one call at a time; `GetRequest`
/// reads the ids of `ids` in turn.
pub async fn queries(
    channel: Channel,
    ids: &[String],
    rounds: usize,
) -> anyhow::Result<QueryLatencies> {
    anyhow::ensure!(!ids.is_empty(), "no request ids to read");
    let mut query = client::query_client(channel.clone());
    let mut placements = client::placement_query_client(channel);
    let mut out = QueryLatencies {
        get_request: Latencies::new(),
        list_requests: Latencies::new(),
        board: Latencies::new(),
        placement_stats: Latencies::new(),
    };
    for round in 0..rounds {
        let call = Instant::now();
        query
            .get_request(pb::GetRequestRequest {
                id: ids[round % ids.len()].clone(),
                min_position: 0,
            })
            .await?;
        out.get_request.record(call.elapsed());

        let call = Instant::now();
        query
            .list_requests(pb::ListRequestsRequest {
                page_size: 50,
                ..Default::default()
            })
            .await?;
        out.list_requests.record(call.elapsed());

        let call = Instant::now();
        query
            .get_clearance_board(pb::GetClearanceBoardRequest::default())
            .await?;
        out.board.record(call.elapsed());

        let call = Instant::now();
        placements
            .get_placement_stats(pb::GetPlacementStatsRequest::default())
            .await?;
        out.placement_stats.record(call.elapsed());
    }
    Ok(out)
}

/// What a steady write load did while the queries ran.
pub struct UnderLoad {
    pub queries: QueryLatencies,
    /// Acknowledged writes per second actually achieved.
    pub writes_per_second: f64,
    /// From each write's acknowledgement until a `GetRequest` for it with
    /// `min_position` set to its position answered.
    pub freshness: Latencies,
}

/// Writes `per_second` `SubmitRequest`s (each in its own task, so a slow
/// acknowledgement does not slow the rate) while `rounds` of the queries
/// run; every acknowledged write is then read back through `min_position`.
pub async fn queries_under_load(
    intake: Channel,
    projection: Channel,
    ids: &[String],
    rounds: usize,
    per_second: u32,
) -> anyhow::Result<UnderLoad> {
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(steady_writes(
        intake,
        projection.clone(),
        per_second,
        Arc::clone(&stop),
    ));
    let queried = queries(projection, ids, rounds).await;
    stop.store(true, Ordering::Relaxed);
    let (writes_per_second, freshness) = writer.await??;
    Ok(UnderLoad {
        queries: queried?,
        writes_per_second,
        freshness,
    })
}

async fn steady_writes(
    intake: Channel,
    projection: Channel,
    per_second: u32,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(f64, Latencies)> {
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / per_second);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let client = client::intake_client(intake, AGENCY, USER);
    let query = client::query_client(projection);
    let mut writes = JoinSet::new();
    let started = Instant::now();
    let mut sent = 0usize;
    while !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        let key = format!("steady-{sent}");
        sent += 1;
        writes.spawn(write_then_read(client.clone(), query.clone(), key));
    }
    let mut freshness = Latencies::new();
    let mut done = 0usize;
    while let Some(write) = writes.join_next().await {
        freshness.record(write??);
        done += 1;
    }
    Ok((rate(done, started.elapsed()), freshness))
}

/// One write, then a read of it through `min_position`; returns the time
/// from the acknowledgement until the read answered.
async fn write_then_read(
    mut intake: client::IntakeClient,
    mut query: QueryClient,
    key: String,
) -> anyhow::Result<Duration> {
    let result = intake
        .submit_request(client::submit_command(&key))
        .await?
        .into_inner();
    let acknowledged = Instant::now();
    query
        .get_request(pb::GetRequestRequest {
            id: result.aggregate_id,
            min_position: result.position,
        })
        .await?;
    Ok(acknowledged.elapsed())
}
