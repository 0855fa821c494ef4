//! `sy demo`'s yearly double list (双清单): a few of the demo's requests of
//! each direction put on the current year's draft lists by the
//! coordinating office, so `sy lists show` has something to show and a
//! walkthrough can add to the draft. The lists stay drafts: publishing
//! fixes a list for the year, which is the office's decision, not a demo's.
//!
//! Idempotent like the rest of the demo: each list is read first and only
//! the requests not on it yet are added, each with a key derived from the
//! seed, the request's index and the year (`demo-<seed>-<index>-list-<year>`),
//! so a rerun adds nothing twice. An addition refused as
//! `FAILED_PRECONDITION` (the request went on the list, or the list was
//! published, between the read and the call) counts as done. A published
//! list is left as it is.

use sy_api::pb::{self, query_client::QueryClient};
use tonic::Code;

use super::{Loaded, Plan};
use crate::catalogue;
use crate::commands::{Cmd, Slot, context, send};
use crate::error::Error;
use crate::rpc::{Channel, Endpoints, Retry, read_with};

/// Requests of each direction the demo puts on the year's list.
pub const PER_DIRECTION: usize = 3;

/// A request the demo puts on its direction's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub index: u32,
    pub direction: pb::Direction,
    pub request_id: String,
}

/// What drafting one list did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drafted {
    pub year: i32,
    pub direction: pb::Direction,
    /// Put on the list by this run.
    pub added: usize,
    /// On the list already (an earlier run, a clerk, a race).
    pub kept: usize,
    /// The list was published already: nothing added.
    pub published: bool,
    /// Additions that failed, with the error.
    pub failed: Vec<String>,
}

/// The first [`PER_DIRECTION`] requests of each direction the load wrote,
/// in index order; rejected ones are no practical matter for a list.
pub fn choose(loaded: &[Loaded]) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    for l in loaded {
        let Some(id) = l.sent.ids.get(Slot::Request) else {
            continue;
        };
        let taken = items.iter().filter(|i| i.direction == l.direction).count();
        if l.plan == Plan::Rejected || taken == PER_DIRECTION {
            continue;
        }
        items.push(Item {
            index: l.index,
            direction: l.direction,
            request_id: id.to_string(),
        });
    }
    items
}

/// Puts `items` on the draft lists of `year` as `coordinator`, once the
/// projection has applied `min_position` (the demo's load); one result per
/// direction with items, troops' needs first.
pub async fn draft(
    endpoints: &Endpoints,
    coordinator: &pb::Actor,
    seed: u64,
    year: i32,
    items: &[Item],
    min_position: u64,
) -> Result<Vec<Drafted>, Error> {
    let mut query = endpoints.query().await?;
    let mut intake = endpoints.intake().await?;
    let note = &catalogue::requests().notes.double_list;
    let mut drafted = Vec::new();
    for direction in [
        pb::Direction::MilitaryToLocal,
        pb::Direction::LocalToMilitary,
    ] {
        let mine: Vec<&Item> = items.iter().filter(|i| i.direction == direction).collect();
        if mine.is_empty() {
            continue;
        }
        let mut result = Drafted {
            year,
            direction,
            added: 0,
            kept: 0,
            published: false,
            failed: Vec::new(),
        };
        let (on_list, published) = current(&mut query, year, direction, min_position).await?;
        if published {
            result.published = true;
            drafted.push(result);
            continue;
        }
        for item in mine {
            if on_list.contains(&item.request_id) {
                result.kept += 1;
                continue;
            }
            let key = format!("demo-{seed}-{:03}", item.index);
            let cmd = Cmd::AddDoubleListItem(pb::AddDoubleListItemCommand {
                context: context(format!("{key}-list-{year}"), key, None),
                year,
                direction: direction as i32,
                request_id: item.request_id.clone(),
                note: note.clone(),
            });
            match send(&mut intake, cmd, coordinator).await {
                Ok(written) if written.replayed => result.kept += 1,
                Ok(_) => result.added += 1,
                Err(err)
                    if err.status().map(tonic::Status::code) == Some(Code::FailedPrecondition) =>
                {
                    result.kept += 1;
                }
                Err(err) => result
                    .failed
                    .push(format!("request {}: {err}", item.request_id)),
            }
        }
        drafted.push(result);
    }
    Ok(drafted)
}

/// The request ids on the list and whether it is published; no list yet
/// (`NOT_FOUND`) is an empty draft.
async fn current(
    query: &mut QueryClient<Channel>,
    year: i32,
    direction: pb::Direction,
    min_position: u64,
) -> Result<(Vec<String>, bool), Error> {
    let request = pb::GetDoubleListRequest {
        year,
        direction: direction as i32,
        as_of: String::new(),
        min_position,
    };
    let read = read_with(Retry::CATCH_UP, "GetDoubleList", async || {
        query.get_double_list(request.clone()).await
    })
    .await;
    match read {
        Ok(list) => Ok((
            list.items.into_iter().map(|i| i.request_id).collect(),
            list.published,
        )),
        Err(err) if err.status().map(tonic::Status::code) == Some(Code::NotFound) => {
            Ok((Vec::new(), false))
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Sent;

    fn loaded(index: u32, direction: pb::Direction, plan: Plan, written: bool) -> Loaded {
        let mut sent = Sent::default();
        if written {
            sent.ids.set(Slot::Request, format!("r-{index}"));
        }
        Loaded {
            index,
            plan,
            direction,
            title: String::new(),
            sent,
        }
    }

    #[test]
    fn a_few_written_requests_of_each_direction_are_chosen_in_order() {
        use pb::Direction::{LocalToMilitary as Local, MilitaryToLocal as Troops};
        let set = [
            loaded(0, Troops, Plan::Closed, true),
            loaded(1, Local, Plan::Rejected, true),
            loaded(2, Troops, Plan::InProgress, false),
            loaded(3, Local, Plan::Submitted, true),
            loaded(4, Troops, Plan::Escalated, true),
            loaded(5, Troops, Plan::Assigned, true),
            loaded(6, Troops, Plan::Closed, true),
        ];
        let chosen: Vec<(u32, pb::Direction)> = choose(&set)
            .iter()
            .map(|i| (i.index, i.direction))
            .collect();
        assert_eq!(
            chosen,
            [(0, Troops), (3, Local), (4, Troops), (5, Troops)],
            "no rejected, no failed request, at most {PER_DIRECTION} a direction"
        );
        assert_eq!(choose(&set)[1].request_id, "r-3");
    }

    #[test]
    fn the_default_demo_set_gives_both_lists_their_items() {
        let now: jiff::Timestamp = "2026-06-15T06:30:00Z".parse().unwrap();
        let coordinator = pb::Actor {
            agency: "district-veterans-bureau".into(),
            user: "operator".into(),
        };
        let set: Vec<Loaded> = super::super::plan(1, 40, now, &coordinator)
            .into_iter()
            .map(|script| {
                let direction = script.direction();
                loaded(script.index, direction, script.plan, true)
            })
            .collect();
        let chosen = choose(&set);
        for direction in [
            pb::Direction::MilitaryToLocal,
            pb::Direction::LocalToMilitary,
        ] {
            let n = chosen.iter().filter(|i| i.direction == direction).count();
            assert_eq!(n, PER_DIRECTION, "{direction:?}");
        }
    }
}
