//! The shared secret of a Leader and its Subscribers (`SYNC_TOKEN`).

/// The shared secret of Leader and Subscribers. It never prints: `Debug` shows a placeholder,
/// and it has no `Display` or `Serialize`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SyncToken(String);

impl SyncToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn is_set(&self) -> bool {
        !self.0.is_empty()
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in constant time (over SHA-256 digests, so lengths do not leak either).
    pub fn matches(&self, offered: &str) -> bool {
        use sha2::{Digest, Sha256};
        use subtle::ConstantTimeEq;
        let expected = Sha256::digest(self.0.as_bytes());
        let offered = Sha256::digest(offered.as_bytes());
        self.is_set() && bool::from(expected.ct_eq(&offered))
    }
}

impl std::fmt::Debug for SyncToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}
