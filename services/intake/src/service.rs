//! The command services, `shuangyong.v1.Intake` (support requests) and
//! `shuangyong.v1.Placements` (placement programmes): one RPC per command,
//! each the same pipeline run on its message, in a span of its own.
//!
//! The span and the line with each command's outcome are at DEBUG: at the
//! default INFO a command writes no log line and builds no span (formatting
//! a span's fields cost intake a few percent of its CPU under load), and
//! `sy_intake_commands_total` counts the outcomes. A refusal is still one
//! INFO line, carrying the command, agency and correlation id itself.
//!
//! `SubmitRequests` is the bulk path (imports, the demo): a unary call
//! rather than a stream, so a client gets one reply with one outcome per
//! command in order, the auth and quota layers see one ordinary call, each
//! command is charged to the caller's rate as if sent alone
//! ([`sy_api::quota::Charge`]), and the batch bound ([`MAX_BATCH`]) caps
//! what one call can carry. Its
//! commands run through the same pipeline as `SubmitRequest`, all at once:
//! each still takes its aggregate's turn, replays its idempotency key and
//! retries its conflicts, but their appends await JetStream's acks together
//! instead of one after another, which is where a unary loop spends its
//! time. Distinct new requests have no order between them, so nothing is
//! lost by that; two commands of one batch on the same request (the same
//! key twice) still take turns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sy_api::identity::Principal;
use sy_api::pb::intake_server::Intake;
use sy_api::pb::placements_server::Placements;
use sy_api::pb::{self, CommandResult};
use sy_api::policy::Grant;
use sy_api::quota::Charge;
use sy_api::status::batch_outcome;
use sy_api::telemetry::code_name;
use sy_domain::command_meta::CommandMessage;
use tonic::{Request, Response, Status};
use tracing::Instrument;
use tracing::field::Empty;

use crate::kinds::Stored;
use crate::metrics;
use crate::pipeline::Pipeline;

/// Most commands one `SubmitRequests` call may carry. The request message
/// bound (`sy_api::limits::MAX_REQUEST_BYTES`, 1 MiB) applies to a batch
/// too: 500 commands fit while they average under 2 KiB; longer ones go in
/// smaller batches. A full batch is written far inside a call's deadline.
pub const MAX_BATCH: usize = 500;

#[derive(Clone)]
pub struct IntakeService {
    pipeline: Arc<Pipeline>,
}

impl IntakeService {
    pub fn new(pipeline: Arc<Pipeline>) -> Self {
        Self { pipeline }
    }

    /// Runs one command sent alone.
    async fn run<M>(&self, request: Request<M>) -> Result<Response<CommandResult>, Status>
    where
        M: CommandMessage,
        M::Target: Stored,
    {
        // The caller the auth layer established from the credential (and
        // checked the method's roles of): the actor of the events.
        let caller = Principal::of(&request)
            .and_then(|principal| Ok((principal.actor()?, principal.grant.clone())));
        let (actor, grant) = caller.inspect_err(|status| {
            metrics::command(M::NAME, code_name(status.code()), Duration::ZERO);
        })?;
        let message = request.into_inner();
        self.command(&actor, &grant, &message)
            .await
            .map(Response::new)
    }

    /// Runs one authenticated caller's command through the pipeline, in a
    /// DEBUG span of its own (the command, the agency, and once parsed the
    /// aggregate and the correlation id), and counts its outcome; a refusal
    /// is logged at INFO.
    async fn command<M>(
        &self,
        actor: &pb::Actor,
        grant: &Grant,
        message: &M,
    ) -> Result<CommandResult, Status>
    where
        M: CommandMessage,
        M::Target: Stored,
    {
        let span = tracing::debug_span!(
            "command",
            command = M::NAME,
            agency = actor.agency.as_str(),
            aggregate = Empty,
            correlation_id = Empty,
        );
        let started = Instant::now();
        let result = self
            .pipeline
            .execute(actor, grant, message)
            .instrument(span.clone())
            .await
            .map_err(Status::from);
        let outcome = match &result {
            Ok(result) if result.replayed => "replayed",
            Ok(_) => "ok",
            Err(status) => code_name(status.code()),
        };
        let elapsed = started.elapsed();
        metrics::command(M::NAME, outcome, elapsed);
        span.in_scope(|| match &result {
            Ok(result) => tracing::debug!(
                outcome,
                position = result.position,
                elapsed_us = elapsed.as_micros(),
                "command done"
            ),
            Err(status) => tracing::info!(
                command = M::NAME,
                agency = actor.agency.as_str(),
                correlation_id = message.context().map_or("", |c| c.correlation_id.as_str()),
                code = outcome,
                message = status.message(),
                "command refused"
            ),
        });
        result
    }

    /// Runs a batch of commands, all at once (each a task of its own, so
    /// their parsing, signing and encoding spread over the cores while
    /// their acks are awaited together), and answers one outcome per
    /// command in order. Only a batch over [`MAX_BATCH`] or a caller
    /// without an identity fails the call. A cancelled call aborts its
    /// commands where they stand, as a cancelled `SubmitRequest` does: a
    /// retry with the same keys answers what was written as `replayed`.
    #[tracing::instrument(
        name = "batch",
        skip_all,
        fields(command = M::NAME, agency = Empty, commands = Empty)
    )]
    async fn run_batch<M>(
        &self,
        principal: &Principal,
        commands: Vec<M>,
    ) -> Result<Vec<pb::CommandOutcome>, Status>
    where
        M: CommandMessage,
        M::Target: Stored,
    {
        let actor = principal.actor()?;
        let span = tracing::Span::current();
        span.record("agency", actor.agency.as_str());
        span.record("commands", commands.len());
        if commands.len() > MAX_BATCH {
            tracing::info!(limit = MAX_BATCH, "batch refused: too many commands");
            return Err(sy_api::status::invalid_field(
                &format!("commands[{MAX_BATCH}]"),
                &format!(
                    "a call carries at most {MAX_BATCH} commands; this one has {}",
                    commands.len()
                ),
            ));
        }
        let started = Instant::now();
        let count = commands.len();
        let mut items = tokio::task::JoinSet::new();
        for (index, message) in commands.into_iter().enumerate() {
            let service = self.clone();
            let actor = actor.clone();
            let grant = principal.grant.clone();
            // Boxed: the pipeline's future is kilobytes, and tokio moves a
            // task's future (and reads its output out of the same slot)
            // several times over; a box is moved instead. Unboxed, those
            // copies were a quarter of a batch command's instructions.
            items.spawn(Box::pin(
                async move {
                    // As if it came alone.
                    let result = service.command(&actor, &grant, &message).await;
                    (index, batch_outcome(result))
                }
                .instrument(span.clone()),
            ));
        }
        let mut outcomes: Vec<Option<pb::CommandOutcome>> = vec![None; count];
        while let Some(joined) = items.join_next().await {
            match joined {
                Ok((index, outcome)) => {
                    if let Some(slot) = outcomes.get_mut(index) {
                        *slot = Some(outcome);
                    }
                }
                Err(err) => tracing::error!(%err, "batch command task failed"),
            }
        }
        tracing::debug!(elapsed_ms = started.elapsed().as_millis(), "batch done");
        Ok(outcomes
            .into_iter()
            .map(|outcome| {
                // Only a task that panicked leaves its slot empty: whether
                // it wrote is unknown, so the caller retries it with its key.
                outcome.unwrap_or_else(|| {
                    batch_outcome(Err(Status::internal(
                        "the command failed unexpectedly; retry it with the same idempotency key",
                    )))
                })
            })
            .collect())
    }
}

#[tonic::async_trait]
impl Intake for IntakeService {
    async fn submit_request(
        &self,
        request: Request<pb::SubmitRequestCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn assign_request(
        &self,
        request: Request<pb::AssignRequestCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn start_request(
        &self,
        request: Request<pb::StartRequestCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn record_progress(
        &self,
        request: Request<pb::RecordProgressCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn resolve_request(
        &self,
        request: Request<pb::ResolveRequestCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn close_request(
        &self,
        request: Request<pb::CloseRequestCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn reject_request(
        &self,
        request: Request<pb::RejectRequestCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn reopen_request(
        &self,
        request: Request<pb::ReopenRequestCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn escalate_request(
        &self,
        request: Request<pb::EscalateRequestCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn change_due_date(
        &self,
        request: Request<pb::ChangeDueDateCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn add_sub_task(
        &self,
        request: Request<pb::AddSubTaskCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn complete_sub_task(
        &self,
        request: Request<pb::CompleteSubTaskCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn add_double_list_item(
        &self,
        request: Request<pb::AddDoubleListItemCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn remove_double_list_item(
        &self,
        request: Request<pb::RemoveDoubleListItemCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn publish_double_list(
        &self,
        request: Request<pb::PublishDoubleListCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn record_inspection(
        &self,
        request: Request<pb::RecordInspectionCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn submit_requests(
        &self,
        request: Request<pb::SubmitRequestsRequest>,
    ) -> Result<Response<pb::SubmitRequestsResponse>, Status> {
        // The caller the auth layer established (and checked the method's
        // roles of), as for each command sent alone.
        let principal = Principal::of(&request)?.clone();
        let charge = request.extensions().get::<Charge>().cloned();
        let commands = request.into_inner().commands;
        // Each command costs a call of the credential's rate, as if sent alone
        // (the quota layer charged the first); a batch over the bound is
        // refused below before anything is charged.
        if let Some(charge) = charge.filter(|_| commands.len() <= MAX_BATCH) {
            charge.more(u32::try_from(commands.len().saturating_sub(1)).unwrap_or(u32::MAX))?;
        }
        let outcomes = self.run_batch(&principal, commands).await?;
        Ok(Response::new(pb::SubmitRequestsResponse { outcomes }))
    }

    async fn subscribe_webhook(
        &self,
        request: Request<pb::SubscribeWebhookCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn unsubscribe_webhook(
        &self,
        request: Request<pb::UnsubscribeWebhookCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }
}

#[tonic::async_trait]
impl Placements for IntakeService {
    async fn register_person(
        &self,
        request: Request<pb::RegisterPersonCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn record_training(
        &self,
        request: Request<pb::RecordTrainingCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn record_certificate(
        &self,
        request: Request<pb::RecordCertificateCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn erase_person(
        &self,
        request: Request<pb::ErasePersonCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn place_legal_hold(
        &self,
        request: Request<pb::PlaceLegalHoldCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn release_legal_hold(
        &self,
        request: Request<pb::ReleaseLegalHoldCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn register_placement(
        &self,
        request: Request<pb::RegisterPlacementCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn match_placement(
        &self,
        request: Request<pb::MatchPlacementCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn decline_placement(
        &self,
        request: Request<pb::DeclinePlacementCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn withdraw_placement(
        &self,
        request: Request<pb::WithdrawPlacementCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn recommend_to_talent_pool(
        &self,
        request: Request<pb::RecommendToTalentPoolCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn accept_school_request(
        &self,
        request: Request<pb::AcceptSchoolRequestCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn decline_school_request(
        &self,
        request: Request<pb::DeclineSchoolRequestCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn enroll_in_school(
        &self,
        request: Request<pb::EnrollInSchoolCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn grant_allowance(
        &self,
        request: Request<pb::GrantAllowanceCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn pay_allowance(
        &self,
        request: Request<pb::PayAllowanceCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn stop_allowance(
        &self,
        request: Request<pb::StopAllowanceCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn open_station(
        &self,
        request: Request<pb::OpenStationCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn change_station_seats(
        &self,
        request: Request<pb::ChangeStationSeatsCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn enroll_child(
        &self,
        request: Request<pb::EnrollChildCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn withdraw_child(
        &self,
        request: Request<pb::WithdrawChildCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }

    async fn put_on_duty(
        &self,
        request: Request<pb::PutOnDutyCommand>,
    ) -> Result<Response<CommandResult>, Status> {
        self.run(request).await
    }
}

#[cfg(test)]
mod tests {
    use sy_api::pb::command_outcome;
    use sy_domain::{DomainError, FieldViolation};

    use super::*;

    #[test]
    fn a_refused_item_carries_its_code_message_and_fields() {
        let status = sy_api::status::from_domain(&DomainError::Invalid(vec![
            FieldViolation::new("title", "is required"),
            FieldViolation::new("area_code", "must be a 12-digit area code"),
        ]));
        let Some(command_outcome::Outcome::Error(error)) = batch_outcome(Err(status)).outcome
        else {
            panic!("a refusal is an error outcome");
        };
        assert_eq!(error.code, i32::from(tonic::Code::InvalidArgument));
        assert!(error.message.contains("title: is required"), "{error:?}");
        let fields: Vec<(&str, &str)> = error
            .field_violations
            .iter()
            .map(|v| (v.field.as_str(), v.description.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("title", "is required"),
                ("area_code", "must be a 12-digit area code")
            ]
        );

        let Some(command_outcome::Outcome::Error(error)) =
            batch_outcome(Err(Status::unavailable("log down"))).outcome
        else {
            panic!("a refusal is an error outcome");
        };
        assert_eq!(error.code, i32::from(tonic::Code::Unavailable));
        assert!(error.field_violations.is_empty());
    }

    #[test]
    fn a_written_item_carries_its_result() {
        let result = CommandResult {
            aggregate_id: "r".into(),
            version: 1,
            position: 7,
            event_ids: vec!["e".into()],
            replayed: false,
        };
        let outcome = batch_outcome(Ok(result.clone())).outcome;
        assert_eq!(outcome, Some(command_outcome::Outcome::Result(result)));
    }
}
