//! The placement aggregate (安置): one person in one programme, from
//! registration until they are placed or the attempt fails.
//!
//! | programme | lifecycle |
//! | --- | --- |
//! | veteran resettlement (退役军人安置) | registered → matched (employer, post) → on duty; declined or withdrawn before on duty; optional employment fast lane (就业快车道, on duty within 24 hours); recommendation to the community reserve talent pool (社区后备人才库) once per cycle |
//! | spouse placement (随军家属安置) | as veterans, the match recording 专业对口、岗位对应、职务对等; no fast lane, no talent pool |
//! | school enrollment (军人子女上学优待) | registered (school, grade) → accepted or declined → enrolled |
//!
//! The aggregate id is derived from the person and the programme
//! ([`placement_id_for`]), so a person has at most one placement per
//! programme and therefore at most one active attempt: after a failure
//! (declined, withdrawn) a new registration starts the next *cycle* on the
//! same aggregate; after a success (on duty, enrolled) the person is placed
//! and registering again is refused.
//!
//! Layout: `lifecycle` is the table that both `decide` and `apply` consult;
//! `command` holds the validated commands and their parsing constructors;
//! `state` the folded [`Placement`] with its derived figures (time to
//! placement, the fast lane's 24 hours).

mod apply;
mod command;
mod decide;
mod lifecycle;
mod state;

pub use command::Command;
pub use lifecycle::{Status, transition};
pub use state::{Cycle, FAST_LANE_PROMISE, Placement, TalentPool};

use crate::aggregate::PersonFacts;
use crate::follow_up::{FollowUp, Implies};
use crate::pb::{PersonRole, Programme};

/// Aggregate kind of placements in subjects and envelopes.
pub const KIND: &str = "placement";

/// Namespace of placement ids derived from (person, programme).
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x3f6e_92a4_d15b_4c07_8a2e_61b9_c4d0_7e52);

/// The id of `person_id`'s placement in `programme`. Derived, so a second
/// registration of the same person in the same programme lands on the same
/// aggregate and meets its history instead of creating a parallel one.
pub fn placement_id_for(person_id: &uuid::Uuid, programme: Programme) -> uuid::Uuid {
    // The enum's wire number, not its name: numbers are the stable contract.
    uuid::Uuid::new_v5(
        &ID_NAMESPACE,
        format!("placement\u{1f}{person_id}\u{1f}{}", programme as i32).as_bytes(),
    )
}

/// What a placement command needs to know of other aggregates: the person a
/// registration names (`None` when no such person is registered).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlacementFacts {
    /// The registered person a registration names, if any.
    pub person: Option<PersonFacts>,
}

/// The role a person must have to enter `programme`.
pub fn role_for(programme: Programme) -> Option<PersonRole> {
    match programme {
        Programme::VeteranResettlement => Some(PersonRole::Veteran),
        Programme::SpousePlacement => Some(PersonRole::MilitarySpouse),
        Programme::SchoolEnrollment => Some(PersonRole::MilitaryChild),
        Programme::Unspecified => None,
    }
}

/// Lowercase name of a programme for messages: "veteran resettlement".
pub fn programme_name(programme: Programme) -> &'static str {
    match programme {
        Programme::VeteranResettlement => "veteran resettlement",
        Programme::SpousePlacement => "spouse placement",
        Programme::SchoolEnrollment => "school enrollment",
        Programme::Unspecified => "unspecified programme",
    }
}

/// Lowercase name of a role for messages: "military spouse".
pub fn role_name(role: PersonRole) -> &'static str {
    match role {
        PersonRole::Veteran => "veteran",
        PersonRole::MilitarySpouse => "military spouse",
        PersonRole::MilitaryChild => "military child",
        PersonRole::Unspecified => "person without a role",
    }
}

impl crate::aggregate::Aggregate for Placement {
    const KIND: &'static str = KIND;
    type Command = Command;
    type Facts = PlacementFacts;

    fn id(&self) -> &str {
        &self.id
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn apply(
        &mut self,
        event: &crate::pb::EventEnvelope,
        position: u64,
    ) -> Result<(), crate::aggregate::ApplyError> {
        apply::apply(self, event, position)
    }

    fn decide(
        &self,
        command: &Command,
        facts: &PlacementFacts,
        actor: &crate::pb::Actor,
    ) -> Result<crate::pb::event_envelope::Payload, crate::DomainError> {
        decide::decide(self, command, facts, actor)
    }

    fn data_subject(
        &self,
        _id: uuid::Uuid,
        payload: &crate::pb::event_envelope::Payload,
    ) -> Option<uuid::Uuid> {
        crate::pii::fields::named_person(payload).or(self.person_id)
    }
}

impl Implies for Placement {
    /// A spouse on duty no longer receives the unemployed spouse allowance.
    fn follow_ups(&self, event: &crate::pb::event_envelope::Payload) -> Vec<FollowUp> {
        use crate::pb::event_envelope::Payload;
        match (event, self.person_id()) {
            (Payload::PlacementOnDuty(_), Some(person_id))
                if self.programme() == Programme::SpousePlacement && self.is_placed() =>
            {
                vec![FollowUp::Allowance(crate::allowance::stop_on_placement(
                    &person_id,
                ))]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
