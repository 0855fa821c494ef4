//! The folded placement: what every cycle shares (person, programme, how
//! often it failed) and what the current cycle recorded. Fields change only
//! through `apply`; readers get them through accessors.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use crate::pb::Programme;

use super::lifecycle::Status;

/// How long the employment fast lane (就业快车道) promises from registration
/// to on duty.
pub const FAST_LANE_PROMISE: SignedDuration = SignedDuration::from_hours(24);

/// One person in one programme, folded from its events.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Placement {
    pub(super) id: String,
    pub(super) version: u64,
    pub(super) last_position: u64,
    #[serde(with = "programme_number")]
    pub(super) programme: Programme,
    pub(super) person_id: Option<uuid::Uuid>,
    pub(super) status: Status,
    /// 1 for the first registration, 2 after a re-registration, ...
    pub(super) cycle: u32,
    pub(super) declined_cycles: u32,
    pub(super) withdrawn_cycles: u32,
    pub(super) current: Cycle,
}

/// What the current cycle recorded; cleared by the next registration. Times
/// are the events' `occurred_at`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cycle {
    /// 12-digit area code the person registered in.
    pub area_code: String,
    /// Employment fast lane (就业快车道): promised on duty within 24 hours.
    pub fast_lane: bool,
    /// When the cycle's registration occurred.
    pub registered_at: Option<Timestamp>,
    /// Matched to an employer and post (veterans, spouses).
    pub matched_at: Option<Timestamp>,
    /// The school request was accepted (children).
    pub accepted_at: Option<Timestamp>,
    /// When the on-duty event occurred (its `on_duty_date` may be earlier).
    pub on_duty_at: Option<Timestamp>,
    /// The calendar day the person started work.
    pub on_duty_date: Option<Date>,
    /// When the child was enrolled in a school.
    pub enrolled_at: Option<Timestamp>,
    /// When the cycle ended, placed or failed.
    pub closed_at: Option<Timestamp>,
    /// The employer matched; empty before the match.
    pub employer: String,
    /// The post matched; empty before the match.
    pub post: String,
    /// 专业对口: same profession (as recorded by the match).
    pub profession_matched: bool,
    /// 岗位对应: matching post.
    pub post_matched: bool,
    /// 职务对等: equal rank.
    pub rank_matched: bool,
    /// The talent pool recommendation, if the person was recommended.
    pub talent_pool: Option<TalentPool>,
    /// The school and grade the child's request asked for.
    pub school: String,
    /// See `school`.
    pub grade: String,
    /// The school the child was enrolled at (may differ from the request).
    pub enrolled_school: String,
    /// Why the school request was accepted, when a note was given.
    pub acceptance_note: String,
    /// Why the cycle failed (declined, withdrawn, school request declined).
    pub reason: String,
}

/// A recommendation into a community's reserve talent pool (社区后备人才库).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TalentPool {
    /// 12-digit code of the community.
    pub community_code: String,
    /// The office's note on the recommendation; may be empty.
    pub note: String,
    /// When the recommendation event occurred.
    pub recommended_at: Option<Timestamp>,
}

impl Placement {
    /// `Unspecified` before registration.
    pub fn programme(&self) -> Programme {
        self.programme
    }

    /// The person placed; `None` before registration.
    pub fn person_id(&self) -> Option<uuid::Uuid> {
        self.person_id
    }

    /// Where the current cycle stands.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Stream sequence of the last event folded.
    pub fn last_position(&self) -> u64 {
        self.last_position
    }

    /// Number of the current cycle (0 before registration).
    pub fn cycle(&self) -> u32 {
        self.cycle
    }

    /// Earlier cycles that ended declined (by the person, or the school
    /// request by the school), including the current one if it did.
    pub fn declined_cycles(&self) -> u32 {
        self.declined_cycles
    }

    /// Cycles the person withdrew from, including the current one if they did.
    pub fn withdrawn_cycles(&self) -> u32 {
        self.withdrawn_cycles
    }

    /// What the current cycle recorded.
    pub fn current(&self) -> &Cycle {
        &self.current
    }

    /// Registered and neither placed nor failed yet.
    pub fn is_active(&self) -> bool {
        self.status.is_active()
    }

    /// On duty or enrolled.
    pub fn is_placed(&self) -> bool {
        self.status.is_placed()
    }

    /// The day the current cycle was registered, in China.
    pub fn registration_date(&self) -> Option<Date> {
        self.current.registered_at.map(crate::validate::china_date)
    }

    /// Registration to on duty or enrollment, once placed.
    pub fn time_to_placement(&self) -> Option<SignedDuration> {
        let placed_at = match self.status {
            Status::OnDuty => self.current.on_duty_at?,
            Status::Enrolled => self.current.enrolled_at?,
            _ => return None,
        };
        Some(placed_at.duration_since(self.current.registered_at?))
    }

    /// Whether a fast-lane placement kept its promise: on duty at most 24
    /// hours after registering. `None` until on duty, for placements not in
    /// the fast lane, and when an event carried no time.
    pub fn fast_lane_within_24h(&self) -> Option<bool> {
        if !self.current.fast_lane || self.status != Status::OnDuty {
            return None;
        }
        self.time_to_placement()
            .map(|elapsed| elapsed <= FAST_LANE_PROMISE)
    }
}

/// Serde for the prost enum [`Programme`] by its wire number, so a stored
/// placement reads back in any encoding.
mod programme_number {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::pb::Programme;

    pub fn serialize<S: Serializer>(programme: &Programme, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(*programme as i32)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Programme, D::Error> {
        let number = i32::deserialize(d)?;
        Programme::try_from(number)
            .map_err(|_| D::Error::custom(format!("programme {number} is unknown")))
    }
}
