//! The read model over temporary sled directories, fed with events that the
//! domain's own `decide` produced (what intake would write), plus garbage.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use jiff::civil::date;
use proptest::prelude::*;
use prost::Message;
use sy_domain::aggregate::Aggregate;
use sy_domain::event::{GENESIS_HASH, hash, subject};
use sy_domain::pb::{self, RequestStatus as S};
use sy_domain::request::{Command, KIND, Submission};
use sy_domain::validate::{AreaCode, Code, Districts};
use sy_eventlog::StoredEvent;
use tempfile::TempDir;

use super::keys::Index;
use super::list::SCAN_BUDGET;
use super::*;
use crate::data_dir::DataDir;

const REQUESTER: &str = "unit-31001";
const WORKER: &str = "district-housing-bureau";
const BASE_SECONDS: i64 = 1_780_000_000;

pub(super) fn open() -> (TempDir, ReadModel) {
    let dir = tempfile::tempdir().unwrap();
    let model = ReadModel::open(dir.path()).unwrap();
    (dir, model)
}

pub(super) fn id(n: u128) -> String {
    uuid::Uuid::from_u128(0x0195_d3b2_0000_7000_8000_0000_0000_0000 + n).to_string()
}

fn submission(category: pb::Category, area: &str) -> Command {
    let districts = Districts::parse("500106").unwrap();
    Command::Submit(Submission {
        direction: pb::Direction::MilitaryToLocal,
        requester_agency: Code::parse("a", REQUESTER).unwrap(),
        requester_name: "某部营房科".into(),
        category,
        title: "训练场排水改造".into(),
        description: String::new(),
        area_code: AreaCode::parse("a", area, &districts).unwrap(),
        priority: pb::Priority::High,
        due_date: None,
        supervision_level: pb::SupervisionLevel::None,
        person: None,
    })
}

fn submit() -> Command {
    submission(pb::Category::BarracksAndTrainingGrounds, "500106001002")
}

fn assign(department: &str, due: Date) -> Command {
    Command::Assign {
        department: Code::parse("d", department).unwrap(),
        due_date: due,
        note: String::new(),
    }
}

fn start() -> Command {
    Command::Start {
        note: String::new(),
    }
}

fn resolve() -> Command {
    Command::Resolve {
        resolution: "已完工".into(),
    }
}

fn close() -> Command {
    rated(pb::Satisfaction::Satisfied)
}

/// The requester's confirmation rated `satisfaction`.
fn rated(satisfaction: pb::Satisfaction) -> Command {
    Command::Close {
        note: "东侧仍积水".into(),
        satisfaction,
    }
}

/// A log in the making: decides commands against the folded state of each
/// request, as intake does, and records the stored events.
#[derive(Default)]
pub(super) struct Log {
    pub(super) events: Vec<StoredEvent>,
    pub(super) states: HashMap<String, pb::Request>,
    /// Hash of each request's last event: the next one's `prev_hash`.
    heads: HashMap<String, [u8; 32]>,
    /// The schema version new events are written with (0, the first
    /// release's, unless a test plays a newer release).
    schema_version: u32,
    /// When set, the time every new event occurs at (seconds); otherwise
    /// an hour per position after `BASE_SECONDS`.
    pub(super) clock: Option<i64>,
}

impl Log {
    fn next_position(&self) -> u64 {
        self.events.len() as u64 + 1
    }

    /// Decides `command` on request `id` as `agency`; `false` if refused.
    pub(super) fn command(&mut self, id: &str, command: &Command, agency: &str) -> bool {
        let position = self.next_position();
        let state = self
            .states
            .entry(id.to_string())
            .or_insert_with(|| pb::Request {
                id: id.to_string(),
                ..Default::default()
            });
        let actor = pb::Actor {
            agency: agency.into(),
            user: "tester".into(),
        };
        let Ok(payload) = state.decide(command, &(), &actor) else {
            return false;
        };
        let envelope = pb::EventEnvelope {
            event_id: format!("event-{position}"),
            aggregate_kind: KIND.into(),
            aggregate_id: id.to_string(),
            aggregate_version: state.version + 1,
            occurred_at: Some(prost_types::Timestamp {
                seconds: self.clock.unwrap_or(BASE_SECONDS + 3600 * position as i64),
                nanos: 0,
            }),
            actor: Some(actor),
            prev_hash: self.heads.get(id).copied().unwrap_or(GENESIS_HASH).to_vec(),
            payload: Some(payload),
            schema_version: self.schema_version,
            ..Default::default()
        };
        state.apply(&envelope, position).unwrap();
        let stored = envelope.encode_to_vec();
        self.heads.insert(id.to_string(), hash(&stored));
        self.push(&subject(KIND, id), stored);
        true
    }

    fn must(&mut self, id: &str, command: &Command, agency: &str) {
        assert!(
            self.command(id, command, agency),
            "{} must be legal",
            command.action()
        );
    }

    fn push(&mut self, subject: &str, payload: Vec<u8>) {
        let position = self.next_position();
        self.events.push(StoredEvent {
            position,
            subject: subject.to_string(),
            payload: Bytes::from(payload),
        });
    }
}

/// Lifecycle of one request up to closing, as requester and worker.
fn closed_request(log: &mut Log, id: &str) {
    log.must(id, &submit(), REQUESTER);
    log.must(id, &assign(WORKER, date(2027, 3, 1)), WORKER);
    log.must(id, &start(), WORKER);
    log.must(id, &resolve(), WORKER);
    log.must(id, &close(), REQUESTER);
}

fn total(board: &pb::ClearanceBoard) -> pb::BoardCounts {
    board.total.unwrap()
}

fn row<'a>(rows: &'a [pb::BoardRow], key: &str) -> &'a pb::BoardCounts {
    rows.iter()
        .find(|row| row.key == key)
        .and_then(|row| row.counts.as_ref())
        .unwrap_or_else(|| panic!("no row {key}"))
}

#[test]
fn folds_a_request_through_its_lifecycle() {
    let (_dir, model) = open();
    let mut log = Log::default();
    closed_request(&mut log, &id(1));

    let outcome = model
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();
    assert_eq!(outcome.checkpoint, 5);
    assert_eq!(outcome.applied, 5);
    assert_eq!(model.last_applied().unwrap(), 5);

    let request = model.request(&id(1)).unwrap().unwrap();
    assert_eq!(
        request,
        log.states[&id(1)],
        "the stored request is the domain's fold"
    );
    assert_eq!(request.status(), S::Closed);
    assert_eq!(request.timeline.len(), 5);

    let board = model.board(date(2030, 1, 1), None).unwrap();
    let counts = total(&board);
    assert_eq!((counts.submitted, counts.open, counts.closed), (1, 0, 1));
    assert_eq!(counts.overdue, 0, "a closed request is never overdue");
    let times = counts.close_times.unwrap();
    assert_eq!((times.count, times.total_seconds), (1, 4 * 3600));
    assert_eq!(times.mean_seconds, 4 * 3600);
    assert_eq!(times.within_1_day, 1);
    assert_eq!(row(&board.by_department, WORKER).closed, 1);
    assert!(board.by_department.iter().all(|r| r.key != "(unassigned)"));

    let changes = model.changes_after(0, 100).unwrap();
    let types: Vec<_> = changes.iter().map(|c| c.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "RequestSubmitted",
            "RequestAssigned",
            "RequestStarted",
            "RequestResolved",
            "RequestClosed"
        ]
    );
    assert_eq!(changes[4].status(), S::Closed);
    assert_eq!(changes[4].request_id, id(1));
    assert_eq!(model.changes_after(3, 100).unwrap().len(), 2);
    assert_eq!(model.changes_after(0, 2).unwrap().len(), 2);
    assert!(model.changes_after(u64::MAX, 10).unwrap().is_empty());
}

#[test]
fn keeps_each_agencys_notifications_in_log_order_whatever_the_batches() {
    let mut log = Log::default();
    closed_request(&mut log, &id(1));
    log.must(&id(2), &submit(), REQUESTER);
    log.must(&id(2), &assign(WORKER, date(2027, 3, 1)), WORKER);
    let kinds = |model: &ReadModel, agency: &str, after: u64| -> Vec<(u64, pb::NotificationKind)> {
        model
            .notifications_after(agency, after, 100)
            .unwrap()
            .iter()
            .map(|n| (n.position, n.kind()))
            .collect()
    };
    let (_dir, whole) = open();
    whole
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();
    use pb::NotificationKind as K;
    assert_eq!(
        kinds(&whole, WORKER, 0),
        [(2, K::Assigned), (7, K::Assigned)]
    );
    assert_eq!(kinds(&whole, WORKER, 2), [(7, K::Assigned)]);
    assert_eq!(kinds(&whole, REQUESTER, 0), [(4, K::AwaitingConfirmation)]);
    assert!(
        kinds(&whole, "unit-31", 0).is_empty(),
        "agencies do not share prefixes"
    );
    assert_eq!(whole.notifications_after(WORKER, 0, 1).unwrap().len(), 1);

    // One event at a time: the same notifications, byte for byte.
    let (_dir, stepwise) = open();
    for event in &log.events {
        stepwise
            .apply_batch(std::slice::from_ref(event), &BatchKeys::default())
            .unwrap();
    }
    assert_eq!(
        stepwise.notifications_after(WORKER, 0, 100).unwrap(),
        whole.notifications_after(WORKER, 0, 100).unwrap()
    );
    assert_eq!(stepwise.digest().unwrap(), whole.digest().unwrap());
}

#[test]
fn quarantines_what_it_cannot_fold_and_keeps_going() {
    let (_dir, model) = open();
    let mut log = Log::default();
    let garbage = vec![0xff, 0x01, 0x02];
    log.push(&subject(KIND, &id(1)), garbage.clone()); // 1: not an envelope
    log.must(&id(2), &submit(), REQUESTER); // 2: fine
    log.push("sy.evt.convoy.x", b"not ours".to_vec()); // 3: unknown kind, ignored
    let replayed = log.events[1].payload.to_vec();
    log.push(&subject(KIND, &id(2)), replayed); // 4: version 1 again
    let foreign = log.events[1].payload.to_vec();
    log.push(&subject(KIND, &id(3)), foreign); // 5: envelope of another request
    log.must(&id(2), &assign(WORKER, date(2027, 3, 1)), WORKER); // 6: fine

    let outcome = model
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();
    assert_eq!(outcome.checkpoint, 6);
    assert_eq!((outcome.applied, outcome.ignored), (2, 1));
    let positions: Vec<u64> = outcome.quarantined.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, [1, 4, 5]);
    assert!(outcome.quarantined[0].1.contains("cannot decode"));
    assert!(outcome.quarantined[1].1.contains("expected 2"));
    assert!(outcome.quarantined[2].1.contains("subject names request"));

    assert_eq!(model.quarantine_count().unwrap(), 3);
    let stored = model.quarantined().unwrap();
    assert_eq!(stored[0].payload, garbage);
    assert_eq!(stored[0].subject, subject(KIND, &id(1)));
    assert_eq!(stored[0].reason, outcome.quarantined[0].1);
    assert!(stored.iter().all(|entry| entry.newer_schema.is_none()));
    assert_eq!(
        model.request(&id(2)).unwrap().unwrap().status(),
        S::Assigned
    );
    assert_eq!(model.request(&id(1)).unwrap(), None);
    assert_eq!(model.request(&id(3)).unwrap(), None);
}

#[test]
fn an_event_that_does_not_name_its_predecessor_is_quarantined() {
    let (_dir, model) = open();
    let mut log = Log::default();
    log.must(&id(1), &submit(), REQUESTER);
    log.must(&id(1), &assign(WORKER, date(2027, 3, 1)), WORKER);
    // Rewrite the first event (as if its title were edited in the store):
    // the second event's prev_hash no longer names it.
    let mut first = pb::EventEnvelope::decode(log.events[0].payload.as_ref()).unwrap();
    let Some(pb::event_envelope::Payload::RequestSubmitted(submitted)) = &mut first.payload else {
        panic!("first event is the submission")
    };
    submitted.title = "篡改".into();
    log.events[0].payload = Bytes::from(first.encode_to_vec());

    let outcome = model
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();
    assert_eq!(outcome.applied, 1);
    assert_eq!(outcome.quarantined.len(), 1);
    assert_eq!(outcome.quarantined[0].0, 2);
    assert!(outcome.quarantined[0].1.contains("hash chain broken"));
    assert_eq!(
        model.request(&id(1)).unwrap().unwrap().status(),
        S::Submitted,
        "the unlinked event is not applied"
    );
}

#[test]
fn events_from_a_newer_schema_are_quarantined_not_guessed_at() {
    let (_dir, model) = open();
    let mut log = Log::default();
    log.must(&id(1), &submit(), REQUESTER);
    let mut newer = pb::EventEnvelope::decode(log.events[0].payload.as_ref()).unwrap();
    newer.aggregate_id = id(2);
    newer.schema_version = SCHEMA_VERSION + 1;
    log.push(&subject(KIND, &id(2)), newer.encode_to_vec());

    let outcome = model
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();
    assert_eq!(outcome.applied, 1);
    assert_eq!(outcome.quarantined.len(), 1);
    assert!(outcome.quarantined[0].1.contains("schema version"));
    let stored = model.quarantined().unwrap();
    assert_eq!(stored[0].newer_schema, Some(SCHEMA_VERSION + 1));
    assert_eq!(model.quarantined_now_readable().unwrap(), 0);
    // The old (version 0) submission was upcast: its defaults are explicit.
    let first = model.request(&id(1)).unwrap().unwrap();
    assert_eq!(first.supervision_level(), pb::SupervisionLevel::None);
}

#[test]
fn the_log_digest_follows_every_event_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::default();
    closed_request(&mut log, &id(1));
    log.push("sy.evt.station.x", b"other kind".to_vec());
    let mut expected = LogDigest::default();
    for event in &log.events {
        expected.advance(event.position, &event.payload);
    }
    {
        let model = ReadModel::open(dir.path()).unwrap();
        let (a, b) = log.events.split_at(2);
        model.apply_batch(a, &BatchKeys::default()).unwrap();
        model.apply_batch(b, &BatchKeys::default()).unwrap();
        assert_eq!(model.log_digest().unwrap(), expected);
        model.flush().unwrap();
    }
    let reopened = ReadModel::open(dir.path()).unwrap();
    assert_eq!(reopened.log_digest().unwrap(), expected);
}

#[test]
fn redelivered_events_are_skipped_and_batches_compose() {
    let mut log = Log::default();
    closed_request(&mut log, &id(1));
    log.must(&id(2), &submit(), REQUESTER);

    let (_whole_dir, whole) = open();
    whole
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();

    let (_split_dir, split) = open();
    split
        .apply_batch(&log.events[..3], &BatchKeys::default())
        .unwrap();
    let outcome = split
        .apply_batch(&log.events[1..], &BatchKeys::default())
        .unwrap();
    assert_eq!(outcome.redelivered, 2);
    assert_eq!(outcome.applied, 3);
    assert_eq!(
        split
            .apply_batch(&log.events, &BatchKeys::default())
            .unwrap()
            .redelivered,
        6
    );
    assert_eq!(split.digest().unwrap(), whole.digest().unwrap());

    let empty = split.apply_batch(&[], &BatchKeys::default()).unwrap();
    assert_eq!(empty.checkpoint, 6, "an empty batch keeps the checkpoint");
}

#[test]
fn the_checkpoint_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::default();
    closed_request(&mut log, &id(1));
    let digest = {
        let model = ReadModel::open(dir.path()).unwrap();
        model
            .apply_batch(&log.events, &BatchKeys::default())
            .unwrap();
        model.flush().unwrap();
        model.digest().unwrap()
    };
    let model = ReadModel::open(dir.path()).unwrap();
    assert_eq!(model.last_applied().unwrap(), 5);
    assert_eq!(model.digest().unwrap(), digest);
}

#[test]
fn the_board_counts_overdue_by_due_date_and_row() {
    let (_dir, model) = open();
    let mut log = Log::default();
    log.must(&id(1), &submit(), REQUESTER); // never assigned: no due date
    log.must(&id(2), &submit(), REQUESTER);
    log.must(&id(2), &assign("housing", date(2027, 3, 1)), WORKER);
    log.must(
        &id(3),
        &submission(pb::Category::Medical, "500106002000"),
        REQUESTER,
    );
    log.must(&id(3), &assign("health", date(2027, 4, 1)), WORKER);
    log.must(&id(3), &start(), WORKER);
    log.must(&id(4), &submit(), REQUESTER);
    log.must(&id(4), &assign("housing", date(2027, 2, 1)), WORKER);
    log.must(&id(4), &start(), WORKER);
    log.must(&id(4), &resolve(), WORKER); // resolved: no longer overdue
    model
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();

    let overdue = |day| total(&model.board(day, None).unwrap()).overdue;
    assert_eq!(
        overdue(date(2027, 3, 1)),
        0,
        "due on the day is not overdue yet"
    );
    assert_eq!(overdue(date(2027, 3, 2)), 1);
    assert_eq!(overdue(date(2027, 4, 2)), 2);

    let board = model.board(date(2027, 3, 2), None).unwrap();
    assert_eq!(board.as_of, "2027-03-02");
    let counts = total(&board);
    assert_eq!(
        (counts.submitted, counts.open, counts.awaiting_confirmation),
        (4, 4, 1)
    );
    let departments: Vec<_> = board.by_department.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(departments, ["(unassigned)", "health", "housing"]);
    assert_eq!(row(&board.by_department, "housing").overdue, 1);
    assert_eq!(row(&board.by_department, "housing").submitted, 2);
    assert_eq!(row(&board.by_department, "health").overdue, 0);
    assert_eq!(row(&board.by_category, "CATEGORY_MEDICAL").submitted, 1);
    assert_eq!(
        row(&board.by_supervision_level, "SUPERVISION_LEVEL_NONE").submitted,
        4
    );
    assert_eq!(
        row(&board.by_direction, "DIRECTION_MILITARY_TO_LOCAL").open,
        4
    );
}

#[test]
fn an_empty_board_has_a_zero_total() {
    let (_dir, model) = open();
    let board = model.board(date(2027, 1, 1), None).unwrap();
    assert_eq!(total(&board).submitted, 0);
    assert!(board.by_department.is_empty());
}

fn ids(page: &Page) -> Vec<String> {
    page.requests.iter().map(|r| r.id.clone()).collect()
}

/// Pages through a list to the end.
fn list_all(model: &ReadModel, filter: &ListFilter, page_size: usize) -> Vec<String> {
    let mut found = Vec::new();
    let mut token = String::new();
    loop {
        let page = model.list(filter, page_size, &token).unwrap();
        found.extend(ids(&page));
        if page.next_page_token.is_empty() {
            return found;
        }
        token = page.next_page_token;
    }
}

/// Ten requests: even ones assigned to housing with due dates in March 2027
/// (day n), ids 1..=10 submitted in order.
fn ten_requests() -> (TempDir, ReadModel) {
    let (dir, model) = open();
    let mut log = Log::default();
    for n in 1..=10u128 {
        let area = if n <= 5 {
            "500106001002"
        } else {
            "500106002003"
        };
        log.must(&id(n), &submission(pb::Category::Medical, area), REQUESTER);
    }
    for n in (2..=10u128).step_by(2) {
        let day = i8::try_from(n).unwrap();
        log.must(&id(n), &assign("housing", date(2027, 3, day)), WORKER);
    }
    model
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();
    (dir, model)
}

#[test]
fn lists_newest_first_across_pages_without_timelines() {
    let (_dir, model) = ten_requests();
    let expected: Vec<String> = (1..=10).rev().map(id).collect();
    assert_eq!(list_all(&model, &ListFilter::default(), 3), expected);
    assert_eq!(list_all(&model, &ListFilter::default(), 10), expected);

    let page = model.list(&ListFilter::default(), 10, "").unwrap();
    assert!(
        page.next_page_token.is_empty(),
        "an exact last page has no token"
    );
    assert!(page.requests.iter().all(|r| r.timeline.is_empty()));
}

#[test]
fn lists_by_status_department_area_and_overdue() {
    let (_dir, model) = ten_requests();
    let assigned = ListFilter {
        status: Some(S::Assigned),
        ..Default::default()
    };
    assert_eq!(list_all(&model, &assigned, 2), [10, 8, 6, 4, 2].map(id));

    let housing_in_street_2 = ListFilter {
        department: Some(Code::parse("department", "housing").unwrap()),
        area: Some(AreaCode::parse_shape("area_code", "500106002000").unwrap()),
        ..Default::default()
    };
    assert_eq!(
        list_all(&model, &housing_in_street_2, 50),
        [10, 8, 6].map(id)
    );

    let overdue = ListFilter {
        overdue_as_of: Some(date(2027, 3, 7)),
        ..Default::default()
    };
    assert_eq!(
        list_all(&model, &overdue, 2),
        [2, 4, 6].map(id),
        "most overdue first"
    );

    let overdue_submitted = ListFilter {
        status: Some(S::Submitted),
        ..overdue.clone()
    };
    assert!(list_all(&model, &overdue_submitted, 50).is_empty());

    let other_category = ListFilter {
        category: Some(pb::Category::FreeClinic),
        ..Default::default()
    };
    assert!(list_all(&model, &other_category, 50).is_empty());
}

#[test]
fn page_tokens_only_continue_the_query_they_came_from() {
    let (_dir, model) = ten_requests();
    let all = ListFilter::default();
    let token = model.list(&all, 2, "").unwrap().next_page_token;
    assert!(!token.is_empty());

    let assigned = ListFilter {
        status: Some(S::Assigned),
        ..Default::default()
    };
    assert!(matches!(
        model.list(&assigned, 2, &token),
        Err(ListError::PageToken(_))
    ));
    let medical = ListFilter {
        category: Some(pb::Category::Medical),
        ..Default::default()
    };
    assert!(matches!(
        model.list(&medical, 2, &token),
        Err(ListError::PageToken("was issued for different filters"))
    ));
    assert!(matches!(
        model.list(&all, 2, "%%%"),
        Err(ListError::PageToken(_))
    ));
    let next = model.list(&all, 5, &token).unwrap();
    assert_eq!(ids(&next), [8, 7, 6, 5, 4].map(id), "page size may change");
}

#[test]
fn a_list_call_examines_a_bounded_number_of_entries() {
    let (_dir, model) = open();
    let mut log = Log::default();
    let count = SCAN_BUDGET as u128 + 10;
    for n in 1..=count {
        log.must(&id(n), &submit(), REQUESTER);
    }
    log.must(&id(1), &assign("housing", date(2027, 3, 1)), WORKER);
    let escalate = Command::Escalate {
        level: pb::SupervisionLevel::City,
        reason: "督办".into(),
        due_date: None,
    };
    log.must(&id(1), &escalate, WORKER);
    model
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();

    let assigned_housing = ListFilter {
        category: Some(pb::Category::BarracksAndTrainingGrounds),
        department: Some(Code::parse("department", "housing").unwrap()),
        ..Default::default()
    };
    assert_eq!(
        ids(&model.list(&assigned_housing, 50, "").unwrap()),
        [id(1)]
    );

    // Only the oldest request is supervised at city level, and no index
    // narrows that filter: the first call spends its budget and says so.
    let city = ListFilter {
        supervision_level: Some(pb::SupervisionLevel::City),
        ..Default::default()
    };
    let partial = model.list(&city, 50, "").unwrap();
    assert!(partial.requests.is_empty());
    assert!(
        !partial.next_page_token.is_empty(),
        "budget spent: resume later"
    );
    let rest = model.list(&city, 50, &partial.next_page_token).unwrap();
    assert_eq!(ids(&rest), [id(1)]);
    assert!(rest.next_page_token.is_empty(), "the rest fits the budget");
}

#[test]
fn the_board_counts_ratings_per_department() {
    let (_dir, model) = open();
    let mut log = Log::default();
    closed_request(&mut log, &id(1));
    // Rated 不满意: reopened, worked again, then closed 基本满意.
    let twice = id(2);
    log.must(&twice, &submit(), REQUESTER);
    log.must(&twice, &assign(WORKER, date(2027, 3, 1)), WORKER);
    log.must(&twice, &start(), WORKER);
    log.must(&twice, &resolve(), WORKER);
    log.must(&twice, &rated(pb::Satisfaction::Dissatisfied), REQUESTER);
    model
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();
    let board = model.board(date(2026, 12, 1), None).unwrap();
    let ratings = |counts: &pb::BoardCounts| counts.satisfaction.unwrap();
    let worker = row(&board.by_department, WORKER);
    assert_eq!(worker.open, 1, "the dissatisfied one is worked again");
    assert_eq!(
        ratings(worker),
        pb::SatisfactionCounts {
            satisfied: 1,
            dissatisfied: 1,
            ..Default::default()
        }
    );

    let seen = log.events.len();
    log.must(&twice, &resolve(), WORKER);
    log.must(
        &twice,
        &rated(pb::Satisfaction::BasicallySatisfied),
        REQUESTER,
    );
    model
        .apply_batch(&log.events[seen..], &BatchKeys::default())
        .unwrap();
    let board = model.board(date(2026, 12, 1), None).unwrap();
    let expected = pb::SatisfactionCounts {
        satisfied: 1,
        basically_satisfied: 1,
        dissatisfied: 1,
        not_rated: 0,
    };
    assert_eq!(ratings(row(&board.by_department, WORKER)), expected);
    assert_eq!(ratings(&total(&board)), expected);
    assert_eq!(total(&board).closed, 2);
}

/// The board tree's entries, and each index's keys in order.
type Recomputed = (BTreeMap<Vec<u8>, Vec<u8>>, BTreeMap<Index, Vec<Vec<u8>>>);

/// What the board and indexes must hold, recomputed from the stored requests.
fn recomputed(model: &ReadModel) -> Recomputed {
    let mut sum = board::Delta::default();
    let mut indexes: BTreeMap<Index, Vec<Vec<u8>>> = BTreeMap::new();
    for entry in model.trees.requests.iter() {
        let (id, _) = entry.unwrap();
        let request = model
            .request(std::str::from_utf8(&id).unwrap())
            .unwrap()
            .unwrap();
        let submitted = request.timeline.first().unwrap().position;
        sum.merge(board::delta(None, &request));
        sum.merge(board_period::delta(None, &request));
        for index in Index::ALL {
            if let Some(key) = index.key_of(&request, submitted) {
                indexes.entry(index).or_default().push(key);
            }
        }
    }
    let mut board_tree = BTreeMap::new();
    for (key, counts) in sum.rows {
        let counts = counts.map(|c| u64::try_from(c).unwrap());
        board_tree.insert(key.into_bytes(), counters::encode(&counts));
    }
    for (key, count) in sum.due {
        board_tree.insert(
            key.into_bytes(),
            u64::try_from(count).unwrap().to_be_bytes().to_vec(),
        );
    }
    for keys in indexes.values_mut() {
        keys.sort();
    }
    (board_tree, indexes)
}

fn stored(tree: &sled::Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
    tree.iter()
        .map(|entry| {
            let (key, value) = entry.unwrap();
            (key.to_vec(), value.to_vec())
        })
        .collect()
}

fn every_command() -> Vec<Command> {
    vec![
        submit(),
        submission(pb::Category::Medical, "500106002003"),
        assign(WORKER, date(2027, 3, 1)),
        assign("health", date(2027, 5, 1)),
        start(),
        Command::RecordProgress {
            note: "图纸已审".into(),
        },
        resolve(),
        close(),
        rated(pb::Satisfaction::BasicallySatisfied),
        rated(pb::Satisfaction::Dissatisfied),
        Command::Reject {
            reason: "不属于职责范围".into(),
        },
        Command::Reopen {
            reason: "仍有积水".into(),
        },
        Command::Escalate {
            level: pb::SupervisionLevel::City,
            reason: "跨部门协调".into(),
            due_date: Some(date(2027, 6, 1)),
        },
        Command::Escalate {
            level: pb::SupervisionLevel::District,
            reason: "督办".into(),
            due_date: None,
        },
        Command::ChangeDueDate {
            due_date: date(2027, 4, 1),
            reason: "雨季顺延".into(),
        },
        Command::AddSubTask {
            department: Code::parse("d", "district-water-bureau").unwrap(),
            due_date: date(2027, 2, 1),
            title: "铺设主管道".into(),
        },
        Command::CompleteSubTask {
            sub_task_id: 1,
            note: "已铺设".into(),
        },
        Command::RecordInspection {
            visited_on: date(2026, 12, 1),
            findings: "进度滞后".into(),
            follow_up_required: true,
        },
    ]
}

/// (request, command, by the requester?)
fn arbitrary_step() -> impl Strategy<Value = (u128, Command, bool)> {
    (1..=3u128, 0..every_command().len(), any::<bool>())
        .prop_map(|(n, i, by_requester)| (n, every_command()[i].clone(), by_requester))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Events of legal command sequences (with some garbage between them)
    /// fold to the same bytes however they are split into batches, and twice
    /// into fresh directories; the board and indexes always equal a
    /// recomputation from the stored requests.
    #[test]
    fn batching_never_changes_the_result(
        steps in proptest::collection::vec(arbitrary_step(), 1..60),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        garbage in proptest::collection::btree_set(0..60usize, 0..3),
    ) {
        let mut log = Log::default();
        let mut quarantined = 0;
        for (i, (n, command, by_requester)) in steps.iter().enumerate() {
            if garbage.contains(&i) {
                log.push(&subject(KIND, &id(*n)), vec![0xff, 0xff]);
                quarantined += 1;
            }
            log.command(&id(*n), command, if *by_requester { REQUESTER } else { WORKER });
        }
        log.push("sy.evt.convoy.c1", b"ignored".to_vec());
        let events = &log.events;

        let (_one_dir, one) = open();
        one.apply_batch(events, &BatchKeys::default()).unwrap();
        let (_again_dir, again) = open();
        again.apply_batch(events, &BatchKeys::default()).unwrap();
        prop_assert_eq!(one.digest().unwrap(), again.digest().unwrap());

        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(events.len() + 1)).collect();
        bounds.push(0);
        bounds.push(events.len());
        bounds.sort_unstable();
        let (_split_dir, split) = open();
        for window in bounds.windows(2) {
            split.apply_batch(&events[window[0]..window[1]], &BatchKeys::default()).unwrap();
        }
        prop_assert_eq!(split.digest().unwrap(), one.digest().unwrap());
        prop_assert_eq!(split.last_applied().unwrap(), events.len() as u64);
        prop_assert_eq!(split.quarantine_count().unwrap(), quarantined);

        for (id, state) in &log.states {
            if state.version > 0 {
                prop_assert_eq!(split.request(id).unwrap(), Some(state.clone()));
            }
        }
        let (board, indexes) = recomputed(&split);
        let board: Vec<_> = board.into_iter().collect();
        prop_assert_eq!(stored(&split.trees.board), board);
        for index in Index::ALL {
            let keys: Vec<_> = stored(split.trees.index(index)).into_iter().map(|(k, _)| k).collect();
            prop_assert_eq!(keys, indexes.get(&index).cloned().unwrap_or_default());
        }
    }
}

/// Issue 11, item 6b: a release that reads schema versions up to N
/// quarantines the events a release of version N+1 wrote (a submission and
/// its assignment), and serves the rest. The same data dir opened by a
/// release that reads N+1 (the upgrade) folds the log again from position 1
/// at start: the event is applied, nothing stays quarantined, and the read
/// model is byte-identical to a fresh fold by that release.
#[test]
fn an_upgraded_release_folds_again_what_an_older_one_quarantined_as_newer() {
    let old = SCHEMA_VERSION;
    let upgraded = SCHEMA_VERSION + 1;
    let mut log = Log::default();
    log.must(&id(1), &submit(), REQUESTER);
    log.schema_version = upgraded;
    log.must(&id(2), &submit(), REQUESTER);
    log.must(&id(2), &assign(WORKER, date(2027, 3, 1)), WORKER);
    log.schema_version = old;
    log.must(&id(1), &assign(WORKER, date(2027, 3, 1)), WORKER);

    let root = tempfile::tempdir().unwrap();
    {
        let (dir, model) = DataDir::open_reading(root.path(), old).unwrap();
        let outcome = model
            .apply_batch(&log.events, &BatchKeys::default())
            .unwrap();
        let positions: Vec<u64> = outcome.quarantined.iter().map(|(p, _)| *p).collect();
        assert_eq!(positions, [2, 3]);
        let stored = model.quarantined().unwrap();
        assert!(
            stored
                .iter()
                .all(|entry| entry.newer_schema == Some(upgraded))
        );
        assert_eq!(model.request(&id(2)).unwrap(), None);
        assert_eq!(model.quarantined_now_readable().unwrap(), 0);
        assert_eq!(dir.active_path(), root.path().join("gen-1"));
        model.flush().unwrap();
    }
    // Restarting the old release keeps its fold.
    {
        let (dir, model) = DataDir::open_reading(root.path(), old).unwrap();
        assert_eq!(dir.active_path(), root.path().join("gen-1"));
        assert_eq!(model.quarantine_count().unwrap(), 2);
    }

    let (dir, model) = DataDir::open_reading(root.path(), upgraded).unwrap();
    assert_eq!(
        dir.active_path(),
        root.path().join("gen-2"),
        "a new generation"
    );
    assert_eq!(dir.inactive(), vec![root.path().join("gen-1")]);
    assert_eq!(model.schema_version(), upgraded);
    assert_eq!(model.last_applied().unwrap(), 0, "replayed from position 1");
    // What the fold task does next: follow the log from position 1.
    let outcome = model
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();
    assert_eq!((outcome.applied, outcome.quarantined.len()), (4, 0));
    assert_eq!(model.quarantine_count().unwrap(), 0);
    assert_eq!(model.quarantined().unwrap(), []);
    let recovered = model.request(&id(2)).unwrap().unwrap();
    assert_eq!((recovered.status(), recovered.version), (S::Assigned, 2));

    let (_fresh_dir, fresh) = open();
    let fresh = fresh.reading_schema(upgraded);
    fresh
        .apply_batch(&log.events, &BatchKeys::default())
        .unwrap();
    assert_eq!(model.log_digest().unwrap(), fresh.log_digest().unwrap());
    assert_eq!(model.digest().unwrap(), fresh.digest().unwrap());

    // Once folded again, a restart of the upgraded release keeps it.
    model.flush().unwrap();
    drop(model);
    let (dir, model) = DataDir::open_reading(root.path(), upgraded).unwrap();
    assert_eq!(dir.active_path(), root.path().join("gen-2"));
    assert_eq!(model.last_applied().unwrap(), 4);
}

/// An `sy as-of` output has no generations to fold again in: it is served
/// as the older release folded it.
#[test]
fn a_plain_sled_dir_keeps_what_an_older_release_quarantined() {
    let mut log = Log {
        schema_version: SCHEMA_VERSION + 1,
        ..Default::default()
    };
    log.must(&id(1), &submit(), REQUESTER);
    let root = tempfile::tempdir().unwrap();
    {
        let model = ReadModel::open(root.path()).unwrap();
        model
            .apply_batch(&log.events, &BatchKeys::default())
            .unwrap();
        model.flush().unwrap();
    }
    let (dir, model) = DataDir::open_reading(root.path(), SCHEMA_VERSION + 1).unwrap();
    assert!(!dir.has_generations());
    assert_eq!(model.quarantined_now_readable().unwrap(), 1);
    assert_eq!(model.quarantine_count().unwrap(), 1);
}

/// The bytes the fold wrote for request `id`'s event at `version`, as long
/// as no later event of it was folded: the request's record (rewritten by
/// every event) and that event's timeline entry.
fn written_for(model: &ReadModel, id: &str, version: u64) -> usize {
    let record = model.trees.requests.get(id.as_bytes()).unwrap().unwrap();
    let entry = model
        .trees
        .timeline
        .get(keys::timeline_key(id, version))
        .unwrap()
        .unwrap();
    record.len() + entry.len()
}

#[test]
fn an_events_write_does_not_grow_with_the_requests_history() {
    const EVENTS: u64 = 500;
    let mut log = Log::default();
    let request = id(1);
    log.must(&request, &submit(), REQUESTER);
    log.must(&request, &assign(WORKER, date(2027, 3, 1)), WORKER);
    log.must(&request, &start(), WORKER);
    let progress = Command::RecordProgress {
        note: "已联系施工队".into(),
    };
    while log.next_position() <= EVENTS {
        log.must(&request, &progress, WORKER);
    }
    let (_dir, model) = open();
    let mut written = Vec::new();
    for upto in [5, 200, EVENTS] {
        let upto = usize::try_from(upto).unwrap();
        model
            .apply_batch(&log.events[..upto], &BatchKeys::default())
            .unwrap();
        written.push(written_for(&model, &request, upto as u64));
    }
    let [fifth, two_hundredth, last] = written[..] else {
        unreachable!("three measurements")
    };
    // From the 200th event on, the version, position and event id ("event-200")
    // are as wide as at the 500th: the same bytes are written.
    assert_eq!(
        last, two_hundredth,
        "the 500th event wrote more than the 200th"
    );
    // From the 5th they widen: the version and position varints by one
    // byte each in the record and the entry, the event id by two.
    const WIDENING: usize = 6;
    assert!(
        last <= fifth + WIDENING,
        "the 500th event wrote {last} bytes, the 5th {fifth}"
    );
    // The timeline is whole nonetheless, and served as the domain folds it.
    let served = model.request(&request).unwrap().unwrap();
    assert_eq!(served.timeline.len() as u64, EVENTS);
    assert_eq!(served, log.states[&request]);
}
