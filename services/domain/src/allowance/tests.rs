//! given(events) / when(command) / then(event or error) for every command in
//! every state, the sums for statistics, the fold's refusals, and a property
//! test of any command sequence.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::date;
use proptest::prelude::*;

use super::*;
use crate::aggregate::testing::{actor, envelope, run};
use crate::aggregate::{Aggregate, ApplyError, PersonFacts};
use crate::error::DomainError;
use crate::pb::{self, PersonRole};

/// About 1,250 yuan a month.
const AMOUNT: i64 = 125_000;

fn person_id() -> uuid::Uuid {
    uuid::Uuid::from_u128(0x0195_0000_0000_8000_8000_0000_0000_0001)
}

fn id() -> String {
    allowance_id_for(&person_id()).to_string()
}

fn month(value: &str) -> Month {
    Month::parse("month", value).unwrap()
}

fn person(role: PersonRole) -> PersonFacts {
    PersonFacts {
        id: person_id().to_string(),
        role,
        birth_date: date(1990, 3, 15),
        area_code: "500106001002".into(),
    }
}

/// A registered spouse, placed or not.
fn spouse(placed: bool) -> AllowanceFacts {
    AllowanceFacts {
        person: Some(person(PersonRole::MilitarySpouse)),
        spouse_placed: placed,
    }
}

fn grant(amount: i64, from: &str) -> Command {
    Command::Grant {
        person_id: person_id(),
        monthly_amount_fen: amount,
        from_month: month(from),
    }
}

fn pay(m: &str) -> Command {
    Command::Pay { month: month(m) }
}

fn stop(automatic: bool) -> Command {
    Command::Stop {
        reason: if automatic {
            "已上岗"
        } else {
            "本人申请"
        }
        .into(),
        automatic,
    }
}

/// The allowance after `commands`, each decided for an unplaced spouse and
/// folded an hour after the previous one.
fn given(commands: &[Command]) -> Allowance {
    let mut state = Allowance::new(id());
    for (hour, command) in commands.iter().enumerate() {
        run(&mut state, &id(), command, &spouse(false), hour as i64);
    }
    state
}

fn decide(
    state: &Allowance,
    command: &Command,
    facts: &AllowanceFacts,
) -> Result<Payload, DomainError> {
    state.decide(command, facts, &actor("district-veterans-bureau"))
}

fn rule_violated(result: Result<Payload, DomainError>) -> String {
    match result {
        Err(DomainError::RuleViolated(message)) => message,
        other => panic!("expected RuleViolated, got {other:?}"),
    }
}

fn invalid_field(result: Result<Payload, DomainError>) -> String {
    match result {
        Err(DomainError::Invalid(violations)) if violations.len() == 1 => {
            violations[0].field.clone()
        }
        other => panic!("expected one Invalid field, got {other:?}"),
    }
}

/// What a command yields in a state.
#[derive(Debug)]
enum Then {
    Event(&'static str),
    NotFound,
    /// `RuleViolated` whose message contains this.
    Rule(&'static str),
}

#[test]
fn every_command_in_every_state() {
    let never = given(&[]);
    let granted = given(&[grant(AMOUNT, "2026-01")]);
    let paid = given(&[grant(AMOUNT, "2026-01"), pay("2026-01")]);
    let stopped = given(&[grant(AMOUNT, "2026-01"), pay("2026-01"), stop(false)]);
    let regranted = given(&[
        grant(AMOUNT, "2026-01"),
        pay("2026-01"),
        stop(false),
        grant(AMOUNT, "2026-04"),
    ]);
    let states = [
        ("never granted", never),
        ("granted", granted),
        ("granted and paid", paid),
        ("stopped", stopped),
        ("granted again", regranted),
    ];
    for (name, state) in states {
        for (what, command) in [
            ("grant", grant(AMOUNT, "2026-06")),
            ("pay", pay("2026-02")),
            ("pay again", pay("2026-01")),
            ("stop", stop(false)),
        ] {
            let then = match (name, what) {
                ("never granted", "grant") | ("stopped", "grant") => {
                    Then::Event("AllowanceGranted")
                }
                ("never granted", _) => Then::NotFound,
                (_, "grant") => Then::Rule("already granted"),
                ("stopped", "stop") => Then::Rule("already stopped"),
                ("stopped", _) => Then::Rule("stopped; grant it again"),
                (_, "stop") => Then::Event("AllowanceStopped"),
                ("granted", _) => Then::Event("AllowancePaid"),
                ("granted and paid", "pay") => Then::Event("AllowancePaid"),
                ("granted and paid", "pay again") => Then::Rule("2026-01 is already paid"),
                ("granted again", _) => Then::Rule("the allowance is paid from 2026-04"),
                other => unreachable!("{other:?}"),
            };
            let result = decide(&state, &command, &spouse(false));
            match then {
                Then::Event(event_type) => {
                    let payload =
                        result.unwrap_or_else(|e| panic!("{what} when {name} must be legal: {e}"));
                    assert_eq!(crate::event::event_type(&payload), event_type);
                    let mut next = state.clone();
                    next.apply(&envelope(&next, &id(), payload, 9), 9)
                        .expect("a decided event applies");
                    assert_eq!(next.version(), state.version() + 1);
                }
                Then::NotFound => assert_eq!(
                    result,
                    Err(DomainError::NotFound {
                        kind: "allowance",
                        id: id()
                    }),
                    "{what} when {name}"
                ),
                Then::Rule(part) => {
                    let message = rule_violated(result);
                    assert!(message.contains(part), "{what} when {name}: {message}");
                }
            }
        }
    }
}

#[test]
fn a_grant_records_the_period() {
    let state = given(&[grant(AMOUNT, "2026-01")]);
    assert_eq!(state.id(), id());
    assert_eq!(state.person_id(), Some(person_id()));
    assert_eq!(state.status(), Some(AllowanceStatus::Granted));
    assert_eq!(state.monthly_amount_fen(), Some(AMOUNT));
    assert_eq!(state.from_month(), Some(month("2026-01")));
    assert_eq!(state.stop(), None);
    assert_eq!(state.periods().len(), 1);
    assert_eq!(
        state.periods()[0].granted_at.map(|t| t.as_second()),
        Some(1_780_272_000)
    );
    assert_eq!(state.total_paid_fen(), 0);
    let never = Allowance::default();
    assert_eq!(never.status(), None);
    assert_eq!(never.person_id(), None);
    assert_eq!(never.monthly_amount_fen(), None);
}

#[test]
fn a_grant_needs_a_registered_unplaced_spouse() {
    let never = given(&[]);
    let g = grant(AMOUNT, "2026-01");
    let not_found = Err(DomainError::NotFound {
        kind: "person",
        id: person_id().to_string(),
    });
    assert_eq!(decide(&never, &g, &AllowanceFacts::default()), not_found);
    // Facts about someone else do not count.
    let mut other = person(PersonRole::MilitarySpouse);
    other.id = uuid::Uuid::nil().to_string();
    let facts = AllowanceFacts {
        person: Some(other),
        spouse_placed: false,
    };
    assert_eq!(decide(&never, &g, &facts), not_found);
    for role in [PersonRole::Veteran, PersonRole::MilitaryChild] {
        let facts = AllowanceFacts {
            person: Some(person(role)),
            spouse_placed: false,
        };
        let message = rule_violated(decide(&never, &g, &facts));
        assert!(message.contains("for military spouses"), "{message}");
    }
    let message = rule_violated(decide(&never, &g, &spouse(true)));
    assert!(message.contains("is placed"), "{message}");
    assert!(decide(&never, &g, &spouse(false)).is_ok());
}

#[test]
fn monthly_amounts_are_positive_fen_up_to_ten_thousand_yuan() {
    let never = given(&[]);
    for amount in [0, -1, 1_000_001, i64::MIN, i64::MAX] {
        assert_eq!(
            invalid_field(decide(&never, &grant(amount, "2026-01"), &spouse(false))),
            "monthly_amount_fen",
            "{amount}"
        );
        // Invalid comes first, before the facts are read.
        assert_eq!(
            invalid_field(decide(
                &never,
                &grant(amount, "2026-01"),
                &AllowanceFacts::default()
            )),
            "monthly_amount_fen"
        );
    }
    for amount in [1, 1_000_000] {
        assert!(decide(&never, &grant(amount, "2026-01"), &spouse(false)).is_ok());
    }
}

#[test]
fn a_grant_for_another_person_on_this_allowance_is_invalid() {
    let stopped = given(&[grant(AMOUNT, "2026-01"), stop(false)]);
    let other = uuid::Uuid::from_u128(42);
    let command = Command::Grant {
        person_id: other,
        monthly_amount_fen: AMOUNT,
        from_month: month("2026-06"),
    };
    assert_eq!(
        invalid_field(decide(&stopped, &command, &spouse(false))),
        "person_id"
    );
}

#[test]
fn payments_pay_the_monthly_amount_once_per_month_from_the_first_month() {
    let mut state = given(&[grant(AMOUNT, "2026-03")]);
    let message = rule_violated(decide(&state, &pay("2026-02"), &spouse(false)));
    assert_eq!(
        message,
        "cannot pay 2026-02: the allowance is paid from 2026-03"
    );

    let payload = run(&mut state, &id(), &pay("2026-03"), &spouse(false), 1);
    assert_eq!(
        payload,
        Payload::AllowancePaid(pb::AllowancePaid {
            month: "2026-03".into(),
            amount_fen: AMOUNT,
        })
    );
    assert_eq!(
        rule_violated(decide(&state, &pay("2026-03"), &spouse(false))),
        format!("2026-03 is already paid ({AMOUNT} fen)")
    );
    // Months need not be paid in order (a late month is caught up later).
    run(&mut state, &id(), &pay("2026-05"), &spouse(false), 2);
    run(&mut state, &id(), &pay("2026-04"), &spouse(false), 3);
    assert_eq!(
        state
            .paid()
            .keys()
            .map(|m| m.to_string())
            .collect::<Vec<_>>(),
        ["2026-03", "2026-04", "2026-05"]
    );
    assert_eq!(state.total_paid_fen(), 3 * AMOUNT);
}

#[test]
fn a_placed_spouse_is_not_paid_until_the_allowance_is_stopped() {
    let state = given(&[grant(AMOUNT, "2026-01")]);
    let message = rule_violated(decide(&state, &pay("2026-01"), &spouse(true)));
    assert!(message.contains("stop the allowance first"), "{message}");
    // Stopping needs no facts: the placement stops it automatically.
    assert!(decide(&state, &stop(true), &spouse(true)).is_ok());
}

#[test]
fn stops_record_why_and_how() {
    let mut state = given(&[grant(AMOUNT, "2026-01"), pay("2026-01")]);
    assert_eq!(
        invalid_field(decide(
            &state,
            &Command::Stop {
                reason: "  ".into(),
                automatic: false
            },
            &spouse(false)
        )),
        "reason"
    );
    assert_eq!(
        invalid_field(decide(
            &given(&[]),
            &Command::Stop {
                reason: String::new(),
                automatic: true
            },
            &spouse(false)
        )),
        "reason"
    );
    run(&mut state, &id(), &stop(true), &spouse(true), 5);
    assert_eq!(state.status(), Some(AllowanceStatus::Stopped));
    let stopped = state.stop().unwrap();
    assert_eq!(stopped.reason, "已上岗");
    assert!(stopped.automatic);
    assert_eq!(
        stopped.stopped_at.map(|t| t.as_second()),
        Some(1_780_272_000 + 5 * 3600)
    );
    assert!(rule_violated(decide(&state, &pay("2026-02"), &spouse(false))).contains("stopped"));
}

#[test]
fn granting_again_keeps_the_history() {
    let mut state = given(&[
        grant(AMOUNT, "2026-01"),
        pay("2026-01"),
        pay("2026-02"),
        stop(true),
    ]);
    for from in ["2026-01", "2026-02"] {
        let message = rule_violated(decide(&state, &grant(AMOUNT, from), &spouse(false)));
        assert_eq!(
            message,
            format!("from_month {from} must come after the last month paid (2026-02)")
        );
    }
    run(
        &mut state,
        &id(),
        &grant(150_000, "2026-06"),
        &spouse(false),
        5,
    );
    run(&mut state, &id(), &pay("2026-06"), &spouse(false), 6);
    assert_eq!(state.status(), Some(AllowanceStatus::Granted));
    assert_eq!(state.periods().len(), 2);
    assert!(state.periods()[0].stop.as_ref().unwrap().automatic);
    assert_eq!(state.stop(), None);
    assert_eq!(state.from_month(), Some(month("2026-06")));
    assert_eq!(state.paid_for(month("2026-01")), Some(AMOUNT));
    assert_eq!(state.paid_for(month("2026-06")), Some(150_000));
    assert_eq!(state.paid_for(month("2026-03")), None);
    assert_eq!(state.total_paid_fen(), 2 * AMOUNT + 150_000);
    // The gap between the periods stays unpaid.
    assert!(
        rule_violated(decide(&state, &pay("2026-04"), &spouse(false)))
            .contains("paid from 2026-06")
    );
}

#[test]
fn sums_by_year_and_month_for_statistics() {
    let state = given(&[
        grant(AMOUNT, "2025-11"),
        pay("2025-11"),
        pay("2025-12"),
        pay("2026-01"),
    ]);
    assert_eq!(state.paid_in_year(2025), 2 * AMOUNT);
    assert_eq!(state.paid_in_year(2026), AMOUNT);
    assert_eq!(state.paid_in_year(2024), 0);
    assert_eq!(state.paid_for(month("2025-12")), Some(AMOUNT));
    assert_eq!(state.paid_for(month("2026-02")), None);
    assert_eq!(state.last_paid_month(), Some(month("2026-01")));
    assert_eq!(state.total_paid_fen(), 3 * AMOUNT);
}

#[test]
fn allowance_ids_derive_from_the_person() {
    let a = allowance_id_for(&person_id());
    assert_eq!(a, allowance_id_for(&person_id()));
    assert_ne!(a, allowance_id_for(&uuid::Uuid::from_u128(2)));
    assert_ne!(a, person_id());
    assert_eq!(a.get_version_num(), 5);
}

fn event(state: &Allowance, payload: Payload) -> EventEnvelope {
    envelope(state, &id(), payload, 9)
}

fn paid_event(m: &str, amount_fen: i64) -> Payload {
    Payload::AllowancePaid(pb::AllowancePaid {
        month: m.into(),
        amount_fen,
    })
}

fn granted_event(person: &str, amount: i64, from: &str) -> Payload {
    Payload::AllowanceGranted(pb::AllowanceGranted {
        person_id: person.into(),
        monthly_amount_fen: amount,
        from_month: from.into(),
    })
}

#[test]
fn the_fold_refuses_events_that_break_the_invariants() {
    let stopped_event = Payload::AllowanceStopped(pb::AllowanceStopped {
        reason: "r".into(),
        automatic: false,
    });
    let pid = person_id().to_string();
    let never = given(&[]);
    let paid = given(&[grant(AMOUNT, "2026-03"), pay("2026-03")]);
    let stopped = given(&[grant(AMOUNT, "2026-03"), pay("2026-03"), stop(false)]);
    let cases = [
        (&never, paid_event("2026-03", AMOUNT), "never granted"),
        (&never, stopped_event.clone(), "never granted"),
        (
            &never,
            granted_event("not-a-uuid", AMOUNT, "2026-03"),
            "UUID",
        ),
        (&never, granted_event(&pid, 0, "2026-03"), "out of range"),
        (&never, granted_event(&pid, AMOUNT, "2026-3"), "YYYY-MM"),
        (&paid, granted_event(&pid, AMOUNT, "2026-06"), "granted"),
        (&paid, paid_event("2026-03", AMOUNT), "already paid"),
        (&paid, paid_event("2026-02", AMOUNT), "after 2026-02"),
        (&paid, paid_event("2026-04", 0), "not positive"),
        (&paid, paid_event("2026-04", i64::MAX), "overflow"),
        (&paid, paid_event("2026-13", AMOUNT), "01 to 12"),
        (
            &paid,
            Payload::TrainingRecorded(pb::TrainingRecorded::default()),
            "granted",
        ),
        (&stopped, stopped_event, "stopped"),
        (&stopped, paid_event("2026-04", AMOUNT), "stopped"),
        (
            &stopped,
            granted_event(&pid, AMOUNT, "2026-03"),
            "paid up to",
        ),
        (
            &stopped,
            granted_event(&uuid::Uuid::nil().to_string(), AMOUNT, "2026-06"),
            "another person",
        ),
    ];
    for (state, payload, why) in cases {
        let mut copy = state.clone();
        let err = copy.apply(&event(state, payload.clone()), 9).unwrap_err();
        assert!(
            matches!(err, ApplyError::NotApplicable { .. }) && err.to_string().contains(why),
            "{payload:?}: {err}"
        );
        assert_eq!(&copy, state, "state unchanged after {payload:?}");
    }
}

/// The months the property test draws from: two years, so that collisions
/// (a month paid twice, a grant from an earlier month) are frequent.
fn any_month() -> impl Strategy<Value = Month> {
    (0i8..24).prop_map(|i| Month::new(2025 + i16::from(i / 12), i % 12 + 1).unwrap())
}

/// A command with the facts it is decided with.
fn any_step() -> impl Strategy<Value = (Command, AllowanceFacts)> {
    let command = prop_oneof![
        3 => (
            prop_oneof![9 => 1i64..=1_000_000, 1 => Just(0i64), 1 => Just(1_000_001i64)],
            any_month()
        )
            .prop_map(|(amount, from)| Command::Grant {
                person_id: person_id(),
                monthly_amount_fen: amount,
                from_month: from,
            }),
        12 => any_month().prop_map(|month| Command::Pay { month }),
        1 => any::<bool>().prop_map(|automatic| Command::Stop {
            reason: "停发".into(),
            automatic,
        }),
    ];
    let facts = (0u8..10, prop::bool::weighted(0.15)).prop_map(|(who, placed)| AllowanceFacts {
        person: match who {
            0 => None,
            1 => Some(person(PersonRole::Veteran)),
            _ => Some(person(PersonRole::MilitarySpouse)),
        },
        spouse_placed: placed,
    });
    (command, facts)
}

proptest! {
    /// Whatever is commanded: no month is paid twice, nothing is paid before
    /// its grant's first month or after a stop, each payment is the granted
    /// amount, the total is the sum of the payments, a payment is refused
    /// only for a reason, and folding the events again gives the same state.
    #[test]
    fn any_command_sequence_keeps_the_money_right(
        steps in proptest::collection::vec(any_step(), 0..60)
    ) {
        let mut live = Allowance::new(id());
        let mut log = Vec::new();
        for (hour, (command, facts)) in steps.iter().enumerate() {
            let before = live.clone();
            let result = decide(&live, command, facts);
            if let Command::Pay { month } = command {
                let payable = before.status() == Some(AllowanceStatus::Granted)
                    && !facts.spouse_placed
                    && before.from_month().is_some_and(|from| *month >= from)
                    && before.paid_for(*month).is_none();
                prop_assert_eq!(result.is_ok(), payable, "{:?}: {:?}", command, result);
            }
            if let Ok(payload) = result {
                let event = envelope(&live, &id(), payload, hour as i64);
                live.apply(&event, hour as u64 + 1).expect("decided events apply");
                log.push(event);
            } else {
                prop_assert_eq!(&live, &before);
            }
        }

        // The log, checked against the rules on its own.
        let mut running: Option<(Month, i64)> = None;
        let mut paid = BTreeMap::new();
        for event in &log {
            match event.payload.as_ref().unwrap() {
                Payload::AllowanceGranted(e) => {
                    prop_assert!(running.is_none(), "granted while granted");
                    prop_assert!(MONTHLY_AMOUNT_FEN.contains(&e.monthly_amount_fen));
                    running = Some((month_of(&e.from_month), e.monthly_amount_fen));
                }
                Payload::AllowancePaid(e) => {
                    let (from, amount) = running.expect("paid only while granted");
                    let m = month_of(&e.month);
                    prop_assert!(m >= from, "{} paid before {}", m, from);
                    prop_assert_eq!(e.amount_fen, amount);
                    prop_assert!(paid.insert(m, e.amount_fen).is_none(), "{} paid twice", m);
                }
                Payload::AllowanceStopped(_) => {
                    prop_assert!(running.take().is_some(), "stopped while not granted");
                }
                other => prop_assert!(false, "unexpected event {:?}", other),
            }
        }
        prop_assert_eq!(live.paid(), &paid);
        prop_assert_eq!(live.total_paid_fen(), paid.values().sum::<i64>());
        let years: BTreeSet<i16> = paid.keys().map(|m| m.year()).collect();
        prop_assert_eq!(
            years.iter().map(|y| live.paid_in_year(*y)).sum::<i64>(),
            live.total_paid_fen()
        );
        prop_assert_eq!(live.status() == Some(AllowanceStatus::Granted), running.is_some());
        prop_assert_eq!(live.version() as usize, log.len());

        // Folding the same events twice gives equal states.
        let fold = || {
            let mut state = Allowance::default();
            for (i, event) in log.iter().enumerate() {
                state.apply(event, i as u64 + 1).unwrap();
            }
            state
        };
        let (once, twice) = (fold(), fold());
        prop_assert_eq!(&once, &twice);
        if !log.is_empty() {
            prop_assert_eq!(&once, &live);
        }
    }
}

fn month_of(value: &str) -> Month {
    Month::parse("month", value).unwrap()
}

#[test]
fn the_stop_a_placement_implies_is_needed_only_while_granted() {
    let implied = stop_on_placement(&person_id());
    assert_eq!(implied.id.to_string(), id());
    assert!(!(implied.needed)(&given(&[])));
    let granted = given(&[grant(AMOUNT, "2026-01")]);
    assert!((implied.needed)(&granted));
    let stopped = given(&[grant(AMOUNT, "2026-01"), stop(true)]);
    assert!(!(implied.needed)(&stopped));
}
