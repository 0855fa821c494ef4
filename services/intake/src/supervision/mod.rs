//! The supervision clocks' scheduler: follows the log's requests into an
//! index (`index`), and on every tick asks the domain which clock actions
//! are due on the day the clock (`clock`) says it is in China, then records
//! each through the command pipeline as its rule.
//!
//! Every intake replica runs it; none coordinates with the others. Exactly
//! once comes from the log: an action's idempotency key and message id
//! derive from the request, the rule, the deadline and the occurrence, so a
//! replica that loses the race (or restarts and tries again) gets a replay,
//! not a second event. Ticks wait until the index has caught up with the
//! log as it was at start, so a restarted replica does not propose what it
//! merely has not read yet.

mod clock;
mod index;

pub use clock::{Clock, FileClock, SystemClock};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use sy_domain::supervision::{Action, Adopt, Effect, Policy};
use sy_domain::validate::china_date;
use sy_eventlog::EventLog;
use uuid::Uuid;

use crate::error::IntakeError;
use crate::metrics;
use crate::pipeline::Pipeline;

use index::OpenRequests;

/// Pause before following the log again after the tail broke off.
const RETAIL_PAUSE: Duration = Duration::from_secs(1);
/// Clock actions recorded at once in a tick.
const CONCURRENT_ACTIONS: usize = 16;

/// What the scheduler runs with.
pub struct Clocks {
    /// The rules.
    pub policy: Policy,
    /// The policy file's text, recorded when it comes into force.
    pub text: String,
    /// Where the time comes from.
    pub clock: Box<dyn Clock>,
    /// Time between two ticks.
    pub tick: Duration,
}

/// Runs the clocks until the task is aborted.
pub async fn run(clocks: Clocks, log: EventLog, pipeline: Arc<Pipeline>) {
    adopt(&clocks, &pipeline).await;
    let index = Arc::new(Mutex::new(OpenRequests::default()));
    // Aborted with this task: a follower without its scheduler is waste.
    let _follower = AbortOnDrop(tokio::spawn(follow(log.clone(), index.clone())));
    let mut caught_up = None;
    let mut ticks = tokio::time::interval(clocks.tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // The log's end at start: ticks wait until the index reached it.
        let target = match caught_up {
            Some(target) => target,
            None => match log.last_position().await {
                Ok(target) => *caught_up.insert(target),
                Err(err) => {
                    tracing::warn!(%err, "clocks: cannot read the log's position; tick skipped");
                    continue;
                }
            },
        };
        let (position, watched) = {
            let index = lock(&index);
            (index.position, index.len())
        };
        metrics::clocks_watched(watched);
        if position < target {
            tracing::debug!(
                position,
                target,
                "clocks: still reading the log; tick skipped"
            );
            continue;
        }
        tick(&clocks, &index, &pipeline).await;
        metrics::clock_ticked();
    }
}

/// A task that ends when its handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Records the policy as the one in force (once the log answers): the
/// first replica to start with a changed file writes it, the others find it.
async fn adopt(clocks: &Clocks, pipeline: &Pipeline) {
    let adopt = Adopt::of(&clocks.policy, &clocks.text);
    loop {
        match pipeline.adopt(adopt.clone()).await {
            Ok(Some(result)) => {
                tracing::info!(position = result.position, "supervision policy adopted");
                return;
            }
            Ok(None) => {
                tracing::info!("supervision policy already in force");
                return;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot record the supervision policy; trying again");
                tokio::time::sleep(clocks.tick).await;
            }
        }
    }
}

/// One tick: every action due today, recorded through the pipeline.
async fn tick(clocks: &Clocks, index: &Mutex<OpenRequests>, pipeline: &Pipeline) {
    let now = match clocks.clock.now() {
        Ok(now) => now,
        Err(err) => {
            tracing::warn!(%err, "clocks: no time; tick skipped");
            return;
        }
    };
    let today = china_date(now);
    let due = lock(index).due(&clocks.policy, today);
    if due.is_empty() {
        return;
    }
    tracing::debug!(%today, actions = due.len(), "clocks: actions due");
    futures::stream::iter(due)
        .for_each_concurrent(CONCURRENT_ACTIONS, |(id, action)| async move {
            let effect = action.effect;
            let outcome = record(pipeline, id, action).await;
            metrics::clock_action(effect_name(effect), outcome);
        })
        .await;
}

/// Records one action; returns the outcome for the metrics.
async fn record(pipeline: &Pipeline, id: Uuid, action: Action) -> &'static str {
    let key = action.key();
    match pipeline.supervise(id, action).await {
        Ok(result) if result.replayed => {
            tracing::debug!(request = %id, key, "clock action already recorded");
            "replayed"
        }
        Ok(result) => {
            tracing::info!(request = %id, key, position = result.position, "clock action recorded");
            "recorded"
        }
        // The index lagged behind the request (its due date moved, it was
        // resolved, another replica recorded the action under another
        // policy version): nothing to do.
        Err(IntakeError::Domain(err)) => {
            tracing::debug!(request = %id, key, %err, "clock action no longer needed");
            "refused"
        }
        Err(err) => {
            tracing::warn!(request = %id, key, %err, "clock action failed; the next tick retries");
            "failed"
        }
    }
}

fn effect_name(effect: Effect) -> &'static str {
    match effect {
        Effect::Remind(_) => "reminder",
        Effect::Escalate(_) => "escalation",
    }
}

/// Follows every event of the log into the index, again after each break.
async fn follow(log: EventLog, index: Arc<Mutex<OpenRequests>>) {
    loop {
        let from = lock(&index).position + 1;
        match log.tail(from).await {
            Ok(events) => {
                let mut events = std::pin::pin!(events);
                while let Some(event) = events.next().await {
                    match event {
                        Ok(stored) => lock(&index).fold(&stored),
                        Err(err) => {
                            tracing::warn!(%err, "clocks: lost the log; following it again");
                            break;
                        }
                    }
                }
            }
            Err(err) => tracing::warn!(
                %err,
                "clocks: cannot follow the log (a timeout here usually means intake's NATS user may not create consumers on the stream: README, NATS users and TLS)"
            ),
        }
        tokio::time::sleep(RETAIL_PAUSE).await;
    }
}

fn lock(index: &Mutex<OpenRequests>) -> std::sync::MutexGuard<'_, OpenRequests> {
    index
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
