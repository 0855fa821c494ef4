//! What operators watch: Prometheus metrics from both services, gRPC
//! health that follows real readiness (NATS reachable; projection caught up),
//! and logs that never carry a payload, even at `RUST_LOG=trace`.

use std::time::Duration;

use sy_tests::client::*;
use sy_tests::metrics::{sample, scrape};
use sy_tests::{NatsServer, ServiceBuilder, eventually, free_port, health, wait_applied};
use tonic_health::pb::health_check_response::ServingStatus;

#[tokio::test]
async fn metrics_and_health_follow_what_happens() -> anyhow::Result<()> {
    let mut nats = NatsServer::start().await?;
    let stream = "OBSERVED";
    let (intake_port, projection_port) = (free_port()?, free_port()?);
    let intake = ServiceBuilder::intake(&nats, stream)
        .flag("--metrics-listen", format!("127.0.0.1:{intake_port}"))
        .start()
        .await?;
    let data = tempfile::tempdir()?;
    let projection = ServiceBuilder::projection(&nats, stream, data.path())
        .flag("--metrics-listen", format!("127.0.0.1:{projection_port}"))
        .start()
        .await?;

    let mut client = intake_client(intake.channel(), AGENCY, USER);
    let submitted = client
        .submit_request(submit_command(&new_key("observed")))
        .await?
        .into_inner();
    let mut bad = submit_command(&new_key("observed-bad"));
    bad.area_code = "123".into();
    assert!(client.submit_request(bad).await.is_err());
    let query = query_client(projection.channel());
    wait_applied(&query, submitted.position).await?;

    let intake_metrics = scrape(intake_port).await?;
    assert_eq!(
        sample(
            &intake_metrics,
            "sy_intake_commands_total{command=\"SubmitRequestCommand\",outcome=\"ok\"}"
        ),
        Some(1.0),
        "{intake_metrics}"
    );
    assert_eq!(
        sample(
            &intake_metrics,
            "sy_intake_commands_total{command=\"SubmitRequestCommand\",outcome=\"INVALID_ARGUMENT\"}"
        ),
        Some(1.0)
    );
    assert!(intake_metrics.contains("sy_intake_publish_seconds"));
    assert!(intake_metrics.contains(
        "sy_grpc_requests_total{service=\"Intake\",method=\"SubmitRequest\",code=\"INVALID_ARGUMENT\"} 1"
    ));

    // Gauges refresh every second.
    let projection_metrics = eventually(Duration::from_secs(10), "lag gauges", || async {
        let text = scrape(projection_port).await?;
        anyhow::ensure!(
            sample(&text, "sy_projection_log_position") == Some(submitted.position as f64),
            "not yet"
        );
        Ok(text)
    })
    .await?;
    assert_eq!(
        sample(&projection_metrics, "sy_projection_applied_position"),
        Some(submitted.position as f64)
    );
    assert_eq!(
        sample(&projection_metrics, "sy_projection_lag_events"),
        Some(0.0)
    );
    assert_eq!(
        sample(&projection_metrics, "sy_projection_quarantined"),
        Some(0.0)
    );
    assert!(projection_metrics.contains("sy_projection_events_total{verdict=\"applied\"} 1"));
    assert!(projection_metrics.contains("sy_grpc_request_seconds"));

    // Health: both serving; without NATS, intake stops serving and so does
    // the projection (it can no longer tell how far behind it is).
    for (channel, service) in [
        (intake.channel(), "shuangyong.v1.Intake"),
        (projection.channel(), "shuangyong.v1.Query"),
    ] {
        eventually(Duration::from_secs(10), "serving", || {
            let channel = channel.clone();
            async move {
                anyhow::ensure!(health(channel, service).await? == ServingStatus::Serving);
                Ok(())
            }
        })
        .await?;
    }
    nats.kill();
    for (channel, service) in [
        (intake.channel(), "shuangyong.v1.Intake"),
        (projection.channel(), "shuangyong.v1.Query"),
    ] {
        eventually(Duration::from_secs(15), "not serving", || {
            let channel = channel.clone();
            async move {
                anyhow::ensure!(health(channel, service).await? == ServingStatus::NotServing);
                Ok(())
            }
        })
        .await?;
    }
    Ok(())
}

#[tokio::test]
async fn no_log_level_prints_a_payload() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let intake = ServiceBuilder::intake(&nats, "TRACE")
        .env("RUST_LOG", "trace")
        .start()
        .await?;
    let id_number = fresh_id_number(40);
    placements_client(intake.channel(), AGENCY, USER)
        .register_person(register_person_command(
            sy_tests::pb::PersonRole::Veteran,
            &id_number,
        ))
        .await?;
    let log = intake.log();
    // Trace lines were written (the level is on), none with the ID number.
    assert!(log.contains("TRACE"), "{log}");
    assert!(!log.contains(&id_number), "the ID number is in the log");
    Ok(())
}
