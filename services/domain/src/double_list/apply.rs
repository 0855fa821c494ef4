//! `apply` for the double list: folds one event, refusing any that would
//! break the invariants `decide` keeps (an item twice, a change after
//! publishing), so a corrupt log is quarantined instead of miscounted. Pure.

use crate::aggregate::{ApplyError, check_envelope, not_applicable};
use crate::event::to_jiff;
use crate::pb::{EventEnvelope, event_envelope::Payload};

use super::DoubleList;
use super::state::Item;

pub(super) fn apply(state: &mut DoubleList, event: &EventEnvelope) -> Result<(), ApplyError> {
    let payload = check_envelope(state, event)?;
    let at = to_jiff(event.occurred_at.as_ref());
    let refuse = |why: &str| not_applicable::<DoubleList>(payload, why);
    if state.published {
        return Err(refuse("published"));
    }
    let request_id = |raw: &str| {
        uuid::Uuid::try_parse(raw).map_err(|_| refuse("a draft (its request_id is not a UUID)"))
    };
    // Everything is checked before anything changes: on error the state is
    // unchanged.
    match payload {
        Payload::DoubleListItemAdded(e) => {
            let id = request_id(&e.request_id)?;
            let first = state.version == 0;
            if !first && (e.year != state.year || e.direction != state.direction) {
                return Err(refuse("a draft of another year or direction"));
            }
            if state.contains(id) {
                return Err(refuse("a draft that has the request already"));
            }
            if first {
                state.id = event.aggregate_id.clone();
                state.year = e.year;
                state.direction = e.direction;
            }
            state.items.push(Item {
                request_id: id,
                note: e.note.clone(),
                added_at: at,
            });
        }
        Payload::DoubleListItemRemoved(e) => {
            let id = request_id(&e.request_id)?;
            let index = state
                .items
                .iter()
                .position(|item| item.request_id == id)
                .ok_or_else(|| refuse("a draft without the request"))?;
            state.items.remove(index);
        }
        Payload::DoubleListPublished(_) if !state.items.is_empty() => {
            state.published = true;
            state.published_at = at;
        }
        _ => {
            return Err(refuse(if state.version == 0 {
                "empty"
            } else {
                "a draft"
            }));
        }
    }
    state.version = event.aggregate_version;
    Ok(())
}
