//! Personal-data value types: resident identity card numbers, mobile phone
//! numbers and person names, parsed at the edge like the rest of the domain.
//!
//! Veterans, spouses and children are real people. Under the Personal
//! Information Protection Law (PIPL) an identity number is *sensitive*
//! personal information, so these types are built to keep the full value out
//! of places it should not reach:
//!
//! - each type is valid by construction (`parse` or a [`FieldViolation`]);
//! - each has `masked()` for readers who do not need the full value;
//! - `Debug` prints the masked form (implemented by hand, never derived), so a
//!   stray `{:?}` or `tracing` field does not leak the value into logs;
//! - none implements `Display`: reading the full value takes an explicit
//!   `as_str()`, which is easy to find in review;
//! - violation reasons never echo the value (nor, for identity numbers, the
//!   birth date inside it), because they travel back in gRPC status details
//!   and may be logged.

use std::fmt;

use jiff::civil::Date;

use crate::error::FieldViolation;

/// Sex as recorded in an identity number (its 17th digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Odd 17th digit.
    Male,
    /// Even 17th digit.
    Female,
}

/// A mainland resident identity card number (公民身份号码, GB 11643-1999):
/// 6-digit region code, 8-digit birth date `YYYYMMDD`, 3-digit sequence code
/// (odd for men, even for women) and an ISO 7064 MOD 11-2 check character.
///
/// Stored normalised (a lower-case `x` check character becomes `X`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber {
    value: String,
    birth_date: Date,
}

impl IdNumber {
    /// Characters in a number: 17 digits and the check character.
    pub const LEN: usize = 18;

    /// The MOD 11-2 weights of the 17 body digits: 2^(18 - position) mod 11.
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

    /// The earliest birth date accepted; earlier dates are typing errors, not
    /// living people.
    pub const EARLIEST_BIRTH_DATE: Date = Date::constant(1900, 1, 1);

    /// Parses an identity number whose birth date must not lie after `today`
    /// (the caller's calendar day in China, see [`crate::validate::china_date`]).
    ///
    /// The region code is only checked for plausibility: its province code
    /// (first two digits) must lie in `11..=82`. It is not looked up in the
    /// GB/T 2260 division list, which changes over time and which old numbers
    /// need not match.
    pub fn parse(field: &str, value: &str, today: Date) -> Result<Self, FieldViolation> {
        if value.is_empty() {
            return Err(FieldViolation::new(field, "is required"));
        }
        let chars = value.chars().count();
        if chars != Self::LEN {
            return Err(FieldViolation::new(
                field,
                format!("must have {} characters, has {chars}", Self::LEN),
            ));
        }
        // Byte positions equal character positions up to the first non-ASCII
        // character, and the checks below stop there, so indexing bytes is
        // safe and reports the right position.
        let bytes = value.as_bytes();
        if let Some(position) = bytes[..17].iter().position(|b| !b.is_ascii_digit()) {
            return Err(FieldViolation::new(
                field,
                format!(
                    "character {} must be a digit (the first 17 characters are digits)",
                    position + 1
                ),
            ));
        }
        let found = bytes[17].to_ascii_uppercase();
        if !(found.is_ascii_digit() || found == b'X') {
            return Err(FieldViolation::new(
                field,
                "the last character must be a digit or X",
            ));
        }

        let province = u32::from(bytes[0] - b'0') * 10 + u32::from(bytes[1] - b'0');
        if !(11..=82).contains(&province) {
            return Err(FieldViolation::new(
                field,
                format!("province code {province:02} (characters 1-2) is not in 11-82"),
            ));
        }

        let birth_date = Self::birth_date_of(bytes).ok_or_else(|| {
            FieldViolation::new(field, "birth date (characters 7-14) is not a calendar date")
        })?;
        if birth_date < Self::EARLIEST_BIRTH_DATE {
            return Err(FieldViolation::new(
                field,
                format!(
                    "birth date (characters 7-14) is before {}",
                    Self::EARLIEST_BIRTH_DATE
                ),
            ));
        }
        if birth_date > today {
            return Err(FieldViolation::new(
                field,
                format!("birth date (characters 7-14) is in the future (today is {today})"),
            ));
        }

        let body: &[u8; 17] = bytes[..17].try_into().expect("length checked above");
        let expected = Self::check_character(body);
        if found != expected {
            return Err(FieldViolation::new(
                field,
                format!(
                    "check character is wrong: expected {}, found {}",
                    char::from(expected),
                    char::from(found)
                ),
            ));
        }

        let mut normalised = value.to_string();
        normalised.make_ascii_uppercase();
        Ok(Self {
            value: normalised,
            birth_date,
        })
    }

    /// The 18-character number made of `body` (17 ASCII digits: region,
    /// birth date, sequence code) and its check character; `None` when
    /// `body` is not 17 digits. For issuing test and demo numbers: whether
    /// the result is a valid ID number is still `parse`'s to say.
    pub fn with_check_character(body: &str) -> Option<String> {
        let digits: &[u8; 17] = body.as_bytes().try_into().ok()?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(format!(
            "{body}{}",
            char::from(Self::check_character(digits))
        ))
    }

    /// The MOD 11-2 check character (`0`-`9` or `X`) of 17 ASCII digits.
    fn check_character(body: &[u8; 17]) -> u8 {
        let sum: u32 = body
            .iter()
            .zip(Self::WEIGHTS)
            .map(|(digit, weight)| u32::from(digit - b'0') * weight)
            .sum();
        match (12 - sum % 11) % 11 {
            10 => b'X',
            n => b'0' + n as u8,
        }
    }

    /// Characters 7-14 as a calendar date, if they are one.
    fn birth_date_of(bytes: &[u8]) -> Option<Date> {
        let number = |range: std::ops::Range<usize>| {
            bytes[range]
                .iter()
                .fold(0i16, |n, b| n * 10 + i16::from(b - b'0'))
        };
        let year = number(6..10);
        let month = i8::try_from(number(10..12)).ok()?;
        let day = i8::try_from(number(12..14)).ok()?;
        Date::new(year, month, day).ok()
    }

    /// The birth date its digits 7 to 14 encode (checked to be a real date).
    pub fn birth_date(&self) -> Date {
        self.birth_date
    }

    /// From the 17th digit: odd for men, even for women.
    pub fn sex(&self) -> Sex {
        if (self.value.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Age in completed years on `date`. A birthday counts from its own day;
    /// someone born on 29 February turns a year older on 1 March in common
    /// years. Negative when `date` is before the birth date.
    pub fn age_on(&self, date: Date) -> i16 {
        age_on(self.birth_date, date)
    }

    /// The last 4 characters (the sequence code and the check character),
    /// the rest `*`: `**************1234`. That is enough to tell two people
    /// apart on a screen.
    ///
    /// Nothing of the region or the birth date is shown, because a masked
    /// number is read beside the person's area code. The old mask
    /// (`5001**********1234`) with the birth year and the district of the
    /// area code left 33 numbers with the right check character (for the
    /// tests' example), few enough to try them all. With this mask and no
    /// birth information, a reader who takes the province and city from the
    /// area code (the number's region is where the person was first
    /// registered, not where they live) still has 332,047 candidates for
    /// someone aged 0 to 99; one who also guesses the district has 3,327, a
    /// hundred times the old figure. The tests count both.
    pub fn masked(&self) -> String {
        const SHOWN: usize = 4;
        let hidden = Self::LEN - SHOWN;
        format!("{}{}", "*".repeat(hidden), &self.value[hidden..])
    }

    /// The full number. Sensitive: prefer [`IdNumber::masked`] unless the
    /// reader needs the whole value.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

// By hand, not derived: a derived `Debug` would print the full number wherever
// a value is logged or shows up in a test failure.
impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

/// Completed years from `birth` to `on`: one less than the difference in years
/// until the birthday's month and day are reached. Comparing `(month, day)`
/// pairs makes 29 February fall between 28 February and 1 March, so a leap-day
/// birthday is reached on 1 March in common years.
pub fn age_on(birth: Date, on: Date) -> i16 {
    let years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years - 1
    } else {
        years
    }
}

/// A mainland mobile number (11 digits, `1` then `3`-`9`), stored as the bare
/// 11 digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Digits in a stored number, without the country code.
    pub const LEN: usize = 11;

    /// Accepts spaces and hyphens anywhere and a leading `+86` or `86`
    /// (`+86 138-1234-5678`), and strips them.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let compact: String = value.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if compact.is_empty() {
            return Err(FieldViolation::new(field, "is required"));
        }
        let digits = compact
            .strip_prefix("+86")
            .or_else(|| compact.strip_prefix("86"))
            .unwrap_or(&compact);
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(FieldViolation::new(
                field,
                "may only contain digits, spaces, hyphens and a leading +86",
            ));
        }
        if digits.len() != Self::LEN {
            return Err(FieldViolation::new(
                field,
                format!(
                    "must have {} digits after +86, has {}",
                    Self::LEN,
                    digits.len()
                ),
            ));
        }
        let b = digits.as_bytes();
        if b[0] != b'1' || !(b'3'..=b'9').contains(&b[1]) {
            return Err(FieldViolation::new(
                field,
                "must be a mainland mobile number (13 to 19 followed by 9 digits)",
            ));
        }
        Ok(Self(digits.to_string()))
    }

    /// The last 4 digits, the rest `*`: `*******5678`. The carrier prefix
    /// (`138`) is hidden too: it says little to a reader and narrows the
    /// number for anyone matching it against another list.
    pub fn masked(&self) -> String {
        const SHOWN: usize = 4;
        format!(
            "{}{}",
            "*".repeat(Self::LEN - SHOWN),
            &self.0[Self::LEN - SHOWN..]
        )
    }

    /// The full 11 digits. Prefer [`Phone::masked`] unless the reader needs
    /// to call the number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// By hand, not derived, so the full number never reaches a log.
impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Phone").field(&self.masked()).finish()
    }
}

/// A person's name, Chinese or Latin script, as written on their documents
/// (`张三丰`, `阿依古丽·买买提`, `Anna Li`): 1 to 50 characters after
/// trimming, no control characters, no digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonName(String);

impl PersonName {
    /// Longest name accepted, in characters after trimming.
    pub const MAX_CHARS: usize = 50;

    /// Trims `value` and checks it; the violation names `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let trimmed = value.trim();
        let chars = trimmed.chars().count();
        if chars == 0 {
            return Err(FieldViolation::new(field, "is required"));
        }
        if chars > Self::MAX_CHARS {
            return Err(FieldViolation::new(
                field,
                format!(
                    "must have at most {} characters, has {chars}",
                    Self::MAX_CHARS
                ),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(FieldViolation::new(
                field,
                "must not contain control characters",
            ));
        }
        // `is_numeric` also catches full-width and other scripts' digits. 〇
        // (U+3007) is numeric to Unicode but written as a Han character in
        // names, so it is allowed.
        if trimmed.chars().any(|c| c.is_numeric() && c != '〇') {
            return Err(FieldViolation::new(field, "must not contain digits"));
        }
        Ok(Self(trimmed.to_string()))
    }

    /// The first character and a single `*`, whatever the name's length:
    /// `张*` for `张三丰` and for `张三` alike, so the mask does not tell how
    /// long the name is (one `*` per hidden character did: `张**`).
    ///
    /// For a Han name the first character is the family name, or the first
    /// half of a compound one (`欧阳娜娜` → `欧*`). Names in other scripts
    /// need not start with a family name, so for them it is just the first
    /// character (`阿依古丽·买买提` → `阿*`, `Anna Li` → `A*`): no more
    /// revealing than one Han character.
    pub fn masked(&self) -> String {
        let first = self.0.chars().next().unwrap_or('*');
        format!("{first}*")
    }

    /// The name in full. Sensitive: prefer [`PersonName::masked`] unless the
    /// reader needs the whole value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// By hand, not derived, so the full name never reaches a log.
impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PersonName").field(&self.masked()).finish()
    }
}

#[cfg(test)]
mod tests {
    use jiff::ToSpan;
    use jiff::civil::date;
    use proptest::prelude::*;

    use super::*;

    const TODAY: Date = Date::constant(2026, 6, 15);
    const WELL_KNOWN: &str = "11010519491231002X";

    /// The check character computed independently of the code under test:
    /// the MOD 11-2 weight of position i (from the left, 0-based) is
    /// 2^(17 - i) mod 11, and the check character c is the one value in 0..=10
    /// that makes sum + c ≡ 1 (mod 11).
    fn reference_check(body: &str) -> char {
        assert_eq!(body.len(), 17);
        let sum: u64 = body
            .chars()
            .enumerate()
            .map(|(i, c)| u64::from(c.to_digit(10).unwrap()) * (2u64.pow(17 - i as u32) % 11))
            .sum();
        let c = (0..=10).find(|c| (sum + c) % 11 == 1).unwrap();
        if c == 10 {
            'X'
        } else {
            char::from_digit(c as u32, 10).unwrap()
        }
    }

    /// A full number from its parts, with the correct check character.
    fn number(region: &str, birth: &str, sequence: &str) -> String {
        let body = format!("{region}{birth}{sequence}");
        format!("{body}{}", reference_check(&body))
    }

    fn parse(value: &str) -> Result<IdNumber, FieldViolation> {
        IdNumber::parse("person.id_number", value, TODAY)
    }

    fn reason(value: &str) -> String {
        let violation = parse(value).unwrap_err();
        assert_eq!(violation.field, "person.id_number");
        violation.reason
    }

    #[test]
    fn the_well_known_test_number_is_valid() {
        assert_eq!(reference_check(&WELL_KNOWN[..17]), 'X');
        let id = parse(WELL_KNOWN).unwrap();
        assert_eq!(id.as_str(), WELL_KNOWN);
        assert_eq!(id.birth_date(), date(1949, 12, 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.masked(), "**************002X");
    }

    #[test]
    fn valid_numbers_parse() {
        for (region, birth, sequence) in [
            ("500106", "19900101", "123"),
            ("500106", "20000229", "001"),
            ("650102", "19751130", "456"),
            ("110105", "19000101", "000"),
            ("820000", "20260615", "999"),
        ] {
            let n = number(region, birth, sequence);
            let id = parse(&n).unwrap_or_else(|e| panic!("{n}: {}", e.reason));
            assert_eq!(id.as_str(), n);
        }
    }

    #[test]
    fn lower_case_x_is_normalised() {
        let id = parse(&WELL_KNOWN.to_lowercase()).unwrap();
        assert_eq!(id.as_str(), WELL_KNOWN);
        assert_eq!(id, parse(WELL_KNOWN).unwrap());
    }

    #[test]
    fn wrong_check_character_names_the_expected_one() {
        assert_eq!(
            reason("110105194912310021"),
            "check character is wrong: expected X, found 1"
        );
        let n = number("500106", "19900101", "123");
        let expected = n.chars().last().unwrap();
        let wrong = if expected == '0' { '1' } else { '0' };
        assert_eq!(
            reason(&format!("{}{wrong}", &n[..17])),
            format!("check character is wrong: expected {expected}, found {wrong}")
        );
    }

    #[test]
    fn length_is_exactly_eighteen_characters() {
        assert_eq!(reason(""), "is required");
        assert_eq!(reason(&WELL_KNOWN[..17]), "must have 18 characters, has 17");
        assert_eq!(
            reason(&format!("{WELL_KNOWN}0")),
            "must have 18 characters, has 19"
        );
        // Counted in characters, not bytes.
        assert_eq!(
            reason("1101051949123100号"),
            "must have 18 characters, has 17"
        );
        assert_eq!(
            reason(" 1010519491231002X"),
            "character 1 must be a digit (the first 17 characters are digits)"
        );
    }

    #[test]
    fn non_digits_are_refused() {
        assert_eq!(
            reason("1101A519491231002X"),
            "character 5 must be a digit (the first 17 characters are digits)"
        );
        assert_eq!(
            reason("11010519491231002Y"),
            "the last character must be a digit or X"
        );
        assert_eq!(
            reason("1101051949123100X2"),
            "character 17 must be a digit (the first 17 characters are digits)"
        );
        // Multi-byte characters are refused at their position, not sliced.
        assert_eq!(
            reason("十一010519491231002X"),
            "character 1 must be a digit (the first 17 characters are digits)"
        );
        assert_eq!(
            reason("11010519491231002号"),
            "the last character must be a digit or X"
        );
        assert_eq!(
            reason("１1010519491231002X"),
            "character 1 must be a digit (the first 17 characters are digits)"
        );
    }

    #[test]
    fn province_code_must_be_plausible() {
        for region in ["000000", "100000", "830000", "990000"] {
            let n = number(region, "19900101", "123");
            assert!(
                reason(&n).contains("is not in 11-82"),
                "{n}: {}",
                reason(&n)
            );
        }
    }

    #[test]
    fn impossible_birth_dates_are_refused() {
        for birth in ["19900230", "19900001", "19901301", "19900100", "19010229"] {
            let n = number("500106", birth, "123");
            assert_eq!(
                reason(&n),
                "birth date (characters 7-14) is not a calendar date",
                "{birth}"
            );
        }
        assert_eq!(
            reason(&number("500106", "18991231", "123")),
            "birth date (characters 7-14) is before 1900-01-01"
        );
    }

    #[test]
    fn future_birth_dates_are_refused() {
        assert_eq!(
            reason(&number("500106", "20260616", "123")),
            "birth date (characters 7-14) is in the future (today is 2026-06-15)"
        );
        assert!(parse(&number("500106", "20260615", "123")).is_ok());
    }

    #[test]
    fn violations_do_not_echo_the_number_or_birth_date() {
        for n in [
            number("500106", "19900230", "123"),
            number("500106", "20300101", "123"),
            number("000000", "19900101", "123"),
            format!("{}0", &number("500106", "19900101", "123")[..17]),
        ] {
            let reason = reason(&n);
            assert!(!reason.contains(&n[..6]), "{reason}");
            assert!(!reason.contains(&n[6..14]), "{reason}");
        }
    }

    #[test]
    fn sex_comes_from_the_seventeenth_digit() {
        for (sequence, sex) in [
            ("001", Sex::Male),
            ("002", Sex::Female),
            ("119", Sex::Male),
            ("990", Sex::Female),
        ] {
            let id = parse(&number("500106", "19900101", sequence)).unwrap();
            assert_eq!(id.sex(), sex, "{sequence}");
        }
    }

    #[test]
    fn age_counts_completed_years() {
        let id = parse(&number("500106", "19900615", "123")).unwrap();
        assert_eq!(id.age_on(date(2026, 6, 14)), 35);
        assert_eq!(id.age_on(date(2026, 6, 15)), 36);
        assert_eq!(id.age_on(date(2026, 6, 16)), 36);
        assert_eq!(id.age_on(date(2026, 5, 31)), 35);
        assert_eq!(id.age_on(date(2026, 7, 1)), 36);
        assert_eq!(id.age_on(date(1990, 6, 15)), 0);
        assert_eq!(id.age_on(date(1991, 6, 14)), 0);
        assert_eq!(id.age_on(date(1990, 6, 14)), -1);
    }

    #[test]
    fn a_leap_day_birthday_is_reached_on_the_first_of_march_in_common_years() {
        let id = parse(&number("500106", "20000229", "123")).unwrap();
        assert_eq!(id.age_on(date(2001, 2, 28)), 0);
        assert_eq!(id.age_on(date(2001, 3, 1)), 1);
        assert_eq!(id.age_on(date(2003, 2, 28)), 2);
        assert_eq!(id.age_on(date(2003, 3, 1)), 3);
        // In leap years the birthday itself counts.
        assert_eq!(id.age_on(date(2004, 2, 28)), 3);
        assert_eq!(id.age_on(date(2004, 2, 29)), 4);
        assert_eq!(id.age_on(date(2026, 2, 28)), 25);
        assert_eq!(id.age_on(date(2026, 3, 1)), 26);
    }

    #[test]
    fn debug_shows_only_the_masked_number() {
        let n = number("500106", "19900101", "123");
        let id = parse(&n).unwrap();
        let masked = format!("**************{}", &n[14..]);
        assert_eq!(id.masked(), masked);
        let debug = format!("{id:?}");
        assert_eq!(debug, format!("IdNumber({masked:?})"));
        assert!(!debug.contains(&n));
        assert!(!format!("{:?}", Some(&id)).contains("19900101"));
    }

    /// How many valid numbers fit `masked` (each `*` hides any character)
    /// with a region from `regions` and a birth date from `births`: the
    /// people a reader who sees `masked` beside those facts cannot tell
    /// apart. Counted by building every such number with its check
    /// character.
    fn candidates(masked: &str, regions: &[String], births: &[Date]) -> usize {
        let fits = |start: usize, part: &str| {
            masked[start..]
                .chars()
                .zip(part.chars())
                .all(|(shown, c)| shown == '*' || shown == c)
        };
        let births: Vec<String> = births
            .iter()
            .map(|birth| birth.strftime("%Y%m%d").to_string())
            .filter(|birth| fits(6, birth))
            .collect();
        let sequences: Vec<String> = (0..1000)
            .map(|sequence| format!("{sequence:03}"))
            .filter(|sequence| fits(14, sequence))
            .collect();
        let mut count = 0;
        let mut body = String::with_capacity(17);
        for region in regions.iter().filter(|region| fits(0, region)) {
            for birth in &births {
                for sequence in &sequences {
                    body.clear();
                    body.push_str(region);
                    body.push_str(birth);
                    body.push_str(sequence);
                    let full = IdNumber::with_check_character(&body).unwrap();
                    count += usize::from(fits(17, &full[17..]));
                }
            }
        }
        count
    }

    /// A person as the issue found them: registered in `AREA`, born in
    /// 1987, their number read beside the area code.
    const AREA: &str = "500106002003";

    fn seen_person() -> IdNumber {
        parse(&number(&AREA[..6], "19870612", "318")).unwrap()
    }

    /// Every birth date of someone aged 0 to 99 on `TODAY`.
    fn aged_0_to_99() -> Vec<Date> {
        let first = TODAY.checked_sub(100.years()).unwrap().tomorrow().unwrap();
        first.series(1.day()).take_while(|d| *d <= TODAY).collect()
    }

    #[test]
    fn the_old_mask_with_the_birth_year_left_a_handful_of_candidates() {
        let id = seen_person();
        let old = format!("{}**********{}", &id.as_str()[..4], &id.as_str()[14..]);
        // The birth year was served; the sex was too, but the visible
        // sequence code already tells it. The district is the area's.
        let year = date(1987, 1, 1)
            .series(1.day())
            .take_while(|d| d.year() == 1987)
            .collect::<Vec<_>>();
        let count = candidates(&old, &[AREA[..6].to_string()], &year);
        assert!((1..100).contains(&count), "{count} candidates");
    }

    #[test]
    fn the_masked_number_leaves_many_candidates() {
        let id = seen_person();
        let masked = id.masked();
        assert!(masked.starts_with(&"*".repeat(14)), "{masked}");
        let births = aged_0_to_99();

        // The province and city from the area code, any district code.
        let regions: Vec<String> = (0..100)
            .map(|district| format!("{}{district:02}", &AREA[..4]))
            .collect();
        let count = candidates(&masked, &regions, &births);
        assert!(count > 10_000, "{count} candidates");

        // Even a reader who guesses the district from the area code has
        // far more than the old mask's few dozen.
        let guessed = candidates(&masked, &[AREA[..6].to_string()], &births);
        assert!(guessed > 1_000, "{guessed} candidates");
    }

    #[test]
    fn phones_are_normalised() {
        for input in [
            "13812345678",
            "138 1234 5678",
            "138-1234-5678",
            "+86 138 1234 5678",
            "+86-138-1234-5678",
            "8613812345678",
            " 86 13812345678 ",
        ] {
            let phone = Phone::parse("phone", input).unwrap_or_else(|e| panic!("{input}: {e:?}"));
            assert_eq!(phone.as_str(), "13812345678", "{input}");
        }
        for prefix in ["13", "14", "15", "16", "17", "18", "19"] {
            assert!(Phone::parse("phone", &format!("{prefix}012345678")).is_ok());
        }
    }

    #[test]
    fn phones_are_refused() {
        let reason = |v: &str| Phone::parse("phone", v).unwrap_err().reason;
        assert_eq!(
            reason("12345678901"),
            "must be a mainland mobile number (13 to 19 followed by 9 digits)"
        );
        assert_eq!(
            reason("23812345678"),
            "must be a mainland mobile number (13 to 19 followed by 9 digits)"
        );
        assert_eq!(
            reason("1381234567"),
            "must have 11 digits after +86, has 10"
        );
        assert_eq!(
            reason("138123456789"),
            "must have 11 digits after +86, has 12"
        );
        assert_eq!(reason(""), "is required");
        assert_eq!(reason(" - "), "is required");
        for bad in [
            "138a2345678",
            "(138)12345678",
            "+1 650 555 0100",
            "138.1234.5678",
        ] {
            assert_eq!(
                reason(bad),
                "may only contain digits, spaces, hyphens and a leading +86",
                "{bad}"
            );
        }
    }

    #[test]
    fn phones_are_masked() {
        let phone = Phone::parse("phone", "+86 138 1234 5678").unwrap();
        assert_eq!(phone.masked(), "*******5678");
        assert_eq!(format!("{phone:?}"), "Phone(\"*******5678\")");
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        for (input, stored) in [
            ("  张三丰 ", "张三丰"),
            ("阿依古丽·买买提", "阿依古丽·买买提"),
            ("Anna Li", "Anna Li"),
            ("王〇", "王〇"),
        ] {
            assert_eq!(PersonName::parse("name", input).unwrap().as_str(), stored);
        }
        assert!(PersonName::parse("name", &"李".repeat(50)).is_ok());

        let reason = |v: &str| PersonName::parse("name", v).unwrap_err().reason;
        assert_eq!(reason("   "), "is required");
        assert_eq!(
            reason(&"李".repeat(51)),
            "must have at most 50 characters, has 51"
        );
        assert_eq!(
            reason("张\u{0007}三"),
            "must not contain control characters"
        );
        assert_eq!(reason("张\n三"), "must not contain control characters");
        assert_eq!(reason("张三2"), "must not contain digits");
        assert_eq!(reason("张三２"), "must not contain digits");
    }

    #[test]
    fn names_are_masked() {
        let mask = |v: &str| PersonName::parse("name", v).unwrap().masked();
        // The same mask whatever the length: it does not tell 张三 from 张三丰.
        for name in ["张", "张三", "张三丰", "张〇三丰"] {
            assert_eq!(mask(name), "张*", "{name}");
        }
        assert_eq!(mask("欧阳娜娜"), "欧*");
        assert_eq!(mask("阿依古丽·买买提"), "阿*");
        assert_eq!(mask("Anna Li"), "A*");
        assert_eq!(mask("Li"), "L*");
        let name = PersonName::parse("name", "张三丰").unwrap();
        assert_eq!(format!("{name:?}"), "PersonName(\"张*\")");
    }

    /// A valid number: plausible region, a birth date from 1900-01-01 to
    /// `TODAY`, any sequence code, and the reference check character.
    fn valid_number() -> impl Strategy<Value = (String, Date)> {
        let days = IdNumber::EARLIEST_BIRTH_DATE
            .until(TODAY)
            .unwrap()
            .get_days();
        (11u32..=82, 0u32..10_000, 0..=days, 0u32..1_000).prop_map(
            |(province, rest, offset, sequence)| {
                let birth = IdNumber::EARLIEST_BIRTH_DATE
                    .checked_add(offset.days())
                    .unwrap();
                let n = number(
                    &format!("{province:02}{rest:04}"),
                    &birth.strftime("%Y%m%d").to_string(),
                    &format!("{sequence:03}"),
                );
                (n, birth)
            },
        )
    }

    proptest! {
        #[test]
        fn valid_numbers_round_trip((n, birth) in valid_number()) {
            let id = parse(&n).map_err(|e| TestCaseError::fail(e.reason))?;
            prop_assert_eq!(id.as_str(), n.as_str());
            prop_assert_eq!(id.birth_date(), birth);
            let seventeenth = n.as_bytes()[16] - b'0';
            let sex = if seventeenth % 2 == 1 { Sex::Male } else { Sex::Female };
            prop_assert_eq!(id.sex(), sex);
            prop_assert!(id.age_on(TODAY) >= 0);
        }

        /// MOD 11-2 detects every single-character substitution: the check
        /// character alone refuses it, whatever else the change breaks.
        #[test]
        fn any_single_character_change_is_refused(
            (n, _) in valid_number(),
            position in 0usize..18,
            shift in 1u8..11,
        ) {
            let alphabet = b"0123456789X";
            let original = n.as_bytes()[position];
            let index = alphabet.iter().position(|&b| b == original).unwrap();
            // Body positions take digits only; the check position also takes X.
            let size = if position == 17 { 11 } else { 10 };
            prop_assume!(usize::from(shift) < size);
            let replacement = alphabet[(index + usize::from(shift)) % size];
            prop_assert_ne!(replacement, original);

            let mut changed = n.clone().into_bytes();
            changed[position] = replacement;
            let changed = String::from_utf8(changed).unwrap();
            prop_assert!(parse(&changed).is_err(), "{} was accepted", changed);

            let body: &[u8; 17] = changed.as_bytes()[..17].try_into().unwrap();
            prop_assert_ne!(IdNumber::check_character(body), changed.as_bytes()[17]);
        }
    }
}
