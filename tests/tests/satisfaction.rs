//! Close-out with a rating (issue 12, deliverable 6) through the real
//! services: the requesting party's confirmation carries 满意 / 基本满意 /
//! 不满意, a 不满意 reopens the request in the same write, and the board
//! counts the ratings per department; and task breakdown with inspections
//! (deliverable 4).

use sy_tests::client::*;
use sy_tests::pb::{self, RequestStatus as S};
use sy_tests::{System, board, expect_code, get_request, row, violated_fields};

/// Submits a request as the requester and works it to resolved as the
/// department; its id and the last position.
async fn resolved_request(
    requester: &mut IntakeClient,
    department: &mut IntakeClient,
) -> anyhow::Result<(String, u64)> {
    let id = requester
        .submit_request(submit_command(&new_key("submit")))
        .await?
        .into_inner()
        .aggregate_id;
    department
        .assign_request(assign_command(&id, DEPARTMENT, 14))
        .await?;
    department.start_request(start_command(&id)).await?;
    let resolved = department
        .resolve_request(resolve_command(&id))
        .await?
        .into_inner();
    Ok((id, resolved.position))
}

#[tokio::test]
async fn ratings_close_out_or_reopen_and_count_per_department() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let mut requester = sys.intake();
    let mut department = sys.intake_as(DEPARTMENT_AGENCY, "li.na");
    let query = sys.query();

    // 满意: closed out with the rating.
    let (satisfied, _) = resolved_request(&mut requester, &mut department).await?;
    let closed = requester
        .close_request(close_command(&satisfied))
        .await?
        .into_inner();
    let request = get_request(&query, &satisfied, closed.position).await?;
    assert_eq!(request.status(), S::Closed);
    assert_eq!(request.satisfaction(), pb::Satisfaction::Satisfied);

    // A confirmation without a rating, or 不满意 without saying why, is
    // refused naming the field; nothing is written.
    let (disputed, resolved_at) = resolved_request(&mut requester, &mut department).await?;
    let unrated = rated_close_command(&disputed, pb::Satisfaction::Unspecified, "确认");
    let status = expect_code(
        requester.close_request(unrated).await,
        tonic::Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["satisfaction"]);
    let silent = rated_close_command(&disputed, pb::Satisfaction::Dissatisfied, "");
    let status = expect_code(
        requester.close_request(silent).await,
        tonic::Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["note"]);
    // Only the requesting party rates.
    expect_code(
        department
            .close_request(rated_close_command(
                &disputed,
                pb::Satisfaction::Dissatisfied,
                "自评",
            ))
            .await,
        tonic::Code::PermissionDenied,
    );

    // 不满意: one event, RequestReopened with the rating; work resumes.
    let reopened = requester
        .close_request(rated_close_command(
            &disputed,
            pb::Satisfaction::Dissatisfied,
            "东侧仍有积水",
        ))
        .await?
        .into_inner();
    assert_eq!(reopened.event_ids.len(), 1, "one command, one event");
    let request = get_request(&query, &disputed, reopened.position).await?;
    assert_eq!(request.status(), S::InProgress);
    assert_eq!(request.version, 5);
    assert_eq!(request.reopen_count, 1);
    assert_eq!(request.dissatisfied_count, 1);
    assert_eq!(request.satisfaction(), pb::Satisfaction::Dissatisfied);
    assert!(request.resolution.is_empty());
    let last = request.timeline.last().unwrap();
    assert_eq!(last.event_type, "RequestReopened");
    assert_eq!(last.note, "东侧仍有积水");
    assert!(reopened.position > resolved_at);

    // The log holds the rating on the event itself.
    let history = query
        .clone()
        .get_request_history(pb::GetRequestHistoryRequest {
            id: disputed.clone(),
        })
        .await?
        .into_inner();
    let envelope = history.events.last().unwrap().envelope.clone().unwrap();
    let Some(pb::event_envelope::Payload::RequestReopened(event)) = envelope.payload else {
        panic!("the last event is the reopening: {envelope:?}");
    };
    assert_eq!(event.satisfaction(), pb::Satisfaction::Dissatisfied);

    // While it is open, the board shows one satisfied and one dissatisfied.
    let open = board(&query, "", reopened.position).await?;
    let ratings = row(&open.by_department, DEPARTMENT).satisfaction.unwrap();
    assert_eq!(
        (ratings.satisfied, ratings.dissatisfied),
        (1, 1),
        "{ratings:?}"
    );

    // Worked again and closed 基本满意: every rating stays counted.
    department
        .resolve_request(resolve_command(&disputed))
        .await?;
    let closed = requester
        .close_request(rated_close_command(
            &disputed,
            pb::Satisfaction::BasicallySatisfied,
            "已整改",
        ))
        .await?
        .into_inner();
    let request = get_request(&query, &disputed, closed.position).await?;
    assert_eq!(request.status(), S::Closed);
    assert_eq!(request.satisfaction(), pb::Satisfaction::BasicallySatisfied);

    let board = board(&query, "", closed.position).await?;
    let expected = pb::SatisfactionCounts {
        satisfied: 1,
        basically_satisfied: 1,
        dissatisfied: 1,
        not_rated: 0,
    };
    assert_eq!(
        row(&board.by_department, DEPARTMENT).satisfaction,
        Some(expected)
    );
    assert_eq!(board.total.unwrap().satisfaction, Some(expected));
    assert_eq!(board.total.unwrap().closed, 2);
    Ok(())
}

/// Task breakdown and inspections (issue 12, deliverable 4), on a
/// deployment as shipped (the demo policy's roles, tokens, TLS): the
/// coordinating and supervision offices break a request down, each
/// sub-task's department completes it, the request resolves only once they
/// are all done, and only the supervision office records inspections.
#[tokio::test]
async fn sub_tasks_hold_the_resolution_and_only_the_supervision_office_inspects()
-> anyhow::Result<()> {
    const HOUSING: &str = "district-housing-bureau";
    const PLANNING: &str = "district-planning-resources";
    const SUPERVISION: &str = "district-supervision-office";
    let sys = System::builder().secured().start().await?;
    let mut unit = sys.intake_as(AGENCY, USER);
    let mut coordinator = sys.intake_as("district-veterans-bureau", USER);
    let mut housing = sys.intake_as(HOUSING, USER);
    let mut planning = sys.intake_as(PLANNING, USER);
    let mut supervision = sys.intake_as(SUPERVISION, USER);
    let query = sys.query();

    let id = unit
        .submit_request(submit_command(&new_key("breakdown")))
        .await?
        .into_inner()
        .aggregate_id;
    coordinator
        .assign_request(assign_command(&id, HOUSING, 30))
        .await?;
    housing.start_request(start_command(&id)).await?;

    // The supervision office and the coordinating office break it down; a
    // department may not.
    supervision
        .add_sub_task(add_sub_task_command(&id, PLANNING, 10))
        .await?;
    coordinator
        .add_sub_task(add_sub_task_command(&id, HOUSING, 20))
        .await?;
    let denied = expect_code(
        housing
            .add_sub_task(add_sub_task_command(&id, HOUSING, 5))
            .await,
        tonic::Code::PermissionDenied,
    );
    assert!(denied.message().contains("coordinator"), "{denied:?}");

    // Open sub-tasks hold the resolution, each named.
    let held = expect_code(
        housing.resolve_request(resolve_command(&id)).await,
        tonic::Code::FailedPrecondition,
    );
    for named in [
        format!("#1 ({PLANNING}, due {})", date_in_days(10)),
        format!("#2 ({HOUSING}, due {})", date_in_days(20)),
    ] {
        assert!(held.message().contains(&named), "{named} in {held:?}");
    }

    // Each sub-task is completed by its own department only.
    let foreign = expect_code(
        housing
            .complete_sub_task(complete_sub_task_command(&id, 1))
            .await,
        tonic::Code::PermissionDenied,
    );
    assert!(foreign.message().contains(PLANNING), "{foreign:?}");
    expect_code(
        housing
            .complete_sub_task(complete_sub_task_command(&id, 3))
            .await,
        tonic::Code::NotFound,
    );
    // The sub-task's department (a scoped reader) reads the request it
    // does a part of.
    let done = planning
        .complete_sub_task(complete_sub_task_command(&id, 1))
        .await?
        .into_inner();
    let planning_reader = pb::query_client::QueryClient::with_interceptor(
        sys.projection().channel(),
        sys.caller(PLANNING, USER),
    );
    let seen = get_request(&planning_reader, &id, done.position).await?;
    assert!(seen.sub_tasks[0].done);
    let held = expect_code(
        housing.resolve_request(resolve_command(&id)).await,
        tonic::Code::FailedPrecondition,
    );
    assert!(
        held.message().contains("#2 (") && !held.message().contains("#1 ("),
        "{held:?}"
    );
    housing
        .complete_sub_task(complete_sub_task_command(&id, 2))
        .await?;

    // Inspections: the supervision office only; a visit to come is invalid.
    for (wrong, role_holder) in [(&mut housing, HOUSING), (&mut unit, AGENCY)] {
        let denied = expect_code(
            wrong
                .record_inspection(record_inspection_command(&id))
                .await,
            tonic::Code::PermissionDenied,
        );
        assert!(
            denied.message().contains("supervisor"),
            "{role_holder}: {denied:?}"
        );
    }
    let mut future = record_inspection_command(&id);
    future.visited_on = date_in_days(3);
    let status = expect_code(
        supervision.record_inspection(future).await,
        tonic::Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["visited_on"]);
    supervision
        .record_inspection(record_inspection_command(&id))
        .await?;

    let resolved = housing
        .resolve_request(resolve_command(&id))
        .await?
        .into_inner();
    let request = get_request(&query, &id, resolved.position).await?;
    assert_eq!(request.status(), S::Resolved);
    let tasks: Vec<(u32, &str, bool)> = request
        .sub_tasks
        .iter()
        .map(|t| (t.id, t.department.as_str(), t.done))
        .collect();
    assert_eq!(tasks, [(1, PLANNING, true), (2, HOUSING, true)]);
    assert_eq!(request.sub_tasks[0].note, "设计图已交付");
    let [visit] = request.inspections.as_slice() else {
        panic!("one inspection: {:?}", request.inspections);
    };
    assert_eq!(visit.inspector.as_ref().unwrap().agency, SUPERVISION);
    assert_eq!(visit.findings, "现场施工进度滞后于计划");
    assert!(visit.follow_up_required);
    let events: Vec<&str> = request
        .timeline
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        events,
        [
            "RequestSubmitted",
            "RequestAssigned",
            "RequestStarted",
            "SubTaskAdded",
            "SubTaskAdded",
            "SubTaskCompleted",
            "SubTaskCompleted",
            "InspectionRecorded",
            "RequestResolved",
        ]
    );
    Ok(())
}

/// `sy walkthrough` against the real services: the supervision office
/// breaks out a sub-task and inspects, and the requester closes it out
/// rated 满意, which the history and the board show.
#[tokio::test]
async fn the_walkthrough_breaks_down_inspects_and_closes_with_a_rating() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let output = tokio::process::Command::new(sy_tests::binary_path("sy"))
        .arg("walkthrough")
        .args(["--intake-url", &sys.intake.endpoint()])
        .args(["--query-url", &sys.projection().endpoint()])
        .args(["--timeout-ms", "30000"])
        .env_remove("SY_AGENCY")
        .env_remove("SY_USER")
        .output()
        .await?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "sy walkthrough failed:\n{text}");
    for expected in [
        "AddSubTask as district-supervision-office",
        "CompleteSubTask as district-planning-resources",
        "RecordInspection as district-supervision-office",
        "sub-tasks 任务分解",
        "inspections 督查",
        "SubTaskAdded (#1 district-planning-resources",
        "RequestClosed (satisfied 满意)",
        "满意/基本满意/不满意",
        "rated satisfied 满意 by the requester",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    Ok(())
}
