//! Metrics both services share: the Prometheus exporter and a tower layer
//! that times every gRPC call by service, method and status code. Each
//! service defines its own metrics in its `metrics` module.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use metrics_exporter_prometheus::{BuildError, PrometheusBuilder};

/// Latency buckets in seconds, from sub-millisecond reads to slow publishes.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Serves Prometheus metrics on `listen` (`GET /metrics`, any path works).
/// Must run inside the tokio runtime.
pub fn install_metrics(listen: SocketAddr) -> Result<(), BuildError> {
    PrometheusBuilder::new()
        .with_http_listener(listen)
        .set_buckets(LATENCY_BUCKETS)?
        .install()?;
    tracing::info!(addr = %listen, "serving metrics");
    Ok(())
}

/// Times every gRPC call: `sy_grpc_requests_total{service,method,code}` and
/// `sy_grpc_request_seconds{service,method}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

/// The service [`GrpcMetricsLayer`] wraps around `S`.
#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let (service, method) = route(request.uri().path());
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            let code = match &response {
                // A failed unary call is a trailers-only response: its status
                // is in the headers. Without one the call succeeded (its OK
                // comes in the trailers).
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or(tonic::Code::Ok, tonic::Code::from),
                Err(_) => tonic::Code::Unknown,
            };
            let labels = [("service", service), ("method", method)];
            metrics::histogram!("sy_grpc_request_seconds", &labels)
                .record(started.elapsed().as_secs_f64());
            metrics::counter!(
                "sy_grpc_requests_total",
                "service" => service,
                "method" => method,
                "code" => code_name(code),
            )
            .increment(1);
            response
        })
    }
}

/// Service and method of a gRPC path; anything not ours is `other`, so a
/// client cannot grow the label set at will.
fn route(path: &str) -> (&'static str, &'static str) {
    const KNOWN: &[(&str, &str)] = &[
        ("shuangyong.v1.Intake", "Intake"),
        ("shuangyong.v1.Query", "Query"),
        ("shuangyong.v1.Admin", "Admin"),
        ("grpc.health.v1.Health", "Health"),
        ("grpc.reflection.v1.ServerReflection", "ServerReflection"),
    ];
    const METHODS: &[&str] = &[
        "SubmitRequest",
        "AssignRequest",
        "StartRequest",
        "RecordProgress",
        "ResolveRequest",
        "CloseRequest",
        "RejectRequest",
        "ReopenRequest",
        "EscalateRequest",
        "ChangeDueDate",
        "GetRequest",
        "ListRequests",
        "GetClearanceBoard",
        "GetRequestHistory",
        "WatchRequests",
        "GetProjectionStatus",
        "ListQuarantined",
        "Rebuild",
        "Check",
        "Watch",
        "ServerReflectionInfo",
    ];
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    let service = KNOWN
        .iter()
        .find(|(full, _)| *full == service)
        .map_or("other", |(_, short)| short);
    let method = METHODS
        .iter()
        .find(|known| **known == method)
        .copied()
        .unwrap_or("other");
    (service, method)
}

/// The canonical upper-case name of a status code, for metric labels.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_bounded() {
        assert_eq!(
            route("/shuangyong.v1.Query/GetRequest"),
            ("Query", "GetRequest")
        );
        assert_eq!(route("/evil/Anything"), ("other", "other"));
        assert_eq!(route("/shuangyong.v1.Intake/Nope"), ("Intake", "other"));
    }
}
