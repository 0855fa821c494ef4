//! TLS on both gRPC servers, with real binaries: commands and reads work
//! over TLS with a bearer token (the testkit's clients and `sy`, including
//! `sy health`); a plaintext client cannot talk to a TLS server; a client
//! certificate from another CA, or an expired one, is refused in the
//! handshake while one of the deployment's CA is accepted; and a service
//! given neither TLS nor `--dev` refuses to start, naming the flags.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use std::time::Duration;

use sy_api::identity::token_hash;
use sy_api::pb;
use sy_tests::client::*;
use sy_tests::tls::write_private;
use sy_tests::{NatsServer, Pki, ServiceBuilder, binary_path, get_request};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const TOKEN: &str = "sy_tls_suite_token";

fn with_token<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    request
}

/// A gRPC health check over `channel`: what a handshake lets through.
async fn health(channel: Channel) -> Result<(), tonic::Status> {
    tokio::time::timeout(
        Duration::from_secs(10),
        HealthClient::new(channel).check(HealthCheckRequest::default()),
    )
    .await
    .map_err(|_| tonic::Status::deadline_exceeded("no answer in 10 s"))?
    .map(drop)
}

#[tokio::test]
async fn commands_and_reads_work_over_tls_with_a_token() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let tokens = pki.dir().join("tokens");
    write_private(&tokens, &format!("{} {AGENCY} {USER}\n", token_hash(TOKEN)))?;
    let nats = NatsServer::start().await?;
    let data = tempfile::tempdir()?;
    let intake = ServiceBuilder::intake(&nats, "TLS")
        .tls(&pki)
        .flag("--tokens-file", tokens.display())
        .start()
        .await?;
    let projection = ServiceBuilder::projection(&nats, "TLS", data.path())
        .tls(&pki)
        .flag("--tokens-file", tokens.display())
        .start()
        .await?;
    assert!(intake.endpoint().starts_with("https://"));

    let mut commands = intake_client(intake.channel(), AGENCY, USER);
    let accepted = commands
        .submit_request(with_token(submit_command(&new_key("tls"))))
        .await?
        .into_inner();
    let refused = commands
        .submit_request(submit_command(&new_key("tls")))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    let query = pb::query_client::QueryClient::with_interceptor(
        projection.channel(),
        |mut request: tonic::Request<()>| {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
            Ok(request)
        },
    );
    let reply = query
        .clone()
        .get_request(pb::GetRequestRequest {
            id: accepted.aggregate_id.clone(),
            min_position: accepted.position,
        })
        .await?
        .into_inner();
    assert_eq!(
        reply.request.map(|r| r.id),
        Some(accepted.aggregate_id.clone())
    );
    // Over TLS the token is still needed.
    let read = get_request(
        &pb::query_client::QueryClient::with_interceptor(
            projection.channel(),
            ActorInterceptor::new(AGENCY, USER),
        ),
        &accepted.aggregate_id,
        accepted.position,
    )
    .await;
    assert!(read.is_err(), "a read without the token passed: {read:?}");

    // `sy` over TLS with the token (`$SY_TOKEN`), and health as compose
    // checks it.
    let sy = |args: &[&str]| {
        let mut command = tokio::process::Command::new(binary_path("sy"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SY_") {
                command.env_remove(key);
            }
        }
        command
            .env("SY_TOKEN", TOKEN)
            .args(["--intake-url", &intake.endpoint()])
            .args(["--query-url", &projection.endpoint()])
            .args(args)
            .output()
    };
    let ca = pki.ca_path().display().to_string();
    let status = sy(&["status", "--ca", &ca]).await?;
    assert!(status.status.success(), "{status:?}");
    for service in [&intake, &projection] {
        // A service reports SERVING once ready (the projection: caught up).
        let mut attempts = 0;
        loop {
            let healthy = sy(&["health", "--url", &service.endpoint(), "--ca", &ca]).await?;
            if healthy.status.success() {
                break;
            }
            attempts += 1;
            assert!(attempts < 40, "{}: {healthy:?}", service.label());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let untrusted = sy(&["health", "--url", &projection.endpoint()]).await?;
    assert_eq!(untrusted.status.code(), Some(2), "{untrusted:?}");
    assert!(String::from_utf8_lossy(&untrusted.stderr).contains("--ca"));
    let plaintext = sy(&[
        "health",
        "--url",
        &projection.endpoint().replace("https://", "http://"),
    ])
    .await?;
    assert!(!plaintext.status.success(), "{plaintext:?}");
    assert!(!intake.log().contains(TOKEN));
    Ok(())
}

#[tokio::test]
async fn plaintext_clients_and_foreign_or_expired_certificates_are_refused() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let nats = NatsServer::start().await?;
    let data = tempfile::tempdir()?;
    let projection = ServiceBuilder::projection(&nats, "TLSCERTS", data.path())
        .tls(&pki)
        .start()
        .await?;

    let plaintext = Endpoint::from_shared(format!("http://{}", projection.addr()))?
        .connect_timeout(Duration::from_secs(5))
        .connect_lazy();
    let refused = health(plaintext).await.unwrap_err();
    assert_ne!(refused.code(), tonic::Code::Ok, "{refused:?}");

    let foreign = pki.other_ca.client(AGENCY, USER);
    // The server ends the handshake: the client sees the alert (UnknownCA,
    // CertificateExpired) or the connection closed, depending on timing.
    let refused = health(projection.channel_with_cert(&foreign)).await;
    assert!(refused.is_err(), "a certificate of another CA was accepted");
    let expired = pki.ca.expired_client(AGENCY, USER);
    let refused = health(projection.channel_with_cert(&expired)).await;
    assert!(refused.is_err(), "an expired certificate was accepted");

    // The deployment's own client certificates, and callers without one
    // (who then authenticate with a token), are served.
    health(projection.channel_with_cert(&pki.ca.client(AGENCY, USER))).await?;
    health(projection.channel()).await?;
    Ok(())
}

#[tokio::test]
async fn without_tls_or_dev_a_service_refuses_to_start() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let data = tempfile::tempdir()?;
    for service in [
        ServiceBuilder::intake(&nats, "PLAIN"),
        ServiceBuilder::projection(&nats, "PLAIN", data.path()),
    ] {
        let err = match service.without_dev().start().await {
            Ok(service) => anyhow::bail!("{} started without TLS or --dev", service.label()),
            Err(err) => format!("{err:#}"),
        };
        assert!(
            err.contains("refusing to serve plaintext gRPC")
                && err.contains("--tls-cert")
                && err.contains("--tls-key")
                && err.contains("--dev"),
            "{err}"
        );
    }
    // Half a configuration is refused even in development mode.
    let pki = Pki::new()?;
    let half = ServiceBuilder::projection(&nats, "PLAIN", data.path())
        .flag("--tls-cert", pki.server_cert().display())
        .start()
        .await;
    let err = format!("{:#}", half.err().unwrap());
    assert!(
        err.contains("--tls-cert and --tls-key go together"),
        "{err}"
    );
    Ok(())
}
