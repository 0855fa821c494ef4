//! The scenario from a seed: every person (and station) a track of commands
//! dated in the past, strictly in order, within the last year.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};
use sy_api::pb::{self, PersonRole, Programme};
use sy_domain::validate::china_date;

use super::people::{self as cat, IdNumbers, pick};
pub use crate::catalogue::Counts;
use crate::catalogue::{Post, placements};
use crate::commands::{Cmd, context};
use crate::demo::{Rng, office_time};
use crate::load::Step;

/// The oldest a step may be dated: intake accepts 366 days, with a margin.
const OLDEST: SignedDuration = SignedDuration::from_hours(360 * 24);

/// The agency that decides school requests (the others are the operator's).
pub const EDUCATION_AGENCY: &str = "district-education-commission";

impl Counts {
    /// The article's figures divided by `scale` (rounding up; 1 keeps them).
    pub fn at_scale(scale: u32) -> Self {
        let scale = scale.max(1);
        let div = |n: u32| n.div_ceil(scale);
        let article = &placements().article.counts;
        Counts {
            veterans: div(article.veterans),
            talent_pool: div(article.talent_pool),
            spouses_placed: div(article.spouses_placed),
            spouses_on_allowance: div(article.spouses_on_allowance),
            children: div(article.children),
            waitlist_per_station: div(article.waitlist_per_station),
            scale,
        }
    }

    /// Allowance paid in the scenario's year: every month for each spouse.
    pub fn allowance_fen_in_year(&self) -> i64 {
        i64::from(self.spouses_on_allowance) * 12 * placements().article.monthly_allowance_fen
    }

    /// Seats of each station at this scale.
    pub fn seats(&self) -> Vec<u32> {
        placements()
            .stations
            .iter()
            .map(|station| station.seats.div_ceil(self.scale))
            .collect()
    }
}

/// Who a track is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Veteran,
    SpousePlaced,
    SpouseOnAllowance,
    Child,
    Station,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Veteran => "veterans 退役军人",
            Kind::SpousePlaced => "spouses placed 随军家属安置",
            Kind::SpouseOnAllowance => "spouses on the allowance 生活保障金",
            Kind::Child => "children enrolled 军人子女入学",
            Kind::Station => "care stations 军娃托管站",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Kind::Veteran => "vet",
            Kind::SpousePlaced => "spouse",
            Kind::SpouseOnAllowance => "allowance",
            Kind::Child => "child",
            Kind::Station => "station",
        }
    }
}

/// One person's (or station's) commands, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub kind: Kind,
    pub index: u32,
    pub steps: Vec<Step>,
}

/// The whole scenario: people first, then stations.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub seed: u64,
    pub counts: Counts,
    /// The calendar year the allowance is paid for.
    pub year: i16,
    pub people: Vec<Track>,
    pub stations: Vec<Track>,
    pub planned: Planned,
}

/// Figures of the scenario as planned, for the summary and for checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Planned {
    pub fast_lane: u32,
    pub fast_lane_within_24h: u32,
    pub trainings: u32,
    pub certificates: u32,
    pub seated: u32,
    pub waitlisted: u32,
}

/// Builds the scenario for `seed` at `scale`, dated relative to `now`.
/// `operator` sends every command but the school decisions.
pub fn plan(seed: u64, scale: u32, now: Timestamp, operator: &pb::Actor) -> Scenario {
    let counts = Counts::at_scale(scale);
    let today = china_date(now);
    let year = today.year();
    let education = pb::Actor {
        agency: EDUCATION_AGENCY.to_string(),
        user: "enrollment.office".to_string(),
    };
    let mut planner = Planner {
        seed,
        now,
        today,
        operator,
        ids: IdNumbers::default(),
        planned: Planned::default(),
    };
    let mut people = Vec::new();
    let pool = chosen(seed, counts.veterans, counts.talent_pool);
    for i in 0..counts.veterans {
        people.push(planner.veteran(i, pool[i as usize]));
    }
    for kind in [Kind::SpousePlaced, Kind::SpouseOnAllowance] {
        let count = match kind {
            Kind::SpousePlaced => counts.spouses_placed,
            _ => counts.spouses_on_allowance,
        };
        for i in 0..count {
            people.push(planner.spouse(kind, i));
        }
    }
    let mut ages = Vec::new();
    for i in 0..counts.children {
        let (track, age) = planner.child(i, &education);
        people.push(track);
        ages.push(age);
    }
    let stations = planner.stations(&counts, &ages);
    let planned = planner.planned;
    Scenario {
        seed,
        counts,
        year,
        people,
        stations,
        planned,
    }
}

/// Exactly `k` of `n` indices, chosen by the seed.
fn chosen(seed: u64, n: u32, k: u32) -> Vec<bool> {
    let mut order: Vec<(u64, u32)> = (0..n)
        .map(|i| (Rng::new(seed ^ 0x007A_1E57, i).next_u64(), i))
        .collect();
    order.sort_unstable();
    let mut picked = vec![false; n as usize];
    for (_, i) in order.into_iter().take(k as usize) {
        picked[i as usize] = true;
    }
    picked
}

/// Makes `times` strictly increasing (a minute apart at least), none later
/// than a minute ago nor older than [`OLDEST`].
fn settle(times: &mut [Timestamp], now: Timestamp) {
    let oldest = now - OLDEST;
    for i in 0..times.len() {
        if times[i] < oldest {
            times[i] = oldest;
        }
        if i > 0 && times[i] <= times[i - 1] {
            times[i] = times[i - 1] + SignedDuration::from_mins(1);
        }
    }
    let mut cap = now - SignedDuration::from_mins(1);
    for t in times.iter_mut().rev() {
        if *t > cap {
            *t = cap;
        }
        cap = *t - SignedDuration::from_mins(1);
    }
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

/// What a track is built from: its steps' commands, each with the time it
/// is wished to happen; [`Draft::finish`] dates them.
struct Draft {
    kind: Kind,
    index: u32,
    key_prefix: String,
    steps: Vec<DraftStep>,
}

struct DraftStep {
    step: Step,
    /// Ends the idempotency key: unique within the track.
    name: String,
    at: Timestamp,
}

impl Draft {
    fn new(seed: u64, kind: Kind, index: u32) -> Self {
        Draft {
            kind,
            index,
            key_prefix: format!("pl-{seed}-{}-{index:04}", kind.key()),
            steps: Vec::new(),
        }
    }

    /// Adds `cmd` (its context and dates left empty) as `actor`, wished at `at`.
    fn push(&mut self, actor: &pb::Actor, name: impl Into<String>, at: Timestamp, cmd: Cmd) {
        self.steps.push(DraftStep {
            step: Step::new(actor.clone(), cmd),
            name: name.into(),
            at,
        });
    }

    /// Dates the steps (see [`settle`]): their contexts, and the days their
    /// commands name.
    fn finish(self, now: Timestamp) -> Track {
        let mut times: Vec<Timestamp> = self.steps.iter().map(|s| s.at).collect();
        settle(&mut times, now);
        let steps = self
            .steps
            .into_iter()
            .zip(times)
            .map(|(DraftStep { mut step, name, .. }, at)| {
                *step.cmd.context_mut() = context(
                    format!("{}-{name}", self.key_prefix),
                    self.key_prefix.clone(),
                    Some(at),
                );
                date(&mut step.cmd, china_date(at));
                step
            })
            .collect();
        Track {
            kind: self.kind,
            index: self.index,
            steps,
        }
    }
}

/// Sets the day a command says something happened on.
fn date(cmd: &mut Cmd, day: Date) {
    let day = day.to_string();
    match cmd {
        Cmd::PutOnDuty(c) => c.on_duty_date = day,
        Cmd::RecordTraining(c) => c.completed_on = day,
        Cmd::RecordCertificate(c) => c.issued_on = day,
        _ => {}
    }
}

fn register_person(
    role: PersonRole,
    name: String,
    id_number: String,
    phone: String,
    area_code: String,
    links: Vec<pb::PersonLink>,
) -> Cmd {
    Cmd::RegisterPerson(pb::RegisterPersonCommand {
        role: role as i32,
        name,
        id_number,
        phone,
        area_code,
        links,
        ..Default::default()
    })
}

fn register_placement(
    programme: Programme,
    area_code: String,
    fast_lane: bool,
    school: String,
    grade: String,
) -> Cmd {
    Cmd::RegisterPlacement(pb::RegisterPlacementCommand {
        programme: programme as i32,
        area_code,
        fast_lane,
        school,
        grade,
        ..Default::default()
    })
}

fn match_post(job: &Post, matched: bool) -> Cmd {
    Cmd::Match(pb::MatchPlacementCommand {
        employer: job.employer.clone(),
        post: job.post.clone(),
        profession_matched: matched,
        post_matched: matched,
        rank_matched: matched,
        ..Default::default()
    })
}

/// On duty, on the day the step is dated to.
fn on_duty() -> Cmd {
    Cmd::PutOnDuty(pb::PutOnDutyCommand::default())
}

/// What every track is planned from: the seed, when, who sends, and what
/// the tracks share (ID numbers never issued twice, the figures planned).
struct Planner<'a> {
    seed: u64,
    now: Timestamp,
    today: Date,
    operator: &'a pb::Actor,
    ids: IdNumbers,
    planned: Planned,
}

impl Planner<'_> {
    /// Someone `youngest` to `oldest` years old today, male at `male_percent`:
    /// whether male, their age and a fresh ID number, drawn in this order.
    fn someone(
        &mut self,
        rng: &mut Rng,
        male_percent: u64,
        (youngest, oldest): (i64, i64),
    ) -> (bool, i64, String) {
        let male = rng.chance(male_percent);
        let age = rng.range(youngest, oldest);
        let birth = cat::birth_for_age(self.today, age, rng);
        (male, age, self.ids.issue(birth, male, rng))
    }

    /// A veteran: registered, in a programme, matched, on duty; `pool`: then
    /// recommended to the talent pool of their community.
    fn veteran(&mut self, index: u32, pool: bool) -> Track {
        let (seed, now, today, operator) = (self.seed, self.now, self.today, self.operator);
        let mut rng = Rng::new(seed ^ 0x05E7_E4A4, index);
        let (male, _, id_number) = self.someone(&mut rng, 88, (20, 55));
        let name = cat::adult_name(male, &mut rng);
        let area = cat::community(&mut rng);
        let fast_lane = rng.chance(placements().article.fast_lane_percent);
        let job = pick(&placements().veteran_posts, &mut rng);

        let days_ago = if fast_lane {
            rng.range(2, 340)
        } else {
            rng.range(80, 350)
        };
        let registered = office_time(today - days_ago.days(), &mut rng);
        let entered = registered + mins(rng.range(10, 90));
        let (matched, duty) = if fast_lane {
            let matched = entered + mins(rng.range(30, 180));
            let duty = if rng.chance(placements().article.within_24h_percent) {
                matched + hours(rng.range(2, 18))
            } else {
                entered + hours(rng.range(30, 72))
            };
            (matched, duty)
        } else {
            let matched = entered + hours(24 * rng.range(3, 45) + rng.range(0, 6));
            (matched, matched + hours(24 * rng.range(1, 20)))
        };

        let mut d = Draft::new(seed, Kind::Veteran, index);
        d.push(
            operator,
            "register",
            registered,
            register_person(
                PersonRole::Veteran,
                name,
                id_number,
                cat::phone(&mut rng),
                area.clone(),
                Vec::new(),
            ),
        );
        d.push(
            operator,
            "enter",
            entered,
            register_placement(
                Programme::VeteranResettlement,
                area.clone(),
                fast_lane,
                String::new(),
                String::new(),
            ),
        );
        d.push(operator, "match", matched, match_post(job, false));
        d.push(operator, "on-duty", duty, on_duty());
        if pool {
            let at = duty + hours(24 * rng.range(1, 30));
            d.push(
                operator,
                "talent-pool",
                at,
                Cmd::RecommendToTalentPool(pb::RecommendToTalentPoolCommand {
                    community_code: area,
                    note: placements().notes.talent_pool.clone(),
                    ..Default::default()
                }),
            );
        }
        let track = d.finish(now);
        if fast_lane {
            // Counted on the dates as sent (the latest steps may have moved).
            self.planned.fast_lane += 1;
            let at = |i: usize| track.steps[i].cmd.occurred_at();
            if let (Some(entered), Some(duty)) = (at(1), at(3)) {
                self.planned.fast_lane_within_24h += u32::from(duty - entered < hours(24));
            }
        }
        track
    }

    /// A spouse: registered (with training and certificates for some), then
    /// placed with the three matches, or granted the allowance from January and
    /// paid each month of the year.
    fn spouse(&mut self, kind: Kind, index: u32) -> Track {
        let (seed, now, today, operator) = (self.seed, self.now, self.today, self.operator);
        let mut rng = Rng::new(seed ^ 0x05B0_005E ^ ((kind as u64) << 40), index);
        let (male, _, id_number) = self.someone(&mut rng, 8, (22, 50));
        let name = cat::adult_name(male, &mut rng);
        let area = cat::community(&mut rng);
        let link = pb::PersonLink {
            relation: pb::Relation::SpouseOf as i32,
            name: cat::adult_name(!male, &mut rng),
            unit: cat::unit(&mut rng),
            person_id: String::new(),
        };
        let year = today.year();
        let registered = match kind {
            // Before the year's first payment.
            Kind::SpouseOnAllowance => office_time(
                jiff::civil::date(year, 1, 2) + rng.range(0, 2).days(),
                &mut rng,
            ),
            _ => office_time(today - rng.range(150, 340).days(), &mut rng),
        };
        let mut d = Draft::new(seed, kind, index);
        d.push(
            operator,
            "register",
            registered,
            register_person(
                PersonRole::MilitarySpouse,
                name,
                id_number,
                cat::phone(&mut rng),
                area.clone(),
                vec![link],
            ),
        );
        let mut at = registered;
        if rng.chance(60) {
            let course = pick(&placements().courses, &mut rng);
            at += hours(rng.range(24, 240));
            self.planned.trainings += 1;
            d.push(
                operator,
                "training",
                at,
                Cmd::RecordTraining(pb::RecordTrainingCommand {
                    course: course.name.clone(),
                    hours: course.hours,
                    ..Default::default()
                }),
            );
            if rng.chance(40) {
                let certificate = pick(&placements().certificates, &mut rng);
                at += hours(rng.range(24, 120));
                self.planned.certificates += 1;
                d.push(
                    operator,
                    "certificate",
                    at,
                    Cmd::RecordCertificate(pb::RecordCertificateCommand {
                        certificate: certificate.name.clone(),
                        issuer: certificate.issuer.clone(),
                        ..Default::default()
                    }),
                );
            }
        }
        if kind == Kind::SpousePlaced {
            let job = pick(&placements().spouse_posts, &mut rng);
            let entered = at + hours(rng.range(2, 72));
            let matched = entered + hours(24 * rng.range(10, 60));
            let duty = matched + hours(24 * rng.range(3, 20));
            d.push(
                operator,
                "enter",
                entered,
                register_placement(
                    Programme::SpousePlacement,
                    area,
                    false,
                    String::new(),
                    String::new(),
                ),
            );
            d.push(operator, "match", matched, match_post(job, true));
            d.push(operator, "on-duty", duty, on_duty());
        } else {
            let from = format!("{year:04}-01");
            d.push(
                operator,
                "grant",
                at + hours(rng.range(1, 48)),
                Cmd::GrantAllowance(pb::GrantAllowanceCommand {
                    monthly_amount_fen: placements().article.monthly_allowance_fen,
                    from_month: from,
                    ..Default::default()
                }),
            );
            for month in 1..=12i8 {
                // Paid around the 10th of the month; months still to come are
                // paid in advance (dated just now, in order).
                let day = jiff::civil::date(year, month, 10);
                let paid = office_time(day, &mut rng);
                d.push(
                    operator,
                    format!("pay-{month:02}"),
                    paid,
                    Cmd::PayAllowance(pb::PayAllowanceCommand {
                        month: format!("{year:04}-{month:02}"),
                        ..Default::default()
                    }),
                );
            }
        }
        d.finish(now)
    }

    /// A child aged 3 to 15: registered, a school requested, accepted, enrolled.
    /// Returns the track and the child's age today.
    fn child(&mut self, index: u32, education: &pb::Actor) -> (Track, i64) {
        let (seed, now, today, operator) = (self.seed, self.now, self.today, self.operator);
        let mut rng = Rng::new(seed ^ 0x000C_411D, index);
        let (_, age, id_number) = self.someone(&mut rng, 52, (3, 15));
        let parent = cat::adult_name(true, &mut rng);
        let name = cat::child_name(&parent, &mut rng);
        let area = cat::community(&mut rng);
        let link = pb::PersonLink {
            relation: pb::Relation::ChildOf as i32,
            name: parent,
            unit: cat::unit(&mut rng),
            person_id: String::new(),
        };
        let (school, grade) = cat::school_and_grade(age, &mut rng);
        // Registered at least three weeks ago: the stations enroll later.
        let registered = office_time(today - rng.range(21, 340).days(), &mut rng);
        let requested = registered + mins(rng.range(5, 120));
        let accepted = requested + hours(24 * rng.range(1, 7));
        let enrolled = accepted + hours(24 * rng.range(1, 10));

        let mut d = Draft::new(seed, Kind::Child, index);
        d.push(
            operator,
            "register",
            registered,
            register_person(
                PersonRole::MilitaryChild,
                name,
                id_number,
                String::new(),
                area.clone(),
                vec![link],
            ),
        );
        let enrolled_at = school.clone();
        d.push(
            operator,
            "request",
            requested,
            register_placement(Programme::SchoolEnrollment, area, false, school, grade),
        );
        d.push(
            education,
            "accept",
            accepted,
            Cmd::AcceptSchoolRequest(pb::AcceptSchoolRequestCommand {
                note: placements().notes.school_accepted.clone(),
                ..Default::default()
            }),
        );
        d.push(
            education,
            "enroll",
            enrolled,
            Cmd::EnrollInSchool(pb::EnrollInSchoolCommand {
                school: enrolled_at,
                ..Default::default()
            }),
        );
        (d.finish(now), age)
    }

    /// The care stations: opened months ago, then children aged 4 to 12 today
    /// enrolled in the last two weeks, seats first, then a waitlist. Each child
    /// goes to one station at most.
    fn stations(&mut self, counts: &Counts, ages: &[i64]) -> Vec<Track> {
        let (seed, now, operator) = (self.seed, self.now, self.operator);
        let today = china_date(now);
        // Children who are 4 to 12 today were 3 to 12 on any of the last 15 days.
        let mut candidates =
            (0..ages.len() as u32).filter(|&i| (4..=12).contains(&ages[i as usize]));
        let mut tracks = Vec::new();
        for (index, (station, seats)) in
            placements().stations.iter().zip(counts.seats()).enumerate()
        {
            let index = index as u32;
            let mut rng = Rng::new(seed ^ 0x57A7_1011, index);
            let notes = &placements().notes;
            let area = cat::community_of(station.street, &mut rng);
            let street = cat::street_name(station.street);
            let name = notes.station_name(street);
            let address = notes.station_address(street, rng.range(1, 300));
            let opened = office_time(today - rng.range(200, 320).days(), &mut rng);
            let mut d = Draft::new(seed, Kind::Station, index);
            d.push(
                operator,
                "open",
                opened,
                Cmd::OpenStation(pb::OpenStationCommand {
                    name,
                    seats,
                    opening_hours: notes.station_hours.clone(),
                    area_code: area,
                    address,
                    ..Default::default()
                }),
            );
            let wanted = seats + counts.waitlist_per_station;
            let children: Vec<u32> = candidates.by_ref().take(wanted as usize).collect();
            let mut at = now - hours(24 * 14);
            for (n, child) in children.into_iter().enumerate() {
                at += mins(rng.range(20, 90));
                if n < seats as usize {
                    self.planned.seated += 1;
                } else {
                    self.planned.waitlisted += 1;
                }
                d.push(
                    operator,
                    format!("enroll-child-{child:04}"),
                    at,
                    Cmd::EnrollChild(pb::EnrollChildCommand {
                        ..Default::default()
                    }),
                );
                if let Some(last) = d.steps.last_mut() {
                    last.step.child = Some(child);
                }
            }
            let track = d.finish(now);
            tracks.push(track);
        }
        tracks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::yuan;
    use std::collections::{BTreeMap, HashSet};
    use sy_domain::person_data::IdNumber;

    fn operator() -> pb::Actor {
        pb::Actor {
            agency: "district-veterans-bureau".into(),
            user: "operator".into(),
        }
    }

    fn now() -> Timestamp {
        "2026-12-01T05:40:00Z".parse().unwrap()
    }

    #[test]
    fn the_article_scale_and_the_allowance_total() {
        let c = Counts::at_scale(1);
        assert_eq!(
            (c.veterans, c.talent_pool, c.spouses_placed, c.children),
            (1581, 33, 26, 2000)
        );
        assert_eq!(c.allowance_fen_in_year(), 151_200_000);
        assert_eq!(yuan(c.allowance_fen_in_year()), "1,512,000");
        assert_eq!(yuan(1250), "12.50");
        let small = Counts::at_scale(10);
        assert_eq!(
            (small.veterans, small.talent_pool, small.spouses_placed),
            (159, 4, 3)
        );
        assert_eq!(small.seats(), [3, 3, 4, 2, 3, 4]);
    }

    #[test]
    fn the_same_seed_gives_the_same_scenario() {
        let a = plan(7, 20, now(), &operator());
        assert_eq!(a, plan(7, 20, now(), &operator()));
        let b = plan(8, 20, now(), &operator());
        assert_ne!(a.people[0].steps[0], b.people[0].steps[0]);
    }

    #[test]
    fn the_full_scenario_is_valid_dated_and_keyed() {
        let now = now();
        let today = china_date(now);
        let s = plan(1, 1, now, &operator());
        let mut keys = HashSet::new();
        let mut counts: BTreeMap<Kind, u32> = BTreeMap::new();
        let mut pool = 0;
        let mut commands = 0;
        for track in s.people.iter().chain(&s.stations) {
            *counts.entry(track.kind).or_default() += 1;
            let mut last: Option<Timestamp> = None;
            for step in &track.steps {
                commands += 1;
                let ctx = step.cmd.context().unwrap();
                assert!(
                    ctx.idempotency_key.starts_with("pl-1-") && ctx.idempotency_key.len() <= 128
                );
                assert!(keys.insert(ctx.idempotency_key.clone()), "duplicate key");
                let at = step.cmd.occurred_at().unwrap();
                assert!(at < now && at >= now - SignedDuration::from_hours(366 * 24));
                if let Some(last) = last {
                    assert!(at > last, "{} not after the step before", step.cmd.call());
                }
                last = Some(at);
                match &step.cmd {
                    Cmd::RegisterPerson(c) => {
                        let id = IdNumber::parse("id_number", &c.id_number, today).unwrap();
                        let age = id.age_on(today);
                        let ages = match track.kind {
                            Kind::Veteran => 20..=55,
                            Kind::Child => 3..=15,
                            _ => 22..=50,
                        };
                        assert!(ages.contains(&age), "{age}");
                        assert!(c.id_number.starts_with("500106"));
                    }
                    Cmd::RecommendToTalentPool(_) => pool += 1,
                    Cmd::PutOnDuty(c) => {
                        assert_eq!(c.on_duty_date, china_date(at).to_string());
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(counts[&Kind::Veteran], 1581);
        assert_eq!(counts[&Kind::SpousePlaced], 26);
        assert_eq!(counts[&Kind::SpouseOnAllowance], 60);
        assert_eq!(counts[&Kind::Child], 2000);
        assert_eq!(counts[&Kind::Station], 6);
        assert_eq!(pool, 33);
        assert!(commands > 14_000, "{commands}");
        assert!(
            s.planned.fast_lane > 300
                && s.planned.fast_lane_within_24h > s.planned.fast_lane * 8 / 10
        );
        assert_eq!(s.planned.seated, 170);
        assert_eq!(s.planned.waitlisted, 24);
    }

    #[test]
    fn station_children_are_distinct_and_of_station_age() {
        let now = now();
        let s = plan(3, 1, now, &operator());
        let mut seen = HashSet::new();
        for station in &s.stations {
            for step in &station.steps[1..] {
                let child = step.child.expect("an enrollment names its child");
                assert!(seen.insert(child));
                let Cmd::RegisterPerson(c) = &s.people[(s.counts.veterans
                    + s.counts.spouses_placed
                    + s.counts.spouses_on_allowance
                    + child) as usize]
                    .steps[0]
                    .cmd
                else {
                    panic!("a child's first step registers them");
                };
                let at = china_date(step.cmd.occurred_at().unwrap());
                let age = IdNumber::parse("id_number", &c.id_number, at)
                    .unwrap()
                    .age_on(at);
                assert!((3..=12).contains(&age), "{age}");
            }
        }
    }

    #[test]
    fn any_day_of_the_year_gives_a_valid_scenario_for_that_year() {
        // Just after New Year in China (still 2026 in UTC), and in spring.
        for now in ["2026-12-31T16:30:00Z", "2026-03-01T02:00:00Z"] {
            let now: Timestamp = now.parse().unwrap();
            let today = china_date(now);
            let s = plan(5, 10, now, &operator());
            assert_eq!(s.year, today.year());
            let mut months = 0;
            for track in s.people.iter().chain(&s.stations) {
                let times: Vec<Timestamp> = track
                    .steps
                    .iter()
                    .map(|s| s.cmd.occurred_at().unwrap())
                    .collect();
                assert!(times.windows(2).all(|w| w[0] < w[1]), "{now}: in order");
                assert!(
                    times
                        .iter()
                        .all(|t| *t < now && *t >= now - OLDEST - hours(1))
                );
                for step in &track.steps {
                    if let Cmd::PayAllowance(c) = &step.cmd {
                        assert!(c.month.starts_with(&format!("{:04}-", today.year())));
                        months += 1;
                    }
                    if let Cmd::RegisterPerson(c) = &step.cmd {
                        IdNumber::parse("id_number", &c.id_number, today).unwrap();
                    }
                }
            }
            assert_eq!(months, 12 * s.counts.spouses_on_allowance);
        }
    }

    #[test]
    fn settle_orders_and_bounds_times() {
        let now = now();
        let mut times = vec![now + hours(5), now - hours(1), now - OLDEST - hours(50)];
        settle(&mut times, now);
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        assert!(times[2] < now && times[0] >= now - OLDEST - mins(5));
    }
}
