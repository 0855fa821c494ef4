//! The projection survives crashes: killed with SIGKILL while folding, it
//! restarts on the same data dir and converges to the log, with every event
//! applied exactly once; a fresh replica replaying from sequence 1 answers
//! identically.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use sy_tests::client::*;
use sy_tests::pb::{self, RequestStatus as S};
use sy_tests::{
    CONVERGE, IntakeClient, QueryClient, System, board, eventually, get_request, list_all,
    wait_applied,
};

/// What a request of the workload goes through: its number decides.
fn script_len(i: usize) -> u64 {
    [1, 2, 4, 2, 5][i % 5]
}

fn final_status(i: usize) -> S {
    [
        S::Submitted,
        S::Assigned,
        S::InProgress,
        S::Rejected,
        S::Closed,
    ][i % 5]
}

/// Runs request `i`'s script; returns its id and last position.
async fn run_script(mut intake: IntakeClient, i: usize) -> anyhow::Result<(String, u64)> {
    let mut command = submit_command(&new_key(&format!("load-{i}")));
    command.title = format!("需求 {i}");
    let submitted = intake.submit_request(command).await?.into_inner();
    let id = submitted.aggregate_id;
    let mut last = submitted.position;
    let mut step = |result: tonic::Response<pb::CommandResult>| {
        last = result.into_inner().position;
    };
    match i % 5 {
        0 => {}
        1 => step(
            intake
                .assign_request(assign_command(&id, "dept-a", 7))
                .await?,
        ),
        2 => {
            step(
                intake
                    .assign_request(assign_command(&id, "dept-b", 7))
                    .await?,
            );
            step(intake.start_request(start_command(&id)).await?);
            step(
                intake
                    .record_progress(progress_command(&id, "进展"))
                    .await?,
            );
        }
        3 => step(intake.reject_request(reject_command(&id)).await?),
        _ => {
            step(
                intake
                    .assign_request(assign_command(&id, "dept-a", 7))
                    .await?,
            );
            step(intake.start_request(start_command(&id)).await?);
            step(intake.resolve_request(resolve_command(&id)).await?);
            step(intake.close_request(close_command(&id)).await?);
        }
    }
    Ok((id, last))
}

/// Runs the scripts of requests `range`, 12 at a time; returns id → request number.
async fn run_workload(
    intake: IntakeClient,
    range: std::ops::Range<usize>,
) -> anyhow::Result<(BTreeMap<String, usize>, u64)> {
    let mut results = futures::stream::iter(range)
        .map(|i| {
            let intake = intake.clone();
            async move { run_script(intake, i).await.map(|(id, last)| (id, i, last)) }
        })
        .buffer_unordered(12);
    let mut ids = BTreeMap::new();
    let mut last = 0;
    while let Some(result) = results.next().await {
        let (id, i, position) = result?;
        ids.insert(id, i);
        last = last.max(position);
    }
    Ok((ids, last))
}

async fn applied(query: &QueryClient) -> anyhow::Result<u64> {
    Ok(board(query, "", 0).await?.position)
}

/// Every request present once, in its final state, with a timeline of exactly
/// its versions; the board adds up to the workload.
async fn check_converged(
    query: &QueryClient,
    ids: &BTreeMap<String, usize>,
    last: u64,
) -> anyhow::Result<()> {
    let n = ids.len() as u64;
    let listed = list_all(
        query,
        pb::ListRequestsRequest {
            min_position: last,
            ..Default::default()
        },
        50,
    )
    .await?;
    assert_eq!(listed.len(), ids.len(), "every request listed once");
    assert!(listed.iter().all(|r| ids.contains_key(&r.id)));

    let mut event_ids = HashSet::new();
    let mut positions = HashSet::new();
    for (id, &i) in ids {
        let request = get_request(query, id, last).await?;
        assert_eq!(request.version, script_len(i), "request {i} ({id})");
        assert_eq!(request.status(), final_status(i), "request {i} ({id})");
        assert_eq!(
            request.timeline.len() as u64,
            request.version,
            "request {i}: timeline length equals the version"
        );
        for (k, entry) in request.timeline.iter().enumerate() {
            assert_eq!(
                entry.version,
                k as u64 + 1,
                "request {i}: no gap, no duplicate"
            );
            assert!(
                event_ids.insert(entry.event_id.clone()),
                "event {} twice",
                entry.event_id
            );
            assert!(
                positions.insert(entry.position),
                "position {} twice",
                entry.position
            );
        }
        assert!(
            request
                .timeline
                .windows(2)
                .all(|w| w[0].position < w[1].position),
            "request {i}: positions grow"
        );
        assert_eq!(
            request.last_position,
            request.timeline.last().unwrap().position
        );
    }
    assert_eq!(
        positions.len() as u64,
        last,
        "every event of the log applied once"
    );

    let total = board(query, "", last).await?.total.expect("total");
    assert_eq!(total.submitted, n, "{total:?}");
    assert_eq!(total.closed, n / 5, "{total:?}");
    assert_eq!(total.rejected, n / 5, "{total:?}");
    assert_eq!(total.open, n - 2 * n / 5, "{total:?}");
    assert_eq!(total.open + total.closed + total.rejected, n, "{total:?}");
    assert_eq!(
        total.close_times.unwrap_or_default().count,
        n / 5,
        "{total:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_killed_projection_converges_and_matches_a_fresh_replay() -> anyhow::Result<()> {
    const N: usize = 120; // 120 requests, 336 commands
    let mut sys = System::builder().batch_size(16).start().await?;
    let mut query = sys.query();

    // Kill the projection while it folds the live workload.
    let workload = tokio::spawn(run_workload(sys.intake(), 0..N));
    let seen = eventually(CONVERGE, "projection folding the workload", || async {
        let at = applied(&query).await?;
        anyhow::ensure!(at >= 60, "at {at}");
        Ok(at)
    })
    .await?;
    sys.projection_mut().kill9();
    let (ids, last) = workload.await??;
    assert_eq!(ids.len(), N);
    assert_eq!(sys.log_position().await?, last);
    let commands: u64 = (0..N).map(script_len).sum();
    assert_eq!(last, commands, "one event per command");
    eprintln!("killed the projection at position >= {seen} of {last}");

    // Restart; kill it again as soon as it has folded a batch of the
    // backlog (so while it catches up), a few times.
    for round in 0..3 {
        sys.projection_mut().restart().await?;
        query = sys.query();
        let recovered = applied(&query).await?;
        let mut at = recovered;
        let deadline = std::time::Instant::now() + CONVERGE;
        while at == recovered && at < last && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
            at = applied(&query).await?;
        }
        sys.projection_mut().kill9();
        eprintln!(
            "round {round}: restarted at position {recovered}, killed at {at} or later, of {last}"
        );
    }
    sys.projection_mut().restart().await?;
    query = sys.query();
    wait_applied(&query, last).await?;
    check_converged(&query, &ids, last).await?;

    // A replica on a fresh data dir replays from sequence 1 to the same answers.
    let fresh = sys.spawn_projection().await?;
    let fresh_query = sys.query_at(&fresh);
    wait_applied(&fresh_query, last).await?;
    check_converged(&fresh_query, &ids, last).await?;
    let as_of = date_in_days(10);
    assert_eq!(
        board(&query, &as_of, last).await?,
        board(&fresh_query, &as_of, last).await?,
        "boards are identical"
    );
    let filter = pb::ListRequestsRequest {
        min_position: last,
        ..Default::default()
    };
    assert_eq!(
        list_all(&query, filter.clone(), 25).await?,
        list_all(&fresh_query, filter, 25).await?,
        "listings are identical"
    );
    for id in ids.keys() {
        assert_eq!(
            get_request(&query, id, last).await?,
            get_request(&fresh_query, id, last).await?,
            "request {id} is identical"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_stopped_projection_resumes_from_its_checkpoint() -> anyhow::Result<()> {
    let mut sys = System::start().await?;
    let mut query = sys.query();
    let (mut ids, last) = run_workload(sys.intake(), 0..10).await?;
    wait_applied(&query, last).await?;

    // Stopped gracefully, it misses writes, then catches up on restart.
    let status = sys.projection_mut().terminate().await?;
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
    let (more, last) = run_workload(sys.intake(), 10..20).await?;
    ids.extend(more);
    sys.projection_mut().restart().await?;
    query = sys.query();
    wait_applied(&query, last).await?;
    check_converged(&query, &ids, last).await?;

    // Restarting at the end of the log applies nothing twice.
    sys.projection_mut().restart().await?;
    query = sys.query();
    tokio::time::timeout(Duration::from_secs(60), wait_applied(&query, last)).await??;
    check_converged(&query, &ids, last).await?;
    Ok(())
}
