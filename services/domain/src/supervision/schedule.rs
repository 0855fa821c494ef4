//! The calendar of one rule against one due date: which of its actions have
//! fallen due by a day. Reminders form one series (the days before, the due
//! date, then every few days overdue) of which only the latest occurrence is
//! due: a clock that could not tick for a while reminds once, about now, not
//! once for every day it missed. Of the escalations, the furthest reached.

use jiff::civil::Date;
use jiff::{Span, ToSpan};

use super::policy::Rule;
use super::{Action, Effect};
use crate::pb::ReminderKind;

/// The actions of `rule` for a request due on `due_date` that have fallen
/// due by `today`: at most one reminder (the series' latest occurrence) and
/// at most one escalation (the furthest threshold reached), both regardless
/// of what already happened; the caller filters by the keys it recorded and
/// the level the request is at.
pub fn scheduled(rule: &Rule, due_date: Date, today: Date) -> Vec<Action> {
    let action = |occurrence: Date, effect| Action {
        rule_id: rule.id.clone(),
        due_date,
        occurrence,
        effect,
    };
    let mut actions = Vec::new();
    if let Some((occurrence, kind)) = latest_reminder(rule, due_date, today) {
        actions.push(action(occurrence, Effect::Remind(kind)));
    }
    let reached = rule
        .escalate
        .iter()
        .filter_map(|e| Some((shift(due_date, i64::from(e.overdue_days))?, e.to)))
        .rfind(|(occurrence, _)| *occurrence <= today);
    if let Some((occurrence, to)) = reached {
        actions.push(action(occurrence, Effect::Escalate(to)));
    }
    actions
}

fn latest_reminder(rule: &Rule, due: Date, today: Date) -> Option<(Date, ReminderKind)> {
    if today < due {
        // Days before, nearest last: the last one reached is the latest.
        return rule
            .remind_before_days
            .iter()
            .filter_map(|days| shift(due, -i64::from(*days)))
            .rfind(|day| *day <= today)
            .map(|day| (day, ReminderKind::DueSoon));
    }
    if let Some(every) = rule.remind_overdue_every_days {
        let overdue = i64::from((today - due).get_days());
        let periods = overdue / i64::from(every);
        if periods > 0 {
            let day = shift(due, periods * i64::from(every))?;
            return Some((day, ReminderKind::Overdue));
        }
    }
    // A "due soon" reminder not sent before the due date is not sent after.
    rule.remind_on_due_date
        .then_some((due, ReminderKind::DueToday))
}

/// `date` moved by `days`; `None` outside the calendar's range.
fn shift(date: Date, days: i64) -> Option<Date> {
    let span: Span = days.days();
    date.checked_add(span).ok()
}
