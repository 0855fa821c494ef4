//! The read model in use, shared by the fold and every query, and the gate
//! that pauses the fold while a rebuild brings its new model to the live
//! position and switches to it. Queries never wait on the gate: they read
//! whichever model is in use when they start.

use std::sync::{Arc, OnceLock, RwLock};

use sy_eventlog::keystore::KeyStore;
use tokio::sync::{Mutex, MutexGuard};

use crate::read_model::ReadModel;

#[derive(Clone)]
pub(crate) struct Live {
    model: Arc<RwLock<ReadModel>>,
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
            model: Arc::new(RwLock::new(model)),
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

    /// The model in use now (a cheap clone sharing the sled database).
    pub(crate) fn model(&self) -> ReadModel {
        self.model
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
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
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = model;
    }
}
