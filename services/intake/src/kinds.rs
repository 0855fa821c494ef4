//! The aggregate kinds intake stores, one cache each ([`Stores`]), what
//! each kind's commands need to know of the others before `decide` (their
//! `Facts`, read through the caches), and which callers may issue a command
//! on a given aggregate (the policy's data-scoped checks: the auth layer has
//! already checked the method's roles).

use std::future::Future;

use sy_api::policy::{Grant, Role};
use sy_domain::DomainError;
use sy_domain::aggregate::{Aggregate, PersonFacts};
use sy_domain::allowance::{self, Allowance, AllowanceFacts};
use sy_domain::double_list::{self, DoubleList, DoubleListFacts, RequestFacts};
use sy_domain::follow_up::Implies;
use sy_domain::pb::{self, Programme};
use sy_domain::person::Person;
use sy_domain::placement::{self, Placement, PlacementFacts};
use sy_domain::station::{self, Station, StationFacts};
use sy_domain::subscription::Subscription;
use sy_domain::supervision::Adopted;
use uuid::Uuid;

use crate::aggregate::{Aggregates, History};
use crate::error::IntakeError;

/// One cache of folded aggregates per kind.
pub struct Stores {
    requests: Aggregates<pb::Request>,
    people: Aggregates<Person>,
    placements: Aggregates<Placement>,
    allowances: Aggregates<Allowance>,
    stations: Aggregates<Station>,
    double_lists: Aggregates<DoubleList>,
    supervision_policy: Aggregates<Adopted>,
    subscriptions: Aggregates<Subscription>,
}

impl Stores {
    pub fn new(history: &History, cache_size: usize) -> Self {
        Self {
            requests: Aggregates::new(history.clone(), cache_size),
            people: Aggregates::new(history.clone(), cache_size),
            placements: Aggregates::new(history.clone(), cache_size),
            allowances: Aggregates::new(history.clone(), cache_size),
            stations: Aggregates::new(history.clone(), cache_size),
            double_lists: Aggregates::new(history.clone(), cache_size),
            supervision_policy: Aggregates::new(history.clone(), 1),
            subscriptions: Aggregates::new(history.clone(), cache_size),
        }
    }

    async fn person_facts(&self, id: Uuid) -> Result<Option<PersonFacts>, IntakeError> {
        Ok(self
            .people
            .load(id, false)
            .await?
            .state
            .facts_for_others()?)
    }
}

/// An aggregate kind intake can load and write, and what its commands need
/// to know of other aggregates.
pub trait Stored: Implies {
    /// This kind's cache.
    fn aggregates(stores: &Stores) -> &Aggregates<Self>;

    /// The facts `command` needs on `state`, read from the other aggregates.
    fn facts(
        stores: &Stores,
        state: &Self,
        command: &Self::Command,
    ) -> impl Future<Output = Result<Self::Facts, IntakeError>> + Send;

    /// The person whose data key must be destroyed, and the erasure event's
    /// id, once `state` records an erasure.
    fn erasure(_state: &Self) -> Option<(Uuid, String)> {
        None
    }

    /// Whether `actor`, holding `grant`, may issue `command` on `state`
    /// (called only when a policy is in force).
    fn authorize(
        _state: &Self,
        _command: &Self::Command,
        _actor: &pb::Actor,
        _grant: &Grant,
    ) -> Result<(), DomainError> {
        Ok(())
    }
}

/// The role that owns a placement programme.
fn programme_owner(programme: Programme) -> Role {
    match programme {
        Programme::SchoolEnrollment => Role::Enrollment,
        _ => Role::Resettlement,
    }
}

/// `PERMISSION_DENIED` unless `grant` holds the role owning `programme`.
fn require_owner(grant: &Grant, programme: Programme) -> Result<(), DomainError> {
    let role = programme_owner(programme);
    if grant.has(role) {
        return Ok(());
    }
    Err(DomainError::PermissionDenied(format!(
        "{} placements require role {role}",
        programme
            .as_str_name()
            .trim_start_matches("PROGRAMME_")
            .to_ascii_lowercase()
    )))
}

impl Stored for pb::Request {
    fn aggregates(stores: &Stores) -> &Aggregates<Self> {
        &stores.requests
    }

    /// A request that concerns a person names a registered one who was not
    /// erased: its text is sealed under their data key.
    async fn facts(stores: &Stores, _: &Self, command: &Self::Command) -> Result<(), IntakeError> {
        let sy_domain::request::Command::Submit(submission) = command else {
            return Ok(());
        };
        let Some(person) = submission.person else {
            return Ok(());
        };
        match stores.person_facts(person).await? {
            Some(_) => Ok(()),
            None => Err(DomainError::NotFound {
                kind: "person",
                id: person.to_string(),
            }
            .into()),
        }
    }

    /// A department acts only on the requests assigned to it (a rejection
    /// by the coordinating office is its screening, of any request), and
    /// completes only the sub-tasks given to it.
    fn authorize(
        state: &Self,
        command: &Self::Command,
        actor: &pb::Actor,
        grant: &Grant,
    ) -> Result<(), DomainError> {
        use sy_domain::request::Command;
        if let Command::CompleteSubTask { sub_task_id, .. } = command {
            let owner = state.sub_tasks.iter().find(|task| task.id == *sub_task_id);
            return match owner {
                Some(task) if task.department != actor.agency => {
                    Err(DomainError::PermissionDenied(format!(
                        "sub-task #{sub_task_id} of request {} is given to {}; only that department may complete it",
                        state.id, task.department
                    )))
                }
                // An unknown sub-task is decide's NOT_FOUND.
                _ => Ok(()),
            };
        }
        let by_department = match command {
            Command::Start { .. } | Command::RecordProgress { .. } | Command::Resolve { .. } => {
                true
            }
            Command::Reject { .. } => !grant.has(Role::Coordinator),
            _ => false,
        };
        if by_department && state.department != actor.agency {
            let assigned = match state.department.as_str() {
                "" => "not assigned to a department".to_string(),
                department => format!("assigned to {department}"),
            };
            return Err(DomainError::PermissionDenied(format!(
                "request {} is {assigned}; only its department may {} it",
                state.id,
                command.action()
            )));
        }
        Ok(())
    }
}

impl Stored for Person {
    fn aggregates(stores: &Stores) -> &Aggregates<Self> {
        &stores.people
    }

    fn erasure(state: &Self) -> Option<(Uuid, String)> {
        let erasure = state.erasure()?;
        let id = Uuid::try_parse(state.id()).ok()?;
        Some((id, erasure.event_id.clone()))
    }

    async fn facts(_: &Stores, _: &Self, _: &Self::Command) -> Result<(), IntakeError> {
        Ok(())
    }
}

impl Stored for Placement {
    fn aggregates(stores: &Stores) -> &Aggregates<Self> {
        &stores.placements
    }

    async fn facts(
        stores: &Stores,
        _: &Self,
        command: &placement::Command,
    ) -> Result<PlacementFacts, IntakeError> {
        let person = match command {
            placement::Command::Register { person_id, .. } => {
                stores.person_facts(*person_id).await?
            }
            _ => None,
        };
        Ok(PlacementFacts { person })
    }

    /// The veterans bureau runs resettlement and spouse placements, the
    /// education committee school enrollment.
    fn authorize(
        state: &Self,
        command: &Self::Command,
        _: &pb::Actor,
        grant: &Grant,
    ) -> Result<(), DomainError> {
        match command {
            placement::Command::Register { programme, .. } => require_owner(grant, *programme),
            _ => require_owner(grant, state.programme()),
        }
    }
}

impl Stored for Allowance {
    fn aggregates(stores: &Stores) -> &Aggregates<Self> {
        &stores.allowances
    }

    async fn facts(
        stores: &Stores,
        state: &Self,
        command: &allowance::Command,
    ) -> Result<AllowanceFacts, IntakeError> {
        let person_id = match command {
            allowance::Command::Grant { person_id, .. } => Some(*person_id),
            allowance::Command::Pay { .. } | allowance::Command::Stop { .. } => state.person_id(),
        };
        let Some(person_id) = person_id else {
            return Ok(AllowanceFacts::default());
        };
        let spouse_placement = placement::placement_id_for(&person_id, Programme::SpousePlacement);
        Ok(AllowanceFacts {
            person: stores.person_facts(person_id).await?,
            spouse_placed: stores
                .placements
                .load(spouse_placement, false)
                .await?
                .state
                .is_placed(),
        })
    }
}

impl Stored for Station {
    fn aggregates(stores: &Stores) -> &Aggregates<Self> {
        &stores.stations
    }

    async fn facts(
        stores: &Stores,
        _: &Self,
        command: &station::Command,
    ) -> Result<StationFacts, IntakeError> {
        let child = match command {
            station::Command::Enroll { child_id, .. } => stores.person_facts(*child_id).await?,
            _ => None,
        };
        Ok(StationFacts { child })
    }

    /// A station operator changes only the stations it opened.
    fn authorize(
        state: &Self,
        command: &Self::Command,
        actor: &pb::Actor,
        _: &Grant,
    ) -> Result<(), DomainError> {
        let opening = matches!(command, station::Command::Open { .. });
        if !opening && state.is_open() && state.operator() != actor.agency {
            return Err(DomainError::PermissionDenied(format!(
                "station {} is run by {}; only its operator may change it",
                state.id(),
                state.operator()
            )));
        }
        Ok(())
    }
}

impl Stored for DoubleList {
    fn aggregates(stores: &Stores) -> &Aggregates<Self> {
        &stores.double_lists
    }

    /// The request an item names, with its direction (which never changes,
    /// so a cached request will do; one not found in the cache is read
    /// again, as another replica may have filed it since).
    async fn facts(
        stores: &Stores,
        _: &Self,
        command: &double_list::Command,
    ) -> Result<DoubleListFacts, IntakeError> {
        let double_list::Command::Add { request_id, .. } = command else {
            return Ok(DoubleListFacts::default());
        };
        let mut loaded = stores.requests.load(*request_id, false).await?;
        if loaded.state.version == 0 {
            loaded = stores.requests.load(*request_id, true).await?;
        }
        let request = &loaded.state;
        let request = (request.version > 0).then(|| RequestFacts {
            id: *request_id,
            direction: request.direction(),
        });
        Ok(DoubleListFacts { request })
    }
}

/// The supervision policy in force: written by intake itself at start.
impl Stored for Adopted {
    fn aggregates(stores: &Stores) -> &Aggregates<Self> {
        &stores.supervision_policy
    }

    async fn facts(_: &Stores, _: &Self, _: &Self::Command) -> Result<(), IntakeError> {
        Ok(())
    }
}

/// Webhook subscriptions: administrators manage them (the method's role),
/// for any agency.
impl Stored for Subscription {
    fn aggregates(stores: &Stores) -> &Aggregates<Self> {
        &stores.subscriptions
    }

    async fn facts(_: &Stores, _: &Self, _: &Self::Command) -> Result<(), IntakeError> {
        Ok(())
    }
}
