//! What each aggregate kind needs of the others before deciding, and the
//! follow-up intake issues itself: a spouse going on duty stops their
//! allowance (未就业随军家属基本生活保障金 ends with employment).

use sy_domain::aggregate::PersonFacts;
use sy_domain::allowance::{self, Allowance, AllowanceFacts, AllowanceStatus};
use sy_domain::command_meta::Meta;
use sy_domain::pb::{self, Programme};
use sy_domain::person::Person;
use sy_domain::placement::{self, Placement, PlacementFacts};
use sy_domain::station::{self, Station, StationFacts};
use sy_domain::validate::IdempotencyKey;
use uuid::Uuid;

use crate::aggregate::Aggregates;
use crate::error::IntakeError;
use crate::incoming::Parsed;
use crate::pipeline::{Pipeline, Stored};

impl Pipeline {
    async fn person_facts(&self, id: Uuid) -> Result<Option<PersonFacts>, IntakeError> {
        Ok(self.people.load(id, false).await?.state.facts())
    }

    /// Stops the spouse's allowance after their placement went on duty, as
    /// a command of its own (idempotent: its key derives from the placement
    /// event). A failure is logged, not returned: the placement stands, and
    /// the allowance refuses further payments while the spouse is placed.
    pub async fn stop_allowance_of_placed_spouse(
        &self,
        actor: &pb::Actor,
        placement_id: Uuid,
        caused_by: &str,
    ) {
        let stop = async {
            let placement = self.placements.load(placement_id, false).await?;
            if placement.state.programme() != Programme::SpousePlacement
                || !placement.state.is_placed()
            {
                return Ok(None);
            }
            let Some(person_id) = placement.state.person_id() else {
                return Ok(None);
            };
            let id = allowance::allowance_id_for(&person_id);
            let current = self.allowances.load(id, false).await?;
            if current.state.status() != Some(AllowanceStatus::Granted) {
                return Ok(None);
            }
            let key = format!("auto-stop/{caused_by}");
            let parsed = Parsed::<Allowance> {
                meta: Meta {
                    idempotency_key: IdempotencyKey::parse("key", &key)
                        .map_err(|v| sy_domain::DomainError::Invalid(vec![v]))?,
                    correlation_id: String::new(),
                    occurred_at: jiff::Timestamp::now(),
                    expected_version: 0,
                },
                id,
                command: allowance::Command::Stop {
                    reason: "spouse placed (随军家属已安置)".into(),
                    automatic: true,
                },
                fingerprint: *blake3::hash(key.as_bytes()).as_bytes(),
                assume_new: false,
                causation_id: caused_by.to_string(),
            };
            self.run(actor, parsed).await.map(Some)
        };
        match stop.await {
            Ok(Some(result)) => tracing::info!(
                %placement_id,
                position = result.position,
                "allowance stopped: spouse placed"
            ),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(%placement_id, %err, "cannot stop the allowance of a placed spouse")
            }
        }
    }
}

impl Stored for pb::Request {
    fn aggregates(pipeline: &Pipeline) -> &Aggregates<Self> {
        &pipeline.requests
    }

    async fn facts(_: &Pipeline, _: &Self, _: &Self::Command) -> Result<(), IntakeError> {
        Ok(())
    }
}

impl Stored for Person {
    fn aggregates(pipeline: &Pipeline) -> &Aggregates<Self> {
        &pipeline.people
    }

    async fn facts(_: &Pipeline, _: &Self, _: &Self::Command) -> Result<(), IntakeError> {
        Ok(())
    }
}

impl Stored for Placement {
    fn aggregates(pipeline: &Pipeline) -> &Aggregates<Self> {
        &pipeline.placements
    }

    async fn facts(
        pipeline: &Pipeline,
        _: &Self,
        command: &placement::Command,
    ) -> Result<PlacementFacts, IntakeError> {
        let person = match command {
            placement::Command::Register { person_id, .. } => {
                pipeline.person_facts(*person_id).await?
            }
            _ => None,
        };
        Ok(PlacementFacts { person })
    }
}

impl Stored for Allowance {
    fn aggregates(pipeline: &Pipeline) -> &Aggregates<Self> {
        &pipeline.allowances
    }

    async fn facts(
        pipeline: &Pipeline,
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
            person: pipeline.person_facts(person_id).await?,
            spouse_placed: pipeline
                .placements
                .load(spouse_placement, false)
                .await?
                .state
                .is_placed(),
        })
    }
}

impl Stored for Station {
    fn aggregates(pipeline: &Pipeline) -> &Aggregates<Self> {
        &pipeline.stations
    }

    async fn facts(
        pipeline: &Pipeline,
        _: &Self,
        command: &station::Command,
    ) -> Result<StationFacts, IntakeError> {
        let child = match command {
            station::Command::Enroll { child_id, .. } => pipeline.person_facts(*child_id).await?,
            _ => None,
        };
        Ok(StationFacts { child })
    }
}
