//! The placement programmes end to end: care station seats under concurrent
//! enrollments, the refusals of bad input, masking of personal data, and the
//! `sy demo placements` scenario reproducing the article's figures, on the
//! live projection and on a fresh replica replaying the log from sequence 1.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::future::join_all;
use sy_tests::client::*;
use sy_tests::pb::{self, PersonRole, Programme};
use sy_tests::{CONVERGE, System, expect_code, violated_fields};

const OPERATOR: &str = "district-veterans-bureau";

fn placements(sys: &System, user: &str) -> PlacementsClient {
    placements_client(sys.intake.channel(), OPERATOR, user)
}

fn placement_query(sys: &System) -> PlacementQueryClient {
    placement_query_client(sys.projection().channel())
}

/// Registers someone of `role` aged `age`; returns their person id.
async fn register(
    client: &mut PlacementsClient,
    role: PersonRole,
    age: i16,
) -> anyhow::Result<String> {
    let command = register_person_command(role, &fresh_id_number(age));
    Ok(client
        .register_person(command)
        .await?
        .into_inner()
        .aggregate_id)
}

async fn station(
    query: &PlacementQueryClient,
    id: &str,
    position: u64,
) -> anyhow::Result<pb::StationView> {
    eventually(CONVERGE, &format!("station {id} at {position}"), || {
        let mut query = query.clone();
        async move {
            let reply = query
                .get_station(pb::GetStationRequest {
                    id: id.to_string(),
                    min_position: position,
                })
                .await?
                .into_inner();
            anyhow::ensure!(reply.position >= position, "at {}", reply.position);
            reply.station.context("GetStation without a station")
        }
    })
    .await
}

async fn stats(
    query: &PlacementQueryClient,
    year: i32,
    position: u64,
) -> anyhow::Result<pb::GetPlacementStatsResponse> {
    eventually(CONVERGE, &format!("placement stats at {position}"), || {
        let mut query = query.clone();
        async move {
            let reply = query
                .get_placement_stats(pb::GetPlacementStatsRequest {
                    area_code: "500106000000".into(),
                    year,
                    min_position: position,
                })
                .await?
                .into_inner();
            anyhow::ensure!(reply.position >= position, "at {}", reply.position);
            Ok(reply)
        }
    })
    .await
}

fn this_month() -> String {
    date_in_days(0)[..7].to_string()
}

fn last_month() -> String {
    let today = sy_domain::validate::china_date(jiff::Timestamp::now());
    let first = today.first_of_month() - jiff::Span::new().days(1);
    format!("{:04}-{:02}", first.year(), first.month())
}

#[tokio::test]
async fn concurrent_enrollments_fill_one_seat_and_wait_in_log_order() -> anyhow::Result<()> {
    const CHILDREN: usize = 6;
    let sys = System::start().await?;
    let mut operator = placements(&sys, "station.keeper");
    let station_id = operator
        .open_station(open_station_command(1))
        .await?
        .into_inner()
        .aggregate_id;
    let mut children = Vec::new();
    for _ in 0..CHILDREN {
        children.push(register(&mut operator, PersonRole::MilitaryChild, 6).await?);
    }

    // One connection per enrollment, released together.
    let results = join_all(children.iter().enumerate().map(|(i, child)| {
        let mut client = placements_client(sys.intake.channel(), OPERATOR, &format!("parent-{i}"));
        let command = enroll_child_command(&station_id, child);
        async move { client.enroll_child(command).await }
    }))
    .await;
    let mut appended: Vec<(u64, String)> = Vec::new();
    for (result, child) in results.into_iter().zip(&children) {
        let result = result
            .with_context(|| {
                format!("enrolling {child}: every enrollment is kept (seated or waiting)")
            })?
            .into_inner();
        assert_eq!(result.aggregate_id, station_id);
        appended.push((result.position, child.clone()));
    }
    appended.sort();
    let in_log_order: Vec<String> = appended.iter().map(|(_, child)| child.clone()).collect();
    let last = appended.last().expect("enrollments").0;

    let query = placement_query(&sys);
    let view = station(&query, &station_id, last).await?;
    assert_eq!(view.seats, 1);
    assert_eq!(view.occupancy, 1);
    assert_eq!(view.free_seats, 0);
    assert_eq!(
        view.seated,
        in_log_order[..1],
        "the first appended takes the seat"
    );
    assert_eq!(
        view.waitlist,
        in_log_order[1..],
        "the rest wait in the order appended"
    );
    assert_eq!(view.version, 1 + CHILDREN as u64);

    // The seated child leaves: the first waiting takes the seat.
    let withdrawn = operator
        .withdraw_child(withdraw_child_command(&station_id, &in_log_order[0]))
        .await?
        .into_inner();
    let view = station(&query, &station_id, withdrawn.position).await?;
    assert_eq!(view.seated, in_log_order[1..2]);
    assert_eq!(view.waitlist, in_log_order[2..]);
    assert_eq!(view.occupancy, 1);
    Ok(())
}

#[tokio::test]
async fn bad_placement_input_is_refused_with_the_right_code() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let mut client = placements(&sys, "clerk");

    // A wrong check character.
    let good = fresh_id_number(30);
    let wrong = match good.as_bytes()[17] {
        b'0' => '1',
        _ => '0',
    };
    let bad = format!("{}{wrong}", &good[..17]);
    let status = expect_code(
        client
            .register_person(register_person_command(PersonRole::Veteran, &bad))
            .await,
        tonic::Code::InvalidArgument,
    );
    assert_eq!(
        violated_fields(&status),
        ["id_number"],
        "{}",
        status.message()
    );

    // The same ID number twice, under another key: the existing person is named.
    let first = client
        .register_person(register_person_command(PersonRole::Veteran, &good))
        .await?
        .into_inner();
    let status = expect_code(
        client
            .register_person(register_person_command(PersonRole::Veteran, &good))
            .await,
        tonic::Code::AlreadyExists,
    );
    assert!(
        status.message().contains(&first.aggregate_id),
        "names the existing person {}: {}",
        first.aggregate_id,
        status.message()
    );

    // Children of 2 and 13 have no place at a care station (ages 3 to 12).
    let station_id = client
        .open_station(open_station_command(5))
        .await?
        .into_inner()
        .aggregate_id;
    for age in [2, 13] {
        let child = register(&mut client, PersonRole::MilitaryChild, age).await?;
        let status = expect_code(
            client
                .enroll_child(enroll_child_command(&station_id, &child))
                .await,
            tonic::Code::FailedPrecondition,
        );
        assert!(
            status.message().contains("3 to 12"),
            "age {age}: {}",
            status.message()
        );
    }

    // The allowance: a positive amount, paid once a month from the grant's month.
    let spouse = register(&mut client, PersonRole::MilitarySpouse, 35).await?;
    let status = expect_code(
        client
            .grant_allowance(grant_allowance_command(&spouse, 0, &this_month()))
            .await,
        tonic::Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["monthly_amount_fen"]);
    client
        .grant_allowance(grant_allowance_command(&spouse, 210_000, &this_month()))
        .await?;
    let status = expect_code(
        client
            .pay_allowance(pay_allowance_command(&spouse, &last_month()))
            .await,
        tonic::Code::FailedPrecondition,
    );
    assert!(
        status.message().contains(&last_month()),
        "{}",
        status.message()
    );
    client
        .pay_allowance(pay_allowance_command(&spouse, &this_month()))
        .await?;
    let status = expect_code(
        client
            .pay_allowance(pay_allowance_command(&spouse, &this_month()))
            .await,
        tonic::Code::FailedPrecondition,
    );
    assert!(
        status.message().contains("already paid"),
        "{}",
        status.message()
    );

    // Placing someone already placed.
    let placed = register(&mut client, PersonRole::MilitarySpouse, 30).await?;
    let placement = client
        .register_placement(register_placement_command(
            Programme::SpousePlacement,
            &placed,
        ))
        .await?
        .into_inner()
        .aggregate_id;
    client
        .match_placement(match_placement_command(&placement))
        .await?;
    let on_duty = client
        .put_on_duty(put_on_duty_command(&placement))
        .await?
        .into_inner();
    let status = expect_code(
        client
            .register_placement(register_placement_command(
                Programme::SpousePlacement,
                &placed,
            ))
            .await,
        tonic::Code::FailedPrecondition,
    );
    assert!(
        status.message().contains("already placed"),
        "{}",
        status.message()
    );
    expect_code(
        client.put_on_duty(put_on_duty_command(&placement)).await,
        tonic::Code::FailedPrecondition,
    );

    // Readers see masked personal data.
    let query = placement_query(&sys);
    let person = eventually(CONVERGE, "the registered veteran", || {
        let mut query = query.clone();
        let id = first.aggregate_id.clone();
        let position = on_duty.position;
        async move {
            let reply = query
                .get_person(pb::GetPersonRequest {
                    id,
                    min_position: position,
                })
                .await?
                .into_inner();
            reply.person.context("GetPerson without a person")
        }
    })
    .await?;
    assert_eq!(
        person.id_number,
        format!("**************{}", &good[14..]),
        "ID numbers are masked like **************1234"
    );
    assert_eq!(person.phone, "*******5678");
    assert!(
        !person.name.contains('三'),
        "names are masked: {}",
        person.name
    );
    // With the masked number they would narrow it down: not served.
    assert_eq!(person.birth_year, 0);
    assert!(person.sex.is_empty(), "sex served: {}", person.sex);
    Ok(())
}

/// Of the article's figures, what `sy demo placements --scale SCALE` writes.
const SCALE: u32 = 1;

fn scaled(n: u32) -> u64 {
    u64::from(n.div_ceil(SCALE))
}

fn programme(area: &pb::AreaStats, programme: Programme) -> pb::ProgrammeStats {
    area.programmes
        .iter()
        .find(|p| p.programme == programme as i32)
        .cloned()
        .unwrap_or_else(|| panic!("no row for {programme:?}"))
}

/// Runs `sy demo placements --seed 7 --scale SCALE` against the system;
/// panics (with its output) unless it succeeds; returns its output.
#[allow(
    clippy::print_stderr,
    reason = "the demo's output, shown when a test fails"
)]
async fn demo(sys: &System) -> anyhow::Result<String> {
    let started = Instant::now();
    let output = tokio::process::Command::new(sy_tests::binary_path("sy"))
        .args(["demo", "placements", "--seed", "7"])
        .args(["--scale", &SCALE.to_string()])
        .args(["--intake-url", &sys.intake.endpoint()])
        .args(["--query-url", &sys.projection().endpoint()])
        .args(["--timeout-ms", "30000"])
        .env_remove("SY_AGENCY")
        .env_remove("SY_USER")
        .output()
        .await?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("sy demo placements took {:?}:\n{text}", started.elapsed());
    assert!(
        output.status.success(),
        "sy demo placements failed:\n{text}"
    );
    Ok(text)
}

#[tokio::test]
async fn the_demo_reproduces_the_articles_figures_on_a_fresh_replica_too() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let started = Instant::now();
    let first = demo(&sys).await?;
    assert!(
        first.contains(" 0 replayed"),
        "a first run writes everything"
    );

    let year = i32::from(sy_domain::validate::china_date(jiff::Timestamp::now()).year());
    let position = sys.log_position().await?;
    let live = stats(&placement_query(&sys), year, position).await?;
    let area = live.area.clone().context("stats without the district")?;
    assert_eq!(area.area_code, "500106000000");

    let veterans = programme(&area, Programme::VeteranResettlement);
    assert_eq!(veterans.placed, scaled(1581), "1,581 veterans placed");
    assert_eq!(veterans.placement_rate, 1.0, "all of them");
    assert_eq!(
        veterans.talent_pool_recommended,
        scaled(33),
        "33 into the talent pool"
    );
    assert!(veterans.fast_lane_placed > 0);
    assert!(
        veterans.fast_lane_within_24h_rate > 0.8,
        "most of the fast lane on duty within 24 h: {}",
        veterans.fast_lane_within_24h_rate
    );

    let spouses = programme(&area, Programme::SpousePlacement);
    assert_eq!(spouses.placed, scaled(26), "26 spouses placed");

    let allowance = area
        .allowance
        .clone()
        .context("stats without the allowance")?;
    let on_allowance = scaled(60);
    assert_eq!(allowance.spouses_granted, on_allowance);
    assert_eq!(
        allowance.paid_fen_in_year,
        on_allowance as i64 * 12 * 210_000,
        "2,100 yuan a month for the 12 months of {year}: about 1.5 million yuan at full scale"
    );
    assert_eq!(allowance.paid_fen_by_month.len(), 12);

    let school = programme(&area, Programme::SchoolEnrollment);
    assert_eq!(school.placed, scaled(2000), "about 2,000 children enrolled");
    assert_eq!(school.requests_accepted, scaled(2000));
    assert_eq!(school.requests_decided, scaled(2000));
    assert_eq!(school.acceptance_rate, 1.0, "every request accepted");
    assert!(!live.below.is_empty(), "rows for the streets");

    // A fresh replica replays the log from sequence 1 to the same figures.
    let replica = sys.spawn_projection().await?;
    let replayed = stats(&placement_query_client(replica.channel()), year, position).await?;
    assert_eq!(replayed.area, live.area);
    assert_eq!(replayed.below, live.below);
    assert_eq!(replayed.year, live.year);

    // A rerun with the same seed (the same day) is answered from the log.
    let again = demo(&sys).await?;
    assert!(
        again.contains(" 0 written"),
        "a rerun writes nothing:\n{again}"
    );
    assert_eq!(sys.log_position().await?, position);
    assert!(started.elapsed() < Duration::from_secs(600));
    Ok(())
}

#[tokio::test]
async fn a_spouse_on_duty_stops_their_allowance_automatically() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let mut client = placements(&sys, "allowance-officer");
    let spouse = register(&mut client, PersonRole::MilitarySpouse, 30).await?;
    client
        .grant_allowance(grant_allowance_command(&spouse, 210_000, &last_month()))
        .await?;
    client
        .pay_allowance(pay_allowance_command(&spouse, &last_month()))
        .await?;
    let placement = client
        .register_placement(register_placement_command(
            Programme::SpousePlacement,
            &spouse,
        ))
        .await?
        .into_inner()
        .aggregate_id;
    client
        .match_placement(match_placement_command(&placement))
        .await?;
    let on_duty = client
        .put_on_duty(put_on_duty_command(&placement))
        .await?
        .into_inner();

    // The stop is its own event, appended right after the placement's.
    let person = eventually(CONVERGE, "allowance stopped", || {
        let mut query = placement_query(&sys);
        let spouse = spouse.clone();
        async move {
            let person = query
                .get_person(pb::GetPersonRequest {
                    id: spouse,
                    min_position: on_duty.position,
                })
                .await?
                .into_inner()
                .person
                .context("GetPerson without a person")?;
            let allowance = person.allowance.clone().unwrap_or_default();
            anyhow::ensure!(
                allowance.status == "stopped",
                "allowance {:?}",
                allowance.status
            );
            Ok(person)
        }
    })
    .await?;
    let allowance = person.allowance.unwrap_or_default();
    assert!(allowance.stopped_automatically);
    assert_eq!(allowance.total_paid_fen, 210_000);
    assert_eq!(allowance.months_paid, 1);

    // No more payments while the spouse is placed.
    let refused = client
        .pay_allowance(pay_allowance_command(&spouse, &this_month()))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    Ok(())
}
