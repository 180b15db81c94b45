//! Replication of watch lists from a Leader to Subscribers.
//!
//! Outside (what the rest of the app and the server see): the wire types below, the Leader's
//! feed (`leader`), the Subscriber's replicas and runs (`subscriber`), the scheduler
//! (`scheduler`), the read-only guard for replicated lists (`guard`), and the Replication page.
//! Inside: the protocol is pull-only. A Subscriber asks the Leader for the changes of one list
//! between its cursor and a watermark, page by page, in Leader dossier id order, then for the
//! images it lacks by hash; it applies each page in one transaction that also records how far
//! it got, so a killed run resumes, and a run ends by moving the cursor to the watermark.

#[cfg(feature = "ssr")]
pub mod guard;
#[cfg(feature = "ssr")]
pub mod leader;
pub mod page;
#[cfg(feature = "ssr")]
pub mod schedule;
#[cfg(feature = "ssr")]
pub mod scheduler;
#[cfg(feature = "ssr")]
pub mod subscriber;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a Leader says about itself (`GET /sync/leader/info`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderInfo {
    /// Always "dossier-leader": tells a Leader from any other server answering JSON.
    pub kind: String,
    pub face_model: String,
    pub face_vector_length: usize,
}

pub const LEADER_KIND: &str = "dossier-leader";

/// A watch list as the Leader offers it for replication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RemoteList {
    pub id: i64,
    pub name: String,
    pub color: String,
    pub dossier_count: i64,
}

/// One page of a list's changes (`GET /sync/leader/dossier-lists/{id}/changes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePage {
    /// The watermark the run syncs to; every change up to it is committed on the Leader.
    pub until: i64,
    /// How many changes the whole run has (given on the first page only).
    pub total: Option<i64>,
    pub upserts: Vec<RemoteDossier>,
    /// Leader dossier ids no longer in the list (removed from it, or deleted).
    pub removals: Vec<i64>,
    /// The Leader dossier id to continue after, if there are more pages.
    pub next_after: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteDossier {
    pub id: i64,
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub meta: serde_json::Value,
    pub photos: Vec<RemotePhoto>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemotePhoto {
    /// Hex SHA-256 of the image; the Subscriber fetches the bytes only if it lacks them.
    pub sha256: String,
    pub face_model: Option<String>,
    /// The vector as base64 of its little-endian float32s: exact, about a third of the text
    /// form, and neither side formats or parses a float (see [`encode_vector`]).
    pub face_vector: Option<String>,
}

/// A face vector as it travels in [`RemotePhoto`].
#[cfg(feature = "ssr")]
pub fn encode_vector(vector: &[f32]) -> String {
    use base64::Engine;
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The vector of [`encode_vector`]'s text, or `None` if it is not one.
#[cfg(feature = "ssr")]
pub fn decode_vector(text: &str) -> Option<Vec<f32>> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

/// A digest of a list's content at a watermark (`GET …/digest`), keyed by Leader ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListDigest {
    pub until: i64,
    pub dossiers: i64,
    pub digest: String,
}

/// A replica as the Subscriber's API and pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Replica {
    pub id: i64,
    pub remote_dossier_list: i64,
    pub remote_url: String,
    /// The local list (the seed's name for it).
    pub slave_dossier_list: i64,
    pub local_list_name: String,
    pub state: String,
    pub cursor: i64,
    pub items_done: i64,
    pub items_total: Option<i64>,
    pub photos_done: i64,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// One run of a replica, for the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct SyncRun {
    pub id: i64,
    pub full_resync: bool,
    pub cursor_from: i64,
    pub cursor_to: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: String,
    pub dossiers: i64,
    pub removals: i64,
    pub photos: i64,
    pub error: Option<String>,
}

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
    #[cfg(feature = "ssr")]
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
