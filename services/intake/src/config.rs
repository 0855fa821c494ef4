//! Configuration: every flag has an `SY_*` environment variable and a
//! documented default. The flags every service takes (NATS, stream, metrics,
//! logs, tokens file, development mode) are `sy_api::args::CommonArgs`;
//! these are intake's own. The identity key is read from an owner-only file,
//! never from argv.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use sy_api::args::{CommonArgs, StartError};
use sy_api::event_keys::KeyFileError;
use sy_api::secret_file::read_private;
use sy_domain::pii::Cipher;
use sy_domain::signature::{EventSigner, VerifyKeys};
use sy_domain::supervision::Policy;
use sy_domain::validate::Districts;

use crate::supervision::{Clock, Clocks, FileClock, SystemClock};

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

    /// File holding the secret (64 hex digits, readable by its owner only)
    /// that person ids are derived from together with the national ID
    /// number, so an id reveals nothing without it. Must be the same for
    /// every intake of a deployment and never change; `sy setup` makes one.
    /// Without it intake refuses to start, unless `--dev` (then a fixed
    /// development key is used, with a warning).
    #[arg(long, env = "SY_IDENTITY_KEY_FILE")]
    pub identity_key_file: Option<PathBuf>,

    /// Signing key file: one line `<key-id> <base64 32-byte seed>` (`sy keys
    /// new` writes one), readable by its owner only. Every event is signed
    /// with it; its public line goes into the deployment's verify keys file.
    /// Required unless `--dev` (then events are published unsigned).
    #[arg(long, env = "SY_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,

    /// The deployment's published verify keys (`<key-id> <base64 public
    /// key>` lines): every event intake reads back from the log must be
    /// signed by one of them, else its aggregate is refused (DATA_LOSS).
    /// Unset: intake's own signing key only; set it once a key was rotated,
    /// so events signed by earlier keys still load.
    #[arg(long, env = "SY_VERIFY_KEYS_FILE")]
    pub verify_keys_file: Option<PathBuf>,

    /// The AEAD that seals personal fields under new data keys:
    /// `aes-256-gcm`, or `sm4-gcm` for deployments evaluated under China's
    /// commercial-cryptography rules (密评, GB/T 39786). Keys made earlier
    /// keep their own cipher.
    #[arg(long, env = "SY_PII_CIPHER", default_value = "aes-256-gcm")]
    pub pii_cipher: Cipher,

    /// Create the key store although the event log already has events: for
    /// the first start on a log written before personal data was sealed
    /// (then `sy migrate` it). Without it, a log with events and no key
    /// store stops intake: the store was lost, and starting a new one would
    /// leave every sealed event unreadable.
    #[arg(long, env = "SY_NEW_KEY_STORE")]
    pub new_key_store: bool,

    /// Aggregates whose folded state is kept in memory (LRU).
    #[arg(long, env = "SY_CACHE_SIZE", default_value_t = 10_000)]
    pub cache_size: usize,

    /// The supervision policy (TOML; see the README's "Supervision
    /// clocks"): when requests remind their department and escalate on
    /// their own. Without it no clocks run. A bad file stops intake.
    #[arg(long, env = "SY_SUPERVISION_POLICY")]
    pub supervision_policy: Option<PathBuf>,

    /// Milliseconds between two ticks of the supervision clocks.
    #[arg(long, env = "SY_SUPERVISION_TICK_MS", default_value_t = 60_000,
          value_parser = clap::value_parser!(u64).range(10..))]
    pub supervision_tick_ms: u64,

    /// Development and tests only: the clocks read the time from this file
    /// (an RFC 3339 instant, re-read every tick) instead of the system.
    #[arg(long, env = "SY_SIMULATED_CLOCK_FILE")]
    pub simulated_clock_file: Option<PathBuf>,
}

/// Parses an identity key: 64 hex digits (surrounding whitespace ignored).
/// The error never repeats the value.
pub fn parse_identity_key(value: &str) -> Result<[u8; 32], String> {
    let mut key = [0u8; 32];
    hex_decode(value.trim(), &mut key)
        .map_err(|()| "must hold 64 hex digits (32 bytes)".to_string())?;
    Ok(key)
}

fn hex_decode(text: &str, out: &mut [u8; 32]) -> Result<(), ()> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return Err(());
    }
    for (byte, pair) in out.iter_mut().zip(bytes.chunks(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| ())?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| ())?;
    }
    Ok(())
}

/// The development key used with `--dev` when none is configured: fine for
/// demos and tests, never for real people's data.
const DEVELOPMENT_KEY: [u8; 32] = *b"shuangyong-development-only-key!";

impl Config {
    /// The supervision clocks configured, or `None` without a policy. A
    /// policy that does not read or validate is an error naming the file
    /// and the key at fault.
    pub fn clocks(&self) -> Result<Option<Clocks>, StartError> {
        let Some(path) = &self.supervision_policy else {
            return Ok(None);
        };
        let invalid = |reason: String| {
            StartError::Invalid(format!("supervision policy {}: {reason}", path.display()))
        };
        let text = std::fs::read_to_string(path).map_err(|err| invalid(err.to_string()))?;
        let policy = Policy::parse(&text).map_err(|err| invalid(err.to_string()))?;
        let clock: Box<dyn Clock> = match &self.simulated_clock_file {
            Some(file) => {
                tracing::warn!(file = %file.display(), "supervision clocks run on a simulated clock");
                Box::new(FileClock { path: file.clone() })
            }
            None => Box::new(SystemClock),
        };
        Ok(Some(Clocks {
            policy,
            text,
            clock,
            tick: std::time::Duration::from_millis(self.supervision_tick_ms),
        }))
    }

    /// The keys events read from the log are checked with: the verify keys
    /// file (which must hold `signer`'s key), else `signer`'s own; `None`
    /// without a signer (development mode).
    pub fn loaded_event_keys(
        &self,
        signer: Option<&EventSigner>,
    ) -> Result<Option<VerifyKeys>, KeyFileError> {
        let Some(signer) = signer else {
            return Ok(None);
        };
        let Some(path) = &self.verify_keys_file else {
            return Ok(Some(VerifyKeys::of([signer])));
        };
        let keys = sy_api::event_keys::load_verify_keys(path)?;
        if !keys.key_ids().any(|id| id == signer.key_id()) {
            return Err(KeyFileError::Unpublished {
                path: path.clone(),
                key_id: signer.key_id().to_string(),
            });
        }
        Ok(Some(keys))
    }

    /// The identity key read from `--identity-key-file`; without one, an
    /// error, or with `--dev` the development key (with a warning).
    pub fn identity_key(&self) -> Result<[u8; 32], StartError> {
        let Some(path) = &self.identity_key_file else {
            self.common.missing(
                false,
                "no identity key (--identity-key-file); person ids would use the development key",
            )?;
            return Ok(DEVELOPMENT_KEY);
        };
        let text = read_private(path)?;
        parse_identity_key(&text)
            .map_err(|reason| StartError::Invalid(format!("{}: {reason}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        Config::try_parse_from(["sy-intake"].iter().chain(args)).unwrap()
    }

    #[test]
    fn the_identity_key_comes_from_an_owner_only_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let hex = "0f".repeat(32);
        sy_api::secret_file::write_private(&path, format!("{hex}\n").as_bytes()).unwrap();
        let with_file = config(&["--identity-key-file", path.to_str().unwrap()]);
        assert_eq!(with_file.identity_key().unwrap(), [0x0f; 32]);

        let bad = dir.path().join("bad.key");
        sy_api::secret_file::write_private(&bad, b"not-a-key-at-all").unwrap();
        let err = config(&["--identity-key-file", bad.to_str().unwrap()])
            .identity_key()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("64 hex digits") && !err.contains("not-a-key"),
            "{err}"
        );
    }

    #[test]
    fn without_a_key_intake_refuses_unless_in_development() {
        let err = config(&[]).identity_key().unwrap_err().to_string();
        assert!(
            err.contains("--identity-key-file") && err.contains("--dev"),
            "{err}"
        );
        assert_eq!(config(&["--dev"]).identity_key().unwrap(), DEVELOPMENT_KEY);
        assert!(
            Config::try_parse_from(["sy-intake", "--identity-key", &"00".repeat(32)]).is_err(),
            "the key is never an argument"
        );
    }

    #[test]
    fn a_bad_supervision_policy_stops_intake_naming_file_and_key() {
        assert!(
            config(&[]).clocks().unwrap().is_none(),
            "no policy, no clocks"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(
            &path,
            "version = \"1\"\n[[rules]]\nid = \"a\"\nlevel = \"county\"\n",
        )
        .unwrap();
        let args = ["--supervision-policy", path.to_str().unwrap()];
        let err = config(&args).clocks().err().unwrap().to_string();
        assert!(
            err.contains("policy.toml") && err.contains("rules[0].level"),
            "{err}"
        );

        std::fs::write(&path, "version = \"1\"\n[[rules]]\nid = \"a\"\n").unwrap();
        let clocks = config(&args).clocks().unwrap().unwrap();
        assert_eq!(clocks.policy.rules.len(), 1);
        assert_eq!(clocks.tick, std::time::Duration::from_secs(60));
    }

    #[test]
    fn keys_must_be_64_hex_digits() {
        assert_eq!(parse_identity_key(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        for bad in ["", "ab", &"zz".repeat(32), &"ab".repeat(33)] {
            assert!(parse_identity_key(bad).is_err(), "{bad}");
        }
    }
}
