//! gRPC clients as a caller sees them: every call carries the actor metadata
//! (`x-sy-agency`, `x-sy-user`), plus builders for valid commands so a test
//! only spells out what it is about.

use std::time::{Duration, Instant};

use sy_api::identity::{AGENCY_METADATA, USER_METADATA};
use sy_api::pb;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The agency that submits (and so may close) requests in the suites.
pub const AGENCY: &str = "unit-31001";
pub const USER: &str = "zhang.wei";
/// An agency that works requests but did not raise them.
pub const DEPARTMENT_AGENCY: &str = "district-veterans-bureau";
/// A served area: district 500106, street 001, community 002.
pub const AREA_CODE: &str = "500106001002";
pub const DEPARTMENT: &str = "district-veterans-bureau";

/// Adds the actor metadata to every request.
#[derive(Debug, Clone)]
pub struct ActorInterceptor {
    agency: AsciiMetadataValue,
    user: AsciiMetadataValue,
}

impl ActorInterceptor {
    pub fn new(agency: &str, user: &str) -> Self {
        Self {
            agency: agency.parse().expect("agency is ASCII metadata"),
            user: user.parse().expect("user is ASCII metadata"),
        }
    }
}

impl Interceptor for ActorInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let metadata = request.metadata_mut();
        metadata.insert(AGENCY_METADATA, self.agency.clone());
        metadata.insert(USER_METADATA, self.user.clone());
        Ok(request)
    }
}

/// An intake client acting as one actor.
pub type IntakeClient =
    pb::intake_client::IntakeClient<InterceptedService<Channel, ActorInterceptor>>;
/// A query client (carrying actor metadata too, harmless where unused).
pub type QueryClient = pb::query_client::QueryClient<InterceptedService<Channel, ActorInterceptor>>;
/// Clients without any metadata, to test that it is required.
pub type BareIntakeClient = pb::intake_client::IntakeClient<Channel>;

pub fn intake_client(channel: Channel, agency: &str, user: &str) -> IntakeClient {
    pb::intake_client::IntakeClient::with_interceptor(channel, ActorInterceptor::new(agency, user))
}

pub fn query_client(channel: Channel) -> QueryClient {
    pb::query_client::QueryClient::with_interceptor(channel, ActorInterceptor::new(AGENCY, USER))
}

/// A fresh idempotency key, unique across tests and runs.
pub fn new_key(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// A command context with `key` and nothing else.
pub fn ctx(key: impl Into<String>) -> Option<pb::CommandContext> {
    Some(pb::CommandContext {
        idempotency_key: key.into(),
        ..Default::default()
    })
}

/// A command context with a fresh key.
pub fn fresh_ctx() -> Option<pb::CommandContext> {
    ctx(new_key("cmd"))
}

/// Today in Asia/Shanghai plus `days` (negative for the past), as `YYYY-MM-DD`.
pub fn date_in_days(days: i64) -> String {
    let today = sy_domain::validate::china_date(jiff::Timestamp::now());
    today
        .checked_add(jiff::Span::new().days(days))
        .expect("date in range")
        .to_string()
}

/// A valid submission by [`AGENCY`] with idempotency key `key`.
pub fn submit_command(key: &str) -> pb::SubmitRequestCommand {
    pb::SubmitRequestCommand {
        context: ctx(key),
        direction: pb::Direction::MilitaryToLocal as i32,
        requester: Some(pb::RequestingParty {
            agency: AGENCY.into(),
            name: "某部队营房科".into(),
        }),
        category: pb::Category::BarracksAndTrainingGrounds as i32,
        title: "营区供水管网改造协调".into(),
        description: "营区东侧供水管网老化，需协调区水务部门改造。".into(),
        area_code: AREA_CODE.into(),
        priority: pb::Priority::Normal as i32,
        due_date: String::new(),
        supervision_level: pb::SupervisionLevel::None as i32,
    }
}

pub fn assign_command(
    request_id: &str,
    department: &str,
    due_in_days: i64,
) -> pb::AssignRequestCommand {
    pb::AssignRequestCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        department: department.into(),
        due_date: date_in_days(due_in_days),
        note: "交区退役军人事务局办理".into(),
    }
}

pub fn start_command(request_id: &str) -> pb::StartRequestCommand {
    pb::StartRequestCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        note: "已开始办理".into(),
    }
}

pub fn progress_command(request_id: &str, note: &str) -> pb::RecordProgressCommand {
    pb::RecordProgressCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        note: note.into(),
    }
}

pub fn resolve_command(request_id: &str) -> pb::ResolveRequestCommand {
    pb::ResolveRequestCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        resolution: "管网已改造完毕".into(),
    }
}

pub fn close_command(request_id: &str) -> pb::CloseRequestCommand {
    pb::CloseRequestCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        note: "确认销号".into(),
    }
}

pub fn reject_command(request_id: &str) -> pb::RejectRequestCommand {
    pb::RejectRequestCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        reason: "不属于双拥工作范围".into(),
    }
}

pub fn reopen_command(request_id: &str) -> pb::ReopenRequestCommand {
    pb::ReopenRequestCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        reason: "东区仍有漏水".into(),
    }
}

/// Retries `attempt` until it succeeds or `timeout` passes; then the last
/// error, saying what was awaited. For convergence, never as a fixed sleep.
pub async fn eventually<T, F, Fut>(
    timeout: Duration,
    what: &str,
    mut attempt: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(20);
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) if Instant::now() >= deadline => {
                return Err(err.context(format!("{what}: not reached within {timeout:?}")));
            }
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
            }
        }
    }
}
