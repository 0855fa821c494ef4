//! Sends scripts of commands, for both demos: each script's steps in order
//! as their actors, learning the ids its creating commands return, many
//! scripts at a time; and the totals of what was written.
//!
//! A rerun of a demo is answered from the log (`replayed`); a step whose key
//! an earlier run used with other dates is refused as `ALREADY_EXISTS` and
//! counted as kept, except a creating step, whose id the script needs: a
//! person already registered is named by the refusal, anything else fails
//! the script.

use std::collections::HashMap;

use futures::StreamExt as _;
use sy_api::pb;

use crate::commands::{Cmd, Ids, Slot, send};
use crate::error::Error;
use crate::rpc::IntakeClients;

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
    let mut sent: Vec<(usize, Sent)> = futures::stream::iter(scripts.into_iter().enumerate())
        .map(|(index, steps)| {
            let mut clients = clients.clone();
            async move { (index, send_script(&mut clients, steps, children).await) }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    sent.sort_by_key(|(index, _)| *index);
    sent.into_iter().map(|(_, sent)| sent).collect()
}

/// Sends one script's steps in order, stopping at the first failure.
pub async fn send_script(
    clients: &mut IntakeClients,
    steps: &[Step],
    children: &HashMap<u32, String>,
) -> Sent {
    let mut sent = Sent::default();
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
        match send(clients, cmd, &step.actor).await {
            Ok(result) => {
                sent.max_position = sent.max_position.max(result.position);
                sent.outcomes.push(if result.replayed {
                    Outcome::Replayed
                } else {
                    Outcome::Written
                });
                if let Some(slot) = creates {
                    sent.ids.set(slot, result.aggregate_id);
                }
            }
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
            Err(err) => {
                sent.error = Some(err);
                break;
            }
        }
    }
    sent
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
