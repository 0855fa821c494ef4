//! Intake's errors and their one mapping to gRPC statuses.

use sy_domain::DomainError;
use sy_eventlog::LogError;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Log(#[from] LogError),
    /// The idempotency key was used before for a different command.
    #[error("idempotency key {key:?} was already used for a different command on {kind} {id}")]
    KeyReused {
        kind: &'static str,
        key: String,
        id: String,
    },
    /// The caller's `expected_version` is stale.
    #[error("{kind} {id} is at version {actual}, not the expected {expected}; reload and retry")]
    VersionMismatch {
        kind: &'static str,
        id: String,
        expected: u64,
        actual: u64,
    },
    /// Other writers kept winning the race for this aggregate.
    #[error("{kind} {id} kept changing concurrently ({attempts} attempts); retry")]
    Contended {
        kind: &'static str,
        id: String,
        attempts: usize,
    },
    /// An event already in the log cannot be read back: the aggregate cannot
    /// be decided on until an operator looks at it.
    #[error("{kind} {id} has an unreadable event at position {position}: {reason}")]
    CorruptHistory {
        kind: &'static str,
        id: String,
        position: u64,
        reason: String,
    },
}

impl From<IntakeError> for Status {
    fn from(err: IntakeError) -> Self {
        let message = err.to_string();
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
        }
    }
}
