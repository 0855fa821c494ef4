//! The one mapping from errors to gRPC statuses. Field violations travel as a
//! `google.rpc.BadRequest` in the status details, so clients can show exactly
//! which field was wrong.
//!
//! Every status built here is bounded, whatever the caller sent: at most
//! [`MAX_VIOLATIONS`] violations, each field and reason at most
//! [`MAX_VIOLATION_CHARS`] characters, a message of at most
//! [`MAX_MESSAGE_BYTES`] bytes. A refusal's trailer and its log line stay a
//! few kilobytes even for a command with a hundred thousand bad fields.

use sy_domain::{DomainError, FieldViolation};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Metadata key carrying the position a replica has applied, on replies that
/// could not wait for `min_position`.
pub const POSITION_METADATA: &str = "x-sy-position";

/// Most field violations one error names; a last one says how many more
/// were left out. Enough for every field of the largest command.
pub const MAX_VIOLATIONS: usize = 20;

/// Longest field path or reason of a violation, in characters.
pub const MAX_VIOLATION_CHARS: usize = 200;

/// Longest status message, in bytes (the `grpc-message` trailer, and what
/// refusals log).
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// `text` cut to at most `max` bytes on a character boundary, marked with
/// an ellipsis when cut.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    const ELLIPSIS: &str = "…";
    let mut end = max.saturating_sub(ELLIPSIS.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(ELLIPSIS);
    text
}

/// `message` bounded to [`MAX_MESSAGE_BYTES`]: for every status message
/// that may carry what a caller sent.
pub fn bounded(message: String) -> String {
    truncate(message, MAX_MESSAGE_BYTES)
}

/// `text` bounded to [`MAX_VIOLATION_CHARS`] characters.
fn bounded_chars(text: &str) -> String {
    match text.char_indices().nth(MAX_VIOLATION_CHARS) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// The one mapping from a domain error to its gRPC status, with field
/// violations in the details (`google.rpc.BadRequest`).
pub fn from_domain(err: &DomainError) -> Status {
    if let DomainError::Invalid(violations) = err {
        return invalid_argument(violations);
    }
    let message = bounded(err.to_string());
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

/// `INVALID_ARGUMENT` naming the bad fields, in the message and the details:
/// the first [`MAX_VIOLATIONS`], then one saying how many more there were.
pub fn invalid_argument(violations: &[FieldViolation]) -> Status {
    let mut named: Vec<FieldViolation> = violations
        .iter()
        .take(MAX_VIOLATIONS)
        .map(|v| FieldViolation::new(bounded_chars(&v.field), bounded_chars(&v.reason)))
        .collect();
    if violations.len() > MAX_VIOLATIONS {
        named.push(FieldViolation::new(
            "command",
            format!(
                "{} more violations left out",
                violations.len() - MAX_VIOLATIONS
            ),
        ));
    }
    let message = named
        .iter()
        .map(|v| format!("{}: {}", v.field, v.reason))
        .collect::<Vec<_>>()
        .join("; ");
    let details = ErrorDetails::with_bad_request(
        named
            .into_iter()
            .map(|v| tonic_types::FieldViolation::new(v.field, v.reason))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::InvalidArgument, bounded(message), details)
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

/// A batch item's outcome as the wire carries it (`SubmitRequests`): the
/// result, or the status the command alone would have failed with, its
/// field violations (already bounded here) spelled out.
pub fn batch_outcome(
    result: Result<crate::pb::CommandResult, Status>,
) -> crate::pb::CommandOutcome {
    use crate::pb::command_outcome::Outcome;
    let outcome = match result {
        Ok(result) => Outcome::Result(result),
        Err(status) => Outcome::Error(crate::pb::CommandError {
            code: i32::from(status.code()),
            message: status.message().to_string(),
            field_violations: status
                .get_details_bad_request()
                .map(|bad| {
                    bad.field_violations
                        .into_iter()
                        .map(|v| crate::pb::CommandFieldViolation {
                            field: v.field,
                            description: v.description,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }),
    };
    crate::pb::CommandOutcome {
        outcome: Some(outcome),
    }
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
    fn violations_are_capped_and_the_rest_counted() {
        let violations: Vec<_> = (0..150_000)
            .map(|i| FieldViolation::new(format!("links[{i}].name"), "is required"))
            .collect();
        let status = from_domain(&DomainError::Invalid(violations));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().len() <= MAX_MESSAGE_BYTES);
        let bad = status.get_details_bad_request().expect("details");
        assert_eq!(bad.field_violations.len(), MAX_VIOLATIONS + 1);
        assert_eq!(bad.field_violations[0].field, "links[0].name");
        let last = bad.field_violations.last().unwrap();
        assert_eq!(last.description, "149980 more violations left out");
        assert!(
            status.details().len() < 4 * 1024,
            "{}",
            status.details().len()
        );
    }

    #[test]
    fn long_fields_reasons_and_messages_are_cut() {
        let status = invalid_field(&"f".repeat(10_000), &"因".repeat(10_000));
        let bad = status.get_details_bad_request().expect("details");
        let violation = &bad.field_violations[0];
        assert_eq!(violation.field.chars().count(), MAX_VIOLATION_CHARS + 1);
        assert_eq!(
            violation.description.chars().count(),
            MAX_VIOLATION_CHARS + 1
        );
        assert!(violation.description.ends_with('…'));
        assert!(status.message().len() <= MAX_MESSAGE_BYTES);

        let long = DomainError::RuleViolated("规".repeat(5_000));
        let message = from_domain(&long).message().to_string();
        assert!(message.len() <= MAX_MESSAGE_BYTES, "{}", message.len());
        assert!(message.ends_with('…'));
        assert_eq!(bounded("short".into()), "short");
    }

    #[test]
    fn unreached_position_carries_the_current_one() {
        let status = position_not_reached(10, 7);
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.metadata().get(POSITION_METADATA).unwrap(), "7");
    }
}
