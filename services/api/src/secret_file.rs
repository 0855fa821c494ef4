//! Secret files: the one way a service or `sy` reads a secret (a tokens file,
//! a NATS password, the identity key). Secrets come from files, never from
//! argv, where every user of the host sees them in the process list; and a
//! file that group or others may read is refused, with its mode in the
//! error, because anyone on the host could copy it. The error names the
//! path, never the content.

use std::path::{Path, PathBuf};

/// Why a secret file cannot be used. Never carries the file's content.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// The file cannot be read (missing, a directory, no permission).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The secret file's path.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// Group or others may read the file.
    #[error(
        "{path} is readable by group or others (mode {mode:04o}); \
         allow only its owner (chmod 600)"
    )]
    Permissions {
        /// The secret file's path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The content is not what the file must hold.
    #[error("{path}: {reason}")]
    Parse {
        /// The secret file's path.
        path: PathBuf,
        /// Which line or entry, and what is wrong with it.
        reason: String,
    },
}

/// Reads the secret file at `path`, refusing one that group or others may
/// read (on unix; elsewhere the mode is not checked).
pub fn read_private(path: &Path) -> Result<String, SecretFileError> {
    let read = |source| SecretFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
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

/// Writes `content` to a new file at `path` readable and writable by its
/// owner only (mode 0600 on unix, set when the file is created so it is
/// never readable by others, not even for a moment); fails if it exists.
pub fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(content)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_only_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_private(&path, b"s3cret\n").unwrap();
        assert_eq!(read_private(&path).unwrap(), "s3cret\n");
        assert!(write_private(&path, b"again").is_err(), "never overwrites");
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_may_read_is_refused_with_its_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret").unwrap();
        for mode in [0o644, 0o640, 0o604] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = read_private(&path).unwrap_err();
            let message = err.to_string();
            assert!(
                matches!(err, SecretFileError::Permissions { mode: m, .. } if m == mode),
                "{message}"
            );
            assert!(message.contains(&format!("{mode:04o}")), "{message}");
            assert!(!message.contains("s3cret"), "{message}");
        }
        let missing = read_private(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(missing, SecretFileError::Read { .. }), "{missing}");
    }
}
