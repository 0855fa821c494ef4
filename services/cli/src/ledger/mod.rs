//! `sy ledger`: ledgers (台账) in and out. `export` writes the request
//! ledger of a period or the close-out board as CSV or XLSX; `import` files
//! the requests of an XLSX ledger after checking every row.
//!
//! Layout: `columns` is the one table of the ledger's columns and of the
//! Chinese words its cells use (both directions read it); `sheet` writes
//! tables as files and reads an XLSX sheet back as text; `rows` checks a row
//! with the domain's own validation and plans its commands; `export` and
//! `import` are the two commands.

mod columns;
mod export;
mod import;
mod rows;
mod sheet;

use sy_api::pb;

use crate::args::LedgerCommand;
use crate::error::Error;
use crate::rpc::Endpoints;

/// Runs `sy ledger export|import` as `operator` (who files an import's
/// requests: the requesting party, and the coordinating office assigning
/// them, so an agency holding both roles).
pub async fn run(
    endpoints: &Endpoints,
    operator: &pb::Actor,
    command: &LedgerCommand,
) -> Result<(), Error> {
    match command {
        LedgerCommand::Export(args) => export::run(endpoints, args).await,
        LedgerCommand::Import(args) => import::run(endpoints, operator, args).await,
    }
}
