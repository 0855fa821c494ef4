//! `sy export`: the log as JSON lines (format in [`crate::record`]), read
//! straight from JetStream between `--from` and `--to` (default the last
//! position when the export starts, so a busy log still gives a fixed range).
//!
//! A file is written beside its destination as `FILE.partial` and renamed
//! when complete, so an interrupted export never looks like a whole one. The
//! summary (count, range, log digest) goes to stderr: stdout may be the export.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sy_domain::audit::LogDigest;

use crate::args::ExportArgs;
use crate::error::Error;
use crate::log;
use crate::record::ExportLine;

/// Where the lines go (also those of `sy backup`).
pub(crate) enum Out {
    Stdout(BufWriter<std::io::Stdout>),
    File {
        writer: BufWriter<File>,
        partial: PathBuf,
        dest: PathBuf,
    },
}

impl Out {
    pub(crate) fn open(dest: Option<&Path>) -> Result<Self, Error> {
        let Some(dest) = dest else {
            return Ok(Out::Stdout(BufWriter::new(std::io::stdout())));
        };
        let partial = partial_path(dest);
        let file =
            File::create(&partial).map_err(Error::io(format!("creating {}", partial.display())))?;
        Ok(Out::File {
            writer: BufWriter::new(file),
            partial,
            dest: dest.to_path_buf(),
        })
    }

    /// [`Self::open`] for a file only its owner may read (mode 0600 from
    /// its creation on), for files that hold secrets (`sy backup`). A stale
    /// `FILE.partial` is removed first, so the mode is always this one.
    pub(crate) fn open_private(dest: &Path) -> Result<Self, Error> {
        let partial = partial_path(dest);
        match std::fs::remove_file(&partial) {
            Err(err) if err.kind() != ErrorKind::NotFound => {
                return Err(Error::io(format!("removing {}", partial.display()))(err));
            }
            _ => {}
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options
            .open(&partial)
            .map_err(Error::io(format!("creating {}", partial.display())))?;
        Ok(Out::File {
            writer: BufWriter::new(file),
            partial,
            dest: dest.to_path_buf(),
        })
    }

    pub(crate) fn writer(&mut self) -> &mut dyn Write {
        match self {
            Out::Stdout(writer) => writer,
            Out::File { writer, .. } => writer,
        }
    }

    pub(crate) fn what(&self) -> String {
        match self {
            Out::Stdout(_) => "writing stdout".to_string(),
            Out::File { partial, .. } => format!("writing {}", partial.display()),
        }
    }

    /// Flushes, and moves a file into place.
    pub(crate) fn finish(self) -> Result<(), Error> {
        match self {
            Out::Stdout(mut writer) => writer.flush().map_err(Error::io("writing stdout")),
            Out::File {
                writer,
                partial,
                dest,
            } => {
                let what = format!("writing {}", partial.display());
                let file = writer
                    .into_inner()
                    .map_err(|err| Error::io(what.clone())(err.into_error()))?;
                file.sync_all().map_err(Error::io(what))?;
                std::fs::rename(&partial, &dest).map_err(Error::io(format!(
                    "moving {} to {}",
                    partial.display(),
                    dest.display()
                )))
            }
        }
    }
}

/// `FILE.partial`, beside `FILE`.
fn partial_path(dest: &Path) -> PathBuf {
    let mut name = OsString::from(dest.as_os_str());
    name.push(".partial");
    PathBuf::from(name)
}

/// Runs `sy export`.
pub async fn run(args: &ExportArgs, timeout: Duration) -> Result<(), Error> {
    let log = log::open(&args.log, timeout).await?;
    let last = log.last_position().await?;
    let to = args.to.unwrap_or(last);
    if to > last {
        return Err(Error::Usage(format!(
            "--to {to} is past the log's last position {last}"
        )));
    }
    // An empty log exports nothing from 1; any other empty range is a mistake.
    if args.from > to && !(args.from == 1 && to == 0) {
        return Err(Error::Usage(format!(
            "--from {} is after the last position to export ({to})",
            args.from
        )));
    }
    let mut out = Out::open(args.out.as_deref())?;
    let mut range = log.range(args.from, to, timeout).await?;
    let bar = log::progress(to.saturating_sub(args.from - 1), "exporting");
    let mut digest = LogDigest::default();
    let mut count = 0u64;
    while let Some(event) = range.next().await? {
        let line = ExportLine::new(event.position, &event.subject, &event.payload).to_json();
        let written = writeln!(out.writer(), "{line}");
        match written {
            Ok(()) => {}
            // `sy export | head`: the reader has all it wanted.
            Err(err) if err.kind() == ErrorKind::BrokenPipe && matches!(out, Out::Stdout(_)) => {
                bar.finish_and_clear();
                return Ok(());
            }
            Err(err) => return Err(Error::io(out.what())(err)),
        }
        digest.advance(event.position, &event.payload);
        count += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let dest = match &out {
        Out::Stdout(_) => "stdout".to_string(),
        Out::File { dest, .. } => dest.display().to_string(),
    };
    match out.finish() {
        Err(Error::Io { source, .. }) if source.kind() == ErrorKind::BrokenPipe => return Ok(()),
        finished => finished?,
    }
    let digest_note = if args.from == 1 {
        format!(
            "log digest {} at position {}",
            digest.hex(),
            digest.position
        )
    } else {
        format!(
            "digest over these events only {} (export from 1 to compare with a replica)",
            digest.hex()
        )
    };
    let range_note = if count == 0 {
        "the log is empty up to there".to_string()
    } else {
        format!("positions {} to {to}", args.from)
    };
    let _ = writeln!(
        std::io::stderr(),
        "exported {count} events ({range_note}) to {dest}; {digest_note}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_written_beside_its_destination_then_moved() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("log.jsonl");
        assert_eq!(partial_path(&dest), dir.path().join("log.jsonl.partial"));
        let mut out = Out::open(Some(&dest)).unwrap();
        writeln!(out.writer(), "{{}}").unwrap();
        assert!(!dest.exists());
        out.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "{}\n");
        assert!(!partial_path(&dest).exists());
    }
}
