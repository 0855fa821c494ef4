//! Retries are safe: the same idempotency key with the same command returns
//! the first result and writes nothing; with a different command it is
//! refused; and this holds after intake restarts (its caches gone), because
//! the answer comes from the log.

use sy_tests::System;
use sy_tests::client::*;
use sy_tests::expect_code;
use sy_tests::pb;

#[track_caller]
fn assert_replay_of(replay: &pb::CommandResult, first: &pb::CommandResult) {
    assert!(!first.replayed, "the first call is not a replay: {first:?}");
    assert!(replay.replayed, "a retry is a replay: {replay:?}");
    assert_eq!(
        (
            &replay.aggregate_id,
            replay.version,
            replay.position,
            &replay.event_ids
        ),
        (
            &first.aggregate_id,
            first.version,
            first.position,
            &first.event_ids
        ),
        "a replay returns the first result"
    );
}

#[tokio::test]
async fn a_retried_submission_returns_the_first_result() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let mut intake = sys.intake();
    let key = new_key("retry");
    let first = intake
        .submit_request(submit_command(&key))
        .await?
        .into_inner();
    let written = sys.log_position().await?;
    assert_eq!(written, first.position);

    for _ in 0..3 {
        let again = intake
            .submit_request(submit_command(&key))
            .await?
            .into_inner();
        assert_replay_of(&again, &first);
    }
    // From another connection and another user of the same agency, too.
    let again = sys
        .intake_as(AGENCY, "wang.fang")
        .submit_request(submit_command(&key))
        .await?
        .into_inner();
    assert_replay_of(&again, &first);
    assert_eq!(
        sys.log_position().await?,
        written,
        "a replay writes nothing"
    );

    // The key belongs to the agency: another agency's same key is another request.
    let other = sys
        .intake_as("unit-31002", "zhao")
        .submit_request(submit_command(&key))
        .await?
        .into_inner();
    assert!(!other.replayed);
    assert_ne!(other.aggregate_id, first.aggregate_id);
    assert_eq!(sys.log_position().await?, written + 1);
    Ok(())
}

#[tokio::test]
async fn a_retried_command_on_a_request_returns_the_first_result() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let mut intake = sys.intake();
    let id = sys.submit().await?.aggregate_id;

    let assign = assign_command(&id, DEPARTMENT, 7);
    let first = intake.assign_request(assign.clone()).await?.into_inner();
    assert_eq!(first.version, 2);
    let written = sys.log_position().await?;
    let again = intake.assign_request(assign.clone()).await?.into_inner();
    assert_replay_of(&again, &first);
    assert_eq!(sys.log_position().await?, written);

    // Still the first result after the request moved on (a plain re-run of
    // the assignment would now be refused: work has started).
    let started = intake.start_request(start_command(&id)).await?.into_inner();
    let late = intake.assign_request(assign.clone()).await?.into_inner();
    assert_replay_of(&late, &first);
    let progress = progress_command(&id, "第一次进展");
    let noted = intake.record_progress(progress.clone()).await?.into_inner();
    assert_eq!(noted.version, started.version + 1);
    let written = sys.log_position().await?;
    assert_replay_of(
        &intake.record_progress(progress).await?.into_inner(),
        &noted,
    );
    assert_eq!(sys.log_position().await?, written, "replays write nothing");
    Ok(())
}

#[tokio::test]
async fn a_reused_key_with_another_command_is_refused() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let mut intake = sys.intake();
    let key = new_key("reuse");
    let first = intake
        .submit_request(submit_command(&key))
        .await?
        .into_inner();
    let written = sys.log_position().await?;

    let mut different = submit_command(&key);
    different.title = "另一个需求".into();
    let status = expect_code(
        intake.submit_request(different).await,
        tonic::Code::AlreadyExists,
    );
    assert!(!status.message().is_empty());

    // On an existing request: the same key with another note, or on another kind of command.
    let id = first.aggregate_id;
    let mut note = progress_command(&id, "甲");
    intake
        .assign_request(assign_command(&id, DEPARTMENT, 7))
        .await?;
    intake.start_request(start_command(&id)).await?;
    intake.record_progress(note.clone()).await?;
    let written_after = sys.log_position().await?;
    assert_eq!(written_after, written + 3);
    note.note = "乙".into();
    expect_code(
        intake.record_progress(note.clone()).await,
        tonic::Code::AlreadyExists,
    );
    let resolve = pb::ResolveRequestCommand {
        context: note.context.clone(),
        request_id: id.clone(),
        resolution: "已解决".into(),
    };
    expect_code(
        intake.resolve_request(resolve).await,
        tonic::Code::AlreadyExists,
    );
    assert_eq!(
        sys.log_position().await?,
        written_after,
        "refusals write nothing"
    );
    Ok(())
}

#[tokio::test]
async fn replays_survive_an_intake_restart() -> anyhow::Result<()> {
    let mut sys = System::start().await?;
    let key = new_key("restart");
    let submitted = sys
        .intake()
        .submit_request(submit_command(&key))
        .await?
        .into_inner();
    let id = submitted.aggregate_id.clone();
    let assign = assign_command(&id, DEPARTMENT, 7);
    let assigned = sys
        .intake()
        .assign_request(assign.clone())
        .await?
        .into_inner();
    let written = sys.log_position().await?;

    // A crash loses every cache; a graceful restart too.
    sys.intake.kill9();
    sys.intake.restart().await?;
    let again = sys
        .intake()
        .submit_request(submit_command(&key))
        .await?
        .into_inner();
    assert_replay_of(&again, &submitted);
    let again = sys
        .intake()
        .assign_request(assign.clone())
        .await?
        .into_inner();
    assert_replay_of(&again, &assigned);

    sys.intake.terminate().await?;
    sys.intake.restart().await?;
    let again = sys
        .intake()
        .submit_request(submit_command(&key))
        .await?
        .into_inner();
    assert_replay_of(&again, &submitted);
    let mut different = submit_command(&key);
    different.priority = pb::Priority::Urgent as i32;
    expect_code(
        sys.intake().submit_request(different).await,
        tonic::Code::AlreadyExists,
    );
    assert_eq!(
        sys.log_position().await?,
        written,
        "nothing new after restarts"
    );
    Ok(())
}
