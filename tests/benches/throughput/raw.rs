//! The raw limits the system is divided by, measured in the same run:
//! JetStream publishes (awaited one by one, and pipelined with the headers
//! intake sets), sled transactions shaped like the fold's, a tonic unary
//! echo of a `SubmitRequestCommand` (the message intake receives) in this
//! process, which is what gRPC alone costs on this machine, and Ed25519
//! signatures over an event intake wrote, on one core, which is what signing
//! alone costs (intake signs every event it stores).

use std::convert::Infallible;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::header::{NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream;
use futures::stream::{FuturesUnordered, StreamExt};
use sy_api::pb;
use tonic::codegen::{BoxFuture, Service};
use tonic_prost::ProstCodec;

use crate::report::{Latencies, rate};

/// Bytes of a raw JetStream message and a raw sled value: about an event.
pub const EVENT_BYTES: usize = 300;
/// Publishes in flight in the pipelined raw limit.
pub const IN_FLIGHT: usize = 1024;

/// A JetStream stream for the raw publishes, stored in files as intake's is.
pub async fn raw_stream(js: &jetstream::Context) -> anyhow::Result<()> {
    js.create_stream(jetstream::stream::Config {
        name: "RAW".into(),
        subjects: vec!["raw.>".into()],
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await?;
    Ok(())
}

/// Raw JetStream: one publish at a time, awaiting each ack.
pub async fn publish_awaited(
    js: &jetstream::Context,
    n: usize,
) -> anyhow::Result<(f64, Latencies)> {
    let payload = bytes::Bytes::from(vec![b'x'; EVENT_BYTES]);
    let mut latencies = Latencies::new();
    let started = Instant::now();
    for i in 0..n {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(NATS_MESSAGE_ID, format!("awaited-{i}").as_str());
        headers.insert(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, "0");
        let call = Instant::now();
        js.publish_with_headers(format!("raw.awaited{i}"), headers, payload.clone())
            .await?
            .await?;
        latencies.record(call.elapsed());
    }
    Ok((rate(n, started.elapsed()), latencies))
}

/// Raw JetStream: pipelined publishes, [`IN_FLIGHT`] acks outstanding, with
/// the expected-subject-sequence and msg-id headers intake sets.
pub async fn publish_pipelined(js: &jetstream::Context, n: usize) -> anyhow::Result<f64> {
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

/// Raw sled: 1000 writes of [`EVENT_BYTES`] per transaction plus a
/// checkpoint key, as the fold batches, and a flush at the end.
pub fn sled_transactions(n: usize) -> anyhow::Result<f64> {
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

/// Raw Ed25519: signs `n` times, on one thread, exactly what intake signed
/// for `stored` (an event as it is in the log: the signature domain tag and
/// the envelope without its signature, see `sy_domain::signature`), with a
/// key of the bench's own. Returns the signatures per second and the bytes
/// signed.
pub fn ed25519_signing(stored: &[u8], n: usize) -> anyhow::Result<(f64, usize)> {
    use ed25519_dalek::Signer as _;
    use prost::Message as _;
    let mut envelope = pb::EventEnvelope::decode(stored)?;
    anyhow::ensure!(!envelope.signature.is_empty(), "the event is not signed");
    envelope.signature.clear();
    let mut message = sy_domain::signature::DOMAIN_TAG.to_vec();
    envelope.encode(&mut message)?;
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let started = Instant::now();
    let mut last = [0; 64];
    for _ in 0..n {
        last = key.sign(std::hint::black_box(&message)).to_bytes();
    }
    let elapsed = started.elapsed();
    std::hint::black_box(last);
    Ok((rate(n, elapsed), message.len()))
}

/// The echo's one method.
const ECHO_PATH: &str = "/bench.Echo/Echo";

/// A tonic service answering [`ECHO_PATH`] with the request it got: what
/// tonic's generated code does for a unary method, written out, so that the
/// bench needs no proto of its own.
#[derive(Clone)]
struct EchoServer;

impl tonic::server::NamedService for EchoServer {
    const NAME: &'static str = "bench.Echo";
}

impl Service<http::Request<tonic::body::Body>> for EchoServer {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            if request.uri().path() != ECHO_PATH {
                return Ok(
                    tonic::Status::unimplemented(request.uri().path().to_string()).into_http(),
                );
            }
            let codec = ProstCodec::<pb::SubmitRequestCommand, pb::SubmitRequestCommand>::default();
            Ok(tonic::server::Grpc::new(codec)
                .unary(EchoMethod, request)
                .await)
        })
    }
}

struct EchoMethod;

impl tonic::server::UnaryService<pb::SubmitRequestCommand> for EchoMethod {
    type Response = pb::SubmitRequestCommand;
    type Future = std::future::Ready<Result<tonic::Response<Self::Response>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<pb::SubmitRequestCommand>) -> Self::Future {
        std::future::ready(Ok(tonic::Response::new(request.into_inner())))
    }
}

/// Raw gRPC: `n` unary echoes of `message` from `callers` concurrent callers
/// on one HTTP/2 connection (as the intake callers share one channel), to a
/// tonic server in this process.
pub async fn grpc_echo(
    message: pb::SubmitRequestCommand,
    n: usize,
    callers: usize,
) -> anyhow::Result<(f64, Latencies)> {
    let port = sy_tests::nats::free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(EchoServer)
            .serve(addr),
    );
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let channel = loop {
        match endpoint.connect().await {
            Ok(channel) => break channel,
            Err(err) if Instant::now() >= deadline => {
                anyhow::bail!("the echo server on {addr} did not answer: {err}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..callers {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        let message = message.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::new();
            for _ in (caller..n).step_by(callers) {
                let call = Instant::now();
                grpc.ready().await?;
                let codec =
                    ProstCodec::<pb::SubmitRequestCommand, pb::SubmitRequestCommand>::default();
                grpc.unary(
                    tonic::Request::new(message.clone()),
                    http::uri::PathAndQuery::from_static(ECHO_PATH),
                    codec,
                )
                .await?;
                latencies.record(call.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Latencies::new();
    for task in tasks {
        latencies.merge(&task.await??);
    }
    let per_second = rate(n, started.elapsed());
    server.abort();
    Ok((per_second, latencies))
}
