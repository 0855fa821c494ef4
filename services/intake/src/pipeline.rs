//! The command pipeline: parse → load → idempotency → decide → append with
//! the aggregate's expected sequence → reply after JetStream's ack. On a
//! sequence conflict the aggregate is reloaded and the command decided again,
//! a bounded number of times.

use std::time::Instant;

use bytes::Bytes;
use jiff::Timestamp;
use prost::Message;
use sy_domain::event::{SCHEMA_VERSION, subject, to_proto};
use sy_domain::pb::{self, CommandResult, EventEnvelope};
use sy_domain::request::{self, CommandMessage, KIND, Parsed, Target};
use sy_domain::validate::Districts;
use sy_domain::{DomainError, FieldViolation};
use sy_eventlog::{EventLog, LogError, StoredEvent};
use uuid::Uuid;

use crate::aggregate::{Aggregate, Aggregates};
use crate::error::IntakeError;
use crate::metrics;

/// Attempts at deciding and appending before a contended command is ABORTED.
const MAX_ATTEMPTS: usize = 8;

/// Runs commands against the event log.
pub struct Pipeline {
    log: EventLog,
    aggregates: Aggregates,
    districts: Districts,
}

impl Pipeline {
    pub fn new(log: EventLog, districts: Districts, cache_size: usize) -> Self {
        Self {
            aggregates: Aggregates::new(log.clone(), cache_size),
            log,
            districts,
        }
    }

    /// Validates and executes one command issued by `actor`.
    pub async fn execute<M: CommandMessage>(
        &self,
        actor: &pb::Actor,
        message: &M,
    ) -> Result<CommandResult, IntakeError> {
        let parsed = request::parse(message, &self.districts, Timestamp::now())?;
        let id = match parsed.target {
            Target::New => {
                request::request_id_for(&actor.agency, parsed.meta.idempotency_key.as_str())
            }
            Target::Existing(id) => id,
        };
        for attempt in 0..MAX_ATTEMPTS {
            // A submission's request usually does not exist yet: skip the read
            // and let the append's expected sequence 0 prove it. A retried
            // submission then conflicts once and is found on the reload.
            let aggregate = if attempt == 0 && parsed.target == Target::New {
                self.aggregates.cached_or_new(id)
            } else {
                self.aggregates.load(id, attempt > 0).await?
            };
            if let Some(result) = replay(&aggregate, actor, &parsed, id)? {
                return Ok(result);
            }
            match self.append(id, aggregate, actor, &parsed).await {
                Ok(Some(result)) => return Ok(result),
                // Lost the race (or a retry of this very command won it):
                // reload and look again.
                Ok(None) => {
                    tracing::debug!(%id, attempt, "sequence conflict; deciding again");
                }
                Err(err) => return Err(err),
            }
        }
        Err(IntakeError::Contended {
            id: id.to_string(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Decides, appends and caches; `Ok(None)` when the aggregate moved on.
    async fn append(
        &self,
        id: Uuid,
        mut aggregate: Aggregate,
        actor: &pb::Actor,
        parsed: &Parsed,
    ) -> Result<Option<CommandResult>, IntakeError> {
        let meta = &parsed.meta;
        if meta.expected_version != 0 && meta.expected_version != aggregate.state.version {
            return Err(IntakeError::VersionMismatch {
                id: id.to_string(),
                expected: meta.expected_version,
                actual: aggregate.state.version,
            });
        }
        let payload = request::decide(&aggregate.state, &parsed.command, actor)?;
        let recorded_at = Timestamp::now();
        let envelope = EventEnvelope {
            event_id: Uuid::now_v7().to_string(),
            aggregate_kind: KIND.to_string(),
            aggregate_id: id.to_string(),
            aggregate_version: aggregate.state.version + 1,
            occurred_at: Some(to_proto(occurred_at(&aggregate.state, meta.occurred_at)?)),
            recorded_at: Some(to_proto(recorded_at)),
            actor: Some(actor.clone()),
            correlation_id: meta.correlation_id.clone(),
            causation_id: String::new(),
            schema_version: SCHEMA_VERSION,
            prev_hash: aggregate.last_hash.to_vec(),
            idempotency_key: meta.idempotency_key.as_str().to_string(),
            command_fingerprint: parsed.fingerprint.to_vec(),
            payload: Some(payload),
        };
        let bytes = Bytes::from(envelope.encode_to_vec());
        let subject = subject(KIND, &envelope.aggregate_id);
        let msg_id = format!(
            "{}/{}/{}",
            actor.agency, envelope.aggregate_id, envelope.idempotency_key
        );
        let publishing = Instant::now();
        let appended = self
            .log
            .append(&subject, bytes.clone(), aggregate.last_position, &msg_id)
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
        aggregate.fold_envelope(&envelope, &stored)?;
        self.aggregates.remember(id, aggregate);
        tracing::info!(
            %id,
            event = sy_domain::event::event_type(envelope.payload.as_ref().expect("built with a payload")),
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

/// The stored result when this agency already sent a command with this key.
fn replay(
    aggregate: &Aggregate,
    actor: &pb::Actor,
    parsed: &Parsed,
    id: Uuid,
) -> Result<Option<CommandResult>, IntakeError> {
    let key = parsed.meta.idempotency_key.as_str();
    let Some(recorded) = aggregate.recorded(&actor.agency, key) else {
        return Ok(None);
    };
    if recorded.fingerprint != parsed.fingerprint {
        return Err(IntakeError::KeyReused {
            key: key.to_string(),
            id: id.to_string(),
        });
    }
    Ok(Some(CommandResult {
        replayed: true,
        ..recorded.result.clone()
    }))
}

/// Events of one request keep their times in order: a command dated before
/// the request's last event is refused, unless the gap is clock skew between
/// intake replicas, which is absorbed.
fn occurred_at(state: &pb::Request, wanted: Timestamp) -> Result<Timestamp, IntakeError> {
    const SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
    let Some(last) = sy_domain::event::to_jiff(state.updated_at.as_ref()) else {
        return Ok(wanted);
    };
    if wanted >= last {
        Ok(wanted)
    } else if last - SKEW <= wanted {
        Ok(last)
    } else {
        Err(DomainError::Invalid(vec![FieldViolation::new(
            "context.occurred_at",
            format!("must not be before the request's last event ({last})"),
        )])
        .into())
    }
}
