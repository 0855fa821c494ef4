//! One tower service for everything that looks at each gRPC call from
//! outside the services ([`crate::telemetry::GrpcMetricsLayer`] times it,
//! [`crate::auth::AuthLayer`] authenticates it): a [`CallHook`] runs before
//! the call, may answer it with a status instead, and sees how it ended.

use std::pin::Pin;
use std::task::{Context, Poll};

/// What a layer does around each call.
pub trait CallHook: Clone + Send + 'static {
    /// What [`CallHook::before`] hands on to [`CallHook::after`].
    type State: Send + 'static;

    /// Runs before the call, and may add to its extensions (what the
    /// services read of it); `Err(status)` answers it with `status`, and the
    /// service never sees it.
    fn before<B>(&self, request: &mut http::Request<B>) -> Result<Self::State, tonic::Status>;

    /// Runs once the service answered: the response's headers, or `None`
    /// when the service failed without a response.
    fn after(&self, state: Self::State, headers: Option<&http::HeaderMap>);
}

/// The service a [`CallHook`]'s layer wraps around `S`.
#[derive(Debug, Clone)]
pub struct Hooked<S, H> {
    inner: S,
    hook: H,
}

impl<S, H> Hooked<S, H> {
    /// Runs `hook` around every call of `inner`.
    pub fn new(inner: S, hook: H) -> Self {
        Self { inner, hook }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, H, B, R> tower::Service<http::Request<B>> for Hooked<S, H>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    H: CallHook,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let state = match self.hook.before(&mut request) {
            Ok(state) => state,
            Err(status) => return Box::pin(std::future::ready(Ok(status.into_http()))),
        };
        let hook = self.hook.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            hook.after(state, response.as_ref().ok().map(http::Response::headers));
            response
        })
    }
}

/// The status of a trailers-only response (every failed unary call, and a
/// stream refused before its first message), read from its headers; `None`
/// when the status comes later, in the trailers.
pub fn header_code(headers: &http::HeaderMap) -> Option<tonic::Code> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(tonic::Code::from)
}
