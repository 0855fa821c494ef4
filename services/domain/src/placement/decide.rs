//! `decide`: the one place a placement's business rules live. Pure: the same
//! state, command and facts always give the same event or error.

use crate::error::DomainError;
use crate::pb::{self, PersonRole, Programme, event_envelope::Payload};

use super::command::Command;
use super::lifecycle::{Status, has_step, transition};
use super::state::Placement;
use super::{KIND, PlacementFacts, programme_name, role_for, role_name};

/// The event `command` records on `state`, or why it may not happen.
///
/// A registration needs the person in `facts`; other commands ignore them.
/// No rule here depends on the actor yet.
pub fn decide(
    state: &Placement,
    command: &Command,
    facts: &PlacementFacts,
    _actor: &pb::Actor,
) -> Result<Payload, DomainError> {
    if let Command::Register {
        programme,
        person_id,
        fast_lane,
        ..
    } = command
    {
        return register(state, command, (*programme, *person_id, *fast_lane), facts);
    }
    if state.status == Status::Unregistered {
        return Err(DomainError::NotFound {
            kind: KIND,
            id: state.id.clone(),
        });
    }
    let payload = event_for(command);
    if !has_step(state.programme, &payload) {
        return Err(DomainError::RuleViolated(no_such_step(
            state.programme,
            command,
        )));
    }
    if transition(state.programme, state.status, &payload).is_none() {
        return Err(refused(state, command, ""));
    }
    check_rules(state, command)?;
    Ok(payload)
}

/// Decides `command`, a registration of `person_id` in `programme`.
fn register(
    state: &Placement,
    command: &Command,
    (programme, person_id, fast_lane): (Programme, uuid::Uuid, bool),
    facts: &PlacementFacts,
) -> Result<Payload, DomainError> {
    let Some(expected_role) = role_for(programme) else {
        return Err(DomainError::invalid("programme", "is required"));
    };
    if state.status != Status::Unregistered
        && (state.programme != programme || state.person_id != Some(person_id))
    {
        return Err(DomainError::RuleViolated(format!(
            "placement {} is the {} of person {}, not the {} of person {person_id}",
            state.id,
            programme_name(state.programme),
            state.person_id.map(|id| id.to_string()).unwrap_or_default(),
            programme_name(programme),
        )));
    }
    let payload = event_for(command);
    if transition(programme, state.status, &payload).is_none() {
        let why = if state.status.is_placed() {
            ": the person is already placed"
        } else {
            ": a cycle is already under way"
        };
        return Err(refused(state, command, why));
    }
    let person = facts
        .person
        .as_ref()
        .filter(|person| uuid::Uuid::try_parse(&person.id).ok() == Some(person_id))
        .ok_or_else(|| DomainError::NotFound {
            kind: "person",
            id: person_id.to_string(),
        })?;
    if person.role != expected_role {
        return Err(DomainError::RuleViolated(format!(
            "person {person_id} is a {}, and {} takes {} only",
            role_name(person.role),
            programme_name(programme),
            plural(expected_role),
        )));
    }
    if fast_lane && programme != Programme::VeteranResettlement {
        return Err(DomainError::RuleViolated(format!(
            "the employment fast lane (就业快车道) is for veterans, not for a {}",
            placement_name(programme)
        )));
    }
    Ok(payload)
}

/// Rules beyond the lifecycle table.
fn check_rules(state: &Placement, command: &Command) -> Result<(), DomainError> {
    match command {
        Command::PutOnDuty { on } => {
            if let Some(registered) = state.registration_date()
                && *on < registered
            {
                return Err(DomainError::RuleViolated(format!(
                    "on duty date {on} is before the registration date {registered}"
                )));
            }
        }
        Command::RecommendToTalentPool { .. } => {
            if let Some(pool) = &state.current.talent_pool {
                return Err(DomainError::RuleViolated(format!(
                    "the veteran was already recommended to the talent pool of community {} \
                     in cycle {}",
                    pool.community_code, state.cycle
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

/// "cannot match a veteran resettlement placement that is on_duty".
fn refused(state: &Placement, command: &Command, why: &str) -> DomainError {
    DomainError::RuleViolated(format!(
        "cannot {} a {} that is {}{why}",
        command.action(),
        placement_name(state.programme_or(command)),
        state.status,
    ))
}

/// Why a command has no place in `programme` at all.
fn no_such_step(programme: Programme, command: &Command) -> String {
    let placement = placement_name(programme);
    match command {
        Command::RecommendToTalentPool { .. } => format!(
            "the community reserve talent pool (社区后备人才库) takes veterans only, \
             not a {placement}"
        ),
        _ => format!(
            "cannot {} a {placement}: {} has no such step",
            command.action(),
            programme_name(programme)
        ),
    }
}

/// "a veteran resettlement placement", "a spouse placement".
fn placement_name(programme: Programme) -> &'static str {
    match programme {
        Programme::VeteranResettlement => "veteran resettlement placement",
        Programme::SpousePlacement => "spouse placement",
        Programme::SchoolEnrollment => "school enrollment placement",
        Programme::Unspecified => "placement",
    }
}

fn plural(role: PersonRole) -> &'static str {
    match role {
        PersonRole::Veteran => "veterans",
        PersonRole::MilitarySpouse => "military spouses",
        PersonRole::MilitaryChild => "military children",
        PersonRole::Unspecified => "nobody",
    }
}

impl Placement {
    /// The placement's programme, or for one not yet registered the
    /// programme a registration names.
    fn programme_or(&self, command: &Command) -> Programme {
        match command {
            Command::Register { programme, .. } if self.status == Status::Unregistered => {
                *programme
            }
            _ => self.programme,
        }
    }
}

/// The event a command records.
fn event_for(command: &Command) -> Payload {
    match command.clone() {
        Command::Register {
            programme,
            person_id,
            area_code,
            fast_lane,
            school,
            grade,
        } => Payload::PlacementRegistered(pb::PlacementRegistered {
            programme: programme as i32,
            person_id: person_id.to_string(),
            area_code: area_code.as_str().to_string(),
            fast_lane,
            school,
            grade,
        }),
        Command::Match {
            employer,
            post,
            profession_matched,
            post_matched,
            rank_matched,
        } => Payload::PlacementMatched(pb::PlacementMatched {
            employer,
            post,
            profession_matched,
            post_matched,
            rank_matched,
        }),
        Command::PutOnDuty { on } => Payload::PlacementOnDuty(pb::PlacementOnDuty {
            on_duty_date: on.to_string(),
        }),
        Command::Decline { reason } => Payload::PlacementDeclined(pb::PlacementDeclined { reason }),
        Command::Withdraw { reason } => {
            Payload::PlacementWithdrawn(pb::PlacementWithdrawn { reason })
        }
        Command::RecommendToTalentPool {
            community_code,
            note,
        } => Payload::TalentPoolRecommended(pb::TalentPoolRecommended {
            community_code: community_code.as_str().to_string(),
            note,
        }),
        Command::AcceptSchoolRequest { note } => {
            Payload::SchoolRequestAccepted(pb::SchoolRequestAccepted { note })
        }
        Command::DeclineSchoolRequest { reason } => {
            Payload::SchoolRequestDeclined(pb::SchoolRequestDeclined { reason })
        }
        Command::EnrollInSchool { school } => {
            Payload::SchoolEnrolled(pb::SchoolEnrolled { school })
        }
    }
}
