//! Parsing at the edge: each function turns caller input into a value that is
//! valid by construction, or a [`FieldViolation`] naming the field and the
//! reason. Violations are collected, so a caller learns every bad field at once.

use std::collections::BTreeSet;
use std::fmt;

use jiff::civil::Date;
use jiff::tz::Offset;

use crate::error::{DomainError, FieldViolation};

/// China Standard Time. China has kept UTC+8 without daylight saving since
/// 1991, so a fixed offset is exact and needs no time-zone database in the
/// container image.
pub const CHINA_OFFSET_HOURS: i8 = 8;

/// The calendar day (Asia/Shanghai) of an instant.
pub fn china_date(ts: jiff::Timestamp) -> Date {
    Offset::constant(CHINA_OFFSET_HOURS).to_datetime(ts).date()
}

/// Collects violations while a command is parsed.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Keeps the value, or records the violation and yields `None`.
    pub fn check<T>(&mut self, result: Result<T, FieldViolation>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violation) => {
                self.0.push(violation);
                None
            }
        }
    }

    /// Records a violation found outside `check`.
    pub fn push(&mut self, violation: FieldViolation) {
        self.0.push(violation);
    }

    /// An optional field: `Some(None)` when empty, else checked by `parse`.
    pub fn check_optional<T>(
        &mut self,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, FieldViolation>,
    ) -> Option<Option<T>> {
        if value.is_empty() {
            Some(None)
        } else {
            self.check(parse(value)).map(Some)
        }
    }

    /// Keeps the value of a constructor that names its own bad fields, or
    /// records them and yields `None`.
    pub fn absorb<T>(&mut self, result: Result<T, DomainError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(DomainError::Invalid(violations)) => {
                self.0.extend(violations);
                None
            }
            Err(other) => {
                self.0
                    .push(FieldViolation::new("command", other.to_string()));
                None
            }
        }
    }

    /// `Ok(value)` when nothing was recorded; the value is only built then.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, DomainError> {
        if self.0.is_empty()
            && let Some(value) = value()
        {
            return Ok(value);
        }
        debug_assert!(!self.0.is_empty(), "a missing value must have a violation");
        Err(DomainError::Invalid(self.0))
    }
}

/// Free text: trimmed length in characters within `[min, max]`, no control
/// characters other than newlines and tabs.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, FieldViolation> {
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars < min {
        return Err(FieldViolation::new(
            field,
            if min == 1 {
                "is required".to_string()
            } else {
                format!("must have at least {min} characters")
            },
        ));
    }
    if chars > max {
        return Err(FieldViolation::new(
            field,
            format!("must have at most {max} characters, has {chars}"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_string())
}

/// Refuses an empty `value` or one longer than `max` bytes (ASCII-only values
/// are checked by byte; their other rules come after).
fn required_within(field: &str, value: &str, max: usize) -> Result<(), FieldViolation> {
    if value.is_empty() {
        return Err(FieldViolation::new(field, "is required"));
    }
    if value.len() > max {
        return Err(FieldViolation::new(
            field,
            format!("must have at most {max} characters"),
        ));
    }
    Ok(())
}

/// An agency or department code: 1 to 64 of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(String);

impl Code {
    /// Longest code, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Checks `value`; the violation names `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        required_within(field, value, Self::MAX_LEN)?;
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(FieldViolation::new(
                field,
                "may only contain letters, digits, '.', '_' and '-'",
            ));
        }
        Ok(Self(value.to_string()))
    }

    /// The code as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A caller's idempotency key: 1 to 128 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Longest key, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Checks `value`; the violation names `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        required_within(field, value, Self::MAX_LEN)?;
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(FieldViolation::new(
                field,
                "may only contain printable ASCII characters without spaces",
            ));
        }
        Ok(Self(value.to_string()))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A calendar date written `YYYY-MM-DD`.
pub fn date(field: &str, value: &str) -> Result<Date, FieldViolation> {
    let well_formed = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !well_formed {
        return Err(FieldViolation::new(
            field,
            "must be a date written YYYY-MM-DD",
        ));
    }
    value
        .parse::<Date>()
        .map_err(|_| FieldViolation::new(field, format!("{value} is not a calendar date")))
}

/// An optional date: empty means absent.
pub fn optional_date(field: &str, value: &str) -> Result<Option<Date>, FieldViolation> {
    if value.is_empty() {
        Ok(None)
    } else {
        date(field, value).map(Some)
    }
}

/// A date that must not lie before `today`.
pub fn not_before(field: &str, value: Date, today: Date) -> Result<Date, FieldViolation> {
    if value < today {
        Err(FieldViolation::new(
            field,
            format!("{value} is in the past (today is {today})"),
        ))
    } else {
        Ok(value)
    }
}

/// The districts (6-digit codes) a deployment serves; area codes outside them
/// are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Districts(BTreeSet<String>);

impl Districts {
    /// Parses a comma-separated list such as `500106,500107`.
    pub fn parse(list: &str) -> Result<Self, String> {
        let codes: BTreeSet<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if codes.is_empty() {
            return Err("at least one district code is required".into());
        }
        if let Some(bad) = codes
            .iter()
            .find(|c| c.len() != 6 || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!("district code {bad:?} must be 6 digits"));
        }
        Ok(Self(codes))
    }

    /// Whether the 6-digit `district` is served.
    pub fn contains(&self, district: &str) -> bool {
        self.0.contains(district)
    }
}

/// A 12-digit statistical division code: district (6) + town/street (3) +
/// village/community (3), zeros for a whole level.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AreaCode(String);

impl AreaCode {
    /// Parses the code's shape only (for filters, which may name any area).
    pub fn parse_shape(field: &str, value: &str) -> Result<Self, FieldViolation> {
        if value.len() != 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldViolation::new(field, "must be a 12-digit area code"));
        }
        if &value[6..9] == "000" && &value[9..] != "000" {
            return Err(FieldViolation::new(
                field,
                "a community code needs its street digits (positions 7-9)",
            ));
        }
        Ok(Self(value.to_string()))
    }

    /// Parses a code that must lie in one of the served districts.
    pub fn parse(field: &str, value: &str, districts: &Districts) -> Result<Self, FieldViolation> {
        let code = Self::parse_shape(field, value)?;
        if !districts.contains(code.district()) {
            return Err(FieldViolation::new(
                field,
                format!(
                    "district {} is not served by this deployment",
                    code.district()
                ),
            ));
        }
        Ok(code)
    }

    /// The 6-digit district the area lies in.
    pub fn district(&self) -> &str {
        &self.0[..6]
    }

    /// The code's prefix that every area inside it shares (`500106001` for a
    /// street, the whole code for a community).
    pub fn scope_prefix(&self) -> &str {
        let s = &self.0;
        if &s[6..] == "000000" {
            &s[..6]
        } else if &s[9..] == "000" {
            &s[..9]
        } else {
            s
        }
    }

    /// All 12 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A UUID-shaped aggregate id.
pub fn aggregate_id(field: &str, value: &str) -> Result<uuid::Uuid, FieldViolation> {
    if value.is_empty() {
        return Err(FieldViolation::new(field, "is required"));
    }
    uuid::Uuid::try_parse(value).map_err(|_| FieldViolation::new(field, "must be a UUID"))
}

/// A protobuf enum field: known and not `*_UNSPECIFIED`, or `default` when unset.
pub fn enum_value<E>(field: &str, raw: i32, default: Option<E>) -> Result<E, FieldViolation>
where
    E: TryFrom<i32> + Copy,
{
    if raw == 0 {
        return default.ok_or_else(|| FieldViolation::new(field, "is required"));
    }
    E::try_from(raw).map_err(|_| FieldViolation::new(field, format!("{raw} is not a known value")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_trims_and_bounds() {
        assert_eq!(text("t", "  hi ", 1, 10).unwrap(), "hi");
        assert_eq!(text("t", "   ", 1, 10).unwrap_err().reason, "is required");
        assert!(
            text("t", "abcdef", 1, 5)
                .unwrap_err()
                .reason
                .contains("at most 5")
        );
        assert!(text("t", "a\u{0007}b", 1, 5).is_err());
        assert_eq!(text("t", "营区改造", 1, 4).unwrap(), "营区改造");
    }

    #[test]
    fn dates_are_strict() {
        assert!(date("d", "2026-12-01").is_ok());
        assert!(date("d", "2026-2-1").is_err());
        assert!(date("d", "20261201").is_err());
        assert!(
            date("d", "2026-02-30")
                .unwrap_err()
                .reason
                .contains("not a calendar date")
        );
        assert_eq!(optional_date("d", "").unwrap(), None);
    }

    #[test]
    fn area_codes_must_be_in_a_served_district() {
        let districts = Districts::parse("500106").unwrap();
        let code = AreaCode::parse("a", "500106001002", &districts).unwrap();
        assert_eq!(code.scope_prefix(), "500106001002");
        assert_eq!(
            AreaCode::parse("a", "500106001000", &districts)
                .unwrap()
                .scope_prefix(),
            "500106001"
        );
        assert!(
            AreaCode::parse("a", "500107001002", &districts)
                .unwrap_err()
                .reason
                .contains("not served")
        );
        assert!(AreaCode::parse("a", "50010600100", &districts).is_err());
        assert!(AreaCode::parse("a", "500106000001", &districts).is_err());
        assert!(Districts::parse("5001").is_err());
    }

    #[test]
    fn codes_and_keys() {
        assert!(Code::parse("c", "district-veterans_bureau.1").is_ok());
        assert!(Code::parse("c", "退役军人事务局").is_err());
        assert!(Code::parse("c", "").is_err());
        assert!(IdempotencyKey::parse("k", "a b").is_err());
        assert!(IdempotencyKey::parse("k", &"k".repeat(129)).is_err());
    }
}
