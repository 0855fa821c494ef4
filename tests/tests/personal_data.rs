//! Personal data end to end (issue 10): names, ID numbers and phones are
//! sealed before they reach the log, and nowhere on disk or in any output
//! in the clear; an erasure destroys the person's data key for good
//! (its bytes gone from the key store's files), leaves no masked fragment
//! anywhere, keeps every statistic, and `sy verify` and a fresh replica
//! still agree with the live projection. The free text of a request that
//! concerns a person (a family difficulty naming them) is sealed under
//! their key too, and served empty after their erasure. Legal holds block
//! erasure; a replayed erasure is idempotent.
//!
//! The scans print what they looked through and what they found, so the
//! closing note of the issue can quote them.
#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    reason = "helpers outside #[test] fns: a panic there is the failure report, \
              and the scans report what they read (run with --nocapture)"
)]

use std::path::{Path, PathBuf};

use async_nats::jetstream;
use sy_tests::client::*;
use sy_tests::pb::{self, PersonRole, Programme};
use sy_tests::{CONVERGE, System, board, expect_code, get_request};

/// One test person: what must never appear in the clear.
struct Secrets {
    name: &'static str,
    id_number: String,
    phone: &'static str,
}

impl Secrets {
    /// Every byte string that would give the person away: the ID number and
    /// phone, the name in UTF-8 and in GBK (the encoding of many Chinese
    /// government systems and of files exported from them).
    fn needles(&self) -> Vec<(String, Vec<u8>)> {
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(self.name);
        assert!(!unmappable, "{} is not GBK", self.name);
        vec![
            (
                format!("name {} (UTF-8)", self.name),
                self.name.as_bytes().to_vec(),
            ),
            (format!("name {} (GBK)", self.name), gbk.into_owned()),
            (
                format!("ID number {}", self.id_number),
                self.id_number.as_bytes().to_vec(),
            ),
            (
                format!("phone {}", self.phone),
                self.phone.as_bytes().to_vec(),
            ),
        ]
    }
}

/// Every regular file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.is_file() {
                files.push(path);
            }
        }
    }
    files
}

/// Where each needle occurs among `sources` (a label and its bytes).
fn findings(sources: &[(String, Vec<u8>)], needles: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut found = Vec::new();
    for (label, bytes) in sources {
        for (what, needle) in needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found.push(format!("{what} in {label}"));
            }
        }
    }
    found
}

/// The contents of everything the issue names: the JetStream store (the
/// log and the key store), every sled directory, a `sy export` of the
/// whole log, and every service's log. The projections were stopped first,
/// so sled has flushed everything it holds to its files.
async fn everything(system: &System, scratch: &Path, round: &str) -> Vec<(String, Vec<u8>)> {
    let mut sources = Vec::new();
    let mut add_files = |kind: &str, dir: &Path| {
        let files = files_under(dir);
        let bytes: usize = files
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len() as usize))
            .sum();
        eprintln!(
            "scan {round}: {kind}: {} files, {bytes} bytes under {}",
            files.len(),
            dir.display()
        );
        for file in files {
            if let Ok(content) = std::fs::read(&file) {
                sources.push((format!("{kind} {}", file.display()), content));
            }
        }
    };
    add_files("JetStream store", system.nats.store_dir());
    add_files("sled", system.root());
    let export = scratch.join(format!("export-{round}.jsonl"));
    let (code, text) = system
        .sy(&["export", "--out", export.to_str().unwrap()])
        .await
        .unwrap();
    assert_eq!(code, 0, "{text}");
    let exported = std::fs::read(&export).unwrap();
    eprintln!("scan {round}: sy export: {} bytes", exported.len());
    sources.push(("sy export".into(), exported));
    for (label, log) in [
        ("intake log", system.intake.log()),
        ("projection log", system.projection().log()),
        ("nats-server log", system.nats.log()),
    ] {
        eprintln!("scan {round}: {label}: {} bytes", log.len());
        sources.push((label.to_string(), log.into_bytes()));
    }
    sources
}

/// The wrapped data key of `person` as the key store holds it.
async fn wrapped_key(system: &System, person: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let js = jetstream::new(system.nats.client().await?);
    let store = js.get_stream(format!("{}_KEYS", system.stream())).await?;
    match store
        .get_last_raw_message_by_subject(&format!("sy.key.dek.{person}"))
        .await
    {
        Ok(message) => Ok(Some(message.payload.to_vec())),
        Err(err) if err.kind() == jetstream::stream::LastRawMessageErrorKind::NoMessageFound => {
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

async fn person(
    query: &PlacementQueryClient,
    id: &str,
    position: u64,
) -> anyhow::Result<pb::PersonView> {
    let reply = query
        .clone()
        .get_person(pb::GetPersonRequest {
            id: id.to_string(),
            min_position: position,
        })
        .await?
        .into_inner();
    anyhow::ensure!(reply.position >= position, "at {}", reply.position);
    reply.person.ok_or_else(|| anyhow::anyhow!("no person"))
}

async fn stats(query: &PlacementQueryClient, position: u64) -> anyhow::Result<Vec<pb::AreaStats>> {
    let reply = query
        .clone()
        .get_placement_stats(pb::GetPlacementStatsRequest {
            area_code: "500106000000".into(),
            year: 0,
            min_position: position,
        })
        .await?
        .into_inner();
    Ok(reply.area.into_iter().chain(reply.below).collect())
}

async fn log_digest(query: &QueryClient, position: u64) -> anyhow::Result<String> {
    Ok(query
        .clone()
        .get_projection_status(pb::GetProjectionStatusRequest {
            include_read_model_digest: false,
            min_position: position,
        })
        .await?
        .into_inner()
        .log_digest)
}

fn registration(role: PersonRole, secrets: &Secrets, link_name: &str) -> pb::RegisterPersonCommand {
    let mut command = register_person_command(role, &secrets.id_number);
    command.name = secrets.name.into();
    command.phone = secrets.phone.into();
    for link in &mut command.links {
        link.name = link_name.into();
    }
    command
}

#[tokio::test]
async fn personal_data_is_sealed_everywhere_and_an_erasure_leaves_nothing_behind()
-> anyhow::Result<()> {
    let mut system = System::start().await?;
    let scratch = tempfile::tempdir()?;
    let mut placements = placements_client(system.intake.channel(), DEPARTMENT, "officer");
    let query = placement_query_client(system.projection().channel());

    let veteran = Secrets {
        name: "司马建国",
        id_number: fresh_id_number(34),
        phone: "13912340001",
    };
    let spouse = Secrets {
        name: "欧阳秀英",
        id_number: fresh_id_number(31),
        phone: "13912340002",
    };
    let child = Secrets {
        name: "诸葛小明",
        id_number: fresh_id_number(6),
        phone: "13912340003",
    };
    // The serving member the spouse and child are linked to.
    let member = "慕容海军";

    let veteran_id = placements
        .register_person(registration(PersonRole::Veteran, &veteran, member))
        .await?
        .into_inner()
        .aggregate_id;
    let spouse_id = placements
        .register_person(registration(PersonRole::MilitarySpouse, &spouse, member))
        .await?
        .into_inner()
        .aggregate_id;
    let child_id = placements
        .register_person(registration(PersonRole::MilitaryChild, &child, member))
        .await?
        .into_inner()
        .aggregate_id;

    // The veteran is placed; the spouse declines an offer with a reason
    // naming her (free text about a person is sealed too), trains and gets
    // the allowance; the child gets a seat.
    let placement = placements
        .register_placement(register_placement_command(
            Programme::VeteranResettlement,
            &veteran_id,
        ))
        .await?
        .into_inner()
        .aggregate_id;
    placements
        .match_placement(match_placement_command(&placement))
        .await?;
    placements
        .put_on_duty(put_on_duty_command(&placement))
        .await?;
    let spouse_placement = placements
        .register_placement(register_placement_command(
            Programme::SpousePlacement,
            &spouse_id,
        ))
        .await?
        .into_inner()
        .aggregate_id;
    placements
        .match_placement(match_placement_command(&spouse_placement))
        .await?;
    placements
        .decline_placement(pb::DeclinePlacementCommand {
            context: fresh_ctx(),
            placement_id: spouse_placement.clone(),
            reason: format!("{}因照顾老人放弃, 电话{}", spouse.name, spouse.phone),
        })
        .await?;
    placements
        .record_training(pb::RecordTrainingCommand {
            context: fresh_ctx(),
            person_id: spouse_id.clone(),
            course: "育婴师".into(),
            hours: 40,
            completed_on: date_in_days(-3),
        })
        .await?;
    let month = &date_in_days(0)[..7];
    placements
        .grant_allowance(grant_allowance_command(&spouse_id, 150_000, month))
        .await?;
    placements
        .pay_allowance(pay_allowance_command(&spouse_id, month))
        .await?;
    let station = placements
        .open_station(open_station_command(10))
        .await?
        .into_inner()
        .aggregate_id;
    placements
        .enroll_child(enroll_child_command(&station, &child_id))
        .await?;

    // A family difficulty (军人家庭困难) concerning the veteran, his name in
    // its title, its description and a progress note: sealed under his key.
    let mut requester = system.intake();
    let mut department = system.intake_as(DEPARTMENT_AGENCY, "li.na");
    let mut submit = submit_command(&new_key("family"));
    submit.category = pb::Category::FamilyDifficulty as i32;
    submit.person_id = veteran_id.clone();
    submit.title = format!("{}家属就医困难", veteran.name);
    submit.description = format!("退役军人{}之妻住院，需协调就医", veteran.name);
    let request_id = requester
        .submit_request(submit.clone())
        .await?
        .into_inner()
        .aggregate_id;
    department
        .assign_request(assign_command(&request_id, DEPARTMENT, 14))
        .await?;
    department.start_request(start_command(&request_id)).await?;
    let visited = format!("已走访{}家属", veteran.name);
    let last = department
        .record_progress(progress_command(&request_id, &visited))
        .await?
        .into_inner()
        .position;
    system.wait_applied(last).await?;

    // Served in the clear to those who may read it, from the sealed log.
    let request = get_request(&system.query(), &request_id, last).await?;
    assert_eq!(request.person_id, veteran_id);
    assert_eq!(
        (request.title.as_str(), request.description.as_str()),
        (submit.title.as_str(), submit.description.as_str())
    );
    assert_eq!(request.timeline.last().unwrap().note, visited);
    assert_eq!(request.sealed_text, None, "never served");
    let mut board_before = board(&system.query(), "", last).await?;
    board_before.position = 0;

    // Served masked, from the sealed log.
    let view = person(&query, &veteran_id, last).await?;
    assert_eq!(view.name, "司*");
    assert_eq!(
        view.id_number,
        format!("**************{}", &veteran.id_number[14..])
    );
    assert_eq!(view.phone, "*******0001");
    assert!(!view.erased);
    assert_eq!(view.placements.len(), 1);
    let spouse_view = person(&query, &spouse_id, last).await?;
    assert_eq!(spouse_view.links[0].name, "慕*");
    let stats_before = stats(&query, last).await?;

    let people = [&veteran, &spouse, &child];
    let mut needles: Vec<(String, Vec<u8>)> = people.iter().flat_map(|p| p.needles()).collect();
    needles.push((
        format!("linked name {member} (UTF-8)"),
        member.as_bytes().to_vec(),
    ));

    // The scan finds what is there: the veteran's wrapped data key in the
    // key store's files, and a value stored in the clear (the area code).
    let wrapped = wrapped_key(&system, &veteran_id)
        .await?
        .expect("the veteran has a data key");
    system.projection_mut().terminate().await?;
    let sources = everything(&system, scratch.path(), "before erasure").await;
    system.projection_mut().restart().await?;
    let controls = [
        (
            "the veteran's wrapped data key".to_string(),
            wrapped.clone(),
        ),
        ("area code".to_string(), AREA_CODE.as_bytes().to_vec()),
    ];
    let found = findings(&sources, &controls);
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("the veteran's wrapped data key in JetStream store")),
        "the scan must see the key store's files: {found:?}"
    );
    for kind in ["JetStream store", "sled"] {
        assert!(
            found
                .iter()
                .any(|f| f.starts_with(&format!("area code in {kind}"))),
            "the scan must see the {kind} files: {found:?}"
        );
    }
    let found = findings(&sources, &needles);
    eprintln!(
        "scan before erasure: {} needles (3 persons: names UTF-8/GBK, ID numbers, phones; a linked name) in {} sources: {} found",
        needles.len(),
        sources.len(),
        found.len()
    );
    assert!(found.is_empty(), "personal data in the clear: {found:#?}");

    // A legal hold blocks the erasure and says why.
    // Development mode: the caller holds every role, privacy-officer too
    // (the role table is checked in tests/tests/access.rs).
    let mut privacy = placements.clone();
    privacy
        .place_legal_hold(pb::PlaceLegalHoldCommand {
            context: fresh_ctx(),
            person_id: veteran_id.clone(),
            reason: "行政复议进行中 (case 2026-17)".into(),
        })
        .await?;
    let erase = pb::ErasePersonCommand {
        context: fresh_ctx(),
        person_id: veteran_id.clone(),
        legal_basis: "PIPL art. 47(1): the purpose of the processing is achieved".into(),
    };
    let held = privacy.erase_person(erase.clone()).await;
    let status = expect_code(held, tonic::Code::FailedPrecondition);
    assert!(
        status.message().contains("case 2026-17"),
        "{}",
        status.message()
    );
    assert!(wrapped_key(&system, &veteran_id).await?.is_some());

    privacy
        .release_legal_hold(pb::ReleaseLegalHoldCommand {
            context: fresh_ctx(),
            person_id: veteran_id.clone(),
            reason: "case 2026-17 closed".into(),
        })
        .await?;
    let erased = privacy.erase_person(erase.clone()).await?.into_inner();
    assert!(!erased.replayed);
    let again = privacy.erase_person(erase).await?.into_inner();
    assert!(
        again.replayed,
        "a retried erasure is answered, not recorded twice"
    );
    assert_eq!(again.position, erased.position);
    assert_eq!(wrapped_key(&system, &veteran_id).await?, None);

    // Nothing more is recorded about the erased person.
    let refused = placements
        .register_placement(register_placement_command(
            Programme::SpousePlacement,
            &veteran_id,
        ))
        .await;
    expect_code(refused, tonic::Code::FailedPrecondition);

    let end = system.log_position().await?;
    system.wait_applied(end).await?;
    let view = person(&query, &veteran_id, end).await?;
    assert!(view.erased && view.erased_at.is_some(), "{view:?}");
    assert_eq!(
        (
            view.name.as_str(),
            view.id_number.as_str(),
            view.phone.as_str()
        ),
        ("", "", "")
    );
    assert_eq!(view.placements.len(), 1, "the placement stays");
    assert_eq!(view.placements[0].status, "on_duty");
    assert_eq!(
        stats(&query, end).await?,
        stats_before,
        "statistics unchanged"
    );
    // The others are untouched.
    assert_eq!(person(&query, &spouse_id, end).await?.name, "欧*");
    // The request concerning him stays, its text gone, its counts kept.
    let after = get_request(&system.query(), &request_id, end).await?;
    assert_eq!((after.title.as_str(), after.description.as_str()), ("", ""));
    assert!(after.timeline.iter().all(|entry| entry.note.is_empty()));
    assert_eq!(after.sealed_text, None);
    assert_eq!(
        (after.status, after.version, after.timeline.len()),
        (request.status, request.version, request.timeline.len())
    );
    let mut board_after = board(&system.query(), "", end).await?;
    board_after.position = 0;
    assert_eq!(board_after, board_before, "board counts unchanged");

    // The log still verifies, and a replica folding it now, without the
    // erased key, reaches the live digest and shows the person erased.
    let (code, text) = system.sy(&["verify", "--live"]).await?;
    assert_eq!(code, 0, "{text}");
    let live_digest = log_digest(&system.query(), end).await?;
    let mut fresh = system.spawn_projection().await?;
    let fresh_query = query_client(fresh.channel());
    eventually(CONVERGE, "the fresh replica catches up", || {
        let fresh_query = fresh_query.clone();
        async move { log_digest(&fresh_query, end).await }
    })
    .await?;
    assert_eq!(log_digest(&fresh_query, end).await?, live_digest);
    let replayed = person(&placement_query_client(fresh.channel()), &veteran_id, end).await?;
    assert!(replayed.erased);
    assert_eq!(
        (replayed.name.as_str(), replayed.id_number.as_str()),
        ("", "")
    );

    // After the erasure: not even masked, anywhere, and the key's bytes are
    // gone from the key store's files.
    fresh.terminate().await?;
    system.projection_mut().terminate().await?;
    let sources = everything(&system, scratch.path(), "after erasure").await;
    let mut after: Vec<(String, Vec<u8>)> = needles;
    after.extend([
        ("the veteran's wrapped data key".to_string(), wrapped),
        (
            "the veteran's masked name 司*".to_string(),
            "司*".as_bytes().to_vec(),
        ),
        (
            "the veteran's masked ID number".to_string(),
            format!("**************{}", &veteran.id_number[14..]).into_bytes(),
        ),
        (
            "the veteran's masked phone".to_string(),
            b"*******0001".to_vec(),
        ),
    ]);
    let found = findings(&sources, &after);
    eprintln!(
        "scan after erasure: {} needles (the same, plus the wrapped key and the masked forms) in {} sources: {} found",
        after.len(),
        sources.len(),
        found.len()
    );
    assert!(
        found.is_empty(),
        "left behind after the erasure: {found:#?}"
    );
    Ok(())
}
