//! The demos' data, kept in `data/*.toml` so the scripts read as what
//! happens and the files as who and where: `requests.toml` (the parties and
//! kinds of support request of `sy demo` and `sy walkthrough`) and
//! `placements.toml` (names, posts, schools, care stations and the
//! article's figures of `sy demo placements`). Both are embedded at build
//! time and parsed once into typed values; the tests below parse them, so a
//! broken file fails the tests rather than a demo.

use std::sync::LazyLock;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use sy_api::pb::{self, Category, Direction};

/// The supervision office (区"两办"督查室), which escalates requests.
pub const SUPERVISION_OFFICE: &str = "district-supervision-office";

/// The parsed `data/requests.toml`.
pub fn requests() -> &'static Requests {
    static REQUESTS: LazyLock<Requests> =
        LazyLock::new(|| parse(include_str!("../data/requests.toml")));
    &REQUESTS
}

/// The parsed `data/placements.toml`.
pub fn placements() -> &'static Placements {
    static PLACEMENTS: LazyLock<Placements> =
        LazyLock::new(|| parse(include_str!("../data/placements.toml")));
    &PLACEMENTS
}

fn parse<T: DeserializeOwned>(text: &str) -> T {
    toml::from_str(text).expect("the embedded data files parse (checked by catalogue's tests)")
}

/// The cast and repertoire of the support requests.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requests {
    /// Streets (town/street digits 7-9) under 500106.
    pub streets: Vec<String>,
    pub notes: Notes,
    pub parties: Vec<Party>,
    pub templates: Vec<Template>,
}

/// Notes every request may carry, whatever its kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notes {
    pub start: String,
    pub close: String,
    pub reopen: String,
    pub rework_progress: String,
    pub rework_resolution: String,
    pub escalate: String,
    pub reschedule: String,
    pub reject: Vec<String>,
    /// Why the demo puts a request on the year's double list.
    pub double_list: String,
    assign: String,
}

/// An agency that takes part in the demo: its code (the `x-sy-agency` it
/// calls with), its display name and the user who acts for it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    pub agency: String,
    pub name: String,
    pub user: String,
}

impl Party {
    /// The actor this party calls as.
    pub fn actor(&self) -> pb::Actor {
        pb::Actor {
            agency: self.agency.clone(),
            user: self.user.clone(),
        }
    }
}

/// A kind of request: who raises it (agency codes of parties), who works
/// it, and what is said on the way.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    #[serde(deserialize_with = "direction")]
    pub direction: Direction,
    #[serde(deserialize_with = "category")]
    pub category: Category,
    pub requester: String,
    pub department: String,
    pub title: String,
    /// Two concrete cases, so repeated kinds read as different requests.
    pub cases: [String; 2],
    pub description: String,
    pub progress: String,
    pub resolution: String,
}

impl Requests {
    /// The party acting for `agency`.
    pub fn party(&self, agency: &str) -> &Party {
        self.parties
            .iter()
            .find(|p| p.agency == agency)
            .expect("every agency the demos name is a party (checked by catalogue's tests)")
    }

    /// What the coordinating office says when it assigns to `department`.
    pub fn assign_note(&self, department: &Party) -> String {
        self.notes.assign.replace("{department}", &department.name)
    }
}

fn direction<'de, D: Deserializer<'de>>(d: D) -> Result<Direction, D::Error> {
    proto_enum(d, Direction::from_str_name)
}

fn category<'de, D: Deserializer<'de>>(d: D) -> Result<Category, D::Error> {
    proto_enum(d, Category::from_str_name)
}

/// A protobuf enum by its name, e.g. `CATEGORY_MEDICAL`.
fn proto_enum<'de, D: Deserializer<'de>, E>(
    d: D,
    from_name: fn(&str) -> Option<E>,
) -> Result<E, D::Error> {
    let name = String::deserialize(d)?;
    from_name(&name).ok_or_else(|| D::Error::custom(format!("no enum value {name}")))
}

/// The people and places of the placement programmes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placements {
    /// Streets (街道/镇) 001 to 010, by number.
    pub street_names: Vec<String>,
    /// Communities per street: 001 to this.
    pub communities: u32,
    pub surnames: Vec<String>,
    pub given_male: Vec<String>,
    pub given_female: Vec<String>,
    pub given_child: Vec<String>,
    pub article: Article,
    pub notes: PlacementNotes,
    pub schools: Schools,
    pub veteran_posts: Vec<Post>,
    pub spouse_posts: Vec<Post>,
    pub courses: Vec<Course>,
    pub certificates: Vec<Certificate>,
    pub stations: Vec<Station>,
}

/// The article's figures.
#[derive(Debug, Deserialize)]
pub struct Article {
    /// How many of each, at scale 1.
    #[serde(flatten)]
    pub counts: Counts,
    /// The allowance per month (未就业随军家属基本生活保障金), in fen.
    pub monthly_allowance_fen: i64,
    /// Of veterans, the share registered in the employment fast lane (percent).
    pub fast_lane_percent: u64,
    /// Of fast-lane veterans, the share on duty within 24 hours (percent).
    pub within_24h_percent: u64,
}

/// How many of each the placements scenario writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Counts {
    pub veterans: u32,
    pub talent_pool: u32,
    pub spouses_placed: u32,
    pub spouses_on_allowance: u32,
    pub children: u32,
    /// Children beyond the seats at each station (its waitlist).
    pub waitlist_per_station: u32,
    /// Divides the stations' seats (1 in the data file).
    #[serde(skip_deserializing, default = "unscaled")]
    pub scale: u32,
}

fn unscaled() -> u32 {
    1
}

/// What the placement scripts say.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementNotes {
    pub talent_pool: String,
    pub school_accepted: String,
    pub station_hours: String,
    station_name: String,
    station_address: String,
}

impl PlacementNotes {
    /// The name of the station of the street named `street`.
    pub fn station_name(&self, street: &str) -> String {
        self.station_name.replace("{street}", street)
    }

    /// The address at `number` in the street named `street`.
    pub fn station_address(&self, street: &str, number: i64) -> String {
        self.station_address
            .replace("{street}", street)
            .replace("{number}", &number.to_string())
    }
}

/// Schools and the grades asked for: kindergarten to 5, primary 6 to 11,
/// middle school from 12.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schools {
    pub kindergartens: Vec<String>,
    pub kindergarten_grades: Vec<String>,
    pub primary: Vec<String>,
    pub primary_grades: Vec<String>,
    pub middle: Vec<String>,
    pub middle_grades: Vec<String>,
}

/// An employer and a post (安置岗位).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Post {
    pub employer: String,
    pub post: String,
}

/// A training course (随军家属培训) and its hours.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Course {
    pub name: String,
    pub hours: u32,
}

/// A certificate (取证) and its issuer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub name: String,
    pub issuer: String,
}

/// A care station (军娃托管站): its street's number and its seats at scale 1.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Station {
    pub street: u32,
    pub seats: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_party_is_a_valid_code_and_unique() {
        let parties = &requests().parties;
        for (i, p) in parties.iter().enumerate() {
            assert!(crate::rpc::actor(&p.agency, &p.user).is_ok(), "{p:?}");
            assert!(parties[..i].iter().all(|q| q.agency != p.agency));
        }
        requests().party(SUPERVISION_OFFICE);
    }

    #[test]
    fn templates_point_the_right_way() {
        let requests = requests();
        assert_eq!(requests.templates.len(), 22);
        for t in &requests.templates {
            let from_unit = t.requester.starts_with("unit-");
            match t.direction {
                Direction::MilitaryToLocal => assert!(from_unit, "{}", t.title),
                _ => assert!(!from_unit && t.department.starts_with("unit-")),
            }
            requests.party(&t.requester);
            requests.party(&t.department);
        }
        assert_eq!(requests.notes.reject.len(), 2);
        assert!(!requests.notes.assign.is_empty());
    }

    #[test]
    fn the_placements_data_has_what_the_scenario_draws() {
        let p = placements();
        assert_eq!(p.street_names.len(), 10);
        assert_eq!(p.article.counts.veterans, 1581);
        assert!(p.stations.iter().all(|s| (1..=10).contains(&s.street)));
        assert_eq!(p.schools.kindergarten_grades.len(), 3);
        assert_eq!(p.schools.primary_grades.len(), 6);
        assert_eq!(p.schools.middle_grades.len(), 4);
        assert_eq!(
            p.notes.station_address("磁器口", 12),
            "沙坪坝区磁器口街道12号"
        );
    }
}
