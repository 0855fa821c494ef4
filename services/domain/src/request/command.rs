//! Commands as validated values, parsed from their protobuf messages. Past
//! `parse`, every field is known good; what remains to check depends on the
//! aggregate's state and belongs to `decide`.

use jiff::Timestamp;
use jiff::civil::Date;

use crate::command_meta::{Meta, fingerprint, parse_meta};
use crate::error::{DomainError, FieldViolation};
use crate::pb;
use crate::validate::{self, AreaCode, Code, Districts, Violations, china_date, text};

const TITLE_MAX: usize = 200;
const TEXT_MAX: usize = 4000;
const NAME_MAX: usize = 200;

/// A new support request.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub direction: pb::Direction,
    pub requester_agency: Code,
    pub requester_name: String,
    pub category: pb::Category,
    pub title: String,
    pub description: String,
    pub area_code: AreaCode,
    pub priority: pb::Priority,
    pub due_date: Option<Date>,
    pub supervision_level: pb::SupervisionLevel,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Submit(Submission),
    Assign {
        department: Code,
        due_date: Date,
        note: String,
    },
    Start {
        note: String,
    },
    RecordProgress {
        note: String,
    },
    Resolve {
        resolution: String,
    },
    Close {
        note: String,
    },
    Reject {
        reason: String,
    },
    Reopen {
        reason: String,
    },
    Escalate {
        level: pb::SupervisionLevel,
        reason: String,
        due_date: Option<Date>,
    },
    ChangeDueDate {
        due_date: Date,
        reason: String,
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
        }
    }
}

/// Which request a command addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A submission: the id is derived from the actor's agency and the key.
    New,
    Existing(uuid::Uuid),
}

/// A command ready for `decide`.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub meta: Meta,
    pub target: Target,
    pub command: Command,
    /// Hash of the command without its context: a retry with the same key
    /// must carry the same fingerprint.
    pub fingerprint: [u8; 32],
}

/// A command's protobuf message.
pub trait CommandMessage: prost::Message + prost::Name + Clone {
    fn context(&self) -> Option<&pb::CommandContext>;
    fn clear_context(&mut self);
    /// The addressed request; `None` for a submission.
    fn request_id(&self) -> Option<&str>;
    /// Parses the command's own fields; `today` is the day it occurred.
    fn body(&self, v: &mut Violations, districts: &Districts, today: Date) -> Option<Command>;
}

/// Validates a command message completely, or names every bad field.
pub fn parse<M: CommandMessage>(
    message: &M,
    districts: &Districts,
    now: Timestamp,
) -> Result<Parsed, DomainError> {
    let mut v = Violations::default();
    let meta = parse_meta(message.context(), &mut v, now);
    let today = china_date(meta.as_ref().map_or(now, |m| m.occurred_at));
    let target = match message.request_id() {
        None => Some(Target::New),
        Some(id) => v
            .check(validate::aggregate_id("request_id", id))
            .map(Target::Existing),
    };
    let command = message.body(&mut v, districts, today);
    v.finish(|| {
        Some(Parsed {
            meta: meta?,
            target: target?,
            command: command?,
            fingerprint: fingerprint(message, M::clear_context),
        })
    })
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

/// Implements the context accessors of a command message.
macro_rules! command_context {
    ($message:ty, $request_id:expr) => {
        fn context(&self) -> Option<&pb::CommandContext> {
            self.context.as_ref()
        }
        fn clear_context(&mut self) {
            self.context = None;
        }
        fn request_id(&self) -> Option<&str> {
            let id: fn(&$message) -> Option<&str> = $request_id;
            id(self)
        }
    };
}

impl CommandMessage for pb::SubmitRequestCommand {
    command_context!(pb::SubmitRequestCommand, |_| None);

    fn body(&self, v: &mut Violations, districts: &Districts, today: Date) -> Option<Command> {
        let direction = v.check(validate::enum_value("direction", self.direction, None));
        let (agency, name) = match &self.requester {
            None => {
                v.push(FieldViolation::new("requester", "is required"));
                (None, None)
            }
            Some(party) => (
                v.check(Code::parse("requester.agency", &party.agency)),
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
        Some(Command::Submit(Submission {
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
        }))
    }
}

impl CommandMessage for pb::AssignRequestCommand {
    command_context!(pb::AssignRequestCommand, |m| Some(&m.request_id));

    fn body(&self, v: &mut Violations, _: &Districts, today: Date) -> Option<Command> {
        let department = v.check(Code::parse("department", &self.department));
        let due = due_date(v, "due_date", &self.due_date, today);
        let note = optional_text(v, "note", &self.note);
        Some(Command::Assign {
            department: department?,
            due_date: due?,
            note: note?,
        })
    }
}

impl CommandMessage for pb::StartRequestCommand {
    command_context!(pb::StartRequestCommand, |m| Some(&m.request_id));

    fn body(&self, v: &mut Violations, _: &Districts, _: Date) -> Option<Command> {
        let note = optional_text(v, "note", &self.note)?;
        Some(Command::Start { note })
    }
}

impl CommandMessage for pb::RecordProgressCommand {
    command_context!(pb::RecordProgressCommand, |m| Some(&m.request_id));

    fn body(&self, v: &mut Violations, _: &Districts, _: Date) -> Option<Command> {
        let note = required_text(v, "note", &self.note)?;
        Some(Command::RecordProgress { note })
    }
}

impl CommandMessage for pb::ResolveRequestCommand {
    command_context!(pb::ResolveRequestCommand, |m| Some(&m.request_id));

    fn body(&self, v: &mut Violations, _: &Districts, _: Date) -> Option<Command> {
        let resolution = required_text(v, "resolution", &self.resolution)?;
        Some(Command::Resolve { resolution })
    }
}

impl CommandMessage for pb::CloseRequestCommand {
    command_context!(pb::CloseRequestCommand, |m| Some(&m.request_id));

    fn body(&self, v: &mut Violations, _: &Districts, _: Date) -> Option<Command> {
        let note = optional_text(v, "note", &self.note)?;
        Some(Command::Close { note })
    }
}

impl CommandMessage for pb::RejectRequestCommand {
    command_context!(pb::RejectRequestCommand, |m| Some(&m.request_id));

    fn body(&self, v: &mut Violations, _: &Districts, _: Date) -> Option<Command> {
        let reason = required_text(v, "reason", &self.reason)?;
        Some(Command::Reject { reason })
    }
}

impl CommandMessage for pb::ReopenRequestCommand {
    command_context!(pb::ReopenRequestCommand, |m| Some(&m.request_id));

    fn body(&self, v: &mut Violations, _: &Districts, _: Date) -> Option<Command> {
        let reason = required_text(v, "reason", &self.reason)?;
        Some(Command::Reopen { reason })
    }
}

impl CommandMessage for pb::EscalateRequestCommand {
    command_context!(pb::EscalateRequestCommand, |m| Some(&m.request_id));

    fn body(&self, v: &mut Violations, _: &Districts, today: Date) -> Option<Command> {
        let level = v.check(validate::enum_value("level", self.level, None));
        let reason = required_text(v, "reason", &self.reason);
        let due = optional_due_date(v, "due_date", &self.due_date, today);
        Some(Command::Escalate {
            level: level?,
            reason: reason?,
            due_date: due?,
        })
    }
}

impl CommandMessage for pb::ChangeDueDateCommand {
    command_context!(pb::ChangeDueDateCommand, |m| Some(&m.request_id));

    fn body(&self, v: &mut Violations, _: &Districts, today: Date) -> Option<Command> {
        let due = due_date(v, "due_date", &self.due_date, today);
        let reason = required_text(v, "reason", &self.reason);
        Some(Command::ChangeDueDate {
            due_date: due?,
            reason: reason?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn districts() -> Districts {
        Districts::parse("500106").unwrap()
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
        let parsed = parse(&submit(), &districts(), now()).unwrap();
        assert_eq!(parsed.target, Target::New);
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
        let mut got = fields(parse(&bad, &districts(), now()).unwrap_err());
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
    fn due_dates_count_from_the_day_in_china() {
        // 2026-11-30T17:00Z is already 2026-12-01 in Beijing.
        let evening = "2026-11-30T17:00:00Z".parse().unwrap();
        let mut command = submit();
        command.due_date = "2026-11-30".into();
        assert_eq!(
            fields(parse(&command, &districts(), evening).unwrap_err()),
            ["due_date"]
        );
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
            fields(parse(&command, &districts(), now()).unwrap_err()),
            ["context.occurred_at"]
        );
        let ctx = command.context.as_mut().unwrap();
        ctx.occurred_at = Some(prost_types::Timestamp {
            seconds: now().as_second() - 86_400,
            nanos: 0,
        });
        command.due_date = "2026-11-30".into();
        let parsed = parse(&command, &districts(), now()).unwrap();
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
        let mut got = fields(parse(&command, &districts(), now()).unwrap_err());
        got.sort();
        assert_eq!(got, ["request_id", "resolution"]);
    }

    #[test]
    fn fingerprints_ignore_the_context_but_not_the_command() {
        let a = parse(&submit(), &districts(), now()).unwrap();
        let mut retried = submit();
        retried.context = context("k-1");
        retried.context.as_mut().unwrap().correlation_id = "c".into();
        let b = parse(&retried, &districts(), now()).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        let mut changed = submit();
        changed.title = "另一件事".into();
        let c = parse(&changed, &districts(), now()).unwrap();
        assert_ne!(a.fingerprint, c.fingerprint);
    }
}
