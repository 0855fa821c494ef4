//! The free text of a request that concerns a person (a family difficulty
//! names them), kept sealed under that person's data key in the read model.
//!
//! Intake seals such a request's text in every event (`sy_domain::pii`).
//! The fold opens the events with the key ([`super::sealed`]) and needs the
//! text in the clear only while the domain's `apply` folds it: before, the
//! text of the request's record is opened back into it; after, it (title,
//! description, resolution, rejection reason, the titles and notes of its
//! sub-tasks, the findings of its inspections) moves out again into
//! `sealed_text`, and the note of the event's new timeline entry is sealed
//! on its own ([`seal_note`]): the timeline is stored apart
//! ([`super::timeline`]) and the notes before are never opened again by the
//! fold. sled rewrites records in new places
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

use super::timeline::{StoredEntry, StoredRequest};

/// Associated data of a request's sealed text in the read model, before
/// the request id.
const TEXT_AAD: &[u8] = b"shuangyong.v1.read-model.request-text\n";
/// Associated data of a timeline entry's sealed note, before the request
/// id and the entry's version (u64 BE), so a note opens only where it was
/// written.
const NOTE_AAD: &[u8] = b"shuangyong.v1.read-model.request-note\n";

/// The person `request` concerns, whose key seals its text; `None` for a
/// request about nobody in particular.
pub fn subject(request: &pb::Request) -> Option<Uuid> {
    Uuid::try_parse(&request.person_id).ok()
}

fn aad(request: &pb::Request) -> Vec<u8> {
    [TEXT_AAD, request.id.as_bytes()].concat()
}

fn note_aad(id: &str, version: u64) -> Vec<u8> {
    [NOTE_AAD, id.as_bytes(), &version.to_be_bytes()].concat()
}

/// Moves the free text out of `request`'s record into its `sealed_text`,
/// sealed under `key`. Deterministic, so a rebuild writes the same bytes as
/// the live fold. The timeline is not part of the record (see
/// [`seal_note`]).
pub fn seal(request: &mut pb::Request, key: &DataKey) -> Result<(), CryptoError> {
    // Sub-tasks and inspections stay in the record (their departments,
    // dates and state are not personal); only their text moves out, kept
    // in the same order so `open` puts each back in its place.
    let sub_tasks = request
        .sub_tasks
        .iter_mut()
        .map(|task| pb::SubTask {
            title: std::mem::take(&mut task.title),
            note: std::mem::take(&mut task.note),
            ..Default::default()
        })
        .collect();
    let inspections = request
        .inspections
        .iter_mut()
        .map(|visit| pb::Inspection {
            findings: std::mem::take(&mut visit.findings),
            ..Default::default()
        })
        .collect();
    let text = pb::Request {
        title: std::mem::take(&mut request.title),
        description: std::mem::take(&mut request.description),
        resolution: std::mem::take(&mut request.resolution),
        rejection_reason: std::mem::take(&mut request.rejection_reason),
        sub_tasks,
        inspections,
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

/// Moves the note out of `entry` of request `id`'s timeline, sealed under
/// `key`; deterministic like [`seal`].
pub fn seal_note(
    id: &str,
    entry: &mut pb::TimelineEntry,
    key: &DataKey,
) -> Result<pb::SealedField, CryptoError> {
    let note = std::mem::take(&mut entry.note);
    let sealed = key.seal_deterministic(&note_aad(id, entry.version), note.as_bytes())?;
    Ok(pb::SealedField {
        path: "note".into(),
        nonce: sealed.nonce.to_vec(),
        ciphertext: sealed.ciphertext,
    })
}

/// Puts the text sealed in `request`'s record back, opened with `key`, and
/// clears `sealed_text`. A request without sealed text is left as it is; on
/// error it is unchanged.
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
    for (task, text) in request.sub_tasks.iter_mut().zip(text.sub_tasks) {
        task.title = text.title;
        task.note = text.note;
    }
    for (visit, text) in request.inspections.iter_mut().zip(text.inspections) {
        visit.findings = text.findings;
    }
    request.sealed_text = None;
    Ok(())
}

/// `stored` as served: its text and timeline notes opened with `key`, or
/// left empty without one (the person was erased); never its sealed text.
pub fn unseal(stored: StoredRequest, key: Option<&DataKey>) -> Result<pb::Request, CryptoError> {
    let StoredRequest {
        mut request,
        sealed_notes,
    } = stored;
    let Some(key) = key else {
        request.sealed_text = None;
        return Ok(request);
    };
    open(&mut request, key)?;
    for (entry, sealed) in request.timeline.iter_mut().zip(sealed_notes) {
        let Some(sealed) = sealed else {
            continue;
        };
        let note = key.open(
            &note_aad(&request.id, entry.version),
            &sealed.nonce,
            &sealed.ciphertext,
        )?;
        entry.note = std::str::from_utf8(&note)
            .map_err(|_| CryptoError::Authentication)?
            .to_owned();
    }
    Ok(request)
}

/// Folds `event` into the stored record `before` (`None`: a new request;
/// its timeline is stored apart and empty here) with the domain's `apply`;
/// `key` is the data key that opened the event, if it was sealed and
/// opened. Returns the record to store and the event's timeline entry,
/// with its note sealed if the record's text is. With a key, the record's
/// text is opened for the fold and sealed again after it; without one, the
/// event folds as it is and the stored sealed text is kept (an event of
/// such a request that carries no text is not sealed at all). The error is
/// why the event is refused.
pub fn fold(
    before: Option<&pb::Request>,
    event: &EventEnvelope,
    position: u64,
    key: Option<&DataKey>,
) -> Result<(pb::Request, StoredEntry), String> {
    let mut state = before.cloned().unwrap_or_default();
    if let Some(key) = key {
        open(&mut state, key).map_err(|err| format!("request {}: sealed text: {err}", state.id))?;
    }
    state
        .apply(event, position)
        .map_err(|err| err.to_string())?;
    // `apply` appends exactly one entry to the (here empty) timeline.
    let mut entry = state
        .timeline
        .pop()
        .ok_or_else(|| format!("request {}: the event added no timeline entry", state.id))?;
    state.timeline.clear();
    let mut sealed_note = None;
    if let Some(key) = key.filter(|_| subject(&state).is_some()) {
        seal(&mut state, key).map_err(|err| format!("cannot seal the request's text: {err}"))?;
        sealed_note = Some(
            seal_note(&state.id, &mut entry, key)
                .map_err(|err| format!("cannot seal the request's note: {err}"))?,
        );
    }
    Ok((
        state,
        StoredEntry {
            entry: Some(entry),
            sealed_note,
        },
    ))
}

#[cfg(test)]
mod tests {
    use sy_domain::pii::Cipher;

    use super::*;

    #[test]
    fn sub_task_and_inspection_text_is_sealed_with_the_request() {
        let key = DataKey::generate(Cipher::Aes256Gcm).unwrap();
        let clear = pb::Request {
            id: "r1".into(),
            title: "军人家庭困难".into(),
            sub_tasks: vec![pb::SubTask {
                id: 1,
                department: "district-civil-affairs".into(),
                due_date: "2027-01-01".into(),
                title: "上门走访".into(),
                done: true,
                note: "已走访".into(),
                ..Default::default()
            }],
            inspections: vec![pb::Inspection {
                visited_on: "2026-12-01".into(),
                findings: "家属反映情况属实".into(),
                follow_up_required: true,
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut sealed = clear.clone();
        seal(&mut sealed, &key).unwrap();
        let task = &sealed.sub_tasks[0];
        assert_eq!((task.title.as_str(), task.note.as_str()), ("", ""));
        assert_eq!((task.id, task.done), (1, true), "what is not text stays");
        assert_eq!(task.department, "district-civil-affairs");
        assert_eq!(sealed.inspections[0].findings, "");
        assert!(sealed.inspections[0].follow_up_required);
        open(&mut sealed, &key).unwrap();
        assert_eq!(sealed, clear);
    }
}
