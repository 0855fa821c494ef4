//! Bad input is refused at the edge with a code a caller can act on, and
//! nothing refused reaches the log.

use sy_tests::client::*;
use sy_tests::pb;
use sy_tests::{System, expect_code, violated_fields};

/// Checks an INVALID_ARGUMENT whose BadRequest names `field`.
#[track_caller]
fn assert_names<T: std::fmt::Debug>(
    case: &str,
    result: Result<tonic::Response<T>, tonic::Status>,
    field: &str,
) {
    let status = match result {
        Ok(reply) => panic!(
            "{case}: expected INVALID_ARGUMENT, got {:?}",
            reply.get_ref()
        ),
        Err(status) => status,
    };
    assert_eq!(
        status.code(),
        tonic::Code::InvalidArgument,
        "{case}: {}",
        status.message()
    );
    let fields = violated_fields(&status);
    assert!(
        fields.iter().any(|f| f == field),
        "{case}: the BadRequest must name {field:?}, names {fields:?} ({})",
        status.message()
    );
    assert!(
        status.message().contains(field),
        "{case}: {}",
        status.message()
    );
}

#[tokio::test]
async fn malformed_submissions_name_the_field() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let mut intake = sys.intake();
    // One valid write, so the log exists and its position is known.
    sys.submit().await?;
    let written = sys.log_position().await?;

    let valid = || submit_command(&new_key("valid"));
    type Case = (&'static str, pb::SubmitRequestCommand, &'static str);
    let cases: Vec<Case> = vec![
        (
            "no context",
            pb::SubmitRequestCommand {
                context: None,
                ..valid()
            },
            "context.idempotency_key",
        ),
        (
            "empty key",
            pb::SubmitRequestCommand {
                context: ctx(""),
                ..valid()
            },
            "context.idempotency_key",
        ),
        (
            "key with a space",
            pb::SubmitRequestCommand {
                context: ctx("a key"),
                ..valid()
            },
            "context.idempotency_key",
        ),
        (
            "key too long",
            pb::SubmitRequestCommand {
                context: ctx("k".repeat(129)),
                ..valid()
            },
            "context.idempotency_key",
        ),
        (
            "short area code",
            pb::SubmitRequestCommand {
                area_code: "5001060010".into(),
                ..valid()
            },
            "area_code",
        ),
        (
            "letters in area code",
            pb::SubmitRequestCommand {
                area_code: "50010600100x".into(),
                ..valid()
            },
            "area_code",
        ),
        (
            "district not served",
            pb::SubmitRequestCommand {
                area_code: "500107001002".into(),
                ..valid()
            },
            "area_code",
        ),
        (
            "unknown direction",
            pb::SubmitRequestCommand {
                direction: 99,
                ..valid()
            },
            "direction",
        ),
        (
            "missing direction",
            pb::SubmitRequestCommand {
                direction: 0,
                ..valid()
            },
            "direction",
        ),
        (
            "unknown category",
            pb::SubmitRequestCommand {
                category: 42,
                ..valid()
            },
            "category",
        ),
        (
            "unknown priority",
            pb::SubmitRequestCommand {
                priority: 7,
                ..valid()
            },
            "priority",
        ),
        (
            "unknown supervision level",
            pb::SubmitRequestCommand {
                supervision_level: 9,
                ..valid()
            },
            "supervision_level",
        ),
        (
            "malformed date",
            pb::SubmitRequestCommand {
                due_date: "2026-2-1".into(),
                ..valid()
            },
            "due_date",
        ),
        (
            "no such day",
            pb::SubmitRequestCommand {
                due_date: "2026-02-30".into(),
                ..valid()
            },
            "due_date",
        ),
        (
            "past due date",
            pb::SubmitRequestCommand {
                due_date: date_in_days(-1),
                ..valid()
            },
            "due_date",
        ),
        (
            "empty title",
            pb::SubmitRequestCommand {
                title: "   ".into(),
                ..valid()
            },
            "title",
        ),
        (
            "title too long",
            pb::SubmitRequestCommand {
                title: "长".repeat(201),
                ..valid()
            },
            "title",
        ),
        (
            "no requester",
            pb::SubmitRequestCommand {
                requester: None,
                ..valid()
            },
            "requester",
        ),
        (
            "bad requester agency",
            pb::SubmitRequestCommand {
                requester: Some(pb::RequestingParty {
                    agency: "某部队".into(),
                    name: "某部队".into(),
                }),
                ..valid()
            },
            "requester.agency",
        ),
    ];
    for (case, command, field) in cases {
        assert_names(case, intake.submit_request(command).await, field);
    }

    // Every bad field at once.
    let status = expect_code(
        intake
            .submit_request(pb::SubmitRequestCommand {
                title: String::new(),
                area_code: "500107001002".into(),
                category: 0,
                ..valid()
            })
            .await,
        tonic::Code::InvalidArgument,
    );
    let fields = violated_fields(&status);
    for field in ["title", "area_code", "category"] {
        assert!(
            fields.iter().any(|f| f == field),
            "{field} missing from {fields:?}"
        );
    }

    // The longest valid title is fine (characters, not bytes).
    intake
        .submit_request(pb::SubmitRequestCommand {
            title: "长".repeat(200),
            ..valid()
        })
        .await?;
    assert_eq!(
        sys.log_position().await?,
        written + 1,
        "only the valid submission was written"
    );
    Ok(())
}

#[tokio::test]
async fn malformed_commands_on_a_request_name_the_field() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let mut intake = sys.intake();
    let id = sys.submit().await?.aggregate_id;
    let written = sys.log_position().await?;

    assert_names(
        "request id not a uuid",
        intake
            .assign_request(assign_command("not-a-uuid", DEPARTMENT, 3))
            .await,
        "request_id",
    );
    assert_names(
        "missing request id",
        intake.start_request(start_command("")).await,
        "request_id",
    );
    assert_names(
        "past due date",
        intake
            .assign_request(assign_command(&id, DEPARTMENT, -3))
            .await,
        "due_date",
    );
    let mut no_date = assign_command(&id, DEPARTMENT, 3);
    no_date.due_date.clear();
    assert_names(
        "assignment without a due date",
        intake.assign_request(no_date).await,
        "due_date",
    );
    assert_names(
        "bad department code",
        intake
            .assign_request(assign_command(&id, "区 退役军人事务局", 3))
            .await,
        "department",
    );
    assert_names(
        "empty progress note",
        intake.record_progress(progress_command(&id, "")).await,
        "note",
    );
    assert_names(
        "unknown supervision level",
        intake
            .escalate_request(pb::EscalateRequestCommand {
                context: fresh_ctx(),
                request_id: id.clone(),
                level: 42,
                reason: "督办".into(),
                due_date: String::new(),
            })
            .await,
        "level",
    );
    assert_names(
        "bad new due date",
        intake
            .change_due_date(pb::ChangeDueDateCommand {
                context: fresh_ctx(),
                request_id: id.clone(),
                due_date: "next week".into(),
                reason: "延期".into(),
            })
            .await,
        "due_date",
    );
    let mut no_key = start_command(&id);
    no_key.context = None;
    assert_names(
        "no idempotency key",
        intake.start_request(no_key).await,
        "context.idempotency_key",
    );
    assert_eq!(
        sys.log_position().await?,
        written,
        "nothing invalid reaches the log"
    );
    Ok(())
}

#[tokio::test]
async fn calls_without_an_actor_are_unauthenticated() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let written = sys.log_position().await?;

    let mut bare = pb::intake_client::IntakeClient::new(sys.intake.channel());
    let status = expect_code(
        bare.submit_request(submit_command(&new_key("anon"))).await,
        tonic::Code::Unauthenticated,
    );
    assert!(
        status.message().contains("x-sy-agency"),
        "{}",
        status.message()
    );

    // Only the agency.
    let mut request = tonic::Request::new(submit_command(&new_key("anon")));
    request
        .metadata_mut()
        .insert("x-sy-agency", AGENCY.parse().unwrap());
    let status = expect_code(
        bare.submit_request(request).await,
        tonic::Code::Unauthenticated,
    );
    assert!(
        status.message().contains("x-sy-user"),
        "{}",
        status.message()
    );

    // A malformed agency code.
    expect_code(
        sys.intake_as("bad agency", "zhang")
            .submit_request(submit_command(&new_key("anon")))
            .await,
        tonic::Code::Unauthenticated,
    );
    // Metadata is checked before anything else, even a malformed command.
    expect_code(
        bare.start_request(start_command("not-a-uuid")).await,
        tonic::Code::Unauthenticated,
    );
    assert_eq!(sys.log_position().await?, written);
    Ok(())
}

#[tokio::test]
async fn unknown_requests_are_not_found() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let known = sys.submit().await?;
    let written = sys.log_position().await?;
    let unknown = uuid::Uuid::new_v4().to_string();
    let mut intake = sys.intake();

    let status = expect_code(
        intake
            .assign_request(assign_command(&unknown, DEPARTMENT, 3))
            .await,
        tonic::Code::NotFound,
    );
    assert!(status.message().contains(&unknown), "{}", status.message());
    expect_code(
        intake.start_request(start_command(&unknown)).await,
        tonic::Code::NotFound,
    );
    expect_code(
        intake.close_request(close_command(&unknown)).await,
        tonic::Code::NotFound,
    );
    assert_eq!(sys.log_position().await?, written);

    let mut query = sys.query();
    expect_code(
        query
            .get_request(pb::GetRequestRequest {
                id: unknown.clone(),
                min_position: known.position,
            })
            .await,
        tonic::Code::NotFound,
    );
    match query
        .get_request_history(pb::GetRequestHistoryRequest {
            id: unknown.clone(),
        })
        .await
    {
        Err(status) => assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}"),
        Ok(reply) => assert!(reply.get_ref().events.is_empty(), "{:?}", reply.get_ref()),
    }
    // A malformed id is never found (the query contract leaves the code open).
    let status = query
        .get_request(pb::GetRequestRequest {
            id: "not-a-uuid".into(),
            min_position: 0,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            status.code(),
            tonic::Code::InvalidArgument | tonic::Code::NotFound
        ),
        "{status:?}"
    );
    Ok(())
}

#[tokio::test]
async fn illegal_transitions_name_the_state() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let mut intake = sys.intake();
    let id = sys.submit().await?.aggregate_id;
    let written = sys.log_position().await?;

    let refused = |status: tonic::Status, expected: &str| {
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
        assert!(
            status.message().contains(expected),
            "message must say {expected:?}: {}",
            status.message()
        );
    };
    refused(
        intake.close_request(close_command(&id)).await.unwrap_err(),
        "cannot close a request that is submitted",
    );
    refused(
        intake.start_request(start_command(&id)).await.unwrap_err(),
        "cannot start a request that is submitted",
    );
    refused(
        intake
            .resolve_request(resolve_command(&id))
            .await
            .unwrap_err(),
        "cannot resolve a request that is submitted",
    );
    refused(
        intake
            .reopen_request(reopen_command(&id))
            .await
            .unwrap_err(),
        "cannot reopen a request that is submitted",
    );
    refused(
        intake
            .record_progress(progress_command(&id, "进展"))
            .await
            .unwrap_err(),
        "submitted",
    );
    // Escalation must go strictly higher than the current level (none).
    let escalate = |level: pb::SupervisionLevel| pb::EscalateRequestCommand {
        context: fresh_ctx(),
        request_id: id.clone(),
        level: level as i32,
        reason: "督办".into(),
        due_date: String::new(),
    };
    let status = intake
        .escalate_request(escalate(pb::SupervisionLevel::None))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    assert_eq!(sys.log_position().await?, written, "refusals write nothing");

    // After work started it can no longer be rejected.
    intake
        .assign_request(assign_command(&id, DEPARTMENT, 3))
        .await?;
    intake.start_request(start_command(&id)).await?;
    let written = sys.log_position().await?;
    refused(
        intake
            .reject_request(reject_command(&id))
            .await
            .unwrap_err(),
        "cannot reject a request that is in_progress",
    );
    refused(
        intake
            .assign_request(assign_command(&id, "dept-z", 3))
            .await
            .unwrap_err(),
        "in_progress",
    );
    intake
        .escalate_request(escalate(pb::SupervisionLevel::District))
        .await?;
    let status = intake
        .escalate_request(escalate(pb::SupervisionLevel::District))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        sys.log_position().await?,
        written + 1,
        "only the escalation was written"
    );
    Ok(())
}
