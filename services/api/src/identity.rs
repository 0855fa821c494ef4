//! Who is calling, bound to the credential, never to free text: a
//! [`Principal`] (agency, user, the roles the policy grants the agency).
//!
//! With a tokens file ([`Credentials`]) every call carries
//! `authorization: Bearer <token>`, and each token is issued to one user of
//! one agency: the file's line names both, so the actor written into events
//! is the token's. The file holds only BLAKE3 hashes of the tokens, so it
//! reveals no credential. The `x-sy-agency` / `x-sy-user` headers may still
//! be sent; one that names someone else than the credential is refused.
//! Without a tokens file (development mode only) the headers are trusted.
//!
//! The roles come from the policy file ([`crate::policy`]); without one
//! (development mode only) every caller holds every role. Both files are
//! re-read on SIGHUP or when they change ([`crate::reload`]), and both must
//! be owner-only ([`crate::secret_file`]). [`crate::auth`] builds the
//! principal of every call and puts it in the request's extensions, where
//! the services read it with [`Principal::of`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use sy_domain::pb::Actor;
use sy_domain::validate::{Code, text};
use tonic::Status;

use crate::policy::{Grant, Policy};
use crate::reload::{FromFile, Reload, Reloadable};
use crate::secret_file::SecretFileError;
use crate::tls::CertIdentity;

/// Metadata key of the acting agency's code (development mode; with a
/// credential it may only repeat the credential's).
pub const AGENCY_METADATA: &str = "x-sy-agency";
/// Metadata key of the acting user within the agency (as `x-sy-agency`).
pub const USER_METADATA: &str = "x-sy-user";
/// Metadata key of the bearer token.
pub const AUTHORIZATION_METADATA: &str = "authorization";

/// The longest user name a credential may carry.
const USER_MAX: usize = 128;

/// Who a token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    agency: String,
    user: String,
    /// The first 8 hex digits of the token's hash: names the credential in
    /// logs and limits without revealing it.
    id: String,
}

/// The tokens a deployment accepts: hash of the token → who holds it.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    holders: HashMap<[u8; 32], Holder>,
}

/// The hash a tokens file lists for `token` (lowercase hex BLAKE3).
pub fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

impl Credentials {
    /// Parses a tokens file: one token per line,
    /// `<blake3 hex of the token> <agency> <user>  [# label]`;
    /// blank lines and `#` comments are skipped.
    pub fn parse(file: &str) -> Result<Self, String> {
        let mut holders = HashMap::new();
        for (n, line) in file.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [hash, agency, user] = fields.as_slice() else {
                return Err(format!(
                    "line {}: expected `<token hash> <agency> <user>`",
                    n + 1
                ));
            };
            let hash = blake3::Hash::from_hex(hash)
                .map_err(|_| format!("line {}: the token hash must be 64 hex digits", n + 1))?;
            let agency = Code::parse("agency", agency)
                .map_err(|v| format!("line {}: agency {agency}: {}", n + 1, v.reason))?;
            let user = text("user", user, 1, USER_MAX)
                .map_err(|v| format!("line {}: user: {}", n + 1, v.reason))?;
            let holder = Holder {
                agency: agency.to_string(),
                user,
                id: hash.to_hex()[..8].to_string(),
            };
            if holders.insert(*hash.as_bytes(), holder).is_some() {
                return Err(format!("line {}: the same token is listed twice", n + 1));
            }
        }
        Ok(Self { holders })
    }

    /// Number of tokens issued.
    pub fn len(&self) -> usize {
        self.holders.len()
    }

    /// Whether no token is issued.
    pub fn is_empty(&self) -> bool {
        self.holders.is_empty()
    }

    /// Who holds `token`, if it is known.
    fn holder(&self, token: &str) -> Option<&Holder> {
        self.holders
            .get(blake3::hash(token.trim().as_bytes()).as_bytes())
    }
}

impl FromFile for Credentials {
    const WHAT: &'static str = "tokens";

    fn parse_text(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }

    fn count(&self) -> usize {
        self.len()
    }
}

/// Why a call was refused before it reached its service.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// No `authorization: Bearer <token>` metadata.
    MissingToken,
    /// A token this deployment does not know (never issued, or revoked).
    UnknownToken,
    /// A client certificate that names no agency or user.
    BadCertificate(String),
    /// Headers that are missing or malformed (development mode), or that
    /// name someone else than the credential.
    Headers(Status),
}

impl Refusal {
    /// The reason label of the security log and metric.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::UnknownToken => "unknown_token",
            Self::BadCertificate(_) => "bad_certificate",
            Self::Headers(status) if status.code() == tonic::Code::PermissionDenied => {
                "impersonation"
            }
            Self::Headers(_) => "bad_headers",
        }
    }

    /// The status the caller gets.
    pub fn status(&self) -> Status {
        match self {
            Self::MissingToken => Status::unauthenticated(
                "metadata authorization: Bearer <token> (or a client certificate) is required",
            ),
            Self::UnknownToken => {
                Status::unauthenticated("the token is not known to this deployment")
            }
            Self::BadCertificate(reason) => {
                Status::unauthenticated(format!("the client certificate: {reason}"))
            }
            Self::Headers(status) => status.clone(),
        }
    }
}

/// How a caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A bearer token; the first 8 hex digits of its hash.
    Token(String),
    /// A client certificate signed by the deployment's CA.
    Certificate,
    /// Development mode: the headers, trusted as sent.
    Headers,
}

/// The caller of one call, as [`crate::auth::AuthLayer`] established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The caller's agency (empty in development mode without headers).
    pub agency: String,
    /// The acting user within the agency.
    pub user: String,
    /// What the policy lets the agency do.
    pub grant: Grant,
    /// How the caller proved it.
    pub credential: Credential,
}

impl Principal {
    /// The principal [`crate::auth::AuthLayer`] put into `request`'s
    /// extensions; `UNAUTHENTICATED` on a server without the layer.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<&Principal, Status> {
        request
            .extensions()
            .get::<Principal>()
            .ok_or_else(|| Status::unauthenticated("the call was not authenticated"))
    }

    /// The actor written into the events of the principal's commands:
    /// `UNAUTHENTICATED` when it has no agency or user (development mode
    /// without the headers).
    pub fn actor(&self) -> Result<Actor, Status> {
        if self.agency.is_empty() {
            return Err(Status::unauthenticated(format!(
                "metadata {AGENCY_METADATA} is required"
            )));
        }
        if self.user.is_empty() {
            return Err(Status::unauthenticated(format!(
                "metadata {USER_METADATA} is required"
            )));
        }
        Ok(Actor {
            agency: self.agency.clone(),
            user: self.user.clone(),
        })
    }

    /// What names the credential in logs and per-credential limits: never
    /// the secret.
    pub fn credential_label(&self) -> String {
        match &self.credential {
            Credential::Token(id) => format!("token:{id}"),
            Credential::Certificate => format!("cert:{}/{}", self.agency, self.user),
            Credential::Headers => format!("dev:{}", self.agency),
        }
    }
}

/// How calls are authenticated and authorized: tokens (or only headers, in
/// development mode) and a policy (or every role, in development mode).
/// Clones share the files, so a reload reaches every clone.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    tokens: Option<Arc<Reloadable<Credentials>>>,
    policy: Option<Arc<Reloadable<Policy>>>,
}

impl Identity {
    /// Trusts `x-sy-agency` / `x-sy-user` as sent, every role granted
    /// (development mode).
    pub fn trusting_headers() -> Self {
        Self::default()
    }

    /// Requires a bearer token (fixed credentials, never reloaded).
    pub fn with_credentials(credentials: Credentials) -> Self {
        Self {
            tokens: Some(Arc::new(Reloadable::fixed(credentials))),
            policy: None,
        }
    }

    /// Requires a bearer token listed in the tokens file at `path`.
    pub fn from_tokens_file(path: &Path) -> Result<Self, SecretFileError> {
        Ok(Self {
            tokens: Some(Arc::new(Reloadable::load(path)?)),
            policy: None,
        })
    }

    /// Grants roles by `policy` (fixed, never reloaded).
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = Some(Arc::new(Reloadable::fixed(policy)));
        self
    }

    /// Grants roles by the policy file at `path`.
    pub fn with_policy_file(mut self, path: &Path) -> Result<Self, SecretFileError> {
        self.policy = Some(Arc::new(Reloadable::load(path)?));
        Ok(self)
    }

    /// Whether calls need a token.
    pub fn requires_tokens(&self) -> bool {
        self.tokens.is_some()
    }

    /// Whether a policy decides the roles.
    pub fn has_policy(&self) -> bool {
        self.policy.is_some()
    }

    /// How many tokens are accepted now (0 without a tokens file).
    pub fn token_count(&self) -> usize {
        self.tokens.as_ref().map_or(0, |t| t.current().len())
    }

    /// Re-reads the tokens file, if any (see [`Reloadable::reload`]).
    pub fn reload(&self) -> Result<usize, SecretFileError> {
        self.tokens.as_ref().map_or(Ok(0), |t| t.reload())
    }

    /// The files a reloader watches ([`crate::reload::spawn_reloader`]).
    pub fn reloadable(&self) -> Vec<Arc<dyn Reload>> {
        let mut files: Vec<Arc<dyn Reload>> = Vec::new();
        if let Some(tokens) = &self.tokens {
            files.push(tokens.clone());
        }
        if let Some(policy) = &self.policy {
            files.push(policy.clone());
        }
        files
    }

    /// Re-reads the tokens and policy files on SIGHUP and when they change
    /// (see [`crate::reload::spawn_reloader`]).
    pub fn spawn_reloader(
        &self,
        poll: std::time::Duration,
    ) -> std::io::Result<Option<tokio::task::JoinHandle<()>>> {
        crate::reload::spawn_reloader(self.reloadable(), poll)
    }

    /// The principal of a call: its credential (a client certificate's
    /// identity, else the bearer token; the headers in development mode),
    /// and the roles the policy grants its agency.
    pub fn principal(
        &self,
        headers: &http::HeaderMap,
        certificate: Option<Result<CertIdentity, String>>,
    ) -> Result<Principal, Refusal> {
        let header = |key: &str| headers.get(key).and_then(|v| v.to_str().ok());
        let (agency, user, credential) = match (certificate, &self.tokens) {
            (Some(Err(reason)), _) => return Err(Refusal::BadCertificate(reason)),
            (Some(Ok(CertIdentity { agency, user })), _) => (agency, user, Credential::Certificate),
            (None, Some(tokens)) => {
                let token = bearer(header(AUTHORIZATION_METADATA)).ok_or(Refusal::MissingToken)?;
                let credentials = tokens.current();
                let holder = credentials.holder(token).ok_or(Refusal::UnknownToken)?;
                (
                    holder.agency.clone(),
                    holder.user.clone(),
                    Credential::Token(holder.id.clone()),
                )
            }
            (None, None) => {
                let (agency, user) = claimed(headers).map_err(Refusal::Headers)?;
                (agency, user, Credential::Headers)
            }
        };
        if credential != Credential::Headers {
            for (key, bound) in [(AGENCY_METADATA, &agency), (USER_METADATA, &user)] {
                if let Some(claimed) = header(key).filter(|v| v != bound) {
                    return Err(Refusal::Headers(Status::permission_denied(format!(
                        "metadata {key} says {:?} but the credential is {bound:?}'s",
                        claimed.chars().take(64).collect::<String>()
                    ))));
                }
            }
        }
        let grant = self
            .policy
            .as_ref()
            .map_or(Grant::Everything, |p| p.current().grant(&agency));
        Ok(Principal {
            agency,
            user,
            grant,
            credential,
        })
    }
}

/// The token of an `authorization: Bearer <token>` value.
fn bearer(authorization: Option<&str>) -> Option<&str> {
    authorization
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The agency and user the headers claim (development mode): either both
/// absent (an anonymous reader), or both well-formed.
fn claimed(headers: &http::HeaderMap) -> Result<(String, String), Status> {
    let header = |key: &str| -> Result<Option<String>, Status> {
        headers
            .get(key)
            .map(|v| {
                v.to_str()
                    .map(str::to_string)
                    .map_err(|_| Status::unauthenticated(format!("metadata {key} must be ASCII")))
            })
            .transpose()
    };
    let agency = match header(AGENCY_METADATA)? {
        None => String::new(),
        Some(agency) => Code::parse(AGENCY_METADATA, &agency)
            .map_err(|v| Status::unauthenticated(format!("{}: {}", v.field, v.reason)))?
            .to_string(),
    };
    let user = match header(USER_METADATA)? {
        None => String::new(),
        Some(user) => text(USER_METADATA, &user, 1, USER_MAX)
            .map_err(|v| Status::unauthenticated(format!("{}: {}", v.field, v.reason)))?,
    };
    Ok((agency, user))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::policy::Role;

    fn headers(agency: Option<&str>, token: Option<&str>) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        if let Some(agency) = agency {
            headers.insert(AGENCY_METADATA, agency.parse().unwrap());
            headers.insert(USER_METADATA, "li".parse().unwrap());
        }
        if let Some(token) = token {
            headers.insert(
                AUTHORIZATION_METADATA,
                format!("Bearer {token}").parse().unwrap(),
            );
        }
        headers
    }

    fn tokens() -> Credentials {
        let file = format!(
            "# tokens\n{} unit-31001 li\n{} district-office wang  # office\n",
            token_hash("unit-token"),
            token_hash("office-token"),
        );
        Credentials::parse(&file).unwrap()
    }

    #[test]
    fn a_token_is_one_user_of_one_agency() {
        let identity = Identity::with_credentials(tokens());
        let who = |agency: Option<&str>, token: Option<&str>| {
            identity
                .principal(&headers(agency, token), None)
                .map(|p| (p.agency, p.user))
                .map_err(|r| r.status().code())
        };
        let unit = Ok(("unit-31001".to_string(), "li".to_string()));
        assert_eq!(who(None, Some("unit-token")), unit);
        assert_eq!(who(Some("unit-31001"), Some("unit-token")), unit);
        // A header naming someone else is impersonation.
        assert_eq!(
            who(Some("unit-31002"), Some("unit-token")),
            Err(tonic::Code::PermissionDenied)
        );
        assert_eq!(
            who(None, Some("office-token")),
            Ok(("district-office".into(), "wang".into()))
        );
        assert_eq!(
            who(Some("unit-31001"), Some("stolen")),
            Err(tonic::Code::Unauthenticated)
        );
        assert_eq!(
            who(Some("unit-31001"), None),
            Err(tonic::Code::Unauthenticated)
        );
        let principal = identity
            .principal(&headers(None, Some("unit-token")), None)
            .unwrap();
        assert_eq!(
            principal.credential_label(),
            format!("token:{}", &token_hash("unit-token")[..8])
        );
        // Without a policy every role is granted (development mode).
        assert_eq!(principal.grant, Grant::Everything);
    }

    #[test]
    fn a_certificate_identity_needs_no_token_and_a_bad_one_is_refused() {
        let identity = Identity::with_credentials(tokens());
        let cert = Some(Ok(CertIdentity {
            agency: "unit-31009".into(),
            user: "zhao".into(),
        }));
        let principal = identity.principal(&headers(None, None), cert).unwrap();
        assert_eq!(principal.credential, Credential::Certificate);
        assert_eq!(principal.actor().unwrap().user, "zhao");
        let bad = identity.principal(&headers(None, None), Some(Err("no O".into())));
        assert_eq!(bad.unwrap_err().reason(), "bad_certificate");
    }

    #[test]
    fn the_policy_grants_the_credential_s_agency_its_roles() {
        let policy =
            Policy::parse("[[grant]]\nagencies = [\"unit-*\"]\nroles = [\"requester\"]\n").unwrap();
        let identity = Identity::with_credentials(tokens()).with_policy(policy);
        let unit = identity
            .principal(&headers(None, Some("unit-token")), None)
            .unwrap();
        assert!(unit.grant.has(Role::Requester) && !unit.grant.has(Role::Reader));
        let office = identity
            .principal(&headers(None, Some("office-token")), None)
            .unwrap();
        assert!(!office.grant.has(Role::Requester));
    }

    #[test]
    fn development_mode_trusts_the_headers() {
        let identity = Identity::trusting_headers();
        let principal = identity
            .principal(&headers(Some("unit-31001"), None), None)
            .unwrap();
        assert_eq!(principal.actor().unwrap().agency, "unit-31001");
        assert_eq!(principal.credential, Credential::Headers);
        // An anonymous reader has no actor to write into events.
        let anonymous = identity.principal(&headers(None, None), None).unwrap();
        assert_eq!(
            anonymous.actor().unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert!(
            identity
                .principal(&headers(Some("bad agency"), None), None)
                .is_err()
        );
    }

    #[test]
    fn a_bad_tokens_file_says_which_line() {
        let line = |text: &str| Credentials::parse(text).unwrap_err();
        assert!(line("nothex unit-1 li").contains("line 1"));
        let twice = format!("{h} a u\n{h} b u\n", h = token_hash("t"));
        assert!(line(&twice).contains("line 2"));
        assert!(line(&format!("{} 有空格 u", token_hash("t"))).contains("line 1"));
        // The old all-agencies grant is no longer a credential.
        assert!(line(&format!("{} *", token_hash("t"))).contains("<agency> <user>"));
        assert!(
            Credentials::parse("# only comments\n\n")
                .unwrap()
                .is_empty()
        );
    }

    /// A tokens file only its owner may read, holding `lines`.
    fn tokens_file(dir: &Path, lines: &[String]) -> PathBuf {
        let path = dir.join("tokens");
        std::fs::write(&path, lines.join("\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        path
    }

    #[test]
    fn a_reload_revokes_tokens_and_a_bad_file_keeps_the_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let kept = format!("{} unit-1 li", token_hash("kept"));
        let revoked = format!("{} unit-1 wu", token_hash("revoked"));
        let path = tokens_file(dir.path(), &[kept.clone(), revoked]);
        let identity = Identity::from_tokens_file(&path).unwrap();
        let clone = identity.clone();
        let code = |identity: &Identity, token: &str| {
            identity
                .principal(&headers(None, Some(token)), None)
                .map(|p| p.user)
                .map_err(|r| r.reason())
        };
        assert!(identity.requires_tokens());
        assert_eq!(identity.token_count(), 2);
        assert_eq!(code(&identity, "revoked"), Ok("wu".into()));

        tokens_file(dir.path(), std::slice::from_ref(&kept));
        assert_eq!(identity.reload().unwrap(), 1);
        // Every clone (each server's layer, each service) sees the reload.
        assert_eq!(code(&clone, "revoked"), Err("unknown_token"));
        assert_eq!(code(&clone, "kept"), Ok("li".into()));

        tokens_file(dir.path(), &[kept, "not a grant".into()]);
        assert!(matches!(
            identity.reload(),
            Err(SecretFileError::Parse { .. })
        ));
        assert_eq!(identity.token_count(), 1);
        assert_eq!(code(&clone, "kept"), Ok("li".into()));
        // Without a file there is nothing to check or reload.
        assert_eq!(Identity::trusting_headers().reload().unwrap(), 0);
    }
}
