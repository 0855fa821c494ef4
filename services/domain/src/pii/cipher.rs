//! The AEAD a personal field is sealed with: AES-256-GCM by default,
//! SM4-GCM where a deployment must pass the commercial-cryptography
//! evaluation (GB/T 39786). Both are GCM over a 128-bit block cipher with a
//! 12-byte nonce and a 16-byte tag, so everything above this module (the
//! stored layout, the key wrapping) is the same for either.
//!
//! A nonce is drawn from the operating system's generator for every seal:
//! a data key seals many fields over its life, and a repeated nonce under
//! GCM would give away the XOR of two plaintexts and the hash key. Key bytes
//! live in zeroizing buffers and never reach a `Debug` output or an error.

use std::fmt;
use std::str::FromStr;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, AesGcm, Nonce};
use zeroize::Zeroizing;

/// SM4 in Galois/Counter Mode with a 96-bit nonce, as RFC 8998 uses it.
type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

/// Length of a nonce, for both ciphers.
pub const NONCE_LEN: usize = 12;

/// Length of the authentication tag that ends every ciphertext.
pub const TAG_LEN: usize = 16;

/// The AEAD a deployment seals personal data with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// AES-256 in GCM (NIST SP 800-38D): the default.
    #[default]
    Aes256Gcm,
    /// SM4 in GCM (GB/T 32907 block cipher; RFC 8998).
    Sm4Gcm,
}

impl Cipher {
    /// Every cipher, in the order of their names in messages.
    pub const ALL: [Self; 2] = [Self::Aes256Gcm, Self::Sm4Gcm];

    /// The name used in configuration and key files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "aes-256-gcm",
            Self::Sm4Gcm => "sm4-gcm",
        }
    }

    /// Length of this cipher's key in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::Aes256Gcm => 32,
            Self::Sm4Gcm => 16,
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cipher name that is not one of ours. The name itself is left out: in
/// a key file a misplaced key could stand where the name belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown cipher: expected \"aes-256-gcm\" or \"sm4-gcm\"")]
pub struct UnknownCipher;

impl FromStr for Cipher {
    type Err = UnknownCipher;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|cipher| cipher.as_str() == name)
            .ok_or(UnknownCipher)
    }
}

/// Why sealing or opening failed. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(getrandom::Error),
    /// Key bytes of the wrong length for the cipher.
    #[error("{cipher} keys are {expected} bytes, not {found}")]
    KeyLength {
        /// The cipher the key was meant for.
        cipher: Cipher,
        /// Its key length.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The plaintext is longer than GCM can seal under one nonce (64 GiB).
    #[error("the plaintext is too long to seal")]
    TooLong,
    /// The ciphertext, its nonce, its associated data or the key is not the
    /// one it was sealed with. Deliberately says nothing more.
    #[error("authentication failed")]
    Authentication,
}

/// `N` bytes from the operating system's generator.
fn random<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes).map_err(CryptoError::Random)?;
    Ok(bytes)
}

/// A sealed value: the nonce it was sealed under and the ciphertext, which
/// ends with the [`TAG_LEN`]-byte tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The nonce, fresh for every seal.
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the authentication tag.
    pub ciphertext: Vec<u8>,
}

/// A symmetric key and its cipher: a person's data key, or (inside
/// [`super::KekRing`]) a key-encryption key. Debug shows the cipher only.
#[derive(Clone)]
pub struct DataKey {
    cipher: Cipher,
    bytes: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl DataKey {
    /// A fresh random key for `cipher`.
    pub fn generate(cipher: Cipher) -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new(vec![0; cipher.key_len()]);
        getrandom::fill(&mut bytes).map_err(CryptoError::Random)?;
        Ok(Self { cipher, bytes })
    }

    /// The key of `cipher` whose bytes are `bytes` (copied; the caller
    /// zeroizes its own copy).
    pub fn from_bytes(cipher: Cipher, bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != cipher.key_len() {
            return Err(CryptoError::KeyLength {
                cipher,
                expected: cipher.key_len(),
                found: bytes.len(),
            });
        }
        Ok(Self {
            cipher,
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// The key's cipher.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// The key's bytes, for wrapping it under a key-encryption key.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Seals `plaintext` under a fresh random nonce, binding `aad` (which is
    /// not stored: the opener must present the same bytes).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        self.seal_with_nonce(random()?, aad, plaintext)
    }

    /// Seals under a synthetic nonce derived from the key, `aad` and
    /// `plaintext`, as SIV modes do: the same input always gives the same
    /// bytes (a rebuilt read model equals the live one byte for byte), and
    /// two different plaintexts never share a nonce short of a 96-bit hash
    /// collision. It reveals that two values sealed under one key and `aad`
    /// are equal, so use it only where that says nothing.
    pub fn seal_deterministic(&self, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        let nonce_key = blake3::derive_key("shuangyong.v1 pii synthetic nonce", &self.bytes);
        let mut hasher = blake3::Hasher::new_keyed(&nonce_key);
        hasher.update(&(aad.len() as u64).to_le_bytes());
        hasher.update(aad);
        hasher.update(plaintext);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&hasher.finalize().as_bytes()[..NONCE_LEN]);
        self.seal_with_nonce(nonce, aad, plaintext)
    }

    /// Seals under a given nonce: [`Self::seal`] with its fresh nonce, and
    /// the known-answer tests with the published one.
    fn seal_with_nonce(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Sealed, CryptoError> {
        let payload = Payload {
            msg: plaintext,
            aad,
        };
        let ciphertext = match self.cipher {
            Cipher::Aes256Gcm => self.aead::<Aes256Gcm>()?.encrypt(&nonce.into(), payload),
            Cipher::Sm4Gcm => self.aead::<Sm4Gcm>()?.encrypt(&nonce.into(), payload),
        }
        .map_err(|_| CryptoError::TooLong)?;
        Ok(Sealed { nonce, ciphertext })
    }

    /// Opens what [`Self::seal`] sealed under this key with these `aad`.
    /// Any mismatch (key, nonce, associated data, a changed bit) is
    /// [`CryptoError::Authentication`], and no plaintext is released.
    pub fn open(
        &self,
        aad: &[u8],
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Authentication)?;
        let nonce = Nonce::<U12>::from(nonce);
        let payload = Payload {
            msg: ciphertext,
            aad,
        };
        match self.cipher {
            Cipher::Aes256Gcm => self.aead::<Aes256Gcm>()?.decrypt(&nonce, payload),
            Cipher::Sm4Gcm => self.aead::<Sm4Gcm>()?.decrypt(&nonce, payload),
        }
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Authentication)
    }

    /// The AEAD instance of this key (its key schedule lives as long as one
    /// seal or open).
    fn aead<A: KeyInit + AeadCore<NonceSize = U12>>(&self) -> Result<A, CryptoError> {
        A::new_from_slice(&self.bytes).map_err(|_| CryptoError::KeyLength {
            cipher: self.cipher,
            expected: self.cipher.key_len(),
            found: self.bytes.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    /// Checks a published vector both ways: sealing `plaintext` under the
    /// given nonce gives exactly `ciphertext || tag`, and opening that gives
    /// `plaintext` back.
    fn known_answer(cipher: Cipher, vector: [&str; 6]) {
        let [key, nonce, aad, plaintext, ciphertext, tag] = vector.map(hex);
        let key = DataKey::from_bytes(cipher, &key).unwrap();
        let nonce: [u8; NONCE_LEN] = nonce.try_into().unwrap();
        let expected = [ciphertext, tag].concat();

        let sealed = key.seal_with_nonce(nonce, &aad, &plaintext).unwrap();
        assert_eq!(sealed.ciphertext, expected);

        let opened = key.open(&aad, &nonce, &expected).unwrap();
        assert_eq!(*opened, plaintext);
    }

    /// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)"
    /// (submitted to NIST, revised 2005), appendix B, test case 16:
    /// AES-256, 96-bit IV, 60-byte plaintext, 20 bytes of associated data.
    #[test]
    fn aes_256_gcm_matches_gcm_specification_test_case_16() {
        known_answer(
            Cipher::Aes256Gcm,
            [
                "feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308",
                "cafebabefacedbaddecaf888",
                "feedfacedeadbeeffeedfacedeadbeefabaddad2",
                "d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
                 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39",
                "522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa
                 8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662",
                "76fc6ece0f4e1768cddf8853bb2d551b",
            ],
        );
    }

    /// RFC 8998, "ShangMi (SM) Cipher Suites for TLS 1.3", appendix A.1
    /// (SM4-GCM test vectors).
    #[test]
    fn sm4_gcm_matches_rfc_8998_appendix_a1() {
        known_answer(
            Cipher::Sm4Gcm,
            [
                "0123456789ABCDEFFEDCBA9876543210",
                "00001234567800000000ABCD",
                "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2",
                "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBB CCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD
                 EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFF EEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
                "17F399F08C67D5EE19D0DC9969C4BB7D 5FD46FD3756489069157B282BB200735
                 D82710CA5C22F0CCFA7CBF93D496AC15 A56834CBCF98C397B4024A2691233B8D",
                "83DE3541E4C2B58177E065A9BF7B62EC",
            ],
        );
    }

    #[test]
    fn names_parse_back_and_default_is_aes() {
        for cipher in Cipher::ALL {
            assert_eq!(cipher.as_str().parse::<Cipher>(), Ok(cipher));
            assert_eq!(cipher.to_string(), cipher.as_str());
        }
        assert_eq!(Cipher::default(), Cipher::Aes256Gcm);
        assert_eq!(Cipher::Aes256Gcm.key_len(), 32);
        assert_eq!(Cipher::Sm4Gcm.key_len(), 16);
        let error = "AES-256-GCM".parse::<Cipher>().unwrap_err().to_string();
        assert!(error.contains("\"aes-256-gcm\" or \"sm4-gcm\""), "{error}");
    }

    #[test]
    fn seal_then_open_round_trips_for_both_ciphers() {
        for cipher in Cipher::ALL {
            let key = DataKey::generate(cipher).unwrap();
            assert_eq!(key.cipher(), cipher);
            assert_eq!(key.bytes().len(), cipher.key_len());
            for plaintext in [&b""[..], "张三 110101199003074477".as_bytes()] {
                let sealed = key.seal(b"event 1 / name", plaintext).unwrap();
                assert_eq!(sealed.ciphertext.len(), plaintext.len() + TAG_LEN);
                let opened = key
                    .open(b"event 1 / name", &sealed.nonce, &sealed.ciphertext)
                    .unwrap();
                assert_eq!(*opened, plaintext);
            }
        }
    }

    #[test]
    fn any_change_fails_authentication() {
        for cipher in Cipher::ALL {
            let key = DataKey::generate(cipher).unwrap();
            let other_key = DataKey::generate(cipher).unwrap();
            let sealed = key.seal(b"aad", b"13800138000").unwrap();
            let mut flipped = sealed.ciphertext.clone();
            flipped[0] ^= 0x01;
            let mut other_nonce = sealed.nonce;
            other_nonce[11] ^= 0x80;

            let attempts = [
                key.open(b"aad", &sealed.nonce, &flipped),
                key.open(b"aae", &sealed.nonce, &sealed.ciphertext),
                other_key.open(b"aad", &sealed.nonce, &sealed.ciphertext),
                key.open(b"aad", &other_nonce, &sealed.ciphertext),
                key.open(b"aad", &sealed.nonce[..11], &sealed.ciphertext),
                key.open(b"aad", &sealed.nonce, &sealed.ciphertext[..TAG_LEN - 1]),
            ];
            for attempt in attempts {
                let error = attempt.unwrap_err();
                assert_eq!(error, CryptoError::Authentication);
                assert_eq!(error.to_string(), "authentication failed");
            }
        }
    }

    #[test]
    fn every_seal_draws_a_fresh_nonce() {
        for cipher in Cipher::ALL {
            let key = DataKey::generate(cipher).unwrap();
            let first = key.seal(b"aad", b"same plaintext").unwrap();
            let second = key.seal(b"aad", b"same plaintext").unwrap();
            assert_ne!(first.nonce, second.nonce);
            assert_ne!(first.ciphertext, second.ciphertext);
        }
    }

    #[test]
    fn deterministic_seals_repeat_only_for_equal_input() {
        for cipher in Cipher::ALL {
            let key = DataKey::generate(cipher).unwrap();
            let once = key.seal_deterministic(b"aad", b"masked").unwrap();
            let again = key.seal_deterministic(b"aad", b"masked").unwrap();
            assert_eq!(once, again);
            let other = key.seal_deterministic(b"aad", b"other!").unwrap();
            assert_ne!(once.nonce, other.nonce);
            assert_ne!(
                once.nonce,
                key.seal_deterministic(b"aab", b"masked").unwrap().nonce
            );
            let another_key = DataKey::generate(cipher).unwrap();
            assert_ne!(
                once,
                another_key.seal_deterministic(b"aad", b"masked").unwrap()
            );
            let opened = key.open(b"aad", &once.nonce, &once.ciphertext).unwrap();
            assert_eq!(opened.as_slice(), b"masked");
        }
    }

    #[test]
    fn key_length_is_checked() {
        assert_eq!(
            DataKey::from_bytes(Cipher::Sm4Gcm, &[7; 32]).unwrap_err(),
            CryptoError::KeyLength {
                cipher: Cipher::Sm4Gcm,
                expected: 16,
                found: 32
            }
        );
        let error = DataKey::from_bytes(Cipher::Aes256Gcm, &[7; 16]).unwrap_err();
        assert_eq!(error.to_string(), "aes-256-gcm keys are 32 bytes, not 16");
    }

    #[test]
    fn debug_shows_the_cipher_and_no_key_bytes() {
        let key = DataKey::from_bytes(Cipher::Sm4Gcm, &[0xAB; 16]).unwrap();
        assert_eq!(format!("{key:?}"), "DataKey { cipher: Sm4Gcm, .. }");
        assert_eq!(format!("{key:#?}").matches("171").count(), 0);
    }
}
