//! Events as stored in the log, for the audit views (`sy history`, the
//! walkthrough's history): what an envelope is called and who sent it.

use sy_domain::event::event_type;
use sy_domain::pb::{Actor, EventEnvelope};

use crate::record::UNKNOWN_EVENT_TYPE;

/// The envelope's event type, or [`UNKNOWN_EVENT_TYPE`].
pub fn event_label(envelope: &EventEnvelope) -> &'static str {
    envelope
        .payload
        .as_ref()
        .map_or(UNKNOWN_EVENT_TYPE, event_type)
}

/// `agency/user`, empty parts when the envelope names no actor.
pub fn actor(actor: Option<&Actor>) -> String {
    let actor = actor.cloned().unwrap_or_default();
    format!("{}/{}", actor.agency, actor.user)
}
