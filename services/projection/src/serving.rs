//! What the gRPC services share: [`Reads`] (the bounded wait for
//! `min_position`, point reads answering NOT_FOUND, blocking reads off the
//! async workers, the data keys that open what the read model keeps
//! sealed), the mapping of read model failures, and the validation of ids
//! and list parameters.

use std::time::Duration;

use sy_api::status::{invalid_argument, invalid_field, position_not_reached};
use sy_domain::FieldViolation;
use sy_domain::pii::DataKey;
use sy_domain::validate::{self, aggregate_id};
use sy_eventlog::keystore::{KeyState, KeyStoreError};
use tokio::sync::watch;
use tonic::Status;
use tracing::error;
use uuid::Uuid;

use crate::live::Live;
use crate::read_model::{ListError, ReadModel, ReadModelError};

/// Page size when the caller gives none.
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 50;
pub(crate) const MAX_PAGE_SIZE: u32 = 500;

/// What every query service reads with.
#[derive(Clone)]
pub(crate) struct Reads {
    pub live: Live,
    /// The fold's checkpoint.
    pub applied: watch::Receiver<u64>,
    /// How long a call waits for its `min_position`.
    pub max_wait: Duration,
}

impl Reads {
    /// Waits until `min_position` is applied (at most `max_wait`), then
    /// returns the applied position; UNAVAILABLE with the current position
    /// if it is not reached in time. Replies carry this position: it is read
    /// before the data, so the data reflects at least it.
    pub async fn reached(&self, min_position: u64) -> Result<u64, Status> {
        let mut applied = self.applied.clone();
        if min_position > *applied.borrow() {
            let wait =
                tokio::time::timeout(self.max_wait, applied.wait_for(|p| *p >= min_position));
            let reached = matches!(wait.await, Ok(Ok(_)));
            if !reached {
                return Err(position_not_reached(min_position, *applied.borrow()));
            }
        }
        let position = *applied.borrow();
        Ok(position)
    }

    /// The `what` with `id`, read by `read` once `min_position` is applied,
    /// and the position it reflects; NOT_FOUND naming it when absent.
    pub async fn one<T>(
        &self,
        min_position: u64,
        what: &str,
        id: &str,
        read: impl FnOnce(&ReadModel, &str) -> Result<Option<T>, ReadModelError>,
    ) -> Result<(T, u64), Status> {
        let position = self.reached(min_position).await?;
        let model = self.live.model().map_err(internal)?;
        let found = read(&model, id).map_err(internal)?;
        let found = found.ok_or_else(|| Status::not_found(format!("{what} {id} not found")))?;
        Ok((found, position))
    }

    /// `work` on the read model once `min_position` is applied, off the
    /// async workers (lists and statistics read many entries), and the
    /// position it reflects.
    pub async fn blocking<T: Send + 'static>(
        &self,
        min_position: u64,
        work: impl FnOnce(ReadModel) -> Result<T, Status> + Send + 'static,
    ) -> Result<(T, u64), Status> {
        let position = self.reached(min_position).await?;
        let model = self.live.model().map_err(internal)?;
        let found = tokio::task::spawn_blocking(move || work(model))
            .await
            .map_err(|err| Status::internal(format!("read worker failed: {err}")))??;
        Ok((found, position))
    }
}

impl Reads {
    /// The data key of `person`, which opens what the read model keeps
    /// sealed about them; `None` once they are erased (what was sealed
    /// stays unread). No key store or no answer from it: UNAVAILABLE, so a
    /// reply never silently lacks what it should show.
    pub async fn data_key(&self, person: Uuid) -> Result<Option<DataKey>, Status> {
        let keys = self
            .live
            .data_keys()
            .ok_or_else(|| Status::unavailable("the key store is not open yet"))?;
        match keys.key(person).await {
            Ok(KeyState::Key(key)) => Ok(Some(key)),
            Ok(KeyState::Erased { .. }) => Ok(None),
            Err(KeyStoreError::Unavailable(err)) => {
                Err(Status::unavailable(format!("key store: {err}")))
            }
            Err(err) => {
                error!(%err, %person, "key store refused a key");
                Err(Status::internal(err.to_string()))
            }
        }
    }
}

/// An aggregate id argument (a UUID), as the log spells it.
pub(crate) fn id(value: &str) -> Result<String, Status> {
    aggregate_id("id", value)
        .map(|id| id.to_string())
        .map_err(|violation| invalid_argument(&[violation]))
}

pub(crate) fn from_list(err: ListError) -> Status {
    match err {
        ListError::PageToken(reason) => invalid_field("page_token", reason),
        ListError::Store(err) => internal(err),
    }
}

pub(crate) fn internal(err: ReadModelError) -> Status {
    if matches!(err, ReadModelError::Closed) {
        return Status::unavailable(err.to_string());
    }
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
