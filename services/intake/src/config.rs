//! Configuration: every flag has an `SY_*` environment variable and a
//! documented default. The flags every service takes (NATS, stream, metrics,
//! logs, tokens file) are `sy_api::args::CommonArgs`; these are intake's own.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use sy_api::args::CommonArgs;
use sy_domain::validate::Districts;

/// The command API of shuangyong: validates commands and appends their events
/// to the NATS JetStream event log.
#[derive(Debug, Clone, Parser)]
#[command(name = "sy-intake", version, about)]
pub struct Config {
    /// Flags both services take: NATS URL, stream, log format, metrics,
    /// tokens file.
    #[command(flatten)]
    pub common: CommonArgs,

    /// Address the gRPC API listens on (port 0: any free port; the bound
    /// address is logged as `listening addr=...`).
    #[arg(long, env = "SY_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Replicas of the stream when intake creates it (3 in a cluster).
    #[arg(long, env = "SY_STREAM_REPLICAS", default_value_t = 1)]
    pub stream_replicas: usize,

    /// Districts served (6-digit codes, comma-separated); area codes outside
    /// them are refused. 500106 is Shapingba, Chongqing.
    #[arg(long, env = "SY_DISTRICTS", default_value = "500106", value_parser = Districts::parse)]
    pub districts: Districts,

    /// Secret (64 hex digits) that person ids are derived from together with
    /// the national ID number, so an id reveals nothing without it. Must be
    /// the same for every intake of a deployment and never change. Without
    /// it a fixed development key is used (and a warning logged).
    #[arg(long, env = "SY_IDENTITY_KEY", value_parser = parse_key, hide_env_values = true)]
    pub identity_key: Option<IdentityKey>,

    /// Signing key file: one line `<key-id> <base64 32-byte seed>` (`sy keys
    /// new` writes one), readable by its owner only. Every event is signed
    /// with it; its public line goes into the deployment's verify keys file.
    /// Required unless `--dev` (then events are published unsigned).
    #[arg(long, env = "SY_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,

    /// Aggregates whose folded state is kept in memory (LRU).
    #[arg(long, env = "SY_CACHE_SIZE", default_value_t = 10_000)]
    pub cache_size: usize,
}

/// A 32-byte secret; never printed.
#[derive(Clone)]
pub struct IdentityKey([u8; 32]);

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityKey(..)")
    }
}

fn parse_key(value: &str) -> Result<IdentityKey, String> {
    let bytes = value.as_bytes();
    if bytes.len() != 64 || !bytes.iter().all(u8::is_ascii_hexdigit) {
        return Err("must be 64 hex digits (32 bytes)".into());
    }
    let mut key = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let hex = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
        key[i] = u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
    }
    Ok(IdentityKey(key))
}

/// The development key used when none is configured: fine for demos and
/// tests, never for real people's data.
const DEVELOPMENT_KEY: [u8; 32] = *b"shuangyong-development-only-key!";

impl Config {
    /// The configured identity key, or the development key (with a warning).
    pub fn identity_key(&self) -> [u8; 32] {
        match &self.identity_key {
            Some(IdentityKey(key)) => *key,
            None => {
                tracing::warn!("no --identity-key: person ids use the development key");
                DEVELOPMENT_KEY
            }
        }
    }
}
