//! What the suites assert over and over: a call failed with a given code, the
//! fields a `BadRequest` names, a request read at a position, every page of a
//! listing.

use std::collections::HashSet;
use std::fmt::Debug;

use anyhow::{Context, ensure};
use sy_api::pb;
use tonic_types::StatusExt;

use crate::client::QueryClient;

/// The status of a call that must fail with `code`; panics (showing what came
/// back) otherwise.
#[track_caller]
pub fn expect_code<T: Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    code: tonic::Code,
) -> tonic::Status {
    match result {
        Ok(response) => panic!("expected {code:?}, got a reply: {:?}", response.get_ref()),
        Err(status) => {
            assert_eq!(
                status.code(),
                code,
                "expected {code:?}, got {:?}: {}",
                status.code(),
                status.message()
            );
            status
        }
    }
}

/// The fields the status's `google.rpc.BadRequest` names, in order.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// `GetRequest` at `min_position` (read your writes).
pub async fn get_request(
    query: &QueryClient,
    id: &str,
    min_position: u64,
) -> anyhow::Result<pb::Request> {
    let reply = query
        .clone()
        .get_request(pb::GetRequestRequest {
            id: id.to_string(),
            min_position,
        })
        .await
        .with_context(|| format!("GetRequest {id} at {min_position}"))?
        .into_inner();
    ensure!(
        reply.position >= min_position,
        "reply reflects position {} < min_position {min_position}",
        reply.position
    );
    reply.request.context("GetRequest reply without a request")
}

/// Every page of `ListRequests` with `filter` (its token and size are set
/// here), checking that pages neither repeat nor skip a request.
pub async fn list_all(
    query: &QueryClient,
    filter: pb::ListRequestsRequest,
    page_size: u32,
) -> anyhow::Result<Vec<pb::Request>> {
    let mut all = Vec::new();
    let mut seen = HashSet::new();
    let mut token = String::new();
    for page in 0.. {
        ensure!(page < 10_000, "paging does not end");
        let reply = query
            .clone()
            .list_requests(pb::ListRequestsRequest {
                page_size,
                page_token: token.clone(),
                ..filter.clone()
            })
            .await
            .with_context(|| format!("ListRequests page {page}"))?
            .into_inner();
        ensure!(
            reply.requests.len() <= page_size as usize,
            "page {page} has {} requests, more than page_size {page_size}",
            reply.requests.len()
        );
        ensure!(
            reply.position >= filter.min_position,
            "page {page} reflects position {} < min_position {}",
            reply.position,
            filter.min_position
        );
        for request in reply.requests {
            ensure!(
                seen.insert(request.id.clone()),
                "request {} listed twice (page {page})",
                request.id
            );
            all.push(request);
        }
        if reply.next_page_token.is_empty() {
            break;
        }
        token = reply.next_page_token;
    }
    Ok(all)
}

/// The board at `min_position` for the day `as_of` (empty: today).
pub async fn board(
    query: &QueryClient,
    as_of: &str,
    min_position: u64,
) -> anyhow::Result<pb::ClearanceBoard> {
    let board = query
        .clone()
        .get_clearance_board(pb::GetClearanceBoardRequest {
            as_of: as_of.to_string(),
            min_position,
            ..Default::default()
        })
        .await
        .context("GetClearanceBoard")?
        .into_inner();
    ensure!(
        board.position >= min_position,
        "board at {}",
        board.position
    );
    Ok(board)
}

/// The counts of the board row whose key contains `needle` (case-insensitive:
/// keys may be `CATEGORY_MEDICAL` or `medical`); zero counts when absent.
pub fn row(rows: &[pb::BoardRow], needle: &str) -> pb::BoardCounts {
    let needle = needle.to_ascii_lowercase();
    let matching: Vec<_> = rows
        .iter()
        .filter(|r| r.key.to_ascii_lowercase().contains(&needle))
        .collect();
    assert!(
        matching.len() <= 1,
        "board key {needle:?} is ambiguous: {:?}",
        matching.iter().map(|r| &r.key).collect::<Vec<_>>()
    );
    matching.first().and_then(|r| r.counts).unwrap_or_default()
}

/// The gRPC health of `service` (`""`: the whole server) on `channel`.
pub async fn health(
    channel: tonic::transport::Channel,
    service: &str,
) -> anyhow::Result<tonic_health::pb::health_check_response::ServingStatus> {
    let reply = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.to_string(),
        })
        .await?
        .into_inner();
    Ok(reply.status())
}
