//! The shared secret of a Leader and its Subscribers (`SYNC_TOKEN`).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

/// The shortest token accepted: a guessable secret would open every Leader's feed.
pub const MIN_LENGTH: usize = 16;

/// The shared secret of Leader and Subscribers. It never prints (`Debug` shows a placeholder,
/// there is no `Display` or `Serialize`) and it is compared in constant time.
#[derive(Clone, Debug)]
pub struct SyncToken(SecretString);

impl SyncToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(SecretString::from(token.into()))
    }

    /// Replication is off while the token is empty.
    pub fn is_set(&self) -> bool {
        !self.0.expose_secret().is_empty()
    }

    /// The token itself: only for the `Authorization` header of a request to a Leader.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Compares in constant time (over SHA-256 digests, so lengths do not leak either).
    pub fn matches(&self, offered: &str) -> bool {
        use sha2::{Digest, Sha256};
        use subtle::ConstantTimeEq;
        let expected = Sha256::digest(self.expose().as_bytes());
        let offered = Sha256::digest(offered.as_bytes());
        self.is_set() && bool::from(expected.ct_eq(&offered))
    }
}

impl Default for SyncToken {
    fn default() -> Self {
        Self::new("")
    }
}

impl<'de> Deserialize<'de> for SyncToken {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let token = SecretString::deserialize(deserializer)?;
        let length = token.expose_secret().chars().count();
        if length != 0 && length < MIN_LENGTH {
            return Err(serde::de::Error::custom(format!(
                "must be at least {MIN_LENGTH} characters (or empty to disable replication)"
            )));
        }
        Ok(Self(token))
    }
}
