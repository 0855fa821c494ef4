//! given(events) / when(command) / then(event or error) tests for every
//! command in every status of every programme, the fast lane's clock, cycles,
//! and property tests of the fold.

use jiff::SignedDuration;
use jiff::civil::date;
use proptest::prelude::*;

use super::*;
use crate::aggregate::testing::{actor, envelope, run};
use crate::aggregate::{Aggregate, ApplyError, PersonFacts};
use crate::error::DomainError;
use crate::pb::{self, PersonRole, Programme as P, event_envelope::Payload};
use crate::validate::Districts;

const PERSON: &str = "0190f0c2-7a44-7c3e-9d1e-3b8f1a2c4d5e";
const OTHER_PERSON: &str = "0190f0c2-7a44-7c3e-9d1e-3b8f1a2c4d5f";
const AREA: &str = "500106001002";
/// `testing::envelope`'s fixed instant, 2026-06-01T00:00Z (08:00 in China).
const T0: i64 = 1_780_272_000;
const PROGRAMMES: [P; 3] = [
    P::VeteranResettlement,
    P::SpousePlacement,
    P::SchoolEnrollment,
];

fn districts() -> Districts {
    Districts::parse("500106").unwrap()
}

fn person() -> uuid::Uuid {
    uuid::Uuid::parse_str(PERSON).unwrap()
}

fn id(programme: P) -> String {
    placement_id_for(&person(), programme).to_string()
}

/// The role each programme takes, as the issue states it.
fn role_of(programme: P) -> PersonRole {
    match programme {
        P::VeteranResettlement => PersonRole::Veteran,
        P::SpousePlacement => PersonRole::MilitarySpouse,
        P::SchoolEnrollment => PersonRole::MilitaryChild,
        P::Unspecified => PersonRole::Unspecified,
    }
}

fn facts(role: PersonRole) -> PlacementFacts {
    PlacementFacts {
        person: Some(PersonFacts {
            id: PERSON.into(),
            role,
            birth_date: date(1995, 3, 14),
            area_code: AREA.into(),
        }),
    }
}

fn facts_for(programme: P) -> PlacementFacts {
    facts(role_of(programme))
}

fn registration(programme: P, fast_lane: bool) -> Command {
    let (school, grade) = match programme {
        P::SchoolEnrollment => ("沙坪坝区树人小学", "一年级"),
        _ => ("", ""),
    };
    Command::register(
        programme as i32,
        PERSON,
        AREA,
        &districts(),
        fast_lane,
        school,
        grade,
    )
    .unwrap()
}

fn register(programme: P) -> Command {
    registration(programme, false)
}

fn match_post() -> Command {
    Command::match_post("重庆某物流公司", "仓储主管", true, true, false).unwrap()
}

/// On duty the day after the fixtures register (2026-06-01 in China).
fn on_duty() -> Command {
    Command::PutOnDuty {
        on: date(2026, 6, 2),
    }
}

fn decline() -> Command {
    Command::decline("岗位离家太远").unwrap()
}

fn withdraw() -> Command {
    Command::withdraw("自主创业").unwrap()
}

fn talent_pool() -> Command {
    Command::recommend_to_talent_pool("500106001002", &districts(), "免笔试推荐").unwrap()
}

fn accept() -> Command {
    Command::accept_school_request("").unwrap()
}

fn decline_school() -> Command {
    Command::decline_school_request("学位已满").unwrap()
}

fn enroll() -> Command {
    Command::enroll_in_school("沙坪坝区树人小学").unwrap()
}

/// One command of each kind, valid in shape; the registration is for
/// `programme`.
fn every_command(programme: P) -> Vec<Command> {
    vec![
        register(programme),
        match_post(),
        on_duty(),
        decline(),
        withdraw(),
        talent_pool(),
        accept(),
        decline_school(),
        enroll(),
    ]
}

/// Folds `commands`, the n-th `n` hours after the fixed instant, and panics
/// if any is refused: the `given` of a test.
fn given(programme: P, commands: &[Command]) -> Placement {
    let mut state = Placement::default();
    for (hour, command) in (0..).zip(commands) {
        run(
            &mut state,
            &id(programme),
            command,
            &facts_for(programme),
            hour,
        );
    }
    state
}

fn when(state: &Placement, command: &Command, programme: P) -> Result<Payload, DomainError> {
    state.decide(
        command,
        &facts_for(programme),
        &actor("district-veterans-bureau"),
    )
}

/// Folds `payload` into a copy of `state` at `at` (seconds after the fixed
/// instant).
fn folded(state: &Placement, programme: P, payload: Payload, seconds: i64) -> Placement {
    let mut event = envelope(state, &id(programme), payload, 0);
    event.occurred_at = Some(prost_types::Timestamp {
        seconds: T0 + seconds,
        nanos: 0,
    });
    let mut next = state.clone();
    next.apply(&event, state.version() + 1)
        .expect("a decided event applies");
    next
}

/// The placement in `status`, reached by legal commands, or `None` where the
/// programme has no such status.
fn in_status(programme: P, status: Status) -> Option<Placement> {
    use Status as S;
    let employment = programme != P::SchoolEnrollment;
    let reg = register(programme);
    let path = match status {
        S::Unregistered => vec![],
        S::Registered => vec![reg],
        S::Matched if employment => vec![reg, match_post()],
        S::OnDuty if employment => vec![reg, match_post(), on_duty()],
        S::Declined if employment => vec![reg, decline()],
        S::Withdrawn if employment => vec![reg, withdraw()],
        S::Accepted if !employment => vec![reg, accept()],
        S::Enrolled if !employment => vec![reg, accept(), enroll()],
        S::Declined => vec![reg, decline_school()],
        _ => return None,
    };
    let state = given(programme, &path);
    assert_eq!(state.status(), status);
    Some(state)
}

/// The lifecycles as the issue states them, written independently of
/// `lifecycle.rs`: (statuses the command is legal in, status after or `None`
/// for "unchanged").
fn expected_lifecycle(programme: P, action: &str) -> (&'static [Status], Option<Status>) {
    use Status as S;
    const NOWHERE: (&[Status], Option<Status>) = (&[], None);
    let employment = matches!(programme, P::VeteranResettlement | P::SpousePlacement);
    let school = programme == P::SchoolEnrollment;
    match action {
        "register" => (
            &[S::Unregistered, S::Declined, S::Withdrawn],
            Some(S::Registered),
        ),
        "match" if employment => (&[S::Registered], Some(S::Matched)),
        "put on duty" if employment => (&[S::Matched], Some(S::OnDuty)),
        "decline" if employment => (&[S::Registered, S::Matched], Some(S::Declined)),
        "withdraw" if employment => (&[S::Registered, S::Matched], Some(S::Withdrawn)),
        "recommend to the talent pool" if programme == P::VeteranResettlement => {
            (&[S::Registered, S::Matched, S::OnDuty], None)
        }
        "accept the school request of" if school => (&[S::Registered], Some(S::Accepted)),
        "decline the school request of" if school => (&[S::Registered], Some(S::Declined)),
        "enroll" if school => (&[S::Accepted], Some(S::Enrolled)),
        "match"
        | "put on duty"
        | "decline"
        | "withdraw"
        | "recommend to the talent pool"
        | "accept the school request of"
        | "decline the school request of"
        | "enroll" => NOWHERE,
        other => panic!("unknown action {other}"),
    }
}

#[test]
fn every_command_in_every_status_follows_the_lifecycle() {
    let mut checked = 0;
    for programme in PROGRAMMES {
        for status in Status::ALL {
            let Some(state) = in_status(programme, status) else {
                continue;
            };
            for command in every_command(programme) {
                let action = command.action();
                let (legal_in, after) = expected_lifecycle(programme, action);
                let result = when(&state, &command, programme);
                let case = format!("{action} in {programme:?} {status}");
                if legal_in.contains(&status) {
                    let payload = result.unwrap_or_else(|e| panic!("{case} must be legal: {e}"));
                    let next = folded(&state, programme, payload, 100 * 3600);
                    assert_eq!(next.status(), after.unwrap_or(status), "{case}");
                    assert_eq!(next.version(), state.version() + 1, "{case}");
                } else if status == Status::Unregistered {
                    assert!(
                        matches!(
                            result,
                            Err(DomainError::NotFound {
                                kind: "placement",
                                ..
                            })
                        ),
                        "{case} must be not found, got {result:?}"
                    );
                } else {
                    let Err(DomainError::RuleViolated(message)) = result else {
                        panic!("{case} must be refused, got {result:?}")
                    };
                    if !legal_in.is_empty() {
                        let placement = match programme {
                            P::VeteranResettlement => "veteran resettlement placement",
                            P::SpousePlacement => "spouse placement",
                            _ => "school enrollment placement",
                        };
                        let lifecycle = format!("cannot {action} a {placement} that is {status}");
                        assert!(message.starts_with(&lifecycle), "{case}: {message}");
                    }
                }
                checked += 1;
            }
        }
    }
    // 6 statuses of each employment programme, 5 of school enrollment.
    assert_eq!(checked, (6 + 6 + 5) * 9);
}

#[test]
fn refusals_name_the_current_state() {
    let on_duty = in_status(P::VeteranResettlement, Status::OnDuty).unwrap();
    assert_eq!(
        when(&on_duty, &match_post(), P::VeteranResettlement)
            .unwrap_err()
            .to_string(),
        "cannot match a veteran resettlement placement that is on_duty"
    );
    let registered = in_status(P::SchoolEnrollment, Status::Registered).unwrap();
    assert_eq!(
        when(&registered, &match_post(), P::SchoolEnrollment)
            .unwrap_err()
            .to_string(),
        "cannot match a school enrollment placement: school enrollment has no such step"
    );
}

#[test]
fn registration_records_what_the_caller_gave() {
    let state = given(P::SchoolEnrollment, &[register(P::SchoolEnrollment)]);
    assert_eq!(state.id(), id(P::SchoolEnrollment));
    assert_eq!(state.programme(), P::SchoolEnrollment);
    assert_eq!(state.person_id(), Some(person()));
    assert_eq!(state.cycle(), 1);
    assert!(state.is_active() && !state.is_placed());
    let cycle = state.current();
    assert_eq!(cycle.area_code, AREA);
    assert_eq!(cycle.school, "沙坪坝区树人小学");
    assert_eq!(cycle.grade, "一年级");
    assert_eq!(
        cycle.registered_at,
        Some(jiff::Timestamp::new(T0, 0).unwrap())
    );
    assert_eq!(state.registration_date(), Some(date(2026, 6, 1)));
    assert_eq!(state.time_to_placement(), None);
}

#[test]
fn a_spouse_match_records_the_three_matches() {
    let state = given(
        P::SpousePlacement,
        &[
            register(P::SpousePlacement),
            Command::match_post("区人民医院", "护士", true, false, true).unwrap(),
        ],
    );
    let cycle = state.current();
    assert_eq!(
        (cycle.employer.as_str(), cycle.post.as_str()),
        ("区人民医院", "护士")
    );
    assert_eq!(
        (
            cycle.profession_matched,
            cycle.post_matched,
            cycle.rank_matched
        ),
        (true, false, true)
    );
    assert!(cycle.matched_at.is_some());
}

#[test]
fn registration_needs_the_person_in_the_right_role() {
    let empty = Placement::default();
    let command = register(P::VeteranResettlement);
    let by = actor("district-veterans-bureau");

    let missing = empty.decide(&command, &PlacementFacts::default(), &by);
    assert_eq!(
        missing,
        Err(DomainError::NotFound {
            kind: "person",
            id: PERSON.into()
        })
    );

    let mut someone_else = facts(PersonRole::Veteran);
    someone_else.person.as_mut().unwrap().id = OTHER_PERSON.into();
    assert!(matches!(
        empty.decide(&command, &someone_else, &by),
        Err(DomainError::NotFound { kind: "person", .. })
    ));

    let err = empty
        .decide(&command, &facts(PersonRole::MilitarySpouse), &by)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "person {PERSON} is a military spouse, and veteran resettlement takes veterans only"
        )
    );
    for programme in PROGRAMMES {
        for role in [
            PersonRole::Veteran,
            PersonRole::MilitarySpouse,
            PersonRole::MilitaryChild,
        ] {
            let result = empty.decide(&register(programme), &facts(role), &by);
            assert_eq!(
                result.is_ok(),
                role == role_of(programme),
                "{role:?} in {programme:?}"
            );
        }
    }
}

#[test]
fn the_fast_lane_promise_is_24_hours_from_registration_to_on_duty() {
    let veteran = P::VeteranResettlement;
    let matched = given(veteran, &[registration(veteran, true), match_post()]);
    assert!(matched.current().fast_lane);
    assert_eq!(matched.fast_lane_within_24h(), None, "not on duty yet");

    let payload = when(&matched, &on_duty(), veteran).unwrap();
    let in_time = folded(&matched, veteran, payload.clone(), 23 * 3600 + 59 * 60);
    assert_eq!(in_time.fast_lane_within_24h(), Some(true));
    assert_eq!(
        in_time.time_to_placement(),
        Some(SignedDuration::from_mins(23 * 60 + 59))
    );
    let exactly = folded(&matched, veteran, payload.clone(), 24 * 3600);
    assert_eq!(exactly.fast_lane_within_24h(), Some(true));
    let late = folded(&matched, veteran, payload, 24 * 3600 + 60);
    assert_eq!(late.fast_lane_within_24h(), Some(false));
    assert_eq!(late.current().on_duty_date, Some(date(2026, 6, 2)));
    assert_eq!(late.current().closed_at, late.current().on_duty_at);

    let ordinary = in_status(veteran, Status::OnDuty).unwrap();
    assert_eq!(
        ordinary.fast_lane_within_24h(),
        None,
        "not in the fast lane"
    );
    assert_eq!(
        ordinary.time_to_placement(),
        Some(SignedDuration::from_hours(2))
    );
}

#[test]
fn the_fast_lane_and_the_talent_pool_are_for_veterans() {
    let by = actor("district-veterans-bureau");
    for programme in [P::SpousePlacement, P::SchoolEnrollment] {
        let err = Placement::default()
            .decide(&registration(programme, true), &facts_for(programme), &by)
            .unwrap_err();
        assert!(
            matches!(&err, DomainError::RuleViolated(m) if m.contains("fast lane")),
            "{err}"
        );
    }
    let spouse = in_status(P::SpousePlacement, Status::Matched).unwrap();
    let err = when(&spouse, &talent_pool(), P::SpousePlacement).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the community reserve talent pool (社区后备人才库) takes veterans only, \
         not a spouse placement"
    );
}

#[test]
fn a_veteran_is_recommended_to_the_talent_pool_once_per_cycle() {
    let veteran = P::VeteranResettlement;
    let once = given(veteran, &[register(veteran), talent_pool()]);
    let pool = once.current().talent_pool.clone().unwrap();
    assert_eq!(pool.community_code, "500106001002");
    assert_eq!(pool.note, "免笔试推荐");
    assert_eq!(once.status(), Status::Registered, "the status is unchanged");
    let err = when(&once, &talent_pool(), veteran).unwrap_err();
    assert!(
        matches!(&err, DomainError::RuleViolated(m) if m.contains("already recommended")),
        "{err}"
    );
    // A new cycle may recommend again.
    let again = given(
        veteran,
        &[
            register(veteran),
            talent_pool(),
            withdraw(),
            register(veteran),
            talent_pool(),
        ],
    );
    assert_eq!(again.cycle(), 2);
    assert!(again.current().talent_pool.is_some());
}

#[test]
fn re_registration_after_a_failure_starts_the_next_cycle() {
    let veteran = P::VeteranResettlement;
    let declined = in_status(veteran, Status::Declined).unwrap();
    assert_eq!(declined.current().reason, "岗位离家太远");
    assert!(declined.current().closed_at.is_some());
    assert!(!declined.is_active() && !declined.is_placed());

    let second = given(
        veteran,
        &[
            register(veteran),
            decline(),
            register(veteran),
            match_post(),
        ],
    );
    assert_eq!(second.cycle(), 2);
    assert_eq!(second.declined_cycles(), 1);
    assert_eq!(second.status(), Status::Matched);
    assert!(second.is_active());
    assert!(second.current().reason.is_empty() && second.current().closed_at.is_none());
    assert_eq!(
        second.current().registered_at,
        Some(jiff::Timestamp::new(T0 + 2 * 3600, 0).unwrap()),
        "the clock restarts with the cycle"
    );

    let school = P::SchoolEnrollment;
    let third = given(
        school,
        &[
            register(school),
            decline_school(),
            register(school),
            decline_school(),
            register(school),
            accept(),
            enroll(),
        ],
    );
    assert_eq!((third.cycle(), third.declined_cycles()), (3, 2));
    assert_eq!(third.current().enrolled_school, "沙坪坝区树人小学");
    assert_eq!(
        third.time_to_placement(),
        Some(SignedDuration::from_hours(2))
    );
}

#[test]
fn placing_someone_already_placed_is_refused() {
    for (programme, status) in [
        (P::VeteranResettlement, Status::OnDuty),
        (P::SpousePlacement, Status::OnDuty),
        (P::SchoolEnrollment, Status::Enrolled),
    ] {
        let placed = in_status(programme, status).unwrap();
        assert!(placed.is_placed());
        let err = when(&placed, &register(programme), programme).unwrap_err();
        assert!(
            matches!(&err, DomainError::RuleViolated(m) if m.contains("already placed")),
            "{err}"
        );
    }
    let active = in_status(P::SpousePlacement, Status::Matched).unwrap();
    let err = when(&active, &register(P::SpousePlacement), P::SpousePlacement).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot register a spouse placement that is matched: \
         a cycle is already under way"
    );
}

#[test]
fn a_registration_for_another_person_or_programme_is_refused() {
    let declined = in_status(P::VeteranResettlement, Status::Declined).unwrap();
    let other = Command::register(
        P::VeteranResettlement as i32,
        OTHER_PERSON,
        AREA,
        &districts(),
        false,
        "",
        "",
    )
    .unwrap();
    assert!(matches!(
        when(&declined, &other, P::VeteranResettlement),
        Err(DomainError::RuleViolated(_))
    ));
    assert!(matches!(
        when(&declined, &register(P::SpousePlacement), P::SpousePlacement),
        Err(DomainError::RuleViolated(_))
    ));
}

#[test]
fn on_duty_may_not_precede_registration() {
    let veteran = P::VeteranResettlement;
    let matched = in_status(veteran, Status::Matched).unwrap();
    let early = Command::PutOnDuty {
        on: date(2026, 5, 31),
    };
    let err = when(&matched, &early, veteran).unwrap_err();
    assert_eq!(
        err.to_string(),
        "on duty date 2026-05-31 is before the registration date 2026-06-01"
    );
    let same_day = Command::PutOnDuty {
        on: date(2026, 6, 1),
    };
    assert!(when(&matched, &same_day, veteran).is_ok());
}

#[test]
fn commands_on_a_placement_never_registered_are_not_found() {
    let empty = Placement::default();
    for command in every_command(P::VeteranResettlement).into_iter().skip(1) {
        assert!(matches!(
            when(&empty, &command, P::VeteranResettlement),
            Err(DomainError::NotFound {
                kind: "placement",
                ..
            })
        ));
    }
}

#[test]
fn apply_refuses_what_the_state_cannot_hold() {
    let veteran = P::VeteranResettlement;
    let registered = Payload::PlacementRegistered(pb::PlacementRegistered {
        programme: veteran as i32,
        person_id: PERSON.into(),
        area_code: AREA.into(),
        ..Default::default()
    });

    // A first registration on an id not derived from its person and programme.
    let mut empty = Placement::default();
    let stray = envelope(&empty, &id(P::SpousePlacement), registered.clone(), 0);
    assert!(matches!(
        empty.apply(&stray, 1),
        Err(ApplyError::WrongAggregate { expected_id, .. }) if expected_id == id(veteran)
    ));
    let mut unknown = envelope(&empty, &id(veteran), registered.clone(), 0);
    if let Some(Payload::PlacementRegistered(e)) = unknown.payload.as_mut() {
        e.programme = 99;
    }
    assert!(matches!(
        empty.apply(&unknown, 1),
        Err(ApplyError::NotApplicable { .. })
    ));
    assert_eq!(empty, Placement::default());

    // A re-registration for someone else.
    let declined = in_status(veteran, Status::Declined).unwrap();
    let mut copy = declined.clone();
    let mut foreign_person = envelope(&copy, &id(veteran), registered, 9);
    if let Some(Payload::PlacementRegistered(e)) = foreign_person.payload.as_mut() {
        e.person_id = OTHER_PERSON.into();
    }
    assert!(matches!(
        copy.apply(&foreign_person, 9),
        Err(ApplyError::NotApplicable { .. })
    ));

    // An unreadable date, a second recommendation, another kind's event, a gap.
    let matched = in_status(veteran, Status::Matched).unwrap();
    let mut copy = matched.clone();
    let bad_date = envelope(
        &copy,
        &id(veteran),
        Payload::PlacementOnDuty(pb::PlacementOnDuty {
            on_duty_date: "2026/06/02".into(),
        }),
        9,
    );
    assert!(matches!(
        copy.apply(&bad_date, 9),
        Err(ApplyError::NotApplicable { .. })
    ));
    let recommended = given(veteran, &[register(veteran), talent_pool()]);
    let mut twice = recommended.clone();
    let second = envelope(
        &twice,
        &id(veteran),
        Payload::TalentPoolRecommended(pb::TalentPoolRecommended::default()),
        9,
    );
    assert!(matches!(
        twice.apply(&second, 9),
        Err(ApplyError::NotApplicable { .. })
    ));
    assert_eq!(twice, recommended);
    let request_event = envelope(
        &copy,
        &id(veteran),
        Payload::RequestStarted(pb::RequestStarted::default()),
        9,
    );
    assert!(matches!(
        copy.apply(&request_event, 9),
        Err(ApplyError::NotApplicable { .. })
    ));
    let mut gap = envelope(
        &copy,
        &id(veteran),
        Payload::PlacementOnDuty(pb::PlacementOnDuty {
            on_duty_date: "2026-06-02".into(),
        }),
        9,
    );
    gap.aggregate_version += 1;
    assert_eq!(
        copy.apply(&gap, 9),
        Err(ApplyError::VersionGap {
            expected: 3,
            actual: 4
        })
    );
    assert_eq!(copy, matched, "a refused event leaves the state untouched");
}

#[test]
fn placement_ids_derive_from_person_and_programme() {
    let a = placement_id_for(&person(), P::VeteranResettlement);
    assert_eq!(a, placement_id_for(&person(), P::VeteranResettlement));
    assert_ne!(a, placement_id_for(&person(), P::SpousePlacement));
    let other = uuid::Uuid::parse_str(OTHER_PERSON).unwrap();
    assert_ne!(a, placement_id_for(&other, P::VeteranResettlement));
    assert_eq!(register(P::VeteranResettlement).new_placement_id(), Some(a));
    assert_eq!(match_post().new_placement_id(), None);
}

/// Commands for the property test: every kind, plus the edge cases (fast
/// lane, a registration in another programme, an early on-duty date, one
/// late enough for any registration).
fn command_pool(programme: P) -> Vec<Command> {
    let mut pool = every_command(programme);
    pool.extend([
        registration(programme, true),
        register(if programme == P::SchoolEnrollment {
            P::VeteranResettlement
        } else {
            P::SchoolEnrollment
        }),
        Command::PutOnDuty {
            on: date(2026, 5, 1),
        },
        Command::PutOnDuty {
            on: date(2027, 1, 1),
        },
    ]);
    pool
}

fn arbitrary_step() -> impl Strategy<Value = (usize, u8, i64)> {
    // (command index, whose facts: 0 right role, 1 wrong role, 2 none, hours later)
    (0..13usize, 0..3u8, 0..30i64)
}

proptest! {
    /// Any sequence of commands, decided and applied, yields events whose
    /// replay gives the same state; the version counts the events; a
    /// placement never has two cycles under way and never leaves "placed".
    #[test]
    fn any_command_sequence_folds_the_same_way_twice(
        programme in 0..3usize,
        steps in proptest::collection::vec(arbitrary_step(), 0..40),
    ) {
        let programme = PROGRAMMES[programme];
        let pool = command_pool(programme);
        let by = actor("district-veterans-bureau");
        let mut live = Placement::default();
        let mut log = Vec::new();
        let mut hours = 0;
        for (index, whose, later) in steps {
            hours += later;
            let facts = match whose {
                0 => facts_for(programme),
                1 => facts(if programme == P::VeteranResettlement {
                    PersonRole::MilitaryChild
                } else {
                    PersonRole::Veteran
                }),
                _ => PlacementFacts::default(),
            };
            let was_placed = live.is_placed();
            let command = &pool[index];
            if let Ok(payload) = live.decide(command, &facts, &by) {
                // Intake addresses a first registration by the id it derives.
                let target = match command.new_placement_id() {
                    Some(new) if live.version() == 0 => new.to_string(),
                    _ => live.id().to_string(),
                };
                let event = envelope(&live, &target, payload, hours);
                let position = live.version() + 1;
                live.apply(&event, position).expect("decided events apply");
                log.push((event, position));
            }
            prop_assert!(!was_placed || live.is_placed(), "placed is final");
            let failed = live.declined_cycles() + live.withdrawn_cycles();
            let under_way_or_placed = u32::from(live.is_active() || live.is_placed());
            prop_assert_eq!(live.cycle(), failed + under_way_or_placed, "one cycle at a time");
        }
        let mut replayed = Placement::default();
        for (event, position) in &log {
            replayed.apply(event, *position).unwrap();
        }
        prop_assert_eq!(&replayed, &live);
        prop_assert_eq!(live.version() as usize, log.len());
        if !log.is_empty() {
            let derived = placement_id_for(&live.person_id().unwrap(), live.programme());
            prop_assert_eq!(live.id(), derived.to_string());
        }
        if let Some(within) = live.fast_lane_within_24h() {
            prop_assert_eq!(
                within,
                live.time_to_placement().unwrap() <= SignedDuration::from_hours(24)
            );
        }
    }
}

#[test]
fn a_spouse_on_duty_implies_stopping_a_granted_allowance() {
    use crate::allowance::{Allowance, allowance_id_for};
    use crate::follow_up::{FollowUp, Implies};

    let matched = in_status(P::SpousePlacement, Status::Matched).unwrap();
    let payload = when(&matched, &on_duty(), P::SpousePlacement).unwrap();
    let placed = folded(&matched, P::SpousePlacement, payload.clone(), 3600);
    let follow_ups = placed.follow_ups(&payload);
    let [FollowUp::Allowance(stop)] = follow_ups.as_slice() else {
        panic!("expected one allowance stop")
    };
    assert_eq!(stop.id, allowance_id_for(&person()));
    assert_eq!(stop.key_prefix, "auto-stop");
    assert!(matches!(
        stop.command,
        crate::allowance::Command::Stop {
            automatic: true,
            ..
        }
    ));
    assert!(!(stop.needed)(&Allowance::default()), "nothing to stop");

    // Only the on-duty event of a spouse implies it.
    let veteran = in_status(P::VeteranResettlement, Status::Matched).unwrap();
    let payload = when(&veteran, &on_duty(), P::VeteranResettlement).unwrap();
    let placed = folded(&veteran, P::VeteranResettlement, payload.clone(), 3600);
    assert!(placed.follow_ups(&payload).is_empty());
    let registered = in_status(P::SpousePlacement, Status::Registered).unwrap();
    let payload = when(&registered, &match_post(), P::SpousePlacement).unwrap();
    assert!(registered.follow_ups(&payload).is_empty());
}
