//! Why a run, or a request to a Leader, failed: the messages administrators read on the
//! Replication page and in the API.

use crate::error::Error;

/// Why a run (or a request to a Leader) failed. The messages are shown to administrators.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    #[error("the Leader at {url} cannot be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the Leader rejected the sync token")]
    TokenRejected,
    #[error("{url} is not a dossier database Leader ({reason})")]
    NotALeader { url: String, reason: String },
    #[error("face models differ: the Leader uses {leader:?}, this installation uses {local:?}")]
    ModelMismatch { leader: String, local: String },
    #[error("the Leader can no longer serve changes since revision {0}")]
    CursorTooOld(i64),
    #[error("the Leader's history changed during the run (it was restored from a backup?); the next run resyncs from scratch")]
    HistoryChanged,
    #[error("the Leader has no watch list {0}")]
    UnknownRemoteList(i64),
    #[error("the Leader answered {status}: {message}")]
    Leader { status: u16, message: String },
    #[error("replication is off here: SYNC_TOKEN is not set")]
    NoToken,
    #[error(
        "the installation stopped during the run; it resumes where it stopped at the next start"
    )]
    Stopped,
    #[error("{0}")]
    Local(Error),
}

impl From<Error> for SyncError {
    fn from(e: Error) -> Self {
        Self::Local(e)
    }
}

impl From<sqlx::Error> for SyncError {
    fn from(e: sqlx::Error) -> Self {
        Self::Local(e.into())
    }
}

impl SyncError {
    /// Worth retrying the same request: the network or the Leader may recover.
    pub(crate) fn transient(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
            || matches!(self, Self::Leader { status, .. } if *status >= 500)
    }
}
