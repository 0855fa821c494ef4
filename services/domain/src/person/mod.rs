//! The person registry (人员登记): veterans, military spouses and military
//! children, one record per national ID number, and the training and
//! certificates a spouse obtains (培训、取证: 1,300 trained, 300+ certified).
//!
//! Placements, the allowance and care stations never fold a person's events:
//! the caller looks the person up and passes [`Person::facts`], the little
//! they may know (role, birth date, area), in their `Facts`.
//!
//! # Identity: one person per ID number
//!
//! The person id is derived from the ID number by [`person_id_for`], so a
//! second registration of the same number lands on the same aggregate and is
//! refused with `AlreadyExists`, and nobody has to search the registry by
//! number to find out.
//!
//! # Personal data
//!
//! The state keeps the parsed value types ([`IdNumber`],
//! [`Phone`](crate::person_data::Phone),
//! [`PersonName`](crate::person_data::PersonName)), whose `Debug` masks
//! them, so `{:?}` of a [`Person`] never shows a full number. Birth date and
//! sex are not stored apart from the number: [`PersonRecord::birth_date`]
//! and [`PersonRecord::sex`] read them from it, and `apply` re-parses the
//! stored number on every fold (with the event's own day as "today", so a
//! replay years later gives the same result). A stored event whose number
//! no longer parses is refused with a reason that never contains the number.
//!
//! # Lifecycle
//!
//! | state \ command        | `Register`         | `RecordTraining`     | `RecordCertificate`   |
//! | ---------------------- | ------------------ | -------------------- | --------------------- |
//! | not registered         | `PersonRegistered` | `NotFound`           | `NotFound`            |
//! | veteran, child         | `AlreadyExists`    | `RuleViolated`       | `RuleViolated`        |
//! | spouse                 | `AlreadyExists`    | `TrainingRecorded`   | `CertificateRecorded` |
//! | erased                 | `AlreadyExists`    | `RuleViolated`       | `RuleViolated`        |
//!
//! Malformed commands are `Invalid` in every state (checked first).
//!
//! # Erasure and legal holds
//!
//! The personal fields of a person's events are sealed under the person's
//! data key ([`crate::pii`]); `Erase` records `PersonErased` and intake then
//! destroys the key. From then on the person is erased: every command but
//! a registration of the same number (`AlreadyExists`) is `RuleViolated`,
//! and other aggregates get no [`Person::facts_for_others`]. What is not
//! personal (role, area, registration time: [`Withheld`]) stays, so
//! statistics do not change. `PlaceHold` blocks `Erase` (`RuleViolated`,
//! naming the hold's reason) until `ReleaseHold`; one hold at a time.
//! A registration folded without its key (sealed, not opened) is withheld
//! the same way, without an erasure.

mod apply;
mod command;
mod decide;
mod state;

pub use command::{Command, Link, MAX_LINKS, REASON_MAX, TITLE_MAX, TRAINING_HOURS};
pub use state::{Certificate, Erasure, Person, PersonRecord, RecordEntry, Training, Withheld};

use crate::aggregate::{Aggregate, ApplyError};
use crate::error::DomainError;
use crate::pb::event_envelope::Payload;
use crate::pb::{Actor, EventEnvelope};
use crate::person_data::IdNumber;

/// Domain separation inside the keyed hash, so the deployment secret can
/// key other derivations without their outputs ever coinciding with person
/// ids. Changing it re-identifies every person: never change it.
const ID_CONTEXT: &[u8] = b"shuangyong.v1.person_id\x1f";

/// The id of the person with `id_number`: the first 16 bytes of a BLAKE3
/// keyed hash of the normalised number under the deployment secret `key`,
/// stamped as a UUID version 8 (RFC 9562 "custom").
///
/// Why keyed, and not a v5 UUID like request ids: person ids travel far
/// beyond the registry (subjects, other aggregates' events, read models,
/// logs, exports), and an ID number has little entropy: a district's
/// region code, a birth date within a century and a 3-digit sequence number
/// are about 36,500 × 1,000 candidates, with the check character fixed by
/// the rest. A public hash such as v5 (SHA-1 under a namespace in the source
/// code) is reversed by hashing every candidate in seconds, so the id would
/// be the number in disguise. Under a secret key the id reveals nothing
/// without the key, and stays meaningless after a person's events are
/// erased.
///
/// The key must be the same for the life of the deployment (a different key
/// gives every person a new id) and must be kept like any other secret.
pub fn person_id_for(key: &[u8; 32], id_number: &IdNumber) -> uuid::Uuid {
    let mut hasher = blake3::Hasher::new_keyed(key);
    hasher.update(ID_CONTEXT);
    hasher.update(id_number.as_str().as_bytes());
    let hash = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_bytes()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

impl Aggregate for Person {
    const KIND: &'static str = "person";
    type Command = Command;
    type Facts = ();

    fn id(&self) -> &str {
        &self.id
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn apply(&mut self, event: &EventEnvelope, _position: u64) -> Result<(), ApplyError> {
        apply::apply(self, event)
    }

    fn decide(
        &self,
        command: &Command,
        _facts: &(),
        _actor: &Actor,
    ) -> Result<Payload, DomainError> {
        decide::decide(self, command)
    }

    fn data_subject(&self, id: uuid::Uuid, _payload: &Payload) -> Option<uuid::Uuid> {
        Some(id)
    }
}

#[cfg(test)]
mod tests;
