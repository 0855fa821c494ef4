//! Backup and restore of the whole log (issue 11, item 5), on a deployment
//! as shipped (`sy setup --demo` secrets, NATS with TLS and its users, no
//! `--dev`), with the real `sy`: a system with requests, people (sealed
//! personal data), a placement, unmasked reads (the access log) and an
//! erasure is backed up by NATS user `backup` (the auditor may not: it
//! cannot read keys), restored by user `restore` into a second, empty
//! nats-server, and then
//! (a) every stream digests as the original did (a backup of the restored
//!     server has the same manifest) and `sy verify` reaches the original log
//!     digest;
//! (b) a projection folding the restored log reaches the original
//!     projection's log and read model digests;
//! (c) intake on the restored log answers every earlier command from the log
//!     (`replayed`, same position), accepts a new one, opens the sealed
//!     personal data and keeps the erased person erased.
//!
//! A truncated or altered file is refused before anything is created, and a
//! restore into a server that has the streams is refused.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use sy_tests::client::*;
use sy_tests::pb::{self, PersonRole, Programme};
use sy_tests::process::sy;
use sy_tests::system::AUDITOR_AGENCY;
use sy_tests::{CONVERGE, NatsServer, Secrets, Service, ServiceBuilder, System, wait_applied};

/// The coordinating office: registers people, assigns, reads unmasked.
const BUREAU: &str = "district-veterans-bureau";
const PRIVACY_OFFICE: &str = "district-privacy-office";

/// `sy <args>` against `nats` as NATS user `user`, on `stream`.
async fn sy_as(
    nats: &NatsServer,
    stream: &str,
    user: &str,
    args: &[&str],
) -> anyhow::Result<(i32, String)> {
    let secrets = nats.secrets().unwrap();
    let mut argv: Vec<OsString> = args.iter().map(OsString::from).collect();
    argv.extend(secrets.nats_args(user));
    argv.extend(["--nats-url".into(), nats.url().into()]);
    argv.extend(["--stream".into(), stream.into()]);
    sy(&argv).await
}

fn path_arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The lines of `sy backup`'s output naming a stream's or the log's digest.
fn digests(out: &str) -> Vec<String> {
    out.lines()
        .filter(|line| line.contains("digest"))
        .map(|line| line.trim().to_string())
        .collect()
}

/// The number after `"field":` in a JSON line.
fn number(line: &str, field: &str) -> u64 {
    let at = line.find(&format!("\"{field}\":")).unwrap() + field.len() + 3;
    line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

fn placements(
    channel: tonic::transport::Channel,
    system: &System,
    agency: &str,
) -> PlacementsClient {
    pb::placements_client::PlacementsClient::with_interceptor(channel, system.caller(agency, USER))
}

fn placement_query(service: &Service, system: &System, agency: &str) -> PlacementQueryClient {
    pb::placement_query_client::PlacementQueryClient::with_interceptor(
        service.channel(),
        system.caller(agency, USER),
    )
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

fn unmasked(person_id: &str) -> pb::GetPersonUnmaskedRequest {
    pb::GetPersonUnmaskedRequest {
        person_id: person_id.into(),
        purpose: "contact-for-placement".into(),
        note: "backup test".into(),
    }
}

/// Every command sent before the backup, to send again after the restore.
#[derive(Default)]
struct Sent {
    submits: Vec<(pb::SubmitRequestCommand, pb::CommandResult)>,
    assigns: Vec<(pb::AssignRequestCommand, pb::CommandResult)>,
    registrations: Vec<(pb::RegisterPersonCommand, pb::CommandResult)>,
    erasure: Option<(pb::ErasePersonCommand, pb::CommandResult)>,
}

#[tokio::test]
async fn a_restored_log_is_the_same_log_and_a_damaged_backup_is_refused() -> anyhow::Result<()> {
    let system = System::builder().secured().start().await?;
    let stream = system.stream().to_string();
    let scratch = tempfile::tempdir()?;
    let mut sent = Sent::default();

    // Requests: three submitted by a unit, two assigned by the office.
    let unit = system.intake_as(AGENCY, USER);
    let office = system.intake_as(BUREAU, USER);
    for i in 0..3 {
        let command = submit_command(&new_key(&format!("backup-{i}")));
        let result = unit
            .clone()
            .submit_request(command.clone())
            .await?
            .into_inner();
        sent.submits.push((command, result));
    }
    for (_, submitted) in sent.submits.iter().take(2) {
        let command = assign_command(&submitted.aggregate_id, "district-housing-bureau", 10);
        let result = office
            .clone()
            .assign_request(command.clone())
            .await?
            .into_inner();
        sent.assigns.push((command, result));
    }

    // People, sealed: a veteran placed, a spouse erased.
    let bureau = placements(system.intake.channel(), &system, BUREAU);
    for role in [PersonRole::Veteran, PersonRole::MilitarySpouse] {
        let command = register_person_command(role, &fresh_id_number(33));
        let result = bureau
            .clone()
            .register_person(command.clone())
            .await?
            .into_inner();
        sent.registrations.push((command, result));
    }
    let veteran = sent.registrations[0].1.aggregate_id.clone();
    let spouse = sent.registrations[1].1.aggregate_id.clone();
    let placement = bureau
        .clone()
        .register_placement(register_placement_command(
            Programme::VeteranResettlement,
            &veteran,
        ))
        .await?
        .into_inner();
    bureau
        .clone()
        .match_placement(match_placement_command(&placement.aggregate_id))
        .await?;

    // Unmasked reads go to the access log.
    let reader = placement_query(system.projection(), &system, BUREAU);
    for person in [&veteran, &spouse] {
        eventually(CONVERGE, "an unmasked read", || {
            let mut reader = reader.clone();
            let request = unmasked(person);
            async move { Ok(reader.get_person_unmasked(request).await?.into_inner()) }
        })
        .await?;
    }
    let privacy = placements(system.intake.channel(), &system, PRIVACY_OFFICE);
    let erase = pb::ErasePersonCommand {
        context: fresh_ctx(),
        person_id: spouse.clone(),
        legal_basis: "PIPL art. 47(1)".into(),
    };
    let erased = privacy
        .clone()
        .erase_person(erase.clone())
        .await?
        .into_inner();
    sent.erasure = Some((erase, erased));

    let end = system.log_position().await?;
    let query = system.query();
    wait_applied(&query, end).await?;
    let original = status(&query, end).await?;
    assert_eq!(original.quarantined, 0);

    // The auditor may not back up: it cannot read the key store.
    let file = scratch.path().join("log.backup");
    let (code, refused) = sy_as(
        &system.nats,
        &stream,
        "auditor",
        &["--timeout-ms", "2000", "backup", "--out", path_arg(&file)],
    )
    .await?;
    assert_ne!(code, 0, "{refused}");
    assert!(!file.exists(), "no file from a failed backup");

    let (code, backed_up) = sy_as(
        &system.nats,
        &stream,
        "backup",
        &["backup", "--out", path_arg(&file)],
    )
    .await?;
    assert_eq!(code, 0, "{backed_up}");
    assert!(
        backed_up.contains(&format!(
            "log digest {} at position {end}",
            original.log_digest
        )),
        "{backed_up}"
    );
    for part in ["", "_KEYS", "_ACCESS"] {
        assert!(
            backed_up.contains(&format!("  {stream}{part}: ")),
            "{part}: {backed_up}"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a backup holds keys: owner-only");
    }
    let text = std::fs::read_to_string(&file)?;
    assert!(text.contains("\"Nats-Msg-Id\""), "message ids are kept");
    assert!(!text.contains("Nats-Expected"), "preconditions are not");
    // The erased data key left a gap in the key store, which the restore
    // must keep.
    let keys_head = text
        .lines()
        .find(|line| line.contains("\"type\":\"stream\"") && line.contains("\"part\":\"keys\""))
        .context("the key store in the backup")?;
    let (first, last, messages) = (
        number(keys_head, "first_sequence"),
        number(keys_head, "last_sequence"),
        number(keys_head, "messages"),
    );
    assert!(messages < last - first + 1, "{keys_head}");

    // An empty second server, with the same users.
    let secrets: Arc<Secrets> = system.nats.secrets().unwrap().clone();
    let target = NatsServer::start_secured(secrets.clone()).await?;

    // A damaged file is refused before anything is created.
    let truncated = scratch.path().join("truncated.backup");
    std::fs::write(&truncated, &text[..text.len() * 2 / 3])?;
    let lines: Vec<&str> = text.lines().collect();
    let altered = scratch.path().join("altered.backup");
    let mut changed = lines.clone();
    let victim = changed
        .iter()
        .position(|line| line.contains("\"type\":\"message\""))
        .unwrap();
    let edited = changed[victim].replacen("\"sequence\":", "\"sequence\":1", 1);
    changed[victim] = &edited;
    std::fs::write(&altered, changed.join("\n") + "\n")?;
    let no_manifest = scratch.path().join("no-manifest.backup");
    std::fs::write(&no_manifest, lines[..lines.len() - 1].join("\n") + "\n")?;
    for (damaged, why) in [
        (&truncated, "cut off"),
        (&altered, ""),
        (&no_manifest, "without its manifest"),
    ] {
        let (code, out) = sy_as(
            &target,
            &stream,
            "restore",
            &["restore", "--from", path_arg(damaged)],
        )
        .await?;
        assert_eq!(code, 3, "{out}");
        assert!(out.contains("is damaged or incomplete"), "{out}");
        assert!(out.contains(why), "{out}");
        assert!(out.contains("nothing was restored"), "{out}");
    }
    let js = async_nats::jetstream::new(
        target
            .client_as("restore", &secrets.password("restore")?)
            .await
            .context("a client of the second server")?,
    );
    for part in ["", "_KEYS", "_ACCESS"] {
        assert!(
            js.get_stream(format!("{stream}{part}")).await.is_err(),
            "{stream}{part} created from a damaged file"
        );
    }

    let (code, restored) = sy_as(
        &target,
        &stream,
        "restore",
        &["restore", "--from", path_arg(&file)],
    )
    .await?;
    assert_eq!(code, 0, "{restored}");
    let (code, again) = sy_as(
        &target,
        &stream,
        "restore",
        &["restore", "--from", path_arg(&file)],
    )
    .await?;
    assert_eq!(code, 1, "{again}");
    assert!(again.contains("exist already"), "{again}");

    // (a) The same streams: a backup of the restored server sums up the same
    // messages at the same sequences, and the log verifies to the digest.
    let copy = scratch.path().join("copy.backup");
    let (code, backed_up_again) = sy_as(
        &target,
        &stream,
        "backup",
        &["backup", "--out", path_arg(&copy)],
    )
    .await?;
    assert_eq!(code, 0, "{backed_up_again}");
    assert_eq!(digests(&backed_up_again), digests(&backed_up));
    assert_eq!(digests(&backed_up).len(), 4, "{backed_up}");
    let keys = system.verify_keys_file().to_str().unwrap().to_string();
    let (code, verified) = sy_as(
        &target,
        &stream,
        "auditor",
        &[
            "verify",
            "--live",
            "--verify-keys-file",
            &keys,
            "--expect-digest",
            &original.log_digest,
            "--expect-position",
            &end.to_string(),
        ],
    )
    .await?;
    assert_eq!(code, 0, "{verified}");

    // The services of the restored deployment.
    let intake = ServiceBuilder::intake(&target, &stream)
        .label("sy-intake(restored)")
        .flag("--signing-key-file", system.signing_key_file().display())
        .without_dev()
        .start()
        .await?;
    let projection = ServiceBuilder::projection(&target, &stream, &scratch.path().join("restored"))
        .label("sy-projection(restored)")
        .flag("--verify-keys-file", system.verify_keys_file().display())
        .without_dev()
        .start()
        .await?;

    // (b) A projection of the restored log is the original projection.
    let restored_query = system.query_at(&projection);
    wait_applied(&restored_query, end).await?;
    let rebuilt = status(&restored_query, end).await?;
    assert_eq!(rebuilt.position, end);
    assert_eq!(rebuilt.log_digest, original.log_digest);
    assert_eq!(rebuilt.read_model_digest, original.read_model_digest);
    assert_eq!(rebuilt.read_model_digest.len(), 64);
    assert_eq!(rebuilt.quarantined, 0);

    // (c) Intake answers every earlier command from the restored log.
    let unit = pb::intake_client::IntakeClient::with_interceptor(
        intake.channel(),
        system.caller(AGENCY, USER),
    );
    let office = pb::intake_client::IntakeClient::with_interceptor(
        intake.channel(),
        system.caller(BUREAU, USER),
    );
    for (command, before) in &sent.submits {
        let again = unit
            .clone()
            .submit_request(command.clone())
            .await?
            .into_inner();
        assert!(again.replayed, "{again:?}");
        assert_eq!(
            (again.position, &again.aggregate_id),
            (before.position, &before.aggregate_id)
        );
    }
    for (command, before) in &sent.assigns {
        let again = office
            .clone()
            .assign_request(command.clone())
            .await?
            .into_inner();
        assert!(again.replayed, "{again:?}");
        assert_eq!(again.position, before.position);
    }
    let bureau = placements(intake.channel(), &system, BUREAU);
    for (command, before) in &sent.registrations {
        let again = bureau
            .clone()
            .register_person(command.clone())
            .await?
            .into_inner();
        assert!(again.replayed, "{again:?}");
        assert_eq!(
            (again.position, &again.aggregate_id),
            (before.position, &before.aggregate_id)
        );
    }
    let privacy = placements(intake.channel(), &system, PRIVACY_OFFICE);
    let (erase, before) = sent.erasure.as_ref().unwrap();
    let again = privacy
        .clone()
        .erase_person(erase.clone())
        .await?
        .into_inner();
    assert!(again.replayed, "{again:?}");
    assert_eq!(again.position, before.position);

    // A new command is written after the restored positions.
    let new = unit
        .clone()
        .submit_request(submit_command(&new_key("after-restore")))
        .await?
        .into_inner();
    assert!(!new.replayed);
    assert_eq!(new.position, end + 1);
    // Intake decides on a restored sealed person: the veteran is placed.
    let decided = bureau
        .clone()
        .put_on_duty(put_on_duty_command(&placement.aggregate_id))
        .await?
        .into_inner();
    assert!(decided.position > new.position);

    // Personal data still opens; the erased person stays erased.
    let reader = placement_query(&projection, &system, BUREAU);
    let opened = eventually(CONVERGE, "the veteran, unmasked, restored", || {
        let mut reader = reader.clone();
        let request = unmasked(&veteran);
        async move { Ok(reader.get_person_unmasked(request).await?.into_inner()) }
    })
    .await?;
    let person = opened.person.context("a person")?;
    assert_eq!(person.id_number, sent.registrations[0].0.id_number);
    assert!(!person.name.is_empty() && !person.erased);
    let gone = reader
        .clone()
        .get_person_unmasked(unmasked(&spouse))
        .await?
        .into_inner()
        .person
        .context("a person")?;
    assert!(gone.erased, "{gone:?}");
    assert!(gone.name.is_empty() && gone.id_number.is_empty() && gone.phone.is_empty());
    let auditor = placement_query(&projection, &system, AUDITOR_AGENCY);
    let view = auditor
        .clone()
        .get_person(pb::GetPersonRequest {
            id: veteran.clone(),
            min_position: decided.position,
        })
        .await?
        .into_inner()
        .person
        .context("a person")?;
    assert_eq!(view.placements[0].status, "on_duty");
    Ok(())
}
