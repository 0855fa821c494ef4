//! The command services, `shuangyong.v1.Intake` (support requests) and
//! `shuangyong.v1.Placements` (placement programmes): one RPC per command,
//! each the same pipeline run on its message, in a span of its own.

use std::sync::Arc;
use std::time::Instant;

use sy_api::identity::Principal;
use sy_api::pb::intake_server::Intake;
use sy_api::pb::placements_server::Placements;
use sy_api::pb::{self, CommandResult};
use sy_api::telemetry::code_name;
use sy_domain::command_meta::CommandMessage;
use tonic::{Request, Response, Status};
use tracing::field::Empty;

use crate::kinds::Stored;
use crate::metrics;
use crate::pipeline::Pipeline;

#[derive(Clone)]
pub struct IntakeService {
    pipeline: Arc<Pipeline>,
}

impl IntakeService {
    pub fn new(pipeline: Arc<Pipeline>) -> Self {
        Self { pipeline }
    }

    /// Runs one command; its log lines carry the command, the agency, and
    /// (once parsed) the aggregate and the correlation id.
    #[tracing::instrument(
        name = "command",
        skip_all,
        fields(command = M::NAME, agency = Empty, aggregate = Empty, correlation_id = Empty)
    )]
    async fn run<M>(&self, request: Request<M>) -> Result<Response<CommandResult>, Status>
    where
        M: CommandMessage,
        M::Target: Stored,
    {
        let started = Instant::now();
        let result = self.execute(request).await;
        let outcome = match &result {
            Ok(response) if response.get_ref().replayed => "replayed",
            Ok(_) => "ok",
            Err(status) => code_name(status.code()),
        };
        metrics::command(M::NAME, outcome, started.elapsed());
        result
    }

    async fn execute<M>(&self, request: Request<M>) -> Result<Response<CommandResult>, Status>
    where
        M: CommandMessage,
        M::Target: Stored,
    {
        // The caller the auth layer established from the credential (and
        // checked the method's roles of): the actor of the events.
        let principal = Principal::of(&request)?.clone();
        let actor = principal.actor()?;
        tracing::Span::current().record("agency", actor.agency.as_str());
        let message = request.into_inner();
        match self
            .pipeline
            .execute(&actor, &principal.grant, &message)
            .await
        {
            Ok(result) => Ok(Response::new(result)),
            Err(err) => {
                let status = Status::from(err);
                tracing::info!(
                    code = ?status.code(),
                    message = status.message(),
                    "command refused"
                );
                Err(status)
            }
        }
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
