//! The data keys a batch needs, gathered before its transaction (which
//! cannot wait on NATS), and the two uses the fold makes of them: opening a
//! person's sealed registration to mask it, and opening the sealed free
//! text of a request that concerns a person, which the fold seals again
//! under the same key in the read model ([`super::request_text`]).
//!
//! The read model opens nothing else. Free text written about a person
//! (courses, reasons, notes) stays sealed in the read model, so sled holds
//! no personal data in the clear: the masked forms and a request's text are
//! kept sealed under the person's key, and are unreadable once it is
//! destroyed. An erased person's events stay sealed, so a rebuild after an
//! erasure serves the same views as the live fold.

use std::collections::HashMap;

use prost::Message as _;
use sy_domain::pb::{EventEnvelope, event_envelope::Payload};
use sy_domain::pii::{DataKey, fields};
use sy_eventlog::StoredEvent;
use sy_eventlog::keystore::{KeyState, KeyStore, KeyStoreError};
use uuid::Uuid;

/// Subject prefixes of the events the fold opens: person registrations and
/// requests.
const OPENED_SUBJECTS: [&str; 2] = ["sy.evt.person.", "sy.evt.request."];

/// The key state of every person whose sealed registration or request
/// event is in a batch; the default opens nothing (a reader without access
/// to the key store, such as `sy as-of`, folds every event sealed).
#[derive(Debug, Default)]
pub struct BatchKeys {
    keys: Option<HashMap<Uuid, KeyState>>,
}

/// Why a sealed envelope was not opened.
#[derive(Debug)]
pub(super) enum NotOpened {
    /// Its key was not gathered: a bug in the caller, the batch stops.
    NotGathered(Uuid),
    /// It does not open: quarantined like any other unreadable event.
    Unreadable(String),
}

impl BatchKeys {
    /// Reads from `store` the keys of the sealed registrations and request
    /// events in `events`.
    pub async fn gather(store: &KeyStore, events: &[StoredEvent]) -> Result<Self, KeyStoreError> {
        let mut keys = HashMap::new();
        for subject in events.iter().filter_map(sealed_to_open) {
            if let std::collections::hash_map::Entry::Vacant(slot) = keys.entry(subject) {
                slot.insert(store.key(subject).await?);
            }
        }
        Ok(Self { keys: Some(keys) })
    }

    /// Opens `envelope` if it is a sealed registration or request event,
    /// returning the key that opened it (the fold seals the masked identity
    /// or the request's text with it); an erased person's stays sealed.
    /// Anything else is left as it is.
    pub(super) fn open_sealed(
        &self,
        envelope: &mut EventEnvelope,
    ) -> Result<Option<&DataKey>, NotOpened> {
        if !opened_by_fold(envelope) {
            return Ok(None);
        }
        let Some(subject) = fields::sealed_subject(envelope) else {
            return Ok(None);
        };
        let Some(keys) = &self.keys else {
            return Ok(None);
        };
        let subject = Uuid::try_parse(subject)
            .map_err(|_| NotOpened::Unreadable("its sealed subject is not a person id".into()))?;
        match keys.get(&subject) {
            None => Err(NotOpened::NotGathered(subject)),
            Some(KeyState::Erased { .. }) => Ok(None),
            Some(KeyState::Key(key)) => fields::open(envelope, key)
                .map(|()| Some(key))
                .map_err(|err| NotOpened::Unreadable(format!("personal data: {err}"))),
        }
    }
}

#[cfg(test)]
impl BatchKeys {
    /// Keys given by a test instead of gathered from a key store.
    pub(super) fn of(keys: impl IntoIterator<Item = (Uuid, KeyState)>) -> Self {
        Self {
            keys: Some(keys.into_iter().collect()),
        }
    }
}

/// Whether the fold opens `envelope` when it is sealed: a person's
/// registration, or any event of a request (sealed only when the request
/// concerns a person).
fn opened_by_fold(envelope: &EventEnvelope) -> bool {
    matches!(envelope.payload, Some(Payload::PersonRegistered(_)))
        || envelope.aggregate_kind == sy_domain::request::KIND
}

/// The fields of an `EventEnvelope` that say whether the fold opens it and
/// with whose key, and nothing else: gathering keys decodes every person and
/// request event before the fold decodes it again, so it skips the payload
/// and the sealed fields instead of decoding them. Tags as in
/// `proto/shuangyong/v1/events.proto`; a test checks its answers against the
/// full envelope's.
#[derive(Clone, PartialEq, prost::Message)]
struct SealProbe {
    #[prost(string, tag = "2")]
    aggregate_kind: String,
    #[prost(message, optional, tag = "16")]
    personal: Option<SubjectProbe>,
    /// Present for a `PersonRegistered` payload (contents skipped).
    #[prost(message, optional, tag = "200")]
    person_registered: Option<Skipped>,
}

/// `PersonalData` with only its subject.
#[derive(Clone, PartialEq, prost::Message)]
struct SubjectProbe {
    #[prost(string, tag = "1")]
    subject: String,
}

/// A message whose fields are all skipped.
#[derive(Clone, PartialEq, prost::Message)]
struct Skipped {}

/// The person whose key opens `event`, if it is sealed and the fold opens it.
/// An event whose envelope does not decode asks for its subject's key all
/// the same (the fold then quarantines it): gathering one key too many is
/// harmless, one too few stops the batch.
fn sealed_to_open(event: &StoredEvent) -> Option<Uuid> {
    if !OPENED_SUBJECTS
        .iter()
        .any(|prefix| event.subject.starts_with(prefix))
    {
        return None;
    }
    let probe = SealProbe::decode(event.payload.as_ref()).ok()?;
    let opened =
        probe.person_registered.is_some() || probe.aggregate_kind == sy_domain::request::KIND;
    if !opened {
        return None;
    }
    Uuid::try_parse(&probe.personal?.subject).ok()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use sy_domain::pb;

    use super::*;

    const PERSON: &str = "0190e3a0-0000-8000-8000-000000000002";

    fn event(subject: &str, envelope: &EventEnvelope) -> StoredEvent {
        StoredEvent {
            position: 1,
            subject: subject.into(),
            payload: Bytes::from(envelope.encode_to_vec()),
        }
    }

    /// What gathering asked before the probe: the full envelope's answer.
    fn by_full_decode(event: &StoredEvent) -> Option<Uuid> {
        if !OPENED_SUBJECTS
            .iter()
            .any(|prefix| event.subject.starts_with(prefix))
        {
            return None;
        }
        let envelope = EventEnvelope::decode(event.payload.as_ref()).ok()?;
        if !opened_by_fold(&envelope) {
            return None;
        }
        Uuid::try_parse(fields::sealed_subject(&envelope)?).ok()
    }

    #[test]
    fn the_probe_asks_for_the_keys_the_full_envelope_names() {
        let personal = Some(pb::PersonalData {
            subject: PERSON.into(),
            cipher: "aes-256-gcm".into(),
            fields: vec![pb::SealedField {
                path: "name".into(),
                nonce: vec![7; 12],
                ciphertext: vec![9; 40],
            }],
        });
        let registration = EventEnvelope {
            aggregate_kind: "person".into(),
            personal: personal.clone(),
            payload: Some(Payload::PersonRegistered(pb::PersonRegistered {
                area_code: "500106001002".into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let request = EventEnvelope {
            aggregate_kind: sy_domain::request::KIND.into(),
            personal: personal.clone(),
            payload: Some(Payload::ProgressRecorded(pb::ProgressRecorded {
                note: String::new(),
            })),
            ..Default::default()
        };
        let plain_request = EventEnvelope {
            personal: None,
            ..request.clone()
        };
        let erasure = EventEnvelope {
            aggregate_kind: "person".into(),
            personal,
            payload: Some(Payload::PersonErased(pb::PersonErased::default())),
            ..Default::default()
        };
        let person = Uuid::try_parse(PERSON).ok();
        let cases = [
            (event("sy.evt.person.p", &registration), person),
            (event("sy.evt.request.r", &request), person),
            (event("sy.evt.request.r", &plain_request), None),
            (event("sy.evt.person.p", &erasure), None),
            (event("sy.evt.placement.p", &registration), None),
        ];
        for (event, expected) in &cases {
            assert_eq!(sealed_to_open(event), *expected, "{}", event.subject);
            assert_eq!(
                sealed_to_open(event),
                by_full_decode(event),
                "{}",
                event.subject
            );
        }
    }
}
