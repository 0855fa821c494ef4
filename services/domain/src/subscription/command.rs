//! A subscription's commands, parsed from their protobuf messages at the
//! edge: the agency code, an absolute http(s) URL, the key id and the kinds,
//! every bad field named at once.

use uuid::Uuid;

use super::{Subscription, subscription_id_for};
use crate::command_meta::{CommandMessage, Input, context_accessors};
use crate::error::FieldViolation;
use crate::pb;
use crate::validate::{Code, Violations, enum_value, text};

/// Longest receiver URL accepted.
pub const MAX_URL_LEN: usize = 2000;
/// Longest reason for ending a subscription.
const MAX_REASON: usize = 4000;

/// A command on an agency's subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Subscribes (or replaces the subscription of) an agency.
    Subscribe(Subscribe),
    /// Ends an agency's subscription.
    Unsubscribe {
        /// The agency.
        agency: String,
        /// Why.
        reason: String,
    },
}

/// A validated subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// The agency whose notifications are delivered.
    pub agency: Code,
    /// An absolute http(s) URL.
    pub url: String,
    /// The HMAC key's id.
    pub secret_id: Code,
    /// Known kinds, without duplicates, in the order given; empty for all.
    pub kinds: Vec<pb::NotificationKind>,
}

impl Subscribe {
    pub(super) fn as_event(&self) -> pb::WebhookSubscribed {
        pb::WebhookSubscribed {
            agency: self.agency.as_str().to_string(),
            url: self.url.clone(),
            secret_id: self.secret_id.as_str().to_string(),
            kinds: self.kinds.iter().map(|k| *k as i32).collect(),
        }
    }
}

/// An absolute `http://` or `https://` URL with a host, no whitespace or
/// control characters, at most [`MAX_URL_LEN`] bytes. Whether plain http is
/// allowed is the delivering replica's decision, not the log's.
fn url(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return Err(FieldViolation::new(field, "is required"));
    }
    if value.len() > MAX_URL_LEN {
        return Err(FieldViolation::new(
            field,
            format!("must have at most {MAX_URL_LEN} characters"),
        ));
    }
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| FieldViolation::new(field, "must start with https:// or http://"))?;
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldViolation::new(field, "must not contain spaces"));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err(FieldViolation::new(
            field,
            "must name a host (and no user or password)",
        ));
    }
    Ok(value.to_string())
}

fn kinds(v: &mut Violations, raw: &[i32]) -> Vec<pb::NotificationKind> {
    let mut kinds = Vec::with_capacity(raw.len());
    for (n, value) in raw.iter().enumerate() {
        let kind = v.check(enum_value::<pb::NotificationKind>(
            &format!("kinds.{n}"),
            *value,
            None,
        ));
        if let Some(kind) = kind.filter(|k| !kinds.contains(k)) {
            kinds.push(kind);
        }
    }
    kinds
}

/// Addressed by agency: the subscription's id derives from it.
fn agency(v: &mut Violations, agency: &str) -> Option<(Uuid, Code)> {
    let agency = v.check(Code::parse("agency", agency))?;
    Some((subscription_id_for(agency.as_str()), agency))
}

impl CommandMessage for pb::SubscribeWebhookCommand {
    type Target = Subscription;
    /// The first subscription of an agency creates its aggregate.
    const CREATES: bool = true;
    context_accessors!();

    fn body(&self, v: &mut Violations, _: &Input<'_>) -> Option<(Uuid, Command)> {
        let agency = agency(v, &self.agency);
        let url = v.check(url("url", &self.url));
        let secret_id = v.check(Code::parse("secret_id", &self.secret_id));
        let kinds = kinds(v, &self.kinds);
        let (id, agency) = agency?;
        Some((
            id,
            Command::Subscribe(Subscribe {
                agency,
                url: url?,
                secret_id: secret_id?,
                kinds,
            }),
        ))
    }
}

impl CommandMessage for pb::UnsubscribeWebhookCommand {
    type Target = Subscription;
    context_accessors!();

    fn body(&self, v: &mut Violations, _: &Input<'_>) -> Option<(Uuid, Command)> {
        let agency = agency(v, &self.agency);
        let reason = v.check(text("reason", &self.reason, 1, MAX_REASON));
        let (id, agency) = agency?;
        Some((
            id,
            Command::Unsubscribe {
                agency: agency.as_str().to_string(),
                reason: reason?,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_absolute_http_with_a_host() {
        assert!(url("url", "https://sms.example.gov.cn/hook?x=1").is_ok());
        assert!(url("url", "http://127.0.0.1:8080/").is_ok());
        for bad in [
            "",
            "ftp://x",
            "https://",
            "https:///path",
            "https://user:pw@host/",
            "https://host/a b",
        ] {
            assert!(url("url", bad).is_err(), "{bad:?} must be refused");
        }
        let long = format!("https://h/{}", "a".repeat(MAX_URL_LEN));
        assert!(url("url", &long).unwrap_err().reason.contains("at most"));
    }
}
