//! [`ApiKeys`]: the keys that unlock the admin view, compared in constant time.

use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiKeysError;

/// The header that carries an API key.
pub const API_KEY_HEADER: &str = "x-api-key";
/// Shortest key accepted (bytes): keys are secrets, not passwords to remember.
pub const MIN_API_KEY_LEN: usize = 16;
/// Most keys loaded.
pub const MAX_API_KEYS: usize = 1_024;
/// Longest presented key considered (bytes); longer ones are rejected without hashing.
pub const MAX_PRESENTED_KEY_LEN: usize = 1_024;

/// API keys, kept as SHA-256 digests. A presented key is hashed and compared with every
/// stored digest in constant time (no early exit), so timing reveals neither which key nor how
/// much of one matched.
#[derive(Clone, Default)]
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("keys", &self.digests.len())
            .finish()
    }
}

impl ApiKeys {
    /// No keys: everyone gets the public view and any presented key is refused.
    pub fn none() -> Self {
        Self::default()
    }

    /// Keys from strings; blank entries and `#` comments are skipped, whitespace is trimmed.
    pub fn from_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<Self, ApiKeysError> {
        let mut digests = Vec::new();
        for (i, key) in keys.into_iter().enumerate() {
            let key = key.trim();
            if key.is_empty() || key.starts_with('#') {
                continue;
            }
            if key.len() < MIN_API_KEY_LEN {
                return Err(ApiKeysError::TooShort {
                    line: i + 1,
                    len: key.len(),
                    min: MIN_API_KEY_LEN,
                });
            }
            if digests.len() >= MAX_API_KEYS {
                return Err(ApiKeysError::TooMany { max: MAX_API_KEYS });
            }
            digests.push(Sha256::digest(key.as_bytes()).into());
        }
        Ok(Self { digests })
    }

    /// Keys from a file, one per line.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ApiKeysError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ApiKeysError::Io {
            path: path.to_owned(),
            source,
        })?;
        let keys = Self::from_keys(text.lines())?;
        if keys.is_empty() {
            return Err(ApiKeysError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(keys)
    }

    /// Keys from an environment variable, separated by commas or whitespace.
    pub fn from_env(var: &str) -> Result<Self, ApiKeysError> {
        let value = std::env::var(var).map_err(|source| ApiKeysError::Env {
            var: var.to_owned(),
            source,
        })?;
        Self::from_keys(value.split(|c: char| c == ',' || c.is_whitespace()))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether `presented` is one of the keys (constant time in the keys' contents).
    pub fn check(&self, presented: &[u8]) -> bool {
        if presented.len() > MAX_PRESENTED_KEY_LEN {
            return false;
        }
        let digest: [u8; 32] = Sha256::digest(presented).into();
        let mut found = subtle::Choice::from(0);
        for d in &self.digests {
            found |= d.ct_eq(&digest);
        }
        found.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_strings_file_and_env() {
        let keys =
            ApiKeys::from_keys(["# admins", "", "  0123456789abcdef  ", "fedcba9876543210x"])
                .unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.check(b"0123456789abcdef"));
        assert!(keys.check(b"fedcba9876543210x"));
        assert!(!keys.check(b"0123456789abcdeF"));
        assert!(!keys.check(b""));
        assert!(!keys.check(&[b'a'; 2000]));
        assert!(!ApiKeys::none().check(b"0123456789abcdef"));

        assert!(matches!(
            ApiKeys::from_keys(["short"]),
            Err(ApiKeysError::TooShort {
                line: 1,
                len: 5,
                ..
            })
        ));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(
            &path,
            "# comment\nkey-number-one-0001\n\nkey-number-two-0002\n",
        )
        .unwrap();
        let keys = ApiKeys::from_file(&path).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.check(b"key-number-two-0002"));
        assert!(matches!(
            ApiKeys::from_file(dir.path().join("missing")),
            Err(ApiKeysError::Io { .. })
        ));
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "# no keys yet\n\n").unwrap();
        let err = ApiKeys::from_file(&empty).unwrap_err();
        assert!(matches!(err, ApiKeysError::Empty { .. }), "{err}");
        assert!(err.to_string().ends_with("holds no key"), "{err}");
        assert!(matches!(
            ApiKeys::from_env("VALTRACK_TEST_SURELY_UNSET_VARIABLE"),
            Err(ApiKeysError::Env { .. })
        ));
    }
}
