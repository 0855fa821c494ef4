//! Auditors' guarantees end to end: a replay from sequence 1 equals the live
//! projection byte for byte (log digest and read model digest), also after a
//! kill -9 mid-fold; a blue/green rebuild switches without stopping reads;
//! a read-only replica serves a data dir as it was.

use std::time::Duration;

use futures::StreamExt;
use sy_tests::client::*;
use sy_tests::pb::{self, rebuild_progress::Phase};
use sy_tests::{QueryClient, Service, System, wait_applied};

/// Drives `n` requests through a few commands each; returns the last position.
async fn workload(system: &System, tag: &str, n: usize) -> anyhow::Result<u64> {
    let mut intake = system.intake();
    let mut last = 0;
    for i in 0..n {
        let submitted = intake
            .submit_request(submit_command(&new_key(&format!("{tag}-{i}"))))
            .await?
            .into_inner();
        last = submitted.position;
        if i % 2 == 0 {
            let id = submitted.aggregate_id;
            intake
                .assign_request(assign_command(&id, "dept-audit", 10))
                .await?;
            last = intake
                .start_request(start_command(&id))
                .await?
                .into_inner()
                .position;
        }
    }
    Ok(last)
}

async fn status(query: &mut QueryClient, position: u64) -> anyhow::Result<pb::ProjectionStatus> {
    Ok(query
        .get_projection_status(pb::GetProjectionStatusRequest {
            include_read_model_digest: true,
            min_position: position,
        })
        .await?
        .into_inner())
}

fn admin(projection: &Service) -> pb::admin_client::AdminClient<tonic::transport::Channel> {
    pb::admin_client::AdminClient::new(projection.channel())
}

#[tokio::test]
async fn a_replay_equals_the_live_projection_after_a_crash() -> anyhow::Result<()> {
    let mut system = System::builder().batch_size(7).start().await?;
    let load = tokio::spawn({
        let intake = system.intake();
        async move {
            let mut intake = intake;
            let mut last = 0;
            for i in 0..60 {
                last = intake
                    .submit_request(submit_command(&new_key(&format!("crash-{i}"))))
                    .await?
                    .into_inner()
                    .position;
            }
            anyhow::Ok(last)
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    system.projection_mut().kill9();
    let last = load.await??;
    system.projection_mut().restart().await?;
    wait_applied(&system.query(), last).await?;

    let fresh = system.spawn_projection().await?;
    let mut fresh_query = system.query_at(&fresh);
    wait_applied(&fresh_query, last).await?;

    let live = status(&mut system.query(), last).await?;
    let replayed = status(&mut fresh_query, last).await?;
    assert_eq!(live.position, last);
    assert_eq!(replayed.position, last);
    assert_eq!(live.log_digest, replayed.log_digest);
    assert_eq!(live.read_model_digest, replayed.read_model_digest);
    assert_eq!(live.read_model_digest.len(), 64);
    assert_eq!(live.quarantined, 0);
    assert!(live.log_reachable);
    assert_eq!(live.log_last_position, last);
    Ok(())
}

#[tokio::test]
async fn a_rebuild_switches_without_stopping_reads() -> anyhow::Result<()> {
    let system = System::start().await?;
    let before = workload(&system, "before", 40).await?;
    wait_applied(&system.query(), before).await?;
    let probe = system.submit().await?;

    // Reads and writes go on during the rebuild.
    let reader = tokio::spawn({
        let query = system.query();
        let id = probe.aggregate_id.clone();
        async move {
            let mut query = query;
            let mut reads = 0;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
            while tokio::time::Instant::now() < deadline {
                query
                    .get_request(pb::GetRequestRequest {
                        id: id.clone(),
                        min_position: probe.position,
                    })
                    .await?;
                reads += 1;
            }
            anyhow::Ok(reads)
        }
    });
    let writer = tokio::spawn({
        let system_intake = system.intake();
        async move {
            let mut intake = system_intake;
            let mut last = 0;
            for i in 0..30 {
                last = intake
                    .submit_request(submit_command(&new_key(&format!("during-{i}"))))
                    .await?
                    .into_inner()
                    .position;
            }
            anyhow::Ok(last)
        }
    });

    let mut progress = admin(system.projection())
        .rebuild(pb::RebuildRequest {})
        .await?
        .into_inner();
    let mut phases = Vec::new();
    let mut switched = None;
    while let Some(message) = progress.next().await {
        let message = message?;
        if phases.last() != Some(&message.phase()) {
            phases.push(message.phase());
        }
        if message.phase() == Phase::Switched {
            switched = Some(message);
        }
    }
    let switched = switched.expect("the rebuild switched");
    assert_eq!(phases.last(), Some(&Phase::Switched));
    assert!(phases.contains(&Phase::Verifying));
    assert_eq!(switched.log_digest.len(), 64);
    assert!(
        switched.data_dir.ends_with("gen-2"),
        "{}",
        switched.data_dir
    );
    assert!(reader.await?? > 0, "reads kept being answered");
    let last = writer.await??;

    // The switched-to model keeps following the log and equals a fresh replay.
    let mut query = system.query();
    wait_applied(&query, last).await?;
    let fresh = system.spawn_projection().await?;
    let mut fresh_query = system.query_at(&fresh);
    wait_applied(&fresh_query, last).await?;
    let live = status(&mut query, last).await?;
    let replayed = status(&mut fresh_query, last).await?;
    assert_eq!(live.log_digest, replayed.log_digest);
    assert_eq!(live.read_model_digest, replayed.read_model_digest);

    // A second rebuild at the same time is refused.
    let mut admin_client = admin(system.projection());
    let first = admin_client.rebuild(pb::RebuildRequest {}).await?;
    let second = admin_client.rebuild(pb::RebuildRequest {}).await;
    match second {
        Err(status) => assert_eq!(status.code(), tonic::Code::FailedPrecondition),
        // The first finished already on a tiny store; then the second runs.
        Ok(stream) => drop(stream),
    }
    drop(first);
    Ok(())
}

#[tokio::test]
async fn a_read_only_replica_serves_its_data_dir_as_it_is() -> anyhow::Result<()> {
    let system = System::start().await?;
    let last = workload(&system, "frozen", 6).await?;
    let dir = tempfile::tempdir()?;
    let mut follower = system.projection_on(dir.path()).start().await?;
    let mut query = system.query_at(&follower);
    wait_applied(&query, last).await?;
    let frozen_board = sy_tests::board(&query, "2030-01-01", last).await?;
    let frozen_status = status(&mut query, last).await?;
    follower.terminate().await?;

    // The stopped replica's data dir, served read-only while the log moves on.
    let read_only = system
        .projection_on(dir.path())
        .arg("--read-only")
        .start()
        .await?;
    let after = workload(&system, "later", 3).await?;
    wait_applied(&system.query(), after).await?;

    let mut frozen = system.query_at(&read_only);
    let now = status(&mut frozen, 0).await?;
    assert!(now.read_only);
    assert_eq!(now.position, last);
    assert_eq!(now.log_digest, frozen_status.log_digest);
    assert_eq!(now.read_model_digest, frozen_status.read_model_digest);
    let board = sy_tests::board(&frozen, "2030-01-01", 0).await?;
    assert_eq!(board, frozen_board);
    // It never reaches a position past its own.
    let unreachable = frozen
        .get_clearance_board(pb::GetClearanceBoardRequest {
            as_of: String::new(),
            min_position: after,
            ..Default::default()
        })
        .await;
    assert_eq!(unreachable.unwrap_err().code(), tonic::Code::Unavailable);
    // And it cannot be rebuilt.
    let refused = admin(&read_only).rebuild(pb::RebuildRequest {}).await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::FailedPrecondition);
    Ok(())
}

#[tokio::test]
async fn poison_events_are_quarantined_listed_and_rebuilt_the_same() -> anyhow::Result<()> {
    let system = System::start().await?;
    let first = workload(&system, "poison", 3).await?;
    let id = uuid::Uuid::new_v4();
    let garbage = system
        .publish_raw(
            &format!("sy.evt.request.{id}"),
            &b"\xff\x00 not an envelope"[..],
        )
        .await?;
    let last = workload(&system, "after-poison", 3).await?;
    assert!(first < garbage && garbage < last);
    let mut query = system.query();
    wait_applied(&query, last).await?;

    let listed = query
        .list_quarantined(pb::ListQuarantinedRequest::default())
        .await?
        .into_inner();
    assert_eq!(listed.events.len(), 1);
    let poisoned = &listed.events[0];
    assert_eq!(poisoned.position, garbage);
    assert_eq!(poisoned.subject, format!("sy.evt.request.{id}"));
    assert!(
        poisoned.reason.contains("cannot decode"),
        "{}",
        poisoned.reason
    );
    // Served as its length and hash only: undecodable bytes may hold anything.
    let garbage_bytes = b"\xff\x00 not an envelope";
    assert!(poisoned.payload.is_empty() && poisoned.redacted_payload.is_empty());
    assert_eq!(poisoned.payload_size, garbage_bytes.len() as u64);
    assert_eq!(
        poisoned.payload_hash,
        sy_domain::event::hash(garbage_bytes).to_vec()
    );
    let before = status(&mut query, last).await?;
    assert_eq!(before.quarantined, 1);

    // A rebuild folds the same log to the same quarantine (the digests cover it).
    let mut progress = admin(system.projection())
        .rebuild(pb::RebuildRequest {})
        .await?
        .into_inner();
    let mut last_phase = Phase::Unspecified;
    while let Some(message) = progress.next().await {
        last_phase = message?.phase();
    }
    assert_eq!(last_phase, Phase::Switched);
    let after = status(&mut query, last).await?;
    assert_eq!(after.quarantined, 1);
    assert_eq!(after.read_model_digest, before.read_model_digest);
    let relisted = query
        .list_quarantined(pb::ListQuarantinedRequest::default())
        .await?
        .into_inner();
    assert_eq!(relisted.events, listed.events);
    Ok(())
}

#[tokio::test]
async fn as_of_rebuilds_what_the_live_projection_served_and_exports_verify() -> anyhow::Result<()> {
    let system = System::start().await?;
    let midpoint = workload(&system, "early", 8).await?;
    let query = system.query();
    wait_applied(&query, midpoint).await?;
    // What the live projection served at the midpoint.
    let served_board = sy_tests::board(&query, "2030-01-01", midpoint).await?;
    let served_list = sy_tests::list_all(&query, pb::ListRequestsRequest::default(), 3).await?;
    let served_status = status(&mut query.clone(), midpoint).await?;
    assert_eq!(served_board.position, midpoint);

    let end = workload(&system, "late", 5).await?;
    wait_applied(&query, end).await?;

    let out = tempfile::tempdir()?;
    let dir = out.path().join("as-of");
    let (code, text) = system
        .sy(&[
            "as-of",
            "--position",
            &midpoint.to_string(),
            "--out",
            dir.to_str().unwrap(),
        ])
        .await?;
    assert_eq!(code, 0, "{text}");
    let frozen = system
        .projection_on(&dir)
        .arg("--read-only")
        .start()
        .await?;
    let mut frozen_query = system.query_at(&frozen);
    let frozen_status = status(&mut frozen_query, 0).await?;
    assert_eq!(frozen_status.position, midpoint);
    assert_eq!(frozen_status.log_digest, served_status.log_digest);
    assert_eq!(
        frozen_status.read_model_digest,
        served_status.read_model_digest
    );
    assert_eq!(
        sy_tests::board(&frozen_query, "2030-01-01", 0).await?,
        served_board
    );
    let frozen_list =
        sy_tests::list_all(&frozen_query, pb::ListRequestsRequest::default(), 3).await?;
    assert_eq!(frozen_list, served_list);

    // The exported log verifies to the live replica's digest; tampering fails.
    let export = out.path().join("log.jsonl");
    let (code, text) = system
        .sy(&["export", "--out", export.to_str().unwrap()])
        .await?;
    assert_eq!(code, 0, "{text}");
    let live_status = status(&mut query.clone(), end).await?;
    let (code, text) = system
        .sy(&[
            "verify",
            export.to_str().unwrap(),
            "--expect-digest",
            &live_status.log_digest,
            "--expect-position",
            &end.to_string(),
        ])
        .await?;
    assert_eq!(code, 0, "{text}");
    let lines: Vec<String> = std::fs::read_to_string(&export)?
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len() as u64, end);
    let dropped: String = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3)
        .map(|(_, line)| format!("{line}\n"))
        .collect();
    let tampered = out.path().join("dropped.jsonl");
    std::fs::write(&tampered, dropped)?;
    let (code, text) = system.sy(&["verify", tampered.to_str().unwrap()]).await?;
    assert_eq!(code, 3, "a dropped event must fail verification: {text}");
    assert!(
        text.contains("position 4") || text.contains("missing"),
        "{text}"
    );
    Ok(())
}
