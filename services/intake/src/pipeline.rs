//! The command pipeline, one for every aggregate kind: parse → load →
//! idempotency → facts from other aggregates → decide → seal personal
//! fields (`sy_domain::pii`) → sign (see `sy_domain::signature`) → append
//! with the aggregate's expected sequence → reply after JetStream's ack.
//!
//! Commands on one aggregate take turns within this intake (`crate::queue`):
//! they queue rather than race, so a burst on one request costs no retries.
//! A sequence conflict then means another writer (an intake replica) got
//! there first: the aggregate is reloaded and the command decided again
//! after a jittered, exponentially growing pause, so two replicas contending
//! for one aggregate drift apart instead of colliding in lockstep. Attempts
//! and pauses are bounded ([`MAX_ATTEMPTS`], [`BACKOFF_CAP`]); past them the
//! command is `ABORTED`. Once an event is acknowledged, the follow-up
//! commands the domain declares for it (`Implies::follow_ups`) run through
//! the same pipeline before the reply.
//!
//! Log lines carry the fields of the caller's span (the command, the agency,
//! the aggregate and the correlation id; a DEBUG span, see `crate::service`);
//! this module records the last two once the command is parsed. Its lines
//! at INFO and above name what they concern themselves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use jiff::Timestamp;
use prost::Message;
use sy_api::policy::Grant;
use sy_domain::aggregate::{Aggregate, Implied};
use sy_domain::command_meta::{self, CommandMessage, Meta, ParseEnv, Parsed};
use sy_domain::event::{SCHEMA_VERSION, subject, to_proto};
use sy_domain::follow_up::FollowUp;
use sy_domain::pb::{self, CommandResult, EventEnvelope};
use sy_domain::pii::fields;
use sy_domain::signature::EventSigner;
use sy_domain::supervision;
use sy_domain::{DomainError, FieldViolation};
use sy_eventlog::keystore::{KeyState, KeyStore};
use sy_eventlog::{EventLog, LogError, StoredEvent};
use tracing::Instrument;
use uuid::Uuid;

use crate::aggregate::{Aggregates, History, Loaded};
use crate::error::IntakeError;
use crate::kinds::{Stored, Stores};
use crate::metrics;

/// Attempts at deciding and appending before a contended command is ABORTED.
const MAX_ATTEMPTS: usize = 12;
/// The bound of the pause before the first retry; it doubles with each
/// further conflict up to [`BACKOFF_CAP`].
const BACKOFF_BASE: Duration = Duration::from_millis(4);
/// The longest pause between two attempts. With [`MAX_ATTEMPTS`] a command
/// pauses 2.5 s at most in all (1.3 s expected), far inside a call's deadline.
const BACKOFF_CAP: Duration = Duration::from_millis(500);

/// Runs commands against the event log.
pub struct Pipeline {
    log: EventLog,
    env: ParseEnv,
    stores: Stores,
    /// Signs every envelope; `None` only in development mode.
    signer: Option<EventSigner>,
    /// Seals personal fields and destroys erased persons' keys.
    data_keys: Arc<KeyStore>,
}

/// A command's outcome, and the follow-ups its new event implies (none when
/// it was replayed).
struct Executed {
    result: CommandResult,
    follow_ups: Vec<FollowUp>,
}

/// What became of one attempt at appending.
enum Attempt {
    /// The event is in the log.
    Appended(Executed),
    /// Another writer appended to the aggregate first.
    Conflict,
    /// JetStream already holds this command's message id: an earlier try of
    /// it (a retry that raced, or another replica's) was stored.
    Duplicate,
}

impl Pipeline {
    /// Reads and appends through `history`'s log (verifying what it reads
    /// with its keys), signs with `signer`.
    pub fn new(
        history: History,
        env: ParseEnv,
        cache_size: usize,
        signer: Option<EventSigner>,
    ) -> Self {
        Self {
            stores: Stores::new(&history, cache_size),
            data_keys: history.data_keys.clone(),
            log: history.log,
            env,
            signer,
        }
    }

    /// Validates and executes one command issued by `actor`, then the
    /// follow-ups its event implies.
    pub async fn execute<M>(
        &self,
        actor: &pb::Actor,
        grant: &Grant,
        message: &M,
    ) -> Result<CommandResult, IntakeError>
    where
        M: CommandMessage,
        M::Target: Stored,
    {
        let parsed = message.parse(&self.env, actor, Timestamp::now())?;
        let span = tracing::Span::current();
        span.record("aggregate", tracing::field::display(parsed.id));
        span.record("correlation_id", parsed.meta.correlation_id.as_str());
        let Executed { result, follow_ups } = self.run(actor, Some(grant), parsed).await?;
        if let Some(event_id) = result.event_ids.first() {
            self.follow(actor, follow_ups, event_id).await;
        }
        Ok(result)
    }

    /// Records a supervision clock action on the request `id`, as its
    /// rule (the actor) and without a caller's grant. Its idempotency key
    /// and message id derive from the request, the rule, the deadline and
    /// the occurrence: whichever intake replica gets there first records
    /// it, every other attempt is a replay (`replayed` in the result), and
    /// an action the request no longer needs (its due date moved, it was
    /// resolved) is refused by `decide`.
    pub async fn supervise(
        &self,
        id: Uuid,
        action: supervision::Action,
    ) -> Result<CommandResult, IntakeError> {
        let key = format!("supervision/{}", action.key());
        let actor = action.actor();
        let command = sy_domain::request::Command::Supervise(action);
        let parsed = command_meta::issued::<pb::Request>(id, command, &key, "", Timestamp::now())?;
        let Executed { result, follow_ups } = self.run(&actor, None, parsed).await?;
        if let Some(event_id) = result.event_ids.first() {
            self.follow(&actor, follow_ups, event_id).await;
        }
        Ok(result)
    }

    /// Records `adopt` as the supervision policy in force, unless it
    /// already is (`None`). Keyed by the policy's digest and the record's
    /// next version, so replicas starting together with one file write it
    /// once, and a file brought back after another was adopted is recorded
    /// again.
    pub async fn adopt(
        &self,
        adopt: supervision::Adopt,
    ) -> Result<Option<CommandResult>, IntakeError> {
        let id = supervision::Adopted::ID;
        let current = supervision::Adopted::aggregates(&self.stores)
            .load(id, true)
            .await?;
        let key = format!(
            "{}/{}/{}",
            supervision::Adopted::KIND,
            adopt.digest,
            current.state.version() + 1
        );
        let actor = pb::Actor {
            agency: supervision::ACTOR_AGENCY.to_string(),
            user: adopt.version.clone(),
        };
        let parsed =
            command_meta::issued::<supervision::Adopted>(id, adopt, &key, "", Timestamp::now())?;
        match self.run(&actor, None, parsed).await {
            Ok(executed) => Ok(Some(executed.result)),
            Err(IntakeError::Domain(DomainError::AlreadyExists { .. })) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Issues `follow_ups` of the event `caused_by`, and theirs in turn, as
    /// commands of `actor`. A failure is logged, not returned: the causing
    /// event stands (a placed spouse's allowance that could not be stopped
    /// still refuses every payment while they are placed).
    async fn follow(&self, actor: &pb::Actor, follow_ups: Vec<FollowUp>, caused_by: &str) {
        let mut pending: Vec<(FollowUp, String)> = follow_ups
            .into_iter()
            .map(|follow_up| (follow_up, caused_by.to_string()))
            .collect();
        while let Some((follow_up, caused_by)) = pending.pop() {
            let issued = match follow_up {
                FollowUp::Allowance(implied) => self.issue(actor, implied, &caused_by).await,
            };
            let Some(Executed { result, follow_ups }) = issued else {
                continue;
            };
            if let Some(event_id) = result.event_ids.first() {
                pending.extend(follow_ups.into_iter().map(|f| (f, event_id.clone())));
            }
        }
    }

    /// Issues one follow-up if the aggregate it addresses needs it.
    async fn issue<A: Stored>(
        &self,
        actor: &pb::Actor,
        implied: Implied<A>,
        caused_by: &str,
    ) -> Option<Executed> {
        let span = tracing::info_span!(
            "follow_up",
            kind = A::KIND,
            aggregate = %implied.id,
            caused_by,
        );
        let issued = async {
            let current = A::aggregates(&self.stores).load(implied.id, false).await?;
            if !(implied.needed)(&current.state) {
                return Ok(None);
            }
            let parsed = command_meta::follow_up(implied, caused_by, Timestamp::now())?;
            // Implied by an event the caller was allowed to cause.
            self.run(actor, None, parsed).await.map(Some)
        };
        match issued.instrument(span.clone()).await {
            Ok(Some(executed)) => {
                span.in_scope(|| {
                    tracing::info!(
                        position = executed.result.position,
                        replayed = executed.result.replayed,
                        "follow-up recorded"
                    );
                });
                Some(executed)
            }
            Ok(None) => None,
            Err(err) => {
                span.in_scope(|| tracing::warn!(%err, "follow-up failed"));
                None
            }
        }
    }

    /// Executes an already parsed command; `grant` is the caller's, whose
    /// data-scoped checks apply (`None` for a follow-up).
    async fn run<A: Stored>(
        &self,
        actor: &pb::Actor,
        grant: Option<&Grant>,
        parsed: Parsed<A>,
    ) -> Result<Executed, IntakeError> {
        let id = parsed.id;
        let aggregates = A::aggregates(&self.stores);
        let queued = Instant::now();
        let _turn = aggregates.turn(id).await;
        metrics::turn_waited(A::KIND, queued.elapsed());
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
                // A retried erasure finishes what an earlier attempt could
                // not: destroying the key.
                self.settle_erasure(&loaded.state).await?;
                return Ok(Executed {
                    result,
                    follow_ups: Vec::new(),
                });
            }
            if let Some(grant) = grant.filter(|g| g.is_scoped()) {
                A::authorize(&loaded.state, &parsed.command, actor, grant)
                    .map_err(|err| name_missing::<A>(err, id))?;
            }
            let facts = A::facts(&self.stores, &loaded.state, &parsed.command).await?;
            match self
                .append(aggregates, loaded, actor, &parsed, &facts)
                .await?
            {
                Attempt::Appended(executed) => return Ok(executed),
                // The reload finds it and replays its result.
                Attempt::Duplicate => {
                    tracing::debug!(attempt, "command already stored; reading it back");
                }
                Attempt::Conflict if attempt + 1 < MAX_ATTEMPTS => {
                    let pause = backoff(attempt);
                    tracing::debug!(
                        attempt,
                        pause_ms = pause.as_millis(),
                        "sequence conflict; deciding again after a pause"
                    );
                    tokio::time::sleep(pause).await;
                }
                Attempt::Conflict => {}
            }
        }
        tracing::warn!(
            kind = A::KIND,
            aggregate = %id,
            attempts = MAX_ATTEMPTS,
            "aggregate kept changing; giving up"
        );
        Err(IntakeError::Contended {
            kind: A::KIND,
            id: id.to_string(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Decides, appends and caches.
    async fn append<A: Stored>(
        &self,
        aggregates: &Aggregates<A>,
        mut loaded: Loaded<A>,
        actor: &pb::Actor,
        parsed: &Parsed<A>,
        facts: &A::Facts,
    ) -> Result<Attempt, IntakeError> {
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
        let mut envelope = EventEnvelope {
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
            ..Default::default()
        };
        // This intake folds the clear values; the log gets them sealed
        // (`clear` is the envelope before sealing, when it had anything to
        // seal: most events have not, and are not copied).
        let clear = self.seal(&loaded.state, id, &mut envelope).await?;
        // Sealed, then signed after `prev_hash` is set, so the signature
        // covers the ciphertexts and the link; the next event hashes these
        // bytes, signature included.
        let bytes = Bytes::from(match &self.signer {
            Some(signer) => signer.sign(&mut envelope),
            None => envelope.encode_to_vec(),
        });
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
            Ok(appended) if appended.duplicate => return Ok(Attempt::Duplicate),
            Ok(appended) => appended,
            Err(LogError::Conflict { .. }) => {
                metrics::conflict(A::KIND);
                return Ok(Attempt::Conflict);
            }
            Err(err) => return Err(err.into()),
        };
        let stored = StoredEvent {
            position: appended.position,
            subject,
            payload: bytes,
        };
        // Folding the signed envelope is folding it as read back from the
        // log: the signature is not part of the aggregate's state.
        let clear = clear.as_ref().unwrap_or(&envelope);
        loaded.fold_envelope(clear, &stored)?;
        let payload = clear.payload.as_ref().expect("built with a payload");
        let follow_ups = loaded.state.follow_ups(payload);
        self.settle_erasure(&loaded.state).await?;
        aggregates.remember(id, loaded);
        tracing::debug!(
            event = sy_domain::event::event_type(payload),
            version = envelope.aggregate_version,
            position = appended.position,
            "event appended"
        );
        Ok(Attempt::Appended(Executed {
            result: CommandResult {
                aggregate_id: envelope.aggregate_id,
                version: envelope.aggregate_version,
                position: appended.position,
                event_ids: vec![envelope.event_id],
                replayed: false,
            },
            follow_ups,
        }))
    }
}

impl Pipeline {
    /// Seals the personal fields of `envelope` (an event of `state`, the
    /// aggregate `id`) under the data key of the person they concern, made
    /// on first use, and returns the envelope as it was before (`None` when
    /// it had nothing to seal and is unchanged). An erased person's fields
    /// are dropped, not sealed. A request's free text is personal only when
    /// the request concerns a person; a payload personal whoever it
    /// concerns needs a person.
    async fn seal<A: Stored>(
        &self,
        state: &A,
        id: Uuid,
        envelope: &mut EventEnvelope,
    ) -> Result<Option<EventEnvelope>, IntakeError> {
        let Some(payload) = envelope.payload.as_ref() else {
            return Ok(None);
        };
        let sealing = |reason: String| IntakeError::Sealing {
            kind: A::KIND,
            id: id.to_string(),
            reason,
        };
        let subject = fields::sealing_subject(payload, state.data_subject(id, payload))
            .map_err(|err| sealing(err.to_string()))?;
        let Some(subject) = subject else {
            return Ok(None);
        };
        let key = self.data_keys.key_or_create(subject).await?;
        let key = match &key {
            KeyState::Key(key) => Some(key),
            KeyState::Erased { .. } => None,
        };
        let clear = envelope.clone();
        fields::seal(envelope, subject, key).map_err(|err| sealing(err.to_string()))?;
        Ok(Some(clear))
    }

    /// Destroys the data key of a person `state` records as erased (after
    /// the erasure event is in the log). Idempotent.
    async fn settle_erasure<A: Stored>(&self, state: &A) -> Result<(), IntakeError> {
        if let Some((subject, event_id)) = A::erasure(state) {
            self.data_keys.erase(subject, &event_id).await?;
            tracing::info!(person = %subject, erasure = %event_id, "data key destroyed");
        }
        Ok(())
    }
}

/// The pause before retrying after the `attempt`-th conflict (from 0): a
/// uniformly random share of `BACKOFF_BASE · 2^attempt`, capped at
/// [`BACKOFF_CAP`] ("full jitter"), so replicas that collided once do not
/// collide again on the same schedule.
fn backoff(attempt: usize) -> Duration {
    let shift = u32::try_from(attempt).unwrap_or(u32::MAX).min(16);
    let bound = BACKOFF_BASE.saturating_mul(1 << shift).min(BACKOFF_CAP);
    // Without the OS's randomness (it does not fail on supported systems),
    // the full bound: still bounded, merely not jittered.
    let share = getrandom::u64().map_or(1.0, |bits| (bits >> 11) as f64 / (1u64 << 53) as f64);
    bound.mul_f64(share)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_stay_under_the_cap_and_are_bounded_in_all() {
        let mut worst = Duration::ZERO;
        for attempt in 0..MAX_ATTEMPTS - 1 {
            let bound = BACKOFF_BASE
                .saturating_mul(1 << attempt.min(16))
                .min(BACKOFF_CAP);
            for _ in 0..100 {
                assert!(backoff(attempt) <= bound, "attempt {attempt}");
            }
            worst += bound;
        }
        assert!(backoff(usize::MAX) <= BACKOFF_CAP);
        assert!(
            worst <= Duration::from_secs(3),
            "{worst:?} of pauses at most"
        );
        let jittered: std::collections::BTreeSet<Duration> = (0..20).map(|_| backoff(6)).collect();
        assert!(jittered.len() > 1, "pauses are jittered: {jittered:?}");
    }
}
