//! An event written by a newer release (issue 11, item 6b): its envelope's
//! `schema_version` is past what this release reads, so the projection
//! quarantines it as designed (reason, `sy quarantine`, the
//! `sy_projection_quarantined` gauge) instead of guessing at it, reads and
//! the fold go on, and intake answers `DATA_LOSS` for that aggregate only.
//!
//! The quarantine is a property of a fold, not of the log: the event stays
//! in the log as written, and every fold from position 1 by the same
//! release decides it again (a fresh replica quarantines it at the same
//! position; an online rebuild agrees with the live model). That is how a
//! replica recovers after its own upgrade: the quarantine entry records the
//! event's schema version, and a release that reads it folds the log again
//! into a new generation at start and applies it. Running that release
//! here would take a second build; the projection's unit test
//! `an_upgraded_release_folds_again_what_an_older_one_quarantined_as_newer`
//! plays it with the fold's schema version as a parameter.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use futures::StreamExt as _;
use prost::Message as _;
use sy_domain::event::{SCHEMA_VERSION, subject};
use sy_domain::pb::EventEnvelope;
use sy_domain::signature::EventSigner;
use sy_tests::client::*;
use sy_tests::metrics::{sample, scrape};
use sy_tests::pb::{self, rebuild_progress::Phase};
use sy_tests::{CONVERGE, System, expect_code, free_port, get_request, wait_applied};

/// `envelope` as a newer release would write a new request: another id, a
/// schema version this release does not read, signed by this system's
/// intake (so only the version is wrong).
fn from_a_newer_release(envelope: &EventEnvelope, signer: &EventSigner) -> (String, Vec<u8>) {
    let mut newer = envelope.clone();
    let id = uuid::Uuid::now_v7().to_string();
    newer.aggregate_id = id.clone();
    newer.event_id = uuid::Uuid::now_v7().to_string();
    newer.idempotency_key = new_key("newer-release");
    newer.schema_version = SCHEMA_VERSION + 1;
    newer.signature.clear();
    newer.signing_key_id.clear();
    let bytes = signer.sign(&mut newer);
    (id, bytes)
}

async fn status(query: &QueryClient, position: u64) -> anyhow::Result<pb::ProjectionStatus> {
    Ok(query
        .clone()
        .get_projection_status(pb::GetProjectionStatusRequest {
            include_read_model_digest: true,
            min_position: position,
        })
        .await?
        .into_inner())
}

#[tokio::test]
async fn an_event_of_a_newer_schema_is_quarantined_reads_go_on_and_every_fold_decides_it_again()
-> anyhow::Result<()> {
    let system = System::start().await?;
    let before = system.submit().await?;

    // A submission as a newer release writes it, signed by intake's key.
    let js = async_nats::jetstream::new(system.nats.client().await?);
    let stored = js
        .get_stream(system.stream())
        .await?
        .get_raw_message(before.position)
        .await?;
    let envelope = EventEnvelope::decode(stored.payload.as_ref())?;
    let signer = EventSigner::parse(&std::fs::read_to_string(system.signing_key_file())?)?;
    let (newer_id, bytes) = from_a_newer_release(&envelope, &signer);
    let newer_at = system
        .publish_raw(&subject("request", &newer_id), bytes)
        .await?;

    // The fold goes on past it.
    let after = system.submit().await?;
    assert!(after.position > newer_at);
    let query = system.query();
    wait_applied(&query, after.position).await?;
    let served = get_request(&query, &after.aggregate_id, after.position).await?;
    assert_eq!(served.version, 1);

    // Quarantined with the reason, and not served.
    let listed = query
        .clone()
        .list_quarantined(pb::ListQuarantinedRequest::default())
        .await?
        .into_inner();
    assert_eq!(listed.events.len(), 1, "{listed:?}");
    let quarantined = &listed.events[0];
    assert_eq!(quarantined.position, newer_at);
    assert!(
        quarantined.reason.contains(&format!(
            "schema version {}; this release reads up to {SCHEMA_VERSION}",
            SCHEMA_VERSION + 1
        )),
        "{}",
        quarantined.reason
    );
    let missing = query
        .clone()
        .get_request(pb::GetRequestRequest {
            id: newer_id.clone(),
            min_position: after.position,
        })
        .await;
    expect_code(missing, tonic::Code::NotFound);
    let (code, text) =
        sy_tests::process::sy(["--query-url", &system.projection().endpoint(), "quarantine"])
            .await?;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("schema version"), "{text}");

    // Intake refuses to decide on what it cannot read, and only there.
    let refused = system
        .intake()
        .assign_request(assign_command(&newer_id, DEPARTMENT, 10))
        .await;
    expect_code(refused, tonic::Code::DataLoss);
    let assigned = system
        .intake_as(DEPARTMENT_AGENCY, USER)
        .assign_request(assign_command(&after.aggregate_id, DEPARTMENT, 10))
        .await?
        .into_inner();
    wait_applied(&query, assigned.position).await?;
    let live = status(&query, assigned.position).await?;
    assert_eq!(live.quarantined, 1);

    // Every fold decides it again: a fresh replica (what an upgraded
    // release starts from) quarantines the same event and reaches the same
    // digests, with the gauge operators watch.
    let metrics_port = free_port()?;
    let fresh = system
        .projection_builder()
        .flag("--metrics-listen", format!("127.0.0.1:{metrics_port}"))
        .start()
        .await?;
    let fresh_query = system.query_at(&fresh);
    wait_applied(&fresh_query, assigned.position).await?;
    let replayed = status(&fresh_query, assigned.position).await?;
    assert_eq!(replayed.quarantined, 1);
    assert_eq!(replayed.log_digest, live.log_digest);
    assert_eq!(replayed.read_model_digest, live.read_model_digest);
    // The gauge is refreshed every second.
    let metrics = eventually(CONVERGE, "the quarantine gauge", || async move {
        let metrics = scrape(metrics_port).await?;
        anyhow::ensure!(
            sample(&metrics, "sy_projection_quarantined") == Some(1.0),
            "{metrics}"
        );
        Ok(metrics)
    })
    .await?;
    assert_eq!(
        sample(
            &metrics,
            "sy_projection_events_total{verdict=\"quarantined\"}"
        ),
        Some(1.0),
        "{metrics}"
    );

    // And an online rebuild of the live replica, folding from 1 with the
    // same release, agrees with it and switches.
    let mut progress = pb::admin_client::AdminClient::new(system.projection().channel())
        .rebuild(pb::RebuildRequest {})
        .await?
        .into_inner();
    let mut last_phase = Phase::Unspecified;
    while let Some(message) = progress.next().await {
        last_phase = message?.phase();
    }
    assert_eq!(last_phase, Phase::Switched);
    let rebuilt = status(&query, assigned.position).await?;
    assert_eq!(rebuilt.quarantined, 1);
    assert_eq!(rebuilt.read_model_digest, live.read_model_digest);
    Ok(())
}
