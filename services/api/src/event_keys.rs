//! The key files of signed events, read the same way by intake (its
//! signing key, `--signing-key-file`), the projection and `sy` (the verify
//! keys the deployment publishes, `--verify-keys-file`), and written by
//! [`new_signing_key`] for `sy keys new` and a deployment's setup command.
//! The texts' format and the signatures are `sy_domain::signature`'s.
//!
//! A signing key file must be readable by its owner only; errors name the
//! file, never a key.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sy_domain::signature::{EventSigner, KeyError, VerifyKeys};

/// Why a key file cannot be used. Never contains key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file cannot be read (or, for a new key, written).
    #[error("cannot {action} the key file {path}: {source}")]
    Io {
        /// "read" or "write".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The signing key file cannot be read, or group or others may read it.
    #[error("the signing key file: {0}")]
    Secret(#[from] crate::secret_file::SecretFileError),
    /// The file's text is not a key file.
    #[error("the key file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, by line.
        source: KeyError,
    },
    /// The verify keys do not list the key intake signs with.
    #[error(
        "{path} does not list the signing key {key_id}: publish its line before signing with it"
    )]
    Unpublished {
        /// The verify keys file.
        path: PathBuf,
        /// The signing key's id.
        key_id: String,
    },
    /// No key file was given and development mode is off.
    #[error("no {flag}: {why} (or run with --dev to go without, for development only)")]
    Required {
        /// The missing flag.
        flag: &'static str,
        /// What it is needed for.
        why: &'static str,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + use<> {
    let path = path.to_path_buf();
    move |source| KeyFileError::Io {
        action,
        path,
        source,
    }
}

/// Loads intake's signing key (owner-only file, `<key-id> <base64 seed>`).
pub fn load_signer(path: &Path) -> Result<EventSigner, KeyFileError> {
    EventSigner::parse(&crate::secret_file::read_private(path)?).map_err(|source| {
        KeyFileError::Parse {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Loads the published verify keys (`<key-id> <base64 public key>` lines).
pub fn load_verify_keys(path: &Path) -> Result<VerifyKeys, KeyFileError> {
    let text = std::fs::read_to_string(path).map_err(io("read", path))?;
    VerifyKeys::parse(&text).map_err(|source| KeyFileError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// Intake's signer from `--signing-key-file`. Without one, development
/// mode (`dev`) publishes unsigned events, with a warning; otherwise intake
/// must not start.
pub fn signer_or_dev(path: Option<&Path>, dev: bool) -> Result<Option<EventSigner>, KeyFileError> {
    match path {
        Some(path) => {
            let signer = load_signer(path)?;
            tracing::info!(key_id = signer.key_id(), "events are signed");
            Ok(Some(signer))
        }
        None if dev => {
            tracing::warn!(
                "development mode without --signing-key-file: events are published UNSIGNED \
                 and a verifying projection quarantines them"
            );
            Ok(None)
        }
        None => Err(KeyFileError::Required {
            flag: "--signing-key-file",
            why: "every event must be signed",
        }),
    }
}

/// A reader's verify keys from `--verify-keys-file`. Without one,
/// development mode (`dev`) reads events without checking signatures, with
/// a warning; otherwise the reader must not start.
pub fn verify_keys_or_dev(
    path: Option<&Path>,
    dev: bool,
) -> Result<Option<VerifyKeys>, KeyFileError> {
    match path {
        Some(path) => {
            let keys = load_verify_keys(path)?;
            tracing::info!(key_ids = ?keys, "event signatures are verified");
            Ok(Some(keys))
        }
        None if dev => {
            tracing::warn!(
                "development mode without --verify-keys-file: event signatures are NOT checked, \
                 forged events are folded"
            );
            Ok(None)
        }
        None => Err(KeyFileError::Required {
            flag: "--verify-keys-file",
            why: "events must be checked for intake's signature",
        }),
    }
}

/// A signing key just written by [`new_signing_key`].
#[derive(Debug)]
pub struct NewSigningKey {
    /// The owner-only signing key file (`<dir>/<key-id>.key`).
    pub path: PathBuf,
    /// The line to publish in the verify keys file.
    pub public_line: String,
}

/// Draws a new signing key `key_id` from the OS's random source and writes
/// it to `<dir>/<key-id>.key`, owner-only, refusing to overwrite a file.
pub fn new_signing_key(key_id: &str, dir: &Path) -> Result<NewSigningKey, KeyFileError> {
    let path = dir.join(format!("{key_id}.key"));
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|err| KeyFileError::Io {
        action: "draw randomness for",
        path: path.clone(),
        source: std::io::Error::other(err.to_string()),
    })?;
    let signer = EventSigner::from_seed(key_id, seed).map_err(|source| KeyFileError::Parse {
        path: path.clone(),
        source,
    })?;
    seed.fill(0);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(io("write", &path))?;
    file.write_all(signer.key_file_text().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io("write", &path))?;
    Ok(NewSigningKey {
        public_line: signer.public_line(),
        path,
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_new_key_is_owner_only_and_verifies_with_its_public_line() {
        let dir = tempfile::tempdir().unwrap();
        let made = new_signing_key("k1", dir.path()).unwrap();
        let mode = std::fs::metadata(&made.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let signer = load_signer(&made.path).unwrap();
        assert_eq!(signer.public_line(), made.public_line);
        let published = dir.path().join("verify-keys");
        std::fs::write(&published, format!("# keys\n{}\n", made.public_line)).unwrap();
        let keys = load_verify_keys(&published).unwrap();
        assert_eq!(keys.key_ids().collect::<Vec<_>>(), ["k1"]);
        // Never overwritten.
        assert!(matches!(
            new_signing_key("k1", dir.path()),
            Err(KeyFileError::Io {
                action: "write",
                ..
            })
        ));
    }

    #[test]
    fn a_readable_signing_key_file_is_refused_without_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let made = new_signing_key("k1", dir.path()).unwrap();
        let secret = std::fs::read_to_string(&made.path).unwrap();
        for mode in [0o640, 0o604, 0o644] {
            std::fs::set_permissions(&made.path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = load_signer(&made.path).unwrap_err().to_string();
            assert!(err.contains(&format!("{mode:04o}")), "{err}");
            assert!(!err.contains(secret.lines().last().unwrap()), "{err}");
        }
    }

    #[test]
    fn without_a_file_only_development_mode_starts() {
        assert!(signer_or_dev(None, true).unwrap().is_none());
        assert!(verify_keys_or_dev(None, true).unwrap().is_none());
        let err = signer_or_dev(None, false).unwrap_err().to_string();
        assert!(err.contains("--signing-key-file"), "{err}");
        let err = verify_keys_or_dev(None, false).unwrap_err().to_string();
        assert!(err.contains("--verify-keys-file"), "{err}");
    }
}
