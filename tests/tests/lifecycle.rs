//! A request's whole life through the real services: commands on intake,
//! reads of one's own writes on the projection, the audit history from the
//! log, the close-out board, listings with paging, and the change feed.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use prost::Message;
use sy_tests::client::*;
use sy_tests::pb::{self, RequestStatus as S};
use sy_tests::{System, board, expect_code, get_request, list_all, row};

/// Checks a fresh (not replayed) result of the command that brought a request
/// to `version`, after a result at `previous_position`.
#[track_caller]
fn check_result(result: &pb::CommandResult, id: &str, version: u64, previous_position: u64) {
    assert_eq!(result.aggregate_id, id, "{result:?}");
    assert_eq!(result.version, version, "{result:?}");
    assert!(
        result.position > previous_position,
        "position must grow: {} after {previous_position}",
        result.position
    );
    assert_eq!(
        result.event_ids.len(),
        1,
        "one command, one event: {result:?}"
    );
    assert!(!result.replayed, "{result:?}");
}

#[tokio::test]
async fn a_request_lives_through_to_close_out() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let mut requester = sys.intake();
    let mut department = sys.intake_as(DEPARTMENT_AGENCY, "li.na");
    let query = sys.query();

    // Submitted.
    let key = new_key("submit");
    let submitted = requester
        .submit_request(submit_command(&key))
        .await?
        .into_inner();
    let id = submitted.aggregate_id.clone();
    uuid::Uuid::parse_str(&id)?;
    check_result(&submitted, &id, 1, 0);
    let request = get_request(&query, &id, submitted.position).await?;
    assert_eq!(request.status(), S::Submitted);
    assert_eq!(request.version, 1);
    assert_eq!(request.title, "营区供水管网改造协调");
    assert_eq!(request.area_code, AREA_CODE);
    assert_eq!(request.requester.as_ref().unwrap().agency, AGENCY);
    assert_eq!(request.submitted_by.as_ref().unwrap().agency, AGENCY);
    assert_eq!(request.submitted_by.as_ref().unwrap().user, USER);
    assert_eq!(request.priority(), pb::Priority::Normal, "default priority");
    assert_eq!(request.supervision_level(), pb::SupervisionLevel::None);
    assert!(request.department.is_empty());
    assert!(request.submitted_at.is_some());
    assert_eq!(request.last_position, submitted.position);
    assert_eq!(request.timeline.len(), 1);

    // Each further step: the command, its result, the state read back at its position.
    let mut results = vec![submitted.clone()];
    let mut step = async |result: pb::CommandResult, status: S| -> anyhow::Result<pb::Request> {
        let previous = results.last().unwrap();
        check_result(&result, &id, previous.version + 1, previous.position);
        let request = get_request(&query, &id, result.position).await?;
        assert_eq!(request.status(), status, "after version {}", result.version);
        assert_eq!(request.version, result.version);
        assert_eq!(request.last_position, result.position);
        assert_eq!(request.timeline.len() as u64, result.version);
        results.push(result);
        Ok(request)
    };

    let due = date_in_days(14);
    let assigned = department
        .assign_request(assign_command(&id, DEPARTMENT, 14))
        .await?
        .into_inner();
    let request = step(assigned, S::Assigned).await?;
    assert_eq!(request.department, DEPARTMENT);
    assert_eq!(request.due_date, due);
    assert!(request.assigned_at.is_some());

    let started = department
        .start_request(start_command(&id))
        .await?
        .into_inner();
    let request = step(started, S::InProgress).await?;
    assert!(request.started_at.is_some());

    let progress = department
        .record_progress(progress_command(&id, "已完成管网勘察"))
        .await?
        .into_inner();
    step(progress, S::InProgress).await?;

    let resolved = department
        .resolve_request(resolve_command(&id))
        .await?
        .into_inner();
    let request = step(resolved, S::Resolved).await?;
    assert_eq!(request.resolution, "管网已改造完毕");
    assert!(request.resolved_at.is_some());

    // Only the requesting party may dispute or close.
    expect_code(
        department.reopen_request(reopen_command(&id)).await,
        tonic::Code::PermissionDenied,
    );
    expect_code(
        department.close_request(close_command(&id)).await,
        tonic::Code::PermissionDenied,
    );

    let reopened = requester
        .reopen_request(reopen_command(&id))
        .await?
        .into_inner();
    let request = step(reopened, S::InProgress).await?;
    assert_eq!(request.reopen_count, 1);

    let resolved = department
        .resolve_request(resolve_command(&id))
        .await?
        .into_inner();
    step(resolved, S::Resolved).await?;

    let closed = requester
        .close_request(close_command(&id))
        .await?
        .into_inner();
    let request = step(closed, S::Closed).await?;
    assert!(request.closed_at.is_some());
    assert_eq!(request.reopen_count, 1);

    // Closed is final.
    let status = expect_code(
        requester.reopen_request(reopen_command(&id)).await,
        tonic::Code::FailedPrecondition,
    );
    assert!(status.message().contains("closed"), "{}", status.message());

    // The timeline: one entry per event, in order, as the results said.
    let expected_types = [
        ("RequestSubmitted", S::Submitted),
        ("RequestAssigned", S::Assigned),
        ("RequestStarted", S::InProgress),
        ("ProgressRecorded", S::InProgress),
        ("RequestResolved", S::Resolved),
        ("RequestReopened", S::InProgress),
        ("RequestResolved", S::Resolved),
        ("RequestClosed", S::Closed),
    ];
    assert_eq!(request.timeline.len(), expected_types.len());
    for ((entry, result), (event_type, status_after)) in
        request.timeline.iter().zip(&results).zip(expected_types)
    {
        assert_eq!(entry.version, result.version);
        assert_eq!(entry.position, result.position);
        assert_eq!(entry.event_id, result.event_ids[0]);
        assert_eq!(entry.event_type, event_type);
        assert_eq!(entry.status_after(), status_after, "{entry:?}");
        assert!(entry.occurred_at.is_some());
        assert!(entry.actor.is_some());
    }
    assert_eq!(
        request.timeline[1].actor.as_ref().unwrap().agency,
        DEPARTMENT_AGENCY
    );
    assert_eq!(request.timeline[3].note, "已完成管网勘察");

    // The audit history comes from the log, hash-chained.
    let history = query
        .clone()
        .get_request_history(pb::GetRequestHistoryRequest { id: id.clone() })
        .await?
        .into_inner();
    assert_eq!(history.events.len(), results.len());
    assert_eq!(history.position, results.last().unwrap().position);
    let mut previous_hash = vec![0u8; 32];
    for (event, result) in history.events.iter().zip(&results) {
        let envelope = event
            .envelope
            .as_ref()
            .expect("history event has an envelope");
        assert_eq!(event.position, result.position);
        assert_eq!(envelope.aggregate_id, id);
        assert_eq!(envelope.aggregate_kind, "request");
        assert_eq!(envelope.aggregate_version, result.version);
        assert_eq!(envelope.event_id, result.event_ids[0]);
        assert_eq!(envelope.schema_version, 1);
        assert!(envelope.payload.is_some());
        assert!(envelope.recorded_at.is_some());
        assert_eq!(
            envelope.prev_hash, previous_hash,
            "prev_hash of version {} must be the hash of the event before it",
            envelope.aggregate_version
        );
        assert_eq!(event.hash.len(), 32);
        assert_eq!(
            event.hash,
            blake3::hash(&envelope.encode_to_vec()).as_bytes().to_vec(),
            "hash of version {} must be BLAKE3 of the stored envelope",
            envelope.aggregate_version
        );
        previous_hash = event.hash.clone();
    }
    let first = history.events[0].envelope.as_ref().unwrap();
    assert_eq!(first.idempotency_key, key);
    assert_eq!(first.actor.as_ref().unwrap().agency, AGENCY);
    assert_eq!(first.actor.as_ref().unwrap().user, USER);
    Ok(())
}

/// Drives a request to a state; returns its id and the last position.
struct Scenario<'a> {
    sys: &'a System,
}

impl Scenario<'_> {
    async fn submit(&self, category: pb::Category, area: &str) -> anyhow::Result<(String, u64)> {
        let mut command = submit_command(&new_key("board"));
        command.category = category as i32;
        command.area_code = area.into();
        let result = self
            .sys
            .intake()
            .submit_request(command)
            .await?
            .into_inner();
        Ok((result.aggregate_id, result.position))
    }

    async fn assign(&self, id: &str, department: &str, due_in_days: i64) -> anyhow::Result<u64> {
        let result = self
            .sys
            .intake_as(DEPARTMENT_AGENCY, "li.na")
            .assign_request(assign_command(id, department, due_in_days))
            .await?;
        Ok(result.into_inner().position)
    }

    async fn start(&self, id: &str) -> anyhow::Result<u64> {
        let result = self.sys.intake().start_request(start_command(id)).await?;
        Ok(result.into_inner().position)
    }

    async fn resolve(&self, id: &str) -> anyhow::Result<u64> {
        let result = self
            .sys
            .intake()
            .resolve_request(resolve_command(id))
            .await?;
        Ok(result.into_inner().position)
    }

    async fn close(&self, id: &str) -> anyhow::Result<u64> {
        let result = self.sys.intake().close_request(close_command(id)).await?;
        Ok(result.into_inner().position)
    }
}

#[tokio::test]
async fn the_board_counts_requests_by_state() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let s = Scenario { sys: &sys };
    use pb::Category as C;

    // A: submitted only (no department, no due date).
    s.submit(C::BarracksAndTrainingGrounds, AREA_CODE).await?;
    // B: assigned to dept-a, due in 10 days.
    let (b, _) = s.submit(C::Medical, AREA_CODE).await?;
    s.assign(&b, "dept-a", 10).await?;
    // C: in progress at dept-a, due in 40 days, escalated to the city.
    let (c, _) = s.submit(C::BarracksAndTrainingGrounds, AREA_CODE).await?;
    s.assign(&c, "dept-a", 40).await?;
    s.start(&c).await?;
    sys.intake()
        .escalate_request(pb::EscalateRequestCommand {
            context: fresh_ctx(),
            request_id: c.clone(),
            level: pb::SupervisionLevel::City as i32,
            reason: "群众反映强烈".into(),
            due_date: String::new(),
        })
        .await?;
    // D: closed out at dept-b.
    let (d, _) = s.submit(C::Medical, AREA_CODE).await?;
    s.assign(&d, "dept-b", 5).await?;
    s.start(&d).await?;
    s.resolve(&d).await?;
    s.close(&d).await?;
    // E: rejected before assignment.
    let (e, _) = s.submit(C::Other, AREA_CODE).await?;
    sys.intake().reject_request(reject_command(&e)).await?;
    // F: resolved at dept-b, waiting for confirmation; was due in 3 days.
    let (f, _) = s.submit(C::Medical, AREA_CODE).await?;
    s.assign(&f, "dept-b", 3).await?;
    s.start(&f).await?;
    let last = s.resolve(&f).await?;

    // As of 30 days from now, B (due in 10) is overdue; C (40) is not; F is
    // resolved, so it no longer counts as overdue.
    let later = date_in_days(30);
    let board_later = board(&sys.query(), &later, last).await?;
    assert_eq!(board_later.as_of, later);
    let total = board_later.total.expect("total row");
    assert_eq!(total.submitted, 6, "{total:?}");
    assert_eq!(total.open, 4, "A, B, C, F: {total:?}");
    assert_eq!(total.overdue, 1, "B: {total:?}");
    assert_eq!(total.awaiting_confirmation, 1, "F: {total:?}");
    assert_eq!(total.closed, 1, "D: {total:?}");
    assert_eq!(total.rejected, 1, "E: {total:?}");
    let times = total.close_times.expect("close times");
    assert_eq!(times.count, 1, "{times:?}");
    assert_eq!(times.within_1_day, 1, "closed within seconds: {times:?}");
    assert_eq!(times.over_90_days, 0, "{times:?}");

    let dept_a = row(&board_later.by_department, "dept-a");
    assert_eq!(
        (dept_a.submitted, dept_a.open, dept_a.overdue),
        (2, 2, 1),
        "{dept_a:?}"
    );
    let dept_b = row(&board_later.by_department, "dept-b");
    assert_eq!(
        (
            dept_b.open,
            dept_b.closed,
            dept_b.awaiting_confirmation,
            dept_b.overdue
        ),
        (1, 1, 1, 0),
        "{dept_b:?}"
    );
    let unassigned = row(&board_later.by_department, "(unassigned)");
    assert_eq!(
        (unassigned.open, unassigned.rejected),
        (1, 1),
        "A and E: {unassigned:?}"
    );

    let medical = row(&board_later.by_category, "medical");
    assert_eq!(
        (
            medical.submitted,
            medical.open,
            medical.overdue,
            medical.closed
        ),
        (3, 2, 1, 1),
        "B, D, F: {medical:?}"
    );
    let barracks = row(&board_later.by_category, "barracks");
    assert_eq!(
        (barracks.submitted, barracks.open),
        (2, 2),
        "A, C: {barracks:?}"
    );
    let other = row(&board_later.by_category, "other");
    assert_eq!(
        (other.submitted, other.rejected, other.open),
        (1, 1, 0),
        "E: {other:?}"
    );

    let city = row(&board_later.by_supervision_level, "city");
    assert_eq!((city.submitted, city.open), (1, 1), "C: {city:?}");
    let none = row(&board_later.by_supervision_level, "none");
    assert_eq!(none.submitted, 5, "{none:?}");

    // Today nothing is overdue: no due date may lie in the past.
    let today = board(&sys.query(), "", last).await?;
    assert_eq!(today.as_of, date_in_days(0), "as_of defaults to today");
    assert_eq!(today.total.unwrap().overdue, 0);
    assert_eq!(today.total.unwrap().open, 4);
    Ok(())
}

#[tokio::test]
async fn listings_filter_and_page_without_gaps_or_duplicates() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let s = Scenario { sys: &sys };
    const N: usize = 23;
    let categories = [
        pb::Category::Medical,
        pb::Category::FreeClinic,
        pb::Category::Other,
    ];
    let areas = ["500106001002", "500106002003"];
    let mut all = BTreeSet::new();
    let mut medical = BTreeSet::new();
    let mut street_001 = BTreeSet::new();
    let mut assigned_x = BTreeSet::new();
    let mut last = 0;
    for i in 0..N {
        let (id, position) = s.submit(categories[i % 3], areas[i % 2]).await?;
        last = position;
        all.insert(id.clone());
        if i % 3 == 0 {
            medical.insert(id.clone());
        }
        if i % 2 == 0 {
            street_001.insert(id.clone());
        }
        if i % 4 == 1 {
            last = s.assign(&id, "dept-x", 7).await?;
            assigned_x.insert(id);
        }
    }
    let query = sys.query();
    let ids = |requests: &[pb::Request]| -> BTreeSet<String> {
        requests.iter().map(|r| r.id.clone()).collect()
    };
    let filter = pb::ListRequestsRequest {
        min_position: last,
        ..Default::default()
    };

    // Everything, in pages of 5, newest first, timelines left out.
    let listed = list_all(&query, filter.clone(), 5).await?;
    assert_eq!(listed.len(), N);
    assert_eq!(ids(&listed), all);
    assert!(
        listed.iter().all(|r| r.timeline.is_empty()),
        "list replies carry no timeline"
    );
    let submitted_at: Vec<_> = listed
        .iter()
        .map(|r| {
            let t = r.submitted_at.unwrap();
            (t.seconds, t.nanos)
        })
        .collect();
    assert!(
        submitted_at.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {submitted_at:?}"
    );
    // Other page sizes see the same requests in the same order.
    for size in [1, 7, 23, 500] {
        let again = list_all(&query, filter.clone(), size).await?;
        assert_eq!(
            again.iter().map(|r| &r.id).collect::<Vec<_>>(),
            listed.iter().map(|r| &r.id).collect::<Vec<_>>(),
            "page size {size}"
        );
    }

    let by_category = list_all(
        &query,
        pb::ListRequestsRequest {
            category: pb::Category::Medical as i32,
            ..filter.clone()
        },
        4,
    )
    .await?;
    assert_eq!(ids(&by_category), medical);

    let by_area = list_all(
        &query,
        pb::ListRequestsRequest {
            area_code: "500106001000".into(),
            ..filter.clone()
        },
        4,
    )
    .await?;
    assert_eq!(
        ids(&by_area),
        street_001,
        "a street code matches its communities"
    );

    let by_department = list_all(
        &query,
        pb::ListRequestsRequest {
            department: "dept-x".into(),
            status: S::Assigned as i32,
            ..filter.clone()
        },
        2,
    )
    .await?;
    assert_eq!(ids(&by_department), assigned_x);

    let submitted_only = list_all(
        &query,
        pb::ListRequestsRequest {
            status: S::Submitted as i32,
            ..filter.clone()
        },
        6,
    )
    .await?;
    assert_eq!(ids(&submitted_only), &all - &assigned_x);

    // Filters combine with AND.
    let medical_in_street_001 = list_all(
        &query,
        pb::ListRequestsRequest {
            category: pb::Category::Medical as i32,
            area_code: "500106001000".into(),
            ..filter.clone()
        },
        3,
    )
    .await?;
    assert_eq!(ids(&medical_in_street_001), &medical & &street_001);

    // Due in 7 days: overdue as of 8 days from now, not as of today.
    let overdue_later = list_all(
        &query,
        pb::ListRequestsRequest {
            overdue_as_of: date_in_days(8),
            ..filter.clone()
        },
        5,
    )
    .await?;
    assert_eq!(ids(&overdue_later), assigned_x);
    let overdue_today = list_all(
        &query,
        pb::ListRequestsRequest {
            overdue_as_of: date_in_days(0),
            ..filter.clone()
        },
        5,
    )
    .await?;
    assert!(overdue_today.is_empty());

    let none = list_all(
        &query,
        pb::ListRequestsRequest {
            category: pb::Category::EmergencyRelief as i32,
            ..filter.clone()
        },
        5,
    )
    .await?;
    assert!(none.is_empty());
    Ok(())
}

#[tokio::test]
async fn watch_streams_changes_after_a_position() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let first = sys.submit().await?;

    let mut watch = sys
        .query()
        .watch_requests(pb::WatchRequestsRequest {
            after_position: first.position,
        })
        .await?
        .into_inner();

    let second = sys.submit().await?;
    let id = second.aggregate_id.clone();
    let assigned = sys
        .intake()
        .assign_request(assign_command(&id, DEPARTMENT, 3))
        .await?
        .into_inner();

    let mut changes = Vec::new();
    while changes.len() < 2 {
        let change = tokio::time::timeout(Duration::from_secs(30), watch.message())
            .await
            .map_err(|_| anyhow::anyhow!("no change within 30s; got {changes:?}"))??
            .ok_or_else(|| anyhow::anyhow!("watch ended; got {changes:?}"))?;
        changes.push(change);
    }
    assert!(
        changes.iter().all(|c| c.position > first.position),
        "{changes:?}"
    );
    assert!(
        changes.iter().all(|c| c.request_id == id),
        "only changes after the position: {changes:?}"
    );
    assert_eq!(
        (
            changes[0].position,
            changes[0].version,
            changes[0].event_type.as_str(),
            changes[0].status()
        ),
        (second.position, 1, "RequestSubmitted", S::Submitted)
    );
    assert_eq!(
        (
            changes[1].position,
            changes[1].version,
            changes[1].event_type.as_str(),
            changes[1].status()
        ),
        (assigned.position, 2, "RequestAssigned", S::Assigned)
    );

    // From 0: the backlog first, in log order, then nothing repeated.
    let mut from_start = sys
        .query()
        .watch_requests(pb::WatchRequestsRequest { after_position: 0 })
        .await?
        .into_inner();
    let mut positions = Vec::new();
    let mut seen = HashSet::new();
    while positions.len() < 3 {
        let change = tokio::time::timeout(Duration::from_secs(30), from_start.message())
            .await
            .map_err(|_| anyhow::anyhow!("no change within 30s; got {positions:?}"))??
            .ok_or_else(|| anyhow::anyhow!("watch ended; got {positions:?}"))?;
        assert!(
            seen.insert(change.position),
            "position {} twice",
            change.position
        );
        positions.push(change.position);
    }
    assert_eq!(
        positions,
        vec![first.position, second.position, assigned.position]
    );
    Ok(())
}
