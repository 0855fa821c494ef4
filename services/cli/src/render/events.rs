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
/// the rating of a confirmation ("RequestClosed (satisfied 满意)"; a
/// close-out from before ratings reads "not rated"), which sub-task a
/// breakdown event concerns, the day of an inspection. Never free text:
/// it may be sealed personal data.
pub fn event_cell(envelope: &EventEnvelope) -> String {
    let label = crate::record::event_label(envelope);
    let detail = match &envelope.payload {
        Some(Payload::RequestClosed(e)) => Some(satisfaction_label(e.satisfaction()).to_string()),
        Some(Payload::RequestReopened(e)) if e.satisfaction() != Satisfaction::Unspecified => {
            Some(satisfaction_label(e.satisfaction()).to_string())
        }
        Some(Payload::SubTaskAdded(e)) => Some(format!(
            "#{} {}, due {}",
            e.sub_task_id, e.department, e.due_date
        )),
        Some(Payload::SubTaskCompleted(e)) => Some(format!("#{}", e.sub_task_id)),
        Some(Payload::InspectionRecorded(e)) => Some(format!(
            "visited {}{}",
            e.visited_on,
            if e.follow_up_required {
                ", follow-up required"
            } else {
                ""
            }
        )),
        Some(Payload::DoubleListItemAdded(e)) => Some(format!(
            "request {}, list {} {}",
            e.request_id,
            e.year,
            super::direction_label(e.direction())
        )),
        Some(Payload::DoubleListItemRemoved(e)) => Some(format!("request {}", e.request_id)),
        Some(Payload::DoubleListPublished(e)) => Some(format!("{} items", e.items)),
        _ => None,
    };
    match detail {
        Some(detail) => format!("{label} ({detail})"),
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
    fn events_show_their_rating_sub_task_or_visit() {
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
        let added = envelope(Payload::SubTaskAdded(pb::SubTaskAdded {
            sub_task_id: 2,
            department: "district-water-bureau".into(),
            due_date: "2027-01-01".into(),
            title: "主管道".into(),
        }));
        assert_eq!(
            event_cell(&added),
            "SubTaskAdded (#2 district-water-bureau, due 2027-01-01)"
        );
        let visit = envelope(Payload::InspectionRecorded(pb::InspectionRecorded {
            visited_on: "2026-12-01".into(),
            findings: "滞后".into(),
            follow_up_required: true,
        }));
        assert_eq!(
            event_cell(&visit),
            "InspectionRecorded (visited 2026-12-01, follow-up required)"
        );
        let started = envelope(Payload::RequestStarted(pb::RequestStarted::default()));
        assert_eq!(event_cell(&started), "RequestStarted");
    }

    #[test]
    fn double_list_events_show_the_request_and_list_never_the_note() {
        let added = envelope(Payload::DoubleListItemAdded(pb::DoubleListItemAdded {
            year: 2026,
            direction: pb::Direction::MilitaryToLocal as i32,
            request_id: "0190-a".into(),
            note: "营区道路".into(),
        }));
        assert_eq!(
            event_cell(&added),
            "DoubleListItemAdded (request 0190-a, list 2026 military→local 部队需求)"
        );
        let removed = envelope(Payload::DoubleListItemRemoved(pb::DoubleListItemRemoved {
            request_id: "0190-a".into(),
            reason: "下年度".into(),
        }));
        assert_eq!(
            event_cell(&removed),
            "DoubleListItemRemoved (request 0190-a)"
        );
        let published = envelope(Payload::DoubleListPublished(pb::DoubleListPublished {
            items: 12,
        }));
        assert_eq!(event_cell(&published), "DoubleListPublished (12 items)");
    }
}
