//! What Leader and Subscriber say to each other (the `/sync/leader/…` answers), and what the
//! Subscriber's API and pages show of its replicas and their runs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a Leader says about itself (`GET /sync/leader/info`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeaderInfo {
    /// Always "dossier-leader": tells a Leader from any other server answering JSON.
    pub kind: String,
    pub face_model: String,
    pub face_vector_length: usize,
    /// Which installation answers: created when its database was, kept by a dump and its
    /// restore. Another id at a replica's URL is another Leader (or a re-created database).
    pub installation_id: String,
    /// The history the Leader's revisions belong to; a new one after a restore from a backup
    /// (see the migration `leader_identity`). A cursor of another epoch means nothing.
    pub epoch: String,
    /// The last revision handed out: a Subscriber's cursor above it comes from a history the
    /// Leader no longer has.
    pub revision: i64,
}

pub const LEADER_KIND: &str = "dossier-leader";

/// A watch list as the Leader offers it for replication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RemoteList {
    pub id: i64,
    pub name: String,
    pub color: String,
    pub dossier_count: i64,
    /// The installations this list is itself replicated from, nearest first (empty for a list
    /// edited on the Leader): a Subscriber that finds itself here would make a loop.
    #[serde(default)]
    pub upstream: Vec<String>,
}

/// A list as its Leader has it now: its name, which the Replication page shows (a Leader
/// before this field sends none; the replica's own name stays local), and its settings, which
/// the replica follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeaderList {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(flatten)]
    pub settings: crate::watch_lists::ListSettings,
}

/// One page of a list's changes (`GET /sync/leader/dossier-lists/{id}/changes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChangePage {
    /// The watermark the run syncs to; every change up to it is committed on the Leader.
    pub until: i64,
    /// The Leader's epoch the revisions belong to (see [`LeaderInfo::epoch`]).
    pub epoch: String,
    /// The list's settings now.
    pub list: LeaderList,
    /// How many changes the whole run has (given on the first page only).
    pub total: Option<i64>,
    /// Of those, how many at most are removals (first page only): what the mass-removal guard
    /// looks at before anything is applied.
    #[serde(default)]
    pub removals_total: Option<i64>,
    pub upserts: Vec<RemoteDossier>,
    /// Leader dossier ids no longer in the list (removed from it, or deleted).
    pub removals: Vec<i64>,
    /// The Leader dossier id to continue after, if there are more pages.
    pub next_after: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RemoteDossier {
    pub id: i64,
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub meta: serde_json::Value,
    pub photos: Vec<RemotePhoto>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RemotePhoto {
    /// Hex SHA-256 of the image; the Subscriber fetches the bytes only if it lacks them.
    pub sha256: String,
    pub face_model: Option<String>,
    /// The vector as base64 of its little-endian float32s: exact, about a third of the text
    /// form, and neither side formats or parses a float (see [`encode_vector`]).
    pub face_vector: Option<String>,
}

/// A face vector as it travels in [`RemotePhoto`].
pub fn encode_vector(vector: &[f32]) -> String {
    use base64::Engine;
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The vector of [`encode_vector`]'s text, or `None` if it is not one.
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListDigest {
    pub until: i64,
    pub dossiers: i64,
    pub digest: String,
}

/// A replica as the Subscriber's API and pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Replica {
    pub id: i64,
    pub remote_dossier_list: i64,
    pub remote_url: String,
    /// The Leader's name for its list, as of the last run.
    pub remote_list_name: Option<String>,
    /// The local list (the seed's name for it).
    pub slave_dossier_list: i64,
    pub local_list_name: String,
    pub state: ReplicaState,
    pub cursor: i64,
    pub items_done: i64,
    pub items_total: Option<i64>,
    pub photos_done: i64,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub last_error_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub next_run_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// The Leader installation this replica follows (known after its creation).
    pub leader_installation: Option<String>,
    /// Why the replica is held (state `held`): what an Administrator confirms or rejects.
    pub hold: Option<Hold>,
}

/// A run stopped before changing anything, until an Administrator decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hold {
    pub kind: HoldKind,
    pub message: String,
}

crate::named_enum! {
    /// Why a run waits for an Administrator; stored as text (`replicas.hold_kind`).
    pub enum HoldKind {
        /// Another installation answers at the Leader's URL.
        LeaderChanged = "leader_changed",
        /// The run would remove more of the replica than `SYNC_MAX_DELETE_RATIO` allows.
        MassRemoval = "mass_removal",
    }
}

/// One run of a replica, for the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncRun {
    pub id: i64,
    pub full_resync: bool,
    pub cursor_from: i64,
    pub cursor_to: Option<i64>,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub started_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: RunOutcomeKind,
    pub dossiers: i64,
    pub removals: i64,
    pub photos: i64,
    /// Dossiers deleted here while the Leader was unreachable, put back by this run.
    pub restored: i64,
    /// Why the run is what it is: the cause of a full resync, or of a hold.
    pub reason: Option<String>,
    pub error: Option<String>,
}

crate::named_enum! {
    /// Where a replica stands; stored as text (`replicas.state`, checked by the migration).
    pub enum ReplicaState {
        Idle = "idle",
        Running = "running",
        Failed = "failed",
        /// Waiting for an Administrator (see [`Hold`]); it does not run on its schedule.
        Held = "held",
    }
}

crate::named_enum! {
    /// How a run ended, or that it still goes on; stored as text (`sync_runs.outcome`).
    pub enum RunOutcomeKind {
        Running = "running",
        Success = "success",
        Failed = "failed",
        /// Its process died; the next run resumes from the progress it recorded.
        Interrupted = "interrupted",
        /// Stopped before changing anything, for an Administrator to decide.
        Held = "held",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_survive_the_wire_exactly() {
        let vector = vec![0.0, -1.5, f32::MIN_POSITIVE, 3.25e-7, f32::MAX];
        assert_eq!(decode_vector(&encode_vector(&vector)), Some(vector));
        assert_eq!(decode_vector(&encode_vector(&[])), Some(vec![]));
        // Not base64, or not a whole number of floats.
        assert_eq!(decode_vector("***"), None);
        assert_eq!(decode_vector("AAAA"), None);
    }

    #[test]
    fn states_read_as_the_api_shows_them() {
        assert_eq!(
            serde_json::to_string(&ReplicaState::Idle).unwrap(),
            r#""idle""#
        );
        assert_eq!(
            serde_json::from_str::<RunOutcomeKind>(r#""interrupted""#).unwrap(),
            RunOutcomeKind::Interrupted
        );
    }
}
