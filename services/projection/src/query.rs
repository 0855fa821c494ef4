//! The `shuangyong.v1.Query` gRPC service: validates each call at the edge,
//! waits (bounded) for its `min_position`, reads the read model and stamps
//! the reply with the position it reflects. Request history is the one read
//! served from the log itself, so auditors see exactly what was stored.
//!
//! The free text of a request that concerns a person is kept sealed under
//! their data key (`crate::read_model::request_text`) and opened with the
//! key store before it is served; once they are erased it is served empty.
//! History serves the log's envelopes as stored, their text sealed.
//!
//! Quarantined events are served redacted (`crate::redact`): never the
//! stored bytes, which carry personal data.
//!
//! Every reply's `position` is the applied position read before the data, so
//! the data reflects at least that position (possibly a little more).

use futures::stream::BoxStream;
use prost::Message;
use sy_api::identity::Principal;
use sy_api::pb::query_server::Query;
use sy_api::status::{from_domain, invalid_field};
use sy_domain::double_list::FIRST_YEAR;
use sy_domain::error::FieldViolation;
use sy_domain::event::{hash, subject};
use sy_domain::pb;
use sy_domain::request::KIND;
use sy_domain::validate::{self, AreaCode, Code, Districts, Violations};
use sy_eventlog::{EventLog, LogError};
use tonic::{Request, Response, Status};
use tracing::warn;

use crate::Stop;
use crate::board_request;
use crate::read_model::{ListFilter, ReadModel, ReadModelError, StoredRequest, request_text};
use crate::redact::redact;
use crate::scope::ReadScope;
use crate::serving::{MAX_PAGE_SIZE, Reads, from_list, id, internal, optional_enum, page_size};
use crate::tail::{ReadAfter, Tail};
use crate::watches::Watches;

/// Quarantine entries per call when the caller gives no limit.
const DEFAULT_QUARANTINE_LIMIT: u32 = 100;
/// Changes `WatchRequests` reads from sled at a time.
const WATCH_CHUNK: usize = 256;

pub(crate) struct QueryService {
    reads: Reads,
    log: EventLog,
    stop: Stop,
    read_only: bool,
    watches: Watches,
    /// The districts a board's area must lie in.
    districts: Districts,
}

impl QueryService {
    pub(crate) fn new(
        reads: Reads,
        log: EventLog,
        stop: Stop,
        read_only: bool,
        watches: Watches,
        districts: Districts,
    ) -> Self {
        Self {
            reads,
            log,
            stop,
            read_only,
            watches,
            districts,
        }
    }

    /// `stored` as served: the text and notes sealed under the data key
    /// of the person it concerns opened (empty once they are erased), and
    /// never the sealed text itself.
    async fn unseal(&self, stored: StoredRequest) -> Result<pb::Request, Status> {
        if !stored.is_sealed() {
            return Ok(stored.request);
        }
        let corrupt = |id: &str, what: String| {
            internal(ReadModelError::corrupt(format!("request {id}: {what}")))
        };
        let id = stored.request.id.clone();
        let person = request_text::subject(&stored.request)
            .ok_or_else(|| corrupt(&id, "sealed text, but no person it concerns".into()))?;
        let key = self.reads.data_key(person).await?;
        request_text::unseal(stored, key.as_ref())
            .map_err(|err| corrupt(&id, format!("sealed text: {err}")))
    }
}

fn hex(bytes: [u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_log(err: LogError) -> Status {
    match err {
        LogError::Unavailable(_) => Status::unavailable(err.to_string()),
        LogError::Conflict { .. } | LogError::Failed(_) => Status::internal(err.to_string()),
    }
}

/// The filters and page size of a list call, every bad field reported at once.
fn parse_list(request: &pb::ListRequestsRequest) -> Result<(ListFilter, usize), Status> {
    let mut v = Violations::default();
    let status = v.check(optional_enum("status", request.status));
    let direction = v.check(optional_enum("direction", request.direction));
    let category = v.check(optional_enum("category", request.category));
    let level = v.check(optional_enum(
        "supervision_level",
        request.supervision_level,
    ));
    let department = match request.department.as_str() {
        "" => Some(None),
        department => v.check(Code::parse("department", department)).map(Some),
    };
    let area = match request.area_code.as_str() {
        "" => Some(None),
        area => v.check(AreaCode::parse_shape("area_code", area)).map(Some),
    };
    let overdue_as_of = v.check(validate::optional_date(
        "overdue_as_of",
        &request.overdue_as_of,
    ));
    let page_size = v.check(page_size(request.page_size));
    v.finish(|| {
        Some((
            ListFilter {
                status: status?,
                direction: direction?,
                category: category?,
                department: department?,
                supervision_level: level?,
                area: area?,
                overdue_as_of: overdue_as_of?,
            },
            page_size?,
        ))
    })
    .map_err(|err| from_domain(&err))
}

#[tonic::async_trait]
impl Query for QueryService {
    async fn get_request(
        &self,
        request: Request<pb::GetRequestRequest>,
    ) -> Result<Response<pb::GetRequestResponse>, Status> {
        let scope = ReadScope::of(&request)?;
        let request = request.into_inner();
        let id = id(&request.id)?;
        let (found, position) = self
            .reads
            .one(
                request.min_position,
                "request",
                &id,
                ReadModel::stored_request,
            )
            .await?;
        scope.check(&found.request)?;
        Ok(Response::new(pb::GetRequestResponse {
            request: Some(self.unseal(found).await?),
            position,
        }))
    }

    async fn list_requests(
        &self,
        request: Request<pb::ListRequestsRequest>,
    ) -> Result<Response<pb::ListRequestsResponse>, Status> {
        let scope = ReadScope::of(&request)?;
        let request = request.into_inner();
        let (filter, page_size) = parse_list(&request)?;
        scope.check_list(filter.department.as_ref().map(|d| d.as_str()))?;
        let token = request.page_token;
        // Up to SCAN_BUDGET point reads: off the async workers.
        let (page, position) = self
            .reads
            .blocking(request.min_position, move |model| {
                model.list(&filter, page_size, &token).map_err(from_list)
            })
            .await?;
        let mut requests = Vec::with_capacity(page.requests.len());
        for request in page.requests {
            let stored = StoredRequest::without_timeline(request);
            requests.push(self.unseal(stored).await?);
        }
        Ok(Response::new(pb::ListRequestsResponse {
            requests,
            next_page_token: page.next_page_token,
            position,
        }))
    }

    async fn get_clearance_board(
        &self,
        request: Request<pb::GetClearanceBoardRequest>,
    ) -> Result<Response<pb::ClearanceBoard>, Status> {
        let request = request.into_inner();
        let (as_of, filter) = board_request::parse(&request, &self.districts)?;
        let position = self.reads.reached(request.min_position).await?;
        let mut board = self
            .reads
            .live
            .model()
            .and_then(|model| model.board(as_of, filter.as_ref()))
            .map_err(internal)?;
        board.position = position;
        Ok(Response::new(board))
    }

    async fn get_double_list(
        &self,
        request: Request<pb::GetDoubleListRequest>,
    ) -> Result<Response<pb::DoubleList>, Status> {
        let request = request.into_inner();
        let (year, direction, as_of) = double_list_request(&request)?;
        self.reads.reached(request.min_position).await?;
        let list = self
            .reads
            .live
            .model()
            .and_then(|model| model.double_list(year, direction, as_of))
            .map_err(internal)?;
        list.map(Response::new).ok_or_else(|| {
            Status::not_found(format!(
                "no double list for {year} {}",
                direction.as_str_name()
            ))
        })
    }

    async fn get_request_history(
        &self,
        request: Request<pb::GetRequestHistoryRequest>,
    ) -> Result<Response<pb::GetRequestHistoryResponse>, Status> {
        let scope = ReadScope::of(&request)?;
        let id = id(&request.into_inner().id)?;
        if scope != ReadScope::All {
            let (found, _) = self
                .reads
                .one(0, "request", &id, ReadModel::request_record)
                .await?;
            scope.check(&found)?;
        }
        let stored = self
            .log
            .read_subject(&subject(KIND, &id), 0)
            .await
            .map_err(from_log)?;
        let Some(last) = stored.last() else {
            return Err(Status::not_found(format!("request {id} not found")));
        };
        let position = last.position;
        let events = stored
            .iter()
            .map(|event| pb::HistoryEvent {
                position: event.position,
                // An undecodable event is still shown, with its hash, so the
                // audit sees that something is stored there.
                envelope: pb::EventEnvelope::decode(event.payload.as_ref())
                    .inspect_err(|err| {
                        warn!(position = event.position, %err, "stored event does not decode");
                    })
                    .ok(),
                hash: hash(&event.payload).to_vec(),
            })
            .collect();
        Ok(Response::new(pb::GetRequestHistoryResponse {
            events,
            position,
        }))
    }

    async fn get_projection_status(
        &self,
        request: Request<pb::GetProjectionStatusRequest>,
    ) -> Result<Response<pb::ProjectionStatus>, Status> {
        let request = request.into_inner();
        let with_model_digest = request.include_read_model_digest;
        // sled has no snapshots: while the fold runs, the read model digest
        // may already include a batch past `position`. Compare replicas'
        // read model digests when they are caught up or read-only.
        let ((digest, model_digest, quarantined), _) = self
            .reads
            .blocking(request.min_position, move |model| {
                let read = || {
                    let digest = model.log_digest()?;
                    let model_digest = if with_model_digest {
                        Some(model.digest()?)
                    } else {
                        None
                    };
                    Ok::<_, ReadModelError>((digest, model_digest, model.quarantine_count()?))
                };
                read().map_err(internal)
            })
            .await?;
        let last = if self.read_only {
            None
        } else {
            self.log.last_position().await.ok()
        };
        Ok(Response::new(pb::ProjectionStatus {
            position: digest.position,
            log_digest: digest.hex(),
            read_model_digest: model_digest.map(hex).unwrap_or_default(),
            quarantined,
            log_last_position: last.unwrap_or_default(),
            log_reachable: last.is_some(),
            read_only: self.read_only,
        }))
    }

    async fn list_quarantined(
        &self,
        request: Request<pb::ListQuarantinedRequest>,
    ) -> Result<Response<pb::ListQuarantinedResponse>, Status> {
        let request = request.into_inner();
        let limit = match request.limit {
            0 => DEFAULT_QUARANTINE_LIMIT,
            1..=MAX_PAGE_SIZE => request.limit,
            _ => {
                return Err(invalid_field(
                    "limit",
                    &format!("must be at most {MAX_PAGE_SIZE}"),
                ));
            }
        };
        let position = *self.reads.applied.borrow();
        let events = self
            .reads
            .live
            .model()
            .and_then(|model| model.quarantined_after(request.after_position, limit as usize))
            .map_err(internal)?
            .into_iter()
            .map(|q| {
                let served = redact(&q.payload);
                pb::QuarantinedEvent {
                    position: q.position,
                    subject: q.subject,
                    reason: q.reason,
                    payload: Vec::new(),
                    redacted_payload: served.payload,
                    payload_size: served.size,
                    payload_hash: served.hash.to_vec(),
                }
            })
            .collect();
        Ok(Response::new(pb::ListQuarantinedResponse {
            events,
            position,
        }))
    }

    type WatchRequestsStream = BoxStream<'static, Result<pb::RequestChange, Status>>;

    async fn watch_requests(
        &self,
        request: Request<pb::WatchRequestsRequest>,
    ) -> Result<Response<Self::WatchRequestsStream>, Status> {
        let slot = self.watches.open(Principal::of(&request)?)?;
        // The changes sent are those of the requests the caller may read.
        let scope = ReadScope::of(&request)?;
        let read: ReadAfter<pb::RequestChange> = Box::new(move |model, after| {
            let changes = model.changes_after(after, WATCH_CHUNK)?;
            let Some(last) = changes.last().map(|c| c.position) else {
                return Ok(None);
            };
            let permitted = changes
                .into_iter()
                .filter(|c| scope.permits_id(model, &c.request_id))
                .collect();
            Ok(Some((last, permitted)))
        });
        let after = request.into_inner().after_position;
        Ok(Response::new(Tail::stream(
            slot,
            &self.reads,
            self.stop.clone(),
            after,
            read,
        )))
    }
}

/// The list `GetDoubleList` names and the day it is reckoned at; every bad
/// field named at once.
fn double_list_request(
    request: &pb::GetDoubleListRequest,
) -> Result<(i32, pb::Direction, jiff::civil::Date), Status> {
    let mut v = Violations::default();
    let year = v.check(if request.year >= FIRST_YEAR && request.year <= 9999 {
        Ok(request.year)
    } else {
        Err(FieldViolation::new(
            "year",
            format!("must be {FIRST_YEAR} or later, is {}", request.year),
        ))
    });
    let direction = v.check(validate::enum_value::<pb::Direction>(
        "direction",
        request.direction,
        None,
    ));
    let as_of = match request.as_of.as_str() {
        "" => Some(validate::china_date(jiff::Timestamp::now())),
        day => v.check(validate::date("as_of", day)),
    };
    v.finish(|| Some((year?, direction?, as_of?)))
        .map_err(|err| from_domain(&err))
}
