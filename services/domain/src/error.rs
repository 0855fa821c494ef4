//! Domain errors: what went wrong, in terms a caller can act on. The mapping to
//! gRPC codes lives in one place, `sy-api::status`.

use crate::pb::RequestStatus;

/// One malformed field: its path in the command (`requester.agency`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the command message, dotted for nested fields.
    pub field: String,
    /// What is wrong with it, lowercase, for the caller to read.
    pub reason: String,
}

impl FieldViolation {
    /// A violation of `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Why a command was refused; `sy-api::status` maps each variant to one gRPC code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The command is malformed; nothing about the aggregate's state was consulted.
    #[error("invalid command: {}", describe(.0))]
    Invalid(Vec<FieldViolation>),
    /// The aggregate a command addresses does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Kind of the missing aggregate.
        kind: &'static str,
        /// Id the command named.
        id: String,
    },
    /// The aggregate a creating command names exists already (e.g. a person
    /// with this ID number); `id` is the existing one.
    #[error("{kind} {id} already exists")]
    AlreadyExists {
        /// Kind of the existing aggregate.
        kind: &'static str,
        /// Id of the existing aggregate.
        id: String,
    },
    /// The command is well-formed but not allowed in the aggregate's current state.
    #[error("cannot {action} a request that is {}", status_name(*.status))]
    IllegalTransition {
        /// The refused action, as a verb (`assign`, `close`...).
        action: &'static str,
        /// The request's status the action is not allowed from.
        status: RequestStatus,
    },
    /// A state-dependent rule other than the lifecycle refused the command.
    #[error("{0}")]
    RuleViolated(String),
    /// The actor may not issue this command on this aggregate.
    #[error("{0}")]
    PermissionDenied(String),
}

impl DomainError {
    /// A malformed command with one bad `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, reason)])
    }
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Lowercase status name for messages, e.g. `in_progress`.
pub fn status_name(status: RequestStatus) -> String {
    status
        .as_str_name()
        .trim_start_matches("REQUEST_STATUS_")
        .to_ascii_lowercase()
}
