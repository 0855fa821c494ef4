//! The policy in force, as an aggregate of its own (kind
//! "supervision-policy", one fixed id): each adoption is an event carrying
//! the file's text, so the log shows which rules were in force when a
//! clock fired. Adopting the policy already in force is refused as
//! `AlreadyExists`, which intake treats as "nothing to record": replicas
//! starting with the same file write it once.

use crate::aggregate::{Aggregate, ApplyError, check_envelope, not_applicable};
use crate::error::DomainError;
use crate::pb::{self, event_envelope::Payload};

use super::policy::Policy;

/// The policy in force, folded from its adoptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adopted {
    id: String,
    version: u64,
    /// The version its authors gave the policy in force.
    pub policy_version: String,
    /// Digest of the policy in force; empty before the first adoption.
    pub digest: String,
}

/// Puts a policy into force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopt {
    /// Its version.
    pub version: String,
    /// Its digest.
    pub digest: String,
    /// The file's text.
    pub text: String,
}

impl Adopted {
    /// The one id of the policy record.
    pub const ID: uuid::Uuid = uuid::Uuid::from_u128(0x5e1f_0c1a_7d2b_4e6a_8c3b_9a40_d2f1_6b77);
}

impl Adopt {
    /// The adoption of `policy`, read from `text`.
    pub fn of(policy: &Policy, text: &str) -> Self {
        Self {
            version: policy.version.clone(),
            digest: policy.digest.clone(),
            text: text.to_string(),
        }
    }
}

impl Aggregate for Adopted {
    const KIND: &'static str = "supervision-policy";
    type Command = Adopt;
    type Facts = ();

    fn id(&self) -> &str {
        &self.id
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn apply(&mut self, event: &pb::EventEnvelope, _position: u64) -> Result<(), ApplyError> {
        let payload = check_envelope(self, event)?;
        let Payload::SupervisionPolicyAdopted(e) = payload else {
            return Err(not_applicable::<Self>(payload, "a policy record"));
        };
        self.id = event.aggregate_id.clone();
        self.version = event.aggregate_version;
        self.policy_version = e.version.clone();
        self.digest = e.digest.clone();
        Ok(())
    }

    fn decide(&self, command: &Adopt, _: &(), _: &pb::Actor) -> Result<Payload, DomainError> {
        if command.digest == self.digest {
            return Err(DomainError::AlreadyExists {
                kind: "supervision policy",
                id: format!("{} ({})", command.version, command.digest),
            });
        }
        Ok(Payload::SupervisionPolicyAdopted(
            pb::SupervisionPolicyAdopted {
                version: command.version.clone(),
                digest: command.digest.clone(),
                text: command.text.clone(),
                previous_digest: self.digest.clone(),
            },
        ))
    }
}
