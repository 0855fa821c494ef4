//! The free text of a request that concerns a person (a family difficulty
//! names them), kept sealed under that person's data key in the read model.
//!
//! Intake seals such a request's text in every event (`sy_domain::pii`).
//! The fold opens the events with the key ([`super::sealed`]) and needs the
//! text in the clear only while the domain's `apply` folds it: before, the
//! text stored so far is opened back into the request; after, all of it
//! (title, description, resolution, rejection reason, every timeline note)
//! moves out again into `sealed_text`. sled rewrites records in new places
//! and keeps old versions until it compacts, so text written in the clear
//! could outlive an erasure there; sealed, it is unreadable once the key is
//! destroyed, like a person's masks ([`super::registry::StoredPerson`]).
//!
//! Without the key (the person was erased, or the reader has none, such as
//! `sy as-of`) the events fold sealed: their text is empty and the request
//! keeps only what is not personal, never a mix of opened and sealed text.
//! Queries open the text with the key store before they serve it
//! ([`unseal`]).

use prost::Message as _;
use sy_domain::aggregate::Aggregate;
use sy_domain::pb::{self, EventEnvelope};
use sy_domain::pii::{CryptoError, DataKey};
use uuid::Uuid;

/// Associated data of a request's sealed text in the read model, before
/// the request id.
const TEXT_AAD: &[u8] = b"shuangyong.v1.read-model.request-text\n";

/// The person `request` concerns, whose key seals its text; `None` for a
/// request about nobody in particular.
pub fn subject(request: &pb::Request) -> Option<Uuid> {
    Uuid::try_parse(&request.person_id).ok()
}

fn aad(request: &pb::Request) -> Vec<u8> {
    [TEXT_AAD, request.id.as_bytes()].concat()
}

/// Moves the free text out of `request` into its `sealed_text`, sealed
/// under `key`. Deterministic, so a rebuild writes the same bytes as the
/// live fold.
pub fn seal(request: &mut pb::Request, key: &DataKey) -> Result<(), CryptoError> {
    let text = pb::Request {
        title: std::mem::take(&mut request.title),
        description: std::mem::take(&mut request.description),
        resolution: std::mem::take(&mut request.resolution),
        rejection_reason: std::mem::take(&mut request.rejection_reason),
        timeline: request
            .timeline
            .iter_mut()
            .map(|entry| pb::TimelineEntry {
                note: std::mem::take(&mut entry.note),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let sealed = key.seal_deterministic(&aad(request), &text.encode_to_vec())?;
    request.sealed_text = Some(pb::SealedField {
        path: "text".into(),
        nonce: sealed.nonce.to_vec(),
        ciphertext: sealed.ciphertext,
    });
    Ok(())
}

/// Puts the text sealed in `request` back, opened with `key`, and clears
/// `sealed_text`. A request without sealed text is left as it is; on error
/// it is unchanged.
pub fn open(request: &mut pb::Request, key: &DataKey) -> Result<(), CryptoError> {
    let Some(sealed) = &request.sealed_text else {
        return Ok(());
    };
    let bytes = key.open(&aad(request), &sealed.nonce, &sealed.ciphertext)?;
    let text = pb::Request::decode(bytes.as_slice()).map_err(|_| CryptoError::Authentication)?;
    request.title = text.title;
    request.description = text.description;
    request.resolution = text.resolution;
    request.rejection_reason = text.rejection_reason;
    // A list reply has no timeline: its notes are not served.
    for (entry, sealed) in request.timeline.iter_mut().zip(text.timeline) {
        entry.note = sealed.note;
    }
    request.sealed_text = None;
    Ok(())
}

/// `request` as served: its text opened with `key`, or left empty without
/// one (the person was erased); never its sealed text.
pub fn unseal(mut request: pb::Request, key: Option<&DataKey>) -> Result<pb::Request, CryptoError> {
    match key {
        Some(key) => open(&mut request, key)?,
        None => request.sealed_text = None,
    }
    Ok(request)
}

/// Folds `event` into the stored request `before` (`None`: a new request)
/// with the domain's `apply`; `key` is the data key that opened the event,
/// if it was sealed and opened. With a key, the text stored so far is
/// opened for the fold and everything is sealed again after it; without
/// one, the event folds as it is and the stored sealed text is kept (an
/// event of such a request that carries no text is not sealed at all). The
/// error is why the event is refused.
pub fn fold(
    before: Option<&pb::Request>,
    event: &EventEnvelope,
    position: u64,
    key: Option<&DataKey>,
) -> Result<pb::Request, String> {
    let mut state = before.cloned().unwrap_or_default();
    if let Some(key) = key {
        open(&mut state, key).map_err(|err| format!("request {}: sealed text: {err}", state.id))?;
    }
    state
        .apply(event, position)
        .map_err(|err| err.to_string())?;
    if let Some(key) = key.filter(|_| subject(&state).is_some()) {
        seal(&mut state, key).map_err(|err| format!("cannot seal the request's text: {err}"))?;
    }
    Ok(state)
}
