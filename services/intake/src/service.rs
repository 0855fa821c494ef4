//! The `shuangyong.v1.Intake` gRPC service: one RPC per command, each the
//! same pipeline run on its message.

use std::sync::Arc;
use std::time::Instant;

use sy_api::pb::intake_server::Intake;
use sy_api::pb::{self, CommandResult};
use sy_api::telemetry::code_name;
use sy_domain::request::CommandMessage;
use tonic::{Request, Response, Status};

use crate::metrics;
use crate::pipeline::Pipeline;

pub struct IntakeService {
    pipeline: Arc<Pipeline>,
}

impl IntakeService {
    pub fn new(pipeline: Arc<Pipeline>) -> Self {
        Self { pipeline }
    }

    async fn run<M: CommandMessage>(
        &self,
        request: Request<M>,
    ) -> Result<Response<CommandResult>, Status> {
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

    async fn execute<M: CommandMessage>(
        &self,
        request: Request<M>,
    ) -> Result<Response<CommandResult>, Status> {
        let actor = sy_api::identity::actor(request.metadata())?;
        let message = request.into_inner();
        match self.pipeline.execute(&actor, &message).await {
            Ok(result) => Ok(Response::new(result)),
            Err(err) => {
                let status = Status::from(err);
                tracing::info!(
                    command = M::NAME,
                    agency = %actor.agency,
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
