//! Who the people of `sy demo placements` are: names, ID numbers, phones,
//! areas and schools drawn from the catalogue (`data/placements.toml`) with
//! the demo's [`Rng`], so a seed always gives the same people. ID numbers are valid resident identity numbers (GB 11643-1999):
//! region 500106, the birth date, a sequence code (odd for men, even for
//! women) and the MOD 11-2 check character.

use std::collections::HashSet;

use jiff::ToSpan;
use jiff::civil::Date;
use sy_domain::person_data::IdNumber;

use crate::catalogue::placements;
use crate::demo::Rng;

/// The district of the scenario (沙坪坝区).
pub const DISTRICT: &str = "500106";
/// The district as a 12-digit area code, for statistics.
pub const DISTRICT_AREA: &str = "500106000000";
/// Hands out ID numbers, never the same one twice in a scenario.
#[derive(Debug, Default)]
pub struct IdNumbers {
    used: HashSet<String>,
}

impl IdNumbers {
    /// A valid number for someone born on `birth` of the given sex; the
    /// sequence code is random and moved on (keeping its parity) when taken.
    pub fn issue(&mut self, birth: Date, male: bool, rng: &mut Rng) -> String {
        let mut sequence = rng.range(0, 499) * 2 + i64::from(male);
        loop {
            let body = format!(
                "{DISTRICT}{:04}{:02}{:02}{sequence:03}",
                birth.year(),
                birth.month(),
                birth.day()
            );
            if self.used.insert(body.clone()) {
                return IdNumber::with_check_character(&body)
                    .expect("the body is 17 digits: region, birth date, sequence");
            }
            sequence = (sequence + 2) % 1000;
        }
    }
}

/// A birth date making someone exactly `age` on `today` (their birthday
/// within the past year, never today).
pub fn birth_for_age(today: Date, age: i64, rng: &mut Rng) -> Date {
    today - age.years() - rng.range(1, 360).days()
}

/// One of `items`, uniformly.
pub fn pick<'a, T>(items: &'a [T], rng: &mut Rng) -> &'a T {
    &items[rng.range(0, items.len() as i64 - 1) as usize]
}

/// An adult's name.
pub fn adult_name(male: bool, rng: &mut Rng) -> String {
    let cat = placements();
    let given = if male {
        &cat.given_male
    } else {
        &cat.given_female
    };
    format!("{}{}", pick(&cat.surnames, rng), pick(given, rng))
}

/// A child's name, with the service member's surname.
pub fn child_name(parent: &str, rng: &mut Rng) -> String {
    let surname: String = parent.chars().take(1).collect();
    format!("{surname}{}", pick(&placements().given_child, rng))
}

/// A mainland mobile number.
pub fn phone(rng: &mut Rng) -> String {
    let second = [3, 5, 7, 8, 9][rng.range(0, 4) as usize];
    format!("1{second}{:09}", rng.range(0, 999_999_999))
}

/// The service member's unit (an agency code).
pub fn unit(rng: &mut Rng) -> String {
    format!("unit-{}", 31001 + rng.range(0, 19))
}

/// A community of the district: any street, any of its communities.
pub fn community(rng: &mut Rng) -> String {
    let streets = placements().street_names.len() as i64;
    community_of(rng.range(1, streets) as u32, rng)
}

/// A community of street `street`.
pub fn community_of(street: u32, rng: &mut Rng) -> String {
    format!(
        "{DISTRICT}{street:03}{:03}",
        rng.range(1, i64::from(placements().communities))
    )
}

/// The street name of street `street` (1-based).
pub fn street_name(street: u32) -> &'static str {
    let names = &placements().street_names;
    &names[(street as usize + names.len() - 1) % names.len()]
}

/// A school for a child of `age` and the grade asked for.
pub fn school_and_grade(age: i64, rng: &mut Rng) -> (String, String) {
    let schools = &placements().schools;
    let (school, grade) = match age {
        ..=5 => (
            pick(&schools.kindergartens, rng),
            &schools.kindergarten_grades[(age.max(3) - 3) as usize],
        ),
        6..=11 => (
            pick(&schools.primary, rng),
            &schools.primary_grades[(age - 6) as usize],
        ),
        _ => (
            pick(&schools.middle, rng),
            &schools.middle_grades[(age.min(15) - 12) as usize],
        ),
    };
    (school.clone(), grade.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_numbers_are_valid_unique_and_carry_birth_date_and_sex() {
        let today = jiff::civil::date(2026, 12, 1);
        let mut numbers = IdNumbers::default();
        let mut rng = Rng::new(1, 0);
        let mut seen = HashSet::new();
        for i in 0..3000 {
            let male = i % 3 != 0;
            let birth = birth_for_age(today, 20 + i % 36, &mut rng);
            let number = numbers.issue(birth, male, &mut rng);
            let parsed = IdNumber::parse("id_number", &number, today).expect("valid");
            assert_eq!(parsed.birth_date(), birth);
            assert_eq!(parsed.age_on(today), (20 + i % 36) as i16);
            assert_eq!(parsed.sex() == sy_domain::person_data::Sex::Male, male);
            assert!(seen.insert(number));
        }
        // The example of GB 11643-1999.
        assert_eq!(
            IdNumber::with_check_character("11010519491231002").as_deref(),
            Some("11010519491231002X")
        );
    }

    #[test]
    fn names_phones_and_areas_parse() {
        let mut rng = Rng::new(2, 0);
        for _ in 0..200 {
            let name = adult_name(rng.chance(50), &mut rng);
            sy_domain::person_data::PersonName::parse("name", &name).expect("valid name");
            sy_domain::person_data::PersonName::parse("name", &child_name(&name, &mut rng))
                .expect("valid child name");
            sy_domain::person_data::Phone::parse("phone", &phone(&mut rng)).expect("valid phone");
            let area = community(&mut rng);
            assert!(
                area.starts_with(DISTRICT) && !area.ends_with("000"),
                "{area}"
            );
        }
        for age in 3..=15 {
            let (school, grade) = school_and_grade(age, &mut rng);
            assert!(!school.is_empty() && !grade.is_empty());
        }
    }
}
