//! The open requests the clocks watch, folded in memory from the log's
//! request subjects with the domain's own `apply`, followed from the start
//! of the log on every start (so a restarted intake knows every request and
//! every clock action already recorded, whichever replica recorded it).
//!
//! It is a hint, never the authority: an action it proposes goes through
//! the pipeline, which decides on the request as stored, so an index that
//! lags (a due date just moved, another replica just reminded) costs a
//! refused or replayed command, never a wrong or a second event. Requests
//! closed or rejected leave it; timelines are not kept.

use std::collections::HashMap;

use jiff::civil::Date;
use prost::Message;
use sy_domain::aggregate::Aggregate;
use sy_domain::event::SUBJECT_PREFIX;
use sy_domain::pb::{self, EventEnvelope};
use sy_domain::request::{self, due_actions};
use sy_domain::supervision::{Action, Policy};
use sy_domain::upcast::upcast;
use sy_eventlog::StoredEvent;
use uuid::Uuid;

/// Requests that may still need a clock action, by id.
#[derive(Default)]
pub struct OpenRequests {
    requests: HashMap<Uuid, pb::Request>,
    /// Stream sequence of the last event seen (of any subject).
    pub position: u64,
}

impl OpenRequests {
    /// Folds one event of the log; events of other kinds only move the
    /// position. An event that does not fold drops its request (the
    /// pipeline refuses to decide on such a history as well).
    pub fn fold(&mut self, stored: &StoredEvent) {
        self.position = self.position.max(stored.position);
        let prefix = format!("{SUBJECT_PREFIX}.{}.", request::KIND);
        let Some(id) = stored.subject.strip_prefix(&prefix) else {
            return;
        };
        let Ok(id) = Uuid::try_parse(id) else {
            return;
        };
        let folded = EventEnvelope::decode(stored.payload.as_ref())
            .map_err(|err| err.to_string())
            .and_then(|envelope| upcast(envelope).map_err(|err| err.to_string()))
            .and_then(|envelope| {
                let state = self.requests.entry(id).or_default();
                state
                    .apply(&envelope, stored.position)
                    .map_err(|err| err.to_string())?;
                state.timeline.clear();
                Ok(request::is_open(state.status()))
            });
        match folded {
            Ok(true) => {}
            Ok(false) => {
                self.requests.remove(&id);
            }
            Err(reason) => {
                tracing::warn!(request = %id, position = stored.position, reason, "request left out of the clocks");
                self.requests.remove(&id);
            }
        }
    }

    /// How many requests are watched.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// The clock actions due on `today`, by request.
    pub fn due(&self, policy: &Policy, today: Date) -> Vec<(Uuid, Action)> {
        self.requests
            .iter()
            .flat_map(|(id, state)| {
                due_actions(policy, state, today)
                    .into_iter()
                    .map(move |action| (*id, action))
            })
            .collect()
    }
}
