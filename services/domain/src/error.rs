//! Domain errors: what went wrong, in terms a caller can act on. The mapping to
//! gRPC codes lives in one place, `sy-api::status`.

use crate::pb::RequestStatus;

/// One malformed field: its path in the command (`requester.agency`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub reason: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The command is malformed; nothing about the aggregate's state was consulted.
    #[error("invalid command: {}", describe(.0))]
    Invalid(Vec<FieldViolation>),
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    /// The aggregate a creating command names exists already (e.g. a person
    /// with this ID number); `id` is the existing one.
    #[error("{kind} {id} already exists")]
    AlreadyExists { kind: &'static str, id: String },
    /// The command is well-formed but not allowed in the aggregate's current state.
    #[error("cannot {action} a request that is {}", status_name(*.status))]
    IllegalTransition {
        action: &'static str,
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
