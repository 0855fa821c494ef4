//! `sy demo`: a small, deterministic demo set. Each request follows a script
//! (a plan) that drives it to one end state: closed out, resolved and awaiting
//! confirmation, in progress, overdue, escalated to city level, rejected...
//!
//! Idempotency keys derive from the seed and the request's index only, so a
//! rerun with the same seed is answered from the log (`replayed`) and writes
//! nothing. Commands are dated in the past (`context.occurred_at`, at most a
//! few months back) so boards show realistic ages and close times; due dates
//! are computed from those dates. A rerun on a later day therefore computes
//! other due dates for the same keys, which intake refuses as
//! `ALREADY_EXISTS`: the demo counts those steps as kept from the earlier run.
//!
//! Then a few of the requests go on the current year's draft double lists
//! (`lists`).

pub mod lists;

use std::collections::HashMap;

use jiff::civil::Date;
use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp, ToSpan};
use sy_api::pb::{self, Category, SupervisionLevel};
use sy_domain::validate::{CHINA_OFFSET_HOURS, china_date};

use crate::catalogue::{self, SUPERVISION_OFFICE};
use crate::commands::{Cmd, context};
use crate::load::{self, Sent, Step, Totals};
use crate::rpc::IntakeClients;

/// The end state a request's script drives it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Plan {
    Closed,
    ClosedAfterReopen,
    AwaitingConfirmation,
    InProgress,
    Overdue,
    Rescheduled,
    Escalated,
    Assigned,
    Submitted,
    Rejected,
}

impl Plan {
    pub fn label(self) -> &'static str {
        match self {
            Plan::Closed => "closed out 已销号",
            Plan::ClosedAfterReopen => "closed out after a dispute 复核后销号",
            Plan::AwaitingConfirmation => "resolved, awaiting confirmation 待确认",
            Plan::InProgress => "in progress 办理中",
            Plan::Overdue => "in progress, overdue 逾期",
            Plan::Rescheduled => "in progress, due date moved 已延期",
            Plan::Escalated => "escalated to city level 市级督办",
            Plan::Assigned => "assigned 已交办",
            Plan::Submitted => "submitted 已提报",
            Plan::Rejected => "rejected 不予受理",
        }
    }

    /// The status the request ends in.
    pub fn status(self) -> pb::RequestStatus {
        use pb::RequestStatus as S;
        match self {
            Plan::Closed | Plan::ClosedAfterReopen => S::Closed,
            Plan::AwaitingConfirmation => S::Resolved,
            Plan::InProgress | Plan::Overdue | Plan::Rescheduled | Plan::Escalated => S::InProgress,
            Plan::Assigned => S::Assigned,
            Plan::Submitted => S::Submitted,
            Plan::Rejected => S::Rejected,
        }
    }
}

/// The mix of end states, repeated over the set: of 20 requests, 7 are
/// closed out, 3 await confirmation, 5 are being worked (one overdue, one
/// moved), 2 are escalated to city level, 1 is assigned, 1 just submitted and
/// 1 rejected. The board then shows work left, as a real one would.
const SCHEDULE: [Plan; 20] = [
    Plan::Closed,
    Plan::AwaitingConfirmation,
    Plan::InProgress,
    Plan::Closed,
    Plan::Escalated,
    Plan::Closed,
    Plan::Rejected,
    Plan::AwaitingConfirmation,
    Plan::Overdue,
    Plan::Closed,
    Plan::ClosedAfterReopen,
    Plan::InProgress,
    Plan::Assigned,
    Plan::Closed,
    Plan::Escalated,
    Plan::AwaitingConfirmation,
    Plan::Submitted,
    Plan::Closed,
    Plan::Rescheduled,
    Plan::InProgress,
];

/// A request's whole script; `steps[0]` is the submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub index: u32,
    pub plan: Plan,
    pub title: String,
    pub steps: Vec<Step>,
}

impl Script {
    /// The direction of the request the script submits.
    pub fn direction(&self) -> pb::Direction {
        match self.steps.first().map(|step| &step.cmd) {
            Some(Cmd::Submit(submit)) => submit.direction(),
            _ => pb::Direction::Unspecified,
        }
    }
}

/// SplitMix64: small, fast and stable across releases, so a seed means the
/// same demo set forever (a library RNG may change its stream).
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, index: u32) -> Self {
        let mut rng = Rng(seed ^ (u64::from(index) + 1).wrapping_mul(0xD134_2543_DE82_EF95));
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        lo + (self.next_u64() % ((hi - lo) as u64 + 1)) as i64
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

fn date_text(date: Date) -> String {
    date.to_string()
}

/// Builds the scripts of requests `0..count` for `seed`, dated relative to `now`.
/// `coordinator` is the office that assigns requests; the supervision office
/// escalates them and moves due dates.
pub fn plan(seed: u64, count: u32, now: Timestamp, coordinator: &pb::Actor) -> Vec<Script> {
    (0..count)
        .map(|index| script(seed, index, now, coordinator))
        .collect()
}

fn script(seed: u64, index: u32, now: Timestamp, coordinator: &pb::Actor) -> Script {
    let mut rng = Rng::new(seed, index);
    let turn = u64::from(index).wrapping_add(seed) as usize;
    let cat = catalogue::requests();
    let template = &cat.templates[turn % cat.templates.len()];
    let case = &template.cases[(turn / cat.templates.len()) % 2];
    let plan =
        SCHEDULE[u64::from(index).wrapping_add(seed.wrapping_mul(7)) as usize % SCHEDULE.len()];
    let title = format!("{}：{}", template.title, case);
    let key_prefix = format!("demo-{seed}-{index:03}");

    // What happens, in order, with the days since the previous step.
    use Kind::*;
    let kinds: Vec<(Kind, i64)> = match plan {
        Plan::Closed => vec![
            (Assign, rng.range(0, 2)),
            (Start, rng.range(1, 3)),
            (Progress, rng.range(2, 12)),
            (Resolve, rng.range(1, 15)),
            (Close, rng.range(0, 4)),
        ],
        Plan::ClosedAfterReopen => vec![
            (Assign, 1),
            (Start, rng.range(1, 3)),
            (Resolve, rng.range(5, 12)),
            (Reopen, rng.range(1, 3)),
            (Rework, rng.range(3, 8)),
            (Resolve2, rng.range(1, 4)),
            (Close, rng.range(0, 2)),
        ],
        Plan::AwaitingConfirmation => vec![
            (Assign, rng.range(0, 1)),
            (Start, rng.range(1, 3)),
            (Progress, rng.range(2, 10)),
            (Resolve, rng.range(1, 6)),
        ],
        Plan::InProgress | Plan::Overdue => vec![
            (Assign, rng.range(0, 2)),
            (Start, rng.range(1, 3)),
            (Progress, rng.range(2, 6)),
        ],
        Plan::Rescheduled => vec![
            (Assign, rng.range(0, 1)),
            (ChangeDue, rng.range(1, 3)),
            (Start, rng.range(0, 2)),
            (Progress, rng.range(2, 5)),
        ],
        Plan::Escalated => vec![
            (Assign, rng.range(0, 1)),
            (Start, rng.range(1, 3)),
            (Escalate, rng.range(5, 15)),
            (Progress, rng.range(2, 6)),
        ],
        Plan::Assigned => vec![(Assign, rng.range(0, 2))],
        Plan::Submitted => vec![],
        Plan::Rejected => vec![(Assign, rng.range(0, 1)), (Reject, rng.range(1, 4))],
    };
    let span: i64 = kinds.iter().map(|(_, gap)| gap).sum();
    // How long ago the last step happened.
    let idle = match plan {
        Plan::Closed | Plan::ClosedAfterReopen => rng.range(0, 60),
        Plan::Overdue => rng.range(30, 50),
        Plan::Submitted => rng.range(0, 1),
        _ => rng.range(0, 6),
    };
    let submitted_day = china_date(now) - (span + idle).days();

    // Each step at office hours on its day; later steps strictly later, and
    // nothing in the future.
    let mut day = submitted_day;
    let mut times = vec![office_time(submitted_day, &mut rng)];
    for (_, gap) in &kinds {
        day += gap.days();
        times.push(office_time(day, &mut rng));
    }
    for i in 1..times.len() {
        if times[i] <= times[i - 1] {
            times[i] = times[i - 1] + SignedDuration::from_mins(rng.range(10, 90));
        }
    }
    let latest = now - SignedDuration::from_mins(1);
    for i in (0..times.len()).rev() {
        let cap = if i + 1 == times.len() {
            latest
        } else {
            times[i + 1] - SignedDuration::from_mins(1)
        };
        if times[i] > cap {
            times[i] = cap;
        }
    }

    let requester = cat.party(&template.requester);
    let department = cat.party(&template.department);
    let level = if plan == Plan::Escalated || rng.chance(25) {
        SupervisionLevel::District
    } else {
        SupervisionLevel::None
    };
    let priority = match template.category {
        Category::EmergencyRelief | Category::Medical if rng.chance(50) => pb::Priority::Urgent,
        _ => match rng.range(0, 19) {
            0..=1 => pb::Priority::Low,
            2..=13 => pb::Priority::Normal,
            _ => pb::Priority::High,
        },
    };
    let community = if rng.chance(15) { 0 } else { rng.range(1, 12) };
    let street = &cat.streets[rng.range(0, cat.streets.len() as i64 - 1) as usize];
    let area_code = format!("500106{street}{community:03}");
    let due_days = if plan == Plan::Overdue {
        rng.range(10, 20)
    } else {
        rng.range(20, 60)
    };

    let correlation = key_prefix.clone();
    let ctx = |name: &str, at: Timestamp| {
        context(
            format!("{key_prefix}-{name}"),
            correlation.clone(),
            Some(at),
        )
    };
    let mut steps = vec![Step::new(
        requester.actor(),
        Cmd::Submit(pb::SubmitRequestCommand {
            context: ctx("submit", times[0]),
            direction: template.direction as i32,
            requester: Some(pb::RequestingParty {
                agency: requester.agency.clone(),
                name: requester.name.clone(),
            }),
            category: template.category as i32,
            title: title.clone(),
            description: template.description.clone(),
            area_code,
            priority: priority as i32,
            // Left to the assignment: a submission without dates is the same
            // command on any day, so a rerun always finds its request.
            due_date: String::new(),
            supervision_level: level as i32,
            person_id: String::new(),
        }),
    )];
    let mut due = submitted_day;
    for ((kind, _), at) in kinds.iter().zip(&times[1..]) {
        let at = *at;
        let today = china_date(at);
        let (who, cmd) = match kind {
            Assign => {
                due = today + due_days.days();
                (
                    coordinator.clone(),
                    Cmd::Assign(pb::AssignRequestCommand {
                        context: ctx("assign", at),
                        request_id: String::new(),
                        department: department.agency.clone(),
                        due_date: date_text(due),
                        note: cat.assign_note(department),
                    }),
                )
            }
            Start => (
                department.actor(),
                Cmd::Start(pb::StartRequestCommand {
                    context: ctx("start", at),
                    request_id: String::new(),
                    note: cat.notes.start.clone(),
                }),
            ),
            Progress | Rework => {
                let (name, note) = match kind {
                    Progress => ("progress", &template.progress),
                    _ => ("progress-2", &cat.notes.rework_progress),
                };
                let progress = pb::RecordProgressCommand {
                    context: ctx(name, at),
                    request_id: String::new(),
                    note: note.clone(),
                };
                (department.actor(), Cmd::Progress(progress))
            }
            // A second resolution, after a dispute, says what was reworked.
            Resolve | Resolve2 => {
                let (name, resolution) = match kind {
                    Resolve => ("resolve", &template.resolution),
                    _ => ("resolve-2", &cat.notes.rework_resolution),
                };
                let resolve = pb::ResolveRequestCommand {
                    context: ctx(name, at),
                    request_id: String::new(),
                    resolution: resolution.clone(),
                };
                (department.actor(), Cmd::Resolve(resolve))
            }
            // One close-out in four is rated 基本满意, the rest 满意.
            Close => (
                requester.actor(),
                Cmd::Close(pb::CloseRequestCommand {
                    context: ctx("close", at),
                    request_id: String::new(),
                    note: cat.notes.close.clone(),
                    satisfaction: if index % 4 == 3 {
                        pb::Satisfaction::BasicallySatisfied
                    } else {
                        pb::Satisfaction::Satisfied
                    } as i32,
                }),
            ),
            // The dispute is the requester's confirmation rated 不满意,
            // which reopens the request.
            Reopen => (
                requester.actor(),
                Cmd::Close(pb::CloseRequestCommand {
                    context: ctx("reopen", at),
                    request_id: String::new(),
                    note: cat.notes.reopen.clone(),
                    satisfaction: pb::Satisfaction::Dissatisfied as i32,
                }),
            ),
            Reject => (
                department.actor(),
                Cmd::Reject(pb::RejectRequestCommand {
                    context: ctx("reject", at),
                    request_id: String::new(),
                    reason: cat.notes.reject[index as usize % cat.notes.reject.len()].clone(),
                }),
            ),
            Escalate => {
                due = today + 30.days();
                (
                    cat.party(SUPERVISION_OFFICE).actor(),
                    Cmd::Escalate(pb::EscalateRequestCommand {
                        context: ctx("escalate", at),
                        request_id: String::new(),
                        level: SupervisionLevel::City as i32,
                        reason: cat.notes.escalate.clone(),
                        due_date: date_text(due),
                    }),
                )
            }
            ChangeDue => {
                due = due.max(today) + 20.days();
                (
                    cat.party(SUPERVISION_OFFICE).actor(),
                    Cmd::ChangeDueDate(pb::ChangeDueDateCommand {
                        context: ctx("change-due-date", at),
                        request_id: String::new(),
                        due_date: date_text(due),
                        reason: cat.notes.reschedule.clone(),
                    }),
                )
            }
        };
        steps.push(Step::new(who, cmd));
    }
    Script {
        index,
        plan,
        title,
        steps,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Assign,
    Start,
    Progress,
    Rework,
    Resolve,
    Resolve2,
    Close,
    Reopen,
    Reject,
    Escalate,
    ChangeDue,
}

/// A moment between 09:00 and 17:00 China Standard Time on `day`.
pub fn office_time(day: Date, rng: &mut Rng) -> Timestamp {
    let minutes = rng.range(9 * 60, 17 * 60);
    let datetime = day.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0);
    Offset::constant(CHINA_OFFSET_HOURS)
        .to_timestamp(datetime)
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// What loading one script did.
#[derive(Debug)]
pub struct Loaded {
    pub index: u32,
    pub plan: Plan,
    pub direction: pb::Direction,
    pub title: String,
    pub sent: Sent,
}

/// Sends every script, `concurrency` requests at a time (each request's
/// commands in order), and reports per script, in index order.
pub async fn load(
    clients: &IntakeClients,
    scripts: Vec<Script>,
    concurrency: usize,
) -> Vec<Loaded> {
    let steps = scripts.iter().map(|script| script.steps.as_slice());
    let sent = load::send_all(clients, steps, &HashMap::new(), concurrency).await;
    scripts
        .into_iter()
        .zip(sent)
        .map(|(script, sent)| Loaded {
            index: script.index,
            plan: script.plan,
            direction: script.direction(),
            title: script.title,
            sent,
        })
        .collect()
}

/// The totals of a load.
pub fn totals(loaded: &[Loaded]) -> Totals {
    Totals::of(loaded.iter().map(|l| &l.sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coordinator() -> pb::Actor {
        pb::Actor {
            agency: "district-veterans-bureau".into(),
            user: "operator".into(),
        }
    }

    fn now() -> Timestamp {
        "2026-06-15T06:30:00Z".parse().unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_set() {
        let a = plan(7, 40, now(), &coordinator());
        let b = plan(7, 40, now(), &coordinator());
        assert_eq!(a, b);
        let c = plan(8, 40, now(), &coordinator());
        assert_ne!(a[0].steps[0], c[0].steps[0]);
    }

    #[test]
    fn any_seed_plans() {
        for seed in [0, u64::MAX, u64::MAX / 3] {
            assert_eq!(plan(seed, 25, now(), &coordinator()).len(), 25);
        }
    }

    #[test]
    fn keys_are_unique_and_derive_from_seed_and_index() {
        let scripts = plan(3, 40, now(), &coordinator());
        let mut keys = std::collections::BTreeSet::new();
        for s in &scripts {
            for step in &s.steps {
                let key = step.cmd.context().unwrap().idempotency_key.clone();
                assert!(key.starts_with(&format!("demo-3-{:03}-", s.index)), "{key}");
                assert!(keys.insert(key), "duplicate key");
            }
        }
        // A longer set starts with the same requests.
        let longer = plan(3, 45, now(), &coordinator());
        assert_eq!(&longer[..40], &scripts[..]);
    }

    #[test]
    fn a_default_set_covers_every_end_state_and_both_directions() {
        let scripts = plan(1, 40, now(), &coordinator());
        let plans: std::collections::BTreeSet<Plan> = scripts.iter().map(|s| s.plan).collect();
        assert_eq!(plans.len(), 10);
        let directions: std::collections::BTreeSet<i32> = scripts
            .iter()
            .filter_map(|s| match &s.steps[0].cmd {
                Cmd::Submit(c) => Some(c.direction),
                _ => None,
            })
            .collect();
        assert_eq!(directions.len(), 2);
    }

    #[test]
    fn steps_are_in_the_past_and_in_order() {
        for s in plan(11, 60, now(), &coordinator()) {
            let mut previous: Option<i64> = None;
            for step in &s.steps {
                let at = step.cmd.context().unwrap().occurred_at.unwrap().seconds;
                assert!(at < now().as_second());
                assert!(at > now().as_second() - 200 * 86_400);
                if let Some(p) = previous {
                    assert!(at > p, "request {} steps out of order", s.index);
                }
                previous = Some(at);
            }
        }
    }

    #[test]
    fn close_and_reopen_come_from_the_requester() {
        for s in plan(5, 40, now(), &coordinator()) {
            let Cmd::Submit(submit) = &s.steps[0].cmd else {
                panic!("first step must submit");
            };
            let requester = submit.requester.as_ref().unwrap().agency.clone();
            assert_eq!(s.steps[0].actor.agency, requester);
            for step in &s.steps {
                if matches!(step.cmd, Cmd::Close(_) | Cmd::Reopen(_)) {
                    assert_eq!(step.actor.agency, requester);
                }
            }
        }
    }
}
