//! Supervision clocks end to end: two intake replicas share one simulated
//! clock (a file holding an instant) and one policy; the test moves time
//! forward day by day, works and moves the due dates of requests, kills one
//! replica and restarts the other in between, and then reads the log: every
//! reminder and every automatic escalation is there exactly once, with its
//! rule as the actor, and a moved due date re-armed the clocks; the policy
//! itself is recorded once; and the department's notification stream tells
//! it of each.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use jiff::ToSpan;
use jiff::civil::Date;
use sy_tests::client::*;
use sy_tests::metrics::{sample, scrape};
use sy_tests::pb::{self, event_envelope::Payload};
use sy_tests::{System, free_port, get_request};

const POLICY: &str = r#"
version = "test-1"

[[rules]]
id = "standard"
remind_before_days = [2]
remind_on_due_date = true
remind_overdue_every_days = 2
escalate = [{ overdue_days = 3, to = "district" }]

[[rules]]
id = "district-watch"
level = "district"
remind_overdue_every_days = 3
escalate = [{ overdue_days = 6, to = "city" }]
"#;

/// Milliseconds between two ticks of each replica.
const TICK_MS: u64 = 100;
/// Sets the simulated clock to 10:00 China time on `day` (replaced in one
/// rename, so a replica never reads half an instant).
fn set_clock(file: &Path, day: Date) -> anyhow::Result<()> {
    let next = file.with_extension("next");
    std::fs::write(&next, format!("{day}T10:00:00+08:00\n"))?;
    std::fs::rename(&next, file)?;
    Ok(())
}

/// Completed clock ticks of the replica whose metrics are on `port`
/// (`None` while it is not serving them, e.g. restarting).
async fn ticks(port: u16) -> Option<f64> {
    let text = scrape(port).await.ok()?;
    Some(sample(&text, "sy_intake_clock_ticks_total").unwrap_or(0.0))
}

/// Waits until every replica (its metrics port) ran two whole ticks that
/// wrote nothing to the log: whatever the clock's day calls for is then
/// recorded, however slowly a loaded machine ran the replicas.
async fn settle(sys: &System, replicas: &[u16]) -> anyhow::Result<()> {
    let settled = async {
        loop {
            let before = sys.log_position().await?;
            let mut start = Vec::new();
            for &port in replicas {
                start.push(loop {
                    match ticks(port).await {
                        Some(n) => break n,
                        None => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                });
            }
            for (&port, &from) in replicas.iter().zip(&start) {
                while ticks(port).await.is_none_or(|n| n < from + 2.0) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            if sys.log_position().await? == before {
                return anyhow::Ok(());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), settled).await?
}

/// One clock event as read from the log: request, rule, what it did, the
/// due date in force and the day it fell due.
type Clocked = (String, String, String, String, String);

/// Every clock event of the log, checking that each names its rule as actor.
async fn clocked(sys: &System) -> anyhow::Result<Vec<Clocked>> {
    let mut due: BTreeMap<String, String> = BTreeMap::new();
    let mut found = Vec::new();
    for event in sys.events().await? {
        let id = event.aggregate_id.clone();
        let actor = event.actor.clone().unwrap_or_default();
        let (rule, what, occurrence) = match event.payload {
            Some(Payload::RequestAssigned(e)) => {
                due.insert(id, e.due_date);
                continue;
            }
            Some(Payload::DueDateChanged(e)) => {
                due.insert(id, e.due_date);
                continue;
            }
            Some(Payload::RequestReminded(e)) => {
                assert_eq!(
                    e.due_date, due[&id],
                    "a reminder names the due date in force"
                );
                let kind = e.kind().as_str_name().to_string();
                (e.rule_id, kind, e.occurrence)
            }
            Some(Payload::RequestEscalated(e)) if !e.rule_id.is_empty() => {
                let to = e.to_level().as_str_name().to_string();
                (e.rule_id, to, e.occurrence)
            }
            _ => continue,
        };
        assert_eq!(actor.agency, "supervision-policy", "{id}");
        assert_eq!(actor.user, rule, "the rule is the actor");
        found.push((id.clone(), rule, what, due[&id].clone(), occurrence));
    }
    found.sort();
    Ok(found)
}

#[tokio::test]
async fn reminders_and_escalations_happen_once_across_replicas_restarts_and_new_due_dates()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, POLICY)?;
    let clock = dir.path().join("clock");
    let today = sy_domain::validate::china_date(jiff::Timestamp::now());
    let day = |n: i64| today.checked_add(n.days()).expect("in range");
    set_clock(&clock, day(0))?;

    let ports = [free_port()?, free_port()?];
    let mut sys = System::builder()
        .intake_flag("--metrics-listen", format!("127.0.0.1:{}", ports[0]))
        .intake_flag("--supervision-policy", policy.display())
        .intake_flag("--supervision-tick-ms", TICK_MS)
        .intake_flag("--simulated-clock-file", clock.display())
        .start()
        .await?;
    let mut second = sys
        .intake_replica("sy-intake#2")
        .set_flag("--metrics-listen", format!("127.0.0.1:{}", ports[1]))
        .start()
        .await?;
    let mut requester = sys.intake();
    let mut department = sys.intake_as(DEPARTMENT_AGENCY, "li.na");

    // A: due in 3 days, left to run late; B: due tomorrow, resolved on
    // time; C: due in 2 days, then moved to day 8 while overdue.
    let mut ids = Vec::new();
    for due_in in [3, 1, 2] {
        let id = requester
            .submit_request(submit_command(&new_key("clocks")))
            .await?
            .into_inner()
            .aggregate_id;
        department
            .assign_request(assign_command(&id, DEPARTMENT_AGENCY, due_in))
            .await?;
        ids.push(id);
    }
    let (a, b, c) = (ids[0].clone(), ids[1].clone(), ids[2].clone());

    for n in 0..=12 {
        set_clock(&clock, day(n))?;
        settle(&sys, &ports).await?;
        match n {
            1 => {
                department.start_request(start_command(&b)).await?;
                department.resolve_request(resolve_command(&b)).await?;
            }
            4 => {
                requester
                    .change_due_date(pb::ChangeDueDateCommand {
                        context: fresh_ctx(),
                        request_id: c.clone(),
                        due_date: day(8).to_string(),
                        reason: "雨季顺延".into(),
                    })
                    .await?;
                settle(&sys, &ports).await?;
            }
            5 => {
                // A crash: the next day's clocks run on a replica that
                // rebuilds its index from the log.
                sys.intake.kill9();
                sys.intake.restart().await?;
            }
            8 => second.restart().await?,
            _ => {}
        }
    }

    let d = |n: i64| day(n).to_string();
    let row = |id: &str, rule: &str, what: &str, due: i64, on: i64| {
        (
            id.to_string(),
            rule.to_string(),
            what.to_string(),
            d(due),
            d(on),
        )
    };
    let (soon, today_, overdue) = (
        "REMINDER_KIND_DUE_SOON",
        "REMINDER_KIND_DUE_TODAY",
        "REMINDER_KIND_OVERDUE",
    );
    let (district, city) = ("SUPERVISION_LEVEL_DISTRICT", "SUPERVISION_LEVEL_CITY");
    let mut expected = vec![
        // A, due day 3: reminded before, on and after the day; escalated
        // to the district on day 6, whose rule reminds and escalates to
        // the city on day 9; the city falls back to the standard rule.
        row(&a, "standard", soon, 3, 1),
        row(&a, "standard", today_, 3, 3),
        row(&a, "standard", overdue, 3, 5),
        row(&a, "standard", district, 3, 6),
        row(&a, "district-watch", overdue, 3, 6),
        row(&a, "district-watch", overdue, 3, 9),
        row(&a, "district-watch", city, 3, 9),
        row(&a, "standard", overdue, 3, 9),
        row(&a, "standard", overdue, 3, 11),
        // B, due day 1 and assigned a day before: the "2 days before"
        // reminder is late, then due today; resolved, it hears no more.
        row(&b, "standard", soon, 1, -1),
        row(&b, "standard", today_, 1, 1),
        // C, due day 2, then day 8: the new due date re-arms every clock.
        row(&c, "standard", soon, 2, 0),
        row(&c, "standard", today_, 2, 2),
        row(&c, "standard", overdue, 2, 4),
        row(&c, "standard", soon, 8, 6),
        row(&c, "standard", today_, 8, 8),
        row(&c, "standard", overdue, 8, 10),
        row(&c, "standard", district, 8, 11),
        row(&c, "district-watch", overdue, 8, 11),
    ];
    expected.sort();
    assert_eq!(clocked(&sys).await?, expected);

    // The policy is in the log once, however many replicas started with it.
    let adoptions: Vec<pb::SupervisionPolicyAdopted> = sys
        .events()
        .await?
        .into_iter()
        .filter_map(|event| match event.payload {
            Some(Payload::SupervisionPolicyAdopted(adopted)) => Some(adopted),
            _ => None,
        })
        .collect();
    assert_eq!(adoptions.len(), 1, "{adoptions:?}");
    let digest = blake3::hash(POLICY.as_bytes()).to_hex().to_string();
    assert_eq!(
        (adoptions[0].version.as_str(), adoptions[0].digest.as_str()),
        ("test-1", digest.as_str())
    );
    assert_eq!(adoptions[0].text, POLICY);

    // An auditor's view: `sy history` shows the clock events and the rules.
    let (code, text) = sys.sy(&["history", "request", &a]).await?;
    assert_eq!(code, 0, "{text}");
    assert_eq!(text.matches("RequestReminded").count(), 7, "{text}");
    assert!(text.contains("supervision-policy/district-watch"), "{text}");
    let record = sy_domain::supervision::Adopted::ID.to_string();
    let (code, text) = sys.sy(&["history", "supervision-policy", &record]).await?;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("SupervisionPolicyAdopted"), "{text}");

    // The read model shows them: the timeline and the level.
    let position = sys.log_position().await?;
    let query = sys.query();
    let served = get_request(&query, &a, position).await?;
    assert_eq!(served.supervision_level(), pb::SupervisionLevel::City);
    let reminded = served
        .timeline
        .iter()
        .filter(|entry| entry.event_type == "RequestReminded")
        .count();
    assert_eq!(reminded, 7);
    assert_eq!(served.supervision_fired.len(), 9);

    // The department was told of each without polling: its notifications
    // are one per reminder (due soon or today, overdue) and escalation.
    let events = sys.events().await?;
    let count = |wanted: &dyn Fn(&Payload) -> bool| {
        events
            .iter()
            .filter(|e| e.payload.as_ref().is_some_and(wanted))
            .count()
    };
    let overdue_reminders = count(
        &|p| matches!(p, Payload::RequestReminded(r) if r.kind() == pb::ReminderKind::Overdue),
    );
    let other_reminders = count(&|p| matches!(p, Payload::RequestReminded(_))) - overdue_reminders;
    let escalations = count(&|p| matches!(p, Payload::RequestEscalated(_)));
    let expected = [
        (pb::NotificationKind::Assigned, 3),
        (pb::NotificationKind::DueSoon, other_reminders),
        (pb::NotificationKind::Overdue, overdue_reminders),
        (pb::NotificationKind::Escalated, escalations),
    ];
    let total: usize = expected.iter().map(|(_, n)| n).sum();
    let mut watch = sys
        .notifications_as(DEPARTMENT_AGENCY, "li.na")
        .watch(pb::WatchRequest::default())
        .await?
        .into_inner();
    let mut told: BTreeMap<i32, usize> = BTreeMap::new();
    for _ in 0..total {
        let item = tokio::time::timeout(Duration::from_secs(30), watch.message())
            .await??
            .ok_or_else(|| anyhow::anyhow!("the watch ended; told {told:?}"))?;
        let kind = item.notification.map_or(0, |n| n.kind);
        *told.entry(kind).or_default() += 1;
    }
    for (kind, n) in expected {
        assert_eq!(
            told.get(&(kind as i32)).copied().unwrap_or(0),
            n,
            "{kind:?}: {told:?}"
        );
    }

    let logs = format!("{}{}", sys.intake.log(), second.log());
    assert!(logs.contains("supervision clocks running"), "{logs}");
    assert!(logs.contains("simulated clock"), "{logs}");
    Ok(())
}

/// `sy walkthrough supervision` against the real services with the shipped
/// policy: it moves the simulated clock day by day and every reminder and
/// the escalation it prints were written by intake's clocks; the department
/// is told of each, and the close-out goes through 不满意 to 满意. Secured as
/// deployed: intake's NATS user once could not follow the log (the server
/// refused the clocks' consumer as a publish violation, which intake saw
/// only as a timeout), so no clock ever fired outside `--dev`.
#[tokio::test]
async fn the_supervision_walkthrough_is_reminded_escalated_and_closed_with_a_rating()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/supervision-policy.toml");
    let clock = dir.path().join("clock");
    set_clock(
        &clock,
        sy_domain::validate::china_date(jiff::Timestamp::now()),
    )?;
    // Secured, as deployed: intake follows the log as its NATS user.
    let sys = System::builder()
        .secured()
        .intake_flag("--supervision-policy", policy.display())
        .intake_flag("--supervision-tick-ms", TICK_MS)
        .intake_flag("--simulated-clock-file", clock.display())
        .start()
        .await?;
    let (clock_arg, policy_arg) = (clock.display().to_string(), policy.display().to_string());
    let (code, text) = sys
        .sy_as(
            "district-veterans-bureau",
            &[
                "walkthrough",
                "supervision",
                "--clock-file",
                &clock_arg,
                "--policy",
                &policy_arg,
            ],
        )
        .await?;
    assert_eq!(code, 0, "sy walkthrough supervision failed:\n{text}");
    for expected in [
        "RequestReminded by supervision-policy/standard: due soon",
        "RequestReminded by supervision-policy/standard: due today",
        "RequestReminded by supervision-policy/standard: overdue",
        "RequestEscalated by supervision-policy/standard",
        "RequestReminded by supervision-policy/district-supervised: overdue",
        "supervision level district",
        "ASSIGNED (RequestAssigned",
        "DUE_SOON (RequestReminded",
        "OVERDUE (RequestReminded",
        "ESCALATED (RequestEscalated",
        "RequestReopened",
        "RequestClosed",
        "满意 1, 基本满意 0, not rated 0; 不满意 1",
        "1 items, 0 closed, 1 open, 1 overdue",
        "1 items, 1 closed, 0 open, 0 overdue",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }

    // The log agrees: each clock action once (an escalation day may also
    // owe the lower rule's overdue reminder), by its rule.
    let clock_events = clocked(&sys).await?;
    let mut once = clock_events.clone();
    once.dedup();
    assert_eq!(once, clock_events, "no clock action twice");
    let mut rules: Vec<(&str, &str)> = clock_events
        .iter()
        .map(|(_, rule, what, _, _)| (rule.as_str(), what.as_str()))
        .collect();
    rules.dedup();
    assert_eq!(
        rules,
        [
            ("district-supervised", "REMINDER_KIND_OVERDUE"),
            ("standard", "REMINDER_KIND_DUE_SOON"),
            ("standard", "REMINDER_KIND_DUE_TODAY"),
            ("standard", "REMINDER_KIND_OVERDUE"),
            ("standard", "SUPERVISION_LEVEL_DISTRICT"),
        ],
        "{clock_events:?}"
    );
    Ok(())
}
