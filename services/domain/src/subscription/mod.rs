//! An agency's webhook subscription (aggregate kind "subscription", one per
//! agency, its id derived from the agency code): which receiver its
//! notifications (`crate::notification`) are POSTed to, under which HMAC
//! key id, and which kinds. Kept in the log like every other decision, so
//! who subscribed whom and when is auditable and every replica agrees; the
//! key itself never is (see `notification_events.proto`).

mod command;
#[cfg(test)]
mod tests;

use crate::aggregate::{Aggregate, ApplyError, check_envelope, not_applicable};
use crate::error::DomainError;
use crate::pb::{self, event_envelope::Payload};

pub use command::{Command, MAX_URL_LEN, Subscribe};

/// Aggregate kind of subscriptions in subjects and envelopes.
pub const KIND: &str = "subscription";

/// Namespace of subscription ids derived from agency codes.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x2b6d_90e4_51a3_4c8f_b7d2_06e5_93a1_c84f);

/// The id of `agency`'s subscription: one per agency, so subscribing again
/// replaces it rather than adding a second receiver.
pub fn subscription_id_for(agency: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&ID_NAMESPACE, format!("{KIND}\u{1f}{agency}").as_bytes())
}

/// A subscription folded from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subscription {
    id: String,
    version: u64,
    /// The agency whose notifications are delivered.
    pub agency: String,
    /// Where they are POSTed.
    pub url: String,
    /// The HMAC key's id in the delivering replica's secrets file.
    pub secret_id: String,
    /// The kinds delivered (`NotificationKind` values); empty for all.
    pub kinds: Vec<i32>,
    /// Subscribed and not since unsubscribed.
    pub active: bool,
    /// The position of the event that started the current subscription
    /// (its first, or the first after an unsubscription): notifications
    /// from before it are not delivered, so subscribing does not replay an
    /// agency's whole history, nor resubscribing what it missed meanwhile. A
    /// replacement (new url, key or kinds) keeps it.
    pub since: u64,
}

impl Subscription {
    /// Whether a notification of `kind` is delivered to this subscription.
    pub fn wants(&self, kind: pb::NotificationKind) -> bool {
        self.active && (self.kinds.is_empty() || self.kinds.contains(&(kind as i32)))
    }

    fn as_event(&self) -> pb::WebhookSubscribed {
        pb::WebhookSubscribed {
            agency: self.agency.clone(),
            url: self.url.clone(),
            secret_id: self.secret_id.clone(),
            kinds: self.kinds.clone(),
        }
    }
}

impl Aggregate for Subscription {
    const KIND: &'static str = KIND;
    type Command = Command;
    type Facts = ();

    fn id(&self) -> &str {
        &self.id
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn apply(&mut self, event: &pb::EventEnvelope, position: u64) -> Result<(), ApplyError> {
        let payload = check_envelope(self, event)?;
        let state = if self.active { "active" } else { "inactive" };
        match payload {
            Payload::WebhookSubscribed(e) => {
                self.agency = e.agency.clone();
                self.url = e.url.clone();
                self.secret_id = e.secret_id.clone();
                self.kinds = e.kinds.clone();
                if !self.active {
                    self.since = position;
                }
                self.active = true;
            }
            Payload::WebhookUnsubscribed(_) if self.active => self.active = false,
            _ => return Err(not_applicable::<Self>(payload, state)),
        }
        self.id = event.aggregate_id.clone();
        self.version = event.aggregate_version;
        Ok(())
    }

    fn decide(&self, command: &Command, _: &(), _: &pb::Actor) -> Result<Payload, DomainError> {
        match command {
            Command::Subscribe(subscribe) => {
                let event = subscribe.as_event();
                if self.active && self.as_event() == event {
                    return Err(DomainError::AlreadyExists {
                        kind: "webhook subscription",
                        id: format!("{} → {}", event.agency, event.url),
                    });
                }
                Ok(Payload::WebhookSubscribed(event))
            }
            Command::Unsubscribe { agency, reason } => {
                if !self.active {
                    return Err(DomainError::RuleViolated(format!(
                        "agency {agency} has no webhook subscription to end"
                    )));
                }
                Ok(Payload::WebhookUnsubscribed(pb::WebhookUnsubscribed {
                    agency: agency.clone(),
                    reason: reason.clone(),
                }))
            }
        }
    }
}
