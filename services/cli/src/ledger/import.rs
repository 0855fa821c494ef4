//! `sy ledger import`: files the requests of an XLSX ledger, all or nothing
//! at the checking stage: every row is checked first ([`super::rows`]), every
//! problem is reported with its row and column, and a ledger with any bad
//! row writes nothing.
//!
//! A good ledger is sent as the demos' scripts are ([`crate::load`]): each
//! row's submission in bulk (SubmitRequests), then its assignment, each
//! keyed by the row's 编号, so a re-import (or a retry after a failure
//! halfway) is answered from the log and writes nothing new.

use std::collections::HashMap;

use sy_api::pb;
use sy_api::policy::Policy;
use sy_domain::command_meta::ParseEnv;

use super::export::LEDGER_SHEET;
use super::rows::{Checker, Layout, Planned, Problem};
use super::sheet::{self, Sheet};
use crate::args::LedgerImportArgs;
use crate::commands::Cmd;
use crate::error::Error;
use crate::load::{self, Step, Totals};
use crate::rpc::Endpoints;

/// Rows sent at a time (each one's steps in order).
const CONCURRENCY: usize = 16;

/// Checks the ledger at `args.file`, then files it as `actor`.
pub async fn run(
    endpoints: &Endpoints,
    actor: &pb::Actor,
    args: &LedgerImportArgs,
) -> Result<(), Error> {
    let policy = std::fs::read_to_string(&args.policy_file)
        .map_err(Error::io(format!(
            "cannot read {}",
            args.policy_file.display()
        )))
        .and_then(|text| {
            Policy::parse(&text)
                .map_err(|reason| Error::Usage(format!("{}: {reason}", args.policy_file.display())))
        })?;
    let sheet = sheet::read_xlsx(&args.file, LEDGER_SHEET)?;
    let checker = Checker {
        env: ParseEnv {
            districts: args.districts.clone(),
            // Only registering a person derives ids from it; no ledger
            // command does.
            identity_key: [0; 32],
        },
        actor,
        policy: &policy,
        now: jiff::Timestamp::now(),
    };
    let planned = match check_all(&checker, &sheet) {
        Ok(planned) => planned,
        Err(problems) => {
            for problem in &problems {
                say!("{problem}");
            }
            let rows = {
                let mut rows: Vec<u32> = problems.iter().map(|p| p.row).collect();
                rows.dedup();
                rows.len()
            };
            return Err(Error::Failed(format!(
                "{} problems in {rows} rows of {}; nothing was written",
                problems.len(),
                args.file.display()
            )));
        }
    };
    if args.dry_run {
        say!(
            "{} rows are good; nothing written (--dry-run)",
            planned.len()
        );
        return Ok(());
    }
    write(endpoints, actor, &planned).await
}

/// Every row's commands, or every problem of every row (rows in order).
pub fn check_all(checker: &Checker<'_>, sheet: &Sheet) -> Result<Vec<Planned>, Vec<Problem>> {
    let layout = Layout::of(&sheet.header)?;
    let mut planned = Vec::with_capacity(sheet.rows.len());
    let mut problems = Vec::new();
    let mut keys: HashMap<String, u32> = HashMap::new();
    for (row, cells) in &sheet.rows {
        match checker.check(&layout, *row, cells) {
            Ok(good) => {
                let key = good
                    .submit
                    .context
                    .as_ref()
                    .map(|c| c.idempotency_key.clone())
                    .unwrap_or_default();
                match keys.get(&key) {
                    Some(first) => problems.push(Problem {
                        row: *row,
                        column: super::columns::Column::Key.header().into(),
                        reason: format!("repeats the key of row {first}"),
                    }),
                    None => {
                        keys.insert(key, *row);
                        planned.push(good);
                    }
                }
            }
            Err(bad) => problems.extend(bad),
        }
    }
    if problems.is_empty() {
        Ok(planned)
    } else {
        Err(problems)
    }
}

/// Sends every row's commands, a bulk call's worth at a time, with a bar.
async fn write(endpoints: &Endpoints, actor: &pb::Actor, planned: &[Planned]) -> Result<(), Error> {
    let scripts: Vec<Vec<Step>> = planned
        .iter()
        .map(|row| {
            let submit = Step::new(actor.clone(), Cmd::Submit(row.submit.clone()));
            let assign = row
                .assign
                .as_ref()
                .map(|a| Step::new(actor.clone(), Cmd::Assign(a.clone())));
            std::iter::once(submit).chain(assign).collect()
        })
        .collect();
    let clients = endpoints.intake().await?;
    let bar = crate::log::progress(scripts.len() as u64, "importing rows");
    let mut sent = Vec::with_capacity(scripts.len());
    for chunk in scripts.chunks(load::BATCH) {
        let scripts = chunk.iter().map(Vec::as_slice);
        sent.extend(load::send_all(&clients, scripts, &HashMap::new(), CONCURRENCY).await);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    for (row, sent) in planned.iter().zip(&sent) {
        if let Some(err) = &sent.error {
            say!("row {}: {err}", row.row);
        }
    }
    let totals = Totals::of(&sent);
    say!(
        "imported {} rows as {}/{}: {} commands written, {} replayed (imported before), {} kept; position {}",
        planned.len(),
        actor.agency,
        actor.user,
        totals.written,
        totals.replayed,
        totals.kept,
        totals.max_position
    );
    if totals.failed > 0 {
        return Err(Error::Failed(format!(
            "{} of {} rows failed (see above); importing again retries them and writes nothing twice",
            totals.failed,
            planned.len()
        )));
    }
    Ok(())
}
