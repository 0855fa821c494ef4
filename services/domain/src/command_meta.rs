//! What every command carries besides its own fields (`CommandContext`):
//! the idempotency key, a correlation id, when it occurred, the version the
//! caller last saw; and the command's fingerprint, which lets a retried key
//! be told apart from a reused one. Shared by every aggregate's commands.

use jiff::{SignedDuration, Timestamp};

use crate::error::FieldViolation;
use crate::event::to_jiff;
use crate::pb;
use crate::validate::{IdempotencyKey, Violations, text};

const CORRELATION_MAX: usize = 128;
/// How far back a caller may date an event.
const MAX_BACKDATE: SignedDuration = SignedDuration::from_hours(366 * 24);
/// Clock skew tolerated for a caller-supplied `occurred_at`.
const MAX_SKEW: SignedDuration = SignedDuration::from_secs(60);

/// What every command carries besides its own fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub idempotency_key: IdempotencyKey,
    pub correlation_id: String,
    /// When it happened: the caller's `occurred_at`, else the time of parsing.
    pub occurred_at: Timestamp,
    /// Non-zero: the version the caller last saw.
    pub expected_version: u64,
}

/// Parses a command's context; `None` (with violations) when it is bad.
pub fn parse_meta(
    context: Option<&pb::CommandContext>,
    v: &mut Violations,
    now: Timestamp,
) -> Option<Meta> {
    let Some(context) = context else {
        v.push(FieldViolation::new(
            "context.idempotency_key",
            "is required",
        ));
        return None;
    };
    let key = v.check(IdempotencyKey::parse(
        "context.idempotency_key",
        &context.idempotency_key,
    ));
    let correlation_id = v.check(text(
        "context.correlation_id",
        &context.correlation_id,
        0,
        CORRELATION_MAX,
    ));
    let occurred_at = match &context.occurred_at {
        None => Some(now),
        Some(ts) => v.check(occurred_at(to_jiff(Some(ts)), now)),
    };
    Some(Meta {
        idempotency_key: key?,
        correlation_id: correlation_id?,
        occurred_at: occurred_at?,
        expected_version: context.expected_version,
    })
}

fn occurred_at(ts: Option<Timestamp>, now: Timestamp) -> Result<Timestamp, FieldViolation> {
    const FIELD: &str = "context.occurred_at";
    let ts = ts.ok_or_else(|| FieldViolation::new(FIELD, "is not a valid timestamp"))?;
    if ts > now + MAX_SKEW {
        return Err(FieldViolation::new(FIELD, "must not be in the future"));
    }
    if ts < now - MAX_BACKDATE {
        return Err(FieldViolation::new(
            FIELD,
            "must be within the last 366 days",
        ));
    }
    Ok(ts)
}

/// Hash of the command without its context (`clear` removes it).
pub fn fingerprint<M: prost::Message + prost::Name + Clone>(
    message: &M,
    clear: impl FnOnce(&mut M),
) -> [u8; 32] {
    let mut body = message.clone();
    clear(&mut body);
    let mut hasher = blake3::Hasher::new();
    hasher.update(M::full_name().as_bytes());
    hasher.update(&[0]);
    hasher.update(&body.encode_to_vec());
    *hasher.finalize().as_bytes()
}
