//! The projection against a real `nats-server`: it starts and answers from
//! sled while NATS is down, catches up once the log appears, serves every
//! Query call over real gRPC, streams changes live, quarantines garbage, shuts
//! down cleanly, resumes from its checkpoint, and a fresh replica rebuilds the
//! same bytes.

use std::future::Future;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use futures::StreamExt;
use prost::Message;
use sy_api::pb::query_client::QueryClient;
use sy_domain::event::{GENESIS_HASH, hash, subject};
use sy_domain::pb::{self, RequestStatus as S};
use sy_domain::request::{self as domain, Command as DomainCommand, KIND, Submission};
use sy_domain::validate::{AreaCode, Code, Districts};
use sy_eventlog::{EventLog, LogConfig};
use sy_projection::{Config, ReadModel};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::Code as GrpcCode;
use tonic::transport::Channel;

const REQUESTER: &str = "unit-31001";
const WORKER: &str = "district-housing-bureau";
const STREAM: &str = "SY_TEST";

/// The `nats-server` binary: `$SY_NATS_SERVER`, else on `PATH`, else Debian's.
fn nats_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SY_NATS_SERVER") {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("nats-server"))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"))
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `nats-server -js` with its own store, killed on drop.
struct Nats {
    child: Child,
    _store: TempDir,
}

impl Nats {
    async fn start(port: u16) -> Self {
        let store = tempfile::tempdir().unwrap();
        let child = Command::new(nats_server_binary())
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs (set SY_NATS_SERVER to its path)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "nats-server did not start on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            _store: store,
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match QueryClient::connect(format!("http://{}", self.addr)).await {
                Ok(client) => return client,
                Err(err) => {
                    assert!(Instant::now() < deadline, "projection not reachable: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
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
    async fn connect(port: u16) -> Self {
        let log = EventLog::connect(&LogConfig {
            nats_url: format!("nats://127.0.0.1:{port}"),
            stream: STREAM.into(),
            replicas: 1,
            request_timeout: Duration::from_secs(2),
        })
        .await
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(err) = log.ensure_stream(1).await {
            assert!(Instant::now() < deadline, "stream not created: {err}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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
        domain::apply(state, &envelope, appended.position).unwrap();
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

fn submit() -> DomainCommand {
    let districts = Districts::parse("500106").unwrap();
    DomainCommand::Submit(Submission {
        direction: pb::Direction::MilitaryToLocal,
        requester_agency: Code::parse("a", REQUESTER).unwrap(),
        requester_name: "某部营房科".into(),
        category: pb::Category::BarracksAndTrainingGrounds,
        title: "训练场排水改造".into(),
        description: String::new(),
        area_code: AreaCode::parse("a", "500106001002", &districts).unwrap(),
        priority: pb::Priority::High,
        due_date: None,
        supervision_level: pb::SupervisionLevel::None,
    })
}

fn assign() -> DomainCommand {
    DomainCommand::Assign {
        department: Code::parse("d", "housing").unwrap(),
        due_date: jiff::civil::date(2027, 3, 1),
        note: String::new(),
    }
}

async fn next_change(changes: &mut tonic::Streaming<pb::RequestChange>) -> pb::RequestChange {
    tokio::time::timeout(Duration::from_secs(10), changes.next())
        .await
        .expect("a change arrives")
        .expect("the stream stays open")
        .unwrap()
}

/// Retries `call` until it succeeds (the fold may still be reconnecting).
async fn eventually<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match call().await {
            Ok(value) => return value,
            Err(status) => {
                assert!(Instant::now() < deadline, "{what}: still {status:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn get(id: &str, min_position: u64) -> pb::GetRequestRequest {
    pb::GetRequestRequest {
        id: id.to_string(),
        min_position,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_serves_from_sled_and_follows_the_log() {
    let nats_port = free_port();
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
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "shuangyong.v1.Query".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        serving.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );

    // NATS comes up with a log; the projection catches up.
    let nats = Nats::start(nats_port).await;
    let mut writer = Writer::connect(nats_port).await;
    writer.command(&id, &submit(), REQUESTER).await;
    let garbage = writer
        .raw(
            &subject(KIND, &uuid::Uuid::now_v7().to_string()),
            b"\xff\xfe",
        )
        .await;
    writer.raw("sy.evt.station.s1", b"another kind").await;
    let assigned = writer.command(&id, &assign(), WORKER).await;

    let reply = eventually("catch up", || {
        let mut client = client.clone();
        let id = id.clone();
        async move { client.get_request(get(&id, assigned)).await }
    })
    .await
    .into_inner();
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
        let model = ReadModel::open(data.path()).unwrap();
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
    eventually("resume", || {
        let mut client = client.clone();
        let id = id.clone();
        async move { client.get_request(get(&id, resolved)).await }
    })
    .await;
    resumed.shutdown().await;
    let resumed_digest = ReadModel::open(data.path()).unwrap().digest().unwrap();
    assert_ne!(resumed_digest, digest, "the new event was folded");

    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Projection::start(nats_port, fresh_dir.path()).await;
    let fresh_client = fresh.client().await;
    eventually("rebuild", || {
        let mut client = fresh_client.clone();
        let id = id.clone();
        async move { client.get_request(get(&id, resolved)).await }
    })
    .await;
    fresh.shutdown().await;
    let fresh_digest = ReadModel::open(fresh_dir.path()).unwrap().digest().unwrap();
    assert_eq!(
        fresh_digest, resumed_digest,
        "a rebuild gives the same bytes"
    );
    drop(nats);
}
