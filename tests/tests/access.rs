//! Access control over every RPC of every service, on a deployment as
//! shipped: `sy setup --demo` secrets, NATS with TLS and users, both gRPC
//! servers with TLS, the tokens file and the demo's role policy, no `--dev`.
//!
//! The matrix: for each method (read from the services' descriptors, so a
//! new method is covered the day it is added), a call without a credential,
//! with an unknown token and with a revoked token is `UNAUTHENTICATED`; one
//! by an agency without any of the method's roles is `PERMISSION_DENIED`
//! naming them; one by an agency holding one passes both checks (its empty
//! message may then be invalid). Nothing refused reaches the log. Then the
//! checks that depend on the data: a department acts only on the requests
//! assigned to it, a scoped reader reads only its agency's requests, a client
//! certificate is a credential naming its agency, and a token's holder
//! cannot claim another agency.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use std::time::Duration;

use prost::Message;
use sy_api::identity::token_hash;
use sy_api::pb;
use sy_api::policy::{Policy, required_roles};
use sy_tests::client::*;
use sy_tests::{System, get_request};
use tonic::Code;
use tonic::transport::Channel;

/// Every method of the shuangyong services: its path, whether the server
/// streams, and which server serves it.
fn methods() -> Vec<(String, bool, &'static str)> {
    let set = prost_types::FileDescriptorSet::decode(sy_api::FILE_DESCRIPTOR_SET).unwrap();
    let mut methods = Vec::new();
    for file in &set.file {
        for service in &file.service {
            let server = match service.name() {
                "Intake" | "Placements" => "intake",
                _ => "projection",
            };
            for method in &service.method {
                methods.push((
                    format!("/{}.{}/{}", file.package(), service.name(), method.name()),
                    method.server_streaming(),
                    server,
                ));
            }
        }
    }
    methods
}

/// Calls `path` with an empty message and `authorization` (if any); the
/// status the call ended with (`Ok` for a successful call).
async fn call(channel: Channel, path: &str, streaming: bool, token: Option<&str>) -> Code {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(());
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let path = http::uri::PathAndQuery::try_from(path).unwrap();
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let result = if streaming {
        grpc.server_streaming(request, path, codec).await.map(drop)
    } else {
        grpc.unary(request, path, codec).await.map(drop)
    };
    result.err().map_or(Code::Ok, |status| status.code())
}

/// The demo policy `sy setup --demo` writes.
fn demo_policy(system: &System) -> Policy {
    let secrets = system.nats.secrets().unwrap();
    Policy::parse(&std::fs::read_to_string(secrets.path().join("policy.toml")).unwrap()).unwrap()
}

/// The demo agencies the matrix calls as, the widest grants first (so a
/// scoped reader is not taken for the reader a list needs).
const AGENCIES: &[&str] = &[
    "district-veterans-bureau",
    "district-audit-office",
    "district-data-center",
    "district-supervision-office",
    "district-civil-affairs",
    "district-education-commission",
    "district-housing-bureau",
    "district-privacy-office",
    "unit-31001",
];

#[tokio::test]
async fn every_rpc_refuses_the_unknown_and_the_unentitled_and_admits_its_roles()
-> anyhow::Result<()> {
    let system = System::builder().secured().start().await?;
    let secrets = system.nats.secrets().unwrap();
    let policy = demo_policy(&system);
    let token = |agency: &str| secrets.token(agency).unwrap();

    // A token that works, then is revoked (the file is re-read when it
    // changes, or on SIGHUP).
    let tokens_file = secrets.path().join("tokens");
    let issued = std::fs::read_to_string(&tokens_file)?;
    let revoked = "sy_revoked_matrix_token";
    std::fs::write(
        &tokens_file,
        format!(
            "{issued}{} district-audit-office leaver\n",
            token_hash(revoked)
        ),
    )?;
    for service in [&system.intake, system.projection()] {
        let pid = rustix::process::Pid::from_raw(service.pid().unwrap() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::HUP)?;
    }
    let status = "/shuangyong.v1.Query/GetProjectionStatus";
    eventually(Duration::from_secs(15), "the new token works", || async {
        let code = call(system.projection().channel(), status, false, Some(revoked)).await;
        anyhow::ensure!(code == Code::Ok, "{code:?}");
        Ok(())
    })
    .await?;
    std::fs::write(&tokens_file, &issued)?;
    for service in [&system.intake, system.projection()] {
        let pid = rustix::process::Pid::from_raw(service.pid().unwrap() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::HUP)?;
    }
    for service in [&system.intake, system.projection()] {
        eventually(Duration::from_secs(15), "the token is revoked", || async {
            let path = "/shuangyong.v1.Intake/SubmitRequest";
            let path = if service.label().contains("intake") {
                path
            } else {
                status
            };
            let code = call(service.channel(), path, false, Some(revoked)).await;
            anyhow::ensure!(code == Code::Unauthenticated, "{code:?}");
            Ok(())
        })
        .await?;
    }

    let before = system.nats.last_sequence(system.stream()).await?;
    let methods = methods();
    assert!(methods.len() > 40, "{} methods", methods.len());
    for (path, streaming, server) in &methods {
        let channel = match *server {
            "intake" => system.intake.channel(),
            _ => system.projection().channel(),
        };
        let roles = required_roles(path);
        for (credential, token) in [
            ("none", None),
            ("unknown", Some("sy_never_issued")),
            ("revoked", Some(revoked)),
        ] {
            let code = call(channel.clone(), path, *streaming, token).await;
            assert_eq!(
                code,
                Code::Unauthenticated,
                "{path} with {credential} token"
            );
        }
        let holds = |agency: &&str| roles.iter().any(|role| policy.grant(agency).has(*role));
        let outsider = AGENCIES
            .iter()
            .find(|agency| !holds(agency))
            .unwrap_or_else(|| panic!("every demo agency may call {path}"));
        let code = call(channel.clone(), path, *streaming, Some(&token(outsider))).await;
        assert_eq!(code, Code::PermissionDenied, "{path} as {outsider}");
        let entitled = AGENCIES
            .iter()
            .find(|agency| holds(agency))
            .unwrap_or_else(|| panic!("no demo agency may call {path}"));
        let code = call(channel, path, *streaming, Some(&token(entitled))).await;
        assert!(
            !matches!(code, Code::Unauthenticated | Code::PermissionDenied),
            "{path} as {entitled}: {code:?}"
        );
    }
    // An empty command is invalid, so even the entitled calls wrote nothing;
    // the refused ones never reached intake.
    assert_eq!(system.nats.last_sequence(system.stream()).await?, before);
    Ok(())
}

#[tokio::test]
async fn the_data_decides_who_acts_on_a_request_and_who_reads_it() -> anyhow::Result<()> {
    let system = System::builder().secured().start().await?;
    let unit = system.intake_as(AGENCY, USER);
    let office = system.intake_as("district-veterans-bureau", USER);
    let housing = system.intake_as("district-housing-bureau", USER);
    let health = system.intake_as("district-health-commission", USER);

    // The requesting party is the caller: naming another is refused.
    let mut command = submit_command(&new_key("access"));
    command.requester.as_mut().unwrap().agency = "unit-31002".into();
    let other = unit.clone().submit_request(command).await.unwrap_err();
    assert_eq!(other.code(), Code::InvalidArgument, "{other:?}");
    let submitted = unit
        .clone()
        .submit_request(submit_command(&new_key("access")))
        .await?
        .into_inner();
    let id = submitted.aggregate_id.clone();

    // Only the coordinating office assigns.
    let denied = housing
        .clone()
        .assign_request(assign_command(&id, "district-housing-bureau", 10))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("coordinator"), "{denied:?}");
    office
        .clone()
        .assign_request(assign_command(&id, "district-housing-bureau", 10))
        .await?;

    // Another department may not start it; the assigned one may.
    let foreign = health
        .clone()
        .start_request(start_command(&id))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied, "{foreign:?}");
    assert!(
        foreign
            .message()
            .contains("assigned to district-housing-bureau"),
        "{foreign:?}"
    );
    let started = housing
        .clone()
        .start_request(start_command(&id))
        .await?
        .into_inner();

    // A scoped reader reads the requests its agency raised or was assigned.
    let reader = |agency: &str| {
        pb::query_client::QueryClient::with_interceptor(
            system.projection().channel(),
            system.caller(agency, USER),
        )
    };
    for agency in [AGENCY, "district-housing-bureau"] {
        let read = get_request(&reader(agency), &id, started.position).await?;
        assert_eq!(read.id, id);
    }
    let outsider = reader("district-health-commission")
        .get_request(pb::GetRequestRequest {
            id: id.clone(),
            min_position: started.position,
        })
        .await
        .unwrap_err();
    assert_eq!(outsider.code(), Code::PermissionDenied, "{outsider:?}");
    let unscoped = reader("district-health-commission")
        .list_requests(pb::ListRequestsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(unscoped.code(), Code::PermissionDenied);
    assert!(unscoped.message().contains("department"), "{unscoped:?}");
    let assigned = reader("district-housing-bureau")
        .list_requests(pb::ListRequestsRequest {
            department: "district-housing-bureau".into(),
            min_position: started.position,
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!(assigned.requests.len(), 1);

    // A client certificate of the deployment's CA is a credential of its
    // own: its subject (O = agency, CN = user) is the caller, with the
    // agency's roles.
    let secrets = system.nats.secrets().unwrap();
    let client_dir = secrets
        .path()
        .join("clients")
        .join("district-housing-bureau");
    let cert = sy_tests::KeyedCert {
        cert_pem: std::fs::read_to_string(client_dir.join("client.pem"))?,
        key_pem: std::fs::read_to_string(client_dir.join("client.key"))?,
    };
    let by_certificate =
        pb::query_client::QueryClient::new(system.projection().channel_with_cert(&cert));
    let read = by_certificate
        .clone()
        .get_request(pb::GetRequestRequest {
            id: id.clone(),
            min_position: started.position,
        })
        .await?
        .into_inner();
    assert_eq!(read.request.map(|r| r.id), Some(id.clone()));
    let status = by_certificate
        .clone()
        .get_projection_status(pb::GetProjectionStatusRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // A token's holder cannot claim another agency in the headers.
    let mut impostor = pb::intake_client::IntakeClient::with_interceptor(
        system.intake.channel(),
        system.caller(AGENCY, USER),
    );
    let mut request = tonic::Request::new(start_command(&id));
    request
        .metadata_mut()
        .insert("x-sy-agency", "district-housing-bureau".parse().unwrap());
    let claimed = impostor.start_request(request).await.unwrap_err();
    assert_eq!(claimed.code(), Code::PermissionDenied, "{claimed:?}");
    // The events carry the token's holder as actor.
    let history = reader("district-audit-office")
        .get_request_history(pb::GetRequestHistoryRequest { id })
        .await?
        .into_inner();
    let actors: Vec<String> = history
        .events
        .iter()
        .filter_map(|e| {
            e.envelope
                .as_ref()?
                .actor
                .as_ref()
                .map(|a| a.agency.clone())
        })
        .collect();
    assert_eq!(
        actors,
        [
            AGENCY,
            "district-veterans-bureau",
            "district-housing-bureau"
        ]
    );
    Ok(())
}
