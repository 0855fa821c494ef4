//! Faults with bounds: without NATS, intake fails fast with UNAVAILABLE (safe
//! to retry) while the projection keeps serving reads from sled; with NATS
//! back, both recover on their own. A read that asks for a position the
//! projection has not reached waits a bounded time, then says where it is.

use std::time::{Duration, Instant};

use sy_api::status::POSITION_METADATA;
use sy_tests::client::*;
use sy_tests::pb::{self, RequestStatus as S};
use sy_tests::{CONVERGE, System, board, eventually, get_request, list_all};

/// A fault bound, not a performance target: a caller must learn of an outage
/// within seconds instead of hanging.
const FAIL_FAST: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_nats_outage_fails_commands_fast_and_reads_go_on() -> anyhow::Result<()> {
    let mut sys = System::builder().nats_timeout_ms(1000).start().await?;
    let mut intake = sys.intake();
    let query = sys.query();
    let before = sys.submit().await?;
    let id = before.aggregate_id.clone();
    get_request(&query, &id, before.position).await?;

    sys.nats.kill();

    // Commands: UNAVAILABLE, quickly, on a new request and on an existing one.
    let key = new_key("outage");
    let started = Instant::now();
    let status = intake
        .submit_request(submit_command(&key))
        .await
        .expect_err("no log, no write");
    let elapsed = started.elapsed();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(elapsed < FAIL_FAST, "submit took {elapsed:?} to fail");
    let started = Instant::now();
    let status = intake
        .assign_request(assign_command(&id, DEPARTMENT, 3))
        .await
        .expect_err("no log, no write");
    let elapsed = started.elapsed();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(elapsed < FAIL_FAST, "assign took {elapsed:?} to fail");

    // Reads: served from sled at the position already applied.
    let request = get_request(&query, &id, before.position).await?;
    assert_eq!(request.status(), S::Submitted);
    let listed = list_all(
        &query,
        pb::ListRequestsRequest {
            min_position: before.position,
            ..Default::default()
        },
        10,
    )
    .await?;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        board(&query, "", before.position)
            .await?
            .total
            .unwrap()
            .open,
        1
    );

    // NATS back: the retried submission (same key) goes through, once.
    sys.nats.restart().await?;
    let back = Instant::now();
    let retried = eventually(CONVERGE, "intake writing again", || {
        let mut intake = intake.clone();
        let command = submit_command(&key);
        async move { Ok(intake.submit_request(command).await?.into_inner()) }
    })
    .await?;
    assert_ne!(retried.aggregate_id, id);
    assert!(retried.position > before.position);
    let assigned = intake
        .assign_request(assign_command(&id, DEPARTMENT, 3))
        .await?
        .into_inner();
    assert_eq!(assigned.version, 2);
    assert_eq!(sys.log_position().await?, assigned.position);
    assert_eq!(
        assigned.position,
        before.position + 2,
        "nothing written twice"
    );

    // And the projection follows the log again.
    let request = get_request(&query, &retried.aggregate_id, retried.position).await;
    let request = match request {
        Ok(request) => request,
        // Its bounded wait may end before it has reconnected: poll.
        Err(_) => {
            eventually(CONVERGE, "projection following the log again", || {
                get_request(&query, &retried.aggregate_id, retried.position)
            })
            .await?
        }
    };
    assert_eq!(request.status(), S::Submitted);
    let request = eventually(CONVERGE, "projection applying the assignment", || {
        get_request(&query, &id, assigned.position)
    })
    .await?;
    assert_eq!(request.status(), S::Assigned);
    // Not a bound the contract sets; shown so a slow recovery is visible.
    eprintln!(
        "projection applied the first write after the outage {:?} after nats came back",
        back.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn a_position_beyond_the_log_is_unavailable_after_a_bounded_wait() -> anyhow::Result<()> {
    let sys = System::builder().max_wait_ms(300).start().await?;
    let written = sys.submit().await?;
    let id = written.aggregate_id.clone();
    let mut query = sys.query();
    get_request(&query, &id, written.position).await?;

    let far = written.position + 1_000_000;
    let check = |status: tonic::Status, elapsed: Duration, call: &str| {
        assert_eq!(
            status.code(),
            tonic::Code::Unavailable,
            "{call}: {status:?}"
        );
        let current: u64 = status
            .metadata()
            .get(POSITION_METADATA)
            .unwrap_or_else(|| panic!("{call}: no {POSITION_METADATA} metadata: {status:?}"))
            .to_str()?
            .parse()?;
        assert!(
            current >= written.position && current < far,
            "{call}: {POSITION_METADATA} {current} is the applied position"
        );
        assert!(
            elapsed >= Duration::from_millis(250),
            "{call}: waited only {elapsed:?} of --max-wait-ms 300"
        );
        assert!(
            elapsed < FAIL_FAST,
            "{call}: waited {elapsed:?}, bounded by 300 ms"
        );
        anyhow::Ok(())
    };

    let started = Instant::now();
    let status = query
        .get_request(pb::GetRequestRequest {
            id: id.clone(),
            min_position: far,
        })
        .await
        .expect_err("not applied");
    check(status, started.elapsed(), "GetRequest")?;

    let started = Instant::now();
    let status = query
        .list_requests(pb::ListRequestsRequest {
            min_position: far,
            ..Default::default()
        })
        .await
        .expect_err("not applied");
    check(status, started.elapsed(), "ListRequests")?;

    let started = Instant::now();
    let status = query
        .get_clearance_board(pb::GetClearanceBoardRequest {
            as_of: String::new(),
            min_position: far,
            ..Default::default()
        })
        .await
        .expect_err("not applied");
    check(status, started.elapsed(), "GetClearanceBoard")?;

    // A position a moment ahead is waited for, not refused: write and read at once.
    let next = sys
        .intake()
        .assign_request(assign_command(&id, DEPARTMENT, 3))
        .await?
        .into_inner();
    let request = get_request(&query, &id, next.position).await?;
    assert_eq!(request.version, 2);
    Ok(())
}
