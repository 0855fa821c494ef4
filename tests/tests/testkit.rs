//! The testkit itself: a NATS server starts with JetStream, survives a kill
//! and restart on the same port with its store, and cleans up on drop.

use std::time::Duration;

use sy_tests::NatsServer;

#[tokio::test]
async fn nats_server_starts_kills_and_restarts_with_its_store() -> anyhow::Result<()> {
    let mut nats = NatsServer::start().await?;
    let port = nats.port();
    assert_ne!(port, 0);
    let store = nats.store_dir().to_path_buf();

    let js = async_nats::jetstream::new(nats.client().await?);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "SELFTEST".into(),
        subjects: vec!["selftest.>".into()],
        storage: async_nats::jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await?;
    for i in 0..3 {
        js.publish("selftest.a", format!("m{i}").into())
            .await?
            .await?;
    }
    assert_eq!(nats.last_sequence("SELFTEST").await?, 3);
    assert_eq!(nats.last_sequence("MISSING").await?, 0);

    nats.kill();
    assert!(!nats.is_running());
    let refused = tokio::time::timeout(
        Duration::from_secs(3),
        async_nats::ConnectOptions::new().connect(nats.url()),
    )
    .await;
    assert!(
        !matches!(refused, Ok(Ok(_))),
        "a killed server must not accept connections"
    );

    nats.restart().await?;
    assert!(nats.is_running());
    assert_eq!(nats.port(), port, "restart keeps the port");
    assert_eq!(
        nats.last_sequence("SELFTEST").await?,
        3,
        "restart keeps the store"
    );

    drop(nats);
    assert!(!store.exists(), "drop removes the store");
    Ok(())
}

#[tokio::test]
async fn nats_servers_run_side_by_side() -> anyhow::Result<()> {
    let a = NatsServer::start().await?;
    let b = NatsServer::start().await?;
    assert_ne!(a.port(), b.port());
    assert_ne!(a.store_dir(), b.store_dir());
    Ok(())
}

#[tokio::test]
async fn services_start_stop_and_restart_on_their_port() -> anyhow::Result<()> {
    let mut sys = sy_tests::System::start().await?;
    let intake_addr = sys.intake.addr();
    let projection_addr = sys.projection().addr();
    assert!(intake_addr.ip().is_loopback() && intake_addr.port() != 0);
    assert_ne!(intake_addr, projection_addr);
    assert!(sys.intake.is_running());

    // SIGTERM is a clean stop for both.
    let status = sys.intake.terminate().await?;
    assert!(
        status.success(),
        "intake stops cleanly on SIGTERM: {status}"
    );
    let status = sys.projection_mut().terminate().await?;
    assert!(
        status.success(),
        "projection stops cleanly on SIGTERM: {status}"
    );

    // Restarts come back on the same port, so existing channels reconnect.
    let mut intake = sys.intake();
    sys.intake.restart().await?;
    sys.projection_mut().restart().await?;
    assert_eq!(sys.intake.addr(), intake_addr);
    assert_eq!(sys.projection().addr(), projection_addr);
    let written = intake
        .submit_request(sy_tests::submit_command(&sy_tests::new_key("selftest")))
        .await?
        .into_inner();
    sys.wait_applied(written.position).await?;

    // SIGKILL leaves nothing running; the log tells the story.
    let pid = sys.intake.pid().expect("running");
    sys.intake.kill9();
    assert!(!sys.intake.is_running());
    assert!(sys.intake.log().contains("listening addr="));
    assert!(sys.intake.log().contains("killed (SIGKILL)"));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "a killed child is reaped"
    );
    Ok(())
}
