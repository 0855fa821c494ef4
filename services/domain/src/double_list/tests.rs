//! given(events) / when(command) / then(event or error) for the double list.

use uuid::Uuid;

use super::*;
use crate::aggregate::testing::{actor, envelope, run};
use crate::command_meta::{CommandMessage, ParseEnv};
use crate::pb;

const YEAR: i32 = 2026;
const TROOPS: Direction = Direction::MilitaryToLocal;

fn request(n: u128, direction: Direction) -> DoubleListFacts {
    DoubleListFacts {
        request: Some(RequestFacts {
            id: Uuid::from_u128(n),
            direction,
        }),
    }
}

fn add(n: u128) -> Command {
    Command::Add {
        year: YEAR,
        direction: TROOPS,
        request_id: Uuid::from_u128(n),
        note: "营区道路".into(),
    }
}

fn remove(n: u128) -> Command {
    Command::Remove {
        request_id: Uuid::from_u128(n),
        reason: "merged into another item".into(),
    }
}

fn id() -> String {
    double_list_id(YEAR, TROOPS).to_string()
}

/// A draft with requests 1 and 2 on it.
fn draft() -> DoubleList {
    let mut list = DoubleList::new(id());
    run(&mut list, &id(), &add(1), &request(1, TROOPS), 0);
    run(&mut list, &id(), &add(2), &request(2, TROOPS), 1);
    list
}

fn decide(
    list: &DoubleList,
    command: &Command,
    facts: &DoubleListFacts,
) -> Result<Payload, DomainError> {
    list.decide(command, facts, &actor("coordinating-office"))
}

#[test]
fn one_list_per_year_and_direction() {
    assert_eq!(double_list_id(YEAR, TROOPS), double_list_id(YEAR, TROOPS));
    assert_ne!(
        double_list_id(YEAR, TROOPS),
        double_list_id(YEAR + 1, TROOPS)
    );
    assert_ne!(
        double_list_id(YEAR, TROOPS),
        double_list_id(YEAR, Direction::LocalToMilitary)
    );
}

#[test]
fn the_first_item_names_the_list() {
    let list = draft();
    assert_eq!((list.year(), list.direction()), (YEAR, TROOPS));
    let ids: Vec<_> = list.items().iter().map(|item| item.request_id).collect();
    assert_eq!(ids, [Uuid::from_u128(1), Uuid::from_u128(2)]);
    assert_eq!(list.items()[0].note, "营区道路");
    assert!(!list.is_published());
}

#[test]
fn an_unknown_request_is_not_found() {
    let err = decide(&draft(), &add(3), &DoubleListFacts::default()).unwrap_err();
    assert!(
        matches!(
            err,
            DomainError::NotFound {
                kind: "request",
                ..
            }
        ),
        "{err:?}"
    );
    // Facts about another request do not count.
    let err = decide(&draft(), &add(3), &request(4, TROOPS)).unwrap_err();
    assert!(
        matches!(
            err,
            DomainError::NotFound {
                kind: "request",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_request_of_the_other_direction_is_refused() {
    let err = decide(&draft(), &add(3), &request(3, Direction::LocalToMilitary)).unwrap_err();
    let DomainError::RuleViolated(why) = err else {
        panic!("{err:?}")
    };
    assert!(why.contains("local-to-military need"), "{why}");
}

#[test]
fn an_item_is_added_once() {
    let err = decide(&draft(), &add(2), &request(2, TROOPS)).unwrap_err();
    let DomainError::RuleViolated(why) = err else {
        panic!("{err:?}")
    };
    assert!(why.contains("already on the double list 2026"), "{why}");
}

#[test]
fn a_removed_item_may_come_back() {
    let mut list = draft();
    let removed = run(&mut list, &id(), &remove(1), &DoubleListFacts::default(), 2);
    assert!(matches!(removed, Payload::DoubleListItemRemoved(_)));
    assert!(!list.contains(Uuid::from_u128(1)));
    let err = decide(&list, &remove(1), &DoubleListFacts::default()).unwrap_err();
    assert!(matches!(
        err,
        DomainError::NotFound {
            kind: "double-list item",
            ..
        }
    ));
    run(&mut list, &id(), &add(1), &request(1, TROOPS), 3);
    assert_eq!(list.items().len(), 2);
}

#[test]
fn publishing_fixes_the_list() {
    let mut list = draft();
    let published = run(
        &mut list,
        &id(),
        &Command::Publish,
        &DoubleListFacts::default(),
        4,
    );
    assert_eq!(
        published,
        Payload::DoubleListPublished(pb::DoubleListPublished { items: 2 })
    );
    assert!(list.is_published());
    assert!(list.published_at().is_some());
    for (command, facts) in [
        (add(3), request(3, TROOPS)),
        (remove(1), DoubleListFacts::default()),
        (Command::Publish, DoubleListFacts::default()),
    ] {
        let err = decide(&list, &command, &facts).unwrap_err();
        let DomainError::RuleViolated(why) = err else {
            panic!("{err:?}")
        };
        assert!(why.contains("is published"), "{why}");
    }
}

#[test]
fn an_empty_list_is_not_published() {
    let none = DoubleList::new(id());
    let err = decide(&none, &Command::Publish, &DoubleListFacts::default()).unwrap_err();
    assert!(matches!(
        err,
        DomainError::NotFound {
            kind: "double-list",
            ..
        }
    ));
    let mut emptied = draft();
    run(
        &mut emptied,
        &id(),
        &remove(1),
        &DoubleListFacts::default(),
        2,
    );
    run(
        &mut emptied,
        &id(),
        &remove(2),
        &DoubleListFacts::default(),
        3,
    );
    let err = decide(&emptied, &Command::Publish, &DoubleListFacts::default()).unwrap_err();
    assert!(matches!(err, DomainError::RuleViolated(_)), "{err:?}");
}

#[test]
fn apply_refuses_a_change_after_publishing_and_a_twin() {
    let mut list = draft();
    let twin = Payload::DoubleListItemAdded(pb::DoubleListItemAdded {
        year: YEAR,
        direction: TROOPS as i32,
        request_id: Uuid::from_u128(1).to_string(),
        note: String::new(),
    });
    let before = list.clone();
    assert!(
        list.apply(&envelope(&list, &id(), twin.clone(), 5), 9)
            .is_err()
    );
    assert_eq!(list, before);
    run(
        &mut list,
        &id(),
        &Command::Publish,
        &DoubleListFacts::default(),
        6,
    );
    let removal = Payload::DoubleListItemRemoved(pb::DoubleListItemRemoved {
        request_id: Uuid::from_u128(2).to_string(),
        reason: "late".into(),
    });
    let published = list.clone();
    assert!(list.apply(&envelope(&list, &id(), removal, 7), 10).is_err());
    assert_eq!(list, published);
}

fn env() -> ParseEnv {
    ParseEnv {
        districts: crate::validate::Districts::parse("500106").unwrap(),
        identity_key: [7; 32],
    }
}

fn context() -> Option<pb::CommandContext> {
    Some(pb::CommandContext {
        idempotency_key: "list-1".into(),
        ..Default::default()
    })
}

#[test]
fn messages_name_the_list_by_year_and_direction() {
    let message = pb::AddDoubleListItemCommand {
        context: context(),
        year: YEAR,
        direction: TROOPS as i32,
        request_id: Uuid::from_u128(1).to_string(),
        note: " 营区道路 ".into(),
    };
    let now = jiff::Timestamp::from_second(1_780_272_000).unwrap();
    let parsed = message
        .parse(&env(), &actor("coordinating-office"), now)
        .unwrap();
    assert_eq!(parsed.id, double_list_id(YEAR, TROOPS));
    assert_eq!(parsed.command, add(1));
}

#[test]
fn bad_fields_are_named() {
    let message = pb::RemoveDoubleListItemCommand {
        context: context(),
        year: 1999,
        direction: 0,
        request_id: "not-a-uuid".into(),
        reason: String::new(),
    };
    let now = jiff::Timestamp::from_second(1_780_272_000).unwrap();
    let err = message
        .parse(&env(), &actor("coordinating-office"), now)
        .unwrap_err();
    let DomainError::Invalid(violations) = err else {
        panic!("{err:?}")
    };
    let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["year", "direction", "request_id", "reason"]);
    let next_year_plus_one = pb::PublishDoubleListCommand {
        context: context(),
        year: 2028,
        direction: TROOPS as i32,
    };
    let err = next_year_plus_one
        .parse(&env(), &actor("coordinating-office"), now)
        .unwrap_err();
    assert!(err.to_string().contains("between 2000 and 2027"), "{err}");
}
