//! Connections and call plumbing: channels with deadlines that carry the
//! bearer token (`--token`) on every call, over TLS for `https://` URLs
//! (`--ca`, and `--cert`/`--key` for a client certificate), the actor headers every intake
//! call carries, and reads that wait for a position.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use sy_api::identity::AUTHORIZATION_METADATA;
use sy_api::pb::{
    self, intake_client::IntakeClient, placement_query_client::PlacementQueryClient,
    placements_client::PlacementsClient, query_client::QueryClient,
};
use tonic::Code;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::error::Error;

pub const AGENCY_METADATA: &str = "x-sy-agency";
pub const USER_METADATA: &str = "x-sy-user";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the services are and how long a call may take.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub intake_url: String,
    pub query_url: String,
    pub timeout: Duration,
}

impl Endpoints {
    /// Intake's command services: requests and placement programmes.
    pub async fn intake(&self) -> Result<IntakeClients, Error> {
        Ok(IntakeClients::new(
            connect(&self.intake_url, self.timeout).await?,
        ))
    }

    pub async fn query(&self) -> Result<QueryClient<Channel>, Error> {
        Ok(QueryClient::new(
            connect(&self.query_url, self.timeout).await?,
        ))
    }

    /// The placement queries, served by the projection beside `Query`.
    pub async fn placement_query(&self) -> Result<PlacementQueryClient<Channel>, Error> {
        Ok(PlacementQueryClient::new(
            connect(&self.query_url, self.timeout).await?,
        ))
    }
}

/// A connection whose every call carries the bearer token of this run, if
/// any: intake, the projection and its admin service all check it.
pub type Channel = InterceptedService<tonic::transport::Channel, Bearer>;

/// Adds `authorization: Bearer <token>` (see [`use_token`]) to every call.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bearer;

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let metadata = request.metadata_mut();
        // A request acting for an agency may carry that agency's own token.
        if let Some(Some(token)) = TOKEN.get()
            && !metadata.contains_key(AUTHORIZATION_METADATA)
        {
            metadata.insert(AUTHORIZATION_METADATA, token.clone());
        }
        Ok(request)
    }
}

/// A connected channel, or an error naming the address and the cause.
pub async fn connect(url: &str, timeout: Duration) -> Result<Channel, Error> {
    connect_endpoint(url, endpoint(url)?.timeout(timeout)).await
}

/// A channel that connects on first use and reconnects by itself after a
/// failure, for long runs (`sy soak`) that must outlive a service's restart:
/// an unreachable service shows as `UNAVAILABLE` calls, not as an error here.
pub fn connect_lazy(url: &str, timeout: Duration) -> Result<Channel, Error> {
    let channel = endpoint(url)?.timeout(timeout).connect_lazy();
    Ok(InterceptedService::new(channel, Bearer))
}

/// A connected channel without a deadline per call, for streams that run as
/// long as the work they report on (a rebuild).
pub async fn connect_streaming(url: &str) -> Result<Channel, Error> {
    connect_endpoint(url, endpoint(url)?).await
}

fn endpoint(url: &str) -> Result<Endpoint, Error> {
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|err| Error::Usage(format!("invalid endpoint url {url:?}: {err}")))?
        .connect_timeout(CONNECT_TIMEOUT);
    if !url.starts_with("https://") {
        return Ok(endpoint);
    }
    let Some(Some(tls)) = TLS.get() else {
        return Err(Error::Usage(format!(
            "{url} is https: give --ca (SY_CA), the CA that signed the service's certificate"
        )));
    };
    endpoint
        .tls_config(tls.clone())
        .map_err(|err| Error::Usage(format!("TLS for {url}: {}", error_chain(&err))))
}

/// The TLS of this run's `https://` connections, set once at start.
static TLS: OnceLock<Option<ClientTlsConfig>> = OnceLock::new();

/// Connects to `https://` URLs trusting the CA at `ca` (PEM), presenting the
/// client certificate `cert` with its key `key` (PEM, a file only its owner
/// may read) if given: the services take its subject's O as the agency and
/// its CN as the user.
pub fn use_tls(ca: Option<&Path>, cert: Option<&Path>, key: Option<&Path>) -> Result<(), Error> {
    let config = match (ca, cert, key) {
        (None, None, None) => None,
        (None, _, _) => {
            return Err(Error::Usage(
                "--cert/--key need --ca, the CA that signed the services' certificates".into(),
            ));
        }
        (Some(_), Some(_), None) | (Some(_), None, Some(_)) => {
            return Err(Error::Usage("--cert and --key go together".into()));
        }
        (Some(ca), cert, key) => {
            let pem = std::fs::read(ca)
                .map_err(|err| Error::Usage(format!("cannot read --ca {}: {err}", ca.display())))?;
            let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem));
            if let (Some(cert), Some(key)) = (cert, key) {
                let chain = std::fs::read(cert).map_err(|err| {
                    Error::Usage(format!("cannot read --cert {}: {err}", cert.display()))
                })?;
                let key = sy_api::secret_file::read_private(key)
                    .map_err(|err| Error::Usage(format!("--key: {err}")))?;
                config = config.identity(Identity::from_pem(chain, key));
            }
            Some(config)
        }
    };
    let _ = TLS.set(config);
    Ok(())
}

async fn connect_endpoint(url: &str, endpoint: Endpoint) -> Result<Channel, Error> {
    let channel = endpoint.connect().await.map_err(|err| Error::Connect {
        url: url.to_string(),
        reason: error_chain(&err),
    })?;
    Ok(InterceptedService::new(channel, Bearer))
}

/// An error and its sources, joined: transport errors hide the cause otherwise.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Checks an actor before it goes into metadata, so a bad `--agency` is a
/// usage error instead of a failed call.
pub fn actor(agency: &str, user: &str) -> Result<pb::Actor, Error> {
    let valid_agency = !agency.is_empty()
        && agency.len() <= 64
        && agency
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid_agency {
        return Err(Error::Usage(format!(
            "agency {agency:?} must be 1 to 64 of [A-Za-z0-9._-]"
        )));
    }
    if user.trim().is_empty() || user.len() > 128 || !user.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Usage(format!(
            "user {user:?} must be 1 to 128 printable ASCII characters"
        )));
    }
    Ok(pb::Actor {
        agency: agency.to_string(),
        user: user.to_string(),
    })
}

/// The bearer token of this run (`--token-file`, or `$SY_TOKEN`), set once
/// at start.
static TOKEN: OnceLock<Option<tonic::metadata::AsciiMetadataValue>> = OnceLock::new();

/// Where each agency's token is (`--credentials-dir`: `DIR/<agency>/token`,
/// as `sy setup` writes its clients), set once at start.
static CREDENTIALS_DIR: OnceLock<Option<PathBuf>> = OnceLock::new();

/// `Bearer <token>` as metadata.
fn bearer_value(token: &str) -> Result<tonic::metadata::AsciiMetadataValue, Error> {
    format!("Bearer {}", token.trim())
        .parse()
        .map_err(|_| Error::Usage("a token must be printable ASCII".into()))
}

/// The credentials of this run: the token of `token_file` (else of
/// `$SY_TOKEN`, else `agency`'s in `credentials_dir`) with every call, and
/// with `credentials_dir` each acting agency's own token on its commands. Tokens are never taken from the command line, where
/// every user of the host could read them.
pub fn use_credentials(
    token_file: Option<&Path>,
    credentials_dir: Option<&Path>,
    agency: &str,
) -> Result<(), Error> {
    let read = |path: &Path| {
        sy_api::secret_file::read_private(path).map_err(|err| Error::Usage(err.to_string()))
    };
    let from_env = || {
        std::env::var("SY_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
    };
    let token = match (token_file, from_env()) {
        (Some(path), _) => Some(read(path)?),
        (None, Some(token)) => Some(token),
        // Calls that act for no agency of their own (reads, rebuilds) go
        // as `--agency`'s.
        (None, None) => match credentials_dir.map(|dir| dir.join(agency).join("token")) {
            Some(path) if path.exists() => Some(read(&path)?),
            _ => None,
        },
    };
    let value = token.as_deref().map(bearer_value).transpose()?;
    let _ = TOKEN.set(value);
    let _ = CREDENTIALS_DIR.set(credentials_dir.map(Path::to_path_buf));
    Ok(())
}

/// A request acting as `actor`: with `--credentials-dir`, carrying the
/// token of the actor's agency (which alone says who calls); otherwise
/// naming the actor in `x-sy-agency` / `x-sy-user` (development mode, or
/// checked against `--token-file`'s holder).
pub fn as_actor<T>(message: T, actor: &pb::Actor) -> Result<tonic::Request<T>, Error> {
    let mut request = tonic::Request::new(message);
    let metadata = request.metadata_mut();
    if let Some(Some(dir)) = CREDENTIALS_DIR.get() {
        let path = dir.join(&actor.agency).join("token");
        let token = sy_api::secret_file::read_private(&path).map_err(|err| {
            Error::Usage(format!("no credentials for agency {}: {err}", actor.agency))
        })?;
        metadata.insert(AUTHORIZATION_METADATA, bearer_value(&token)?);
        return Ok(request);
    }
    // `actor()` admits only ASCII without controls, which always parses.
    if let Ok(value) = actor.agency.parse() {
        metadata.insert(AGENCY_METADATA, value);
    }
    if let Ok(value) = actor.user.parse() {
        metadata.insert(USER_METADATA, value);
    }
    Ok(request)
}

/// How often a call over its credential's rate is sent again.
pub const MAX_THROTTLED: u32 = 50;

/// How long to wait before sending again a call refused as over its rate:
/// the server's `RetryInfo`, else 100 ms; at most 5 s.
fn retry_delay(status: &tonic::Status) -> Duration {
    use tonic_types::StatusExt;
    status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .unwrap_or(Duration::from_millis(100))
        .min(Duration::from_secs(5))
}

/// The wait before sending a throttled call again, the `attempt`th time:
/// the delay the server asks for, but at least 10 ms doubling with each
/// attempt up to about a second, plus up to half as much again at random.
/// Many scripts sharing one credential otherwise wake together after the
/// server's hint (a millisecond when the bucket refills) and empty it again.
pub fn throttle_delay(status: &tonic::Status, attempt: u32) -> Duration {
    let floor = Duration::from_millis(10u64 << attempt.min(7));
    let base = retry_delay(status).max(floor);
    let spread = base.as_millis() as u64 / 2 + 1;
    let jitter = getrandom::u64().map_or(0, |random| random % spread);
    base + Duration::from_millis(jitter)
}

/// How a read retries while the projection cannot answer yet.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    attempts: u32,
    backoff: Duration,
    /// The wait grows with each attempt (`backoff × attempt`).
    growing: bool,
    codes: &'static [Code],
}

impl Retry {
    /// A few tries while the projection has not reached `min_position`.
    pub const POSITION: Retry = Retry {
        attempts: 2,
        backoff: Duration::from_millis(400),
        growing: true,
        codes: &[Code::Unavailable],
    };
    /// Up to a minute while the projection catches up with a demo's load.
    pub const CATCH_UP: Retry = Retry {
        attempts: 120,
        backoff: Duration::from_millis(500),
        growing: false,
        codes: &[Code::Unavailable, Code::DeadlineExceeded],
    };
}

/// Runs a read, retrying while it answers `UNAVAILABLE` (the projection has
/// not applied the position the caller waits for yet), as [`Retry::POSITION`].
pub async fn read_with_retry<T, F>(call: &'static str, read: F) -> Result<T, Error>
where
    F: AsyncFnMut() -> Result<tonic::Response<T>, tonic::Status>,
{
    read_with(Retry::POSITION, call, read).await
}

/// Runs a read, retrying as `retry` says.
pub async fn read_with<T, F>(retry: Retry, call: &'static str, mut read: F) -> Result<T, Error>
where
    F: AsyncFnMut() -> Result<tonic::Response<T>, tonic::Status>,
{
    let mut attempt = 0;
    loop {
        match read().await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status) if retry.codes.contains(&status.code()) && attempt < retry.attempts => {
                attempt += 1;
                let factor = if retry.growing { attempt } else { 1 };
                tokio::time::sleep(retry.backoff * factor).await;
            }
            Err(status) => return Err(Error::Rpc { call, status }),
        }
    }
}

/// The close-out board for the day `as_of` (empty: today), once the
/// projection has applied `min_position`.
pub async fn clearance_board(
    query: &mut QueryClient<Channel>,
    as_of: String,
    min_position: u64,
) -> Result<pb::ClearanceBoard, Error> {
    let request = pb::GetClearanceBoardRequest {
        as_of,
        min_position,
        ..Default::default()
    };
    filtered_board(query, request).await
}

/// The close-out board as `request` asks for it (a period, an area, a
/// requester, a direction).
pub async fn filtered_board(
    query: &mut QueryClient<Channel>,
    request: pb::GetClearanceBoardRequest,
) -> Result<pb::ClearanceBoard, Error> {
    read_with_retry("GetClearanceBoard", async || {
        query.get_clearance_board(request.clone()).await
    })
    .await
}

/// Intake's two command services, both served at `--intake-url`.
#[derive(Debug, Clone)]
pub struct IntakeClients {
    pub requests: IntakeClient<Channel>,
    pub placements: PlacementsClient<Channel>,
}

impl IntakeClients {
    /// Both services over one channel.
    pub fn new(channel: Channel) -> Self {
        Self {
            requests: IntakeClient::new(channel.clone()),
            placements: PlacementsClient::new(channel),
        }
    }

    /// Connects to intake at `url`, without a deadline per call.
    pub async fn connect(url: String) -> Result<Self, tonic::transport::Error> {
        let channel = Endpoint::from_shared(url)?.connect().await?;
        Ok(Self::new(InterceptedService::new(channel, Bearer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_are_checked_before_use() {
        assert!(actor("unit-31001", "zhang.wei").is_ok());
        assert!(actor("bad agency", "x").is_err());
        assert!(actor("unit-31001", "").is_err());
        assert!(actor("unit-31001", "张伟").is_err());
        let request = as_actor((), &actor("unit-31001", "zhang.wei").unwrap()).unwrap();
        assert_eq!(
            request.metadata().get(AGENCY_METADATA).unwrap(),
            "unit-31001"
        );
        assert_eq!(request.metadata().get(USER_METADATA).unwrap(), "zhang.wei");
    }
}
