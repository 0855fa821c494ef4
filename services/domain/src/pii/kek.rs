//! Key-encryption keys (KEKs): the deployment's keys that wrap every
//! person's data key, so the key store holds only wrapped keys and a copy of
//! it is useless without the KEK file.
//!
//! KEKs carry a version. The highest version wraps new keys; the others only
//! unwrap, so a rotation adds a version, rewraps each stored data key under
//! it ([`KekRing::rewrap`]; events are not touched, their fields stay sealed
//! under the same data keys) and then retires the old version from the file.
//!
//! A data key is wrapped with the subject it belongs to (a person id) and
//! the KEK version bound in as associated data, so a wrapped key copied onto
//! another person's entry does not unwrap. A canary ([`KekRing::canary`])
//! stored beside the keys lets a service tell a wrong KEK at start-up from a
//! key that was erased.
//!
//! KEK file text (the file is read by the services, not here): lines
//! `<version> <cipher> <base64 key>`, version 1 to 2^32-1, each listed once;
//! blank lines and `#` comments allowed. Errors name the line, never its
//! text.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use zeroize::Zeroizing;

use super::cipher::{Cipher, CryptoError, DataKey, NONCE_LEN, TAG_LEN, UnknownCipher};

/// Associated data of a wrapped data key, before its subject and version.
const DATA_KEY_AAD: &[u8] = b"shuangyong.v1.data-key\n";

/// Associated data of the canary, before the KEK version.
const KEK_CHECK_AAD: &[u8] = b"shuangyong.v1.kek-check\n";

/// What the canary seals: a fixed public constant, so only the KEK is
/// tested.
const CANARY: &[u8; 32] = b"shuangyong.v1 kek canary 32 byte";

/// First byte of [`WrappedKey::encode`]: the layout's version.
const WRAPPED_FORMAT: u8 = 1;

/// Bytes of [`WrappedKey::encode`] before the ciphertext: format, KEK
/// version (4, big-endian), cipher code, nonce.
const WRAPPED_HEADER_LEN: usize = 1 + 4 + 1 + NONCE_LEN;

/// First lines of a KEK file written by [`KekRing::file_text`].
const FILE_HEADER: &str = "# shuangyong key-encryption keys (secret: keep owner-only, never log)\n\
                           # <version> <cipher> <base64 key>; the highest version wraps new keys\n";

/// Why a KEK text cannot be used or a wrapped key cannot be unwrapped.
/// Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KekError {
    /// A line is not `<version> <cipher> <base64 key>`.
    #[error("line {line}: expected `<version> <cipher> <base64 key>`")]
    Malformed {
        /// 1-based line of the text.
        line: usize,
    },
    /// A version is not a whole number from 1 to 2^32-1.
    #[error("line {line}: the version must be a whole number from 1 to 4294967295")]
    BadVersion {
        /// 1-based line of the text.
        line: usize,
    },
    /// The cipher is not one of ours.
    #[error("line {line}: {source}")]
    UnknownCipher {
        /// 1-based line of the text.
        line: usize,
        /// What was expected.
        source: UnknownCipher,
    },
    /// The key is not base64, or not of its cipher's length.
    #[error("line {line}: the key must be the base64 of {expected} bytes for {cipher}")]
    BadKey {
        /// 1-based line of the text.
        line: usize,
        /// The line's cipher.
        cipher: Cipher,
        /// Its key length.
        expected: usize,
    },
    /// The same version is listed twice.
    #[error("line {line}: version {version} is listed twice")]
    DuplicateVersion {
        /// 1-based line of the second listing.
        line: usize,
        /// The repeated version.
        version: u32,
    },
    /// The text lists no KEK.
    #[error("no key-encryption key is listed")]
    Empty,
    /// A key was wrapped under a KEK version the ring does not hold
    /// (retired, or the wrong file).
    #[error("no key-encryption key of version {0} is loaded")]
    UnknownVersion(u32),
    /// The KEK of that version does not authenticate the wrapped value: the
    /// KEK is not the one it was wrapped with, or the value was altered or
    /// belongs to another subject.
    #[error(
        "key-encryption key version {version} does not open this value: \
         a wrong key-encryption key, or a value altered or moved from another subject"
    )]
    WrongKek {
        /// The KEK version tried.
        version: u32,
    },
    /// The bytes are not an encoded [`WrappedKey`].
    #[error("malformed wrapped key: {0}")]
    BadWrappedKey(&'static str),
    /// The current version is 2^32-1: no higher version can be added.
    #[error("no key-encryption key version is left above {0}")]
    VersionsExhausted(u32),
    /// Sealing failed (the random generator).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// A data key sealed under a KEK, as the key store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// Version of the KEK it is sealed under.
    pub kek_version: u32,
    /// Cipher of the data key inside (of the KEK for a canary).
    pub cipher: Cipher,
    /// Nonce of the seal.
    pub nonce: [u8; NONCE_LEN],
    /// The sealed key bytes followed by the tag.
    pub ciphertext: Vec<u8>,
}

/// One byte per cipher in [`WrappedKey::encode`]; never reuse a code.
fn cipher_code(cipher: Cipher) -> u8 {
    match cipher {
        Cipher::Aes256Gcm => 1,
        Cipher::Sm4Gcm => 2,
    }
}

impl WrappedKey {
    /// The stored form: format byte (1), KEK version (4 bytes,
    /// big-endian), cipher code (1 AES-256-GCM, 2 SM4-GCM), the 12-byte
    /// nonce, then the ciphertext with its tag.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(WRAPPED_HEADER_LEN + self.ciphertext.len());
        bytes.push(WRAPPED_FORMAT);
        bytes.extend_from_slice(&self.kek_version.to_be_bytes());
        bytes.push(cipher_code(self.cipher));
        bytes.extend_from_slice(&self.nonce);
        bytes.extend_from_slice(&self.ciphertext);
        bytes
    }

    /// Reads what [`Self::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<Self, KekError> {
        const TOO_SHORT: KekError = KekError::BadWrappedKey("too short");
        let (header, ciphertext) = bytes
            .split_at_checked(WRAPPED_HEADER_LEN)
            .ok_or(TOO_SHORT)?;
        let header: [u8; WRAPPED_HEADER_LEN] = header.try_into().map_err(|_| TOO_SHORT)?;
        let [format, v0, v1, v2, v3, code, nonce @ ..] = header;
        if format != WRAPPED_FORMAT {
            return Err(KekError::BadWrappedKey("unknown format"));
        }
        let cipher = Cipher::ALL
            .into_iter()
            .find(|cipher| cipher_code(*cipher) == code)
            .ok_or(KekError::BadWrappedKey("unknown cipher code"))?;
        if ciphertext.len() < TAG_LEN {
            return Err(TOO_SHORT);
        }
        Ok(Self {
            kek_version: u32::from_be_bytes([v0, v1, v2, v3]),
            cipher,
            nonce,
            ciphertext: ciphertext.to_vec(),
        })
    }
}

/// One key-encryption key and its version. Debug shows no key bytes.
#[derive(Clone)]
pub struct Kek {
    version: u32,
    key: DataKey,
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kek")
            .field("version", &self.version)
            .field("cipher", &self.key.cipher())
            .finish_non_exhaustive()
    }
}

impl Kek {
    /// Its version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Its cipher.
    pub fn cipher(&self) -> Cipher {
        self.key.cipher()
    }
}

/// What a value is sealed under a KEK for; each gives its own associated
/// data, so one can never be opened as the other.
#[derive(Clone, Copy)]
enum Purpose<'a> {
    /// A data key of this subject.
    DataKey { subject: &'a str },
    /// The canary.
    Check,
}

impl Purpose<'_> {
    /// `shuangyong.v1.data-key\n<subject>\n<version>` or
    /// `shuangyong.v1.kek-check\n<version>`, the version as 4 big-endian
    /// bytes (fixed length last, so no two subjects and versions collide).
    fn aad(self, version: u32) -> Vec<u8> {
        let mut aad = match self {
            Self::DataKey { subject } => [DATA_KEY_AAD, subject.as_bytes(), b"\n"].concat(),
            Self::Check => KEK_CHECK_AAD.to_vec(),
        };
        aad.extend_from_slice(&version.to_be_bytes());
        aad
    }
}

/// All the KEK versions a service holds: the current (highest) one wraps,
/// every one unwraps. Never empty. Debug shows versions and ciphers only.
#[derive(Clone)]
pub struct KekRing {
    current: Kek,
    older: BTreeMap<u32, Kek>,
}

impl fmt::Debug for KekRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.keks()).finish()
    }
}

impl KekRing {
    /// The ring of `keks`, or `None` when there are none.
    fn from_keks(mut keks: BTreeMap<u32, Kek>) -> Option<Self> {
        let (_, current) = keks.pop_last()?;
        Some(Self {
            current,
            older: keks,
        })
    }

    /// A new ring of one fresh KEK of `cipher`, version 1 (the first KEK
    /// file of a deployment).
    pub fn generate(cipher: Cipher) -> Result<Self, CryptoError> {
        Ok(Self {
            current: Kek {
                version: 1,
                key: DataKey::generate(cipher)?,
            },
            older: BTreeMap::new(),
        })
    }

    /// This ring plus a fresh KEK of `cipher` one version above the
    /// current, which becomes current (the first step of a rotation).
    pub fn rotated(&self, cipher: Cipher) -> Result<Self, KekError> {
        let version = self.current.version;
        let next = Kek {
            version: version
                .checked_add(1)
                .ok_or(KekError::VersionsExhausted(version))?,
            key: DataKey::generate(cipher)?,
        };
        let mut older = self.older.clone();
        older.insert(version, self.current.clone());
        Ok(Self {
            current: next,
            older,
        })
    }

    /// This ring with its current KEK only (the last step of a rotation,
    /// once every stored key is rewrapped under it).
    pub fn without_older(&self) -> Self {
        Self {
            current: self.current.clone(),
            older: BTreeMap::new(),
        }
    }

    /// Parses a KEK file's text (see the module doc).
    pub fn parse(text: &str) -> Result<Self, KekError> {
        let mut keks = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            let line_text = line.trim();
            if line_text.is_empty() || line_text.starts_with('#') {
                continue;
            }
            let line = index + 1;
            let kek = parse_line(line, line_text)?;
            if keks.contains_key(&kek.version) {
                return Err(KekError::DuplicateVersion {
                    line,
                    version: kek.version,
                });
            }
            keks.insert(kek.version, kek);
        }
        Self::from_keks(keks).ok_or(KekError::Empty)
    }

    /// The KEK file's text, every version in ascending order (secret: write
    /// it owner-only). Parses back to this ring.
    pub fn file_text(&self) -> Zeroizing<String> {
        // Room for every line up front: growing the string would leave
        // copies of keys in freed memory.
        const LINE_ROOM: usize = 96;
        let mut text = Zeroizing::new(String::with_capacity(
            FILE_HEADER.len() + LINE_ROOM * (self.older.len() + 1),
        ));
        text.push_str(FILE_HEADER);
        for kek in self.keks() {
            text.push_str(&kek.version.to_string());
            text.push(' ');
            text.push_str(kek.cipher().as_str());
            text.push(' ');
            BASE64.encode_string(kek.key.bytes(), &mut text);
            text.push('\n');
        }
        text
    }

    /// The KEK new keys are wrapped with: the highest version.
    pub fn current(&self) -> &Kek {
        &self.current
    }

    /// The versions of every KEK, ascending.
    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        self.keks().map(Kek::version)
    }

    /// Every KEK, in ascending version.
    fn keks(&self) -> impl Iterator<Item = &Kek> {
        self.older.values().chain([&self.current])
    }

    /// The KEK of `version`.
    fn get(&self, version: u32) -> Result<&Kek, KekError> {
        if version == self.current.version {
            Ok(&self.current)
        } else {
            self.older
                .get(&version)
                .ok_or(KekError::UnknownVersion(version))
        }
    }

    /// Seals `plaintext` for `purpose` under the current KEK.
    fn seal(
        &self,
        purpose: Purpose<'_>,
        cipher: Cipher,
        plaintext: &[u8],
    ) -> Result<WrappedKey, CryptoError> {
        let kek = &self.current;
        let sealed = kek.key.seal(&purpose.aad(kek.version), plaintext)?;
        Ok(WrappedKey {
            kek_version: kek.version,
            cipher,
            nonce: sealed.nonce,
            ciphertext: sealed.ciphertext,
        })
    }

    /// Opens what [`Self::seal`] sealed for `purpose`, under the KEK of the
    /// version it names.
    fn open(
        &self,
        purpose: Purpose<'_>,
        wrapped: &WrappedKey,
    ) -> Result<Zeroizing<Vec<u8>>, KekError> {
        let version = wrapped.kek_version;
        let kek = self.get(version)?;
        kek.key
            .open(&purpose.aad(version), &wrapped.nonce, &wrapped.ciphertext)
            .map_err(|error| match error {
                CryptoError::Authentication => KekError::WrongKek { version },
                other => other.into(),
            })
    }

    /// Wraps `key`, the data key of `subject` (a person id), under the
    /// current KEK.
    pub fn wrap(&self, key: &DataKey, subject: &str) -> Result<WrappedKey, CryptoError> {
        self.seal(Purpose::DataKey { subject }, key.cipher(), key.bytes())
    }

    /// The data key of `subject` inside `wrapped`.
    pub fn unwrap(&self, wrapped: &WrappedKey, subject: &str) -> Result<DataKey, KekError> {
        let bytes = self.open(Purpose::DataKey { subject }, wrapped)?;
        DataKey::from_bytes(wrapped.cipher, &bytes)
            .map_err(|_| KekError::BadWrappedKey("the key's length does not match its cipher"))
    }

    /// `wrapped` unwrapped with the KEK of its version and wrapped again
    /// under the current one (a rotation's rewrap).
    pub fn rewrap(&self, wrapped: &WrappedKey, subject: &str) -> Result<WrappedKey, KekError> {
        let key = self.unwrap(wrapped, subject)?;
        Ok(self.wrap(&key, subject)?)
    }

    /// A fixed constant sealed under the current KEK, to be stored with the
    /// keys and [checked](Self::check) at start-up.
    pub fn canary(&self) -> Result<WrappedKey, CryptoError> {
        self.seal(Purpose::Check, self.current.cipher(), CANARY)
    }

    /// Whether this ring holds the KEK `canary` was made with: a wrong or
    /// missing KEK is an error here, before any key reads as erased.
    pub fn check(&self, canary: &WrappedKey) -> Result<(), KekError> {
        let opened = self.open(Purpose::Check, canary)?;
        if opened.as_slice() == CANARY {
            Ok(())
        } else {
            Err(KekError::WrongKek {
                version: canary.kek_version,
            })
        }
    }
}

/// One `<version> <cipher> <base64 key>` line.
fn parse_line(line: usize, text: &str) -> Result<Kek, KekError> {
    let mut fields = text.split_whitespace();
    let (Some(version), Some(cipher), Some(key), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(KekError::Malformed { line });
    };
    let version = Some(version)
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<u32>().ok())
        .filter(|version| *version >= 1)
        .ok_or(KekError::BadVersion { line })?;
    let cipher = cipher
        .parse::<Cipher>()
        .map_err(|source| KekError::UnknownCipher { line, source })?;
    let bad_key = KekError::BadKey {
        line,
        cipher,
        expected: cipher.key_len(),
    };
    let bytes = Zeroizing::new(BASE64.decode(key).map_err(|_| bad_key.clone())?);
    let key = DataKey::from_bytes(cipher, &bytes).map_err(|_| bad_key)?;
    Ok(Kek { version, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A KEK line with every key byte `byte`, and its base64 key text.
    fn kek_line(version: u32, cipher: Cipher, byte: u8) -> (String, String) {
        let key = BASE64.encode(vec![byte; cipher.key_len()]);
        (format!("{version} {cipher} {key}"), key)
    }

    fn ring(lines: &[(u32, Cipher, u8)]) -> KekRing {
        let text: Vec<String> = lines
            .iter()
            .map(|(version, cipher, byte)| kek_line(*version, *cipher, *byte).0)
            .collect();
        KekRing::parse(&text.join("\n")).unwrap()
    }

    #[test]
    fn parse_skips_comments_and_takes_the_highest_version_as_current() {
        let (one, _) = kek_line(1, Cipher::Aes256Gcm, 1);
        let (three, _) = kek_line(3, Cipher::Sm4Gcm, 3);
        let text = format!("# keys\n\n  {three}  \n# old\n{one}\n");
        let ring = KekRing::parse(&text).unwrap();
        assert_eq!(ring.current().version(), 3);
        assert_eq!(ring.current().cipher(), Cipher::Sm4Gcm);
        assert_eq!(
            format!("{ring:?}"),
            "[Kek { version: 1, cipher: Aes256Gcm, .. }, Kek { version: 3, cipher: Sm4Gcm, .. }]"
        );
    }

    #[test]
    fn parse_errors_name_the_line_and_hold_no_key_text() {
        let (good, _) = kek_line(1, Cipher::Aes256Gcm, 1);
        let aes_key = BASE64.encode([0x5A; 32]);
        let short_key = BASE64.encode([0x5A; 16]);
        let cases = [
            (
                format!("0 aes-256-gcm {aes_key}"),
                KekError::BadVersion { line: 3 },
            ),
            (
                format!("+2 aes-256-gcm {aes_key}"),
                KekError::BadVersion { line: 3 },
            ),
            (
                format!("4294967296 aes-256-gcm {aes_key}"),
                KekError::BadVersion { line: 3 },
            ),
            (
                format!("1 aes-256-gcm {aes_key}"),
                KekError::DuplicateVersion {
                    line: 3,
                    version: 1,
                },
            ),
            (
                format!("2 aes-256-gcm {short_key}"),
                KekError::BadKey {
                    line: 3,
                    cipher: Cipher::Aes256Gcm,
                    expected: 32,
                },
            ),
            (
                format!("2 sm4-gcm {aes_key}"),
                KekError::BadKey {
                    line: 3,
                    cipher: Cipher::Sm4Gcm,
                    expected: 16,
                },
            ),
            (
                "2 aes-256-gcm not*base64".to_string(),
                KekError::BadKey {
                    line: 3,
                    cipher: Cipher::Aes256Gcm,
                    expected: 32,
                },
            ),
            (
                format!("2 aes-128-gcm {aes_key}"),
                KekError::UnknownCipher {
                    line: 3,
                    source: UnknownCipher,
                },
            ),
            (
                format!("2 {aes_key} aes-256-gcm"),
                KekError::UnknownCipher {
                    line: 3,
                    source: UnknownCipher,
                },
            ),
            (
                format!("2 aes-256-gcm {aes_key} extra"),
                KekError::Malformed { line: 3 },
            ),
            (format!("2 {aes_key}"), KekError::Malformed { line: 3 }),
        ];
        for (bad, expected) in cases {
            let text = format!("# ring\n{good}\n{bad}\n");
            let error = KekRing::parse(&text).unwrap_err();
            assert_eq!(error, expected, "{bad}");
            let message = error.to_string();
            assert!(message.starts_with("line 3: "), "{message}");
            assert!(!message.contains(&aes_key[..8]), "{message}");
            assert!(!message.contains(&short_key[..8]), "{message}");
        }
    }

    #[test]
    fn an_empty_ring_is_an_error() {
        for text in ["", "\n  \n", "# no keys yet\n"] {
            assert_eq!(KekRing::parse(text).unwrap_err(), KekError::Empty);
        }
    }

    #[test]
    fn file_text_parses_back_and_rotation_adds_the_next_version() {
        let first = KekRing::generate(Cipher::Sm4Gcm).unwrap();
        assert_eq!(first.current().version(), 1);
        let rotated = first.rotated(Cipher::Aes256Gcm).unwrap();
        assert_eq!(rotated.current().version(), 2);

        let text = rotated.file_text();
        assert!(text.starts_with(FILE_HEADER));
        let first_line = first.file_text().lines().last().unwrap().to_string();
        assert!(text.contains(&first_line), "rotation keeps version 1");

        let reread = KekRing::parse(&text).unwrap();
        assert_eq!(format!("{reread:?}"), format!("{rotated:?}"));
        let wrapped = first
            .wrap(&DataKey::generate(Cipher::Aes256Gcm).unwrap(), "p-1")
            .unwrap();
        assert!(reread.unwrap(&wrapped, "p-1").is_ok());
        assert_eq!(reread.file_text(), text);
    }

    #[test]
    fn the_last_version_cannot_rotate() {
        let ring = ring(&[(u32::MAX, Cipher::Aes256Gcm, 1)]);
        assert_eq!(
            ring.rotated(Cipher::Aes256Gcm).unwrap_err(),
            KekError::VersionsExhausted(u32::MAX)
        );
    }

    #[test]
    fn wrap_then_unwrap_round_trips_for_both_ciphers() {
        for kek_cipher in Cipher::ALL {
            let ring = KekRing::generate(kek_cipher).unwrap();
            for data_cipher in Cipher::ALL {
                let key = DataKey::generate(data_cipher).unwrap();
                let wrapped = ring.wrap(&key, "person-42").unwrap();
                assert_eq!(wrapped.kek_version, 1);
                assert_eq!(wrapped.cipher, data_cipher);
                let decoded = WrappedKey::decode(&wrapped.encode()).unwrap();
                assert_eq!(decoded, wrapped);

                let unwrapped = ring.unwrap(&decoded, "person-42").unwrap();
                assert_eq!(unwrapped.cipher(), data_cipher);
                assert_eq!(unwrapped.bytes(), key.bytes());
            }
        }
    }

    #[test]
    fn a_wrapped_key_does_not_unwrap_for_another_subject() {
        let ring = KekRing::generate(Cipher::Aes256Gcm).unwrap();
        let wrapped = ring
            .wrap(&DataKey::generate(Cipher::Aes256Gcm).unwrap(), "person-1")
            .unwrap();
        for other in ["person-2", "person-1\n", ""] {
            assert_eq!(
                ring.unwrap(&wrapped, other).unwrap_err(),
                KekError::WrongKek { version: 1 }
            );
        }
    }

    #[test]
    fn rotation_rewraps_to_the_new_version_and_the_old_one_can_retire() {
        let v1 = ring(&[(1, Cipher::Aes256Gcm, 1)]);
        let v1_v2 = ring(&[(1, Cipher::Aes256Gcm, 1), (2, Cipher::Sm4Gcm, 2)]);
        let v2 = v1_v2.without_older();
        assert_eq!(
            v2.file_text(),
            ring(&[(2, Cipher::Sm4Gcm, 2)]).file_text(),
            "only version 2 is left"
        );
        let key = DataKey::generate(Cipher::Aes256Gcm).unwrap();

        let old = v1.wrap(&key, "p").unwrap();
        let new = v1_v2.rewrap(&old, "p").unwrap();
        assert_eq!(new.kek_version, 2);
        assert_eq!(v2.unwrap(&new, "p").unwrap().bytes(), key.bytes());
        assert_eq!(
            v2.unwrap(&old, "p").unwrap_err(),
            KekError::UnknownVersion(1)
        );
        assert_eq!(
            v2.rewrap(&old, "p").unwrap_err(),
            KekError::UnknownVersion(1)
        );
    }

    #[test]
    fn a_wrong_kek_of_the_same_version_is_refused() {
        let right = ring(&[(1, Cipher::Aes256Gcm, 1)]);
        let wrong = ring(&[(1, Cipher::Aes256Gcm, 9)]);
        let wrapped = right
            .wrap(&DataKey::generate(Cipher::Sm4Gcm).unwrap(), "p")
            .unwrap();
        let error = wrong.unwrap(&wrapped, "p").unwrap_err();
        assert_eq!(error, KekError::WrongKek { version: 1 });
    }

    #[test]
    fn the_canary_tells_the_right_kek_from_a_wrong_or_missing_one() {
        for cipher in Cipher::ALL {
            let right = ring(&[(1, cipher, 1)]);
            let canary = right.canary().unwrap();
            assert_eq!(canary.cipher, cipher);
            right.check(&canary).unwrap();
            right
                .check(&WrappedKey::decode(&canary.encode()).unwrap())
                .unwrap();

            let wrong = ring(&[(1, cipher, 9)]);
            assert_eq!(
                wrong.check(&canary).unwrap_err(),
                KekError::WrongKek { version: 1 }
            );
            let later = ring(&[(2, cipher, 1)]);
            assert_eq!(
                later.check(&canary).unwrap_err(),
                KekError::UnknownVersion(1)
            );
            let rotated = right.rotated(cipher).unwrap();
            rotated.check(&canary).unwrap();
        }
    }

    #[test]
    fn a_canary_is_not_a_data_key_and_a_data_key_is_not_a_canary() {
        let ring = ring(&[(1, Cipher::Aes256Gcm, 1)]);
        let canary = ring.canary().unwrap();
        assert!(ring.unwrap(&canary, "").is_err());
        let key = DataKey::from_bytes(Cipher::Aes256Gcm, CANARY).unwrap();
        assert!(ring.check(&ring.wrap(&key, "").unwrap()).is_err());
    }

    #[test]
    fn decoding_garbage_is_an_error() {
        let ring = ring(&[(1, Cipher::Aes256Gcm, 1)]);
        let encoded = ring
            .wrap(&DataKey::generate(Cipher::Sm4Gcm).unwrap(), "p")
            .unwrap()
            .encode();
        for end in 0..WRAPPED_HEADER_LEN + TAG_LEN {
            assert_eq!(
                WrappedKey::decode(&encoded[..end]).unwrap_err(),
                KekError::BadWrappedKey("too short")
            );
        }
        let mut other_format = encoded.clone();
        other_format[0] = 2;
        assert_eq!(
            WrappedKey::decode(&other_format).unwrap_err(),
            KekError::BadWrappedKey("unknown format")
        );
        let mut other_cipher = encoded.clone();
        other_cipher[5] = 0;
        assert_eq!(
            WrappedKey::decode(&other_cipher).unwrap_err(),
            KekError::BadWrappedKey("unknown cipher code")
        );
    }

    #[test]
    fn a_cipher_relabelled_after_wrapping_does_not_unwrap() {
        let ring = ring(&[(1, Cipher::Aes256Gcm, 1)]);
        let mut wrapped = ring
            .wrap(&DataKey::generate(Cipher::Sm4Gcm).unwrap(), "p")
            .unwrap();
        wrapped.cipher = Cipher::Aes256Gcm;
        assert!(matches!(
            ring.unwrap(&wrapped, "p").unwrap_err(),
            KekError::BadWrappedKey(_)
        ));
    }
}
