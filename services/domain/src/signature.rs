//! Signed events: intake signs every envelope it stores with Ed25519 under
//! a key id; readers verify with the deployment's published public keys.
//! The hash chain proves that the log is consistent; only a signature
//! proves that intake wrote an event, so a forged event carrying a correct
//! `prev_hash` still fails here.
//!
//! What is signed, exactly: [`DOMAIN_TAG`] followed by the stored bytes of
//! the envelope with its one `signature` field record (field 15: tag,
//! length 64, the 64 signature bytes) cut out, every other byte kept in
//! order. For intake's encoder that is the envelope encoded with
//! `signature` empty and `signing_key_id` set (so the key id is signed), and
//! the stored bytes are the envelope encoded with both (prost's encoding, so
//! re-encoding a decoded event gives its stored bytes). Verifying cuts the
//! field out of the bytes as stored, never re-encodes: a reader that does
//! not know a newer field still verifies an event carrying it.
//!
//! Order with the hashes (see DESIGN, "Security and data"): the envelope
//! names the hash of its aggregate's previous stored event (`prev_hash`),
//! then it is signed, then the next event and the log digest hash these
//! stored bytes, signature included. So chains and digests stay checkable
//! without keys, and a signature covers the link to the previous event.
//!
//! Rotation: verifiers hold several keys ([`VerifyKeys`], one per id);
//! intake signs with one ([`EventSigner`]). A new key is published to the
//! verifiers first, then intake switches; an old key stays published as
//! long as events signed with it are in the log.
//!
//! Key texts (files are read by the services, not here):
//! - signing key: one line `<key-id> <base64 of the 32-byte seed>`;
//! - verify keys: lines `<key-id> <base64 of the 32-byte public key>`,
//!   blank lines and `#` comments allowed.
//!
//! Key ids are 1 to 64 characters of `A-Z a-z 0-9 . _ -`.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use prost::Message as _;

use crate::pb::EventEnvelope;

/// Bytes signed before the envelope's own: a signature over an event can
/// never be taken for one over anything else.
pub const DOMAIN_TAG: &[u8] = b"shuangyong.v1.EventEnvelope\n";

/// Field number of `EventEnvelope.signature`.
pub const SIGNATURE_FIELD: u32 = 15;

/// Length of an Ed25519 signature.
const SIGNATURE_LEN: usize = 64;

/// Longest key id.
const MAX_KEY_ID: usize = 64;

/// Why a key text cannot be used. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key id is empty, too long or has characters outside `A-Za-z0-9._-`.
    #[error("line {line}: key id {id:?} must be 1 to {MAX_KEY_ID} characters of A-Z a-z 0-9 . _ -")]
    BadKeyId {
        /// 1-based line of the text.
        line: usize,
        /// The id as written.
        id: String,
    },
    /// A line is not `<key-id> <base64 key>`.
    #[error("line {line}: expected `<key-id> <base64 of 32 bytes>`")]
    Malformed {
        /// 1-based line of the text.
        line: usize,
    },
    /// A public key is not a valid Ed25519 point.
    #[error("line {line}: the public key of {id:?} is not an Ed25519 key")]
    BadPublicKey {
        /// 1-based line of the text.
        line: usize,
        /// Its key id.
        id: String,
    },
    /// The same key id is listed twice.
    #[error("line {line}: key id {id:?} is listed twice")]
    Duplicate {
        /// 1-based line of the text.
        line: usize,
        /// The repeated id.
        id: String,
    },
    /// A signing key text holds no key, or more than one.
    #[error("a signing key file holds exactly one `<key-id> <base64 seed>` line")]
    NotOneSigningKey,
    /// A verify keys text lists no key.
    #[error("no verify key is listed")]
    NoVerifyKeys,
}

/// Why an event's signature does not prove that intake wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The envelope carries no signature.
    #[error("unsigned: the event carries no signature")]
    Missing,
    /// Signed under a key id the verifier does not know.
    #[error("signed with unknown key id {0:?}")]
    UnknownKey(String),
    /// The signature is not 64 bytes, or the stored bytes do not hold
    /// exactly one signature field (so what it signs is not defined).
    #[error("malformed signature (key {key_id:?}): {reason}")]
    Malformed {
        /// The key id the envelope names.
        key_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signature does not match the bytes under that key: the event
    /// was altered, or signed by someone else.
    #[error("bad signature: not made by key {0:?} over these bytes")]
    Invalid(String),
}

/// Checks a key id.
fn key_id(line: usize, id: &str) -> Result<String, KeyError> {
    let valid = !id.is_empty()
        && id.len() <= MAX_KEY_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(id.to_string())
    } else {
        Err(KeyError::BadKeyId {
            line,
            id: id.chars().take(MAX_KEY_ID + 1).collect(),
        })
    }
}

/// The `(line number, key id, 32 key bytes)` of each key line of `text`.
fn key_lines(text: &str) -> impl Iterator<Item = Result<(usize, String, [u8; 32]), KeyError>> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(line, text)| {
            let mut parts = text.split_whitespace();
            let (Some(id), Some(key), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(KeyError::Malformed { line });
            };
            let id = key_id(line, id)?;
            let bytes: [u8; 32] = BASE64
                .decode(key)
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or(KeyError::Malformed { line })?;
            Ok((line, id, bytes))
        })
}

/// `stored` with its one `signature` field record cut out, or why it has
/// none to cut.
fn without_signature(stored: &[u8]) -> Result<Vec<u8>, &'static str> {
    use prost::encoding::{WireType, decode_key, decode_varint};
    const NOT_PROTOBUF: &str = "the stored bytes are not a protobuf message";
    let mut rest = stored;
    let mut unsigned = Vec::with_capacity(stored.len());
    let mut signatures = 0;
    while !rest.is_empty() {
        let record = rest;
        let (field, wire_type) = decode_key(&mut rest).map_err(|_| NOT_PROTOBUF)?;
        let len = match wire_type {
            WireType::Varint => decode_varint(&mut rest)
                .map(|_| 0)
                .map_err(|_| NOT_PROTOBUF)?,
            WireType::SixtyFourBit => 8,
            WireType::ThirtyTwoBit => 4,
            WireType::LengthDelimited => decode_varint(&mut rest)
                .ok()
                .and_then(|len| usize::try_from(len).ok())
                .ok_or(NOT_PROTOBUF)?,
            WireType::StartGroup | WireType::EndGroup => return Err(NOT_PROTOBUF),
        };
        rest = rest.get(len..).ok_or(NOT_PROTOBUF)?;
        let record = &record[..record.len() - rest.len()];
        if field == SIGNATURE_FIELD {
            signatures += 1;
        } else {
            unsigned.extend_from_slice(record);
        }
    }
    if signatures == 1 {
        Ok(unsigned)
    } else {
        Err("the signature field must occur exactly once")
    }
}

/// The message an Ed25519 signature is made over.
fn signed_message(unsigned: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(DOMAIN_TAG.len() + unsigned.len());
    message.extend_from_slice(DOMAIN_TAG);
    message.extend_from_slice(unsigned);
    message
}

/// Intake's signing key and its id. Debug never shows the key.
#[derive(Clone)]
pub struct EventSigner {
    key_id: String,
    key: SigningKey,
}

impl fmt::Debug for EventSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl EventSigner {
    /// The signer of key `key_id` whose secret is `seed` (32 random bytes;
    /// the caller draws them, this crate does no I/O).
    pub fn from_seed(key_id: &str, seed: [u8; 32]) -> Result<Self, KeyError> {
        Ok(Self {
            key_id: self::key_id(1, key_id)?,
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Parses a signing key file's text: one `<key-id> <base64 seed>` line
    /// (comments and blank lines allowed).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut keys = key_lines(text);
        let (Some(first), None) = (keys.next(), keys.next()) else {
            return Err(KeyError::NotOneSigningKey);
        };
        let (_, id, seed) = first?;
        Ok(Self {
            key_id: id,
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The key id written into every envelope this signer signs.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The signing key file's text (secret: write it owner-only).
    pub fn key_file_text(&self) -> String {
        format!(
            "# shuangyong event signing key (secret; keep owner-only)\n{} {}\n",
            self.key_id,
            BASE64.encode(self.key.to_bytes())
        )
    }

    /// The line to publish in the verify keys file: `<key-id> <base64 public key>`.
    pub fn public_line(&self) -> String {
        format!(
            "{} {}",
            self.key_id,
            BASE64.encode(self.key.verifying_key().as_bytes())
        )
    }

    /// Signs `envelope` (after its `prev_hash` is set) and returns the bytes
    /// to store: `envelope` with `signing_key_id` and `signature` set (it
    /// keeps both), encoded.
    pub fn sign(&self, envelope: &mut EventEnvelope) -> Vec<u8> {
        envelope.signing_key_id = self.key_id.clone();
        envelope.signature.clear();
        let unsigned = envelope.encode_to_vec();
        let signature = self.key.sign(&signed_message(&unsigned)).to_bytes();
        envelope.signature = signature.to_vec();
        envelope.encode_to_vec()
    }
}

/// The public keys events may be signed with, by key id.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyKeys {
    keys: BTreeMap<String, VerifyingKey>,
}

impl fmt::Debug for VerifyKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.keys.keys()).finish()
    }
}

impl VerifyKeys {
    /// Parses a verify keys file's text: `<key-id> <base64 public key>`
    /// lines, blank lines and `#` comments; at least one key.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut keys = BTreeMap::new();
        for entry in key_lines(text) {
            let (line, id, bytes) = entry?;
            let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::BadPublicKey {
                line,
                id: id.clone(),
            })?;
            if keys.insert(id.clone(), key).is_some() {
                return Err(KeyError::Duplicate { line, id });
            }
        }
        if keys.is_empty() {
            return Err(KeyError::NoVerifyKeys);
        }
        Ok(Self { keys })
    }

    /// The keys of `signers` (e.g. the current key and the next one).
    pub fn of<'a>(signers: impl IntoIterator<Item = &'a EventSigner>) -> Self {
        Self {
            keys: signers
                .into_iter()
                .map(|s| (s.key_id.clone(), s.key.verifying_key()))
                .collect(),
        }
    }

    /// The key ids known, in order.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Checks that `stored` (an event's bytes as stored in the log, which
    /// decode to `envelope`) was signed by one of these keys; returns the
    /// key id.
    pub fn verify<'e>(
        &self,
        stored: &[u8],
        envelope: &'e EventEnvelope,
    ) -> Result<&'e str, SignatureError> {
        let key_id = envelope.signing_key_id.as_str();
        if envelope.signature.is_empty() {
            return Err(SignatureError::Missing);
        }
        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| SignatureError::UnknownKey(key_id.to_string()))?;
        let malformed = |reason| SignatureError::Malformed {
            key_id: key_id.to_string(),
            reason,
        };
        let signature: [u8; SIGNATURE_LEN] = envelope
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| malformed("not 64 bytes"))?;
        let unsigned = without_signature(stored).map_err(malformed)?;
        key.verify_strict(
            &signed_message(&unsigned),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| SignatureError::Invalid(key_id.to_string()))?;
        Ok(key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;

    fn signer(id: &str, byte: u8) -> EventSigner {
        EventSigner::from_seed(id, [byte; 32]).unwrap()
    }

    fn envelope() -> EventEnvelope {
        EventEnvelope {
            event_id: "0190b6a4-0000-7000-8000-000000000001".into(),
            aggregate_kind: "request".into(),
            aggregate_id: "0190b6a4-0000-7000-8000-000000000002".into(),
            aggregate_version: 2,
            prev_hash: vec![7; 32],
            actor: Some(pb::Actor {
                agency: "unit-31001".into(),
                user: "li".into(),
            }),
            payload: Some(pb::event_envelope::Payload::RequestClosed(
                pb::RequestClosed::default(),
            )),
            ..Default::default()
        }
    }

    fn verify(keys: &VerifyKeys, stored: &[u8]) -> Result<String, SignatureError> {
        let decoded = EventEnvelope::decode(stored).map_err(|_| SignatureError::Missing)?;
        keys.verify(stored, &decoded).map(str::to_string)
    }

    #[test]
    fn a_signed_event_verifies_and_decodes_to_the_signed_envelope() {
        let k1 = signer("k1", 1);
        let mut signed = envelope();
        let stored = k1.sign(&mut signed);
        assert_eq!(EventEnvelope::decode(stored.as_slice()).unwrap(), signed);
        // Stored as prost encodes it: a decoded event re-encodes to its bytes.
        assert_eq!(stored, signed.encode_to_vec());
        assert_eq!(signed.signing_key_id, "k1");
        assert_eq!(signed.signature.len(), 64);
        let keys = VerifyKeys::of([&k1]);
        assert_eq!(verify(&keys, &stored), Ok("k1".to_string()));
        // What is signed is the envelope encoded without its signature.
        let mut unsigned = signed.clone();
        unsigned.signature.clear();
        assert_eq!(without_signature(&stored), Ok(unsigned.encode_to_vec()));
    }

    #[test]
    fn tampering_with_any_byte_fails() {
        let k1 = signer("k1", 1);
        let keys = VerifyKeys::of([&k1]);
        let stored = k1.sign(&mut envelope());
        for i in 0..stored.len() {
            for flip in [0x01, 0x80] {
                let mut tampered = stored.clone();
                tampered[i] ^= flip;
                assert!(
                    verify(&keys, &tampered).is_err(),
                    "byte {i} flipped by {flip:#x} still verifies"
                );
            }
        }
    }

    #[test]
    fn unsigned_unknown_and_foreign_signatures_are_named() {
        let k1 = signer("k1", 1);
        let keys = VerifyKeys::of([&k1]);
        let unsigned = envelope().encode_to_vec();
        assert_eq!(verify(&keys, &unsigned), Err(SignatureError::Missing));
        let stored = signer("k9", 9).sign(&mut envelope());
        assert_eq!(
            verify(&keys, &stored),
            Err(SignatureError::UnknownKey("k9".into()))
        );
        // A forger who knows the key id but not the key.
        let forged = signer("k1", 2).sign(&mut envelope());
        assert_eq!(
            verify(&keys, &forged),
            Err(SignatureError::Invalid("k1".into()))
        );
        // A field appended to signed bytes is not covered by the signature.
        let mut appended = k1.sign(&mut envelope());
        appended.extend_from_slice(&[0x20, 0x05]); // aggregate_version = 5
        assert_eq!(
            verify(&keys, &appended),
            Err(SignatureError::Invalid("k1".into()))
        );
        // Two signature fields: which one signs what is not defined.
        let mut signed = envelope();
        let mut twice = k1.sign(&mut signed);
        prost::encoding::bytes::encode(SIGNATURE_FIELD, &signed.signature, &mut twice);
        assert!(matches!(
            verify(&keys, &twice),
            Err(SignatureError::Malformed { .. })
        ));
        // A short signature.
        let mut short = envelope();
        short.signing_key_id = "k1".into();
        short.signature = vec![1; 10];
        assert!(matches!(
            verify(&keys, &short.encode_to_vec()),
            Err(SignatureError::Malformed { .. })
        ));
    }

    #[test]
    fn rotation_verifies_old_and_new_keys_and_drops_retired_ones() {
        let old = signer("2026-01", 1);
        let new = signer("2026-07", 2);
        let by_old = old.sign(&mut envelope());
        let by_new = new.sign(&mut envelope());
        let published = format!(
            "# shuangyong verify keys\n\n{}\n  {}  \n",
            old.public_line(),
            new.public_line()
        );
        let keys = VerifyKeys::parse(&published).unwrap();
        assert_eq!(keys.key_ids().collect::<Vec<_>>(), ["2026-01", "2026-07"]);
        assert_eq!(verify(&keys, &by_old), Ok("2026-01".into()));
        assert_eq!(verify(&keys, &by_new), Ok("2026-07".into()));
        let retired = VerifyKeys::parse(&new.public_line()).unwrap();
        assert_eq!(
            verify(&retired, &by_old),
            Err(SignatureError::UnknownKey("2026-01".into()))
        );
    }

    #[test]
    fn key_texts_round_trip_and_bad_ones_are_refused() {
        let k1 = signer("k1", 3);
        let parsed = EventSigner::parse(&k1.key_file_text()).unwrap();
        assert_eq!(parsed.public_line(), k1.public_line());
        assert!(!format!("{parsed:?}").contains(&k1.key_file_text()[60..]));
        assert!(matches!(
            EventSigner::parse("# nothing\n"),
            Err(KeyError::NotOneSigningKey)
        ));
        let two = format!("{}{}", k1.key_file_text(), signer("k2", 4).key_file_text());
        assert!(matches!(
            EventSigner::parse(&two),
            Err(KeyError::NotOneSigningKey)
        ));
        assert!(matches!(
            VerifyKeys::parse("k1 notbase64!"),
            Err(KeyError::Malformed { line: 1 })
        ));
        assert!(matches!(
            VerifyKeys::parse("bad/id AAAA"),
            Err(KeyError::BadKeyId { line: 1, .. })
        ));
        assert_eq!(VerifyKeys::parse("# none"), Err(KeyError::NoVerifyKeys));
        let dup = format!("{}\n{}", k1.public_line(), k1.public_line());
        assert!(matches!(
            VerifyKeys::parse(&dup),
            Err(KeyError::Duplicate { line: 2, .. })
        ));
        assert!(EventSigner::from_seed("", [0; 32]).is_err());
    }
}
