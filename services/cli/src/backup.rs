//! `sy backup` and `sy restore`: the whole log in one file, and back into a
//! NATS server that does not have it. The log is three streams, and a
//! backup holds all three, each with its configuration and every message's
//! sequence, subject, headers and bytes ([`sy_eventlog::snapshot`]):
//!
//! - the event stream `<stream>`: the source of truth;
//! - its key store `<stream>_KEYS`: every person's wrapped data key, the
//!   tombstones of erasures and the KEK canaries. Without it no sealed
//!   personal field opens again, so a backup is as sensitive as the KEK
//!   file;
//! - its access log `<stream>_ACCESS` (who read whose personal data), when
//!   the projection has created it.
//!
//! The event stream is cut at its last position when the backup starts; the
//! key store is read after it, so every key an event needs is in the file
//! (intake writes a key before the event that uses it).
//!
//! The file is JSON lines: a `backup` header, then per stream a `stream`
//! line (configuration, first and last sequence, message count) and its
//! `message` lines, and last a `manifest` with each stream's count, last
//! sequence and digest, the log digest `sy verify` computes, and the
//! BLAKE3 of every line before it. It is written owner-only (mode 0600)
//! beside its destination as `FILE.partial` and renamed when complete. `sy restore` checks the whole
//! file against its manifest before it creates anything, so a truncated or
//! altered file is refused with the line and what is wrong; then it creates
//! each stream (refusing any that exists) and republishes in order, every
//! message at the sequence it had.

use std::fs::File;
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sy_domain::audit::LogDigest;
use sy_eventlog::snapshot::{RawMessage, Restorer, StreamConfig, StreamShape};
use sy_eventlog::{EventLog, access, keystore};

use crate::args::{BackupArgs, RestoreArgs};
use crate::error::Error;
use crate::export::Out;
use crate::log;
use crate::record::hex;

/// The format this release writes and reads.
pub const FORMAT: u32 = 1;

/// Which of the log's streams a stream of the backup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// `<stream>`.
    Events,
    /// `<stream>_KEYS`.
    Keys,
    /// `<stream>_ACCESS`.
    Access,
}

impl Part {
    /// The stream of this part for the log stream `stream`.
    pub fn stream_name(self, stream: &str) -> String {
        match self {
            Part::Events => stream.to_string(),
            Part::Keys => keystore::stream_name(stream),
            Part::Access => access::stream_name(stream),
        }
    }
}

/// What a stream of the backup holds, as the manifest sums it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSum {
    pub name: String,
    pub part: Part,
    pub messages: u64,
    pub last_sequence: u64,
    /// BLAKE3 over every message (see [`MessageDigest`]), hex.
    pub digest: String,
}

/// One line per stream of a backup: what `sy backup` wrote and `sy restore`
/// restored, to compare.
fn say_streams(sums: &[StreamSum]) {
    for sum in sums {
        say!(
            "  {}: {} messages, last sequence {}, digest {}",
            sum.name,
            sum.messages,
            sum.last_sequence,
            sum.digest
        );
    }
}

/// One line of a backup file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Backup {
        format: u32,
        stream: String,
        created_at: String,
        sy_version: String,
    },
    Stream {
        name: String,
        part: Part,
        /// The stream's configuration as the server reported it.
        config: serde_json::Value,
        first_sequence: u64,
        last_sequence: u64,
        messages: u64,
    },
    Message {
        sequence: u64,
        subject: String,
        headers: Vec<(String, String)>,
        /// The stored bytes, standard base64.
        payload: String,
    },
    Manifest {
        streams: Vec<StreamSum>,
        /// The event stream's last position and `sy verify`'s log digest there.
        log_position: u64,
        log_digest: String,
        /// Lines before the manifest, and the BLAKE3 (hex) of those lines,
        /// each with its newline.
        lines: u64,
        digest: String,
    },
}

impl Line {
    fn to_json(&self) -> String {
        // Strings, numbers, and JSON the server gave: cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    fn message(message: &RawMessage) -> Self {
        Line::Message {
            sequence: message.sequence,
            subject: message.subject.clone(),
            headers: message.headers.clone(),
            payload: BASE64.encode(&message.payload),
        }
    }
}

/// The digest of a stream's messages: BLAKE3 over, for each in order, its
/// sequence, subject, headers and payload, each length-prefixed, so two
/// copies of a stream digest equal exactly when they hold the same messages
/// at the same sequences.
#[derive(Default)]
pub struct MessageDigest {
    hasher: blake3::Hasher,
    count: u64,
}

impl MessageDigest {
    pub fn add(&mut self, message: &RawMessage) {
        let hasher = &mut self.hasher;
        let mut field = |bytes: &[u8]| {
            hasher.update(&(bytes.len() as u64).to_be_bytes());
            hasher.update(bytes);
        };
        field(&message.sequence.to_be_bytes());
        field(message.subject.as_bytes());
        field(&(message.headers.len() as u64).to_be_bytes());
        for (name, value) in &message.headers {
            field(name.as_bytes());
            field(value.as_bytes());
        }
        field(&message.payload);
        self.count += 1;
    }

    pub fn hex(&self) -> String {
        hex(self.hasher.finalize().as_bytes())
    }
}

/// Runs `sy backup`.
pub async fn run_backup(args: &BackupArgs, timeout: Duration) -> Result<(), Error> {
    let log = log::open(&args.log, timeout).await?;
    let stream = args.log.stream.as_str();
    let mut out = Out::open_private(&args.out)?;
    let mut file = FileDigest::default();
    file.write(
        &mut out,
        &Line::Backup {
            format: FORMAT,
            stream: stream.to_string(),
            created_at: jiff::Timestamp::now().to_string(),
            sy_version: env!("CARGO_PKG_VERSION").to_string(),
        },
    )?;
    let mut sums = Vec::new();
    let mut log_digest = LogDigest::default();
    for part in [Part::Events, Part::Keys, Part::Access] {
        let name = part.stream_name(stream);
        let Some(shape) = log.stream_shape(&name).await? else {
            match part {
                Part::Events => {
                    return Err(Error::Failed(format!(
                        "there is no stream {name} on {} to back up",
                        args.log.nats_url
                    )));
                }
                Part::Keys | Part::Access => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "note: no stream {name} (nothing of it to back up)"
                    );
                    continue;
                }
            }
        };
        let sum = copy_stream(
            &log,
            part,
            &shape,
            Sink {
                out: &mut out,
                file: &mut file,
            },
            &mut log_digest,
            timeout,
        )
        .await?;
        sums.push(sum);
    }
    let manifest = Line::Manifest {
        streams: sums.clone(),
        log_position: log_digest.position,
        log_digest: log_digest.hex(),
        lines: file.lines,
        digest: hex(file.hasher.finalize().as_bytes()),
    };
    writeln!(out.writer(), "{}", manifest.to_json()).map_err(Error::io(out.what()))?;
    out.finish()?;
    say!("backup of {stream} written to {}", args.out.display());
    say_streams(&sums);
    say!(
        "  log digest {} at position {} (compare: sy verify --live --expect-digest)",
        log_digest.hex(),
        log_digest.position
    );
    say!("it holds the wrapped data keys: keep it as safe as the KEK file");
    Ok(())
}

/// Writes lines and digests them (every line before the manifest).
#[derive(Default)]
struct FileDigest {
    hasher: blake3::Hasher,
    lines: u64,
}

impl FileDigest {
    fn write(&mut self, out: &mut Out, line: &Line) -> Result<(), Error> {
        let mut text = line.to_json();
        text.push('\n');
        self.hasher.update(text.as_bytes());
        self.lines += 1;
        out.writer()
            .write_all(text.as_bytes())
            .map_err(Error::io(out.what()))
    }
}

/// Where the lines of a backup go, digested.
struct Sink<'a> {
    out: &'a mut Out,
    file: &'a mut FileDigest,
}

/// Writes one stream's line and its messages; a read stalls after `timeout`
/// (at least 30 s) without a message.
async fn copy_stream(
    log: &EventLog,
    part: Part,
    shape: &StreamShape,
    sink: Sink<'_>,
    log_digest: &mut LogDigest,
    timeout: Duration,
) -> Result<StreamSum, Error> {
    let Sink { out, file } = sink;
    let name = shape.config.name.clone();
    let config = serde_json::to_value(&shape.config)
        .map_err(|err| Error::Failed(format!("stream {name}: its configuration: {err}")))?;
    file.write(
        out,
        &Line::Stream {
            name: name.clone(),
            part,
            config,
            first_sequence: shape.first_sequence,
            last_sequence: shape.last_sequence,
            messages: shape.messages,
        },
    )?;
    let mut reader = log
        .read_stream(shape, timeout.max(Duration::from_secs(30)))
        .await?;
    let bar = log::progress(shape.messages, &format!("backing up {name}"));
    let mut digest = MessageDigest::default();
    while let Some(message) = reader.next().await? {
        if part == Part::Events {
            log_digest.advance(message.sequence, &message.payload);
        }
        digest.add(&message);
        file.write(out, &Line::message(&message))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(StreamSum {
        name,
        part,
        messages: digest.count,
        last_sequence: shape.last_sequence,
        digest: digest.hex(),
    })
}

/// A stream as the file describes it.
#[derive(Debug, Clone)]
struct StreamHead {
    name: String,
    part: Part,
    config: serde_json::Value,
    first_sequence: u64,
    last_sequence: u64,
    messages: u64,
}

/// What a checked backup holds.
#[derive(Debug, Clone)]
pub struct Checked {
    pub stream: String,
    pub created_at: String,
    pub streams: Vec<StreamSum>,
    pub log_position: u64,
    pub log_digest: String,
}

/// Why a file is not a whole backup: the line (from 1) and what is wrong.
fn damaged(path: &Path, line: u64, what: impl std::fmt::Display) -> Error {
    Error::Verification(format!(
        "backup {} is damaged or incomplete: line {line}: {what}; nothing was restored",
        path.display()
    ))
}

/// Reads `path` line by line, calling `each` with every stream head and
/// message, and checks everything against the manifest.
fn read_backup(
    path: &Path,
    mut each: impl FnMut(Item<'_>) -> Result<(), Error>,
) -> Result<Checked, Error> {
    let file = File::open(path).map_err(Error::io(format!("opening {}", path.display())))?;
    let mut reader = BufReader::new(file);
    let mut hasher = blake3::Hasher::new();
    let mut number = 0u64;
    let mut header: Option<(String, String)> = None;
    let mut streams: Vec<(StreamHead, MessageDigest)> = Vec::new();
    let mut last_sequence = 0u64;
    let mut log_digest = LogDigest::default();
    let mut text = String::new();
    loop {
        text.clear();
        let read = reader
            .read_line(&mut text)
            .map_err(Error::io(format!("reading {}", path.display())))?;
        number += 1;
        if read == 0 {
            return Err(damaged(
                path,
                number,
                "the file ends without its manifest (truncated?)",
            ));
        }
        if !text.ends_with('\n') {
            return Err(damaged(path, number, "the line is cut off (truncated?)"));
        }
        let line: Line = serde_json::from_str(&text)
            .map_err(|err| damaged(path, number, format!("not a backup line: {err}")))?;
        match line {
            Line::Backup {
                format,
                stream,
                created_at,
                ..
            } => {
                if number != 1 {
                    return Err(damaged(path, number, "a second header"));
                }
                if format != FORMAT {
                    return Err(damaged(
                        path,
                        number,
                        format!("format {format}; this release reads format {FORMAT}"),
                    ));
                }
                header = Some((stream, created_at));
            }
            _ if header.is_none() => {
                return Err(damaged(path, number, "no backup header first"));
            }
            Line::Stream {
                name,
                part,
                config,
                first_sequence,
                last_sequence: last,
                messages,
            } => {
                if streams.iter().any(|(head, _)| head.part == part) {
                    return Err(damaged(path, number, format!("a second {part:?} stream")));
                }
                let head = StreamHead {
                    name,
                    part,
                    config,
                    first_sequence,
                    last_sequence: last,
                    messages,
                };
                each(Item::Stream(&head))?;
                streams.push((head, MessageDigest::default()));
                last_sequence = first_sequence.saturating_sub(1);
            }
            Line::Message {
                sequence,
                subject,
                headers,
                payload,
            } => {
                let Some((head, digest)) = streams.last_mut() else {
                    return Err(damaged(path, number, "a message before any stream"));
                };
                if sequence <= last_sequence || sequence > head.last_sequence {
                    return Err(damaged(
                        path,
                        number,
                        format!(
                            "sequence {sequence} of {} after {last_sequence} (its last is {})",
                            head.name, head.last_sequence
                        ),
                    ));
                }
                last_sequence = sequence;
                let payload = BASE64
                    .decode(payload.as_bytes())
                    .map_err(|err| damaged(path, number, format!("payload: {err}")))?;
                let message = RawMessage {
                    sequence,
                    subject,
                    headers,
                    payload: payload.into(),
                };
                if head.part == Part::Events {
                    log_digest.advance(message.sequence, &message.payload);
                }
                digest.add(&message);
                each(Item::Message(&message))?;
            }
            Line::Manifest {
                streams: sums,
                log_position,
                log_digest: manifest_log_digest,
                lines,
                digest,
            } => {
                let file_digest = hex(hasher.finalize().as_bytes());
                if lines != number - 1 || digest != file_digest {
                    return Err(damaged(
                        path,
                        number,
                        format!(
                            "the manifest sums up {lines} lines with digest {digest}; \
                             the {} lines before it digest {file_digest}",
                            number - 1
                        ),
                    ));
                }
                let found: Vec<StreamSum> = streams
                    .iter()
                    .map(|(head, digest)| StreamSum {
                        name: head.name.clone(),
                        part: head.part,
                        messages: digest.count,
                        last_sequence: head.last_sequence,
                        digest: digest.hex(),
                    })
                    .collect();
                if found != sums {
                    return Err(damaged(
                        path,
                        number,
                        format!(
                            "the streams are not what the manifest says: {found:?} against {sums:?}"
                        ),
                    ));
                }
                if let Some((head, _)) = streams
                    .iter()
                    .find(|(head, digest)| digest.count != head.messages)
                {
                    return Err(damaged(
                        path,
                        number,
                        format!(
                            "stream {} should hold {} messages",
                            head.name, head.messages
                        ),
                    ));
                }
                if !streams.iter().any(|(head, _)| head.part == Part::Events) {
                    return Err(damaged(path, number, "no event stream"));
                }
                if log_position != log_digest.position || manifest_log_digest != log_digest.hex() {
                    return Err(damaged(
                        path,
                        number,
                        "the log digest is not that of the events",
                    ));
                }
                let mut rest = String::new();
                while reader
                    .read_line(&mut rest)
                    .map_err(Error::io(format!("reading {}", path.display())))?
                    > 0
                {
                    if !rest.trim().is_empty() {
                        return Err(damaged(path, number + 1, "lines after the manifest"));
                    }
                    rest.clear();
                }
                let (stream, created_at) = header.unwrap_or_default();
                return Ok(Checked {
                    stream,
                    created_at,
                    streams: sums,
                    log_position,
                    log_digest: manifest_log_digest,
                });
            }
        }
        hasher.update(text.as_bytes());
    }
}

/// What [`read_backup`] hands on.
enum Item<'a> {
    Stream(&'a StreamHead),
    Message(&'a RawMessage),
}

/// Checks a backup file against its manifest without restoring it.
pub fn check(path: &Path) -> Result<Checked, Error> {
    read_backup(path, |_| Ok(()))
}

/// Runs `sy restore`.
pub async fn run_restore(args: &RestoreArgs, timeout: Duration) -> Result<(), Error> {
    let checked = check(&args.from)?;
    if checked.stream != args.log.stream {
        return Err(Error::Usage(format!(
            "{} is a backup of stream {}; restore it with --stream {} (not {})",
            args.from.display(),
            checked.stream,
            checked.stream,
            args.log.stream
        )));
    }
    let log = log::open(&args.log, timeout).await?;
    let mut existing = Vec::new();
    for sum in &checked.streams {
        if let Some(shape) = log.stream_shape(&sum.name).await? {
            existing.push(format!("{} ({} messages)", sum.name, shape.messages));
        }
    }
    if !existing.is_empty() {
        return Err(Error::Failed(format!(
            "refusing to restore into {}: {} exist already; a restore only creates streams \
             (restore into a server without them, or delete them first if they are damaged)",
            args.log.nats_url,
            existing.join(", ")
        )));
    }
    let total: u64 = checked.streams.iter().map(|s| s.messages).sum();
    let bar = log::progress(total, "restoring");
    // The file was checked whole above; this pass reads it again and
    // restores it in batches, so a large log never sits in memory.
    let mut restoring = Restoring {
        log: &log,
        replicas: args.replicas.map(|n| n as usize),
        current: None,
    };
    let restored = async {
        let again = restore_file(&args.from, &mut restoring, &bar).await?;
        if again.streams != checked.streams {
            return Err(Error::Failed(format!(
                "{} changed while it was restored",
                args.from.display()
            )));
        }
        if let Some((restorer, last)) = restoring.current.take() {
            restorer.finish(last).await?;
        }
        Ok(())
    }
    .await;
    bar.finish_and_clear();
    if let Err(err) = restored {
        let names: Vec<&str> = checked.streams.iter().map(|s| s.name.as_str()).collect();
        return Err(Error::Failed(format!(
            "{err}; the restore stopped part way: delete what it created of {} \
             (nats stream rm) and restore again",
            names.join(", ")
        )));
    }
    for sum in &checked.streams {
        let shape = log.stream_shape(&sum.name).await?.ok_or_else(|| {
            Error::Failed(format!("stream {} vanished after restoring", sum.name))
        })?;
        if shape.last_sequence != sum.last_sequence || shape.messages != sum.messages {
            return Err(Error::Verification(format!(
                "restored stream {} holds {} messages up to sequence {}; the backup {} up to {}",
                sum.name, shape.messages, shape.last_sequence, sum.messages, sum.last_sequence
            )));
        }
    }
    say!(
        "restored {} (backup of {}) into {}",
        checked.stream,
        checked.created_at,
        args.log.nats_url
    );
    say_streams(&checked.streams);
    say!(
        "  log digest {} at position {} (check: sy verify --live --expect-digest {})",
        checked.log_digest,
        checked.log_position,
        checked.log_digest
    );
    say!(
        "erasures made after the backup was taken are not in it: erase those people again \
         (sy person erase) before the services serve"
    );
    Ok(())
}

/// An item of the file, owned, to hand from the synchronous reader to the
/// asynchronous restore.
enum Owned {
    Stream(StreamHead),
    Message(RawMessage),
}

/// Items read before they are restored.
const BATCH: usize = 512;

/// The restore under way: the stream being rebuilt and its last sequence.
struct Restoring<'a> {
    log: &'a EventLog,
    replicas: Option<usize>,
    current: Option<(Restorer, u64)>,
}

impl Restoring<'_> {
    async fn apply(&mut self, items: Vec<Owned>) -> Result<(), Error> {
        for item in items {
            match item {
                Owned::Stream(head) => {
                    if let Some((restorer, last)) = self.current.take() {
                        restorer.finish(last).await?;
                    }
                    let config: StreamConfig = serde_json::from_value(head.config.clone())
                        .map_err(|err| {
                            Error::Failed(format!(
                                "the configuration of stream {} in the backup: {err}",
                                head.name
                            ))
                        })?;
                    if config.name != head.name {
                        return Err(Error::Failed(format!(
                            "the backup's stream {} is configured as {}",
                            head.name, config.name
                        )));
                    }
                    let gaps = head.messages
                        < head.last_sequence.saturating_sub(head.first_sequence) + 1
                        || head.first_sequence > 1;
                    let restorer = Restorer::create(self.log, config, self.replicas, gaps).await?;
                    self.current = Some((restorer, head.last_sequence));
                }
                Owned::Message(message) => {
                    let Some((restorer, _)) = self.current.as_mut() else {
                        return Err(Error::Failed("a message before any stream".into()));
                    };
                    restorer.put(&message).await?;
                }
            }
        }
        Ok(())
    }
}

/// The second pass: reads the file again in batches of [`BATCH`] items and
/// restores each batch.
async fn restore_file(
    path: &Path,
    restoring: &mut Restoring<'_>,
    bar: &indicatif::ProgressBar,
) -> Result<Checked, Error> {
    // A reader thread hands batches over a channel, so the file is read
    // once more without holding it in memory.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Owned>>(2);
    let owned_path = path.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(BATCH);
        let checked = read_backup(&owned_path, |item| {
            batch.push(match item {
                Item::Stream(head) => Owned::Stream(head.clone()),
                Item::Message(message) => Owned::Message(message.clone()),
            });
            if batch.len() >= BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                tx.blocking_send(full)
                    .map_err(|_| Error::Failed("the restore stopped".into()))?;
            }
            Ok(())
        })?;
        if !batch.is_empty() {
            tx.blocking_send(batch)
                .map_err(|_| Error::Failed("the restore stopped".into()))?;
        }
        Ok::<Checked, Error>(checked)
    });
    while let Some(batch) = rx.recv().await {
        let messages = batch
            .iter()
            .filter(|item| matches!(item, Owned::Message(_)))
            .count() as u64;
        restoring.apply(batch).await?;
        bar.inc(messages);
    }
    reader
        .await
        .map_err(|err| Error::Failed(format!("reading the backup again: {err}")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn message(sequence: u64, payload: &[u8]) -> RawMessage {
        RawMessage {
            sequence,
            subject: format!("sy.evt.request.r{sequence}"),
            headers: vec![("Nats-Msg-Id".into(), format!("k{sequence}"))],
            payload: payload.to_vec().into(),
        }
    }

    /// A small, whole backup file, written as `sy backup` writes one.
    fn whole_file(dir: &Path) -> PathBuf {
        let path = dir.join("b.jsonl");
        let mut out = Out::open(Some(&path)).unwrap();
        let mut file = FileDigest::default();
        file.write(
            &mut out,
            &Line::Backup {
                format: FORMAT,
                stream: "S".into(),
                created_at: "2026-12-07T00:00:00Z".into(),
                sy_version: "test".into(),
            },
        )
        .unwrap();
        file.write(
            &mut out,
            &Line::Stream {
                name: "S".into(),
                part: Part::Events,
                config: serde_json::json!({"name": "S", "subjects": ["sy.evt.>"]}),
                first_sequence: 1,
                last_sequence: 2,
                messages: 2,
            },
        )
        .unwrap();
        let mut digest = MessageDigest::default();
        let mut log_digest = LogDigest::default();
        for m in [message(1, b"one"), message(2, b"two")] {
            digest.add(&m);
            log_digest.advance(m.sequence, &m.payload);
            file.write(&mut out, &Line::message(&m)).unwrap();
        }
        let manifest = Line::Manifest {
            streams: vec![StreamSum {
                name: "S".into(),
                part: Part::Events,
                messages: 2,
                last_sequence: 2,
                digest: digest.hex(),
            }],
            log_position: 2,
            log_digest: log_digest.hex(),
            lines: file.lines,
            digest: hex(file.hasher.finalize().as_bytes()),
        };
        writeln!(out.writer(), "{}", manifest.to_json()).unwrap();
        out.finish().unwrap();
        path
    }

    #[test]
    fn a_whole_file_checks_and_any_change_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = whole_file(dir.path());
        let checked = check(&path).unwrap();
        assert_eq!((checked.stream.as_str(), checked.log_position), ("S", 2));
        let text = std::fs::read_to_string(&path).unwrap();

        let cut = &text[..text.len() - 40];
        std::fs::write(&path, cut).unwrap();
        let err = check(&path).unwrap_err();
        assert!(matches!(err, Error::Verification(_)));
        assert!(err.to_string().contains("cut off"), "{err}");

        let without_manifest: String = text.lines().take(4).map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, without_manifest).unwrap();
        let err = check(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 5: the file ends without its manifest"),
            "{err}"
        );

        let flipped = text.replacen(&BASE64.encode(b"two"), &BASE64.encode(b"tw0"), 1);
        std::fs::write(&path, flipped).unwrap();
        let err = check(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 5: the manifest sums up 4 lines"),
            "{err}"
        );

        let dropped: String = text
            .lines()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        std::fs::write(&path, dropped).unwrap();
        assert!(check(&path).is_err(), "a message left out");
    }

    #[test]
    fn digests_tell_messages_apart_by_every_field() {
        let base = message(1, b"x");
        let digest = |m: &RawMessage| {
            let mut d = MessageDigest::default();
            d.add(m);
            d.hex()
        };
        let mut other_headers = base.clone();
        other_headers.headers.clear();
        let mut other_subject = base.clone();
        other_subject.subject.push('x');
        let all = [
            digest(&base),
            digest(&message(2, b"x")),
            digest(&message(1, b"y")),
            digest(&other_headers),
            digest(&other_subject),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
