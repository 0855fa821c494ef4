//! The lifecycle table: which event may follow which status in which
//! programme, and the status it leads to. `decide` and `apply` both consult
//! it, so a command that decide accepts always folds, and an event that breaks
//! the table is caught on read.

use crate::pb::Programme as P;
use crate::pb::event_envelope::Payload;

/// Where a placement stands in its current cycle.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum Status {
    /// No event yet: the placement does not exist.
    #[default]
    Unregistered,
    /// Registered and waiting (veterans and spouses: for a match; children:
    /// for the school request to be decided).
    Registered,
    /// Matched to an employer and post (veterans, spouses).
    Matched,
    /// On duty (上岗): placed (veterans, spouses).
    OnDuty,
    /// The school request was accepted (children).
    Accepted,
    /// Enrolled at a school: placed (children).
    Enrolled,
    /// The person declined what was offered, or the school request was
    /// declined: the cycle failed.
    Declined,
    /// The person left the programme before being placed: the cycle failed.
    Withdrawn,
}

impl Status {
    /// Every status, for tables and tests.
    pub const ALL: [Status; 8] = [
        Status::Unregistered,
        Status::Registered,
        Status::Matched,
        Status::OnDuty,
        Status::Accepted,
        Status::Enrolled,
        Status::Declined,
        Status::Withdrawn,
    ];

    /// Lowercase name for messages and read models, e.g. `on_duty`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unregistered => "unregistered",
            Status::Registered => "registered",
            Status::Matched => "matched",
            Status::OnDuty => "on_duty",
            Status::Accepted => "accepted",
            Status::Enrolled => "enrolled",
            Status::Declined => "declined",
            Status::Withdrawn => "withdrawn",
        }
    }

    /// A cycle under way: neither placed nor failed.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Status::Registered | Status::Matched | Status::Accepted
        )
    }

    /// The person was placed (on duty, enrolled): the programme is done for them.
    pub fn is_placed(self) -> bool {
        matches!(self, Status::OnDuty | Status::Enrolled)
    }

    /// The last cycle failed; a new registration may start the next.
    pub fn is_failed(self) -> bool {
        matches!(self, Status::Declined | Status::Withdrawn)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status after `payload` when a placement in `programme` is in
/// `current`, or `None` if the event may not happen there. For an
/// unregistered placement, `programme` is the one being registered.
pub fn transition(programme: P, current: Status, payload: &Payload) -> Option<Status> {
    use Status as S;
    let employment = matches!(programme, P::VeteranResettlement | P::SpousePlacement);
    let school = programme == P::SchoolEnrollment;
    let waiting = matches!(current, S::Registered | S::Matched);
    match payload {
        Payload::PlacementRegistered(_) => (programme != P::Unspecified
            && matches!(current, S::Unregistered | S::Declined | S::Withdrawn))
        .then_some(S::Registered),
        Payload::PlacementMatched(_) => {
            (employment && current == S::Registered).then_some(S::Matched)
        }
        Payload::PlacementOnDuty(_) => (employment && current == S::Matched).then_some(S::OnDuty),
        Payload::PlacementDeclined(_) => (employment && waiting).then_some(S::Declined),
        Payload::PlacementWithdrawn(_) => (employment && waiting).then_some(S::Withdrawn),
        Payload::TalentPoolRecommended(_) => (programme == P::VeteranResettlement
            && matches!(current, S::Registered | S::Matched | S::OnDuty))
        .then_some(current),
        Payload::SchoolRequestAccepted(_) => {
            (school && current == S::Registered).then_some(S::Accepted)
        }
        Payload::SchoolRequestDeclined(_) => {
            (school && current == S::Registered).then_some(S::Declined)
        }
        Payload::SchoolEnrolled(_) => (school && current == S::Accepted).then_some(S::Enrolled),
        // Events of other aggregates never apply to a placement.
        _ => None,
    }
}

/// Whether `programme` has the step `payload` records in any status (a
/// talent-pool recommendation has none in spouse placement).
pub fn has_step(programme: P, payload: &Payload) -> bool {
    Status::ALL
        .iter()
        .any(|status| transition(programme, *status, payload).is_some())
}
