//! Who may do what: the roles of the deployment, the one policy file that
//! grants them to agencies, and the one table of which roles each RPC needs.
//!
//! The policy file (TOML, `--policy-file`) lists grants; an agency holds the
//! union of the roles of every grant whose patterns match its code (`*`
//! matches any run of characters, so `unit-*` is every unit):
//!
//! ```toml
//! [[grant]]
//! agencies = ["unit-*"]
//! roles = ["requester", "reader-own"]
//!
//! [[grant]]
//! agencies = ["district-office"]
//! roles = ["requester", "coordinator", "reader"]
//! ```
//!
//! [`required_roles`] is checked for every call before it reaches its
//! service: deny by default, so a method missing from the table (one added
//! later) is refused to everyone until it is given roles here. The checks
//! that depend on the data (a department acts only on the requests assigned
//! to it, a requester closes only its own, a station operator changes only
//! its own stations, a scoped reader reads only its agency's requests) are
//! made where the data is, by the services, through [`Grant`].

use std::collections::BTreeSet;
use std::fmt;

use globset::{Glob, GlobMatcher};
use serde::Deserialize;

/// A role of the policy file; see the README's role table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Submits requests, and closes (销号) and reopens its own.
    Requester,
    /// The coordinating office (区双拥办): assigns, reassigns, rejects and
    /// breaks requests down into sub-tasks.
    Coordinator,
    /// A responsible department: starts, records progress on, resolves and
    /// declines (rejects) the requests assigned to it, and completes the
    /// sub-tasks given to it.
    Department,
    /// The supervision office (督查室): escalates, changes due dates,
    /// breaks requests down into sub-tasks and records inspections (督查).
    Supervisor,
    /// The veterans bureau: the person registry, veteran resettlement and
    /// spouse placement.
    Resettlement,
    /// The education committee: school enrollment of military children.
    Enrollment,
    /// Civil affairs: allowance grants, payments and stops.
    Allowance,
    /// A care station operator: opens stations and runs its own.
    StationOperator,
    /// Reads every request, person view (masked), placement and station.
    Reader,
    /// Reads only the requests its agency raised, was assigned or was given
    /// a sub-task of.
    ReaderOwn,
    /// Request histories, the projection's status and the quarantine.
    Auditor,
    /// Rebuilds read models; manages webhook subscriptions.
    Admin,
    /// The personal-information protection officer (个人信息保护负责人):
    /// erases a person's data and places or releases legal holds.
    PrivacyOfficer,
    /// Reads a person's unmasked data with a purpose; each read is recorded
    /// in the access log.
    PersonalData,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 14] = [
        Role::Requester,
        Role::Coordinator,
        Role::Department,
        Role::Supervisor,
        Role::Resettlement,
        Role::Enrollment,
        Role::Allowance,
        Role::StationOperator,
        Role::Reader,
        Role::ReaderOwn,
        Role::Auditor,
        Role::Admin,
        Role::PrivacyOfficer,
        Role::PersonalData,
    ];

    /// The role's name in the policy file and in refusals.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Coordinator => "coordinator",
            Role::Department => "department",
            Role::Supervisor => "supervisor",
            Role::Resettlement => "resettlement",
            Role::Enrollment => "enrollment",
            Role::Allowance => "allowance",
            Role::StationOperator => "station-operator",
            Role::Reader => "reader",
            Role::ReaderOwn => "reader-own",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::PrivacyOfficer => "privacy-officer",
            Role::PersonalData => "personal-data",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a caller may do: everything (development mode, no policy file), or
/// the roles the policy grants its agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Development mode: every role, and no data-scoped checks.
    Everything,
    /// The roles the policy grants.
    Roles(BTreeSet<Role>),
}

impl Grant {
    /// Whether the grant holds `role`.
    pub fn has(&self, role: Role) -> bool {
        match self {
            Grant::Everything => true,
            Grant::Roles(roles) => roles.contains(&role),
        }
    }

    /// Whether the data-scoped checks apply (they do not in development mode).
    pub fn is_scoped(&self) -> bool {
        matches!(self, Grant::Roles(_))
    }

    /// `PERMISSION_DENIED` naming `role` unless the grant holds it.
    pub fn require(&self, role: Role, action: &str) -> Result<(), tonic::Status> {
        if self.has(role) {
            return Ok(());
        }
        Err(missing_role(&[role], action))
    }
}

/// `PERMISSION_DENIED`: `action` needs one of `roles`.
pub fn missing_role(roles: &[Role], action: &str) -> tonic::Status {
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    let needed = match names.as_slice() {
        [] => "a role no one holds (the method is not in the policy table)".to_string(),
        [one] => format!("role {one}"),
        many => format!("one of the roles {}", many.join(", ")),
    };
    tonic::Status::permission_denied(format!("{action} requires {needed}"))
}

/// One `[[grant]]` of the policy file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantEntry {
    agencies: Vec<String>,
    roles: Vec<Role>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    grant: Vec<GrantEntry>,
}

/// The roles of a deployment's agencies, as the policy file grants them.
#[derive(Debug, Clone)]
pub struct Policy {
    grants: Vec<(Vec<GlobMatcher>, BTreeSet<Role>)>,
}

impl Policy {
    /// Parses a policy file's text; the error names what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let mut grants = Vec::with_capacity(file.grant.len());
        for (n, entry) in file.grant.into_iter().enumerate() {
            if entry.agencies.is_empty() || entry.roles.is_empty() {
                return Err(format!(
                    "grant {}: needs at least one agency and one role",
                    n + 1
                ));
            }
            let matchers = entry
                .agencies
                .iter()
                .map(|pattern| {
                    Glob::new(pattern)
                        .map(|glob| glob.compile_matcher())
                        .map_err(|e| format!("grant {}: agency pattern {pattern:?}: {e}", n + 1))
                })
                .collect::<Result<_, _>>()?;
            grants.push((matchers, entry.roles.into_iter().collect()));
        }
        Ok(Self { grants })
    }

    /// The roles `agency` holds.
    pub fn grant(&self, agency: &str) -> Grant {
        let roles = self
            .grants
            .iter()
            .filter(|(patterns, _)| patterns.iter().any(|p| p.is_match(agency)))
            .flat_map(|(_, roles)| roles.iter().copied())
            .collect();
        Grant::Roles(roles)
    }

    /// Number of grants.
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    /// Whether the policy grants nothing.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }
}

impl crate::reload::FromFile for Policy {
    const WHAT: &'static str = "policy";

    fn parse_text(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }

    fn count(&self) -> usize {
        self.len()
    }
}

/// Who may call what: `(service, methods, roles)`; a caller needs one of
/// the roles. Paths are `/<package>.<Service>/<Method>`.
const TABLE: &[(&str, &[&str], &[Role])] = &[
    (
        "Intake",
        &[
            "SubmitRequest",
            "SubmitRequests",
            "CloseRequest",
            "ReopenRequest",
        ],
        &[Role::Requester],
    ),
    ("Intake", &["AssignRequest"], &[Role::Coordinator]),
    // The office screens requests out; a department declines one assigned to it.
    (
        "Intake",
        &["RejectRequest"],
        &[Role::Coordinator, Role::Department],
    ),
    (
        "Intake",
        &["StartRequest", "RecordProgress", "ResolveRequest"],
        &[Role::Department],
    ),
    (
        "Intake",
        &["EscalateRequest", "ChangeDueDate", "RecordInspection"],
        &[Role::Supervisor],
    ),
    // The coordinating office and the supervision office (督查室细化任务
    // 分解) break a request down; a sub-task's department completes it.
    (
        "Intake",
        &["AddSubTask"],
        &[Role::Coordinator, Role::Supervisor],
    ),
    ("Intake", &["CompleteSubTask"], &[Role::Department]),
    // The coordinating office drafts and publishes the yearly double list.
    (
        "Intake",
        &[
            "AddDoubleListItem",
            "RemoveDoubleListItem",
            "PublishDoubleList",
        ],
        &[Role::Coordinator],
    ),
    (
        "Placements",
        &["ErasePerson", "PlaceLegalHold", "ReleaseLegalHold"],
        &[Role::PrivacyOfficer],
    ),
    (
        "Placements",
        &["RegisterPerson"],
        &[Role::Resettlement, Role::Enrollment, Role::Allowance],
    ),
    (
        "Placements",
        &[
            "RecordTraining",
            "RecordCertificate",
            "MatchPlacement",
            "PutOnDuty",
            "RecommendToTalentPool",
        ],
        &[Role::Resettlement],
    ),
    // The programme of the placement decides which of the two (intake checks it).
    (
        "Placements",
        &["RegisterPlacement", "DeclinePlacement", "WithdrawPlacement"],
        &[Role::Resettlement, Role::Enrollment],
    ),
    (
        "Placements",
        &[
            "AcceptSchoolRequest",
            "DeclineSchoolRequest",
            "EnrollInSchool",
        ],
        &[Role::Enrollment],
    ),
    (
        "Placements",
        &["GrantAllowance", "PayAllowance", "StopAllowance"],
        &[Role::Allowance],
    ),
    (
        "Placements",
        &[
            "OpenStation",
            "ChangeStationSeats",
            "EnrollChild",
            "WithdrawChild",
        ],
        &[Role::StationOperator],
    ),
    (
        "Query",
        &[
            "GetRequest",
            "ListRequests",
            "WatchRequests",
            "GetRequestHistory",
        ],
        &[Role::Reader, Role::ReaderOwn, Role::Auditor],
    ),
    (
        "Query",
        &["GetClearanceBoard"],
        &[
            Role::Reader,
            Role::ReaderOwn,
            Role::Supervisor,
            Role::Auditor,
        ],
    ),
    (
        "Query",
        &["GetProjectionStatus"],
        &[Role::Auditor, Role::Admin],
    ),
    ("Query", &["ListQuarantined"], &[Role::Auditor]),
    // The list names requests of every agency: not for scoped readers.
    (
        "Query",
        &["GetDoubleList"],
        &[
            Role::Reader,
            Role::Coordinator,
            Role::Supervisor,
            Role::Auditor,
        ],
    ),
    (
        "PlacementQuery",
        &[
            "GetPerson",
            "ListPlacements",
            "GetPlacementStats",
            "GetStation",
            "ListStations",
        ],
        &[
            Role::Reader,
            Role::Resettlement,
            Role::Enrollment,
            Role::Allowance,
            Role::StationOperator,
            Role::Auditor,
        ],
    ),
    // Unmasked data: its own role, never implied by reader or auditor; the
    // service records every read in the access log.
    (
        "PlacementQuery",
        &["GetPersonUnmasked"],
        &[Role::PersonalData],
    ),
    ("Admin", &["Rebuild"], &[Role::Admin]),
    // Webhook subscriptions of any agency, and their dead letters.
    (
        "Intake",
        &["SubscribeWebhook", "UnsubscribeWebhook"],
        &[Role::Admin],
    ),
    (
        "Notifications",
        &["ListDeadLetters", "ReplayDeadLetters"],
        &[Role::Admin],
    ),
    // Every agency told of requests watches its own notifications (the
    // service checks whose); an auditor watches any agency's.
    (
        "Notifications",
        &["Watch"],
        &[
            Role::Requester,
            Role::Coordinator,
            Role::Department,
            Role::Supervisor,
            Role::Reader,
            Role::ReaderOwn,
            Role::Auditor,
        ],
    ),
];

/// The gRPC package every service of the table is in.
const PACKAGE: &str = "shuangyong.v1";

/// The roles a call of `path` needs (one of them); empty for a path no role
/// may call (unknown methods: deny by default).
pub fn required_roles(path: &str) -> &'static [Role] {
    let Some((service, method)) = path
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(PACKAGE))
        .and_then(|p| p.strip_prefix('.'))
        .and_then(|p| p.split_once('/'))
    else {
        return &[];
    };
    TABLE
        .iter()
        .find(|(s, methods, _)| *s == service && methods.contains(&method))
        .map_or(&[], |(_, _, roles)| *roles)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn every_method_of_every_service_has_roles() {
        let set = prost_types::FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).unwrap();
        let mut methods = 0;
        for file in set.file {
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                    assert!(!required_roles(&path).is_empty(), "{path} has no roles");
                    methods += 1;
                }
            }
        }
        assert!(methods > 40, "{methods} methods");
        assert!(required_roles("/shuangyong.v1.Intake/Nope").is_empty());
        assert!(required_roles("/other.v1.Intake/SubmitRequest").is_empty());
        assert!(required_roles("/").is_empty());
    }

    #[test]
    fn patterns_grant_the_union_of_roles() {
        let policy = Policy::parse(
            r#"
            [[grant]]
            agencies = ["unit-*"]
            roles = ["requester", "reader-own"]

            [[grant]]
            agencies = ["unit-31001", "district-office"]
            roles = ["coordinator"]
            "#,
        )
        .unwrap();
        let unit = policy.grant("unit-31001");
        assert!(unit.has(Role::Requester) && unit.has(Role::Coordinator));
        assert!(!unit.has(Role::Reader));
        assert!(unit.is_scoped());
        let office = policy.grant("district-office");
        assert_eq!(office, Grant::Roles([Role::Coordinator].into()));
        assert_eq!(policy.grant("stranger"), Grant::Roles(BTreeSet::new()));
        assert!(!Grant::Everything.is_scoped() && Grant::Everything.has(Role::Admin));
    }

    #[test]
    fn only_the_personal_data_role_reads_unmasked_data() {
        assert_eq!(
            required_roles("/shuangyong.v1.PlacementQuery/GetPersonUnmasked"),
            [Role::PersonalData]
        );
        assert!(
            !required_roles("/shuangyong.v1.PlacementQuery/GetPerson")
                .contains(&Role::PersonalData)
        );
        let policy =
            Policy::parse("[[grant]]\nagencies = [\"bureau\"]\nroles = [\"personal-data\"]\n")
                .unwrap();
        assert!(policy.grant("bureau").has(Role::PersonalData));
        assert_eq!(Role::PersonalData.to_string(), "personal-data");
        assert!(Role::ALL.contains(&Role::PersonalData));
    }

    #[test]
    fn a_bad_policy_says_what_is_wrong() {
        let unknown = Policy::parse("[[grant]]\nagencies = [\"a\"]\nroles = [\"king\"]\n");
        assert!(unknown.unwrap_err().contains("king"));
        let empty = Policy::parse("[[grant]]\nagencies = []\nroles = [\"reader\"]\n");
        assert!(empty.unwrap_err().contains("grant 1"));
        let typo = Policy::parse("[[grants]]\n");
        assert!(typo.is_err());
        assert!(Policy::parse("").unwrap().is_empty());
    }

    #[test]
    fn refusals_name_the_missing_role() {
        let status = Grant::Roles(BTreeSet::new()).require(Role::Admin, "Rebuild");
        let status = status.unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert_eq!(status.message(), "Rebuild requires role admin");
        let many = missing_role(&[Role::Reader, Role::Auditor], "GetRequest");
        assert!(many.message().contains("one of the roles reader, auditor"));
    }
}
