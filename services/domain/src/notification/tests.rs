//! One test per kind of notification: who is told, and that the id is
//! stable and distinct.

use super::*;
use crate::pb::{RequestingParty, SupervisionLevel};

const REQUESTER: &str = "unit-31001";
const DEPARTMENT: &str = "district-housing-bureau";

/// An assigned request of `REQUESTER`, at version 3, after `payload`.
fn request() -> pb::Request {
    pb::Request {
        id: "8f0e2b7c-0000-4000-8000-000000000001".into(),
        version: 3,
        requester: Some(RequestingParty {
            agency: REQUESTER.into(),
            name: "某部营房科".into(),
        }),
        department: DEPARTMENT.into(),
        due_date: "2027-03-01".into(),
        supervision_level: SupervisionLevel::District as i32,
        category: pb::Category::Medical as i32,
        ..Default::default()
    }
}

fn event(payload: Payload) -> EventEnvelope {
    EventEnvelope {
        aggregate_kind: crate::request::KIND.into(),
        aggregate_version: 3,
        occurred_at: Some(prost_types::Timestamp {
            seconds: 1_780_000_000,
            nanos: 0,
        }),
        payload: Some(payload),
        ..Default::default()
    }
}

/// (agency, kind) of each notification `payload` yields for [`request`].
fn told(payload: Payload) -> Vec<(String, NotificationKind)> {
    notifications(&request(), &event(payload), 42)
        .into_iter()
        .map(|n| (n.agency.clone(), n.kind()))
        .collect()
}

fn reminded(kind: pb::ReminderKind, department: &str) -> Payload {
    Payload::RequestReminded(pb::RequestReminded {
        rule_id: "medical-district".into(),
        kind: kind as i32,
        due_date: "2027-03-01".into(),
        occurrence: "2027-02-26".into(),
        department: department.into(),
    })
}

#[test]
fn an_assignment_tells_the_department_it_names() {
    let payload = Payload::RequestAssigned(pb::RequestAssigned {
        department: "district-health-commission".into(),
        due_date: "2027-03-01".into(),
        note: String::new(),
    });
    assert_eq!(
        told(payload),
        [(
            "district-health-commission".into(),
            NotificationKind::Assigned
        )]
    );
}

#[test]
fn reminders_tell_the_reminded_department_due_soon_or_overdue() {
    for (kind, expected) in [
        (pb::ReminderKind::DueSoon, NotificationKind::DueSoon),
        (pb::ReminderKind::DueToday, NotificationKind::DueSoon),
        (pb::ReminderKind::Overdue, NotificationKind::Overdue),
    ] {
        assert_eq!(
            told(reminded(kind, DEPARTMENT)),
            [(DEPARTMENT.into(), expected)]
        );
    }
    // Before any assignment the coordinating office's board shows it.
    assert!(told(reminded(pb::ReminderKind::Overdue, "")).is_empty());
}

#[test]
fn an_escalation_tells_the_department_and_the_requester() {
    let payload = Payload::RequestEscalated(pb::RequestEscalated {
        from_level: SupervisionLevel::None as i32,
        to_level: SupervisionLevel::District as i32,
        ..Default::default()
    });
    assert_eq!(
        told(payload),
        [
            (DEPARTMENT.into(), NotificationKind::Escalated),
            (REQUESTER.into(), NotificationKind::Escalated),
        ]
    );
}

#[test]
fn an_escalation_of_an_unassigned_request_tells_only_the_requester() {
    let mut unassigned = request();
    unassigned.department.clear();
    let payload = Payload::RequestEscalated(pb::RequestEscalated::default());
    let told: Vec<_> = notifications(&unassigned, &event(payload), 7)
        .into_iter()
        .map(|n| n.agency)
        .collect();
    assert_eq!(told, [REQUESTER]);
}

#[test]
fn a_department_that_raised_its_own_request_is_told_once() {
    let mut own = request();
    own.department = REQUESTER.into();
    let payload = Payload::RequestEscalated(pb::RequestEscalated::default());
    assert_eq!(notifications(&own, &event(payload), 7).len(), 1);
}

#[test]
fn a_resolution_awaits_the_requesters_confirmation() {
    let payload = Payload::RequestResolved(pb::RequestResolved {
        resolution: "已完工".into(),
    });
    assert_eq!(
        told(payload),
        [(REQUESTER.into(), NotificationKind::AwaitingConfirmation)]
    );
}

#[test]
fn a_reopening_tells_the_department() {
    let payload = Payload::RequestReopened(pb::RequestReopened {
        reason: "仍有积水".into(),
        satisfaction: pb::Satisfaction::Dissatisfied as i32,
    });
    assert_eq!(
        told(payload),
        [(DEPARTMENT.into(), NotificationKind::Reopened)]
    );
}

#[test]
fn other_events_tell_nobody() {
    for payload in [
        Payload::RequestStarted(pb::RequestStarted::default()),
        Payload::ProgressRecorded(pb::ProgressRecorded::default()),
        Payload::RequestClosed(pb::RequestClosed::default()),
        Payload::DueDateChanged(pb::DueDateChanged::default()),
    ] {
        assert!(told(payload).is_empty());
    }
    assert!(notifications(&request(), &EventEnvelope::default(), 1).is_empty());
}

#[test]
fn a_notification_carries_the_request_after_the_event_and_a_stable_id() {
    let payload = Payload::RequestResolved(pb::RequestResolved::default());
    let first = notifications(&request(), &event(payload.clone()), 42);
    let again = notifications(&request(), &event(payload), 42);
    assert_eq!(first, again);
    let n = &first[0];
    assert_eq!(n.position, 42);
    assert_eq!(n.request_id, request().id);
    assert_eq!(n.request_version, 3);
    assert_eq!(n.event_type, "RequestResolved");
    assert_eq!(n.due_date, "2027-03-01");
    assert_eq!(n.department, DEPARTMENT);
    assert_eq!(n.category(), pb::Category::Medical);
    assert_eq!(n.occurred_at.map(|t| t.seconds), Some(1_780_000_000));
    assert_eq!(
        n.id,
        notification_id(42, REQUESTER, NotificationKind::AwaitingConfirmation)
    );
    // Another position, agency or kind is another notification.
    let others = [
        notification_id(43, REQUESTER, NotificationKind::AwaitingConfirmation),
        notification_id(42, DEPARTMENT, NotificationKind::AwaitingConfirmation),
        notification_id(42, REQUESTER, NotificationKind::Reopened),
    ];
    assert!(others.iter().all(|other| *other != n.id));
}
