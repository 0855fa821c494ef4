//! The yearly double list (双清单) through the real services: the
//! coordinating office drafts the list of a year and direction, the wrong
//! direction, a duplicate and an unknown request are refused, publishing
//! fixes it, and its progress follows its requests as they are worked.

use sy_tests::client::*;
use sy_tests::pb;
use sy_tests::{System, expect_code, violated_fields};
use tonic::Code;

const COORDINATOR: &str = "district-coordination-office";
const TROOPS: pb::Direction = pb::Direction::MilitaryToLocal;

fn add(year: i32, request_id: &str) -> pb::AddDoubleListItemCommand {
    pb::AddDoubleListItemCommand {
        context: fresh_ctx(),
        year,
        direction: TROOPS as i32,
        request_id: request_id.into(),
        note: "年度重点 key item of the year".into(),
    }
}

/// Files a request of `direction`, assigned due in 14 days; its id.
async fn filed(sys: &System, direction: pb::Direction) -> anyhow::Result<String> {
    let mut command = submit_command(&new_key("list"));
    command.direction = direction as i32;
    let id = sys
        .intake()
        .submit_request(command)
        .await?
        .into_inner()
        .aggregate_id;
    sys.intake_as(DEPARTMENT_AGENCY, "li.na")
        .assign_request(assign_command(&id, DEPARTMENT, 14))
        .await?;
    Ok(id)
}

#[tokio::test]
async fn a_double_list_is_drafted_published_and_followed() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let mut office = sys.intake_as(COORDINATOR, "wang.fang");
    let year: i32 = date_in_days(0)[..4].parse()?;

    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(filed(&sys, TROOPS).await?);
    }
    for id in &ids {
        office.add_double_list_item(add(year, id)).await?;
    }

    // A local need, a request on the list already, one that does not exist.
    let local = filed(&sys, pb::Direction::LocalToMilitary).await?;
    let status = expect_code(
        office.add_double_list_item(add(year, &local)).await,
        Code::FailedPrecondition,
    );
    assert!(
        status.message().contains("local-to-military need"),
        "{status:?}"
    );
    let status = expect_code(
        office.add_double_list_item(add(year, &ids[0])).await,
        Code::FailedPrecondition,
    );
    assert!(
        status.message().contains("already on the double list"),
        "{status:?}"
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    expect_code(
        office.add_double_list_item(add(year, &unknown)).await,
        Code::NotFound,
    );
    let mut bad = add(1999, &ids[0]);
    bad.direction = 0;
    let status = expect_code(
        office.add_double_list_item(bad).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["year", "direction"]);

    // The fourth comes off the draft; then the list is published and fixed.
    office
        .remove_double_list_item(pb::RemoveDoubleListItemCommand {
            context: fresh_ctx(),
            year,
            direction: TROOPS as i32,
            request_id: ids[3].clone(),
            reason: "列入下年度 moved to next year".into(),
        })
        .await?;
    let publish = || pb::PublishDoubleListCommand {
        context: fresh_ctx(),
        year,
        direction: TROOPS as i32,
    };
    office.publish_double_list(publish()).await?;
    let status = expect_code(
        office.add_double_list_item(add(year, &ids[3])).await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("is published"), "{status:?}");
    expect_code(
        office
            .remove_double_list_item(pb::RemoveDoubleListItemCommand {
                context: fresh_ctx(),
                year,
                direction: TROOPS as i32,
                request_id: ids[0].clone(),
                reason: "too late".into(),
            })
            .await,
        Code::FailedPrecondition,
    );
    expect_code(
        office.publish_double_list(publish()).await,
        Code::FailedPrecondition,
    );

    // The first is closed out, the second resolved and awaiting
    // confirmation, the third still in work: overdue a month on.
    let mut department = sys.intake_as(DEPARTMENT_AGENCY, "li.na");
    for id in &ids[..2] {
        department.start_request(start_command(id)).await?;
        department.resolve_request(resolve_command(id)).await?;
    }
    department.start_request(start_command(&ids[2])).await?;
    let closed = sys
        .intake()
        .close_request(close_command(&ids[0]))
        .await?
        .into_inner();

    let list = sys
        .query()
        .get_double_list(pb::GetDoubleListRequest {
            year,
            direction: TROOPS as i32,
            as_of: date_in_days(30),
            min_position: closed.position,
        })
        .await?
        .into_inner();
    assert!(list.published && list.published_at.is_some(), "{list:?}");
    let listed: Vec<_> = list.items.iter().map(|i| i.request_id.clone()).collect();
    assert_eq!(listed, ids[..3]);
    let statuses: Vec<_> = list.items.iter().map(|i| i.status()).collect();
    assert_eq!(
        statuses,
        [
            pb::RequestStatus::Closed,
            pb::RequestStatus::Resolved,
            pb::RequestStatus::InProgress
        ]
    );
    assert!(list.items[2].overdue && !list.items[1].overdue);
    let progress = list.progress.unwrap();
    assert_eq!(
        (
            progress.items,
            progress.closed,
            progress.open,
            progress.overdue,
            progress.awaiting_confirmation,
            progress.rejected
        ),
        (3, 1, 2, 1, 1, 0)
    );

    // Today nothing is overdue yet; the other direction has no list.
    let today = sys
        .query()
        .get_double_list(pb::GetDoubleListRequest {
            year,
            direction: TROOPS as i32,
            as_of: String::new(),
            min_position: closed.position,
        })
        .await?
        .into_inner();
    assert_eq!(today.progress.unwrap().overdue, 0);
    expect_code(
        sys.query()
            .get_double_list(pb::GetDoubleListRequest {
                year,
                direction: pb::Direction::LocalToMilitary as i32,
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
    let status = expect_code(
        sys.query()
            .get_double_list(pb::GetDoubleListRequest::default())
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["year", "direction"]);
    Ok(())
}
