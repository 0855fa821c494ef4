//! Which requests a caller may read. A reader (or an auditor) reads them all;
//! an agency holding only `reader-own` reads the requests it raised, that
//! were assigned to it or that gave it a sub-task (it must see the request
//! it does a part of), and nothing else: a refused read is
//! `PERMISSION_DENIED`, a watch skips the others' changes. Development mode
//! (no policy) reads everything.

use sy_api::identity::Principal;
use sy_api::policy::Role;
use sy_domain::pb;
use tonic::{Request, Status};

use crate::read_model::ReadModel;

/// The requests one caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadScope {
    /// Every request.
    All,
    /// Those this agency raised, was assigned or was given a sub-task of.
    Agency(String),
}

impl ReadScope {
    /// The scope of the call's principal.
    pub(crate) fn of<T>(request: &Request<T>) -> Result<Self, Status> {
        let principal = Principal::of(request)?;
        let grant = &principal.grant;
        if grant.has(Role::Reader) || grant.has(Role::Auditor) {
            return Ok(Self::All);
        }
        Ok(Self::Agency(principal.agency.clone()))
    }

    /// Whether the scope includes `request`.
    pub(crate) fn permits(&self, request: &pb::Request) -> bool {
        match self {
            Self::All => true,
            Self::Agency(agency) => {
                request.department == *agency
                    || request
                        .requester
                        .as_ref()
                        .is_some_and(|r| r.agency == *agency)
                    || request.sub_tasks.iter().any(|t| t.department == *agency)
            }
        }
    }

    /// `PERMISSION_DENIED` unless the scope includes `request`.
    pub(crate) fn check(&self, request: &pb::Request) -> Result<(), Status> {
        match self {
            Self::Agency(agency) if !self.permits(request) => {
                Err(Status::permission_denied(format!(
                    "role {} reads only the requests {agency} raised, was assigned or was \
                     given a sub-task of; request {} is none of these",
                    Role::ReaderOwn,
                    request.id
                )))
            }
            _ => Ok(()),
        }
    }

    /// `PERMISSION_DENIED` unless a list filtered by `department` stays in
    /// the scope: a scoped reader lists the requests assigned to it.
    pub(crate) fn check_list(&self, department: Option<&str>) -> Result<(), Status> {
        match self {
            Self::Agency(agency) if department != Some(agency.as_str()) => {
                Err(Status::permission_denied(format!(
                    "role {} lists only the requests assigned to its agency: set department \
                     to {agency}",
                    Role::ReaderOwn
                )))
            }
            _ => Ok(()),
        }
    }

    /// Whether the scope includes the request `id` (as the read model has it
    /// now); a request the model cannot read is left out.
    pub(crate) fn permits_id(&self, model: &ReadModel, id: &str) -> bool {
        match self {
            Self::All => true,
            Self::Agency(_) => model
                .request_record(id)
                .ok()
                .flatten()
                .is_some_and(|request| self.permits(&request)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(requester: &str, department: &str) -> pb::Request {
        pb::Request {
            id: "r-1".into(),
            requester: Some(pb::RequestingParty {
                agency: requester.into(),
                name: String::new(),
            }),
            department: department.into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_agency_reads_what_it_raised_or_was_assigned() {
        let scope = ReadScope::Agency("unit-1".into());
        assert!(scope.check(&request("unit-1", "")).is_ok());
        assert!(scope.check(&request("unit-2", "unit-1")).is_ok());
        let refused = scope.check(&request("unit-2", "dept-9")).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert!(refused.message().contains("reader-own"), "{refused:?}");
        assert!(scope.check_list(Some("unit-1")).is_ok());
        assert!(scope.check_list(None).is_err());
        let mut broken_down = request("unit-2", "dept-9");
        broken_down.sub_tasks.push(pb::SubTask {
            id: 1,
            department: "unit-1".into(),
            ..Default::default()
        });
        assert!(scope.check(&broken_down).is_ok(), "its sub-task's request");
        assert!(ReadScope::All.check(&request("x", "y")).is_ok());
        assert!(ReadScope::All.check_list(None).is_ok());
    }
}
