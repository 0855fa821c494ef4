//! Files a running server re-reads without a restart (the tokens file, the
//! policy file): on SIGHUP, and when a file's modification time changes. A
//! revoked token or a withdrawn role stops working within seconds. A file
//! that fails to load keeps the previous content in force. Every reload is a
//! log line with target `security` and a count in
//! `sy_credentials_reloads_total{file,outcome}`, never the content.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use crate::secret_file::SecretFileError;

/// What a reloadable file holds, read from its path.
pub trait FromFile: Sized + Send + Sync + 'static {
    /// What the file is, in logs and metrics (`tokens`, `policy`).
    const WHAT: &'static str;

    /// Parses the file's text; the error says which line or entry is wrong.
    fn parse_text(text: &str) -> Result<Self, String>;

    /// Reads the owner-only file at `path` and parses it.
    fn from_file(path: &Path) -> Result<Self, SecretFileError> {
        let text = crate::secret_file::read_private(path)?;
        Self::parse_text(&text).map_err(|reason| SecretFileError::Parse {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// How many entries it holds, for the reload log line.
    fn count(&self) -> usize;
}

/// The content of a file now in force, and where it is re-read from.
#[derive(Debug)]
pub struct Reloadable<T> {
    path: Option<PathBuf>,
    current: RwLock<Arc<T>>,
}

impl<T: FromFile> Reloadable<T> {
    /// Reads the file at `path` (re-read by [`Reloadable::reload`]).
    pub fn load(path: &Path) -> Result<Self, SecretFileError> {
        Ok(Self {
            path: Some(path.to_path_buf()),
            current: RwLock::new(Arc::new(T::from_file(path)?)),
        })
    }

    /// Fixed content, never reloaded.
    pub fn fixed(value: T) -> Self {
        Self {
            path: None,
            current: RwLock::new(Arc::new(value)),
        }
    }

    /// The content in force.
    pub fn current(&self) -> Arc<T> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Re-reads the file: on success its new content serves every following
    /// call, on failure the previous one stays. Logged and counted either way.
    pub fn reload(&self) -> Result<usize, SecretFileError> {
        let Some(path) = &self.path else {
            return Ok(self.current().count());
        };
        match T::from_file(path) {
            Ok(value) => {
                let count = value.count();
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(value);
                metrics::counter!(
                    "sy_credentials_reloads_total",
                    "file" => T::WHAT,
                    "outcome" => "ok",
                )
                .increment(1);
                tracing::info!(
                    target: "security",
                    file = T::WHAT,
                    path = %path.display(),
                    entries = count,
                    "reloaded"
                );
                Ok(count)
            }
            Err(err) => {
                metrics::counter!(
                    "sy_credentials_reloads_total",
                    "file" => T::WHAT,
                    "outcome" => "error",
                )
                .increment(1);
                tracing::error!(
                    target: "security",
                    file = T::WHAT,
                    %err,
                    "not reloaded; the previous content stays in force"
                );
                Err(err)
            }
        }
    }
}

/// A [`Reloadable`] of any content, for the one task that watches them all.
pub trait Reload: Send + Sync {
    /// The file, if there is one to re-read.
    fn path(&self) -> Option<&Path>;
    /// Re-reads it (the outcome is logged and counted).
    fn reload_now(&self);
}

impl<T: FromFile> Reload for Reloadable<T> {
    fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn reload_now(&self) {
        // `reload` logs and counts the outcome.
        let _ = self.reload();
    }
}

/// Re-reads every one of `files` on SIGHUP, and each whose modification
/// time changed (checked every `poll`), until the runtime stops. `None` when
/// none has a file. The signal handler is installed before this returns, so
/// a SIGHUP sent afterwards never terminates the process.
pub fn spawn_reloader(
    files: Vec<Arc<dyn Reload>>,
    poll: Duration,
) -> std::io::Result<Option<tokio::task::JoinHandle<()>>> {
    let files: Vec<_> = files.into_iter().filter(|f| f.path().is_some()).collect();
    if files.is_empty() {
        return Ok(None);
    }
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let modified = |file: &Arc<dyn Reload>| {
        file.path()
            .and_then(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
    };
    Ok(Some(tokio::spawn(async move {
        let mut seen: Vec<Option<SystemTime>> = files.iter().map(modified).collect();
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            #[cfg(unix)]
            let signalled = tokio::select! {
                _ = hangup.recv() => true,
                _ = tick.tick() => false,
            };
            #[cfg(not(unix))]
            let signalled = {
                tick.tick().await;
                false
            };
            for (file, seen) in files.iter().zip(seen.iter_mut()) {
                let now = modified(file);
                if signalled || now != *seen {
                    *seen = now;
                    file.reload_now();
                }
            }
        }
    })))
}
