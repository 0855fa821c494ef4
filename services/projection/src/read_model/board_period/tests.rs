//! The board by period and place against a recomputation from the log: the
//! requests the domain folds from the events, filtered and counted here
//! directly, without the counters' code; 不满意 ratings are counted from the
//! log's own events.

use std::collections::BTreeMap;

use jiff::ToSpan;
use jiff::civil::date;
use proptest::prelude::*;
use prost::Message;
use sy_domain::pb::{self, RequestStatus as S};
use sy_domain::request::{Command, Submission};
use sy_domain::validate::{AreaCode, Code, Districts};

use super::super::BatchKeys;
use super::super::keys::row_key;

use super::super::tests::{Log, id, open};
use super::*;

/// 2026-05-28 00:00 China time, the first day events happen on.
const DAY_ZERO: i64 = 1_779_897_600;
const AREAS: [&str; 4] = [
    "500106001002",
    "500106001003",
    "500106002003",
    "500106002004",
];
const FILTER_AREAS: [&str; 5] = [
    "500106001",
    "500106001002",
    "500106002",
    "500106002004",
    "500106003",
];
const REQUESTERS: [&str; 2] = ["unit-31001", "district-education"];
const DEPARTMENTS: [&str; 3] = ["housing", "health", "transport"];
/// The ratings a confirmation carries; `Unspecified` is a close-out as
/// recorded before ratings existed (`decide` writes it as it is given).
const RATINGS: [pb::Satisfaction; 4] = [
    pb::Satisfaction::Satisfied,
    pb::Satisfaction::BasicallySatisfied,
    pb::Satisfaction::Dissatisfied,
    pb::Satisfaction::Unspecified,
];

fn day(offset: i64) -> Date {
    date(2026, 5, 28).checked_add(offset.days()).unwrap()
}

fn submission(filing: &Filing) -> Command {
    let districts = Districts::parse("500106").unwrap();
    Command::Submit(Submission {
        direction: if filing.local {
            pb::Direction::LocalToMilitary
        } else {
            pb::Direction::MilitaryToLocal
        },
        requester_agency: Code::parse("a", REQUESTERS[filing.requester]).unwrap(),
        requester_name: "某部营房科".into(),
        category: pb::Category::Medical,
        title: "训练场排水改造".into(),
        description: String::new(),
        area_code: AreaCode::parse("a", AREAS[filing.area], &districts).unwrap(),
        priority: pb::Priority::Normal,
        due_date: filing.due.map(day),
        supervision_level: pb::SupervisionLevel::None,
        person: None,
    })
}

/// One step of a log: a command on request `n`, at `hour` hours after
/// [`DAY_ZERO`] (so days turn over in China time, not UTC).
#[derive(Debug, Clone)]
struct Step {
    n: u128,
    hour: i64,
    action: Action,
}

/// What a submission files: indexes into [`AREAS`] and [`REQUESTERS`], the
/// direction, and a due date in days after [`DAY_ZERO`].
#[derive(Debug, Clone, Copy)]
struct Filing {
    area: usize,
    requester: usize,
    local: bool,
    due: Option<i64>,
}

#[derive(Debug, Clone)]
enum Action {
    Submit(Filing),
    Assign {
        department: usize,
        due: i64,
    },
    Start,
    Resolve,
    /// The requester's confirmation with the rating `RATINGS[n]`.
    Close(usize),
    Reject,
    Reopen,
    ChangeDue(i64),
    /// The next step of the request's lifecycle from its status: submit,
    /// assign, start, resolve or confirm with the rating `RATINGS[rating]`,
    /// so random logs reach close-outs and ratings often, not by chance.
    Advance {
        filing: Filing,
        department: usize,
        due: i64,
        rating: usize,
    },
}

impl Action {
    /// What `Advance` does at `status`: a close where there is no next
    /// step, which the lifecycle refuses unless the request is resolved.
    fn next(filing: Filing, department: usize, due: i64, rating: usize, status: S) -> Action {
        match status {
            S::Unspecified => Action::Submit(filing),
            S::Submitted => Action::Assign { department, due },
            S::Assigned => Action::Start,
            S::InProgress => Action::Resolve,
            _ => Action::Close(rating),
        }
    }
}

fn filing() -> impl Strategy<Value = Filing> {
    (
        0..AREAS.len(),
        0..REQUESTERS.len(),
        any::<bool>(),
        proptest::option::of(0..120i64),
    )
        .prop_map(|(area, requester, local, due)| Filing {
            area,
            requester,
            local,
            due,
        })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (filing(), 0..DEPARTMENTS.len(), 0..120i64, 0..RATINGS.len()).prop_map(
            |(filing, department, due, rating)| Action::Advance {
                filing,
                department,
                due,
                rating
            }
        ),
        1 => filing().prop_map(Action::Submit),
        1 => (0..DEPARTMENTS.len(), 0..120i64)
            .prop_map(|(department, due)| Action::Assign { department, due }),
        1 => Just(Action::Start),
        1 => Just(Action::Resolve),
        1 => (0..RATINGS.len()).prop_map(Action::Close),
        1 => Just(Action::Reject),
        1 => Just(Action::Reopen),
        1 => (0..120i64).prop_map(Action::ChangeDue),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (1..=6u128, 0..90 * 24i64, action()).prop_map(|(n, hour, action)| Step { n, hour, action })
}

/// The command of `action` on a request in `status`, and who issues it:
/// the requester closes and reopens, the department does the rest.
fn command(action: &Action, requester: &str, status: S) -> (Command, String) {
    let worker = DEPARTMENTS[0].to_string();
    match action {
        Action::Advance {
            filing,
            department,
            due,
            rating,
        } => command(
            &Action::next(*filing, *department, *due, *rating, status),
            requester,
            status,
        ),
        Action::Submit(filing) => (submission(filing), REQUESTERS[filing.requester].to_string()),
        Action::Assign { department, due } => (
            Command::Assign {
                department: Code::parse("d", DEPARTMENTS[*department]).unwrap(),
                due_date: day(*due),
                note: String::new(),
            },
            worker,
        ),
        Action::Start => (
            Command::Start {
                note: String::new(),
            },
            worker,
        ),
        Action::Resolve => (
            Command::Resolve {
                resolution: "已完工".into(),
            },
            worker,
        ),
        Action::Close(rating) => (
            Command::Close {
                note: "东侧仍积水".into(),
                satisfaction: RATINGS[*rating],
            },
            requester.to_string(),
        ),
        Action::Reject => (
            Command::Reject {
                reason: "不属于职责范围".into(),
            },
            worker,
        ),
        Action::Reopen => (
            Command::Reopen {
                reason: "仍有积水".into(),
            },
            requester.to_string(),
        ),
        Action::ChangeDue(due) => (
            Command::ChangeDueDate {
                due_date: day(*due),
                reason: "顺延".into(),
            },
            worker,
        ),
    }
}

fn logged(steps: &[Step]) -> Log {
    let mut log = Log::default();
    for step in steps {
        let id = id(step.n);
        let state = log.states.get(&id);
        let requester = state
            .and_then(|r| r.requester.as_ref())
            .map(|r| r.agency.clone())
            .unwrap_or_default();
        let status = state.map_or(S::Unspecified, |r| r.status());
        let (command, agency) = command(&step.action, &requester, status);
        log.clock = Some(DAY_ZERO + 3600 * step.hour);
        log.command(&id, &command, &agency);
    }
    log
}

/// What the board should say of one department, counted from requests.
#[derive(Debug, Default, Clone, PartialEq)]
struct Expected {
    submitted: u64,
    open: u64,
    overdue: u64,
    awaiting: u64,
    closed: u64,
    rejected: u64,
    closed_with_due_date: u64,
    closed_on_time: u64,
    oldest_days: u64,
    days_waited: u64,
    ratings: pb::SatisfactionCounts,
}

impl Expected {
    fn of(counts: &pb::BoardCounts) -> Self {
        let age = counts.awaiting_age.unwrap_or_default();
        assert_eq!(age.count, counts.awaiting_confirmation);
        Self {
            submitted: counts.submitted,
            open: counts.open,
            overdue: counts.overdue,
            awaiting: counts.awaiting_confirmation,
            closed: counts.closed,
            rejected: counts.rejected,
            closed_with_due_date: counts.closed_with_due_date,
            closed_on_time: counts.closed_on_time,
            oldest_days: age.oldest_days,
            days_waited: (age.mean_days * age.count as f64).round() as u64,
            ratings: counts.satisfaction.unwrap_or_default(),
        }
    }
}

fn china_day(ts: Option<&prost_types::Timestamp>) -> Date {
    china_date(to_jiff(ts).unwrap())
}

fn matches(filter: &BoardFilter, request: &pb::Request) -> bool {
    let filed = china_day(request.submitted_at.as_ref());
    filter
        .period
        .is_none_or(|(from, to)| from <= filed && filed <= to)
        && filter
            .area
            .as_ref()
            .is_none_or(|area| request.area_code.starts_with(area.as_str()))
        && filter
            .requester
            .as_ref()
            .is_none_or(|agency| request.requester.as_ref().unwrap().agency == *agency)
        && filter.direction.is_none_or(|d| request.direction() == d)
}

/// The 不满意 ratings each request received, read from the log's events
/// (a confirmation rated 不满意 is a `RequestReopened` carrying it).
fn dissatisfied_ratings(log: &Log) -> BTreeMap<String, u64> {
    let mut ratings = BTreeMap::<String, u64>::new();
    for event in &log.events {
        let envelope = pb::EventEnvelope::decode(event.payload.clone()).unwrap();
        if let Some(pb::event_envelope::Payload::RequestReopened(reopened)) = &envelope.payload
            && reopened.satisfaction() == pb::Satisfaction::Dissatisfied
        {
            *ratings.entry(envelope.aggregate_id).or_default() += 1;
        }
    }
    ratings
}

/// Per department, what the board should show of the requests in `log`
/// that `filter` matches.
fn recomputed(log: &Log, filter: &BoardFilter, as_of: Date) -> BTreeMap<String, Expected> {
    let dissatisfied = dissatisfied_ratings(log);
    let mut rows = BTreeMap::<String, Expected>::new();
    for request in log.states.values().filter(|r| r.version > 0) {
        if !matches(filter, request) {
            continue;
        }
        let department = match request.department.as_str() {
            "" => "(unassigned)",
            department => department,
        };
        let row = rows.entry(department.to_string()).or_default();
        let status = request.status();
        let due = (!request.due_date.is_empty()).then_some(request.due_date.as_str());
        row.submitted += 1;
        row.open += u64::from(!matches!(status, S::Closed | S::Rejected));
        let unresolved = matches!(status, S::Submitted | S::Assigned | S::InProgress);
        row.overdue +=
            u64::from(unresolved && due.is_some_and(|due| due < as_of.to_string().as_str()));
        row.closed += u64::from(status == S::Closed);
        row.rejected += u64::from(status == S::Rejected);
        if status == S::Closed
            && let Some(due) = due
        {
            row.closed_with_due_date += 1;
            let closed_on = china_day(request.closed_at.as_ref()).to_string();
            row.closed_on_time += u64::from(closed_on.as_str() <= due);
        }
        // Ratings count under the department the request is assigned to
        // now: a closed request under its close-out's rating, and every
        // 不满意 it received, also after a later close.
        if status == S::Closed {
            let ratings = &mut row.ratings;
            match request.satisfaction() {
                pb::Satisfaction::Satisfied => ratings.satisfied += 1,
                pb::Satisfaction::BasicallySatisfied => ratings.basically_satisfied += 1,
                _ => ratings.not_rated += 1,
            }
        }
        row.ratings.dissatisfied += dissatisfied.get(&request.id).copied().unwrap_or(0);
        if status == S::Resolved {
            row.awaiting += 1;
            let resolved = china_day(request.resolved_at.as_ref());
            let waited = u64::try_from(resolved.until(as_of).unwrap().get_days().max(0)).unwrap();
            row.days_waited += waited;
            row.oldest_days = row.oldest_days.max(waited);
        }
    }
    rows
}

fn served(board: &pb::ClearanceBoard) -> BTreeMap<String, Expected> {
    board
        .by_department
        .iter()
        .map(|row| (row.key.clone(), Expected::of(row.counts.as_ref().unwrap())))
        .collect()
}

fn sum(rows: &BTreeMap<String, Expected>) -> Expected {
    let mut total = Expected::default();
    for row in rows.values() {
        total.submitted += row.submitted;
        total.open += row.open;
        total.overdue += row.overdue;
        total.awaiting += row.awaiting;
        total.closed += row.closed;
        total.rejected += row.rejected;
        total.closed_with_due_date += row.closed_with_due_date;
        total.closed_on_time += row.closed_on_time;
        total.days_waited += row.days_waited;
        total.oldest_days = total.oldest_days.max(row.oldest_days);
        total.ratings.satisfied += row.ratings.satisfied;
        total.ratings.basically_satisfied += row.ratings.basically_satisfied;
        total.ratings.dissatisfied += row.ratings.dissatisfied;
        total.ratings.not_rated += row.ratings.not_rated;
    }
    total
}

fn filter() -> impl Strategy<Value = BoardFilter> {
    (
        proptest::option::of((0..100i64, 0..60i64)),
        proptest::option::of(0..FILTER_AREAS.len()),
        proptest::option::of(0..REQUESTERS.len()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(period, area, requester, local)| BoardFilter {
            period: period.map(|(from, days)| (day(from), day(from + days))),
            area: area.map(|a| FILTER_AREAS[a].to_string()),
            requester: requester.map(|r| REQUESTERS[r].to_string()),
            direction: local.map(|local| {
                if local {
                    pb::Direction::LocalToMilitary
                } else {
                    pb::Direction::MilitaryToLocal
                }
            }),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// For random logs (submissions on random days, areas, requesters and
    /// directions; assignments, resolutions, confirmations rated 满意,
    /// 基本满意, 不满意 (reopening) or unrated, rejections, reopenings and
    /// due date changes) and random filters, the board by period and place
    /// equals a recomputation from the requests the log folds to, per
    /// department and in total, ratings included; so does the unfiltered
    /// board.
    #[test]
    fn the_board_by_period_and_place_equals_a_recomputation(
        steps in proptest::collection::vec(step(), 1..120),
        filters in proptest::collection::vec((filter(), 0..150i64), 1..6),
    ) {
        let log = logged(&steps);
        let (_dir, model) = open();
        model.apply_batch(&log.events, &BatchKeys::default()).unwrap();
        // Every due date is also a day asked about: the overdue boundary.
        let due_days: Vec<Date> = log
            .states
            .values()
            .filter_map(|r| r.due_date.parse().ok())
            .collect();
        let asked = filters.iter().flat_map(|(filter, as_of)| {
            std::iter::once(day(*as_of))
                .chain(due_days.iter().copied())
                .map(move |as_of| (filter, as_of))
        });
        for (filter, as_of) in asked {
            let expected = recomputed(&log, filter, as_of);
            let board = model.board(as_of, Some(filter)).unwrap();
            prop_assert_eq!(served(&board), expected.clone());
            prop_assert_eq!(Expected::of(board.total.as_ref().unwrap()), sum(&expected));

            let everything = recomputed(&log, &BoardFilter::default(), as_of);
            let whole = model.board(as_of, None).unwrap();
            prop_assert_eq!(Expected::of(whole.total.as_ref().unwrap()), sum(&everything));
            prop_assert_eq!(served(&whole), everything);
        }
    }
}

#[test]
fn a_request_counts_under_twelve_slices_and_moves_between_dated_families() {
    let mut submitted = pb::Request {
        id: "r1".into(),
        area_code: "500106001002".into(),
        requester: Some(pb::RequestingParty {
            agency: "unit-1".into(),
            name: String::new(),
        }),
        direction: pb::Direction::MilitaryToLocal as i32,
        due_date: "2026-06-10".into(),
        // 00:30 on 2026-06-01 in China, still 2026-05-31 in UTC.
        submitted_at: Some(prost_types::Timestamp {
            seconds: DAY_ZERO + 4 * 86_400 + 30 * 60,
            nanos: 0,
        }),
        ..Default::default()
    };
    submitted.set_status(S::Submitted);
    let filed = china_day(submitted.submitted_at.as_ref()).to_string();
    assert_eq!(filed, "2026-06-01");
    let new = delta(None, &submitted);
    assert_eq!(new.rows.len(), 12);
    assert!(
        new.rows
            .keys()
            .all(|key| key.contains("/2026-06-01/(unassigned)"))
    );
    assert_eq!(new.due.len(), 12, "one due counter per slice");

    let mut resolved = submitted.clone();
    resolved.set_status(S::Resolved);
    resolved.resolved_at = Some(prost_types::Timestamp {
        seconds: DAY_ZERO + 10 * 86_400,
        nanos: 0,
    });
    let moved = delta(Some(&submitted), &resolved);
    let any = board_slice(None, None, None);
    let due = PeriodFamily::Due.key(&any, &filed, Some("2026-06-10"), "(unassigned)");
    let since = PeriodFamily::Resolved.key(&any, &filed, Some("2026-06-07"), "(unassigned)");
    assert_eq!(moved.due.get(&due), Some(&-1));
    assert_eq!(moved.due.get(&since), Some(&1));

    let mut foreign = submitted.clone();
    foreign.requester = None;
    let anyone = delta(None, &foreign);
    assert_eq!(anyone.rows.len(), 6, "any requester only");
    let once = contribution(&foreign);
    assert!(anyone.rows.values().all(|row| *row == once), "counted once");
    foreign.area_code = "somewhere".into();
    assert_eq!(delta(None, &foreign).rows.len(), 2, "any area only");
    foreign.submitted_at = None;
    assert_eq!(delta(None, &foreign), Delta::default(), "no filing day");
}

#[test]
fn ages_count_whole_days_and_never_go_negative() {
    let mut waiting = Waiting::default();
    let as_of = date(2026, 6, 10);
    waiting.add(2, date(2026, 6, 1), as_of);
    waiting.add(1, date(2026, 6, 12), as_of);
    let age = waiting.age(as_of);
    assert_eq!(age.count, 3);
    assert_eq!(age.oldest_days, 9);
    assert_eq!(age.mean_days, 6.0);
    assert_eq!(Waiting::default().age(as_of).mean_days, 0.0);
}

/// The "any area, any requester, any direction" period rows of a request
/// change equal the unfiltered board's department rows, field by field, for
/// every change: status moves, a 不满意 reopening, and a rating or 不满意
/// count changing alone (which no event does today, but which the
/// unfiltered board counts, so the period counters must too).
#[test]
fn period_rows_move_exactly_as_the_department_rows() {
    let mut resolved = pb::Request {
        id: "r1".into(),
        department: "housing".into(),
        area_code: AREAS[0].into(),
        requester: Some(pb::RequestingParty {
            agency: REQUESTERS[0].into(),
            name: String::new(),
        }),
        submitted_at: Some(prost_types::Timestamp {
            seconds: DAY_ZERO,
            nanos: 0,
        }),
        ..Default::default()
    };
    resolved.set_status(S::Resolved);
    let with = |request: &pb::Request, change: fn(&mut pb::Request)| {
        let mut next = request.clone();
        change(&mut next);
        next
    };
    let reopened = with(&resolved, |r| {
        r.set_status(S::InProgress);
        r.set_satisfaction(pb::Satisfaction::Dissatisfied);
        r.dissatisfied_count = 1;
    });
    let closed = with(&resolved, |r| {
        r.set_status(S::Closed);
        r.set_satisfaction(pb::Satisfaction::Satisfied);
    });
    let rerated = with(&closed, |r| {
        r.set_satisfaction(pb::Satisfaction::BasicallySatisfied)
    });
    let recounted = with(&closed, |r| r.dissatisfied_count = 2);
    let changes = [
        (None, &resolved),
        (Some(&resolved), &reopened),
        (Some(&resolved), &closed),
        (Some(&closed), &rerated),
        (Some(&closed), &recounted),
    ];
    let any = board_slice(None, None, None);
    let filed = china_day(resolved.submitted_at.as_ref()).to_string();
    for (before, after) in changes {
        let rows = super::super::board::delta(before, after).rows;
        let period = delta(before, after).rows;
        assert!(!rows.is_empty(), "every change here moves a counter");
        for department in ["housing", "(unassigned)"] {
            let row = rows.get(&row_key(&format!("department:{department}")));
            let key = PeriodFamily::Counts.key(&any, &filed, None, department);
            assert_eq!(period.get(&key), row, "{department} after {after:?}");
        }
    }
}
