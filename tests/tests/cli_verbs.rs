//! The clerk's `sy` verbs against a deployment as it runs in production
//! (gRPC over TLS, every agency calling with its own token, the demo's role
//! policy): a request walked from submission to close-out with nothing but
//! `sy`, read back as tables and as JSON, people registered from owner-only
//! files and stdin (never from flags) and read back masked, the demo's
//! draft double lists, and bad input refused with its field named and a
//! non-zero exit.

use sy_tests::System;
use sy_tests::client::{AREA_CODE, date_in_days, fresh_id_number};

/// The coordinating office: assigns, and runs the placement programmes.
const BUREAU: &str = "district-veterans-bureau";
const UNIT: &str = "unit-31001";
const HOUSING: &str = "district-housing-bureau";
const SUPERVISION: &str = "district-supervision-office";

/// Runs `sy` against one secured system as one agency or another.
struct Clerk<'a> {
    sys: &'a System,
    /// Where the clerk keeps person files.
    files: tempfile::TempDir,
}

/// What a write printed: `<kind> <id> version <v> position <p>`.
#[derive(Debug)]
struct Written {
    id: String,
    version: u64,
    position: u64,
    replayed: bool,
}

impl<'a> Clerk<'a> {
    fn new(sys: &'a System) -> anyhow::Result<Self> {
        Ok(Self {
            sys,
            files: tempfile::tempdir()?,
        })
    }

    /// `sy ARGS` as `agency`: its exit code and output.
    async fn sy(&self, agency: &str, args: &[&str]) -> anyhow::Result<(i32, String)> {
        self.sys.sy_as(agency, args).await
    }

    /// `sy ARGS` as `agency` with `stdin` as its input.
    async fn sy_fed(
        &self,
        agency: &str,
        args: &[&str],
        stdin: &str,
    ) -> anyhow::Result<(i32, String)> {
        self.sys
            .sy_as_fed(agency, args, Some(stdin.as_bytes()))
            .await
    }

    /// A new owner-only person file `name` holding `text`; its path.
    fn person_file(&self, name: &str, text: &str) -> anyhow::Result<String> {
        let path = self.files.path().join(name);
        sy_api::secret_file::write_private(&path, text.as_bytes())?;
        Ok(path.to_string_lossy().into_owned())
    }

    /// `sy person register --from-file FILE FLAGS` with `text` as the file,
    /// as `agency`: the person written.
    async fn register(
        &self,
        agency: &str,
        file: &str,
        text: &str,
        flags: &[&str],
    ) -> anyhow::Result<Written> {
        let path = self.person_file(file, text)?;
        let mut args = vec!["person", "register", "--from-file", path.as_str()];
        args.extend(flags);
        self.write(agency, "person", &args).await
    }

    /// `sy ARGS` as `agency`, which must succeed; its output.
    async fn ok(&self, agency: &str, args: &[&str]) -> anyhow::Result<String> {
        let (code, out) = self.sy(agency, args).await?;
        anyhow::ensure!(code == 0, "sy {args:?} as {agency} exited {code}:\n{out}");
        Ok(out)
    }

    /// A write as `agency` of an aggregate of `kind`: what it wrote.
    async fn write(&self, agency: &str, kind: &str, args: &[&str]) -> anyhow::Result<Written> {
        let out = self.ok(agency, args).await?;
        written(&out, kind).ok_or_else(|| anyhow::anyhow!("no `{kind} ...` line in:\n{out}"))
    }
}

/// Parses the result line of a write of a `kind` aggregate.
fn written(out: &str, kind: &str) -> Option<Written> {
    let line = out
        .lines()
        .find(|line| line.starts_with(&format!("{kind} ")))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [_, id, "version", version, "position", position, rest @ ..] => Some(Written {
            id: id.to_string(),
            version: version.parse().ok()?,
            position: position.parse().ok()?,
            replayed: rest.first().is_some_and(|w| w.starts_with("(replayed")),
        }),
        _ => None,
    }
}

/// Owned words as the `&str`s `sy` takes.
fn strs(words: &[String]) -> Vec<&str> {
    words.iter().map(String::as_str).collect()
}

/// The idempotency key a write printed before its call.
fn printed_key(out: &str) -> Option<String> {
    let at = out.find("(idempotency key ")? + "(idempotency key ".len();
    Some(out[at..].split(')').next()?.to_string())
}

#[tokio::test]
async fn a_request_goes_from_submission_to_close_out_with_sy_alone() -> anyhow::Result<()> {
    let sys = System::builder().secured().start().await?;
    let clerk = Clerk::new(&sys)?;

    let submitted = clerk
        .write(
            UNIT,
            "request",
            &[
                "requests",
                "submit",
                "--direction",
                "military-to-local",
                "--category",
                "barracks-and-training-grounds",
                "--title",
                "营区道路维修",
                "--requester-name",
                "某部营房科",
                "--area",
                AREA_CODE,
                "--level",
                "none",
            ],
        )
        .await?;
    assert_eq!(submitted.version, 1);
    let id = submitted.id.as_str();
    let step = |agency: &'static str, args: Vec<String>| {
        let clerk = &clerk;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            clerk.write(agency, "request", &args).await
        }
    };
    let args = |words: &[&str]| -> Vec<String> { words.iter().map(|w| w.to_string()).collect() };

    let due = date_in_days(20);
    let assigned = step(
        BUREAU,
        args(&[
            "requests",
            "assign",
            id,
            "--department",
            HOUSING,
            "--due",
            &due,
        ]),
    )
    .await?;
    assert_eq!((assigned.id.as_str(), assigned.version), (id, 2));
    assert!(assigned.position > submitted.position);
    step(
        HOUSING,
        args(&["requests", "start", id, "--note", "已派人"]),
    )
    .await?;
    // A part of the work split off, done by its department, and an
    // inspection by the supervision office.
    step(
        SUPERVISION,
        args(&[
            "requests",
            "sub-task",
            id,
            "--department",
            HOUSING,
            "--due",
            &date_in_days(5),
            "--title",
            "路面材料采购",
        ]),
    )
    .await?;
    step(
        HOUSING,
        args(&["requests", "sub-task-done", id, "1", "--note", "已采购"]),
    )
    .await?;
    step(
        SUPERVISION,
        args(&[
            "requests",
            "inspect",
            id,
            "--visited-on",
            &date_in_days(0),
            "--findings",
            "施工进度正常",
        ]),
    )
    .await?;
    step(
        HOUSING,
        args(&["requests", "progress", id, "--note", "材料已到"]),
    )
    .await?;
    step(
        HOUSING,
        args(&["requests", "resolve", id, "--resolution", "道路已修复"]),
    )
    .await?;
    // 不满意: the confirmation reopens the request instead of closing it.
    step(
        UNIT,
        args(&[
            "requests",
            "close",
            id,
            "--rating",
            "dissatisfied",
            "--note",
            "排水未处理",
        ]),
    )
    .await?;
    step(
        SUPERVISION,
        args(&[
            "requests",
            "escalate",
            id,
            "--level",
            "district",
            "--reason",
            "reopened once",
            "--due",
            &date_in_days(10),
        ]),
    )
    .await?;
    let moved = date_in_days(15);
    step(
        SUPERVISION,
        args(&[
            "requests", "due-date", id, "--due", &moved, "--reason", "rain",
        ]),
    )
    .await?;
    step(
        HOUSING,
        args(&["requests", "resolve", id, "--resolution", "排水已处理"]),
    )
    .await?;

    // Close-out, then the same close again with the printed key: answered
    // from the log, nothing written twice.
    let (code, out) = clerk
        .sy(UNIT, &["requests", "close", id, "--rating", "satisfied"])
        .await?;
    assert_eq!(code, 0, "{out}");
    let closed = written(&out, "request").expect("a result line");
    assert_eq!(closed.version, 13, "thirteen steps, thirteen events: {out}");
    let key = printed_key(&out).expect("the fresh key is printed");
    let again = clerk
        .write(
            UNIT,
            "request",
            &[
                "requests",
                "close",
                id,
                "--rating",
                "satisfied",
                "--idempotency-key",
                &key,
            ],
        )
        .await?;
    assert!(again.replayed, "{again:?}");
    assert_eq!(
        (again.version, again.position),
        (closed.version, closed.position)
    );

    // The request as the projection has it once it applied the close.
    let position = closed.position.to_string();
    let shown = clerk
        .ok(UNIT, &["requests", "show", id, "--min-position", &position])
        .await?;
    assert!(shown.contains("closed 已销号"), "{shown}");
    assert!(shown.contains(HOUSING), "{shown}");
    assert!(shown.contains(&moved), "the moved due date: {shown}");
    assert!(shown.contains("district 区级督办"), "{shown}");
    // The same read as JSON, with the log's events: one object, the
    // answers as served.
    let json = clerk
        .ok(
            UNIT,
            &[
                "requests",
                "show",
                id,
                "--history",
                "--json",
                "--min-position",
                &position,
            ],
        )
        .await?;
    let value: serde_json::Value = serde_json::from_str(json.trim())?;
    let request = &value["request"]["request"];
    assert_eq!(request["id"], id, "{json}");
    assert_eq!(request["status"], "REQUEST_STATUS_CLOSED", "{json}");
    assert_eq!(request["department"], HOUSING, "{json}");
    assert_eq!(request["due_date"], moved.as_str(), "{json}");
    assert_eq!(
        value["history"]["events"].as_array().map(Vec::len),
        Some(13),
        "{json}"
    );

    // --json: one object on stdout with the result.
    let (code, out) = clerk
        .sy(
            UNIT,
            &[
                "requests",
                "submit",
                "--direction",
                "military-to-local",
                "--category",
                "medical",
                "--title",
                "体检",
                "--requester-name",
                "某部卫生队",
                "--area",
                AREA_CODE,
                "--idempotency-key",
                "json-submit-1",
                "--json",
            ],
        )
        .await?;
    assert_eq!(code, 0, "{out}");
    let json = out
        .lines()
        .find(|line| line.starts_with('{'))
        .expect("a JSON line");
    assert!(json.contains(r#""call":"SubmitRequest""#), "{json}");
    assert!(
        json.contains(r#""idempotency_key":"json-submit-1""#),
        "{json}"
    );
    assert!(json.contains(r#""version":1"#), "{json}");
    let second = json
        .split(r#""aggregate_id":""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("an aggregate id")
        .to_string();
    let rejected = clerk
        .write(
            BUREAU,
            "request",
            &["requests", "reject", &second, "--reason", "不属本区事权"],
        )
        .await?;
    // The rejected requests as a table, then as JSON (every page).
    let at = rejected.position.to_string();
    let rejected_list = [
        "requests",
        "list",
        "--status",
        "rejected",
        "--min-position",
        &at,
    ];
    let listed = clerk.ok(BUREAU, &rejected_list).await?;
    assert!(listed.contains(&second), "{listed}");
    assert!(!listed.contains(id), "only the rejected one: {listed}");
    let json = clerk
        .ok(BUREAU, &[&rejected_list[..], &["--all", "--json"]].concat())
        .await?;
    let value: serde_json::Value = serde_json::from_str(json.trim())?;
    let ids: Vec<&str> = value["requests"]
        .as_array()
        .map(|requests| requests.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, [second.as_str()], "{json}");
    assert_eq!(value["next_page_token"], "", "{json}");
    Ok(())
}

#[tokio::test]
async fn people_placements_and_stations_are_registered_and_shown_masked() -> anyhow::Result<()> {
    let sys = System::builder().secured().start().await?;
    let clerk = Clerk::new(&sys)?;

    // The veteran's personal fields from an owner-only TOML file, the rest
    // as flags.
    let veteran_number = fresh_id_number(30);
    let veteran = clerk
        .register(
            BUREAU,
            "veteran.toml",
            &format!(
                "name = \"王建国\"\nid_number = \"{veteran_number}\"\nphone = \"13812345678\"\n"
            ),
            &["--role", "veteran", "--area", AREA_CODE],
        )
        .await?;
    let placement = clerk
        .write(
            BUREAU,
            "placement",
            &[
                "placements",
                "register",
                "--person",
                &veteran.id,
                "--programme",
                "veteran",
                "--area",
                AREA_CODE,
                "--fast-lane",
            ],
        )
        .await?;
    clerk
        .write(
            BUREAU,
            "placement",
            &[
                "placements",
                "match",
                &placement.id,
                "--employer",
                "重庆某物流公司",
                "--post",
                "调度员",
            ],
        )
        .await?;
    clerk
        .write(
            BUREAU,
            "placement",
            &["placements", "on-duty", &placement.id],
        )
        .await?;
    let recommended = clerk
        .write(
            BUREAU,
            "placement",
            &[
                "placements",
                "talent-pool",
                &placement.id,
                "--community",
                AREA_CODE,
            ],
        )
        .await?;

    // A spouse on the allowance, whose placement is declined: her fields
    // piped in as JSON.
    let (code, out) = clerk
        .sy_fed(
            BUREAU,
            &[
                "person",
                "register",
                "--from-file",
                "-",
                "--role",
                "spouse",
                "--area",
                AREA_CODE,
                "--relation",
                "spouse-of",
                "--member-unit",
                UNIT,
            ],
            &format!(
                r#"{{"name": "李秀英", "id_number": "{}", "member_name": "张伟"}}"#,
                fresh_id_number(32)
            ),
        )
        .await?;
    assert_eq!(code, 0, "{out}");
    let spouse = written(&out, "person").expect("a result line");
    let spouse_placement = clerk
        .write(
            BUREAU,
            "placement",
            &[
                "placements",
                "register",
                "--person",
                &spouse.id,
                "--programme",
                "spouse",
                "--area",
                AREA_CODE,
            ],
        )
        .await?;
    clerk
        .write(
            BUREAU,
            "placement",
            &[
                "placements",
                "decline",
                &spouse_placement.id,
                "--reason",
                "本人暂不就业",
            ],
        )
        .await?;
    clerk
        .write(
            BUREAU,
            "person",
            &[
                "person",
                "training",
                "--person",
                &spouse.id,
                "--course",
                "电子商务运营",
                "--hours",
                "40",
                "--completed",
                &date_in_days(-3),
            ],
        )
        .await?;
    let month = &date_in_days(0)[..7];
    clerk
        .write(
            BUREAU,
            "person",
            &[
                "allowance",
                "grant",
                "--person",
                &spouse.id,
                "--monthly-yuan",
                "2100",
                "--from",
                month,
            ],
        )
        .await?;
    let paid = clerk
        .write(
            BUREAU,
            "person",
            &["allowance", "pay", "--person", &spouse.id, "--month", month],
        )
        .await?;

    // A care station with one seat: the first child seated, the second waits.
    let station = clerk
        .write(
            BUREAU,
            "station",
            &[
                "stations",
                "open",
                "--name",
                "军娃托管站（童家桥）",
                "--seats",
                "1",
                "--hours",
                "08:00-18:00",
                "--area",
                AREA_CODE,
                "--address",
                "童家桥社区服务中心二楼",
            ],
        )
        .await?;
    let mut children = Vec::new();
    for name in ["张小明", "张小红"] {
        // Everything in the file.
        let child = clerk
            .register(
                BUREAU,
                &format!("{name}.toml"),
                &format!(
                    "role = \"child\"\narea = \"{AREA_CODE}\"\nname = \"{name}\"\n\
                     id_number = \"{}\"\nrelation = \"child-of\"\nmember_name = \"张伟\"\n\
                     member_unit = \"{UNIT}\"\n",
                    fresh_id_number(6)
                ),
                &[],
            )
            .await?;
        clerk
            .write(
                BUREAU,
                "station",
                &["stations", "enroll", &station.id, "--child", &child.id],
            )
            .await?;
        children.push(child.id);
    }
    let seats = clerk
        .write(
            BUREAU,
            "station",
            &["stations", "seats", &station.id, "--seats", "2"],
        )
        .await?;

    // The person, masked: name, ID number and phone never in the clear.
    let at = |w: &Written| w.position.to_string();
    let shown = clerk
        .ok(
            BUREAU,
            &[
                "person",
                "show",
                &veteran.id,
                "--min-position",
                &at(&recommended),
            ],
        )
        .await?;
    let last4 = &veteran_number[14..];
    assert!(
        shown.contains(&format!("**************{last4}")),
        "the masked ID number: {shown}"
    );
    assert!(shown.contains("*******5678"), "the masked phone: {shown}");
    assert!(shown.contains("王*"), "the masked name: {shown}");
    for clear in [veteran_number.as_str(), "王建国", "13812345678"] {
        assert!(!shown.contains(clear), "{clear} in the clear: {shown}");
    }
    assert!(shown.contains(&placement.id), "{shown}");
    assert!(shown.contains("on_duty"), "{shown}");
    assert!(shown.contains("重庆某物流公司 调度员"), "{shown}");
    let json = clerk
        .ok(
            BUREAU,
            &[
                "person",
                "show",
                &veteran.id,
                "--json",
                "--min-position",
                &at(&recommended),
            ],
        )
        .await?;
    assert!(
        json.contains(&format!(r#""id_number":"**************{last4}""#)),
        "{json}"
    );
    assert!(!json.contains(&veteran_number), "{json}");

    let spouse_shown = clerk
        .ok(
            BUREAU,
            &["person", "show", &spouse.id, "--min-position", &at(&paid)],
        )
        .await?;
    assert!(spouse_shown.contains("李*"), "{spouse_shown}");
    assert!(spouse_shown.contains("spouse of 张*"), "{spouse_shown}");
    assert!(!spouse_shown.contains("李秀英"), "{spouse_shown}");
    assert!(!spouse_shown.contains("张伟"), "{spouse_shown}");
    assert!(spouse_shown.contains("declined"), "{spouse_shown}");
    // The course is free text about her: sealed, left out of the masked view.
    assert!(
        spouse_shown.contains(&format!("- (40 h, {})", date_in_days(-3))),
        "{spouse_shown}"
    );
    assert!(!spouse_shown.contains("电子商务运营"), "{spouse_shown}");
    assert!(
        spouse_shown.contains("2,100 yuan a month, 1 months paid (2,100 yuan"),
        "{spouse_shown}"
    );

    // Placements of the area, one row each.
    let listed = clerk
        .ok(
            BUREAU,
            &[
                "placements",
                "list",
                "--area",
                AREA_CODE,
                "--min-position",
                &at(&paid),
            ],
        )
        .await?;
    let row = |id: &str| {
        listed
            .lines()
            .find(|line| line.contains(id))
            .unwrap_or_else(|| panic!("no row for {id}:\n{listed}"))
            .to_string()
    };
    assert!(row(&placement.id).contains("on_duty"), "{listed}");
    assert!(row(&placement.id).contains("(fast lane)"), "{listed}");
    assert!(row(&spouse_placement.id).contains("declined"), "{listed}");
    assert!(listed.contains("2 placements"), "{listed}");

    // Statistics of the district, its street below it.
    let stats = clerk
        .ok(
            BUREAU,
            &[
                "placements",
                "stats",
                "--area",
                "500106000000",
                "--min-position",
                &at(&paid),
            ],
        )
        .await?;
    assert!(
        stats.contains("placement statistics of 500106000000"),
        "{stats}"
    );
    let veterans = stats
        .lines()
        .find(|line| line.contains("veteran resettlement"))
        .unwrap_or_else(|| panic!("no veterans row:\n{stats}"));
    let cells: Vec<&str> = veterans.split(['│', '┆']).map(str::trim).collect();
    assert!(cells.len() > 5, "{stats}");
    assert_eq!(
        &cells[2..5],
        &["1", "1", "100.0%"],
        "one registered, one placed: {veterans}"
    );
    assert_eq!(cells[9], "1", "one into the talent pool: {veterans}");
    assert!(stats.contains("1 spouses granted, 1 active"), "{stats}");
    assert!(stats.contains(&AREA_CODE[..9]), "the street row: {stats}");

    // The station: the second child moved from the waitlist to the new seat.
    let station_shown = clerk
        .ok(
            BUREAU,
            &[
                "stations",
                "show",
                &station.id,
                "--min-position",
                &at(&seats),
            ],
        )
        .await?;
    assert!(
        station_shown.contains("2 (2 taken, 0 free)"),
        "{station_shown}"
    );
    for child in &children {
        let line = station_shown
            .lines()
            .find(|line| line.contains(child.as_str()))
            .unwrap_or_else(|| panic!("no row for {child}:\n{station_shown}"));
        assert!(line.contains("seated"), "{station_shown}");
    }
    let stations = clerk
        .ok(
            BUREAU,
            &[
                "stations",
                "list",
                "--area",
                AREA_CODE,
                "--min-position",
                &at(&seats),
            ],
        )
        .await?;
    assert!(stations.contains(&station.id), "{stations}");
    assert!(stations.contains("1 stations"), "{stations}");
    Ok(())
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_with_a_non_zero_exit() -> anyhow::Result<()> {
    let sys = System::builder().secured().start().await?;
    let clerk = Clerk::new(&sys)?;

    // Not a day: refused before any call, naming the flag.
    let (code, out) = clerk
        .sy(
            BUREAU,
            &[
                "requests",
                "assign",
                "0190c9a8-0000-7000-8000-000000000000",
                "--department",
                HOUSING,
                "--due",
                "2027-02-30",
            ],
        )
        .await?;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--due"), "{out}");
    assert!(out.contains("YYYY-MM-DD"), "{out}");

    // A real day in the past: intake refuses it, naming `due_date`.
    let submitted = clerk
        .write(
            UNIT,
            "request",
            &[
                "requests",
                "submit",
                "--direction",
                "military-to-local",
                "--category",
                "other",
                "--title",
                "双拥共建",
                "--requester-name",
                "某部政治工作处",
                "--area",
                AREA_CODE,
            ],
        )
        .await?;
    let (code, out) = clerk
        .sy(
            BUREAU,
            &[
                "requests",
                "assign",
                &submitted.id,
                "--department",
                HOUSING,
                "--due",
                "2020-01-10",
            ],
        )
        .await?;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("AssignRequest failed: INVALID_ARGUMENT"),
        "{out}"
    );
    assert!(out.contains("field due_date:"), "{out}");

    // An ID number whose check character is wrong, named by intake.
    let mut bad_number = fresh_id_number(40);
    let check = if bad_number.ends_with('0') { "1" } else { "0" };
    bad_number.replace_range(17.., check);
    let bad_file = clerk.person_file(
        "bad.toml",
        &format!("name = \"赵四\"\nid_number = \"{bad_number}\"\n"),
    )?;
    // `sy person register --from-file FILE --role veteran --area .. MORE`.
    let register = |file: &str, more: &[&str]| -> Vec<String> {
        ["person", "register", "--from-file", file]
            .into_iter()
            .chain(["--role", "veteran", "--area", AREA_CODE])
            .chain(more.iter().copied())
            .map(str::to_string)
            .collect()
    };
    let (code, out) = clerk.sy(BUREAU, &strs(&register(&bad_file, &[]))).await?;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("field id_number:"), "{out}");

    // The ID number as a flag: refused before any call, naming the flag
    // and where the number goes instead, without echoing it.
    let number = fresh_id_number(41);
    let line = register("-", &["--id-number", &number]);
    let (code, out) = clerk.sy(BUREAU, &strs(&line)).await?;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--id-number is refused"), "{out}");
    assert!(
        out.contains("`id_number`") && out.contains("--from-file"),
        "{out}"
    );
    assert!(!out.contains(&number), "the number echoed: {out}");
    // A file group or others may read, and a file without the number.
    let open_file = clerk.person_file(
        "open.toml",
        &format!("name = \"赵四\"\nid_number = \"{number}\"\n"),
    )?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&open_file, std::fs::Permissions::from_mode(0o644))?;
    }
    let (code, out) = clerk.sy(BUREAU, &strs(&register(&open_file, &[]))).await?;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("chmod 600"), "{out}");
    assert!(!out.contains(&number), "{out}");
    let (code, out) = clerk
        .sy_fed(BUREAU, &strs(&register("-", &[])), "name = \"赵四\"\n")
        .await?;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("`id_number` is missing"), "{out}");

    // Not a month, and not an amount: usage errors naming their flags.
    let (code, out) = clerk
        .sy(
            BUREAU,
            &["allowance", "pay", "--person", "p", "--month", "2026-13"],
        )
        .await?;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--month"), "{out}");
    let (code, out) = clerk
        .sy(
            BUREAU,
            &[
                "allowance",
                "grant",
                "--person",
                "p",
                "--monthly-yuan",
                "2100.555",
                "--from",
                "2026-01",
            ],
        )
        .await?;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--monthly-yuan"), "{out}");
    Ok(())
}

#[tokio::test]
async fn the_coordinating_office_drafts_publishes_and_shows_a_double_list_with_sy()
-> anyhow::Result<()> {
    let sys = System::builder().secured().start().await?;
    let clerk = Clerk::new(&sys)?;
    let year = date_in_days(0)[..4].to_string();
    let submitted = clerk
        .write(
            UNIT,
            "request",
            &[
                "requests",
                "submit",
                "--direction",
                "military-to-local",
                "--category",
                "other",
                "--title",
                "营区道路维修",
                "--requester-name",
                "某部营房科",
                "--area",
                AREA_CODE,
            ],
        )
        .await?;
    let list = |verb: &'static str| {
        vec![
            "lists",
            verb,
            "--year",
            year.as_str(),
            "--direction",
            "military-to-local",
        ]
    };
    let mut add = list("add");
    add.extend(["--request", submitted.id.as_str(), "--note", "年度重点"]);
    let added = clerk.write(BUREAU, "double-list", &add).await?;
    assert_eq!(added.version, 1);
    // Only the coordinating office drafts it.
    let (code, out) = clerk.sy(UNIT, &add).await?;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("coordinator"), "{out}");
    let published = clerk.write(BUREAU, "double-list", &list("publish")).await?;
    assert_eq!(published.version, 2);
    let (code, out) = clerk.sy(BUREAU, &add).await?;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("is published"), "{out}");

    let position = published.position.to_string();
    let mut show = list("show");
    show.extend(["--min-position", position.as_str()]);
    let out = clerk.ok(BUREAU, &show).await?;
    assert!(
        out.contains("1 items, 0 closed, 1 open, 0 overdue, 0 awaiting confirmation"),
        "{out}"
    );
    assert!(
        out.contains(&submitted.id) && out.contains("年度重点"),
        "{out}"
    );
    assert!(out.contains("published"), "{out}");
    Ok(())
}

#[tokio::test]
async fn the_demo_drafts_the_years_double_lists_once() -> anyhow::Result<()> {
    let sys = System::builder().secured().start().await?;
    let clerk = Clerk::new(&sys)?;
    let year = date_in_days(0)[..4].to_string();
    let demo = ["demo", "--seed", "5", "--count", "12"];
    let first = clerk.ok(BUREAU, &demo).await?;
    for direction in ["military-to-local", "local-to-military"] {
        let out = clerk
            .ok(
                BUREAU,
                &[
                    "lists",
                    "show",
                    "--year",
                    &year,
                    "--direction",
                    direction,
                    "--min-position",
                    &sys.log_position().await?.to_string(),
                ],
            )
            .await?;
        assert!(out.contains("draft 草稿"), "{out}");
        assert!(out.contains(": 3 items"), "{direction}: {out}");
    }
    assert_eq!(
        first.matches("(draft): 3 added, 0 already on it").count(),
        2,
        "{first}"
    );

    // Again: every request answered from the log, nothing added twice.
    let position = sys.log_position().await?;
    let again = clerk.ok(BUREAU, &demo).await?;
    assert_eq!(
        again.matches("(draft): 0 added, 3 already on it").count(),
        2,
        "{again}"
    );
    assert_eq!(
        sys.log_position().await?,
        position,
        "the rerun wrote nothing"
    );
    Ok(())
}
