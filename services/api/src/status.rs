//! The one mapping from errors to gRPC statuses. Field violations travel as a
//! `google.rpc.BadRequest` in the status details, so clients can show exactly
//! which field was wrong.

use sy_domain::{DomainError, FieldViolation};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Metadata key carrying the position a replica has applied, on replies that
/// could not wait for `min_position`.
pub const POSITION_METADATA: &str = "x-sy-position";

/// The one mapping from a domain error to its gRPC status, with field
/// violations in the details (`google.rpc.BadRequest`).
pub fn from_domain(err: &DomainError) -> Status {
    let message = err.to_string();
    match err {
        DomainError::Invalid(violations) => invalid_argument(violations),
        DomainError::NotFound { .. } => Status::not_found(message),
        DomainError::AlreadyExists { .. } => Status::already_exists(message),
        DomainError::IllegalTransition { .. } | DomainError::RuleViolated(_) => {
            Status::failed_precondition(message)
        }
        DomainError::PermissionDenied(_) => Status::permission_denied(message),
    }
}

/// `INVALID_ARGUMENT` naming every bad field, in the message and the details.
pub fn invalid_argument(violations: &[FieldViolation]) -> Status {
    let message = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.reason))
        .collect::<Vec<_>>()
        .join("; ");
    let details = ErrorDetails::with_bad_request(
        violations
            .iter()
            .map(|v| tonic_types::FieldViolation::new(v.field.clone(), v.reason.clone()))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// `INVALID_ARGUMENT` for one field.
pub fn invalid_field(field: &str, reason: &str) -> Status {
    invalid_argument(&[FieldViolation::new(field, reason)])
}

/// `UNAVAILABLE` because this replica has not applied `wanted` yet; the
/// current position rides in the message and in `x-sy-position`.
pub fn position_not_reached(wanted: u64, current: u64) -> Status {
    let mut status = Status::unavailable(format!(
        "position {wanted} not applied yet (at {current}); retry later"
    ));
    if let Ok(value) = current.to_string().parse() {
        status.metadata_mut().insert(POSITION_METADATA, value);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_become_bad_request_details() {
        let status = from_domain(&DomainError::Invalid(vec![
            FieldViolation::new("title", "is required"),
            FieldViolation::new("area_code", "must be a 12-digit area code"),
        ]));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("title: is required"));
        let bad = status.get_details_bad_request().expect("details");
        assert_eq!(bad.field_violations.len(), 2);
        assert_eq!(bad.field_violations[1].field, "area_code");
    }

    #[test]
    fn unreached_position_carries_the_current_one() {
        let status = position_not_reached(10, 7);
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.metadata().get(POSITION_METADATA).unwrap(), "7");
    }
}
