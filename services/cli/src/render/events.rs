//! Events as stored in the log, for the audit views (`sy history`, the
//! walkthrough's history): what an envelope is called and who sent it.

use sy_domain::pb::event_envelope::Payload;
use sy_domain::pb::{Actor, EventEnvelope, Satisfaction};

use super::satisfaction_label;

/// `agency/user`, empty parts when the envelope names no actor.
pub fn actor(actor: Option<&Actor>) -> String {
    let actor = actor.cloned().unwrap_or_default();
    format!("{}/{}", actor.agency, actor.user)
}

/// An event's type, with what an auditor needs to read it at a glance:
/// the rating of a confirmation ("RequestClosed 满意", "RequestReopened
/// 不满意"; a close-out from before ratings reads "not rated").
pub fn event_cell(envelope: &EventEnvelope) -> String {
    let label = crate::record::event_label(envelope);
    let rating = match &envelope.payload {
        Some(Payload::RequestClosed(e)) => Some(e.satisfaction()),
        Some(Payload::RequestReopened(e)) => {
            Some(e.satisfaction()).filter(|s| *s != Satisfaction::Unspecified)
        }
        _ => None,
    };
    match rating {
        Some(rating) => format!("{label} ({})", satisfaction_label(rating)),
        None => label.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sy_domain::pb;

    fn envelope(payload: Payload) -> EventEnvelope {
        EventEnvelope {
            payload: Some(payload),
            ..Default::default()
        }
    }

    #[test]
    fn confirmations_show_their_rating() {
        let closed = envelope(Payload::RequestClosed(pb::RequestClosed {
            note: String::new(),
            satisfaction: Satisfaction::BasicallySatisfied as i32,
        }));
        assert_eq!(
            event_cell(&closed),
            "RequestClosed (basically satisfied 基本满意)"
        );
        let legacy = envelope(Payload::RequestClosed(pb::RequestClosed::default()));
        assert_eq!(event_cell(&legacy), "RequestClosed (not rated 未评价)");
        let rated = envelope(Payload::RequestReopened(pb::RequestReopened {
            reason: "仍积水".into(),
            satisfaction: Satisfaction::Dissatisfied as i32,
        }));
        assert_eq!(event_cell(&rated), "RequestReopened (dissatisfied 不满意)");
        let disputed = envelope(Payload::RequestReopened(pb::RequestReopened::default()));
        assert_eq!(event_cell(&disputed), "RequestReopened");
        let started = envelope(Payload::RequestStarted(pb::RequestStarted::default()));
        assert_eq!(event_cell(&started), "RequestStarted");
    }
}
