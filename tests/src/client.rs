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
/// The user within [`AGENCY`] the suites act as.
pub const USER: &str = "zhang.wei";
/// An agency that works requests but did not raise them.
pub const DEPARTMENT_AGENCY: &str = "district-veterans-bureau";
/// A served area: district 500106, street 001, community 002.
pub const AREA_CODE: &str = "500106001002";
/// The department requests are assigned to (the same code as [`DEPARTMENT_AGENCY`]).
pub const DEPARTMENT: &str = "district-veterans-bureau";

/// Says who calls on every request: the actor's headers (development
/// mode), or a bearer token (a deployment: the token is the caller).
#[derive(Debug, Clone)]
pub enum ActorInterceptor {
    /// `x-sy-agency` and `x-sy-user`.
    Headers {
        /// The agency's code.
        agency: AsciiMetadataValue,
        /// The user.
        user: AsciiMetadataValue,
    },
    /// `authorization: Bearer <token>`.
    Token(AsciiMetadataValue),
}

impl ActorInterceptor {
    /// Sends `x-sy-agency: agency` and `x-sy-user: user` on every call.
    pub fn new(agency: &str, user: &str) -> Self {
        Self::Headers {
            agency: agency.parse().expect("agency is ASCII metadata"),
            user: user.parse().expect("user is ASCII metadata"),
        }
    }

    /// Sends `token` on every call.
    pub fn token(token: &str) -> Self {
        Self::Token(
            format!("Bearer {token}")
                .parse()
                .expect("a token is ASCII metadata"),
        )
    }
}

impl Interceptor for ActorInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let metadata = request.metadata_mut();
        match self {
            Self::Headers { agency, user } => {
                metadata.insert(AGENCY_METADATA, agency.clone());
                metadata.insert(USER_METADATA, user.clone());
            }
            Self::Token(token) => {
                metadata.insert("authorization", token.clone());
            }
        }
        Ok(request)
    }
}

/// An intake client acting as one actor.
pub type IntakeClient =
    pb::intake_client::IntakeClient<InterceptedService<Channel, ActorInterceptor>>;
/// A query client (carrying actor metadata too, harmless where unused).
pub type QueryClient = pb::query_client::QueryClient<InterceptedService<Channel, ActorInterceptor>>;
/// A notifications client acting as one actor.
pub type NotificationsClient =
    pb::notifications_client::NotificationsClient<InterceptedService<Channel, ActorInterceptor>>;
/// Clients without any metadata, to test that it is required.
pub type BareIntakeClient = pb::intake_client::IntakeClient<Channel>;

/// An intake client acting as `user` of `agency`.
pub fn intake_client(channel: Channel, agency: &str, user: &str) -> IntakeClient {
    pb::intake_client::IntakeClient::with_interceptor(channel, ActorInterceptor::new(agency, user))
}

/// A query client acting as [`USER`] of [`AGENCY`].
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

/// A valid submission with idempotency key `key`; the requesting party is
/// the caller's agency (left empty, as a client may).
pub fn submit_command(key: &str) -> pb::SubmitRequestCommand {
    pb::SubmitRequestCommand {
        context: ctx(key),
        direction: pb::Direction::MilitaryToLocal as i32,
        requester: Some(pb::RequestingParty {
            agency: String::new(),
            name: "某部队营房科".into(),
        }),
        category: pb::Category::BarracksAndTrainingGrounds as i32,
        title: "营区供水管网改造协调".into(),
        description: "营区东侧供水管网老化，需协调区水务部门改造。".into(),
        area_code: AREA_CODE.into(),
        priority: pb::Priority::Normal as i32,
        due_date: String::new(),
        supervision_level: pb::SupervisionLevel::None as i32,
        person_id: String::new(),
    }
}

/// Assigns `request_id` to `department`, due `due_in_days` from today.
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

/// Starts work on `request_id`.
pub fn start_command(request_id: &str) -> pb::StartRequestCommand {
    pb::StartRequestCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        note: "已开始办理".into(),
    }
}

/// Records `note` as progress on `request_id`.
pub fn progress_command(request_id: &str, note: &str) -> pb::RecordProgressCommand {
    pb::RecordProgressCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        note: note.into(),
    }
}

/// Reports `request_id` resolved.
pub fn resolve_command(request_id: &str) -> pb::ResolveRequestCommand {
    pb::ResolveRequestCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        resolution: "管网已改造完毕".into(),
    }
}

/// Closes out `request_id` rated 满意 (must be sent by the requesting agency).
pub fn close_command(request_id: &str) -> pb::CloseRequestCommand {
    rated_close_command(request_id, pb::Satisfaction::Satisfied, "确认销号")
}

/// The requesting agency's confirmation of `request_id` rated
/// `satisfaction`; 不满意 reopens it, with `note` as what is not resolved.
pub fn rated_close_command(
    request_id: &str,
    satisfaction: pb::Satisfaction,
    note: &str,
) -> pb::CloseRequestCommand {
    pb::CloseRequestCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        note: note.into(),
        satisfaction: satisfaction as i32,
    }
}

/// Breaks `request_id` down: a sub-task for `department`, due
/// `due_in_days` from today.
pub fn add_sub_task_command(
    request_id: &str,
    department: &str,
    due_in_days: i64,
) -> pb::AddSubTaskCommand {
    pb::AddSubTaskCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        department: department.into(),
        due_date: date_in_days(due_in_days),
        title: "完成管网勘察设计".into(),
    }
}

/// Reports sub-task `sub_task_id` of `request_id` done.
pub fn complete_sub_task_command(request_id: &str, sub_task_id: u32) -> pb::CompleteSubTaskCommand {
    pb::CompleteSubTaskCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        sub_task_id,
        note: "设计图已交付".into(),
    }
}

/// An inspection visit on `request_id` today, whose findings call for
/// follow-up.
pub fn record_inspection_command(request_id: &str) -> pb::RecordInspectionCommand {
    pb::RecordInspectionCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        visited_on: date_in_days(0),
        findings: "现场施工进度滞后于计划".into(),
        follow_up_required: true,
    }
}

/// Refuses `request_id` before work starts.
pub fn reject_command(request_id: &str) -> pb::RejectRequestCommand {
    pb::RejectRequestCommand {
        context: fresh_ctx(),
        request_id: request_id.into(),
        reason: "不属于双拥工作范围".into(),
    }
}

/// Disputes the resolution of `request_id` (must be sent by the requesting agency).
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

/// A placement intake client acting as one actor.
pub type PlacementsClient =
    pb::placements_client::PlacementsClient<InterceptedService<Channel, ActorInterceptor>>;
/// A placement query client.
pub type PlacementQueryClient =
    pb::placement_query_client::PlacementQueryClient<InterceptedService<Channel, ActorInterceptor>>;

/// The placement commands on `channel` (intake's), acting as `agency`/`user`.
pub fn placements_client(channel: Channel, agency: &str, user: &str) -> PlacementsClient {
    pb::placements_client::PlacementsClient::with_interceptor(
        channel,
        ActorInterceptor::new(agency, user),
    )
}

/// The placement queries on `channel` (a projection's).
pub fn placement_query_client(channel: Channel) -> PlacementQueryClient {
    pb::placement_query_client::PlacementQueryClient::with_interceptor(
        channel,
        ActorInterceptor::new(AGENCY, USER),
    )
}

/// A valid ID number of region 500106 for someone born on `birth` with
/// sequence code `sequence` (0 to 999; odd for men).
pub fn id_number(birth: jiff::civil::Date, sequence: u16) -> String {
    let body = format!(
        "500106{:04}{:02}{:02}{:03}",
        birth.year(),
        birth.month(),
        birth.day(),
        sequence % 1000
    );
    sy_domain::person_data::IdNumber::with_check_character(&body)
        .expect("the body is 17 digits: region, birth date, sequence")
}

/// A valid ID number, different on every call in a test run, of someone
/// `age` years old today (Asia/Shanghai): their birthday 1 to 300 days ago.
pub fn fresh_id_number(age: i16) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let today = sy_domain::validate::china_date(jiff::Timestamp::now());
    let birth = today
        .checked_sub(jiff::Span::new().years(age).days(1 + i64::from(n % 300)))
        .expect("date in range");
    id_number(birth, (n / 300 % 1000) as u16)
}

/// A registration of `role` with `id_number`, phone 13812345678 in
/// [`AREA_CODE`]; spouses and children get the link their role needs.
pub fn register_person_command(role: pb::PersonRole, id_number: &str) -> pb::RegisterPersonCommand {
    let relation = match role {
        pb::PersonRole::MilitarySpouse => Some(pb::Relation::SpouseOf),
        pb::PersonRole::MilitaryChild => Some(pb::Relation::ChildOf),
        _ => None,
    };
    pb::RegisterPersonCommand {
        context: fresh_ctx(),
        role: role as i32,
        name: "张三".into(),
        id_number: id_number.into(),
        phone: "13812345678".into(),
        area_code: AREA_CODE.into(),
        links: relation
            .map(|relation| pb::PersonLink {
                relation: relation as i32,
                name: "李四".into(),
                unit: AGENCY.into(),
                person_id: String::new(),
            })
            .into_iter()
            .collect(),
    }
}

/// `person_id` enters `programme` in [`AREA_CODE`] (schools: a school and grade).
pub fn register_placement_command(
    programme: pb::Programme,
    person_id: &str,
) -> pb::RegisterPlacementCommand {
    let school = programme == pb::Programme::SchoolEnrollment;
    pb::RegisterPlacementCommand {
        context: fresh_ctx(),
        programme: programme as i32,
        person_id: person_id.into(),
        area_code: AREA_CODE.into(),
        fast_lane: false,
        school: if school {
            "沙坪坝小学".into()
        } else {
            String::new()
        },
        grade: if school {
            "一年级".into()
        } else {
            String::new()
        },
    }
}

/// Matches `placement_id` to a hospital post, all three matches true.
pub fn match_placement_command(placement_id: &str) -> pb::MatchPlacementCommand {
    pb::MatchPlacementCommand {
        context: fresh_ctx(),
        placement_id: placement_id.into(),
        employer: "沙坪坝区人民医院".into(),
        post: "护士".into(),
        profession_matched: true,
        post_matched: true,
        rank_matched: true,
    }
}

/// On duty today.
pub fn put_on_duty_command(placement_id: &str) -> pb::PutOnDutyCommand {
    pb::PutOnDutyCommand {
        context: fresh_ctx(),
        placement_id: placement_id.into(),
        on_duty_date: date_in_days(0),
    }
}

/// Grants `person_id` (a spouse) `monthly_amount_fen` a month from `from_month` (`YYYY-MM`).
pub fn grant_allowance_command(
    person_id: &str,
    monthly_amount_fen: i64,
    from_month: &str,
) -> pb::GrantAllowanceCommand {
    pb::GrantAllowanceCommand {
        context: fresh_ctx(),
        person_id: person_id.into(),
        monthly_amount_fen,
        from_month: from_month.into(),
    }
}

/// Pays `person_id`'s allowance for `month` (`YYYY-MM`).
pub fn pay_allowance_command(person_id: &str, month: &str) -> pb::PayAllowanceCommand {
    pb::PayAllowanceCommand {
        context: fresh_ctx(),
        person_id: person_id.into(),
        month: month.into(),
    }
}

/// A station of `seats` seats in [`AREA_CODE`], open 08:30-17:30.
pub fn open_station_command(seats: u32) -> pb::OpenStationCommand {
    pb::OpenStationCommand {
        context: fresh_ctx(),
        name: "小龙坎街道军娃托管站".into(),
        seats,
        opening_hours: "08:30-17:30".into(),
        area_code: AREA_CODE.into(),
        address: "沙坪坝区小龙坎正街1号".into(),
    }
}

/// Enrolls the registered child `child_person_id` at `station_id`.
pub fn enroll_child_command(station_id: &str, child_person_id: &str) -> pb::EnrollChildCommand {
    pb::EnrollChildCommand {
        context: fresh_ctx(),
        station_id: station_id.into(),
        child_person_id: child_person_id.into(),
    }
}

/// Takes `child_person_id` off `station_id` or its waitlist.
pub fn withdraw_child_command(station_id: &str, child_person_id: &str) -> pb::WithdrawChildCommand {
    pb::WithdrawChildCommand {
        context: fresh_ctx(),
        station_id: station_id.into(),
        child_person_id: child_person_id.into(),
        reason: "随军调动".into(),
    }
}
