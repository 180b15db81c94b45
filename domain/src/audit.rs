//! The audit log: who changed what, from where, and when. Changes to rows are recorded by
//! database triggers in the transaction of the change (see the migration `audit_and_sessions`):
//! the server opens that transaction with the engine's `audit::begin`, which names the
//! [`Actor`].
//! Events that change no audited row (logins, a person starting a sync, a replication run's
//! counts) are recorded with the engine's `audit::record`.

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who a change is recorded as made by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// The person's user id; none for the replication or the command line.
    pub id: Option<i64>,
    /// The username, or what acted ("replication of list 3 from Leader …").
    pub name: String,
    /// The client's address, for requests made over HTTP.
    pub address: Option<String>,
}

impl Actor {
    pub fn person(user: &crate::access::CurrentUser, address: Option<std::net::IpAddr>) -> Self {
        Self {
            id: Some(user.id),
            name: user.username.clone(),
            address: address.map(|a| a.to_string()),
        }
    }

    /// Someone who has not logged in (a failed login).
    pub fn anonymous(address: Option<std::net::IpAddr>) -> Self {
        Self {
            id: None,
            name: "anonymous".into(),
            address: address.map(|a| a.to_string()),
        }
    }
}

/// One entry of the log, as the page and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub at: DateTime<Utc>,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub address: Option<String>,
    pub action: String,
    pub subject_kind: String,
    pub subject_id: Option<String>,
    /// What the subject was called when the entry was written (a name, a username, an
    /// address), if it has one.
    #[serde(default)]
    pub subject_name: Option<String>,
    /// `{"field": {"before": …, "after": …}}`
    pub changes: serde_json::Value,
    pub summary: String,
}

/// The kinds of subject entries are about, for the filter.
pub const SUBJECT_KINDS: &[&str] = &[
    "watch_list",
    "import",
    "dossier",
    "membership",
    "photo",
    "user",
    "api_token",
    "replica",
    "session",
    "camera",
    "webhook",
    "event",
];

/// Which entries to show: every filter is optional; `before` pages back from an entry id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subject_kind: Option<String>,
    pub subject_id: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

pub const PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

impl AuditFilter {
    /// Reads the filter as a form or query sends it: empty means "any".
    pub fn parse(
        actor: &str,
        action: &str,
        subject_kind: &str,
        subject_id: &str,
        before: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Self> {
        use crate::input::optional_text;
        let some = |text: String| (!text.is_empty()).then_some(text);
        let subject_kind = some(optional_text("subject_kind", subject_kind, 32)?);
        if let Some(kind) = &subject_kind {
            if !SUBJECT_KINDS.contains(&kind.as_str()) {
                return Err(Error::invalid(
                    "subject_kind",
                    format!("must be one of {}, got {kind:?}", SUBJECT_KINDS.join(", ")),
                ));
            }
        }
        let limit = crate::input::page_size(limit, PAGE_SIZE, MAX_PAGE_SIZE)?;
        Ok(Self {
            actor: some(optional_text("actor", actor, 300)?),
            action: some(optional_text("action", action, 32)?),
            subject_kind,
            subject_id: some(optional_text("subject_id", subject_id, 64)?),
            before,
            limit,
        })
    }
}

/// A page of entries, newest first, and where the next (older) page starts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_before: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_optional_and_checked() {
        let any = AuditFilter::parse("", " ", "", "", None, None).unwrap();
        assert_eq!(any.actor, None);
        assert_eq!(any.limit, PAGE_SIZE);
        let one = AuditFilter::parse("ann", "delete", "dossier", "7", Some(9), Some(10)).unwrap();
        assert_eq!(one.subject_kind.as_deref(), Some("dossier"));
        let bad = AuditFilter::parse("", "", "planet", "", None, None).unwrap_err();
        assert_eq!(bad.field(), Some("subject_kind"));
        assert!(AuditFilter::parse("", "", "", "", None, Some(0)).is_err());
    }
}
