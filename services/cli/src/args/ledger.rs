//! `sy ledger export|import`: the request ledger (台账) and the close-out
//! board as spreadsheets, and requests filed from an XLSX ledger.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use sy_domain::validate::Districts;

use super::parse_date;

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Write the request ledger (台账) of a period, or the close-out board
    /// (--board), as CSV or XLSX with Chinese headers.
    Export(LedgerExportArgs),
    /// File the requests of an XLSX ledger: every row is checked first and
    /// nothing is written unless all are good; a re-import writes nothing new.
    Import(LedgerImportArgs),
}

/// A spreadsheet format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LedgerFormat {
    /// UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese.
    Csv,
    Xlsx,
}

#[derive(Debug, Args)]
pub struct LedgerExportArgs {
    /// The file to write (replaced if it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// Default: from --out's extension (`.csv`: CSV), else XLSX.
    #[arg(long, value_enum)]
    pub format: Option<LedgerFormat>,
    /// Export the close-out board (销号清零) instead of the request ledger.
    #[arg(long)]
    pub board: bool,
    /// First filing day of the period (YYYY-MM-DD, China time), inclusive;
    /// for the ledger and the board alike (the board wants both ends).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub from: Option<String>,
    /// Last filing day of the period (YYYY-MM-DD, China time), inclusive.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub to: Option<String>,
    /// Wait until the projection has applied this stream position.
    #[arg(long, default_value_t = 0)]
    pub min_position: u64,
}

impl LedgerExportArgs {
    /// The format asked for, or the one --out's extension names.
    pub fn format(&self) -> LedgerFormat {
        self.format.unwrap_or_else(|| {
            let csv = self
                .out
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("csv"));
            if csv {
                LedgerFormat::Csv
            } else {
                LedgerFormat::Xlsx
            }
        })
    }
}

#[derive(Debug, Args)]
pub struct LedgerImportArgs {
    /// The XLSX ledger: its first sheet (or the one named 台账), headers in
    /// the first row.
    pub file: PathBuf,
    /// The deployment's role policy (the services' --policy-file): a 承办部门
    /// must be an agency it grants the `department` role.
    #[arg(long, env = "SY_POLICY_FILE")]
    pub policy_file: PathBuf,
    /// Districts the deployment serves (6-digit codes, comma-separated), as
    /// intake's --districts: a 区域代码 must lie inside one.
    #[arg(long, env = "SY_DISTRICTS", default_value = "500106", value_parser = Districts::parse)]
    pub districts: Districts,
    /// Check every row and report, but write nothing.
    #[arg(long)]
    pub dry_run: bool,
}
