//! What can go wrong in `sy`, and how it is reported: a failed call shows the
//! gRPC code, the message, every field violation of a `google.rpc.BadRequest`
//! and the projection's position when it could not wait for `min_position`.

use std::fmt::Write as _;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Metadata carrying the position a projection replica has applied.
const POSITION_METADATA: &str = "x-sy-position";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asked for something impossible.
    #[error("{0}")]
    Usage(String),
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// A call answered with a non-OK status.
    #[error("{call} failed: {}", describe(.status))]
    Rpc { call: &'static str, status: Status },
    /// The call succeeded but the answer is not what the command needs.
    #[error("{0}")]
    Failed(String),
}

impl Error {
    pub fn rpc(call: &'static str) -> impl FnOnce(Status) -> Error {
        move |status| Error::Rpc { call, status }
    }

    /// The gRPC status, when the error is a failed call.
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Rpc { status, .. } => Some(status),
            _ => None,
        }
    }
}

/// The canonical name of a gRPC code, as in the gRPC specification.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// `CODE: message`, then one indented line per field violation or other detail.
pub fn describe(status: &Status) -> String {
    let mut out = format!("{}: {}", code_name(status.code()), status.message());
    let details = status.get_error_details();
    if let Some(bad) = details.bad_request() {
        for violation in &bad.field_violations {
            let _ = write!(
                out,
                "\n  field {}: {}",
                violation.field, violation.description
            );
        }
    }
    if let Some(failure) = details.precondition_failure() {
        for violation in &failure.violations {
            let _ = write!(
                out,
                "\n  precondition {} {}: {}",
                violation.r#type, violation.subject, violation.description
            );
        }
    }
    if let Some(position) = status
        .metadata()
        .get(POSITION_METADATA)
        .and_then(|v| v.to_str().ok())
    {
        let _ = write!(out, "\n  projection is at position {position}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, FieldViolation};

    #[test]
    fn a_bad_request_names_every_field() {
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "title: is required; area_code: must be a 12-digit area code",
            ErrorDetails::with_bad_request(vec![
                FieldViolation::new("title", "is required"),
                FieldViolation::new("area_code", "must be a 12-digit area code"),
            ]),
        );
        let text = Error::rpc("SubmitRequest")(status).to_string();
        assert!(text.starts_with("SubmitRequest failed: INVALID_ARGUMENT: title"));
        assert!(text.contains("\n  field title: is required"));
        assert!(text.contains("\n  field area_code: must be a 12-digit area code"));
    }

    #[test]
    fn an_unreached_position_is_shown() {
        let mut status = Status::unavailable("position 10 not applied yet (at 7)");
        status
            .metadata_mut()
            .insert(POSITION_METADATA, "7".parse().unwrap());
        let text = describe(&status);
        assert!(text.starts_with("UNAVAILABLE: position 10"));
        assert!(text.ends_with("projection is at position 7"));
    }
}
