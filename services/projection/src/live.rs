//! The read model in use, shared by the fold and every query, and the gate
//! that pauses the fold while a rebuild brings its new model to the live
//! position and switches to it. Queries never wait on the gate: they read
//! whichever model is in use when they start.

use std::sync::{Arc, RwLock};

use tokio::sync::{Mutex, MutexGuard};

use crate::read_model::ReadModel;

#[derive(Clone)]
pub(crate) struct Live {
    model: Arc<RwLock<ReadModel>>,
    gate: Arc<Mutex<()>>,
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
        }
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
