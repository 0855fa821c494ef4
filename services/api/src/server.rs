//! Server plumbing both services share: logs, the shutdown signal, the
//! reflection service, the transport settings every accepted connection
//! gets (`TCP_NODELAY`, keepalives, timeouts), and the request size limit
//! every service of a server gets (`crate::limits`), and TLS around it all
//! (`secure_builder`, `crate::tls`).

use std::time::Duration;

use tonic::transport::server::TcpIncoming;
use tonic::transport::{Server, ServerTlsConfig};
use tower::layer::util::{Identity, Stack};
use tracing_subscriber::EnvFilter;

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
/// terminal. `RUST_LOG` filters (default `info`).
pub fn init_tracing(json: bool) {
    let filter =
        capped(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    // A second init (tests) keeps the first subscriber.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// Crates whose `trace` lines carry message bytes (NATS payloads, HTTP/2
/// frames): events with national ID numbers, tokens in headers. They are
/// held at `debug` whatever `RUST_LOG` says, so no log level prints a payload.
const PAYLOAD_LOGGERS: &[&str] = &["async_nats", "h2", "hyper", "hyper_util", "tonic", "rustls"];

/// `filter`, with [`PAYLOAD_LOGGERS`] held at `debug` at most.
fn capped(mut filter: EnvFilter) -> EnvFilter {
    for target in PAYLOAD_LOGGERS {
        if let Ok(directive) = format!("{target}=debug").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
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

    /// `RUST_LOG=trace` still holds the payload loggers at `debug`.
    #[test]
    fn no_level_prints_payloads() {
        let filter = super::capped(EnvFilter::new("trace")).to_string();
        for target in super::PAYLOAD_LOGGERS {
            assert!(filter.contains(&format!("{target}=debug")), "{filter}");
        }
        assert!(filter.contains("trace"), "{filter}");
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
