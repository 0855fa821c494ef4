//! The event log as the audit commands read it: straight from JetStream
//! (`--nats-url`, `--stream`, as a NATS user with `--nats-user`,
//! `--nats-password-file` and `--nats-ca`), not through a service, so an auditor checks
//! the source of truth itself. Ranges ([`sy_eventlog::Range`]) are read in
//! stream order and end at a position fixed when the command starts; long
//! reads show a progress bar on stderr (hidden when stderr is not a
//! terminal, so pipes and logs stay clean).

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sy_eventlog::{EventLog, LogConfig, NatsAuth};

use crate::args::LogArgs;
use crate::error::Error;

/// Connects to the log and waits (up to `timeout`) until NATS is reached:
/// the client connects in the background, and every read fails fast until
/// it has.
pub async fn open(args: &LogArgs, timeout: Duration) -> Result<EventLog, Error> {
    connect(&args.nats_url, &args.stream, 1, args.nats.auth()?, timeout).await
}

/// [`open`] for any stream on `nats_url` (`replicas` if this client
/// creates it).
pub async fn connect(
    nats_url: &str,
    stream: &str,
    replicas: usize,
    auth: NatsAuth,
    timeout: Duration,
) -> Result<EventLog, Error> {
    let log = EventLog::connect(&LogConfig {
        nats_url: nats_url.to_string(),
        stream: stream.to_string(),
        replicas,
        request_timeout: timeout,
        auth,
    })
    .await?;
    if log.connected_within(timeout).await {
        Ok(log)
    } else {
        Err(Error::Connect {
            url: nats_url.to_string(),
            reason: format!("no nats connection within {} ms", timeout.as_millis()),
        })
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
