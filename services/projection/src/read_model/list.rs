//! Every list of the read model walks an index the same way ([`Walk`]): in
//! key order within the part of the index the filters allow, checking every
//! filter on each entry, stopping at a full page or after [`SCAN_BUDGET`]
//! index entries.
//!
//! The budget bounds the work of one call however rare the matches are; a call
//! that runs out returns what it found (possibly nothing) with a page token,
//! so a caller keeps paging and every call stays cheap. The token records the
//! index, a fingerprint of the filters and the last key examined, so a token
//! cannot be replayed against other filters.
//!
//! `ListRequests` is here too: pick the most selective index the filters
//! allow (overdue > status > department > all) and walk it newest first
//! (most overdue first for the due index). The placement lists are in
//! [`super::placement_list`].

use jiff::civil::Date;
use sy_domain::pb;
use sy_domain::request::is_unresolved;
use sy_domain::validate::{AreaCode, Code};

use super::keys::{Cursor, Index, ListIndex, Scope, department_prefix, due_date, status_prefix};
use super::registry::Record;
use super::{ReadModel, ReadModelError};

/// Most index entries one list call examines.
pub const SCAN_BUDGET: usize = 5000;

/// Validated `ListRequests` filters; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only requests in this lifecycle status.
    pub status: Option<pb::RequestStatus>,
    /// Only requests raised in this direction.
    pub direction: Option<pb::Direction>,
    /// Only requests of this category.
    pub category: Option<pb::Category>,
    /// Only requests assigned to this department.
    pub department: Option<Code>,
    /// Only requests supervised at this level.
    pub supervision_level: Option<pb::SupervisionLevel>,
    /// Matches the area and everything below it.
    pub area: Option<AreaCode>,
    /// Only unresolved requests due before this day.
    pub overdue_as_of: Option<Date>,
}

/// One page of a list, timelines stripped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// The matching requests, in the order of the index walked.
    pub requests: Vec<pb::Request>,
    /// Empty on the last page.
    pub next_page_token: String,
}

/// Why a list call failed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The page token is unusable; the reason is for the caller.
    #[error("page_token {0}")]
    PageToken(&'static str),
    /// The read model could not be read.
    #[error(transparent)]
    Store(#[from] ReadModelError),
}

/// One walk over a list index: the tree, its name in page tokens, the part
/// of it the filters allow and the filters' fingerprint.
pub(super) struct Walk<'a, I> {
    pub tree: &'a sled::Tree,
    pub index: I,
    pub scope: Scope,
    pub fingerprint: [u8; 8],
}

impl<I: ListIndex> Walk<'_, I> {
    /// Up to `page_size` (≥ 1) values after `page_token` (empty: from the
    /// start) and the token of the next page (empty on the last): `pick`
    /// turns an entry's key into a value, or `None` if it does not match.
    pub fn run<T>(
        &self,
        page_size: usize,
        page_token: &str,
        mut pick: impl FnMut(&[u8]) -> Result<Option<T>, ReadModelError>,
    ) -> Result<(Vec<T>, String), ListError> {
        debug_assert!(page_size > 0, "page size is validated at the edge");
        let after = if page_token.is_empty() {
            None
        } else {
            Some(self.resume(page_token)?)
        };
        let mut entries = self.tree.range(self.scope.range(after.as_deref()));
        let mut found = Vec::new();
        let mut last_key = None;
        let mut examined = 0;
        while found.len() < page_size && examined < SCAN_BUDGET {
            let Some(entry) = entries.next() else {
                return Ok((found, String::new()));
            };
            let (key, _) = entry.map_err(ReadModelError::from)?;
            examined += 1;
            if let Some(value) = pick(&key)? {
                found.push(value);
            }
            last_key = Some(key);
        }
        let more = entries
            .next()
            .transpose()
            .map_err(ReadModelError::from)?
            .is_some();
        let token = match (more, last_key) {
            (true, Some(last_key)) => Cursor {
                index: self.index,
                filter: self.fingerprint,
                last_key: last_key.to_vec(),
            }
            .encode(),
            _ => String::new(),
        };
        Ok((found, token))
    }

    /// The last key of a token issued for this walk.
    fn resume(&self, token: &str) -> Result<Vec<u8>, ListError> {
        let cursor = Cursor::<I>::decode(token)
            .filter(|cursor| cursor.index == self.index && self.scope.contains(&cursor.last_key))
            .ok_or(ListError::PageToken(
                "is not a token issued for these filters",
            ))?;
        if cursor.filter != self.fingerprint {
            return Err(ListError::PageToken("was issued for different filters"));
        }
        Ok(cursor.last_key)
    }
}

/// The first 8 bytes of a hash of the filters: enough to tell filter sets
/// apart in a page token.
pub(super) fn fingerprint(hash: &blake3::Hash) -> [u8; 8] {
    let mut fingerprint = [0; 8];
    fingerprint.copy_from_slice(&hash.as_bytes()[..8]);
    fingerprint
}

impl ListFilter {
    /// The most selective usable index and the part of it to walk.
    fn scope(&self) -> (Index, Scope) {
        let (index, prefix, below) = if let Some(day) = self.overdue_as_of {
            (
                Index::OpenDue,
                Vec::new(),
                Some(day.to_string().into_bytes()),
            )
        } else if let Some(status) = self.status {
            (Index::ByStatus, status_prefix(status), None)
        } else if let Some(department) = &self.department {
            (
                Index::ByDepartment,
                department_prefix(department.as_str()),
                None,
            )
        } else {
            (Index::All, Vec::new(), None)
        };
        (index, Scope { prefix, below })
    }

    /// Identifies the filters in a page token (page size may change between pages).
    fn fingerprint(&self) -> [u8; 8] {
        let mut hasher = blake3::Hasher::new();
        for value in [
            self.status.map_or(0, |s| s as i32),
            self.direction.map_or(0, |d| d as i32),
            self.category.map_or(0, |c| c as i32),
            self.supervision_level.map_or(0, |l| l as i32),
        ] {
            hasher.update(&value.to_be_bytes());
        }
        let overdue = self
            .overdue_as_of
            .map(|d| d.to_string())
            .unwrap_or_default();
        for text in [
            self.department.as_ref().map_or("", Code::as_str),
            self.area.as_ref().map_or("", AreaCode::as_str),
            overdue.as_str(),
        ] {
            hasher.update(&(text.len() as u64).to_be_bytes());
            hasher.update(text.as_bytes());
        }
        fingerprint(&hasher.finalize())
    }

    /// Every filter, including the one the index already guarantees (cheap,
    /// and keeps the index choice a pure optimisation).
    fn matches(&self, request: &pb::Request, overdue_before: Option<&str>) -> bool {
        self.status.is_none_or(|s| request.status() == s)
            && self.direction.is_none_or(|d| request.direction() == d)
            && self.category.is_none_or(|c| request.category() == c)
            && self
                .supervision_level
                .is_none_or(|l| request.supervision_level() == l)
            && self
                .department
                .as_ref()
                .is_none_or(|d| request.department == d.as_str())
            && self
                .area
                .as_ref()
                .is_none_or(|a| request.area_code.starts_with(a.scope_prefix()))
            && overdue_before.is_none_or(|day| {
                is_unresolved(request.status()) && due_date(request).is_some_and(|due| due < day)
            })
    }
}

impl ReadModel {
    /// Requests matching `filter`, a page of at most `page_size` (≥ 1),
    /// continuing after `page_token` (empty: from the start).
    pub fn list(
        &self,
        filter: &ListFilter,
        page_size: usize,
        page_token: &str,
    ) -> Result<Page, ListError> {
        let (index, scope) = filter.scope();
        let walk = Walk {
            tree: self.trees.index(index),
            index,
            scope,
            fingerprint: filter.fingerprint(),
        };
        let overdue_before = filter.overdue_as_of.map(|day| day.to_string());
        let (requests, next_page_token) = walk.run(page_size, page_token, |key| {
            let id = index.id_of(key).ok_or_else(|| {
                ReadModelError::corrupt(format!("a key of the {index:?} index is malformed"))
            })?;
            let bytes = self.trees.requests.get(id.as_bytes())?.ok_or_else(|| {
                ReadModelError::corrupt(format!("index names request {id}, which is not stored"))
            })?;
            // A request's record holds no timeline (see `super::timeline`).
            let request = pb::Request::decode_record(&bytes)?;
            if !filter.matches(&request, overdue_before.as_deref()) {
                return Ok(None);
            }
            Ok(Some(request))
        })?;
        Ok(Page {
            requests,
            next_page_token,
        })
    }
}
