//! NATS as a deployment runs it: TLS and per-service users from `sy setup`,
//! each allowed only what it needs. The services work end to end as their
//! users; a reader's credentials cannot put an event into the stream (NATS
//! itself refuses the publish); nobody connects anonymously; and intake
//! without NATS credentials refuses to start unless `--dev`.

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sy_tests::{NatsServer, Secrets, ServiceBuilder, System};

/// How long a refused publish may wait for an acknowledgement.
const NO_ACK: Duration = Duration::from_secs(3);

#[tokio::test]
async fn services_work_end_to_end_as_their_nats_users_over_tls() -> anyhow::Result<()> {
    let system = System::builder().secured().start().await?;
    let submitted = system.submit().await?;
    system.wait_applied(submitted.position).await?;
    for service in [&system.intake, system.projection()] {
        let log = service.log();
        assert!(!log.contains("development mode"), "{log}");
    }

    // An auditor reads the log itself with `sy verify --live`.
    let secrets = system.nats.secrets().context("secured")?;
    let output = tokio::process::Command::new(sy_tests::binary_path("sy"))
        .args(["verify", "--live", "--nats-url", &system.nats_url()])
        .args(["--stream", system.stream()])
        .args(secrets.nats_args("auditor"))
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("ok: 1 events"),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

#[tokio::test]
async fn readers_cannot_publish_events_and_intake_can() -> anyhow::Result<()> {
    let system = System::builder().secured().start().await?;
    let position = system.submit().await?.position;
    let secrets = Arc::clone(system.nats.secrets().context("secured")?);
    let subject = format!("sy.evt.request.{}", uuid::Uuid::now_v7());

    for reader in ["projection", "auditor"] {
        let client = system
            .nats
            .client_as(reader, &secrets.password(reader)?)
            .await?;
        let js = async_nats::jetstream::new(client.clone());
        let forged = async {
            js.publish(subject.clone(), "forged".into())
                .await?
                .await
                .map_err(anyhow::Error::from)
        };
        let refused = tokio::time::timeout(NO_ACK, forged).await;
        assert!(
            !matches!(refused, Ok(Ok(_))),
            "{reader}'s forged event was acknowledged"
        );
        assert!(
            system.nats.log().contains(&format!(
                "Publish Violation - User \"{reader}\", Subject \"{subject}\""
            )),
            "nats-server did not refuse {reader}'s publish:\n{}",
            system.nats.log()
        );
    }
    assert_eq!(
        system.nats.last_sequence(system.stream()).await?,
        position,
        "nothing a reader published landed in the stream"
    );

    // The same publish with intake's credentials is stored: what refused the
    // readers is their permissions, nothing else.
    let intake = system
        .nats
        .client_as("intake", &secrets.password("intake")?)
        .await?;
    let ack = async_nats::jetstream::new(intake)
        .publish(subject, "appended by intake's user".into())
        .await?
        .await?;
    assert_eq!(ack.sequence, position + 1);
    Ok(())
}

#[tokio::test]
async fn anonymous_and_wrong_credentials_are_refused() -> anyhow::Result<()> {
    let secrets = Arc::new(Secrets::create("SHUANGYONG")?);
    let nats = NatsServer::start_secured(Arc::clone(&secrets)).await?;
    let tls = || {
        async_nats::ConnectOptions::new()
            .add_root_certificates(secrets.ca())
            .require_tls(true)
    };
    assert!(
        nats.connect(tls()).await.is_err(),
        "anonymous over TLS connected"
    );
    assert!(
        nats.connect(async_nats::ConnectOptions::new())
            .await
            .is_err(),
        "anonymous without TLS connected"
    );
    assert!(
        nats.client_as("intake", "not-the-password").await.is_err(),
        "a wrong password connected"
    );
    // Without the deployment's CA the server's certificate is not trusted.
    let untrusted = async_nats::ConnectOptions::new()
        .user_and_password("auditor".into(), secrets.password("auditor")?)
        .require_tls(true);
    assert!(nats.connect(untrusted).await.is_err());
    nats.client_as("auditor", &secrets.password("auditor")?)
        .await?;
    Ok(())
}

#[tokio::test]
async fn intake_without_nats_credentials_refuses_to_start_unless_dev() -> anyhow::Result<()> {
    let secrets = Arc::new(Secrets::create("SHUANGYONG")?);
    let nats = NatsServer::start_secured(Arc::clone(&secrets)).await?;
    // Everything a deployment gives intake, but the NATS credentials.
    let bare = || {
        let builder = ServiceBuilder::new("sy-intake")
            .flag("--nats-url", nats.url())
            .flag("--identity-key-file", secrets.identity_key_file().display());
        secrets
            .grpc_args("intake")
            .into_iter()
            .fold(builder, |builder, arg| builder.arg(arg))
    };
    let refused = match bare().without_dev().start().await {
        Ok(_) => anyhow::bail!("intake started without NATS credentials"),
        Err(err) => format!("{err:#}"),
    };
    assert!(
        refused.contains("no NATS user") && refused.contains("--dev"),
        "{refused}"
    );

    // A password file others may read is refused, naming its mode.
    let loose = tempfile::tempdir()?;
    let password = loose.path().join("intake.password");
    std::fs::write(&password, secrets.password("intake")?)?;
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o644))?;
    let refused = match bare()
        .without_dev()
        .flag("--nats-user", "intake")
        .flag("--nats-password-file", password.display())
        .flag("--nats-ca", secrets.ca().display())
        .start()
        .await
    {
        Ok(_) => anyhow::bail!("intake started with a world-readable password file"),
        Err(err) => format!("{err:#}"),
    };
    assert!(
        refused.contains("0644") && !refused.contains(&secrets.password("intake")?),
        "{refused}"
    );

    // With --dev, intake runs without them (every other suite does so,
    // with a warning).
    Ok(())
}
