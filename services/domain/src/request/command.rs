//! Request commands as validated values, parsed from their protobuf messages
//! ([`CommandMessage`]). Past parsing, every field is known good; what
//! remains to check depends on the aggregate's state and belongs to `decide`.

use jiff::civil::Date;
use uuid::Uuid;

use crate::command_meta::{CommandMessage, Input, context_accessors, on_existing};
use crate::error::FieldViolation;
use crate::pb;
use crate::validate::{self, AreaCode, Code, Violations, text};

use super::request_id_for;

const TITLE_MAX: usize = 200;
const TEXT_MAX: usize = 4000;
const NAME_MAX: usize = 200;

/// A new support request.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// A military unit's need addressed to the locality, or the reverse.
    pub direction: pb::Direction,
    /// Agency code of the requesting party; only its actors may close or dispute.
    pub requester_agency: Code,
    /// Display name of the requesting party ("沙坪坝区教委").
    pub requester_name: String,
    /// What kind of support is asked for.
    pub category: pb::Category,
    /// 1 to 200 characters.
    pub title: String,
    /// Up to 4000 characters.
    pub description: String,
    /// 12-digit code of the street or community, in a served district.
    pub area_code: AreaCode,
    /// Normal unless the caller said otherwise.
    pub priority: pb::Priority,
    /// Not before the submission day; `None` when set at assignment.
    pub due_date: Option<Date>,
    /// The level supervising the request from the start (none by default).
    pub supervision_level: pb::SupervisionLevel,
    /// The registered person the request concerns (a family difficulty),
    /// under whose data key its free text is sealed; `None` for most.
    pub person: Option<Uuid>,
}

/// A request command, validated at the edge.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Files a new request.
    Submit(Submission),
    /// Assigns it to a responsible department (or reassigns it before work starts).
    Assign {
        /// Code of the responsible department.
        department: Code,
        /// Not before the assignment day.
        due_date: Date,
        /// The assigning office's note; may be empty.
        note: String,
    },
    /// The department starts work.
    Start {
        /// The department's note; may be empty.
        note: String,
    },
    /// A progress note while work goes on.
    RecordProgress {
        /// What happened; required.
        note: String,
    },
    /// The department reports the request resolved; the requester must confirm.
    Resolve {
        /// How it was resolved; required.
        resolution: String,
    },
    /// The requesting party confirms the resolution with a rating: closed
    /// out (销号), or reopened when rated 不满意.
    Close {
        /// The requester's note; may be empty unless dissatisfied.
        note: String,
        /// The rating; never `Unspecified` past parsing.
        satisfaction: pb::Satisfaction,
    },
    /// Refuses the request before work starts.
    Reject {
        /// Why; required.
        reason: String,
    },
    /// The requesting party disputes the resolution; work resumes.
    Reopen {
        /// What is not resolved; required.
        reason: String,
    },
    /// Lists the request for supervision at a strictly higher level (挂牌督办).
    Escalate {
        /// The new supervision level, above the current one.
        level: pb::SupervisionLevel,
        /// Why; required.
        reason: String,
        /// A new due date set by the supervising office, if any.
        due_date: Option<Date>,
    },
    /// A supervision clock fell due (a reminder or an automatic
    /// escalation); issued by intake's scheduler, never by a caller.
    Supervise(crate::supervision::Action),
    /// Moves the due date of an unresolved request.
    ChangeDueDate {
        /// The new due date, not before today.
        due_date: Date,
        /// Why it moves; required.
        reason: String,
    },
    /// Breaks the request down (任务分解): a part of the work for a
    /// department, with its own due date.
    AddSubTask {
        /// Code of the department that does this part.
        department: Code,
        /// Not before today.
        due_date: Date,
        /// What this part is; 1 to 200 characters.
        title: String,
    },
    /// The sub-task's department reports it done.
    CompleteSubTask {
        /// The sub-task's number within the request (1, 2, ...).
        sub_task_id: u32,
        /// What was done; may be empty.
        note: String,
    },
    /// The supervision office records an inspection visit (督查).
    RecordInspection {
        /// The day of the visit, not after today.
        visited_on: Date,
        /// What the inspectors found; required.
        findings: String,
        /// Whether the findings call for follow-up work.
        follow_up_required: bool,
    },
}

impl Command {
    /// The verb used in messages: "cannot close a request that is submitted".
    pub fn action(&self) -> &'static str {
        match self {
            Command::Submit(_) => "submit",
            Command::Assign { .. } => "assign",
            Command::Start { .. } => "start",
            Command::RecordProgress { .. } => "record progress on",
            Command::Resolve { .. } => "resolve",
            Command::Close { .. } => "close",
            Command::Reject { .. } => "reject",
            Command::Reopen { .. } => "reopen",
            Command::Escalate { .. } => "escalate",
            Command::ChangeDueDate { .. } => "change the due date of",
            Command::Supervise(_) => "run a supervision clock on",
            Command::AddSubTask { .. } => "add a sub-task to",
            Command::CompleteSubTask { .. } => "complete a sub-task of",
            Command::RecordInspection { .. } => "record an inspection of",
        }
    }
}

fn required_text(v: &mut Violations, field: &str, value: &str) -> Option<String> {
    v.check(text(field, value, 1, TEXT_MAX))
}

fn optional_text(v: &mut Violations, field: &str, value: &str) -> Option<String> {
    v.check(text(field, value, 0, TEXT_MAX))
}

/// A due date that may not lie before the day the command occurred.
fn due_date(v: &mut Violations, field: &str, value: &str, today: Date) -> Option<Date> {
    let date = v.check(validate::date(field, value))?;
    v.check(validate::not_before(field, date, today))
}

fn optional_due_date(
    v: &mut Violations,
    field: &str,
    value: &str,
    today: Date,
) -> Option<Option<Date>> {
    if value.is_empty() {
        Some(None)
    } else {
        due_date(v, field, value, today).map(Some)
    }
}

/// A request's requesting party is its caller's agency: `agency` may be
/// left empty (it is then the caller's), or must name the caller's.
fn requesting_agency(agency: &str, caller: &str) -> Result<Code, FieldViolation> {
    let field = "requester.agency";
    if agency.is_empty() {
        return Code::parse(field, caller);
    }
    let code = Code::parse(field, agency)?;
    if code.as_str() != caller {
        return Err(FieldViolation::new(
            field,
            format!("must be the calling agency ({caller}): a request is raised by its caller"),
        ));
    }
    Ok(code)
}

/// A submission creates its request, whose id derives from the submitting
/// agency and the idempotency key.
impl CommandMessage for pb::SubmitRequestCommand {
    type Target = pb::Request;
    const CREATES: bool = true;
    context_accessors!();

    fn body(&self, v: &mut Violations, input: &Input<'_>) -> Option<(Uuid, Command)> {
        let (districts, today) = (&input.env.districts, input.today);
        let direction = v.check(validate::enum_value("direction", self.direction, None));
        let (agency, name) = match &self.requester {
            None => {
                v.push(FieldViolation::new("requester", "is required"));
                (None, None)
            }
            Some(party) => (
                v.check(requesting_agency(&party.agency, &input.actor.agency)),
                v.check(text("requester.name", &party.name, 1, NAME_MAX)),
            ),
        };
        let category = v.check(validate::enum_value("category", self.category, None));
        let title = v.check(text("title", &self.title, 1, TITLE_MAX));
        let description = optional_text(v, "description", &self.description);
        let area_code = v.check(AreaCode::parse("area_code", &self.area_code, districts));
        let priority = v.check(validate::enum_value(
            "priority",
            self.priority,
            Some(pb::Priority::Normal),
        ));
        let due = optional_due_date(v, "due_date", &self.due_date, today);
        let level = v.check(validate::enum_value(
            "supervision_level",
            self.supervision_level,
            Some(pb::SupervisionLevel::None),
        ));
        let person = match self.person_id.as_str() {
            "" => Some(None),
            id => v.check(validate::aggregate_id("person_id", id)).map(Some),
        };
        let id = request_id_for(&input.actor.agency, input.idempotency_key);
        Some((
            id,
            Command::Submit(Submission {
                direction: direction?,
                requester_agency: agency?,
                requester_name: name?,
                category: category?,
                title: title?,
                description: description?,
                area_code: area_code?,
                priority: priority?,
                due_date: due?,
                supervision_level: level?,
                person: person?,
            }),
        ))
    }
}

on_existing! { pb::Request, request_id;
    pb::AssignRequestCommand => |m, v, input| {
        let department = v.check(Code::parse("department", &m.department));
        let due = due_date(v, "due_date", &m.due_date, input.today);
        let note = optional_text(v, "note", &m.note);
        Some(Command::Assign {
            department: department?,
            due_date: due?,
            note: note?,
        })
    };
    pb::StartRequestCommand => |m, v, _| {
        optional_text(v, "note", &m.note).map(|note| Command::Start { note })
    };
    pb::RecordProgressCommand => |m, v, _| {
        required_text(v, "note", &m.note).map(|note| Command::RecordProgress { note })
    };
    pb::ResolveRequestCommand => |m, v, _| {
        required_text(v, "resolution", &m.resolution)
            .map(|resolution| Command::Resolve { resolution })
    };
    pb::CloseRequestCommand => |m, v, _| {
        let satisfaction = v.check(validate::enum_value("satisfaction", m.satisfaction, None));
        let note = match satisfaction {
            Some(pb::Satisfaction::Dissatisfied) if m.note.trim().is_empty() => {
                v.push(FieldViolation::new(
                    "note",
                    "is required when satisfaction is DISSATISFIED: say what is not resolved",
                ));
                None
            }
            _ => optional_text(v, "note", &m.note),
        };
        Some(Command::Close {
            note: note?,
            satisfaction: satisfaction?,
        })
    };
    pb::RejectRequestCommand => |m, v, _| {
        required_text(v, "reason", &m.reason).map(|reason| Command::Reject { reason })
    };
    pb::ReopenRequestCommand => |m, v, _| {
        required_text(v, "reason", &m.reason).map(|reason| Command::Reopen { reason })
    };
    pb::EscalateRequestCommand => |m, v, input| {
        let level = v.check(validate::enum_value("level", m.level, None));
        let reason = required_text(v, "reason", &m.reason);
        let due = optional_due_date(v, "due_date", &m.due_date, input.today);
        Some(Command::Escalate {
            level: level?,
            reason: reason?,
            due_date: due?,
        })
    };
    pb::ChangeDueDateCommand => |m, v, input| {
        let due = due_date(v, "due_date", &m.due_date, input.today);
        let reason = required_text(v, "reason", &m.reason);
        Some(Command::ChangeDueDate {
            due_date: due?,
            reason: reason?,
        })
    };
    pb::AddSubTaskCommand => |m, v, input| {
        let department = v.check(Code::parse("department", &m.department));
        let due = due_date(v, "due_date", &m.due_date, input.today);
        let title = v.check(text("title", &m.title, 1, TITLE_MAX));
        Some(Command::AddSubTask {
            department: department?,
            due_date: due?,
            title: title?,
        })
    };
    pb::CompleteSubTaskCommand => |m, v, _| {
        let sub_task_id = if m.sub_task_id == 0 {
            v.push(FieldViolation::new("sub_task_id", "is required (sub-tasks are numbered from 1)"));
            None
        } else {
            Some(m.sub_task_id)
        };
        let note = optional_text(v, "note", &m.note);
        Some(Command::CompleteSubTask {
            sub_task_id: sub_task_id?,
            note: note?,
        })
    };
    pb::RecordInspectionCommand => |m, v, input| {
        let visited_on = v.check(validate::date("visited_on", &m.visited_on));
        let visited_on = visited_on.and_then(|day| v.check(not_after("visited_on", day, input.today)));
        let findings = required_text(v, "findings", &m.findings);
        Some(Command::RecordInspection {
            visited_on: visited_on?,
            findings: findings?,
            follow_up_required: m.follow_up_required,
        })
    };
}

/// A day that has already come (a visit is recorded after it took place).
fn not_after(field: &str, day: Date, today: Date) -> Result<Date, FieldViolation> {
    if day > today {
        return Err(FieldViolation::new(
            field,
            format!("{day} is in the future (today is {today})"),
        ));
    }
    Ok(day)
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::command_meta::{ParseEnv, Parsed};
    use crate::error::DomainError;
    use crate::validate::Districts;

    fn parse<M: CommandMessage>(
        message: &M,
        now: Timestamp,
    ) -> Result<Parsed<M::Target>, DomainError> {
        let env = ParseEnv {
            districts: Districts::parse("500106").unwrap(),
            identity_key: [7; 32],
        };
        let actor = pb::Actor {
            agency: "district-education-committee".into(),
            user: "tester".into(),
        };
        message.parse(&env, &actor, now)
    }

    #[test]
    fn the_requesting_party_is_the_caller_s_agency() {
        let mut other = submit();
        other.requester.as_mut().unwrap().agency = "unit-31001".into();
        let err = parse(&other, now()).unwrap_err();
        assert_eq!(fields(err), ["requester.agency"]);
        let mut unnamed = submit();
        unnamed.requester.as_mut().unwrap().agency = String::new();
        let Command::Submit(submission) = parse(&unnamed, now()).unwrap().command else {
            panic!("a submission");
        };
        assert_eq!(
            submission.requester_agency.as_str(),
            "district-education-committee"
        );
    }

    fn now() -> Timestamp {
        "2026-12-01T02:00:00Z".parse().unwrap()
    }

    fn context(key: &str) -> Option<pb::CommandContext> {
        Some(pb::CommandContext {
            idempotency_key: key.into(),
            ..Default::default()
        })
    }

    fn submit() -> pb::SubmitRequestCommand {
        pb::SubmitRequestCommand {
            context: context("k-1"),
            direction: pb::Direction::LocalToMilitary as i32,
            requester: Some(pb::RequestingParty {
                agency: "district-education-committee".into(),
                name: "区教委".into(),
            }),
            category: pb::Category::StudentMilitaryTraining as i32,
            title: "高一新生军训教官支援".into(),
            area_code: "500106005000".into(),
            due_date: "2026-12-20".into(),
            ..Default::default()
        }
    }

    fn fields(err: DomainError) -> Vec<String> {
        match err {
            DomainError::Invalid(violations) => violations.into_iter().map(|v| v.field).collect(),
            other => panic!("expected invalid, got {other}"),
        }
    }

    #[test]
    fn a_valid_submission_parses_with_defaults() {
        let parsed = parse(&submit(), now()).unwrap();
        assert!(parsed.assume_new);
        assert_eq!(
            parsed.id,
            request_id_for("district-education-committee", "k-1")
        );
        assert_eq!(parsed.meta.occurred_at, now());
        let Command::Submit(s) = parsed.command else {
            panic!("expected a submission")
        };
        assert_eq!(s.priority, pb::Priority::Normal);
        assert_eq!(s.supervision_level, pb::SupervisionLevel::None);
        assert_eq!(s.due_date, Some(jiff::civil::date(2026, 12, 20)));
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let mut bad = submit();
        bad.context = None;
        bad.direction = 0;
        bad.category = 99;
        bad.title = "x".repeat(201);
        bad.area_code = "500107005000".into();
        bad.due_date = "2026-11-30".into();
        bad.requester = Some(pb::RequestingParty {
            agency: "有 空格".into(),
            name: String::new(),
        });
        let mut got = fields(parse(&bad, now()).unwrap_err());
        got.sort();
        assert_eq!(
            got,
            [
                "area_code",
                "category",
                "context.idempotency_key",
                "direction",
                "due_date",
                "requester.agency",
                "requester.name",
                "title"
            ]
        );
    }

    #[test]
    fn a_submission_may_name_the_person_it_concerns() {
        let Command::Submit(s) = parse(&submit(), now()).unwrap().command else {
            panic!("expected a submission")
        };
        assert_eq!(s.person, None);
        let person = "0190e3a0-0000-8000-8000-000000000002";
        let mut concerning = submit();
        concerning.person_id = person.into();
        let Command::Submit(s) = parse(&concerning, now()).unwrap().command else {
            panic!("expected a submission")
        };
        assert_eq!(s.person, Some(Uuid::try_parse(person).unwrap()));
        concerning.person_id = "张三".into();
        assert_eq!(
            fields(parse(&concerning, now()).unwrap_err()),
            ["person_id"]
        );
    }

    #[test]
    fn due_dates_count_from_the_day_in_china() {
        // 2026-11-30T17:00Z is already 2026-12-01 in Beijing.
        let evening = "2026-11-30T17:00:00Z".parse().unwrap();
        let mut command = submit();
        command.due_date = "2026-11-30".into();
        assert_eq!(fields(parse(&command, evening).unwrap_err()), ["due_date"]);
    }

    #[test]
    fn occurred_at_is_bounded() {
        let mut command = submit();
        let ctx = command.context.as_mut().unwrap();
        ctx.occurred_at = Some(prost_types::Timestamp {
            seconds: now().as_second() + 3600,
            nanos: 0,
        });
        assert_eq!(
            fields(parse(&command, now()).unwrap_err()),
            ["context.occurred_at"]
        );
        let ctx = command.context.as_mut().unwrap();
        ctx.occurred_at = Some(prost_types::Timestamp {
            seconds: now().as_second() - 86_400,
            nanos: 0,
        });
        command.due_date = "2026-11-30".into();
        let parsed = parse(&command, now()).unwrap();
        assert_eq!(
            parsed.meta.occurred_at.as_second(),
            now().as_second() - 86_400
        );
    }

    #[test]
    fn commands_on_a_request_need_a_uuid_and_their_fields() {
        let command = pb::ResolveRequestCommand {
            context: context("k"),
            request_id: "not-a-uuid".into(),
            resolution: " ".into(),
        };
        let mut got = fields(parse(&command, now()).unwrap_err());
        got.sort();
        assert_eq!(got, ["request_id", "resolution"]);
    }

    #[test]
    fn a_close_out_needs_a_rating_and_a_dissatisfied_one_a_note() {
        let close = |satisfaction: pb::Satisfaction, note: &str| pb::CloseRequestCommand {
            context: context("k"),
            request_id: "0190e3a0-0000-8000-8000-000000000001".into(),
            note: note.into(),
            satisfaction: satisfaction as i32,
        };
        let unrated = close(pb::Satisfaction::Unspecified, "确认");
        assert_eq!(
            fields(parse(&unrated, now()).unwrap_err()),
            ["satisfaction"]
        );
        let mut unknown = close(pb::Satisfaction::Satisfied, "");
        unknown.satisfaction = 9;
        assert_eq!(
            fields(parse(&unknown, now()).unwrap_err()),
            ["satisfaction"]
        );
        let silent = close(pb::Satisfaction::Dissatisfied, " ");
        assert_eq!(fields(parse(&silent, now()).unwrap_err()), ["note"]);
        let parsed = parse(&close(pb::Satisfaction::BasicallySatisfied, ""), now()).unwrap();
        assert_eq!(
            parsed.command,
            Command::Close {
                note: String::new(),
                satisfaction: pb::Satisfaction::BasicallySatisfied,
            }
        );
    }

    #[test]
    fn sub_tasks_and_inspections_name_their_bad_fields() {
        let request_id = "0190e3a0-0000-8000-8000-000000000001".to_string();
        let add = pb::AddSubTaskCommand {
            context: context("k"),
            request_id: request_id.clone(),
            department: "有 空格".into(),
            due_date: "2026-11-30".into(),
            title: String::new(),
        };
        let mut got = fields(parse(&add, now()).unwrap_err());
        got.sort();
        assert_eq!(got, ["department", "due_date", "title"]);

        let complete = pb::CompleteSubTaskCommand {
            context: context("k"),
            request_id: request_id.clone(),
            sub_task_id: 0,
            note: String::new(),
        };
        assert_eq!(
            fields(parse(&complete, now()).unwrap_err()),
            ["sub_task_id"]
        );

        let mut inspect = pb::RecordInspectionCommand {
            context: context("k"),
            request_id,
            visited_on: "2026-12-02".into(),
            findings: " ".into(),
            follow_up_required: true,
        };
        let mut got = fields(parse(&inspect, now()).unwrap_err());
        got.sort();
        assert_eq!(
            got,
            ["findings", "visited_on"],
            "a visit to come is not recorded"
        );
        inspect.visited_on = "2026-11-28".into();
        inspect.findings = "现场排水沟已开挖".into();
        assert_eq!(
            parse(&inspect, now()).unwrap().command,
            Command::RecordInspection {
                visited_on: jiff::civil::date(2026, 11, 28),
                findings: "现场排水沟已开挖".into(),
                follow_up_required: true,
            }
        );
    }

    #[test]
    fn fingerprints_ignore_the_context_but_not_the_command() {
        let a = parse(&submit(), now()).unwrap();
        let mut retried = submit();
        retried.context = context("k-1");
        retried.context.as_mut().unwrap().correlation_id = "c".into();
        let b = parse(&retried, now()).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        let mut changed = submit();
        changed.title = "另一件事".into();
        let c = parse(&changed, now()).unwrap();
        assert_ne!(a.fingerprint, c.fingerprint);
    }
}
