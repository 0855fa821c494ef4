//! Who is calling. Each call names its agency and user in metadata
//! (`x-sy-agency`, `x-sy-user`); they become the actor written into events.
//!
//! With a tokens file ([`Credentials`]) every call must also carry
//! `authorization: Bearer <token>`, and the token must be granted the agency
//! the call claims: an agency's system gets a token for its own agency, the
//! district's coordinating office (or a gateway that authenticates users
//! itself) one for several or all. The file holds only BLAKE3 hashes of the
//! tokens, so it reveals no credential. Without a file the headers are
//! trusted as sent (development, or a gateway in front that checks them).
//!
//! The file is read at start-up and again on SIGHUP (or when its
//! modification time changes): a revoked token stops working within
//! seconds, without a restart. A file readable by group or others is refused,
//! and one that fails to parse on reload keeps the previous credentials.
//! [`crate::auth`] checks the token on every call of both servers.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use sy_domain::pb::Actor;
use sy_domain::validate::{Code, text};
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::secret_file::{SecretFileError, read_private};

/// Metadata key of the acting agency's code (required on every command).
pub const AGENCY_METADATA: &str = "x-sy-agency";
/// Metadata key of the acting user within the agency (required on every command).
pub const USER_METADATA: &str = "x-sy-user";
/// Metadata key of the bearer token, checked when a tokens file is configured.
pub const AUTHORIZATION_METADATA: &str = "authorization";

/// Which agencies a token may act for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Agencies {
    All,
    Only(BTreeSet<String>),
}

/// The tokens a deployment accepts: hash of the token → agencies it may act for.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    grants: HashMap<[u8; 32], Agencies>,
}

/// The hash a tokens file lists for `token` (lowercase hex BLAKE3).
pub fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

impl Credentials {
    /// Parses a tokens file: one grant per line,
    /// `<blake3 hex of the token> <agency>[,<agency>...]|*  [label]`;
    /// blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut grants = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let mut fields = line.split_whitespace();
            let (Some(hash), Some(agencies)) = (fields.next(), fields.next()) else {
                return Err(format!(
                    "line {}: expected `<token hash> <agencies>`",
                    n + 1
                ));
            };
            let hash = blake3::Hash::from_hex(hash)
                .map_err(|_| format!("line {}: the token hash must be 64 hex digits", n + 1))?;
            let agencies = if agencies == "*" {
                Agencies::All
            } else {
                let mut only = BTreeSet::new();
                for agency in agencies.split(',') {
                    let code = Code::parse("agency", agency)
                        .map_err(|v| format!("line {}: {} {}", n + 1, agency, v.reason))?;
                    only.insert(code.to_string());
                }
                Agencies::Only(only)
            };
            if grants.insert(*hash.as_bytes(), agencies).is_some() {
                return Err(format!("line {}: the same token is listed twice", n + 1));
            }
        }
        Ok(Self { grants })
    }

    /// Number of tokens granted.
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    /// Whether no token is granted.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }
}

/// Why a tokens file cannot be used. Never names a token.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The file cannot be read.
    #[error("cannot read the tokens file {path}: {source}")]
    Read {
        /// The `--tokens-file` path.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// Group or others may read the file: anyone on the host could copy it.
    #[error(
        "the tokens file {path} is readable by group or others (mode {mode:04o}); \
         allow only its owner (chmod 600)"
    )]
    Permissions {
        /// The `--tokens-file` path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A line of the file is not a grant.
    #[error("the tokens file {path}: {reason}")]
    Parse {
        /// The `--tokens-file` path.
        path: PathBuf,
        /// Which line, and what is wrong with it.
        reason: String,
    },
}

impl Credentials {
    /// Reads and parses the tokens file at `path`, refusing one that group
    /// or others may read (unix).
    pub fn load(path: &Path) -> Result<Self, CredentialsError> {
        let bytes = read_private(path).map_err(|err| match err {
            SecretFileError::Read { path, source } => CredentialsError::Read { path, source },
            SecretFileError::Permissions { path, mode } => {
                CredentialsError::Permissions { path, mode }
            }
        })?;
        let text = String::from_utf8(bytes).map_err(|_| CredentialsError::Parse {
            path: path.to_path_buf(),
            reason: "not UTF-8 text".to_string(),
        })?;
        Self::parse(&text).map_err(|reason| CredentialsError::Parse {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// The agencies `token` may act for, if it is known.
    fn grant(&self, token: &str) -> Option<&Agencies> {
        self.grants
            .get(blake3::hash(token.trim().as_bytes()).as_bytes())
    }
}

/// Why a call was refused before it reached its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `authorization: Bearer <token>` metadata.
    MissingToken,
    /// A token this deployment does not know (never issued, or revoked).
    UnknownToken,
}

impl Refusal {
    /// A short label, for metrics and the security log.
    pub fn reason(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::UnknownToken => "unknown_token",
        }
    }

    /// The status the caller gets: always `UNAUTHENTICATED`.
    pub fn status(self) -> Status {
        match self {
            Self::MissingToken => {
                Status::unauthenticated("metadata authorization: Bearer <token> is required")
            }
            Self::UnknownToken => {
                Status::unauthenticated("the token is not known to this deployment")
            }
        }
    }
}

/// The tokens a server accepts now, and where they are re-read from.
#[derive(Debug)]
struct Tokens {
    path: Option<PathBuf>,
    current: RwLock<Arc<Credentials>>,
}

/// How calls are authenticated: by headers alone, or by tokens too. Clones
/// share the credentials, so a reload reaches every clone.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    tokens: Option<Arc<Tokens>>,
}

impl Identity {
    /// Trusts `x-sy-agency` / `x-sy-user` as sent.
    pub fn trusting_headers() -> Self {
        Self::default()
    }

    /// Requires a bearer token granted the claimed agency (fixed credentials,
    /// never reloaded).
    pub fn with_credentials(credentials: Credentials) -> Self {
        Self {
            tokens: Some(Arc::new(Tokens {
                path: None,
                current: RwLock::new(Arc::new(credentials)),
            })),
        }
    }

    /// Requires a bearer token listed in the tokens file at `path`
    /// (reloaded by [`Identity::reload`]).
    pub fn from_tokens_file(path: &Path) -> Result<Self, CredentialsError> {
        let credentials = Credentials::load(path)?;
        Ok(Self {
            tokens: Some(Arc::new(Tokens {
                path: Some(path.to_path_buf()),
                current: RwLock::new(Arc::new(credentials)),
            })),
        })
    }

    /// Whether calls need a token.
    pub fn requires_tokens(&self) -> bool {
        self.tokens.is_some()
    }

    /// How many tokens are accepted now (0 without a tokens file).
    pub fn token_count(&self) -> usize {
        self.credentials().map_or(0, |c| c.len())
    }

    /// The credentials in force, if tokens are required.
    fn credentials(&self) -> Option<Arc<Credentials>> {
        let tokens = self.tokens.as_ref()?;
        let current = tokens
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Some(Arc::clone(&current))
    }

    /// Checks the value of the `authorization` metadata, if any; `Ok` without
    /// a tokens file. Which agency the token may act for is
    /// [`Identity::actor`]'s business.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<(), Refusal> {
        let Some(credentials) = self.credentials() else {
            return Ok(());
        };
        let token = bearer(authorization).ok_or(Refusal::MissingToken)?;
        credentials
            .grant(token)
            .map(|_| ())
            .ok_or(Refusal::UnknownToken)
    }

    /// The calling actor: `UNAUTHENTICATED` without valid headers or token,
    /// `PERMISSION_DENIED` when the token may not act for the agency.
    pub fn actor(&self, metadata: &MetadataMap) -> Result<Actor, Status> {
        let actor = actor(metadata)?;
        let Some(credentials) = self.credentials() else {
            return Ok(actor);
        };
        let authorization = metadata
            .get(AUTHORIZATION_METADATA)
            .and_then(|v| v.to_str().ok());
        let token = bearer(authorization).ok_or_else(|| Refusal::MissingToken.status())?;
        let grant = credentials
            .grant(token)
            .ok_or_else(|| Refusal::UnknownToken.status())?;
        let allowed = match grant {
            Agencies::All => true,
            Agencies::Only(agencies) => agencies.contains(&actor.agency),
        };
        if !allowed {
            return Err(Status::permission_denied(format!(
                "the token may not act for agency {}",
                actor.agency
            )));
        }
        Ok(actor)
    }

    /// Re-reads the tokens file. On success the new credentials serve every
    /// following call; on failure the previous ones stay. Either way the
    /// outcome is logged (the number of tokens, never a token) and counted in
    /// `sy_credentials_reloads_total{outcome}`.
    pub fn reload(&self) -> Result<usize, CredentialsError> {
        let Some(tokens) = &self.tokens else {
            return Ok(0);
        };
        let Some(path) = &tokens.path else {
            return Ok(self.token_count());
        };
        match Credentials::load(path) {
            Ok(credentials) => {
                let count = credentials.len();
                *tokens
                    .current
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Arc::new(credentials);
                metrics::counter!("sy_credentials_reloads_total", "outcome" => "ok").increment(1);
                tracing::info!(
                    target: "security",
                    path = %path.display(),
                    tokens = count,
                    "credentials reloaded"
                );
                Ok(count)
            }
            Err(err) => {
                metrics::counter!("sy_credentials_reloads_total", "outcome" => "error")
                    .increment(1);
                tracing::error!(
                    target: "security",
                    %err,
                    "credentials not reloaded; the previous ones stay in force"
                );
                Err(err)
            }
        }
    }

    /// Reloads the tokens file on SIGHUP and whenever its modification time
    /// changes (checked every `poll`), until the runtime stops. `None` when
    /// there is no file to reload. The signal handler is installed before this
    /// returns, so a SIGHUP sent afterwards never terminates the process.
    pub fn spawn_reloader(
        &self,
        poll: Duration,
    ) -> std::io::Result<Option<tokio::task::JoinHandle<()>>> {
        let Some(path) = self.tokens.as_ref().and_then(|t| t.path.clone()) else {
            return Ok(None);
        };
        #[cfg(unix)]
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let identity = self.clone();
        let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        Ok(Some(tokio::spawn(async move {
            let mut seen: Option<SystemTime> = modified(&path);
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                #[cfg(unix)]
                let signalled = tokio::select! {
                    _ = hangup.recv() => true,
                    _ = tick.tick() => false,
                };
                #[cfg(not(unix))]
                let signalled = {
                    tick.tick().await;
                    false
                };
                let now = modified(&path);
                if signalled || now != seen {
                    seen = now;
                    // The outcome is logged and counted by `reload`.
                    let _ = identity.reload();
                }
            }
        })))
    }
}

/// The token of an `authorization: Bearer <token>` value.
fn bearer(authorization: Option<&str>) -> Option<&str> {
    authorization
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The actor the headers name, or `UNAUTHENTICATED` saying which header is
/// missing or bad (no token check: see [`Identity::actor`]).
pub fn actor(metadata: &MetadataMap) -> Result<Actor, Status> {
    let header = |key: &str| -> Result<String, Status> {
        let value = metadata
            .get(key)
            .ok_or_else(|| Status::unauthenticated(format!("metadata {key} is required")))?;
        value
            .to_str()
            .map(str::to_string)
            .map_err(|_| Status::unauthenticated(format!("metadata {key} must be ASCII")))
    };
    let agency = Code::parse(AGENCY_METADATA, &header(AGENCY_METADATA)?)
        .map_err(|v| Status::unauthenticated(format!("{}: {}", v.field, v.reason)))?;
    let user = text(USER_METADATA, &header(USER_METADATA)?, 1, 128)
        .map_err(|v| Status::unauthenticated(format!("{}: {}", v.field, v.reason)))?;
    Ok(Actor {
        agency: agency.to_string(),
        user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(agency: &str, token: Option<&str>) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert(AGENCY_METADATA, agency.parse().unwrap());
        metadata.insert(USER_METADATA, "li".parse().unwrap());
        if let Some(token) = token {
            metadata.insert(
                AUTHORIZATION_METADATA,
                format!("Bearer {token}").parse().unwrap(),
            );
        }
        metadata
    }

    #[test]
    fn tokens_grant_agencies() {
        let file = format!(
            "# tokens\n{} unit-31001\n{} district-office,unit-31002  # office\n{} *\n",
            token_hash("unit-token"),
            token_hash("office-token"),
            token_hash("gateway-token"),
        );
        let identity = Identity::with_credentials(Credentials::parse(&file).unwrap());
        let code = |agency: &str, token: Option<&str>| {
            identity
                .actor(&with(agency, token))
                .map(|a| a.agency)
                .map_err(|s| s.code())
        };
        assert_eq!(
            code("unit-31001", Some("unit-token")),
            Ok("unit-31001".into())
        );
        assert_eq!(
            code("unit-31002", Some("unit-token")),
            Err(tonic::Code::PermissionDenied)
        );
        assert_eq!(
            code("unit-31002", Some("office-token")),
            Ok("unit-31002".into())
        );
        assert_eq!(code("anyone", Some("gateway-token")), Ok("anyone".into()));
        assert_eq!(
            code("unit-31001", Some("stolen")),
            Err(tonic::Code::Unauthenticated)
        );
        assert_eq!(code("unit-31001", None), Err(tonic::Code::Unauthenticated));
        // Without credentials the headers are trusted.
        assert!(
            Identity::trusting_headers()
                .actor(&with("unit-31001", None))
                .is_ok()
        );
    }

    #[test]
    fn a_bad_tokens_file_says_which_line() {
        assert!(
            Credentials::parse("nothex unit-1")
                .unwrap_err()
                .contains("line 1")
        );
        let twice = format!("{h} a\n{h} b\n", h = token_hash("t"));
        assert!(Credentials::parse(&twice).unwrap_err().contains("line 2"));
        let bad_agency = format!("{} 有空格", token_hash("t"));
        assert!(Credentials::parse(&bad_agency).is_err());
        assert!(
            Credentials::parse("# only comments\n\n")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn actor_needs_both_headers() {
        let mut metadata = MetadataMap::new();
        assert_eq!(
            actor(&metadata).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        metadata.insert(AGENCY_METADATA, "unit-31001".parse().unwrap());
        assert!(
            actor(&metadata)
                .unwrap_err()
                .message()
                .contains(USER_METADATA)
        );
        metadata.insert(USER_METADATA, "zhang".parse().unwrap());
        assert_eq!(actor(&metadata).unwrap().agency, "unit-31001");
        metadata.insert(AGENCY_METADATA, "bad agency".parse().unwrap());
        assert!(actor(&metadata).is_err());
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

    #[cfg(unix)]
    #[test]
    fn a_tokens_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = tokens_file(dir.path(), &[format!("{} unit-1", token_hash("t"))]);
        assert!(Identity::from_tokens_file(&path).is_ok());
        for mode in [0o640, 0o604, 0o644] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = Identity::from_tokens_file(&path).unwrap_err();
            assert!(matches!(err, CredentialsError::Permissions { .. }), "{err}");
            let text = err.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains(&format!("{mode:04o}")), "{text}");
        }
        let missing = Identity::from_tokens_file(&dir.path().join("nope")).unwrap_err();
        assert!(
            matches!(missing, CredentialsError::Read { .. }),
            "{missing}"
        );
    }

    #[test]
    fn a_reload_revokes_tokens_and_a_bad_file_keeps_the_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let kept = format!("{} unit-1", token_hash("kept"));
        let revoked = format!("{} unit-1", token_hash("revoked"));
        let path = tokens_file(dir.path(), &[kept.clone(), revoked]);
        let identity = Identity::from_tokens_file(&path).unwrap();
        let clone = identity.clone();
        assert!(identity.requires_tokens());
        assert_eq!(identity.token_count(), 2);
        assert_eq!(identity.authenticate(Some("Bearer revoked")), Ok(()));
        assert_eq!(identity.authenticate(None), Err(Refusal::MissingToken));
        assert_eq!(
            identity.authenticate(Some("Basic revoked")),
            Err(Refusal::MissingToken)
        );

        tokens_file(dir.path(), std::slice::from_ref(&kept));
        assert_eq!(identity.reload().unwrap(), 1);
        // Every clone (each server's layer, each service) sees the reload.
        assert_eq!(
            clone.authenticate(Some("Bearer revoked")),
            Err(Refusal::UnknownToken)
        );
        assert_eq!(clone.authenticate(Some("Bearer kept")), Ok(()));
        assert_eq!(
            clone
                .actor(&with("unit-1", Some("revoked")))
                .unwrap_err()
                .code(),
            tonic::Code::Unauthenticated
        );

        tokens_file(dir.path(), &[kept, "not a grant".into()]);
        assert!(matches!(
            identity.reload(),
            Err(CredentialsError::Parse { .. })
        ));
        assert_eq!(identity.token_count(), 1);
        assert_eq!(clone.authenticate(Some("Bearer kept")), Ok(()));
        // Without a file there is nothing to check or reload.
        assert_eq!(Identity::trusting_headers().authenticate(None), Ok(()));
        assert_eq!(Identity::trusting_headers().reload().unwrap(), 0);
    }
}
