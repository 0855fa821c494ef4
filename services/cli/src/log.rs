//! The event log as the audit commands read it: straight from JetStream
//! (`--nats-url`, `--stream`), not through a service, so an auditor checks
//! the source of truth itself. Ranges are read in stream order with an
//! ordered consumer and end at a position fixed when the command starts;
//! long reads show a progress bar on stderr (hidden when stderr is not a
//! terminal, so pipes and logs stay clean).

use std::io::IsTerminal as _;
use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use indicatif::{ProgressBar, ProgressStyle};
use sy_eventlog::{EventLog, LogConfig, LogError, StoredEvent};

use crate::args::LogArgs;
use crate::error::Error;

/// How often the connection state is polled while waiting for NATS.
const CONNECT_POLL: Duration = Duration::from_millis(50);

/// Connects to the log and waits (up to `timeout`) until NATS is reached:
/// the client connects in the background, and every read fails fast until
/// it has.
pub async fn open(args: &LogArgs, timeout: Duration) -> Result<EventLog, Error> {
    let log = EventLog::connect(&LogConfig {
        nats_url: args.nats_url.clone(),
        stream: args.stream.clone(),
        replicas: 1,
        request_timeout: timeout,
    })
    .await?;
    let connected = tokio::time::timeout(timeout, async {
        while !log.is_connected() {
            tokio::time::sleep(CONNECT_POLL).await;
        }
    })
    .await;
    match connected {
        Ok(()) => Ok(log),
        Err(_) => Err(Error::Connect {
            url: args.nats_url.clone(),
            reason: format!("no nats connection within {} ms", timeout.as_millis()),
        }),
    }
}

type Events = Pin<Box<dyn Stream<Item = Result<StoredEvent, LogError>> + Send>>;

/// The events at positions `from..=to`, in stream order.
pub struct Range {
    events: Option<Events>,
    to: u64,
    last: u64,
    stall: Duration,
}

impl std::fmt::Debug for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Range")
            .field("to", &self.to)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl Range {
    /// Subscribes from `from`; an empty range (`from > to`) subscribes to
    /// nothing. A read that waits longer than `stall` for the next event
    /// fails instead of hanging.
    pub async fn read(log: &EventLog, from: u64, to: u64, stall: Duration) -> Result<Self, Error> {
        let from = from.max(1);
        let events = if from > to {
            None
        } else {
            Some(Box::pin(log.tail(from).await?) as Events)
        };
        Ok(Self {
            events,
            to,
            last: from - 1,
            stall,
        })
    }

    /// The next event, or `None` past `to`.
    pub async fn next(&mut self) -> Result<Option<StoredEvent>, Error> {
        let Some(events) = self.events.as_mut() else {
            return Ok(None);
        };
        let next = match tokio::time::timeout(self.stall, events.next()).await {
            Err(_) => {
                return Err(Error::Failed(format!(
                    "reading the log stalled after position {} (no event for {} ms; want up to {})",
                    self.last,
                    self.stall.as_millis(),
                    self.to
                )));
            }
            Ok(None) => {
                return Err(Error::Failed(format!(
                    "the log subscription ended after position {}",
                    self.last
                )));
            }
            Ok(Some(event)) => event?,
        };
        if next.position >= self.to {
            self.events = None;
        }
        if next.position > self.to {
            return Ok(None);
        }
        self.last = next.position;
        Ok(Some(next))
    }
}

/// A bar counting `len` items on stderr, or a hidden one when stderr is not
/// a terminal.
pub fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// A spinner for work of unknown length (reading stdin), hidden when stderr
/// is not a terminal.
pub fn spinner(what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {pos} ({per_sec})") {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Checks that `kind` and `id` can be tokens of a subject: a `.`, a
/// wildcard or whitespace would address other subjects than the aggregate's.
pub fn subject_token(what: &str, token: &str) -> Result<(), Error> {
    let valid = !token.is_empty()
        && token
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '.' | '*' | '>'));
    if valid {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{what} {token:?} must be non-empty, without '.', '*', '>' or whitespace"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_tokens_cannot_widen_the_subject() {
        assert!(subject_token("id", "0197a000-0000-7000-8000-000000000001").is_ok());
        for bad in ["", "a.b", "*", ">", "a b"] {
            assert!(
                matches!(subject_token("id", bad), Err(Error::Usage(_))),
                "{bad:?}"
            );
        }
    }
}
