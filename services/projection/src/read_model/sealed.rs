//! The data keys a batch needs, gathered before its transaction (which
//! cannot wait on NATS), and the one use the fold makes of them: opening a
//! person's sealed registration to mask it.
//!
//! The read model opens nothing else. Free text written about a person
//! (courses, reasons, notes) stays sealed in the read model, so sled holds
//! no personal data but the masked forms, and those go when the person's
//! erasure is folded. An erased person's registration stays sealed, so a
//! rebuild after an erasure gives the same views as the live fold.

use std::collections::HashMap;

use prost::Message as _;
use sy_domain::pb::{EventEnvelope, event_envelope::Payload};
use sy_domain::pii::{DataKey, fields};
use sy_eventlog::StoredEvent;
use sy_eventlog::keystore::{KeyState, KeyStore, KeyStoreError};
use uuid::Uuid;

/// Subject prefix of person events.
const PERSON_SUBJECTS: &str = "sy.evt.person.";

/// The key state of every person whose sealed registration is in a batch;
/// the default opens nothing (a reader without access to the key store,
/// such as `sy as-of`, folds every registration sealed).
#[derive(Debug, Default)]
pub struct BatchKeys {
    keys: Option<HashMap<Uuid, KeyState>>,
}

/// Why a sealed registration was not opened.
#[derive(Debug)]
pub(super) enum NotOpened {
    /// Its key was not gathered: a bug in the caller, the batch stops.
    NotGathered(Uuid),
    /// It does not open: quarantined like any other unreadable event.
    Unreadable(String),
}

impl BatchKeys {
    /// Reads from `store` the keys of the sealed registrations in `events`.
    pub async fn gather(store: &KeyStore, events: &[StoredEvent]) -> Result<Self, KeyStoreError> {
        let mut keys = HashMap::new();
        for subject in events.iter().filter_map(sealed_registration) {
            if let std::collections::hash_map::Entry::Vacant(slot) = keys.entry(subject) {
                slot.insert(store.key(subject).await?);
            }
        }
        Ok(Self { keys: Some(keys) })
    }

    /// Opens `envelope` if it is a sealed registration, returning the key
    /// that opened it (the fold seals the masked identity with it); an
    /// erased person's stays sealed. Anything else is left as it is.
    pub(super) fn open_registration(
        &self,
        envelope: &mut EventEnvelope,
    ) -> Result<Option<&DataKey>, NotOpened> {
        if !matches!(envelope.payload, Some(Payload::PersonRegistered(_))) {
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

/// The person whose key opens `event`, if it is a sealed registration.
fn sealed_registration(event: &StoredEvent) -> Option<Uuid> {
    if !event.subject.starts_with(PERSON_SUBJECTS) {
        return None;
    }
    let envelope = EventEnvelope::decode(event.payload.as_ref()).ok()?;
    if !matches!(envelope.payload, Some(Payload::PersonRegistered(_))) {
        return None;
    }
    Uuid::try_parse(fields::sealed_subject(&envelope)?).ok()
}
