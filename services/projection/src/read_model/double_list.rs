//! Reads a yearly double list (双清单) with its progress. The progress is
//! counted from the request record of each item when the list is asked
//! for, not kept in counters of its own: a list holds tens to hundreds of
//! items, so that is as many point reads, and the numbers can never drift
//! from the requests' own statuses (a request closed, reopened or
//! rejected moves the list without the fold knowing which lists hold it).

use jiff::civil::Date;
use sy_domain::aggregate::Aggregate;
use sy_domain::double_list::{DoubleList, Item, double_list_id};
use sy_domain::event::to_proto;
use sy_domain::pb::{self, Direction, RequestStatus};
use sy_domain::request::{is_open, is_unresolved};

use super::registry::Record;
use super::{ReadModel, ReadModelError};

impl ReadModel {
    /// The list of `year` and `direction` with each item's request status
    /// and the list's progress, overdue counted as of `as_of`; `None` while
    /// the list has no event.
    pub fn double_list(
        &self,
        year: i32,
        direction: Direction,
        as_of: Date,
    ) -> Result<Option<pb::DoubleList>, ReadModelError> {
        let id = double_list_id(year, direction).to_string();
        let Some(list) = self
            .trees
            .double_lists
            .get(id.as_bytes())?
            .map(|bytes| DoubleList::decode_record(&bytes))
            .transpose()?
        else {
            return Ok(None);
        };
        let as_of = as_of.to_string();
        let mut progress = pb::DoubleListProgress::default();
        let mut items = Vec::with_capacity(list.items().len());
        for item in list.items() {
            let request = self.request_record(&item.request_id.to_string())?;
            let item = served_item(item, request.as_ref(), &as_of);
            count(&mut progress, &item);
            items.push(item);
        }
        Ok(Some(pb::DoubleList {
            id,
            year: list.year(),
            direction: list.direction() as i32,
            published: list.is_published(),
            published_at: list.published_at().map(to_proto),
            items,
            progress: Some(progress),
            version: Aggregate::version(&list),
        }))
    }
}

/// An item with what its request says now (`None`: not folded here).
fn served_item(item: &Item, request: Option<&pb::Request>, as_of: &str) -> pb::DoubleListItem {
    let status = request.map_or(RequestStatus::Unspecified, |r| r.status());
    let due_date = request.map(|r| r.due_date.clone()).unwrap_or_default();
    pb::DoubleListItem {
        request_id: item.request_id.to_string(),
        note: item.note.clone(),
        added_at: item.added_at.map(to_proto),
        status: status as i32,
        department: request.map(|r| r.department.clone()).unwrap_or_default(),
        // As the board counts it: unresolved and due before the day.
        overdue: is_unresolved(status) && !due_date.is_empty() && due_date.as_str() < as_of,
        due_date,
    }
}

fn count(progress: &mut pb::DoubleListProgress, item: &pb::DoubleListItem) {
    let status = item.status();
    progress.items += 1;
    match status {
        RequestStatus::Closed => progress.closed += 1,
        RequestStatus::Rejected => progress.rejected += 1,
        RequestStatus::Resolved => progress.awaiting_confirmation += 1,
        _ => {}
    }
    if is_open(status) {
        progress.open += 1;
    }
    if item.overdue {
        progress.overdue += 1;
    }
}
