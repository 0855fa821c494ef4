//! Credentials: with `--tokens-file`, intake accepts a call only with a bearer
//! token granted the agency it claims; `sy token new` makes such tokens and
//! `sy --token` sends one.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use sy_tests::client::*;
use sy_tests::{NatsServer, ServiceBuilder, binary_path};

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
async fn tokens_decide_which_agencies_a_caller_may_act_for() -> anyhow::Result<()> {
    let (unit_token, unit_line) = new_token(&["--for", AGENCY])?;
    let (office_token, office_line) = new_token(&["--all"])?;
    let dir = tempfile::tempdir()?;
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        format!("# agencies' tokens\n{unit_line}\n{office_line}\n"),
    )?;
    assert!(!std::fs::read_to_string(&tokens)?.contains(&unit_token));

    let nats = NatsServer::start().await?;
    let intake = ServiceBuilder::intake(&nats, "AUTH")
        .flag("--tokens-file", tokens.display())
        .start()
        .await?;
    let mut as_unit = intake_client(intake.channel(), AGENCY, USER);
    let mut as_other = intake_client(intake.channel(), "district-housing-bureau", USER);

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
    let accepted = as_unit
        .submit_request(with_token(submit_command(&new_key("auth")), &unit_token))
        .await?
        .into_inner();
    assert_eq!(accepted.version, 1);
    as_other
        .submit_request(with_token(submit_command(&new_key("auth")), &office_token))
        .await?;

    // The CLI sends its token with every call: a whole walkthrough, acting as
    // several agencies, with the coordinating office's token.
    let data = tempfile::tempdir()?;
    let projection = ServiceBuilder::projection(&nats, "AUTH", data.path())
        .start()
        .await?;
    let walkthrough = tokio::process::Command::new(binary_path("sy"))
        .args(["walkthrough", "--intake-url", &intake.endpoint()])
        .args([
            "--query-url",
            &projection.endpoint(),
            "--token",
            &office_token,
        ])
        .env_remove("SY_TOKEN")
        .output()
        .await?;
    assert!(walkthrough.status.success(), "{walkthrough:?}");
    let without = tokio::process::Command::new(binary_path("sy"))
        .args(["walkthrough", "--intake-url", &intake.endpoint()])
        .args(["--query-url", &projection.endpoint()])
        .env_remove("SY_TOKEN")
        .output()
        .await?;
    assert_eq!(without.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&without.stderr).contains("UNAUTHENTICATED"));
    Ok(())
}
