//! The placement programmes' aggregates (persons, placements, allowances,
//! stations) as the read model keeps them, and the view-level `apply` that
//! folds one event into them.
//!
//! # Why views, not the domain states
//!
//! The domain aggregates (`sy_domain::{person, placement, allowance,
//! station}`) are plain Rust structs whose fields only their own `apply` can
//! set, and a person's state holds the full ID number, phone and name, which
//! the read model must never store (PIPL minimisation). So the domain state
//! cannot be rebuilt from anything the read model may keep, and keeping each
//! aggregate's events to replay them would grow without bound (an allowance
//! is paid monthly, a station enrolls children for years).
//!
//! Instead each aggregate is stored as a prost message this crate owns (the
//! query API's view, wrapped with what `apply` needs beyond it: a version,
//! the paid months), and the functions here fold an event into that message.
//! They are pure and deterministic (times come from the events) and mirror
//! the domain's `apply` checks: the next version, the placement lifecycle
//! table itself ([`transition`]), the allowance's month rules, the station's
//! seat invariant. A person's registration is folded by the domain's own
//! `apply` (it parses the number, name and phone), and only masked values
//! leave it. Whatever these functions refuse is quarantined by the fold.
//!
//! Cross-aggregate facts are not checked: a placement for a person the read
//! model has not seen folds fine (intake checked it when deciding).

use jiff::Timestamp;
use sy_domain::aggregate::Aggregate;
use sy_domain::allowance::{MONTHLY_AMOUNT_FEN, Month};
use sy_domain::event::{event_type, to_jiff, to_proto};
use sy_domain::pb::{self, EventEnvelope, event_envelope::Payload};
use sy_domain::person::Person;
use sy_domain::person_data::{PersonName, Phone, Sex};
use sy_domain::placement::{FAST_LANE_PROMISE, Status, placement_id_for, transition};
use sy_domain::validate::{self, aggregate_id};

/// A placement as stored: its view plus what folding the next event needs.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredPlacement {
    #[prost(message, optional, tag = "1")]
    pub view: Option<pb::PlacementView>,
    #[prost(uint64, tag = "2")]
    pub version: u64,
    /// Stream position of the current cycle's registration (list order).
    #[prost(uint64, tag = "3")]
    pub registered_position: u64,
    /// The current cycle was recommended to the talent pool.
    #[prost(bool, tag = "4")]
    pub talent_pool: bool,
}

/// An allowance as stored: its view plus what folding the next event needs.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredAllowance {
    #[prost(message, optional, tag = "1")]
    pub view: Option<pb::AllowanceView>,
    #[prost(uint64, tag = "2")]
    pub version: u64,
    /// Every month paid (`YYYY-MM`), in the order paid: a month is paid once.
    #[prost(string, repeated, tag = "3")]
    pub paid_months: Vec<String>,
    /// The person's area when first granted (empty if the person was not
    /// folded yet); the allowance statistics count there.
    #[prost(string, tag = "4")]
    pub area_code: String,
}

fn payload(event: &EventEnvelope) -> Result<&Payload, String> {
    event
        .payload
        .as_ref()
        .ok_or_else(|| "event has no payload it knows (written by a newer schema?)".to_string())
}

/// The checks every fold starts with: the kind and the next version.
fn check(event: &EventEnvelope, kind: &str, version: u64) -> Result<(), String> {
    if event.aggregate_kind != kind {
        return Err(format!(
            "event belongs to a {}, not a {kind}",
            event.aggregate_kind
        ));
    }
    if event.aggregate_version != version + 1 {
        return Err(format!(
            "event has version {}, expected {}",
            event.aggregate_version,
            version + 1
        ));
    }
    Ok(())
}

fn refused(payload: &Payload, kind: &str, state: &str) -> String {
    format!(
        "{} cannot happen to a {kind} that is {state}",
        event_type(payload)
    )
}

/// Folds a person event into `before` (`None`: not registered yet).
pub fn person(
    before: Option<&pb::PersonView>,
    event: &EventEnvelope,
    position: u64,
) -> Result<pb::PersonView, String> {
    let Some(before) = before else {
        // The registration: the domain parses the personal data; only the
        // masked forms are kept.
        let mut state = Person::default();
        state
            .apply(event, position)
            .map_err(|err| err.to_string())?;
        let record = state
            .record()
            .ok_or_else(|| "a first person event must register".to_string())?;
        let links = match payload(event)? {
            Payload::PersonRegistered(e) => e.links.iter().map(masked_link).collect(),
            _ => Vec::new(),
        };
        return Ok(pb::PersonView {
            id: event.aggregate_id.clone(),
            role: record.role as i32,
            name: record.name.masked(),
            id_number: record.id_number.masked(),
            phone: record.phone.as_ref().map(Phone::masked).unwrap_or_default(),
            area_code: record.area_code.as_str().to_string(),
            sex: match record.sex() {
                Sex::Male => "male",
                Sex::Female => "female",
            }
            .to_string(),
            birth_year: u32::try_from(record.birth_date().year()).unwrap_or_default(),
            links,
            registered_at: Some(to_proto(record.registered_at)),
            version: 1,
            ..Default::default()
        });
    };
    check(event, Person::KIND, before.version)?;
    let payload = payload(event)?;
    let mut after = before.clone();
    match payload {
        Payload::TrainingRecorded(e) => {
            validate::date("completed_on", &e.completed_on)
                .map_err(|v| format!("stored {} {}", v.field, v.reason))?;
            after.trainings.push(e.clone());
        }
        Payload::CertificateRecorded(e) => {
            validate::date("issued_on", &e.issued_on)
                .map_err(|v| format!("stored {} {}", v.field, v.reason))?;
            after.certificates.push(e.clone());
        }
        _ => return Err(refused(payload, Person::KIND, "registered")),
    }
    after.version = event.aggregate_version;
    Ok(after)
}

/// The service member a spouse or child belongs to, their name masked.
fn masked_link(link: &pb::PersonLink) -> pb::PersonLink {
    pb::PersonLink {
        name: PersonName::parse("name", &link.name)
            .map(|name| name.masked())
            .unwrap_or_default(),
        ..link.clone()
    }
}

/// A placement status from its stored name.
pub fn status_named(name: &str) -> Option<Status> {
    Status::ALL.into_iter().find(|s| s.as_str() == name)
}

/// Folds a placement event stored at `position` into `before`.
pub fn placement(
    before: Option<&StoredPlacement>,
    event: &EventEnvelope,
    position: u64,
) -> Result<StoredPlacement, String> {
    let mut after = before.cloned().unwrap_or_default();
    check(event, sy_domain::placement::KIND, after.version)?;
    let payload = payload(event)?;
    let view = after.view.get_or_insert_with(Default::default);
    let status = if before.is_none() {
        Status::Unregistered
    } else {
        status_named(&view.status)
            .ok_or_else(|| format!("stored placement status {:?} is unknown", view.status))?
    };
    let programme = match payload {
        Payload::PlacementRegistered(e) if status == Status::Unregistered => e.programme(),
        _ => view.programme(),
    };
    let refuse = |why: &str| format!("{}{why}", refused(payload, "placement", status.as_str()));
    let next = transition(programme, status, payload).ok_or_else(|| refuse(""))?;
    let at = to_jiff(event.occurred_at.as_ref());
    match payload {
        Payload::PlacementRegistered(e) => {
            let person = aggregate_id("person_id", &e.person_id)
                .map_err(|_| refuse(" (the registration's person_id is not a UUID)"))?;
            if status == Status::Unregistered {
                let expected = placement_id_for(&person, programme).to_string();
                if event.aggregate_id != expected {
                    return Err(format!(
                        "placement {} is not the placement {expected} of its person and programme",
                        event.aggregate_id
                    ));
                }
            } else if e.programme() != programme || person.to_string() != view.person_id {
                return Err(refuse(" (for another person or programme)"));
            }
            *view = pb::PlacementView {
                id: event.aggregate_id.clone(),
                programme: programme as i32,
                person_id: person.to_string(),
                cycle: view.cycle + 1,
                area_code: e.area_code.clone(),
                fast_lane: e.fast_lane,
                registered_at: event.occurred_at,
                school: e.school.clone(),
                grade: e.grade.clone(),
                ..Default::default()
            };
            after.registered_position = position;
            after.talent_pool = false;
        }
        Payload::PlacementMatched(e) => {
            view.employer.clone_from(&e.employer);
            view.post.clone_from(&e.post);
            view.profession_matched = e.profession_matched;
            view.post_matched = e.post_matched;
            view.rank_matched = e.rank_matched;
        }
        Payload::PlacementOnDuty(e) => {
            validate::date("on_duty_date", &e.on_duty_date)
                .map_err(|_| refuse(" (on_duty_date is not a YYYY-MM-DD date)"))?;
            placed(view, at);
        }
        Payload::SchoolEnrolled(e) => {
            view.school.clone_from(&e.school);
            placed(view, at);
        }
        Payload::PlacementDeclined(pb::PlacementDeclined { reason })
        | Payload::PlacementWithdrawn(pb::PlacementWithdrawn { reason })
        | Payload::SchoolRequestDeclined(pb::SchoolRequestDeclined { reason }) => {
            view.reason.clone_from(reason);
        }
        Payload::TalentPoolRecommended(e) => {
            if after.talent_pool {
                return Err(refuse(
                    " (already recommended to the talent pool in this cycle)",
                ));
            }
            view.talent_pool_community.clone_from(&e.community_code);
            after.talent_pool = true;
        }
        // The status change is all an accepted school request records here.
        _ => {}
    }
    view.status = next.as_str().to_string();
    view.last_position = position;
    after.version = event.aggregate_version;
    Ok(after)
}

/// Records the placement (on duty, enrolled) at `at`.
fn placed(view: &mut pb::PlacementView, at: Option<Timestamp>) {
    view.placed_at = at.map(to_proto);
    let registered = to_jiff(view.registered_at.as_ref());
    let elapsed = at
        .zip(registered)
        .map(|(placed, registered)| placed.duration_since(registered));
    view.seconds_to_placement = elapsed
        .map(|d| u64::try_from(d.as_secs()).unwrap_or_default())
        .unwrap_or_default();
    view.within_24h = view.fast_lane && elapsed.is_some_and(|d| d <= FAST_LANE_PROMISE);
}

/// Folds an allowance event into `before`; `area_code` is the person's area
/// as the read model knows it (kept from the first grant on).
pub fn allowance(
    before: Option<&StoredAllowance>,
    event: &EventEnvelope,
    area_code: &str,
) -> Result<StoredAllowance, String> {
    let mut after = before.cloned().unwrap_or_default();
    check(event, sy_domain::allowance::Allowance::KIND, after.version)?;
    let payload = payload(event)?;
    let view = after.view.get_or_insert_with(Default::default);
    let state = if view.status.is_empty() {
        "never granted"
    } else {
        view.status.as_str()
    };
    let refuse = |why: &str| format!("{}{why}", refused(payload, "allowance", state));
    let granted = view.status == "granted";
    match payload {
        Payload::AllowanceGranted(e) if !granted => {
            let person = aggregate_id("person_id", &e.person_id)
                .map_err(|_| refuse(" (its person_id is not a UUID)"))?
                .to_string();
            if !view.person_id.is_empty() && view.person_id != person {
                return Err(refuse(" (for another person)"));
            }
            if !MONTHLY_AMOUNT_FEN.contains(&e.monthly_amount_fen) {
                return Err(refuse(" (its monthly amount is out of range)"));
            }
            let from = month(&e.from_month).map_err(|why| refuse(&why))?;
            if !view.last_paid_month.is_empty()
                && from <= month(&view.last_paid_month).map_err(|why| refuse(&why))?
            {
                return Err(refuse(" (its first month is already paid for)"));
            }
            if after.area_code.is_empty() {
                after.area_code = area_code.to_string();
            }
            view.person_id = person;
            view.status = "granted".into();
            view.monthly_amount_fen = e.monthly_amount_fen;
            view.from_month = from.to_string();
            view.stop_reason.clear();
            view.stopped_automatically = false;
        }
        Payload::AllowancePaid(e) if granted => {
            let paid = month(&e.month).map_err(|why| refuse(&why))?;
            if paid < month(&view.from_month).map_err(|why| refuse(&why))? {
                return Err(refuse(" (a month before the grant)"));
            }
            let paid = paid.to_string();
            if after.paid_months.contains(&paid) {
                return Err(refuse(&format!(" (and already paid for {paid})")));
            }
            if e.amount_fen <= 0 {
                return Err(refuse(" (its amount is not positive)"));
            }
            view.total_paid_fen = view
                .total_paid_fen
                .checked_add(e.amount_fen)
                .ok_or_else(|| refuse(" (the total would overflow)"))?;
            view.months_paid += 1;
            // `YYYY-MM` strings order like the months they name.
            if paid > view.last_paid_month {
                view.last_paid_month.clone_from(&paid);
            }
            after.paid_months.push(paid);
        }
        Payload::AllowanceStopped(e) if granted => {
            view.status = "stopped".into();
            view.stop_reason.clone_from(&e.reason);
            view.stopped_automatically = e.automatic;
        }
        _ => return Err(refuse("")),
    }
    after.version = event.aggregate_version;
    Ok(after)
}

fn month(value: &str) -> Result<Month, String> {
    Month::parse("month", value).map_err(|v| format!(" (a stored month {})", v.reason))
}

/// Folds a station event into `before`.
pub fn station(
    before: Option<&pb::StationView>,
    event: &EventEnvelope,
) -> Result<pb::StationView, String> {
    let version = before.map_or(0, |s| s.version);
    check(event, sy_domain::station::KIND, version)?;
    let payload = payload(event)?;
    let refuse = |why: String| Err(refused(payload, "station", &why));
    let mut s = match (before, payload) {
        (None, Payload::StationOpened(e)) => {
            return Ok(pb::StationView {
                id: event.aggregate_id.clone(),
                name: e.name.clone(),
                seats: e.seats,
                occupancy: 0,
                free_seats: e.seats,
                opening_hours: e.opening_hours.clone(),
                area_code: e.area_code.clone(),
                address: e.address.clone(),
                version: event.aggregate_version,
                ..Default::default()
            });
        }
        (Some(_), Payload::StationOpened(_)) => return refuse("already open".into()),
        (None, _) => return refuse("not open".into()),
        (Some(s), _) => s.clone(),
    };
    let occupancy = u32::try_from(s.seated.len()).unwrap_or(u32::MAX);
    match payload {
        Payload::StationSeatsChanged(e) => {
            if e.seats < occupancy {
                return refuse(format!("seating {occupancy} children"));
            }
            let room = usize::try_from(e.seats - occupancy).unwrap_or(usize::MAX);
            let owed = room.min(s.waitlist.len());
            if e.promoted_person_ids[..] != s.waitlist[..owed] {
                return refuse("owing its free seats to the children waiting longest".into());
            }
            let promoted: Vec<String> = s.waitlist.drain(..owed).collect();
            s.seated.extend(promoted);
            s.seats = e.seats;
        }
        Payload::ChildEnrolled(e) => {
            let child = &e.person_id;
            if child.is_empty() || s.seated.contains(child) || s.waitlist.contains(child) {
                return refuse("enrolling that child already (or it has no id)".into());
            }
            let full = occupancy >= s.seats;
            if full != e.waitlisted {
                return refuse(format!("{occupancy} of {} seats taken", s.seats));
            }
            if full {
                s.waitlist.push(child.clone());
            } else {
                s.seated.push(child.clone());
            }
        }
        Payload::ChildWithdrawn(e) => {
            let child = &e.person_id;
            let promoted = &e.promoted_person_id;
            if let Some(seat) = s.seated.iter().position(|c| c == child) {
                let next = s.waitlist.first().map_or("", String::as_str);
                if promoted != next {
                    return refuse(format!("owing the freed seat to {next:?}"));
                }
                s.seated.remove(seat);
                if !promoted.is_empty() {
                    let first = s.waitlist.remove(0);
                    s.seated.push(first);
                }
            } else if let Some(place) = s.waitlist.iter().position(|c| c == child) {
                if !promoted.is_empty() {
                    return refuse("freeing no seat when a waiting child leaves".into());
                }
                s.waitlist.remove(place);
            } else {
                return refuse(format!("without child {child}"));
            }
        }
        _ => return refuse("open".into()),
    }
    s.occupancy = u32::try_from(s.seated.len()).unwrap_or(u32::MAX);
    s.free_seats = s.seats.saturating_sub(s.occupancy);
    s.version = event.aggregate_version;
    Ok(s)
}
