//! given(commands) / when(command) / then(event or error) tests for every
//! transition, and property tests of the fold.

use jiff::civil::date;
use proptest::prelude::*;

use super::*;
use crate::aggregate::{Aggregate, ApplyError};
use crate::error::DomainError;
use crate::fixtures::{self, REQUESTER, submit};
use crate::pb::{self, RequestStatus as S, event_envelope::Payload};

/// A request folds through the `Aggregate` trait, like every kind.
fn apply(
    state: &mut pb::Request,
    event: &pb::EventEnvelope,
    position: u64,
) -> Result<(), ApplyError> {
    Aggregate::apply(state, event, position)
}

fn actor(agency: &str) -> pb::Actor {
    pb::Actor {
        agency: agency.into(),
        user: "tester".into(),
    }
}

fn assign() -> Command {
    fixtures::assign("district-housing-bureau", date(2027, 3, 1))
}

fn note(text: &str) -> String {
    text.to_string()
}

/// The requester's confirmation with `satisfaction`.
fn close(satisfaction: pb::Satisfaction) -> Command {
    Command::Close {
        note: note("确认"),
        satisfaction,
    }
}

/// One command of each kind, valid in shape.
fn every_command() -> Vec<Command> {
    vec![
        submit(),
        assign(),
        Command::Start { note: note("") },
        Command::RecordProgress {
            note: note("图纸已审"),
        },
        Command::Resolve {
            resolution: note("已完工"),
        },
        close(pb::Satisfaction::Satisfied),
        Command::Reject {
            reason: note("不属于职责范围"),
        },
        Command::Reopen {
            reason: note("仍有积水"),
        },
        Command::Escalate {
            level: pb::SupervisionLevel::City,
            reason: note("跨部门协调"),
            due_date: Some(date(2027, 6, 1)),
        },
        Command::ChangeDueDate {
            due_date: date(2027, 4, 1),
            reason: note("雨季顺延"),
        },
        sub_task("district-water-bureau"),
        inspection(),
    ]
}

/// A sub-task for `department`.
fn sub_task(department: &str) -> Command {
    Command::AddSubTask {
        department: crate::validate::Code::parse("department", department).unwrap(),
        due_date: date(2027, 2, 1),
        title: note("铺设排水主管道"),
    }
}

/// Completes sub-task `id`.
fn complete(id: u32) -> Command {
    Command::CompleteSubTask {
        sub_task_id: id,
        note: note("主管道已铺设"),
    }
}

fn inspection() -> Command {
    Command::RecordInspection {
        visited_on: date(2026, 12, 1),
        findings: note("现场施工进度滞后"),
        follow_up_required: true,
    }
}

/// Folds the events of `commands`, each decided by the requester, and panics
/// if any is refused: the `given` of a test.
fn given(commands: &[Command]) -> pb::Request {
    let mut state = pb::Request {
        id: uuid::Uuid::nil().to_string(),
        ..Default::default()
    };
    for command in commands {
        let payload = decide(&state, command, &actor(REQUESTER)).expect("given must be legal");
        fold(&mut state, payload, &actor(REQUESTER));
    }
    state
}

fn fold(state: &mut pb::Request, payload: Payload, by: &pb::Actor) {
    let event = envelope(state, payload, by);
    let position = state.last_position + 1;
    apply(state, &event, position).expect("a decided event must apply");
}

fn envelope(state: &pb::Request, payload: Payload, by: &pb::Actor) -> pb::EventEnvelope {
    pb::EventEnvelope {
        event_id: format!("e{}", state.version + 1),
        aggregate_kind: KIND.into(),
        aggregate_id: uuid::Uuid::nil().to_string(),
        aggregate_version: state.version + 1,
        occurred_at: Some(prost_types::Timestamp {
            seconds: 1_780_000_000 + 3600 * state.version as i64,
            nanos: 0,
        }),
        actor: Some(by.clone()),
        payload: Some(payload),
        ..Default::default()
    }
}

/// The request in each status, reached by legal commands.
fn in_status(status: S) -> pb::Request {
    let start = Command::Start { note: note("") };
    let resolve = Command::Resolve {
        resolution: note("done"),
    };
    let path: Vec<Command> = match status {
        S::Unspecified => vec![],
        S::Submitted => vec![submit()],
        S::Assigned => vec![submit(), assign()],
        S::InProgress => vec![submit(), assign(), start],
        S::Resolved => vec![submit(), assign(), start, resolve],
        S::Closed => vec![
            submit(),
            assign(),
            start,
            resolve,
            close(pb::Satisfaction::BasicallySatisfied),
        ],
        S::Rejected => vec![submit(), Command::Reject { reason: note("no") }],
    };
    let state = given(&path);
    assert_eq!(state.status(), status);
    state
}

const STATUSES: [S; 7] = [
    S::Unspecified,
    S::Submitted,
    S::Assigned,
    S::InProgress,
    S::Resolved,
    S::Closed,
    S::Rejected,
];

/// The lifecycle as the issue states it, written independently of
/// `lifecycle.rs`: (command action, statuses it is legal in, status after or
/// None for "unchanged").
fn expected_lifecycle(action: &str) -> (&'static [S], Option<S>) {
    match action {
        "submit" => (&[S::Unspecified], Some(S::Submitted)),
        "assign" => (&[S::Submitted, S::Assigned], Some(S::Assigned)),
        "start" => (&[S::Assigned], Some(S::InProgress)),
        "record progress on" => (&[S::InProgress], Some(S::InProgress)),
        "resolve" => (&[S::InProgress], Some(S::Resolved)),
        "close" => (&[S::Resolved], Some(S::Closed)),
        "reject" => (&[S::Submitted, S::Assigned], Some(S::Rejected)),
        "reopen" => (&[S::Resolved], Some(S::InProgress)),
        "escalate" => (
            &[S::Submitted, S::Assigned, S::InProgress, S::Resolved],
            None,
        ),
        "change the due date of" => (&[S::Submitted, S::Assigned, S::InProgress], None),
        "add a sub-task to" => (&[S::Submitted, S::Assigned, S::InProgress], None),
        "record an inspection of" => (
            &[S::Submitted, S::Assigned, S::InProgress, S::Resolved],
            None,
        ),
        other => panic!("unknown action {other}"),
    }
}

#[test]
fn every_command_in_every_status_follows_the_lifecycle() {
    for status in STATUSES {
        for command in every_command() {
            let state = in_status(status);
            let (legal_in, after) = expected_lifecycle(command.action());
            let result = decide(&state, &command, &actor(REQUESTER));
            if legal_in.contains(&status) {
                let payload = result.unwrap_or_else(|e| {
                    panic!("{} in {status:?} must be legal: {e}", command.action())
                });
                let mut next = state.clone();
                fold(&mut next, payload, &actor(REQUESTER));
                assert_eq!(next.status(), after.unwrap_or(status));
                assert_eq!(next.version, state.version + 1);
            } else if status == S::Unspecified {
                assert!(matches!(result, Err(DomainError::NotFound { .. })));
            } else {
                assert_eq!(
                    result,
                    Err(DomainError::IllegalTransition {
                        action: command.action(),
                        status
                    }),
                    "{} in {status:?} must be refused",
                    command.action()
                );
            }
        }
    }
}

#[test]
fn illegal_transition_names_the_current_state() {
    let err = decide(
        &in_status(S::Submitted),
        &close(pb::Satisfaction::Satisfied),
        &actor(REQUESTER),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "cannot close a request that is submitted");
}

#[test]
fn only_the_requesting_party_closes_or_disputes() {
    let resolved = in_status(S::Resolved);
    for command in [
        close(pb::Satisfaction::Satisfied),
        Command::Reopen { reason: note("x") },
    ] {
        let err = decide(&resolved, &command, &actor("district-housing-bureau")).unwrap_err();
        assert!(matches!(err, DomainError::PermissionDenied(ref m) if m.contains(REQUESTER)));
    }
}

#[test]
fn submission_records_everything_the_caller_gave() {
    let state = given(&[submit()]);
    assert_eq!(state.title, "训练场排水改造");
    assert_eq!(state.area_code, "500106001002");
    assert_eq!(state.priority(), pb::Priority::High);
    assert_eq!(state.requester.as_ref().unwrap().agency, REQUESTER);
    assert_eq!(state.submitted_by, Some(actor(REQUESTER)));
    assert_eq!(state.timeline.len(), 1);
    assert_eq!(state.timeline[0].event_type, "RequestSubmitted");
}

#[test]
fn a_request_concerning_a_person_keeps_them_as_its_data_subject() {
    let person = uuid::Uuid::from_u128(0x0190_e3a0_0000_8000_8000_0000_0000_0002);
    let Command::Submit(mut submission) = submit() else {
        panic!("a submission");
    };
    let id = uuid::Uuid::from_u128(7);
    let unconcerned = given(&[Command::Submit(submission.clone())]);
    assert_eq!(unconcerned.person_id, "");
    let progress = Payload::ProgressRecorded(pb::ProgressRecorded { note: note("x") });
    assert_eq!(unconcerned.data_subject(id, &progress), None);

    submission.person = Some(person);
    let submitted = decide(
        &pb::Request::default(),
        &Command::Submit(submission.clone()),
        &actor(REQUESTER),
    )
    .unwrap();
    let Payload::RequestSubmitted(e) = &submitted else {
        panic!("a submission records RequestSubmitted");
    };
    assert_eq!(e.person_id, person.to_string());
    assert_eq!(
        pb::Request::default().data_subject(id, &submitted),
        Some(person)
    );
    let state = given(&[Command::Submit(submission)]);
    assert_eq!(state.person_id, person.to_string());
    assert_eq!(state.data_subject(id, &progress), Some(person));
}

#[test]
fn escalation_only_goes_up_and_may_move_the_due_date() {
    let assigned = in_status(S::Assigned);
    let up = Command::Escalate {
        level: pb::SupervisionLevel::District,
        reason: note("督办"),
        due_date: Some(date(2027, 1, 15)),
    };
    let payload = decide(&assigned, &up, &actor("supervision-office")).unwrap();
    let Payload::RequestEscalated(e) = &payload else {
        panic!("expected RequestEscalated, got {payload:?}")
    };
    assert_eq!(e.from_level(), pb::SupervisionLevel::None);
    let mut state = assigned.clone();
    fold(&mut state, payload, &actor("supervision-office"));
    assert_eq!(state.supervision_level(), pb::SupervisionLevel::District);
    assert_eq!(state.due_date, "2027-01-15");

    let same = decide(&state, &up, &actor("supervision-office")).unwrap_err();
    assert!(matches!(same, DomainError::RuleViolated(ref m) if m.contains("district")));
}

#[test]
fn due_date_change_keeps_the_previous_date_and_refuses_no_change() {
    let assigned = in_status(S::Assigned);
    let change = Command::ChangeDueDate {
        due_date: date(2027, 5, 1),
        reason: note("延期"),
    };
    let payload = decide(&assigned, &change, &actor("x")).unwrap();
    assert!(matches!(&payload, Payload::DueDateChanged(e) if e.previous_due_date == "2027-03-01"));
    let mut state = assigned;
    fold(&mut state, payload, &actor("x"));
    assert_eq!(state.due_date, "2027-05-01");
    assert!(matches!(
        decide(&state, &change, &actor("x")),
        Err(DomainError::RuleViolated(_))
    ));
}

#[test]
fn reopening_clears_the_resolution_and_counts_disputes() {
    let mut state = in_status(S::Resolved);
    let payload = decide(
        &state,
        &Command::Reopen {
            reason: note("未解决"),
        },
        &actor(REQUESTER),
    )
    .unwrap();
    fold(&mut state, payload, &actor(REQUESTER));
    assert_eq!(state.status(), S::InProgress);
    assert_eq!(state.reopen_count, 1);
    assert!(state.resolution.is_empty() && state.resolved_at.is_none());
}

#[test]
fn a_rated_confirmation_closes_out_with_its_rating() {
    for rating in [
        pb::Satisfaction::Satisfied,
        pb::Satisfaction::BasicallySatisfied,
    ] {
        let mut state = in_status(S::Resolved);
        let payload = decide(&state, &close(rating), &actor(REQUESTER)).unwrap();
        assert_eq!(
            payload,
            Payload::RequestClosed(pb::RequestClosed {
                note: note("确认"),
                satisfaction: rating as i32,
            })
        );
        fold(&mut state, payload, &actor(REQUESTER));
        assert_eq!(state.status(), S::Closed);
        assert_eq!(state.satisfaction(), rating);
        assert_eq!(state.dissatisfied_count, 0);
    }
}

#[test]
fn a_dissatisfied_confirmation_reopens_in_one_event() {
    let mut state = in_status(S::Resolved);
    let dissatisfied = Command::Close {
        note: note("东侧仍积水"),
        satisfaction: pb::Satisfaction::Dissatisfied,
    };
    let payload = decide(&state, &dissatisfied, &actor(REQUESTER)).unwrap();
    assert_eq!(
        payload,
        Payload::RequestReopened(pb::RequestReopened {
            reason: note("东侧仍积水"),
            satisfaction: pb::Satisfaction::Dissatisfied as i32,
        })
    );
    fold(&mut state, payload, &actor(REQUESTER));
    assert_eq!(state.status(), S::InProgress);
    assert_eq!(state.reopen_count, 1);
    assert_eq!(state.dissatisfied_count, 1);
    assert_eq!(state.satisfaction(), pb::Satisfaction::Dissatisfied);
    assert!(state.resolution.is_empty() && state.closed_at.is_none());

    // Only a resolved request can be confirmed, whatever the rating.
    let err = decide(&state, &dissatisfied, &actor(REQUESTER)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot close a request that is in_progress"
    );
    // Nor may anyone but the requesting party rate it.
    let resolved = in_status(S::Resolved);
    let err = decide(&resolved, &dissatisfied, &actor("district-housing-bureau")).unwrap_err();
    assert!(matches!(err, DomainError::PermissionDenied(_)));

    // Worked again, it closes with a new rating; the 不满意 stays counted.
    let resolve = Command::Resolve {
        resolution: note("已补修"),
    };
    let payload = decide(&state, &resolve, &actor("district-housing-bureau")).unwrap();
    fold(&mut state, payload, &actor("district-housing-bureau"));
    let payload = decide(
        &state,
        &close(pb::Satisfaction::Satisfied),
        &actor(REQUESTER),
    )
    .unwrap();
    fold(&mut state, payload, &actor(REQUESTER));
    assert_eq!(state.status(), S::Closed);
    assert_eq!(state.satisfaction(), pb::Satisfaction::Satisfied);
    assert_eq!(state.dissatisfied_count, 1);
}

#[test]
fn a_dispute_without_a_rating_leaves_the_ratings_alone() {
    let mut state = in_status(S::Resolved);
    let reopen = Command::Reopen {
        reason: note("仍有积水"),
    };
    let payload = decide(&state, &reopen, &actor(REQUESTER)).unwrap();
    assert!(
        matches!(&payload, Payload::RequestReopened(e) if e.satisfaction() == pb::Satisfaction::Unspecified)
    );
    fold(&mut state, payload, &actor(REQUESTER));
    assert_eq!(state.dissatisfied_count, 0);
    assert_eq!(state.satisfaction(), pb::Satisfaction::Unspecified);
}

#[test]
fn a_close_out_recorded_before_ratings_reads_as_not_rated() {
    let mut state = in_status(S::Resolved);
    let legacy = Payload::RequestClosed(pb::RequestClosed {
        note: note("确认销号"),
        ..Default::default()
    });
    fold(&mut state, legacy, &actor(REQUESTER));
    assert_eq!(state.status(), S::Closed);
    assert_eq!(state.satisfaction(), pb::Satisfaction::Unspecified);
}

#[test]
fn a_request_resolves_only_when_its_sub_tasks_are_done() {
    let worker = actor("district-housing-bureau");
    let mut state = in_status(S::InProgress);
    for department in ["district-water-bureau", "district-housing-bureau"] {
        let payload = decide(&state, &sub_task(department), &actor("coordinator")).unwrap();
        fold(&mut state, payload, &actor("coordinator"));
    }
    assert_eq!(
        state.sub_tasks.iter().map(|t| t.id).collect::<Vec<_>>(),
        [1, 2],
        "numbered in the order added"
    );
    assert_eq!(state.sub_tasks[0].department, "district-water-bureau");
    assert_eq!(state.sub_tasks[0].due_date, "2027-02-01");
    assert_eq!(state.status(), S::InProgress);

    let resolve = Command::Resolve {
        resolution: note("已完工"),
    };
    let err = decide(&state, &resolve, &worker).unwrap_err();
    assert_eq!(
        err.to_string(),
        "request has open sub-tasks: #1 (district-water-bureau, due 2027-02-01), \
         #2 (district-housing-bureau, due 2027-02-01); it resolves once they are done"
    );

    let payload = decide(&state, &complete(1), &worker).unwrap();
    assert_eq!(
        payload,
        Payload::SubTaskCompleted(pb::SubTaskCompleted {
            sub_task_id: 1,
            note: note("主管道已铺设"),
        })
    );
    fold(&mut state, payload, &worker);
    assert!(state.sub_tasks[0].done && state.sub_tasks[0].completed_at.is_some());
    let err = decide(&state, &resolve, &worker).unwrap_err();
    assert!(err.to_string().contains("#2 (") && !err.to_string().contains("#1 ("));

    assert!(matches!(
        decide(&state, &complete(1), &worker),
        Err(DomainError::RuleViolated(ref m)) if m == "sub-task #1 is already done"
    ));
    assert!(matches!(
        decide(&state, &complete(3), &worker),
        Err(DomainError::NotFound {
            kind: "sub-task",
            ..
        })
    ));

    let payload = decide(&state, &complete(2), &worker).unwrap();
    fold(&mut state, payload, &worker);
    let payload = decide(&state, &resolve, &worker).unwrap();
    fold(&mut state, payload, &worker);
    assert_eq!(state.status(), S::Resolved);
    assert_eq!(state.timeline.len(), 8);
    // Resolved, nothing more is broken down.
    assert!(matches!(
        decide(&state, &sub_task("district-water-bureau"), &worker),
        Err(DomainError::IllegalTransition { .. })
    ));
}

#[test]
fn sub_tasks_are_bounded() {
    let mut state = in_status(S::Assigned);
    for _ in 0..decide::MAX_SUB_TASKS {
        let payload = decide(&state, &sub_task("d"), &actor("x")).unwrap();
        fold(&mut state, payload, &actor("x"));
    }
    assert!(matches!(
        decide(&state, &sub_task("d"), &actor("x")),
        Err(DomainError::RuleViolated(ref m)) if m.contains("50 sub-tasks")
    ));
}

#[test]
fn inspections_keep_their_findings_and_inspector() {
    let office = actor("district-supervision-office");
    let mut state = in_status(S::Resolved);
    let payload = decide(&state, &inspection(), &office).unwrap();
    fold(&mut state, payload, &office);
    assert_eq!(state.status(), S::Resolved, "an inspection moves no status");
    let visit = &state.inspections[0];
    assert_eq!(visit.visited_on, "2026-12-01");
    assert_eq!(visit.findings, "现场施工进度滞后");
    assert!(visit.follow_up_required);
    assert_eq!(visit.inspector, Some(office));
    let last = state.timeline.last().unwrap();
    assert_eq!(
        (last.event_type.as_str(), last.note.as_str()),
        ("InspectionRecorded", "现场施工进度滞后")
    );
    assert!(matches!(
        decide(&in_status(S::Closed), &inspection(), &actor("x")),
        Err(DomainError::IllegalTransition { .. })
    ));
}

#[test]
fn apply_refuses_sub_task_events_that_break_the_numbering() {
    let state = in_status(S::InProgress);
    let skipped = Payload::SubTaskAdded(pb::SubTaskAdded {
        sub_task_id: 2,
        department: "d".into(),
        due_date: "2027-01-01".into(),
        title: "x".into(),
    });
    let mut copy = state.clone();
    let event = envelope(&state, skipped, &actor("x"));
    assert!(matches!(
        apply(&mut copy, &event, 9),
        Err(ApplyError::NotApplicable { .. })
    ));
    let unknown = Payload::SubTaskCompleted(pb::SubTaskCompleted {
        sub_task_id: 1,
        note: String::new(),
    });
    let event = envelope(&state, unknown, &actor("x"));
    assert!(matches!(
        apply(&mut copy, &event, 9),
        Err(ApplyError::NotApplicable { .. })
    ));
    assert_eq!(copy, state);
}

#[test]
fn apply_refuses_gaps_foreign_events_and_unknown_payloads() {
    let state = in_status(S::Assigned);
    let started = Payload::RequestStarted(pb::RequestStarted::default());

    let mut gap = envelope(&state, started.clone(), &actor("x"));
    gap.aggregate_version += 1;
    let mut copy = state.clone();
    assert_eq!(
        apply(&mut copy, &gap, 9),
        Err(ApplyError::VersionGap {
            expected: 3,
            actual: 4
        })
    );
    assert_eq!(copy, state, "a refused event leaves the state untouched");

    let mut foreign = envelope(&state, started.clone(), &actor("x"));
    foreign.aggregate_id = uuid::Uuid::max().to_string();
    assert!(matches!(
        apply(&mut copy, &foreign, 9),
        Err(ApplyError::WrongAggregate { .. })
    ));

    let mut empty = envelope(&state, started, &actor("x"));
    empty.payload = None;
    assert_eq!(apply(&mut copy, &empty, 9), Err(ApplyError::MissingPayload));

    let closed = envelope(
        &state,
        Payload::RequestClosed(pb::RequestClosed::default()),
        &actor("x"),
    );
    assert!(matches!(
        apply(&mut copy, &closed, 9),
        Err(ApplyError::NotApplicable { .. })
    ));
}

#[test]
fn request_ids_derive_from_agency_and_key() {
    let a = request_id_for("unit-1", "k1");
    assert_eq!(a, request_id_for("unit-1", "k1"));
    assert_ne!(a, request_id_for("unit-2", "k1"));
    assert_ne!(a, request_id_for("unit-1", "k2"));
}

/// Every command, and completions of the first sub-tasks (legal only once
/// they were added, so not in [`every_command`]).
fn sequence_commands() -> Vec<Command> {
    let mut commands = every_command();
    commands.extend([complete(1), complete(2)]);
    commands
}

fn arbitrary_command() -> impl Strategy<Value = (Command, bool)> {
    (0..sequence_commands().len(), any::<bool>())
        .prop_map(|(i, by_requester)| (sequence_commands()[i].clone(), by_requester))
}

proptest! {
    /// Any sequence of commands, decided and applied, yields events whose
    /// replay gives the same state; versions and timelines stay consistent.
    #[test]
    fn any_command_sequence_folds_the_same_way_twice(
        commands in proptest::collection::vec(arbitrary_command(), 0..40)
    ) {
        let mut live = pb::Request { id: uuid::Uuid::nil().to_string(), ..Default::default() };
        let mut log = Vec::new();
        for (command, by_requester) in &commands {
            let by = actor(if *by_requester { REQUESTER } else { "district-housing-bureau" });
            if let Ok(payload) = decide(&live, command, &by) {
                let event = envelope(&live, payload, &by);
                let position = live.last_position + 1;
                apply(&mut live, &event, position).expect("decided events apply");
                log.push((event, position));
            }
        }
        let mut replayed = pb::Request { id: uuid::Uuid::nil().to_string(), ..Default::default() };
        for (event, position) in &log {
            apply(&mut replayed, event, *position).unwrap();
        }
        prop_assert_eq!(&replayed, &live);
        prop_assert_eq!(live.version as usize, log.len());
        prop_assert_eq!(live.timeline.len(), log.len());
        if live.status() == S::Closed {
            prop_assert!(live.closed_at.is_some() && live.resolved_at.is_some());
        }
        if matches!(live.status(), S::Resolved | S::Closed) {
            prop_assert!(live.sub_tasks.iter().all(|t| t.done), "resolved with an open sub-task");
        }
        let ids: Vec<u32> = live.sub_tasks.iter().map(|t| t.id).collect();
        prop_assert_eq!(ids, (1..=live.sub_tasks.len() as u32).collect::<Vec<_>>());
    }
}

mod clocks {
    //! Supervision clocks on a request: given a policy and a request,
    //! when a day comes, then the actions it still needs, which record
    //! once, re-arm with a new due date and stop once resolved.

    use super::*;
    use crate::supervision::{Action, Effect, Policy};

    const POLICY: &str = r#"
version = "t"
[[rules]]
id = "standard"
remind_before_days = [3]
remind_on_due_date = true
remind_overdue_every_days = 2
escalate = [{ overdue_days = 5, to = "district" }, { overdue_days = 20, to = "city" }]
[[rules]]
id = "district-watch"
level = "district"
remind_overdue_every_days = 1
"#;

    fn policy() -> Policy {
        Policy::parse(POLICY).unwrap()
    }

    /// Runs the actions due on `today` as their rules' actors until none
    /// is left (an escalation may hand the request to another rule, whose
    /// clocks are then due too); returns them.
    fn tick(state: &mut pb::Request, today: jiff::civil::Date) -> Vec<Action> {
        let mut all = Vec::new();
        loop {
            let actions = due_actions(&policy(), state, today);
            if actions.is_empty() {
                return all;
            }
            for action in &actions {
                let command = Command::Supervise(action.clone());
                let payload =
                    decide(state, &command, &action.actor()).expect("a due action is legal");
                fold(state, payload, &action.actor());
            }
            all.extend(actions);
        }
    }

    fn effects(actions: &[Action]) -> Vec<(String, Effect)> {
        actions
            .iter()
            .map(|a| (a.occurrence.to_string(), a.effect))
            .collect()
    }

    #[test]
    fn a_request_is_reminded_and_escalated_once_per_rule_and_deadline() {
        let mut state = in_status(S::Assigned);
        assert_eq!(state.due_date, "2027-03-01");
        let mut fired = Vec::new();
        for day in 0..12 {
            let today = date(2027, 2, 25)
                .checked_add(jiff::Span::new().days(day))
                .unwrap();
            fired.extend(effects(&tick(&mut state, today)));
        }
        let remind = |k| Effect::Remind(k);
        use pb::ReminderKind as K;
        assert_eq!(
            fired,
            vec![
                ("2027-02-26".into(), remind(K::DueSoon)),
                ("2027-03-01".into(), remind(K::DueToday)),
                ("2027-03-03".into(), remind(K::Overdue)),
                ("2027-03-05".into(), remind(K::Overdue)),
                (
                    "2027-03-06".into(),
                    Effect::Escalate(pb::SupervisionLevel::District)
                ),
                // The district rule takes over: reminds every day overdue.
                ("2027-03-06".into(), remind(K::Overdue)),
                ("2027-03-07".into(), remind(K::Overdue)),
                ("2027-03-08".into(), remind(K::Overdue)),
            ]
        );
        assert_eq!(state.supervision_level(), pb::SupervisionLevel::District);
        assert_eq!(state.supervision_fired.len(), fired.len());
        let last = state.timeline.last().unwrap();
        assert_eq!(last.event_type, "RequestReminded");
        assert_eq!(last.actor.as_ref().unwrap().user, "district-watch");
        assert_eq!(last.note, "overdue: due 2027-03-01 (rule district-watch)");
    }

    #[test]
    fn a_recorded_action_is_refused_and_a_moved_due_date_re_arms() {
        let mut state = in_status(S::InProgress);
        let today = date(2027, 3, 1);
        let action = tick(&mut state, today).remove(0);
        let again = decide(&state, &Command::Supervise(action.clone()), &action.actor());
        assert!(
            matches!(again, Err(DomainError::AlreadyExists { .. })),
            "{again:?}"
        );

        let moved = Command::ChangeDueDate {
            due_date: date(2027, 3, 2),
            reason: note("顺延"),
        };
        let payload = decide(&state, &moved, &actor(REQUESTER)).unwrap();
        fold(&mut state, payload, &actor(REQUESTER));
        let stale = decide(&state, &Command::Supervise(action), &actor("x"));
        assert!(
            matches!(&stale, Err(DomainError::RuleViolated(m)) if m.contains("due on 2027-03-02")),
            "{stale:?}"
        );
        let rearmed = effects(&tick(&mut state, today));
        assert_eq!(
            rearmed,
            vec![(
                "2027-02-27".into(),
                Effect::Remind(pb::ReminderKind::DueSoon)
            )]
        );
    }

    #[test]
    fn resolved_and_finished_requests_run_no_clocks() {
        let late = date(2027, 6, 1);
        for status in [S::Resolved, S::Closed, S::Rejected, S::Submitted] {
            let state = in_status(status);
            assert!(
                due_actions(&policy(), &state, late).is_empty(),
                "{status:?}"
            );
        }
        let mut working = in_status(S::InProgress);
        let action = due_actions(&policy(), &working, late).remove(0);
        let resolve = Command::Resolve {
            resolution: note("done"),
        };
        let payload = decide(&working, &resolve, &actor("x")).unwrap();
        fold(&mut working, payload, &actor("x"));
        let refused = decide(&working, &Command::Supervise(action), &actor("x"));
        assert!(
            matches!(refused, Err(DomainError::IllegalTransition { .. })),
            "{refused:?}"
        );
    }
}

mod clock_properties {
    //! Whatever the days the clock visits (in order, possibly skipping)
    //! and however the due date moves, each key is recorded once and
    //! names the due date in force when it fired.

    use std::collections::BTreeSet;

    use super::*;
    use crate::supervision::{Effect, Policy};

    const POLICY: &str = r#"
version = "p"
[[rules]]
id = "standard"
remind_before_days = [1, 4]
remind_on_due_date = true
remind_overdue_every_days = 3
escalate = [{ overdue_days = 2, to = "district" }, { overdue_days = 9, to = "national" }]
[[rules]]
id = "district"
level = "district"
remind_overdue_every_days = 1
escalate = [{ overdue_days = 4, to = "city" }]
"#;

    proptest! {
        #[test]
        fn every_clock_action_is_recorded_once_for_the_due_date_in_force(
            steps in proptest::collection::vec((1i64..4, proptest::option::weighted(0.15, 0i64..20)), 1..40)
        ) {
            let policy = Policy::parse(POLICY).unwrap();
            let mut state = in_status(S::InProgress);
            let mut today = date(2027, 2, 20);
            let mut keys = BTreeSet::new();
            for (advance, moved_to) in steps {
                today = today.checked_add(jiff::Span::new().days(advance)).unwrap();
                if let Some(offset) = moved_to {
                    let due_date = today.checked_add(jiff::Span::new().days(offset)).unwrap();
                    if due_date.to_string() != state.due_date {
                        let change = Command::ChangeDueDate { due_date, reason: note("moved") };
                        let payload = decide(&state, &change, &actor(REQUESTER)).unwrap();
                        fold(&mut state, payload, &actor(REQUESTER));
                    }
                }
                // Until nothing is due: an escalation hands over to another rule.
                for _ in 0..4 {
                    let actions = due_actions(&policy, &state, today);
                    for action in actions {
                        prop_assert_eq!(action.due_date.to_string(), state.due_date.clone());
                        prop_assert!(action.occurrence <= today);
                        if let Effect::Escalate(to) = action.effect {
                            prop_assert!(to > state.supervision_level());
                        }
                        prop_assert!(keys.insert(action.key()), "recorded twice: {}", action.key());
                        let command = Command::Supervise(action.clone());
                        let payload = decide(&state, &command, &action.actor()).unwrap();
                        fold(&mut state, payload, &action.actor());
                        let again = decide(&state, &command, &action.actor());
                        prop_assert!(again.is_err());
                    }
                }
                prop_assert!(due_actions(&policy, &state, today).is_empty());
            }
            prop_assert_eq!(state.supervision_fired.len(), keys.len());
        }
    }
}
