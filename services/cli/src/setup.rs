//! `sy setup --out DIR`: everything a deployment needs to run with TLS and
//! credentials, created fresh, every file readable by its owner only
//! (mode 0600, set when the file is created). The compose files and
//! `deploy/dev-up.sh` mount or read this directory. The layout:
//!
//! ```text
//! DIR/ca.pem, ca.key                   the deployment's CA (keep ca.key offline)
//! DIR/nats/server.pem, server.key      NATS server certificate (TLS)
//! DIR/nats/users.conf                  NATS users and permissions (bcrypt hashes; `include` it)
//! DIR/nats/<user>.password             each NATS user's password (intake, projection, auditor,
//!                                      backup, restore: see `sy_eventlog::permissions`)
//! DIR/intake/server.pem, server.key    intake's gRPC certificate
//! DIR/intake/identity.key              the identity key (64 hex digits)
//! DIR/intake/intake-1.key              intake's event-signing key (`--signing-key-file`)
//! DIR/kek.key                          the key-encryption key wrapping every person's
//!                                      data key (`--kek-file` of intake and projection)
//! DIR/verify.keys                      the public keys events are checked with
//!                                      (`--verify-keys-file`; publish it)
//! DIR/projection/server.pem, server.key  the projection's gRPC certificate
//! DIR/tokens                           BLAKE3 hashes of the clients' tokens (`--tokens-file`)
//! DIR/clients/<agency>/client.pem, client.key, token
//!                                      a client certificate (O=<agency>, CN=<user>) and token
//! DIR/policy.toml                      the role policy (`--policy-file`): with `--demo`
//!                                      the demo's, else none granted (edit it)
//! DIR/webhook-secrets                  the HMAC keys webhooks are signed with
//!                                      (`--webhook-secrets-file`): none yet (add lines)
//! ```
//!
//! Server certificates name the service (compose names, `-1`..`-3` for the
//! cluster), `localhost` and `127.0.0.1`. The role policy and the
//! event-signing keys are further steps of [`write`], after the tokens: their
//! formats belong to the modules that read them.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use sy_api::secret_file::write_private;
use sy_domain::pii::{Cipher, KekRing};
use sy_eventlog::permissions::{ConfUser, NatsRole, authorization_conf};

use crate::args::SetupArgs;
use crate::error::Error;

/// Years the CA is valid for.
const CA_YEARS: i16 = 10;
/// Years server and client certificates are valid for.
const LEAF_YEARS: i16 = 2;
/// The bcrypt cost of the NATS users' password hashes.
const BCRYPT_COST: u32 = 11;

/// Creates the deployment's secrets in `args.out`; refuses an existing
/// directory unless `--force` (then it is replaced).
pub fn run(args: &SetupArgs) -> Result<(), Error> {
    let out = &args.out;
    if out.exists() {
        if !args.force {
            return Err(Error::Usage(format!(
                "{} exists; pass --force to replace it (every secret in it is made anew)",
                out.display()
            )));
        }
        std::fs::remove_dir_all(out).map_err(Error::io(format!("remove {}", out.display())))?;
    }
    let mut clients = args
        .client
        .iter()
        .map(|spec| Client::parse(spec))
        .collect::<Result<Vec<_>, _>>()?;
    let policy = if args.demo {
        clients.extend(demo_clients()?);
        DEMO_POLICY
    } else {
        EMPTY_POLICY
    };
    clients.sort_by(|a, b| a.agency.cmp(&b.agency));
    clients.dedup_by(|a, b| a.agency == b.agency);
    write(out, &clients, &args.stream, &args.san)?;
    file(&out.join("policy.toml"), policy)?;
    file(&out.join("webhook-secrets"), WEBHOOK_SECRETS)?;
    say!("deployment secrets written to {}", out.display());
    say!("give each agency its clients/<agency>/ directory; keep ca.key offline");
    Ok(())
}

/// The webhook keys file before any subscription: the delivering
/// projection reads it at start.
const WEBHOOK_SECRETS: &str = "# HMAC-SHA256 keys of webhook subscriptions (`--webhook-secrets-file`):\n\
# one line `<secret-id> <key>` per key, keys of at least 32 bytes, e.g. from\n\
# `openssl rand -hex 32`. Give each agency its key out of band; a subscription\n\
# names the id (`sy notifications subscribe --secret-id`).\n";

/// The demo deployment's role policy.
const DEMO_POLICY: &str = include_str!("../data/demo-policy.toml");

/// A deployment's policy before anyone is granted a role.
const EMPTY_POLICY: &str = "# The role policy: which agencies hold which roles (see the README's role\n\
# table). Nothing is granted yet, so every call is refused. Add grants such as\n\
#\n\
# [[grant]]\n\
# agencies = [\"unit-*\"]\n\
# roles = [\"requester\", \"reader-own\"]\n\
#\n\
# The services re-read this file within seconds of a change, or on SIGHUP.\n";

/// Every party the demo acts as (the request catalogue's parties, the
/// education committee's enrollment office), and the auditors and
/// operators of the demo policy.
fn demo_clients() -> Result<Vec<Client>, Error> {
    let mut specs: Vec<String> = crate::catalogue::requests()
        .parties
        .iter()
        .map(|party| format!("{}/{}", party.agency, party.user))
        .collect();
    specs.extend(
        [
            "district-education-commission/enrollment.office",
            "district-audit-office/auditor",
            "district-data-center/ops",
            "district-privacy-office/officer",
        ]
        .map(String::from),
    );
    specs.iter().map(|spec| Client::parse(spec)).collect()
}

/// A client to issue a certificate and a token for: `agency` or `agency/user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The agency code (the certificate's O, the token's grant).
    pub agency: String,
    /// The user (the certificate's CN); `operator` when not given.
    pub user: String,
}

impl Client {
    /// Parses `agency` or `agency/user`, checking both as the services do.
    pub fn parse(spec: &str) -> Result<Self, Error> {
        let (agency, user) = spec.split_once('/').unwrap_or((spec, "operator"));
        crate::rpc::actor(agency, user)?;
        Ok(Self {
            agency: agency.to_string(),
            user: user.to_string(),
        })
    }
}

/// Writes the layout of the module docs into `out` (which must not exist).
pub fn write(
    out: &Path,
    clients: &[Client],
    stream: &str,
    extra_sans: &[String],
) -> Result<(), Error> {
    let dir = |path: PathBuf| -> Result<PathBuf, Error> {
        create_private_dir(&path)?;
        Ok(path)
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(Error::io(format!("create {}", parent.display())))?;
    }
    dir(out.to_path_buf())?;
    let ca = Ca::new()?;
    file(&out.join("ca.pem"), &ca.cert_pem)?;
    file(&out.join("ca.key"), &ca.key.serialize_pem())?;

    for service in ["nats", "intake", "projection"] {
        let service_dir = dir(out.join(service))?;
        let mut names = vec![service.to_string()];
        names.extend((1..=3).map(|n| format!("{service}-{n}")));
        names.extend(["localhost".to_string(), "127.0.0.1".to_string()]);
        names.extend(extra_sans.iter().cloned());
        let (cert, key) = ca.issue(Leaf::Server {
            names,
            peer: service == "nats",
        })?;
        file(&service_dir.join("server.pem"), &cert)?;
        file(&service_dir.join("server.key"), &key)?;
    }

    let mut users = Vec::new();
    for role in NatsRole::ALL {
        let password = random_hex(24)?;
        file(
            &out.join("nats").join(format!("{}.password", role.user())),
            &password,
        )?;
        let hash = bcrypt::hash(&password, BCRYPT_COST)
            .map_err(|err| Error::Failed(format!("cannot hash a nats password: {err}")))?;
        users.push(ConfUser {
            role,
            password: hash,
        });
    }
    file(
        &out.join("nats").join("users.conf"),
        &authorization_conf(&users, stream),
    )?;

    file(
        &out.join("intake").join("identity.key"),
        &format!("{}\n", random_hex(32)?),
    )?;
    let kek = KekRing::generate(Cipher::default()).map_err(|err| Error::Failed(err.to_string()))?;
    file(&out.join("kek.key"), &kek.file_text())?;

    let mut tokens =
        String::from("# <BLAKE3 of the token> <agency> <user>: the tokens in clients/*/token\n");
    let clients_dir = dir(out.join("clients"))?;
    for client in clients {
        let client_dir = dir(clients_dir.join(&client.agency))?;
        let (cert, key) = ca.issue(Leaf::Client(client))?;
        file(&client_dir.join("client.pem"), &cert)?;
        file(&client_dir.join("client.key"), &key)?;
        let token = crate::new_token_value();
        file(&client_dir.join("token"), &format!("{token}\n"))?;
        tokens.push_str(&format!(
            "{} {} {}\n",
            sy_api::identity::token_hash(&token),
            client.agency,
            client.user
        ));
    }
    file(&out.join("tokens"), &tokens)?;

    let key = sy_api::event_keys::new_signing_key(SIGNING_KEY_ID, &out.join("intake"))
        .map_err(|err| Error::Failed(err.to_string()))?;
    file(
        &out.join("verify.keys"),
        &format!(
            "# The public keys events are signed with (--verify-keys-file): publish\n\
             # this file; to rotate, add the new key's line (sy keys new) before\n\
             # intake switches to it, and keep the old lines.\n{}\n",
            key.public_line
        ),
    )?;
    Ok(())
}

/// The id of the signing key `sy setup` makes for intake.
pub const SIGNING_KEY_ID: &str = "intake-1";

/// Creates `path` with mode 0700 (owner only).
fn create_private_dir(path: &Path) -> Result<(), Error> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(path)
        .map_err(Error::io(format!("create {}", path.display())))
}

/// Writes a new owner-only file.
fn file(path: &Path, content: &str) -> Result<(), Error> {
    write_private(path, content.as_bytes()).map_err(Error::io(format!("write {}", path.display())))
}

/// `bytes` random bytes from the operating system, as lowercase hex.
fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|err| Error::Failed(format!("no randomness from the system: {err}")))?;
    Ok(hex::encode(buf))
}

/// The deployment's certificate authority.
struct Ca {
    cert_pem: String,
    key: KeyPair,
    params: CertificateParams,
}

/// What a certificate is for.
enum Leaf<'a> {
    /// A server, by its DNS names and IP addresses; also a TLS client when
    /// `peer` (NATS nodes connect to each other over mutual TLS).
    Server { names: Vec<String>, peer: bool },
    /// A client of an agency.
    Client(&'a Client),
}

fn cert_error(err: rcgen::Error) -> Error {
    Error::Failed(format!("cannot make a certificate: {err}"))
}

/// Validity from today to `years` years on.
fn validity(params: &mut CertificateParams, years: i16) {
    let today = jiff::tz::Offset::UTC
        .to_datetime(jiff::Timestamp::now())
        .date();
    let day = |date: jiff::civil::Date| {
        rcgen::date_time_ymd(
            i32::from(date.year()),
            u8::try_from(date.month()).unwrap_or(1),
            // Day 28 exists in every month, whatever the year.
            u8::try_from(date.day().min(28)).unwrap_or(1),
        )
    };
    params.not_before = day(today.yesterday().unwrap_or(today));
    params.not_after = day(today.saturating_add(jiff::Span::new().years(years)));
}

impl Ca {
    fn new() -> Result<Self, Error> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "shuangyong");
        name.push(DnType::CommonName, "shuangyong deployment CA");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut params, CA_YEARS);
        let key = KeyPair::generate().map_err(cert_error)?;
        let cert_pem = params.self_signed(&key).map_err(cert_error)?.pem();
        Ok(Self {
            cert_pem,
            key,
            params,
        })
    }

    /// A certificate and its key (PEM) signed by the CA.
    fn issue(&self, leaf: Leaf<'_>) -> Result<(String, String), Error> {
        let (mut params, name) = match leaf {
            Leaf::Server { names, peer } => {
                let mut name = DistinguishedName::new();
                name.push(
                    DnType::CommonName,
                    names.first().cloned().unwrap_or_default(),
                );
                let mut params = CertificateParams::new(names).map_err(cert_error)?;
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                if peer {
                    params
                        .extended_key_usages
                        .push(ExtendedKeyUsagePurpose::ClientAuth);
                }
                (params, name)
            }
            Leaf::Client(client) => {
                let mut name = DistinguishedName::new();
                name.push(DnType::OrganizationName, client.agency.clone());
                name.push(DnType::CommonName, client.user.clone());
                let mut params =
                    CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
                (params, name)
            }
        };
        params.distinguished_name = name;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, LEAF_YEARS);
        let key = KeyPair::generate().map_err(cert_error)?;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).map_err(cert_error)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_policy_grants_every_demo_party_a_role() {
        let policy = sy_api::policy::Policy::parse(DEMO_POLICY).unwrap();
        for client in demo_clients().unwrap() {
            let grant = policy.grant(&client.agency);
            assert_ne!(
                grant,
                sy_api::policy::Grant::Roles(Default::default()),
                "{} holds no role",
                client.agency
            );
        }
        let empty = sy_api::policy::Policy::parse(EMPTY_POLICY).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn clients_are_agency_and_user() {
        assert_eq!(
            Client::parse("civil-affairs/wang").unwrap(),
            Client {
                agency: "civil-affairs".into(),
                user: "wang".into(),
            }
        );
        assert_eq!(Client::parse("unit-1").unwrap().user, "operator");
        assert!(Client::parse("Not An Agency").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn every_file_is_owner_only_and_the_tokens_file_holds_hashes() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("secrets");
        let clients = [
            Client::parse("unit-1/li").unwrap(),
            Client::parse("district-office/wang").unwrap(),
        ];
        write(&out, &clients, "SHUANGYONG", &[]).unwrap();
        let mut files = 0;
        let mut stack = vec![out.clone()];
        while let Some(path) = stack.pop() {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} mode {mode:o}", path.display());
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            } else {
                files += 1;
            }
        }
        // CA, 3 servers × 2, NATS users and passwords, identity key, KEK,
        // tokens, 2 clients × 3, signing and verify keys.
        assert_eq!(files, 2 + 3 * 2 + 6 + 1 + 1 + 1 + 2 * 3 + 2);
        let token = sy_api::secret_file::read_private(&out.join("clients/unit-1/token")).unwrap();
        let tokens = std::fs::read_to_string(out.join("tokens")).unwrap();
        assert!(!tokens.contains(token.trim()));
        assert_eq!(
            sy_api::identity::Credentials::parse(&tokens).unwrap().len(),
            2
        );
        assert!(
            tokens
                .lines()
                .any(|line| line.ends_with(" district-office wang")),
            "{tokens}"
        );
        let users = std::fs::read_to_string(out.join("nats/users.conf")).unwrap();
        let password = std::fs::read_to_string(out.join("nats/intake.password")).unwrap();
        assert!(
            !users.contains(&password) && users.contains("$2b$"),
            "{users}"
        );
    }
}
