//! What can go wrong in `sy`, and how it is reported: a failed call shows the
//! gRPC code, the message, every field violation of a `google.rpc.BadRequest`
//! and the projection's position when it could not wait for `min_position`.
//!
//! Each error also decides the exit code ([`Error::exit_code`]): 1 when a call
//! or I/O failed, 2 for a bad command line, 3 when a verification failed, so
//! scripts can tell "could not check" from "checked, and it does not hold".

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
    /// Reading the event log failed.
    #[error(transparent)]
    Log(#[from] sy_eventlog::LogError),
    /// A secret file (the NATS password) cannot be used.
    #[error(transparent)]
    Secret(#[from] sy_api::secret_file::SecretFileError),
    /// Building or reading a local read model failed.
    #[error(transparent)]
    ReadModel(#[from] sy_projection::ReadModelError),
    /// A file or stream could not be read or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// A key-encryption key file cannot be used (the reason names a line,
    /// never its text).
    #[error("key-encryption key file {}: {reason}", path.display())]
    Kek {
        path: std::path::PathBuf,
        reason: String,
    },
    /// The key store cannot be opened or rewrapped.
    #[error(transparent)]
    KeyStore(#[from] sy_eventlog::keystore::KeyStoreError),
    /// The check ran and found the log, an export or a rebuild not as it must be.
    #[error("verification FAILED: {0}")]
    Verification(String),
}

/// Exit code when a call or I/O failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code for a bad command line (also clap's own).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when a verification ran and failed.
pub const EXIT_VERIFICATION: u8 = 3;

impl Error {
    pub fn rpc(call: &'static str) -> impl FnOnce(Status) -> Error {
        move |status| Error::Rpc { call, status }
    }

    /// `what` failed with the I/O error it gives.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }

    /// The process exit code this error ends `sy` with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            Error::Verification(_) => EXIT_VERIFICATION,
            _ => EXIT_FAILED,
        }
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
    fn exit_codes_tell_failures_from_usage_and_verification() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Error::Verification("x".into()).exit_code(), 3);
        assert_eq!(Error::Failed("x".into()).exit_code(), 1);
        let io = Error::io("reading export.jsonl")(std::io::Error::other("boom"));
        assert_eq!(io.exit_code(), 1);
        assert_eq!(io.to_string(), "reading export.jsonl: boom");
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
