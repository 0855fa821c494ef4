//! `sy`, the operator's and auditor's command line: loads demo data, walks a
//! request through its lifecycle, prints the close-out board and requests,
//! checks service health, and audits the event log.
//!
//! Layout: `args` declares the command line; `rpc` connects (both intake
//! services over one channel), carries the actor headers and retries reads;
//! `commands` is the one command tree of
//! intake (requests and placement programmes alike) and sends a command;
//! `load` sends scripts of commands and totals what was written. The demos
//! are scripts over those: `demo` (support requests, then a few of them on
//! the year's draft double lists), `placements` (the
//! placement programmes, `sy demo placements`) and `walkthrough`, with their
//! data in `data/*.toml`, read by `catalogue`. `render` makes every table;
//! `summary` says what a demo load did; `error` reports failed calls with their gRPC details and
//! picks the exit code. `main.rs` only parses the arguments and calls [`run`].
//!
//! Audit commands, one module each: `export`, `verify`, `history` and
//! `as_of` read the log straight from JetStream through `log` (connection,
//! progress bars; ranges are [`sy_eventlog::Range`]) and share the export
//! format in `record` (payloads as JSON by their protobuf descriptors); the
//! checks themselves are `sy_domain::audit`'s; `access` reads the access
//! log beside it the same way. `backup` writes the whole log (events, key
//! store, access log) into one file and restores it into an empty server.
//! `status`, `quarantine` and `rebuild` ask a projection replica.
//!
//! The clerk's verbs, in `verbs`: every step of a request's lifecycle, and
//! the placement programmes' commands (people, placements, allowances, care
//! stations) and reads (a masked person, lists, statistics by area), each
//! one command sent once with its idempotency key.
//!
//! Keys and personal data: `setup` writes a deployment's secrets, `kek`
//! makes and rotates the key-encryption key file and rewraps the key store;
//! `sy person erase|hold|release` (in `verbs`) erase a person or hold them
//! from erasure.
//! `migrate` copies a log written before personal data was sealed into a
//! new, sealed one.
//!
//! Ledgers: `ledger` exports the request ledger (台账) and the board as
//! CSV or XLSX and imports requests from an XLSX ledger, every row checked
//! before anything is written.
//!
//! Fault campaigns: `soak` keeps a steady, retrying load of the demo's
//! submissions and reads on the services while a script injects faults, and
//! checks the log against what was acknowledged.
#![forbid(unsafe_code)]
#![allow(
    missing_docs,
    reason = "this library exists only for the `sy` binary and its tests, not as an API; \
              doc comments on its clap structs would become `--help` text"
)]

/// `println!` that tolerates a closed stdout (`sy board | head`): output is
/// best effort, a broken pipe must not panic.
macro_rules! say {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that tolerates a closed stdout.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

pub mod access;
pub mod args;
pub mod as_of;
pub mod backup;
pub mod catalogue;
pub mod commands;
pub mod demo;
pub mod error;
pub mod export;
pub mod history;
pub mod kek;
pub mod ledger;
pub mod load;
pub mod log;
pub mod migrate;
pub mod placements;
pub mod quarantine;
pub mod rebuild;
pub mod record;
pub mod render;
pub mod rpc;
pub mod setup;
pub mod soak;
pub mod status;
pub mod summary;
pub mod verbs;
pub mod verify;
pub mod walkthrough;

use std::time::Duration;

use sy_api::pb;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use args::{
    BoardArgs, Cli, Command, DemoArgs, DemoScenario, HealthArgs, ListArgs, PlacementsDemoArgs,
    RequestsCommand, ShowArgs, WalkthroughScenario,
};
pub use error::Error;
use load::Totals;
use rpc::{Endpoints, Retry, read_with, read_with_retry};

/// Runs one parsed command line to completion.
pub async fn run(cli: Cli) -> Result<(), Error> {
    rpc::use_credentials(
        cli.token_file.as_deref(),
        cli.credentials_dir.as_deref(),
        &cli.agency,
    )?;
    rpc::use_tls(cli.ca.as_deref(), cli.cert.as_deref(), cli.key.as_deref())?;
    let endpoints = Endpoints {
        intake_url: cli.intake_url.clone(),
        query_url: cli.query_url.clone(),
        timeout: Duration::from_millis(cli.timeout_ms.max(1)),
    };
    match cli.command {
        Command::Demo(demo) => {
            let coordinator = rpc::actor(&cli.agency, &cli.user)?;
            match &demo.scenario {
                Some(DemoScenario::Placements(args)) => {
                    run_placements_demo(&endpoints, &coordinator, args).await
                }
                None => run_demo(&endpoints, &coordinator, &demo).await,
            }
        }
        Command::Walkthrough(args) => {
            let coordinator = rpc::actor(&cli.agency, &cli.user)?;
            match &args.scenario {
                Some(WalkthroughScenario::Supervision(args)) => {
                    walkthrough::supervision::run(&endpoints, &coordinator, args).await
                }
                None => {
                    let mut intake = endpoints.intake().await?;
                    let mut query = endpoints.query().await?;
                    walkthrough::run(&mut intake, &mut query, &coordinator).await
                }
            }
        }
        Command::Board(board) => run_board(&endpoints, &board).await,
        Command::Requests {
            command: RequestsCommand::List(list),
        } => run_list(&endpoints, &list).await,
        Command::Requests {
            command: RequestsCommand::Show(show),
        } => run_show(&endpoints, &show).await,
        Command::Requests {
            command: RequestsCommand::Step(step),
        } => verbs::requests(&endpoints, &rpc::actor(&cli.agency, &cli.user)?, &step).await,
        Command::Ledger { command } => {
            let operator = rpc::actor(&cli.agency, &cli.user)?;
            ledger::run(&endpoints, &operator, &command).await
        }
        Command::Health(health) => run_health(&health, endpoints.timeout).await,
        Command::Export(export) => export::run(&export, endpoints.timeout).await,
        Command::Verify(verify) => verify::run(&verify, endpoints.timeout).await,
        Command::Backup(backup) => backup::run_backup(&backup, endpoints.timeout).await,
        Command::Restore(restore) => backup::run_restore(&restore, endpoints.timeout).await,
        Command::History(history) => history::run(&history, endpoints.timeout).await,
        Command::Access(access) => access::run(&access, endpoints.timeout).await,
        Command::AsOf(as_of) => as_of::run(&as_of, endpoints.timeout).await,
        Command::Status(status) => status::run(&endpoints, &status).await,
        Command::Quarantine(quarantine) => quarantine::run(&endpoints, &quarantine).await,
        Command::Rebuild => {
            let operator = rpc::actor(&cli.agency, &cli.user)?;
            rebuild::run(&endpoints, &operator).await
        }
        Command::Token {
            command: args::TokenCommand::New,
        } => new_token(&cli.agency, &cli.user),
        Command::Setup(setup) => setup::run(&setup),
        Command::Migrate(migrate) => migrate::run(&migrate, endpoints.timeout).await,
        Command::Keys { command } => match command {
            args::KeysCommand::New(keys) => new_signing_key(&keys),
            args::KeysCommand::NewKek(new) => kek::new_kek(&new),
            args::KeysCommand::RotateKek(rotate) => kek::rotate_kek(&rotate),
            args::KeysCommand::Rewrap(rewrap) => kek::rewrap(&rewrap, endpoints.timeout).await,
        },
        Command::Person { command } => {
            let operator = rpc::actor(&cli.agency, &cli.user)?;
            verbs::person(&endpoints, &operator, &command).await
        }
        Command::Placements { command } => {
            let operator = rpc::actor(&cli.agency, &cli.user)?;
            verbs::placements(&endpoints, &operator, &command).await
        }
        Command::Allowance { command } => {
            let operator = rpc::actor(&cli.agency, &cli.user)?;
            verbs::allowance(&endpoints, &operator, &command).await
        }
        Command::Notifications { command } => {
            let actor = rpc::actor(&cli.agency, &cli.user)?;
            verbs::notifications(&endpoints, &actor, &command).await
        }
        Command::Stations { command } => {
            let operator = rpc::actor(&cli.agency, &cli.user)?;
            verbs::stations(&endpoints, &operator, &command).await
        }
        Command::Lists { command } => {
            let operator = rpc::actor(&cli.agency, &cli.user)?;
            verbs::lists(&endpoints, &operator, &command).await
        }
        Command::Soak { command } => match command {
            args::SoakCommand::Run(soak) => {
                let coordinator = rpc::actor(&cli.agency, &cli.user)?;
                soak::run::run(&soak, &endpoints, &coordinator).await
            }
            args::SoakCommand::Check(check) => soak::check::run(&check, endpoints.timeout).await,
        },
    }
}

/// Writes a new event signing key and prints its public line.
fn new_signing_key(args: &args::KeysArgs) -> Result<(), Error> {
    let made = sy_api::event_keys::new_signing_key(&args.id, &args.out)
        .map_err(|err| Error::Failed(err.to_string()))?;
    say!(
        "signing key (owner-only; intake --signing-key-file): {}",
        made.path.display()
    );
    say!("verify keys file line: {}", made.public_line);
    Ok(())
}

/// A fresh bearer token: `sy_` and two random UUIDs (244 random bits).
pub fn new_token_value() -> String {
    format!(
        "sy_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Prints a fresh token for `user` of `agency`, and its tokens-file line.
fn new_token(agency: &str, user: &str) -> Result<(), Error> {
    let holder = rpc::actor(agency, user)?;
    let token = new_token_value();
    say!("token (give to the agency's system; shown once): {token}");
    say!(
        "tokens-file line: {} {} {}",
        sy_api::identity::token_hash(&token),
        holder.agency,
        holder.user
    );
    Ok(())
}

async fn run_demo(
    endpoints: &Endpoints,
    coordinator: &pb::Actor,
    args: &DemoArgs,
) -> Result<(), Error> {
    let intake = endpoints.intake().await?;
    let now = jiff::Timestamp::now();
    let scripts = demo::plan(args.seed, args.count, now, coordinator);
    say!(
        "loading demo seed {} ({} requests) into {} as the parties of each request; coordinator {}/{}",
        args.seed,
        args.count,
        endpoints.intake_url,
        coordinator.agency,
        coordinator.user
    );
    let loaded = demo::load(&intake, scripts, args.concurrency as usize).await;
    say_raw!("{}", summary::requests_summary(args.seed, &loaded));
    let totals = demo::totals(&loaded);

    let year = i32::from(sy_domain::validate::china_date(now).year());
    let items = demo::lists::choose(&loaded);
    let drafted = demo::lists::draft(
        endpoints,
        coordinator,
        args.seed,
        year,
        &items,
        totals.max_position,
    )
    .await?;
    say!();
    say_raw!("{}", summary::lists_summary(&drafted));

    let mut query = endpoints.query().await?;
    let board = rpc::clearance_board(&mut query, String::new(), totals.max_position).await?;
    say!("\n{}", render::board(&board));
    if totals.failed > 0 {
        let first = loaded
            .iter()
            .find_map(|l| {
                l.sent
                    .error
                    .as_ref()
                    .map(|e| format!("request {}: {e}", l.index))
            })
            .unwrap_or_default();
        return Err(Error::Failed(format!(
            "{} of {} demo requests failed; first: {first}",
            totals.failed, totals.scripts
        )));
    }
    let unlisted: usize = drafted.iter().map(|list| list.failed.len()).sum();
    if unlisted > 0 {
        return Err(Error::Failed(format!(
            "{unlisted} of {} requests could not be put on the double lists (see above)",
            items.len()
        )));
    }
    Ok(())
}

async fn run_placements_demo(
    endpoints: &Endpoints,
    operator: &pb::Actor,
    args: &PlacementsDemoArgs,
) -> Result<(), Error> {
    let intake = endpoints.intake().await?;
    let now = jiff::Timestamp::now();
    let scenario = placements::plan(args.seed, args.scale, now, operator);
    let commands: usize = scenario
        .people
        .iter()
        .chain(&scenario.stations)
        .map(|t| t.steps.len())
        .sum();
    say!(
        "loading placements demo seed {} (scale 1/{}: {} people, {} stations, {commands} commands) into {} as {}/{} ({} for school decisions), {} at a time",
        args.seed,
        args.scale,
        scenario.people.len(),
        scenario.stations.len(),
        endpoints.intake_url,
        operator.agency,
        operator.user,
        placements::EDUCATION_AGENCY,
        args.concurrency
    );
    let started = std::time::Instant::now();
    let loaded = placements::load(&intake, &scenario, args.concurrency as usize).await;
    let totals = Totals::of(loaded.iter().map(|l| &l.sent));
    say_raw!("{}", summary::placements_summary(&scenario, &loaded));
    say!("loaded in {:.1} s", started.elapsed().as_secs_f64());

    let mut query = endpoints.placement_query().await?;
    let stats = read_with(Retry::CATCH_UP, "GetPlacementStats", async || {
        query
            .get_placement_stats(pb::GetPlacementStatsRequest {
                area_code: placements::people::DISTRICT_AREA.to_string(),
                year: i32::from(scenario.year),
                min_position: totals.max_position,
            })
            .await
    })
    .await?;
    say!("\n{}", render::stats_text(&stats));
    if totals.failed > 0 {
        return Err(Error::Failed(format!(
            "{} of {} people and stations failed (see above)",
            totals.failed, totals.scripts
        )));
    }
    Ok(())
}

async fn run_board(endpoints: &Endpoints, args: &BoardArgs) -> Result<(), Error> {
    let mut query = endpoints.query().await?;
    let request = pb::GetClearanceBoardRequest {
        as_of: args.as_of.clone().unwrap_or_default(),
        min_position: args.min_position,
        year: args.year.unwrap_or_default(),
        from: args.from.clone().unwrap_or_default(),
        to: args.to.clone().unwrap_or_default(),
        area: args.area.clone().unwrap_or_default(),
        requester: args.requester.clone().unwrap_or_default(),
        direction: args.direction.map_or(0, |d| pb::Direction::from(d) as i32),
    };
    let board = rpc::filtered_board(&mut query, request).await?;
    say_raw!("{}", render::board(&board));
    Ok(())
}

async fn run_list(endpoints: &Endpoints, args: &ListArgs) -> Result<(), Error> {
    let mut query = endpoints.query().await?;
    let mut request = pb::ListRequestsRequest {
        status: args.status.map_or(0, |s| pb::RequestStatus::from(s) as i32),
        direction: args.direction.map_or(0, |d| pb::Direction::from(d) as i32),
        category: args.category.map_or(0, |c| pb::Category::from(c) as i32),
        department: args.department.clone().unwrap_or_default(),
        supervision_level: args
            .level
            .map_or(0, |l| pb::SupervisionLevel::from(l) as i32),
        area_code: args.area.clone().unwrap_or_default(),
        overdue_as_of: args.overdue_as_of.clone().unwrap_or_default(),
        page_size: args.page_size,
        page_token: args.page_token.clone().unwrap_or_default(),
        min_position: args.read.min_position,
    };
    // With --all, the pages as one answer: every request, the last page's
    // token (empty) and position.
    let mut listed = pb::ListRequestsResponse::default();
    loop {
        let page = read_with_retry("ListRequests", async || {
            query.list_requests(request.clone()).await
        })
        .await?;
        listed.requests.extend(page.requests);
        listed.next_page_token = page.next_page_token;
        listed.position = page.position;
        if !args.all || listed.next_page_token.is_empty() {
            break;
        }
        request.page_token = listed.next_page_token.clone();
    }
    verbs::answer(&args.read, &listed, || {
        let mut text = format!(
            "{}\n{} requests (position {})",
            render::request_list(&listed.requests),
            listed.requests.len(),
            listed.position
        );
        if !listed.next_page_token.is_empty() {
            text.push_str(&format!(
                "\nmore: --page-token {}   (or --all)",
                listed.next_page_token
            ));
        }
        Ok(text)
    })
}

async fn run_show(endpoints: &Endpoints, args: &ShowArgs) -> Result<(), Error> {
    let mut query = endpoints.query().await?;
    let got = read_with_retry("GetRequest", async || {
        query
            .get_request(pb::GetRequestRequest {
                id: args.id.clone(),
                min_position: args.read.min_position,
            })
            .await
    })
    .await?;
    let request = got
        .request
        .as_ref()
        .ok_or_else(|| Error::Failed("GetRequest answered without a request".into()))?;
    let history = if args.history {
        let history = query
            .get_request_history(pb::GetRequestHistoryRequest {
                id: args.id.clone(),
            })
            .await
            .map_err(Error::rpc("GetRequestHistory"))?
            .into_inner();
        Some(history)
    } else {
        None
    };
    if args.read.json {
        match &history {
            // One object, so the output stays one JSON value.
            Some(history) => say!(
                r#"{{"request":{},"history":{}}}"#,
                verbs::json_of(&got)?,
                verbs::json_of(history)?
            ),
            None => say!("{}", verbs::json_of(&got)?),
        }
        return Ok(());
    }
    say!("{}", render::request_fields(request));
    say_raw!(
        "{}",
        render::breakdown(
            request,
            sy_domain::validate::china_date(jiff::Timestamp::now())
        )
    );
    say!("{}", render::timeline(&request.timeline));
    say!("(position {})", got.position);
    if let Some(history) = &history {
        say_raw!("{}", walkthrough::history_text(history));
    }
    Ok(())
}

async fn run_health(args: &HealthArgs, timeout: Duration) -> Result<(), Error> {
    let channel = rpc::connect(&args.url, timeout).await?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: args.service.clone(),
        })
        .await
        .map_err(Error::rpc("Health.Check"))?
        .into_inner();
    let status = ServingStatus::try_from(response.status).unwrap_or(ServingStatus::Unknown);
    let name = if args.service.is_empty() {
        "(server)"
    } else {
        &args.service
    };
    say!("{} {name}: {}", args.url, status.as_str_name());
    if status == ServingStatus::Serving {
        Ok(())
    } else {
        Err(Error::Failed(format!("{name} is {}", status.as_str_name())))
    }
}
