//! Signed events end to end: intake signs, the projection and `sy` verify.
//! An event published straight into NATS (as anyone holding NATS
//! credentials could), chained onto the request's real last hash, is
//! quarantined by the projection when it is unsigned or signed with another
//! key, and `sy verify` / `sy history` with the published keys fail on it;
//! intake's own events verify. The quarantine serves the forged event
//! redacted.
use prost::Message as _;
use sy_api::pb;
use sy_domain::event::{hash, subject};
use sy_domain::pb::EventEnvelope;
use sy_domain::pb::event_envelope::Payload;
use sy_domain::signature::EventSigner;
use sy_tests::client::{self, AGENCY, USER};
use sy_tests::{SIGNING_KEY_ID, System};

/// A note a forger writes, with a phone number the quarantine must not serve.
const FORGED_NOTE: &str = "called 13800138000: all settled";

/// A progress note on `request_id`, version `after.aggregate_version + 1`,
/// chained onto `after_bytes` (the request's last stored event), as a
/// forger who read the log would write it.
fn forged(after: &EventEnvelope, after_bytes: &[u8]) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        aggregate_kind: after.aggregate_kind.clone(),
        aggregate_id: after.aggregate_id.clone(),
        aggregate_version: after.aggregate_version + 1,
        occurred_at: after.recorded_at,
        recorded_at: after.recorded_at,
        actor: Some(pb::Actor {
            agency: AGENCY.into(),
            user: USER.into(),
        }),
        schema_version: after.schema_version,
        prev_hash: hash(after_bytes).to_vec(),
        idempotency_key: client::new_key("forged"),
        payload: Some(Payload::ProgressRecorded(pb::ProgressRecorded {
            note: FORGED_NOTE.into(),
        })),
        ..Default::default()
    }
}

#[tokio::test]
async fn forged_events_are_quarantined_and_fail_verification() -> anyhow::Result<()> {
    let system = System::start().await?;
    let submitted = system.submit().await?;
    let id = submitted.aggregate_id.clone();
    let assigned = system
        .intake()
        .assign_request(client::assign_command(&id, client::DEPARTMENT, 14))
        .await?
        .into_inner();
    system.wait_applied(assigned.position).await?;
    let keys_file = system.verify_keys_file().to_str().unwrap().to_string();

    // Intake's events carry its signature, and verify.
    let (code, text) = system
        .sy(&["verify", "--live", "--verify-keys-file", &keys_file])
        .await?;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("2 signatures verified"), "{text}");
    let (code, text) = system
        .sy(&["history", "request", &id, "--verify-keys-file", &keys_file])
        .await?;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(&format!("ok {SIGNING_KEY_ID}")), "{text}");
    assert!(
        text.contains("signatures: all 2 events signed by intake"),
        "{text}"
    );

    // The request's last event as stored: what a forger chains onto.
    let js = async_nats::jetstream::new(system.nats.client().await?);
    let subject = subject("request", &id);
    let last = js
        .get_stream(system.stream())
        .await?
        .get_last_raw_message_by_subject(&subject)
        .await?;
    let last_envelope = EventEnvelope::decode(last.payload.as_ref())?;
    assert_eq!(last_envelope.signing_key_id, SIGNING_KEY_ID);

    // Unsigned, then signed under intake's key id with another key; both
    // name the real head, so the chain alone would accept either.
    let unsigned = forged(&last_envelope, &last.payload).encode_to_vec();
    let unsigned_hash = hash(&unsigned).to_vec();
    let unsigned_at = system.publish_raw(&subject, unsigned).await?;
    let impostor = EventSigner::from_seed(SIGNING_KEY_ID, [7; 32])?;
    let foreign = impostor.sign(&mut forged(&last_envelope, &last.payload));
    let foreign_at = system.publish_raw(&subject, foreign).await?;
    system.wait_applied(foreign_at).await?;

    let mut query = system.query();
    let listed = query
        .list_quarantined(pb::ListQuarantinedRequest::default())
        .await?
        .into_inner();
    let reasons: Vec<(u64, &str)> = listed
        .events
        .iter()
        .map(|event| (event.position, event.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, unsigned_at);
    assert!(reasons[0].1.contains("signature: unsigned"), "{reasons:?}");
    assert_eq!(reasons[1].0, foreign_at);
    assert!(
        reasons[1].1.contains("signature: bad signature"),
        "{reasons:?}"
    );
    // Served redacted: no stored bytes, no phone number, but the hash and
    // size to find the event in the log.
    let served = &listed.events[0];
    assert!(served.payload.is_empty());
    let redacted = EventEnvelope::decode(served.redacted_payload.as_slice())?;
    assert_eq!(redacted.aggregate_id, id);
    assert!(!String::from_utf8_lossy(&served.redacted_payload).contains("13800138000"));
    assert_eq!(served.payload_hash, unsigned_hash);

    // Nothing forged reached the view.
    let request = query
        .get_request(pb::GetRequestRequest {
            id: id.clone(),
            min_position: foreign_at,
        })
        .await?
        .into_inner()
        .request
        .expect("the request is served");
    assert_eq!(request.version, 2);
    assert!(!format!("{request:?}").contains(FORGED_NOTE), "{request:?}");

    // `sy verify` and `sy history` with the published keys name both.
    let (code, text) = system
        .sy(&["verify", "--live", "--verify-keys-file", &keys_file])
        .await?;
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains(&format!(
            "position {unsigned_at}, request {id} version 3: not signed by intake: unsigned"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "position {foreign_at}, request {id} version 3: not signed by intake: bad signature"
        )),
        "{text}"
    );
    let (code, text) = system
        .sy(&["history", "request", &id, "--verify-keys-file", &keys_file])
        .await?;
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("BAD (unsigned)"), "{text}");
    assert!(text.contains("BAD (forged or altered)"), "{text}");
    // Without keys the chain looks fine: only signatures prove authorship.
    let (_, text) = system.sy(&["verify", "--live"]).await?;
    assert!(text.contains("signatures NOT checked"), "{text}");

    // Intake never decides on top of a forged event: reading the request
    // back it finds the bad signature, and the request is DATA_LOSS.
    let refused = system
        .intake()
        .start_request(client::start_command(&id))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::DataLoss, "{refused:?}");
    assert!(
        refused
            .message()
            .contains(&format!("position {unsigned_at}"))
            && refused.message().contains("signature"),
        "{refused:?}"
    );
    Ok(())
}
