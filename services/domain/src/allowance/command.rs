//! Allowance commands as validated values (months parsed at the edge with
//! [`Month::parse`]); amounts and reasons are checked by `decide`.

use super::month::Month;

/// Monthly amounts a grant may carry, in fen: positive, at most 10,000 yuan.
pub const MONTHLY_AMOUNT_FEN: std::ops::RangeInclusive<i64> = 1..=1_000_000;

/// Longest stop reason, in characters.
pub(super) const REASON_MAX: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Grants the allowance to a spouse from `from_month` on. The aggregate
    /// it addresses is `allowance_id_for(&person_id)`.
    Grant {
        person_id: uuid::Uuid,
        /// Within [`MONTHLY_AMOUNT_FEN`].
        monthly_amount_fen: i64,
        from_month: Month,
    },
    /// Pays one month at the granted monthly amount.
    Pay { month: Month },
    /// Stops the allowance: on request, or `automatic`ally when the spouse
    /// went on duty.
    Stop { reason: String, automatic: bool },
}
