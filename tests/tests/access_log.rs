//! Unmasked reads and the access log (issue 10, part 5), on a deployment as
//! shipped (`sy setup --demo` secrets, NATS users with their permissions,
//! TLS, the demo's role policy): the veterans bureau, which holds
//! `personal-data`, reads a person in the clear with a purpose; an agency
//! without the role is refused; a purpose outside the list is refused
//! naming the field; each read that discloses anything is in the access log
//! before the reply, listed by `sy access` per person and per reader as the
//! NATS auditor; the masked `GetPerson` and the refused calls are not. After
//! an erasure a read discloses nothing and is recorded as `erased`.

use std::ffi::OsString;

use anyhow::Context as _;
use sy_tests::client::*;
use sy_tests::{CONVERGE, System, expect_code, pb, violated_fields};
use tonic::Code;

const BUREAU: &str = "district-veterans-bureau";
const AUDIT: &str = "district-audit-office";

fn placements(system: &System, agency: &str) -> PlacementsClient {
    pb::placements_client::PlacementsClient::with_interceptor(
        system.intake.channel(),
        system.caller(agency, "operator"),
    )
}

fn placement_query(system: &System, agency: &str) -> PlacementQueryClient {
    pb::placement_query_client::PlacementQueryClient::with_interceptor(
        system.projection().channel(),
        system.caller(agency, "operator"),
    )
}

fn unmasked(person_id: &str, purpose: &str, note: &str) -> pb::GetPersonUnmaskedRequest {
    pb::GetPersonUnmaskedRequest {
        person_id: person_id.into(),
        purpose: purpose.into(),
        note: note.into(),
    }
}

/// One access as `sy access` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    reader: String,
    person: String,
    purpose: String,
    fields: String,
    outcome: String,
    access_id: String,
    note: String,
}

/// Runs `sy ARGS` as the NATS auditor; its exit code and output.
async fn sy_as_auditor(system: &System, args: &[&str]) -> anyhow::Result<(i32, String)> {
    let secrets = system.nats.secrets().context("a secured system")?;
    let auditor: Vec<String> = secrets
        .nats_args("auditor")
        .into_iter()
        .map(|arg: OsString| arg.to_string_lossy().into_owned())
        .collect();
    let mut all = args.to_vec();
    all.extend(auditor.iter().map(String::as_str));
    system.sy(&all).await
}

/// `sy access ARGS`: the accesses it lists, parsed from its lines
/// (`TIME  READER  person P  purpose P  fields F  OUTCOME  access ID[  note "N"]`).
async fn sy_access(system: &System, args: &[&str]) -> anyhow::Result<Vec<Listed>> {
    let mut all = vec!["access"];
    all.extend(args);
    let (code, text) = sy_as_auditor(system, &all).await?;
    anyhow::ensure!(code == 0, "sy access {args:?} exited {code}: {text}");
    let mut listed = Vec::new();
    for line in text.lines().filter(|line| line.contains("  purpose ")) {
        let parts: Vec<&str> = line.split("  ").collect();
        let after = |prefix: &str| {
            parts
                .iter()
                .find_map(|part| part.strip_prefix(prefix))
                .unwrap_or_default()
                .to_string()
        };
        listed.push(Listed {
            reader: parts.get(1).copied().unwrap_or_default().to_string(),
            person: after("person "),
            purpose: after("purpose "),
            fields: after("fields "),
            outcome: parts.get(5).copied().unwrap_or_default().to_string(),
            access_id: after("access "),
            note: after("note ").trim_matches('"').to_string(),
        });
    }
    Ok(listed)
}

#[tokio::test]
async fn unmasked_reads_need_the_role_and_a_purpose_and_each_is_recorded() -> anyhow::Result<()> {
    let system = System::builder().secured().start().await?;
    let number = fresh_id_number(32);
    let registered = placements(&system, BUREAU)
        .register_person(register_person_command(
            pb::PersonRole::MilitarySpouse,
            &number,
        ))
        .await?
        .into_inner();
    let person_id = registered.aggregate_id.clone();
    let bureau = placement_query(&system, BUREAU);

    // The projection reads the person's events from the log once its fold
    // opened the key store (intake created it with the registration).
    let first = eventually(CONVERGE, "an unmasked read", || {
        let mut bureau = bureau.clone();
        let request = unmasked(&person_id, "contact-for-placement", "case 2026-0415");
        async move { Ok(bureau.get_person_unmasked(request).await?.into_inner()) }
    })
    .await?;
    let person = first.person.context("a person")?;
    assert_eq!(person.name, "张三");
    assert_eq!(person.id_number, number);
    assert_eq!(person.phone, "13812345678");
    assert_eq!(person.links[0].name, "李四");
    assert!(!person.erased);
    assert!(!first.access_id.is_empty());
    let second = bureau
        .clone()
        .get_person_unmasked(unmasked(&person_id, "allowance-payment", ""))
        .await?
        .into_inner();

    // Refused calls disclose nothing and are not recorded.
    let denied = expect_code(
        placement_query(&system, AUDIT)
            .get_person_unmasked(unmasked(&person_id, "legal-obligation", ""))
            .await,
        Code::PermissionDenied,
    );
    assert!(
        denied.message().contains("personal-data"),
        "{}",
        denied.message()
    );
    let invalid = expect_code(
        bureau
            .clone()
            .get_person_unmasked(unmasked(&person_id, "curiosity", ""))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&invalid), ["purpose"]);
    assert!(invalid.message().contains("contact-for-placement"));
    expect_code(
        bureau
            .clone()
            .get_person_unmasked(unmasked(
                &uuid::Uuid::now_v7().to_string(),
                "contact-for-placement",
                "",
            ))
            .await,
        Code::NotFound,
    );
    // The masked view is not an access to personal data.
    let masked = bureau
        .clone()
        .get_person(pb::GetPersonRequest {
            id: person_id.clone(),
            min_position: registered.position,
        })
        .await?
        .into_inner()
        .person
        .context("a person")?;
    assert_ne!(masked.id_number, number);

    // Per person: exactly the two reads, who, why, which fields.
    let by_person = sy_access(&system, &["--person", &person_id]).await?;
    let ids: Vec<&str> = by_person.iter().map(|l| l.access_id.as_str()).collect();
    assert_eq!(ids, [first.access_id.as_str(), second.access_id.as_str()]);
    let purposes: Vec<&str> = by_person.iter().map(|l| l.purpose.as_str()).collect();
    assert_eq!(purposes, ["contact-for-placement", "allowance-payment"]);
    assert_eq!(by_person[0].note, "case 2026-0415");
    assert_eq!(by_person[1].note, "");
    for listed in &by_person {
        assert!(
            listed.reader.starts_with(&format!("{BUREAU}/")),
            "{listed:?}"
        );
        assert_eq!(listed.person, person_id);
        assert_eq!(listed.outcome, "disclosed");
        assert_eq!(listed.fields, "name,id_number,phone,links.name");
    }

    // Per reader: the bureau's two, the audit office's none.
    assert_eq!(sy_access(&system, &["--reader", BUREAU]).await?, by_person);
    assert!(sy_access(&system, &["--reader", AUDIT]).await?.is_empty());

    // For machines: one JSON object per access. Neither form holds any
    // personal data.
    let (code, json) =
        sy_as_auditor(&system, &["access", "--json", "--person", &person_id]).await?;
    assert_eq!(code, 0, "{json}");
    let objects: Vec<&str> = json.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(objects.len(), 2, "{json}");
    assert!(
        objects[1].contains("\"purpose\":\"allowance-payment\""),
        "{json}"
    );
    assert!(
        objects[0].contains("\"fields\":[\"name\",\"id_number\",\"phone\",\"links.name\"]"),
        "{json}"
    );
    let (_, text) = sy_as_auditor(&system, &["access", "--reader", BUREAU]).await?;
    assert!(text.contains("2 accesses by"), "{text}");
    for output in [&json, &text] {
        for personal in [number.as_str(), "张三", "13812345678", "李四"] {
            assert!(!output.contains(personal), "{personal} in {output}");
        }
    }

    // After an erasure a read discloses nothing, and is still recorded.
    placements(&system, "district-privacy-office")
        .erase_person(pb::ErasePersonCommand {
            context: fresh_ctx(),
            person_id: person_id.clone(),
            legal_basis: "PIPL art. 47(1): purpose achieved".into(),
        })
        .await?;
    let erased = eventually(CONVERGE, "the erasure, read", || {
        let mut bureau = bureau.clone();
        let request = unmasked(&person_id, "subject-access-request", "");
        async move {
            let reply = bureau.get_person_unmasked(request).await?.into_inner();
            let person = reply.person.clone().context("a person")?;
            anyhow::ensure!(person.erased, "not erased yet");
            Ok(reply)
        }
    })
    .await?;
    let person = erased.person.context("a person")?;
    assert!(person.name.is_empty() && person.id_number.is_empty() && person.phone.is_empty());
    assert!(person.links.iter().all(|link| link.name.is_empty()));
    let after = sy_access(&system, &["--person", &person_id]).await?;
    let last = after.last().context("the erased read, recorded")?;
    assert_eq!(last.access_id, erased.access_id);
    assert_eq!(
        (last.outcome.as_str(), last.fields.as_str()),
        ("erased", "-")
    );
    assert_eq!(last.purpose, "subject-access-request");
    Ok(())
}
