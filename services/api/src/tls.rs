//! TLS of both gRPC servers (rustls, through tonic) and the identity a
//! client certificate carries.
//!
//! A server serves TLS with `--tls-cert` (its certificate chain, PEM) and
//! `--tls-key` (its private key, PEM, a file only its owner may read, see
//! [`crate::secret_file`]). With `--tls-client-ca` it also asks for a client
//! certificate and accepts one signed by that CA (mutual TLS), but does not
//! require one: a caller may prove who it is with a client certificate or
//! with a bearer token. A certificate from another CA, or an expired one, is
//! refused in the handshake. Without `--tls-cert`/`--tls-key` a service
//! refuses to start, unless `--dev`, where it warns "serving plaintext gRPC".
//!
//! The identity of a client certificate ([`peer_identity`]): **the agency is
//! the certificate subject's Organization (O), the user its Common Name
//! (CN)**, e.g. `O=unit-31001, CN=zhang.wei`. The agency must be a valid
//! agency code (1 to 64 of `[A-Za-z0-9._-]`), the user 1 to 128 characters.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sy_domain::validate::{Code, text};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::secret_file::{SecretFileError, read_private};

/// How long a client may take to complete the TLS handshake before its
/// connection is dropped (a slow or stalled handshake holds a socket).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a server cannot serve TLS as configured. Never includes key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Neither `--tls-cert` nor `--tls-key`, outside development mode.
    #[error(
        "refusing to serve plaintext gRPC: give --tls-cert and --tls-key \
         (SY_TLS_CERT, SY_TLS_KEY), or --dev for development"
    )]
    Missing,
    /// Only one of `--tls-cert` and `--tls-key`.
    #[error("--tls-cert and --tls-key go together: both or neither")]
    Incomplete,
    /// `--tls-client-ca` without a server certificate to serve TLS with.
    #[error("--tls-client-ca needs --tls-cert and --tls-key")]
    ClientCaWithoutTls,
    /// A certificate file cannot be read.
    #[error("cannot read {flag} {path}: {source}")]
    Read {
        /// The flag naming the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The private key cannot be used (unreadable, or others may read it).
    #[error("--tls-key: {0}")]
    Key(#[from] SecretFileError),
    /// The certificate, key or CA do not form a TLS configuration (not PEM,
    /// a key that does not match, ...).
    #[error("invalid TLS configuration (--tls-cert, --tls-key, --tls-client-ca): {0}")]
    Config(String),
}

/// The TLS files of a server (`--tls-cert`, `--tls-key`, `--tls-client-ca`).
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// Certificate chain, PEM, server certificate first.
    pub cert: Option<PathBuf>,
    /// Private key of the certificate, PEM, readable by its owner only.
    pub key: Option<PathBuf>,
    /// CA whose client certificates are accepted (mutual TLS); none without.
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    /// The server TLS configuration, `None` for plaintext: allowed only when
    /// `dev` (with a warning), else [`TlsError::Missing`].
    pub fn server_config(&self, dev: bool) -> Result<Option<ServerTlsConfig>, TlsError> {
        let (cert, key) = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => (cert, key),
            (None, None) if self.client_ca.is_some() => return Err(TlsError::ClientCaWithoutTls),
            (None, None) if dev => {
                tracing::warn!(
                    "development mode: serving plaintext gRPC (no --tls-cert/--tls-key); \
                     tokens and personal data cross the network unencrypted"
                );
                return Ok(None);
            }
            (None, None) => return Err(TlsError::Missing),
            _ => return Err(TlsError::Incomplete),
        };
        let chain = read_public("--tls-cert", cert)?;
        let key_pem = read_private(key)?;
        let mut config = ServerTlsConfig::new()
            .identity(Identity::from_pem(chain, key_pem))
            .timeout(HANDSHAKE_TIMEOUT);
        match &self.client_ca {
            Some(ca) => {
                config = config
                    .client_ca_root(Certificate::from_pem(read_public("--tls-client-ca", ca)?))
                    .client_auth_optional(true);
                tracing::info!(
                    cert = %cert.display(),
                    client_ca = %ca.display(),
                    "serving TLS; client certificates of the client CA accepted (O = agency, CN = user)"
                );
            }
            None => tracing::info!(cert = %cert.display(), "serving TLS; no client certificates"),
        }
        Ok(Some(config))
    }
}

fn read_public(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        flag,
        path: path.to_path_buf(),
        source,
    })
}

/// Who a client certificate says the caller is: O = agency, CN = user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertIdentity {
    /// The subject's Organization (O): an agency code.
    pub agency: String,
    /// The subject's Common Name (CN): the user within the agency.
    pub user: String,
}

/// The identity of the client certificate the caller's TLS handshake
/// presented: `None` without TLS or without a client certificate, `Err`
/// (the reason, for a status message) when the certificate's subject has no
/// usable O or CN. The certificate itself was verified against
/// `--tls-client-ca` in the handshake.
pub fn peer_identity(extensions: &http::Extensions) -> Option<Result<CertIdentity, String>> {
    let certs = extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()?
        .peer_certs()?;
    let leaf = certs.first()?;
    Some(cert_identity(leaf.as_ref()))
}

/// The identity in a DER certificate's subject (O = agency, CN = user).
pub fn cert_identity(der: &[u8]) -> Result<CertIdentity, String> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|err| format!("client certificate does not parse: {err}"))?;
    let subject = cert.subject();
    let single = |what: &str, mut values: Vec<&str>| -> Result<String, String> {
        match values.len() {
            1 => Ok(values.remove(0).to_string()),
            0 => Err(format!(
                "client certificate subject has no {what} (UTF-8 or printable string)"
            )),
            _ => Err(format!(
                "client certificate subject has more than one {what}"
            )),
        }
    };
    let organizations = subject
        .iter_organization()
        .filter_map(|value| value.as_str().ok())
        .collect();
    let agency = single("Organization (O), the agency", organizations)?;
    let agency = Code::parse("client certificate subject O", &agency)
        .map_err(|v| format!("{}: {}", v.field, v.reason))?;
    let names = subject
        .iter_common_name()
        .filter_map(|value| value.as_str().ok())
        .collect();
    let user = single("Common Name (CN), the user", names)?;
    let user = text("client certificate subject CN", &user, 1, 128)
        .map_err(|v| format!("{}: {}", v.field, v.reason))?;
    Ok(CertIdentity {
        agency: agency.to_string(),
        user,
    })
}

/// The caller's address, over plaintext or TLS.
pub fn remote_addr(extensions: &http::Extensions) -> Option<SocketAddr> {
    extensions
        .get::<TcpConnectInfo>()
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .map(TlsConnectInfo::get_ref)
        })
        .and_then(TcpConnectInfo::remote_addr)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::{Arc, Mutex};

    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa,
        KeyPair,
    };
    use tonic::transport::{ClientTlsConfig, Endpoint};
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    use super::*;
    use crate::hook::{CallHook, Hooked};

    fn ca() -> CertifiedIssuer<'static, KeyPair> {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
    }

    /// A certificate signed by `ca` with `subject` (DN type, value) and
    /// `names` as SANs: (cert PEM, key PEM, cert DER).
    fn issue(
        ca: &CertifiedIssuer<'static, KeyPair>,
        subject: &[(DnType, &str)],
        names: &[&str],
    ) -> (String, String, Vec<u8>) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name = DistinguishedName::new();
        for (kind, value) in subject {
            params.distinguished_name.push(kind.clone(), *value);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, ca).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }

    fn client(agency: &str, user: &str) -> Vec<(DnType, &'static str)> {
        let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
        vec![
            (DnType::OrganizationName, leak(agency)),
            (DnType::CommonName, leak(user)),
        ]
    }

    #[test]
    fn the_agency_is_the_subjects_o_and_the_user_its_cn() {
        let ca = ca();
        let (_, _, der) = issue(&ca, &client("unit-31001", "zhang.wei"), &[]);
        assert_eq!(
            cert_identity(&der).unwrap(),
            CertIdentity {
                agency: "unit-31001".into(),
                user: "zhang.wei".into()
            }
        );
        let (_, _, no_o) = issue(&ca, &[(DnType::CommonName, "zhang.wei")], &[]);
        let err = cert_identity(&no_o).unwrap_err();
        assert!(err.contains("Organization (O)"), "{err}");
        let (_, _, no_cn) = issue(&ca, &[(DnType::OrganizationName, "unit-31001")], &[]);
        let err = cert_identity(&no_cn).unwrap_err();
        assert!(err.contains("Common Name (CN)"), "{err}");
        let (_, _, bad_agency) = issue(&ca, &client("unit 31001", "zhang.wei"), &[]);
        let err = cert_identity(&bad_agency).unwrap_err();
        assert!(err.contains("subject O"), "{err}");
        assert!(cert_identity(b"not a certificate").is_err());
        assert!(peer_identity(&http::Extensions::new()).is_none());
        assert!(remote_addr(&http::Extensions::new()).is_none());
    }

    #[test]
    fn plaintext_only_in_development_mode_and_the_key_is_owner_only() {
        let missing = TlsFiles::default().server_config(false).unwrap_err();
        let text = missing.to_string();
        assert!(
            text.contains("--tls-cert") && text.contains("--tls-key") && text.contains("--dev"),
            "{text}"
        );
        assert!(TlsFiles::default().server_config(true).unwrap().is_none());

        let dir = tempfile::tempdir().unwrap();
        let (cert_pem, key_pem, _) = issue(&ca(), &[], &["localhost"]);
        let cert = dir.path().join("server.pem");
        let key = dir.path().join("server.key");
        std::fs::write(&cert, cert_pem).unwrap();
        std::fs::write(&key, &key_pem).unwrap();
        let files = |key: Option<&Path>, client_ca: Option<&Path>| TlsFiles {
            cert: Some(cert.clone()),
            key: key.map(Path::to_path_buf),
            client_ca: client_ca.map(Path::to_path_buf),
        };
        assert!(matches!(
            files(None, None).server_config(true),
            Err(TlsError::Incomplete)
        ));
        let client_ca_alone = TlsFiles {
            client_ca: Some(cert.clone()),
            ..TlsFiles::default()
        };
        assert!(matches!(
            client_ca_alone.server_config(true),
            Err(TlsError::ClientCaWithoutTls)
        ));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = files(Some(&key), None).server_config(false).unwrap_err();
        assert!(
            matches!(err, TlsError::Key(SecretFileError::Permissions { .. })),
            "{err}"
        );
        assert!(!err.to_string().contains(&key_pem), "{err}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(
            files(Some(&key), None)
                .server_config(false)
                .unwrap()
                .is_some()
        );
        let missing_ca = files(Some(&key), Some(&dir.path().join("none.pem")))
            .server_config(false)
            .unwrap_err();
        assert!(
            missing_ca.to_string().contains("--tls-client-ca"),
            "{missing_ca}"
        );
    }

    /// What the helpers found in one call's extensions.
    type Found = (Option<Result<CertIdentity, String>>, Option<SocketAddr>);

    /// Records what the helpers find in each call's extensions.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<Found>>>);

    impl CallHook for Seen {
        type State = ();

        fn before<B>(&self, request: &mut http::Request<B>) -> Result<(), tonic::Status> {
            let extensions = request.extensions();
            self.0
                .lock()
                .unwrap()
                .push((peer_identity(extensions), remote_addr(extensions)));
            Ok(())
        }

        fn after(&self, (): (), _: Option<&http::HeaderMap>) {}
    }

    /// Over real TLS, through `secure_builder` and `incoming`: a client
    /// certificate of the client CA names its agency and user, a caller
    /// without one has none, and the peer address is found either way.
    #[tokio::test]
    async fn a_served_client_certificate_is_the_callers_identity() {
        let ca = ca();
        let dir = tempfile::tempdir().unwrap();
        let (server_pem, server_key, _) = issue(&ca, &[], &["localhost", "127.0.0.1"]);
        let paths = ["ca.pem", "server.pem", "server.key"].map(|name| dir.path().join(name));
        std::fs::write(&paths[0], ca.pem()).unwrap();
        std::fs::write(&paths[1], server_pem).unwrap();
        std::fs::write(&paths[2], server_key).unwrap();
        std::fs::set_permissions(&paths[2], std::fs::Permissions::from_mode(0o600)).unwrap();
        let [client_ca, cert, key] = paths;
        let tls = TlsFiles {
            cert: Some(cert),
            key: Some(key),
            client_ca: Some(client_ca),
        }
        .server_config(false)
        .unwrap();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Seen::default();
        let (_, health) = tonic_health::server::health_reporter();
        let hook = seen.clone();
        let server = crate::server::secure_builder(tls)
            .unwrap()
            .layer(tower::layer::layer_fn(move |inner| {
                Hooked::new(inner, hook.clone())
            }))
            .add_service(health)
            .serve_with_incoming(crate::server::incoming(listener));
        let server = tokio::spawn(server);

        let call = async |identity: Option<(String, String)>| {
            let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca.pem()));
            if let Some((cert, key)) = identity {
                config = config.identity(Identity::from_pem(cert, key));
            }
            let channel = Endpoint::from_shared(format!("https://{addr}"))
                .unwrap()
                .tls_config(config)
                .unwrap()
                .connect()
                .await
                .unwrap();
            HealthClient::new(channel)
                .check(HealthCheckRequest::default())
                .await
                .unwrap();
        };
        let (pem, key, _) = issue(&ca, &client("unit-31001", "zhang.wei"), &[]);
        call(Some((pem, key))).await;
        call(None).await;
        let (pem, key, _) = issue(&ca, &[(DnType::CommonName, "nobody")], &[]);
        call(Some((pem, key))).await;

        let seen = seen.0.lock().unwrap().clone();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(
            seen[0].0,
            Some(Ok(CertIdentity {
                agency: "unit-31001".into(),
                user: "zhang.wei".into()
            }))
        );
        assert_eq!(seen[1].0, None);
        assert!(matches!(&seen[2].0, Some(Err(reason)) if reason.contains("(O)")));
        for (_, peer) in &seen {
            assert_eq!(peer.map(|p| p.ip()), Some(addr.ip()));
        }
        server.abort();
    }
}
