//! Authentication and role checks of every call, and the security event trail.
//!
//! [`AuthLayer`] wraps a whole gRPC server, so it sees every path, including
//! those of services added later: deny by default. Every path except gRPC
//! health (`grpc.health.*`) and reflection (`grpc.reflection.*`) needs a
//! credential (`UNAUTHENTICATED` without one) and one of the roles
//! [`crate::policy::required_roles`] names for it (`PERMISSION_DENIED`
//! naming them, else), before it reaches its service. The established
//! [`Principal`] goes into the request's extensions: the services take the
//! actor and the data-scoped checks from it, never from free text.
//!
//! Every refused call, whether refused here or by the service
//! (`UNAUTHENTICATED`, `PERMISSION_DENIED`), is one warn line with target
//! `security` (service, method, claimed agency, peer, code, reason; never the
//! token) and one count in `sy_security_refusals_total{service,reason}`.

use std::net::SocketAddr;

use crate::hook::{CallHook, Hooked, header_code};
use crate::identity::{AGENCY_METADATA, Identity, Principal};
use crate::policy::{missing_role, required_roles};
use crate::telemetry::code_name;

/// Paths served without a token: health checks and reflection.
const OPEN_PREFIXES: &[&str] = &["/grpc.health.", "/grpc.reflection."];

/// The longest method path written into a log line (a client chooses it).
const MAX_LOGGED_PATH: usize = 128;

/// Authenticates every call of a server against its [`Identity`]; `service`
/// names the server in logs and metrics (`intake`, `projection`).
#[derive(Debug, Clone)]
pub struct AuthLayer {
    identity: Identity,
    service: &'static str,
}

impl AuthLayer {
    /// Checks every call against `identity`.
    pub fn new(identity: Identity, service: &'static str) -> Self {
        Self { identity, service }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Hooked<S, AuthLayer>;

    fn layer(&self, inner: S) -> Self::Service {
        Hooked::new(inner, self.clone())
    }
}

/// What the security log says about a call: taken from the request before
/// it is handed on.
pub struct Caller {
    service: &'static str,
    method: String,
    agency: Option<String>,
    /// The credential's label once authenticated (never the secret).
    credential: Option<String>,
    peer: Option<SocketAddr>,
}

impl Caller {
    fn of<B>(service: &'static str, request: &http::Request<B>) -> Self {
        let path = request.uri().path();
        let method = match path.char_indices().nth(MAX_LOGGED_PATH) {
            Some((end, _)) => format!("{}...", &path[..end]),
            None => path.to_string(),
        };
        let agency = request
            .headers()
            .get(AGENCY_METADATA)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(64).collect());
        let peer = crate::tls::remote_addr(request.extensions());
        Self {
            service,
            method,
            agency,
            credential: None,
            peer,
        }
    }

    /// The caller is now known by its credential.
    fn authenticated(&mut self, principal: &Principal) {
        self.agency = Some(principal.agency.clone());
        self.credential = Some(principal.credential_label());
    }

    /// One security event: the warn line and the counter.
    fn refused(&self, code: tonic::Code, reason: &'static str, detail: &str) {
        tracing::warn!(
            target: "security",
            service = %self.service,
            method = %self.method,
            agency = %self.agency.as_deref().unwrap_or("-"),
            credential = %self.credential.as_deref().unwrap_or("-"),
            peer = %self.peer.map_or_else(|| "-".to_string(), |p| p.to_string()),
            code = %code_name(code),
            reason = %reason,
            detail,
            "call refused"
        );
        metrics::counter!(
            "sy_security_refusals_total",
            "service" => self.service,
            "reason" => reason,
        )
        .increment(1);
    }
}

/// One security event for a call refused after authentication (a limit
/// hit): the warn line and the counter, with the caller's credential label.
pub fn refused_principal(
    service: &'static str,
    principal: &Principal,
    code: tonic::Code,
    reason: &'static str,
    detail: &str,
) {
    tracing::warn!(
        target: "security",
        service,
        agency = %principal.agency,
        credential = %principal.credential_label(),
        code = %code_name(code),
        reason,
        detail,
        "call refused"
    );
    metrics::counter!("sy_security_refusals_total", "service" => service, "reason" => reason)
        .increment(1);
}

impl CallHook for AuthLayer {
    /// The caller, for a call that needs a token.
    type State = Option<Caller>;

    fn before<B>(&self, request: &mut http::Request<B>) -> Result<Self::State, tonic::Status> {
        let path = request.uri().path();
        if OPEN_PREFIXES.iter().any(|prefix| path.starts_with(prefix)) {
            return Ok(None);
        }
        let mut caller = Caller::of(self.service, request);
        let certificate = crate::tls::peer_identity(request.extensions());
        let principal = match self.identity.principal(request.headers(), certificate) {
            Ok(principal) => principal,
            Err(refusal) => {
                let status = refusal.status();
                caller.refused(status.code(), refusal.reason(), status.message());
                return Err(status);
            }
        };
        caller.authenticated(&principal);
        let roles = required_roles(path);
        if !roles.iter().any(|role| principal.grant.has(*role)) {
            let method = path.rsplit('/').next().unwrap_or(path);
            let status = missing_role(roles, method);
            caller.refused(status.code(), "missing_role", status.message());
            return Err(status);
        }
        request.extensions_mut().insert(principal);
        Ok(Some(caller))
    }

    fn after(&self, caller: Self::State, headers: Option<&http::HeaderMap>) {
        // A call the service refused is a trailers-only response: its status
        // is in the headers.
        let (Some(caller), Some(headers)) = (caller, headers) else {
            return;
        };
        let code = header_code(headers);
        let reason = match code {
            Some(tonic::Code::Unauthenticated) => "unauthenticated",
            Some(tonic::Code::PermissionDenied) => "permission_denied",
            _ => return,
        };
        let detail = headers
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        caller.refused(code.unwrap_or(tonic::Code::Unknown), reason, detail);
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::future::Ready;
    use std::task::{Context, Poll};

    use tower::{Layer, Service};

    use super::*;
    use crate::identity::{AUTHORIZATION_METADATA, Credentials, token_hash};
    use crate::policy::Policy;

    /// A server that answers every call OK.
    #[derive(Clone)]
    struct Ok200;

    impl Service<http::Request<()>> for Ok200 {
        type Response = http::Response<String>;
        type Error = Infallible;
        type Future = Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            std::future::ready(Ok(http::Response::new("served".into())))
        }
    }

    async fn code(
        auth: &mut Hooked<Ok200, AuthLayer>,
        path: &str,
        token: Option<&str>,
    ) -> Option<String> {
        let mut request = http::Request::builder().uri(path);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION_METADATA, format!("Bearer {token}"));
        }
        let response = auth.call(request.body(()).unwrap()).await.unwrap();
        response
            .headers()
            .get("grpc-status")
            .map(|v| v.to_str().unwrap().to_string())
    }

    #[tokio::test]
    async fn every_path_but_health_and_reflection_needs_a_credential_and_a_role() {
        let file = format!("{} unit-1 li", token_hash("good"));
        let policy = Policy::parse("[[grant]]\nagencies = [\"unit-*\"]\nroles = [\"reader\"]\n");
        let identity = Identity::with_credentials(Credentials::parse(&file).unwrap())
            .with_policy(policy.unwrap());
        let mut auth = AuthLayer::new(identity, "test").layer(Ok200);
        let (unauthenticated, denied) = (Some("16".to_string()), Some("7".to_string()));
        for path in [
            "/shuangyong.v1.Query/GetRequest",
            "/shuangyong.v1.Admin/Rebuild",
            "/shuangyong.v1.SomethingNew/Anything",
            "/",
        ] {
            assert_eq!(code(&mut auth, path, None).await, unauthenticated, "{path}");
            assert_eq!(
                code(&mut auth, path, Some("bad")).await,
                unauthenticated,
                "{path}"
            );
        }
        assert_eq!(
            code(&mut auth, "/shuangyong.v1.Query/GetRequest", Some("good")).await,
            None
        );
        // A reader may not rebuild; a method no role is given is nobody's.
        for path in [
            "/shuangyong.v1.Admin/Rebuild",
            "/shuangyong.v1.SomethingNew/Anything",
            "/",
        ] {
            assert_eq!(code(&mut auth, path, Some("good")).await, denied, "{path}");
        }
        for open in [
            "/grpc.health.v1.Health/Check",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(code(&mut auth, open, None).await, None, "{open}");
        }
        // Development mode: no tokens, no policy; every call passes.
        let mut open = AuthLayer::new(Identity::trusting_headers(), "test").layer(Ok200);
        assert_eq!(
            code(&mut open, "/shuangyong.v1.Query/GetRequest", None).await,
            None
        );
    }
}
