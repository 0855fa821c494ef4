//! The seed corpus of both targets, made from legal histories: each flow
//! sends commands of one aggregate through the same path intake takes
//! (`parse`, `decide`, an envelope chained by hash, `apply`), and yields
//! every command as a `command_parse` seed and the whole history as one
//! `event_fold` seed. Committed under `fuzz/corpus/<target>/`; the corpus test
//! checks the files are what this writes (`SY_FUZZ_WRITE_CORPUS=1` rewrites).

use jiff::civil::Date;
use prost::Message;
use sy_domain::aggregate::{Aggregate, PersonFacts};
use sy_domain::allowance::{Allowance, AllowanceFacts};
use sy_domain::command_meta::CommandMessage;
use sy_domain::event::{SCHEMA_VERSION, hash, to_proto};
use sy_domain::pb;
use sy_domain::person::Person;
use sy_domain::person_data::IdNumber;
use sy_domain::placement::{Placement, PlacementFacts};
use sy_domain::station::{Station, StationFacts};

use crate::{actor, command_index, env, now};

/// Name of the command-parsing target (and its corpus directory).
pub const COMMAND_PARSE: &str = "command_parse";
/// Name of the event-fold target (and its corpus directory).
pub const EVENT_FOLD: &str = "event_fold";

/// Village-level area code every seed lies in.
const AREA_CODE: &str = "500106001002";

/// One file of the corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// The target whose corpus holds it ([`COMMAND_PARSE`] or [`EVENT_FOLD`]).
    pub target: &'static str,
    /// File name: the flow and the step (`request-3`, `request`).
    pub name: String,
    /// The bytes the target is given.
    pub bytes: Vec<u8>,
}

/// A history of one aggregate, built command by command.
struct Flow<A: Aggregate> {
    name: &'static str,
    state: A,
    last_hash: [u8; 32],
    events: Vec<u8>,
    seeds: Vec<Seed>,
}

impl<A: Aggregate> Flow<A> {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            state: A::default(),
            last_hash: sy_domain::event::GENESIS_HASH,
            events: Vec::new(),
            seeds: Vec::new(),
        }
    }

    /// Records `message` (its context set to a key of this step) as a seed,
    /// decides it with `facts` and folds its event; returns the id of the
    /// aggregate it addressed, or why the flow is not legal.
    fn step<M>(
        &mut self,
        mut message: M,
        set_context: fn(&mut M, pb::CommandContext),
        facts: &A::Facts,
    ) -> Result<String, String>
    where
        M: CommandMessage<Target = A>,
    {
        let step = self.seeds.len() + 1;
        let key = format!("{}-{step}", self.name);
        set_context(
            &mut message,
            pb::CommandContext {
                idempotency_key: key.clone(),
                correlation_id: self.name.to_string(),
                ..Default::default()
            },
        );
        let mut bytes = vec![command_index::<M>()];
        message.encode(&mut bytes).map_err(|err| err.to_string())?;
        self.seeds.push(Seed {
            target: COMMAND_PARSE,
            name: key.clone(),
            bytes,
        });
        let refused = |err: &dyn std::fmt::Display| format!("{key} ({}): {err}", M::full_name());
        let actor = actor();
        let parsed = message
            .parse(&env(), &actor, now())
            .map_err(|err| refused(&err))?;
        let payload = self
            .state
            .decide(&parsed.command, facts, &actor)
            .map_err(|err| refused(&err))?;
        let version = self.state.version() + 1;
        let envelope = pb::EventEnvelope {
            event_id: format!("{key}-event"),
            aggregate_kind: A::KIND.to_string(),
            aggregate_id: parsed.id.to_string(),
            aggregate_version: version,
            occurred_at: Some(to_proto(parsed.meta.occurred_at)),
            recorded_at: Some(to_proto(now())),
            actor: Some(actor),
            correlation_id: parsed.meta.correlation_id,
            causation_id: String::new(),
            schema_version: SCHEMA_VERSION,
            prev_hash: self.last_hash.to_vec(),
            idempotency_key: key.clone(),
            command_fingerprint: parsed.fingerprint.to_vec(),
            payload: Some(payload),
            // Seeds carry no personal data: nothing is sealed.
            personal: None,
            // The fold does not check signatures (the projection does, before
            // it folds): seeds stay unsigned.
            signing_key_id: String::new(),
            signature: Vec::new(),
        };
        self.state
            .apply(&envelope, version)
            .map_err(|err| refused(&err))?;
        self.last_hash = hash(&envelope.encode_to_vec());
        envelope
            .encode_length_delimited(&mut self.events)
            .map_err(|err| err.to_string())?;
        Ok(parsed.id.to_string())
    }

    /// The flow's seeds: its commands, then its history.
    fn finish(self, corpus: &mut Vec<Seed>) {
        corpus.extend(self.seeds);
        corpus.push(Seed {
            target: EVENT_FOLD,
            name: self.name.to_string(),
            bytes: self.events,
        });
    }
}

/// Sets the `context` field of a command message.
macro_rules! with_context {
    ($message:ty) => {
        |m: &mut $message, context| m.context = Some(context)
    };
}

/// A valid ID number of region 500106 for someone born on `birth`.
fn id_number(birth: Date, sequence: u16) -> Result<String, String> {
    let body = format!(
        "500106{:04}{:02}{:02}{sequence:03}",
        birth.year(),
        birth.month(),
        birth.day()
    );
    IdNumber::with_check_character(&body).ok_or_else(|| format!("no ID number for {body}"))
}

/// A registered person, as other aggregates' facts see them.
fn facts(id: &str, role: pb::PersonRole, birth: Date) -> PersonFacts {
    PersonFacts {
        id: id.to_string(),
        role,
        birth_date: birth,
        area_code: crate::DISTRICTS.to_string(),
    }
}

/// Every seed of both targets, in a fixed order; an error names the step of
/// a flow that is not legal (the flows must stay legal to be good seeds).
pub fn corpus() -> Result<Vec<Seed>, String> {
    let mut corpus = Vec::new();
    request(&mut corpus)?;
    let veteran_birth = Date::new(1990, 5, 1).map_err(|err| err.to_string())?;
    let spouse_birth = Date::new(1992, 8, 15).map_err(|err| err.to_string())?;
    let child_birth = Date::new(2020, 3, 1).map_err(|err| err.to_string())?;
    let veteran = person(
        &mut corpus,
        "person-veteran",
        pb::PersonRole::Veteran,
        veteran_birth,
        1,
    )?;
    let spouse = person(
        &mut corpus,
        "person-spouse",
        pb::PersonRole::MilitarySpouse,
        spouse_birth,
        2,
    )?;
    let child = person(
        &mut corpus,
        "person-child",
        pb::PersonRole::MilitaryChild,
        child_birth,
        3,
    )?;
    resettlement(
        &mut corpus,
        &facts(&veteran, pb::PersonRole::Veteran, veteran_birth),
    )?;
    school(
        &mut corpus,
        &facts(&child, pb::PersonRole::MilitaryChild, child_birth),
    )?;
    allowance(
        &mut corpus,
        &facts(&spouse, pb::PersonRole::MilitarySpouse, spouse_birth),
    )?;
    station(
        &mut corpus,
        &facts(&child, pb::PersonRole::MilitaryChild, child_birth),
    )?;
    Ok(corpus)
}

/// A request's lifecycle: submitted, escalated, its due date changed,
/// assigned, started, broken down (a sub-task added and completed),
/// inspected, progressed, resolved, reopened, resolved again and closed
/// rated 满意; and a second one, submitted and rejected.
fn request(corpus: &mut Vec<Seed>) -> Result<(), String> {
    let mut flow = Flow::<pb::Request>::new("request");
    let id = submit(&mut flow)?;
    flow.step(
        pb::EscalateRequestCommand {
            request_id: id.clone(),
            level: pb::SupervisionLevel::District as i32,
            reason: "涉及多个部门".into(),
            due_date: "2026-12-18".into(),
            ..Default::default()
        },
        with_context!(pb::EscalateRequestCommand),
        &(),
    )?;
    flow.step(
        pb::ChangeDueDateCommand {
            request_id: id.clone(),
            due_date: "2026-12-16".into(),
            reason: "施工窗口调整".into(),
            ..Default::default()
        },
        with_context!(pb::ChangeDueDateCommand),
        &(),
    )?;
    flow.step(
        pb::AssignRequestCommand {
            request_id: id.clone(),
            department: "district-water-bureau".into(),
            due_date: "2026-12-15".into(),
            note: "请水务局牵头".into(),
            ..Default::default()
        },
        with_context!(pb::AssignRequestCommand),
        &(),
    )?;
    flow.step(
        pb::StartRequestCommand {
            request_id: id.clone(),
            note: "已到场勘察".into(),
            ..Default::default()
        },
        with_context!(pb::StartRequestCommand),
        &(),
    )?;
    flow.step(
        pb::AddSubTaskCommand {
            request_id: id.clone(),
            department: "district-planning-resources".into(),
            due_date: "2026-12-10".into(),
            title: "管线用地审查".into(),
            ..Default::default()
        },
        with_context!(pb::AddSubTaskCommand),
        &(),
    )?;
    flow.step(
        pb::CompleteSubTaskCommand {
            request_id: id.clone(),
            sub_task_id: 1,
            note: "用地手续齐全".into(),
            ..Default::default()
        },
        with_context!(pb::CompleteSubTaskCommand),
        &(),
    )?;
    flow.step(
        pb::RecordInspectionCommand {
            request_id: id.clone(),
            visited_on: "2026-11-30".into(),
            findings: "施工进度正常".into(),
            follow_up_required: false,
            ..Default::default()
        },
        with_context!(pb::RecordInspectionCommand),
        &(),
    )?;
    let progress = || pb::RecordProgressCommand {
        request_id: id.clone(),
        note: "管材已采购".into(),
        ..Default::default()
    };
    let resolve = || pb::ResolveRequestCommand {
        request_id: id.clone(),
        resolution: "管网已更换".into(),
        ..Default::default()
    };
    flow.step(progress(), with_context!(pb::RecordProgressCommand), &())?;
    flow.step(resolve(), with_context!(pb::ResolveRequestCommand), &())?;
    flow.step(
        pb::ReopenRequestCommand {
            request_id: id.clone(),
            reason: "东区仍漏水".into(),
            ..Default::default()
        },
        with_context!(pb::ReopenRequestCommand),
        &(),
    )?;
    flow.step(progress(), with_context!(pb::RecordProgressCommand), &())?;
    flow.step(resolve(), with_context!(pb::ResolveRequestCommand), &())?;
    flow.step(
        pb::CloseRequestCommand {
            request_id: id.clone(),
            note: "确认办结".into(),
            satisfaction: pb::Satisfaction::Satisfied as i32,
            ..Default::default()
        },
        with_context!(pb::CloseRequestCommand),
        &(),
    )?;
    flow.finish(corpus);

    let mut flow = Flow::<pb::Request>::new("request-rejected");
    let id = submit(&mut flow)?;
    flow.step(
        pb::RejectRequestCommand {
            request_id: id,
            reason: "不属本区职责".into(),
            ..Default::default()
        },
        with_context!(pb::RejectRequestCommand),
        &(),
    )?;
    flow.finish(corpus);
    Ok(())
}

/// Submits the flow's request (by [`crate::AGENCY`]); returns its id.
fn submit(flow: &mut Flow<pb::Request>) -> Result<String, String> {
    flow.step(
        pb::SubmitRequestCommand {
            direction: pb::Direction::MilitaryToLocal as i32,
            requester: Some(pb::RequestingParty {
                agency: crate::AGENCY.into(),
                name: "某部队营房科".into(),
            }),
            category: pb::Category::BarracksAndTrainingGrounds as i32,
            title: "营区供水管网改造协调".into(),
            description: "营区东侧供水管网老化，需协调区水务部门改造。".into(),
            area_code: AREA_CODE.into(),
            priority: pb::Priority::High as i32,
            due_date: "2026-12-20".into(),
            supervision_level: pb::SupervisionLevel::None as i32,
            ..Default::default()
        },
        with_context!(pb::SubmitRequestCommand),
        &(),
    )
}

/// A person registered in `role`, with a training and a certificate; returns
/// their id.
fn person(
    corpus: &mut Vec<Seed>,
    name: &'static str,
    role: pb::PersonRole,
    birth: Date,
    sequence: u16,
) -> Result<String, String> {
    let relation = match role {
        pb::PersonRole::MilitarySpouse => Some(pb::Relation::SpouseOf),
        pb::PersonRole::MilitaryChild => Some(pb::Relation::ChildOf),
        _ => None,
    };
    let mut flow = Flow::<Person>::new(name);
    let id = flow.step(
        pb::RegisterPersonCommand {
            role: role as i32,
            name: "张三".into(),
            id_number: id_number(birth, sequence)?,
            phone: "13812345678".into(),
            area_code: AREA_CODE.into(),
            links: relation
                .map(|relation| pb::PersonLink {
                    relation: relation as i32,
                    name: "李四".into(),
                    unit: crate::AGENCY.into(),
                    person_id: String::new(),
                })
                .into_iter()
                .collect(),
            ..Default::default()
        },
        with_context!(pb::RegisterPersonCommand),
        &(),
    )?;
    if role == pb::PersonRole::MilitarySpouse {
        flow.step(
            pb::RecordTrainingCommand {
                person_id: id.clone(),
                course: "育婴师".into(),
                hours: 40,
                completed_on: "2026-11-20".into(),
                ..Default::default()
            },
            with_context!(pb::RecordTrainingCommand),
            &(),
        )?;
        flow.step(
            pb::RecordCertificateCommand {
                person_id: id.clone(),
                certificate: "育婴员职业技能等级证书".into(),
                issuer: "重庆市人力资源和社会保障局".into(),
                issued_on: "2026-11-25".into(),
                ..Default::default()
            },
            with_context!(pb::RecordCertificateCommand),
            &(),
        )?;
    }
    flow.finish(corpus);
    Ok(id)
}

/// A veteran's resettlement: registered, matched, declined, registered and
/// matched again, on duty.
fn resettlement(corpus: &mut Vec<Seed>, veteran: &PersonFacts) -> Result<(), String> {
    let mut flow = Flow::<Placement>::new("placement-resettlement");
    let facts = PlacementFacts {
        person: Some(veteran.clone()),
    };
    let register = || pb::RegisterPlacementCommand {
        programme: pb::Programme::VeteranResettlement as i32,
        person_id: veteran.id.clone(),
        area_code: AREA_CODE.into(),
        fast_lane: true,
        ..Default::default()
    };
    let id = flow.step(
        register(),
        with_context!(pb::RegisterPlacementCommand),
        &facts,
    )?;
    let none = PlacementFacts::default();
    let matched = || pb::MatchPlacementCommand {
        placement_id: id.clone(),
        employer: "沙坪坝区人民医院".into(),
        post: "保卫科干事".into(),
        profession_matched: true,
        post_matched: true,
        rank_matched: false,
        ..Default::default()
    };
    flow.step(matched(), with_context!(pb::MatchPlacementCommand), &none)?;
    flow.step(
        pb::DeclinePlacementCommand {
            placement_id: id.clone(),
            reason: "通勤过远".into(),
            ..Default::default()
        },
        with_context!(pb::DeclinePlacementCommand),
        &none,
    )?;
    flow.step(
        register(),
        with_context!(pb::RegisterPlacementCommand),
        &facts,
    )?;
    flow.step(matched(), with_context!(pb::MatchPlacementCommand), &none)?;
    flow.step(
        pb::PutOnDutyCommand {
            placement_id: id.clone(),
            on_duty_date: "2026-12-01".into(),
            ..Default::default()
        },
        with_context!(pb::PutOnDutyCommand),
        &none,
    )?;
    flow.finish(corpus);
    Ok(())
}

/// A child's school enrollment: registered, accepted, enrolled.
fn school(corpus: &mut Vec<Seed>, child: &PersonFacts) -> Result<(), String> {
    let mut flow = Flow::<Placement>::new("placement-school");
    let facts = PlacementFacts {
        person: Some(child.clone()),
    };
    let id = flow.step(
        pb::RegisterPlacementCommand {
            programme: pb::Programme::SchoolEnrollment as i32,
            person_id: child.id.clone(),
            area_code: AREA_CODE.into(),
            school: "沙坪坝小学".into(),
            grade: "一年级".into(),
            ..Default::default()
        },
        with_context!(pb::RegisterPlacementCommand),
        &facts,
    )?;
    let none = PlacementFacts::default();
    flow.step(
        pb::AcceptSchoolRequestCommand {
            placement_id: id.clone(),
            note: "材料齐全".into(),
            ..Default::default()
        },
        with_context!(pb::AcceptSchoolRequestCommand),
        &none,
    )?;
    flow.step(
        pb::EnrollInSchoolCommand {
            placement_id: id.clone(),
            school: "沙坪坝小学".into(),
            ..Default::default()
        },
        with_context!(pb::EnrollInSchoolCommand),
        &none,
    )?;
    flow.finish(corpus);
    // Messages without a legal place in these flows are still seeds of the
    // parser (refused by `decide` on a new placement, which is what the
    // target does with them).
    for (name, bytes) in [
        (
            "placement-withdraw",
            encoded(pb::WithdrawPlacementCommand {
                context: context("placement-withdraw"),
                placement_id: id.clone(),
                reason: "本人放弃".into(),
            }),
        ),
        (
            "placement-talent-pool",
            encoded(pb::RecommendToTalentPoolCommand {
                context: context("placement-talent-pool"),
                placement_id: id.clone(),
                community_code: AREA_CODE.into(),
                note: "推荐入库".into(),
            }),
        ),
        (
            "placement-decline-school",
            encoded(pb::DeclineSchoolRequestCommand {
                context: context("placement-decline-school"),
                placement_id: id.clone(),
                reason: "学位已满".into(),
            }),
        ),
    ] {
        corpus.push(Seed {
            target: COMMAND_PARSE,
            name: name.to_string(),
            bytes,
        });
    }
    Ok(())
}

/// A command context with idempotency key `key`.
fn context(key: &str) -> Option<pb::CommandContext> {
    Some(pb::CommandContext {
        idempotency_key: key.to_string(),
        ..Default::default()
    })
}

/// `message` as a `command_parse` seed.
fn encoded<M: CommandMessage>(message: M) -> Vec<u8> {
    let mut bytes = vec![command_index::<M>()];
    bytes.extend(message.encode_to_vec());
    bytes
}

/// A spouse's allowance: granted, paid, stopped.
fn allowance(corpus: &mut Vec<Seed>, spouse: &PersonFacts) -> Result<(), String> {
    let mut flow = Flow::<Allowance>::new("allowance");
    let facts = AllowanceFacts {
        person: Some(spouse.clone()),
        spouse_placed: false,
    };
    flow.step(
        pb::GrantAllowanceCommand {
            person_id: spouse.id.clone(),
            monthly_amount_fen: 180_000,
            from_month: "2026-09".into(),
            ..Default::default()
        },
        with_context!(pb::GrantAllowanceCommand),
        &facts,
    )?;
    flow.step(
        pb::PayAllowanceCommand {
            person_id: spouse.id.clone(),
            month: "2026-09".into(),
            ..Default::default()
        },
        with_context!(pb::PayAllowanceCommand),
        &facts,
    )?;
    flow.step(
        pb::StopAllowanceCommand {
            person_id: spouse.id.clone(),
            reason: "已就业".into(),
            ..Default::default()
        },
        with_context!(pb::StopAllowanceCommand),
        &facts,
    )?;
    flow.finish(corpus);
    Ok(())
}

/// A station: opened, its seats changed, a child enrolled and withdrawn.
fn station(corpus: &mut Vec<Seed>, child: &PersonFacts) -> Result<(), String> {
    let mut flow = Flow::<Station>::new("station");
    let none = StationFacts::default();
    let id = flow.step(
        pb::OpenStationCommand {
            name: "小龙坎街道军娃托管站".into(),
            seats: 1,
            opening_hours: "08:30-17:30".into(),
            area_code: AREA_CODE.into(),
            address: "沙坪坝区小龙坎正街1号".into(),
            ..Default::default()
        },
        with_context!(pb::OpenStationCommand),
        &none,
    )?;
    flow.step(
        pb::ChangeStationSeatsCommand {
            station_id: id.clone(),
            seats: 20,
            ..Default::default()
        },
        with_context!(pb::ChangeStationSeatsCommand),
        &none,
    )?;
    flow.step(
        pb::EnrollChildCommand {
            station_id: id.clone(),
            child_person_id: child.id.clone(),
            ..Default::default()
        },
        with_context!(pb::EnrollChildCommand),
        &StationFacts {
            child: Some(child.clone()),
        },
    )?;
    flow.step(
        pb::WithdrawChildCommand {
            station_id: id.clone(),
            child_person_id: child.id.clone(),
            reason: "随军调动".into(),
            ..Default::default()
        },
        with_context!(pb::WithdrawChildCommand),
        &none,
    )?;
    flow.finish(corpus);
    Ok(())
}
