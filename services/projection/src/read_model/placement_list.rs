//! Reads of the placement programmes' trees: a person with their placements
//! and allowance, a station, the placement and station lists, statistics.
//!
//! Lists work like `ListRequests` (see [`super::list`]): walk one index in
//! order, check every filter on each entry, stop at a full page or after
//! [`SCAN_BUDGET`] entries, and hand out an opaque token naming the index, a
//! fingerprint of the filters and the last key examined.

use std::ops::Bound;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prost::Message;
use sy_domain::allowance::allowance_id_for;
use sy_domain::pb::{self, Programme};
use sy_domain::placement::{Status, placement_id_for};
use sy_domain::validate::{AreaCode, aggregate_id};

use super::fold::placement_status_prefix;
use super::keys::prefix_end;
use super::list::{ListError, SCAN_BUDGET};
use super::registry::{StoredAllowance, StoredPlacement};
use super::{ReadModel, ReadModelError, stats};

const TOKEN_VERSION: u8 = 1;

/// Validated `ListPlacements` filters; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlacementFilter {
    pub programme: Option<Programme>,
    pub status: Option<Status>,
    /// Matches the area and everything below it.
    pub area: Option<AreaCode>,
    pub fast_lane_only: bool,
}

impl PlacementFilter {
    fn matches(&self, view: &pb::PlacementView) -> bool {
        self.programme.is_none_or(|p| view.programme() == p)
            && self.status.is_none_or(|s| view.status == s.as_str())
            && self
                .area
                .as_ref()
                .is_none_or(|a| view.area_code.starts_with(a.scope_prefix()))
            && (!self.fast_lane_only || view.fast_lane)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlacementPage {
    pub placements: Vec<pb::PlacementView>,
    /// Empty on the last page.
    pub next_page_token: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StationPage {
    pub stations: Vec<pb::StationView>,
    /// Empty on the last page.
    pub next_page_token: String,
}

/// One index walk: the tree, its number in page tokens, the key prefix it
/// stays in and the filters' fingerprint.
struct Walk<'a> {
    tree: &'a sled::Tree,
    index: u8,
    prefix: Vec<u8>,
    fingerprint: [u8; 8],
}

impl Walk<'_> {
    /// Up to `page_size` matching values after `page_token`: `pick` decodes
    /// an entry's key into a value, or `None` if it does not match.
    fn run<T>(
        &self,
        page_size: usize,
        page_token: &str,
        mut pick: impl FnMut(&[u8]) -> Result<Option<T>, ReadModelError>,
    ) -> Result<(Vec<T>, String), ListError> {
        let start = if page_token.is_empty() {
            Bound::Included(self.prefix.clone())
        } else {
            Bound::Excluded(self.resume(page_token)?)
        };
        let mut entries = self.tree.range((start, prefix_end(&self.prefix)));
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
            (true, Some(last_key)) => {
                let mut bytes = vec![TOKEN_VERSION, self.index];
                bytes.extend_from_slice(&self.fingerprint);
                bytes.extend_from_slice(&last_key);
                URL_SAFE_NO_PAD.encode(bytes)
            }
            _ => String::new(),
        };
        Ok((found, token))
    }

    /// The last key of a token issued for this walk.
    fn resume(&self, token: &str) -> Result<Vec<u8>, ListError> {
        let foreign = ListError::PageToken("is not a token issued for these filters");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| foreign)?;
        let Some(([version, index], rest)) = bytes.split_first_chunk::<2>() else {
            return Err(ListError::PageToken(
                "is not a token issued for these filters",
            ));
        };
        let Some((fingerprint, last_key)) = rest.split_first_chunk::<8>() else {
            return Err(ListError::PageToken(
                "is not a token issued for these filters",
            ));
        };
        if *version != TOKEN_VERSION || *index != self.index || !last_key.starts_with(&self.prefix)
        {
            return Err(ListError::PageToken(
                "is not a token issued for these filters",
            ));
        }
        if *fingerprint != self.fingerprint {
            return Err(ListError::PageToken("was issued for different filters"));
        }
        Ok(last_key.to_vec())
    }
}

fn fingerprint(text: &str) -> [u8; 8] {
    let hash = blake3::hash(text.as_bytes());
    let mut fingerprint = [0; 8];
    fingerprint.copy_from_slice(&hash.as_bytes()[..8]);
    fingerprint
}

fn decode<M: Message + Default>(what: &str, bytes: &[u8]) -> Result<M, ReadModelError> {
    M::decode(bytes).map_err(|err| ReadModelError::corrupt(format!("stored {what}: {err}")))
}

fn id_after(key: &[u8], skip: usize) -> Result<&str, ReadModelError> {
    key.get(skip..)
        .and_then(|id| std::str::from_utf8(id).ok())
        .ok_or_else(|| ReadModelError::corrupt("a list index key is malformed"))
}

impl ReadModel {
    /// A person with their placements and allowance; `None` if not
    /// registered. `id` is a UUID (validated at the edge).
    pub fn person(&self, id: &str) -> Result<Option<pb::PersonView>, ReadModelError> {
        let Some(bytes) = self.trees.people.get(id.as_bytes())? else {
            return Ok(None);
        };
        let mut person: pb::PersonView = decode("person", &bytes)?;
        let uuid = aggregate_id("id", id)
            .map_err(|_| ReadModelError::corrupt(format!("stored person id {id} is no UUID")))?;
        for programme in [
            Programme::VeteranResettlement,
            Programme::SpousePlacement,
            Programme::SchoolEnrollment,
        ] {
            let placement_id = placement_id_for(&uuid, programme).to_string();
            if let Some(bytes) = self.trees.placements.get(placement_id.as_bytes())? {
                let stored: StoredPlacement = decode("placement", &bytes)?;
                person.placements.extend(stored.view);
            }
        }
        let allowance_id = allowance_id_for(&uuid).to_string();
        if let Some(bytes) = self.trees.allowances.get(allowance_id.as_bytes())? {
            let stored: StoredAllowance = decode("allowance", &bytes)?;
            person.allowance = stored.view;
        }
        Ok(Some(person))
    }

    pub fn station(&self, id: &str) -> Result<Option<pb::StationView>, ReadModelError> {
        self.trees
            .stations
            .get(id.as_bytes())?
            .map(|bytes| decode("station", &bytes))
            .transpose()
    }

    /// Placements matching `filter`, newest registration first.
    pub fn list_placements(
        &self,
        filter: &PlacementFilter,
        page_size: usize,
        page_token: &str,
    ) -> Result<PlacementPage, ListError> {
        // The most selective index the filters allow; every filter is still
        // checked on each entry.
        let (tree, index, prefix) = match (filter.programme, filter.status) {
            (Some(programme), Some(status)) => (
                &self.trees.idx_placement_status,
                1,
                placement_status_prefix(programme as i32, Some(status)),
            ),
            _ if filter.fast_lane_only => (&self.trees.idx_placement_fast, 3, Vec::new()),
            _ => (&self.trees.idx_placements, 0, Vec::new()),
        };
        let walk = Walk {
            tree,
            index,
            prefix,
            fingerprint: fingerprint(&format!("{filter:?}")),
        };
        let skip = walk.prefix.len() + 8;
        let (placements, next_page_token) = walk.run(page_size, page_token, |key| {
            let id = id_after(key, skip)?;
            let bytes = self.trees.placements.get(id.as_bytes())?.ok_or_else(|| {
                ReadModelError::corrupt(format!("index names placement {id}, which is not stored"))
            })?;
            let stored: StoredPlacement = decode("placement", &bytes)?;
            Ok(stored.view.filter(|view| filter.matches(view)))
        })?;
        Ok(PlacementPage {
            placements,
            next_page_token,
        })
    }

    /// Stations in `area` (and below), by area code then id.
    pub fn list_stations(
        &self,
        area: Option<&AreaCode>,
        page_size: usize,
        page_token: &str,
    ) -> Result<StationPage, ListError> {
        let prefix = area.map_or("", AreaCode::scope_prefix);
        let walk = Walk {
            tree: &self.trees.idx_stations,
            index: 2,
            prefix: prefix.as_bytes().to_vec(),
            fingerprint: fingerprint(prefix),
        };
        let (stations, next_page_token) = walk.run(page_size, page_token, |key| {
            let slash = key.iter().position(|b| *b == b'/').unwrap_or(key.len());
            let id = id_after(key, slash + 1)?;
            self.station(id)?.map(Some).ok_or_else(|| {
                ReadModelError::corrupt(format!("index names station {id}, which is not stored"))
            })
        })?;
        Ok(StationPage {
            stations,
            next_page_token,
        })
    }

    /// Statistics of `area` (default: the first district with data) and the
    /// areas directly below it; `None` when there is no data at all and no
    /// area was named.
    pub fn placement_stats(
        &self,
        area: Option<&AreaCode>,
        year: i16,
    ) -> Result<Option<(pb::AreaStats, Vec<pb::AreaStats>)>, ReadModelError> {
        let scope = match area {
            Some(area) => area.scope_prefix().to_string(),
            None => match stats::first_district(&self.trees.stats)? {
                Some(district) => district,
                None => return Ok(None),
            },
        };
        stats::read(&self.trees.stats, &scope, year).map(Some)
    }
}
