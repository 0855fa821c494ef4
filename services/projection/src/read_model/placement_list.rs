//! Reads of the placement programmes' trees: a person with their placements
//! and allowance, a station, the placement and station lists, statistics.
//!
//! Lists walk their index like `ListRequests`, through [`Walk`]; filters are
//! checked on the stored domain states, and the views are derived from them
//! ([`super::views`]).

use sy_domain::allowance::allowance_id_for;
use sy_domain::pb::{self, Programme};
use sy_domain::placement::{Placement, Status, placement_id_for};
use sy_domain::station::Station;
use sy_domain::validate::{AreaCode, aggregate_id};

use super::keys::{PlacementIndex, Scope, placement_of, placement_status_prefix, station_of};
use super::list::{ListError, Walk, fingerprint};
use super::registry::{Record, StoredAllowance, StoredPerson, StoredPlacement};
use super::{ReadModel, ReadModelError, stats, views};

/// Validated `ListPlacements` filters; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlacementFilter {
    /// Only placements in this programme.
    pub programme: Option<Programme>,
    /// Only placements whose current cycle is in this status.
    pub status: Option<Status>,
    /// Matches the area and everything below it.
    pub area: Option<AreaCode>,
    /// Only placements on the employment fast lane (就业快车道).
    pub fast_lane_only: bool,
}

impl PlacementFilter {
    fn matches(&self, placement: &Placement) -> bool {
        let cycle = placement.current();
        self.programme.is_none_or(|p| placement.programme() == p)
            && self.status.is_none_or(|s| placement.status() == s)
            && self
                .area
                .as_ref()
                .is_none_or(|a| cycle.area_code.starts_with(a.scope_prefix()))
            && (!self.fast_lane_only || cycle.fast_lane)
    }
}

/// One page of `ListPlacements`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlacementPage {
    /// The matching placements, in the order of the index walked.
    pub placements: Vec<pb::PlacementView>,
    /// Empty on the last page.
    pub next_page_token: String,
}

/// One page of `ListStations`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StationPage {
    /// The stations in the area, in the order of the index walked.
    pub stations: Vec<pb::StationView>,
    /// Empty on the last page.
    pub next_page_token: String,
}

impl ReadModel {
    /// The stored record `id` of `tree`, if any.
    fn record<R: Record>(&self, tree: &sled::Tree, id: &str) -> Result<Option<R>, ReadModelError> {
        tree.get(id.as_bytes())?
            .map(|bytes| R::decode_record(&bytes))
            .transpose()
    }

    /// The record an index entry names; its absence is damage.
    fn indexed<R: Record>(&self, tree: &sled::Tree, id: Option<&str>) -> Result<R, ReadModelError> {
        let id = id.ok_or_else(|| ReadModelError::corrupt("a list index key is malformed"))?;
        self.record(tree, id)?.ok_or_else(|| {
            ReadModelError::corrupt(format!("index names {} {id}, which is not stored", R::WHAT))
        })
    }

    /// A person with their placements and allowance; `None` if not
    /// registered. `id` is a UUID (validated at the edge).
    /// Its masked identity stays sealed: the caller opens it with the key
    /// store ([`StoredPerson::unseal`]).
    pub fn person(&self, id: &str) -> Result<Option<StoredPerson>, ReadModelError> {
        let Some(mut stored) = self.record::<StoredPerson>(&self.trees.people, id)? else {
            return Ok(None);
        };
        let person = stored.view.get_or_insert_with(Default::default);
        let uuid = aggregate_id("id", id)
            .map_err(|_| ReadModelError::corrupt(format!("stored person id {id} is no UUID")))?;
        for programme in [
            Programme::VeteranResettlement,
            Programme::SpousePlacement,
            Programme::SchoolEnrollment,
        ] {
            let placement_id = placement_id_for(&uuid, programme).to_string();
            if let Some(stored) =
                self.record::<StoredPlacement>(&self.trees.placements, &placement_id)?
            {
                person.placements.push(views::placement(&stored.state));
            }
        }
        let allowance_id = allowance_id_for(&uuid).to_string();
        let allowance = self.record::<StoredAllowance>(&self.trees.allowances, &allowance_id)?;
        person.allowance = allowance.map(|stored| views::allowance(&stored.state));
        Ok(Some(stored))
    }

    /// The view of station `id`; `None` if it never opened.
    pub fn station(&self, id: &str) -> Result<Option<pb::StationView>, ReadModelError> {
        let station = self.record::<Station>(&self.trees.stations, id)?;
        Ok(station.as_ref().map(views::station))
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
                PlacementIndex::ByStatus,
                placement_status_prefix(programme, status),
            ),
            _ if filter.fast_lane_only => (
                &self.trees.idx_placement_fast,
                PlacementIndex::FastLane,
                Vec::new(),
            ),
            _ => (
                &self.trees.idx_placements,
                PlacementIndex::Placements,
                Vec::new(),
            ),
        };
        let prefix_len = prefix.len();
        let walk = Walk {
            tree,
            index,
            scope: Scope {
                prefix,
                below: None,
            },
            fingerprint: fingerprint(&blake3::hash(format!("{filter:?}").as_bytes())),
        };
        let (placements, next_page_token) = walk.run(page_size, page_token, |key| {
            let stored: StoredPlacement =
                self.indexed(&self.trees.placements, placement_of(key, prefix_len))?;
            Ok(filter
                .matches(&stored.state)
                .then(|| views::placement(&stored.state)))
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
            index: PlacementIndex::Stations,
            scope: Scope {
                prefix: prefix.as_bytes().to_vec(),
                below: None,
            },
            fingerprint: fingerprint(&blake3::hash(prefix.as_bytes())),
        };
        let (stations, next_page_token) = walk.run(page_size, page_token, |key| {
            let station: Station = self.indexed(&self.trees.stations, station_of(key))?;
            Ok(Some(views::station(&station)))
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
