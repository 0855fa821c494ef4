//! Encryption of personal data (issue 10): the pure crypto core, no I/O
//! beyond drawing random bytes from the operating system.
//!
//! Every person has a data key ([`DataKey`]); each personal field is sealed
//! under it with an AEAD, a fresh nonce and the event's identity as
//! associated data, and what is stored (and hashed, and signed) is the
//! ciphertext. Destroying the data key erases the person for good while the
//! log's chains and signatures still verify: crypto-shredding.
//!
//! Data keys are kept outside the log, each wrapped by a key-encryption key
//! of the deployment ([`KekRing`]), bound to its subject, so the key store
//! alone reveals nothing and a KEK can be rotated by rewrapping keys
//! without touching a single event.
//!
//! - `cipher`: the AEADs (AES-256-GCM by default, SM4-GCM
//!   for the commercial-cryptography evaluation), data keys, sealing.
//! - `kek`: KEK files, wrapping, rotation, the start-up canary.
//! - [`fields`]: which fields of which events are personal, and sealing
//!   them into an envelope or opening them back.

mod cipher;
pub mod fields;
mod kek;

pub use cipher::{Cipher, CryptoError, DataKey, NONCE_LEN, Sealed, TAG_LEN, UnknownCipher};
pub use kek::{Kek, KekError, KekRing, WrappedKey};
