//! What the fuzz targets run, kept out of `fuzz_targets/` so the corpus test
//! (`tests/corpus.rs`) and the seed writer run the same code:
//!
//! - [`parse_command`]: the first byte picks one of the API's command
//!   messages ([`COMMANDS`]), the rest is decoded as that message and, when
//!   it decodes, parsed by `CommandMessage::parse` as intake does, then
//!   decided on a new aggregate of its kind;
//! - [`fold_events`]: the bytes are a sequence of length-delimited
//!   `EventEnvelope`s, each decoded, upcast and folded by `Aggregate::apply`
//!   of every kind (as the projection and intake do), with the follow-ups it
//!   implies.
//!
//! Neither may panic on any input, and a refused event must leave the state
//! as it was (the contract of `Aggregate::apply`), which the fold asserts.

use jiff::Timestamp;
use prost::Message;
use sy_domain::aggregate::Aggregate;
use sy_domain::allowance::Allowance;
use sy_domain::command_meta::{CommandMessage, ParseEnv};
use sy_domain::follow_up::{FollowUp, Implies};
use sy_domain::pb;
use sy_domain::person::Person;
use sy_domain::placement::Placement;
use sy_domain::station::Station;
use sy_domain::upcast::upcast;
use sy_domain::validate::Districts;

pub mod seeds;

/// The districts every parse runs against (Chongqing's Shapingba).
pub const DISTRICTS: &str = "500106";
/// The agency every command is sent as.
pub const AGENCY: &str = "unit-31001";

/// The deployment every command is parsed in: [`DISTRICTS`] and a fixed
/// identity key (person ids only need to be stable within a run).
pub fn env() -> ParseEnv {
    ParseEnv {
        districts: Districts::parse(DISTRICTS).expect("DISTRICTS is a valid list"),
        identity_key: [7; 32],
    }
}

/// The caller of every command: [`AGENCY`].
pub fn actor() -> pb::Actor {
    pb::Actor {
        agency: AGENCY.into(),
        user: "fuzzer".into(),
    }
}

/// The instant every command is parsed at (fixed, so runs reproduce).
pub fn now() -> Timestamp {
    Timestamp::from_second(1_796_090_400).expect("2026-12-01T02:00:00Z is in range")
}

/// One command message: its protobuf full name, and how its bytes are run.
pub struct CommandTarget {
    /// `M::full_name()` of the message (`shuangyong.v1.SubmitRequestCommand`).
    pub name: fn() -> String,
    /// Decodes, parses and decides bytes as this message.
    pub run: fn(&[u8]),
}

/// Lists every command message intake accepts as a [`CommandTarget`].
macro_rules! command_targets {
    ($($message:ty),+ $(,)?) => {
        /// Every command message intake accepts; [`parse_command`]'s first
        /// byte indexes it (modulo its length).
        pub const COMMANDS: &[CommandTarget] = &[$(CommandTarget {
            name: <$message as prost::Name>::full_name,
            run: parse_as::<$message>,
        }),+];
    };
}

command_targets!(
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
    pb::RegisterPersonCommand,
    pb::RecordTrainingCommand,
    pb::RecordCertificateCommand,
    pb::RegisterPlacementCommand,
    pb::MatchPlacementCommand,
    pb::PutOnDutyCommand,
    pb::DeclinePlacementCommand,
    pb::WithdrawPlacementCommand,
    pb::RecommendToTalentPoolCommand,
    pb::AcceptSchoolRequestCommand,
    pb::DeclineSchoolRequestCommand,
    pb::EnrollInSchoolCommand,
    pb::GrantAllowanceCommand,
    pb::PayAllowanceCommand,
    pb::StopAllowanceCommand,
    pb::OpenStationCommand,
    pb::ChangeStationSeatsCommand,
    pb::EnrollChildCommand,
    pb::WithdrawChildCommand,
    // Added after the first corpus: appended, so earlier seeds keep their
    // first byte's meaning.
    pb::AddSubTaskCommand,
    pb::CompleteSubTaskCommand,
    pb::RecordInspectionCommand,
);

/// The index of message `M` in [`COMMANDS`] (the first byte of its seeds).
pub fn command_index<M: prost::Name>() -> u8 {
    let name = M::full_name();
    let index = COMMANDS
        .iter()
        .position(|target| (target.name)() == name)
        .expect("every command message is listed in COMMANDS");
    u8::try_from(index).expect("fewer than 256 command messages")
}

/// Fuzz target `command_parse`: `data[0]` picks the message, the rest is it.
pub fn parse_command(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    (COMMANDS[usize::from(selector) % COMMANDS.len()].run)(body);
}

/// Decodes `body` as `M`, parses it and decides it on a new aggregate.
fn parse_as<M: CommandMessage + Default>(body: &[u8]) {
    let Ok(message) = M::decode(body) else {
        return;
    };
    let actor = actor();
    if let Ok(parsed) = message.parse(&env(), &actor, now()) {
        // Refusals are expected here (most commands need an existing
        // aggregate); only a panic is a finding.
        let _ = M::Target::default().decide(&parsed.command, &Default::default(), &actor);
    }
}

/// The state of one aggregate of every kind, folded from one sequence.
#[derive(Default)]
struct Fold {
    request: pb::Request,
    person: Person,
    placement: Placement,
    allowance: Allowance,
    station: Station,
}

/// Fuzz target `event_fold`: `data` is a sequence of length-delimited
/// envelopes, folded in order at positions 1, 2, ...; the sequence ends at
/// the first bytes that do not decode.
pub fn fold_events(data: &[u8]) {
    let mut fold = Fold::default();
    let mut rest = data;
    let mut position = 0;
    while !rest.is_empty() {
        let Ok(envelope) = pb::EventEnvelope::decode_length_delimited(&mut rest) else {
            return;
        };
        position += 1;
        let Ok(envelope) = upcast(envelope) else {
            continue;
        };
        let follow_ups = [
            fold_into(&mut fold.request, &envelope, position),
            fold_into(&mut fold.person, &envelope, position),
            fold_into(&mut fold.placement, &envelope, position),
            fold_into(&mut fold.allowance, &envelope, position),
            fold_into(&mut fold.station, &envelope, position),
        ];
        for follow_up in follow_ups.into_iter().flatten() {
            let FollowUp::Allowance(implied) = follow_up;
            (implied.needed)(&fold.allowance);
        }
    }
}

/// Folds `envelope` into `state` and returns the follow-ups it implies;
/// asserts that a refused event leaves the state unchanged and that an
/// applied one advances the version by one.
fn fold_into<A>(state: &mut A, envelope: &pb::EventEnvelope, position: u64) -> Vec<FollowUp>
where
    A: Implies + PartialEq + std::fmt::Debug,
{
    let before = state.clone();
    match (state.apply(envelope, position), &envelope.payload) {
        (Ok(()), Some(payload)) => {
            assert_eq!(
                state.version(),
                before.version() + 1,
                "an applied event advances the version by one"
            );
            state.follow_ups(payload)
        }
        (Ok(()), None) => panic!("{} applied an envelope without a payload", A::KIND),
        (Err(_), _) => {
            assert_eq!(*state, before, "a refused event leaves the state unchanged");
            Vec::new()
        }
    }
}
