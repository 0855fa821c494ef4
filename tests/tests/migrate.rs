//! `sy migrate` end to end: a log written the way the release before
//! sealing wrote it (personal fields in plaintext, chained, signed but one
//! event unsigned) is copied into a new stream; the services then run on
//! the new stream with the same KEK and verify keys. The spouse is served
//! masked, intake decides on them, `sy verify` passes, the report maps every
//! event and both digests, the new stream's store files hold none of the
//! plaintext (the old one's do: the scan finds what it looks for), and a
//! second run copies nothing.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use prost::Message as _;
use sy_domain::audit::LogDigest;
use sy_domain::event::{GENESIS_HASH, hash, subject, to_proto};
use sy_domain::pb::event_envelope::Payload;
use sy_domain::pb::{self, EventEnvelope};
use sy_domain::pii::{Cipher, KekRing};
use sy_domain::signature::EventSigner;
use sy_tests::client::{self, AGENCY, AREA_CODE, USER};
use sy_tests::process::sy;
use sy_tests::{NatsServer, ServiceBuilder, eventually};
use uuid::Uuid;

const OLD: &str = "LEGACY";
const NEW: &str = "SEALED";
const NAME: &str = "王秀英";
const SPOUSE_NAME: &str = "赵建国";
const PHONE: &str = "13987654321";
const COURSE: &str = "家政服务高级研修班";
const REASON: &str = "本人不同意调往外区安置";

/// The legacy log under construction: each aggregate's last hash.
struct Legacy {
    js: jetstream::Context,
    signer: EventSigner,
    heads: std::collections::HashMap<String, ([u8; 32], u64)>,
}

impl Legacy {
    /// Publishes `payload` as the next event of `kind`/`id`, signed unless
    /// `unsigned` (releases before signing wrote such events); its bytes.
    async fn publish(
        &mut self,
        kind: &str,
        id: Uuid,
        payload: Payload,
        unsigned: bool,
    ) -> anyhow::Result<Vec<u8>> {
        let subject = subject(kind, &id.to_string());
        let (prev, version) = self
            .heads
            .get(&subject)
            .copied()
            .unwrap_or((GENESIS_HASH, 0));
        let now = to_proto(jiff::Timestamp::now());
        let mut envelope = EventEnvelope {
            event_id: Uuid::now_v7().to_string(),
            aggregate_kind: kind.into(),
            aggregate_id: id.to_string(),
            aggregate_version: version + 1,
            occurred_at: Some(now),
            recorded_at: Some(now),
            actor: Some(pb::Actor {
                agency: AGENCY.into(),
                user: USER.into(),
            }),
            correlation_id: Uuid::new_v4().to_string(),
            schema_version: sy_domain::event::SCHEMA_VERSION,
            prev_hash: prev.to_vec(),
            idempotency_key: client::new_key("legacy"),
            command_fingerprint: vec![7; 32],
            payload: Some(payload),
            ..Default::default()
        };
        let bytes = if unsigned {
            envelope.encode_to_vec()
        } else {
            self.signer.sign(&mut envelope)
        };
        self.js
            .publish(subject.clone(), bytes.clone().into())
            .await?
            .await?;
        self.heads.insert(subject, (hash(&bytes), version + 1));
        Ok(bytes)
    }
}

/// Creates `name` on `sy.evt.>` as the release before sealing did.
async fn create_log(js: &jetstream::Context, name: &str) -> anyhow::Result<()> {
    js.create_stream(stream::Config {
        name: name.into(),
        subjects: vec!["sy.evt.>".into()],
        storage: stream::StorageType::File,
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        ..Default::default()
    })
    .await?;
    Ok(())
}

/// A spouse's registration with plaintext personal fields.
fn registration(id_number: &str) -> Payload {
    Payload::PersonRegistered(pb::PersonRegistered {
        role: pb::PersonRole::MilitarySpouse as i32,
        name: NAME.into(),
        id_number: id_number.into(),
        phone: PHONE.into(),
        area_code: AREA_CODE.into(),
        links: vec![pb::PersonLink {
            relation: pb::Relation::SpouseOf as i32,
            name: SPOUSE_NAME.into(),
            unit: AGENCY.into(),
            person_id: String::new(),
        }],
    })
}

/// Every file under the directories named `stream` below `root`.
fn stream_files(root: &Path, stream: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, inside: bool, stream: &str, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                let inside = inside || entry.file_name() == stream;
                walk(&path, inside, stream, out);
            } else if inside {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, false, stream, &mut out);
    out
}

/// The secrets of `files` found in their bytes.
fn found_in(files: &[PathBuf], secrets: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).unwrap_or_default();
        for secret in secrets {
            if bytes
                .windows(secret.len())
                .any(|window| window == secret.as_bytes())
            {
                found.push(format!("{secret} in {}", file.display()));
            }
        }
    }
    found
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The legacy intake's signing key, its verify keys file, and a fresh
/// owner-only KEK file for the migration, all in `dir`.
fn legacy_keys(
    dir: &Path,
) -> anyhow::Result<(sy_api::event_keys::NewSigningKey, PathBuf, PathBuf)> {
    let signing = sy_api::event_keys::new_signing_key("intake-legacy", dir)?;
    let verify_keys = dir.join("verify-keys");
    std::fs::write(&verify_keys, format!("{}\n", signing.public_line))?;
    let kek_file = dir.join("kek.key");
    std::fs::write(
        &kek_file,
        KekRing::generate(Cipher::Aes256Gcm)?.file_text().as_str(),
    )?;
    std::fs::set_permissions(&kek_file, std::fs::Permissions::from_mode(0o600))?;
    Ok((signing, verify_keys, kek_file))
}

#[tokio::test]
async fn a_legacy_log_is_sealed_into_a_new_stream() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let dir = tempfile::tempdir()?;
    let (signing, verify_keys, kek_file) = legacy_keys(dir.path())?;

    // The legacy log, as the release before sealing created and wrote it.
    let js = jetstream::new(nats.client().await?);
    create_log(&js, OLD).await?;
    let id_number = client::fresh_id_number(32);
    let person = Uuid::now_v7();
    let placement = sy_domain::placement::placement_id_for(&person, pb::Programme::SpousePlacement);
    let mut legacy = Legacy {
        js: js.clone(),
        signer: sy_api::event_keys::load_signer(&signing.path)?,
        heads: Default::default(),
    };
    let today = sy_domain::validate::china_date(jiff::Timestamp::now()).to_string();
    let mut old_bytes = Vec::new();
    old_bytes.push(
        legacy
            .publish("person", person, registration(&id_number), false)
            .await?,
    );
    old_bytes.push(
        legacy
            .publish(
                "person",
                person,
                Payload::TrainingRecorded(pb::TrainingRecorded {
                    course: COURSE.into(),
                    hours: 40,
                    completed_on: today.clone(),
                }),
                true,
            )
            .await?,
    );
    old_bytes.push(
        legacy
            .publish(
                "placement",
                placement,
                Payload::PlacementRegistered(pb::PlacementRegistered {
                    programme: pb::Programme::SpousePlacement as i32,
                    person_id: person.to_string(),
                    area_code: AREA_CODE.into(),
                    ..Default::default()
                }),
                false,
            )
            .await?,
    );
    // Names no person: only the placement's state knows whose it is.
    old_bytes.push(
        legacy
            .publish(
                "placement",
                placement,
                Payload::PlacementWithdrawn(pb::PlacementWithdrawn {
                    reason: REASON.into(),
                }),
                false,
            )
            .await?,
    );
    let secrets = [NAME, SPOUSE_NAME, PHONE, id_number.as_str(), COURSE, REASON];
    let old_files = stream_files(nats.store_dir(), OLD);
    assert_eq!(
        found_in(&old_files, &secrets).len(),
        secrets.len(),
        "the scan finds the legacy plaintext in {old_files:?}"
    );

    let report = dir.path().join(format!("{OLD}.jsonl"));
    let url = nats.url();
    let migrate = migrate_args(
        &nats,
        OLD,
        NEW,
        dir.path(),
        &signing.path,
        &verify_keys,
        &kek_file,
    );
    let migrate: Vec<&str> = migrate.iter().map(String::as_str).collect();
    let (code, text) = sy(&migrate).await?;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("migrated 4 events from LEGACY to SEALED (4 copied now, 0 already there): 3 sealed, 1 unsigned in LEGACY"),
        "{text}"
    );

    // The report maps every event, and both digests are the logs' own.
    let written = std::fs::read_to_string(&report)?;
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines.len(), 5, "{written}");
    let new_stream = js.get_stream(NEW).await?;
    let mut old_digest = LogDigest::default();
    let mut new_digest = LogDigest::default();
    for (i, old) in old_bytes.iter().enumerate() {
        let position = i as u64 + 1;
        let copy = new_stream.get_raw_message(position).await?;
        old_digest.advance(position, old);
        new_digest.advance(position, &copy.payload);
        let line = lines[i];
        assert!(line.starts_with(r#"{"type":"event""#), "{line}");
        assert!(
            line.contains(&format!(
                r#""old_position":{position},"new_position":{position}"#
            )),
            "{line}"
        );
        assert!(
            line.contains(&format!(r#""old_hash":"{}""#, hex(&hash(old)))),
            "{line}"
        );
        assert!(
            line.contains(&format!(r#""new_hash":"{}""#, hex(&hash(&copy.payload)))),
            "{line}"
        );
        assert!(
            line.contains(&format!(r#""signed_in_old":{}"#, i != 1)),
            "{line}"
        );
    }
    let summary = lines[4];
    assert!(summary.starts_with(r#"{"type":"summary""#), "{summary}");
    for expected in [
        format!(
            r#""old_digest":{{"position":4,"digest":"{}"}}"#,
            old_digest.hex()
        ),
        format!(
            r#""new_digest":{{"position":4,"digest":"{}"}}"#,
            new_digest.hex()
        ),
        r#""events":4"#.to_string(),
        r#""sealed":3"#.to_string(),
        r#""unsigned_in_old":1"#.to_string(),
    ] {
        assert!(summary.contains(&expected), "{expected} in {summary}");
    }
    for secret in secrets {
        assert!(!written.contains(secret), "the report holds no value");
    }

    // The services on the new stream, with the same KEK and verify keys.
    let intake = ServiceBuilder::intake(&nats, NEW)
        .flag("--signing-key-file", signing.path.display())
        .flag("--kek-file", kek_file.display())
        .start()
        .await?;
    let projection = ServiceBuilder::projection(&nats, NEW, &dir.path().join("read-model"))
        .flag("--verify-keys-file", verify_keys.display())
        .flag("--kek-file", kek_file.display())
        .start()
        .await?;
    let mut query = client::placement_query_client(projection.channel());
    let view = eventually(Duration::from_secs(20), "the person served", || {
        let mut query = query.clone();
        let id = person.to_string();
        async move {
            let response = query
                .get_person(pb::GetPersonRequest {
                    id,
                    min_position: 4,
                })
                .await?
                .into_inner();
            response.person.context("no person")
        }
    })
    .await?;
    assert_eq!(view.name, "王*", "{view:?}");
    assert!(view.id_number.ends_with(&id_number[14..]), "{view:?}");
    assert!(!view.id_number.contains(&id_number[..14]), "{view:?}");
    assert_eq!(view.phone, "*******4321", "{view:?}");

    // Intake decides on the migrated spouse.
    let mut placements = client::placements_client(intake.channel(), AGENCY, USER);
    let trained = placements
        .record_training(pb::RecordTrainingCommand {
            context: client::fresh_ctx(),
            person_id: person.to_string(),
            course: "面点师培训".into(),
            hours: 16,
            completed_on: today,
        })
        .await?
        .into_inner();
    assert_eq!((trained.version, trained.position), (3, 5));
    query
        .get_person(pb::GetPersonRequest {
            id: person.to_string(),
            min_position: 5,
        })
        .await?;

    let (code, text) = sy([
        "verify",
        "--live",
        "--stream",
        NEW,
        "--nats-url",
        &url,
        "--verify-keys-file",
        verify_keys.to_str().unwrap(),
    ])
    .await?;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("5 signatures verified"), "{text}");

    // No plaintext in the new stream's store files.
    let new_files = stream_files(nats.store_dir(), NEW);
    assert!(!new_files.is_empty(), "the new stream's files are found");
    let leaked = found_in(&new_files, &secrets);
    assert!(leaked.is_empty(), "plaintext in the new stream: {leaked:?}");

    // A second run copies nothing and leaves intake's event alone.
    let (code, text) = sy(&migrate).await?;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("(0 copied now, 4 already there)"), "{text}");
    assert!(
        text.contains("events written to SEALED after the migration: 1"),
        "{text}"
    );
    assert_eq!(nats.last_sequence(NEW).await?, 5);
    Ok(())
}

/// The flags of `sy migrate --from old --to new`, the report in `dir`.
fn migrate_args(
    nats: &NatsServer,
    old: &str,
    new: &str,
    dir: &Path,
    signing: &Path,
    verify_keys: &Path,
    kek_file: &Path,
) -> Vec<String> {
    let path = |path: &Path| path.display().to_string();
    vec![
        "migrate".into(),
        "--from".into(),
        old.into(),
        "--to".into(),
        new.into(),
        "--report".into(),
        path(&dir.join(format!("{old}.jsonl"))),
        "--signing-key-file".into(),
        path(signing),
        "--kek-file".into(),
        path(kek_file),
        "--verify-keys-file".into(),
        path(verify_keys),
        "--nats-url".into(),
        nats.url(),
    ]
}

/// A forged event stops the migration before it; a rerun goes on after
/// the last copy; a new stream holding anything else is refused.
#[tokio::test]
async fn forged_events_and_foreign_copies_are_refused() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let dir = tempfile::tempdir()?;
    let (signing, verify_keys, kek_file) = legacy_keys(dir.path())?;
    let js = jetstream::new(nats.client().await?);

    // A genuine legacy log, moved aside by hand so the next one can exist.
    create_log(&js, OLD).await?;
    let mut genuine = Legacy {
        js: js.clone(),
        signer: sy_api::event_keys::load_signer(&signing.path)?,
        heads: Default::default(),
    };
    genuine
        .publish(
            "person",
            Uuid::now_v7(),
            registration(&client::fresh_id_number(30)),
            false,
        )
        .await?;
    let mut config = js.get_stream(OLD).await?.cached_info().config.clone();
    config.subjects = vec![format!("sy.retired.{OLD}.>")];
    js.update_stream(config).await?;

    // A log whose second event is signed under the intake's key id by
    // another key.
    create_log(&js, "FORGED").await?;
    let mut log = Legacy {
        js: js.clone(),
        signer: sy_api::event_keys::load_signer(&signing.path)?,
        heads: Default::default(),
    };
    log.publish(
        "person",
        Uuid::now_v7(),
        registration(&client::fresh_id_number(30)),
        false,
    )
    .await?;
    log.signer = EventSigner::from_seed("intake-legacy", [9; 32])?;
    let person = Uuid::now_v7();
    log.publish(
        "person",
        person,
        registration(&client::fresh_id_number(30)),
        false,
    )
    .await?;
    let args = migrate_args(
        &nats,
        "FORGED",
        NEW,
        dir.path(),
        &signing.path,
        &verify_keys,
        &kek_file,
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, text) = sy(&args).await?;
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!(
            "FORGED position 2 (person {person} version 1): bad signature"
        )),
        "{text}"
    );
    assert_eq!(nats.last_sequence(NEW).await?, 1, "the first event copied");
    assert!(!text.contains(NAME), "errors name no value: {text}");

    // Restarted (here without the keys, which nobody should do: the forgery
    // is copied), it goes on after the event already copied.
    let unchecked: Vec<&str> = args
        .iter()
        .copied()
        .filter(|arg| *arg != "--verify-keys-file" && *arg != verify_keys.to_str().unwrap())
        .collect();
    let (code, text) = sy(&unchecked).await?;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("(1 copied now, 1 already there)") && text.contains("NOT checked"),
        "{text}"
    );
    assert_eq!(nats.last_sequence(NEW).await?, 2);

    // A new stream someone else wrote to is not taken for a copy.
    js.publish(
        subject("request", &Uuid::now_v7().to_string()),
        EventEnvelope::default().encode_to_vec().into(),
    )
    .await?
    .await?;
    let args = migrate_args(
        &nats,
        OLD,
        NEW,
        dir.path(),
        &signing.path,
        &verify_keys,
        &kek_file,
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, text) = sy(&args).await?;
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("SEALED position 1 is not the copy of LEGACY position 1 (another subject)"),
        "{text}"
    );
    assert_eq!(nats.last_sequence(NEW).await?, 3);
    Ok(())
}
