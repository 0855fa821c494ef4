//! An allowance as folded from its events, with the sums the statistics read.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::month::Month;

/// Whether an allowance currently pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowanceStatus {
    /// Granted and not stopped: months may be paid.
    Granted,
    /// Stopped; may be granted again.
    Stopped,
}

/// One grant, from `from_month` until stopped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GrantPeriod {
    /// Amount paid for each month of the period, in fen.
    pub monthly_amount_fen: i64,
    /// The first month the period pays for.
    pub from_month: Month,
    /// When the grant event occurred (absent if the envelope had no time).
    pub granted_at: Option<Timestamp>,
    /// How the period ended; `None` while it runs.
    pub stop: Option<Stop>,
}

/// How and when a grant period ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stop {
    /// Why it stopped, as recorded in the stop event.
    pub reason: String,
    /// Stopped by the system because the spouse went on duty.
    pub automatic: bool,
    /// When the stop event occurred (absent if the envelope had no time).
    pub stopped_at: Option<Timestamp>,
}

/// A person's allowance: its grant periods, oldest first, and every month
/// paid with the amount paid for it.
///
/// Invariants kept by `apply`: each month is paid at most once, each payment
/// was made while a period ran and is not before that period's first month,
/// periods do not overlap in months, and `total_paid_fen` is the sum of the
/// payments.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Allowance {
    pub(super) id: String,
    pub(super) version: u64,
    pub(super) person_id: Option<uuid::Uuid>,
    pub(super) periods: Vec<GrantPeriod>,
    pub(super) paid: BTreeMap<Month, i64>,
    pub(super) total_paid_fen: i64,
}

impl Allowance {
    /// An allowance not granted yet, addressed by `id` (the id
    /// [`super::allowance_id_for`] gives), so that `NotFound` can name it.
    /// The first event's id wins.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }

    /// The person it is for; `None` before the first grant.
    pub fn person_id(&self) -> Option<uuid::Uuid> {
        self.person_id
    }

    /// `None` before the first grant.
    pub fn status(&self) -> Option<AllowanceStatus> {
        self.current().map(|period| {
            if period.stop.is_some() {
                AllowanceStatus::Stopped
            } else {
                AllowanceStatus::Granted
            }
        })
    }

    /// The latest grant period (running or stopped).
    pub fn current(&self) -> Option<&GrantPeriod> {
        self.periods.last()
    }

    /// Every grant period, oldest first.
    pub fn periods(&self) -> &[GrantPeriod] {
        &self.periods
    }

    /// The latest grant's monthly amount.
    pub fn monthly_amount_fen(&self) -> Option<i64> {
        self.current().map(|period| period.monthly_amount_fen)
    }

    /// The latest grant's first month.
    pub fn from_month(&self) -> Option<Month> {
        self.current().map(|period| period.from_month)
    }

    /// Why and how the latest grant stopped, if it did.
    pub fn stop(&self) -> Option<&Stop> {
        self.current().and_then(|period| period.stop.as_ref())
    }

    /// Months paid, oldest first, with the amount paid for each.
    pub fn paid(&self) -> &BTreeMap<Month, i64> {
        &self.paid
    }

    /// The latest month paid.
    pub fn last_paid_month(&self) -> Option<Month> {
        self.paid.keys().next_back().copied()
    }

    /// The amount paid for `month`, if it was paid.
    pub fn paid_for(&self, month: Month) -> Option<i64> {
        self.paid.get(&month).copied()
    }

    /// The sum paid for the months of `year` (0 for none).
    pub fn paid_in_year(&self, year: i16) -> i64 {
        self.paid
            .iter()
            .filter(|(month, _)| month.year() == year)
            .map(|(_, amount)| amount)
            .sum()
    }

    /// The sum of every payment.
    pub fn total_paid_fen(&self) -> i64 {
        self.total_paid_fen
    }
}
