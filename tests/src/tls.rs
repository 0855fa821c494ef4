//! A test PKI made with `rcgen`: a deployment's CA, the server certificate
//! both services serve (for `localhost` and `127.0.0.1`), client
//! certificates naming an agency (O) and a user (CN), an expired one, and a
//! second CA whose certificates the services must refuse; plus TLS channels
//! for clients, with or without a client certificate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, date_time_ymd,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// A certificate and its private key, PEM.
#[derive(Debug, Clone)]
pub struct KeyedCert {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
}

impl KeyedCert {
    /// As a TLS identity to present.
    pub fn identity(&self) -> Identity {
        Identity::from_pem(&self.cert_pem, &self.key_pem)
    }

    /// Writes `<name>.pem` and `<name>.key` (owner-only) into `dir`: the
    /// certificate's and the key's paths.
    pub fn write(&self, dir: &Path, name: &str) -> std::io::Result<(PathBuf, PathBuf)> {
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.cert_pem)?;
        write_private(&key, &self.key_pem)?;
        Ok((cert, key))
    }
}

/// Writes `text` to `path`, readable by its owner only (as a key must be).
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// A certificate authority that issues test certificates.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    /// A new self-signed CA called `name`.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "shuangyong test");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2024, 1, 1);
        let key = KeyPair::generate().expect("a key pair generates");
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).expect("the CA self-signs"),
        }
    }

    /// The CA certificate, PEM: what servers and clients trust.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    pub fn server(&self) -> KeyedCert {
        let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("valid names");
        params
            .distinguished_name
            .push(DnType::CommonName, "sy test server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate: `agency` as the subject's O, `user` as its CN.
    pub fn client(&self, agency: &str, user: &str) -> KeyedCert {
        self.issue(client_params(agency, user))
    }

    /// A client certificate like [`Self::client`] that expired in 2025.
    pub fn expired_client(&self, agency: &str, user: &str) -> KeyedCert {
        let mut params = client_params(agency, user);
        params.not_after = date_time_ymd(2025, 1, 1);
        self.issue(params)
    }

    fn issue(&self, mut params: CertificateParams) -> KeyedCert {
        if params.not_before == CertificateParams::default().not_before {
            params.not_before = date_time_ymd(2024, 1, 1);
        }
        let key = KeyPair::generate().expect("a key pair generates");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("the CA signs the certificate");
        KeyedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

fn client_params(agency: &str, user: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, agency);
    params.distinguished_name.push(DnType::CommonName, user);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

/// A deployment's TLS files in a directory of their own: the CA
/// (`ca.pem`), the server's certificate and key (`server.pem`,
/// `server.key`), and a second, unrelated CA to issue refused certificates.
pub struct Pki {
    dir: tempfile::TempDir,
    /// The deployment's CA: servers trust its client certificates.
    pub ca: TestCa,
    /// Another CA, trusted by nobody.
    pub other_ca: TestCa,
    ca_path: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

impl Pki {
    /// Makes both CAs and the server certificate, and writes the files.
    pub fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let ca = TestCa::new("sy test CA");
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, ca.cert_pem())?;
        let (server_cert, server_key) = ca.server().write(dir.path(), "server")?;
        Ok(Self {
            dir,
            ca,
            other_ca: TestCa::new("another CA"),
            ca_path,
            server_cert,
            server_key,
        })
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `ca.pem`: servers' `--tls-client-ca`, clients' `--ca`.
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// `server.pem`: servers' `--tls-cert`.
    pub fn server_cert(&self) -> &Path {
        &self.server_cert
    }

    /// `server.key`: servers' `--tls-key`.
    pub fn server_key(&self) -> &Path {
        &self.server_key
    }
}

/// A channel to the TLS server at `url` (`https://...`) trusting `ca_pem`,
/// presenting `client` if given; connects on first use.
pub fn tls_channel(url: &str, ca_pem: &str, client: Option<&KeyedCert>) -> Channel {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
    if let Some(client) = client {
        tls = tls.identity(client.identity());
    }
    Endpoint::from_shared(url.to_string())
        .expect("valid endpoint")
        .tls_config(tls)
        .expect("valid TLS configuration")
        .connect_timeout(Duration::from_secs(5))
        .connect_lazy()
}
