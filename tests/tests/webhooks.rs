//! Webhook delivery through the real stack: an administrator subscribes a
//! department's receiver through intake, the replica started with
//! `--deliver-webhooks` POSTs its notifications over HTTPS, signed. The
//! receiver here (a hyper server in the test, with a certificate of the CA
//! the replica is given) fails for a while: the notification of
//! that outage is retried, then becomes a dead letter with a record of each
//! attempt, while later ones are delivered once the receiver is back; the
//! operator's replay delivers it again with the same id. Every POST's
//! signature is checked, nothing from before the subscription is sent, and
//! a restarted delivering replica resumes without delivering again.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic there is the failure report"
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use sha2::Sha256;
use sy_api::pb::{self, NotificationKind as K};
use sy_domain::notification::notification_id;
use sy_tests::client::*;
use sy_tests::tls::{KeyedCert, TestCa};
use sy_tests::{System, expect_code};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::Code;

const ADMIN: &str = "district-data-center";
const SUPERVISION: &str = "district-supervision-office";
const SECRET_ID: &str = "veterans-hook";
const KEY: &str = "a-test-key-of-more-than-32-bytes-for-hmac";

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Post {
    id: String,
    body: Bytes,
    signature: String,
    taken: bool,
}

/// A webhook receiver that answers 503 while `down`, else 200.
#[derive(Default)]
struct Receiver {
    down: AtomicBool,
    posts: Mutex<Vec<Post>>,
}

impl Receiver {
    /// Serves HTTPS on a free port with `cert`.
    async fn start(cert: &KeyedCert) -> anyhow::Result<(Arc<Self>, SocketAddr)> {
        let chain = CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes())?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let receiver = Arc::new(Self::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let serving = Arc::clone(&receiver);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let receiver = Arc::clone(&serving);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request| {
                        let receiver = Arc::clone(&receiver);
                        async move { Ok::<_, Infallible>(receiver.take(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok((receiver, addr))
    }

    async fn take(
        &self,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let (id, signature) = (header("x-sy-notification-id"), header("x-sy-signature"));
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let taken = !self.down.load(Ordering::SeqCst);
        self.posts.lock().unwrap().push(Post {
            id,
            body,
            signature,
            taken,
        });
        let status = if taken { 200 } else { 503 };
        let mut response = hyper::Response::new(Full::new(Bytes::new()));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        response
    }

    fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// The ids of the notifications taken, in order.
    fn taken(&self) -> Vec<String> {
        self.posts()
            .into_iter()
            .filter(|p| p.taken)
            .map(|p| p.id)
            .collect()
    }
}

/// Checks `post`'s signature and that its id is the body's; the body.
#[track_caller]
fn verified(post: &Post) -> serde_json::Value {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(&post.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(post.signature, expected, "signature of {}", post.id);
    let json: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(json["id"], post.id.as_str());
    json
}

/// Waits until `done` holds of the receiver's posts.
async fn until(
    receiver: &Receiver,
    what: &str,
    done: impl Fn(&[Post]) -> bool,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done(&receiver.posts()) {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{what} within 60s; posts: {:?}",
            receiver.posts()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// `sy ARGS` as `agency` against intake and the `query` projection, which
/// must succeed; its output.
async fn sy_ok(
    sys: &System,
    query: &sy_tests::Service,
    agency: &str,
    args: &[&str],
) -> anyhow::Result<String> {
    let secrets = sys.nats.secrets().expect("a secured system");
    let (intake, query) = (sys.intake.endpoint(), query.endpoint());
    let (ca, credentials) = (
        secrets.ca().display().to_string(),
        secrets.path().join("clients").display().to_string(),
    );
    let connection = [
        "--intake-url",
        intake.as_str(),
        "--query-url",
        query.as_str(),
        "--ca",
        ca.as_str(),
        "--credentials-dir",
        credentials.as_str(),
        "--agency",
        agency,
    ];
    let (code, out) = sy_tests::process::sy(connection.iter().chain(args)).await?;
    anyhow::ensure!(code == 0, "sy {args:?} as {agency} exited {code}:\n{out}");
    Ok(out)
}

#[tokio::test]
async fn webhooks_are_signed_retried_dead_lettered_and_replayed() -> anyhow::Result<()> {
    let sys = System::builder().secured().start().await?;
    // The receiver's certificate is of a CA the delivering replica trusts
    // (--webhook-ca-file), as a deployment's receivers are.
    let ca = TestCa::new("webhook receivers");
    let ca_file = sys.root().join("webhook-ca.pem");
    std::fs::write(&ca_file, ca.cert_pem())?;
    let (receiver, addr) = Receiver::start(&ca.server()).await?;
    let secrets = sys.root().join("webhook-secrets");
    std::fs::write(&secrets, format!("# test\n{SECRET_ID} {KEY}\n"))?;
    std::fs::set_permissions(
        &secrets,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )?;
    let mut delivering = sys
        .projection_builder()
        .label("sy-projection-webhooks")
        .arg("--deliver-webhooks")
        .flag("--webhook-ca-file", ca_file.display())
        .flag("--webhook-secrets-file", secrets.display())
        .flag("--webhook-state-dir", sys.root().join("webhooks").display())
        .flag("--webhook-max-attempts", 3)
        .flag("--webhook-backoff-ms", 20)
        .flag("--webhook-backoff-max-ms", 100)
        .start()
        .await?;
    let admin = sys.notifications_at(&delivering, ADMIN, USER);

    // Only administrators subscribe, with a valid receiver.
    let subscribe = pb::SubscribeWebhookCommand {
        context: fresh_ctx(),
        agency: DEPARTMENT_AGENCY.into(),
        url: format!("https://{addr}/sy"),
        secret_id: SECRET_ID.into(),
        kinds: Vec::new(),
    };
    expect_code(
        sys.intake_as(DEPARTMENT_AGENCY, USER)
            .subscribe_webhook(subscribe.clone())
            .await,
        Code::PermissionDenied,
    );
    expect_code(
        sys.intake_as(ADMIN, USER)
            .subscribe_webhook(pb::SubscribeWebhookCommand {
                url: "ftp://nowhere".into(),
                ..subscribe
            })
            .await,
        Code::InvalidArgument,
    );
    // Assigned before the subscription: never delivered.
    let before = sys.submit().await?.aggregate_id;
    let before = sys
        .intake_as(DEPARTMENT_AGENCY, USER)
        .assign_request(assign_command(&before, DEPARTMENT, 7))
        .await?
        .into_inner();
    let url = format!("https://{addr}/sy");
    let out = sy_ok(
        &sys,
        &delivering,
        ADMIN,
        &[
            "notifications",
            "subscribe",
            "--for",
            DEPARTMENT_AGENCY,
            "--url",
            &url,
            "--secret-id",
            SECRET_ID,
        ],
    )
    .await?;
    assert!(out.contains("subscription "), "{out}");

    // Receiver up: the assignment is delivered, signed.
    let mut requester = sys.intake();
    let mut department = sys.intake_as(DEPARTMENT_AGENCY, USER);
    let id = sys.submit().await?.aggregate_id;
    let assigned = department
        .assign_request(assign_command(&id, DEPARTMENT, 14))
        .await?
        .into_inner();
    until(&receiver, "the assignment delivered", |p| p.len() == 1).await?;
    let json = verified(&receiver.posts()[0]);
    assert_eq!(json["kind"], "NOTIFICATION_KIND_ASSIGNED");
    assert_eq!(json["request_id"], id.as_str());
    let assigned_id = notification_id(assigned.position, DEPARTMENT_AGENCY, K::Assigned);
    assert_eq!(receiver.taken(), std::slice::from_ref(&assigned_id));

    // An outage: the reopening is tried three times, then dead-lettered.
    department.start_request(start_command(&id)).await?;
    department.resolve_request(resolve_command(&id)).await?;
    receiver.down.store(true, Ordering::SeqCst);
    let reopened = requester
        .reopen_request(reopen_command(&id))
        .await?
        .into_inner();
    let reopened_id = notification_id(reopened.position, DEPARTMENT_AGENCY, K::Reopened);
    until(&receiver, "three failed attempts", |p| p.len() == 4).await?;
    let dead = eventually(Duration::from_secs(30), "a dead letter", || {
        let mut admin = admin.clone();
        async move {
            let letters = admin
                .list_dead_letters(pb::ListDeadLettersRequest {
                    agency: DEPARTMENT_AGENCY.into(),
                })
                .await?
                .into_inner()
                .dead_letters;
            anyhow::ensure!(letters.len() == 1, "{letters:?}");
            Ok(letters)
        }
    })
    .await?;
    let letter = &dead[0];
    assert_eq!(letter.notification.as_ref().unwrap().id, reopened_id);
    assert_eq!(letter.url, url);
    let attempts: Vec<(u32, u32)> = letter
        .attempts
        .iter()
        .map(|a| (a.attempt, a.http_status))
        .collect();
    assert_eq!(attempts, [(1, 503), (2, 503), (3, 503)]);
    assert!(
        letter
            .attempts
            .iter()
            .all(|a| !a.error.is_empty() && a.at.is_some())
    );

    // Back up: later notifications flow; the dead letter waits for a replay.
    receiver.down.store(false, Ordering::SeqCst);
    let escalated = sys
        .intake_as(SUPERVISION, USER)
        .escalate_request(pb::EscalateRequestCommand {
            context: fresh_ctx(),
            request_id: id.clone(),
            level: pb::SupervisionLevel::District as i32,
            reason: "跨部门协调".into(),
            due_date: String::new(),
        })
        .await?
        .into_inner();
    let escalated_id = notification_id(escalated.position, DEPARTMENT_AGENCY, K::Escalated);
    until(&receiver, "the escalation delivered", |p| p.len() == 5).await?;
    assert_eq!(
        receiver.taken(),
        [assigned_id.clone(), escalated_id.clone()]
    );

    // Only administrators replay, on the delivering replica.
    expect_code(
        sys.notifications_at(&delivering, DEPARTMENT_AGENCY, USER)
            .replay_dead_letters(pb::ReplayDeadLettersRequest::default())
            .await,
        Code::PermissionDenied,
    );
    expect_code(
        sys.notifications_as(ADMIN, USER)
            .list_dead_letters(pb::ListDeadLettersRequest::default())
            .await,
        Code::FailedPrecondition,
    );
    let listed = sy_ok(
        &sys,
        &delivering,
        ADMIN,
        &["notifications", "dead-letters", "--of", DEPARTMENT_AGENCY],
    )
    .await?;
    assert!(
        listed.contains(&reopened_id) && listed.contains("1 dead letters"),
        "{listed}"
    );
    let replayed = sy_ok(
        &sys,
        &delivering,
        ADMIN,
        &["notifications", "replay", "--of", DEPARTMENT_AGENCY],
    )
    .await?;
    assert!(replayed.contains("1 dead letters queued"), "{replayed}");
    until(&receiver, "the replay delivered", |p| p.len() == 6).await?;
    assert_eq!(
        receiver.taken(),
        [assigned_id, escalated_id, reopened_id.clone()]
    );
    let dead_after = admin
        .clone()
        .list_dead_letters(pb::ListDeadLettersRequest::default())
        .await?
        .into_inner();
    assert!(dead_after.dead_letters.is_empty(), "{dead_after:?}");

    // Every POST, failed or taken, was signed; nothing more arrives.
    let posts = receiver.posts();
    for post in &posts {
        verified(post);
    }
    let reopened_posts = posts.iter().filter(|p| p.id == reopened_id).count();
    assert_eq!(reopened_posts, 4, "three failures and the replay");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.posts().len(), 6);

    // What was delivered is what the agency's watch shows after the
    // assignment from before the subscription.
    let after = before.position.to_string();
    let watched = sy_ok(
        &sys,
        &delivering,
        ADMIN,
        &[
            "notifications",
            "watch",
            "--of",
            DEPARTMENT_AGENCY,
            "--after",
            &after,
            "--limit",
            "3",
        ],
    )
    .await?;
    let ids: Vec<&str> = watched
        .lines()
        .filter_map(|line| line.rsplit_once(" id ").map(|(_, id)| id))
        .collect();
    assert_eq!(ids.len(), 3, "{watched}");
    let mut taken = receiver.taken();
    taken.sort();
    let mut watched_ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    watched_ids.sort();
    assert_eq!(watched_ids, taken);

    // A restarted delivering replica resumes from its cursor: the next
    // notification only, nothing delivered again.
    delivering.restart().await?;
    let next = sys.submit().await?.aggregate_id;
    let assigned_next = department
        .assign_request(assign_command(&next, DEPARTMENT, 14))
        .await?
        .into_inner();
    until(&receiver, "the next assignment delivered", |p| p.len() == 7).await?;
    let last = receiver.posts().pop().unwrap();
    assert_eq!(
        last.id,
        notification_id(assigned_next.position, DEPARTMENT_AGENCY, K::Assigned)
    );
    verified(&last);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.posts().len(), 7, "nothing delivered twice");
    Ok(())
}
