//! The support request aggregate (军地双向支持需求): submitted → assigned →
//! in progress → resolved → closed out (销号) when the requesting party
//! confirms; rejected before work starts; reopened when the requester disputes
//! a resolution; escalated for supervision (挂牌督办) while open.
//!
//! The aggregate's state is the `Request` read model itself, so intake decides
//! against exactly what the projection serves.

mod apply;
mod clocks;
mod command;
mod decide;
mod lifecycle;

pub use clocks::due_actions;
pub use command::{Command, Submission};
pub use decide::decide;
pub use lifecycle::{is_open, is_unresolved, transition};

/// Aggregate kind of requests in subjects and envelopes.
pub const KIND: &str = "request";

/// Namespace of request ids derived from (agency, idempotency key).
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x7c1a_51e2_4b0d_4a8e_9f36_2d5c_0e8b_a401);

/// The id of the request a submission creates: derived from the submitting
/// agency and its idempotency key, so a retried submission finds its request
/// even after JetStream's deduplication window.
pub fn request_id_for(agency: &str, idempotency_key: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(
        &ID_NAMESPACE,
        format!("request\u{1f}{agency}\u{1f}{idempotency_key}").as_bytes(),
    )
}

#[cfg(test)]
mod tests;

/// A request is an aggregate like the others, so intake runs one pipeline.
impl crate::aggregate::Aggregate for crate::pb::Request {
    const KIND: &'static str = KIND;
    type Command = Command;
    type Facts = ();

    fn id(&self) -> &str {
        &self.id
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn apply(
        &mut self,
        event: &crate::pb::EventEnvelope,
        position: u64,
    ) -> Result<(), crate::aggregate::ApplyError> {
        apply::apply(self, event, position)
    }

    fn decide(
        &self,
        command: &Command,
        _facts: &(),
        actor: &crate::pb::Actor,
    ) -> Result<crate::pb::event_envelope::Payload, crate::DomainError> {
        decide(self, command, actor)
    }

    /// The person the request concerns, whose key seals its free text;
    /// `None` for a request about nobody in particular (nothing is sealed).
    fn data_subject(
        &self,
        _id: uuid::Uuid,
        payload: &crate::pb::event_envelope::Payload,
    ) -> Option<uuid::Uuid> {
        crate::pii::fields::named_person(payload)
            .or_else(|| uuid::Uuid::try_parse(&self.person_id).ok())
    }
}
