//! Where a replica's read models live on disk. `--data-dir` holds
//! generations (`gen-1`, `gen-2`, ...) and a file `ACTIVE` naming the one in
//! use, so a rebuild can fill a fresh generation beside the live one and
//! switch by rewriting `ACTIVE` (write, fsync, rename: atomic on POSIX).
//!
//! A directory that already holds a sled database directly (what
//! `sy as-of --out` makes) is served as it is; it has no generations to
//! switch between.
//!
//! A generation written in another read-model format (by an older or newer
//! version of this service) cannot be read as it is. Opening it starts the
//! next generation empty instead, so the fold replays the log from sequence 1
//! into the current format; the old generation is deleted at start-up like
//! any inactive one. A plain sled directory in another format is refused.
//!
//! `RESERVE` is a few megabytes of disk the folding replica keeps beside its
//! generations, so that it can start on a full disk: sled 0.34 writes when
//! it opens a database (it zeroes the rest of its last log segment) and
//! fails with ENOSPC when it cannot, so on a full disk the reserve is
//! given up to open the read model and serve reads from it. The fold writes
//! the reserve again before it folds on; that it can is also how it knows
//! there is room again.
//!
//! The same happens when the active generation quarantined events as
//! written by a newer release (their schema version past what the fold
//! read) and this release reads that version: the quarantine belongs to the
//! older release's fold, and only folding the log again applies those
//! events (and the later events of their aggregates, quarantined after
//! them). A plain sled directory is served as it is, with a warning.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sy_domain::event::SCHEMA_VERSION;
use tracing::{info, warn};

use crate::read_model::{FORMAT, ReadModel, ReadModelError};

const ACTIVE: &str = "ACTIVE";
const GENERATION_PREFIX: &str = "gen-";
const RESERVE: &str = "RESERVE";
/// Far more than sled needs to open a database (at most one log segment,
/// 512 KiB by default, is zeroed).
const RESERVE_BYTES: usize = 4 << 20;

/// The replica's data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
    /// The active generation's number; `None` for a plain sled directory.
    active: Option<u64>,
}

fn io(path: &Path, err: std::io::Error) -> ReadModelError {
    ReadModelError::Corrupt(format!("{}: {err}", path.display()))
}

impl DataDir {
    /// Finds (or creates) the active read model under `root`.
    pub fn open(root: &Path) -> Result<(Self, ReadModel), ReadModelError> {
        Self::open_reading(root, SCHEMA_VERSION)
    }

    /// [`Self::open`] with a fold that reads event schema versions up to
    /// `schema_version`, as the release with that version would.
    pub(crate) fn open_reading(
        root: &Path,
        schema_version: u32,
    ) -> Result<(Self, ReadModel), ReadModelError> {
        let marker = root.join(ACTIVE);
        let active = if marker.exists() {
            let name = fs::read_to_string(&marker).map_err(|err| io(&marker, err))?;
            Some(parse_generation(name.trim()).ok_or_else(|| {
                ReadModelError::Corrupt(format!(
                    "{} names no generation: {name:?}",
                    marker.display()
                ))
            })?)
        } else if root.join("conf").exists() {
            None
        } else {
            fs::create_dir_all(root).map_err(|err| io(root, err))?;
            let dir = Self {
                root: root.to_path_buf(),
                active: Some(1),
            };
            dir.write_active(1)?;
            Some(1)
        };
        let mut dir = Self {
            root: root.to_path_buf(),
            active,
        };
        let model = match ReadModel::open(&dir.active_path()) {
            Err(err) if err.is_disk_full() => {
                if !dir.reserve().release() {
                    return Err(err);
                }
                warn!(
                    data_dir = %dir.root.display(),
                    "disk full; gave up the reserve to open the read model"
                );
                ReadModel::open(&dir.active_path())?
            }
            opened => opened?,
        }
        .reading_schema(schema_version);
        let format = model.format()?;
        let path = dir.active_path();
        if format != FORMAT {
            if !dir.has_generations() {
                return Err(ReadModelError::Corrupt(format!(
                    "{} holds a read model in format {format}; this version reads format {FORMAT}: \
                     make it again from the log",
                    path.display()
                )));
            }
            drop(model);
            let (model, next_path) = dir.start_next(schema_version)?;
            warn!(
                old = %path.display(),
                new = %next_path.display(),
                format,
                expected = FORMAT,
                "read model is in another format; rebuilding it from the log in a new generation"
            );
            return Ok((dir, model));
        }
        let readable = model.quarantined_now_readable()?;
        if readable == 0 {
            return Ok((dir, model));
        }
        if !dir.has_generations() {
            warn!(
                path = %path.display(),
                quarantined = readable,
                schema_version,
                "read model quarantined events of a schema version this release reads; \
                 serving it as it is (a plain sled directory has no generations to rebuild in)"
            );
            return Ok((dir, model));
        }
        drop(model);
        let (model, next_path) = dir.start_next(schema_version)?;
        info!(
            old = %path.display(),
            new = %next_path.display(),
            quarantined = readable,
            schema_version,
            "read model quarantined events of a newer schema that this release reads; \
             rebuilding it from the log in a new generation"
        );
        Ok((dir, model))
    }

    /// Makes a fresh, empty next generation the active one and opens it, so
    /// the fold replays the log from sequence 1 into it.
    fn start_next(&mut self, schema_version: u32) -> Result<(ReadModel, PathBuf), ReadModelError> {
        let (next, next_path) = self.prepare_next()?;
        let model = ReadModel::open(&next_path)?.reading_schema(schema_version);
        self.activate(next)?;
        Ok((model, next_path))
    }

    /// The directory of the read model in use.
    pub fn active_path(&self) -> PathBuf {
        match self.active {
            Some(n) => self.generation_path(n),
            None => self.root.clone(),
        }
    }

    /// The disk this replica keeps in reserve (see the module docs).
    pub fn reserve(&self) -> Reserve {
        Reserve {
            path: self.root.join(RESERVE),
        }
    }

    /// Whether generations can be switched (not a plain sled directory).
    pub fn has_generations(&self) -> bool {
        self.active.is_some()
    }

    fn generation_path(&self, n: u64) -> PathBuf {
        self.root.join(format!("{GENERATION_PREFIX}{n}"))
    }

    /// A fresh, empty directory for the next generation (any leftover of an
    /// abandoned rebuild is removed first).
    pub fn prepare_next(&self) -> Result<(u64, PathBuf), ReadModelError> {
        let next = self.active.unwrap_or(0) + 1;
        let path = self.generation_path(next);
        if path.exists() {
            fs::remove_dir_all(&path).map_err(|err| io(&path, err))?;
        }
        Ok((next, path))
    }

    /// Makes generation `n` the active one, durably.
    pub fn activate(&mut self, n: u64) -> Result<(), ReadModelError> {
        self.write_active(n)?;
        self.active = Some(n);
        Ok(())
    }

    fn write_active(&self, n: u64) -> Result<(), ReadModelError> {
        let marker = self.root.join(ACTIVE);
        let staged = self.root.join(format!("{ACTIVE}.new"));
        let mut file = fs::File::create(&staged).map_err(|err| io(&staged, err))?;
        writeln!(file, "{GENERATION_PREFIX}{n}").map_err(|err| io(&staged, err))?;
        file.sync_all().map_err(|err| io(&staged, err))?;
        fs::rename(&staged, &marker).map_err(|err| io(&marker, err))?;
        fs::File::open(&self.root)
            .and_then(|dir| dir.sync_all())
            .map_err(|err| io(&self.root, err))
    }

    /// Generations other than the active one: left by a switch or an
    /// abandoned rebuild.
    pub fn inactive(&self) -> Vec<PathBuf> {
        let Some(active) = self.active else {
            return Vec::new();
        };
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|entry| {
                entry
                    .file_name()
                    .to_str()
                    .and_then(parse_generation)
                    .is_some_and(|n| n != active)
            })
            .map(|entry| entry.path())
            .collect()
    }
}

/// The reserve file of a data directory (see the module docs).
#[derive(Debug, Clone)]
pub struct Reserve {
    path: PathBuf,
}

impl Reserve {
    /// Makes sure the reserve is there, whole: [`Self::renew`] unless it
    /// already is. Fails with ENOSPC while the disk has no room for it.
    pub fn ensure(&self) -> std::io::Result<()> {
        if fs::metadata(&self.path).is_ok_and(|meta| meta.len() == RESERVE_BYTES as u64) {
            return Ok(());
        }
        self.renew()
    }

    /// Writes the reserve anew beside the old one (zeros, so the file system
    /// allocates every block; synced), then puts it in the old one's place:
    /// succeeds only while the disk has the reserve's size free, so it is
    /// also the check that there is room again.
    pub fn renew(&self) -> std::io::Result<()> {
        let staged = self.path.with_extension("new");
        let written = (|| {
            let mut file = fs::File::create(&staged)?;
            file.write_all(&vec![0; RESERVE_BYTES])?;
            file.sync_all()?;
            fs::rename(&staged, &self.path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&staged);
        }
        written
    }

    /// Deletes the reserve; whether there was one to give up.
    pub fn release(&self) -> bool {
        fs::remove_file(&self.path).is_ok()
    }

    /// Where the reserve is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn parse_generation(name: &str) -> Option<u64> {
    name.strip_prefix(GENERATION_PREFIX)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_dir_starts_at_generation_one_and_switches() {
        let root = tempfile::tempdir().unwrap();
        let (mut dir, model) = DataDir::open(root.path()).unwrap();
        assert_eq!(dir.active_path(), root.path().join("gen-1"));
        drop(model);
        let (next, path) = dir.prepare_next().unwrap();
        assert_eq!((next, path.clone()), (2, root.path().join("gen-2")));
        ReadModel::open(&path).unwrap();
        dir.activate(next).unwrap();
        assert_eq!(dir.inactive(), vec![root.path().join("gen-1")]);
        let (reopened, _) = DataDir::open(root.path()).unwrap();
        assert_eq!(reopened.active_path(), root.path().join("gen-2"));
    }

    #[test]
    fn a_plain_sled_dir_is_served_as_it_is() {
        let root = tempfile::tempdir().unwrap();
        ReadModel::open(root.path()).unwrap().flush().unwrap();
        let (dir, _) = DataDir::open(root.path()).unwrap();
        assert!(!dir.has_generations());
        assert_eq!(dir.active_path(), root.path());
    }

    /// What the previous version left: a generation that folded up to
    /// position 5 and has no format key.
    fn old_store(path: &Path) {
        let db = sled::open(path).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("last_applied", &5u64.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }

    #[test]
    fn an_older_format_is_rebuilt_from_the_log_in_a_new_generation() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join(ACTIVE), "gen-1\n").unwrap();
        old_store(&root.path().join("gen-1"));
        let (dir, model) = DataDir::open(root.path()).unwrap();
        assert_eq!(dir.active_path(), root.path().join("gen-2"));
        assert_eq!(model.format().unwrap(), FORMAT);
        assert_eq!(model.last_applied().unwrap(), 0, "replayed from sequence 1");
        assert_eq!(dir.inactive(), vec![root.path().join("gen-1")]);
        drop(model);
        let (reopened, model) = DataDir::open(root.path()).unwrap();
        assert_eq!(reopened.active_path(), root.path().join("gen-2"));
        assert_eq!(model.format().unwrap(), FORMAT);
    }

    #[test]
    fn a_plain_sled_dir_in_an_older_format_is_refused() {
        let root = tempfile::tempdir().unwrap();
        old_store(root.path());
        let err = DataDir::open(root.path()).unwrap_err();
        assert!(err.to_string().contains("format 1"), "{err}");
    }

    #[test]
    fn the_reserve_is_written_once_and_can_be_given_up() {
        let root = tempfile::tempdir().unwrap();
        let (dir, _model) = DataDir::open(root.path()).unwrap();
        let reserve = dir.reserve();
        assert!(!reserve.release(), "none yet");
        reserve.ensure().unwrap();
        let written = fs::metadata(reserve.path()).unwrap();
        assert_eq!(written.len(), RESERVE_BYTES as u64);
        reserve.ensure().unwrap();
        assert_eq!(
            fs::metadata(reserve.path()).unwrap().modified().unwrap(),
            written.modified().unwrap(),
            "a whole reserve is left as it is"
        );
        reserve.renew().unwrap();
        assert_eq!(
            fs::metadata(reserve.path()).unwrap().len(),
            RESERVE_BYTES as u64
        );
        assert!(dir.inactive().is_empty(), "the reserve is no generation");
        assert!(reserve.release());
        assert!(!reserve.path().exists());
    }

    #[test]
    fn a_damaged_marker_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join(ACTIVE), "nonsense").unwrap();
        assert!(DataDir::open(root.path()).is_err());
    }
}
