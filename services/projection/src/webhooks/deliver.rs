//! The adapter boundary of delivery: [`Deliver`] takes one signed POST to
//! one receiver and says whether it was taken. [`Webhook`] is the HTTPS
//! implementation; a deployment that must reach people by SMS puts its SMS
//! gateway behind a webhook receiver (see the README), so the delivering
//! replica never holds gateway credentials.
//!
//! What is sent is fixed here: a JSON body of the notification, its id in
//! `X-Sy-Notification-Id` (receivers de-duplicate by it: delivery is at
//! least once), and `X-Sy-Signature: sha256=<hex HMAC-SHA256 of the body>`
//! under the subscription's key.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sy_domain::event::to_jiff;
use sy_domain::pb;

/// Header carrying the notification's stable id.
pub(crate) const ID_HEADER: &str = "x-sy-notification-id";
/// Header carrying the body's signature.
pub(crate) const SIGNATURE_HEADER: &str = "x-sy-signature";
/// How long one POST may take.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// One POST, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub url: String,
    pub notification_id: String,
    pub body: Vec<u8>,
    /// `sha256=<hex>`.
    pub signature: String,
}

/// What a receiver answered: its HTTP status, if it answered at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failed {
    pub http_status: u16,
    pub error: String,
}

/// Sends one POST; `Ok` when the receiver took it (a 2xx).
pub(crate) trait Deliver: Send + Sync + 'static {
    fn deliver(&self, outgoing: &Outgoing) -> impl Future<Output = Result<u16, Failed>> + Send;
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `key`.
pub(crate) fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The JSON body of `n`: its fields by name, enums by their proto names.
pub(crate) fn body(n: &pb::Notification) -> Vec<u8> {
    let occurred_at = to_jiff(n.occurred_at.as_ref())
        .map(|t| t.to_string())
        .unwrap_or_default();
    serde_json::json!({
        "id": n.id,
        "agency": n.agency,
        "kind": n.kind().as_str_name(),
        "position": n.position,
        "request_id": n.request_id,
        "request_version": n.request_version,
        "event_type": n.event_type,
        "occurred_at": occurred_at,
        "due_date": n.due_date,
        "department": n.department,
        "supervision_level": n.supervision_level().as_str_name(),
        "category": n.category().as_str_name(),
    })
    .to_string()
    .into_bytes()
}

/// Why the webhook client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The CA file cannot be read.
    #[error("cannot read the webhook CA file {path}: {source}")]
    Ca {
        /// Its path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The CA file is not PEM certificates.
    #[error("the webhook CA file {path} holds no usable certificate: {reason}")]
    Certificate {
        /// Its path.
        path: String,
        /// Why.
        reason: String,
    },
    /// reqwest refused the configuration.
    #[error("cannot build the webhook client: {0}")]
    Client(String),
}

/// POSTs over HTTPS (rustls), trusting only the deployment's CA; plain
/// http only when built with `allow_http` (development).
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    client: reqwest::Client,
}

impl Webhook {
    pub(crate) fn new(ca_file: Option<&Path>, allow_http: bool) -> Result<Self, ClientError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .https_only(!allow_http)
            .timeout(POST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = ca_file {
            let shown = path.display().to_string();
            let pem = std::fs::read(path).map_err(|source| ClientError::Ca {
                path: shown.clone(),
                source,
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|err| {
                ClientError::Certificate {
                    path: shown.clone(),
                    reason: err.to_string(),
                }
            })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|err| ClientError::Client(err.to_string()))?;
        Ok(Self { client })
    }
}

impl Deliver for Webhook {
    async fn deliver(&self, outgoing: &Outgoing) -> Result<u16, Failed> {
        let sent = self
            .client
            .post(&outgoing.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(ID_HEADER, &outgoing.notification_id)
            .header(SIGNATURE_HEADER, &outgoing.signature)
            .body(outgoing.body.clone())
            .send()
            .await;
        match sent {
            Err(err) => Err(Failed {
                http_status: 0,
                error: err.without_url().to_string(),
            }),
            Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
            Ok(response) => Err(Failed {
                http_status: response.status().as_u16(),
                error: format!("the receiver answered {}", response.status()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_body_names_the_notification_and_its_kind() {
        let n = pb::Notification {
            id: "n-1".into(),
            agency: "unit-31001".into(),
            kind: pb::NotificationKind::AwaitingConfirmation as i32,
            position: 7,
            request_id: "r-1".into(),
            ..Default::default()
        };
        let json: serde_json::Value = serde_json::from_slice(&body(&n)).unwrap();
        assert_eq!(json["id"], "n-1");
        assert_eq!(json["kind"], "NOTIFICATION_KIND_AWAITING_CONFIRMATION");
        assert_eq!(json["position"], 7);
        assert_eq!(json["request_id"], "r-1");
    }
}
