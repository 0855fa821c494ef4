//! `SubmitRequests`, the bulk path: every command of a batch is validated,
//! decided and written as `SubmitRequest` would, with one outcome per command
//! in order; a bad command is refused alone (its field violations in its
//! outcome) and the others are written; a retried batch is answered from the
//! log (`replayed`) and writes nothing; a batch over the bound is refused
//! whole, naming the first command past it; and the call takes the same
//! credentials and roles as `SubmitRequest`.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use std::collections::HashSet;

use sy_api::pb;
use sy_api::pb::command_outcome::Outcome;
use sy_tests::client::*;
use sy_tests::{System, expect_code, get_request, violated_fields};
use tonic::Code;

/// `n` valid submissions, each with a fresh key.
fn batch(n: usize, prefix: &str) -> Vec<pb::SubmitRequestCommand> {
    (0..n)
        .map(|i| {
            let mut command = submit_command(&new_key(prefix));
            command.title = format!("批量导入的需求 {i}");
            command
        })
        .collect()
}

/// The written results of `outcomes`; panics on any refused command.
fn results(outcomes: &[pb::CommandOutcome]) -> Vec<pb::CommandResult> {
    outcomes
        .iter()
        .enumerate()
        .map(|(i, outcome)| match &outcome.outcome {
            Some(Outcome::Result(result)) => result.clone(),
            other => panic!("command {i} was not written: {other:?}"),
        })
        .collect()
}

/// The refusal of one command of a batch; panics if it was written.
fn refusal(outcome: &pb::CommandOutcome) -> &pb::CommandError {
    match &outcome.outcome {
        Some(Outcome::Error(error)) => error,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_batch_is_written_one_event_per_command_and_readable() -> anyhow::Result<()> {
    const N: usize = 120;
    let sys = System::start().await?;
    let before = sys.log_position().await?;
    let commands = batch(N, "batch");
    let reply = sys
        .intake()
        .submit_requests(pb::SubmitRequestsRequest {
            commands: commands.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(reply.outcomes.len(), N, "one outcome per command");
    let written = results(&reply.outcomes);
    assert!(written.iter().all(|r| !r.replayed && r.version == 1));
    let positions: HashSet<u64> = written.iter().map(|r| r.position).collect();
    assert_eq!(positions.len(), N, "each command has its own position");
    assert!(
        positions
            .iter()
            .all(|p| (before + 1..=before + N as u64).contains(p))
    );
    let ids: HashSet<&str> = written.iter().map(|r| r.aggregate_id.as_str()).collect();
    assert_eq!(ids.len(), N, "each command files its own request");
    assert_eq!(sys.log_position().await?, before + N as u64);

    // In order: each outcome is its command's request, as the unary call
    // with the same key answers it.
    let mut intake = sys.intake();
    for (command, result) in commands.iter().zip(&written).step_by(17) {
        let alone = intake.submit_request(command.clone()).await?.into_inner();
        assert!(alone.replayed);
        assert_eq!(
            (&alone.aggregate_id, alone.position),
            (&result.aggregate_id, result.position)
        );
    }
    let query = sys.query();
    let last = written.iter().map(|r| r.position).max().unwrap();
    for (command, result) in commands.iter().zip(&written) {
        let request = get_request(&query, &result.aggregate_id, last).await?;
        assert_eq!(request.title, command.title);
        assert_eq!(request.version, 1);
    }
    Ok(())
}

#[tokio::test]
async fn bad_commands_are_refused_alone_and_the_others_written() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let before = sys.log_position().await?;
    let mut commands = batch(6, "mixed");
    commands[1].title = String::new();
    commands[4].area_code = "123".into();
    commands[4].context = None;
    let reply = sys
        .intake()
        .submit_requests(pb::SubmitRequestsRequest {
            commands: commands.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(reply.outcomes.len(), 6);

    let title = refusal(&reply.outcomes[1]);
    assert_eq!(title.code, Code::InvalidArgument as i32, "{title:?}");
    let fields: Vec<&str> = title
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["title"], "{title:?}");
    assert!(title.message.contains("title"), "{title:?}");
    assert!(!title.field_violations[0].description.is_empty());

    let two = refusal(&reply.outcomes[4]);
    assert_eq!(two.code, Code::InvalidArgument as i32, "{two:?}");
    let fields: HashSet<&str> = two
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert!(
        fields.contains("area_code") && fields.iter().any(|f| f.starts_with("context")),
        "every bad field is named: {two:?}"
    );

    // The same fields the unary call names for the same command.
    let alone = expect_code(
        sys.intake().submit_request(commands[1].clone()).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&alone), ["title"]);

    let good = [0, 2, 3, 5].map(|i| &reply.outcomes[i]);
    let written = results(&good.map(Clone::clone));
    assert!(written.iter().all(|r| !r.replayed));
    assert_eq!(sys.log_position().await?, before + 4, "only the good ones");
    Ok(())
}

#[tokio::test]
async fn a_retried_batch_is_replayed_and_writes_nothing() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let mut commands = batch(40, "retry");
    // The same command twice in one batch files one request.
    commands.push(commands[7].clone());
    let mut intake = sys.intake();
    let first = results(
        &intake
            .submit_requests(pb::SubmitRequestsRequest {
                commands: commands.clone(),
            })
            .await?
            .into_inner()
            .outcomes,
    );
    let (seventh, twin) = (&first[7], &first[40]);
    assert_eq!(seventh.aggregate_id, twin.aggregate_id);
    assert_eq!(seventh.position, twin.position);
    assert!(
        seventh.replayed != twin.replayed,
        "one of the two wrote, the other replayed: {seventh:?} {twin:?}"
    );
    let written = sys.log_position().await?;
    assert_eq!(first.iter().filter(|r| !r.replayed).count(), 40);

    for _ in 0..2 {
        let again = results(
            &intake
                .submit_requests(pb::SubmitRequestsRequest {
                    commands: commands.clone(),
                })
                .await?
                .into_inner()
                .outcomes,
        );
        assert_eq!(again.len(), first.len());
        for (replay, original) in again.iter().zip(&first) {
            assert!(replay.replayed, "{replay:?}");
            assert_eq!(
                (
                    &replay.aggregate_id,
                    replay.version,
                    replay.position,
                    &replay.event_ids
                ),
                (
                    &original.aggregate_id,
                    original.version,
                    original.position,
                    &original.event_ids
                )
            );
        }
    }
    assert_eq!(
        sys.log_position().await?,
        written,
        "a replay writes nothing"
    );

    // A key reused for another command is refused for that command alone.
    let mut changed = commands[3].clone();
    changed.title = "另一个标题".into();
    let reply = intake
        .submit_requests(pb::SubmitRequestsRequest {
            commands: vec![changed, commands[4].clone()],
        })
        .await?
        .into_inner();
    assert_eq!(refusal(&reply.outcomes[0]).code, Code::AlreadyExists as i32);
    assert!(results(&reply.outcomes[1..])[0].replayed);
    assert_eq!(sys.log_position().await?, written);
    Ok(())
}

#[tokio::test]
async fn a_batch_over_the_bound_is_refused_whole() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let before = sys.log_position().await?;
    let status = expect_code(
        sys.intake()
            .submit_requests(pb::SubmitRequestsRequest {
                commands: batch(501, "bound"),
            })
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["commands[500]"], "{status:?}");
    assert!(status.message().contains("500"), "{status:?}");
    assert_eq!(sys.log_position().await?, before, "nothing written");

    // An empty batch is an empty answer.
    let empty = sys
        .intake()
        .submit_requests(pb::SubmitRequestsRequest::default())
        .await?
        .into_inner();
    assert!(empty.outcomes.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_batch_needs_the_credential_and_role_a_submission_does() -> anyhow::Result<()> {
    let sys = System::builder().secured().start().await?;
    let before = sys.log_position().await?;
    let request = || pb::SubmitRequestsRequest {
        commands: batch(3, "auth"),
    };

    let mut anonymous = pb::intake_client::IntakeClient::new(sys.intake.channel());
    let refused = anonymous.submit_requests(request()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");

    // The supervision office may not file requests, alone or in bulk.
    let supervisor = sys.intake_as("district-supervision-office", USER);
    let alone = expect_code(
        supervisor
            .clone()
            .submit_request(submit_command(&new_key("auth")))
            .await,
        Code::PermissionDenied,
    );
    let bulk = expect_code(
        supervisor.clone().submit_requests(request()).await,
        Code::PermissionDenied,
    );
    assert!(
        alone.message().contains("requester") && bulk.message().contains("requester"),
        "both name the role: {alone:?} {bulk:?}"
    );
    assert_eq!(
        sys.log_position().await?,
        before,
        "nothing refused is written"
    );

    let written = results(
        &sys.intake()
            .submit_requests(request())
            .await?
            .into_inner()
            .outcomes,
    );
    assert_eq!(written.len(), 3);
    assert_eq!(sys.log_position().await?, before + 3);
    Ok(())
}
