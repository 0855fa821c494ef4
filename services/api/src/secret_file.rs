//! Reading secret files (the tokens file, TLS private keys): one check that
//! only the file's owner may read it, so a key or token hash copied off a
//! shared host is refused at start-up instead of accepted silently.

use std::path::{Path, PathBuf};

/// Why a secret file cannot be used. Names the path, never the content.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// Group or others may read the file: anyone on the host could copy it.
    #[error(
        "{path} is readable by group or others (mode {mode:04o}); \
         allow only its owner (chmod 600)"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// The bytes of the secret file at `path`, refusing one that group or
/// others may read (unix; elsewhere the file is read as it is).
pub fn read_private(path: &Path) -> Result<Vec<u8>, SecretFileError> {
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
    std::fs::read(path).map_err(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn only_owner_readable_files_are_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, b"s3cret").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_private(&path).unwrap(), b"s3cret");
        for mode in [0o640, 0o604, 0o644] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = read_private(&path).unwrap_err();
            assert!(matches!(err, SecretFileError::Permissions { .. }), "{err}");
            assert!(err.to_string().contains("chmod 600"), "{err}");
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
        let missing = read_private(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(missing, SecretFileError::Read { .. }), "{missing}");
    }
}
