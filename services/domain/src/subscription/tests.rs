//! given(events) / when(command) / then(event or error) for subscriptions,
//! and the parsing of their command messages.

use super::*;
use crate::command_meta::{CommandMessage, ParseEnv};
use crate::validate::Districts;

const AGENCY: &str = "district-health-commission";

fn admin() -> pb::Actor {
    pb::Actor {
        agency: "district-data-center".into(),
        user: "ops".into(),
    }
}

fn env() -> ParseEnv {
    ParseEnv {
        districts: Districts::parse("500106").unwrap(),
        identity_key: [7; 32],
    }
}

fn ctx() -> Option<pb::CommandContext> {
    Some(pb::CommandContext {
        idempotency_key: "sub-1".into(),
        ..Default::default()
    })
}

fn subscribe_message(url: &str, kinds: &[pb::NotificationKind]) -> pb::SubscribeWebhookCommand {
    pb::SubscribeWebhookCommand {
        context: ctx(),
        agency: AGENCY.into(),
        url: url.into(),
        secret_id: "health-hook".into(),
        kinds: kinds.iter().map(|k| *k as i32).collect(),
    }
}

fn parsed<M: CommandMessage<Target = Subscription>>(message: &M) -> Command {
    message
        .parse(&env(), &admin(), jiff::Timestamp::now())
        .expect("a valid message")
        .command
}

/// Decides and folds `commands` in order, the n-th at position n: the
/// `given` of a test.
fn given(commands: &[Command]) -> Subscription {
    let mut state = Subscription::default();
    for (position, command) in (1..).zip(commands) {
        let payload = state
            .decide(command, &(), &admin())
            .expect("given must be legal");
        let event = pb::EventEnvelope {
            aggregate_kind: KIND.into(),
            aggregate_id: subscription_id_for(AGENCY).to_string(),
            aggregate_version: state.version() + 1,
            payload: Some(payload),
            ..Default::default()
        };
        state
            .apply(&event, position)
            .expect("a decided event applies");
    }
    state
}

fn subscribe(url: &str) -> Command {
    parsed(&subscribe_message(url, &[]))
}

fn unsubscribe() -> Command {
    parsed(&pb::UnsubscribeWebhookCommand {
        context: ctx(),
        agency: AGENCY.into(),
        reason: "换用短信网关".into(),
    })
}

#[test]
fn subscribing_records_the_receiver_and_derives_the_id_from_the_agency() {
    let message = subscribe_message(
        "https://hooks.example.cn/sy",
        &[
            pb::NotificationKind::Assigned,
            pb::NotificationKind::Assigned,
        ],
    );
    let parsed = message
        .parse(&env(), &admin(), jiff::Timestamp::now())
        .unwrap();
    assert_eq!(parsed.id, subscription_id_for(AGENCY));
    let state = given(&[parsed.command]);
    assert!(state.active);
    assert_eq!(state.agency, AGENCY);
    assert_eq!(state.url, "https://hooks.example.cn/sy");
    assert_eq!(state.secret_id, "health-hook");
    // Duplicates collapse; only the kinds asked for are wanted.
    assert_eq!(state.kinds, [pb::NotificationKind::Assigned as i32]);
    assert!(state.wants(pb::NotificationKind::Assigned));
    assert!(!state.wants(pb::NotificationKind::Overdue));
}

#[test]
fn no_kinds_means_every_kind() {
    let state = given(&[subscribe("https://h/")]);
    assert!(state.wants(pb::NotificationKind::Overdue));
    assert!(state.wants(pb::NotificationKind::Reopened));
}

#[test]
fn the_same_subscription_again_is_already_there_and_a_changed_one_replaces_it() {
    let state = given(&[subscribe("https://h/a")]);
    let again = state.decide(&subscribe("https://h/a"), &(), &admin());
    assert!(
        matches!(again, Err(DomainError::AlreadyExists { .. })),
        "{again:?}"
    );
    let replaced = given(&[subscribe("https://h/a"), subscribe("https://h/b")]);
    assert_eq!(
        (replaced.url.as_str(), replaced.version()),
        ("https://h/b", 2)
    );
}

#[test]
fn unsubscribing_ends_delivery_and_needs_a_subscription() {
    let state = given(&[subscribe("https://h/"), unsubscribe()]);
    assert!(!state.active);
    assert!(!state.wants(pb::NotificationKind::Assigned));
    let twice = state.decide(&unsubscribe(), &(), &admin());
    assert!(
        matches!(twice, Err(DomainError::RuleViolated(_))),
        "{twice:?}"
    );
    let never = Subscription::default().decide(&unsubscribe(), &(), &admin());
    assert!(
        matches!(never, Err(DomainError::RuleViolated(_))),
        "{never:?}"
    );
    // And subscribing again resumes it.
    assert!(
        given(&[
            subscribe("https://h/"),
            unsubscribe(),
            subscribe("https://h/")
        ])
        .active
    );
}

#[test]
fn bad_messages_name_every_bad_field() {
    let message = pb::SubscribeWebhookCommand {
        context: ctx(),
        agency: "no spaces".into(),
        url: "ftp://x".into(),
        secret_id: String::new(),
        kinds: vec![0, 99],
    };
    let Err(DomainError::Invalid(violations)) =
        message.parse(&env(), &admin(), jiff::Timestamp::now())
    else {
        panic!("must be invalid");
    };
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["agency", "url", "secret_id", "kinds.0", "kinds.1"]);
}

#[test]
fn apply_refuses_an_unsubscription_of_nothing() {
    let event = pb::EventEnvelope {
        aggregate_kind: KIND.into(),
        aggregate_id: subscription_id_for(AGENCY).to_string(),
        aggregate_version: 1,
        payload: Some(Payload::WebhookUnsubscribed(
            pb::WebhookUnsubscribed::default(),
        )),
        ..Default::default()
    };
    let mut state = Subscription::default();
    assert!(matches!(
        state.apply(&event, 1),
        Err(ApplyError::NotApplicable { .. })
    ));
    assert_eq!(state, Subscription::default());
}

#[test]
fn delivery_starts_where_the_subscription_did_and_a_replacement_keeps_it() {
    assert_eq!(given(&[subscribe("https://h/a")]).since, 1);
    let replaced = given(&[subscribe("https://h/a"), subscribe("https://h/b")]);
    assert_eq!(replaced.since, 1, "a replacement delivers what is queued");
    let resumed = given(&[
        subscribe("https://h/a"),
        unsubscribe(),
        subscribe("https://h/a"),
    ]);
    assert_eq!(resumed.since, 3, "nothing from while it was unsubscribed");
}
