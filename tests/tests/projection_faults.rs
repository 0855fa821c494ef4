//! Faults the projection must ride out on its own, found by a fault campaign:
//!
//! - a NATS server restarted (or replaced) under a following projection: the
//!   fold must notice within seconds and follow again from its checkpoint,
//!   not sit for the ordered consumer's 15 s of reconnect retries; likewise
//!   once a hung server (SIGSTOP) answers again;
//! - a fold that stands still while the log moves on (here: NATS stops
//!   letting the projection pull, as a bad permission change would): health
//!   goes NOT_SERVING after `--ready-max-stall-ms` however small the lag,
//!   and back to SERVING once the fold moves again;
//! - a full disk under the data dir: the projection keeps answering reads
//!   from what it has, reports NOT_SERVING and `sy_projection_fold_blocked`,
//!   and folds on by itself, losing nothing, once there is room again; it
//!   also starts on a full disk instead of refusing.
//!
//! The disk tests mount a small tmpfs, so they need root (as on the build
//! machines and in CI); without it they say so and return.
#![allow(
    clippy::print_stderr,
    reason = "measured times and skips are reported on stderr"
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sy_tests::metrics::{sample, scrape};
use sy_tests::pb::CommandResult;
use sy_tests::{
    CONVERGE, QueryClient, Service, System, eventually, free_port, get_request, health,
};
use tonic_health::pb::health_check_response::ServingStatus;

/// A fault bound, not a performance target: a write acknowledged after NATS
/// came back must be readable through `min_position` within it.
const REFOLLOW_BOUND: Duration = Duration::from_secs(5);

/// How long health may take to change after the fault (readiness ticks every
/// second; the stall bound is 5 s by default).
const HEALTH_BOUND: Duration = Duration::from_secs(20);

/// The metric a blocked fold sets.
const BLOCKED_DISK_FULL: &str = "sy_projection_fold_blocked{reason=\"disk_full\"}";

async fn expect_health(service: &Service, want: ServingStatus) -> anyhow::Result<()> {
    eventually(HEALTH_BOUND, &format!("health {want:?}"), || {
        let channel = service.channel();
        async move {
            let status = health(channel, "shuangyong.v1.Query").await?;
            anyhow::ensure!(status == want, "health is {status:?}");
            Ok(())
        }
    })
    .await
}

/// Reads `written` back through `min_position`, retrying within `bound`;
/// how long it took.
async fn visible_within(
    query: &QueryClient,
    written: &CommandResult,
    bound: Duration,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    eventually(bound, "the write visible through min_position", || {
        get_request(query, &written.aggregate_id, written.position)
    })
    .await?;
    Ok(started.elapsed())
}

#[tokio::test]
async fn a_restarted_nats_is_followed_again_within_seconds() -> anyhow::Result<()> {
    // A short read wait, so each attempt below is a fresh look.
    let mut sys = System::builder().max_wait_ms(250).start().await?;
    let query = sys.query();
    let first = sys.submit().await?;
    visible_within(&query, &first, CONVERGE).await?;

    for run in 1..=3 {
        // Idle long enough for the tail to sit on a pending pull, as a
        // following projection does between writes.
        tokio::time::sleep(Duration::from_secs(1)).await;
        sys.nats.restart().await?;
        let back = Instant::now();
        let written = eventually(CONVERGE, "intake writing again", || sys.submit()).await?;
        let acknowledged = back.elapsed();
        let took = visible_within(&query, &written, REFOLLOW_BOUND)
            .await
            .with_context(|| {
                format!(
                    "run {run}: the projection did not follow the restarted server; its log:\n{}",
                    sys.projection().log()
                )
            })?;
        eprintln!(
            "run {run}: write acknowledged {acknowledged:?} after nats came back, \
             visible {took:?} after the acknowledgement ({:?} after nats came back)",
            back.elapsed()
        );
    }
    // Everything written before the restarts is still there, once.
    get_request(&query, &first.aggregate_id, first.position).await?;
    Ok(())
}

#[tokio::test]
async fn a_hung_nats_is_followed_again_once_it_answers() -> anyhow::Result<()> {
    let sys = System::builder().max_wait_ms(250).start().await?;
    let query = sys.query();
    let first = sys.submit().await?;
    visible_within(&query, &first, CONVERGE).await?;

    sys.nats.pause()?;
    // Longer than a pull's expiry and the stall bound, so the tail and the
    // fold's stall check both run into the hung server.
    tokio::time::sleep(Duration::from_secs(7)).await;
    sys.nats.resume()?;
    let back = Instant::now();
    let written = eventually(CONVERGE, "intake writing again", || sys.submit()).await?;
    let took = visible_within(&query, &written, REFOLLOW_BOUND).await?;
    eprintln!(
        "after a 7 s hang: visible {took:?} after the acknowledgement ({:?} after the server answered again)",
        back.elapsed()
    );
    Ok(())
}

/// The process id of the nats-server using `store` (its `-sd`).
fn nats_server_pid(store: &Path) -> anyhow::Result<rustix::process::Pid> {
    let store = store.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc")?.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<_> = cmdline
            .split(|byte| *byte == 0)
            .map(String::from_utf8_lossy)
            .collect();
        if args.iter().any(|arg| arg.ends_with("nats-server")) && args.iter().any(|a| *a == store) {
            return rustix::process::Pid::from_raw(pid).context("pid 0");
        }
    }
    anyhow::bail!("no nats-server with store {store}")
}

/// Lets the NATS user `projection` pull from its consumers, or not, and
/// has the server reload its users (SIGHUP).
fn allow_pulls(sys: &System, allow: bool) -> anyhow::Result<()> {
    let secrets = sys.nats.secrets().context("a secured system")?;
    // JetStream is enabled by the command line (`-js -sd`); a reload of a
    // file without it would switch it off.
    let conf = secrets.path().join("nats").join("testkit.conf");
    let mut text = std::fs::read_to_string(&conf)?;
    if !text.contains("jetstream") {
        text.push_str(&format!(
            "jetstream {{\n  store_dir: {:?}\n}}\n",
            sys.nats.store_dir().display().to_string()
        ));
        std::fs::write(&conf, text)?;
    }
    let users = secrets.path().join("nats").join("users.conf");
    let text = std::fs::read_to_string(&users)?;
    let pull = format!(", \"$JS.API.CONSUMER.MSG.NEXT.{}.>\"", sys.stream());
    let at = text
        .find("user: \"projection\"")
        .context("the projection's user in users.conf")?;
    let (before, projection) = text.split_at(at);
    let end = projection.find("subscribe").context("its permissions")?;
    let (permissions, rest) = projection.split_at(end);
    let permissions = if allow {
        anyhow::ensure!(!permissions.contains(&pull), "pulls are allowed already");
        permissions.replacen("] }", &format!("{pull}] }}"), 1)
    } else {
        anyhow::ensure!(permissions.contains(&pull), "pulls are denied already");
        permissions.replacen(&pull, "", 1)
    };
    std::fs::write(&users, format!("{before}{permissions}{rest}"))?;
    let pid = nats_server_pid(sys.nats.store_dir())?;
    rustix::process::kill_process(pid, rustix::process::Signal::HUP)?;
    Ok(())
}

#[tokio::test]
async fn a_fold_standing_still_behind_the_log_is_not_serving_until_it_moves() -> anyhow::Result<()>
{
    let sys = System::builder().secured().start().await?;
    let projection = sys.projection();
    let query = sys.query();
    let first = sys.submit().await?;
    visible_within(&query, &first, CONVERGE).await?;
    expect_health(projection, ServingStatus::Serving).await?;

    allow_pulls(&sys, false)?;
    // A pull granted before the change may still deliver a write: keep
    // writing (far fewer than --ready-max-lag) until the fold stands still.
    let deadline = Instant::now() + HEALTH_BOUND;
    let last = loop {
        let last = sys.submit().await?;
        if health(projection.channel(), "shuangyong.v1.Query").await? == ServingStatus::NotServing {
            break last;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "health still SERVING {HEALTH_BOUND:?} after the fold lost its pulls"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert!(
        projection.log().contains("verdict=Stalled"),
        "NOT_SERVING because the fold stalled, not for another reason"
    );
    // Reads are still answered, from what is folded.
    get_request(&query, &first.aggregate_id, first.position).await?;

    allow_pulls(&sys, true)?;
    let took = visible_within(&query, &last, CONVERGE).await?;
    eprintln!("the fold moved again {took:?} after pulls were allowed again");
    expect_health(projection, ServingStatus::Serving).await?;
    Ok(())
}

/// A tmpfs of its own, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (e.g. `64m`); `None` (said on stderr) when
    /// not root, as mounting needs.
    fn mount(test: &str, size: &str) -> anyhow::Result<Option<Self>> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("SKIPPED {test}: mounting a small tmpfs needs root; run the suite as root");
            return Ok(None);
        }
        let dir = tempfile::Builder::new()
            .prefix("sy-small-disk-")
            .tempdir()?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .context("cannot run mount")?;
        anyhow::ensure!(status.success(), "mount -t tmpfs failed: {status}");
        Ok(Some(Self { dir }))
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the disk is full, to the last page.
    fn fill(&self) -> anyhow::Result<PathBuf> {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path)?;
        for chunk in [vec![0u8; 1 << 20], vec![0u8; 4096], vec![0u8; 64]] {
            loop {
                match file.write_all(&chunk) {
                    Ok(()) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::StorageFull => break,
                    Err(err) => return Err(err).context("filling the disk"),
                }
            }
        }
        Ok(path)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: a projection still exiting may hold files open.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A projection of `sys` on `disk` with metrics; its metrics port.
async fn projection_on_disk(sys: &System, disk: &SmallDisk) -> anyhow::Result<(Service, u16)> {
    let port = free_port()?;
    let service = sys
        .projection_on(&disk.path().join("projection"))
        .flag("--metrics-listen", format!("127.0.0.1:{port}"))
        .flag("--max-wait-ms", 250)
        .start()
        .await?;
    Ok((service, port))
}

async fn blocked_metric(port: u16) -> anyhow::Result<Option<f64>> {
    Ok(sample(&scrape(port).await?, BLOCKED_DISK_FULL))
}

/// Submits `n` requests; their results.
async fn submit_some(sys: &System, n: usize) -> anyhow::Result<Vec<CommandResult>> {
    let mut written = Vec::with_capacity(n);
    for _ in 0..n {
        written.push(sys.submit().await?);
    }
    Ok(written)
}

#[tokio::test]
async fn a_full_disk_blocks_the_fold_reads_go_on_and_it_resumes_when_there_is_room()
-> anyhow::Result<()> {
    let Some(disk) = SmallDisk::mount("a_full_disk_blocks_the_fold", "64m")? else {
        return Ok(());
    };
    let sys = System::start().await?;
    let (projection, port) = projection_on_disk(&sys, &disk).await?;
    let query = sys.query_at(&projection);
    let before = sys.submit().await?;
    visible_within(&query, &before, CONVERGE).await?;
    expect_health(&projection, ServingStatus::Serving).await?;
    assert_eq!(blocked_metric(port).await?, Some(0.0));

    let filler = disk.fill()?;
    // sled buffers writes and finds the disk full when it writes them out:
    // keep writing until the fold notices.
    let mut written = Vec::new();
    let deadline = Instant::now() + HEALTH_BOUND;
    loop {
        written.extend(submit_some(&sys, 5).await?);
        if health(projection.channel(), "shuangyong.v1.Query").await? == ServingStatus::NotServing {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the fold did not block on the full disk within {HEALTH_BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let blocked = Instant::now();
    assert_eq!(blocked_metric(port).await?, Some(1.0));
    written.extend(submit_some(&sys, 5).await?);

    // Reads are answered from what the projection has.
    let read = get_request(&query, &before.aggregate_id, before.position).await?;
    assert_eq!(read.id, before.aggregate_id);
    // Still blocked a while later: retries do not pretend, and warn seldom.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        health(projection.channel(), "shuangyong.v1.Query").await?,
        ServingStatus::NotServing
    );
    let warnings = projection
        .log()
        .matches("disk full; folding paused")
        .count();
    assert!(
        (1..=2).contains(&warnings),
        "{warnings} warnings in {:?}: one on blocking, then one every 30 s",
        blocked.elapsed()
    );

    std::fs::remove_file(&filler)?;
    let last = written.last().context("wrote while blocked")?;
    let took = visible_within(&query, last, CONVERGE).await?;
    eprintln!("the fold caught up {took:?} after the disk had room again");
    for write in &written {
        get_request(&query, &write.aggregate_id, write.position).await?;
    }
    get_request(&query, &before.aggregate_id, before.position).await?;
    expect_health(&projection, ServingStatus::Serving).await?;
    assert_eq!(blocked_metric(port).await?, Some(0.0));
    Ok(())
}

#[tokio::test]
async fn a_projection_starts_on_a_full_disk_serving_reads_and_folds_once_there_is_room()
-> anyhow::Result<()> {
    let Some(disk) = SmallDisk::mount("a_projection_starts_on_a_full_disk", "64m")? else {
        return Ok(());
    };
    let sys = System::start().await?;
    let (mut projection, port) = projection_on_disk(&sys, &disk).await?;
    let before = sys.submit().await?;
    visible_within(&sys.query_at(&projection), &before, CONVERGE).await?;
    projection.terminate().await?;

    let filler = disk.fill()?;
    let meanwhile = sys.submit().await?;
    projection.restart().await?;
    let query = sys.query_at(&projection);
    let read = get_request(&query, &before.aggregate_id, before.position).await?;
    assert_eq!(read.id, before.aggregate_id);
    expect_health(&projection, ServingStatus::NotServing).await?;
    eventually(HEALTH_BOUND, "fold_blocked reported", || async {
        anyhow::ensure!(blocked_metric(port).await? == Some(1.0));
        Ok(())
    })
    .await?;
    assert!(
        get_request(&query, &meanwhile.aggregate_id, meanwhile.position)
            .await
            .is_err(),
        "nothing is folded while the disk is full"
    );

    std::fs::remove_file(&filler)?;
    visible_within(&query, &meanwhile, CONVERGE).await?;
    expect_health(&projection, ServingStatus::Serving).await?;
    assert_eq!(blocked_metric(port).await?, Some(0.0));
    Ok(())
}
