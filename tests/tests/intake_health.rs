//! Intake's health follows whether JetStream answers, not whether a socket
//! is open: a hung NATS (SIGSTOP: connections stay up, nothing answers)
//! makes intake `NOT_SERVING` within seconds and `SERVING` again once it
//! answers, with `sy_intake_log_reachable` saying the same. A command
//! answered `UNAVAILABLE` while NATS hung has an unknown outcome, and
//! retrying it with the same key settles it: one event, whichever way it
//! went. Reflection answers in both protocol versions tools speak.

use std::time::Duration;

use futures::StreamExt as _;
use sy_tests::client::*;
use sy_tests::metrics::{sample, scrape};
use sy_tests::{NatsServer, ServiceBuilder, System, eventually, free_port, health};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_reflection::pb::{v1, v1alpha};

/// A fault bound, not a performance target: probes run every second with a
/// one-second deadline, and two failures withdraw a replica.
const NOTICED: Duration = Duration::from_secs(15);

/// Waits until both the server's and the Intake service's health are `want`.
async fn until_health(
    channel: &tonic::transport::Channel,
    want: ServingStatus,
) -> anyhow::Result<()> {
    eventually(NOTICED, &format!("intake health {want:?}"), || {
        let channel = channel.clone();
        async move {
            for service in ["", "shuangyong.v1.Intake", "shuangyong.v1.Placements"] {
                let status = health(channel.clone(), service).await?;
                anyhow::ensure!(status == want, "{service:?} is {status:?}");
            }
            Ok(())
        }
    })
    .await
}

/// Waits until `sy_intake_log_reachable` is `want`.
async fn until_reachable(port: u16, want: f64) -> anyhow::Result<()> {
    eventually(
        NOTICED,
        &format!("sy_intake_log_reachable {want}"),
        || async move {
            let text = scrape(port).await?;
            let value = sample(&text, "sy_intake_log_reachable");
            anyhow::ensure!(value == Some(want), "{value:?}");
            Ok(())
        },
    )
    .await
}

#[tokio::test]
async fn a_hung_nats_makes_intake_not_serving_until_it_answers_again() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let metrics_port = free_port()?;
    let intake = ServiceBuilder::intake(&nats, "HUNG")
        .flag("--metrics-listen", format!("127.0.0.1:{metrics_port}"))
        .flag("--nats-timeout-ms", 1000)
        .start()
        .await?;
    let channel = intake.channel();
    until_health(&channel, ServingStatus::Serving).await?;
    until_reachable(metrics_port, 1.0).await?;

    nats.pause()?;
    let paused = std::time::Instant::now();
    let outcome = async {
        until_health(&channel, ServingStatus::NotServing).await?;
        eprintln!("NOT_SERVING {:?} after the pause", paused.elapsed());
        until_reachable(metrics_port, 0.0).await?;
        let text = scrape(metrics_port).await?;
        assert_eq!(
            sample(&text, "sy_intake_nats_connected"),
            Some(1.0),
            "the socket is still up: connection state alone cannot tell"
        );
        anyhow::Ok(())
    }
    .await;
    // Resumed whatever happened, so a failure does not leave it stopped.
    nats.resume()?;
    outcome?;

    let resumed = std::time::Instant::now();
    until_health(&channel, ServingStatus::Serving).await?;
    eprintln!("SERVING {:?} after the resume", resumed.elapsed());
    until_reachable(metrics_port, 1.0).await?;
    let mut client = intake_client(channel, AGENCY, USER);
    client
        .submit_request(submit_command(&new_key("after-hang")))
        .await?;
    assert!(
        intake.log().contains("readiness changed"),
        "the transitions are logged"
    );
    Ok(())
}

#[tokio::test]
async fn an_unavailable_command_is_settled_by_retrying_its_key() -> anyhow::Result<()> {
    let sys = System::builder().nats_timeout_ms(1000).start().await?;
    let mut intake = sys.intake();
    let before = sys.log_position().await?;
    let key = new_key("hung");

    sys.nats.pause()?;
    // Sent once intake itself sees the log hung.
    let during = async {
        until_health(&sys.intake.channel(), ServingStatus::NotServing).await?;
        anyhow::Ok(intake.submit_request(submit_command(&key)).await)
    }
    .await;
    sys.nats.resume()?;
    let during = during?;
    let status = during.expect_err("no answer from a hung log");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");

    // The publish may have reached the server before it stopped: then it was
    // stored once NATS ran again, and the retry replays it; else the retry
    // writes it. One event either way.
    let retried = eventually(NOTICED, "the retry answered", || {
        let mut intake = intake.clone();
        let command = submit_command(&key);
        async move { Ok(intake.submit_request(command).await?.into_inner()) }
    })
    .await?;
    eprintln!("stored while hung, retry replayed: {}", retried.replayed);
    assert_eq!(retried.position, before + 1, "{retried:?}");
    assert_eq!(
        sys.log_position().await?,
        before + 1,
        "one event, whichever way it went"
    );
    Ok(())
}

#[tokio::test]
async fn reflection_lists_the_services_in_v1_and_v1alpha() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let expected = [
        "grpc.health.v1.Health",
        "shuangyong.v1.Intake",
        "shuangyong.v1.Placements",
    ];

    let mut v1_client =
        v1::server_reflection_client::ServerReflectionClient::new(sys.intake.channel());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut replies = v1_client
        .server_reflection_info(futures::stream::iter([request]))
        .await?
        .into_inner();
    let reply = replies.next().await.expect("one reply")?;
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(listed)) =
        reply.message_response
    else {
        panic!("not a service list: {reply:?}");
    };
    let names: Vec<String> = listed.service.into_iter().map(|s| s.name).collect();
    for name in expected
        .iter()
        .chain(&["grpc.reflection.v1.ServerReflection"])
    {
        assert!(
            names.iter().any(|n| n.as_str() == *name),
            "v1 lists {names:?}"
        );
    }

    let mut alpha_client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(sys.intake.channel());
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut replies = alpha_client
        .server_reflection_info(futures::stream::iter([request]))
        .await?
        .into_inner();
    let reply = replies.next().await.expect("one reply")?;
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(listed)) =
        reply.message_response
    else {
        panic!("not a service list: {reply:?}");
    };
    let names: Vec<String> = listed.service.into_iter().map(|s| s.name).collect();
    for name in expected
        .iter()
        .chain(&["grpc.reflection.v1alpha.ServerReflection"])
    {
        assert!(
            names.iter().any(|n| n.as_str() == *name),
            "v1alpha lists {names:?}"
        );
    }

    // v1alpha describes the messages too, not just the names.
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "shuangyong.v1.Intake".into(),
            ),
        ),
    };
    let mut replies = alpha_client
        .server_reflection_info(futures::stream::iter([request]))
        .await?
        .into_inner();
    let reply = replies.next().await.expect("one reply")?;
    let Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(files)) =
        reply.message_response
    else {
        panic!("no file descriptor for shuangyong.v1.Intake: {reply:?}");
    };
    assert!(!files.file_descriptor_proto.is_empty());
    Ok(())
}
