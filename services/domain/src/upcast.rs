//! Reading old events with today's meaning. The log is never rewritten:
//! adding a field or an event type needs nothing here (old events simply lack
//! them), but when the meaning of stored data changes, readers upcast each
//! envelope from the schema version it was written with to
//! [`SCHEMA_VERSION`] before folding it. Intake and projection both call
//! [`upcast`], so they fold the same meaning.
//!
//! [`upcast_reading`] names the newest version a reader reads instead of
//! taking this release's: the projection keeps that version as a property
//! of its fold, so its tests can fold as an older or a later release does
//! and play an upgrade without a second build.

use crate::event::SCHEMA_VERSION;
use crate::pb::event_envelope::Payload;
use crate::pb::{EventEnvelope, Priority, SupervisionLevel};

/// Why an envelope cannot be brought to the current schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpcastError {
    /// Written by a newer release: folding it with older rules could
    /// misread it, so it is refused (and quarantined) instead.
    #[error("event has schema version {found}; this release reads up to {supported}")]
    Newer {
        /// The envelope's schema version.
        found: u32,
        /// The newest version the reader reads ([`SCHEMA_VERSION`] of
        /// this release).
        supported: u32,
    },
}

/// `envelope` as the current schema means it.
pub fn upcast(envelope: EventEnvelope) -> Result<EventEnvelope, UpcastError> {
    upcast_reading(envelope, SCHEMA_VERSION)
}

/// `envelope` as a reader of schema versions up to `supported` means it:
/// refused if it is newer, otherwise brought up through this release's
/// upcasters. A version past [`SCHEMA_VERSION`] but within `supported`
/// passes unchanged: `supported` above this release's version stands for a
/// later release whose meaning of those versions is the one they were
/// written with.
pub fn upcast_reading(
    mut envelope: EventEnvelope,
    supported: u32,
) -> Result<EventEnvelope, UpcastError> {
    if envelope.schema_version > supported {
        return Err(UpcastError::Newer {
            found: envelope.schema_version,
            supported,
        });
    }
    if envelope.schema_version == 0 {
        v0_to_v1(&mut envelope);
    }
    debug_assert!(
        envelope.schema_version >= SCHEMA_VERSION,
        "an upcaster to the current version is missing"
    );
    Ok(envelope)
}

/// Version 0 (events without a schema version) left a submission's priority
/// and supervision level unset to mean "the defaults"; version 1 states them.
fn v0_to_v1(envelope: &mut EventEnvelope) {
    if let Some(Payload::RequestSubmitted(submitted)) = &mut envelope.payload {
        if submitted.priority() == Priority::Unspecified {
            submitted.set_priority(Priority::Normal);
        }
        if submitted.supervision_level() == SupervisionLevel::Unspecified {
            submitted.set_supervision_level(SupervisionLevel::None);
        }
    }
    envelope.schema_version = 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;

    fn submitted(schema_version: u32) -> EventEnvelope {
        EventEnvelope {
            schema_version,
            payload: Some(Payload::RequestSubmitted(pb::RequestSubmitted::default())),
            ..Default::default()
        }
    }

    #[test]
    fn version_0_submissions_get_the_defaults_they_meant() {
        let upcast = upcast(submitted(0)).unwrap();
        assert_eq!(upcast.schema_version, SCHEMA_VERSION);
        let Some(Payload::RequestSubmitted(s)) = upcast.payload else {
            panic!("still a submission")
        };
        assert_eq!(s.priority(), Priority::Normal);
        assert_eq!(s.supervision_level(), SupervisionLevel::None);
    }

    #[test]
    fn current_events_pass_unchanged_and_newer_ones_are_refused() {
        let mut current = submitted(SCHEMA_VERSION);
        if let Some(Payload::RequestSubmitted(s)) = &mut current.payload {
            s.set_priority(Priority::Urgent);
        }
        assert_eq!(upcast(current.clone()).unwrap(), current);
        assert_eq!(
            upcast(submitted(SCHEMA_VERSION + 1)),
            Err(UpcastError::Newer {
                found: SCHEMA_VERSION + 1,
                supported: SCHEMA_VERSION
            })
        );
    }

    #[test]
    fn a_reader_of_a_later_version_reads_it_as_written_and_refuses_what_is_newer_still() {
        let later = submitted(SCHEMA_VERSION + 1);
        assert_eq!(
            upcast_reading(later.clone(), SCHEMA_VERSION + 1).unwrap(),
            later
        );
        assert_eq!(
            upcast_reading(submitted(SCHEMA_VERSION + 2), SCHEMA_VERSION + 1),
            Err(UpcastError::Newer {
                found: SCHEMA_VERSION + 2,
                supported: SCHEMA_VERSION + 1
            })
        );
        let old = upcast_reading(submitted(0), SCHEMA_VERSION + 1).unwrap();
        assert_eq!(
            old,
            upcast(submitted(0)).unwrap(),
            "old events mean the same"
        );
    }
}
