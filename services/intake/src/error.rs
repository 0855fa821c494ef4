//! Intake's errors and their one mapping to gRPC statuses.

use sy_domain::DomainError;
use sy_eventlog::LogError;
use sy_eventlog::keystore::KeyStoreError;
use tonic::Status;

/// Why intake refused or could not record a command.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The domain refused the command (malformed, or not allowed in this state).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The event log could not be read or appended to.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The key store could not give or destroy a person's data key.
    #[error(transparent)]
    Keys(#[from] KeyStoreError),
    /// A person's fields could not be sealed (no person to seal them for,
    /// or the cipher failed): nothing was written.
    #[error("cannot seal the personal data of {kind} {id}: {reason}")]
    Sealing {
        /// Kind of the addressed aggregate.
        kind: &'static str,
        /// Id of the addressed aggregate.
        id: String,
        /// Why.
        reason: String,
    },
    /// The idempotency key was used before for a different command.
    #[error("idempotency key {key:?} was already used for a different command on {kind} {id}")]
    KeyReused {
        /// Kind of the aggregate the first command addressed.
        kind: &'static str,
        /// The reused idempotency key.
        key: String,
        /// Id of the aggregate the first command addressed.
        id: String,
    },
    /// The caller's `expected_version` is stale.
    #[error("{kind} {id} is at version {actual}, not the expected {expected}; reload and retry")]
    VersionMismatch {
        /// Kind of the addressed aggregate.
        kind: &'static str,
        /// Id of the addressed aggregate.
        id: String,
        /// The version the caller last saw.
        expected: u64,
        /// The aggregate's version in the log.
        actual: u64,
    },
    /// Other writers kept winning the race for this aggregate.
    #[error("{kind} {id} kept changing concurrently ({attempts} attempts); retry")]
    Contended {
        /// Kind of the addressed aggregate.
        kind: &'static str,
        /// Id of the addressed aggregate.
        id: String,
        /// Conditional appends tried before giving up.
        attempts: usize,
    },
    /// An event already in the log cannot be read back: the aggregate cannot
    /// be decided on until an operator looks at it.
    #[error("{kind} {id} has an unreadable event at position {position}: {reason}")]
    CorruptHistory {
        /// Kind of the addressed aggregate.
        kind: &'static str,
        /// Id of the addressed aggregate.
        id: String,
        /// Stream sequence of the unreadable event.
        position: u64,
        /// Why it cannot be decoded or folded.
        reason: String,
    },
}

impl From<IntakeError> for Status {
    fn from(err: IntakeError) -> Self {
        if let IntakeError::Domain(domain) = &err {
            return sy_api::status::from_domain(domain);
        }
        // Bounded: a key or an id in it is the caller's.
        let message = sy_api::status::bounded(err.to_string());
        match err {
            IntakeError::Domain(domain) => sy_api::status::from_domain(&domain),
            IntakeError::Log(LogError::Unavailable(_)) => Status::unavailable(message),
            IntakeError::Log(LogError::Conflict { .. }) => Status::aborted(message),
            IntakeError::Log(LogError::Failed(_)) => Status::internal(message),
            IntakeError::KeyReused { .. } => Status::already_exists(message),
            IntakeError::VersionMismatch { .. } | IntakeError::Contended { .. } => {
                Status::aborted(message)
            }
            IntakeError::CorruptHistory { .. } => Status::data_loss(message),
            IntakeError::Keys(KeyStoreError::Unavailable(_)) => Status::unavailable(message),
            IntakeError::Keys(_) | IntakeError::Sealing { .. } => Status::internal(message),
        }
    }
}
