//! Failed logins as an Administrator sees them: what is locked, since how many failures, and
//! until when. The throttle that keeps them is `auth::throttle`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What failed logins count against: the account tried, and the address they came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "key", rename_all = "snake_case")]
pub enum LoginSubject {
    Account(String),
    Address(String),
}

impl LoginSubject {
    /// An account's subject: usernames that differ only in case count as one.
    pub fn account(username: &str) -> Self {
        Self::Account(username.trim().to_lowercase())
    }

    /// A subject as a form names it: `kind` account (the username) or address.
    pub fn parse(kind: &str, key: &str) -> crate::Result<Self> {
        match kind {
            "account" => Ok(Self::account(key)),
            "address" => Ok(Self::Address(key.trim().to_string())),
            other => Err(crate::Error::invalid(
                "kind",
                format!("must be account or address, got {other:?}"),
            )),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Account(name) => format!("account {name}"),
            Self::Address(address) => format!("address {address}"),
        }
    }
}

/// One account or address with recent failed logins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoginLock {
    pub subject: LoginSubject,
    /// Failures in a row, none older than the throttle's window.
    pub failures: u32,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub last_failure: DateTime<Utc>,
    /// Set while logins for this subject are refused.
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub locked_until: Option<DateTime<Utc>>,
}

/// A wait in words, for a person: "in 40 seconds", "in 15 minutes".
pub fn in_words(seconds: u64) -> String {
    match seconds {
        0..=1 => "in a second".into(),
        2..=89 => format!("in {seconds} seconds"),
        _ => format!("in {} minutes", seconds.div_ceil(60)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn waits_read_as_a_person_says_them() {
        assert_eq!(super::in_words(1), "in a second");
        assert_eq!(super::in_words(40), "in 40 seconds");
        assert_eq!(super::in_words(899), "in 15 minutes");
    }
}
