//! The CLI's scripts against in-process gRPC services that run the real
//! domain (`parse`, `decide`, `apply`) over an in-memory log: every demo and
//! walkthrough command must be legal for the domain, reruns must replay, and
//! errors must carry their details. The end-to-end suite in `tests/` runs the
//! same binary against real nats-server, sy-intake and sy-projection.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use prost::Message;
use sy_api::pb::{
    self, intake_server::IntakeServer, query_client::QueryClient, query_server::QueryServer,
};
use sy_cli::commands::{Cmd, Slot, context, send};
use sy_cli::demo;
use sy_cli::rpc::IntakeClients;
use sy_domain::aggregate::Aggregate;
use sy_domain::command_meta::{CommandMessage, ParseEnv};
use sy_domain::event::{hash, to_proto};
use sy_domain::request;
use sy_domain::validate::Districts;
use tonic::{Request, Response, Status};

#[derive(Default)]
struct Log {
    requests: BTreeMap<String, pb::Request>,
    history: HashMap<String, Vec<pb::HistoryEvent>>,
    results: HashMap<(String, String), ([u8; 32], pb::CommandResult)>,
    position: u64,
    clock_offset: SignedDuration,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Log>>);

impl Fake {
    fn now(&self) -> Timestamp {
        Timestamp::now() + self.0.lock().unwrap().clock_offset
    }

    fn handle<M: CommandMessage<Target = pb::Request>>(
        &self,
        request: Request<M>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        let headers = request.metadata().clone().into_headers();
        let actor = sy_api::identity::Identity::trusting_headers()
            .principal(&headers, None)
            .map_err(|refusal| refusal.status())?
            .actor()?;
        let message = request.into_inner();
        let now = self.now();
        let districts = Districts::parse("500106").unwrap();
        let env = ParseEnv {
            districts,
            identity_key: [0; 32],
        };
        let parsed = message
            .parse(&env, &actor, now)
            .map_err(|e| sy_api::status::from_domain(&e))?;
        let mut log = self.0.lock().unwrap();
        let key = (
            actor.agency.clone(),
            parsed.meta.idempotency_key.as_str().to_string(),
        );
        if let Some((fingerprint, result)) = log.results.get(&key) {
            if *fingerprint != parsed.fingerprint {
                return Err(Status::already_exists(
                    "idempotency key was used for a different command",
                ));
            }
            let mut result = result.clone();
            result.replayed = true;
            return Ok(Response::new(result));
        }
        let id = parsed.id.to_string();
        let mut state = log.requests.get(&id).cloned().unwrap_or(pb::Request {
            id: id.clone(),
            ..Default::default()
        });
        let payload = request::decide(&state, &parsed.command, &actor)
            .map_err(|e| sy_api::status::from_domain(&e))?;
        let position = log.position + 1;
        let history = log.history.entry(id.clone()).or_default();
        let prev_hash = history.last().map_or(vec![0; 32], |e| e.hash.clone());
        let envelope = pb::EventEnvelope {
            event_id: uuid::Uuid::now_v7().to_string(),
            aggregate_kind: request::KIND.into(),
            aggregate_id: id.clone(),
            aggregate_version: state.version + 1,
            occurred_at: Some(to_proto(parsed.meta.occurred_at)),
            recorded_at: Some(to_proto(now)),
            actor: Some(actor),
            correlation_id: parsed.meta.correlation_id.clone(),
            schema_version: 1,
            prev_hash,
            idempotency_key: key.1.clone(),
            command_fingerprint: parsed.fingerprint.to_vec(),
            payload: Some(payload),
            ..Default::default()
        };
        Aggregate::apply(&mut state, &envelope, position)
            .map_err(|e| Status::internal(e.to_string()))?;
        history.push(pb::HistoryEvent {
            position,
            hash: hash(&envelope.encode_to_vec()).to_vec(),
            envelope: Some(envelope.clone()),
        });
        let result = pb::CommandResult {
            aggregate_id: id.clone(),
            version: state.version,
            position,
            event_ids: vec![envelope.event_id],
            replayed: false,
        };
        log.position = position;
        log.requests.insert(id, state);
        log.results
            .insert(key, (parsed.fingerprint, result.clone()));
        Ok(Response::new(result))
    }

    fn status_of(&self, id: &str) -> pb::RequestStatus {
        self.0.lock().unwrap().requests[id].status()
    }
}

#[tonic::async_trait]
impl pb::intake_server::Intake for Fake {
    async fn submit_request(
        &self,
        r: Request<pb::SubmitRequestCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        self.handle(r)
    }
    async fn assign_request(
        &self,
        r: Request<pb::AssignRequestCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        self.handle(r)
    }
    async fn start_request(
        &self,
        r: Request<pb::StartRequestCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        self.handle(r)
    }
    async fn record_progress(
        &self,
        r: Request<pb::RecordProgressCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        self.handle(r)
    }
    async fn resolve_request(
        &self,
        r: Request<pb::ResolveRequestCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        self.handle(r)
    }
    async fn close_request(
        &self,
        r: Request<pb::CloseRequestCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        self.handle(r)
    }
    async fn reject_request(
        &self,
        r: Request<pb::RejectRequestCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        self.handle(r)
    }
    async fn reopen_request(
        &self,
        r: Request<pb::ReopenRequestCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        self.handle(r)
    }
    async fn escalate_request(
        &self,
        r: Request<pb::EscalateRequestCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        self.handle(r)
    }
    async fn change_due_date(
        &self,
        r: Request<pb::ChangeDueDateCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        self.handle(r)
    }
    async fn add_sub_task(
        &self,
        r: Request<pb::AddSubTaskCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        self.handle(r)
    }
    async fn complete_sub_task(
        &self,
        r: Request<pb::CompleteSubTaskCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        self.handle(r)
    }
    async fn record_inspection(
        &self,
        r: Request<pb::RecordInspectionCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        self.handle(r)
    }
    async fn submit_requests(
        &self,
        r: Request<pb::SubmitRequestsRequest>,
    ) -> Result<Response<pb::SubmitRequestsResponse>, Status> {
        let metadata = r.metadata().clone();
        let outcomes = r
            .into_inner()
            .commands
            .into_iter()
            .map(|command| {
                let mut one = Request::new(command);
                *one.metadata_mut() = metadata.clone();
                sy_api::status::batch_outcome(self.handle(one).map(Response::into_inner))
            })
            .collect();
        Ok(Response::new(pb::SubmitRequestsResponse { outcomes }))
    }
    // The fake log holds requests only; no script manages subscriptions
    // (the end-to-end suite `webhooks` runs them against real intake).
    async fn subscribe_webhook(
        &self,
        _: Request<pb::SubscribeWebhookCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        Err(Status::unimplemented("no script subscribes webhooks"))
    }
    async fn unsubscribe_webhook(
        &self,
        _: Request<pb::UnsubscribeWebhookCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        Err(Status::unimplemented("no script unsubscribes webhooks"))
    }
    // The double list is not part of what this fake models (requests only).
    async fn add_double_list_item(
        &self,
        _: Request<pb::AddDoubleListItemCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        Err(Status::unimplemented(
            "the fake intake models requests only",
        ))
    }
    async fn remove_double_list_item(
        &self,
        _: Request<pb::RemoveDoubleListItemCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        Err(Status::unimplemented(
            "the fake intake models requests only",
        ))
    }
    async fn publish_double_list(
        &self,
        _: Request<pb::PublishDoubleListCommand>,
    ) -> Result<Response<pb::CommandResult>, Status> {
        Err(Status::unimplemented(
            "the fake intake models requests only",
        ))
    }
}

#[tonic::async_trait]
impl pb::query_server::Query for Fake {
    async fn get_request(
        &self,
        r: Request<pb::GetRequestRequest>,
    ) -> Result<Response<pb::GetRequestResponse>, Status> {
        let log = self.0.lock().unwrap();
        let id = r.into_inner().id;
        let request = log
            .requests
            .get(&id)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("request {id} not found")))?;
        Ok(Response::new(pb::GetRequestResponse {
            request: Some(request),
            position: log.position,
        }))
    }

    async fn list_requests(
        &self,
        _: Request<pb::ListRequestsRequest>,
    ) -> Result<Response<pb::ListRequestsResponse>, Status> {
        let log = self.0.lock().unwrap();
        Ok(Response::new(pb::ListRequestsResponse {
            requests: log.requests.values().cloned().collect(),
            next_page_token: String::new(),
            position: log.position,
        }))
    }

    async fn get_clearance_board(
        &self,
        _: Request<pb::GetClearanceBoardRequest>,
    ) -> Result<Response<pb::ClearanceBoard>, Status> {
        use pb::RequestStatus as S;
        let log = self.0.lock().unwrap();
        let mut total = pb::BoardCounts::default();
        let mut by_department: BTreeMap<String, pb::BoardCounts> = BTreeMap::new();
        for r in log.requests.values() {
            let key = if r.department.is_empty() {
                "(unassigned)".to_string()
            } else {
                r.department.clone()
            };
            for counts in [&mut total, by_department.entry(key).or_default()] {
                counts.submitted += 1;
                counts.open += u64::from(request::is_open(r.status()));
                counts.awaiting_confirmation += u64::from(r.status() == S::Resolved);
                counts.closed += u64::from(r.status() == S::Closed);
                counts.rejected += u64::from(r.status() == S::Rejected);
            }
        }
        Ok(Response::new(pb::ClearanceBoard {
            as_of: "2026-01-01".into(),
            total: Some(total),
            by_department: by_department
                .into_iter()
                .map(|(key, counts)| pb::BoardRow {
                    key,
                    counts: Some(counts),
                })
                .collect(),
            position: log.position,
            ..Default::default()
        }))
    }

    async fn get_request_history(
        &self,
        r: Request<pb::GetRequestHistoryRequest>,
    ) -> Result<Response<pb::GetRequestHistoryResponse>, Status> {
        let log = self.0.lock().unwrap();
        let events = log
            .history
            .get(&r.into_inner().id)
            .cloned()
            .unwrap_or_default();
        let position = events.last().map_or(0, |e| e.position);
        Ok(Response::new(pb::GetRequestHistoryResponse {
            events,
            position,
        }))
    }

    async fn get_projection_status(
        &self,
        r: Request<pb::GetProjectionStatusRequest>,
    ) -> Result<Response<pb::ProjectionStatus>, Status> {
        let log = self.0.lock().unwrap();
        Ok(Response::new(pb::ProjectionStatus {
            position: log.position,
            log_digest: "ab".repeat(32),
            read_model_digest: if r.into_inner().include_read_model_digest {
                "cd".repeat(32)
            } else {
                String::new()
            },
            quarantined: 0,
            log_last_position: log.position,
            log_reachable: true,
            read_only: false,
        }))
    }

    async fn get_double_list(
        &self,
        _: Request<pb::GetDoubleListRequest>,
    ) -> Result<Response<pb::DoubleList>, Status> {
        Err(Status::unimplemented(
            "the fake projection models requests only",
        ))
    }
    async fn list_quarantined(
        &self,
        r: Request<pb::ListQuarantinedRequest>,
    ) -> Result<Response<pb::ListQuarantinedResponse>, Status> {
        let after = r.into_inner().after_position;
        let events = (after + 1..=after + 2)
            .map(|position| pb::QuarantinedEvent {
                position,
                subject: "sy.evt.request.junk".into(),
                reason: "undecodable envelope".into(),
                payload_size: 12,
                ..Default::default()
            })
            .collect();
        Ok(Response::new(pb::ListQuarantinedResponse {
            events,
            position: self.0.lock().unwrap().position,
        }))
    }

    type WatchRequestsStream = tokio_stream::Empty<Result<pb::RequestChange, Status>>;

    async fn watch_requests(
        &self,
        _: Request<pb::WatchRequestsRequest>,
    ) -> Result<Response<Self::WatchRequestsStream>, Status> {
        Err(Status::unimplemented("not in the fake"))
    }
}

/// A projection's Admin service that replays, verifies, then switches or
/// (with `abort`) refuses because the digests differ.
#[derive(Clone, Copy)]
struct FakeAdmin {
    abort: bool,
}

#[tonic::async_trait]
impl pb::admin_server::Admin for FakeAdmin {
    type RebuildStream =
        tokio_stream::Iter<std::vec::IntoIter<Result<pb::RebuildProgress, Status>>>;

    async fn rebuild(
        &self,
        r: Request<pb::RebuildRequest>,
    ) -> Result<Response<Self::RebuildStream>, Status> {
        assert_eq!(
            r.metadata().get("x-sy-agency").unwrap(),
            "district-veterans-bureau"
        );
        use pb::rebuild_progress::Phase;
        let step = |phase: Phase, position| pb::RebuildProgress {
            phase: phase as i32,
            position,
            live_position: 3000,
            log_digest: "ab".repeat(32),
            read_model_digest: "cd".repeat(32),
            data_dir: "/data/gen-2".into(),
        };
        let mut steps = vec![
            Ok(step(Phase::Replaying, 1000)),
            Ok(step(Phase::Replaying, 2000)),
            Ok(step(Phase::Verifying, 3000)),
        ];
        steps.push(if self.abort {
            Err(Status::aborted("read model digest differs: cdcd vs efef"))
        } else {
            Ok(step(Phase::Switched, 3000))
        });
        Ok(Response::new(tokio_stream::iter(steps)))
    }
}

async fn serve_admin(admin: FakeAdmin) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        sy_api::server::builder()
            .add_service(pb::admin_server::AdminServer::new(admin))
            .serve_with_incoming(sy_api::server::incoming(listener))
            .await
            .unwrap();
    });
    url
}

/// Serves the fake (and a health service) on a free port; returns its URL.
async fn serve(fake: Fake) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<IntakeServer<Fake>>().await;
    tokio::spawn(async move {
        sy_api::server::builder()
            .add_service(health)
            .add_service(IntakeServer::new(fake.clone()))
            .add_service(QueryServer::new(fake))
            .serve_with_incoming(sy_api::server::incoming(listener))
            .await
            .unwrap();
    });
    url
}

fn coordinator() -> pb::Actor {
    pb::Actor {
        agency: "district-veterans-bureau".into(),
        user: "operator".into(),
    }
}

#[tokio::test]
async fn the_demo_set_is_legal_and_a_rerun_replays() {
    let fake = Fake::default();
    let url = serve(fake.clone()).await;
    let intake = IntakeClients::connect(url).await.unwrap();
    let scripts = demo::plan(1, 40, Timestamp::now(), &coordinator());
    let loaded = demo::load(&intake, scripts.clone(), 4).await;
    for l in &loaded {
        assert!(
            l.sent.error.is_none(),
            "request {}: {:?}",
            l.index,
            l.sent.error
        );
        let id = l.sent.ids.get(Slot::Request).unwrap();
        assert_eq!(fake.status_of(id), l.plan.status(), "request {}", l.index);
    }
    let first = demo::totals(&loaded);
    assert_eq!(first.scripts, 40);
    assert_eq!(first.written, first.commands);
    assert!(first.commands > 120, "{first:?}");

    // Overdue and escalated requests show up as such.
    {
        let log = fake.0.lock().unwrap();
        let today = sy_domain::validate::china_date(Timestamp::now()).to_string();
        let overdue = log
            .requests
            .values()
            .filter(|r| request::is_unresolved(r.status()) && !r.due_date.is_empty())
            .filter(|r| r.due_date < today)
            .count();
        assert!(overdue >= 2, "{overdue} overdue");
        let city = log
            .requests
            .values()
            .filter(|r| r.supervision_level() == pb::SupervisionLevel::City)
            .count();
        assert_eq!(city, 4);
    }

    let again = demo::totals(&demo::load(&intake, scripts, 4).await);
    assert_eq!(again.written, 0);
    assert_eq!(again.replayed, first.commands);
    assert_eq!(fake.0.lock().unwrap().position, first.max_position);
}

#[tokio::test]
async fn a_rerun_on_a_later_day_keeps_what_was_loaded() {
    let fake = Fake::default();
    let url = serve(fake.clone()).await;
    let intake = IntakeClients::connect(url).await.unwrap();
    let now = Timestamp::now();
    let first = demo::totals(&demo::load(&intake, demo::plan(2, 20, now, &coordinator()), 2).await);
    assert_eq!(first.failed, 0);

    let later = SignedDuration::from_hours(24 * 3);
    fake.0.lock().unwrap().clock_offset = later;
    let loaded = demo::load(&intake, demo::plan(2, 20, now + later, &coordinator()), 2).await;
    let again = demo::totals(&loaded);
    assert_eq!(
        again.failed,
        0,
        "{:?}",
        loaded.iter().find_map(|l| l.sent.error.as_ref())
    );
    assert_eq!(again.written, 0);
    assert!(again.kept > 0);
    assert_eq!(again.kept + again.replayed, first.commands);
}

#[tokio::test]
async fn the_walkthrough_closes_its_request() {
    let fake = Fake::default();
    let url = serve(fake.clone()).await;
    let mut intake = IntakeClients::connect(url.clone()).await.unwrap();
    let channel = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut query = QueryClient::with_interceptor(channel, sy_cli::rpc::Bearer);
    sy_cli::walkthrough::run(&mut intake, &mut query, &coordinator())
        .await
        .unwrap();
    let log = fake.0.lock().unwrap();
    assert_eq!(log.requests.len(), 1);
    let request = log.requests.values().next().unwrap();
    assert_eq!(request.status(), pb::RequestStatus::Closed);
    assert_eq!(request.version, 9);
    assert_eq!(request.satisfaction(), pb::Satisfaction::Satisfied);
    assert!(request.sub_tasks.iter().all(|task| task.done));
    assert_eq!(request.sub_tasks.len(), 1);
    assert_eq!(request.inspections.len(), 1);
}

#[tokio::test]
async fn failures_carry_code_and_field_violations() {
    let fake = Fake::default();
    let url = serve(fake.clone()).await;
    let mut intake = IntakeClients::connect(url.clone()).await.unwrap();
    let bad = Cmd::Submit(pb::SubmitRequestCommand {
        context: context("bad-1".into(), String::new(), None),
        direction: pb::Direction::MilitaryToLocal as i32,
        requester: Some(pb::RequestingParty {
            agency: "unit-31001".into(),
            name: "某部队营房科".into(),
        }),
        category: pb::Category::Medical as i32,
        title: String::new(),
        area_code: "500107001001".into(),
        ..Default::default()
    });
    let err = send(&mut intake, bad, &coordinator()).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("SubmitRequest failed: INVALID_ARGUMENT"),
        "{text}"
    );
    assert!(text.contains("\n  field title: is required"), "{text}");
    assert!(
        text.contains("\n  field area_code: district 500107"),
        "{text}"
    );

    // Health: serving for the server, NOT_FOUND for a service it does not know.
    let cli = |service: &str| {
        <sy_cli::args::Cli as clap::Parser>::try_parse_from([
            "sy",
            "health",
            "--url",
            &url,
            "--service",
            service,
        ])
        .unwrap()
    };
    sy_cli::run(cli("")).await.unwrap();
    sy_cli::run(cli("shuangyong.v1.Intake")).await.unwrap();
    let err = sy_cli::run(cli("nope")).await.unwrap_err();
    assert_eq!(err.status().map(Status::code), Some(tonic::Code::NotFound));
}

fn sy(args: &[&str]) -> sy_cli::args::Cli {
    <sy_cli::args::Cli as clap::Parser>::try_parse_from(
        std::iter::once("sy").chain(args.iter().copied()),
    )
    .unwrap()
}

#[tokio::test]
async fn status_and_quarantine_read_the_replica() {
    let url = serve(Fake::default()).await;
    sy_cli::run(sy(&["--query-url", &url, "status", "--digest"]))
        .await
        .unwrap();
    sy_cli::run(sy(&[
        "--query-url",
        &url,
        "quarantine",
        "--after",
        "5",
        "--limit",
        "2",
    ]))
    .await
    .unwrap();
}

#[tokio::test]
async fn a_rebuild_follows_the_stream_and_an_abort_is_a_failed_verification() {
    let url = serve_admin(FakeAdmin { abort: false }).await;
    sy_cli::run(sy(&["--query-url", &url, "rebuild"]))
        .await
        .unwrap();

    let url = serve_admin(FakeAdmin { abort: true }).await;
    let err = sy_cli::run(sy(&["--query-url", &url, "rebuild"]))
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    assert!(
        err.to_string().contains("read model digest differs"),
        "{err}"
    );
}
