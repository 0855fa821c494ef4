//! What the read model stores per aggregate, and how it is encoded.
//!
//! Requests, placements, allowances, stations and double lists are stored as their domain
//! state, folded by the domain's own `Aggregate::apply`, so the read model
//! holds no copy of a domain rule. Requests are their own prost message;
//! the other states are encoded with `postcard` (serde), whose output is a
//! function of the value, so a replay writes byte-identical trees. Beside a
//! state the read model keeps what only it needs ([`StoredPlacement`],
//! [`StoredAllowance`]); the served views are derived by [`super::views`].
//!
//! Persons are the exception: the domain state holds the full ID number,
//! phone and name, which the read model must never store (PIPL
//! minimisation). A person is kept as the masked `PersonView` instead,
//! without what would let a reader unmask it (the sex and birth year),
//! folded by [`person`] with the domain's own functions: the registration by
//! `Person::apply`, later entries by `Person::entry`, the check `apply` runs.
//! An erasure clears every personal value, masked ones included; a
//! registration folded sealed (erased before this fold, or no keys) never
//! had any.

use prost::Message as _;
use serde::{Deserialize, Serialize};
use sy_domain::aggregate::Aggregate;
use sy_domain::allowance::Allowance;
use sy_domain::double_list::DoubleList;
use sy_domain::event::to_proto;
use sy_domain::pb::{self, EventEnvelope, event_envelope::Payload};
use sy_domain::person::{Person, RecordEntry};
use sy_domain::person_data::{PersonName, Phone};
use sy_domain::pii::{CryptoError, DataKey};
use sy_domain::placement::Placement;
use sy_domain::station::Station;
use sy_domain::subscription::Subscription;

use super::ReadModelError;

/// A placement as stored: its domain state and its place in the lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredPlacement {
    pub state: Placement,
    /// Stream position of the current cycle's registration (list order).
    pub registered_position: u64,
}

/// An allowance as stored: its domain state and where it is counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredAllowance {
    pub state: Allowance,
    /// The person's area when first granted (empty if the person was not
    /// folded yet); the allowance statistics count there.
    pub area_code: String,
}

/// A value the read model stores in a tree, with its encoding.
pub trait Record: Sized {
    /// What it is, for messages about damaged bytes.
    const WHAT: &'static str;
    fn encode_record(&self) -> Vec<u8>;
    fn decode_record(bytes: &[u8]) -> Result<Self, ReadModelError>;
}

pub(super) fn damaged(what: &str, err: impl std::fmt::Display) -> ReadModelError {
    ReadModelError::corrupt(format!("stored {what}: {err}"))
}

/// [`Record`] by prost for messages, by postcard for serde types.
macro_rules! record {
    (prost $type:ty, $what:literal) => {
        impl super::registry::Record for $type {
            const WHAT: &'static str = $what;
            fn encode_record(&self) -> Vec<u8> {
                prost::Message::encode_to_vec(self)
            }
            fn decode_record(bytes: &[u8]) -> Result<Self, super::ReadModelError> {
                prost::Message::decode(bytes).map_err(|err| super::registry::damaged($what, err))
            }
        }
    };
    (serde $type:ty, $what:literal) => {
        impl super::registry::Record for $type {
            const WHAT: &'static str = $what;
            fn encode_record(&self) -> Vec<u8> {
                postcard::to_allocvec(self).expect("postcard encodes any owned state into a Vec")
            }
            fn decode_record(bytes: &[u8]) -> Result<Self, super::ReadModelError> {
                postcard::from_bytes(bytes).map_err(|err| super::registry::damaged($what, err))
            }
        }
    };
}
pub(super) use record;

/// A person as stored: the masked view without its masked identity, and
/// that identity (masked name, ID number, phone, linked names) sealed under
/// the person's data key. sled rewrites records in new places and keeps old
/// versions until it compacts its files, so anything written in the clear
/// could outlive an erasure there; sealed, it is unreadable once the key is
/// destroyed. Queries open it with the key store
/// ([`StoredPerson::unseal`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredPerson {
    /// The view, its masked identity empty while sealed.
    #[prost(message, optional, tag = "1")]
    pub view: Option<pb::PersonView>,
    /// The masked identity as a `PersonView` holding only those fields,
    /// sealed; absent for an erased person, a registration this reader
    /// could not open, or one from a log written before sealing (whose
    /// masked identity then stays in `view`).
    #[prost(message, optional, tag = "2")]
    pub masks: Option<pb::SealedField>,
}

/// Associated data of a person's sealed masks in the read model.
const MASKS_AAD: &[u8] = b"shuangyong.v1.read-model.person-masks\n";

impl StoredPerson {
    /// The view with its masked identity put back, opened with `key`.
    pub fn unseal(self, key: &DataKey) -> Result<pb::PersonView, CryptoError> {
        let mut view = self.view.unwrap_or_default();
        if let Some(masks) = &self.masks {
            let aad = [MASKS_AAD, view.id.as_bytes()].concat();
            let bytes = key.open(&aad, &masks.nonce, &masks.ciphertext)?;
            let masked = pb::PersonView::decode(bytes.as_slice())
                .map_err(|_| CryptoError::Authentication)?;
            view.name = masked.name;
            view.id_number = masked.id_number;
            view.phone = masked.phone;
            for (link, masked) in view.links.iter_mut().zip(masked.links) {
                link.name = masked.name;
            }
        }
        Ok(view)
    }

    /// The view as stored, for readers that need no identity.
    pub fn view(&self) -> &pb::PersonView {
        self.view.as_ref().unwrap_or(&EMPTY_VIEW)
    }

    /// Whether a masked identity is sealed in it.
    pub fn is_sealed(&self) -> bool {
        self.masks.is_some()
    }
}

static EMPTY_VIEW: pb::PersonView = pb::PersonView {
    id: String::new(),
    role: 0,
    name: String::new(),
    id_number: String::new(),
    phone: String::new(),
    area_code: String::new(),
    sex: String::new(),
    birth_year: 0,
    links: Vec::new(),
    trainings: Vec::new(),
    certificates: Vec::new(),
    placements: Vec::new(),
    allowance: None,
    registered_at: None,
    version: 0,
    erased: false,
    erased_at: None,
    legal_hold: false,
};

/// Moves the masked identity out of `view`, sealed under `key`.
fn seal_masks(view: &mut pb::PersonView, key: &DataKey) -> Result<pb::SealedField, String> {
    let masked = pb::PersonView {
        name: std::mem::take(&mut view.name),
        id_number: std::mem::take(&mut view.id_number),
        phone: std::mem::take(&mut view.phone),
        links: view
            .links
            .iter_mut()
            .map(|link| pb::PersonLink {
                name: std::mem::take(&mut link.name),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let aad = [MASKS_AAD, view.id.as_bytes()].concat();
    // Deterministic, so a rebuild writes the same bytes as the live fold
    // and the two read models' digests agree.
    let sealed = key
        .seal_deterministic(&aad, &masked.encode_to_vec())
        .map_err(|err| format!("cannot seal the masked identity: {err}"))?;
    Ok(pb::SealedField {
        path: "masks".into(),
        nonce: sealed.nonce.to_vec(),
        ciphertext: sealed.ciphertext,
    })
}

record!(prost pb::Request, "request");
record!(prost StoredPerson, "person");
record!(serde StoredPlacement, "placement");
record!(serde StoredAllowance, "allowance");
record!(serde Station, "station");
record!(serde Subscription, "subscription");
record!(serde DoubleList, "double-list");

/// Folds a person event into the stored person `before` (`None`: not
/// registered yet); `key` is the data key that opened the registration, if
/// it was sealed and opened. The error is why the domain refuses the event.
pub fn person(
    before: Option<&StoredPerson>,
    event: &EventEnvelope,
    position: u64,
    key: Option<&DataKey>,
) -> Result<StoredPerson, String> {
    let Some(before) = before else {
        let mut view = registered(event, position)?;
        let masks = key.map(|key| seal_masks(&mut view, key)).transpose()?;
        return Ok(StoredPerson {
            view: Some(view),
            masks,
        });
    };
    let mut after = before.clone();
    let view = after.view.get_or_insert_with(Default::default);
    let payload =
        Person::check_next(&view.id, view.version, event).map_err(|err| err.to_string())?;
    match payload {
        Payload::PersonErased(_) => {
            erase(view);
            view.erased_at = event.occurred_at;
            view.version = event.aggregate_version;
            after.masks = None;
            return Ok(after);
        }
        Payload::LegalHoldPlaced(_) | Payload::LegalHoldReleased(_) => {
            view.legal_hold = matches!(payload, Payload::LegalHoldPlaced(_));
            view.version = event.aggregate_version;
            return Ok(after);
        }
        _ => {}
    }
    match Person::entry(&view.id, view.version, event).map_err(|err| err.to_string())? {
        RecordEntry::Training(t) => view.trainings.push(pb::TrainingRecorded {
            course: t.course,
            hours: t.hours,
            completed_on: t.completed_on.to_string(),
        }),
        RecordEntry::Certificate(c) => view.certificates.push(pb::CertificateRecorded {
            certificate: c.certificate,
            issuer: c.issuer,
            issued_on: c.issued_on.to_string(),
        }),
    }
    view.version = event.aggregate_version;
    Ok(after)
}

/// The registration, parsed by the domain's `apply`; only the masked forms
/// are kept, and neither the sex nor the birth year: beside the area code
/// they narrowed a masked number down to a few dozen candidates (see
/// `IdNumber::masked`), and no reader of the view needs them.
fn registered(event: &EventEnvelope, position: u64) -> Result<pb::PersonView, String> {
    let mut state = Person::default();
    state
        .apply(event, position)
        .map_err(|err| err.to_string())?;
    let links = match &event.payload {
        Some(Payload::PersonRegistered(e)) => e.links.iter().map(masked_link).collect(),
        _ => Vec::new(),
    };
    let Some(record) = state.record() else {
        // Sealed and not opened: the person was erased (or this reader has
        // no keys). Only what is not personal is kept.
        let withheld = state
            .withheld()
            .expect("a person that folded its first event is registered");
        return Ok(pb::PersonView {
            id: state.id().to_string(),
            role: withheld.role as i32,
            area_code: withheld.area_code.as_str().to_string(),
            links,
            registered_at: Some(to_proto(withheld.registered_at)),
            version: state.version(),
            ..Default::default()
        });
    };
    Ok(pb::PersonView {
        id: state.id().to_string(),
        role: record.role as i32,
        name: record.name.masked(),
        id_number: record.id_number.masked(),
        phone: record.phone.as_ref().map(Phone::masked).unwrap_or_default(),
        area_code: record.area_code.as_str().to_string(),
        links,
        registered_at: Some(to_proto(record.registered_at)),
        version: state.version(),
        ..Default::default()
    })
}

/// Drops every personal value from an erased person's view, masked or
/// not: no `张*` survives an erasure.
fn erase(view: &mut pb::PersonView) {
    view.erased = true;
    view.name.clear();
    view.id_number.clear();
    view.phone.clear();
    for link in &mut view.links {
        link.name.clear();
    }
    for training in &mut view.trainings {
        training.course.clear();
    }
    for certificate in &mut view.certificates {
        certificate.certificate.clear();
        certificate.issuer.clear();
    }
}

/// The service member a spouse or child belongs to, their name masked like
/// the person's own.
fn masked_link(link: &pb::PersonLink) -> pb::PersonLink {
    pb::PersonLink {
        name: PersonName::parse("name", &link.name)
            .map(|name| name.masked())
            .unwrap_or_default(),
        ..link.clone()
    }
}
