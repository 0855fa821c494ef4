//! Server plumbing both services share: logs, the shutdown signal, the
//! reflection service, the transport settings every accepted connection
//! gets (`TCP_NODELAY`, keepalives, timeouts), and the request size limit
//! every service of a server gets (`crate::limits`), and TLS around it all
//! (`secure_builder`, `crate::tls`).

use std::time::Duration;

use tonic::transport::server::TcpIncoming;
use tonic::transport::{Server, ServerTlsConfig};
use tower::layer::util::{Identity, Stack};
use tracing_subscriber::filter::{FilterExt as _, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::limits::MessageLimitLayer;
use crate::tls::TlsError;

/// How often an idle HTTP/2 connection is pinged, and a TCP keepalive sent.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// A ping unanswered this long closes the connection (a dead peer frees its
/// socket instead of holding a file descriptor forever).
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a server checks whether its tokens file changed (besides
/// re-reading it on SIGHUP): a revoked token stops working within this.
pub const CREDENTIALS_POLL: Duration = Duration::from_secs(5);

/// The connections a server accepts from `listener`, each with `TCP_NODELAY`
/// on and TCP keepalives.
///
/// Without `TCP_NODELAY` a reply (headers and data in one write, the trailer
/// in another) waits for the client's delayed ACK: about 40 ms per unary call
/// instead of well under one. Serving from a bare `TcpListenerStream` skips
/// tonic's own `tcp_nodelay`, so both services accept through this.
pub fn incoming(listener: tokio::net::TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(KEEPALIVE_INTERVAL))
        .with_keepalive_interval(Some(KEEPALIVE_INTERVAL))
}

/// A gRPC server builder with the HTTP/2 settings both services use on
/// purpose (keepalive pings that close dead connections), and the request
/// size limit on every service it serves
/// ([`crate::limits::MAX_REQUEST_BYTES`], `RESOURCE_EXHAUSTED` beyond).
pub fn builder() -> Server<Stack<MessageLimitLayer, Identity>> {
    Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .tcp_nodelay(true)
        .layer(MessageLimitLayer)
}

/// [`builder`], serving TLS with `tls` (see [`crate::tls`]); `None` serves
/// plaintext ([`crate::args::CommonArgs::server_tls`] allows that only in
/// development mode). TLS wraps the connections [`incoming`] accepts, so
/// they keep `TCP_NODELAY` and keepalives.
pub fn secure_builder(
    tls: Option<ServerTlsConfig>,
) -> Result<Server<Stack<MessageLimitLayer, Identity>>, TlsError> {
    let builder = builder();
    match tls {
        Some(tls) => builder
            .tls_config(tls)
            .map_err(|err| TlsError::Config(error_chain(&err))),
        None => Ok(builder),
    }
}

/// An error and its sources, joined (tonic's transport errors hide the cause).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Installs the global subscriber: JSON lines for containers, text for a
/// terminal. `RUST_LOG` filters (default `info`), under [`payload_cap`].
pub fn init_tracing(json: bool) {
    let directives = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let filter = directives.and(payload_cap());
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    // A second init (tests) keeps the first subscriber.
    let _ = if json {
        tracing_subscriber::registry()
            .with(layer.json().flatten_event(true).with_filter(filter))
            .try_init()
    } else {
        tracing_subscriber::registry()
            .with(layer.with_filter(filter))
            .try_init()
    };
}

/// Crates whose `trace` lines carry message bytes (NATS payloads, HTTP/2
/// frames): events with national ID numbers, tokens in headers.
const PAYLOAD_LOGGERS: &[&str] = &["async_nats", "h2", "hyper", "hyper_util", "tonic", "rustls"];

/// Holds [`PAYLOAD_LOGGERS`] at `debug` at most, whatever `RUST_LOG` says,
/// so no log level prints a payload. Combined with `RUST_LOG` by *and*: it
/// only ever lowers a level (at the default `info`, those crates log at
/// `info`, not `debug`).
fn payload_cap() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(
            PAYLOAD_LOGGERS
                .iter()
                .map(|target| (*target, LevelFilter::DEBUG)),
        )
}

/// Resolves on SIGINT or SIGTERM: the one shutdown future a service wires
/// through everything it runs.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for sigterm; only sigint stops the service");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown requested");
}

/// gRPC reflection (v1) over the shuangyong protos, so `grpcurl` and other
/// tools can call the services without the `.proto` files.
pub fn reflection_service() -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::Error,
> {
    reflection_builder().build_v1()
}

/// The same reflection as [`reflection_service`] under its pre-standard
/// name, `grpc.reflection.v1alpha`: Python's `grpcio-reflection`, older
/// `grpcurl` releases and many GUI clients speak only that one. A server
/// serves both.
pub fn reflection_service_v1alpha() -> Result<
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
    tonic_reflection::server::Error,
> {
    reflection_builder().build_v1alpha()
}

/// What reflection describes: the shuangyong protos and gRPC health.
fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt;
    use tracing_subscriber::EnvFilter;

    /// Events of `target` at each level that pass `RUST_LOG=directives`
    /// under the payload cap, counted by a real subscriber.
    fn passing(directives: &str, target: &str) -> Vec<&'static str> {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::filter::FilterExt as _;
        use tracing_subscriber::layer::{Context, SubscriberExt as _};
        use tracing_subscriber::{Layer, Registry};

        struct Record(Arc<Mutex<Vec<&'static str>>>);
        impl<S: tracing::Subscriber> Layer<S> for Record {
            fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
                self.0
                    .lock()
                    .unwrap()
                    .push(event.metadata().level().as_str());
            }
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let filter = EnvFilter::new(directives).and(super::payload_cap());
        let subscriber = Registry::default().with(Record(seen.clone()).with_filter(filter));
        tracing::subscriber::with_default(subscriber, || match target {
            "h2" => {
                tracing::trace!(target: "h2", "frame bytes");
                tracing::debug!(target: "h2", "frame");
                tracing::info!(target: "h2", "connection");
            }
            _ => {
                tracing::trace!(target: "sy", "detail");
                tracing::debug!(target: "sy", "step");
                tracing::info!(target: "sy", "event");
            }
        });
        seen.lock().unwrap().clone()
    }

    /// `RUST_LOG=trace` still holds the payload loggers at `debug`; the
    /// default `info` is not raised to `debug` for them.
    #[test]
    fn no_level_prints_payloads() {
        assert_eq!(passing("trace", "h2"), ["DEBUG", "INFO"]);
        assert_eq!(passing("trace", "sy"), ["TRACE", "DEBUG", "INFO"]);
        assert_eq!(passing("info", "h2"), ["INFO"]);
        assert_eq!(passing("info", "sy"), ["INFO"]);
    }

    /// The option is on the socket the server accepted, not just asked for.
    #[tokio::test]
    async fn accepted_connections_have_nodelay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut incoming = super::incoming(listener);
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let accepted = incoming.next().await.unwrap().unwrap();
        assert!(
            accepted.nodelay().unwrap(),
            "TCP_NODELAY is off on an accepted socket"
        );
        let socket = socket2::SockRef::from(&accepted);
        assert!(
            socket.keepalive().unwrap(),
            "SO_KEEPALIVE is off on an accepted socket"
        );
    }
}
