//! The clerk's verbs: one `sy` command per intake command an office clerk
//! sends (the request lifecycle, people, placements, allowances, care
//! stations, webhook subscriptions) and per read of the placement
//! registries, and an agency's notifications. The commands are
//! [`crate::commands::Cmd`]s like the demos' scripts; here is only what turns
//! a command line into one, sends it once and reports it.
//!
//! Every write goes out the same way ([`write`]): with its idempotency key
//! (given, or fresh and printed before the call, so a lost answer can be
//! fetched again with the same key), as `--agency`/`--user`, and its result
//! (id, version, position) is printed as a line or, with `--json`, as one
//! JSON object on stdout (the key line then goes to stderr, keeping stdout
//! parseable).
//!
//! Every read prints tables, or with `--json` the answer as the projection
//! served it ([`answer`]).
//!
//! `lists` runs the yearly double list (双清单). `requests`, `person` and `placements` plan the writes of their command
//! trees; `registry` runs the placement reads and prints their tables.

mod lists;
mod notifications;
mod person;
mod placements;
mod registry;
mod requests;

use std::io::Write as _;

use prost::{Message, Name};
use sy_api::pb;

use crate::args::{ReadArgs, WriteArgs};
use crate::commands::{Cmd, context, send};
use crate::error::Error;
use crate::record::message_json;
use crate::rpc::Endpoints;

pub use lists::run as lists;
pub use notifications::run as notifications;
pub use person::run as person;
pub use placements::{allowance, placements, stations};
pub use requests::run as requests;

/// Sends `cmd` once as `actor` and prints what it wrote.
async fn write(
    endpoints: &Endpoints,
    actor: &pb::Actor,
    cmd: Cmd,
    json: bool,
) -> Result<(), Error> {
    let call = cmd.call();
    let kind = cmd.aggregate().label();
    let key = cmd
        .context()
        .map(|c| c.idempotency_key.clone())
        .unwrap_or_default();
    let announce = format!(
        "{call} as {}/{} (idempotency key {key})",
        actor.agency, actor.user
    );
    if json {
        let _ = writeln!(std::io::stderr(), "{announce}");
    } else {
        say!("{announce}");
    }
    let mut intake = endpoints.intake().await?;
    let result = send(&mut intake, cmd, actor).await?;
    if json {
        let object = serde_json::json!({
            "call": call,
            "idempotency_key": key,
            "aggregate": kind,
            "aggregate_id": result.aggregate_id,
            "version": result.version,
            "position": result.position,
            "replayed": result.replayed,
        });
        say!("{object}");
    } else {
        say!(
            "{kind} {} version {} position {}{}",
            result.aggregate_id,
            result.version,
            result.position,
            if result.replayed {
                " (replayed: already done with this key)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// Prints a read's answer as JSON (the protobuf JSON mapping: every field
/// as the projection served it, so masked values stay masked), or as the
/// text `tables` makes of it.
pub fn answer<M: Message + Name>(
    read: &ReadArgs,
    answer: &M,
    tables: impl FnOnce() -> Result<String, Error>,
) -> Result<(), Error> {
    if read.json {
        say!("{}", json_of(answer)?);
    } else {
        say!("{}", tables()?.trim_end());
    }
    Ok(())
}

/// `message` in the protobuf JSON mapping.
pub fn json_of<M: Message + Name>(message: &M) -> Result<String, Error> {
    message_json(message)
        .ok_or_else(|| Error::Failed(format!("{} cannot be written as JSON", M::full_name())))
}

/// A context with the given idempotency key, or a fresh one named after
/// the command tree (`sy-requests-<uuid>`).
fn context_of(write: &WriteArgs, tree: &str) -> Option<pb::CommandContext> {
    let key = write
        .idempotency_key
        .clone()
        .unwrap_or_else(|| format!("sy-{tree}-{}", uuid::Uuid::now_v7()));
    context(key, String::new(), None)
}

/// `Some(text)` as the field's value, `None` as empty (proto3's "unset").
fn or_empty(text: &Option<String>) -> String {
    text.clone().unwrap_or_default()
}
