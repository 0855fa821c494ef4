//! Bad input gets a clear, bounded error from the real binaries: bodies that
//! do not decode are `INVALID_ARGUMENT` (never `INTERNAL`) on both servers,
//! an oversized message is `RESOURCE_EXHAUSTED`, and a command with a huge
//! list gets a small status and a short log line, and writes nothing. One
//! credential's flood is refused over its rate with a retry hint while
//! another agency's calls all pass.

use bytes::{Buf, BufMut, Bytes};
use prost::Message;
use sy_api::limits::MAX_REQUEST_BYTES;
use sy_api::status::MAX_MESSAGE_BYTES;
use sy_tests::client::*;
use sy_tests::pb;
use sy_tests::{System, expect_code};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Sends and receives raw message bytes, so a test can put anything in a
/// well-framed gRPC request.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, buf: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}

/// Calls `path` (`/package.Service/Method`) with `body` as the message.
async fn call_raw(
    channel: Channel,
    path: &'static str,
    body: Bytes,
) -> Result<tonic::Response<Bytes>, tonic::Status> {
    let service = InterceptedService::new(channel, ActorInterceptor::new(DEPARTMENT_AGENCY, USER));
    let mut grpc = tonic::client::Grpc::new(service);
    grpc.ready()
        .await
        .map_err(|err| tonic::Status::unavailable(err.to_string()))?;
    let path = http::uri::PathAndQuery::from_static(path);
    grpc.unary(tonic::Request::new(body), path, RawCodec).await
}

/// `count` random bodies that are not a valid `M` (a fixed seed, so a
/// failure replays).
fn garbage<M: Message + Default>(count: usize, seed: u64) -> Vec<Bytes> {
    let mut state = seed;
    let mut next = move || {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut bodies = Vec::new();
    while bodies.len() < count {
        let len = 1 + (next() % 64) as usize;
        let body: Bytes = (0..len).map(|_| next() as u8).collect();
        if M::decode(body.clone()).is_err() {
            bodies.push(body);
        }
    }
    bodies
}

#[tokio::test]
async fn undecodable_bodies_are_invalid_argument_on_both_servers() -> anyhow::Result<()> {
    let sys = System::start().await?;
    sys.submit().await?;
    let written = sys.log_position().await?;

    let intake = (
        sys.intake.channel(),
        "/shuangyong.v1.Intake/SubmitRequest",
        garbage::<pb::SubmitRequestCommand>(200, 0x5eed),
        "shuangyong.v1.SubmitRequestCommand",
    );
    let query = (
        sys.projection().channel(),
        "/shuangyong.v1.Query/GetRequest",
        garbage::<pb::GetRequestRequest>(200, 0xfeed),
        "shuangyong.v1.GetRequestRequest",
    );
    for (channel, path, bodies, message) in [intake, query] {
        for body in bodies {
            let status = expect_code(
                call_raw(channel.clone(), path, body).await,
                tonic::Code::InvalidArgument,
            );
            let expected = format!("the request body is not a valid {message}");
            assert!(
                status.message().starts_with(&expected),
                "{path}: {}",
                status.message()
            );
        }
    }
    assert_eq!(
        sys.log_position().await?,
        written,
        "garbage reached the log"
    );
    Ok(())
}

#[tokio::test]
async fn an_oversized_message_is_resource_exhausted_naming_the_limit() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let written = sys.log_position().await?;
    let oversized = Bytes::from(vec![0x0a; MAX_REQUEST_BYTES + 1]);
    for (channel, path) in [
        (sys.intake.channel(), "/shuangyong.v1.Intake/SubmitRequest"),
        (
            sys.projection().channel(),
            "/shuangyong.v1.Query/ListRequests",
        ),
    ] {
        let status = expect_code(
            call_raw(channel, path, oversized.clone()).await,
            tonic::Code::ResourceExhausted,
        );
        assert!(
            status.message().contains(&MAX_REQUEST_BYTES.to_string()),
            "{path}: {}",
            status.message()
        );
    }
    // Just under the limit is decoded (and refused for what it says).
    let just_under = pb::RegisterPersonCommand {
        name: "x".repeat(MAX_REQUEST_BYTES - 16),
        ..Default::default()
    };
    expect_code(
        call_raw(
            sys.intake.channel(),
            "/shuangyong.v1.Placements/RegisterPerson",
            just_under.encode_to_vec().into(),
        )
        .await,
        tonic::Code::InvalidArgument,
    );
    assert_eq!(sys.log_position().await?, written);
    Ok(())
}

#[tokio::test]
async fn a_command_with_100k_bad_links_gets_a_small_status() -> anyhow::Result<()> {
    let sys = System::start().await?;
    let written = sys.log_position().await?;
    let log_lines = sys.intake.log().lines().count();
    let mut placements = placements_client(sys.intake.channel(), DEPARTMENT_AGENCY, USER);
    let mut command = register_person_command(pb::PersonRole::MilitarySpouse, &fresh_id_number(30));
    // Four bytes each, so the command is within the size limit.
    command.links = vec![
        pb::PersonLink {
            relation: 99,
            ..Default::default()
        };
        100_000
    ];
    assert!(command.encoded_len() < MAX_REQUEST_BYTES);
    let status = expect_code(
        placements.register_person(command).await,
        tonic::Code::InvalidArgument,
    );
    assert!(
        status.message().len() <= MAX_MESSAGE_BYTES,
        "{}",
        status.message().len()
    );
    assert!(
        status.details().len() <= 8 * 1024,
        "details are {} bytes",
        status.details().len()
    );
    assert!(
        sy_tests::violated_fields(&status).contains(&"links".to_string()),
        "{}",
        status.message()
    );
    assert_eq!(
        sys.log_position().await?,
        written,
        "a refused command reached the log"
    );
    let log = sys.intake.log();
    let longest = log.lines().skip(log_lines).map(str::len).max().unwrap_or(0);
    assert!(longest <= 4 * 1024, "a log line of {longest} bytes");
    Ok(())
}

#[tokio::test]
async fn a_flood_over_the_rate_is_refused_and_another_agency_keeps_being_served()
-> anyhow::Result<()> {
    use tonic_types::StatusExt;
    let system = System::builder()
        .rate_per_credential(20, 40)
        .start()
        .await?;
    let id = system.submit().await?.aggregate_id;
    let read = |agency: &'static str| {
        let client = pb::query_client::QueryClient::with_interceptor(
            system.projection().channel(),
            system.caller(agency, USER),
        );
        let id = id.clone();
        async move {
            let started = std::time::Instant::now();
            let result = client
                .clone()
                .get_request(pb::GetRequestRequest {
                    id,
                    min_position: 0,
                })
                .await;
            (result.map(drop), started.elapsed())
        }
    };
    // 400 reads at once by one agency, and 20 by another, spread over them.
    let flood = futures::future::join_all((0..400).map(|_| read("unit-31002")));
    let calm = async {
        let mut results = Vec::new();
        for _ in 0..20 {
            results.push(read("unit-31003").await);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        results
    };
    let (flood, calm) = tokio::join!(flood, calm);

    let refused: Vec<&tonic::Status> = flood.iter().filter_map(|(r, _)| r.as_ref().err()).collect();
    assert!(
        refused.len() >= 300,
        "only {} of 400 refused",
        refused.len()
    );
    for status in &refused {
        assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
        let hint = status.get_details_retry_info().and_then(|r| r.retry_delay);
        assert!(hint.is_some_and(|d| d.as_millis() > 0), "{status:?}");
    }
    for (result, _) in &calm {
        assert!(result.is_ok(), "the other agency was refused: {result:?}");
    }
    // The refusals are security events, one per refused call.
    let log = system.projection().log();
    assert!(
        log.lines()
            .filter(|l| l.contains("reason=\"rate_limited\"") || l.contains("reason=rate_limited"))
            .count()
            >= refused.len(),
        "{log}"
    );
    Ok(())
}
