//! Rotating the key-encryption key (KEK) on a deployment as shipped (`sy
//! setup` secrets, NATS with TLS and users, no `--dev`), with the real `sy`:
//! `sy keys rotate-kek` adds a version, intake and the projection restart
//! with it, `sy keys rewrap --retire` moves every stored data key to it and
//! drops the old version from the file, and after another restart every
//! sealed event still opens: a fresh replica folds the whole log and serves
//! the masked people, and intake decides on people registered before the
//! rotation. A rewrap before any service runs with the new version is
//! refused, and a service given a different KEK of the same version refuses
//! to start, naming the KEK. And the privacy office's `sy person` commands:
//! a legal hold blocks an erasure until released, and an erased person is
//! served without any personal field.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use std::ffi::OsString;
use std::path::Path;

use anyhow::Context;
use sy_tests::client::*;
use sy_tests::pb::{self, PersonRole};
use sy_tests::process::sy;
use sy_tests::system::AUDITOR_AGENCY;
use sy_tests::{CONVERGE, Service, ServiceBuilder, System};

/// The agency that registers people (role resettlement in the demo policy).
const OPERATOR: &str = "district-veterans-bureau";

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// `sy keys <args> --kek-file <file>`, which must succeed.
async fn keys(args: &[&str], kek_file: &Path) -> anyhow::Result<String> {
    let mut argv = os(&["keys"]);
    argv.extend(os(args));
    argv.extend([OsString::from("--kek-file"), kek_file.into()]);
    let (code, out) = sy(&argv).await?;
    anyhow::ensure!(code == 0, "sy keys {args:?} exited {code}: {out}");
    Ok(out)
}

/// `sy keys rewrap` as NATS user `intake` (the one user that may write the
/// key store); its exit code and output.
async fn rewrap(system: &System, extra: &[&str]) -> anyhow::Result<(i32, String)> {
    let secrets = system.nats.secrets().unwrap();
    let kek = secrets.kek_file().display().to_string();
    let password = secrets.password_file("intake").display().to_string();
    let ca = secrets.ca().display().to_string();
    let mut args = vec![
        "keys",
        "rewrap",
        "--kek-file",
        &kek,
        "--nats-user",
        "intake",
        "--nats-password-file",
        &password,
        "--nats-ca",
        &ca,
    ];
    args.extend(extra);
    system.sy(&args).await
}

fn placements(system: &System) -> PlacementsClient {
    pb::placements_client::PlacementsClient::with_interceptor(
        system.intake.channel(),
        system.caller(OPERATOR, USER),
    )
}

fn placement_query(system: &System, projection: &Service) -> PlacementQueryClient {
    pb::placement_query_client::PlacementQueryClient::with_interceptor(
        projection.channel(),
        system.caller(AUDITOR_AGENCY, USER),
    )
}

async fn register(client: &mut PlacementsClient, role: PersonRole) -> anyhow::Result<String> {
    let command = register_person_command(role, &fresh_id_number(35));
    Ok(client
        .register_person(command)
        .await?
        .into_inner()
        .aggregate_id)
}

fn training(person_id: &str, course: &str) -> pb::RecordTrainingCommand {
    pb::RecordTrainingCommand {
        context: fresh_ctx(),
        person_id: person_id.into(),
        course: course.into(),
        hours: 16,
        completed_on: date_in_days(-3),
    }
}

/// The person as `projection` serves them once it has applied `position`.
async fn person(
    system: &System,
    projection: &Service,
    id: &str,
    position: u64,
) -> anyhow::Result<pb::PersonView> {
    let query = placement_query(system, projection);
    eventually(CONVERGE, &format!("person {id}"), || {
        let mut query = query.clone();
        let id = id.to_string();
        async move {
            query
                .get_person(pb::GetPersonRequest {
                    id,
                    min_position: position,
                })
                .await?
                .into_inner()
                .person
                .context("GetPerson without a person")
        }
    })
    .await
}

/// An intake like the system's, but with `kek_file` as its KEK.
fn intake_with_kek(system: &System, kek_file: &Path) -> ServiceBuilder {
    let secrets = system.nats.secrets().unwrap();
    let mut builder = ServiceBuilder::new("sy-intake")
        .label("sy-intake(other KEK)")
        .without_dev()
        .flag("--nats-url", system.nats_url())
        .flag("--stream", system.stream())
        .flag("--identity-key-file", secrets.identity_key_file().display())
        .flag("--signing-key-file", system.signing_key_file().display())
        .flag("--kek-file", kek_file.display());
    let mut args = secrets
        .nats_args("intake")
        .into_iter()
        .chain(secrets.grpc_args("intake"));
    while let Some(arg) = args.next() {
        let value = args.next().unwrap();
        if arg != "--kek-file" {
            builder = builder.arg(arg).arg(value);
        }
    }
    builder
}

#[tokio::test]
async fn a_rotated_and_retired_kek_still_opens_every_person_and_a_wrong_one_stops_start_up()
-> anyhow::Result<()> {
    let mut system = System::builder().secured().start().await?;
    let kek_file = system.nats.secrets().unwrap().kek_file();

    // People sealed under KEK version 1.
    let mut client = placements(&system);
    let veteran = register(&mut client, PersonRole::Veteran).await?;
    let spouse = register(&mut client, PersonRole::MilitarySpouse).await?;
    let child = register(&mut client, PersonRole::MilitaryChild).await?;
    client.record_training(training(&spouse, "育婴师")).await?;

    // Rotate: version 2 is added, version 1 kept.
    let rotated = keys(&["rotate-kek"], &kek_file).await?;
    assert!(rotated.contains("version 2"), "{rotated}");
    let text = std::fs::read_to_string(&kek_file)?;
    assert!(
        text.lines().any(|l| l.starts_with("1 ")) && text.lines().any(|l| l.starts_with("2 ")),
        "both versions are in the file"
    );
    assert!(
        !rotated.contains(text.lines().last().unwrap()),
        "no key printed"
    );

    // No service runs with version 2 yet: a rewrap would strand them.
    let (code, refused) = rewrap(&system, &[]).await?;
    assert_eq!(code, 1, "{refused}");
    assert!(
        refused.contains("no service runs with key-encryption key version 2"),
        "{refused}"
    );

    // The services take the rotated file; new keys are wrapped under 2.
    system.intake.restart().await?;
    system.projection_mut().restart().await?;
    let mut client = placements(&system);
    let newcomer = register(&mut client, PersonRole::Veteran).await?;

    let (code, rewrapped) = rewrap(&system, &["--retire"]).await?;
    assert_eq!(code, 0, "{rewrapped}");
    assert!(
        rewrapped.contains(
            "3 data keys rewrapped under key-encryption key version 2, 1 already under it"
        ),
        "{rewrapped}"
    );
    assert!(rewrapped.contains("retired versions 1"), "{rewrapped}");
    let retired = std::fs::read_to_string(&kek_file)?;
    assert!(
        !retired.lines().any(|l| l.starts_with("1 "))
            && retired.lines().any(|l| l.starts_with("2 ")),
        "only version 2 is left"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&kek_file)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the KEK file stays owner-only");
    }
    // Again: nothing left on version 1.
    let (code, again) = rewrap(&system, &[]).await?;
    assert_eq!(code, 0, "{again}");
    assert!(again.contains("0 data keys rewrapped"), "{again}");

    // With version 2 only, everything still opens.
    system.intake.restart().await?;
    system.projection_mut().restart().await?;
    let mut client = placements(&system);
    let decided = client
        .record_training(training(&spouse, "电子商务"))
        .await?
        .into_inner();
    let fresh = system.spawn_projection().await?;
    for id in [&veteran, &spouse, &child, &newcomer] {
        let view = person(&system, &fresh, id, decided.position).await?;
        assert_eq!(view.name, "张*", "person {id}");
        assert!(
            view.id_number.starts_with("**************"),
            "person {id}: {}",
            view.id_number
        );
        assert_eq!(view.phone, "*******5678", "person {id}");
    }
    let view = person(&system, &fresh, &spouse, decided.position).await?;
    assert_eq!(view.trainings.len(), 2, "{:?}", view.trainings);

    // Another KEK of the same version: refused at start-up, by name.
    let other = tempfile::tempdir()?;
    let other_kek = other.path().join("other.key");
    let mut argv = os(&["keys", "new-kek", "--out"]);
    argv.push(other_kek.clone().into());
    let (code, out) = sy(&argv).await?;
    assert_eq!(code, 0, "{out}");
    let (code, refused) = sy(&argv).await?;
    assert_eq!(code, 2, "never overwritten without --force: {refused}");
    keys(&["rotate-kek"], &other_kek).await?;
    let other_key = std::fs::read_to_string(&other_kek)?;
    let other_key = other_key
        .lines()
        .last()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap();
    let error = match intake_with_kek(&system, &other_kek).start().await {
        Ok(_) => anyhow::bail!("intake started with another KEK"),
        Err(err) => format!("{err:#}"),
    };
    assert!(
        error.contains("key-encryption key version 2 does not open"),
        "{error}"
    );
    assert!(!error.contains(other_key), "the error shows no key");
    Ok(())
}

/// `sy person <args>` as the demo's privacy office, against the system's
/// intake over TLS with the office's token.
async fn person_command(system: &System, args: &[&str]) -> anyhow::Result<(i32, String)> {
    let secrets = system.nats.secrets().unwrap();
    let office = "district-privacy-office";
    let mut argv = os(&[
        "--intake-url",
        &system.intake.endpoint(),
        "--agency",
        office,
        "--user",
        "officer",
    ]);
    argv.extend([
        OsString::from("--ca"),
        secrets.ca().into(),
        "--token-file".into(),
        secrets
            .path()
            .join("clients")
            .join(office)
            .join("token")
            .into(),
        "person".into(),
    ]);
    argv.extend(os(args));
    sy(&argv).await
}

#[tokio::test]
async fn the_privacy_office_holds_and_erases_a_person_with_sy() -> anyhow::Result<()> {
    let system = System::builder().secured().start().await?;
    let mut client = placements(&system);
    let spouse = register(&mut client, PersonRole::MilitarySpouse).await?;

    let (code, out) = person_command(
        &system,
        &["hold", "--person", &spouse, "--reason", "case 2026-17"],
    )
    .await?;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("PlaceLegalHold"), "{out}");
    let (code, refused) = person_command(
        &system,
        &[
            "erase",
            "--person",
            &spouse,
            "--legal-basis",
            "PIPL art. 47",
        ],
    )
    .await?;
    assert_eq!(code, 1, "{refused}");
    assert!(refused.contains("under a legal hold"), "{refused}");

    let (code, out) = person_command(
        &system,
        &["release", "--person", &spouse, "--reason", "case closed"],
    )
    .await?;
    assert_eq!(code, 0, "{out}");
    let erase = [
        "erase",
        "--person",
        &spouse,
        "--legal-basis",
        "PIPL art. 47",
        "--idempotency-key",
        "erase-once",
    ];
    let (code, erased) = person_command(&system, &erase).await?;
    assert_eq!(code, 0, "{erased}");
    let (code, again) = person_command(&system, &erase).await?;
    assert_eq!(code, 0, "{again}");
    assert!(
        again.contains("replayed"),
        "the same key is answered from the log: {again}"
    );

    let position = system.log_position().await?;
    let view = person(&system, system.projection(), &spouse, position).await?;
    assert!(view.erased, "{view:?}");
    assert!(view.name.is_empty() && view.id_number.is_empty() && view.phone.is_empty());
    Ok(())
}
