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
