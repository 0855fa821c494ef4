//! A batch's writes, held in memory over the committed trees until the
//! batch commits.
//!
//! sled 0.34 serialises a transaction against every other access of every
//! database in the process: while one runs, it holds a process-wide write
//! lock that every `get`, scan and insert waits for (its
//! `concurrency_control`). Folding inside the transaction made each query
//! wait for a whole batch: the decoding, the domain's `apply`, sealing, the
//! reads. So the fold reads and computes outside it, against an [`Overlay`]
//! per tree (its own writes first, then the committed tree), and
//! [`commit`] only writes what the batch decided, in one transaction over
//! the trees it touched, checkpoint included: the batch stays atomic with
//! its position, and readers wait for the writes alone.
//!
//! Reading committed state outside the transaction is sound because the
//! fold is the one writer of a read model (`ReadModel::apply_batch` holds
//! the model's writer lock from the first read to the commit), so nothing
//! changes under the overlay between its reads and its commit.

use std::cell::RefCell;
use std::collections::BTreeMap;

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::{IVec, Transactional};

use super::ReadModelError;

/// One tree as the batch sees it: the batch's writes over the tree.
pub(super) struct Overlay<'t> {
    tree: &'t sled::Tree,
    /// Key → the value written, or `None` for a removal; ordered, so the
    /// commit writes each tree in key order.
    writes: RefCell<BTreeMap<IVec, Option<IVec>>>,
}

impl<'t> Overlay<'t> {
    pub fn new(tree: &'t sled::Tree) -> Self {
        Self {
            tree,
            writes: RefCell::default(),
        }
    }

    /// The value of `key`: as the batch wrote it, else as committed.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, ReadModelError> {
        if let Some(written) = self.writes.borrow().get(key.as_ref()) {
            return Ok(written.clone());
        }
        Ok(self.tree.get(key)?)
    }

    pub fn insert(&self, key: impl Into<IVec>, value: impl Into<IVec>) {
        self.writes
            .borrow_mut()
            .insert(key.into(), Some(value.into()));
    }

    pub fn remove(&self, key: impl Into<IVec>) {
        self.writes.borrow_mut().insert(key.into(), None);
    }

    /// How many keys the batch wrote or removed here.
    pub fn len(&self) -> usize {
        self.writes.borrow().len()
    }
}

/// Writes every overlay's writes into its tree, atomically: one sled
/// transaction over the trees written (`overlays`, each with its tree).
pub(super) fn commit(overlays: &[&Overlay<'_>]) -> Result<(), ReadModelError> {
    let written: Vec<(&sled::Tree, BTreeMap<IVec, Option<IVec>>)> = overlays
        .iter()
        .filter(|overlay| overlay.len() > 0)
        .map(|overlay| (overlay.tree, overlay.writes.take()))
        .collect();
    if written.is_empty() {
        return Ok(());
    }
    let trees: Vec<&sled::Tree> = written.iter().map(|(tree, _)| *tree).collect();
    trees[..]
        .transaction(|views| {
            for (view, (_, writes)) in views.iter().zip(&written) {
                for (key, value) in writes {
                    match value {
                        Some(value) => view.insert(key, value)?,
                        None => view.remove(key)?,
                    };
                }
            }
            Ok::<_, ConflictableTransactionError<ReadModelError>>(())
        })
        .map_err(|err| match err {
            TransactionError::Abort(err) => err,
            TransactionError::Storage(err) => ReadModelError::Storage(err),
        })
}
