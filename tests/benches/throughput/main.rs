//! The performance report: the real system against the raw limits of its
//! parts, all measured in the same run on the same machine, printed as one
//! Markdown table whose ratios (not rates) are what to compare across
//! machines and commits. Nothing here asserts a time: a slower machine gives
//! lower rates, and the ratios say whether the system or the machine moved.
//!
//! - intake: `SubmitRequest` throughput and p50/p99 at 1, 16 and 64 callers,
//!   against "the real ceiling", min(raw gRPC echo of the same message at
//!   64 callers, raw JetStream pipelined with intake's headers), and how
//!   much of that ceiling Ed25519 signing alone would take (signatures over
//!   an event intake wrote, on one core);
//! - bulk loads: `SubmitRequests` batches against raw JetStream pipelined;
//! - durable mode: a nats-server ≥ 2.10 with `sync_interval: always`
//!   (fsync before each acknowledgement), intake against that server's own
//!   raw publishes (the binary: `$SY_BENCH_DURABLE_NATS`, else
//!   `.cache/nats-server` of the workspace, fetched as the README says; when
//!   it is missing the table says so);
//! - the projection catching up the whole log from sequence 1, against raw
//!   sled transactions of the fold's shape;
//! - query p50/p99 (GetRequest, ListRequests, GetClearanceBoard,
//!   GetPlacementStats) at two log sizes, idle, and at the larger size while
//!   intake takes a steady 1k commands/s; freshness (acknowledgement to
//!   visible through `min_position`) under that load;
//! - both services' peak RSS (`VmHWM`).
//!
//! Run: `cargo build --release --bins && cargo bench -p sy-tests --bench throughput`
//! (about 1M events: minutes). `SY_BENCH_QUICK=1` runs a short version
//! (under 2 minutes); `SY_BENCH_EVENTS` sets the larger log size.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the printed report and its progress lines are the bench's output"
)]

mod raw;
mod report;
mod system;

use std::path::PathBuf;
use std::time::Instant;

use async_nats::jetstream;
use prost::Message as _;
use sy_tests::client;
use sy_tests::nats::{NatsOptions, NatsServer};
use sy_tests::service::ServiceBuilder;

use crate::report::{Report, Value, peak_rss, rate, ratio};
use crate::system::QueryLatencies;

/// Concurrent callers of the throughput rows and the gRPC echo.
const CALLERS: [usize; 3] = [1, 16, 64];
/// The steady write load under which the queries are measured.
const STEADY_WRITES_PER_SECOND: u32 = 1000;
/// The intake stream.
const STREAM: &str = "BENCH";
/// Commands per `SubmitRequests` call of the bulk row: the most one call
/// may carry (intake's `MAX_BATCH`).
const BULK_BATCH: usize = 500;
/// `SubmitRequests` calls in flight in the bulk row: about as many commands
/// outstanding as the raw pipelined publishes have ([`raw::IN_FLIGHT`]).
const BULK_IN_FLIGHT: usize = 2;

/// How much of everything a run does.
struct Sizes {
    /// Raw JetStream publishes awaited one by one.
    awaited: usize,
    /// Raw pipelined publishes, gRPC echoes and sled writes.
    raw: usize,
    /// Intake calls at 1, 16 and 64 callers.
    intake: [usize; 3],
    /// Commands written through `SubmitRequests` batches.
    bulk: usize,
    /// Ed25519 signatures of the raw signing limit.
    signatures: usize,
    /// Durable mode: awaited raw publishes, pipelined ones, intake calls.
    durable: [usize; 3],
    /// The two log sizes of the growth rows; the fold catches up the larger.
    small_log: u64,
    large_log: u64,
    /// Rounds of the four queries per measurement.
    query_rounds: usize,
}

impl Sizes {
    fn from_env() -> Self {
        let quick = std::env::var("SY_BENCH_QUICK").is_ok_and(|v| v == "1");
        let events: Option<u64> = std::env::var("SY_BENCH_EVENTS")
            .ok()
            .and_then(|v| v.parse().ok());
        if quick {
            let large_log = events.unwrap_or(30_000);
            Self {
                awaited: 1000,
                raw: 20_000,
                intake: [500, 3000, 6000],
                bulk: 20_000,
                signatures: 20_000,
                durable: [300, 5000, 3000],
                small_log: large_log / 3,
                large_log,
                query_rounds: 300,
            }
        } else {
            let large_log = events.unwrap_or(1_000_000);
            Self {
                awaited: 5000,
                raw: 100_000,
                intake: [2000, 20_000, 50_000],
                bulk: 100_000,
                signatures: 100_000,
                durable: [2000, 10_000, 10_000],
                small_log: large_log / 10,
                large_log,
                query_rounds: 2000,
            }
        }
    }
}

/// Progress on stderr, with the seconds since the start, so that stdout is
/// the table alone.
fn progress(what: &str) {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let elapsed = START.get_or_init(Instant::now).elapsed();
    eprintln!("bench: {:>6.1}s {what}", elapsed.as_secs_f64());
}

/// The durable-mode server binary, if it is there.
fn durable_nats_binary() -> Result<PathBuf, String> {
    let path = std::env::var_os("SY_BENCH_DURABLE_NATS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/nats-server"),
        PathBuf::from,
    );
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no nats-server ≥ 2.10 at {} (see README, Performance)",
            path.display()
        ))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes = Sizes::from_env();
    let message = client::submit_command("bench-echo-0000000");
    let mut report = Report::new(format!(
        "shuangyong performance: log of {} then {} events; SubmitRequestCommand of {} bytes; \
         raw events of {} bytes",
        sizes.small_log,
        sizes.large_log,
        message.encoded_len(),
        raw::EVENT_BYTES
    ));

    let keys = EventKeys::new()?;

    // Raw limits on the testkit's server.
    progress("raw limits");
    let nats = NatsServer::start().await?;
    let js = jetstream::new(nats.client().await?);
    raw::raw_stream(&js).await?;
    let (awaited, awaited_latencies) = raw::publish_awaited(&js, sizes.awaited).await?;
    let pipelined = raw::publish_pipelined(&js, sizes.raw).await?;
    let raw_sled_n = sizes.raw;
    let sled = tokio::task::spawn_blocking(move || raw::sled_transactions(raw_sled_n)).await??;
    let (grpc, grpc_latencies) = raw::grpc_echo(message.clone(), sizes.raw, 64).await?;
    let ceiling = grpc.min(pipelined);

    // One event as intake signs it: written by intake, read back from the log.
    let intake = intake_on(&nats, &keys).start().await?;
    let probe = system::submits(intake.channel(), "probe", 1, 1).await?;
    let event = js
        .get_stream(STREAM)
        .await?
        .get_raw_message(probe.last_position)
        .await?
        .payload;
    let signatures = sizes.signatures;
    let (signing, signed_bytes) =
        tokio::task::spawn_blocking(move || raw::ed25519_signing(&event, signatures)).await??;

    report.row(
        "raw JetStream, one publish at a time, awaiting each ack",
        Value::Rate {
            per_second: awaited,
            latencies: Some(awaited_latencies),
        },
    );
    report.row(
        format!(
            "raw JetStream, pipelined ({} in flight), with intake's headers",
            raw::IN_FLIGHT
        ),
        Value::Rate {
            per_second: pipelined,
            latencies: None,
        },
    );
    report.row(
        "raw gRPC: tonic unary echo of the same message, 64 callers",
        Value::Rate {
            per_second: grpc,
            latencies: Some(grpc_latencies),
        },
    );
    report.row_with_ratio(
        format!("raw Ed25519: signing intake's event ({signed_bytes} bytes signed), one core"),
        Value::Rate {
            per_second: signing,
            latencies: None,
        },
        format!(
            "signing alone at the real ceiling's rate would take {:.2} cores",
            ceiling / signing
        ),
    );

    // Intake at 1, 16 and 64 callers.
    let mut ids = Vec::new();
    for (callers, n) in CALLERS.into_iter().zip(sizes.intake) {
        progress(&format!("intake, callers: {callers}"));
        let submitted =
            system::submits(intake.channel(), &format!("callers{callers}"), n, callers).await?;
        ids.extend(submitted.ids);
        report.row_with_ratio(
            format!("intake SubmitRequest over gRPC, callers: {callers}"),
            Value::Rate {
                per_second: submitted.per_second,
                latencies: Some(submitted.latencies),
            },
            format!(
                "{}, {}",
                ratio(
                    submitted.per_second,
                    ceiling,
                    "the real ceiling, min(raw gRPC, raw pipelined)"
                ),
                ratio(submitted.per_second, awaited, "raw awaited")
            ),
        );
    }

    // Bulk loads through the batch RPC.
    progress("intake, bulk");
    let bulk = system::bulk(
        intake.channel(),
        "bulk",
        sizes.bulk,
        BULK_BATCH,
        BULK_IN_FLIGHT,
    )
    .await?;
    report.row_with_ratio(
        format!(
            "intake SubmitRequests: batches of {BULK_BATCH}, {BULK_IN_FLIGHT} calls in flight \
             (latency per call)"
        ),
        Value::Rate {
            per_second: bulk.per_second,
            latencies: Some(bulk.latencies),
        },
        ratio(bulk.per_second, pipelined, "raw pipelined"),
    );

    // Durable mode, against its own raw limit.
    progress("durable mode");
    match durable_nats_binary() {
        Ok(binary) => durable(&mut report, &sizes, &keys, binary).await?,
        Err(why) => {
            report.row(
                "durable (sync_interval: always): raw and intake",
                Value::Skipped(why),
            );
        }
    }

    // The log to the small size; queries on a projection that followed it.
    progress("log to the small size");
    fill(&nats, &intake, "small", sizes.small_log).await?;
    let small_data = tempfile::tempdir()?;
    let small = projection_on(&nats, &keys, small_data.path())
        .start()
        .await?;
    system::caught_up(small.channel(), nats.last_sequence(STREAM).await?).await?;
    let idle_small = system::queries(small.channel(), &ids, sizes.query_rounds).await?;
    drop(small);

    // The log to the large size; a fresh projection catches all of it up.
    progress("log to the large size");
    fill(&nats, &intake, "large", sizes.large_log).await?;
    let last = nats.last_sequence(STREAM).await?;
    progress(&format!("projection catching up {last} events"));
    let data = tempfile::tempdir()?;
    let started = Instant::now();
    let projection = projection_on(&nats, &keys, data.path()).start().await?;
    system::caught_up(projection.channel(), last).await?;
    let fold = rate(usize::try_from(last)?, started.elapsed());
    report.row(
        "raw sled, 1000 writes per transaction plus a checkpoint",
        Value::Rate {
            per_second: sled,
            latencies: None,
        },
    );
    report.row_with_ratio(
        format!("projection catching up {last} events from sequence 1 (process start included)"),
        Value::Rate {
            per_second: fold,
            latencies: None,
        },
        ratio(fold, sled, "raw sled"),
    );

    progress("queries, idle and under load");
    let idle_large = system::queries(projection.channel(), &ids, sizes.query_rounds).await?;
    let loaded = system::queries_under_load(
        intake.channel(),
        projection.channel(),
        &ids,
        sizes.query_rounds,
        STEADY_WRITES_PER_SECOND,
    )
    .await?;
    let loaded_writes = loaded.writes_per_second;
    for (((name, small), large), busy) in QueryLatencies::NAMES
        .into_iter()
        .zip(idle_small.each())
        .zip(idle_large.each())
        .zip(loaded.queries.each())
    {
        report.row(
            format!("{name}, idle, log of {}", sizes.small_log),
            Value::Latency(small),
        );
        report.row(
            format!("{name}, idle, log of {last}"),
            Value::Latency(large),
        );
        report.row(
            format!("{name}, log of {last}, intake taking {loaded_writes:.0} writes/s"),
            Value::Latency(busy),
        );
    }
    report.row(
        "freshness: acknowledged → visible through min_position (GetRequest), under that load",
        Value::Latency(loaded.freshness),
    );

    for (name, service) in [
        ("intake (every write of the run)", &intake),
        (
            "projection (caught up the large log, then served)",
            &projection,
        ),
    ] {
        let value = match service.pid().map(peak_rss) {
            Some(Ok(bytes)) => Value::Bytes(bytes),
            Some(Err(err)) => Value::Skipped(format!("cannot read VmHWM: {err}")),
            None => Value::Skipped("not running".into()),
        };
        report.row(format!("{name}: peak RSS (VmHWM)"), value);
    }

    println!("{}", report.markdown());
    Ok(())
}

/// The bench's callers all act as one credential, where a deployment's load
/// comes from many: the per-credential limit of calls in flight (64), meant
/// for one client, is lifted as the testkit lifts the rate limits.
const IN_FLIGHT_PER_CREDENTIAL: usize = 1_000_000;

/// The event signing key intake signs with and the verify keys file the
/// projection checks every event against, as in a deployment: signing and
/// verifying are part of what a write and a fold cost.
struct EventKeys {
    dir: tempfile::TempDir,
    signing: PathBuf,
}

impl EventKeys {
    const KEY_ID: &str = "bench";

    fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let key = sy_api::event_keys::new_signing_key(Self::KEY_ID, dir.path())?;
        std::fs::write(
            dir.path().join("verify-keys"),
            format!("{}\n", key.public_line),
        )?;
        Ok(Self {
            signing: key.path,
            dir,
        })
    }

    fn verify_keys(&self) -> PathBuf {
        self.dir.path().join("verify-keys")
    }
}

fn intake_on(nats: &NatsServer, keys: &EventKeys) -> ServiceBuilder {
    ServiceBuilder::intake(nats, STREAM)
        .flag("--in-flight-per-credential", IN_FLIGHT_PER_CREDENTIAL)
        .flag("--signing-key-file", keys.signing.display())
}

fn projection_on(
    nats: &NatsServer,
    keys: &EventKeys,
    data_dir: &std::path::Path,
) -> ServiceBuilder {
    ServiceBuilder::projection(nats, STREAM, data_dir)
        .flag("--in-flight-per-credential", IN_FLIGHT_PER_CREDENTIAL)
        .flag("--verify-keys-file", keys.verify_keys().display())
}

/// Writes `SubmitRequest`s from 64 callers until the stream holds `target`
/// events.
async fn fill(
    nats: &NatsServer,
    intake: &sy_tests::service::Service,
    phase: &str,
    target: u64,
) -> anyhow::Result<()> {
    let have = nats.last_sequence(STREAM).await?;
    if have < target {
        let missing = usize::try_from(target - have)?;
        system::submits(intake.channel(), &format!("fill-{phase}"), missing, 64).await?;
    }
    Ok(())
}

/// The durable rows: a server with `sync_interval: always`, its raw
/// publishes, and intake on it at 64 callers.
async fn durable(
    report: &mut Report,
    sizes: &Sizes,
    keys: &EventKeys,
    binary: PathBuf,
) -> anyhow::Result<()> {
    let [awaited_n, pipelined_n, intake_n] = sizes.durable;
    let nats = NatsOptions::new()
        .binary(binary)
        .sync_interval("always")
        .start()
        .await?;
    let js = jetstream::new(nats.client().await?);
    raw::raw_stream(&js).await?;
    let (awaited, awaited_latencies) = raw::publish_awaited(&js, awaited_n).await?;
    let pipelined = raw::publish_pipelined(&js, pipelined_n).await?;
    let intake = intake_on(&nats, keys).start().await?;
    let submitted = system::submits(intake.channel(), "durable", intake_n, 64).await?;
    // With an fsync before every acknowledgement, pipelining need not beat
    // awaiting one by one: the better of the two is the limit.
    let ceiling = awaited.max(pipelined);
    report.row(
        "durable (sync_interval: always): raw JetStream, awaiting each ack",
        Value::Rate {
            per_second: awaited,
            latencies: Some(awaited_latencies),
        },
    );
    report.row(
        "durable: raw JetStream, pipelined, with intake's headers",
        Value::Rate {
            per_second: pipelined,
            latencies: None,
        },
    );
    report.row_with_ratio(
        "durable: intake SubmitRequest over gRPC, 64 callers",
        Value::Rate {
            per_second: submitted.per_second,
            latencies: Some(submitted.latencies),
        },
        ratio(
            submitted.per_second,
            ceiling,
            "max(durable raw awaited, durable raw pipelined)",
        ),
    );
    Ok(())
}
