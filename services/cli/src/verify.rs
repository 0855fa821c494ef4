//! `sy verify`: checks an export (or the log itself, `--live`) and names
//! every way it does not hold, by position, aggregate, version and what.
//!
//! What each check catches in an export:
//! - a line's `hash` against BLAKE3 of its `payload`: an altered event;
//! - `event` / `decode_error` / `subject` against the payload: an edited
//!   readable part, an event moved to another subject;
//! - positions strictly increasing and contiguous (from 1 unless
//!   `--partial`): dropped, repeated or reordered lines;
//! - each aggregate's versions 1, 2, 3, ... and hash chain (every
//!   `prev_hash` is the hash of the aggregate's previous event): an altered
//!   event whose `hash` was rewritten too (the next event's `prev_hash`
//!   breaks), dropped, reordered and inserted events;
//! - the running [`LogDigest`] over all events, compared with a replica's
//!   (`--expect-digest`): the only check that also covers the order across
//!   aggregates, the positions, and the last event of an aggregate whose
//!   `hash` was rewritten with it;
//! - with `--verify-keys-file`, every event's signature by intake
//!   (`sy_domain::signature`): the only check that proves who wrote an
//!   event, so a forged event chained onto the right hash still fails.
//!   Without keys the summary says that signatures were not checked.
//!
//! The chains are followed by the domain's [`ChainFollower`] rather than by
//! [`ChainVerifier`] alone: that one never moves past a broken link, so
//! every later event of the aggregate would be reported again. The follower
//! resynchronises after each finding, so one tampering is named once;
//! [`ChainVerifier`] still runs over full exports as a cross-check of the
//! domain's own definition.

use std::fmt;
use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use sy_domain::audit::{ChainBreak, ChainFollower, ChainProblem, ChainVerifier, LogDigest};
use sy_domain::event::{hash, subject};
use sy_domain::pb::EventEnvelope;
use sy_domain::signature::{SignatureError, VerifyKeys};
use sy_eventlog::StoredEvent;

use crate::args::VerifyArgs;
use crate::error::Error;
use crate::log;
use crate::record::{Record, hex, parse_hash};

/// What does not hold about one line or event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The line is not a JSON export record.
    NotARecord(String),
    /// `payload` is not base64.
    BadPayload(String),
    /// `hash` is not 64 hex digits.
    BadHash,
    /// The payload does not hash to the line's `hash`.
    HashMismatch { line: String, computed: String },
    /// `event` / `decode_error` do not say what the payload says.
    DescriptionMismatch,
    /// The subject is not the one of the envelope's aggregate.
    SubjectMismatch { expected: String },
    /// A full export's first position is not 1.
    StartsLate,
    /// The position is not after the previous line's.
    PositionNotAfter { previous: u64 },
    /// Positions between the previous line's and this one are missing.
    PositionGap { previous: u64 },
    /// The payload is not an `EventEnvelope` (a warning: the log may hold
    /// such events, which the projection quarantines).
    Undecodable(String),
    /// The event does not fit its aggregate's chain.
    Chain(ChainProblem),
    /// The event is not signed by one of the verify keys.
    Signature(SignatureError),
    /// The domain's [`ChainVerifier`] rejects an event this follower accepted.
    DomainChainBreak(ChainBreak),
    /// The digest at the expected position is not the expected one.
    DigestMismatch { expected: String, found: String },
    /// The expected digest's position was not verified.
    ExpectedPositionMissing { position: u64, reason: &'static str },
}

impl Problem {
    /// Warnings are reported but do not fail the verification.
    pub fn is_warning(&self) -> bool {
        matches!(self, Problem::Undecodable(_))
    }
}

/// `1 finding`, `2 findings`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotARecord(err) => write!(f, "not an export record: {err}"),
            Problem::BadPayload(err) => write!(f, "payload is not base64: {err}"),
            Problem::BadHash => write!(f, "hash is not 64 hex digits"),
            Problem::HashMismatch { line, computed } => write!(
                f,
                "the payload hashes to {computed}, not to the line's hash {line}: the event was altered"
            ),
            Problem::DescriptionMismatch => write!(
                f,
                "`event` (or `decode_error`) does not say what the payload says: the readable part was edited"
            ),
            Problem::SubjectMismatch { expected } => write!(
                f,
                "the subject is not {expected}, the subject of the envelope's aggregate"
            ),
            Problem::StartsLate => write!(
                f,
                "the export starts here, not at position 1: events before it are missing \
                 (pass --partial for an export made with --from)"
            ),
            Problem::PositionNotAfter { previous } => write!(
                f,
                "the position does not come after the previous line's ({previous}): lines reordered or repeated"
            ),
            Problem::PositionGap { previous } => write!(
                f,
                "the previous line is at position {previous}: the positions between are missing \
                 (events dropped, or moved later)"
            ),
            Problem::Undecodable(err) => write!(
                f,
                "the payload is not an EventEnvelope ({err}): counted in the digest, no chain to follow"
            ),
            Problem::Chain(problem) => write!(f, "{problem}"),
            Problem::Signature(err) => write!(f, "not signed by intake: {err}"),
            Problem::DomainChainBreak(err) => {
                write!(f, "the domain's chain verifier rejects it: {err}")
            }
            Problem::DigestMismatch { expected, found } => {
                write!(f, "the log digest here is {found}, expected {expected}")
            }
            Problem::ExpectedPositionMissing { position, reason } => write!(
                f,
                "cannot compare the expected digest at position {position}: {reason}"
            ),
        }
    }
}

/// A problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Line of the export (1-based); `None` for `--live`.
    pub line: Option<u64>,
    pub position: Option<u64>,
    /// Aggregate kind and id.
    pub aggregate: Option<(String, String)>,
    pub version: Option<u64>,
    pub problem: Problem,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut place = Vec::new();
        if let Some(line) = self.line {
            place.push(format!("line {line}"));
        }
        if let Some(position) = self.position {
            place.push(format!("position {position}"));
        }
        if let Some((kind, id)) = &self.aggregate {
            let mut aggregate = format!("{kind} {id}");
            if let Some(version) = self.version {
                aggregate.push_str(&format!(" version {version}"));
            }
            place.push(aggregate);
        }
        if place.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", place.join(", "), self.problem)
        }
    }
}

/// The digest a replica reported, to compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectation {
    pub digest: [u8; 32],
    /// Position the digest is at; `None`: the last one verified.
    pub position: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// The export may start after position 1: each aggregate's first event
    /// in it anchors its chain.
    pub partial: bool,
    pub expect: Option<Expectation>,
}

/// The outcome: counts, the digest reached, and what does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub events: u64,
    pub aggregates: usize,
    pub first_position: Option<u64>,
    pub digest: LogDigest,
    pub findings: Vec<Finding>,
    pub warnings: Vec<Finding>,
    pub partial: bool,
    /// An expected digest was given and matched.
    pub matched_expectation: bool,
    /// Events whose signature verified; `None`: signatures not checked
    /// (no verify keys).
    pub signed: Option<u64>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.findings.is_empty()
    }

    /// `ok: N events, M aggregates, digest <hex> at position P`, with what
    /// qualifies it.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} events, {} aggregates, digest {} at position {}",
            self.events,
            self.aggregates,
            self.digest.hex(),
            self.digest.position
        );
        if self.partial {
            text.push_str(&format!(
                " (partial export from position {}: the digest covers only these events)",
                self.first_position.unwrap_or_default()
            ));
        }
        if self.matched_expectation {
            text.push_str("; matches the expected digest");
        }
        match self.signed {
            Some(signed) => text.push_str(&format!("; {signed} signatures verified")),
            None => text.push_str(
                "; signatures NOT checked (no --verify-keys-file): authorship is not proved",
            ),
        }
        if !self.warnings.is_empty() {
            text.push_str(&format!("; {}", count(self.warnings.len(), "warning")));
        }
        if self.is_ok() {
            format!("ok: {text}")
        } else {
            format!(
                "FAILED: {} in {text}",
                count(self.findings.len(), "finding")
            )
        }
    }
}

/// Follows an export or the log line by line; pure, no I/O.
#[derive(Debug)]
pub struct Verifier {
    options: Options,
    line: Option<u64>,
    events: u64,
    first_position: Option<u64>,
    last_position: Option<u64>,
    digest: LogDigest,
    expected_at: Option<LogDigest>,
    chains: ChainFollower,
    domain: ChainVerifier,
    domain_break: Option<Finding>,
    findings: Vec<Finding>,
    warnings: Vec<Finding>,
    keys: Option<Arc<VerifyKeys>>,
    signed: u64,
}

impl Verifier {
    pub fn new(options: Options) -> Self {
        Self {
            options,
            line: None,
            events: 0,
            first_position: None,
            last_position: None,
            digest: LogDigest::default(),
            expected_at: None,
            chains: ChainFollower::new(options.partial),
            domain: ChainVerifier::default(),
            domain_break: None,
            findings: Vec::new(),
            warnings: Vec::new(),
            keys: None,
            signed: 0,
        }
    }

    /// Also checks every event's signature against `keys`.
    pub fn with_keys(self, keys: Option<Arc<VerifyKeys>>) -> Self {
        Self { keys, ..self }
    }

    fn report(
        &mut self,
        position: Option<u64>,
        aggregate: Option<(&str, &str)>,
        version: Option<u64>,
        problem: Problem,
    ) {
        let finding = Finding {
            line: self.line,
            position,
            aggregate: aggregate.map(|(kind, id)| (kind.to_string(), id.to_string())),
            version,
            problem,
        };
        if finding.problem.is_warning() {
            self.warnings.push(finding);
        } else {
            self.findings.push(finding);
        }
    }

    /// Checks the next line of an export (blank lines are skipped).
    pub fn line(&mut self, text: &str) {
        self.line = Some(self.line.unwrap_or(0) + 1);
        if text.trim().is_empty() {
            return;
        }
        let record = match Record::parse(text) {
            Ok(record) => record,
            Err(err) => {
                self.report(None, None, None, Problem::NotARecord(err.to_string()));
                return;
            }
        };
        let position = Some(record.position);
        let stored = match record.stored() {
            Ok(stored) => stored,
            Err(err) => {
                self.report(position, None, None, Problem::BadPayload(err.to_string()));
                return;
            }
        };
        let decoded = EventEnvelope::decode(stored.as_slice());
        // Findings about the line name the event's aggregate when it decodes.
        let (who, version) = match &decoded {
            Ok(e) => (
                Some((e.aggregate_kind.clone(), e.aggregate_id.clone())),
                Some(e.aggregate_version),
            ),
            Err(_) => (None, None),
        };
        let who = who.as_ref().map(|(kind, id)| (kind.as_str(), id.as_str()));
        let computed = hash(&stored);
        let link = match parse_hash(&record.hash) {
            None => {
                self.report(position, who, version, Problem::BadHash);
                computed
            }
            Some(claimed) if claimed != computed => {
                self.report(
                    position,
                    who,
                    version,
                    Problem::HashMismatch {
                        line: record.hash.to_lowercase(),
                        computed: hex(&computed),
                    },
                );
                // The chain goes on from the hash the line claims: if only
                // the payload was altered, the next event still names it,
                // and this tampering is reported once.
                claimed
            }
            Some(claimed) => claimed,
        };
        if !record.describes(&stored) {
            self.report(position, who, version, Problem::DescriptionMismatch);
        }
        self.event(record.position, &record.subject, &stored, decoded, link);
    }

    /// Checks the next event read from the log itself.
    pub fn stored(&mut self, event: &StoredEvent) {
        self.event(
            event.position,
            &event.subject,
            &event.payload,
            EventEnvelope::decode(event.payload.as_ref()),
            hash(&event.payload),
        );
    }

    /// Checks one event (`decoded` from `stored`): `link` is the hash its
    /// aggregate's next event must name as `prev_hash`.
    fn event(
        &mut self,
        position: u64,
        subject_: &str,
        stored: &[u8],
        decoded: Result<EventEnvelope, prost::DecodeError>,
        link: [u8; 32],
    ) {
        self.events += 1;
        let at = Some(position);
        match self.last_position {
            None => {
                self.first_position = Some(position);
                if position != 1 && !self.options.partial {
                    self.report(at, None, None, Problem::StartsLate);
                }
            }
            Some(previous) if position <= previous => {
                self.report(at, None, None, Problem::PositionNotAfter { previous });
            }
            Some(previous) if position != previous + 1 => {
                self.report(at, None, None, Problem::PositionGap { previous });
            }
            Some(_) => {}
        }
        if position > self.digest.position {
            self.digest.advance(position, stored);
            self.last_position = Some(position);
            if self.options.expect.and_then(|e| e.position) == Some(position) {
                self.expected_at = Some(self.digest);
            }
        }

        let envelope = match decoded {
            Ok(envelope) => envelope,
            Err(err) => {
                self.report(at, None, None, Problem::Undecodable(err.to_string()));
                return;
            }
        };
        let kind = envelope.aggregate_kind.as_str();
        let id = envelope.aggregate_id.as_str();
        let version = envelope.aggregate_version;
        let expected_subject = subject(kind, id);
        if subject_ != expected_subject {
            self.report(
                at,
                Some((kind, id)),
                Some(version),
                Problem::SubjectMismatch {
                    expected: expected_subject,
                },
            );
        }
        if let Some(keys) = &self.keys {
            match keys.verify(stored, &envelope) {
                Ok(_) => self.signed += 1,
                Err(err) => {
                    self.report(at, Some((kind, id)), Some(version), Problem::Signature(err));
                }
            }
        }
        if let Some(problem) = self.chains.follow(&envelope, position, link) {
            self.report(at, Some((kind, id)), Some(version), Problem::Chain(problem));
        }
        if !self.options.partial
            && self.domain_break.is_none()
            && let Err(err) = self.domain.check(&envelope, stored)
        {
            self.domain_break = Some(Finding {
                line: self.line,
                position: at,
                aggregate: Some((kind.to_string(), id.to_string())),
                version: Some(version),
                problem: Problem::DomainChainBreak(err),
            });
        }
    }

    /// The report, with the expected digest compared.
    pub fn finish(mut self) -> Report {
        self.line = None;
        if let Some(domain_break) = self.domain_break.take() {
            // Only when this follower found nothing: otherwise the domain's
            // verifier is just reporting the same break (and what follows it).
            if self.findings.is_empty() {
                self.findings.push(domain_break);
            }
        }
        let mut matched_expectation = false;
        if let Some(expect) = self.options.expect {
            let position = expect.position.unwrap_or(self.digest.position);
            let reached = if self.options.partial && self.first_position.unwrap_or(1) != 1 {
                Err("the digest of a partial export is not a replica's (export from position 1)")
            } else if expect.position.is_none() {
                Ok(self.digest)
            } else {
                self.expected_at
                    .ok_or("the export does not reach that position")
            };
            match reached {
                Ok(reached) if reached.digest == expect.digest => matched_expectation = true,
                Ok(reached) => self.report(
                    Some(position),
                    None,
                    None,
                    Problem::DigestMismatch {
                        expected: hex(&expect.digest),
                        found: reached.hex(),
                    },
                ),
                Err(reason) => self.report(
                    None,
                    None,
                    None,
                    Problem::ExpectedPositionMissing { position, reason },
                ),
            }
        }
        Report {
            events: self.events,
            aggregates: self.chains.aggregates(),
            first_position: self.first_position,
            digest: self.digest,
            findings: self.findings,
            warnings: self.warnings,
            partial: self.options.partial,
            matched_expectation,
            signed: self.keys.as_ref().map(|_| self.signed),
        }
    }
}

/// Runs `sy verify`: reads the export (or the log), prints the findings and
/// the summary; a failed verification is [`Error::Verification`].
pub async fn run(args: &VerifyArgs, timeout: Duration) -> Result<(), Error> {
    let expect = match &args.expect_digest {
        None => None,
        Some(text) => Some(Expectation {
            digest: parse_hash(text.trim()).ok_or_else(|| {
                Error::Usage(format!("--expect-digest {text:?} is not 64 hex digits"))
            })?,
            position: args.expect_position,
        }),
    };
    let options = Options {
        partial: args.partial,
        expect,
    };
    let keys = verify_keys(args.verify_keys_file.as_deref())?;
    let report = if args.live {
        verify_log(args, Verifier::new(options).with_keys(keys), timeout).await?
    } else {
        let file = args.file.as_deref().unwrap_or(Path::new("-"));
        verify_file(file, Verifier::new(options).with_keys(keys))?
    };
    for warning in &report.warnings {
        say!("warning: {warning}");
    }
    for finding in &report.findings {
        say!("{finding}");
    }
    say!("{}", report.summary());
    if report.is_ok() {
        Ok(())
    } else {
        Err(Error::Verification(format!(
            "{} (listed above)",
            count(report.findings.len(), "finding")
        )))
    }
}

/// The published verify keys at `path`, if given.
pub fn verify_keys(path: Option<&Path>) -> Result<Option<Arc<VerifyKeys>>, Error> {
    path.map(|path| {
        sy_api::event_keys::load_verify_keys(path)
            .map(Arc::new)
            .map_err(|err| Error::Failed(err.to_string()))
    })
    .transpose()
}

/// Verifies an export file, or stdin for `-`.
fn verify_file(path: &Path, mut verifier: Verifier) -> Result<Report, Error> {
    let what = if path == Path::new("-") {
        "reading stdin".to_string()
    } else {
        format!("reading {}", path.display())
    };
    let (input, bar): (Box<dyn Read>, _) = if path == Path::new("-") {
        (
            Box::new(std::io::stdin().lock()),
            log::spinner("verifying lines"),
        )
    } else {
        let file = std::fs::File::open(path).map_err(Error::io(what.clone()))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = log::progress(len, "verifying bytes");
        (Box::new(file), bar)
    };
    let mut reader = BufReader::new(input);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let read = reader
            .read_until(b'\n', &mut buffer)
            .map_err(Error::io(what.clone()))?;
        if read == 0 {
            break;
        }
        match std::str::from_utf8(&buffer) {
            Ok(text) => verifier.line(text),
            Err(err) => verifier.line(&format!("(not utf-8: {err})")),
        }
        bar.inc(if path == Path::new("-") {
            1
        } else {
            read as u64
        });
    }
    bar.finish_and_clear();
    Ok(verifier.finish())
}

/// Verifies the log itself, from position 1 to its last position now.
async fn verify_log(
    args: &VerifyArgs,
    mut verifier: Verifier,
    timeout: Duration,
) -> Result<Report, Error> {
    let log = log::open(&args.log, timeout).await?;
    let last = log.last_position().await?;
    let mut range = log.range(1, last, timeout).await?;
    let bar = log::progress(last, "verifying the log");
    while let Some(event) = range.next().await? {
        verifier.stored(&event);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(verifier.finish())
}

#[cfg(test)]
mod tests;
