//! Who is calling. Each call names its agency and user in metadata
//! (`x-sy-agency`, `x-sy-user`); they become the actor written into events.
//! Token or mTLS verification in front of this is deployment work (issue 5):
//! the gateway that checks a credential sets these headers.

use sy_domain::pb::Actor;
use sy_domain::validate::{Code, text};
use tonic::Status;
use tonic::metadata::MetadataMap;

pub const AGENCY_METADATA: &str = "x-sy-agency";
pub const USER_METADATA: &str = "x-sy-user";

/// The calling actor, or `UNAUTHENTICATED` saying which header is missing or bad.
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
