//! The key-encryption key (KEK) commands: `sy keys new-kek`, `rotate-kek`
//! and `rewrap`.
//!
//! A KEK file is a secret: it is only ever written owner-only (mode 0600)
//! and its text is never printed, so these commands report versions and
//! ciphers only. A file is replaced by writing the new text to a fresh
//! owner-only file beside it and renaming that over it, so a crash leaves
//! either the old ring or the new one, never a half-written file (whose
//! lost versions would make every key wrapped under them unreadable).
//!
//! `rewrap` is the one step that writes the key store, which only NATS user
//! `intake` may do: it rewraps each data key under the file's newest
//! version ([`KeyStore::rewrap_all`]); with `--retire` it then rewrites the
//! file with that version only.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sy_domain::pii::KekRing;
use sy_eventlog::keystore::{Create, KeyStore};

use crate::args::{NewKekArgs, RewrapArgs, RotateKekArgs};
use crate::error::Error;

/// `sy keys new-kek`: a fresh ring of one KEK, version 1.
pub fn new_kek(args: &NewKekArgs) -> Result<(), Error> {
    if !args.force && args.out.exists() {
        return Err(Error::Usage(format!(
            "{} exists: a KEK file is never overwritten without --force (the keys wrapped \
             under it would become unreadable); to add a version use `sy keys rotate-kek`",
            args.out.display()
        )));
    }
    let ring = KekRing::generate(args.cipher).map_err(|err| Error::Kek {
        path: args.out.clone(),
        reason: err.to_string(),
    })?;
    write_ring(&args.out, &ring)?;
    say!(
        "key-encryption key file (owner-only; --kek-file / SY_KEK_FILE of intake and every \
         projection): {}",
        args.out.display()
    );
    say!("{}", describe(&ring));
    Ok(())
}

/// `sy keys rotate-kek`: adds the next version, which becomes current.
pub fn rotate_kek(args: &RotateKekArgs) -> Result<(), Error> {
    let ring = read_ring(&args.kek_file)?;
    let cipher = args.cipher.unwrap_or_else(|| ring.current().cipher());
    let rotated = ring.rotated(cipher).map_err(|err| Error::Kek {
        path: args.kek_file.clone(),
        reason: err.to_string(),
    })?;
    write_ring(&args.kek_file, &rotated)?;
    let file = args.kek_file.display();
    let version = rotated.current().version();
    say!("added key-encryption key version {version} ({cipher}) to {file}");
    say!("{}", describe(&rotated));
    say!("next:");
    say!(
        "  1. give {file} to intake and every projection, and restart them \
         (new data keys are then wrapped under version {version})"
    );
    say!(
        "  2. sy keys rewrap --kek-file {file} --nats-user intake --nats-password-file ... \
         (rewraps the stored keys; add --retire to drop the older versions from the file)"
    );
    say!("  3. give the retired {file} to intake and every projection, and restart them");
    Ok(())
}

/// `sy keys rewrap`: every stored data key under the newest version, then
/// with `--retire` the file without the older versions.
pub async fn rewrap(args: &RewrapArgs, timeout: Duration) -> Result<(), Error> {
    let ring = read_ring(&args.kek_file)?;
    let current = ring.current().version();
    let cipher = ring.current().cipher();
    let log = crate::log::open(&args.log, timeout).await?;
    // Never creates the store: a missing one is lost, not new.
    let store = KeyStore::open(&log, Arc::new(ring.clone()), cipher, Create::Never, 1).await?;
    let report = store.rewrap_all().await?;
    say!(
        "key store {}: {} data keys rewrapped under key-encryption key version {current}, \
         {} already under it; {} retired versions' canaries removed",
        store.stream_name(),
        report.rewrapped,
        report.current,
        report.retired_versions
    );
    if !args.retire {
        say!(
            "the older versions stay in {}: rerun with --retire (or delete their lines) once \
             every service runs with this file",
            args.kek_file.display()
        );
        return Ok(());
    }
    let retired: Vec<u32> = ring.versions().filter(|v| *v != current).collect();
    if retired.is_empty() {
        say!(
            "{} holds version {current} only: nothing to retire",
            args.kek_file.display()
        );
        return Ok(());
    }
    let kept = ring.without_older();
    write_ring(&args.kek_file, &kept)?;
    say!(
        "retired versions {} from {}; restart intake and every projection with it",
        join(&retired),
        args.kek_file.display()
    );
    Ok(())
}

/// The ring of the KEK file at `path` (owner-only, else refused).
fn read_ring(path: &Path) -> Result<KekRing, Error> {
    let text = sy_api::secret_file::read_private(path)?;
    KekRing::parse(&text).map_err(|err| Error::Kek {
        path: path.to_path_buf(),
        reason: err.to_string(),
    })
}

/// Writes `ring` to `path`, replacing it if it exists: through a new
/// owner-only file beside it, renamed over it.
fn write_ring(path: &Path, ring: &KekRing) -> Result<(), Error> {
    let staged = staging_path(path);
    let written = sy_api::secret_file::write_private(&staged, ring.file_text().as_bytes())
        .map_err(Error::io(format!("write {}", staged.display())))
        .and_then(|()| {
            std::fs::rename(&staged, path).map_err(Error::io(format!("replace {}", path.display())))
        });
    if written.is_err() {
        // Best effort: the staged copy is a secret, leave none behind.
        let _ = std::fs::remove_file(&staged);
    }
    written
}

/// A name beside `path` no other run uses (renames stay on one file system).
fn staging_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    path.with_file_name(name)
}

/// `versions 1 (aes-256-gcm), 2 (sm4-gcm); version 2 wraps new keys`.
fn describe(ring: &KekRing) -> String {
    let current = ring.current();
    format!(
        "versions {}; version {} ({}) wraps new keys",
        join(&ring.versions().collect::<Vec<_>>()),
        current.version(),
        current.cipher()
    )
}

fn join(versions: &[u32]) -> String {
    versions
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sy_domain::pii::Cipher;

    fn new_args(out: &Path, force: bool) -> NewKekArgs {
        NewKekArgs {
            out: out.to_path_buf(),
            cipher: Cipher::Sm4Gcm,
            force,
        }
    }

    #[test]
    fn a_new_kek_file_is_owner_only_and_never_overwritten_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kek.key");
        new_kek(&new_args(&file, false)).unwrap();
        let first = read_ring(&file).unwrap();
        assert_eq!(first.versions().collect::<Vec<_>>(), [1]);
        assert_eq!(first.current().cipher(), Cipher::Sm4Gcm);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }

        let refused = new_kek(&new_args(&file, false)).unwrap_err();
        assert!(matches!(refused, Error::Usage(_)), "{refused}");
        assert_eq!(
            *read_ring(&file).unwrap().file_text(),
            *first.file_text(),
            "untouched"
        );
        new_kek(&new_args(&file, true)).unwrap();
        assert_ne!(*read_ring(&file).unwrap().file_text(), *first.file_text());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no staged copy is left behind"
        );
    }

    #[test]
    fn a_rotation_adds_the_next_version_and_keeps_the_older() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kek.key");
        new_kek(&new_args(&file, false)).unwrap();
        let before = read_ring(&file).unwrap();
        rotate_kek(&RotateKekArgs {
            kek_file: file.clone(),
            cipher: None,
        })
        .unwrap();
        let rotated = read_ring(&file).unwrap();
        assert_eq!(rotated.versions().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(
            rotated.current().cipher(),
            Cipher::Sm4Gcm,
            "the current cipher"
        );
        assert!(
            rotated.file_text().contains(
                before
                    .file_text()
                    .lines()
                    .find(|line| line.starts_with("1 "))
                    .unwrap()
            ),
            "version 1 is kept as it was"
        );
    }

    #[test]
    fn a_kek_file_others_may_read_or_that_is_malformed_is_refused_without_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kek.key");
        sy_api::secret_file::write_private(&file, b"1 aes-256-gcm bm90LWEta2V5\n").unwrap();
        let err = read_ring(&file).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(!err.contains("bm90LWEta2V5"), "{err}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(read_ring(&file), Err(Error::Secret(_))));
        }
    }
}
