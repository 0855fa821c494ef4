//! Arguments of `sy lists`: the yearly double list (双清单), named by year
//! and direction in every subcommand.

use clap::{Args, Subcommand};

use super::{DirectionArg, WriteArgs};

#[derive(Debug, Subcommand)]
pub enum ListsCommand {
    /// Put a request of the list's direction on the draft list.
    Add(ListItemArgs),
    /// Take a request off the draft list, with a reason.
    Remove(ListRemoveArgs),
    /// Publish the list: its items are fixed from then on.
    Publish(ListPublishArgs),
    /// The list with each item's request status and its progress.
    Show(ListShowArgs),
}

/// The list a subcommand addresses.
#[derive(Debug, Args)]
pub struct ListName {
    /// The list's year, e.g. 2026.
    #[arg(long)]
    pub year: i32,
    /// Whose needs: the troops' for the locality, or the locality's for the troops.
    #[arg(long, value_enum)]
    pub direction: DirectionArg,
}

#[derive(Debug, Args)]
pub struct ListItemArgs {
    #[command(flatten)]
    pub list: ListName,
    /// The request's id.
    #[arg(long)]
    pub request: String,
    /// Why it is on the list.
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct ListRemoveArgs {
    #[command(flatten)]
    pub list: ListName,
    /// The request's id.
    #[arg(long)]
    pub request: String,
    /// Why it comes off the list.
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct ListPublishArgs {
    #[command(flatten)]
    pub list: ListName,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct ListShowArgs {
    #[command(flatten)]
    pub list: ListName,
    /// Day ("YYYY-MM-DD", Asia/Shanghai) the overdue items are counted on; default today.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Wait until the projection has applied this stream position.
    #[arg(long, default_value_t = 0)]
    pub min_position: u64,
}
