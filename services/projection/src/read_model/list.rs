//! `ListRequests` over the indexes: pick the most selective index the filters
//! allow (overdue > status > department > all), walk it newest first (most
//! overdue first for the due index), check every filter on each request, and
//! stop at a full page or after [`SCAN_BUDGET`] index entries.
//!
//! The budget bounds the work of one call however rare the matches are; a call
//! that runs out returns what it found (possibly nothing) with a page token,
//! so a caller keeps paging and every call stays cheap. The token records the
//! index, a fingerprint of the filters and the last key examined, so a token
//! cannot be replayed against other filters.

use jiff::civil::Date;
use sy_domain::pb;
use sy_domain::request::is_unresolved;
use sy_domain::validate::{AreaCode, Code};

use super::keys::{Cursor, Index, Scope, department_prefix, due_date, status_prefix};
use super::{ReadModel, ReadModelError, decode_request};

/// Most index entries one list call examines.
pub const SCAN_BUDGET: usize = 5000;

/// Validated `ListRequests` filters; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub status: Option<pb::RequestStatus>,
    pub direction: Option<pb::Direction>,
    pub category: Option<pb::Category>,
    pub department: Option<Code>,
    pub supervision_level: Option<pb::SupervisionLevel>,
    /// Matches the area and everything below it.
    pub area: Option<AreaCode>,
    /// Only unresolved requests due before this day.
    pub overdue_as_of: Option<Date>,
}

/// One page of a list, timelines stripped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub requests: Vec<pb::Request>,
    /// Empty on the last page.
    pub next_page_token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The page token is unusable; the reason is for the caller.
    #[error("page_token {0}")]
    PageToken(&'static str),
    #[error(transparent)]
    Store(#[from] ReadModelError),
}

impl ListFilter {
    /// The part of the most selective usable index.
    fn scope(&self) -> Scope {
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
        Scope {
            index,
            prefix,
            below,
        }
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
        let hash = hasher.finalize();
        let mut fingerprint = [0; 8];
        fingerprint.copy_from_slice(&hash.as_bytes()[..8]);
        fingerprint
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
        debug_assert!(page_size > 0, "page size is validated at the edge");
        let scope = filter.scope();
        let fingerprint = filter.fingerprint();
        let after = if page_token.is_empty() {
            None
        } else {
            let cursor = Cursor::decode(page_token)
                .filter(|cursor| cursor.index == scope.index && scope.contains(&cursor.last_key))
                .ok_or(ListError::PageToken(
                    "is not a token issued for these filters",
                ))?;
            if cursor.filter != fingerprint {
                return Err(ListError::PageToken("was issued for different filters"));
            }
            Some(cursor.last_key)
        };
        let overdue_before = filter.overdue_as_of.map(|day| day.to_string());

        let tree = self.trees.index(scope.index);
        let mut entries = tree.range(scope.range(after.as_deref()));
        let mut page = Page::default();
        let mut last_key = None;
        let mut examined = 0;
        while page.requests.len() < page_size && examined < SCAN_BUDGET {
            let Some(entry) = entries.next() else {
                return Ok(page);
            };
            let (key, _) = entry.map_err(ReadModelError::from)?;
            examined += 1;
            let id = scope.index.id_of(&key).ok_or_else(|| {
                ReadModelError::corrupt(format!("{} key is malformed", scope.index.tree_name()))
            })?;
            let bytes = self
                .trees
                .requests
                .get(id.as_bytes())
                .map_err(ReadModelError::from)?;
            let bytes = bytes.ok_or_else(|| {
                ReadModelError::corrupt(format!("index names request {id}, which is not stored"))
            })?;
            let mut request = decode_request(&bytes)?;
            if filter.matches(&request, overdue_before.as_deref()) {
                request.timeline.clear();
                page.requests.push(request);
            }
            last_key = Some(key);
        }
        let more = entries
            .next()
            .transpose()
            .map_err(ReadModelError::from)?
            .is_some();
        if let (true, Some(last_key)) = (more, last_key) {
            page.next_page_token = Cursor {
                index: scope.index,
                filter: fingerprint,
                last_key: last_key.to_vec(),
            }
            .encode();
        }
        Ok(page)
    }
}
