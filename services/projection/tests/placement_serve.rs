//! `PlacementQuery` over real gRPC, the log in a real `nats-server`: a
//! station's events folded and served, edge validation naming the field,
//! NOT_FOUND for unknown ids, and the `min_position` wait.

use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use prost::Message;
use sy_api::pb::placement_query_client::PlacementQueryClient;
use sy_domain::event::{GENESIS_HASH, hash, subject};
use sy_domain::pb::{self, event_envelope::Payload};
use sy_projection::Config;
use sy_tests::{NatsServer, eventually, free_port, log_as_intake_makes_it};
use tonic::Code as GrpcCode;

const STREAM: &str = "SY_PLACEMENT_TEST";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_queries_are_served_and_validated() {
    let nats_port = free_port().unwrap();
    let nats = NatsServer::start_on(nats_port).await.unwrap();
    let log = log_as_intake_makes_it(&nats, STREAM).await.unwrap();

    // A station opens and seats a child.
    let station = uuid::Uuid::now_v7().to_string();
    let child = uuid::Uuid::now_v7().to_string();
    let payloads = [
        Payload::StationOpened(pb::StationOpened {
            name: "军娃托管站".into(),
            seats: 1,
            opening_hours: "16:00-19:00".into(),
            area_code: "500106001002".into(),
            address: "沙坪坝区".into(),
        }),
        Payload::ChildEnrolled(pb::ChildEnrolled {
            person_id: child.clone(),
            waitlisted: false,
        }),
    ];
    let mut last = 0;
    let mut prev_hash = GENESIS_HASH;
    for (version, payload) in (1..).zip(payloads) {
        let envelope = pb::EventEnvelope {
            event_id: uuid::Uuid::now_v7().to_string(),
            aggregate_kind: "station".into(),
            aggregate_id: station.clone(),
            aggregate_version: version,
            occurred_at: Some(prost_types::Timestamp {
                seconds: 1_780_272_000,
                nanos: 0,
            }),
            actor: Some(pb::Actor {
                agency: "district-women-federation".into(),
                user: "tester".into(),
            }),
            schema_version: 1,
            prev_hash: prev_hash.to_vec(),
            payload: Some(payload),
            ..Default::default()
        };
        let bytes = envelope.encode_to_vec();
        prev_hash = hash(&bytes);
        last = log
            .append(
                &subject("station", &station),
                Bytes::from(bytes),
                last,
                &envelope.event_id,
            )
            .await
            .unwrap()
            .position;
    }

    let data = tempfile::tempdir().unwrap();
    let config = Config::try_parse_from([
        "sy-projection",
        // The events here are made by hand, unsigned: development mode
        // folds them without verify keys.
        "--dev",
        "--nats-url",
        &nats.url(),
        "--stream",
        STREAM,
        "--data-dir",
        data.path().to_str().unwrap(),
        "--max-wait-ms",
        "3000",
    ])
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sy_projection::serve(config, listener, async {
        let _ = stopped.await;
    }));
    let mut client = eventually(Duration::from_secs(10), "projection reachable", || async {
        Ok(PlacementQueryClient::connect(url.clone()).await?)
    })
    .await
    .unwrap();

    let reply = client
        .get_station(pb::GetStationRequest {
            id: station.clone(),
            min_position: last,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(reply.position >= last);
    let view = reply.station.unwrap();
    assert_eq!(view.seated, [child]);
    assert_eq!((view.occupancy, view.free_seats), (1, 0));

    let listed = client
        .list_stations(pb::ListStationsRequest {
            area_code: "500106001000".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.stations.len(), 1);

    let missing = client
        .get_station(pb::GetStationRequest {
            id: uuid::Uuid::now_v7().to_string(),
            min_position: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), GrpcCode::NotFound);
    let missing = client
        .get_person(pb::GetPersonRequest {
            id: uuid::Uuid::now_v7().to_string(),
            min_position: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), GrpcCode::NotFound);

    let bad = client
        .get_person(pb::GetPersonRequest {
            id: "not-a-uuid".into(),
            min_position: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), GrpcCode::InvalidArgument);
    assert!(bad.message().contains("id"), "{bad:?}");
    let bad = client
        .list_placements(pb::ListPlacementsRequest {
            status: "lost".into(),
            page_size: 501,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), GrpcCode::InvalidArgument);
    assert!(bad.message().contains("status"), "{bad:?}");
    assert!(bad.message().contains("page_size"), "{bad:?}");
    let bad = client
        .get_placement_stats(pb::GetPlacementStatsRequest {
            area_code: "5001".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), GrpcCode::InvalidArgument);
    assert!(bad.message().contains("area_code"), "{bad:?}");

    let stats = client
        .get_placement_stats(pb::GetPlacementStatsRequest {
            area_code: "500106000000".into(),
            year: 2026,
            min_position: last,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.year, 2026);
    assert_eq!(stats.area.unwrap().area_code, "500106000000");

    let ahead = client
        .get_station(pb::GetStationRequest {
            id: station,
            min_position: last + 100,
        })
        .await
        .unwrap_err();
    assert_eq!(ahead.code(), GrpcCode::Unavailable);

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("projection stops promptly")
        .unwrap()
        .expect("projection stops cleanly");
}
