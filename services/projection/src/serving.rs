//! What the gRPC services share: the bounded wait for `min_position`, the
//! mapping of read model failures, and the validation of list parameters.

use std::time::Duration;

use sy_api::status::position_not_reached;
use sy_domain::FieldViolation;
use sy_domain::validate;
use tokio::sync::watch;
use tonic::Status;
use tracing::error;

use crate::read_model::ReadModelError;

/// Page size when the caller gives none.
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 50;
pub(crate) const MAX_PAGE_SIZE: u32 = 500;

/// Waits until `min_position` is applied (at most `max_wait`), then returns
/// the applied position; UNAVAILABLE with the current position if it is not
/// reached in time. Replies carry this position: it is read before the
/// data, so the data reflects at least it.
pub(crate) async fn reached(
    applied: &watch::Receiver<u64>,
    max_wait: Duration,
    min_position: u64,
) -> Result<u64, Status> {
    let mut applied = applied.clone();
    if min_position > *applied.borrow() {
        let wait = tokio::time::timeout(max_wait, applied.wait_for(|p| *p >= min_position));
        let reached = matches!(wait.await, Ok(Ok(_)));
        if !reached {
            return Err(position_not_reached(min_position, *applied.borrow()));
        }
    }
    let position = *applied.borrow();
    Ok(position)
}

pub(crate) fn internal(err: ReadModelError) -> Status {
    error!(%err, "read model failed");
    Status::internal(err.to_string())
}

/// An enum filter: 0 (unspecified) matches everything, unknown numbers are refused.
pub(crate) fn optional_enum<E: TryFrom<i32> + Copy>(
    field: &str,
    raw: i32,
) -> Result<Option<E>, FieldViolation> {
    if raw == 0 {
        Ok(None)
    } else {
        validate::enum_value(field, raw, None).map(Some)
    }
}

pub(crate) fn page_size(raw: u32) -> Result<usize, FieldViolation> {
    match raw {
        0 => Ok(DEFAULT_PAGE_SIZE as usize),
        1..=MAX_PAGE_SIZE => Ok(raw as usize),
        _ => Err(FieldViolation::new(
            "page_size",
            format!("must be at most {MAX_PAGE_SIZE}"),
        )),
    }
}
