//! Allowance commands as validated values, parsed from their protobuf
//! messages ([`CommandMessage`]); what remains to check depends on the
//! allowance's state and belongs to `decide`. Each command names the person,
//! and the allowance it addresses is [`allowance_id_for`] that person.

use uuid::Uuid;

use super::month::Month;
use super::{Allowance, allowance_id_for};
use crate::command_meta::{CommandMessage, Input, context_accessors, on_existing};
use crate::error::FieldViolation;
use crate::pb;
use crate::validate::{self, Violations, text};

/// Monthly amounts a grant may carry, in fen: positive, at most 10,000 yuan.
pub const MONTHLY_AMOUNT_FEN: std::ops::RangeInclusive<i64> = 1..=1_000_000;

/// Longest stop reason, in characters.
pub(super) const REASON_MAX: usize = 500;

/// An allowance command, validated at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Grants the allowance to a spouse from `from_month` on. The aggregate
    /// it addresses is `allowance_id_for(&person_id)`.
    Grant {
        /// The spouse (a registered person) the allowance is paid to.
        person_id: Uuid,
        /// Within [`MONTHLY_AMOUNT_FEN`].
        monthly_amount_fen: i64,
        /// The first month the grant pays for.
        from_month: Month,
    },
    /// Pays one month at the granted monthly amount.
    Pay {
        /// The month paid for; each month is paid at most once.
        month: Month,
    },
    /// Stops the allowance: on request, or `automatic`ally when the spouse
    /// went on duty.
    Stop {
        /// Why it stops, as the operator or the system wrote it.
        reason: String,
        /// Set by the system's follow-up, never by a caller.
        automatic: bool,
    },
}

impl CommandMessage for pb::GrantAllowanceCommand {
    type Target = Allowance;
    context_accessors!();

    fn body(&self, v: &mut Violations, _: &Input<'_>) -> Option<(Uuid, Command)> {
        let person_id = v.check(validate::aggregate_id("person_id", &self.person_id));
        if !MONTHLY_AMOUNT_FEN.contains(&self.monthly_amount_fen) {
            v.push(FieldViolation::new(
                "monthly_amount_fen",
                format!(
                    "must be a positive number of fen, at most {}",
                    MONTHLY_AMOUNT_FEN.end()
                ),
            ));
        }
        let from_month = v.check(Month::parse("from_month", &self.from_month));
        let person_id = person_id?;
        Some((
            allowance_id_for(&person_id),
            Command::Grant {
                person_id,
                monthly_amount_fen: self.monthly_amount_fen,
                from_month: from_month?,
            },
        ))
    }
}

// Pay and stop name the person; the allowance is theirs.
on_existing! { Allowance, person_id => |id| allowance_id_for(&id);
    pb::PayAllowanceCommand => |m, v, _| {
        v.check(Month::parse("month", &m.month)).map(|month| Command::Pay { month })
    };
    pb::StopAllowanceCommand => |m, v, _| {
        v.check(text("reason", &m.reason, 1, REASON_MAX)).map(|reason| Command::Stop {
            reason,
            automatic: false,
        })
    };
}
