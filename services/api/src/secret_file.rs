//! Files that hold secrets or grant access (tokens, the policy, keys): read
//! only when no one but their owner may read or change them, so a copy on
//! the host cannot leak a credential and a stranger cannot grant itself a
//! role. Errors name the file and what is wrong, never its content.

use std::path::{Path, PathBuf};

/// Why a secret file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file's path.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// Group or others may read or write the file.
    #[error(
        "{path} is readable or writable by group or others (mode {mode:04o}); \
         allow only its owner (chmod 600)"
    )]
    Permissions {
        /// The file's path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The content is not what the file must hold.
    #[error("{path}: {reason}")]
    Parse {
        /// The file's path.
        path: PathBuf,
        /// Which line or entry, and what is wrong with it.
        reason: String,
    },
}

/// The text of the owner-only file at `path`; a file group or others may
/// read or write is refused (unix).
pub fn read_private(path: &Path) -> Result<String, SecretFileError> {
    let read = |source| SecretFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(read)?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(SecretFileError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    std::fs::read_to_string(path).map_err(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn only_owner_only_files_are_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_private(&path).unwrap(), "s3cret");
        for mode in [0o640, 0o604, 0o644, 0o620] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = read_private(&path).unwrap_err();
            assert!(matches!(err, SecretFileError::Permissions { .. }), "{err}");
            let text = err.to_string();
            assert!(text.contains(&format!("{mode:04o}")), "{text}");
            assert!(!text.contains("s3cret"), "{text}");
        }
        let missing = read_private(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(missing, SecretFileError::Read { .. }), "{missing}");
    }
}
