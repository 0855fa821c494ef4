//! The log's guarantees against a real `nats-server` (the version Debian ships,
//! 2.9): conditional appends, deduplication, subject reads and tails.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use sy_eventlog::{EventLog, LogConfig, LogError};
use sy_tests::NatsServer;

/// A log on stream `TEST` of `server`, with the stream created.
async fn log(server: &NatsServer) -> EventLog {
    let log = EventLog::connect(&LogConfig {
        nats_url: server.url(),
        stream: "TEST".into(),
        replicas: 1,
        request_timeout: Duration::from_secs(2),
        auth: sy_eventlog::NatsAuth::default(),
    })
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), log.await_stream(1))
        .await
        .expect("stream ready in time")
        .unwrap();
    log
}

#[tokio::test]
async fn appends_are_conditional_deduplicated_and_readable() {
    let server = NatsServer::start().await.unwrap();
    let log = log(&server).await;
    let a = "sy.evt.request.a";

    let first = log
        .append(a, Bytes::from_static(b"a1"), 0, "k1")
        .await
        .unwrap();
    assert_eq!((first.position, first.duplicate), (1, false));
    // A second "first event" on the same subject loses the race.
    let conflict = log.append(a, Bytes::from_static(b"a1'"), 0, "k1'").await;
    assert!(matches!(
        conflict,
        Err(LogError::Conflict { expected: 0, .. })
    ));
    // Another subject is independent of a's sequence.
    let b = log
        .append("sy.evt.request.b", Bytes::from_static(b"b1"), 0, "kb")
        .await
        .unwrap();
    assert_eq!(b.position, 2);
    let second = log
        .append(a, Bytes::from_static(b"a2"), 1, "k2")
        .await
        .unwrap();
    assert_eq!(second.position, 3);
    // A retry with the same message id is recognised, not stored again.
    let retry = log
        .append(a, Bytes::from_static(b"a2"), 1, "k2")
        .await
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.position, 3);

    let events = log.read_subject(a, 0).await.unwrap();
    let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
    assert_eq!(positions, [1, 3]);
    assert_eq!(events[1].payload, Bytes::from_static(b"a2"));
    assert_eq!(log.read_subject(a, 1).await.unwrap().len(), 1);
    assert!(
        log.read_subject("sy.evt.request.none", 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(log.last_position().await.unwrap(), 3);

    let tailed: Vec<u64> = log
        .tail(2)
        .await
        .unwrap()
        .take(2)
        .map(|e| e.unwrap().position)
        .collect()
        .await;
    assert_eq!(tailed, [2, 3]);
}

#[tokio::test]
async fn a_dead_server_is_unavailable_quickly() {
    let mut server = NatsServer::start().await.unwrap();
    let log = log(&server).await;
    server.kill();
    assert!(!server.is_running());
    let started = Instant::now();
    loop {
        let result = log
            .append("sy.evt.request.x", Bytes::from_static(b"x"), 0, "x")
            .await;
        if let Err(LogError::Unavailable(_)) = result {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still {result:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_comma_separated_url_list_connects() {
    let server = NatsServer::start().await.unwrap();
    let log = EventLog::connect(&LogConfig {
        nats_url: format!("{url}, {url}", url = server.url()),
        stream: "TEST".into(),
        replicas: 1,
        request_timeout: Duration::from_secs(2),
        auth: sy_eventlog::NatsAuth::default(),
    })
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), log.await_stream(1))
        .await
        .expect("stream ready in time")
        .unwrap();
    assert_eq!(log.last_position().await.unwrap(), 0);
}
