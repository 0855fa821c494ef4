//! Webhook delivery, run by the one replica started with
//! `--deliver-webhooks`: every agency with an active subscription (folded
//! from the log, `sy_domain::subscription`) gets one task that follows its
//! notifications in the read model from its own cursor, POSTs each of the
//! kinds it wants, signed, and retries a failure with capped exponential
//! backoff and jitter ([`backoff`]). Every attempt is recorded; after the
//! last one the notification becomes a dead letter and the agency's queue
//! moves on, so one bad notification never holds up the others. An
//! operator's replay (`ReplayDeadLetters`, [`Store::replay`]) queues dead letters to be
//! delivered again, ahead of the agency's new notifications.
//!
//! At least once: the cursor moves only after a notification is delivered
//! or buried, so a crash in between delivers it again, with the same id.
//! The state lives in its own sled database ([`store`]), not the read
//! model: a rebuild of the read model must not deliver everything again.

mod backoff;
mod deliver;
mod secrets;
mod store;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use sy_domain::event::to_proto;
use sy_domain::pb;
use sy_domain::subscription::Subscription;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::Stop;
use crate::config::WebhookArgs;
use crate::live::Live;
use crate::metrics;
use backoff::Retry;
use deliver::{Deliver, Outgoing, Webhook, body, sign};
use secrets::Secrets;
pub(crate) use store::{Store, StoreError};

/// Notifications read from the read model at a time, per agency.
const CHUNK: usize = 64;
/// How often an idle agency task looks for replays and subscription changes.
const IDLE: Duration = Duration::from_secs(1);

/// Why delivery cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// `--deliver-webhooks` without `--webhook-secrets-file`.
    #[error("--deliver-webhooks needs --webhook-secrets-file (the HMAC keys)")]
    NoSecrets,
    /// Neither a CA file nor the development flag for plain http.
    #[error("--deliver-webhooks needs --webhook-ca-file (or --webhook-allow-http in development)")]
    NoCa,
    /// The secrets file cannot be used.
    #[error(transparent)]
    Secrets(#[from] sy_api::secret_file::SecretFileError),
    /// The HTTPS client cannot be built.
    #[error(transparent)]
    Client(#[from] deliver::ClientError),
    /// The delivery state cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What every agency task shares.
pub(crate) struct Delivery<D> {
    live: Live,
    applied: watch::Receiver<u64>,
    stop: Stop,
    store: Store,
    deliver: D,
    secrets: Secrets,
    retry: Retry,
}

/// How one notification's delivery ended.
enum Outcome {
    Delivered,
    Buried,
    /// The service is stopping: the notification stays unhandled.
    Stopped,
}

/// Starts delivery when `args` ask for it; the store serves the admin
/// RPCs (dead letters, replays).
pub(crate) fn start(
    args: &WebhookArgs,
    live: Live,
    applied: watch::Receiver<u64>,
    stop: Stop,
) -> Result<Option<Store>, WebhookError> {
    if !args.deliver_webhooks {
        return Ok(None);
    }
    let secrets_file = args
        .webhook_secrets_file
        .as_deref()
        .ok_or(WebhookError::NoSecrets)?;
    if args.webhook_ca_file.is_none() && !args.webhook_allow_http {
        return Err(WebhookError::NoCa);
    }
    if args.webhook_allow_http {
        warn!("--webhook-allow-http: webhooks may go to plain http receivers (development only)");
    }
    let secrets = Secrets::read(secrets_file)?;
    let deliver = Webhook::new(args.webhook_ca_file.as_deref(), args.webhook_allow_http)?;
    let store = Store::open(&args.webhook_state_dir)?;
    let delivery = Arc::new(Delivery {
        live,
        applied,
        stop,
        store: store.clone(),
        deliver,
        secrets,
        retry: Retry {
            attempts: args.webhook_max_attempts.max(1),
            base: Duration::from_millis(args.webhook_backoff_ms),
            max: Duration::from_millis(args.webhook_backoff_max_ms),
        },
    });
    info!(state_dir = %args.webhook_state_dir.display(), "delivering webhooks");
    tokio::spawn(delivery.supervise());
    Ok(Some(store))
}

impl<D: Deliver> Delivery<D> {
    /// Keeps one task per agency with an active subscription.
    async fn supervise(self: Arc<Self>) {
        let mut tasks: HashMap<String, JoinHandle<()>> = HashMap::new();
        let mut applied = self.applied.clone();
        let mut stop = self.stop.clone();
        loop {
            tasks.retain(|_, task| !task.is_finished());
            match self.subscriptions() {
                Ok(subscriptions) => {
                    for agency in subscriptions.into_iter().map(|s| s.agency) {
                        if let Entry::Vacant(slot) = tasks.entry(agency) {
                            let follow = Arc::clone(&self).follow(slot.key().clone());
                            slot.insert(tokio::spawn(follow));
                        }
                    }
                }
                Err(err) => warn!(%err, "cannot read webhook subscriptions"),
            }
            tokio::select! {
                _ = applied.changed() => {}
                () = tokio::time::sleep(IDLE) => {}
                () = stop.wait() => return,
            }
        }
    }

    /// The active subscriptions.
    fn subscriptions(&self) -> Result<Vec<Subscription>, crate::ReadModelError> {
        let all = self.live.model()?.subscriptions()?;
        Ok(all.into_iter().filter(|s| s.active).collect())
    }

    /// `agency`'s subscription, if active.
    fn subscription(&self, agency: &str) -> Option<Subscription> {
        self.subscriptions()
            .ok()?
            .into_iter()
            .find(|s| s.agency == agency)
    }

    /// Delivers `agency`'s notifications until its subscription ends or the
    /// service stops.
    async fn follow(self: Arc<Self>, agency: String) {
        let mut applied = self.applied.clone();
        let mut stop = self.stop.clone();
        loop {
            if self.stop.is_stopped() {
                return;
            }
            let Some(subscription) = self.subscription(&agency) else {
                info!(agency, "webhook subscription ended");
                return;
            };
            applied.borrow_and_update();
            match self.step(&subscription).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(err) => warn!(%err, agency, "webhook delivery cannot go on; trying again"),
            }
            tokio::select! {
                _ = applied.changed() => {}
                () = tokio::time::sleep(IDLE) => {}
                () = stop.wait() => return,
            }
        }
    }

    /// Handles what is due for `subscription`'s agency: a replay first,
    /// else its next notifications. Whether there may be more right away.
    async fn step(&self, subscription: &Subscription) -> Result<bool, StoreError> {
        let agency = subscription.agency.as_str();
        if let Some(replayed) = self.store.next_replay(agency)? {
            if let Outcome::Stopped = self.deliver_one(subscription, &replayed).await? {
                return Ok(false);
            }
            self.store.replayed(agency, replayed.position)?;
            return Ok(true);
        }
        // Nothing from before the subscription started.
        let after = self.store.cursor(agency)?.max(subscription.since);
        let due = self
            .live
            .model()
            .and_then(|model| model.notifications_after(agency, after, CHUNK))
            .map_err(|err| StoreError::Corrupt(format!("reading notifications: {err}")))?;
        if due.is_empty() {
            return Ok(false);
        }
        for notification in &due {
            if subscription.wants(notification.kind())
                && let Outcome::Stopped = self.deliver_one(subscription, notification).await?
            {
                return Ok(false);
            }
            self.store.advance(agency, notification.position)?;
        }
        Ok(true)
    }

    /// Attempts `n` until it is delivered or its attempts run out (then it
    /// is buried). A replayed notification's attempts count on from its
    /// earlier ones.
    async fn deliver_one(
        &self,
        subscription: &Subscription,
        n: &pb::Notification,
    ) -> Result<Outcome, StoreError> {
        let earlier =
            u32::try_from(self.store.attempts(&n.agency, n.position)?.len()).unwrap_or(u32::MAX);
        let Some(key) = self.secrets.key(&subscription.secret_id) else {
            let error = format!(
                "no key {} in the webhook secrets file",
                subscription.secret_id
            );
            self.record(n, earlier + 1, 0, error)?;
            return self.bury(subscription, n);
        };
        let body = body(n);
        let outgoing = Outgoing {
            url: subscription.url.clone(),
            notification_id: n.id.clone(),
            signature: sign(key, &body),
            body,
        };
        let mut stop = self.stop.clone();
        for tried in 1..=self.retry.attempts {
            let attempt = earlier.saturating_add(tried);
            match self.deliver.deliver(&outgoing).await {
                Ok(status) => {
                    metrics::webhook_attempt(true);
                    self.record(n, attempt, status, String::new())?;
                    return Ok(Outcome::Delivered);
                }
                Err(failed) => {
                    metrics::webhook_attempt(false);
                    warn!(
                        agency = %n.agency,
                        notification = %n.id,
                        attempt,
                        status = failed.http_status,
                        error = %failed.error,
                        "webhook delivery failed"
                    );
                    self.record(n, attempt, failed.http_status, failed.error)?;
                }
            }
            if tried == self.retry.attempts {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(self.retry.delay(&n.id, tried)) => {}
                () = stop.wait() => return Ok(Outcome::Stopped),
            }
        }
        self.bury(subscription, n)
    }

    fn record(
        &self,
        n: &pb::Notification,
        attempt: u32,
        http_status: u16,
        error: String,
    ) -> Result<(), StoreError> {
        let record = pb::DeliveryAttempt {
            attempt,
            at: Some(to_proto(jiff::Timestamp::now())),
            http_status: u32::from(http_status),
            error,
        };
        self.store.record(&n.agency, n.position, &record)
    }

    fn bury(
        &self,
        subscription: &Subscription,
        n: &pb::Notification,
    ) -> Result<Outcome, StoreError> {
        warn!(agency = %n.agency, notification = %n.id, "webhook delivery given up: a dead letter");
        metrics::webhook_dead_letter();
        self.store.bury(&pb::DeadLetter {
            notification: Some(n.clone()),
            url: subscription.url.clone(),
            attempts: Vec::new(),
        })?;
        Ok(Outcome::Buried)
    }
}
