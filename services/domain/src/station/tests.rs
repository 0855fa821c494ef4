//! given(commands) / when(command) / then(event or error) for every station
//! command, `apply`'s refusals of events that break the seat invariant, and a
//! property test of the invariant over arbitrary command sequences.

use std::collections::{HashMap, HashSet};

use jiff::civil::{Date, date};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::aggregate::testing::{actor, envelope, run};
use crate::aggregate::{Aggregate, ApplyError, PersonFacts};
use crate::error::DomainError;
use crate::fixtures::{AREA_CODE, DISTRICTS};
use crate::pb::{self, PersonRole, event_envelope::Payload};
use crate::person_data::age_on;
use crate::validate::{AreaCode, Districts};

/// The day every enrollment below happens, unless a test says otherwise.
const TODAY: Date = date(2026, 6, 1);
const OFFICE: &str = "district-veterans-bureau";

fn station_id() -> String {
    station_id_for(OFFICE, "open-xiaolongkan").to_string()
}

fn area() -> AreaCode {
    let districts = Districts::parse(DISTRICTS).unwrap();
    AreaCode::parse("area_code", AREA_CODE, &districts).unwrap()
}

fn open_with(seats: u32, opening_hours: &str) -> Command {
    Command::Open {
        name: "小龙坎军娃托管站".into(),
        seats,
        opening_hours: opening_hours.into(),
        area_code: area(),
        address: "小龙坎正街 1 号".into(),
    }
}

fn open(seats: u32) -> Command {
    open_with(seats, "08:30-16:30")
}

fn child(n: u128) -> Uuid {
    Uuid::from_u128(0xc000 + n)
}

fn person(id: Uuid, role: PersonRole, birth_date: Date) -> StationFacts {
    StationFacts {
        child: Some(PersonFacts {
            id: id.to_string(),
            role,
            birth_date,
            area_code: AREA_CODE.into(),
        }),
    }
}

/// A registered military child born on `birth_date`.
fn born(id: Uuid, birth_date: Date) -> StationFacts {
    person(id, PersonRole::MilitaryChild, birth_date)
}

/// A registered military child who is 6 on [`TODAY`].
fn six(id: Uuid) -> StationFacts {
    born(id, date(2020, 1, 15))
}

fn enroll(id: Uuid) -> Command {
    Command::Enroll {
        child_id: id,
        on: TODAY,
    }
}

fn withdraw(id: Uuid) -> Command {
    Command::Withdraw {
        child_id: id,
        reason: "家长申请".into(),
    }
}

fn no_facts() -> StationFacts {
    StationFacts::default()
}

/// given: folds each (command, facts), panicking if one is refused.
fn given(steps: &[(Command, StationFacts)]) -> Station {
    let mut state = Station::default();
    for (command, facts) in steps {
        let hours = i64::try_from(state.version()).unwrap();
        run(&mut state, &station_id(), command, facts, hours);
    }
    state
}

/// An open station with `seats` seats, `children` enrolled in order (each 6).
fn station(seats: u32, children: &[u128]) -> Station {
    let mut steps = vec![(open(seats), no_facts())];
    steps.extend(children.iter().map(|&n| (enroll(child(n)), six(child(n)))));
    given(&steps)
}

/// when: decides `command` on `state`.
fn when(state: &Station, command: &Command, facts: &StationFacts) -> Result<Payload, DomainError> {
    state.decide(command, facts, &actor(OFFICE))
}

/// Decides and folds `command` into `state`, returning its event.
fn then_fold(state: &mut Station, command: &Command, facts: &StationFacts) -> Payload {
    let hours = i64::try_from(state.version()).unwrap();
    run(state, &station_id(), command, facts, hours)
}

fn ids(children: &[u128]) -> Vec<String> {
    children.iter().map(|&n| child(n).to_string()).collect()
}

fn fields(err: &DomainError) -> Vec<&str> {
    match err {
        DomainError::Invalid(violations) => violations.iter().map(|v| v.field.as_str()).collect(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn rule(result: Result<Payload, DomainError>) -> String {
    match result {
        Err(DomainError::RuleViolated(message)) => message,
        other => panic!("expected RuleViolated, got {other:?}"),
    }
}

// ---- Open ----

#[test]
fn open_records_the_station() {
    let payload = when(&Station::default(), &open(20), &no_facts()).unwrap();
    assert_eq!(
        payload,
        Payload::StationOpened(pb::StationOpened {
            name: "小龙坎军娃托管站".into(),
            seats: 20,
            opening_hours: "08:30-16:30".into(),
            area_code: AREA_CODE.into(),
            address: "小龙坎正街 1 号".into(),
        })
    );
    let state = given(&[(open(20), no_facts())]);
    assert!(state.is_open());
    assert_eq!(state.id(), station_id());
    assert_eq!(state.version(), 1);
    assert_eq!(state.name(), "小龙坎军娃托管站");
    assert_eq!(state.seats(), 20);
    assert_eq!(state.opening_hours(), "08:30-16:30");
    assert_eq!(state.area_code(), AREA_CODE);
    assert_eq!(state.address(), "小龙坎正街 1 号");
    assert_eq!(
        state.opened_at(),
        Some("2026-06-01T00:00:00Z".parse().unwrap())
    );
    assert_eq!((state.occupancy(), state.free_seats()), (0, 20));
    assert!(state.seated().is_empty() && state.waitlist().is_empty());
}

#[test]
fn open_trims_text() {
    let command = Command::Open {
        name: "  托管站 ".into(),
        seats: 1,
        opening_hours: "08:00-16:00".into(),
        area_code: area(),
        address: " 1 号 ".into(),
    };
    let Payload::StationOpened(e) = when(&Station::default(), &command, &no_facts()).unwrap()
    else {
        panic!("expected StationOpened")
    };
    assert_eq!((e.name.as_str(), e.address.as_str()), ("托管站", "1 号"));
}

#[test]
fn open_reports_every_bad_field() {
    let command = Command::Open {
        name: " ".into(),
        seats: 0,
        opening_hours: "8:30-16:30".into(),
        area_code: area(),
        address: String::new(),
    };
    let err = when(&Station::default(), &command, &no_facts()).unwrap_err();
    assert_eq!(fields(&err), ["name", "seats", "opening_hours", "address"]);
}

#[test]
fn seats_are_one_to_five_hundred() {
    for seats in [1, 500] {
        assert!(when(&Station::default(), &open(seats), &no_facts()).is_ok());
    }
    for seats in [0, 501, u32::MAX] {
        let err = when(&Station::default(), &open(seats), &no_facts()).unwrap_err();
        assert_eq!(fields(&err), ["seats"], "{seats} seats");
    }
}

#[test]
fn opening_hours_keep_the_eight_hour_promise() {
    for ok in ["08:30-16:30", "08:00-16:00", "00:00-23:59", "07:45-18:15"] {
        assert!(
            when(&Station::default(), &open_with(5, ok), &no_facts()).is_ok(),
            "{ok} must be accepted"
        );
    }
    for (bad, reason) in [
        ("08:30-16:29", "at least 8 hours a day, is 7h59m"),
        ("09:00-12:00", "at least 8 hours a day, is 3h00m"),
        ("16:30-08:30", "close after it opens"),
        ("08:30-08:30", "close after it opens"),
        ("24:00-23:59", "not a time of day"),
        ("08:60-17:00", "not a time of day"),
        ("8:30-16:30", "HH:MM-HH:MM"),
        ("08:30 - 16:30", "HH:MM-HH:MM"),
        ("08.30-16.30", "HH:MM-HH:MM"),
        ("", "HH:MM-HH:MM"),
        ("０８:30-16:30", "HH:MM-HH:MM"),
    ] {
        let err = when(&Station::default(), &open_with(5, bad), &no_facts()).unwrap_err();
        let DomainError::Invalid(violations) = &err else {
            panic!("{bad}: expected Invalid, got {err:?}")
        };
        assert_eq!(violations.len(), 1, "{bad}");
        assert_eq!(violations[0].field, "opening_hours", "{bad}");
        assert!(
            violations[0].reason.contains(reason),
            "{bad}: {}",
            violations[0].reason
        );
    }
}

#[test]
fn opening_hours_parse_and_print() {
    let hours = OpeningHours::parse("h", "07:05-15:35").unwrap();
    assert_eq!(hours.minutes(), 8 * 60 + 30);
    assert_eq!((hours.opens().hour(), hours.opens().minute()), (7, 5));
    assert_eq!((hours.closes().hour(), hours.closes().minute()), (15, 35));
    assert_eq!(hours.to_string(), "07:05-15:35");
}

#[test]
fn opening_twice_already_exists() {
    let state = station(3, &[]);
    assert_eq!(
        when(&state, &open(3), &no_facts()),
        Err(DomainError::AlreadyExists {
            kind: "station",
            id: station_id()
        })
    );
}

#[test]
fn every_command_before_open_is_not_found() {
    let commands = [
        Command::ChangeSeats { seats: 3 },
        enroll(child(1)),
        withdraw(child(1)),
    ];
    for command in commands {
        let result = when(&Station::default(), &command, &six(child(1)));
        assert!(
            matches!(
                result,
                Err(DomainError::NotFound {
                    kind: "station",
                    ..
                })
            ),
            "{command:?}: {result:?}"
        );
    }
}

// ---- ChangeSeats ----

#[test]
fn seats_can_change_down_to_the_children_seated() {
    let state = station(4, &[1, 2]);
    let msg = rule(when(
        &state,
        &Command::ChangeSeats { seats: 1 },
        &no_facts(),
    ));
    assert!(
        msg.contains("1 seats") && msg.contains("2 children are seated"),
        "{msg}"
    );

    let mut down = state.clone();
    let payload = then_fold(&mut down, &Command::ChangeSeats { seats: 2 }, &no_facts());
    assert_eq!(
        payload,
        Payload::StationSeatsChanged(pb::StationSeatsChanged {
            seats: 2,
            promoted_person_ids: vec![],
        })
    );
    assert_eq!(
        (down.seats(), down.occupancy(), down.free_seats()),
        (2, 2, 0)
    );
}

#[test]
fn unchanged_or_out_of_range_seats_are_refused() {
    let state = station(4, &[1]);
    let msg = rule(when(
        &state,
        &Command::ChangeSeats { seats: 4 },
        &no_facts(),
    ));
    assert!(msg.contains("already has 4 seats"), "{msg}");
    for seats in [0, 501] {
        let err = when(&state, &Command::ChangeSeats { seats }, &no_facts()).unwrap_err();
        assert_eq!(fields(&err), ["seats"]);
    }
}

#[test]
fn added_seats_promote_the_waitlist_in_order() {
    let mut state = station(1, &[1, 2, 3, 4]);
    assert_eq!(state.waitlist(), ids(&[2, 3, 4]));

    let payload = then_fold(&mut state, &Command::ChangeSeats { seats: 3 }, &no_facts());
    assert_eq!(
        payload,
        Payload::StationSeatsChanged(pb::StationSeatsChanged {
            seats: 3,
            promoted_person_ids: ids(&[2, 3]),
        })
    );
    assert_eq!(state.seated(), ids(&[1, 2, 3]));
    assert_eq!(state.waitlist(), ids(&[4]));
    assert_eq!(state.position_in_waitlist(&child(4).to_string()), Some(1));

    // More seats than children waiting: everyone is seated, seats stay free.
    let payload = then_fold(&mut state, &Command::ChangeSeats { seats: 10 }, &no_facts());
    assert!(
        matches!(&payload, Payload::StationSeatsChanged(e) if e.promoted_person_ids == ids(&[4]))
    );
    assert!(state.waitlist().is_empty());
    assert_eq!((state.occupancy(), state.free_seats()), (4, 6));
}

// ---- Enroll ----

#[test]
fn enrolling_seats_a_child_while_seats_are_free() {
    let mut state = station(2, &[]);
    let payload = then_fold(&mut state, &enroll(child(1)), &six(child(1)));
    assert_eq!(
        payload,
        Payload::ChildEnrolled(pb::ChildEnrolled {
            person_id: child(1).to_string(),
            waitlisted: false,
        })
    );
    assert_eq!(state.seated(), ids(&[1]));
    assert_eq!((state.occupancy(), state.free_seats()), (1, 1));
    assert!(state.is_seated(&child(1).to_string()));
    assert_eq!(state.position_in_waitlist(&child(1).to_string()), None);
}

#[test]
fn an_unregistered_child_is_not_found() {
    let state = station(2, &[]);
    let not_found = Err(DomainError::NotFound {
        kind: "person",
        id: child(1).to_string(),
    });
    assert_eq!(when(&state, &enroll(child(1)), &no_facts()), not_found);
    // Facts about another person do not stand in for the child's.
    assert_eq!(when(&state, &enroll(child(1)), &six(child(2))), not_found);
}

#[test]
fn only_military_children_are_enrolled() {
    let state = station(2, &[]);
    for role in [
        PersonRole::Veteran,
        PersonRole::MilitarySpouse,
        PersonRole::Unspecified,
    ] {
        let facts = person(child(1), role, date(2020, 1, 15));
        let msg = rule(when(&state, &enroll(child(1)), &facts));
        assert!(msg.contains("not registered as a military child"), "{msg}");
    }
}

#[test]
fn a_child_is_enrolled_once() {
    let state = station(1, &[1, 2]);
    let msg = rule(when(&state, &enroll(child(1)), &six(child(1))));
    assert!(msg.contains("already has a seat"), "{msg}");
    let msg = rule(when(&state, &enroll(child(2)), &six(child(2))));
    assert!(
        msg.contains("already waiting") && msg.contains("number 1 in line"),
        "{msg}"
    );
}

#[test]
fn ages_three_to_twelve_on_the_day_of_enrollment() {
    let state = station(10, &[]);
    let cases = [
        // 2 years and 364 days: the third birthday is tomorrow.
        (date(2023, 6, 2), Some(2)),
        // The third birthday is today.
        (date(2023, 6, 1), None),
        // 12 today.
        (date(2014, 6, 1), None),
        // 12 years and 364 days: still 12.
        (date(2013, 6, 2), None),
        // The 13th birthday is today.
        (date(2013, 6, 1), Some(13)),
        (date(2000, 1, 1), Some(26)),
    ];
    for (birth, refused_age) in cases {
        let result = when(&state, &enroll(child(1)), &born(child(1), birth));
        match refused_age {
            None => assert!(result.is_ok(), "born {birth}: {result:?}"),
            Some(age) => {
                let msg = rule(result);
                assert!(
                    msg.contains(&format!("is {age} years old on 2026-06-01"))
                        && msg.contains("aged 3 to 12"),
                    "born {birth}: {msg}"
                );
            }
        }
    }
    let msg = rule(when(
        &state,
        &enroll(child(1)),
        &born(child(1), date(2026, 6, 2)),
    ));
    assert!(
        msg.contains("not yet born") && msg.contains("aged 3 to 12"),
        "{msg}"
    );
}

#[test]
fn a_leap_day_child_turns_older_on_the_first_of_march() {
    let state = station(10, &[]);
    let leap_born = born(child(1), date(2020, 2, 29));
    let on = |day: Date| Command::Enroll {
        child_id: child(1),
        on: day,
    };
    // 2023 is a common year: still 2 on 28 February, 3 on 1 March.
    assert!(rule(when(&state, &on(date(2023, 2, 28)), &leap_born)).contains("is 2 years old"));
    assert!(when(&state, &on(date(2023, 3, 1)), &leap_born).is_ok());
    // In a leap year the birthday itself counts.
    assert_eq!(age_on(date(2020, 2, 29), date(2024, 2, 28)), 3);
    assert_eq!(age_on(date(2020, 2, 29), date(2024, 2, 29)), 4);
    // At the top: 12 until 1 March 2033, the common year of the 13th birthday.
    assert!(when(&state, &on(date(2033, 2, 28)), &leap_born).is_ok());
    assert!(rule(when(&state, &on(date(2033, 3, 1)), &leap_born)).contains("is 13 years old"));
}

// ---- The 1-seat station ----

#[test]
fn a_one_seat_station_seats_the_first_and_queues_the_rest() {
    let mut state = station(1, &[]);
    let enrolled = |p: Payload| match p {
        Payload::ChildEnrolled(e) => e.waitlisted,
        other => panic!("expected ChildEnrolled, got {other:?}"),
    };
    assert!(!enrolled(then_fold(
        &mut state,
        &enroll(child(1)),
        &six(child(1))
    )));
    assert!(enrolled(then_fold(
        &mut state,
        &enroll(child(2)),
        &six(child(2))
    )));
    assert!(enrolled(then_fold(
        &mut state,
        &enroll(child(3)),
        &six(child(3))
    )));
    assert_eq!(state.seated(), ids(&[1]));
    assert_eq!(state.waitlist(), ids(&[2, 3]));
    assert_eq!(state.position_in_waitlist(&child(2).to_string()), Some(1));
    assert_eq!(state.position_in_waitlist(&child(3).to_string()), Some(2));
    assert_eq!((state.occupancy(), state.free_seats()), (1, 0));

    let payload = then_fold(&mut state, &withdraw(child(1)), &no_facts());
    assert_eq!(
        payload,
        Payload::ChildWithdrawn(pb::ChildWithdrawn {
            person_id: child(1).to_string(),
            reason: "家长申请".into(),
            promoted_person_id: child(2).to_string(),
        })
    );
    assert_eq!(state.seated(), ids(&[2]));
    assert_eq!(state.waitlist(), ids(&[3]));
    assert_eq!(state.position_in_waitlist(&child(3).to_string()), Some(1));
    assert_eq!(state.occupancy(), 1);
}

// ---- Withdraw ----

#[test]
fn a_waiting_child_just_leaves_the_waitlist() {
    let mut state = station(1, &[1, 2, 3]);
    let payload = then_fold(&mut state, &withdraw(child(2)), &no_facts());
    assert!(matches!(&payload, Payload::ChildWithdrawn(e) if e.promoted_person_id.is_empty()));
    assert_eq!(state.seated(), ids(&[1]));
    assert_eq!(state.waitlist(), ids(&[3]));
}

#[test]
fn a_seat_freed_with_nobody_waiting_stays_free() {
    let mut state = station(2, &[1, 2]);
    let payload = then_fold(&mut state, &withdraw(child(1)), &no_facts());
    assert!(matches!(&payload, Payload::ChildWithdrawn(e) if e.promoted_person_id.is_empty()));
    assert_eq!(state.seated(), ids(&[2]));
    assert_eq!(state.free_seats(), 1);
    // A withdrawn child may enroll again, at the back of the line.
    let payload = then_fold(&mut state, &enroll(child(1)), &six(child(1)));
    assert!(matches!(&payload, Payload::ChildEnrolled(e) if !e.waitlisted));
    assert_eq!(state.seated(), ids(&[2, 1]));
}

#[test]
fn withdrawing_a_child_not_enrolled_is_not_found() {
    let state = station(2, &[1]);
    assert_eq!(
        when(&state, &withdraw(child(9)), &no_facts()),
        Err(DomainError::NotFound {
            kind: "enrollment",
            id: child(9).to_string()
        })
    );
}

#[test]
fn a_withdrawal_needs_a_reason() {
    let state = station(2, &[1]);
    let command = Command::Withdraw {
        child_id: child(1),
        reason: "  ".into(),
    };
    let err = when(&state, &command, &no_facts()).unwrap_err();
    assert_eq!(fields(&err), ["reason"]);
}

// ---- apply refuses a corrupt log ----

/// Applies `payload` as the next event of a copy of `state`; the copy must
/// stay unchanged when it is refused.
fn apply_raw(state: &Station, payload: Payload) -> Result<Station, ApplyError> {
    let mut copy = state.clone();
    let event = envelope(state, &station_id(), payload, 99);
    let result = copy.apply(&event, state.version() + 1);
    if result.is_err() {
        assert_eq!(&copy, state, "a refused event leaves the state untouched");
    }
    result.map(|()| copy)
}

fn not_applicable(result: Result<Station, ApplyError>, event_type: &str, needle: &str) {
    match result {
        Err(ApplyError::NotApplicable {
            event_type: t,
            kind: "station",
            state,
        }) => {
            assert_eq!(t, event_type);
            assert!(
                state.contains(needle),
                "{state:?} should mention {needle:?}"
            );
        }
        other => panic!("expected NotApplicable, got {other:?}"),
    }
}

fn enrolled(n: u128, waitlisted: bool) -> Payload {
    Payload::ChildEnrolled(pb::ChildEnrolled {
        person_id: child(n).to_string(),
        waitlisted,
    })
}

fn withdrawn(n: u128, promoted: &str) -> Payload {
    Payload::ChildWithdrawn(pb::ChildWithdrawn {
        person_id: child(n).to_string(),
        reason: "x".into(),
        promoted_person_id: promoted.into(),
    })
}

fn seats_changed(seats: u32, promoted: &[u128]) -> Payload {
    Payload::StationSeatsChanged(pb::StationSeatsChanged {
        seats,
        promoted_person_ids: ids(promoted),
    })
}

#[test]
fn apply_refuses_a_child_seated_in_a_full_station() {
    let full = station(1, &[1]);
    not_applicable(
        apply_raw(&full, enrolled(2, false)),
        "ChildEnrolled",
        "full (1 of 1",
    );
}

#[test]
fn apply_refuses_a_child_waiting_while_a_seat_is_free() {
    let free = station(2, &[1]);
    not_applicable(
        apply_raw(&free, enrolled(2, true)),
        "ChildEnrolled",
        "not full",
    );
}

#[test]
fn apply_refuses_a_child_enrolled_twice_or_without_an_id() {
    let state = station(1, &[1, 2]);
    not_applicable(
        apply_raw(&state, enrolled(1, true)),
        "ChildEnrolled",
        "already",
    );
    not_applicable(
        apply_raw(&state, enrolled(2, true)),
        "ChildEnrolled",
        "already",
    );
    let nobody = Payload::ChildEnrolled(pb::ChildEnrolled {
        person_id: String::new(),
        waitlisted: true,
    });
    not_applicable(
        apply_raw(&state, nobody),
        "ChildEnrolled",
        "without a person id",
    );
}

#[test]
fn apply_refuses_promotions_out_of_turn() {
    let state = station(1, &[1, 2, 3]);
    // The freed seat belongs to child 2, first in line.
    let third = child(3).to_string();
    not_applicable(
        apply_raw(&state, withdrawn(1, &third)),
        "ChildWithdrawn",
        "waiting to seat",
    );
    not_applicable(
        apply_raw(&state, withdrawn(1, "")),
        "ChildWithdrawn",
        "waiting to seat",
    );
    assert!(apply_raw(&state, withdrawn(1, &child(2).to_string())).is_ok());
    // A waiting child frees no seat.
    let second = child(2).to_string();
    not_applicable(
        apply_raw(&state, withdrawn(3, &second)),
        "ChildWithdrawn",
        "frees no seat",
    );
    // Nobody waits at a station with room: nobody to promote.
    let roomy = station(3, &[1]);
    not_applicable(
        apply_raw(&roomy, withdrawn(1, &third)),
        "ChildWithdrawn",
        "waiting to seat",
    );
}

#[test]
fn apply_refuses_seat_changes_that_break_the_invariant() {
    let state = station(1, &[1, 2, 3]);
    not_applicable(
        apply_raw(&state, seats_changed(0, &[])),
        "StationSeatsChanged",
        "more than 0 seats",
    );
    not_applicable(
        apply_raw(&state, seats_changed(2, &[3])),
        "StationSeatsChanged",
        "waiting to seat",
    );
    not_applicable(
        apply_raw(&state, seats_changed(3, &[3, 2])),
        "StationSeatsChanged",
        "in order",
    );
    // Added seats must go to those waiting, not stay free while they wait.
    not_applicable(
        apply_raw(&state, seats_changed(2, &[])),
        "StationSeatsChanged",
        "waiting to seat",
    );
    let promoted = apply_raw(&state, seats_changed(3, &[2, 3])).unwrap();
    assert_eq!(promoted.seated(), ids(&[1, 2, 3]));
}

#[test]
fn apply_refuses_withdrawing_a_child_not_enrolled() {
    let state = station(2, &[1]);
    not_applicable(
        apply_raw(&state, withdrawn(7, "")),
        "ChildWithdrawn",
        "without child",
    );
}

#[test]
fn apply_refuses_events_before_open_and_a_second_opening() {
    let fresh = Station::default();
    for payload in [enrolled(1, false), withdrawn(1, ""), seats_changed(3, &[])] {
        let event_type = crate::event::event_type(&payload);
        not_applicable(apply_raw(&fresh, payload), event_type, "not open");
    }
    let opened = station(1, &[]);
    let again = Payload::StationOpened(pb::StationOpened {
        seats: 5,
        ..Default::default()
    });
    not_applicable(apply_raw(&opened, again), "StationOpened", "already open");
}

#[test]
fn apply_refuses_other_kinds_events_gaps_and_foreign_ids() {
    let state = station(1, &[]);
    let started = Payload::RequestStarted(pb::RequestStarted::default());
    not_applicable(apply_raw(&state, started), "RequestStarted", "open");

    let mut gap = envelope(&state, &station_id(), enrolled(1, false), 1);
    gap.aggregate_version += 1;
    assert!(matches!(
        state.clone().apply(&gap, 9),
        Err(ApplyError::VersionGap {
            expected: 2,
            actual: 3
        })
    ));
    let foreign = envelope(&state, &Uuid::max().to_string(), enrolled(1, false), 1);
    assert!(matches!(
        state.clone().apply(&foreign, 9),
        Err(ApplyError::WrongAggregate { .. })
    ));
    let mut empty = envelope(&state, &station_id(), enrolled(1, false), 1);
    empty.payload = None;
    assert_eq!(
        state.clone().apply(&empty, 9),
        Err(ApplyError::MissingPayload)
    );
}

#[test]
fn station_ids_derive_from_agency_and_key() {
    let a = station_id_for("office-1", "k1");
    assert_eq!(a, station_id_for("office-1", "k1"));
    assert_ne!(a, station_id_for("office-2", "k1"));
    assert_ne!(a, station_id_for("office-1", "k2"));
    assert_ne!(a, crate::request::request_id_for("office-1", "k1"));
}

// ---- Property: the seat invariant under any command sequence ----

const CHILDREN: usize = 6;

#[derive(Debug, Clone)]
enum Op {
    Open(u32),
    ChangeSeats(u32),
    Enroll(usize),
    Withdraw(usize),
}

/// A person a command may name: registered or not, of some role, aged 0 to
/// about 15 on [`TODAY`].
#[derive(Debug, Clone)]
struct Kid {
    registered: bool,
    military_child: bool,
    age_days: i64,
}

impl Kid {
    fn birth_date(&self) -> Date {
        TODAY
            .checked_sub(jiff::Span::new().days(self.age_days))
            .unwrap()
    }

    fn facts(&self, n: usize) -> StationFacts {
        if !self.registered {
            return StationFacts::default();
        }
        let role = if self.military_child {
            PersonRole::MilitaryChild
        } else {
            PersonRole::Veteran
        };
        person(kid_id(n), role, self.birth_date())
    }

    fn eligible(&self) -> bool {
        self.registered
            && self.military_child
            && (MIN_AGE..=MAX_AGE).contains(&age_on(self.birth_date(), TODAY))
    }
}

fn kid_id(n: usize) -> Uuid {
    child(u128::try_from(n).unwrap())
}

fn kid() -> impl Strategy<Value = Kid> {
    (
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.9),
        0i64..16 * 366,
    )
        .prop_map(|(registered, military_child, age_days)| Kid {
            registered,
            military_child,
            age_days,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0u32..=3).prop_map(Op::Open),
        2 => (0u32..=5).prop_map(Op::ChangeSeats),
        5 => (0..CHILDREN).prop_map(Op::Enroll),
        3 => (0..CHILDREN).prop_map(Op::Withdraw),
    ]
}

fn fold_log(log: &[(EventEnvelope, u64)]) -> Station {
    let mut state = Station::default();
    for (event, position) in log {
        state
            .apply(event, *position)
            .expect("a decided event folds");
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn seats_are_never_exceeded(
        kids in prop::collection::vec(kid(), CHILDREN),
        ops in prop::collection::vec(op(), 0..60),
    ) {
        let id = station_id();
        let mut live = Station::default();
        let mut log = Vec::new();
        let (mut seated_enrollments, mut promotions, mut seated_withdrawals) = (0u32, 0u32, 0u32);
        // The step at which each child's latest enrollment happened.
        let mut enrolled_at: HashMap<String, usize> = HashMap::new();

        for (step, op) in ops.iter().enumerate() {
            let (command, facts) = match *op {
                Op::Open(seats) => (open(seats), no_facts()),
                Op::ChangeSeats(seats) => (Command::ChangeSeats { seats }, no_facts()),
                Op::Enroll(n) => (enroll(kid_id(n)), kids[n].facts(n)),
                Op::Withdraw(n) => (withdraw(kid_id(n)), no_facts()),
            };
            match live.decide(&command, &facts, &actor(OFFICE)) {
                Ok(payload) => {
                    match &payload {
                        Payload::ChildEnrolled(e) => {
                            if !e.waitlisted {
                                seated_enrollments += 1;
                            }
                            enrolled_at.insert(e.person_id.clone(), step);
                        }
                        Payload::ChildWithdrawn(e) => {
                            if live.is_seated(&e.person_id) {
                                seated_withdrawals += 1;
                            }
                            if !e.promoted_person_id.is_empty() {
                                promotions += 1;
                            }
                        }
                        Payload::StationSeatsChanged(e) => {
                            promotions += u32::try_from(e.promoted_person_ids.len()).unwrap();
                        }
                        _ => {}
                    }
                    let event = envelope(&live, &id, payload, i64::try_from(step).unwrap());
                    let position = live.version() + 1;
                    live.apply(&event, position).expect("a decided event applies");
                    log.push((event, position));
                }
                Err(err) => {
                    // Refusals are the rules', not accidents.
                    let open = live.is_open();
                    match *op {
                        Op::Open(seats) => {
                            prop_assert!(open || seats == 0, "opening refused: {err}");
                        }
                        Op::ChangeSeats(seats) => prop_assert!(
                            !open || seats == 0 || seats < live.occupancy() || seats == live.seats(),
                            "seat change refused: {err}"
                        ),
                        Op::Enroll(n) => prop_assert!(
                            !(open && kids[n].eligible() && !live.is_enrolled(&kid_id(n).to_string())),
                            "eligible child refused: {err}"
                        ),
                        Op::Withdraw(n) => prop_assert!(
                            !live.is_enrolled(&kid_id(n).to_string()),
                            "enrolled child's withdrawal refused: {err}"
                        ),
                    }
                }
            }

            prop_assert!(live.occupancy() <= live.seats());
            prop_assert_eq!(
                live.occupancy(),
                seated_enrollments + promotions - seated_withdrawals
            );
            let everyone: HashSet<&String> =
                live.seated().iter().chain(live.waitlist()).collect();
            prop_assert_eq!(everyone.len(), live.seated().len() + live.waitlist().len());
            let order: Vec<usize> = live.waitlist().iter().map(|c| enrolled_at[c]).collect();
            prop_assert!(order.windows(2).all(|w| w[0] < w[1]), "waitlist out of order: {:?}", order);
            prop_assert!(live.waitlist().is_empty() || live.free_seats() == 0);
        }

        let once = fold_log(&log);
        let twice = fold_log(&log);
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(&once, &live);
        prop_assert_eq!(live.version(), u64::try_from(log.len()).unwrap());
    }
}
