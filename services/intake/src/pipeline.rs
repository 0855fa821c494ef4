//! The command pipeline, one for every aggregate kind: parse → load →
//! idempotency → facts from other aggregates → decide → append with the
//! aggregate's expected sequence → reply after JetStream's ack. On a sequence
//! conflict the aggregate is reloaded and the command decided again, a
//! bounded number of times.

use std::future::Future;
use std::time::Instant;

use bytes::Bytes;
use jiff::Timestamp;
use prost::Message;
use sy_domain::aggregate::Aggregate;
use sy_domain::allowance::Allowance;
use sy_domain::command_meta::Meta;
use sy_domain::event::{SCHEMA_VERSION, subject, to_proto};
use sy_domain::pb::{self, CommandResult, EventEnvelope};
use sy_domain::person::Person;
use sy_domain::placement::Placement;
use sy_domain::station::Station;
use sy_domain::{DomainError, FieldViolation};
use sy_eventlog::{EventLog, LogError, StoredEvent};
use uuid::Uuid;

use crate::aggregate::{Aggregates, Loaded};
use crate::error::IntakeError;
use crate::incoming::{Env, Incoming, Parsed};
use crate::metrics;

/// Attempts at deciding and appending before a contended command is ABORTED.
const MAX_ATTEMPTS: usize = 8;

/// An aggregate kind intake can load and write, and what its commands need
/// to know of other aggregates.
pub trait Stored: Aggregate {
    /// This kind's cache.
    fn aggregates(pipeline: &Pipeline) -> &Aggregates<Self>;

    /// The facts `command` needs on `state`, read from the other aggregates.
    fn facts(
        pipeline: &Pipeline,
        state: &Self,
        command: &Self::Command,
    ) -> impl Future<Output = Result<Self::Facts, IntakeError>> + Send;
}

/// Runs commands against the event log.
pub struct Pipeline {
    log: EventLog,
    env: Env,
    pub(crate) requests: Aggregates<pb::Request>,
    pub(crate) people: Aggregates<Person>,
    pub(crate) placements: Aggregates<Placement>,
    pub(crate) allowances: Aggregates<Allowance>,
    pub(crate) stations: Aggregates<Station>,
}

impl Pipeline {
    pub fn new(log: EventLog, env: Env, cache_size: usize) -> Self {
        Self {
            requests: Aggregates::new(log.clone(), cache_size),
            people: Aggregates::new(log.clone(), cache_size),
            placements: Aggregates::new(log.clone(), cache_size),
            allowances: Aggregates::new(log.clone(), cache_size),
            stations: Aggregates::new(log.clone(), cache_size),
            log,
            env,
        }
    }

    /// Validates and executes one command issued by `actor`.
    pub async fn execute<M: Incoming>(
        &self,
        actor: &pb::Actor,
        message: &M,
    ) -> Result<CommandResult, IntakeError> {
        let parsed = message.parse(&self.env, actor, Timestamp::now())?;
        self.run::<M::Target>(actor, parsed).await
    }

    /// Executes an already parsed command (also for follow-ups intake issues
    /// itself, such as stopping an allowance when a spouse is placed).
    pub async fn run<A: Stored>(
        &self,
        actor: &pb::Actor,
        parsed: Parsed<A>,
    ) -> Result<CommandResult, IntakeError> {
        let id = parsed.id;
        let aggregates = A::aggregates(self);
        for attempt in 0..MAX_ATTEMPTS {
            // A creating command usually addresses an aggregate that does not
            // exist yet: skip the read and let the append's expected sequence
            // 0 prove it. If it exists, the append conflicts and the reload
            // finds it.
            let loaded = if attempt == 0 && parsed.assume_new {
                aggregates.cached_or_new(id)
            } else {
                aggregates.load(id, attempt > 0).await?
            };
            if let Some(result) = replay(&loaded, actor, &parsed)? {
                return Ok(result);
            }
            let facts = A::facts(self, &loaded.state, &parsed.command).await?;
            match self
                .append(aggregates, loaded, actor, &parsed, &facts)
                .await
            {
                Ok(Some(result)) => return Ok(result),
                // Lost the race (or a retry of this very command won it):
                // reload and look again.
                Ok(None) => tracing::debug!(%id, attempt, "sequence conflict; deciding again"),
                Err(err) => return Err(err),
            }
        }
        Err(IntakeError::Contended {
            kind: A::KIND,
            id: id.to_string(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Decides, appends and caches; `Ok(None)` when the aggregate moved on.
    async fn append<A: Stored>(
        &self,
        aggregates: &Aggregates<A>,
        mut loaded: Loaded<A>,
        actor: &pb::Actor,
        parsed: &Parsed<A>,
        facts: &A::Facts,
    ) -> Result<Option<CommandResult>, IntakeError> {
        let meta = &parsed.meta;
        let id = parsed.id;
        if meta.expected_version != 0 && meta.expected_version != loaded.state.version() {
            return Err(IntakeError::VersionMismatch {
                kind: A::KIND,
                id: id.to_string(),
                expected: meta.expected_version,
                actual: loaded.state.version(),
            });
        }
        let payload = loaded
            .state
            .decide(&parsed.command, facts, actor)
            .map_err(|err| name_missing::<A>(err, id))?;
        let envelope = EventEnvelope {
            event_id: Uuid::now_v7().to_string(),
            aggregate_kind: A::KIND.to_string(),
            aggregate_id: id.to_string(),
            aggregate_version: loaded.state.version() + 1,
            occurred_at: Some(to_proto(occurred_at(&loaded, meta)?)),
            recorded_at: Some(to_proto(Timestamp::now())),
            actor: Some(actor.clone()),
            correlation_id: meta.correlation_id.clone(),
            causation_id: parsed.causation_id.clone(),
            schema_version: SCHEMA_VERSION,
            prev_hash: loaded.last_hash.to_vec(),
            idempotency_key: meta.idempotency_key.as_str().to_string(),
            command_fingerprint: parsed.fingerprint.to_vec(),
            payload: Some(payload),
        };
        let bytes = Bytes::from(envelope.encode_to_vec());
        let subject = subject(A::KIND, &envelope.aggregate_id);
        let msg_id = format!(
            "{}/{}/{}",
            actor.agency, envelope.aggregate_id, envelope.idempotency_key
        );
        let publishing = Instant::now();
        let appended = self
            .log
            .append(&subject, bytes.clone(), loaded.last_position, &msg_id)
            .await;
        metrics::published(publishing.elapsed());
        let appended = match appended {
            Ok(appended) if !appended.duplicate => appended,
            Ok(_) | Err(LogError::Conflict { .. }) => {
                metrics::conflict();
                return Ok(None);
            }
            Err(err) => return Err(err.into()),
        };
        let stored = StoredEvent {
            position: appended.position,
            subject,
            payload: bytes,
        };
        loaded.fold_envelope(&envelope, &stored)?;
        aggregates.remember(id, loaded);
        let event_type =
            sy_domain::event::event_type(envelope.payload.as_ref().expect("built with a payload"));
        tracing::info!(
            kind = A::KIND,
            %id,
            event = event_type,
            version = envelope.aggregate_version,
            position = appended.position,
            agency = %actor.agency,
            "event appended"
        );
        Ok(Some(CommandResult {
            aggregate_id: envelope.aggregate_id,
            version: envelope.aggregate_version,
            position: appended.position,
            event_ids: vec![envelope.event_id],
            replayed: false,
        }))
    }
}

/// A "not found" about the addressed aggregate names the id it was asked
/// for (the state's own id is empty before its first event).
fn name_missing<A: Aggregate>(err: DomainError, id: Uuid) -> DomainError {
    match err {
        DomainError::NotFound { kind, id: missing } if kind == A::KIND && missing.is_empty() => {
            DomainError::NotFound {
                kind,
                id: id.to_string(),
            }
        }
        other => other,
    }
}

/// The stored result when this agency already sent a command with this key.
fn replay<A: Aggregate>(
    loaded: &Loaded<A>,
    actor: &pb::Actor,
    parsed: &Parsed<A>,
) -> Result<Option<CommandResult>, IntakeError> {
    let key = parsed.meta.idempotency_key.as_str();
    let Some(recorded) = loaded.recorded(&actor.agency, key) else {
        return Ok(None);
    };
    if recorded.fingerprint != parsed.fingerprint {
        return Err(IntakeError::KeyReused {
            kind: A::KIND,
            key: key.to_string(),
            id: parsed.id.to_string(),
        });
    }
    Ok(Some(CommandResult {
        replayed: true,
        ..recorded.result.clone()
    }))
}

/// Events of one aggregate keep their times in order: a command dated before
/// the aggregate's last event is refused, unless the gap is clock skew between
/// intake replicas, which is absorbed.
fn occurred_at<A: Aggregate>(loaded: &Loaded<A>, meta: &Meta) -> Result<Timestamp, IntakeError> {
    const SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
    let wanted = meta.occurred_at;
    let Some(last) = loaded.last_occurred_at else {
        return Ok(wanted);
    };
    if wanted >= last {
        Ok(wanted)
    } else if last - SKEW <= wanted {
        Ok(last)
    } else {
        Err(DomainError::Invalid(vec![FieldViolation::new(
            "context.occurred_at",
            format!("must not be before the {}'s last event ({last})", A::KIND),
        )])
        .into())
    }
}
