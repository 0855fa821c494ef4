//! `sy walkthrough supervision`: one request driven by the supervision
//! clocks (督办时钟) on a simulated clock, so that weeks pass in seconds.
//!
//! A military unit files a request, the coordinating office assigns it with
//! a due date and puts it on this year's double list (双清单), and the
//! department starts work. Then the walkthrough moves intake's simulated
//! clock (the file of its `--simulated-clock-file`) to each day on which the
//! policy's rule for the request owes something: the "due soon" reminder,
//! the due date, an overdue reminder, the first automatic escalation
//! (挂牌督办) and whatever the stricter rule of the new level then owes.
//! On each day it waits until intake's clocks recorded exactly what the
//! domain's own schedule (`sy_domain::request::due_actions`, the function
//! intake runs) says the day owes, and prints those events from the
//! request's timeline. The department's notifications follow, then the
//! close-out: resolved, rated 不满意 (which reopens it), reworked, resolved
//! and rated 满意; and at the end the department's ratings on the board and
//! the double list's progress.
//!
//! It needs the policy file intake runs with, to know which days to visit
//! and what each owes; it never decides anything itself: every reminder and
//! escalation it prints was written by intake's clocks.

use std::path::Path;
use std::time::{Duration, Instant};

use jiff::ToSpan;
use jiff::civil::Date;
use sy_api::pb::{self, notifications_client::NotificationsClient, query_client::QueryClient};
use sy_domain::request::due_actions;
use sy_domain::supervision::{Policy, Rule};
use sy_domain::validate::china_date;

use super::{read_request, result_line};
use crate::args::SupervisionWalkthroughArgs;
use crate::catalogue;
use crate::commands::{Cmd, context, send};
use crate::error::Error;
use crate::render;
use crate::rpc::{self, Channel, Endpoints, IntakeClients, as_actor};

/// The military unit that files the request and rates the close-out.
const REQUESTER: &str = "unit-31001";
/// The department responsible for it.
const DEPARTMENT: &str = "district-health-commission";
/// Days from the simulated today to the due date: beyond any "remind
/// before" of the shipped policy, so the first reminder is still ahead.
const DUE_IN_DAYS: i64 = 10;
/// The time of day, China time, the clock is set to on each day visited.
const CLOCK_TIME: &str = "T09:00:00+08:00";

/// One day the walkthrough moves the clock to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Visit {
    day: Date,
    why: String,
}

/// The days on which `rule` owes a request due on `due` something, after
/// `today`: its first "due soon" reminder, the due date, its first overdue
/// reminder before the first escalation, and the first escalation.
fn visits(rule: &Rule, due: Date, today: Date) -> Vec<Visit> {
    let at = |days: i64| due.checked_add(days.days()).ok();
    let mut out = Vec::new();
    if let Some(before) = rule.remind_before_days.iter().max() {
        out.extend(at(-i64::from(*before)).map(|day| Visit {
            day,
            why: format!("{before} days before the due date"),
        }));
    }
    if rule.remind_on_due_date {
        out.push(Visit {
            day: due,
            why: "the due date".into(),
        });
    }
    let escalation = rule.escalate.first();
    if let Some(every) = rule.remind_overdue_every_days {
        let before_escalation = escalation.is_none_or(|e| every < e.overdue_days);
        if before_escalation {
            out.extend(at(i64::from(every)).map(|day| Visit {
                day,
                why: format!("{every} days overdue"),
            }));
        }
    }
    if let Some(e) = escalation {
        out.extend(at(i64::from(e.overdue_days)).map(|day| Visit {
            day,
            why: format!(
                "{} days overdue: the rule escalates to {}",
                e.overdue_days,
                render::level_label(e.to)
            ),
        }));
    }
    out.retain(|v| v.day > today);
    out.sort_by_key(|v| v.day);
    out.dedup_by_key(|v| v.day);
    out
}

/// The instant in the simulated clock's file.
fn read_clock(file: &Path) -> Result<jiff::Timestamp, Error> {
    let hint = "start the stack with `deploy/dev-up.sh --simulated-clock` (intake's --simulated-clock-file) and pass the same file";
    let text = std::fs::read_to_string(file).map_err(|err| {
        Error::Usage(format!(
            "cannot read the simulated clock {}: {err}; {hint}",
            file.display()
        ))
    })?;
    text.trim().parse().map_err(|err| {
        Error::Usage(format!(
            "the simulated clock {} does not hold an RFC 3339 instant ({err}); {hint}",
            file.display()
        ))
    })
}

/// Moves the simulated clock to 09:00 China time on `day`, in one rename,
/// so intake never reads half an instant.
fn set_clock(file: &Path, day: Date) -> Result<(), Error> {
    let next = file.with_extension("next");
    let io = |err: std::io::Error| {
        Error::Failed(format!("cannot move the clock {}: {err}", file.display()))
    };
    std::fs::write(&next, format!("{day}{CLOCK_TIME}\n")).map_err(io)?;
    std::fs::rename(&next, file).map_err(io)
}

/// The policy intake runs with.
fn read_policy(file: &Path) -> Result<Policy, Error> {
    let text = std::fs::read_to_string(file).map_err(|err| {
        Error::Usage(format!(
            "cannot read the supervision policy {}: {err}",
            file.display()
        ))
    })?;
    Policy::parse(&text)
        .map_err(|err| Error::Usage(format!("supervision policy {}: {err}", file.display())))
}

/// Waits until the request, as read, owes nothing more on `day`: intake's
/// clocks recorded every reminder and escalation the policy calls for
/// (including those of the stricter rule a new level brings).
async fn settle(
    query: &mut QueryClient<Channel>,
    policy: &Policy,
    id: &str,
    day: Date,
    wait: Duration,
) -> Result<pb::Request, Error> {
    let started = Instant::now();
    loop {
        let request = read_request(query, id, 0).await?.0;
        let owed = due_actions(policy, &request, day);
        if owed.is_empty() {
            return Ok(request);
        }
        if started.elapsed() > wait {
            let keys: Vec<String> = owed.iter().map(|a| a.key()).collect();
            return Err(Error::Failed(format!(
                "after {}s on {day} the clocks have not recorded {}: is intake running with \
                 --simulated-clock-file on this clock and the same --supervision-policy?",
                wait.as_secs(),
                keys.join(", ")
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The timeline entries after version `after`, one line each.
fn new_entries(request: &pb::Request, after: u64) -> String {
    request
        .timeline
        .iter()
        .filter(|e| e.version > after)
        .map(|e| {
            let actor = e.actor.clone().unwrap_or_default();
            format!(
                "   v{} {} by {}/{}: {}",
                e.version,
                e.event_type,
                actor.agency,
                actor.user,
                render::or_dash(&e.note)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The department's notifications about the request, stored after
/// `after_position`: the stream's stored part, ended once it goes quiet.
async fn notifications(
    endpoints: &Endpoints,
    department: &pb::Actor,
    request_id: &str,
    after_position: u64,
) -> Result<Vec<pb::Notification>, Error> {
    const CALL: &str = "Notifications.Watch";
    let channel = rpc::connect_streaming(&endpoints.query_url).await?;
    let request = pb::WatchRequest {
        agency: department.agency.clone(),
        after_position,
    };
    let mut stream = NotificationsClient::new(channel)
        .watch(as_actor(request, department)?)
        .await
        .map_err(Error::rpc(CALL))?
        .into_inner();
    let mut found = Vec::new();
    while let Ok(item) = tokio::time::timeout(Duration::from_millis(500), stream.message()).await {
        let Some(item) = item.map_err(Error::rpc(CALL))? else {
            break;
        };
        found.extend(item.notification.filter(|n| n.request_id == request_id));
    }
    Ok(found)
}

/// The commands of the walkthrough that are not the clocks': who sends what.
struct Script {
    run_id: String,
    requester: pb::Actor,
    department: pb::Actor,
    coordinator: pb::Actor,
}

impl Script {
    fn ctx(&self, step: &str) -> Option<pb::CommandContext> {
        context(
            format!("walkthrough-supervision-{}-{step}", self.run_id),
            format!("walkthrough-supervision-{}", self.run_id),
            None,
        )
    }

    fn submit(&self) -> Cmd {
        let cat = catalogue::requests();
        let requester = cat.party(REQUESTER);
        Cmd::Submit(pb::SubmitRequestCommand {
            context: self.ctx("submit"),
            direction: pb::Direction::MilitaryToLocal as i32,
            requester: Some(pb::RequestingParty {
                agency: requester.agency.clone(),
                name: requester.name.clone(),
            }),
            category: pb::Category::Medical as i32,
            title: "军人家属就医：驻地医院开设优先窗口".to_string(),
            description: "部队官兵家属就医挂号排队时间长，请协调驻地医院开设军人及家属优先窗口。"
                .to_string(),
            area_code: "500106004007".to_string(),
            priority: pb::Priority::Normal as i32,
            due_date: String::new(),
            supervision_level: pb::SupervisionLevel::None as i32,
            person_id: String::new(),
        })
    }

    fn assign(&self, id: &str, due: Date) -> Cmd {
        let cat = catalogue::requests();
        Cmd::Assign(pb::AssignRequestCommand {
            context: self.ctx("assign"),
            request_id: id.to_string(),
            department: DEPARTMENT.to_string(),
            due_date: due.to_string(),
            note: cat.assign_note(cat.party(DEPARTMENT)),
        })
    }

    fn add_to_list(&self, id: &str, year: i16) -> Cmd {
        Cmd::AddDoubleListItem(pb::AddDoubleListItemCommand {
            context: self.ctx("double-list"),
            year: i32::from(year),
            direction: pb::Direction::MilitaryToLocal as i32,
            request_id: id.to_string(),
            note: "军人家属就医优先".to_string(),
        })
    }

    fn start(&self, id: &str) -> Cmd {
        Cmd::Start(pb::StartRequestCommand {
            context: self.ctx("start"),
            request_id: id.to_string(),
            note: catalogue::requests().notes.start.clone(),
        })
    }

    fn resolve(&self, id: &str, step: &str, resolution: &str) -> Cmd {
        Cmd::Resolve(pb::ResolveRequestCommand {
            context: self.ctx(step),
            request_id: id.to_string(),
            resolution: resolution.to_string(),
        })
    }

    fn close(&self, id: &str, step: &str, rating: pb::Satisfaction, note: &str) -> Cmd {
        Cmd::Close(pb::CloseRequestCommand {
            context: self.ctx(step),
            request_id: id.to_string(),
            note: note.to_string(),
            satisfaction: rating as i32,
        })
    }
}

/// Sends `cmd` as `who`, printing the call and its result.
async fn step(
    intake: &mut IntakeClients,
    who: &pb::Actor,
    cmd: Cmd,
) -> Result<pb::CommandResult, Error> {
    say!(
        "-> {} as {}/{}\n   {}",
        cmd.call(),
        who.agency,
        who.user,
        cmd.summary()
    );
    let result = send(intake, cmd, who).await?;
    say!("{}", result_line(&result));
    Ok(result)
}

/// The double list the request is on, with its progress on `as_of`.
async fn show_list(
    query: &mut QueryClient<Channel>,
    year: i16,
    as_of: Date,
    min_position: u64,
) -> Result<(), Error> {
    let list = query
        .get_double_list(pb::GetDoubleListRequest {
            year: i32::from(year),
            direction: pb::Direction::MilitaryToLocal as i32,
            as_of: as_of.to_string(),
            min_position,
        })
        .await
        .map_err(Error::rpc("GetDoubleList"))?
        .into_inner();
    say_raw!("{}", render::double_list(&list));
    Ok(())
}

/// Runs the walkthrough, printing as it goes.
pub async fn run(
    endpoints: &Endpoints,
    coordinator: &pb::Actor,
    args: &SupervisionWalkthroughArgs,
) -> Result<(), Error> {
    let policy = read_policy(&args.policy)?;
    let today = china_date(read_clock(&args.clock_file)?);
    let wait = Duration::from_secs(args.wait_secs.max(1));
    let cat = catalogue::requests();
    let script = Script {
        run_id: uuid::Uuid::now_v7().to_string(),
        requester: cat.party(REQUESTER).actor(),
        department: cat.party(DEPARTMENT).actor(),
        coordinator: coordinator.clone(),
    };
    let Cmd::Submit(submitted) = script.submit() else {
        unreachable!("submit() is a submission")
    };
    let rule = policy
        .rule_for(submitted.category(), submitted.supervision_level())
        .ok_or_else(|| {
            Error::Usage(format!(
                "the policy {} has no rule for a {} request at supervision level {}: no clock would run",
                args.policy.display(),
                render::category_label(submitted.category()),
                render::level_label(submitted.supervision_level()),
            ))
        })?
        .clone();
    let due = today
        .checked_add(DUE_IN_DAYS.days())
        .map_err(|err| Error::Failed(format!("no due date after {today}: {err}")))?;
    let plan = visits(&rule, due, today);

    say!(
        "walkthrough {}: a request under the supervision clocks (督办时钟), on the simulated clock {} (today {today}, China time)\n",
        script.run_id,
        args.clock_file.display()
    );
    say!(
        "policy {} version {}: rule {:?} applies; the walkthrough visits {}\n",
        args.policy.display(),
        policy.version,
        rule.id,
        plan.iter()
            .map(|v| format!("{} ({})", v.day, v.why))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut intake = endpoints.intake().await?;
    let mut query = endpoints.query().await?;
    let submitted = step(&mut intake, &script.requester, Cmd::Submit(submitted)).await?;
    let id = submitted.aggregate_id.clone();
    step(&mut intake, &script.coordinator, script.assign(&id, due)).await?;
    let year = today.year();
    let listed = step(
        &mut intake,
        &script.coordinator,
        script.add_to_list(&id, year),
    )
    .await;
    match listed {
        Ok(_) => {}
        // A published list is fixed: the walkthrough goes on without it.
        Err(Error::Rpc { status, .. }) if status.code() == tonic::Code::FailedPrecondition => {
            say!("   not on the list: {}", status.message());
        }
        Err(err) => return Err(err),
    }
    let started = step(&mut intake, &script.department, script.start(&id)).await?;
    say!("\nGetDoubleList {year} military-to-local as of {today}");
    show_list(&mut query, year, today, started.position).await?;

    let mut shown = started.version;
    for visit in &plan {
        set_clock(&args.clock_file, visit.day)?;
        say!(
            "\nclock → {}{CLOCK_TIME} ({}); waiting for intake's clocks",
            visit.day,
            visit.why
        );
        let request = settle(&mut query, &policy, &id, visit.day, wait).await?;
        let entries = new_entries(&request, shown);
        if entries.is_empty() {
            say!("   (nothing owed on this day)");
        } else {
            say!("{entries}");
        }
        say!(
            "   now: {}, supervision level {}, due {}",
            render::status_label(request.status()),
            render::level_label(request.supervision_level()),
            request.due_date
        );
        shown = request.version;
    }
    let last_day = plan.last().map_or(today, |v| v.day);
    say!("\nGetDoubleList {year} military-to-local as of {last_day}");
    show_list(&mut query, year, last_day, 0).await?;

    say!(
        "\nNotifications.Watch as {} (the department is told without polling):",
        DEPARTMENT
    );
    let told = notifications(
        endpoints,
        &script.department,
        &id,
        submitted.position.saturating_sub(1),
    )
    .await?;
    for n in &told {
        say!(
            "   {} {} ({}, v{}) id {}",
            n.position,
            n.kind()
                .as_str_name()
                .trim_start_matches("NOTIFICATION_KIND_"),
            n.event_type,
            n.request_version,
            n.id
        );
    }

    say!("\nclose-out: the requester rates the work (满意度)");
    let notes = &cat.notes;
    step(
        &mut intake,
        &script.department,
        script.resolve(&id, "resolve", "驻地医院已开设军人及家属优先窗口。"),
    )
    .await?;
    step(
        &mut intake,
        &script.requester,
        script.close(
            &id,
            "dissatisfied",
            pb::Satisfaction::Dissatisfied,
            "优先窗口仅工作日上午开放，周末未覆盖。",
        ),
    )
    .await?;
    step(
        &mut intake,
        &script.department,
        script.resolve(&id, "rework", &notes.rework_resolution),
    )
    .await?;
    let closed = step(
        &mut intake,
        &script.requester,
        script.close(&id, "close", pb::Satisfaction::Satisfied, &notes.close),
    )
    .await?;

    let request = read_request(&mut query, &id, closed.position).await?.0;
    say!("\nGetRequest {id}: the whole timeline");
    say!("{}", render::timeline(&request.timeline));

    say!("\nGetClearanceBoard: {DEPARTMENT}'s ratings");
    let board = rpc::clearance_board(&mut query, String::new(), closed.position).await?;
    if let Some(row) = board.by_department.iter().find(|r| r.key == DEPARTMENT) {
        let c = row.counts.unwrap_or_default();
        let s = c.satisfaction.unwrap_or_default();
        say!(
            "   closed {}: 满意 {}, 基本满意 {}, not rated {}; 不满意 {} (each reopened its request)",
            c.closed,
            s.satisfied,
            s.basically_satisfied,
            s.not_rated,
            s.dissatisfied
        );
    }
    say!("\nGetDoubleList {year} military-to-local as of {last_day}");
    show_list(&mut query, year, last_day, closed.position).await?;

    say!(
        "\nsupervised to close-out: request {id} was reminded and escalated by rule, told to its department, rated 不满意 (reopened) and then 满意 (closed), in {} events; the simulated clock now reads {last_day}{CLOCK_TIME}.",
        request.version
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = include_str!("../../../../deploy/supervision-policy.toml");

    #[test]
    fn the_shipped_policy_visits_due_soon_due_overdue_and_escalation_days() {
        let policy = Policy::parse(POLICY).unwrap();
        let rule = policy
            .rule_for(pb::Category::Medical, pb::SupervisionLevel::None)
            .unwrap();
        let today: Date = "2026-12-01".parse().unwrap();
        let due: Date = "2026-12-11".parse().unwrap();
        let days: Vec<String> = visits(rule, due, today)
            .iter()
            .map(|v| v.day.to_string())
            .collect();
        assert_eq!(
            days,
            ["2026-12-08", "2026-12-11", "2026-12-13", "2026-12-16"]
        );
    }

    #[test]
    fn days_already_past_are_not_visited() {
        let policy = Policy::parse(POLICY).unwrap();
        let rule = policy
            .rule_for(pb::Category::Medical, pb::SupervisionLevel::None)
            .unwrap();
        let due: Date = "2026-12-11".parse().unwrap();
        let plan = visits(rule, due, "2026-12-11".parse().unwrap());
        assert_eq!(
            plan.first().map(|v| v.day.to_string()).as_deref(),
            Some("2026-12-13")
        );
        assert!(plan.iter().all(|v| v.day > due));
    }

    #[test]
    fn the_clock_is_written_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clock");
        assert!(matches!(read_clock(&file), Err(Error::Usage(_))));
        set_clock(&file, "2026-12-08".parse().unwrap()).unwrap();
        let now = read_clock(&file).unwrap();
        assert_eq!(china_date(now).to_string(), "2026-12-08");
        assert!(!file.with_extension("next").exists());
    }
}
