//! `sy soak` against a real deployment: a steady load of retrying clients
//! rides out a NATS outage in the middle of the run, and the check, reading
//! the log itself, finds every acknowledged command there exactly once and
//! measures the outage. A report that claims an acknowledgement the log
//! does not hold fails the check, naming the command.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use sy_tests::System;

/// `sy soak check`'s exit code when a command is missing or duplicated.
const EXIT_VERIFICATION: i32 = 3;

/// Appends `<unix ms> <label>` to the marks file, as the fault script does.
fn mark(path: &Path, label: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    writeln!(file, "{} {label}", jiff::Timestamp::now().as_millisecond()).unwrap();
}

/// The columns of the markdown row `sy soak check` printed.
struct Row {
    label: String,
    acknowledged: u64,
    found: u64,
    duplicates: u64,
    failed: u64,
    longest_unavailability_s: f64,
    recovery_s: f64,
    longest_read_gap_s: f64,
}

fn parse_row(output: &str) -> Row {
    let line = output
        .lines()
        .find(|line| line.starts_with("| "))
        .unwrap_or_else(|| panic!("no table row in:\n{output}"));
    let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
    assert_eq!(cells.len(), 8, "{line}");
    Row {
        label: cells[0].to_string(),
        acknowledged: cells[1].parse().unwrap(),
        found: cells[2].parse().unwrap(),
        duplicates: cells[3].parse().unwrap(),
        failed: cells[4].parse().unwrap(),
        longest_unavailability_s: cells[5].parse().unwrap(),
        recovery_s: cells[6].parse().unwrap(),
        longest_read_gap_s: cells[7].parse().unwrap(),
    }
}

#[tokio::test]
async fn a_soak_run_rides_out_a_nats_restart_and_the_log_holds_every_ack_once() -> anyhow::Result<()>
{
    let mut sys = System::builder().nats_timeout_ms(1000).start().await?;
    let dir = tempfile::tempdir()?;
    let marks = dir.path().join("marks");
    let report = dir.path().join("report.json");
    let args: Vec<String> = [
        "soak",
        "run",
        "--intake-url",
        &sys.intake.endpoint(),
        "--query-url",
        &sys.projection().endpoint(),
        "--rate",
        "30",
        "--duration",
        "6s",
        "--give-up",
        "60s",
        "--marks",
        marks.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
        "--timeout-ms",
        "3000",
    ]
    .map(String::from)
    .to_vec();
    let run = tokio::spawn(sy_tests::process::sy(args));

    // The fault, in the middle of the run: NATS gone for a while, then back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    mark(&marks, "fault");
    sys.nats.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sys.nats.restart().await?;
    mark(&marks, "heal");

    let (code, output) = run.await??;
    assert_eq!(code, 0, "sy soak run failed:\n{output}");
    assert!(output.contains("report: "), "{output}");

    let (code, output) = sys
        .sy(&[
            "soak",
            "check",
            report.to_str().unwrap(),
            "--label",
            "restart nats",
            "--unavailable-after",
            "500ms",
        ])
        .await?;
    assert_eq!(code, 0, "sy soak check failed:\n{output}");
    eprintln!("sy soak check: {}", output.trim());
    let row = parse_row(&output);
    assert_eq!(row.label, "restart nats");
    assert!(row.acknowledged > 0, "{output}");
    assert_eq!(row.found, row.acknowledged, "{output}");
    assert_eq!(row.duplicates, 0, "{output}");
    assert_eq!(row.failed, 0, "retries outlast a 1.5 s outage:\n{output}");
    assert!(
        row.longest_unavailability_s >= 1.0,
        "NATS was down 1.5 s:\n{output}"
    );
    assert!(
        row.recovery_s >= 1.0,
        "recovery runs from the fault mark past the 1.5 s outage:\n{output}"
    );
    // A fault bound, not a performance target: reads are served from sled
    // through the outage (every fourth is a list, which waits for nothing).
    assert!(
        row.longest_read_gap_s < 5.0,
        "reads go on during the outage:\n{output}"
    );

    // The check with the marks file given explicitly agrees, as JSON.
    let (code, json) = sys
        .sy(&[
            "soak",
            "check",
            report.to_str().unwrap(),
            "--label",
            "restart nats",
            "--marks",
            marks.to_str().unwrap(),
            "--json",
        ])
        .await?;
    assert_eq!(code, 0, "{json}");
    assert!(
        json.contains(&format!("\"found_in_log\":{}", row.acknowledged)),
        "{json}"
    );
    assert!(json.contains("\"duplicated\":[]"), "{json}");

    // A report claiming an acknowledgement the log does not hold: the
    // check names the command and fails.
    let text = std::fs::read_to_string(&report)?;
    let key_at = text.find("\"key\": \"").unwrap() + "\"key\": \"".len();
    let key = &text[key_at..key_at + text[key_at..].find('"').unwrap()];
    let forged_key = format!("{key}-never-sent");
    let forged = report.with_file_name("forged.json");
    std::fs::write(
        &forged,
        text.replacen(
            &format!("\"key\": \"{key}\""),
            &format!("\"key\": \"{forged_key}\""),
            1,
        ),
    )?;
    let (code, output) = sys
        .sy(&[
            "soak",
            "check",
            forged.to_str().unwrap(),
            "--label",
            "forged",
        ])
        .await?;
    assert_eq!(code, EXIT_VERIFICATION, "{output}");
    let row = parse_row(&output);
    assert_eq!(row.found + 1, row.acknowledged, "{output}");
    assert!(
        output.contains(&format!("missing: {forged_key}")),
        "the missing command is named:\n{output}"
    );
    Ok(())
}

#[tokio::test]
async fn sigterm_ends_a_soak_run_early_and_the_report_is_still_written() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let dir = tempfile::tempdir()?;
    let report = dir.path().join("report.json");
    let mut command = tokio::process::Command::new(sy_tests::binary_path("sy"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SY_") {
            command.env_remove(key);
        }
    }
    let child = command
        .args(["soak", "run", "--rate", "20", "--duration", "10m"])
        .args(["--intake-url", &sys.intake.endpoint()])
        .args(["--query-url", &sys.projection().endpoint()])
        .arg("--out")
        .arg(&report)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id().unwrap())?).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)?;
    // A fault bound: the run stops at once instead of sending for ten minutes.
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("; interrupted"), "{stdout}");

    let text = std::fs::read_to_string(&report)?;
    assert!(text.contains("\"interrupted\": true"), "{text}");
    assert!(text.contains("\"outcome\": \"written\""), "{text}");
    // What was acknowledged before the signal is in the log, once.
    let (code, output) = sys
        .sy(&[
            "soak",
            "check",
            report.to_str().unwrap(),
            "--label",
            "sigterm",
        ])
        .await?;
    assert_eq!(code, 0, "{output}");
    Ok(())
}

#[tokio::test]
async fn a_soak_runs_and_checks_against_a_secured_deployment() -> anyhow::Result<()> {
    let sys = System::builder().secured().start().await?;
    let secrets = sys.nats.secrets().unwrap();
    let dir = tempfile::tempdir()?;
    let report = dir.path().join("report.json");
    let clients = secrets.path().join("clients");
    let ca = secrets.ca();
    // Submissions go as the demo's requesting parties, each with its own
    // token; reads as the audit office, over TLS.
    let (code, output) = sy_tests::process::sy([
        "soak",
        "run",
        "--intake-url",
        &sys.intake.endpoint(),
        "--query-url",
        &sys.projection().endpoint(),
        "--rate",
        "20",
        "--duration",
        "2s",
        "--out",
        report.to_str().unwrap(),
        "--ca",
        ca.to_str().unwrap(),
        "--credentials-dir",
        clients.to_str().unwrap(),
        "--agency",
        sy_tests::system::AUDITOR_AGENCY,
    ])
    .await?;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("40 commands: 40 written"), "{output}");
    let text = std::fs::read_to_string(&report)?;
    assert!(
        !text.contains("\"ok\": false"),
        "every read allowed:\n{text}"
    );

    // The check reads the log as the NATS auditor, over TLS.
    let auditor: Vec<String> = secrets
        .nats_args("auditor")
        .into_iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let mut args = vec![
        "soak",
        "check",
        report.to_str().unwrap(),
        "--label",
        "secured",
    ];
    args.extend(auditor.iter().map(String::as_str));
    let (code, output) = sys.sy(&args).await?;
    assert_eq!(code, 0, "{output}");
    let row = parse_row(&output);
    assert_eq!(
        (row.acknowledged, row.found, row.duplicates, row.failed),
        (40, 40, 0, 0)
    );
    Ok(())
}
