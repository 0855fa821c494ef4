//! Metrics both services share: the Prometheus exporter and a tower layer
//! that times every gRPC call by service, method and status code. Each
//! service defines its own metrics in its `metrics` module.

use std::net::SocketAddr;
use std::time::Instant;

use metrics_exporter_prometheus::{BuildError, PrometheusBuilder};

use crate::hook::{CallHook, Hooked, header_code};

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
    type Service = Hooked<S, CallTimer>;

    fn layer(&self, inner: S) -> Self::Service {
        Hooked::new(inner, CallTimer)
    }
}

/// What [`GrpcMetricsLayer`] does around each call.
#[derive(Debug, Clone, Copy)]
pub struct CallTimer;

impl CallHook for CallTimer {
    type State = (&'static str, &'static str, Instant);

    fn before<B>(&self, request: &mut http::Request<B>) -> Result<Self::State, tonic::Status> {
        let (service, method) = route(request.uri().path());
        Ok((service, method, Instant::now()))
    }

    fn after(&self, (service, method, started): Self::State, headers: Option<&http::HeaderMap>) {
        let code = match headers {
            // A failed unary call is a trailers-only response: its status
            // is in the headers. Without one the call succeeded (its OK
            // comes in the trailers).
            Some(headers) => header_code(headers).unwrap_or(tonic::Code::Ok),
            None => tonic::Code::Unknown,
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
        "SubmitRequests",
        "AssignRequest",
        "StartRequest",
        "RecordProgress",
        "ResolveRequest",
        "CloseRequest",
        "RejectRequest",
        "ReopenRequest",
        "EscalateRequest",
        "ChangeDueDate",
        "AddSubTask",
        "CompleteSubTask",
        "RecordInspection",
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
