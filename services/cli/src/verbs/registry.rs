//! The placement registries as the projection serves them (PlacementQuery):
//! a person (masked), placements, statistics by area, care stations. Each
//! read waits for `--min-position` like `sy requests show` and prints
//! tables, or the answer as JSON with `--json`.

use sy_api::pb;

use super::answer;
use crate::args::{ListPlacementsArgs, ListStationsArgs, ShowByIdArgs, StatsArgs};
use crate::error::Error;
use crate::render;
use crate::rpc::{Endpoints, read_with_retry};

/// `sy person show ID`.
pub async fn person(endpoints: &Endpoints, args: &ShowByIdArgs) -> Result<(), Error> {
    let mut query = endpoints.placement_query().await?;
    let got = read_with_retry("GetPerson", async || {
        query
            .get_person(pb::GetPersonRequest {
                id: args.id.clone(),
                min_position: args.read.min_position,
            })
            .await
    })
    .await?;
    answer(&args.read, &got, || {
        let person = got
            .person
            .as_ref()
            .ok_or_else(|| missing("GetPerson", "person"))?;
        Ok(format!(
            "{}(position {})",
            render::person_text(person),
            got.position
        ))
    })
}

/// `sy placements list`.
pub async fn placements(endpoints: &Endpoints, args: &ListPlacementsArgs) -> Result<(), Error> {
    let mut query = endpoints.placement_query().await?;
    let got = read_with_retry("ListPlacements", async || {
        query
            .list_placements(pb::ListPlacementsRequest {
                programme: args.programme.map_or(0, |p| pb::Programme::from(p) as i32),
                status: args
                    .status
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                area_code: args.area.clone().unwrap_or_default(),
                fast_lane_only: args.fast_lane,
                page_size: args.page_size,
                page_token: args.page_token.clone().unwrap_or_default(),
                min_position: args.read.min_position,
            })
            .await
    })
    .await?;
    answer(&args.read, &got, || {
        Ok(format!(
            "{}\n{} placements (position {}){}",
            render::placement_list(&got.placements),
            got.placements.len(),
            got.position,
            more(&got.next_page_token)
        ))
    })
}

/// `sy placements stats`.
pub async fn stats(endpoints: &Endpoints, args: &StatsArgs) -> Result<(), Error> {
    let mut query = endpoints.placement_query().await?;
    let got = read_with_retry("GetPlacementStats", async || {
        query
            .get_placement_stats(pb::GetPlacementStatsRequest {
                area_code: args.area.clone().unwrap_or_default(),
                year: args.year.unwrap_or_default(),
                min_position: args.read.min_position,
            })
            .await
    })
    .await?;
    answer(&args.read, &got, || Ok(render::stats_text(&got)))
}

/// `sy stations show ID`.
pub async fn station(endpoints: &Endpoints, args: &ShowByIdArgs) -> Result<(), Error> {
    let mut query = endpoints.placement_query().await?;
    let got = read_with_retry("GetStation", async || {
        query
            .get_station(pb::GetStationRequest {
                id: args.id.clone(),
                min_position: args.read.min_position,
            })
            .await
    })
    .await?;
    answer(&args.read, &got, || {
        let station = got
            .station
            .as_ref()
            .ok_or_else(|| missing("GetStation", "station"))?;
        Ok(format!(
            "{}(position {})",
            render::station_text(station),
            got.position
        ))
    })
}

/// `sy stations list`.
pub async fn stations(endpoints: &Endpoints, args: &ListStationsArgs) -> Result<(), Error> {
    let mut query = endpoints.placement_query().await?;
    let got = read_with_retry("ListStations", async || {
        query
            .list_stations(pb::ListStationsRequest {
                area_code: args.area.clone().unwrap_or_default(),
                page_size: args.page_size,
                page_token: args.page_token.clone().unwrap_or_default(),
                min_position: args.read.min_position,
            })
            .await
    })
    .await?;
    answer(&args.read, &got, || {
        Ok(format!(
            "{}\n{} stations (position {}){}",
            render::station_list(&got.stations),
            got.stations.len(),
            got.position,
            more(&got.next_page_token)
        ))
    })
}

fn missing(call: &str, what: &str) -> Error {
    Error::Failed(format!("{call} answered without a {what}"))
}

/// The hint to the next page, if there is one.
fn more(token: &str) -> String {
    if token.is_empty() {
        String::new()
    } else {
        format!("\nmore: --page-token {token}")
    }
}
