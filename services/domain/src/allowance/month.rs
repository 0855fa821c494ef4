//! Calendar months, the unit the allowance is granted from and paid for.

use std::fmt;

use jiff::civil::Date;

use crate::error::FieldViolation;

/// A calendar month written `YYYY-MM`. Ordered by time, so a set of months
/// iterates oldest first.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Month {
    // Field order matters: the derived `Ord` compares the year first.
    year: i16,
    month: i8,
}

impl Month {
    /// Years `parse` and `new` accept; outside them a month is a typing
    /// error, not an allowance.
    pub const YEARS: std::ops::RangeInclusive<i16> = 1900..=2999;

    /// The month `month` (1-12) of `year`, if both are in range.
    pub fn new(year: i16, month: i8) -> Option<Self> {
        (Self::YEARS.contains(&year) && (1..=12).contains(&month)).then_some(Self { year, month })
    }

    /// Parses `YYYY-MM`; the violation names `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        if value.is_empty() {
            return Err(FieldViolation::new(field, "is required"));
        }
        let well_formed = value.len() == 7
            && value.bytes().enumerate().all(|(i, b)| match i {
                4 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !well_formed {
            return Err(FieldViolation::new(
                field,
                "must be a month written YYYY-MM",
            ));
        }
        // Four and two ASCII digits: both parses succeed.
        let year: i16 = value[..4].parse().expect("four digits");
        let month: i8 = value[5..].parse().expect("two digits");
        if !(1..=12).contains(&month) {
            return Err(FieldViolation::new(
                field,
                format!("{value}: the month must be 01 to 12"),
            ));
        }
        Self::new(year, month).ok_or_else(|| {
            FieldViolation::new(
                field,
                format!(
                    "{value}: the year must be {} to {}",
                    Self::YEARS.start(),
                    Self::YEARS.end()
                ),
            )
        })
    }

    /// The month `date` lies in, if its year is in [`Month::YEARS`].
    pub fn of(date: Date) -> Option<Self> {
        Self::new(date.year(), date.month())
    }

    /// The year, within [`Month::YEARS`].
    pub fn year(self) -> i16 {
        self.year
    }

    /// 1 to 12.
    pub fn month(self) -> i8 {
        self.month
    }

    /// The month after this one. The month after December 2999 is January
    /// 3000, which orders and prints correctly though `parse` refuses it.
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The first day of the month.
    pub fn first_day(self) -> Date {
        Date::new(self.year, self.month, 1).expect("every month in range has a first day")
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Debug for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Month({self})")
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn month(value: &str) -> Month {
        Month::parse("month", value).unwrap()
    }

    #[test]
    fn months_parse_print_and_order() {
        let june = month("2026-06");
        assert_eq!((june.year(), june.month()), (2026, 6));
        assert_eq!(june.to_string(), "2026-06");
        assert_eq!(format!("{june:?}"), "Month(2026-06)");
        assert!(month("2025-12") < month("2026-01"));
        assert!(month("2026-02") < month("2026-10"));
        assert_eq!(Month::of(date(2026, 6, 30)), Some(june));
        assert_eq!(Month::of(date(1899, 12, 31)), None);
        assert_eq!(june.first_day(), date(2026, 6, 1));
    }

    #[test]
    fn next_rolls_over_the_year() {
        assert_eq!(month("2026-06").next(), month("2026-07"));
        assert_eq!(month("2026-12").next(), month("2027-01"));
        assert_eq!(month("2999-12").next().to_string(), "3000-01");
    }

    #[test]
    fn malformed_months_are_refused_with_the_field() {
        for (value, reason) in [
            ("", "is required"),
            ("2026-6", "YYYY-MM"),
            ("2026/06", "YYYY-MM"),
            ("2026-06-01", "YYYY-MM"),
            ("２０２６-06", "YYYY-MM"),
            ("2026-00", "01 to 12"),
            ("2026-13", "01 to 12"),
            ("1899-12", "1900 to 2999"),
        ] {
            let violation = Month::parse("from_month", value).unwrap_err();
            assert_eq!(violation.field, "from_month");
            assert!(
                violation.reason.contains(reason),
                "{value}: {}",
                violation.reason
            );
        }
    }
}
