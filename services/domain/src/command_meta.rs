//! The one way every kind's command messages are parsed: [`CommandMessage`],
//! implemented by each protobuf command in its kind's `command.rs`, turns a
//! message into a [`Parsed`] command for that kind's aggregate, naming every
//! bad field at once. Here too is what every command carries besides its own
//! fields (`CommandContext`): the idempotency key, a correlation id, when it
//! occurred, the version the caller last saw; and the command's fingerprint,
//! which lets a retried key be told apart from a reused one.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use crate::aggregate::{Aggregate, Implied};
use crate::error::{DomainError, FieldViolation};
use crate::event::to_jiff;
use crate::pb;
use crate::validate::{Districts, IdempotencyKey, Violations, china_date, text};

const CORRELATION_MAX: usize = 128;
/// How far back a caller may date an event.
const MAX_BACKDATE: SignedDuration = SignedDuration::from_hours(366 * 24);
/// Clock skew tolerated for a caller-supplied `occurred_at`.
const MAX_SKEW: SignedDuration = SignedDuration::from_secs(60);

/// What every command carries besides its own fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// The caller's key: a retry with the same key records nothing new.
    pub idempotency_key: IdempotencyKey,
    /// The caller's id tying related commands together in logs and events.
    pub correlation_id: String,
    /// When it happened: the caller's `occurred_at`, else the time of parsing.
    pub occurred_at: Timestamp,
    /// Non-zero: the version the caller last saw.
    pub expected_version: u64,
}

/// What parsing needs to know of the deployment.
#[derive(Clone)]
pub struct ParseEnv {
    /// Area codes of the districts this deployment serves.
    pub districts: Districts,
    /// Secret that person ids are derived from (with the ID number).
    pub identity_key: [u8; 32],
}

/// What a message's own fields are parsed against.
pub struct Input<'a> {
    /// The deployment's settings.
    pub env: &'a ParseEnv,
    /// Who sends the command (agency and user, from the call's metadata).
    pub actor: &'a pb::Actor,
    /// The day the command occurred, in China.
    pub today: Date,
    /// The idempotency key as sent: the ids of aggregates a command creates
    /// derive from it (only used when it parsed).
    pub idempotency_key: &'a str,
}

/// A command ready for the pipeline.
#[derive(Debug)]
pub struct Parsed<A: Aggregate> {
    /// Its context: idempotency key, correlation id, time, expected version.
    pub meta: Meta,
    /// The aggregate the command addresses.
    pub id: Uuid,
    /// The validated command.
    pub command: A::Command,
    /// Hash of the command without its context: a retry with the same key
    /// must carry the same fingerprint.
    pub fingerprint: [u8; 32],
    /// The command creates its aggregate, which most likely does not exist.
    pub assume_new: bool,
    /// The event that caused this command, for follow-ups; empty otherwise.
    pub causation_id: String,
}

/// A command message of the API, parsed into its kind's command.
pub trait CommandMessage: prost::Message + prost::Name + Clone + Send + Sync + 'static {
    /// The aggregate kind the command addresses.
    type Target: Aggregate;
    /// The command creates its aggregate (so it most likely does not exist).
    const CREATES: bool = false;

    /// The message's command context (idempotency key, correlation id...).
    fn context(&self) -> Option<&pb::CommandContext>;
    /// Drops the context, so the fingerprint covers the command's own fields.
    fn clear_context(&mut self);

    /// Parses the message's own fields into the addressed aggregate's id and
    /// the command, recording every bad field in `v`.
    fn body(
        &self,
        v: &mut Violations,
        input: &Input<'_>,
    ) -> Option<(Uuid, <Self::Target as Aggregate>::Command)>;

    /// Validates the whole message, or names every bad field.
    fn parse(
        &self,
        env: &ParseEnv,
        actor: &pb::Actor,
        now: Timestamp,
    ) -> Result<Parsed<Self::Target>, DomainError> {
        let mut v = Violations::default();
        let context = self.context();
        let meta = parse_meta(context, &mut v, now);
        let input = Input {
            env,
            actor,
            today: china_date(meta.as_ref().map_or(now, |m| m.occurred_at)),
            idempotency_key: context.map_or("", |c| c.idempotency_key.as_str()),
        };
        let body = self.body(&mut v, &input);
        v.finish(|| {
            let (id, command) = body?;
            Some(Parsed {
                meta: meta?,
                id,
                command,
                fingerprint: fingerprint(self, Self::clear_context),
                assume_new: Self::CREATES,
                causation_id: String::new(),
            })
        })
    }
}

/// Implements `CommandMessage`'s context accessors for a message with a
/// `context` field (every command message has one).
macro_rules! context_accessors {
    () => {
        fn context(&self) -> Option<&$crate::pb::CommandContext> {
            self.context.as_ref()
        }
        fn clear_context(&mut self) {
            self.context = None;
        }
    };
}
pub(crate) use context_accessors;

/// Implements `CommandMessage` for messages on an existing aggregate of kind
/// `$target`, addressed by the message's id field `$field` (a UUID; mapped
/// through `$to_id` when given): a table of each message and how its own
/// fields parse into the command, as `|message, violations, input| fields`.
macro_rules! on_existing {
    ($target:ty, $field:ident; $($table:tt)+) => {
        $crate::command_meta::on_existing!($target, $field => $crate::command_meta::as_is; $($table)+);
    };
    (
        $target:ty, $field:ident => $to_id:expr;
        $($message:ty => |$m:ident, $v:pat_param, $input:pat_param| $fields:expr;)+
    ) => {$(
        impl $crate::command_meta::CommandMessage for $message {
            type Target = $target;
            $crate::command_meta::context_accessors!();

            fn body(
                &self,
                v: &mut $crate::validate::Violations,
                input: &$crate::command_meta::Input<'_>,
            ) -> Option<(uuid::Uuid, <$target as $crate::aggregate::Aggregate>::Command)> {
                let id = v
                    .check($crate::validate::aggregate_id(stringify!($field), &self.$field))
                    .map($to_id);
                let ($m, $v, $input) = (self, &mut *v, input);
                let command = $fields;
                Some((id?, command?))
            }
        }
    )+};
}
pub(crate) use on_existing;

/// The id a message names, when it is the addressed aggregate's own.
pub(crate) fn as_is(id: Uuid) -> Uuid {
    id
}

/// The command a follow-up issues, caused by the event `caused_by`: its key
/// derives from that event, so issuing it again is a replay, not a repeat.
pub fn follow_up<A: Aggregate>(
    implied: Implied<A>,
    caused_by: &str,
    now: Timestamp,
) -> Result<Parsed<A>, DomainError> {
    let key = format!("{}/{caused_by}", implied.key_prefix);
    issued(implied.id, implied.command, &key, caused_by, now)
}

/// A command intake issues on its own (a follow-up, a supervision clock),
/// with no caller's context: `key` is its idempotency key and, as it names
/// everything the command holds, the source of its fingerprint; issuing it
/// again is a replay, not a repeat.
pub fn issued<A: Aggregate>(
    id: Uuid,
    command: A::Command,
    key: &str,
    causation_id: &str,
    now: Timestamp,
) -> Result<Parsed<A>, DomainError> {
    let idempotency_key = IdempotencyKey::parse("context.idempotency_key", key)
        .map_err(|violation| DomainError::Invalid(vec![violation]))?;
    Ok(Parsed {
        meta: Meta {
            idempotency_key,
            correlation_id: String::new(),
            occurred_at: now,
            expected_version: 0,
        },
        id,
        command,
        fingerprint: *blake3::hash(key.as_bytes()).as_bytes(),
        assume_new: false,
        causation_id: causation_id.to_string(),
    })
}

/// Parses a command's context; `None` (with violations) when it is bad.
pub fn parse_meta(
    context: Option<&pb::CommandContext>,
    v: &mut Violations,
    now: Timestamp,
) -> Option<Meta> {
    let Some(context) = context else {
        v.push(FieldViolation::new(
            "context.idempotency_key",
            "is required",
        ));
        return None;
    };
    let key = v.check(IdempotencyKey::parse(
        "context.idempotency_key",
        &context.idempotency_key,
    ));
    let correlation_id = v.check(text(
        "context.correlation_id",
        &context.correlation_id,
        0,
        CORRELATION_MAX,
    ));
    let occurred_at = match &context.occurred_at {
        None => Some(now),
        Some(ts) => v.check(occurred_at(to_jiff(Some(ts)), now)),
    };
    Some(Meta {
        idempotency_key: key?,
        correlation_id: correlation_id?,
        occurred_at: occurred_at?,
        expected_version: context.expected_version,
    })
}

fn occurred_at(ts: Option<Timestamp>, now: Timestamp) -> Result<Timestamp, FieldViolation> {
    const FIELD: &str = "context.occurred_at";
    let ts = ts.ok_or_else(|| FieldViolation::new(FIELD, "is not a valid timestamp"))?;
    if ts > now + MAX_SKEW {
        return Err(FieldViolation::new(FIELD, "must not be in the future"));
    }
    if ts < now - MAX_BACKDATE {
        return Err(FieldViolation::new(
            FIELD,
            "must be within the last 366 days",
        ));
    }
    Ok(ts)
}

/// Hash of the command without its context (`clear` removes it).
pub fn fingerprint<M: prost::Message + prost::Name + Clone>(
    message: &M,
    clear: impl FnOnce(&mut M),
) -> [u8; 32] {
    let mut body = message.clone();
    clear(&mut body);
    let mut hasher = blake3::Hasher::new();
    hasher.update(M::full_name().as_bytes());
    hasher.update(&[0]);
    hasher.update(&body.encode_to_vec());
    *hasher.finalize().as_bytes()
}

/// Parsing through `CommandMessage`, one message of each kind (each kind's
/// own fields are tested with its commands; the end-to-end validation suite
/// checks every message through the API).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowance::{self, Allowance};
    use crate::placement::Placement;
    use crate::{person, station};

    fn env() -> ParseEnv {
        ParseEnv {
            districts: Districts::parse("500106").unwrap(),
            identity_key: [7; 32],
        }
    }

    fn actor() -> pb::Actor {
        pb::Actor {
            agency: "district-veterans-bureau".into(),
            user: "tester".into(),
        }
    }

    fn now() -> Timestamp {
        "2026-12-01T02:00:00Z".parse().unwrap()
    }

    fn context(key: &str) -> Option<pb::CommandContext> {
        Some(pb::CommandContext {
            idempotency_key: key.into(),
            correlation_id: "c-1".into(),
            ..Default::default()
        })
    }

    fn fields<A: Aggregate>(result: Result<Parsed<A>, DomainError>) -> Vec<String> {
        match result {
            Err(DomainError::Invalid(violations)) => {
                violations.into_iter().map(|v| v.field).collect()
            }
            Err(other) => panic!("expected invalid, got {other}"),
            Ok(_) => panic!("expected invalid, got a command"),
        }
    }

    const PERSON: &str = "0190f0c2-7a44-7c3e-9d1e-3b8f1a2c4d5e";

    #[test]
    fn creating_commands_derive_their_aggregate_id() {
        let open = pb::OpenStationCommand {
            context: context("s-1"),
            area_code: "500106001002".into(),
            ..Default::default()
        };
        let parsed = open.parse(&env(), &actor(), now()).unwrap();
        assert!(parsed.assume_new);
        assert_eq!(
            parsed.id,
            station::station_id_for("district-veterans-bureau", "s-1")
        );
        assert_eq!(parsed.meta.correlation_id, "c-1");

        let pay = pb::PayAllowanceCommand {
            context: context("p-1"),
            person_id: PERSON.into(),
            month: "2026-11".into(),
        };
        let parsed = pay.parse(&env(), &actor(), now()).unwrap();
        assert!(!parsed.assume_new);
        assert_eq!(
            parsed.id,
            allowance::allowance_id_for(&PERSON.parse().unwrap())
        );
    }

    #[test]
    fn every_bad_field_of_any_kind_is_named_at_once() {
        let register = pb::RegisterPersonCommand {
            context: None,
            role: 0,
            links: vec![pb::PersonLink::default()],
            ..Default::default()
        };
        let mut got = fields(register.parse(&env(), &actor(), now()));
        got.sort();
        assert_eq!(
            got,
            [
                "area_code",
                "context.idempotency_key",
                "id_number",
                "links[0].name",
                "links[0].relation",
                "name",
                "role"
            ]
        );
        let decline = pb::DeclinePlacementCommand {
            context: context("d-1"),
            placement_id: "nope".into(),
            reason: " ".into(),
        };
        assert_eq!(
            fields::<Placement>(decline.parse(&env(), &actor(), now())),
            ["placement_id", "reason"]
        );
        let training = pb::RecordTrainingCommand {
            context: context("t-1"),
            person_id: PERSON.into(),
            course: "育婴师".into(),
            hours: 40,
            completed_on: "2026-12-02".into(),
        };
        assert_eq!(
            fields::<person::Person>(training.parse(&env(), &actor(), now())),
            ["completed_on"]
        );
    }

    #[test]
    fn too_many_links_are_one_violation_naming_the_list() {
        let register = |links: usize| pb::RegisterPersonCommand {
            context: context("r-1"),
            links: vec![pb::PersonLink::default(); links],
            ..Default::default()
        };
        let result = register(150_000).parse(&env(), &actor(), now());
        let Err(DomainError::Invalid(violations)) = result else {
            panic!("expected invalid");
        };
        let links: Vec<_> = violations
            .iter()
            .filter(|v| v.field.starts_with("links"))
            .collect();
        assert_eq!(links.len(), 1, "{links:?}");
        assert_eq!(links[0].field, "links");
        assert_eq!(links[0].reason, "has 150000 links; at most 8 are allowed");
        // At the cap, each link is still checked on its own.
        let got =
            fields::<person::Person>(register(person::MAX_LINKS).parse(&env(), &actor(), now()));
        assert!(got.contains(&"links[7].name".to_string()), "{got:?}");
        assert!(!got.contains(&"links".to_string()), "{got:?}");
    }

    #[test]
    fn a_follow_up_is_keyed_and_caused_by_its_event() {
        let person_id = PERSON.parse().unwrap();
        let implied = allowance::stop_on_placement(&person_id);
        let parsed: Parsed<Allowance> = follow_up(implied, "event-9", now()).unwrap();
        assert_eq!(parsed.meta.idempotency_key.as_str(), "auto-stop/event-9");
        assert_eq!(parsed.causation_id, "event-9");
        assert_eq!(
            parsed.fingerprint,
            *blake3::hash(b"auto-stop/event-9").as_bytes()
        );
        assert_eq!(parsed.id, allowance::allowance_id_for(&person_id));
        assert!(!parsed.assume_new);
    }
}
