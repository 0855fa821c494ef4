//! The HMAC keys webhooks are signed with, read from an owner-only file
//! (`--webhook-secrets-file`, like the tokens file): lines
//! `<secret-id> <key>`, `#` comments and blank lines allowed. The log names
//! only the id (a subscription's `secret_id`), so a key can be rotated, or
//! a leaked log read, without exposing what receivers verify with.

use std::collections::HashMap;
use std::path::Path;

use sy_api::secret_file::{SecretFileError, read_private};

/// Shortest key accepted, in bytes: HMAC-SHA256's block of security.
pub(crate) const MIN_KEY_LEN: usize = 32;

/// Keys by id. Debug never shows a key.
#[derive(Clone, Default)]
pub(crate) struct Secrets(HashMap<String, Vec<u8>>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Secrets {
    /// Reads the owner-only file at `path`.
    pub(crate) fn read(path: &Path) -> Result<Self, SecretFileError> {
        let text = read_private(path)?;
        Self::parse(&text).map_err(|reason| SecretFileError::Parse {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses the file's text; the error names the line, never the key.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut keys = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, key) = line
                .split_once(char::is_whitespace)
                .map(|(id, key)| (id, key.trim()))
                .ok_or_else(|| format!("line {}: expected `<secret-id> <key>`", n + 1))?;
            if key.len() < MIN_KEY_LEN {
                return Err(format!(
                    "line {}: the key of {id} is shorter than {MIN_KEY_LEN} bytes",
                    n + 1
                ));
            }
            if keys
                .insert(id.to_string(), key.as_bytes().to_vec())
                .is_some()
            {
                return Err(format!("line {}: {id} is given twice", n + 1));
            }
        }
        Ok(Self(keys))
    }

    /// The key named `id`.
    pub(crate) fn key(&self, id: &str) -> Option<&[u8]> {
        self.0.get(id).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn keys_are_read_by_id_and_never_shown() {
        let secrets = Secrets::parse(&format!("# hooks\n\nhealth {KEY}\n")).unwrap();
        assert_eq!(secrets.key("health"), Some(KEY.as_bytes()));
        assert_eq!(secrets.key("other"), None);
        assert!(!format!("{secrets:?}").contains(KEY));
    }

    #[test]
    fn bad_lines_are_named_without_their_key() {
        let short = Secrets::parse("a short-key").unwrap_err();
        assert!(
            short.contains("line 1") && !short.contains("short-key"),
            "{short}"
        );
        assert!(Secrets::parse("lonely").unwrap_err().contains("line 1"));
        let twice = Secrets::parse(&format!("a {KEY}\na {KEY}")).unwrap_err();
        assert!(twice.contains("line 2"), "{twice}");
    }
}
