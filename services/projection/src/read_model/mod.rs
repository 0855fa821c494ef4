//! The sled read model: one directory per projection replica, rebuilt from the
//! log alone. Every write happens in [`ReadModel::apply_batch`], one multi-tree
//! transaction per batch that also moves the checkpoint, so what is durable is
//! always the fold of exactly the events up to the durable checkpoint. The
//! batch is folded before that transaction, which only writes (see
//! [`overlay`]): queries wait for sled's writes, never for the fold.
//!
//! Trees (one named set, [`trees::Trees`]):
//! - `meta`: `last_applied` (the checkpoint) and `quarantined` (a count), u64 BE;
//!   `log_digest`, the running digest of the log up to the checkpoint;
//!   `format`, the [`FORMAT`] the trees are written in;
//! - `requests`: request id → prost-encoded `Request` without its timeline
//!   (the free text of a request that concerns a person sealed under their
//!   key, see [`request_text`]);
//! - `timeline`: `[id len u32 BE][id][version u64 BE]` → one timeline entry
//!   of a request (see [`timeline`]: kept apart so an event's write does not
//!   grow with the request's history);
//! - `chain`: request id → hash of its last folded event, which the next
//!   event's `prev_hash` must name (tamper evidence, checked on every fold);
//! - `idx_all`, `idx_status`, `idx_department`, `idx_open_due`: list indexes
//!   (layouts in [`keys`]), values empty;
//! - `board`: clearance board counters (see [`board`]), and those of the
//!   board by period and place (see [`board_period`]);
//! - `changes`: position u64 BE → prost-encoded `RequestChange`, for `WatchRequests`;
//! - `notifications`: `[agency len u32 BE][agency][position u64 BE]` →
//!   prost-encoded `Notification`, what each request event yields for whom
//!   (`sy_domain::notification`), for `Notifications.Watch` and webhooks;
//! - `subscriptions`: subscription id → the domain `Subscription`
//!   (postcard), each agency's webhook receiver;
//! - `quarantine`: position u64 BE → why an event could not be folded (and
//!   the schema version of one refused as written by a newer release), and
//!   its bytes;
//!
//! and for the placement programmes (see [`registry`]: domain states, and
//! persons masked):
//! - `people`: person id → prost `PersonView`, personal data masked only
//!   (the full ID number, phone and name are never stored);
//! - `placements`: placement id → `StoredPlacement`; `allowances`: allowance
//!   id → `StoredAllowance`; `stations`: station id → the domain `Station`;
//! - `idx_placements` (`[newest first 8][id]`), `idx_placement_status`
//!   (`[programme][status][newest first 8][id]`), `idx_placement_fast`
//!   (fast-lane placements only, `[newest first 8][id]`), `idx_stations`
//!   (`[area code]/[id]`): list indexes, values empty;
//! - `stats`: placement statistics counters (see [`stats`]).
//!
//! The chain tree holds every kind's head: requests by id, other kinds by
//! `{kind}.{id}`.

mod board;
mod board_period;
mod checked;
mod counters;
mod double_list;
mod fold;
mod keys;
mod list;
mod overlay;
mod placement_list;
#[cfg(test)]
mod placement_tests;
mod registry;
pub(crate) mod request_text;
mod sealed;
mod stats;
#[cfg(test)]
mod tests;
mod timeline;
mod trees;
mod views;

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::civil::Date;
use prost::Message;
use sy_domain::pb;
use sy_domain::signature::VerifyKeys;
use sy_domain::subscription::Subscription;

use keys::{FORMAT as FORMAT_KEY, LAST_APPLIED, LOG_DIGEST, QUARANTINED, read_u64, u64_bytes};
use registry::Record;
use sy_domain::audit::LogDigest;
use sy_domain::event::SCHEMA_VERSION;
use trees::Trees;

/// The format this code writes the trees in. Raise it whenever stored bytes
/// change meaning; a store in an older format is rebuilt from the log (see
/// `crate::data_dir`). 1: views stored as prost messages (no `format` key);
/// 2: domain states stored with postcard; 3: stations keep their operator;
/// 4: persons masked anew (last characters only, no sex or birth year),
/// personal free text kept sealed, a request's text sealed when it
/// concerns a person, with an index of the requests each person concerns;
/// 5: a quarantine entry records the schema version of an event refused as
/// written by a newer release; 6: a request's timeline is stored in its own
/// tree, entry by entry, each note sealed on its own; 7: board rows hold
/// the requesters' satisfaction ratings and count closes on time, the
/// board keeps counters by period and place, the notifications each
/// request event yields are kept per agency, and webhook subscriptions;
/// 8: yearly double lists are kept in their own tree.
pub const FORMAT: u64 = 8;

pub use board_period::BoardFilter;
pub use checked::checked_envelope;
pub use fold::{BatchOutcome, CheckedBatch};
pub use list::{ListError, ListFilter, Page};
pub use placement_list::{PlacementFilter, PlacementPage, StationPage};
pub use registry::StoredPerson;
pub use sealed::BatchKeys;
pub use timeline::StoredRequest;

/// Why the read model could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    /// sled failed (I/O, or the database is in use).
    #[error("read model storage failed: {0}")]
    Storage(#[from] sled::Error),
    /// The store holds bytes this code did not write: a damaged or foreign
    /// data directory. Rebuild it from the log.
    #[error("read model is damaged: {0}")]
    Corrupt(String),
    /// No model is open: reopening it after a full disk failed, and the
    /// service is stopping.
    #[error("the read model is closed: it could not be opened again, and the service is stopping")]
    Closed,
}

impl ReadModelError {
    pub(crate) fn corrupt(reason: impl Into<String>) -> Self {
        Self::Corrupt(reason.into())
    }

    /// Whether sled failed for want of disk space (ENOSPC). sled 0.34 keeps
    /// the first I/O error of a database and fails every later write with
    /// it, so such a handle writes nothing again: the database must be
    /// opened anew once there is room (reads from it still work).
    pub fn is_disk_full(&self) -> bool {
        match self {
            Self::Storage(sled::Error::Io(err)) => is_disk_full(err),
            _ => false,
        }
    }
}

/// ENOSPC, as the OS reports it or as sled re-wraps it (then with the kind
/// but without the raw code).
pub(crate) fn is_disk_full(err: &std::io::Error) -> bool {
    const ENOSPC: i32 = 28;
    err.kind() == std::io::ErrorKind::StorageFull || err.raw_os_error() == Some(ENOSPC)
}

/// An event the fold refused, kept for operators and auditors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// Stream sequence of the event.
    pub position: u64,
    /// The subject it was stored on (`sy.evt.<kind>.<id>`).
    pub subject: String,
    /// Why the fold refused it (undecodable, or the domain's `ApplyError`).
    pub reason: String,
    /// Set when it was refused as written by a newer release: its schema
    /// version, past what the fold read. A release that reads that version
    /// folds the log again at start (see `crate::data_dir`).
    pub newer_schema: Option<u32>,
    /// The event's bytes exactly as stored in the log.
    pub payload: Vec<u8>,
}

impl Quarantined {
    /// `[newer schema u32 BE][reason len u32 BE][reason][subject len u32 BE]
    /// [subject][payload]`; the newer schema is 0 for an event refused for
    /// another reason (a newer version is at least 1).
    fn encode(subject: &str, reason: &str, newer_schema: Option<u32>, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(12 + reason.len() + subject.len() + payload.len());
        bytes.extend_from_slice(&newer_schema.unwrap_or(0).to_be_bytes());
        for text in [reason, subject] {
            let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(text.as_bytes());
        }
        bytes.extend_from_slice(payload);
        bytes
    }

    fn decode(position: u64, bytes: &[u8]) -> Option<Self> {
        fn text(bytes: &[u8]) -> Option<(String, &[u8])> {
            let (len, rest) = bytes.split_at_checked(4)?;
            let len = usize::try_from(u32::from_be_bytes(len.try_into().ok()?)).ok()?;
            let (text, rest) = rest.split_at_checked(len)?;
            Some((String::from_utf8(text.to_vec()).ok()?, rest))
        }
        let (newer_schema, rest) = Self::newer_schema_of(bytes)?;
        let (reason, rest) = text(rest)?;
        let (subject, payload) = text(rest)?;
        Some(Self {
            position,
            subject,
            reason,
            newer_schema,
            payload: payload.to_vec(),
        })
    }

    /// The newer schema version an encoded entry records, and the rest.
    fn newer_schema_of(bytes: &[u8]) -> Option<(Option<u32>, &[u8])> {
        let (version, rest) = bytes.split_at_checked(4)?;
        let version = u32::from_be_bytes(version.try_into().ok()?);
        Some(((version != 0).then_some(version), rest))
    }
}

/// sled's page cache for each database this process opens, in bytes.
/// sled's own default is 1 GiB; the projection bounds it explicitly with
/// `--sled-cache-mb` ([`set_cache_capacity`], at start) and this default
/// holds for every other opener (`sy as-of`, tests). A rebuild opens a
/// second database beside the live one, so the process may hold twice this.
pub(crate) const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;

static CACHE_CAPACITY: AtomicU64 = AtomicU64::new(DEFAULT_CACHE_BYTES);

/// Sets the sled page cache of every database opened from now on (the
/// projection's `--sled-cache-mb`); a process-wide bound rather than an
/// argument of [`ReadModel::open`] because the data directory, the live
/// reopen and a rebuild each open databases and must share it.
pub(crate) fn set_cache_capacity(bytes: u64) {
    CACHE_CAPACITY.store(bytes, Ordering::Relaxed);
}

/// A replica's read model. Cheap to clone: clones share one sled database.
#[derive(Clone)]
pub struct ReadModel {
    db: sled::Db,
    /// The sled directory, to open it anew (see `ReadModelError::is_disk_full`).
    path: PathBuf,
    trees: Trees<sled::Tree>,
    /// The keys every folded event must be signed with; `None`: signatures
    /// are not checked (development mode, and `sy as-of` builds).
    verifier: Option<Arc<VerifyKeys>>,
    /// The newest event schema version the fold reads: this release's
    /// `SCHEMA_VERSION`; tests fold as another release would.
    schema_version: u32,
    /// Held by [`ReadModel::apply_batch`] from its first read to its
    /// commit: a batch is folded against the committed trees outside the
    /// sled transaction (see [`overlay`]), so batches of one database must
    /// not interleave.
    writer: Arc<std::sync::Mutex<()>>,
}

impl std::fmt::Debug for ReadModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadModel").finish_non_exhaustive()
    }
}

impl ReadModel {
    /// Opens (or creates) the read model in `dir`.
    ///
    /// sled locks its directory; a handle just dropped (by this process's
    /// previous model, or a process still exiting) releases the lock when
    /// sled's background flusher stops, within about a second. Opening
    /// waits that long for it before giving up.
    pub fn open(dir: &Path) -> Result<Self, ReadModelError> {
        const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
        const RETRY: std::time::Duration = std::time::Duration::from_millis(50);
        let started = std::time::Instant::now();
        let db = loop {
            let config = sled::Config::new()
                .path(dir)
                .cache_capacity(CACHE_CAPACITY.load(Ordering::Relaxed));
            match config.open() {
                Ok(db) => break db,
                Err(sled::Error::Io(err))
                    if err.kind() == std::io::ErrorKind::WouldBlock
                        || err.to_string().contains("could not acquire lock") =>
                {
                    if started.elapsed() >= LOCK_WAIT {
                        return Err(sled::Error::Io(err).into());
                    }
                    std::thread::sleep(RETRY);
                }
                Err(err) => return Err(err.into()),
            }
        };
        let trees = Trees::by_name(|name| db.open_tree(name))?;
        // A store that has folded nothing yet is written in this format.
        if trees.meta.get(LAST_APPLIED)?.is_none() && trees.meta.get(FORMAT_KEY)?.is_none() {
            trees.meta.insert(FORMAT_KEY, &u64_bytes(FORMAT)[..])?;
        }
        Ok(Self {
            db,
            path: dir.to_path_buf(),
            trees,
            verifier: None,
            schema_version: SCHEMA_VERSION,
            writer: Arc::default(),
        })
    }

    /// The sled directory this model was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This model, folding events of schema versions up to `version` (a
    /// release other than this one; see `sy_domain::upcast::upcast_reading`).
    pub(crate) fn reading_schema(self, version: u32) -> Self {
        Self {
            schema_version: version,
            ..self
        }
    }

    /// The newest event schema version this model's fold reads.
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }

    /// How many quarantined events were refused as written by a newer
    /// release but are of a schema version this model's fold reads: an
    /// older release quarantined them, and only folding the log again
    /// applies them.
    pub fn quarantined_now_readable(&self) -> Result<u64, ReadModelError> {
        let mut count = 0;
        for entry in self.trees.quarantine.iter() {
            let (_, value) = entry?;
            let (newer_schema, _) = Quarantined::newer_schema_of(&value)
                .ok_or_else(|| ReadModelError::corrupt("quarantine entry is malformed"))?;
            if newer_schema.is_some_and(|version| version <= self.schema_version) {
                count += 1;
            }
        }
        Ok(count)
    }

    /// This model, folding only events signed by one of `keys` (others are
    /// quarantined, the reason naming what is wrong with the signature).
    pub fn verifying(self, keys: Option<Arc<VerifyKeys>>) -> Self {
        Self {
            verifier: keys,
            ..self
        }
    }

    /// The keys events are verified with, if any (a rebuilt model takes
    /// the live one's).
    pub fn verifier(&self) -> Option<Arc<VerifyKeys>> {
        self.verifier.clone()
    }

    /// The format the trees are written in (1 for stores from before
    /// formats were numbered); anything but `FORMAT` must be rebuilt.
    pub fn format(&self) -> Result<u64, ReadModelError> {
        match self.trees.meta.get(FORMAT_KEY)? {
            None => Ok(1),
            Some(_) => self.meta_counter(FORMAT_KEY),
        }
    }

    /// The last stream position folded (0 before the first batch).
    pub fn last_applied(&self) -> Result<u64, ReadModelError> {
        self.meta_counter(LAST_APPLIED)
    }

    /// How many events the fold has quarantined.
    pub fn quarantine_count(&self) -> Result<u64, ReadModelError> {
        self.meta_counter(QUARANTINED)
    }

    fn meta_counter(&self, key: &[u8]) -> Result<u64, ReadModelError> {
        match self.trees.meta.get(key)? {
            None => Ok(0),
            Some(bytes) => {
                read_u64(&bytes).ok_or_else(|| ReadModelError::corrupt("meta counter is not a u64"))
            }
        }
    }

    /// The running digest of the log up to [`Self::last_applied`].
    pub fn log_digest(&self) -> Result<LogDigest, ReadModelError> {
        let position = self.last_applied()?;
        let digest = match self.trees.meta.get(LOG_DIGEST)? {
            None => LogDigest::default().digest,
            Some(bytes) => bytes
                .as_ref()
                .try_into()
                .map_err(|_| ReadModelError::corrupt("log digest is not 32 bytes"))?,
        };
        Ok(LogDigest { position, digest })
    }

    /// The quarantined events, in log order.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>, ReadModelError> {
        self.quarantined_after(0, usize::MAX)
    }

    /// Up to `limit` quarantined events after `after`, in log order.
    pub fn quarantined_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Quarantined>, ReadModelError> {
        after_position(&self.trees.quarantine, after, limit, |position, value| {
            Quarantined::decode(position, value)
                .ok_or_else(|| ReadModelError::corrupt("quarantine entry is malformed"))
        })
    }

    /// One request with its timeline, as stored (the notes sealed apart
    /// left out: see [`Self::stored_request`]); `id` as the log spells it.
    pub fn request(&self, id: &str) -> Result<Option<pb::Request>, ReadModelError> {
        Ok(self.stored_request(id)?.map(|stored| stored.request))
    }

    /// One request with its timeline and its sealed notes, to be served
    /// through `request_text::unseal`.
    pub fn stored_request(&self, id: &str) -> Result<Option<StoredRequest>, ReadModelError> {
        let Some(mut request) = self.request_record(id)? else {
            return Ok(None);
        };
        let (timeline, sealed_notes) = timeline::read(&self.trees.timeline, id)?
            .into_iter()
            .unzip();
        request.timeline = timeline;
        Ok(Some(StoredRequest {
            request,
            sealed_notes,
        }))
    }

    /// One request's record: everything but its timeline.
    pub fn request_record(&self, id: &str) -> Result<Option<pb::Request>, ReadModelError> {
        self.trees
            .requests
            .get(id.as_bytes())?
            .map(|bytes| pb::Request::decode_record(&bytes))
            .transpose()
    }

    /// The clearance board with overdue counts and ages as of `as_of`, of
    /// every request or of those `filter` matches; `position` is left for
    /// the caller, who knows which position it read before.
    pub fn board(
        &self,
        as_of: Date,
        filter: Option<&BoardFilter>,
    ) -> Result<pb::ClearanceBoard, ReadModelError> {
        let tree = &self.trees.board;
        match filter {
            Some(filter) => board_period::read(tree, filter, as_of),
            None => {
                let mut board = board::read(tree, as_of)?;
                board_period::add_ages(tree, &mut board, as_of)?;
                Ok(board)
            }
        }
    }

    /// Up to `limit` changes with a position after `after`, oldest first.
    pub fn changes_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<pb::RequestChange>, ReadModelError> {
        after_position(&self.trees.changes, after, limit, |_, value| {
            pb::RequestChange::decode(value)
                .map_err(|err| ReadModelError::corrupt(format!("stored change: {err}")))
        })
    }

    /// Up to `limit` notifications of `agency` with a position after
    /// `after`, oldest first.
    pub fn notifications_after(
        &self,
        agency: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<pb::Notification>, ReadModelError> {
        let start = Bound::Excluded(keys::notification_key(agency, after));
        let end = keys::prefix_end(&keys::timeline_prefix(agency));
        self.trees
            .notifications
            .range((start, end))
            .take(limit)
            .map(|entry| {
                let (_, value) = entry?;
                pb::Notification::decode(&value[..])
                    .map_err(|err| ReadModelError::corrupt(format!("stored notification: {err}")))
            })
            .collect()
    }

    /// Every webhook subscription folded, active or ended, in id order.
    pub fn subscriptions(&self) -> Result<Vec<Subscription>, ReadModelError> {
        self.trees
            .subscriptions
            .iter()
            .map(|entry| Subscription::decode_record(&entry?.1))
            .collect()
    }

    /// BLAKE3 over every tree's name, keys and values in order (each
    /// length-prefixed): equal digests mean byte-identical read models.
    pub fn digest(&self) -> Result<[u8; 32], ReadModelError> {
        let mut hasher = blake3::Hasher::new();
        for tree in self.trees.all() {
            hash_part(&mut hasher, &tree.name());
            for entry in tree.iter() {
                let (key, value) = entry?;
                hash_part(&mut hasher, &key);
                hash_part(&mut hasher, &value);
            }
        }
        Ok(*hasher.finalize().as_bytes())
    }

    /// Writes everything to disk; called on shutdown (sled also flushes
    /// periodically on its own).
    pub fn flush(&self) -> Result<(), ReadModelError> {
        self.db.flush()?;
        Ok(())
    }
}

/// Up to `limit` entries of a tree keyed by stream position (u64 BE) after
/// `after`, in log order, each decoded by `decode` from its position and
/// value.
fn after_position<T>(
    tree: &sled::Tree,
    after: u64,
    limit: usize,
    decode: impl Fn(u64, &[u8]) -> Result<T, ReadModelError>,
) -> Result<Vec<T>, ReadModelError> {
    let start = Bound::Excluded(u64_bytes(after));
    tree.range::<[u8; 8], _>((start, Bound::Unbounded))
        .take(limit)
        .map(|entry| {
            let (key, value) = entry?;
            let position = read_u64(&key)
                .ok_or_else(|| ReadModelError::corrupt("a position key is malformed"))?;
            decode(position, &value)
        })
        .collect()
}

fn hash_part(hasher: &mut blake3::Hasher, bytes: &[u8]) {
    hasher.update(&(bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}
