//! The policy file's validation (every refusal names its key) and the
//! calendar of one rule, with a property test that the schedule never
//! reaches past the day it is asked about.

use jiff::ToSpan;
use jiff::civil::{Date, date};
use proptest::prelude::*;

use super::*;
use crate::DomainError;
use crate::pb::event_envelope::Payload;
use crate::pb::{Category, ReminderKind, SupervisionLevel as L};

const POLICY: &str = r#"
version = "2026.1"

[[rules]]
id = "standard"
remind_before_days = [1, 3]
remind_on_due_date = true
remind_overdue_every_days = 2
escalate = [
  { overdue_days = 5, to = "district" },
  { overdue_days = 20, to = "city" },
]

[[rules]]
id = "district-watch"
level = "district"
remind_on_due_date = true
remind_overdue_every_days = 1
escalate = [{ overdue_days = 20, to = "city" }]

[[rules]]
id = "barracks"
category = "barracks_and_training_grounds"
remind_before_days = [7]
"#;

fn policy() -> Policy {
    Policy::parse(POLICY).expect("the test policy is valid")
}

fn refusal(text: &str) -> String {
    Policy::parse(text).unwrap_err().to_string()
}

#[test]
fn a_policy_parses_with_its_version_digest_and_rules_in_order() {
    let policy = policy();
    assert_eq!(policy.version, "2026.1");
    assert_eq!(
        policy.digest,
        blake3::hash(POLICY.as_bytes()).to_hex().to_string()
    );
    let standard = &policy.rules[0];
    assert_eq!(standard.remind_before_days, vec![3, 1], "descending");
    assert_eq!(
        standard.escalate,
        vec![
            Escalation {
                overdue_days: 5,
                to: L::District
            },
            Escalation {
                overdue_days: 20,
                to: L::City
            },
        ]
    );
    assert_eq!(policy.rules[1].level, Some(L::District));
    assert_eq!(
        policy.rules[2].category,
        Some(Category::BarracksAndTrainingGrounds)
    );
}

#[test]
fn the_most_specific_rule_applies() {
    let policy = policy();
    let id = |category, level| policy.rule_for(category, level).map(|r| r.id.as_str());
    assert_eq!(id(Category::Medical, L::None), Some("standard"));
    assert_eq!(id(Category::Medical, L::District), Some("district-watch"));
    assert_eq!(
        id(Category::BarracksAndTrainingGrounds, L::District),
        Some("barracks")
    );
    let no_default =
        Policy::parse("version = \"1\"\n[[rules]]\nid = \"x\"\nlevel = \"city\"\n").unwrap();
    assert_eq!(no_default.rule_for(Category::Medical, L::None), None);
}

#[test]
fn a_bad_policy_names_the_key_at_fault() {
    let cases = [
        ("version = \"\"\n", "version: must not be empty"),
        ("rules = []\n", "missing field `version`"),
        (
            "version = \"1\"\n[[rules]]\nid = \"Bad Id\"\n",
            "rules[0].id:",
        ),
        (
            "version = \"1\"\n[[rules]]\nid = \"a\"\nlevel = \"county\"\n",
            "rules[0].level: unknown supervision level \"county\"",
        ),
        (
            "version = \"1\"\n[[rules]]\nid = \"a\"\ncategory = \"parking\"\n",
            "rules[0].category: unknown category \"parking\"",
        ),
        (
            "version = \"1\"\n[[rules]]\nid = \"a\"\nremind_before_days = [0]\n",
            "rules[0].remind_before_days[0]:",
        ),
        (
            "version = \"1\"\n[[rules]]\nid = \"a\"\nremind_overdue_every_days = 0\n",
            "rules[0].remind_overdue_every_days:",
        ),
        (
            "version = \"1\"\n[[rules]]\nid = \"a\"\nescalate = [{ overdue_days = 5, to = \"city\" }, { overdue_days = 9, to = \"district\" }]\n",
            "rules[0].escalate[1]: escalations must go to higher levels",
        ),
        (
            "version = \"1\"\n[[rules]]\nid = \"a\"\nlevel = \"city\"\nescalate = [{ overdue_days = 5, to = \"district\" }]\n",
            "rules[0].escalate[0].to: must be above the rule's level",
        ),
        (
            "version = \"1\"\n[[rules]]\nid = \"a\"\n[[rules]]\nid = \"a\"\nlevel = \"city\"\n",
            "rules[1].id: \"a\" is used by an earlier rule",
        ),
        (
            "version = \"1\"\n[[rules]]\nid = \"a\"\n[[rules]]\nid = \"b\"\n",
            "rules[1]: an earlier rule has the same category and level",
        ),
        (
            "version = \"1\"\n[[rules]]\nid = \"a\"\nremind_daily = true\n",
            "line 4: unknown field `remind_daily`",
        ),
    ];
    for (text, expected) in cases {
        let err = refusal(text);
        assert!(err.contains(expected), "{text:?}: {err}");
    }
}

fn actions_on(rule: &Rule, due: Date, today: Date) -> Vec<(Date, Effect)> {
    scheduled(rule, due, today)
        .into_iter()
        .map(|a| {
            assert_eq!((a.rule_id.as_str(), a.due_date), (rule.id.as_str(), due));
            (a.occurrence, a.effect)
        })
        .collect()
}

#[test]
fn reminders_are_one_series_of_which_the_latest_occurrence_is_due() {
    let policy = policy();
    let rule = &policy.rules[0];
    let due = date(2026, 12, 10);
    let remind = |day, kind| (day, Effect::Remind(kind));
    assert_eq!(actions_on(rule, due, date(2026, 12, 6)), vec![]);
    assert_eq!(
        actions_on(rule, due, date(2026, 12, 7)),
        vec![remind(date(2026, 12, 7), ReminderKind::DueSoon)]
    );
    assert_eq!(
        actions_on(rule, due, date(2026, 12, 9)),
        vec![remind(date(2026, 12, 9), ReminderKind::DueSoon)]
    );
    assert_eq!(
        actions_on(rule, due, date(2026, 12, 11)),
        vec![remind(due, ReminderKind::DueToday)]
    );
    assert_eq!(
        actions_on(rule, due, date(2026, 12, 13)),
        vec![remind(date(2026, 12, 12), ReminderKind::Overdue)]
    );
    assert_eq!(
        actions_on(rule, due, date(2026, 12, 15)),
        vec![
            remind(date(2026, 12, 14), ReminderKind::Overdue),
            (date(2026, 12, 15), Effect::Escalate(L::District)),
        ]
    );
    assert_eq!(
        actions_on(rule, due, date(2027, 1, 1)),
        vec![
            remind(date(2027, 1, 1), ReminderKind::Overdue),
            (date(2026, 12, 30), Effect::Escalate(L::City)),
        ],
        "a clock that jumps reminds once and escalates to the furthest level reached"
    );
}

#[test]
fn keys_tell_rules_kinds_deadlines_and_days_apart() {
    let action = |rule: &str, due, occurrence, effect| Action {
        rule_id: rule.into(),
        due_date: due,
        occurrence,
        effect,
    };
    let day = date(2026, 12, 15);
    let remind = Effect::Remind(ReminderKind::Overdue);
    let a = action("standard", date(2026, 12, 10), day, remind);
    assert_eq!(a.key(), "standard/remind/2026-12-10/2026-12-15");
    assert_eq!(a.actor().agency, ACTOR_AGENCY);
    assert_eq!(a.actor().user, "standard");
    let others = [
        action("other", date(2026, 12, 10), day, remind),
        action("standard", date(2026, 12, 11), day, remind),
        action("standard", date(2026, 12, 10), date(2026, 12, 16), remind),
        action(
            "standard",
            date(2026, 12, 10),
            day,
            Effect::Escalate(L::District),
        ),
    ];
    for other in others {
        assert_ne!(a.key(), other.key());
    }
}

proptest! {
    /// Whatever the rule, due date and day: every action fell due on or
    /// before that day, concerns that due date, and there is at most one
    /// reminder and one escalation; advancing the day never brings back an
    /// occurrence older than one already scheduled of the same kind.
    #[test]
    fn the_schedule_never_runs_ahead_of_the_day(
        before in proptest::collection::vec(1u32..30, 0..3),
        on_due in any::<bool>(),
        every in proptest::option::of(1u32..10),
        thresholds in proptest::collection::btree_set(0u32..40, 0..3),
        due_offset in 0i64..400,
        days in 0i64..80,
    ) {
        let levels = [L::District, L::City, L::National];
        let rule = Rule {
            id: "p".into(),
            category: None,
            level: None,
            remind_before_days: { let mut b = before; b.sort_unstable_by(|x, y| y.cmp(x)); b.dedup(); b },
            remind_on_due_date: on_due,
            remind_overdue_every_days: every,
            escalate: thresholds.iter().zip(levels).map(|(d, to)| Escalation { overdue_days: *d, to }).collect(),
        };
        let due = date(2026, 1, 1).checked_add(due_offset.days()).unwrap();
        let start = due.checked_sub(40.days()).unwrap();
        let mut last: Vec<(bool, Date)> = Vec::new();
        for step in 0..days {
            let today = start.checked_add(step.days()).unwrap();
            let actions = scheduled(&rule, due, today);
            let reminders = actions.iter().filter(|a| matches!(a.effect, Effect::Remind(_))).count();
            prop_assert!(reminders <= 1 && actions.len() - reminders <= 1);
            for action in &actions {
                prop_assert!(action.occurrence <= today);
                prop_assert_eq!(action.due_date, due);
                let remind = matches!(action.effect, Effect::Remind(_));
                if let Some((_, previous)) = last.iter().find(|(r, _)| *r == remind) {
                    prop_assert!(*previous <= action.occurrence);
                }
                last.retain(|(r, _)| *r != remind);
                last.push((remind, action.occurrence));
            }
        }
    }
}

#[test]
fn a_policy_is_adopted_once_until_its_text_changes() {
    use crate::aggregate::testing::run;
    use crate::aggregate::{Aggregate, testing::actor};
    let id = adopted_id();
    let mut record = Adopted::default();
    let first = Adopt::of(&policy(), POLICY);
    let Payload::SupervisionPolicyAdopted(e) = run(&mut record, &id, &first, &(), 0) else {
        panic!("an adoption");
    };
    assert_eq!(
        (e.version.as_str(), e.previous_digest.as_str()),
        ("2026.1", "")
    );
    assert_eq!(e.text, POLICY);
    assert_eq!(record.digest, policy().digest);

    let again = record.decide(&first, &(), &actor("intake"));
    assert!(
        matches!(again, Err(DomainError::AlreadyExists { .. })),
        "{again:?}"
    );

    let changed_text = POLICY.replace("2026.1", "2026.2");
    let changed = Adopt::of(&Policy::parse(&changed_text).unwrap(), &changed_text);
    let Payload::SupervisionPolicyAdopted(e) = run(&mut record, &id, &changed, &(), 1) else {
        panic!("an adoption");
    };
    assert_eq!(e.previous_digest, policy().digest);
    assert_eq!(record.policy_version, "2026.2");
    // Back to the first text: a change again, so recorded again.
    assert!(record.decide(&first, &(), &actor("intake")).is_ok());
}

fn adopted_id() -> String {
    Adopted::ID.to_string()
}

#[test]
fn the_shipped_policy_is_valid() {
    let text = include_str!("../../../../deploy/supervision-policy.toml");
    let shipped = Policy::parse(text).unwrap_or_else(|err| panic!("deploy's policy: {err}"));
    assert!(
        shipped
            .rule_for(Category::Medical, L::None)
            .is_some_and(|rule| !rule.escalate.is_empty()),
        "a default rule that escalates"
    );
}
