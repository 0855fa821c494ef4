//! The projection against a real `nats-server`: it starts and answers from
//! sled while NATS is down, catches up once the log appears, serves every
//! Query call over real gRPC, streams changes live, quarantines garbage, shuts
//! down cleanly, resumes from its checkpoint, and a fresh replica rebuilds the
//! same bytes.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use futures::StreamExt;
use prost::Message;
use sy_api::pb::query_client::QueryClient;
use sy_domain::aggregate::Aggregate;
use sy_domain::event::{GENESIS_HASH, hash, subject};
use sy_domain::fixtures::{REQUESTER, assign, submit};
use sy_domain::pb::{self, RequestStatus as S};
use sy_domain::request::{self as domain, Command as DomainCommand, KIND};
use sy_eventlog::EventLog;
use sy_projection::Config;
use sy_tests::{NatsServer, eventually, free_port, log_as_intake_makes_it};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::Code as GrpcCode;
use tonic::transport::Channel;

const WORKER: &str = "district-housing-bureau";
const STREAM: &str = "SY_TEST";

/// One projection served in-process on a free port.
struct Projection {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), sy_projection::RunError>>,
}

impl Projection {
    async fn start(nats_port: u16, data_dir: &Path) -> Self {
        let config = Config::try_parse_from([
            "sy-projection",
            // The events here are made by hand, unsigned: development mode
            // folds them without verify keys.
            "--dev",
            "--nats-url",
            &format!("nats://127.0.0.1:{nats_port}"),
            "--stream",
            STREAM,
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--max-wait-ms",
            "300",
            "--nats-timeout-ms",
            "1000",
        ])
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(sy_projection::serve(config, listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn client(&self) -> QueryClient<Channel> {
        let url = format!("http://{}", self.addr);
        eventually(Duration::from_secs(10), "projection reachable", || async {
            Ok(QueryClient::connect(url.clone()).await?)
        })
        .await
        .unwrap()
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("projection stops promptly")
            .unwrap()
            .expect("projection stops cleanly");
    }
}

/// Decides commands as intake would and appends their events to the log.
struct Writer {
    log: EventLog,
    state: std::collections::HashMap<String, (pb::Request, u64, [u8; 32])>,
    minute: i64,
}

impl Writer {
    async fn connect(nats: &NatsServer) -> Self {
        let log = log_as_intake_makes_it(nats, STREAM).await.unwrap();
        Self {
            log,
            state: Default::default(),
            minute: 0,
        }
    }

    /// Appends the event of `command` on request `id`; returns its position.
    async fn command(&mut self, id: &str, command: &DomainCommand, agency: &str) -> u64 {
        let (state, last, prev_hash) = self.state.entry(id.to_string()).or_insert_with(|| {
            let request = pb::Request {
                id: id.to_string(),
                ..Default::default()
            };
            (request, 0, GENESIS_HASH)
        });
        let actor = pb::Actor {
            agency: agency.into(),
            user: "tester".into(),
        };
        let payload = domain::decide(state, command, &actor).expect("legal command");
        self.minute += 1;
        let envelope = pb::EventEnvelope {
            event_id: uuid::Uuid::now_v7().to_string(),
            aggregate_kind: KIND.into(),
            aggregate_id: id.to_string(),
            aggregate_version: state.version + 1,
            occurred_at: Some(prost_types::Timestamp {
                seconds: 1_780_000_000 + 60 * self.minute,
                nanos: 0,
            }),
            actor: Some(actor),
            schema_version: 1,
            prev_hash: prev_hash.to_vec(),
            payload: Some(payload),
            ..Default::default()
        };
        let bytes = envelope.encode_to_vec();
        let appended = self
            .log
            .append(
                &subject(KIND, id),
                Bytes::from(bytes.clone()),
                *last,
                &envelope.event_id,
            )
            .await
            .unwrap();
        Aggregate::apply(state, &envelope, appended.position).unwrap();
        *last = appended.position;
        *prev_hash = hash(&bytes);
        appended.position
    }

    async fn raw(&self, subject: &str, bytes: &'static [u8]) -> u64 {
        self.log
            .append(
                subject,
                Bytes::from_static(bytes),
                0,
                &uuid::Uuid::now_v7().to_string(),
            )
            .await
            .unwrap()
            .position
    }
}

async fn next_change(changes: &mut tonic::Streaming<pb::RequestChange>) -> pb::RequestChange {
    tokio::time::timeout(Duration::from_secs(10), changes.next())
        .await
        .expect("a change arrives")
        .expect("the stream stays open")
        .unwrap()
}

fn get(id: &str, min_position: u64) -> pb::GetRequestRequest {
    pb::GetRequestRequest {
        id: id.to_string(),
        min_position,
    }
}

/// `GetRequest` of `id` at `min_position`, retried until it answers (the fold
/// may still be reconnecting or catching up).
async fn read_at(
    what: &str,
    client: &QueryClient<Channel>,
    id: &str,
    min_position: u64,
) -> pb::GetRequestResponse {
    eventually(Duration::from_secs(30), what, || {
        let mut client = client.clone();
        async move {
            Ok(client
                .get_request(get(id, min_position))
                .await?
                .into_inner())
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_serves_from_sled_and_follows_the_log() {
    let nats_port = free_port().unwrap();
    let data = tempfile::tempdir().unwrap();
    let id = uuid::Uuid::now_v7().to_string();

    // NATS is down: the projection starts anyway and answers from sled.
    let projection = Projection::start(nats_port, data.path()).await;
    let mut client = projection.client().await;
    let missing = client.get_request(get(&id, 0)).await.unwrap_err();
    assert_eq!(missing.code(), GrpcCode::NotFound);
    let ahead = client.get_request(get(&id, 1)).await.unwrap_err();
    assert_eq!(ahead.code(), GrpcCode::Unavailable);
    assert_eq!(ahead.metadata().get("x-sy-position").unwrap(), "0");
    let history = client
        .get_request_history(pb::GetRequestHistoryRequest { id: id.clone() })
        .await
        .unwrap_err();
    assert_eq!(history.code(), GrpcCode::Unavailable);
    let bad = client.get_request(get("not-a-uuid", 0)).await.unwrap_err();
    assert_eq!(bad.code(), GrpcCode::InvalidArgument);
    assert!(bad.message().contains("id"));

    let channel = Channel::from_shared(format!("http://{}", projection.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    // Reads are answered, but the replica is not ready: it cannot tell how
    // far behind the log it is.
    let readiness = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "shuangyong.v1.Query".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        readiness.status(),
        tonic_health::pb::health_check_response::ServingStatus::NotServing
    );

    // NATS comes up with a log; the projection catches up.
    let nats = NatsServer::start_on(nats_port).await.unwrap();
    let mut writer = Writer::connect(&nats).await;
    writer.command(&id, &submit(), REQUESTER).await;
    let garbage = writer
        .raw(
            &subject(KIND, &uuid::Uuid::now_v7().to_string()),
            b"\xff\xfe",
        )
        .await;
    writer.raw("sy.evt.convoy.c1", b"another kind").await;
    let to_housing = assign("housing", jiff::civil::date(2027, 3, 1));
    let assigned = writer.command(&id, &to_housing, WORKER).await;

    let reply = read_at("catch up", &client, &id, assigned).await;
    assert!(reply.position >= assigned);
    let request = reply.request.unwrap();
    assert_eq!(request.status(), S::Assigned);
    assert_eq!(request.department, "housing");
    assert_eq!(request.timeline.len(), 2);

    let list = client
        .list_requests(pb::ListRequestsRequest {
            department: "housing".into(),
            overdue_as_of: "2027-03-02".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.requests.len(), 1);
    assert!(list.requests[0].timeline.is_empty());
    assert!(list.position >= assigned);

    let too_big = client
        .list_requests(pb::ListRequestsRequest {
            page_size: 501,
            status: 99,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(too_big.code(), GrpcCode::InvalidArgument);
    assert!(too_big.message().contains("page_size") && too_big.message().contains("status"));
    let bad_token = client
        .list_requests(pb::ListRequestsRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_token.code(), GrpcCode::InvalidArgument);
    assert!(bad_token.message().contains("page_token"));

    let board = client
        .get_clearance_board(pb::GetClearanceBoardRequest {
            as_of: "2027-03-02".into(),
            min_position: assigned,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let total = board.total.unwrap();
    assert_eq!((total.submitted, total.open, total.overdue), (1, 1, 1));
    assert_eq!(board.by_department[0].key, "housing");
    let today = client
        .get_clearance_board(pb::GetClearanceBoardRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(today.as_of.len(), 10);

    let history = client
        .get_request_history(pb::GetRequestHistoryRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.events.len(), 2);
    assert_eq!(history.position, assigned);
    let first = history.events[0].envelope.as_ref().unwrap();
    let second = history.events[1].envelope.as_ref().unwrap();
    assert_eq!(first.prev_hash, GENESIS_HASH.to_vec());
    assert_eq!(
        second.prev_hash, history.events[0].hash,
        "the hash chain links"
    );
    assert_eq!(
        history.events[0].hash,
        hash(&first.encode_to_vec()).to_vec()
    );

    // Changes from the start, then live.
    let mut changes = client
        .watch_requests(pb::WatchRequestsRequest { after_position: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        next_change(&mut changes).await.event_type,
        "RequestSubmitted"
    );
    assert_eq!(next_change(&mut changes).await.position, assigned);
    let started = writer
        .command(
            &id,
            &DomainCommand::Start {
                note: String::new(),
            },
            WORKER,
        )
        .await;
    let live = next_change(&mut changes).await;
    assert_eq!(
        (live.position, live.event_type.as_str()),
        (started, "RequestStarted")
    );
    assert_eq!(live.status(), S::InProgress);

    // A clean shutdown, with the watch still open, keeps the checkpoint.
    projection.shutdown().await;
    drop(changes);
    let (checkpoint, quarantined, digest) = {
        let model = sy_projection::open_read_model(data.path()).unwrap();
        let quarantined = model.quarantined().unwrap();
        (
            model.last_applied().unwrap(),
            quarantined,
            model.digest().unwrap(),
        )
    };
    assert_eq!(checkpoint, started);
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].position, garbage);

    // A restart resumes without applying anything twice; a fresh replica
    // rebuilds byte-identical trees.
    let resumed = Projection::start(nats_port, data.path()).await;
    let client = resumed.client().await;
    let resolve = DomainCommand::Resolve {
        resolution: "done".into(),
    };
    let resolved = writer.command(&id, &resolve, WORKER).await;
    read_at("resume", &client, &id, resolved).await;
    resumed.shutdown().await;
    let resumed_digest = sy_projection::open_read_model(data.path())
        .unwrap()
        .digest()
        .unwrap();
    assert_ne!(resumed_digest, digest, "the new event was folded");

    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Projection::start(nats_port, fresh_dir.path()).await;
    let fresh_client = fresh.client().await;
    read_at("rebuild", &fresh_client, &id, resolved).await;
    fresh.shutdown().await;
    let fresh_digest = sy_projection::open_read_model(fresh_dir.path())
        .unwrap()
        .digest()
        .unwrap();
    assert_eq!(
        fresh_digest, resumed_digest,
        "a rebuild gives the same bytes"
    );
    drop(nats);
}
