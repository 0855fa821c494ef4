//! The `shuangyong.v1.Notifications` gRPC service: an agency's
//! notifications (derived by the fold, `sy_domain::notification`) as a
//! server stream that resumes after a position. An agency watches only its
//! own; an auditor (and development mode) watches any. On the replica that
//! delivers webhooks it also serves their dead letters and replays.

use futures::stream::BoxStream;
use sy_api::identity::Principal;
use sy_api::pb::notifications_server::Notifications;
use sy_api::policy::Role;
use sy_api::status::invalid_argument;
use sy_domain::pb;
use sy_domain::validate::Code;
use tonic::{Request, Response, Status};

use crate::Stop;
use crate::serving::Reads;
use crate::tail::{ReadAfter, Tail};
use crate::watches::Watches;
use crate::webhooks::{Store, StoreError};

/// Notifications `Watch` reads from sled at a time.
const WATCH_CHUNK: usize = 256;

pub(crate) struct NotificationsService {
    reads: Reads,
    stop: Stop,
    watches: Watches,
    /// The delivery state, on the replica that delivers webhooks.
    deliveries: Option<Store>,
}

impl NotificationsService {
    pub(crate) fn new(
        reads: Reads,
        stop: Stop,
        watches: Watches,
        deliveries: Option<Store>,
    ) -> Self {
        Self {
            reads,
            stop,
            watches,
            deliveries,
        }
    }

    /// The delivery state; FAILED_PRECONDITION on a replica that does not
    /// deliver webhooks.
    fn deliveries(&self) -> Result<&Store, Status> {
        self.deliveries.as_ref().ok_or_else(|| {
            Status::failed_precondition(
                "this replica does not deliver webhooks (--deliver-webhooks): \
                 ask the one that does",
            )
        })
    }
}

/// An optional agency filter: empty, or a valid code.
fn agency_filter(agency: &str) -> Result<&str, Status> {
    if !agency.is_empty() {
        Code::parse("agency", agency).map_err(|v| invalid_argument(&[v]))?;
    }
    Ok(agency)
}

fn from_store(err: StoreError) -> Status {
    Status::internal(err.to_string())
}

/// The agency whose notifications `principal` asks for (`asked`, or its
/// own when empty), if it may watch them.
fn watched_agency(principal: &Principal, asked: &str) -> Result<String, Status> {
    if asked.is_empty() {
        return Ok(principal.agency.clone());
    }
    let agency = Code::parse("agency", asked).map_err(|v| invalid_argument(&[v]))?;
    let agency = agency.as_str();
    if agency != principal.agency && !principal.grant.has(Role::Auditor) {
        return Err(Status::permission_denied(format!(
            "agency {} watches only its own notifications, not {agency}'s \
             (role {} watches any)",
            principal.agency,
            Role::Auditor
        )));
    }
    Ok(agency.to_string())
}

#[tonic::async_trait]
impl Notifications for NotificationsService {
    type WatchStream = BoxStream<'static, Result<pb::WatchResponse, Status>>;

    async fn watch(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let principal = Principal::of(&request)?;
        let agency = watched_agency(principal, &request.get_ref().agency)?;
        let slot = self.watches.open(principal)?;
        let read: ReadAfter<pb::WatchResponse> = Box::new(move |model, after| {
            let found = model.notifications_after(&agency, after, WATCH_CHUNK)?;
            let Some(last) = found.last().map(|n| n.position) else {
                return Ok(None);
            };
            let items = found
                .into_iter()
                .map(|n| pb::WatchResponse {
                    notification: Some(n),
                })
                .collect();
            Ok(Some((last, items)))
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

    async fn list_dead_letters(
        &self,
        request: Request<pb::ListDeadLettersRequest>,
    ) -> Result<Response<pb::ListDeadLettersResponse>, Status> {
        let agency = agency_filter(&request.get_ref().agency)?;
        let store = self.deliveries()?;
        let dead_letters = store.dead_letters(agency).map_err(from_store)?;
        Ok(Response::new(pb::ListDeadLettersResponse { dead_letters }))
    }

    async fn replay_dead_letters(
        &self,
        request: Request<pb::ReplayDeadLettersRequest>,
    ) -> Result<Response<pb::ReplayDeadLettersResponse>, Status> {
        let request = request.get_ref();
        let agency = agency_filter(&request.agency)?;
        let store = self.deliveries()?;
        let replayed = store
            .replay(agency, &request.notification_ids)
            .map_err(from_store)?;
        Ok(Response::new(pb::ReplayDeadLettersResponse { replayed }))
    }
}

#[cfg(test)]
mod tests {
    use sy_api::identity::Credential;
    use sy_api::policy::{Grant, Policy};

    use super::*;

    fn principal(agency: &str, roles: &str) -> Principal {
        let policy = Policy::parse(&format!(
            "[[grant]]\nagencies = [\"*\"]\nroles = [{roles}]\n"
        ))
        .unwrap();
        Principal {
            agency: agency.into(),
            user: "li".into(),
            grant: policy.grant(agency),
            credential: Credential::Token("t".into()),
        }
    }

    #[test]
    fn an_agency_watches_its_own_and_an_auditor_any() {
        let department = principal("district-health", "\"department\"");
        assert_eq!(watched_agency(&department, "").unwrap(), "district-health");
        assert_eq!(
            watched_agency(&department, "district-health").unwrap(),
            "district-health"
        );
        let refused = watched_agency(&department, "unit-31001").unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert!(
            refused.message().contains("auditor"),
            "{}",
            refused.message()
        );

        let auditor = principal("supervision-office", "\"auditor\"");
        assert_eq!(
            watched_agency(&auditor, "unit-31001").unwrap(),
            "unit-31001"
        );
        let everything = Principal {
            grant: Grant::Everything,
            ..department
        };
        assert_eq!(
            watched_agency(&everything, "unit-31001").unwrap(),
            "unit-31001"
        );
    }

    #[test]
    fn a_malformed_agency_is_an_invalid_argument_naming_the_field() {
        let auditor = principal("supervision-office", "\"auditor\"");
        let refused = watched_agency(&auditor, "no spaces allowed").unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(
            refused.message().contains("agency"),
            "{}",
            refused.message()
        );
    }
}
