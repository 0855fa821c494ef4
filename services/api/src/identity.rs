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

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use sy_domain::pb::Actor;
use sy_domain::validate::{Code, text};
use tonic::Status;
use tonic::metadata::MetadataMap;

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

/// How calls are authenticated: by headers alone, or by tokens too.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    credentials: Option<Arc<Credentials>>,
}

impl Identity {
    /// Trusts `x-sy-agency` / `x-sy-user` as sent.
    pub fn trusting_headers() -> Self {
        Self::default()
    }

    /// Requires a bearer token granted the claimed agency.
    pub fn with_credentials(credentials: Credentials) -> Self {
        Self {
            credentials: Some(Arc::new(credentials)),
        }
    }

    /// The calling actor: `UNAUTHENTICATED` without valid headers or token,
    /// `PERMISSION_DENIED` when the token may not act for the agency.
    pub fn actor(&self, metadata: &MetadataMap) -> Result<Actor, Status> {
        let actor = actor(metadata)?;
        let Some(credentials) = &self.credentials else {
            return Ok(actor);
        };
        let token = metadata
            .get(AUTHORIZATION_METADATA)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Status::unauthenticated("metadata authorization: Bearer <token> is required")
            })?;
        let grant = credentials
            .grants
            .get(blake3::hash(token.trim().as_bytes()).as_bytes())
            .ok_or_else(|| Status::unauthenticated("the token is not known to this deployment"))?;
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
}
