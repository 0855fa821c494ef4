//! Sends scripts of commands, for both demos: each script's steps in order
//! as their actors, learning the ids its creating commands return, many
//! scripts at a time; and the totals of what was written.
//!
//! Scripts that open with a submission send those first, in bulk
//! (`SubmitRequests`, one call per caller and [`BATCH`] submissions, which
//! intake writes with their acks in flight together), then each script's
//! remaining steps as before; outcomes, ids and errors are the ones the
//! unary calls would have given. An intake without the bulk call (or one
//! that fails it whole) gets the submissions one by one, as scripts did
//! before.
//!
//! Dated steps (a demo's history, backdated) stay dated until intake refuses
//! a date as earlier than the aggregate's last event: intake's supervision
//! clocks recorded a reminder on it meanwhile. The script's remaining steps
//! are then recorded at the current time.
//!
//! A rerun of a demo is answered from the log (`replayed`); a step whose key
//! an earlier run used with other dates is refused as `ALREADY_EXISTS` and
//! counted as kept, except a creating step, whose id the script needs: a
//! person already registered is named by the refusal, anything else fails
//! the script.

use std::collections::HashMap;

use futures::StreamExt as _;
use sy_api::pb;
use sy_api::pb::command_outcome::Outcome as Written;
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::commands::{Cmd, Ids, Slot, send};
use crate::error::Error;
use crate::rpc::{self, IntakeClients, as_actor};

/// Submissions per `SubmitRequests` call: intake's bound.
pub const BATCH: usize = 500;

/// Bytes of submissions per `SubmitRequests` call: half of intake's request
/// message bound (`sy_api::limits::MAX_REQUEST_BYTES`), so a batch of long
/// descriptions is split rather than refused.
pub const BATCH_BYTES: usize = sy_api::limits::MAX_REQUEST_BYTES / 2;

/// One command of a script: who sends it, what, and for a station's
/// enrollment the child (by index among the children's scripts) it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub actor: pb::Actor,
    pub cmd: Cmd,
    pub child: Option<u32>,
}

impl Step {
    pub fn new(actor: pb::Actor, cmd: Cmd) -> Self {
        Self {
            actor,
            cmd,
            child: None,
        }
    }
}

/// What happened to one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Written,
    Replayed,
    /// `ALREADY_EXISTS`: the key was used by an earlier run with other dates.
    Kept,
}

/// What sending one script did.
#[derive(Debug, Default)]
pub struct Sent {
    pub ids: Ids,
    pub outcomes: Vec<Outcome>,
    pub max_position: u64,
    pub error: Option<Error>,
}

/// Sends every script, `concurrency` at a time (each one's steps in order);
/// the results in the scripts' order. `children` are the person ids of the
/// children station enrollments name.
pub async fn send_all<'a>(
    clients: &IntakeClients,
    scripts: impl IntoIterator<Item = &'a [Step]>,
    children: &HashMap<u32, String>,
    concurrency: usize,
) -> Vec<Sent> {
    let scripts: Vec<&[Step]> = scripts.into_iter().collect();
    let opened = submit_openings(clients, &scripts).await;
    let mut sent: Vec<(usize, Sent)> =
        futures::stream::iter(scripts.into_iter().zip(opened).enumerate())
            .map(|(index, (steps, opening))| {
                let mut clients = clients.clone();
                async move {
                    let sent = match opening {
                        Some(sent) if sent.error.is_some() => sent,
                        Some(sent) => {
                            send_steps(
                                &mut clients,
                                steps.get(1..).unwrap_or_default(),
                                children,
                                sent,
                            )
                            .await
                        }
                        None => send_steps(&mut clients, steps, children, Sent::default()).await,
                    };
                    (index, sent)
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    sent.sort_by_key(|(index, _)| *index);
    sent.into_iter().map(|(_, sent)| sent).collect()
}

/// Sends the submissions that open `scripts` in bulk, per caller: for each
/// script, what its first step did (`None`: not sent in bulk, so the script
/// sends it itself).
async fn submit_openings(clients: &IntakeClients, scripts: &[&[Step]]) -> Vec<Option<Sent>> {
    let mut opened: Vec<Option<Sent>> = scripts.iter().map(|_| None).collect();
    // Each caller's opening submissions, in script order.
    let mut callers: Vec<(&pb::Actor, Vec<(usize, pb::SubmitRequestCommand)>)> = Vec::new();
    for (index, steps) in scripts.iter().enumerate() {
        let Some(Step {
            actor,
            cmd: Cmd::Submit(command),
            child: None,
        }) = steps.first()
        else {
            continue;
        };
        let submission = (index, command.clone());
        match callers.iter_mut().find(|(caller, _)| *caller == actor) {
            Some((_, submissions)) => submissions.push(submission),
            None => callers.push((actor, vec![submission])),
        }
    }
    let mut requests = clients.requests.clone();
    for (actor, submissions) in callers {
        for chunk in batches(&submissions) {
            let commands = chunk.iter().map(|(_, command)| command.clone()).collect();
            let Ok(outcomes) = submit_batch(&mut requests, commands, actor).await else {
                // Sent one by one by their scripts instead.
                continue;
            };
            for ((index, _), outcome) in chunk.iter().zip(outcomes) {
                if let Some(slot) = opened.get_mut(*index) {
                    *slot = Some(opening(outcome));
                }
            }
        }
    }
    opened
}

/// `submissions` cut into runs of at most [`BATCH`] commands and
/// [`BATCH_BYTES`] bytes (a longer single command still goes alone).
fn batches<T>(
    submissions: &[(T, pb::SubmitRequestCommand)],
) -> Vec<&[(T, pb::SubmitRequestCommand)]> {
    use prost::Message as _;
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (end, (_, command)) in submissions.iter().enumerate() {
        // The repeated field's tag and length prefix: at most 4 bytes more.
        let size = command.encoded_len() + 4;
        if end > start && (end - start == BATCH || bytes + size > BATCH_BYTES) {
            runs.push(&submissions[start..end]);
            (start, bytes) = (end, 0);
        }
        bytes += size;
    }
    if start < submissions.len() {
        runs.push(&submissions[start..]);
    }
    runs
}

/// One `SubmitRequests` call as `actor`, sent again after the delay the
/// server asks for while over the credential's rate (safe: every command
/// carries its idempotency key). `Err` when the call failed whole (or
/// answered a different number of outcomes).
async fn submit_batch(
    requests: &mut pb::intake_client::IntakeClient<rpc::Channel>,
    commands: Vec<pb::SubmitRequestCommand>,
    actor: &pb::Actor,
) -> Result<Vec<pb::CommandOutcome>, Error> {
    let count = commands.len();
    let request = pb::SubmitRequestsRequest { commands };
    let mut throttled = 0;
    loop {
        match requests
            .submit_requests(as_actor(request.clone(), actor)?)
            .await
        {
            Ok(reply) if reply.get_ref().outcomes.len() == count => {
                return Ok(reply.into_inner().outcomes);
            }
            Ok(reply) => {
                return Err(Error::Failed(format!(
                    "SubmitRequests answered {} outcomes for {count} commands",
                    reply.get_ref().outcomes.len()
                )));
            }
            Err(status)
                if status.code() == tonic::Code::ResourceExhausted
                    && throttled < rpc::MAX_THROTTLED =>
            {
                throttled += 1;
                tokio::time::sleep(rpc::throttle_delay(&status, throttled)).await;
            }
            Err(status) => return Err(Error::rpc("SubmitRequests")(status)),
        }
    }
}

/// What a script's opening submission did, as its unary call would have
/// reported it: written or replayed with the request's id, or stopped with
/// the status `SubmitRequest` would have failed with (a submission's id is
/// needed, so even `ALREADY_EXISTS` stops the script).
fn opening(outcome: pb::CommandOutcome) -> Sent {
    let mut sent = Sent::default();
    match outcome.outcome {
        Some(Written::Result(result)) => {
            sent.max_position = result.position;
            sent.outcomes.push(if result.replayed {
                Outcome::Replayed
            } else {
                Outcome::Written
            });
            sent.ids.set(Slot::Request, result.aggregate_id);
        }
        Some(Written::Error(error)) => {
            let code = tonic::Code::from(error.code);
            let status = if error.field_violations.is_empty() {
                tonic::Status::new(code, error.message)
            } else {
                let violations = error
                    .field_violations
                    .into_iter()
                    .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                    .collect::<Vec<_>>();
                tonic::Status::with_error_details(
                    code,
                    error.message,
                    ErrorDetails::with_bad_request(violations),
                )
            };
            sent.error = Some(Error::rpc("SubmitRequest")(status));
        }
        None => {
            sent.error = Some(Error::Failed(
                "SubmitRequests answered an outcome with neither result nor error".to_string(),
            ));
        }
    }
    sent
}

/// Sends `steps` in order after what `sent` records (the ids learnt, the
/// outcomes so far), stopping at the first failure.
async fn send_steps(
    clients: &mut IntakeClients,
    steps: &[Step],
    children: &HashMap<u32, String>,
    mut sent: Sent,
) -> Sent {
    let mut dated = true;
    for step in steps {
        let mut cmd = step.cmd.clone();
        cmd.fill(&sent.ids);
        if let (Cmd::EnrollChild(c), Some(child)) = (&mut cmd, step.child) {
            match children.get(&child) {
                Some(id) => c.child_person_id.clone_from(id),
                None => {
                    sent.error = Some(Error::Failed(format!(
                        "child {child} was not registered, so it cannot be enrolled"
                    )));
                    break;
                }
            }
        }
        let creates = cmd.creates();
        if !dated {
            undate(&mut cmd);
        }
        match send(clients, cmd, &step.actor).await {
            Ok(result) => record(&mut sent, &result, creates),
            Err(err) if code(&err) == Some(tonic::Code::AlreadyExists) => {
                match creates {
                    None => {}
                    // The person is registered (an earlier run, another key):
                    // the refusal names them.
                    Some(Slot::Person) => match existing_id(&err) {
                        Some(id) => sent.ids.set(Slot::Person, id),
                        None => {
                            sent.error = Some(err);
                            break;
                        }
                    },
                    Some(_) => {
                        sent.error = Some(err);
                        break;
                    }
                }
                sent.outcomes.push(Outcome::Kept);
            }
            Err(err) if dated && behind_the_log(&err) => {
                // A supervision clock recorded an event on the request
                // after the script's dated history began (intake runs its
                // clocks while a demo loads): the rest of this script is
                // recorded at the current time instead. A rerun of the demo
                // finds these keys with other dates (`Kept`).
                dated = false;
                let mut cmd = step.cmd.clone();
                cmd.fill(&sent.ids);
                undate(&mut cmd);
                match send(clients, cmd, &step.actor).await {
                    Ok(result) => record(&mut sent, &result, creates),
                    Err(err) => {
                        sent.error = Some(err);
                        break;
                    }
                }
            }
            Err(err) => {
                sent.error = Some(err);
                break;
            }
        }
    }
    sent
}

/// Records a written or replayed step: its outcome, its position, and the
/// id it created.
fn record(sent: &mut Sent, result: &pb::CommandResult, creates: Option<Slot>) {
    sent.max_position = sent.max_position.max(result.position);
    sent.outcomes.push(if result.replayed {
        Outcome::Replayed
    } else {
        Outcome::Written
    });
    if let Some(slot) = creates {
        sent.ids.set(slot, result.aggregate_id.clone());
    }
}

/// Drops the command's date: intake records it at the current time.
fn undate(cmd: &mut Cmd) {
    if let Some(context) = cmd.context_mut() {
        context.occurred_at = None;
    }
}

/// Whether intake refused the command's date as earlier than the
/// aggregate's last event (`context.occurred_at`).
fn behind_the_log(err: &Error) -> bool {
    let Some(status) = err.status() else {
        return false;
    };
    status.code() == tonic::Code::InvalidArgument
        && status.get_details_bad_request().is_some_and(|bad| {
            bad.field_violations
                .iter()
                .any(|v| v.field == "context.occurred_at" && v.description.contains("last event"))
        })
}

fn code(err: &Error) -> Option<tonic::Code> {
    err.status().map(tonic::Status::code)
}

/// The UUID an `ALREADY_EXISTS` message names ("person <id> already exists").
fn existing_id(err: &Error) -> Option<String> {
    let status = err.status()?;
    status
        .message()
        .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .find_map(|word| uuid::Uuid::try_parse(word).ok())
        .map(|id| id.to_string())
}

/// Totals of a load, or of one kind of its scripts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    pub scripts: usize,
    pub commands: usize,
    pub written: usize,
    pub replayed: usize,
    pub kept: usize,
    pub failed: usize,
    pub max_position: u64,
}

impl Totals {
    pub fn of<'a>(sent: impl IntoIterator<Item = &'a Sent>) -> Self {
        let mut totals = Self::default();
        for s in sent {
            totals.add(s);
        }
        totals
    }

    pub fn add(&mut self, sent: &Sent) {
        self.scripts += 1;
        self.commands += sent.outcomes.len();
        for o in &sent.outcomes {
            match o {
                Outcome::Written => self.written += 1,
                Outcome::Replayed => self.replayed += 1,
                Outcome::Kept => self.kept += 1,
            }
        }
        self.failed += usize::from(sent.error.is_some());
        self.max_position = self.max_position.max(sent.max_position);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(field: &str, description: &str) -> Error {
        let details = ErrorDetails::with_bad_request_violation(field, description);
        Error::rpc("ResolveRequest")(tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "invalid command",
            details,
        ))
    }

    #[test]
    fn only_a_date_before_the_last_event_is_behind_the_log() {
        assert!(behind_the_log(&refused(
            "context.occurred_at",
            "must not be before the request's last event (2026-12-08T00:21:26Z)"
        )));
        assert!(!behind_the_log(&refused(
            "context.occurred_at",
            "must not be in the future"
        )));
        assert!(!behind_the_log(&refused("title", "must not be empty")));
        assert!(!behind_the_log(&Error::Failed("x".into())));
    }

    #[test]
    fn undated_commands_are_recorded_now() {
        let mut cmd = Cmd::Start(pb::StartRequestCommand {
            context: crate::commands::context(
                "k".into(),
                "c".into(),
                Some(jiff::Timestamp::UNIX_EPOCH),
            ),
            ..Default::default()
        });
        undate(&mut cmd);
        assert_eq!(cmd.context().unwrap().occurred_at, None);
        assert_eq!(cmd.context().unwrap().idempotency_key, "k");
    }

    fn submissions(count: usize, title_bytes: usize) -> Vec<(usize, pb::SubmitRequestCommand)> {
        (0..count)
            .map(|i| {
                let command = pb::SubmitRequestCommand {
                    title: "x".repeat(title_bytes),
                    ..Default::default()
                };
                (i, command)
            })
            .collect()
    }

    fn sizes(runs: &[&[(usize, pb::SubmitRequestCommand)]]) -> Vec<usize> {
        runs.iter().map(|run| run.len()).collect()
    }

    #[test]
    fn batches_keep_to_the_count_and_the_bytes() {
        assert_eq!(sizes(&batches(&submissions(1200, 100))), [500, 500, 200]);
        assert_eq!(sizes(&batches(&submissions(5, 200_000))), [2, 2, 1]);
        // One command over the bytes still goes, alone.
        assert_eq!(sizes(&batches(&submissions(2, 600_000))), [1, 1]);
        assert!(batches(&submissions(0, 10)).is_empty());
        // Every submission once, in order.
        let all = submissions(1001, 700);
        let flat: Vec<usize> = batches(&all)
            .iter()
            .flat_map(|run| run.iter().map(|(i, _)| *i))
            .collect();
        assert_eq!(flat, (0..1001).collect::<Vec<_>>());
    }
}
