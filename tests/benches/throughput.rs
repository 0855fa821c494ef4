//! Throughput of the real system against the raw limits of its parts,
//! measured in the same run on the same machine:
//!
//! - intake: `SubmitRequest` over gRPC with many concurrent callers, against
//!   raw JetStream publishes (awaiting each ack; and pipelined, 1024 in flight,
//!   with expected-subject-sequence and msg-id headers as intake uses them);
//! - projection: catching up a log from sequence 1, against raw sled
//!   (1000 writes per transaction with a checkpoint, as the fold does).
//!
//! Run: `cargo build --release --bins && cargo bench -p sy-tests --bench throughput`.
//! `SY_BENCH_EVENTS` sets the number of commands (default 5000).
#![allow(
    clippy::print_stdout,
    reason = "the printed report is the bench's output"
)]

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::header::{NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream;
use futures::stream::{FuturesUnordered, StreamExt};
use sy_api::pb;
use sy_tests::client::{self, AGENCY, USER};
use sy_tests::nats::NatsServer;
use sy_tests::service::ServiceBuilder;

const EVENT_BYTES: usize = 300;
const IN_FLIGHT: usize = 1024;
const CALLERS: usize = 64;

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Raw JetStream: one publish at a time, awaiting each ack.
async fn raw_publish_awaited(js: &jetstream::Context, n: usize) -> anyhow::Result<f64> {
    let payload = bytes::Bytes::from(vec![b'x'; EVENT_BYTES]);
    let started = Instant::now();
    for i in 0..n {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(NATS_MESSAGE_ID, format!("awaited-{i}").as_str());
        headers.insert(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, "0");
        js.publish_with_headers(format!("raw.awaited{i}"), headers, payload.clone())
            .await?
            .await?;
    }
    Ok(rate(n, started.elapsed()))
}

/// Raw JetStream: pipelined publishes, `IN_FLIGHT` acks outstanding.
async fn raw_publish_pipelined(js: &jetstream::Context, n: usize) -> anyhow::Result<f64> {
    let payload = bytes::Bytes::from(vec![b'x'; EVENT_BYTES]);
    let started = Instant::now();
    let mut acks = FuturesUnordered::new();
    for i in 0..n {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(NATS_MESSAGE_ID, format!("piped-{i}").as_str());
        headers.insert(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, "0");
        acks.push(
            js.publish_with_headers(format!("raw.piped{i}"), headers, payload.clone())
                .await?
                .into_future(),
        );
        if acks.len() >= IN_FLIGHT {
            acks.next().await.context("ack")??;
        }
    }
    while let Some(ack) = acks.next().await {
        ack?;
    }
    Ok(rate(n, started.elapsed()))
}

/// Raw sled: 1000 writes of `EVENT_BYTES` per transaction, plus a checkpoint.
fn raw_sled(n: usize) -> anyhow::Result<f64> {
    use sled::Transactional;
    let dir = tempfile::tempdir()?;
    let db = sled::open(dir.path())?;
    let data = db.open_tree("data")?;
    let meta = db.open_tree("meta")?;
    let value = vec![b'x'; EVENT_BYTES];
    let started = Instant::now();
    for batch in (0..n as u64).collect::<Vec<_>>().chunks(1000) {
        (&data, &meta)
            .transaction(|(data, meta)| {
                for i in batch {
                    data.insert(&i.to_be_bytes(), value.as_slice())?;
                }
                meta.insert("last_applied", &batch[batch.len() - 1].to_be_bytes())?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| anyhow::anyhow!("sled transaction: {e:?}"))?;
    }
    db.flush()?;
    Ok(rate(n, started.elapsed()))
}

/// `n` SubmitRequest calls from `CALLERS` concurrent callers.
async fn intake_submits(
    endpoint: tonic::transport::Channel,
    n: usize,
) -> anyhow::Result<(f64, u64)> {
    let started = Instant::now();
    let mut callers = Vec::new();
    for caller in 0..CALLERS {
        let mut intake = client::intake_client(endpoint.clone(), AGENCY, USER);
        callers.push(tokio::spawn(async move {
            let mut last = 0;
            for i in (caller..n).step_by(CALLERS) {
                let result = intake
                    .submit_request(client::submit_command(&format!("bench-{i}")))
                    .await?
                    .into_inner();
                last = last.max(result.position);
            }
            anyhow::Ok(last)
        }));
    }
    let mut last = 0;
    for caller in callers {
        last = last.max(caller.await??);
    }
    Ok((rate(n, started.elapsed()), last))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("SY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let nats = NatsServer::start().await?;
    let js = jetstream::new(nats.client().await?);
    js.create_stream(jetstream::stream::Config {
        name: "RAW".into(),
        subjects: vec!["raw.>".into()],
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await?;
    let awaited = raw_publish_awaited(&js, n.min(5000)).await?;
    let pipelined = raw_publish_pipelined(&js, n * 4).await?;
    let sled_rate = tokio::task::spawn_blocking(move || raw_sled(n * 20)).await??;

    let stream = "BENCH";
    let intake = ServiceBuilder::intake(&nats, stream).start().await?;
    let (submits, last_position) = intake_submits(intake.channel(), n).await?;

    let data = tempfile::tempdir()?;
    let started = Instant::now();
    let projection = ServiceBuilder::projection(&nats, stream, data.path())
        .start()
        .await?;
    let mut query = client::query_client(projection.channel());
    loop {
        let reply = query
            .get_clearance_board(pb::GetClearanceBoardRequest {
                min_position: last_position,
                ..Default::default()
            })
            .await;
        match reply {
            Ok(_) => break,
            Err(status) if status.code() == tonic::Code::Unavailable => continue,
            Err(status) => anyhow::bail!("board: {status}"),
        }
    }
    let fold = rate(n, started.elapsed());

    println!(
        "shuangyong throughput ({n} commands, {EVENT_BYTES}-byte raw events, {CALLERS} callers)"
    );
    println!("{:<52} {:>10}", "part", "per second");
    println!(
        "{:<52} {:>10.0}",
        "raw jetstream, awaiting each ack", awaited
    );
    println!(
        "{:<52} {:>10.0}",
        "raw jetstream, pipelined 1024 (+seq, msg-id)", pipelined
    );
    println!("{:<52} {:>10.0}", "intake SubmitRequest over grpc", submits);
    println!(
        "{:<52} {:>10.2}",
        "  ratio to raw awaited",
        submits / awaited
    );
    println!(
        "{:<52} {:>10.2}",
        "  ratio to raw pipelined",
        submits / pipelined
    );
    println!(
        "{:<52} {:>10.0}",
        "raw sled, 1000 writes per transaction", sled_rate
    );
    println!(
        "{:<52} {:>10.0}",
        "projection catch-up from sequence 1 (incl. start)", fold
    );
    println!("{:<52} {:>10.2}", "  ratio to raw sled", fold / sled_rate);
    Ok(())
}
