//! The read model in use, shared by the fold and every query, and the gate
//! that pauses the fold while a rebuild brings its new model to the live
//! position and switches to it. Queries never wait on the gate: they read
//! whichever model is in use when they start.
//!
//! After sled failed to write (a full disk), its database writes nothing
//! again until it is opened anew, and sled locks its directory, so the old
//! handle must be closed before the new one opens: `reopen` does both
//! while queries wait (briefly) for the model.

use std::sync::{Arc, OnceLock, RwLock};

use sy_eventlog::keystore::KeyStore;
use tokio::sync::{Mutex, MutexGuard};

use crate::read_model::{ReadModel, ReadModelError};

#[derive(Clone)]
pub(crate) struct Live {
    /// `None` only while `reopen` holds the lock, or after it failed (then
    /// the service is stopping).
    model: Arc<RwLock<Option<ReadModel>>>,
    gate: Arc<Mutex<()>>,
    /// Opens the sealed registrations the fold masks; set by the fold
    /// once the key store is open.
    data_keys: Arc<OnceLock<KeyStore>>,
}

/// While held, the fold applies nothing.
pub(crate) struct Paused<'a> {
    _guard: MutexGuard<'a, ()>,
}

impl Live {
    pub(crate) fn new(model: ReadModel) -> Self {
        Self {
            model: Arc::new(RwLock::new(Some(model))),
            gate: Arc::new(Mutex::new(())),
            data_keys: Arc::new(OnceLock::new()),
        }
    }

    /// The key store of the log being folded, once the fold opened it.
    pub(crate) fn data_keys(&self) -> Option<&KeyStore> {
        self.data_keys.get()
    }

    /// Keeps the key store the fold opened (the first one, if called twice).
    pub(crate) fn set_data_keys(&self, store: KeyStore) -> &KeyStore {
        self.data_keys.get_or_init(|| store)
    }

    /// The model in use now (a cheap clone sharing the sled database);
    /// `Closed` after a failed reopen, while the service stops.
    pub(crate) fn model(&self) -> Result<ReadModel, ReadModelError> {
        self.model
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
            .ok_or(ReadModelError::Closed)
    }

    /// Writes the model in use to disk, if there is one.
    pub(crate) fn flush(&self) -> Result<(), ReadModelError> {
        let model = self
            .model
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        model.map_or(Ok(()), |model| model.flush())
    }

    /// Closes the model in use and opens its directory again (same
    /// signature checks); only with the fold paused. Queries wait for the
    /// new model meanwhile; those already running hold the old handle a
    /// moment longer, which opening waits for.
    pub(crate) async fn reopen(&self, _paused: &Paused<'_>) -> Result<ReadModel, ReadModelError> {
        let live = self.clone();
        // sled reads its log when it opens: off the async workers.
        tokio::task::spawn_blocking(move || live.reopen_now())
            .await
            .map_err(|err| ReadModelError::corrupt(format!("reopening failed: {err}")))?
    }

    fn reopen_now(&self) -> Result<ReadModel, ReadModelError> {
        let mut slot = self
            .model
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(old) = slot.take() else {
            return Err(ReadModelError::corrupt(
                "no read model to reopen: an earlier reopen failed",
            ));
        };
        let (path, verifier, schema) = (
            old.path().to_path_buf(),
            old.verifier(),
            old.schema_version(),
        );
        drop(old);
        let model = ReadModel::open(&path)?
            .verifying(verifier)
            .reading_schema(schema);
        *slot = Some(model.clone());
        Ok(model)
    }

    /// Waits until no batch is being applied and keeps the fold out.
    pub(crate) async fn pause(&self) -> Paused<'_> {
        Paused {
            _guard: self.gate.lock().await,
        }
    }

    /// Switches to `model`; only with the fold paused, so no batch lands in
    /// the old model after the switch.
    pub(crate) fn replace(&self, model: ReadModel, _paused: &Paused<'_>) {
        *self
            .model
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(model);
    }
}
