//! Child processes with captured output. Every line a child writes (stdout
//! and stderr) is kept in a [`Log`] shared across restarts, so a test can wait
//! for a line ("listening addr=…", "Server is ready") and a failing test shows
//! what the process said. ANSI colour codes are stripped on the way in.
//! [`binary_path`] finds the workspace binaries a test spawns; [`sy`] runs
//! the CLI once.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How often waits look at a child's log or exit status.
const POLL: Duration = Duration::from_millis(20);
/// Lines of a log printed when its owner is dropped.
const DUMP_LINES: usize = 400;

/// The lines a process (and its restarts) wrote, oldest first.
#[derive(Clone)]
pub struct Log {
    name: Arc<str>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Log {
    /// An empty log of the process called `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            lines: Arc::default(),
        }
    }

    /// The process's name, as shown around a dump.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends one line the process wrote.
    pub fn push(&self, line: String) {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }

    /// Lines captured so far.
    pub fn len(&self) -> usize {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the process wrote nothing yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first line at index `from` or later for which `find` yields a value.
    pub fn find<T>(&self, from: usize, find: impl Fn(&str) -> Option<T>) -> Option<T> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().skip(from).find_map(|line| find(line))
    }

    /// The whole log as one string.
    pub fn text(&self) -> String {
        self.tail(usize::MAX)
    }

    /// The last `n` lines as one string.
    pub fn tail(&self, n: usize) -> String {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let skip = lines.len().saturating_sub(n);
        let mut text = String::new();
        if skip > 0 {
            text.push_str(&format!("… {skip} earlier lines omitted\n"));
        }
        for line in lines.iter().skip(skip) {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Prints the log's tail to stderr. libtest captures it and shows it only
    /// for a failing test (or with `--nocapture`); `SY_TEST_QUIET=1` mutes it.
    #[allow(clippy::print_stderr, reason = "libtest captures stderr per test")]
    pub fn dump(&self) {
        if std::env::var_os("SY_TEST_QUIET").is_some_and(|v| v == "1") || self.is_empty() {
            return;
        }
        eprintln!(
            "----- log of {} -----\n{}----- end of {} -----",
            self.name,
            self.tail(DUMP_LINES),
            self.name
        );
    }
}

/// A running child whose output goes to a [`Log`].
pub struct Process {
    child: Child,
    log: Log,
    /// Index of this run's first line in the shared log.
    first_line: usize,
}

impl Process {
    /// Spawns `command` with piped output; lines go to `log`.
    pub fn spawn(mut command: Command, log: Log) -> anyhow::Result<Self> {
        log.push(format!("--- {} starting: {command:?}", log.name()));
        let first_line = log.len();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot spawn {}: {command:?}", log.name()))?;
        if let Some(stdout) = child.stdout.take() {
            forward(stdout, log.clone());
        }
        if let Some(stderr) = child.stderr.take() {
            forward(stderr, log.clone());
        }
        Ok(Self {
            child,
            log,
            first_line,
        })
    }

    /// The operating system's id of the process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits until a line of this run yields a value, the process exits, or
    /// `timeout` passes; errors carry the captured log.
    pub async fn wait_for_line<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        find: impl Fn(&str) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.log.find(self.first_line, &find) {
                return Ok(found);
            }
            if let Some(status) = self.exited() {
                // The readers may still hold the last lines: give them a moment.
                tokio::time::sleep(Duration::from_millis(100)).await;
                if let Some(found) = self.log.find(self.first_line, &find) {
                    return Ok(found);
                }
                bail!(
                    "{} exited with {status} before {what}; its log:\n{}",
                    self.log.name(),
                    self.log.tail(DUMP_LINES)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not report {what} within {timeout:?}; its log:\n{}",
                    self.log.name(),
                    self.log.tail(DUMP_LINES)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// SIGKILL, then reap.
    pub fn kill9(&mut self) -> Option<ExitStatus> {
        if let Some(status) = self.exited() {
            return Some(status);
        }
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        self.log
            .push(format!("--- {} killed (SIGKILL)", self.log.name()));
        status
    }

    /// Sends `signal` to the process (SIGSTOP and SIGCONT hang and resume it).
    pub fn signal(&self, signal: rustix::process::Signal) -> anyhow::Result<()> {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32)
            .context("child pid is not a valid pid")?;
        rustix::process::kill_process(pid, signal)
            .with_context(|| format!("cannot signal {}", self.log.name()))?;
        self.log
            .push(format!("--- {} sent {signal:?}", self.log.name()));
        Ok(())
    }

    /// SIGTERM, then wait up to `timeout` for the exit; a process still
    /// running then is killed and the wait is an error.
    pub async fn terminate(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        if let Some(status) = self.exited() {
            return Ok(status);
        }
        let pid = rustix::process::Pid::from_raw(self.pid() as i32)
            .context("child pid is not a valid pid")?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .with_context(|| format!("cannot send SIGTERM to {}", self.log.name()))?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                self.log.push(format!(
                    "--- {} exited after SIGTERM: {status}",
                    self.log.name()
                ));
                return Ok(status);
            }
            if Instant::now() >= deadline {
                self.kill9();
                bail!(
                    "{} did not stop within {timeout:?} of SIGTERM (killed); its log:\n{}",
                    self.log.name(),
                    self.log.tail(DUMP_LINES)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Copies a child's output into `log`, line by line, on a thread of its own
/// (so it works under any runtime and never blocks one).
fn forward(output: impl Read + Send + 'static, log: Log) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(output);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    log.push(strip_ansi(line.trim_end_matches(['\n', '\r'])));
                }
            }
        }
    });
}

/// Removes ANSI escape sequences (colours, cursor moves) from a line.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            // CSI: ESC [ parameters… final byte in @..~
            Some('[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // Two-character escapes such as ESC ( B.
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    out
}

/// A workspace binary, built next to the test executable:
/// `target/<profile>/deps/<test>` → `target/<profile>/<name>`.
/// `$SY_INTAKE_BIN` / `$SY_PROJECTION_BIN` (the name upper-cased, `-` → `_`,
/// plus `_BIN`) override the path.
pub fn binary_path(name: &str) -> PathBuf {
    let var = format!("{}_BIN", name.to_uppercase().replace('-', "_"));
    if let Some(path) = std::env::var_os(&var) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("cannot locate the test executable");
    let mut dir = exe
        .parent()
        .expect("test executable has a directory")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} not found: run `cargo build --workspace --bins` first (or `cargo test --workspace`, \
         which builds them), or set {var}",
        path.display()
    );
    path
}

/// Runs the real `sy` binary once with `args` and nothing from the
/// environment's `SY_*` settings; returns its exit code and its output
/// (stdout, then stderr).
pub async fn sy<I, S>(args: I) -> anyhow::Result<(i32, String)>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    sy_fed(args, None).await
}

/// [`sy`] with `stdin` written to its standard input (then closed), or
/// with no input at all.
pub async fn sy_fed<I, S>(args: I, stdin: Option<&[u8]>) -> anyhow::Result<(i32, String)>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    use tokio::io::AsyncWriteExt as _;
    let mut command = tokio::process::Command::new(binary_path("sy"));
    command.args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SY_") {
            command.env_remove(key);
        }
    }
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn()?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input).await?;
        // Dropped here: `sy` sees the end of its input.
    }
    let output = child.wait_with_output().await?;
    Ok((
        output.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_codes_are_stripped() {
        let line = "\u{1b}[2m2025-01-01T00:00:00Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m \u{1b}[2msy_intake\u{1b}[0m\u{1b}[2m:\u{1b}[0m listening \u{1b}[3maddr\u{1b}[0m\u{1b}[2m=\u{1b}[0m127.0.0.1:5000";
        assert_eq!(
            strip_ansi(line),
            "2025-01-01T00:00:00Z  INFO sy_intake: listening addr=127.0.0.1:5000"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[test]
    fn log_finds_lines_after_an_index() {
        let log = Log::new("t");
        log.push("a=1".into());
        log.push("a=2".into());
        let parse = |l: &str| l.strip_prefix("a=").map(str::to_string);
        assert_eq!(log.find(0, parse).as_deref(), Some("1"));
        assert_eq!(log.find(1, parse).as_deref(), Some("2"));
        assert_eq!(log.find(2, parse), None);
        assert!(log.tail(1).contains("1 earlier lines omitted"));
    }
}
