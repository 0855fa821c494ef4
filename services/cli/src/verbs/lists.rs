//! `sy lists`: the yearly double list (双清单), drafted and published by
//! the coordinating office, and shown with its progress.

use sy_api::pb;

use super::{context_of, or_empty, write};
use crate::args::{ListName, ListShowArgs, ListsCommand};
use crate::commands::Cmd;
use crate::error::Error;
use crate::render;
use crate::rpc::Endpoints;

/// `sy lists ...`: the show, or a change sent as `operator`.
pub async fn run(
    endpoints: &Endpoints,
    operator: &pb::Actor,
    command: &ListsCommand,
) -> Result<(), Error> {
    let key = |w| context_of(w, "lists");
    let (cmd, json) = match command {
        ListsCommand::Show(show) => return self::show(endpoints, show).await,
        ListsCommand::Add(a) => {
            let (year, direction) = name(&a.list);
            let cmd = Cmd::AddDoubleListItem(pb::AddDoubleListItemCommand {
                context: key(&a.write),
                year,
                direction,
                request_id: a.request.clone(),
                note: or_empty(&a.note),
            });
            (cmd, a.write.json)
        }
        ListsCommand::Remove(a) => {
            let (year, direction) = name(&a.list);
            let cmd = Cmd::RemoveDoubleListItem(pb::RemoveDoubleListItemCommand {
                context: key(&a.write),
                year,
                direction,
                request_id: a.request.clone(),
                reason: a.reason.clone(),
            });
            (cmd, a.write.json)
        }
        ListsCommand::Publish(a) => {
            let (year, direction) = name(&a.list);
            let cmd = Cmd::PublishDoubleList(pb::PublishDoubleListCommand {
                context: key(&a.write),
                year,
                direction,
            });
            (cmd, a.write.json)
        }
    };
    write(endpoints, operator, cmd, json).await
}

/// Prints the list's items and progress.
async fn show(endpoints: &Endpoints, show: &ListShowArgs) -> Result<(), Error> {
    let mut query = endpoints.query().await?;
    let (year, direction) = name(&show.list);
    let list = query
        .get_double_list(pb::GetDoubleListRequest {
            year,
            direction,
            as_of: or_empty(&show.as_of),
            min_position: show.min_position,
        })
        .await
        .map_err(Error::rpc("GetDoubleList"))?
        .into_inner();
    say_raw!("{}", render::double_list(&list));
    Ok(())
}

fn name(list: &ListName) -> (i32, i32) {
    (list.year, pb::Direction::from(list.direction) as i32)
}
