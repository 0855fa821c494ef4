//! Notifications through the real stack: the fold derives them from the
//! log, and `Notifications.Watch` streams an agency's own, first those
//! stored after the position it asks for, then live ones; a client that
//! lost its stream resumes from the last position it handled and misses
//! nothing, sees nothing twice. An agency watches only its own; an auditor
//! any, with the same ids.

use std::time::Duration;

use sy_api::pb::{self, NotificationKind as K};
use sy_domain::notification::notification_id;
use sy_tests::client::*;
use sy_tests::system::AUDITOR_AGENCY;
use sy_tests::{System, expect_code};
use tonic::Code;

const SUPERVISION: &str = "district-supervision-office";

/// The next `n` notifications of `stream`, each within 30 s.
async fn next(
    stream: &mut tonic::Streaming<pb::WatchResponse>,
    n: usize,
) -> anyhow::Result<Vec<pb::Notification>> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let item = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .map_err(|_| anyhow::anyhow!("no notification within 30s; got {got:?}"))??
            .ok_or_else(|| anyhow::anyhow!("the watch ended; got {got:?}"))?;
        got.push(
            item.notification
                .ok_or_else(|| anyhow::anyhow!("an empty watch item"))?,
        );
    }
    Ok(got)
}

/// Nothing more arrives on `stream` within a second.
async fn quiet(stream: &mut tonic::Streaming<pb::WatchResponse>) {
    let more = tokio::time::timeout(Duration::from_secs(1), stream.message()).await;
    assert!(more.is_err(), "nothing more was expected: {more:?}");
}

async fn watch(
    sys: &System,
    caller: &str,
    agency: &str,
    after_position: u64,
) -> Result<tonic::Response<tonic::Streaming<pb::WatchResponse>>, tonic::Status> {
    sys.notifications_as(caller, USER)
        .watch(pb::WatchRequest {
            agency: agency.into(),
            after_position,
        })
        .await
}

/// (kind, position) of each notification, and every one is `agency`'s, with
/// the id the domain derives.
#[track_caller]
fn seen(agency: &str, notifications: &[pb::Notification]) -> Vec<(K, u64)> {
    for n in notifications {
        assert_eq!(n.agency, agency, "{n:?}");
        assert_eq!(n.id, notification_id(n.position, agency, n.kind()), "{n:?}");
    }
    notifications
        .iter()
        .map(|n| (n.kind(), n.position))
        .collect()
}

#[tokio::test]
async fn agencies_watch_their_notifications_and_resume_after_a_disconnect() -> anyhow::Result<()> {
    let sys = System::builder().secured().start().await?;
    let mut requester = sys.intake();
    let mut department = sys.intake_as(DEPARTMENT_AGENCY, USER);
    let mut supervisor = sys.intake_as(SUPERVISION, USER);

    // The department watches before anything concerns it: live delivery.
    let mut live = watch(&sys, DEPARTMENT_AGENCY, "", 0).await?.into_inner();
    let submitted = requester
        .submit_request(submit_command(&new_key("notify")))
        .await?
        .into_inner();
    let id = submitted.aggregate_id.clone();
    let assigned = department
        .assign_request(assign_command(&id, DEPARTMENT, 14))
        .await?
        .into_inner();
    let first = next(&mut live, 1).await?;
    assert_eq!(
        seen(DEPARTMENT_AGENCY, &first),
        [(K::Assigned, assigned.position)]
    );
    let n = &first[0];
    assert_eq!(
        (
            n.request_id.as_str(),
            n.request_version,
            n.event_type.as_str()
        ),
        (id.as_str(), 2, "RequestAssigned")
    );
    assert_eq!(n.department, DEPARTMENT);
    assert_eq!(n.due_date, date_in_days(14));
    // The submission concerned nobody yet.
    quiet(&mut live).await;
    drop(live);

    // While the department is away: work, a dispute, supervision.
    department.start_request(start_command(&id)).await?;
    let resolved = department
        .resolve_request(resolve_command(&id))
        .await?
        .into_inner();
    let reopened = requester
        .reopen_request(reopen_command(&id))
        .await?
        .into_inner();
    let escalated = supervisor
        .escalate_request(pb::EscalateRequestCommand {
            context: fresh_ctx(),
            request_id: id.clone(),
            level: pb::SupervisionLevel::District as i32,
            reason: "跨部门协调".into(),
            due_date: String::new(),
        })
        .await?
        .into_inner();

    // It resumes after the last one it handled: the rest, in log order, once.
    let mut resumed = watch(&sys, DEPARTMENT_AGENCY, "", assigned.position)
        .await?
        .into_inner();
    let rest = next(&mut resumed, 2).await?;
    assert_eq!(
        seen(DEPARTMENT_AGENCY, &rest),
        [
            (K::Reopened, reopened.position),
            (K::Escalated, escalated.position)
        ]
    );
    quiet(&mut resumed).await;

    // The requester is told of the resolution and the escalation.
    let mut own = watch(&sys, AGENCY, AGENCY, 0).await?.into_inner();
    let told = next(&mut own, 2).await?;
    assert_eq!(
        seen(AGENCY, &told),
        [
            (K::AwaitingConfirmation, resolved.position),
            (K::Escalated, escalated.position)
        ]
    );
    assert_eq!(told[1].supervision_level(), pb::SupervisionLevel::District);

    // Not another agency's; an auditor watches any, and sees the same ids.
    let refused = expect_code(
        watch(&sys, AGENCY, DEPARTMENT_AGENCY, 0).await,
        Code::PermissionDenied,
    );
    assert!(refused.message().contains(AGENCY), "{}", refused.message());
    expect_code(
        watch(&sys, AUDITOR_AGENCY, "not an agency", 0).await,
        Code::InvalidArgument,
    );
    let mut audit = watch(&sys, AUDITOR_AGENCY, DEPARTMENT_AGENCY, 0)
        .await?
        .into_inner();
    let audited = next(&mut audit, 3).await?;
    let mut expected = first;
    expected.extend(rest);
    assert_eq!(audited, expected);
    Ok(())
}
