//! Per-credential limits, so one agency's flood cannot starve the others:
//! a request rate (a token bucket per credential, `governor`'s GCRA) and a
//! number of calls in flight. A call over either is `RESOURCE_EXHAUSTED`
//! with a retry hint (`RetryInfo` in the status details, and the delay in
//! the message) before it reaches its service, and is a security event like
//! every refusal (`sy_security_refusals_total{reason="rate_limited"|"too_many_in_flight"}`).
//!
//! A call that carries many commands (the bulk `SubmitRequests`) costs as
//! many calls as it has commands: the layer cannot see into the body, so it
//! leaves a [`Charge`] in the request's extensions and the service charges
//! the rest once it has decoded the batch.
//!
//! [`QuotaLayer`] sits inside [`crate::auth::AuthLayer`]: it keys on the
//! [`Principal`]'s credential, never on a claim. A streaming call holds its
//! in-flight slot until its response starts; open `WatchRequests` streams
//! are capped by the projection itself.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth::refused_principal;
use crate::hook::{CallHook, Hooked};
use crate::identity::Principal;

/// The limits of each credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Calls per second, sustained.
    pub rate: NonZeroU32,
    /// Calls allowed at once above the rate.
    pub burst: NonZeroU32,
    /// Calls in flight at once.
    pub in_flight: usize,
}

/// What the layer keeps between calls; shared by its clones.
#[derive(Debug)]
struct State {
    limits: Limits,
    rate: DefaultKeyedRateLimiter<String>,
    in_flight: Mutex<HashMap<String, Arc<Semaphore>>>,
    service: &'static str,
}

/// Applies [`Limits`] per credential to every call of a server.
#[derive(Debug, Clone)]
pub struct QuotaLayer {
    state: Arc<State>,
}

impl QuotaLayer {
    /// `limits` per credential; `service` names the server in metrics.
    pub fn new(limits: Limits, service: &'static str) -> Self {
        let quota = Quota::per_second(limits.rate).allow_burst(limits.burst);
        Self {
            state: Arc::new(State {
                limits,
                rate: DefaultKeyedRateLimiter::keyed(quota),
                in_flight: Mutex::new(HashMap::new()),
                service,
            }),
        }
    }

    /// The credential's in-flight slots.
    fn slots(&self, credential: &str) -> Arc<Semaphore> {
        let mut slots = self
            .state
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            slots
                .entry(credential.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.state.limits.in_flight))),
        )
    }

    fn refuse(
        &self,
        principal: &Principal,
        reason: &'static str,
        message: String,
        retry: Duration,
    ) -> tonic::Status {
        // Whole milliseconds, at least one: what clients can sleep for.
        let retry = Duration::from_millis(retry.as_millis().max(1) as u64);
        let message = format!("{message}; retry after {} ms", retry.as_millis());
        refused_principal(
            self.state.service,
            principal,
            tonic::Code::ResourceExhausted,
            reason,
            &message,
        );
        tonic::Status::with_error_details(
            tonic::Code::ResourceExhausted,
            message,
            ErrorDetails::with_retry_info(Some(retry)),
        )
    }
}

/// What a call may still be charged, for the commands it carries beyond the
/// first (the layer charged one call already); in the request's extensions.
#[derive(Debug, Clone)]
pub struct Charge {
    layer: QuotaLayer,
    principal: Principal,
}

impl Charge {
    /// Charges `more` calls to the caller's credential: `RESOURCE_EXHAUSTED`
    /// with a retry hint when its rate cannot take them now, or never can
    /// (more than its burst: send fewer at a time).
    pub fn more(&self, more: u32) -> Result<(), tonic::Status> {
        let Some(n) = NonZeroU32::new(more) else {
            return Ok(());
        };
        let limits = self.layer.state.limits;
        let credential = self.principal.credential_label();
        match self.layer.state.rate.check_key_n(&credential, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(self.layer.refuse(
                &self.principal,
                "rate_limited",
                format!(
                    "a batch of {} commands is over {} calls per second (burst {}) for this credential",
                    more + 1,
                    limits.rate,
                    limits.burst
                ),
                not_until.wait_time_from(DefaultClock::default().now()),
            )),
            Err(_) => Err(self.layer.refuse(
                &self.principal,
                "rate_limited",
                format!(
                    "a batch of {} commands is more than this credential's burst of {} calls: send fewer at a time",
                    more + 1,
                    limits.burst
                ),
                Duration::from_secs(1),
            )),
        }
    }
}

impl<S> tower::Layer<S> for QuotaLayer {
    type Service = Hooked<S, QuotaLayer>;

    fn layer(&self, inner: S) -> Self::Service {
        Hooked::new(inner, self.clone())
    }
}

impl CallHook for QuotaLayer {
    /// The in-flight slot, released when the call answers.
    type State = Option<OwnedSemaphorePermit>;

    fn before<B>(&self, request: &mut http::Request<B>) -> Result<Self::State, tonic::Status> {
        // Open paths (health, reflection) carry no principal.
        let Some(principal) = request.extensions().get::<Principal>() else {
            return Ok(None);
        };
        let credential = principal.credential_label();
        if let Err(not_until) = self.state.rate.check_key(&credential) {
            let retry = not_until.wait_time_from(DefaultClock::default().now());
            let limits = self.state.limits;
            return Err(self.refuse(
                principal,
                "rate_limited",
                format!(
                    "over {} calls per second (burst {}) for this credential",
                    limits.rate, limits.burst
                ),
                retry,
            ));
        }
        let charge = Charge {
            layer: self.clone(),
            principal: principal.clone(),
        };
        match self.slots(&credential).try_acquire_owned() {
            Ok(permit) => {
                request.extensions_mut().insert(charge);
                Ok(Some(permit))
            }
            Err(_) => Err(self.refuse(
                principal,
                "too_many_in_flight",
                format!(
                    "{} calls of this credential are already in flight",
                    self.state.limits.in_flight
                ),
                Duration::from_millis(100),
            )),
        }
    }

    fn after(&self, _slot: Self::State, _headers: Option<&http::HeaderMap>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Grant;

    fn call(layer: &QuotaLayer, who: &str) -> Result<Option<OwnedSemaphorePermit>, tonic::Status> {
        let mut request = http::Request::new(());
        request.extensions_mut().insert(Principal {
            agency: who.into(),
            user: "u".into(),
            grant: Grant::Everything,
            credential: crate::identity::Credential::Token(who.into()),
        });
        layer.before(&mut request)
    }

    fn limits(rate: u32, burst: u32, in_flight: usize) -> Limits {
        Limits {
            rate: NonZeroU32::new(rate).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
            in_flight,
        }
    }

    #[test]
    fn a_flood_is_refused_with_a_retry_hint_and_others_are_not() {
        let layer = QuotaLayer::new(limits(1, 3, 100), "test");
        for _ in 0..3 {
            assert!(call(&layer, "flood").is_ok());
        }
        let refused = call(&layer, "flood").unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(refused.message().contains("retry after"), "{refused:?}");
        let retry = refused
            .get_details_retry_info()
            .unwrap()
            .retry_delay
            .unwrap();
        assert!(
            retry > Duration::ZERO && retry <= Duration::from_secs(1),
            "{retry:?}"
        );
        // Another credential keeps its own bucket.
        assert!(call(&layer, "calm").is_ok());
    }

    #[test]
    fn a_batch_is_charged_as_many_calls_as_it_carries() {
        let layer = QuotaLayer::new(limits(1, 10, 64), "test");
        let mut request = http::Request::new(());
        request.extensions_mut().insert(Principal {
            agency: "unit-31001".into(),
            user: "u".into(),
            grant: Grant::Everything,
            credential: crate::identity::Credential::Token("unit-31001".into()),
        });
        let _slot = layer.before(&mut request).unwrap();
        let charge = request.extensions().get::<Charge>().unwrap().clone();
        charge.more(5).unwrap();
        let status = charge
            .more(5)
            .expect_err("1 + 5 + 5 is over the burst of 10");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(status.message().contains("retry after"), "{status:?}");
        let status = charge.more(20).expect_err("never fits");
        assert!(status.message().contains("send fewer"), "{status:?}");
    }

    #[test]
    fn calls_in_flight_are_bounded_per_credential() {
        let layer = QuotaLayer::new(limits(1000, 1000, 2), "test");
        let first = call(&layer, "a").unwrap();
        let _second = call(&layer, "a").unwrap();
        let refused = call(&layer, "a").unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(call(&layer, "b").is_ok());
        drop(first);
        assert!(call(&layer, "a").is_ok());
        // Health and reflection carry no principal and are not limited.
        assert!(layer.before(&mut http::Request::new(())).unwrap().is_none());
    }
}
