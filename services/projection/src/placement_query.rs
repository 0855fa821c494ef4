//! The `shuangyong.v1.PlacementQuery` gRPC service: registries and
//! statistics of the placement programmes, from the read model's placement
//! trees. Same rules as [`crate::query`]: validation at the edge
//! (INVALID_ARGUMENT naming the field), a bounded wait for `min_position`,
//! and every reply stamped with the applied position read before the data.
//! Personal data is served as stored: masked; `GetPersonUnmasked` alone
//! serves it in the clear, through [`crate::unmasked`], which records every
//! such read.

use sy_api::identity::Principal;
use sy_api::pb::placement_query_server::PlacementQuery;
use sy_api::status::from_domain;
use sy_domain::pb;
use sy_domain::placement::Status as PlacementStatus;
use sy_domain::validate::{AreaCode, Violations, china_date};
use tonic::{Request, Response, Status};

use crate::read_model::{PlacementFilter, ReadModel, ReadModelError, StoredPerson};
use crate::serving::{Reads, from_list, id, internal, optional_enum, page_size};
use crate::unmasked::{self, Unmasked};

pub(crate) struct PlacementQueryService {
    reads: Reads,
    unmasked: Unmasked,
}

impl PlacementQueryService {
    pub(crate) fn new(reads: Reads, unmasked: Unmasked) -> Self {
        Self { reads, unmasked }
    }

    /// The view of `stored` with its masked identity opened with the
    /// person's data key. Erased meanwhile (the fold has not caught up with
    /// the erasure yet): the view without it. No key store or no answer
    /// from it: UNAVAILABLE, never a view silently without names.
    async fn unseal(&self, stored: StoredPerson) -> Result<pb::PersonView, Status> {
        if !stored.is_sealed() {
            return Ok(stored.view.unwrap_or_default());
        }
        let subject = uuid::Uuid::try_parse(&stored.view().id)
            .map_err(|_| internal(ReadModelError::corrupt("a stored person id is not a UUID")))?;
        match self.reads.data_key(subject).await? {
            Some(key) => stored.unseal(&key).map_err(|err| {
                internal(ReadModelError::corrupt(format!(
                    "person {subject}: sealed masks: {err}"
                )))
            }),
            None => Ok(pb::PersonView {
                erased: true,
                ..stored.view.unwrap_or_default()
            }),
        }
    }
}

/// An optional 12-digit area filter.
fn optional_area(v: &mut Violations, field: &str, value: &str) -> Option<Option<AreaCode>> {
    match value {
        "" => Some(None),
        area => v.check(AreaCode::parse_shape(field, area)).map(Some),
    }
}

fn parse_list(request: &pb::ListPlacementsRequest) -> Result<(PlacementFilter, usize), Status> {
    let mut v = Violations::default();
    let programme = v.check(optional_enum("programme", request.programme));
    let status = match request.status.as_str() {
        "" => Some(None),
        name => v.check(
            PlacementStatus::ALL
                .into_iter()
                .find(|s| *s != PlacementStatus::Unregistered && s.as_str() == name)
                .map(Some)
                .ok_or_else(|| {
                    sy_domain::FieldViolation::new(
                        "status",
                        "must be registered, matched, on_duty, accepted, enrolled, declined or withdrawn",
                    )
                }),
        ),
    };
    let area = optional_area(&mut v, "area_code", &request.area_code);
    let page_size = v.check(page_size(request.page_size));
    v.finish(|| {
        Some((
            PlacementFilter {
                programme: programme?,
                status: status?,
                area: area?,
                fast_lane_only: request.fast_lane_only,
            },
            page_size?,
        ))
    })
    .map_err(|err| from_domain(&err))
}

#[tonic::async_trait]
impl PlacementQuery for PlacementQueryService {
    async fn get_person(
        &self,
        request: Request<pb::GetPersonRequest>,
    ) -> Result<Response<pb::GetPersonResponse>, Status> {
        let request = request.into_inner();
        let id = id(&request.id)?;
        let (stored, position) = self
            .reads
            .one(request.min_position, "person", &id, ReadModel::person)
            .await?;
        let person = self.unseal(stored).await?;
        Ok(Response::new(pb::GetPersonResponse {
            person: Some(person),
            position,
        }))
    }

    async fn get_person_unmasked(
        &self,
        request: Request<pb::GetPersonUnmaskedRequest>,
    ) -> Result<Response<pb::GetPersonUnmaskedResponse>, Status> {
        let read = unmasked::parse(request.get_ref())?;
        let reader = Principal::of(&request)?.actor()?;
        self.unmasked.read(read, reader).await.map(Response::new)
    }

    async fn list_placements(
        &self,
        request: Request<pb::ListPlacementsRequest>,
    ) -> Result<Response<pb::ListPlacementsResponse>, Status> {
        let request = request.into_inner();
        let (filter, page_size) = parse_list(&request)?;
        let token = request.page_token;
        let (page, position) = self
            .reads
            .blocking(request.min_position, move |model| {
                model
                    .list_placements(&filter, page_size, &token)
                    .map_err(from_list)
            })
            .await?;
        Ok(Response::new(pb::ListPlacementsResponse {
            placements: page.placements,
            next_page_token: page.next_page_token,
            position,
        }))
    }

    async fn get_placement_stats(
        &self,
        request: Request<pb::GetPlacementStatsRequest>,
    ) -> Result<Response<pb::GetPlacementStatsResponse>, Status> {
        let request = request.into_inner();
        let mut v = Violations::default();
        let area = optional_area(&mut v, "area_code", &request.area_code);
        let year = match request.year {
            0 => Some(china_date(jiff::Timestamp::now()).year()),
            1..=9999 => i16::try_from(request.year).ok(),
            _ => {
                v.push(sy_domain::FieldViolation::new(
                    "year",
                    "must be a year from 1 to 9999",
                ));
                None
            }
        };
        let (area, year) = v
            .finish(|| Some((area?, year?)))
            .map_err(|err| from_domain(&err))?;
        let (stats, position) = self
            .reads
            .blocking(request.min_position, move |model| {
                model.placement_stats(area.as_ref(), year).map_err(internal)
            })
            .await?;
        let (area, below) = stats.map_or((None, Vec::new()), |(area, below)| (Some(area), below));
        Ok(Response::new(pb::GetPlacementStatsResponse {
            area,
            below,
            year: i32::from(year),
            position,
        }))
    }

    async fn get_station(
        &self,
        request: Request<pb::GetStationRequest>,
    ) -> Result<Response<pb::GetStationResponse>, Status> {
        let request = request.into_inner();
        let id = id(&request.id)?;
        let (station, position) = self
            .reads
            .one(request.min_position, "station", &id, ReadModel::station)
            .await?;
        Ok(Response::new(pb::GetStationResponse {
            station: Some(station),
            position,
        }))
    }

    async fn list_stations(
        &self,
        request: Request<pb::ListStationsRequest>,
    ) -> Result<Response<pb::ListStationsResponse>, Status> {
        let request = request.into_inner();
        let mut v = Violations::default();
        let area = optional_area(&mut v, "area_code", &request.area_code);
        let page_size = v.check(page_size(request.page_size));
        let (area, page_size) = v
            .finish(|| Some((area?, page_size?)))
            .map_err(|err| from_domain(&err))?;
        let token = request.page_token;
        let (page, position) = self
            .reads
            .blocking(request.min_position, move |model| {
                model
                    .list_stations(area.as_ref(), page_size, &token)
                    .map_err(from_list)
            })
            .await?;
        Ok(Response::new(pb::ListStationsResponse {
            stations: page.stations,
            next_page_token: page.next_page_token,
            position,
        }))
    }
}
