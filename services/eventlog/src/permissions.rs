//! Who may do what on NATS: the subjects each kind of client of the event
//! log needs, as nats-server permissions, so that only intake can append to
//! the stream. The event log's own calls ([`crate::EventLog`]) decide the
//! list, so it lives beside them; `sy setup` writes it into the server's
//! configuration and the tests run the real server with it.
//!
//! The subjects were found against nats-server 2.9 with async-nats 0.51:
//! appends publish on `sy.evt.>` (replies on `_INBOX.>`); `read_subject` is
//! `STREAM.MSG.GET` (or `DIRECT.GET` when the stream allows direct reads);
//! `tail` and `range` create an ordered pull consumer (`CONSUMER.CREATE`,
//! recreated on gaps, then `CONSUMER.MSG.NEXT`); everyone asks
//! `STREAM.INFO`. Intake tails the stream too: its supervision clocks
//! follow every request into their index. Nothing else is allowed: no
//! anonymous user, no one may delete, purge or reconfigure another stream,
//! and readers may not publish on `sy.evt.>`.
//!
//! The key store ([`crate::keystore`], stream `<stream>_KEYS`): intake
//! creates it, writes keys and tombstones on `sy.key.>` and erases keys
//! (`STREAM.MSG.DELETE`); the projection reads single keys
//! (`STREAM.MSG.GET`, `STREAM.INFO` for the KEK canaries); auditors may not
//! touch it at all.
//!
//! The access log ([`crate::access`], stream `<stream>_ACCESS`): the
//! projection creates it and appends a record on `sy.access.>` for every
//! unmasked read it serves; auditors read it (`sy access`: `STREAM.MSG.GET`
//! by subject, or an ordered consumer); intake may not touch it.
//!
//! Backups ([`crate::snapshot`], `sy backup` and `sy restore`): no service
//! user may read all three streams, by design (auditors never see keys,
//! intake never reads the access log), so `backup` is a user of its own
//! that may read the three (stream info and ordered consumers) and nothing
//! else: a backup job that runs every night holds no power to write. A
//! restore writes every stream, so `restore` may create the three streams,
//! publish on their subjects and delete messages (the fillers of gaps)
//! there; it cannot purge. It is needed only on the day of a restore into
//! an empty server: keep its password offline, like the CA's key.

use std::fmt::Write as _;

/// A kind of NATS client of the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatsRole {
    /// Intake: creates the stream and appends events to it.
    Intake,
    /// The projection: reads the stream (tails it, loads aggregates) and
    /// appends to the access log.
    Projection,
    /// An auditor (`sy export`, `verify`, `history`, `access`): reads the
    /// stream and the access log.
    Auditor,
    /// `sy backup`: reads the stream, its key store and its access log.
    Backup,
    /// `sy restore`: recreates the three streams and republishes them.
    Restore,
}

impl NatsRole {
    /// Every role, in the order a configuration lists them.
    pub const ALL: [NatsRole; 5] = [
        Self::Intake,
        Self::Projection,
        Self::Auditor,
        Self::Backup,
        Self::Restore,
    ];

    /// The NATS user name of the role.
    pub fn user(self) -> &'static str {
        match self {
            Self::Intake => "intake",
            Self::Projection => "projection",
            Self::Auditor => "auditor",
            Self::Backup => "backup",
            Self::Restore => "restore",
        }
    }

    /// The subjects the role may publish to, for the stream `stream`.
    pub fn publish(self, stream: &str) -> Vec<String> {
        let reads = [
            "$JS.API.INFO".to_string(),
            format!("$JS.API.STREAM.INFO.{stream}"),
            format!("$JS.API.STREAM.MSG.GET.{stream}"),
            format!("$JS.API.DIRECT.GET.{stream}"),
            format!("$JS.API.DIRECT.GET.{stream}.>"),
        ];
        let consume = [
            format!("$JS.API.CONSUMER.CREATE.{stream}"),
            format!("$JS.API.CONSUMER.CREATE.{stream}.>"),
            format!("$JS.API.CONSUMER.INFO.{stream}.>"),
            format!("$JS.API.CONSUMER.DELETE.{stream}.>"),
            format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.>"),
        ];
        let keys = crate::keystore::stream_name(stream);
        let key_reads = [
            format!("$JS.API.STREAM.INFO.{keys}"),
            format!("$JS.API.STREAM.MSG.GET.{keys}"),
        ];
        let access = crate::access::stream_name(stream);
        let access_writes = [
            crate::access::ACCESS_SUBJECTS.to_string(),
            format!("$JS.API.STREAM.CREATE.{access}"),
            format!("$JS.API.STREAM.INFO.{access}"),
        ];
        let access_reads = [
            format!("$JS.API.STREAM.INFO.{access}"),
            format!("$JS.API.STREAM.MSG.GET.{access}"),
            format!("$JS.API.CONSUMER.CREATE.{access}"),
            format!("$JS.API.CONSUMER.CREATE.{access}.>"),
            format!("$JS.API.CONSUMER.INFO.{access}.>"),
            format!("$JS.API.CONSUMER.DELETE.{access}.>"),
            format!("$JS.API.CONSUMER.MSG.NEXT.{access}.>"),
        ];
        match self {
            // `consume`: the supervision clocks tail the stream. Without
            // it the server drops their consumer's creation (a publish
            // violation the client only sees as a timeout) and the clocks
            // never run.
            Self::Intake => [
                crate::STREAM_SUBJECTS.to_string(),
                format!("$JS.API.STREAM.CREATE.{stream}"),
                format!("$JS.API.STREAM.UPDATE.{stream}"),
                crate::keystore::KEY_SUBJECTS.to_string(),
                format!("$JS.API.STREAM.CREATE.{keys}"),
                format!("$JS.API.STREAM.MSG.DELETE.{keys}"),
            ]
            .into_iter()
            .chain(reads)
            .chain(consume)
            .chain(key_reads)
            .collect(),
            Self::Projection => reads
                .into_iter()
                .chain(consume)
                .chain(key_reads)
                .chain(access_writes)
                .collect(),
            Self::Auditor => reads
                .into_iter()
                .chain(consume)
                .chain(access_reads)
                .collect(),
            Self::Backup => [stream.to_string(), keys, access]
                .iter()
                .flat_map(|name| copy_reads(name))
                .chain(["$JS.API.INFO".to_string()])
                .collect(),
            Self::Restore => [
                (stream.to_string(), crate::STREAM_SUBJECTS),
                (keys, crate::keystore::KEY_SUBJECTS),
                (access, crate::access::ACCESS_SUBJECTS),
            ]
            .iter()
            .flat_map(|(name, subjects)| {
                let mut allowed = copy_reads(name);
                allowed.extend([
                    subjects.to_string(),
                    format!("$JS.API.STREAM.CREATE.{name}"),
                    format!("$JS.API.STREAM.UPDATE.{name}"),
                    format!("$JS.API.STREAM.MSG.DELETE.{name}"),
                ]);
                allowed
            })
            .chain(["$JS.API.INFO".to_string()])
            .collect(),
        }
    }

    /// The subjects the role may subscribe to: replies only.
    pub fn subscribe(self) -> Vec<String> {
        vec!["_INBOX.>".to_string()]
    }
}

/// What reading a whole stream takes ([`crate::snapshot`]): its info and
/// an ordered consumer.
fn copy_reads(stream: &str) -> Vec<String> {
    vec![
        format!("$JS.API.STREAM.INFO.{stream}"),
        format!("$JS.API.CONSUMER.CREATE.{stream}"),
        format!("$JS.API.CONSUMER.CREATE.{stream}.>"),
        format!("$JS.API.CONSUMER.INFO.{stream}.>"),
        format!("$JS.API.CONSUMER.DELETE.{stream}.>"),
        format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.>"),
    ]
}

/// A user of the server's configuration: its role and its password as the
/// server stores it (a bcrypt hash, `$2a$...`/`$2b$...`, or the password
/// itself in a test).
#[derive(Debug, Clone)]
pub struct ConfUser {
    /// What the user may do.
    pub role: NatsRole,
    /// The stored password (a bcrypt hash in deployments).
    pub password: String,
}

/// An nats-server `authorization` block (for `include`) listing `users`
/// with their permissions on `stream`. Without `no_auth_user`, so a client
/// without a user is refused.
pub fn authorization_conf(users: &[ConfUser], stream: &str) -> String {
    let list = |subjects: Vec<String>| {
        subjects
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut conf = String::from(
        "# NATS users of shuangyong and what each may do (written by `sy setup`).\n\
         # Only intake may publish events (and restore, on the day of a restore); readers only read.\n\
         authorization {\n  users = [\n",
    );
    for user in users {
        // Writing to a String cannot fail.
        let _ = write!(
            conf,
            "    {{\n      user: {user:?}\n      password: {password:?}\n      permissions: {{\n        \
             publish: {{ allow: [{publish}] }}\n        subscribe: {{ allow: [{subscribe}] }}\n      \
             }}\n    }}\n",
            user = user.role.user(),
            password = user.password,
            publish = list(user.role.publish(stream)),
            subscribe = list(user.role.subscribe()),
        );
    }
    conf.push_str("  ]\n}\n");
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_intake_may_publish_events() {
        let intake = NatsRole::Intake.publish("S");
        assert!(intake.contains(&"sy.evt.>".to_string()));
        for follow in [
            "$JS.API.CONSUMER.CREATE.S.>",
            "$JS.API.CONSUMER.MSG.NEXT.S.>",
        ] {
            assert!(
                intake.contains(&follow.to_string()),
                "its clocks follow the log: {intake:?}"
            );
        }
        for reader in [NatsRole::Projection, NatsRole::Auditor, NatsRole::Backup] {
            let publish = reader.publish("S");
            assert!(
                publish.iter().all(|s| !s.starts_with("sy.evt.")),
                "{publish:?}"
            );
            assert!(
                publish.iter().all(|s| !s.starts_with("sy.key.")),
                "{publish:?}"
            );
            assert!(
                publish
                    .iter()
                    .all(|s| !s.contains("STREAM.CREATE") || s.ends_with(".S_ACCESS")),
                "{publish:?}"
            );
            assert!(publish.iter().all(|s| !s.contains("MSG.DELETE")));
            assert!(publish.iter().all(|s| !s.contains("PURGE")));
        }
    }

    #[test]
    fn the_projection_records_accesses_auditors_read_them_intake_cannot_touch_them() {
        let projection = NatsRole::Projection.publish("S");
        for allowed in [
            "sy.access.>",
            "$JS.API.STREAM.CREATE.S_ACCESS",
            "$JS.API.STREAM.INFO.S_ACCESS",
        ] {
            assert!(projection.contains(&allowed.to_string()), "{projection:?}");
        }
        assert!(
            projection
                .iter()
                .all(|s| !s.contains("S_ACCESS") || !s.contains("CONSUMER")),
            "the projection writes the access log, it does not read it: {projection:?}"
        );
        let auditor = NatsRole::Auditor.publish("S");
        for allowed in [
            "$JS.API.STREAM.INFO.S_ACCESS",
            "$JS.API.STREAM.MSG.GET.S_ACCESS",
            "$JS.API.CONSUMER.CREATE.S_ACCESS.>",
            "$JS.API.CONSUMER.MSG.NEXT.S_ACCESS.>",
            "$JS.API.CONSUMER.DELETE.S_ACCESS.>",
        ] {
            assert!(auditor.contains(&allowed.to_string()), "{auditor:?}");
        }
        assert!(auditor.iter().all(|s| !s.starts_with("sy.")), "{auditor:?}");
        assert!(auditor.iter().all(|s| !s.contains("STREAM.CREATE")));
        let intake = NatsRole::Intake.publish("S");
        assert!(
            intake
                .iter()
                .all(|s| !s.contains("S_ACCESS") && !s.starts_with("sy.access")),
            "{intake:?}"
        );
    }

    #[test]
    fn intake_tails_its_stream_for_the_clocks_and_no_other() {
        let intake = NatsRole::Intake.publish("S");
        for allowed in [
            "$JS.API.CONSUMER.CREATE.S",
            "$JS.API.CONSUMER.CREATE.S.>",
            "$JS.API.CONSUMER.MSG.NEXT.S.>",
            "$JS.API.CONSUMER.DELETE.S.>",
        ] {
            assert!(intake.contains(&allowed.to_string()), "{intake:?}");
        }
        assert!(
            intake
                .iter()
                .filter(|s| s.contains("CONSUMER"))
                .all(|s| !s.contains("S_KEYS") && !s.contains("S_ACCESS")),
            "{intake:?}"
        );
    }

    #[test]
    fn only_intake_writes_keys_and_auditors_cannot_read_them() {
        assert!(
            NatsRole::Intake
                .publish("S")
                .contains(&"sy.key.>".to_string())
        );
        assert!(
            NatsRole::Projection
                .publish("S")
                .contains(&"$JS.API.STREAM.MSG.GET.S_KEYS".to_string())
        );
        let auditor = NatsRole::Auditor.publish("S");
        assert!(auditor.iter().all(|s| !s.contains("S_KEYS")), "{auditor:?}");
    }

    #[test]
    fn backup_reads_all_three_streams_and_writes_nothing_restore_cannot_purge() {
        let backup = NatsRole::Backup.publish("S");
        for stream in ["S", "S_KEYS", "S_ACCESS"] {
            for allowed in [
                format!("$JS.API.STREAM.INFO.{stream}"),
                format!("$JS.API.CONSUMER.CREATE.{stream}.>"),
                format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.>"),
            ] {
                assert!(backup.contains(&allowed), "{allowed}: {backup:?}");
            }
        }
        assert!(
            backup.iter().all(|s| s.starts_with("$JS.API.")
                && !s.contains("STREAM.CREATE")
                && !s.contains("STREAM.UPDATE")
                && !s.contains("MSG.DELETE")
                && !s.contains("STREAM.DELETE")
                && !s.contains("PURGE")),
            "{backup:?}"
        );
        let restore = NatsRole::Restore.publish("S");
        for allowed in [
            "sy.evt.>",
            "sy.key.>",
            "sy.access.>",
            "$JS.API.STREAM.CREATE.S_KEYS",
            "$JS.API.STREAM.MSG.DELETE.S",
        ] {
            assert!(restore.contains(&allowed.to_string()), "{restore:?}");
        }
        assert!(restore.iter().all(|s| !s.contains("PURGE")));
        assert!(
            restore.iter().all(|s| !s.contains("STREAM.DELETE")),
            "a restore never deletes a stream: {restore:?}"
        );
    }

    #[test]
    fn the_conf_lists_every_user_with_its_permissions() {
        let users: Vec<ConfUser> = NatsRole::ALL
            .iter()
            .map(|&role| ConfUser {
                role,
                password: format!("hash-{}", role.user()),
            })
            .collect();
        let conf = authorization_conf(&users, "SHUANGYONG");
        for role in NatsRole::ALL {
            assert!(
                conf.contains(&format!("user: \"{}\"", role.user())),
                "{conf}"
            );
        }
        assert!(
            conf.contains("\"$JS.API.STREAM.CREATE.SHUANGYONG\""),
            "{conf}"
        );
        assert!(!conf.contains("no_auth_user"));
    }
}
