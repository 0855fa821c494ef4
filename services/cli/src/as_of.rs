//! `sy as-of`: the read models as they were at a position or a time, built
//! into a new directory by the projection's own fold ([`ReadModel::apply_batch`],
//! batches of [`BATCH`]) from position 1, so the result is what a replica
//! served then, quarantine included. `sy-projection --read-only` serves it.
//!
//! A time is turned into a position first: the last event whose envelope
//! `recorded_at` is at or before it. Intake's clocks may disagree by a
//! little, so that is found by reading the log to the end rather than by
//! stopping at the first later event; events before the cut are folded
//! whatever their time (undecodable ones are quarantined, as live).

use std::path::Path;
use std::time::Duration;

use prost::Message as _;
use sy_domain::event::to_jiff;
use sy_domain::pb::EventEnvelope;
use sy_eventlog::{EventLog, StoredEvent};
use sy_projection::{BatchKeys, BatchOutcome, ReadModel};

use crate::args::AsOfArgs;
use crate::error::Error;
use crate::log;
use crate::record::hex;

/// Events folded per sled transaction, as the projection does by default.
pub const BATCH: usize = 1000;

/// Finds the last event recorded at or before a time.
#[derive(Debug, Clone, Copy)]
pub struct TimeCut {
    at: jiff::Timestamp,
    /// The cut so far: position and recorded time of the last event at or
    /// before `at` (0 and `None` before any).
    position: u64,
    recorded_at: Option<jiff::Timestamp>,
}

impl TimeCut {
    pub fn new(at: jiff::Timestamp) -> Self {
        Self {
            at,
            position: 0,
            recorded_at: None,
        }
    }

    /// Looks at the next event of the log; undecodable ones and those without
    /// a time never move the cut.
    pub fn see(&mut self, position: u64, stored: &[u8]) {
        let Ok(envelope) = EventEnvelope::decode(stored) else {
            return;
        };
        if let Some(recorded_at) = to_jiff(envelope.recorded_at.as_ref())
            && recorded_at <= self.at
            && position > self.position
        {
            self.position = position;
            self.recorded_at = Some(recorded_at);
        }
    }

    pub fn position(&self) -> u64 {
        self.position
    }
}

/// Counts over every batch folded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folded {
    pub checkpoint: u64,
    pub applied: usize,
    pub ignored: usize,
    pub quarantined: usize,
}

impl Folded {
    fn add(&mut self, outcome: &BatchOutcome) {
        self.checkpoint = outcome.checkpoint;
        self.applied += outcome.applied;
        self.ignored += outcome.ignored;
        self.quarantined += outcome.quarantined.len();
    }
}

/// Folds events into a read model [`BATCH`] at a time.
#[derive(Debug)]
pub struct Folder {
    model: ReadModel,
    batch: Vec<StoredEvent>,
    batch_size: usize,
    folded: Folded,
}

impl Folder {
    /// Folds into `model`, [`BATCH`] events per transaction.
    pub fn new(model: ReadModel) -> Self {
        Self::with_batch_size(model, BATCH)
    }

    pub fn with_batch_size(model: ReadModel, batch_size: usize) -> Self {
        Self {
            model,
            batch: Vec::with_capacity(batch_size),
            batch_size: batch_size.max(1),
            folded: Folded::default(),
        }
    }

    /// Adds the next event; folds the batch when it is full.
    pub async fn push(&mut self, event: StoredEvent) -> Result<(), Error> {
        self.batch.push(event);
        if self.batch.len() >= self.batch_size {
            self.apply().await?;
        }
        Ok(())
    }

    async fn apply(&mut self) -> Result<(), Error> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_size));
        let model = self.model.clone();
        // Auditors have no access to the key store: registrations fold
        // sealed, so the views name nobody, erased or not.
        let outcome =
            tokio::task::spawn_blocking(move || model.apply_batch(&batch, &BatchKeys::default()))
                .await
                .map_err(|err| Error::Failed(format!("fold worker failed: {err}")))??;
        self.folded.add(&outcome);
        Ok(())
    }

    /// Folds what is left and flushes the read model to disk.
    pub async fn finish(mut self) -> Result<(ReadModel, Folded), Error> {
        self.apply().await?;
        let model = self.model.clone();
        tokio::task::spawn_blocking(move || model.flush())
            .await
            .map_err(|err| Error::Failed(format!("flush worker failed: {err}")))??;
        Ok((self.model, self.folded))
    }
}

/// Refuses a directory that holds anything: an as-of build starts empty.
pub fn check_out_dir(dir: &Path) -> Result<(), Error> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                Err(Error::Usage(format!(
                    "--out {} is not empty; an as-of build needs a new or empty directory",
                    dir.display()
                )))
            } else {
                Ok(())
            }
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) if dir.exists() && !dir.is_dir() => Err(Error::Usage(format!(
            "--out {} is not a directory: {err}",
            dir.display()
        ))),
        Err(err) => Err(Error::io(format!("reading {}", dir.display()))(err)),
    }
}

/// Reads the whole log once to place a time.
async fn find_cut(
    log: &EventLog,
    last: u64,
    at: jiff::Timestamp,
    timeout: Duration,
) -> Result<TimeCut, Error> {
    let mut cut = TimeCut::new(at);
    let mut range = log.range(1, last, timeout).await?;
    let bar = log::progress(last, "finding the time's position");
    while let Some(event) = range.next().await? {
        cut.see(event.position, &event.payload);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(cut)
}

/// Runs `sy as-of`.
pub async fn run(args: &AsOfArgs, timeout: Duration) -> Result<(), Error> {
    check_out_dir(&args.out)?;
    let log = log::open(&args.log, timeout).await?;
    let last = log.last_position().await?;
    let (cut, described) = match (args.position, args.time) {
        (Some(position), _) => {
            if position > last {
                return Err(Error::Usage(format!(
                    "--position {position} is past the log's last position {last}"
                )));
            }
            (position, format!("position {position}"))
        }
        (None, Some(at)) => {
            let cut = find_cut(&log, last, at, timeout).await?;
            let described = match cut.recorded_at {
                Some(recorded) => format!(
                    "{at}: position {}, the last event recorded at or before it (at {recorded})",
                    cut.position
                ),
                None => format!("{at}: no event was recorded at or before it"),
            };
            (cut.position, described)
        }
        (None, None) => {
            return Err(Error::Usage("give --position or --time".into()));
        }
    };

    let keys = crate::verify::verify_keys(args.verify_keys_file.as_deref())?;
    if keys.is_none() {
        say!("signatures NOT checked (no --verify-keys-file): forged events are folded");
    }
    let model = ReadModel::open(&args.out)?.verifying(keys);
    let mut folder = Folder::new(model);
    let mut range = log.range(1, cut, timeout).await?;
    let bar = log::progress(cut, "folding");
    while let Some(event) = range.next().await? {
        folder.push(event).await?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let (model, folded) = folder.finish().await?;
    let digest = model.log_digest()?;
    if digest.position != cut {
        return Err(Error::Failed(format!(
            "the read model reached position {}, not {cut}",
            digest.position
        )));
    }
    let model_digest = tokio::task::spawn_blocking(move || model.digest())
        .await
        .map_err(|err| Error::Failed(format!("digest worker failed: {err}")))??;

    let dir = args.out.display();
    say!("as of {described}");
    say!(
        "folded {} events into {dir}: {} applied, {} ignored (other aggregate kinds), {} quarantined",
        digest.position,
        folded.applied,
        folded.ignored,
        folded.quarantined
    );
    say!("position           {}", digest.position);
    say!("log digest         {}", digest.hex());
    say!("read model digest  {}", hex(&model_digest));
    say!("serve it:   sy-projection --read-only --data-dir {dir} --listen 127.0.0.1:50062");
    say!(
        "check it:   sy verify EXPORT --expect-digest {} --expect-position {}",
        digest.hex(),
        digest.position
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sy_domain::audit::LogDigest;
    use sy_domain::event::{GENESIS_HASH, hash, subject};
    use sy_domain::pb::{self, event_envelope::Payload};

    fn at(seconds: i64) -> prost_types::Timestamp {
        prost_types::Timestamp { seconds, nanos: 0 }
    }

    /// `n` events of one request (submitted, assigned, started, then
    /// progress notes), recorded a minute apart from `t0`; position 3 is junk.
    fn events(n: u64, t0: i64) -> Vec<StoredEvent> {
        let id = "0197a000-0000-7000-8000-000000000001";
        let mut previous = GENESIS_HASH;
        let mut version = 0;
        (1..=n)
            .map(|position| {
                let recorded = Some(at(t0 + position as i64 * 60));
                let bytes = if position == 3 {
                    b"\xff\xff junk".to_vec()
                } else {
                    version += 1;
                    let payload = if version == 1 {
                        Payload::RequestSubmitted(pb::RequestSubmitted {
                            direction: pb::Direction::MilitaryToLocal as i32,
                            requester: Some(pb::RequestingParty {
                                agency: "unit-31001".into(),
                                name: "某部".into(),
                            }),
                            category: pb::Category::Medical as i32,
                            title: "t".into(),
                            area_code: "500106001002".into(),
                            priority: pb::Priority::High as i32,
                            supervision_level: pb::SupervisionLevel::None as i32,
                            ..Default::default()
                        })
                    } else if version == 2 {
                        Payload::RequestAssigned(pb::RequestAssigned {
                            department: "district-housing-bureau".into(),
                            due_date: "2026-03-01".into(),
                            note: String::new(),
                        })
                    } else if version == 3 {
                        Payload::RequestStarted(pb::RequestStarted {
                            note: String::new(),
                        })
                    } else {
                        Payload::ProgressRecorded(pb::ProgressRecorded {
                            note: format!("note {version}"),
                        })
                    };
                    EventEnvelope {
                        event_id: format!("e-{position}"),
                        aggregate_kind: "request".into(),
                        aggregate_id: id.into(),
                        aggregate_version: version,
                        occurred_at: recorded,
                        recorded_at: recorded,
                        actor: Some(pb::Actor {
                            agency: "unit-31001".into(),
                            user: "u".into(),
                        }),
                        schema_version: 1,
                        prev_hash: previous.to_vec(),
                        payload: Some(payload),
                        ..Default::default()
                    }
                    .encode_to_vec()
                };
                if position != 3 {
                    previous = hash(&bytes);
                }
                StoredEvent {
                    position,
                    subject: subject("request", id),
                    payload: bytes.into(),
                }
            })
            .collect()
    }

    #[test]
    fn a_time_cuts_at_the_last_event_recorded_by_then() {
        let t0 = 1_767_225_600;
        let log = events(6, t0);
        let cut_at = |seconds| {
            let mut cut = TimeCut::new(jiff::Timestamp::from_second(seconds).unwrap());
            for event in &log {
                cut.see(event.position, &event.payload);
            }
            cut.position()
        };
        assert_eq!(cut_at(t0), 0);
        assert_eq!(cut_at(t0 + 60), 1);
        assert_eq!(cut_at(t0 + 3 * 60), 2, "junk at 3 has no time");
        assert_eq!(cut_at(t0 + 4 * 60 + 59), 4);
        assert_eq!(cut_at(t0 + 10_000), 6);
    }

    #[tokio::test]
    async fn an_as_of_build_folds_exactly_the_prefix_in_batches() {
        let log = events(40, 1_767_225_600);
        let cut = 23;
        let dir = tempfile::tempdir().unwrap();
        let mut folder = Folder::with_batch_size(ReadModel::open(dir.path()).unwrap(), 7);
        for event in log.iter().take(cut as usize) {
            folder.push(event.clone()).await.unwrap();
        }
        let (model, folded) = folder.finish().await.unwrap();
        assert_eq!(folded.checkpoint, cut);
        let quarantined = model.quarantined().unwrap();
        assert_eq!(
            folded.quarantined,
            1,
            "the junk event only: {:?}",
            quarantined.first()
        );
        assert_eq!(folded.applied, cut as usize - 1);

        let mut digest = LogDigest::default();
        for event in log.iter().take(cut as usize) {
            digest.advance(event.position, &event.payload);
        }
        assert_eq!(model.log_digest().unwrap(), digest);

        // The same prefix in one batch gives a byte-identical read model.
        let whole = tempfile::tempdir().unwrap();
        let reference = ReadModel::open(whole.path()).unwrap();
        reference
            .apply_batch(&log[..cut as usize], &BatchKeys::default())
            .unwrap();
        assert_eq!(model.digest().unwrap(), reference.digest().unwrap());
    }

    #[test]
    fn the_out_dir_must_be_new_or_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_out_dir(dir.path()).is_ok());
        assert!(check_out_dir(&dir.path().join("new")).is_ok());
        std::fs::write(dir.path().join("x"), b"x").unwrap();
        assert!(matches!(check_out_dir(dir.path()), Err(Error::Usage(_))));
        assert!(matches!(
            check_out_dir(&dir.path().join("x")),
            Err(Error::Usage(_))
        ));
    }
}
