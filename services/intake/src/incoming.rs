//! Incoming command messages: each is parsed into the validated command of
//! the aggregate it addresses, with that aggregate's id. Every bad field is
//! reported at once (`INVALID_ARGUMENT` with a BadRequest). Parsing needs no
//! state; rules that depend on state are `decide`'s.

use jiff::Timestamp;
use jiff::civil::Date;
use sy_domain::DomainError;
use sy_domain::aggregate::Aggregate;
use sy_domain::allowance::{self, Allowance, Month};
use sy_domain::command_meta::{Meta, fingerprint, parse_meta};
use sy_domain::pb::{self, PersonRole};
use sy_domain::person::{self, Person};
use sy_domain::person_data::{IdNumber, PersonName, Phone};
use sy_domain::placement::{self, Placement};
use sy_domain::request::{self, Target};
use sy_domain::station::{self, Station};
use sy_domain::validate::{self, AreaCode, Code, Districts, Violations, china_date, text};
use uuid::Uuid;

use crate::pipeline::Stored;

/// What parsing needs to know of the deployment.
#[derive(Clone)]
pub struct Env {
    pub districts: Districts,
    /// Secret that person ids are derived from (with the ID number).
    pub identity_key: [u8; 32],
}

/// A command ready for the pipeline.
pub struct Parsed<A: Aggregate> {
    pub meta: Meta,
    /// The aggregate the command addresses.
    pub id: Uuid,
    pub command: A::Command,
    pub fingerprint: [u8; 32],
    /// The command creates its aggregate, which most likely does not exist.
    pub assume_new: bool,
    /// The event that caused this command, for follow-ups intake issues.
    pub causation_id: String,
}

/// A command message of the gRPC API.
pub trait Incoming: prost::Message + prost::Name + Clone + Send + Sync {
    type Target: Stored;

    fn parse(
        &self,
        env: &Env,
        actor: &pb::Actor,
        now: Timestamp,
    ) -> Result<Parsed<Self::Target>, DomainError>;
}

macro_rules! request_commands {
    ($($message:ty),* $(,)?) => {$(
        impl Incoming for $message {
            type Target = pb::Request;

            fn parse(
                &self,
                env: &Env,
                actor: &pb::Actor,
                now: Timestamp,
            ) -> Result<Parsed<pb::Request>, DomainError> {
                let parsed = request::parse(self, &env.districts, now)?;
                let (id, assume_new) = match parsed.target {
                    Target::New => (
                        request::request_id_for(
                            &actor.agency,
                            parsed.meta.idempotency_key.as_str(),
                        ),
                        true,
                    ),
                    Target::Existing(id) => (id, false),
                };
                Ok(Parsed {
                    meta: parsed.meta,
                    id,
                    command: parsed.command,
                    fingerprint: parsed.fingerprint,
                    assume_new,
                    causation_id: String::new(),
                })
            }
        }
    )*};
}

request_commands!(
    pb::SubmitRequestCommand,
    pb::AssignRequestCommand,
    pb::StartRequestCommand,
    pb::RecordProgressCommand,
    pb::ResolveRequestCommand,
    pb::CloseRequestCommand,
    pb::RejectRequestCommand,
    pb::ReopenRequestCommand,
    pb::EscalateRequestCommand,
    pb::ChangeDueDateCommand,
);

/// The parts every placement-programme message shares: its context, then its
/// own fields (given the day it occurred), then the fingerprint.
fn parse_with<M, A>(
    message: &M,
    context: Option<&pb::CommandContext>,
    clear: impl FnOnce(&mut M),
    now: Timestamp,
    body: impl FnOnce(&mut Violations, Date) -> Option<(Uuid, A::Command, bool)>,
) -> Result<Parsed<A>, DomainError>
where
    M: prost::Message + prost::Name + Clone,
    A: Aggregate,
{
    let mut v = Violations::default();
    let meta = parse_meta(context, &mut v, now);
    let today = china_date(meta.as_ref().map_or(now, |m| m.occurred_at));
    let body = body(&mut v, today);
    let fingerprint = fingerprint(message, clear);
    v.finish(|| {
        let (id, command, assume_new) = body?;
        Some(Parsed {
            meta: meta?,
            id,
            command,
            fingerprint,
            assume_new,
            causation_id: String::new(),
        })
    })
}

/// Folds a constructor's own violations into the collector.
fn absorb<T>(v: &mut Violations, result: Result<T, DomainError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(DomainError::Invalid(violations)) => {
            for violation in violations {
                v.push(violation);
            }
            None
        }
        Err(other) => {
            v.push(sy_domain::FieldViolation::new("command", other.to_string()));
            None
        }
    }
}

fn uuid_field(v: &mut Violations, field: &str, value: &str) -> Option<Uuid> {
    v.check(validate::aggregate_id(field, value))
}

fn not_after_today(v: &mut Violations, field: &str, value: &str, today: Date) -> Option<Date> {
    let date = v.check(validate::date(field, value))?;
    if date > today {
        v.push(sy_domain::FieldViolation::new(
            field,
            format!("{date} is in the future"),
        ));
        return None;
    }
    Some(date)
}

/// Implements `Incoming` for a message with a `context` field.
macro_rules! incoming {
    ($message:ty => $target:ty, |$m:ident, $env:ident, $actor:ident, $v:ident, $today:ident| $body:block) => {
        impl Incoming for $message {
            type Target = $target;

            fn parse(
                &self,
                $env: &Env,
                $actor: &pb::Actor,
                now: Timestamp,
            ) -> Result<Parsed<$target>, DomainError> {
                let $m = self;
                parse_with::<$message, $target>(
                    self,
                    self.context.as_ref(),
                    |m| m.context = None,
                    now,
                    |$v, $today| $body,
                )
            }
        }
    };
}

incoming!(pb::RegisterPersonCommand => Person, |m, env, _actor, v, today| {
    let role = v.check(validate::enum_value::<PersonRole>("role", m.role, None));
    let name = v.check(PersonName::parse("name", &m.name));
    let id_number = v.check(IdNumber::parse("id_number", &m.id_number, today));
    let phone = match m.phone.as_str() {
        "" => Some(None),
        phone => v.check(Phone::parse("phone", phone)).map(Some),
    };
    let area_code = v.check(AreaCode::parse("area_code", &m.area_code, &env.districts));
    let links: Vec<Option<person::Link>> = m
        .links
        .iter()
        .enumerate()
        .map(|(i, link)| {
            let relation = v.check(validate::enum_value(
                &format!("links[{i}].relation"),
                link.relation,
                None,
            ));
            let name = v.check(PersonName::parse(&format!("links[{i}].name"), &link.name));
            let unit = match link.unit.as_str() {
                "" => Some(None),
                unit => v.check(Code::parse(&format!("links[{i}].unit"), unit)).map(Some),
            };
            let person_id = match link.person_id.as_str() {
                "" => Some(None),
                id => uuid_field(v, &format!("links[{i}].person_id"), id).map(Some),
            };
            Some(person::Link {
                relation: relation?,
                name: name?,
                unit: unit?,
                person_id: person_id?,
            })
        })
        .collect();
    let id_number = id_number?;
    let id = person::person_id_for(&env.identity_key, &id_number);
    Some((
        id,
        person::Command::Register {
            role: role?,
            name: name?,
            id_number,
            phone: phone?,
            area_code: area_code?,
            links: links.into_iter().collect::<Option<Vec<_>>>()?,
        },
        true,
    ))
});

incoming!(pb::RecordTrainingCommand => Person, |m, _env, _actor, v, today| {
    let id = uuid_field(v, "person_id", &m.person_id);
    let course = v.check(text("course", &m.course, 1, person::TITLE_MAX));
    let completed_on = not_after_today(v, "completed_on", &m.completed_on, today);
    Some((
        id?,
        person::Command::RecordTraining {
            course: course?,
            hours: m.hours,
            completed_on: completed_on?,
        },
        false,
    ))
});

incoming!(pb::RecordCertificateCommand => Person, |m, _env, _actor, v, today| {
    let id = uuid_field(v, "person_id", &m.person_id);
    let certificate = v.check(text("certificate", &m.certificate, 1, person::TITLE_MAX));
    let issuer = v.check(text("issuer", &m.issuer, 1, person::TITLE_MAX));
    let issued_on = not_after_today(v, "issued_on", &m.issued_on, today);
    Some((
        id?,
        person::Command::RecordCertificate {
            certificate: certificate?,
            issuer: issuer?,
            issued_on: issued_on?,
        },
        false,
    ))
});

incoming!(pb::RegisterPlacementCommand => Placement, |m, env, _actor, v, _today| {
    let command = absorb(
        v,
        placement::Command::register(
            m.programme,
            &m.person_id,
            &m.area_code,
            &env.districts,
            m.fast_lane,
            &m.school,
            &m.grade,
        ),
    )?;
    let id = command.new_placement_id()?;
    Some((id, command, false))
});

/// A placement command addressed by `placement_id`.
fn on_placement(
    v: &mut Violations,
    placement_id: &str,
    command: Result<placement::Command, DomainError>,
) -> Option<(Uuid, placement::Command, bool)> {
    let id = uuid_field(v, "placement_id", placement_id);
    let command = absorb(v, command);
    Some((id?, command?, false))
}

incoming!(pb::MatchPlacementCommand => Placement, |m, _env, _actor, v, _today| {
    on_placement(
        v,
        &m.placement_id,
        placement::Command::match_post(
            &m.employer,
            &m.post,
            m.profession_matched,
            m.post_matched,
            m.rank_matched,
        ),
    )
});

incoming!(pb::PutOnDutyCommand => Placement, |m, _env, _actor, v, today| {
    let on = if m.on_duty_date.is_empty() {
        today.to_string()
    } else {
        m.on_duty_date.clone()
    };
    on_placement(v, &m.placement_id, placement::Command::put_on_duty(&on, today))
});

incoming!(pb::DeclinePlacementCommand => Placement, |m, _env, _actor, v, _today| {
    on_placement(v, &m.placement_id, placement::Command::decline(&m.reason))
});

incoming!(pb::WithdrawPlacementCommand => Placement, |m, _env, _actor, v, _today| {
    on_placement(v, &m.placement_id, placement::Command::withdraw(&m.reason))
});

incoming!(pb::RecommendToTalentPoolCommand => Placement, |m, env, _actor, v, _today| {
    on_placement(
        v,
        &m.placement_id,
        placement::Command::recommend_to_talent_pool(&m.community_code, &env.districts, &m.note),
    )
});

incoming!(pb::AcceptSchoolRequestCommand => Placement, |m, _env, _actor, v, _today| {
    on_placement(v, &m.placement_id, placement::Command::accept_school_request(&m.note))
});

incoming!(pb::DeclineSchoolRequestCommand => Placement, |m, _env, _actor, v, _today| {
    on_placement(v, &m.placement_id, placement::Command::decline_school_request(&m.reason))
});

incoming!(pb::EnrollInSchoolCommand => Placement, |m, _env, _actor, v, _today| {
    on_placement(v, &m.placement_id, placement::Command::enroll_in_school(&m.school))
});

incoming!(pb::GrantAllowanceCommand => Allowance, |m, _env, _actor, v, _today| {
    let person_id = uuid_field(v, "person_id", &m.person_id);
    if !allowance::MONTHLY_AMOUNT_FEN.contains(&m.monthly_amount_fen) {
        v.push(sy_domain::FieldViolation::new(
            "monthly_amount_fen",
            format!(
                "must be a positive number of fen, at most {}",
                allowance::MONTHLY_AMOUNT_FEN.end()
            ),
        ));
    }
    let from_month = v.check(Month::parse("from_month", &m.from_month));
    let person_id = person_id?;
    Some((
        allowance::allowance_id_for(&person_id),
        allowance::Command::Grant {
            person_id,
            monthly_amount_fen: m.monthly_amount_fen,
            from_month: from_month?,
        },
        false,
    ))
});

incoming!(pb::PayAllowanceCommand => Allowance, |m, _env, _actor, v, _today| {
    let person_id = uuid_field(v, "person_id", &m.person_id);
    let month = v.check(Month::parse("month", &m.month));
    Some((
        allowance::allowance_id_for(&person_id?),
        allowance::Command::Pay { month: month? },
        false,
    ))
});

incoming!(pb::StopAllowanceCommand => Allowance, |m, _env, _actor, v, _today| {
    let person_id = uuid_field(v, "person_id", &m.person_id);
    let reason = v.check(text("reason", &m.reason, 1, 500));
    Some((
        allowance::allowance_id_for(&person_id?),
        allowance::Command::Stop {
            reason: reason?,
            automatic: false,
        },
        false,
    ))
});

incoming!(pb::OpenStationCommand => Station, |m, env, actor, v, _today| {
    let area_code = v.check(AreaCode::parse("area_code", &m.area_code, &env.districts));
    let key = m.context.as_ref().map(|c| c.idempotency_key.as_str()).unwrap_or_default();
    Some((
        station::station_id_for(&actor.agency, key),
        station::Command::Open {
            name: m.name.clone(),
            seats: m.seats,
            opening_hours: m.opening_hours.clone(),
            area_code: area_code?,
            address: m.address.clone(),
        },
        true,
    ))
});

incoming!(pb::ChangeStationSeatsCommand => Station, |m, _env, _actor, v, _today| {
    let id = uuid_field(v, "station_id", &m.station_id);
    Some((id?, station::Command::ChangeSeats { seats: m.seats }, false))
});

incoming!(pb::EnrollChildCommand => Station, |m, _env, _actor, v, today| {
    let id = uuid_field(v, "station_id", &m.station_id);
    let child_id = uuid_field(v, "child_person_id", &m.child_person_id);
    Some((
        id?,
        station::Command::Enroll {
            child_id: child_id?,
            on: today,
        },
        false,
    ))
});

incoming!(pb::WithdrawChildCommand => Station, |m, _env, _actor, v, _today| {
    let id = uuid_field(v, "station_id", &m.station_id);
    let child_id = uuid_field(v, "child_person_id", &m.child_person_id);
    Some((
        id?,
        station::Command::Withdraw {
            child_id: child_id?,
            reason: m.reason.clone(),
        },
        false,
    ))
});
