//! The clearance board by period and place through the real services: the
//! filters of `GetClearanceBoard` (period, street or community, requesting
//! agency, direction), the on-time close rate, the age of what awaits
//! confirmation and the requesters' ratings, and bad filters refused by
//! field.

use sy_tests::client::*;
use sy_tests::pb;
use sy_tests::{System, expect_code, row, violated_fields};

const OTHER_COMMUNITY: &str = "500106002003";

/// A change to a board request, in a table of bad ones.
type Change = fn(&mut pb::GetClearanceBoardRequest);

async fn filtered(
    query: &QueryClient,
    min_position: u64,
    change: impl FnOnce(&mut pb::GetClearanceBoardRequest),
) -> anyhow::Result<pb::ClearanceBoard> {
    let mut request = pb::GetClearanceBoardRequest {
        min_position,
        ..Default::default()
    };
    change(&mut request);
    Ok(query
        .clone()
        .get_clearance_board(request)
        .await?
        .into_inner())
}

#[tokio::test]
async fn the_board_filters_by_period_and_place_and_shows_on_time_waiting_and_ratings()
-> anyhow::Result<()> {
    let sys = System::start().await?;
    let mut requester = sys.intake();
    let mut department = sys.intake_as(DEPARTMENT_AGENCY, "li.na");
    let query = sys.query();

    // Two requests in AREA_CODE: one closed before its due date, one
    // resolved and awaiting confirmation. A third elsewhere, the other way.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let submitted = requester
            .submit_request(submit_command(&new_key("board")))
            .await?
            .into_inner();
        let id = submitted.aggregate_id;
        department
            .assign_request(assign_command(&id, DEPARTMENT, 14))
            .await?;
        department.start_request(start_command(&id)).await?;
        department.resolve_request(resolve_command(&id)).await?;
        ids.push(id);
    }
    let closed = requester
        .close_request(close_command(&ids[0]))
        .await?
        .into_inner();
    let mut elsewhere = submit_command(&new_key("board"));
    elsewhere.area_code = OTHER_COMMUNITY.into();
    elsewhere.direction = pb::Direction::LocalToMilitary as i32;
    let last = requester.submit_request(elsewhere).await?.into_inner();
    let position = last.position.max(closed.position);

    let today = date_in_days(0);
    let year: u32 = today[..4].parse()?;
    let street = filtered(&query, position, |r| {
        r.year = year;
        r.area = AREA_CODE[..9].into();
    })
    .await?;
    let total = street.total.unwrap();
    assert_eq!(total.submitted, 2, "{street:?}");
    assert!(street.by_category.is_empty(), "filtered: departments only");
    let dept = row(&street.by_department, DEPARTMENT);
    assert_eq!((dept.closed, dept.awaiting_confirmation), (1, 1));
    assert_eq!((dept.closed_with_due_date, dept.closed_on_time), (1, 1));
    assert_eq!(dept.on_time_close_rate, 1.0);
    let age = dept.awaiting_age.unwrap();
    assert_eq!((age.count, age.oldest_days), (1, 0), "resolved today");
    let satisfied = pb::SatisfactionCounts {
        satisfied: 1,
        ..Default::default()
    };
    assert_eq!(dept.satisfaction, Some(satisfied));
    assert_eq!(total.satisfaction, Some(satisfied));

    // Three weeks on, the one awaiting has waited 21 days.
    let later = filtered(&query, position, |r| {
        r.from = today.clone();
        r.to = today.clone();
        r.area = AREA_CODE.into();
        r.requester = AGENCY.into();
        r.direction = pb::Direction::MilitaryToLocal as i32;
        r.as_of = date_in_days(21);
    })
    .await?;
    let dept = row(&later.by_department, DEPARTMENT);
    let age = dept.awaiting_age.unwrap();
    assert_eq!((age.count, age.oldest_days, age.mean_days), (1, 21, 21.0));
    assert_eq!(later.total.unwrap().submitted, 2);

    let other = filtered(&query, position, |r| {
        r.area = OTHER_COMMUNITY.into();
        r.direction = pb::Direction::LocalToMilitary as i32;
    })
    .await?;
    assert_eq!(other.total.unwrap().submitted, 1);
    assert_eq!(row(&other.by_department, "(unassigned)").open, 1);

    let nobody = filtered(&query, position, |r| r.requester = "unit-99999".into()).await?;
    assert_eq!(nobody.total.unwrap().submitted, 0);
    let yesterday = filtered(&query, position, |r| {
        r.from = date_in_days(-1);
        r.to = date_in_days(-1);
    })
    .await?;
    assert_eq!(yesterday.total.unwrap().submitted, 0);

    // The unfiltered board carries the same rate and age per department.
    let whole = filtered(&query, position, |_| {}).await?;
    let dept = row(&whole.by_department, DEPARTMENT);
    assert_eq!(dept.closed_on_time, 1);
    assert_eq!(dept.awaiting_age.unwrap().count, 1);
    assert!(!whole.by_category.is_empty());

    // The one awaiting is rated 不满意: reopened, it counts as 不满意 on the
    // filtered board as on the whole one.
    let reopened = requester
        .close_request(rated_close_command(
            &ids[1],
            pb::Satisfaction::Dissatisfied,
            "东侧仍积水",
        ))
        .await?
        .into_inner();
    let year_board = filtered(&query, reopened.position, |r| r.year = year).await?;
    let rated = pb::SatisfactionCounts {
        satisfied: 1,
        dissatisfied: 1,
        ..Default::default()
    };
    let dept = row(&year_board.by_department, DEPARTMENT);
    assert_eq!((dept.open, dept.awaiting_confirmation), (1, 0));
    assert_eq!(dept.satisfaction, Some(rated));
    let whole = filtered(&query, reopened.position, |_| {}).await?;
    assert_eq!(
        row(&whole.by_department, DEPARTMENT).satisfaction,
        Some(rated)
    );

    // `sy board --year` answers "the ratings of this year, by department".
    let (year, min_position) = (year.to_string(), reopened.position.to_string());
    let board_args = ["board", "--year", &year, "--min-position", &min_position];
    let (code, out) = sys.sy_as(AGENCY, &board_args).await?;
    assert_eq!(code, 0, "{out}");
    let department_line = out.lines().find(|line| line.contains(DEPARTMENT));
    assert!(
        department_line.is_some_and(|line| line.contains("1/0/1")),
        "{out}"
    );
    assert!(
        out.contains("satisfaction 满意度: 1 满意, 0 基本满意, 1 不满意"),
        "{out}"
    );
    Ok(())
}

#[tokio::test]
async fn bad_board_filters_are_refused_by_field() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let query = sys.query();
    let cases: [(Change, &str); 7] = [
        (|r| r.area = "5001".into(), "area"),
        (|r| r.area = "500107001002".into(), "area"),
        (|r| r.area = "500106000000".into(), "area"),
        (
            |r| {
                r.year = 2026;
                r.from = "2026-01-01".into();
            },
            "year",
        ),
        (|r| r.from = "2026-01-01".into(), "to"),
        (|r| r.requester = "no spaces".into(), "requester"),
        (|r| r.direction = 7, "direction"),
    ];
    for (change, field) in cases {
        let mut request = pb::GetClearanceBoardRequest::default();
        change(&mut request);
        let status = expect_code(
            query.clone().get_clearance_board(request).await,
            tonic::Code::InvalidArgument,
        );
        assert_eq!(violated_fields(&status), [field], "{status:?}");
    }
    Ok(())
}
