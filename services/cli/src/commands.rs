//! Intake commands as one value, so scripts (the demo, the walkthrough) can
//! be written as data and sent by one function that names each call.

use sy_api::pb::{self, intake_client::IntakeClient};
use tonic::transport::Channel;

use crate::error::Error;
use crate::rpc::as_actor;

/// One intake command, its request id filled in when the script knows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Submit(pb::SubmitRequestCommand),
    Assign(pb::AssignRequestCommand),
    Start(pb::StartRequestCommand),
    Progress(pb::RecordProgressCommand),
    Resolve(pb::ResolveRequestCommand),
    Close(pb::CloseRequestCommand),
    Reject(pb::RejectRequestCommand),
    Reopen(pb::ReopenRequestCommand),
    Escalate(pb::EscalateRequestCommand),
    ChangeDueDate(pb::ChangeDueDateCommand),
}

impl Cmd {
    /// The RPC's name, as printed and in errors.
    pub fn call(&self) -> &'static str {
        match self {
            Cmd::Submit(_) => "SubmitRequest",
            Cmd::Assign(_) => "AssignRequest",
            Cmd::Start(_) => "StartRequest",
            Cmd::Progress(_) => "RecordProgress",
            Cmd::Resolve(_) => "ResolveRequest",
            Cmd::Close(_) => "CloseRequest",
            Cmd::Reject(_) => "RejectRequest",
            Cmd::Reopen(_) => "ReopenRequest",
            Cmd::Escalate(_) => "EscalateRequest",
            Cmd::ChangeDueDate(_) => "ChangeDueDate",
        }
    }

    pub fn context(&self) -> Option<&pb::CommandContext> {
        match self {
            Cmd::Submit(c) => c.context.as_ref(),
            Cmd::Assign(c) => c.context.as_ref(),
            Cmd::Start(c) => c.context.as_ref(),
            Cmd::Progress(c) => c.context.as_ref(),
            Cmd::Resolve(c) => c.context.as_ref(),
            Cmd::Close(c) => c.context.as_ref(),
            Cmd::Reject(c) => c.context.as_ref(),
            Cmd::Reopen(c) => c.context.as_ref(),
            Cmd::Escalate(c) => c.context.as_ref(),
            Cmd::ChangeDueDate(c) => c.context.as_ref(),
        }
    }

    /// Addresses the command to a request (no-op for a submission).
    pub fn set_request_id(&mut self, id: &str) {
        let slot = match self {
            Cmd::Submit(_) => return,
            Cmd::Assign(c) => &mut c.request_id,
            Cmd::Start(c) => &mut c.request_id,
            Cmd::Progress(c) => &mut c.request_id,
            Cmd::Resolve(c) => &mut c.request_id,
            Cmd::Close(c) => &mut c.request_id,
            Cmd::Reject(c) => &mut c.request_id,
            Cmd::Reopen(c) => &mut c.request_id,
            Cmd::Escalate(c) => &mut c.request_id,
            Cmd::ChangeDueDate(c) => &mut c.request_id,
        };
        *slot = id.to_string();
    }

    /// The text a reader would want to see next to the call.
    pub fn summary(&self) -> String {
        match self {
            Cmd::Submit(c) => format!("{} (area {})", c.title, c.area_code),
            Cmd::Assign(c) => format!("to {} due {}", c.department, c.due_date),
            Cmd::Start(c) => c.note.clone(),
            Cmd::Progress(c) => c.note.clone(),
            Cmd::Resolve(c) => c.resolution.clone(),
            Cmd::Close(c) => c.note.clone(),
            Cmd::Reject(c) => c.reason.clone(),
            Cmd::Reopen(c) => c.reason.clone(),
            Cmd::Escalate(c) => format!(
                "to {} due {}: {}",
                crate::render::level_label(c.level()),
                if c.due_date.is_empty() {
                    "unchanged"
                } else {
                    &c.due_date
                },
                c.reason
            ),
            Cmd::ChangeDueDate(c) => format!("to {}: {}", c.due_date, c.reason),
        }
    }
}

/// A command context with an idempotency key, a correlation id and, when the
/// script dates the command, when it happened.
pub fn context(
    key: String,
    correlation_id: String,
    occurred_at: Option<jiff::Timestamp>,
) -> Option<pb::CommandContext> {
    Some(pb::CommandContext {
        idempotency_key: key,
        correlation_id,
        occurred_at: occurred_at.map(|ts| prost_types::Timestamp {
            seconds: ts.as_second(),
            nanos: ts.subsec_nanosecond(),
        }),
        expected_version: 0,
    })
}

/// Sends `cmd` as `actor`; the result once JetStream acknowledged it.
pub async fn send(
    client: &mut IntakeClient<Channel>,
    cmd: Cmd,
    actor: &pb::Actor,
) -> Result<pb::CommandResult, Error> {
    let call = cmd.call();
    let response = match cmd {
        Cmd::Submit(c) => client.submit_request(as_actor(c, actor)).await,
        Cmd::Assign(c) => client.assign_request(as_actor(c, actor)).await,
        Cmd::Start(c) => client.start_request(as_actor(c, actor)).await,
        Cmd::Progress(c) => client.record_progress(as_actor(c, actor)).await,
        Cmd::Resolve(c) => client.resolve_request(as_actor(c, actor)).await,
        Cmd::Close(c) => client.close_request(as_actor(c, actor)).await,
        Cmd::Reject(c) => client.reject_request(as_actor(c, actor)).await,
        Cmd::Reopen(c) => client.reopen_request(as_actor(c, actor)).await,
        Cmd::Escalate(c) => client.escalate_request(as_actor(c, actor)).await,
        Cmd::ChangeDueDate(c) => client.change_due_date(as_actor(c, actor)).await,
    };
    response
        .map(tonic::Response::into_inner)
        .map_err(Error::rpc(call))
}
