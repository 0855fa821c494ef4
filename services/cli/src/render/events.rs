//! Events as stored in the log, for the audit views (`sy history`, the
//! walkthrough's history): what an envelope is called and who sent it.

use sy_domain::pb::Actor;

/// `agency/user`, empty parts when the envelope names no actor.
pub fn actor(actor: Option<&Actor>) -> String {
    let actor = actor.cloned().unwrap_or_default();
    format!("{}/{}", actor.agency, actor.user)
}
