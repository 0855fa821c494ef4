//! A request's timeline, kept in its own tree beside the request's record.
//!
//! A timeline grows by one entry per event. Stored inside the request's
//! record, every event would decode and re-encode all entries before it, so
//! the fold's cost per event would grow with the request's history. Here
//! each entry is its own value under `[id len u32 BE][id][version u64 BE]`
//! ([`super::keys::timeline_key`]): folding an event appends one entry and
//! rewrites only the request's small record, and a prefix scan returns the
//! timeline oldest first for `GetRequest`, which serves the same reply as
//! before.
//!
//! The note of an entry of a request that concerns a person is sealed on
//! its own under the person's key ([`super::request_text`]), so appending an
//! entry never reseals the notes before it.

use sy_domain::pb;

use super::ReadModelError;
use super::keys::timeline_prefix;
use super::registry::Record;

/// One timeline entry as stored.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredEntry {
    /// The entry, its note empty while sealed.
    #[prost(message, optional, tag = "1")]
    pub entry: Option<pb::TimelineEntry>,
    /// The note sealed under the data key of the person the request
    /// concerns; absent when the request concerns nobody, the event folded
    /// sealed (no key), or the person was erased.
    #[prost(message, optional, tag = "2")]
    pub sealed_note: Option<pb::SealedField>,
}

super::registry::record!(prost StoredEntry, "timeline entry");

/// A request as stored: its record with the timeline put back, and the
/// sealed notes of that timeline, entry by entry. Queries serve it through
/// [`super::request_text::unseal`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoredRequest {
    /// The request with its timeline; its free text and the notes that
    /// are sealed are empty.
    pub request: pb::Request,
    /// One per timeline entry, in order: its note, if sealed.
    pub sealed_notes: Vec<Option<pb::SealedField>>,
}

impl StoredRequest {
    /// A request served without its timeline (a list entry).
    pub fn without_timeline(mut request: pb::Request) -> Self {
        request.timeline.clear();
        Self {
            request,
            sealed_notes: Vec::new(),
        }
    }

    /// Whether any of its text is sealed.
    pub fn is_sealed(&self) -> bool {
        self.request.sealed_text.is_some() || self.sealed_notes.iter().any(Option::is_some)
    }
}

/// The timeline of request `id`, oldest first, each entry with its sealed
/// note.
pub fn read(
    tree: &sled::Tree,
    id: &str,
) -> Result<Vec<(pb::TimelineEntry, Option<pb::SealedField>)>, ReadModelError> {
    tree.scan_prefix(timeline_prefix(id))
        .values()
        .map(|value| {
            let stored = StoredEntry::decode_record(&value?)?;
            let entry = stored.entry.ok_or_else(|| {
                ReadModelError::corrupt(format!("a timeline entry of request {id} is empty"))
            })?;
            Ok((entry, stored.sealed_note))
        })
        .collect()
}
