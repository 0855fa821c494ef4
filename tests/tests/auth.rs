//! Credentials: with `--tokens-file`, intake accepts a call only with a bearer
//! token granted the agency it claims, and the projection only with a known
//! token, on every RPC of Query, PlacementQuery and Admin (health and
//! reflection stay open); `sy token new` makes such tokens and `sy --token`
//! sends one. The file is re-read on SIGHUP, and one that others may read is
//! refused.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use prost::Message;
use sy_api::pb;
use sy_tests::client::*;
use sy_tests::metrics::{sample, scrape};
use sy_tests::{NatsServer, ServiceBuilder, binary_path, free_port};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::Channel;

fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// `sy token new ARGS`: the token and the tokens-file line it prints.
fn new_token(args: &[&str]) -> anyhow::Result<(String, String)> {
    let output = std::process::Command::new(binary_path("sy"))
        .arg("token")
        .arg("new")
        .args(args)
        .output()?;
    anyhow::ensure!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout)?;
    let value = |prefix: &str| {
        text.lines()
            .find_map(|line| line.split_once(prefix).map(|(_, v)| v.trim().to_string()))
            .ok_or_else(|| anyhow::anyhow!("no {prefix:?} in {text}"))
    };
    Ok((value("shown once): ")?, value("tokens-file line: ")?))
}

#[tokio::test]
async fn a_token_is_its_holder_and_may_not_claim_another_agency() -> anyhow::Result<()> {
    let (unit_token, unit_line) = new_token(&["--agency", AGENCY, "--user", USER])?;
    let (office_token, office_line) =
        new_token(&["--agency", "district-office", "--user", "wang"])?;
    let dir = tempfile::tempdir()?;
    let tokens = dir.path().join("tokens");
    write_tokens(
        &tokens,
        &format!("# agencies' tokens\n{unit_line}\n{office_line}\n"),
    )?;
    assert!(!std::fs::read_to_string(&tokens)?.contains(&unit_token));

    let nats = NatsServer::start().await?;
    let intake = ServiceBuilder::intake(&nats, "AUTH")
        .flag("--tokens-file", tokens.display())
        .start()
        .await?;
    let mut as_unit = intake_client(intake.channel(), AGENCY, USER);
    let mut as_other = intake_client(intake.channel(), "district-housing-bureau", USER);
    let mut as_office = intake_client(intake.channel(), "district-office", "wang");

    let missing = as_unit
        .submit_request(submit_command(&new_key("auth")))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::Unauthenticated, "{missing:?}");
    let unknown = as_unit
        .submit_request(with_token(submit_command(&new_key("auth")), "sy_guess"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::Unauthenticated);
    let foreign = as_other
        .submit_request(with_token(submit_command(&new_key("auth")), &unit_token))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), tonic::Code::PermissionDenied, "{foreign:?}");
    // Claiming another agency than the token's is impersonation, in the
    // security trail with both agencies.
    let log = intake.log();
    assert!(
        log.lines().any(|line| line.contains("call refused")
            && line.contains("reason=impersonation")
            && line.contains("agency=district-housing-bureau")
            && line.contains(&format!("the credential is \\\"{AGENCY}\\\"'s"))),
        "{log}"
    );
    assert!(!log.contains(&unit_token), "{log}");
    let accepted = as_unit
        .submit_request(with_token(submit_command(&new_key("auth")), &unit_token))
        .await?
        .into_inner();
    assert_eq!(accepted.version, 1);
    // The requesting party of a request is its caller.
    let mut command = submit_command(&new_key("auth"));
    command.requester.as_mut().unwrap().agency = AGENCY.into();
    let other_party = as_office
        .submit_request(with_token(command, &office_token))
        .await
        .unwrap_err();
    assert_eq!(other_party.code(), tonic::Code::InvalidArgument);
    assert!(
        other_party.message().contains("requester.agency"),
        "{other_party:?}"
    );
    Ok(())
}

/// Writes a tokens file only its owner may read.
fn write_tokens(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// Sends `authorization: Bearer <token>` when there is a token.
#[derive(Clone)]
struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Every RPC the projection serves, as `Service/Method`.
const PROJECTION_RPCS: &[&str] = &[
    "Query/GetRequest",
    "Query/ListRequests",
    "Query/GetClearanceBoard",
    "Query/GetRequestHistory",
    "Query/WatchRequests",
    "Query/GetProjectionStatus",
    "Query/ListQuarantined",
    "Query/GetDoubleList",
    "PlacementQuery/GetPerson",
    "PlacementQuery/GetPersonUnmasked",
    "PlacementQuery/ListPlacements",
    "PlacementQuery/GetPlacementStats",
    "PlacementQuery/GetStation",
    "PlacementQuery/ListStations",
    "Admin/Rebuild",
];

/// Calls `rpc` on the projection with `token` (if any) and an otherwise
/// valid request about `request_id`.
async fn call(
    channel: Channel,
    rpc: &str,
    token: Option<&str>,
    request_id: &str,
) -> Result<(), tonic::Status> {
    let bearer = Bearer(token.map(|t| format!("Bearer {t}").parse().unwrap()));
    let mut query =
        pb::query_client::QueryClient::with_interceptor(channel.clone(), bearer.clone());
    let mut placements = pb::placement_query_client::PlacementQueryClient::with_interceptor(
        channel.clone(),
        bearer.clone(),
    );
    let mut admin = pb::admin_client::AdminClient::with_interceptor(channel, bearer);
    let id = request_id.to_string();
    let person = "p-0000000000000000000000000000000".to_string();
    match rpc {
        "Query/GetRequest" => query
            .get_request(pb::GetRequestRequest {
                id,
                min_position: 0,
            })
            .await
            .map(drop),
        "Query/ListRequests" => query
            .list_requests(pb::ListRequestsRequest::default())
            .await
            .map(drop),
        "Query/GetClearanceBoard" => query
            .get_clearance_board(pb::GetClearanceBoardRequest::default())
            .await
            .map(drop),
        "Query/GetRequestHistory" => query
            .get_request_history(pb::GetRequestHistoryRequest { id })
            .await
            .map(drop),
        "Query/WatchRequests" => query
            .watch_requests(pb::WatchRequestsRequest { after_position: 0 })
            .await
            .map(drop),
        "Query/GetProjectionStatus" => query
            .get_projection_status(pb::GetProjectionStatusRequest::default())
            .await
            .map(drop),
        "Query/ListQuarantined" => query
            .list_quarantined(pb::ListQuarantinedRequest {
                after_position: 0,
                limit: 10,
            })
            .await
            .map(drop),
        "Query/GetDoubleList" => query
            .get_double_list(pb::GetDoubleListRequest {
                year: 2026,
                direction: pb::Direction::MilitaryToLocal as i32,
                ..Default::default()
            })
            .await
            .map(drop),
        "PlacementQuery/GetPerson" => placements
            .get_person(pb::GetPersonRequest {
                id: person,
                min_position: 0,
            })
            .await
            .map(drop),
        "PlacementQuery/GetPersonUnmasked" => placements
            .get_person_unmasked(pb::GetPersonUnmaskedRequest {
                person_id: person.clone(),
                purpose: "legal-obligation".into(),
                note: String::new(),
            })
            .await
            .map(drop),
        "PlacementQuery/ListPlacements" => placements
            .list_placements(pb::ListPlacementsRequest::default())
            .await
            .map(drop),
        "PlacementQuery/GetPlacementStats" => placements
            .get_placement_stats(pb::GetPlacementStatsRequest {
                area_code: "500106".into(),
                year: 2026,
                min_position: 0,
            })
            .await
            .map(drop),
        "PlacementQuery/GetStation" => placements
            .get_station(pb::GetStationRequest {
                id: person,
                min_position: 0,
            })
            .await
            .map(drop),
        "PlacementQuery/ListStations" => placements
            .list_stations(pb::ListStationsRequest {
                area_code: "500106".into(),
                page_size: 10,
                ..Default::default()
            })
            .await
            .map(drop),
        "Admin/Rebuild" => admin.rebuild(pb::RebuildRequest {}).await.map(drop),
        other => panic!("no call for {other}"),
    }
}

#[test]
fn the_table_lists_every_rpc_the_projection_serves() {
    let descriptors = prost_types::FileDescriptorSet::decode(sy_api::FILE_DESCRIPTOR_SET).unwrap();
    let served: BTreeSet<String> = descriptors
        .file
        .iter()
        .flat_map(|file| &file.service)
        .filter(|service| matches!(service.name(), "Query" | "PlacementQuery" | "Admin"))
        .flat_map(|service| {
            service
                .method
                .iter()
                .map(move |method| format!("{}/{}", service.name(), method.name()))
        })
        .collect();
    let listed: BTreeSet<String> = PROJECTION_RPCS.iter().map(|s| s.to_string()).collect();
    assert_eq!(served, listed);
}

#[tokio::test]
async fn the_projection_authenticates_every_call_and_reloads_on_sighup() -> anyhow::Result<()> {
    let (kept_token, kept_line) = new_token(&["--agency", AGENCY, "--user", USER])?;
    let (revoked_token, revoked_line) =
        new_token(&["--agency", "district-office", "--user", "wang"])?;
    let dir = tempfile::tempdir()?;
    let tokens = dir.path().join("tokens");
    write_tokens(&tokens, &format!("{kept_line}\n{revoked_line}\n"))?;

    let nats = NatsServer::start().await?;
    let intake = ServiceBuilder::intake(&nats, "AUTHQ")
        .flag("--tokens-file", tokens.display())
        .start()
        .await?;
    let data = tempfile::tempdir()?;
    let metrics_port = free_port()?;
    let mut projection = ServiceBuilder::projection(&nats, "AUTHQ", data.path())
        .flag("--tokens-file", tokens.display())
        .flag("--metrics-listen", format!("127.0.0.1:{metrics_port}"))
        .start()
        .await?;
    let submitted = intake_client(intake.channel(), AGENCY, USER)
        .submit_request(with_token(submit_command(&new_key("authq")), &kept_token))
        .await?
        .into_inner();

    // Every RPC, without a token and with an unknown one: UNAUTHENTICATED.
    for rpc in PROJECTION_RPCS {
        for token in [None, Some("sy_guess")] {
            let refused = call(projection.channel(), rpc, token, &submitted.aggregate_id)
                .await
                .unwrap_err();
            assert_eq!(
                refused.code(),
                tonic::Code::Unauthenticated,
                "{rpc} with {token:?}: {refused:?}"
            );
        }
    }
    // A known token reads.
    let read = pb::query_client::QueryClient::new(projection.channel())
        .get_request(with_token(
            pb::GetRequestRequest {
                id: submitted.aggregate_id.clone(),
                min_position: submitted.position,
            },
            &kept_token,
        ))
        .await?
        .into_inner();
    assert_eq!(
        read.request.map(|r| r.id),
        Some(submitted.aggregate_id.clone())
    );
    // Health answers without one.
    tonic_health::pb::health_client::HealthClient::new(projection.channel())
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await?;
    // The CLI's reads carry its token.
    for args in [&["status"][..], &["board"], &["requests", "list"]] {
        let with = sy(&projection, args, Some(&kept_token)).await?;
        assert!(with.status.success(), "sy {args:?}: {with:?}");
    }
    let without = sy(&projection, &["status"], None).await?;
    assert!(!without.status.success());
    assert!(String::from_utf8_lossy(&without.stderr).contains("UNAUTHENTICATED"));

    // The refusals are in the security trail, without the tokens.
    let log = projection.log();
    assert!(
        log.contains("call refused") && log.contains("reason=missing_token"),
        "{log}"
    );
    assert!(log.contains("reason=unknown_token"), "{log}");
    assert!(log.contains("/shuangyong.v1.Admin/Rebuild"), "{log}");
    assert!(
        !log.contains("sy_guess") && !log.contains(&kept_token),
        "{log}"
    );

    // Revoke a token: after SIGHUP it no longer works, and the reload is logged.
    let revoked = |channel: Channel| {
        let token = revoked_token.clone();
        async move {
            pb::query_client::QueryClient::new(channel)
                .get_projection_status(with_token(
                    pb::GetProjectionStatusRequest::default(),
                    &token,
                ))
                .await
        }
    };
    revoked(projection.channel()).await?;
    write_tokens(&tokens, &format!("{kept_line}\n"))?;
    let pid = rustix::process::Pid::from_raw(projection.pid().unwrap() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::HUP)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match revoked(projection.channel()).await {
            Err(status) if status.code() == tonic::Code::Unauthenticated => break,
            other => {
                anyhow::ensure!(
                    tokio::time::Instant::now() < deadline,
                    "the revoked token still works: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert!(projection.is_running());
    let log = projection.log();
    assert!(
        log.contains("reloaded") && log.contains("file=\"tokens\"") && log.contains("entries=1"),
        "{log}"
    );
    assert!(!log.contains(&revoked_token), "{log}");
    let metrics = scrape(metrics_port).await?;
    let count = |prefix: &str| sample(&metrics, prefix).unwrap_or_default();
    let refusals = r#"sy_security_refusals_total{service="projection",reason="#;
    assert!(
        count(&format!(r#"{refusals}"missing_token"}}"#)) >= PROJECTION_RPCS.len() as f64,
        "{metrics}"
    );
    assert!(
        count(&format!(r#"{refusals}"unknown_token"}}"#)) >= PROJECTION_RPCS.len() as f64 + 1.0,
        "{metrics}"
    );
    // (At least one: a modification-time check may also have caught it.)
    assert!(
        count(r#"sy_credentials_reloads_total{file="tokens",outcome="ok"}"#) >= 1.0,
        "{metrics}"
    );
    call(
        projection.channel(),
        "Query/ListRequests",
        Some(&kept_token),
        "",
    )
    .await?;
    Ok(())
}

/// `sy ARGS` against `projection`, with the token (`$SY_TOKEN`) when given.
async fn sy(
    projection: &sy_tests::Service,
    args: &[&str],
    token: Option<&str>,
) -> anyhow::Result<std::process::Output> {
    let mut command = tokio::process::Command::new(binary_path("sy"));
    command
        .args(args)
        .args(["--query-url", &projection.endpoint()])
        .env_remove("SY_TOKEN");
    if let Some(token) = token {
        command.env("SY_TOKEN", token);
    }
    Ok(command.output().await?)
}

#[tokio::test]
async fn a_tokens_file_others_may_read_is_refused_at_start() -> anyhow::Result<()> {
    let (_, line) = new_token(&["--agency", "district-office", "--user", "wang"])?;
    let dir = tempfile::tempdir()?;
    let tokens = dir.path().join("tokens");
    write_tokens(&tokens, &format!("{line}\n"))?;
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o640))?;
    let nats = NatsServer::start().await?;
    let data = tempfile::tempdir()?;
    let refused = match ServiceBuilder::projection(&nats, "AUTHP", data.path())
        .flag("--tokens-file", tokens.display())
        .start()
        .await
    {
        Ok(_) => anyhow::bail!("the projection started with a group-readable tokens file"),
        Err(err) => format!("{err:#}"),
    };
    assert!(
        refused.contains("readable by group or others")
            && refused.contains("0640")
            && refused.contains(&tokens.display().to_string()),
        "{refused}"
    );
    Ok(())
}
