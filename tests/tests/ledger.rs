//! Ledgers in and out with `sy ledger` against deployments as they run in
//! production (TLS, tokens, the demo's role policy): a ledger exported from
//! one deployment and imported into a fresh one gives the same board, a
//! re-import writes nothing, and a malformed ledger is refused row by row
//! with nothing written.

use std::path::Path;

use calamine::{Reader as _, Xlsx, open_workbook};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use sy_api::pb;
use sy_tests::System;
use sy_tests::client::{AREA_CODE, assign_command, date_in_days, new_key, submit_command};

/// The coordinating office: requester and coordinator in the demo policy,
/// so it may file and assign an imported ledger.
const BUREAU: &str = "district-veterans-bureau";
const HOUSING: &str = "district-housing-bureau";

/// The requests the source deployment holds: some assigned, one due at
/// submission, across directions, categories, priorities and levels.
async fn seed(sys: &System) -> anyhow::Result<u64> {
    let mut unit = sys.intake();
    let mut bureau = sys.intake_as(BUREAU, "clerk");
    let kinds = [
        (
            pb::Category::BarracksAndTrainingGrounds,
            pb::SupervisionLevel::None,
            Some(HOUSING),
        ),
        (
            pb::Category::Medical,
            pb::SupervisionLevel::District,
            Some(BUREAU),
        ),
        (
            pb::Category::FreeClinic,
            pb::SupervisionLevel::City,
            Some(HOUSING),
        ),
        (
            pb::Category::JointSecurity,
            pb::SupervisionLevel::None,
            None,
        ),
        (pb::Category::Other, pb::SupervisionLevel::National, None),
    ];
    let mut position = 0;
    for (n, (category, level, department)) in kinds.into_iter().enumerate() {
        let submit = pb::SubmitRequestCommand {
            category: category as i32,
            supervision_level: level as i32,
            priority: [pb::Priority::Normal, pb::Priority::Urgent][n % 2] as i32,
            title: format!("台账事项 {n}, \"第{n}件\""),
            due_date: if department.is_none() && n == 3 {
                date_in_days(30)
            } else {
                String::new()
            },
            ..submit_command(&new_key("ledger-seed"))
        };
        let written = unit.submit_request(submit).await?.into_inner();
        position = position.max(written.position);
        if let Some(department) = department {
            let assign = assign_command(&written.aggregate_id, department, 10 + n as i64);
            position = position.max(bureau.assign_request(assign).await?.into_inner().position);
        }
    }
    Ok(position)
}

/// `sy ARGS` as the bureau, which must succeed; its output.
async fn sy_ok(sys: &System, args: &[&str]) -> anyhow::Result<String> {
    let (code, out) = sys.sy_as(BUREAU, args).await?;
    anyhow::ensure!(code == 0, "sy {args:?} exited {code}:\n{out}");
    Ok(out)
}

fn policy_file(sys: &System) -> String {
    let secrets = sys.nats.secrets().expect("a secured system");
    secrets.path().join("policy.toml").display().to_string()
}

/// `sy ledger import FILE` as the bureau: its exit code and output.
async fn import(sys: &System, file: &Path) -> anyhow::Result<(i32, String)> {
    let (file, policy) = (file.display().to_string(), policy_file(sys));
    sys.sy_as(
        BUREAU,
        &["ledger", "import", &file, "--policy-file", &policy],
    )
    .await
}

/// The position an import's summary line names.
fn imported_position(out: &str) -> Option<u64> {
    let line = out.lines().find(|l| l.starts_with("imported "))?;
    line.rsplit("position ").next()?.trim().parse().ok()
}

/// The first sheet of an XLSX file, as text rows.
fn read_sheet(path: &Path) -> anyhow::Result<Vec<Vec<String>>> {
    let mut book: Xlsx<_> = open_workbook(path)?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| anyhow::anyhow!("no sheet"))??;
    Ok(range
        .rows()
        .map(|row| row.iter().map(ToString::to_string).collect())
        .collect())
}

/// A ledger's rows without the columns a new deployment gives anew (编号,
/// 提报时间), sorted: the filing order of a bulk import is not promised.
fn comparable(rows: &[Vec<String>]) -> Vec<Vec<String>> {
    let header = &rows[0];
    let keep: Vec<usize> = (0..header.len())
        .filter(|i| !["编号", "提报时间"].contains(&header[*i].as_str()))
        .collect();
    let mut body: Vec<Vec<String>> = rows[1..]
        .iter()
        .map(|row| {
            keep.iter()
                .map(|i| row.get(*i).cloned().unwrap_or_default())
                .collect()
        })
        .collect();
    body.sort();
    body
}

#[tokio::test]
async fn an_exported_ledger_imported_into_a_fresh_deployment_gives_the_same_board()
-> anyhow::Result<()> {
    let source = System::builder().secured().start().await?;
    let seeded = seed(&source).await?.to_string();
    let dir = tempfile::tempdir()?;
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (ledger, source_board) = (path("ledger.xlsx"), path("source-board.csv"));
    let out = sy_ok(
        &source,
        &[
            "ledger",
            "export",
            "--out",
            &ledger,
            "--min-position",
            &seeded,
        ],
    )
    .await?;
    assert!(out.contains("wrote 5 台账 rows"), "{out}");
    sy_ok(
        &source,
        &[
            "ledger",
            "export",
            "--board",
            "--out",
            &source_board,
            "--min-position",
            &seeded,
        ],
    )
    .await?;
    // A period that holds nothing exports the headers alone.
    let empty = path("empty.csv");
    let out = sy_ok(
        &source,
        &[
            "ledger",
            "export",
            "--out",
            &empty,
            "--from",
            "2020-01-01",
            "--to",
            "2020-12-31",
        ],
    )
    .await?;
    assert!(out.contains("wrote 0 台账 rows"), "{out}");
    assert!(std::fs::read_to_string(&empty)?.starts_with("\u{feff}编号,方向,提出单位"));
    // The board of a period counts the requests filed in it, from the
    // board's own period counters.
    let today = sy_domain::validate::china_date(jiff::Timestamp::now());
    for (from, to, total) in [
        (
            "2020-01-01".to_string(),
            "2020-12-31".to_string(),
            "合计,合计,0,0,0,0,0,0,-",
        ),
        (
            today.yesterday()?.to_string(),
            today.tomorrow()?.to_string(),
            "合计,合计,5,5,0,0,0,0,-",
        ),
    ] {
        let period_board = path(&format!("board-{from}.csv"));
        sy_ok(
            &source,
            &[
                "ledger",
                "export",
                "--board",
                "--out",
                &period_board,
                "--from",
                &from,
                "--to",
                &to,
                "--min-position",
                &seeded,
            ],
        )
        .await?;
        let written = std::fs::read_to_string(&period_board)?;
        assert!(written.contains(total), "{from}..{to}: {written}");
    }

    let fresh = System::builder().secured().start().await?;
    let (code, out) = import(&fresh, Path::new(&ledger)).await?;
    assert_eq!(code, 0, "{out}");
    // Five submissions and three assignments.
    assert!(out.contains("8 commands written, 0 replayed"), "{out}");
    let position = imported_position(&out).expect("a position").to_string();
    let fresh_board = path("fresh-board.csv");
    sy_ok(
        &fresh,
        &[
            "ledger",
            "export",
            "--board",
            "--out",
            &fresh_board,
            "--min-position",
            &position,
        ],
    )
    .await?;
    let board = std::fs::read_to_string(&source_board)?;
    assert!(board.contains("合计,合计,5,5,0,0,0,0,-"), "{board}");
    assert!(
        board.contains("承办部门,district-housing-bureau,2,2"),
        "{board}"
    );
    assert_eq!(std::fs::read_to_string(&fresh_board)?, board);

    let copy = path("copy.xlsx");
    sy_ok(
        &fresh,
        &[
            "ledger",
            "export",
            "--out",
            &copy,
            "--min-position",
            &position,
        ],
    )
    .await?;
    assert_eq!(
        comparable(&read_sheet(Path::new(&copy))?),
        comparable(&read_sheet(Path::new(&ledger))?)
    );

    // Importing again is answered from the log: nothing new is written.
    let before = fresh.log_position().await?;
    let (code, out) = import(&fresh, Path::new(&ledger)).await?;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 commands written, 8 replayed"), "{out}");
    assert_eq!(fresh.log_position().await?, before);
    Ok(())
}

/// A ledger with the given header and rows of text cells; a cell "@date
/// YYYY-MM-DD" is written as an Excel date, "@number N" as a number.
fn write_ledger(path: &Path, header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (col, text) in (0u16..).zip(header) {
        sheet.write_string(0, col, *text)?;
    }
    for (row, cells) in (1u32..).zip(rows) {
        for (col, cell) in (0u16..).zip(cells) {
            if let Some(day) = cell.strip_prefix("@date ") {
                let day: jiff::civil::Date = day.parse()?;
                let day =
                    ExcelDateTime::from_ymd(day.year() as u16, day.month() as u8, day.day() as u8)?;
                sheet.write_datetime_with_format(row, col, &day, &date)?;
            } else if let Some(number) = cell.strip_prefix("@number ") {
                sheet.write_number(row, col, number.parse::<f64>()?)?;
            } else {
                sheet.write_string(row, col, cell)?;
            }
        }
    }
    book.save(path)?;
    Ok(())
}

const HEADER: [&str; 8] = [
    "编号",
    "方向",
    "提出单位",
    "类别",
    "标题",
    "区域代码",
    "承办部门",
    "办结时限",
];

/// A good row keyed `key`: a number-typed area code and a date-typed due
/// date, as clerks type them.
fn good_row(key: &str) -> Vec<String> {
    [
        key,
        "部队需求",
        "某部营房科",
        "营区训练场",
        "营区道路维修",
        &format!("@number {AREA_CODE}"),
        HOUSING,
        &format!("@date {}", date_in_days(20)),
    ]
    .map(String::from)
    .to_vec()
}

fn with(mut row: Vec<String>, column: &str, value: &str) -> Vec<String> {
    let at = HEADER.iter().position(|h| *h == column).expect("a column");
    row[at] = value.to_string();
    row
}

#[tokio::test]
async fn a_malformed_ledger_is_refused_row_by_row_and_writes_nothing() -> anyhow::Result<()> {
    let sys = System::builder().secured().start().await?;
    let dir = tempfile::tempdir()?;
    let bad = dir.path().join("bad.xlsx");
    write_ledger(
        &bad,
        &HEADER,
        &[
            good_row("A-1"),
            with(good_row("A-2"), "办结时限", "2027-02-30"),
            with(good_row("A-3"), "承办部门", "district-nowhere-bureau"),
            with(good_row("A-4"), "区域代码", "500107001001"),
            good_row("A-5"),
        ],
    )?;
    let before = sys.log_position().await?;
    let (code, out) = import(&sys, &bad).await?;
    assert_ne!(code, 0, "{out}");
    let problems: Vec<&str> = out.lines().filter(|l| l.starts_with("row ")).collect();
    assert_eq!(problems.len(), 3, "one problem per bad row:\n{out}");
    assert_eq!(
        problems[0],
        "row 3, column 办结时限: 2027-02-30 is not a calendar date"
    );
    assert!(
        problems[1]
            .starts_with("row 4, column 承办部门: unknown department district-nowhere-bureau"),
        "{out}"
    );
    assert!(problems[2].starts_with("row 5, column 区域代码: "), "{out}");
    assert!(problems[2].contains("not served"), "{out}");
    assert!(out.contains("3 problems in 3 rows"), "{out}");
    assert!(out.contains("nothing was written"), "{out}");

    // A ledger without a required column is refused by its header alone.
    let missing = dir.path().join("missing.xlsx");
    let header: Vec<&str> = HEADER.into_iter().filter(|h| *h != "区域代码").collect();
    let rows = [good_row("B-1"), good_row("B-2")].map(|row| {
        let mut row = row;
        row.remove(5);
        row
    });
    write_ledger(&missing, &header, &rows)?;
    let (code, out) = import(&sys, &missing).await?;
    assert_ne!(code, 0, "{out}");
    let problems: Vec<&str> = out.lines().filter(|l| l.starts_with("row ")).collect();
    assert_eq!(
        problems,
        ["row 1, column 区域代码: the column is missing: the first row must name it"],
        "{out}"
    );
    assert_eq!(sys.log_position().await?, before, "the log is untouched");

    // Fixed, the same ledger goes in whole, its typed cells read as text.
    let fixed = dir.path().join("fixed.xlsx");
    write_ledger(
        &fixed,
        &HEADER,
        &["A-1", "A-2", "A-3", "A-4", "A-5"].map(good_row),
    )?;
    let (file, policy) = (fixed.display().to_string(), policy_file(&sys));
    let out = sy_ok(
        &sys,
        &[
            "ledger",
            "import",
            &file,
            "--policy-file",
            &policy,
            "--dry-run",
        ],
    )
    .await?;
    assert!(out.contains("5 rows are good; nothing written"), "{out}");
    assert_eq!(
        sys.log_position().await?,
        before,
        "a dry run writes nothing"
    );
    let (code, out) = import(&sys, &fixed).await?;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("imported 5 rows"), "{out}");
    assert!(out.contains("10 commands written"), "{out}");
    Ok(())
}
